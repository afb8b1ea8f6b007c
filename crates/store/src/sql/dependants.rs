//! Dependants on [`SqlStore`]: the people whose codes a guardian may show (他人代查), at most
//! [`MAX_DEPENDANTS`] each. Who may add whom (a guardian's proof of the relationship) is the
//! server's; the store keeps the pairs and the cap, which holds under concurrent adds.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqlStore;
use super::people::{lock_person, person_must_exist};
use crate::error::StoreError;
use crate::model::Person;

/// Dependants one guardian may have: a family's children and elderly people without phones.
/// The refusal's message in `add_dependant` says the number too.
pub const MAX_DEPENDANTS: i64 = 4;

pub(super) async fn add_dependant(
    store: &SqlStore,
    guardian_id: i64,
    dependant_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if guardian_id == dependant_id {
        return Err(StoreError::Rejected {
            code: "dependant_self",
            message: "a person cannot be their own dependant",
        });
    }
    // The count and the insert in one transaction that holds the guardian's row: two adds at
    // once take turns, and the second counts the first's.
    let (guard, mut tx) = store.begin_write().await?;
    lock_person(store, &mut tx, guardian_id).await?;
    let there = sqlx::query(
        "SELECT created_at FROM dependants WHERE guardian_id = $1 AND dependant_id = $2",
    )
    .bind(guardian_id)
    .bind(dependant_id)
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if !there {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM dependants WHERE guardian_id = $1")
            .bind(guardian_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count >= MAX_DEPENDANTS {
            return Err(StoreError::Rejected {
                code: "dependants_full",
                message: "a guardian may have at most 4 dependants; remove one first",
            });
        }
        sqlx::query(
            "INSERT INTO dependants (guardian_id, dependant_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(guardian_id)
        .bind(dependant_id)
        .bind(now.timestamp())
        .execute(&mut *tx)
        .await
        .map_err(person_must_exist)?;
    }
    tx.commit().await?;
    drop(guard);
    Ok(())
}

pub(super) async fn dependants_of(
    store: &SqlStore,
    guardian_id: i64,
) -> Result<Vec<Person>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.* FROM dependants d JOIN people p ON p.id = d.dependant_id \
         WHERE d.guardian_id = $1 ORDER BY d.created_at, p.id",
    )
    .bind(guardian_id)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(|r| store.person_from_row(r)).collect()
}

pub(super) async fn is_dependant(
    store: &SqlStore,
    guardian_id: i64,
    dependant_id: i64,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(
        "SELECT created_at FROM dependants WHERE guardian_id = $1 AND dependant_id = $2",
    )
    .bind(guardian_id)
    .bind(dependant_id)
    .fetch_optional(&store.pool)
    .await?
    .is_some())
}

pub(super) async fn remove_dependant(
    store: &SqlStore,
    guardian_id: i64,
    dependant_id: i64,
) -> Result<bool, StoreError> {
    let _guard = store.write_guard().await;
    Ok(
        sqlx::query("DELETE FROM dependants WHERE guardian_id = $1 AND dependant_id = $2")
            .bind(guardian_id)
            .bind(dependant_id)
            .execute(&store.writer)
            .await?
            .rows_affected()
            > 0,
    )
}
