//! Where a subject's evidence is found: two tables of (subject key, evidence id), the small
//! `subject_recent` that every new row is noted in, and the large `subject_filed` that the
//! recent entries are moved into, in key order, once there are [`FILE_AT`] of them (migration
//! 0006 says why). A subject's evidence ids are those either table names.
//!
//! The store counts the recent entries as writes commit and moves them in the background, a
//! slice of the key space per transaction; an all-or-nothing import moves them itself, inside
//! its transaction (sql/batches.rs). What an evidence row holds is sql/evidence.rs's.

use std::sync::atomic::Ordering;

use sqlx::{AnyConnection, Row};

use super::bulk::placeholders;
use super::{Backend, SqlStore};
use crate::error::StoreError;
use crate::vault::DocIndex;

/// Recent entries at which they are moved into `subject_filed` (unless the store is told
/// otherwise). A million entries take about
/// 30 MB, which the writer's page cache holds.
pub(super) const FILE_AT: u64 = 1_000_000;

/// The key space is moved in this many slices of equal width, each in a transaction of its
/// own when the store files between imports, so that no writer waits for all of it.
pub(super) const SLICES: u8 = 16;

/// Entries per `INSERT` into `subject_recent`: two parameters each.
const NOTE_ROWS: usize = 8_000;

/// The ids of the evidence of the subject whose key is bound as `$1`.
pub(super) const EVIDENCE_IDS: &str = "SELECT evidence_id FROM subject_filed \
     WHERE subject_key = $1 UNION ALL \
     SELECT evidence_id FROM subject_recent WHERE subject_key = $1";

/// What `evidence.subject_key` holds: the first 8 bytes of the subject's blind index, as
/// good as unique, indexed in its place (a quarter of the size; migration 0003 and 0004).
pub(super) fn subject_key(subject: &DocIndex) -> Vec<u8> {
    subject.0[..8].to_vec()
}

impl SqlStore {
    /// Moves recent subject entries into `subject_filed` once there are `entries` of them,
    /// not the default million (sql/subjects.rs).
    pub fn file_subjects_at(mut self, entries: u64) -> SqlStore {
        self.file_at = entries.max(1);
        self
    }

