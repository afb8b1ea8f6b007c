//! Follows the store's change feed and invalidates the cache for every person whose evidence
//! changed, whoever wrote it: this node, another node on the same database, or a direct
//! import. This is what keeps "the status reflects new evidence within a second" true with a
//! cache in front of the store.

use std::time::Duration;

use crate::state::AppState;

/// How often the feed is read.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// Rows read per query; a backlog is drained in a loop.
const BATCH: i64 = 10_000;

/// Runs until the task is dropped.
pub async fn watch(state: AppState) {
    let mut cursor = loop {
        match state.store.evidence_high_water().await {
            Ok(id) => break id,
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
        loop {
            match state.store.evidence_changes(cursor, BATCH).await {
                Ok((subjects, next)) => {
                    if !subjects.is_empty() {
                        state.cache.invalidate(&subjects);
                    }
                    let drained = next == cursor || (subjects.len() as i64) < BATCH;
                    cursor = next;
                    if drained {
                        break;
                    }
                }
                Err(e) => {
                    // Without the feed the cache could go stale: drop it and read through.
                    tracing::warn!(error = %e, "change feed: read failed; cache cleared");
                    state.cache.clear_people();
                    break;
                }
            }
        }
    }
}
