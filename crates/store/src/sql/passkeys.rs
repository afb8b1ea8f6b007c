//! Passkeys and WebAuthn ceremonies on [`SqlStore`]. The store keeps a passkey's serialized
//! form and a ceremony's state as bytes it never reads: checking an assertion, the challenge
//! and the sign counter is the server's WebAuthn library's work. It owns only what makes
//! the bytes safe to share between nodes: a credential id belongs to one passkey for good,
//! and a ceremony is handed out once.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::people::person_must_exist;
use super::{SqlStore, from_secs};
use crate::error::{StoreError, no_nul};
use crate::model::StoredPasskey;

fn passkey_from_row(r: &AnyRow) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        id: r.try_get("id")?,
        person_id: r.try_get("person_id")?,
        credential_id: r.try_get("credential_id")?,
        passkey: r.try_get("passkey")?,
        created_at: from_secs(r.try_get("created_at")?)?,
        last_used_at: r
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(from_secs)
            .transpose()?,
    })
}

pub(super) async fn add_passkey(
    store: &SqlStore,
    person_id: i64,
    credential_id: &[u8],
    passkey: &[u8],
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let _guard = store.write_guard().await;
    let row = sqlx::query(
        "INSERT INTO passkeys (person_id, credential_id, passkey, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(person_id)
    .bind(credential_id.to_vec())
    .bind(passkey.to_vec())
    .bind(now.timestamp())
    .fetch_one(&store.writer)
    .await
    .map_err(|e| match person_must_exist(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a passkey with this credential id"),
        other => other,
    })?;
    Ok(row.try_get("id")?)
}

pub(super) async fn passkeys_of(
    store: &SqlStore,
    person_id: i64,
) -> Result<Vec<StoredPasskey>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM passkeys WHERE person_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at, id",
    )
    .bind(person_id)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(passkey_from_row).collect()
}

pub(super) async fn passkey_by_credential(
    store: &SqlStore,
    credential_id: &[u8],
) -> Result<Option<StoredPasskey>, StoreError> {
    let row = sqlx::query("SELECT * FROM passkeys WHERE credential_id = $1 AND revoked_at IS NULL")
        .bind(credential_id.to_vec())
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(passkey_from_row).transpose()
}

pub(super) async fn use_passkey(
    store: &SqlStore,
    id: i64,
    passkey: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let _guard = store.write_guard().await;
    let done = sqlx::query(
        "UPDATE passkeys SET passkey = $2, last_used_at = $3 \
         WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(passkey.to_vec())
    .bind(now.timestamp())
    .execute(&store.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn revoke_passkeys(
    store: &SqlStore,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let _guard = store.write_guard().await;
    Ok(sqlx::query(
        "UPDATE passkeys SET revoked_at = $2 WHERE person_id = $1 AND revoked_at IS NULL",
    )
    .bind(person_id)
    .bind(now.timestamp())
    .execute(&store.writer)
    .await?
    .rows_affected())
}

pub(super) async fn has_passkey(store: &SqlStore, person_id: i64) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT id FROM passkeys WHERE person_id = $1 AND revoked_at IS NULL LIMIT 1")
            .bind(person_id)
            .fetch_optional(&store.pool)
            .await?
            .is_some(),
    )
}

pub(super) async fn put_ceremony(
    store: &SqlStore,
    id: &[u8; 16],
    kind: &str,
    person_id: Option<i64>,
    state: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    no_nul([kind])?;
    let _guard = store.write_guard().await;
    sqlx::query(
        "INSERT INTO ceremonies (id, kind, person_id, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_vec())
    .bind(kind)
    .bind(person_id)
    .bind(state.to_vec())
    .bind(expires_at.timestamp())
    .execute(&store.writer)
    .await
    .map_err(|e| match person_must_exist(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a ceremony with this id"),
        other => other,
    })?;
    Ok(())
}

pub(super) async fn take_ceremony(
    store: &SqlStore,
    id: &[u8; 16],
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Option<i64>, Vec<u8>)>, StoreError> {
    // One statement finds and deletes the row, so of two takers only one gets it: on
    // PostgreSQL the second waits for the first's row lock and then finds nothing. It is
    // deleted whatever its kind and time, so a ceremony presented where it does not belong
    // is used up too; its kind and expiry are checked once it is gone.
    let row = {
        let _guard = store.write_guard().await;
        sqlx::query(
            "DELETE FROM ceremonies WHERE id = $1 \
             RETURNING kind, person_id, state, expires_at",
        )
        .bind(id.to_vec())
        .fetch_optional(&store.writer)
        .await?
    };
    let Some(row) = row else {
        return Ok(None);
    };
    if row.try_get::<String, _>("kind")? != kind
        || row.try_get::<i64, _>("expires_at")? <= now.timestamp()
    {
        return Ok(None);
    }
    Ok(Some((row.try_get("person_id")?, row.try_get("state")?)))
}

pub(super) async fn purge_ceremonies(
    store: &SqlStore,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let _guard = store.write_guard().await;
    Ok(sqlx::query("DELETE FROM ceremonies WHERE expires_at <= $1")
        .bind(now.timestamp())
        .execute(&store.writer)
        .await?
        .rows_affected())
}
