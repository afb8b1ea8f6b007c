//! A small per-node cache in front of the store for the hot path (a resident fetching a code):
//! session token → person, and person → (identity fields for the code, evidence).
//!
//! Correctness does not depend on it. Entries live at most `ttl` (one second by default), so a
//! node sharing a database with others sees their writes within that time; writes through this
//! node drop the affected person's entry at once, so its own readers see them on the very next
//! request. Personal data in it is what the code shows anyway: masked name and document.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use healthcode_domain::{DocumentType, Evidence};
use healthcode_store::DocIndex;

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

/// Session token hash → (person id, when it was loaded).
type Sessions = HashMap<[u8; 32], (i64, DateTime<Utc>)>;

#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    capacity: usize,
    sessions: RwLock<Sessions>,
    people: RwLock<HashMap<i64, Entry>>,
    by_subject: RwLock<HashMap<DocIndex, i64>>,
}

impl Cache {
    pub fn new(ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            capacity,
            sessions: RwLock::default(),
            people: RwLock::default(),
            by_subject: RwLock::default(),
        }
    }

    pub fn session(&self, token_hash: &[u8; 32], now: DateTime<Utc>) -> Option<i64> {
        let map = self.sessions.read().ok()?;
        let (id, loaded) = map.get(token_hash)?;
        (now - *loaded < self.ttl && now >= *loaded).then_some(*id)
    }

    pub fn put_session(&self, token_hash: [u8; 32], person_id: i64, now: DateTime<Utc>) {
        if let Ok(mut map) = self.sessions.write() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(token_hash, (person_id, now));
        }
    }

    pub fn person(&self, person_id: i64, now: DateTime<Utc>) -> Option<Entry> {
        let map = self.people.read().ok()?;
        let e = map.get(&person_id)?;
        (now - e.loaded_at < self.ttl && now >= e.loaded_at).then(|| e.clone())
    }

    pub fn put_person(&self, who: CodeSubject, evidence: Evidence, now: DateTime<Utc>) -> Entry {
        let entry = Entry {
            who: Arc::new(who),
            evidence: Arc::new(evidence),
            loaded_at: now,
        };
        if let (Ok(mut people), Ok(mut by_subject)) = (self.people.write(), self.by_subject.write())
        {
            if people.len() >= self.capacity {
                people.clear();
                by_subject.clear();
            }
            by_subject.insert(entry.who.doc_index, entry.who.person_id);
            people.insert(entry.who.person_id, entry.clone());
        }
        entry
    }

    /// Forgets whatever is cached about the person with this blind index.
    pub fn invalidate_subject(&self, subject: &DocIndex) {
        let id = self
            .by_subject
            .write()
            .ok()
            .and_then(|mut m| m.remove(subject));
        if let (Some(id), Ok(mut people)) = (id, self.people.write()) {
            people.remove(&id);
        }
    }
}
