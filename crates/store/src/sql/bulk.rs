//! Batched writes: thousands of submissions in a handful of statements, with the same
//! outcome, row for row, as submitting them one at a time through [`Store::submit`].
//!
//! A batch is written in rounds. A round holds at most one submission per record (a file that
//! names a record twice gets the second as a correction of the first, in the next round). Every
//! submission is first inserted as a new record, one multi-row `INSERT` per 1,700 rows; the
//! insert skips those whose record exists (`ON CONFLICT DO NOTHING`, on SQLite `INSERT OR
//! IGNORE`), and only they cost
//! more: a `SELECT` of their current revisions and one of earlier revisions with the same
//! content (per 500 records), an `UPDATE` and an `INSERT` for the corrections. A row whose key
//! another writer took meanwhile goes into the next round, which reads the other writer's row
//! and decides again, so a race never fails a batch nor stores a record twice.
//!
//! [`Store::submit`]: crate::Store::submit

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use super::evidence::{INSERT_EVIDENCE, NewEvidence, body_from_row};
use super::revisions::{content_hash, decide_submit};
use super::subjects::{self, subject_key};
use super::{Backend, doc_index_from, log, to_revision};
use crate::error::StoreError;
use crate::model::{EvidenceBody, Outcome, Stored, Submission};
use crate::vault::DocIndex;

/// What became of each submission of a batch, in order. A submission refused for its content
/// is an `Err` in its place; a failure of the database fails the whole batch instead.
pub type BatchOutcome = Vec<Result<Stored, StoreError>>;

/// Rows per `INSERT`: 21 parameters each, 31,500 in all, just under SQLite's limit of 32,766
/// (PostgreSQL allows 65,535). Fewer, larger statements: 4 % faster than 1,000 rows.
const INSERT_ROWS: usize = 1_500;
/// Record ids per `SELECT … IN (…)` and ids per `UPDATE … IN (…)`.
const LOOKUP_IDS: usize = 500;
/// Rounds a row may lose to concurrent writers before the batch gives up.
const MAX_LOST_ROUNDS: usize = 5;

/// The current revision of a record.
struct Current {
    id: i64,
    revision: i64,
    subject: DocIndex,
    body: EvidenceBody,
    hash: Vec<u8>,
}

/// A revision to insert, and what to report once it has its id.
struct NewRow {
    index: usize,
    revision: i64,
    subject: DocIndex,
    body: EvidenceBody,
    /// The content hash; for a row inserted as a new record, computed only when its
    /// statement is built (see [`insert_rows`]).
    hash: Option<Vec<u8>>,
    outcome: Outcome,
    previous_subject: Option<DocIndex>,
}

/// Writes `batch` on `conn`, inside the caller's transaction.
pub(super) async fn write_batch(
    backend: Backend,
    log_writes: bool,
    conn: &mut AnyConnection,
    batch: &[Submission],
    now: DateTime<Utc>,
) -> Result<BatchOutcome, StoreError> {
    let mut results: Vec<Option<Result<Stored, StoreError>>> =
        std::iter::repeat_with(|| None).take(batch.len()).collect();
    check_providers(conn, batch).await?;
    let mut pending: Vec<usize> = (0..batch.len()).collect();
    let mut lost_rounds = 0;
    while !pending.is_empty() {
        let (round, later) = split_round(batch, &pending);
        let lost = write_round(backend, log_writes, conn, batch, &round, now, &mut results).await?;
        if !lost.is_empty() {
            lost_rounds += 1;
            if lost_rounds > MAX_LOST_ROUNDS {
                return Err(StoreError::Contention);
            }
        }
        pending = lost;
        pending.extend(later);
        pending.sort_unstable();
    }
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| StoreError::Corrupt("a batch row was left undecided".into())))
        .collect()
}

