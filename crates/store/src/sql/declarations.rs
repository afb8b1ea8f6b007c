//! Declarations (自主申报): a person's own evidence, stored as rows of the evidence table
//! under the one provider of kind `self` (migration 0010), so that they are read, revised and
//! announced on the change feed exactly as every other record. How a row holds one is
//! sql/evidence.rs's; who may declare is the server's to check.

use chrono::{DateTime, Utc};
use sqlx::Row;

use healthcode_domain::Declared;

use super::{SqlStore, batches, from_secs};
use crate::error::StoreError;
use crate::model::{EvidenceBody, Stored, Submission};
use crate::vault::DocIndex;

/// The id of the self-declared provider row (0 as migration 0010 made it; looked up by kind
/// so that nothing else depends on that).
async fn self_provider(store: &SqlStore) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT id FROM providers WHERE kind = 'self' ORDER BY id LIMIT 1")
        .fetch_optional(&store.pool)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the self-declared provider is missing".into()))?;
    Ok(row.try_get("id")?)
}

pub(super) async fn declare(
    store: &SqlStore,
    subject: &DocIndex,
    record_id: &str,
    declared: &Declared,
    now: DateTime<Utc>,
) -> Result<Stored, StoreError> {
    let submission = Submission {
        provider_id: self_provider(store).await?,
        record_id: record_id.to_owned(),
        subject: *subject,
        body: EvidenceBody::Declaration {
            declared: declared.clone(),
            // Stored to the second, as every evidence time.
            declared_at: from_secs(now.timestamp())?,
        },
    };
    batches::submit(store, &submission, now).await
}
