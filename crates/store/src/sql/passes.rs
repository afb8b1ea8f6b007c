//! Paper passes on [`SqlStore`]: a printed pass for someone with no phone, whose QR holds a
//! random serial looked up online for the person's current status. A person has at most one
//! live pass (the `paper_passes_one_live` index): printing another revokes the one before, so
//! a lost sheet is dealt with by reprinting. What the sheet shows and who may print it are
//! the server's.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::people::lock_person;
use super::{SqlStore, from_secs};
use crate::error::StoreError;
use crate::model::PaperPass;

fn pass_from_row(r: &AnyRow) -> Result<PaperPass, StoreError> {
    Ok(PaperPass {
        serial: r
            .try_get::<Vec<u8>, _>("serial")?
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("paper pass serial is not 16 bytes".into()))?,
        person_id: r.try_get("person_id")?,
        created_at: from_secs(r.try_get("created_at")?)?,
        revoked_at: r
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(from_secs)
            .transpose()?,
    })
}

pub(super) async fn issue_paper_pass(
    store: &SqlStore,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<[u8; 16], StoreError> {
    let mut serial = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut serial);
    // Holding the person's row, two prints at once take turns instead of the second failing
    // on the one-live-pass index.
    let (guard, mut tx) = store.begin_write().await?;
    lock_person(store, &mut tx, person_id).await?;
    sqlx::query(
        "UPDATE paper_passes SET revoked_at = $2 WHERE person_id = $1 AND revoked_at IS NULL",
    )
    .bind(person_id)
    .bind(now.timestamp())
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO paper_passes (serial, person_id, created_at) VALUES ($1, $2, $3)")
        .bind(serial.to_vec())
        .bind(person_id)
        .bind(now.timestamp())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    drop(guard);
    Ok(serial)
}

pub(super) async fn paper_pass(
    store: &SqlStore,
    serial: &[u8; 16],
) -> Result<Option<PaperPass>, StoreError> {
    let row = sqlx::query("SELECT * FROM paper_passes WHERE serial = $1")
        .bind(serial.to_vec())
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(pass_from_row).transpose()
}

pub(super) async fn revoke_paper_passes(
    store: &SqlStore,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let _guard = store.write_guard().await;
    Ok(sqlx::query(
        "UPDATE paper_passes SET revoked_at = $2 WHERE person_id = $1 AND revoked_at IS NULL",
    )
    .bind(person_id)
    .bind(now.timestamp())
    .execute(&store.writer)
    .await?
    .rows_affected())
}

pub(super) async fn live_paper_pass(
    store: &SqlStore,
    person_id: i64,
) -> Result<Option<PaperPass>, StoreError> {
    let row = sqlx::query("SELECT * FROM paper_passes WHERE person_id = $1 AND revoked_at IS NULL")
        .bind(person_id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(pass_from_row).transpose()
}
