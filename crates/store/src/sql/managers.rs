//! Venue managers on [`SqlStore`]: the people who manage a venue in the gate app, each
//! assigned once. What a manager may do is the server's; the store keeps the pairs, which go
//! with the person.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::people::person_must_exist;
use super::venues::venue_from_row;
use super::{SqlStore, from_secs};
use crate::error::StoreError;
use crate::model::{Venue, VenueManager};

fn manager_from_row(r: &AnyRow) -> Result<VenueManager, StoreError> {
    Ok(VenueManager {
        id: r.try_get("id")?,
        venue_id: r.try_get("venue_id")?,
        person_id: r.try_get("person_id")?,
        assigned_at: from_secs(r.try_get("assigned_at")?)?,
    })
}

pub(super) async fn assign_manager(
    store: &SqlStore,
    venue_id: i64,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<VenueManager, StoreError> {
    let _guard = store.write_guard().await;
    // One statement: a pair there already is left as it is and returned. A venue or person
    // that does not exist fails a foreign key, which `person_must_exist` makes NotFound.
    let row = sqlx::query(
        "INSERT INTO venue_managers (venue_id, person_id, assigned_at) VALUES ($1, $2, $3) \
         ON CONFLICT (venue_id, person_id) \
         DO UPDATE SET assigned_at = venue_managers.assigned_at \
         RETURNING id, venue_id, person_id, assigned_at",
    )
    .bind(venue_id)
    .bind(person_id)
    .bind(now.timestamp())
    .fetch_one(&store.writer)
    .await
    .map_err(person_must_exist)?;
    manager_from_row(&row)
}

pub(super) async fn managers_of(
    store: &SqlStore,
    venue_id: i64,
) -> Result<Vec<VenueManager>, StoreError> {
    let rows = sqlx::query("SELECT * FROM venue_managers WHERE venue_id = $1 ORDER BY id")
        .bind(venue_id)
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(manager_from_row).collect()
}

pub(super) async fn unassign_manager(
    store: &SqlStore,
    venue_id: i64,
    assignment_id: i64,
) -> Result<bool, StoreError> {
    let _guard = store.write_guard().await;
    Ok(
        sqlx::query("DELETE FROM venue_managers WHERE id = $1 AND venue_id = $2")
            .bind(assignment_id)
            .bind(venue_id)
            .execute(&store.writer)
            .await?
            .rows_affected()
            > 0,
    )
}

pub(super) async fn venues_managed_by(
    store: &SqlStore,
    person_id: i64,
) -> Result<Vec<Venue>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.* FROM venue_managers m JOIN venues v ON v.id = m.venue_id \
         WHERE m.person_id = $1 ORDER BY v.id",
    )
    .bind(person_id)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(venue_from_row).collect()
}

pub(super) async fn manages(
    store: &SqlStore,
    person_id: i64,
    venue_id: i64,
) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT id FROM venue_managers WHERE person_id = $1 AND venue_id = $2")
            .bind(person_id)
            .bind(venue_id)
            .fetch_optional(&store.pool)
            .await?
            .is_some(),
    )
}
