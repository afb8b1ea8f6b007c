//! Data providers: the labs, vaccination sites and designating authorities that submit
//! evidence, each known by the hash of its API key. Which provider may submit what is the
//! server's to check (`ProviderKind::may_designate` says which designations).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqlStore;
use crate::error::StoreError;
use crate::model::{Provider, ProviderKind};

pub(super) async fn add_provider(
    store: &SqlStore,
    kind: ProviderKind,
    name: &str,
    key_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Provider, StoreError> {
    crate::error::no_nul([name])?;
    let _guard = store.write_guard().await;
    let row = sqlx::query(
        "INSERT INTO providers (kind, name, key_hash, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(key_hash.to_vec())
    .bind(now.timestamp())
    .fetch_one(&store.writer)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a provider with this name"),
        other => other,
    })?;
    Ok(Provider {
        id: row.try_get("id")?,
        kind,
        name: name.to_owned(),
    })
}

pub(super) async fn provider_by_key(
    store: &SqlStore,
    key_hash: &[u8; 32],
) -> Result<Option<Provider>, StoreError> {
    // The self-declared provider (migration 0010) has no key and never answers to one.
    let row =
        sqlx::query("SELECT id, kind, name FROM providers WHERE key_hash = $1 AND kind <> 'self'")
            .bind(key_hash.to_vec())
            .fetch_optional(&store.pool)
            .await?;
    row.map(|row| {
        let kind = ProviderKind::parse(&row.try_get::<String, _>("kind")?)
            .ok_or_else(|| StoreError::Corrupt("unknown provider kind".into()))?;
        Ok(Provider {
            id: row.try_get("id")?,
            kind,
            name: row.try_get("name")?,
        })
    })
    .transpose()
}
