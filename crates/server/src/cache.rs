//! A per-node cache in front of the store for the hot path (a resident fetching a code):
//! session token → person, and person → (identity fields for the code, evidence).
//!
//! Freshness comes from invalidation, not from expiry. Writes through this node drop the
//! affected people at once; writes by anyone else (other nodes on the same PostgreSQL, direct
//! imports) reach every node through the store's change feed, polled by `changes::watch`
//! every 200 ms. A load that races an invalidation is not cached (see [`Cache::epoch`]). The
//! `ttl` is only a backstop should the feed stall. Sessions never change once created, so they
//! are kept until they end (or the backstop).
//!
//! Personal data in it is what a code shows anyway: masked name and document.
//!
//! Every lookup is counted as a hit or a miss (`metrics::cache_lookup`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use healthcode_domain::{DocumentType, Evidence};
use healthcode_store::DocIndex;

use crate::metrics::{self, CacheKind};

/// What a code needs about a person besides the evidence.
#[derive(Debug, Clone)]
pub struct CodeSubject {
    pub person_id: i64,
    pub doc_index: DocIndex,
    pub subject: [u8; 16],
    pub masked_name: String,
    pub masked_document: String,
    pub document_type: DocumentType,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub who: Arc<CodeSubject>,
    pub evidence: Arc<Evidence>,
    loaded_at: DateTime<Utc>,
}

/// Session token hash → (person id, fresh until).
type Sessions = HashMap<[u8; 32], (i64, DateTime<Utc>)>;

/// A code signed for a person, kept for reuse (see `ServerConfig::code_reuse`).
#[derive(Debug)]
pub struct IssuedCode {
    pub code: String,
    pub claims: healthcode_credential::CodeClaims,
    /// The code's QR as SVG, once a page has shown it.
    pub qr_svg: std::sync::OnceLock<Arc<str>>,
}

/// Invalidations remembered for judging racing loads; older ones are judged conservatively.
const RECENT_INVALIDATIONS: usize = 65_536;

#[derive(Debug, Default)]
struct People {
    by_id: HashMap<i64, Entry>,
    by_subject: HashMap<DocIndex, i64>,
    codes: HashMap<i64, Arc<IssuedCode>>,
    /// (epoch, subject) of recent invalidations, oldest first.
    recent: VecDeque<(u64, DocIndex)>,
    /// Every invalidation at or before this epoch has left `recent`: a load that began before
    /// it cannot be judged and is not cached.
    forgotten: u64,
}

impl People {
    /// Whether `subject` was invalidated after `epoch` (or that can no longer be told).
    fn invalidated_since(&self, subject: &DocIndex, epoch: u64) -> bool {
        epoch < self.forgotten
            || self
                .recent
                .iter()
                .rev()
                .take_while(|(e, _)| *e > epoch)
                .any(|(_, s)| s == subject)
    }
}

#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    capacity: usize,
    /// Bumped by every invalidation. A loader notes it before reading the store; before caching
    /// what it read, it checks that its own subject was not invalidated since (an
    /// invalidation between the read and the insert means the data read may be stale).
    epoch: AtomicU64,
    sessions: RwLock<Sessions>,
    people: RwLock<People>,
}

