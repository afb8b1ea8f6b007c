//! Follows the store's change feed and invalidates the cache for every person whose evidence
//! changed, whoever wrote it: this node, another node on the same database, or a direct
//! import. This is what keeps "the status reflects new evidence within a second" true with a
//! cache in front of the store.
//!
//! Evidence ids are handed out before a transaction commits (on PostgreSQL), so rows can
//! become visible out of id order: the feed may show id 101 while 100 is still in flight. An
//! id the cursor skips over is kept as a gap and looked up again on every poll until it
//! appears or [`GAP_WAIT`] passes (ids also go missing for good, when a transaction rolls back).
//!
//! Where the reader stands is kept in [`FeedStatus`] for the metrics: changes carry no time,
//! so the feed's lag is told from when its last complete read started.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use healthcode_store::Change;

use crate::state::AppState;

/// How often the feed is read.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long a skipped id is looked for: longer than any write transaction takes.
pub const GAP_WAIT: Duration = Duration::from_secs(30);
/// Rows read per query; a backlog is drained in a loop.
const BATCH: i64 = 10_000;
/// How far below the newest id a reader starts, so that writes in flight when it starts are
/// found as gaps rather than passed over.
const START_MARGIN: i64 = 1_000;
/// Gaps remembered at most; ids skipped beyond this are not looked for again.
const MAX_GAPS: usize = 100_000;

/// The reader's position in the feed.
#[derive(Debug)]
pub struct Cursor {
    last: i64,
    gaps: BTreeMap<i64, Instant>,
}

impl Cursor {
    pub fn new(last: i64) -> Cursor {
        Cursor {
            last,
            gaps: BTreeMap::new(),
        }
    }

    /// Takes a batch read after `self.last` (in id order), noting skipped ids as gaps.
    pub fn advance(&mut self, changes: &[Change], now: Instant) {
        for c in changes {
            if c.id > self.last + 1 && self.gaps.len() < MAX_GAPS {
                let room = (MAX_GAPS - self.gaps.len()) as i64;
                for id in (self.last + 1..c.id).take(room as usize) {
                    self.gaps.insert(id, now);
                }
            }
            self.last = self.last.max(c.id);
        }
    }

    /// The gaps still worth looking for; forgets those older than [`GAP_WAIT`].
    pub fn open_gaps(&mut self, now: Instant) -> Vec<i64> {
        self.gaps
            .retain(|_, seen| now.duration_since(*seen) < GAP_WAIT);
        self.gaps.keys().copied().collect()
    }

    /// Marks gaps as filled.
    pub fn filled(&mut self, changes: &[Change]) {
        for c in changes {
            self.gaps.remove(&c.id);
        }
    }

    pub fn last(&self) -> i64 {
        self.last
    }
}

/// Where a server's change feed stands.
#[derive(Debug, Default)]
pub struct FeedStatus(Mutex<FeedSnapshot>);

/// [`FeedStatus`] at one moment.
#[derive(Debug, Default, Clone, Copy)]
pub struct FeedSnapshot {
    /// When the last read that reached the end of the feed started: every change committed
    /// before then has been applied. `None` until the first such read.
    pub caught_up_at: Option<Instant>,
    /// The highest evidence id applied.
    pub high_water: i64,
    /// Skipped ids still looked for.
    pub gaps: usize,
}

impl FeedStatus {
    /// The status now.
    pub fn snapshot(&self) -> FeedSnapshot {
        match self.0.lock() {
            Ok(s) => *s,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Records where the reader stands after a complete read.
    fn set(&self, snapshot: FeedSnapshot) {
        match self.0.lock() {
            Ok(mut s) => *s = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }
}

/// Runs until the task is dropped.
pub async fn watch(state: AppState) {
    let mut cursor = loop {
        match state.store.evidence_high_water().await {
            Ok(id) => break Cursor::new((id - START_MARGIN).max(0)),
            Err(e) => {
                tracing::warn!(error = %e, "change feed: cannot read the high-water mark; retrying");
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    };
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = Instant::now();
        match poll(&state, &mut cursor).await {
            Ok(gaps) => state.feed.set(FeedSnapshot {
                caught_up_at: Some(started),
                high_water: cursor.last(),
                gaps,
            }),
            Err(e) => {
                // Without the feed the cache could go stale: drop it and read through.
                crate::metrics::feed_failed();
                tracing::warn!(error = %e, "change feed: read failed; cache cleared");
                state.cache.clear_people();
                state.live.notify_all();
            }
        }
    }
}

/// Reads the feed to its end and looks for the open gaps; returns how many gaps are left.
async fn poll(
    state: &AppState,
    cursor: &mut Cursor,
) -> Result<usize, healthcode_store::StoreError> {
    loop {
        let changes = state.store.evidence_changes(cursor.last(), BATCH).await?;
        invalidate(state, &changes);
        cursor.advance(&changes, Instant::now());
        if (changes.len() as i64) < BATCH {
            break;
        }
    }
    let gaps = cursor.open_gaps(Instant::now());
    if gaps.is_empty() {
        return Ok(0);
    }
    let filled = state.store.evidence_changes_at(&gaps).await?;
    invalidate(state, &filled);
    cursor.filled(&filled);
    Ok(gaps.len().saturating_sub(filled.len()))
}

fn invalidate(state: &AppState, changes: &[Change]) {
    if !changes.is_empty() {
        crate::metrics::feed_applied(changes.len());
        state
            .cache
            .invalidate(changes.iter().flat_map(|c| c.subjects.iter()));
        state
            .live
            .notify(changes.iter().flat_map(|c| c.subjects.iter()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: i64) -> Change {
        Change {
            id,
            subjects: vec![],
        }
    }

    #[test]
    fn skipped_ids_are_looked_for_until_found_or_given_up() {
        let t0 = Instant::now();
        let mut c = Cursor::new(10);
        c.advance(&[change(11), change(14)], t0);
        assert_eq!(c.last(), 14);
        assert_eq!(c.open_gaps(t0), vec![12, 13]);
        c.filled(&[change(13)]);
        assert_eq!(c.open_gaps(t0), vec![12]);
        assert!(
            c.open_gaps(t0 + GAP_WAIT).is_empty(),
            "given up after the wait"
        );
    }
}