/// Every provider the batch names exists. The foreign key would refuse the whole transaction
/// at COMMIT (it is deferred, migration 0004); this names the problem first. A batch comes
/// from one provider, so this is one query.
async fn check_providers(conn: &mut AnyConnection, batch: &[Submission]) -> Result<(), StoreError> {
    let mut ids: Vec<i64> = batch.iter().map(|s| s.provider_id).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        sqlx::query("SELECT 1 FROM providers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
    }
    Ok(())
}

/// The first pending submission of each record, and the rest (in file order).
fn split_round(batch: &[Submission], pending: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut seen = HashSet::with_capacity(pending.len());
    pending
        .iter()
        .partition(|&&i| seen.insert((batch[i].provider_id, batch[i].record_id.as_str())))
}

/// One round. Every submission is first inserted as the first revision of a new record: in
/// a bulk import nearly every record is new, and this costs one statement per 1,700 rows.
/// Those whose record exists already are skipped by that insert; they are decided against
/// the current revision and written as corrections, or found unchanged. Returns the
/// submissions that lost their record to a concurrent writer.
async fn write_round(
    backend: Backend,
    log_writes: bool,
    conn: &mut AnyConnection,
    batch: &[Submission],
    round: &[usize],
    now: DateTime<Utc>,
    results: &mut [Option<Result<Stored, StoreError>>],
) -> Result<Vec<usize>, StoreError> {
    let fresh: Vec<NewRow> = round
        .iter()
        .map(|&index| {
            let s = &batch[index];
            NewRow {
                index,
                revision: 1,
                subject: s.subject,
                hash: None,
                body: s.body.clone(),
                outcome: Outcome::Created,
                previous_subject: None,
            }
        })
        .collect();
    let existing = record_inserted(backend, log_writes, conn, batch, fresh, now, results).await?;
    if existing.is_empty() {
        return Ok(existing);
    }
    let mut current = load_current(backend, conn, batch, &existing).await?;
    let mut corrections = Vec::with_capacity(existing.len());
    let mut lost = Vec::new();
    for i in existing {
        let s = &batch[i];
        // No current revision although the insert found one: a concurrent writer's, rolled
        // back since. The next round starts this record afresh.
        let Some(cur) = current.remove(&(s.provider_id, s.record_id.clone())) else {
            lost.push(i);
            continue;
        };
        match decide(s, cur, i)? {
            Decision::Done(r) => results[i] = Some(r),
            Decision::Correct(row, flip) => corrections.push((row, flip)),
        }
    }
    // A correction whose content equals an earlier revision is a late retry: refused.
    let earlier = earlier_revisions(backend, conn, batch, &corrections).await?;
    let mut flips = Vec::with_capacity(corrections.len());
    let mut rows = Vec::with_capacity(corrections.len());
    for (row, flip) in corrections {
        let s = &batch[row.index];
        match earlier.get(&(
            s.provider_id,
            s.record_id.clone(),
            row.hash.clone().unwrap_or_default(),
        )) {
            Some(&matched) => {
                results[row.index] = Some(Err(StoreError::Superseded {
                    matched,
                    current: to_revision(row.revision - 1)?,
                }))
            }
            None => {
                flips.push(flip);
                rows.push(row);
            }
        }
    }
    flip_current(backend, conn, &mut flips).await?;
    lost.extend(record_inserted(backend, log_writes, conn, batch, rows, now, results).await?);
    Ok(lost)
}