    /// Counts `written` rows' entries as noted in `subject_recent`, and once there are enough
    /// of them starts moving them into `subject_filed` in the background, a slice per
    /// transaction, so that the write that crossed the line does not wait for it. The moving
    /// is housekeeping: a failure leaves the entries where they are, where they are found as
    /// well, and is only logged.
    pub(super) fn noted(&self, written: u64) {
        let recent = self.recent.fetch_add(written, Ordering::Relaxed) + written;
        if recent < self.file_at || self.filing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.file_subjects().await {
                tracing::warn!(error = %e, "moving recent subject entries failed; they stay recent");
            }
            store.filing.store(false, Ordering::Release);
        });
    }

    /// Counts the recent subject entries afresh, after a move: a move also takes entries that
    /// other writers noted, and one that failed halfway has moved only some.
    pub(super) async fn recount_recent(&self) {
        match self.recent_subjects().await {
            Ok(count) => self.recent.store(count, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "counting recent subject entries failed"),
        }
    }

    /// How many subject entries are waiting in `subject_recent` to be moved.
    pub async fn recent_subjects(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM subject_recent")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count".into()))
    }

    /// Moves every recent subject entry into `subject_filed`; returns how many were moved.
    pub async fn file_subjects(&self) -> Result<u64, StoreError> {
        let mut moved = 0;
        let mut failed = None;
        for slice in 0..SLICES {
            match self.move_slice(slice).await {
                Ok(n) => moved += n,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        self.recount_recent().await;
        failed.map_or(Ok(moved), Err)
    }

    /// Moves one slice of the recent subject entries, in a transaction of its own.
    async fn move_slice(&self, slice: u8) -> Result<u64, StoreError> {
        let (_guard, mut tx) = self.begin_write().await?;
        let moved = file_slice(self.backend, &mut tx, slice).await?;
        tx.commit().await?;
        Ok(moved)
    }
}

/// Notes `entries` (subject key, evidence id) of rows just inserted, inside the caller's
/// transaction. An entry that exists already is left as it is.
pub(super) async fn note(
    backend: Backend,
    conn: &mut AnyConnection,
    entries: &[(Vec<u8>, i64)],
) -> Result<(), StoreError> {
    for chunk in entries.chunks(NOTE_ROWS) {
        let mut sql = String::with_capacity(80 + chunk.len() * 16);
        sql.push_str(match backend {
            // OR IGNORE: a statement that cannot fail halfway needs no statement journal.
            Backend::Sqlite => {
                "INSERT OR IGNORE INTO subject_recent (subject_key, evidence_id) VALUES "
            }
            Backend::Postgres => "INSERT INTO subject_recent (subject_key, evidence_id) VALUES ",
        });
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&placeholders(backend, 2 * i + 1, 2));
            sql.push(')');
        }
        if backend == Backend::Postgres {
            sql.push_str(" ON CONFLICT DO NOTHING");
        }
        let mut q = sqlx::query(&sql);
        for (key, id) in chunk {
            q = q.bind(key.as_slice()).bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Moves the recent entries of slice `slice` (of [`SLICES`]) into `subject_filed`; returns
/// how many were moved.
pub(super) async fn file_slice(
    backend: Backend,
    conn: &mut AnyConnection,
    slice: u8,
) -> Result<u64, StoreError> {
    let (low, high) = bounds(slice);
    let moved = match backend {
        // The caller holds the write lock: nothing is noted between the two statements.
        Backend::Sqlite => {
            sqlx::query(
                "INSERT OR IGNORE INTO subject_filed (subject_key, evidence_id) \
                 SELECT subject_key, evidence_id FROM subject_recent \
                 WHERE subject_key >= $1 AND subject_key < $2",
            )
            .bind(low.as_slice())
            .bind(high.as_slice())
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM subject_recent WHERE subject_key >= $1 AND subject_key < $2")
                .bind(low.as_slice())
                .bind(high.as_slice())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        }
        // Other writers may note entries meanwhile: one statement moves exactly what it
        // deletes. Entries another mover holds (a background move, or an all-or-nothing
        // import moving inside its long transaction) are skipped rather than waited for, so
        // that two movers never wait for each other; skipped entries stay recent, where they
        // are found as well, until a later move.
        Backend::Postgres => sqlx::query(
            "WITH moved AS (DELETE FROM subject_recent \
             WHERE (subject_key, evidence_id) IN (SELECT subject_key, evidence_id \
             FROM subject_recent WHERE subject_key >= $1 AND subject_key < $2 \
             FOR UPDATE SKIP LOCKED) \
             RETURNING subject_key, evidence_id) \
             INSERT INTO subject_filed (subject_key, evidence_id) \
             SELECT subject_key, evidence_id FROM moved ORDER BY subject_key, evidence_id \
             ON CONFLICT DO NOTHING",
        )
        .bind(low.as_slice())
        .bind(high.as_slice())
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    };
    Ok(moved)
}

/// The keys of slice `slice`: from its first byte's lower bound up to, not including, the
/// next slice's. Keys are 8 bytes, so nine bytes of 0xff are above every key.
fn bounds(slice: u8) -> (Vec<u8>, Vec<u8>) {
    let step = u8::MAX / SLICES + 1;
    let next = slice.saturating_add(1);
    let high = if next < SLICES {
        vec![next.saturating_mul(step)]
    } else {
        vec![u8::MAX; 9]
    };
    (vec![slice.saturating_mul(step)], high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slices_cover_every_key_once() {
        let keys: Vec<Vec<u8>> = [
            [0u8; 8], [0x0f; 8], [0x10; 8], [0x7f; 8], [0xf0; 8], [0xff; 8],
        ]
        .iter()
        .map(|k| k.to_vec())
        .collect();
        for key in &keys {
            let holding: Vec<u8> = (0..SLICES)
                .filter(|&s| {
                    let (low, high) = bounds(s);
                    *key >= low && *key < high
                })
                .collect();
            assert_eq!(holding.len(), 1, "{key:?} is in slices {holding:?}");
        }
        assert_eq!(bounds(0).0, vec![0]);
        assert_eq!(bounds(1).0, vec![16]);
        assert_eq!(bounds(SLICES - 1).1, vec![0xff; 9]);
    }
}
