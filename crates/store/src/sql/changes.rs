//! The change feed: which evidence rows were stored after a given one, and whose status each
//! changes, so that every node can drop what it cached about those people. It does not decide
//! what a node does with a gap in the ids (the server's follower does), nor write anything.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlStore, doc_index_from};
use crate::error::StoreError;
use crate::model::Change;

/// The change feed's rows: each evidence row with its subject and, for a correction, the
/// subject of the revision before it.
const CHANGES_SELECT: &str = "SELECT e.id, e.subject_index, p.subject_index AS previous_subject \
     FROM evidence e LEFT JOIN evidence p ON p.provider_id = e.provider_id \
     AND p.record_id = e.record_id AND p.revision = e.revision - 1";

pub(super) async fn evidence_high_water(store: &SqlStore) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("SELECT COALESCE(MAX(id), 0) AS id FROM evidence")
            .fetch_one(&store.pool)
            .await?
            .try_get("id")?,
    )
}

pub(super) async fn evidence_changes(
    store: &SqlStore,
    after_id: i64,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    let sql = format!("{CHANGES_SELECT} WHERE e.id > $1 ORDER BY e.id LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(change_from_row).collect()
}

pub(super) async fn evidence_changes_at(
    store: &SqlStore,
    ids: &[i64],
) -> Result<Vec<Change>, StoreError> {
    // Skipped ids come in runs (an import that lost a race, a rolled-back batch): one
    // range per run keeps a run of a hundred thousand to one condition.
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for id in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == id => *end = id,
            _ => runs.push((id, id)),
        }
    }
    let mut out = Vec::new();
    for chunk in runs.chunks(250) {
        let conditions: Vec<String> = (0..chunk.len())
            .map(|i| format!("e.id BETWEEN ${} AND ${}", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "{CHANGES_SELECT} WHERE {} ORDER BY e.id",
            conditions.join(" OR ")
        );
        let mut q = sqlx::query(&sql);
        for (start, end) in chunk {
            q = q.bind(*start).bind(*end);
        }
        for row in q.fetch_all(&store.pool).await? {
            out.push(change_from_row(&row)?);
        }
    }
    Ok(out)
}

fn change_from_row(r: &AnyRow) -> Result<Change, StoreError> {
    let mut subjects = vec![doc_index_from(r.try_get("subject_index")?)?];
    if let Some(previous) = r.try_get::<Option<Vec<u8>>, _>("previous_subject")? {
        let previous = doc_index_from(previous)?;
        if previous != subjects[0] {
            subjects.push(previous);
        }
    }
    Ok(Change {
        id: r.try_get("id")?,
        subjects,
    })
}