/// Inserts `rows` and records each inserted one's outcome; returns the submissions whose row
/// was skipped because its record (or revision) exists.
async fn record_inserted(
    backend: Backend,
    log_writes: bool,
    conn: &mut AnyConnection,
    batch: &[Submission],
    mut rows: Vec<NewRow>,
    now: DateTime<Utc>,
    results: &mut [Option<Result<Stored, StoreError>>],
) -> Result<Vec<usize>, StoreError> {
    // In key order, so that two writers inserting overlapping records take the index entries
    // in one order and wait for each other instead of deadlocking (PostgreSQL).
    rows.sort_unstable_by(|a, b| {
        let (a, b) = (&batch[a.index], &batch[b.index]);
        (a.provider_id, &a.record_id).cmp(&(b.provider_id, &b.record_id))
    });
    let ids = insert_rows(backend, log_writes, conn, batch, &rows, now).await?;
    let mut skipped = Vec::new();
    let mut entries = Vec::with_capacity(ids.len());
    for row in rows {
        let s = &batch[row.index];
        match ids.get(&(s.provider_id, s.record_id.clone())) {
            Some(&id) => {
                entries.push((subject_key(&row.subject), id));
                results[row.index] = Some(Ok(Stored {
                    id,
                    revision: to_revision(row.revision)?,
                    outcome: row.outcome,
                    subject: row.subject,
                    previous_subject: row.previous_subject,
                }))
            }
            None => skipped.push(row.index),
        }
    }
    subjects::note(backend, conn, &entries).await?;
    Ok(skipped)
}

enum Decision {
    /// Nothing to write: unchanged, or refused.
    Done(Result<Stored, StoreError>),
    /// A correction (unless its content equals an earlier revision), and the id of the
    /// revision it replaces.
    Correct(NewRow, i64),
}

/// What to do with a submission of a record that exists, given its current revision.
fn decide(s: &Submission, cur: Current, index: usize) -> Result<Decision, StoreError> {
    let (subject, body) = match decide_submit(s, Some(cur.body)) {
        Ok(d) => d,
        Err(e) => return Ok(Decision::Done(Err(e))),
    };
    let hash = content_hash(&subject, &body);
    if cur.hash == hash {
        return Ok(Decision::Done(Ok(Stored {
            id: cur.id,
            revision: to_revision(cur.revision)?,
            outcome: Outcome::Unchanged,
            subject,
            previous_subject: None,
        })));
    }
    let row = NewRow {
        index,
        revision: cur.revision + 1,
        previous_subject: (cur.subject != subject).then_some(cur.subject),
        subject,
        body,
        hash: Some(hash),
        outcome: Outcome::Corrected,
    };
    Ok(Decision::Correct(row, cur.id))
}

/// For the records being corrected, the newest earlier revision of each content hash: one
/// query per provider and 500 records, however many corrections a file holds.
async fn earlier_revisions(
    backend: Backend,
    conn: &mut AnyConnection,
    batch: &[Submission],
    corrections: &[(NewRow, i64)],
) -> Result<HashMap<(i64, String, Vec<u8>), u32>, StoreError> {
    let mut by_provider: HashMap<i64, Vec<&str>> = HashMap::new();
    for (row, _) in corrections {
        let s = &batch[row.index];
        by_provider
            .entry(s.provider_id)
            .or_default()
            .push(&s.record_id);
    }
    let mut out = HashMap::new();
    for (provider_id, ids) in by_provider {
        for chunk in ids.chunks(LOOKUP_IDS) {
            let sql = format!(
                "SELECT record_id, content_hash, MAX(revision) AS revision FROM evidence \
                 WHERE provider_id = {} AND is_current = 0 AND record_id IN ({}) \
                 GROUP BY record_id, content_hash",
                placeholders(backend, 1, 1),
                placeholders(backend, 2, chunk.len())
            );
            // Not prepared, for the reason given in `load_current`.
            let mut q = sqlx::query(&sql).persistent(false).bind(provider_id);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *conn).await? {
                out.insert(
                    (
                        provider_id,
                        r.try_get("record_id")?,
                        r.try_get("content_hash")?,
                    ),
                    to_revision(r.try_get("revision")?)?,
                );
            }
        }
    }
    Ok(out)
}

/// The newest earlier revision of a record whose content hash is `hash`, if any.
pub(super) async fn superseded_revision_with(
    conn: &mut AnyConnection,
    provider_id: i64,
    record_id: &str,
    hash: &[u8],
) -> Result<Option<u32>, StoreError> {
    sqlx::query(
        "SELECT revision FROM evidence WHERE provider_id = $1 AND record_id = $2 \
         AND content_hash = $3 ORDER BY revision DESC LIMIT 1",
    )
    .bind(provider_id)
    .bind(record_id)
    .bind(hash.to_vec())
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| to_revision(r.try_get("revision")?))
    .transpose()
}

