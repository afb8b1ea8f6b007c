//! A record's revisions: how a write decides what to store given the record's current
//! revision, the one-record [`Write`]s that go through that decision in a transaction of their
//! own (a deliberate correction of a named revision, the release of a designation), and the
//! record's history. Plain submissions, even one at a time, go through the batch path
//! (sql/batches.rs, sql/bulk.rs), which decides with the same [`decide_submit`] and
//! [`content_hash`]. How a row is laid out in columns is sql/evidence.rs's.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

use healthcode_domain::DesignationKind;

use super::evidence::{INSERT_EVIDENCE, NewEvidence, body_from_row};
use super::subjects::{self, subject_key};
use super::{SqlStore, bulk, doc_index_from, from_secs, log, to_revision};
use crate::error::StoreError;
use crate::model::{EvidenceBody, Outcome, Revision, Stored, Submission};
use crate::vault::DocIndex;

/// What a write does to a record.
pub(super) enum Write<'a> {
    /// A provider's submission of the whole record; with `Some(n)`, a deliberate correction
    /// of revision `n`.
    Submit(&'a Submission, Option<u32>),
    /// The release of a designation, applied to its current revision.
    Release {
        provider_id: i64,
        record_id: &'a str,
        released_at: DateTime<Utc>,
        allowed: &'a [DesignationKind],
    },
}

/// [`write_once`], run again when it lost a race to a concurrent writer: the next attempt
/// reads that writer's revision and decides again.
pub(super) async fn write_retrying(
    store: &SqlStore,
    w: &Write<'_>,
    now: DateTime<Utc>,
) -> Result<Stored, StoreError> {
    let mut attempt = 0;
    loop {
        match write_once(store, w, now).await {
            Err(StoreError::Conflict(_) | StoreError::Contention) if attempt < 3 => attempt += 1,
            other => return other,
        }
    }
}

