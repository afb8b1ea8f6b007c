//! The transactions batches are written in: [`Store::submit`] and [`Store::submit_batch`] each
//! in one of their own, run again when it loses a race, and [`Store::begin_bulk`]'s one
//! transaction across every batch of an all-or-nothing import; and, once a transaction has
//! committed, counting the subject entries it noted. What a batch does inside its transaction
//! is sql/bulk.rs's; moving the noted entries, sql/subjects.rs's.
//!
//! [`Store::submit`]: crate::Store::submit
//! [`Store::submit_batch`]: crate::Store::submit_batch
//! [`Store::begin_bulk`]: crate::Store::begin_bulk

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};
use tokio::sync::OwnedMutexGuard;

use super::{Backend, BatchOutcome, SqlStore, bulk, subjects};
use crate::BulkWrite;
use crate::error::StoreError;
use crate::model::{Outcome, Stored, Submission};

pub(super) async fn submit(
    store: &SqlStore,
    s: &Submission,
    now: DateTime<Utc>,
) -> Result<Stored, StoreError> {
    batch_once(store, std::slice::from_ref(s), now)
        .await?
        .pop()
        .ok_or_else(|| StoreError::Corrupt("a batch of one came back empty".into()))?
}

pub(super) async fn submit_batch(
    store: &SqlStore,
    batch: &[Submission],
    now: DateTime<Utc>,
) -> Result<BatchOutcome, StoreError> {
    batch_once(store, batch, now).await
}

/// PostgreSQL inserts a batch in one server process, the bottleneck of an import there
/// (the importing process itself is mostly idle): two batches at once keep both cores of
/// a small server busy.
pub(super) fn parallel_batches(store: &SqlStore) -> usize {
    match store.backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    }
}

pub(super) async fn begin_bulk(store: &SqlStore) -> Result<Box<dyn BulkWrite>, StoreError> {
    let (guard, tx) = store.begin_write().await?;
    Ok(Box::new(SqlBulk {
        store: store.clone(),
        tx: Some(tx),
        guard,
        noted: 0,
        moved: false,
    }))
}

/// A batch in a transaction of its own, run again when it loses a race (a deadlock
/// between two imports on PostgreSQL, a busy database on SQLite).
async fn batch_once(
    store: &SqlStore,
    batch: &[Submission],
    now: DateTime<Utc>,
) -> Result<BatchOutcome, StoreError> {
    let mut attempt = 0;
    loop {
        let (guard, mut tx) = store.begin_write().await?;
        let written =
            match bulk::write_batch(store.backend, store.log_writes, &mut tx, batch, now).await {
                Ok(outcome) => tx
                    .commit()
                    .await
                    .map(|()| outcome)
                    .map_err(StoreError::from),
                Err(e) => Err(e),
            };
        drop(guard);
        if let Ok(outcome) = &written {
            store.noted(inserted(outcome));
        }
        match written {
            Err(StoreError::Contention | StoreError::Conflict(_)) if attempt < 3 => {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// One transaction across many batches, for all-or-nothing imports.
struct SqlBulk {
    store: SqlStore,
    tx: Option<Transaction<'static, Any>>,
    /// SQLite's write lock, held until the end.
    guard: Option<OwnedMutexGuard<()>>,
    /// Subject entries this transaction noted since it last moved them.
    noted: u64,
    /// Whether this transaction moved recent entries, its own and others'.
    moved: bool,
}

/// How many of a batch's rows were written (and so noted in `subject_recent`).
fn inserted(outcome: &BatchOutcome) -> u64 {
    let written = outcome
        .iter()
        .filter(|r| matches!(r, Ok(s) if s.outcome != Outcome::Unchanged))
        .count();
    u64::try_from(written).unwrap_or(u64::MAX)
}

#[async_trait]
impl BulkWrite for SqlBulk {
    async fn write(
        &mut self,
        batch: &[Submission],
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        let backend = self.store.backend;
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| StoreError::Database("the transaction has ended".into()))?;
        let outcome = bulk::write_batch(backend, self.store.log_writes, tx, batch, now).await?;
        self.noted += inserted(&outcome);
        // An all-or-nothing import of millions of rows would otherwise fill `subject_recent`
        // with all of them before its commit: it moves them itself, inside its transaction.
        if self.noted >= self.store.file_at {
            for slice in 0..subjects::SLICES {
                subjects::file_slice(backend, tx, slice).await?;
            }
            self.noted = 0;
            self.moved = true;
        }
        Ok(outcome)
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        match self.tx.take() {
            Some(tx) => {
                tx.commit().await?;
                drop(self.guard.take());
                // Having moved entries, its count is taken afresh (it includes what this
                // transaction noted since); otherwise what it noted is added.
                if self.moved {
                    self.store.recount_recent().await;
                    self.store.noted(0);
                } else {
                    self.store.noted(self.noted);
                }
                Ok(())
            }
            None => Err(StoreError::Database("the transaction has ended".into())),
        }
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        match self.tx.take() {
            Some(tx) => Ok(tx.rollback().await?),
            None => Ok(()),
        }
    }
}