/// The current revisions of the records in `round`, by (provider, record id).
async fn load_current(
    backend: Backend,
    conn: &mut AnyConnection,
    batch: &[Submission],
    round: &[usize],
) -> Result<HashMap<(i64, String), Current>, StoreError> {
    let mut by_provider: HashMap<i64, Vec<&str>> = HashMap::new();
    for &i in round {
        by_provider
            .entry(batch[i].provider_id)
            .or_default()
            .push(&batch[i].record_id);
    }
    let mut out = HashMap::new();
    for (provider_id, ids) in by_provider {
        for chunk in ids.chunks(LOOKUP_IDS) {
            let sql = format!(
                "SELECT * FROM evidence WHERE provider_id = {} AND is_current = 1 \
                 AND record_id IN ({})",
                placeholders(backend, 1, 1),
                placeholders(backend, 2, chunk.len())
            );
            // Not a prepared statement: PostgreSQL plans it afresh each time. A plan cached
            // while the table was small (during the import that fills it) filters every
            // record of the provider instead of looking the ids up: 1,000 rows/s.
            let mut q = sqlx::query(&sql).persistent(false).bind(provider_id);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *conn).await? {
                let record_id: String = r.try_get("record_id")?;
                let current = Current {
                    id: r.try_get("id")?,
                    revision: r.try_get("revision")?,
                    subject: doc_index_from(r.try_get("subject_index")?)?,
                    body: body_from_row(&r)?,
                    hash: r.try_get("content_hash")?,
                };
                out.insert((provider_id, record_id), current);
            }
        }
    }
    Ok(out)
}

