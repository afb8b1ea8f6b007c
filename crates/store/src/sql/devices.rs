//! Gate devices on [`SqlStore`] beyond adding one with a key (sql/venues.rs): enrolment by a
//! one-time token, its renewal, and revocation. How a token reaches the device (a link, a QR
//! code) and who may hand one out are the server's; the store keeps hashes only.
//!
//! A device waiting for enrolment has a random key hash nobody holds a key to, so
//! [`Venues::device_by_key`](crate::Venues::device_by_key) finds it for no one. Every write
//! here takes the device's row first and its token's row after, so on PostgreSQL a redemption,
//! a renewal and a revocation of one device take turns instead of deadlocking; on SQLite the
//! write lock has them take turns already.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Backend, SqlStore, from_secs};
use crate::error::{StoreError, no_nul};
use crate::model::Device;

/// The columns [`device_from_row`] reads: all but the key hash.
pub(super) const DEVICE_COLUMNS: &str =
    "id, venue_id, name, created_at, upload_high_water, enrolled_at, revoked_at";

pub(super) fn device_from_row(r: &AnyRow) -> Result<Device, StoreError> {
    let opt_time = |col: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        r.try_get::<Option<i64>, _>(col)?.map(from_secs).transpose()
    };
    Ok(Device {
        id: r.try_get("id")?,
        venue_id: r.try_get("venue_id")?,
        name: r.try_get("name")?,
        created_at: from_secs(r.try_get("created_at")?)?,
        upload_high_water: opt_time("upload_high_water")?,
        enrolled_at: opt_time("enrolled_at")?,
        revoked_at: opt_time("revoked_at")?,
    })
}

/// The error of a write that stores an enrolment token: a taken hash is named as such.
fn token_must_be_new(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("an enrolment token with this hash"),
        other => other,
    }
}

/// Stores a device's enrolment token inside a write transaction.
async fn insert_token(
    tx: &mut Transaction<'static, Any>,
    device_id: i64,
    token_hash: &[u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO device_enrolments (token_hash, device_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash.to_vec())
    .bind(device_id)
    .bind(expires_at.timestamp())
    .execute(&mut **tx)
    .await
    .map_err(token_must_be_new)?;
    Ok(())
}

pub(super) async fn add_pending_device(
    store: &SqlStore,
    venue_id: i64,
    name: &str,
    token_hash: &[u8; 32],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Device, StoreError> {
    no_nul([name])?;
    // `key_hash` is unique and required: random bytes stand in until enrolment.
    let mut unknown_key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut unknown_key);
    let (guard, mut tx) = store.begin_write().await?;
    sqlx::query("SELECT id FROM venues WHERE id = $1")
        .bind(venue_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let row = sqlx::query(
        "INSERT INTO devices (venue_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(venue_id)
    .bind(name)
    .bind(unknown_key.to_vec())
    .bind(now.timestamp())
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    insert_token(&mut tx, id, token_hash, expires_at).await?;
    tx.commit().await?;
    drop(guard);
    Ok(Device {
        id,
        venue_id,
        name: name.to_owned(),
        created_at: from_secs(now.timestamp())?,
        upload_high_water: None,
        enrolled_at: None,
        revoked_at: None,
    })
}

pub(super) async fn renew_device_enrolment(
    store: &SqlStore,
    venue_id: i64,
    device_id: i64,
    token_hash: &[u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (guard, mut tx) = store.begin_write().await?;
    // The device's row first (see the module's documentation).
    let sql = match store.backend {
        Backend::Postgres => {
            "SELECT id FROM devices WHERE id = $1 AND venue_id = $2 AND revoked_at IS NULL \
             FOR NO KEY UPDATE"
        }
        Backend::Sqlite => {
            "SELECT id FROM devices WHERE id = $1 AND venue_id = $2 AND revoked_at IS NULL"
        }
    };
    sqlx::query(sql)
        .bind(device_id)
        .bind(venue_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    sqlx::query("DELETE FROM device_enrolments WHERE device_id = $1")
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    insert_token(&mut tx, device_id, token_hash, expires_at).await?;
    tx.commit().await?;
    drop(guard);
    Ok(())
}

pub(super) async fn redeem_device_enrolment(
    store: &SqlStore,
    token_hash: &[u8; 32],
    new_key_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<Device>, StoreError> {
    let (guard, mut tx) = store.begin_write().await?;
    // The device of a live token takes the new key, which locks its row; then the token is
    // deleted, and that decides: a redemption that finds it gone (another took it, or a
    // renewal replaced it, while this one waited for the row) rolls back and gets nothing.
    let row = sqlx::query(&format!(
        "UPDATE devices SET key_hash = $1, enrolled_at = $2 WHERE revoked_at IS NULL AND id = \
         (SELECT device_id FROM device_enrolments WHERE token_hash = $3 AND expires_at > $2) \
         RETURNING {DEVICE_COLUMNS}"
    ))
    .bind(new_key_hash.to_vec())
    .bind(now.timestamp())
    .bind(token_hash.to_vec())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a device with this key"),
        other => other,
    })?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(None);
    };
    let device = device_from_row(&row)?;
    let taken =
        sqlx::query("DELETE FROM device_enrolments WHERE token_hash = $1 AND device_id = $2")
            .bind(token_hash.to_vec())
            .bind(device.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if taken == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    drop(guard);
    Ok(Some(device))
}

pub(super) async fn revoke_device(
    store: &SqlStore,
    venue_id: i64,
    device_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (guard, mut tx) = store.begin_write().await?;
    let revoked = sqlx::query(
        "UPDATE devices SET revoked_at = $3 WHERE id = $1 AND venue_id = $2 \
         AND revoked_at IS NULL",
    )
    .bind(device_id)
    .bind(venue_id)
    .bind(now.timestamp())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !revoked {
        sqlx::query("SELECT id FROM devices WHERE id = $1 AND venue_id = $2")
            .bind(device_id)
            .bind(venue_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    }
    sqlx::query("DELETE FROM device_enrolments WHERE device_id = $1")
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    drop(guard);
    Ok(revoked)
}