impl Cache {
    pub fn new(ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            capacity,
            epoch: AtomicU64::new(0),
            sessions: RwLock::default(),
            people: RwLock::default(),
        }
    }

    pub fn session(&self, token_hash: &[u8; 32], now: DateTime<Utc>) -> Option<i64> {
        let found = self.sessions.read().ok().and_then(|map| {
            let (id, until) = map.get(token_hash)?;
            (now < *until).then_some(*id)
        });
        metrics::cache_lookup(CacheKind::Session, found.is_some());
        found
    }

    /// Caches a session that ends at `expires_at`.
    pub fn put_session(
        &self,
        token_hash: [u8; 32],
        person_id: i64,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        if let Ok(mut map) = self.sessions.write() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(token_hash, (person_id, expires_at.min(now + self.ttl)));
        }
    }

    /// Forgets one session of a person (by its token's hash), or all of them.
    pub fn forget_sessions(&self, person_id: i64, token_hash: Option<&[u8; 32]>) {
        if let Ok(mut map) = self.sessions.write() {
            match token_hash {
                Some(hash) => {
                    map.remove(hash);
                }
                None => map.retain(|_, (person, _)| *person != person_id),
            }
        }
    }

    /// The current epoch, to pass to [`Cache::put_person`] after reading the store.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn person(&self, person_id: i64, now: DateTime<Utc>) -> Option<Entry> {
        let found = self.people.read().ok().and_then(|people| {
            let e = people.by_id.get(&person_id)?;
            (now - e.loaded_at < self.ttl && now >= e.loaded_at).then(|| e.clone())
        });
        metrics::cache_lookup(CacheKind::Person, found.is_some());
        found
    }

    /// Wraps what was read from the store, and caches it unless an invalidation happened
    /// since `epoch` was taken.
    pub fn put_person(
        &self,
        who: CodeSubject,
        evidence: Evidence,
        epoch: u64,
        now: DateTime<Utc>,
    ) -> Entry {
        let entry = Entry {
            who: Arc::new(who),
            evidence: Arc::new(evidence),
            loaded_at: now,
        };
        if let Ok(mut people) = self.people.write()
            && (self.epoch.load(Ordering::Acquire) == epoch
                || !people.invalidated_since(&entry.who.doc_index, epoch))
        {
            if people.by_id.len() >= self.capacity {
                // Forget the entries, not the log of recent invalidations: loads in flight
                // are still judged by it.
                people.by_id.clear();
                people.by_subject.clear();
                people.codes.clear();
            }
            people
                .by_subject
                .insert(entry.who.doc_index, entry.who.person_id);
            people.by_id.insert(entry.who.person_id, entry.clone());
        }
        entry
    }

    /// The code last signed for a person, if it is still cached.
    pub fn code(&self, person_id: i64) -> Option<Arc<IssuedCode>> {
        let found = self
            .people
            .read()
            .ok()
            .and_then(|people| people.codes.get(&person_id).cloned());
        metrics::cache_lookup(CacheKind::Code, found.is_some());
        found
    }

    /// Keeps a signed code for reuse, unless the person was invalidated since `epoch`.
    pub fn put_code(&self, who: &CodeSubject, code: Arc<IssuedCode>, epoch: u64) {
        let person_id = who.person_id;
        if let Ok(mut people) = self.people.write()
            && (self.epoch.load(Ordering::Acquire) == epoch
                || !people.invalidated_since(&who.doc_index, epoch))
        {
            if people.codes.len() >= self.capacity {
                people.codes.clear();
            }
            people.codes.insert(person_id, code);
        }
    }

    /// Forgets whatever is cached about the people with these blind indexes.
    pub fn invalidate<'a>(&self, subjects: impl IntoIterator<Item = &'a DocIndex>) {
        let Ok(mut people) = self.people.write() else {
            return;
        };
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        for subject in subjects {
            if let Some(id) = people.by_subject.remove(subject) {
                people.by_id.remove(&id);
                people.codes.remove(&id);
            }
            people.recent.push_back((epoch, *subject));
            if people.recent.len() > RECENT_INVALIDATIONS
                && let Some((e, _)) = people.recent.pop_front()
            {
                people.forgotten = people.forgotten.max(e);
            }
        }
    }

    /// Forgets every person (not sessions): used when the change feed cannot be read.
    pub fn clear_people(&self) {
        if let Ok(mut people) = self.people.write() {
            let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
            *people = People {
                forgotten: epoch,
                ..People::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(id: i64, idx: u8) -> CodeSubject {
        CodeSubject {
            person_id: id,
            doc_index: DocIndex([idx; 32]),
            subject: [0; 16],
            masked_name: "张*".into(),
            masked_document: "11**************2X".into(),
            document_type: DocumentType::ResidentId,
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_777_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn invalidation_drops_the_person() {
        let c = Cache::new(Duration::minutes(5), 100);
        let e = c.epoch();
        c.put_person(who(1, 1), Evidence::default(), e, t0());
        assert!(c.person(1, t0()).is_some());
        c.invalidate(&[DocIndex([2; 32])]);
        assert!(c.person(1, t0()).is_some(), "other subjects stay");
        c.invalidate(&[DocIndex([1; 32])]);
        assert!(c.person(1, t0()).is_none());
    }

    #[test]
    fn a_load_is_cached_when_only_other_people_changed_meanwhile() {
        let c = Cache::new(Duration::minutes(5), 100);
        let e = c.epoch();
        c.invalidate(&[DocIndex([2; 32]), DocIndex([3; 32])]);
        c.put_person(who(1, 1), Evidence::default(), e, t0());
        assert!(c.person(1, t0()).is_some());
        // After the feed was lost, nothing loaded before can be judged.
        let e = c.epoch();
        c.clear_people();
        c.put_person(who(1, 1), Evidence::default(), e, t0());
        assert!(c.person(1, t0()).is_none());
    }

    #[test]
    fn a_full_cache_still_judges_loads_in_flight() {
        let c = Cache::new(Duration::minutes(5), 1);
        let e = c.epoch();
        c.invalidate(&[DocIndex([1; 32])]);
        // Another load fills the cache to capacity and beyond.
        c.put_person(who(2, 2), Evidence::default(), c.epoch(), t0());
        c.put_person(who(3, 3), Evidence::default(), c.epoch(), t0());
        c.put_person(who(1, 1), Evidence::default(), e, t0());
        assert!(c.person(1, t0()).is_none());
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_cached() {
        let c = Cache::new(Duration::minutes(5), 100);
        let e = c.epoch();
        // The store is read here; meanwhile a write for this person is invalidated.
        c.invalidate(&[DocIndex([1; 32])]);
        let entry = c.put_person(who(1, 1), Evidence::default(), e, t0());
        assert_eq!(entry.who.person_id, 1, "the caller still gets what it read");
        assert!(c.person(1, t0()).is_none());
    }

    #[test]
    fn sessions_end_with_their_expiry_and_entries_with_the_backstop() {
        let c = Cache::new(Duration::minutes(5), 100);
        c.put_session([1; 32], 7, t0() + Duration::minutes(1), t0());
        assert_eq!(c.session(&[1; 32], t0()), Some(7));
        assert_eq!(c.session(&[1; 32], t0() + Duration::minutes(1)), None);
        c.put_person(who(1, 1), Evidence::default(), c.epoch(), t0());
        assert!(c.person(1, t0() + Duration::minutes(5)).is_none());
    }
}