/// Marks the revisions being corrected as no longer current.
async fn flip_current(
    backend: Backend,
    conn: &mut AnyConnection,
    ids: &mut [i64],
) -> Result<(), StoreError> {
    // In id order, so that two writers correcting the same records lock them in one order.
    ids.sort_unstable();
    for chunk in ids.chunks(LOOKUP_IDS) {
        let sql = format!(
            "UPDATE evidence SET is_current = 0 WHERE is_current = 1 AND id IN ({})",
            placeholders(backend, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts the new revisions; returns the id of each row inserted, by (provider, record id).
/// A row whose record another writer took meanwhile is skipped, not an error.
///
/// On PostgreSQL the ids come back with `RETURNING`. On SQLite they are worked out instead:
/// the driver hands each returned row from SQLite's thread to this task on its own, a thread
/// wake-up per row that cost more than the insert. The transaction holds SQLite's write lock,
/// and a row inserted without an id gets the largest id so far plus one, in `VALUES` order;
/// so when every row of a statement went in, their ids are the run ending at the last one
/// inserted, and when some were skipped, the rows of that run are read back by id.
///
/// With `log_writes`, each statement's rows are followed by their leaves' `INSERT`. On SQLite
/// the work is overlapped with the database's: while SQLite inserts a statement's rows, this
/// task writes their leaves for the ids they take if every row goes in (written again for the
/// rows that did when some did not, and not written ahead after such a statement), and while
/// SQLite inserts the leaves, this task binds the next statement.
async fn insert_rows<'r>(
    backend: Backend,
    log_writes: bool,
    conn: &mut AnyConnection,
    batch: &'r [Submission],
    rows: &'r [NewRow],
    now: DateTime<Utc>,
) -> Result<HashMap<(i64, String), i64>, StoreError> {
    let mut ids = HashMap::with_capacity(rows.len());
    let full = insert_sql(backend, INSERT_ROWS);
    let last = insert_sql(backend, rows.len() % INSERT_ROWS);
    let build = |chunk: &'r [NewRow]| {
        let sql = if chunk.len() == INSERT_ROWS {
            &full
        } else {
            &last
        };
        (chunk, bind_rows(sqlx::query(sql), batch, chunk, now))
    };
    let mut highest: i64 = match backend {
        Backend::Sqlite => sqlx::query("SELECT COALESCE(MAX(id), 0) AS id FROM evidence")
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?,
        Backend::Postgres => 0,
    };
    let mut chunks = rows.chunks(INSERT_ROWS);
    let mut next = chunks.next().map(build);
    // Leaves are written ahead only while statements go in whole: a file imported again
    // inserts nothing, and its leaves would be written for nothing.
    let mut expect_whole = true;
    while let Some((chunk, q)) = next.take() {
        // The statement runs on SQLite's worker thread (or in PostgreSQL) while this task
        // works on the next one: the first poll of the fetch sends it.
        let leaves = match backend {
            Backend::Postgres => {
                let (inserted, following) =
                    futures_util::future::join(q.fetch_all(&mut *conn), async {
                        chunks.next().map(build)
                    })
                    .await;
                next = following;
                add_ids(&mut ids, inserted?)?;
                if !log_writes {
                    continue;
                }
                leaves_of(batch, chunk, now, |_, s| {
                    ids.get(&(s.provider_id, s.record_id.clone())).copied()
                })?
            }
            Backend::Sqlite => {
                let first = highest + 1;
                let predict = log_writes && expect_whole;
                let (done, predicted) = futures_util::future::join(q.execute(&mut *conn), async {
                    if predict {
                        Some(leaves_of(batch, chunk, now, |i, _| Some(first + i as i64)))
                    } else {
                        next = chunks.next().map(build);
                        None
                    }
                })
                .await;
                let done = done?;
                let count = i64::try_from(done.rows_affected())
                    .map_err(|_| StoreError::Corrupt("row count out of range".into()))?;
                // (The driver's `last_insert_id` is not passed through `Any`.)
                let top: i64 = if count == 0 {
                    highest
                } else {
                    sqlx::query("SELECT last_insert_rowid() AS id")
                        .fetch_one(&mut *conn)
                        .await?
                        .try_get("id")?
                };
                if top - highest != count {
                    return Err(StoreError::Corrupt(format!(
                        "{count} rows inserted took ids {} to {top}",
                        highest + 1
                    )));
                }
                let whole = usize::try_from(count).ok() == Some(chunk.len());
                if whole {
                    for (row, id) in chunk.iter().zip(highest + 1..=top) {
                        let s = &batch[row.index];
                        ids.insert((s.provider_id, s.record_id.clone()), id);
                    }
                } else if count > 0 {
                    let inserted = sqlx::query(
                        "SELECT id, provider_id, record_id FROM evidence \
                         WHERE id > $1 AND id <= $2",
                    )
                    .bind(highest)
                    .bind(top)
                    .fetch_all(&mut *conn)
                    .await?;
                    add_ids(&mut ids, inserted)?;
                }
                let earlier = highest;
                highest = top;
                expect_whole = whole;
                match predicted {
                    _ if !log_writes || count == 0 => Vec::new(),
                    Some(predicted) if whole => predicted?,
                    _ => leaves_of(batch, chunk, now, |_, s| {
                        ids.get(&(s.provider_id, s.record_id.clone()))
                            .copied()
                            .filter(|&id| id > earlier)
                    })?,
                }
            }
        };
        if leaves.is_empty() {
            if next.is_none() {
                next = chunks.next().map(build);
            }
            continue;
        }
        let sql = log::insert_leaves_sql(backend, leaves.len());
        let insert = log::bind_leaves(sqlx::query(&sql), leaves);
        if next.is_some() {
            insert.execute(&mut *conn).await?;
        } else {
            let (done, following) = futures_util::future::join(insert.execute(&mut *conn), async {
                chunks.next().map(build)
            })
            .await;
            done?;
            next = following;
        }
    }
    Ok(ids)
}

/// The leaf rows of `chunk`'s rows that `id_of` gives an id (it is told the row's place in
/// the chunk and its submission).
fn leaves_of(
    batch: &[Submission],
    chunk: &[NewRow],
    now: DateTime<Utc>,
    id_of: impl Fn(usize, &Submission) -> Option<i64>,
) -> Result<Vec<log::LeafRow>, StoreError> {
    let mut leaves = Vec::with_capacity(chunk.len());
    for (i, row) in chunk.iter().enumerate() {
        let s = &batch[row.index];
        if let Some(id) = id_of(i, s) {
            leaves.push(log::evidence_leaf(
                id,
                s.provider_id,
                &s.record_id,
                row.revision,
                &row.subject,
                &row.body,
                now.timestamp(),
                false,
            )?);
        }
    }
    log::leaf_rows(leaves)
}

/// Adds rows of `id, provider_id, record_id` to `ids`, by (provider, record id).
fn add_ids(
    ids: &mut HashMap<(i64, String), i64>,
    rows: Vec<sqlx::any::AnyRow>,
) -> Result<(), StoreError> {
    for r in rows {
        ids.insert(
            (r.try_get("provider_id")?, r.try_get("record_id")?),
            r.try_get("id")?,
        );
    }
    Ok(())
}

/// Binds the values of `rows` to their `INSERT`.
fn bind_rows<'a>(
    mut q: sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments<'a>>,
    batch: &'a [Submission],
    rows: &'a [NewRow],
    now: DateTime<Utc>,
) -> sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments<'a>> {
    for row in rows {
        let s = &batch[row.index];
        let new = NewEvidence {
            provider_id: s.provider_id,
            record_id: &s.record_id,
            revision: row.revision,
            subject: &row.subject,
            body: &row.body,
            hash: row
                .hash
                .clone()
                .unwrap_or_else(|| content_hash(&row.subject, &row.body)),
            received_at: now,
        };
        q = new.bind(q);
    }
    q
}

