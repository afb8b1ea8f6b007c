//! The database's own facts, in the `meta` table: the master-key check made at every start,
//! and the values nodes pin there to find out they were given different key files. It does not
//! own the keys themselves (the vault does) nor what a pinned value means (the caller does).

use sqlx::{AnyPool, Row};

use super::SqlStore;
use crate::error::StoreError;
use crate::vault::{DocIndex, Field, Vault};

const KEY_CHECK_PLAINTEXT: &str = "healthcode master key check v1";

/// The first node to open a database seals a known value with its master key; every later
/// node must be able to open it. Without this, a node started with a lost or wrong key file
/// would quietly create a new key, fail to read everyone already registered, and file new
/// evidence under blind indexes no one can find.
pub(super) async fn check_master_key(pool: &AnyPool, vault: &Vault) -> Result<(), StoreError> {
    let row = DocIndex([0; 32]);
    let sealed = vault.seal(Field::KeyCheck, &row, KEY_CHECK_PLAINTEXT)?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('vault_check', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(sealed)
    .execute(pool)
    .await?;
    let stored: Vec<u8> = sqlx::query("SELECT value FROM meta WHERE key = 'vault_check'")
        .fetch_one(pool)
        .await?
        .try_get("value")?;
    match vault.open(Field::KeyCheck, &row, &stored) {
        Ok(text) if text == KEY_CHECK_PLAINTEXT => Ok(()),
        _ => Err(StoreError::KeyFile(
            "the master key does not match this database (was keys/master.key replaced or lost? \
             restore it from the backup; see docs/SECURITY.md)"
                .into(),
        )),
    }
}

pub(super) async fn pin(
    store: &SqlStore,
    key: &str,
    value: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(value.to_vec())
        .execute(&store.writer)
        .await?;
    let stored: Vec<u8> = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_one(&store.pool)
        .await?
        .try_get("value")?;
    Ok((stored != value).then_some(stored))
}

pub(super) async fn set_pin(store: &SqlStore, key: &str, value: &[u8]) -> Result<(), StoreError> {
    let _guard = store.write_guard().await;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value.to_vec())
    .execute(&store.writer)
    .await?;
    Ok(())
}