/// One write of a record in one transaction: read the current revision, decide, write.
async fn write_once(
    store: &SqlStore,
    w: &Write<'_>,
    now: DateTime<Utc>,
) -> Result<Stored, StoreError> {
    let (provider_id, record_id) = match w {
        Write::Submit(s, _) => (s.provider_id, s.record_id.as_str()),
        Write::Release {
            provider_id,
            record_id,
            ..
        } => (*provider_id, *record_id),
    };
    let (guard, mut tx) = store.begin_write().await?;
    let current = sqlx::query(
        "SELECT * FROM evidence WHERE provider_id = $1 AND record_id = $2 AND is_current = 1",
    )
    .bind(provider_id)
    .bind(record_id)
    .fetch_optional(&mut *tx)
    .await?;
    let current_body = current.as_ref().map(body_from_row).transpose()?;
    let decided = match w {
        Write::Submit(s, _) => decide_submit(s, current_body),
        Write::Release {
            released_at,
            allowed,
            ..
        } => match (&current, current_body) {
            (Some(row), Some(body)) => decide_release(
                record_id,
                doc_index_from(row.try_get("subject_index")?)?,
                body,
                *released_at,
                allowed,
            ),
            _ => Err(StoreError::NotFound),
        },
    };
    let (subject, body) = match decided {
        Ok(d) => d,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let hash = content_hash(&subject, &body);
    let supersedes = match w {
        Write::Submit(_, n) => *n,
        Write::Release { .. } => None,
    };
    if let Some(expected) = supersedes {
        let current_revision = match &current {
            Some(row) => to_revision(row.try_get("revision")?)?,
            None => 0,
        };
        if expected != current_revision {
            tx.rollback().await?;
            return Err(StoreError::RevisionMismatch {
                expected,
                current: current_revision,
            });
        }
    }
    let (revision, previous_subject) = match &current {
        None => (1, None),
        Some(row) => {
            let id: i64 = row.try_get("id")?;
            let revision: i64 = row.try_get("revision")?;
            if row.try_get::<Vec<u8>, _>("content_hash")? == hash {
                tx.rollback().await?;
                return Ok(Stored {
                    id,
                    revision: to_revision(revision)?,
                    outcome: Outcome::Unchanged,
                    subject,
                    previous_subject: None,
                });
            }
            // The content of an earlier, superseded revision arriving again is a late
            // retry far more often than a wish to undo the correction: refuse it rather
            // than let it silently revert the record, unless the provider said which
            // revision it means to replace.
            if supersedes.is_none()
                && let Some(matched) =
                    bulk::superseded_revision_with(&mut tx, provider_id, record_id, &hash).await?
            {
                tx.rollback().await?;
                return Err(StoreError::Superseded {
                    matched,
                    current: to_revision(revision)?,
                });
            }
            let flipped =
                sqlx::query("UPDATE evidence SET is_current = 0 WHERE id = $1 AND is_current = 1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            if flipped.rows_affected() == 0 {
                // A concurrent writer replaced this revision after it was read: start over
                // from the new current revision.
                tx.rollback().await?;
                return Err(StoreError::Contention);
            }
            let old_subject = doc_index_from(row.try_get("subject_index")?)?;
            (
                revision + 1,
                (old_subject != subject).then_some(old_subject),
            )
        }
    };
    let sql = format!(
        "{INSERT_EVIDENCE} ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21) RETURNING id"
    );
    let row = NewEvidence {
        provider_id,
        record_id,
        revision,
        subject: &subject,
        body: &body,
        hash: hash.clone(),
        received_at: now,
    };
    let id: i64 = row
        .bind(sqlx::query(&sql))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    subjects::note(store.backend, &mut tx, &[(subject_key(&subject), id)]).await?;
    let leaf = log::evidence_leaf(
        id,
        provider_id,
        record_id,
        revision,
        &subject,
        &body,
        now.timestamp(),
        matches!(w, Write::Release { .. }),
    )?;
    if store.log_writes {
        log::append(store.backend, &mut tx, vec![leaf]).await?;
    }
    tx.commit().await?;
    drop(guard);
    store.noted(1);
    Ok(Stored {
        id,
        revision: to_revision(revision)?,
        outcome: if current.is_some() {
            Outcome::Corrected
        } else {
            Outcome::Created
        },
        subject,
        previous_subject,
    })
}

/// The subject and body to store for a submission, given the current revision's body.
///
/// A record keeps its category. A designation is released only through a release: sent again
/// without one, it keeps the current release — unless it now starts after that release, which
/// makes it a new period of the designation, in force again.
pub(super) fn decide_submit(
    s: &Submission,
    current: Option<EvidenceBody>,
) -> Result<(DocIndex, EvidenceBody), StoreError> {
    if let Some(c) = &current
        && c.category() != s.body.category()
    {
        return Err(StoreError::WrongCategory(s.record_id.clone()));
    }
    let mut body = s.body.clone();
    if let (
        EvidenceBody::Designation {
            started_at,
            released_at: released @ None,
            ..
        },
        Some(EvidenceBody::Designation {
            released_at: Some(current_release),
            ..
        }),
    ) = (&mut body, current)
        && current_release >= *started_at
    {
        *released = Some(current_release);
    }
    Ok((s.subject, body))
}

/// The subject and body after releasing the current revision `body` at `released_at`.
fn decide_release(
    record_id: &str,
    subject: DocIndex,
    body: EvidenceBody,
    released_at: DateTime<Utc>,
    allowed: &[DesignationKind],
) -> Result<(DocIndex, EvidenceBody), StoreError> {
    let EvidenceBody::Designation {
        kind,
        started_at,
        ends_at,
        exposure,
        ..
    } = body
    else {
        return Err(StoreError::WrongCategory(record_id.to_owned()));
    };
    if !allowed.contains(&kind) {
        return Err(StoreError::Rejected {
            code: "designation_kind_forbidden",
            message: "this key may not release this kind of designation",
        });
    }
    if released_at < started_at {
        return Err(StoreError::Rejected {
            code: "end_before_start",
            message: "the release is before the designation started",
        });
    }
    Ok((
        subject,
        EvidenceBody::Designation {
            kind,
            started_at,
            ends_at,
            released_at: Some(released_at),
            exposure,
        },
    ))
}

/// Identifies the content of a submission: equal hashes mean a resubmission changed nothing.
pub(super) fn content_hash(subject: &DocIndex, body: &EvidenceBody) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(subject.0);
    // Serialising a plain enum of strings, integers and timestamps cannot fail; an empty
    // encoding would only make every resubmission look like a correction, never lose data.
    h.update(serde_json::to_vec(body).unwrap_or_default());
    h.finalize().to_vec()
}

pub(super) async fn history(
    store: &SqlStore,
    provider_id: i64,
    record_id: &str,
) -> Result<Vec<Revision>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM evidence WHERE provider_id = $1 AND record_id = $2 ORDER BY revision",
    )
    .bind(provider_id)
    .bind(record_id)
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Revision {
                id: r.try_get("id")?,
                revision: to_revision(r.try_get("revision")?)?,
                current: r.try_get::<i64, _>("is_current")? == 1,
                body: body_from_row(r)?,
                received_at: from_secs(r.try_get("received_at")?)?,
            })
        })
        .collect()
}