/// The `INSERT` of `rows` new revisions; on PostgreSQL it returns the id of each row inserted.
fn insert_sql(backend: Backend, rows: usize) -> String {
    const COLUMNS: usize = 21;
    let mut sql = String::with_capacity(300 + rows * 120);
    // On SQLite `INSERT OR IGNORE`: with every conflict ignored (and the foreign key deferred
    // to COMMIT, migration 0004) no row can make the statement abort halfway, so SQLite keeps
    // no statement journal for it. No column it would ignore a row for can be null here.
    match backend {
        Backend::Sqlite => {
            sql.push_str("INSERT OR IGNORE");
            sql.push_str(INSERT_EVIDENCE.trim_start_matches("INSERT"));
        }
        Backend::Postgres => sql.push_str(INSERT_EVIDENCE),
    }
    for n in 0..rows {
        sql.push_str(if n > 0 { ", " } else { " " });
        let first = n * COLUMNS + 1;
        sql.push('(');
        sql.push_str(&placeholders(backend, first, 3));
        sql.push_str(", 1, ");
        sql.push_str(&placeholders(backend, first + 3, COLUMNS - 3));
        sql.push(')');
    }
    if backend == Backend::Postgres {
        sql.push_str(" ON CONFLICT DO NOTHING RETURNING id, provider_id, record_id");
    }
    sql
}

/// `count` parameters numbered from `first`: `$first, $first+1, …` on PostgreSQL, and plain
/// `?` on SQLite, which binds them in order. (SQLite looks a numbered parameter's name up in a
/// list, once per parameter: with thousands in a statement that alone made binding quadratic,
/// 86% of an import's time.)
pub(super) fn placeholders(backend: Backend, first: usize, count: usize) -> String {
    let mut s = String::with_capacity(count * 6);
    for n in first..first + count {
        if n > first {
            s.push_str(", ");
        }
        match backend {
            Backend::Sqlite => s.push('?'),
            Backend::Postgres => {
                s.push('$');
                s.push_str(&n.to_string());
            }
        }
    }
    s
}
