//! Bulk imports: a provider's file of test results or vaccinations (CSV or FHIR R4, see
//! docs/IMPORT.md) read as a stream and stored in batches, with a report that accounts for
//! every row. The API's import endpoints and `healthcode import` both run this.
//!
//! Reading and storing overlap: a blocking thread parses rows, checks them and computes each
//! subject's blind index, while the caller's task writes the previous batch. Memory holds a
//! few batches whatever the file's size.
//!
//! Without `atomic`, each batch commits on its own, so a person's status reflects their
//! row within a second of its batch (the change feed invalidates exactly the people a batch
//! touched), and an import cut short keeps the batches before the cut; running it again is
//! safe. With `atomic`, every batch shares one transaction, committed only if no row was
//! rejected.

use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::mpsc;

use healthcode_domain::{DocumentNumber, Policy, VaccinationKind};
use healthcode_ingest::{Category, FileError, Format, Position, Record, RecordBody, RowError};
use healthcode_store::{
    BatchOutcome, BulkWrite, DocIndex, EvidenceBody, Outcome, Provider, ProviderKind, Store,
    StoreError, Submission,
};

/// Rows per batch: large enough that statement overhead vanishes, small enough that a batch
/// commits within a fraction of a second.
pub const BATCH_ROWS: usize = 20_000;
/// Rejected rows listed in a report at most; all are counted.
pub const MAX_LISTED_REJECTIONS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    pub category: Category,
    /// All rows or none.
    pub atomic: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub format: Option<String>,
    pub rows: u64,
    pub accepted: u64,
    pub created: u64,
    pub corrected: u64,
    pub unchanged: u64,
    pub rejected_count: u64,
    /// Every rejected row (up to [`MAX_LISTED_REJECTIONS`]), in file order.
    pub rejected: Vec<Rejected>,
    pub ignored_columns: Vec<String>,
    /// Rows that passed every check but were not written: an atomic import writes nothing
    /// once a row has been rejected.
    #[serde(default)]
    pub checked_only: u64,
    pub atomic: bool,
    /// Whether the accepted rows are stored: false for an atomic import with rejections.
    pub committed: bool,
}

/// A rejected row: where it is (a line, or an entry of a FHIR Bundle) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    pub code: String,
    pub reason: String,
}

impl Rejected {
    fn new(at: Position, code: &'static str, reason: String) -> Rejected {
        let (line, entry) = match at {
            Position::Line(n) => (Some(n), None),
            Position::Entry(n) => (None, Some(n)),
        };
        Rejected {
            line,
            entry,
            code: code.to_owned(),
            reason,
        }
    }
}

/// Why an import stopped.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("a {kind} key cannot import {what}; it needs a {needs} key")]
    WrongKey {
        kind: &'static str,
        what: &'static str,
        needs: &'static str,
    },
    /// The file as a whole is unusable: nothing was stored.
    #[error("{0}")]
    File(FileError),
    /// The file reader stopped unexpectedly: the batches before it are kept (without
    /// `atomic`), as after a store failure.
    #[error("the file reader failed after {stored} rows were stored")]
    Reader { stored: u64 },
    /// The store failed. Without `atomic`, the rows reported in `stored` are kept.
    #[error("the database failed after {stored} rows were stored: {source}")]
    Store {
        stored: u64,
        #[source]
        source: StoreError,
    },
}

/// The kind of provider that may import a category.
pub fn provider_kind_for(category: Category) -> ProviderKind {
    match category {
        Category::Tests => ProviderKind::Lab,
        Category::Vaccinations => ProviderKind::Vaccination,
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::FhirBundle => "fhir_bundle",
        Format::FhirNdjson => "fhir_ndjson",
    }
}

/// One parsed row, ready to store, or its rejection.
type Parsed = Result<(Position, Submission), Rejected>;

/// What the parsing thread sends: the file's header facts, then batches.
enum Message {
    Opened {
        format: Format,
        ignored_columns: Vec<String>,
    },
    Batch(Vec<Parsed>),
    Failed(FileError),
}

/// Where an import stands after a batch: the report so far, and the people whose evidence the
/// batch changed (for the cache of the node running the import; other nodes learn of them
/// from the change feed).
pub struct Progress<'a> {
    pub report: &'a Report,
    pub touched: &'a [DocIndex],
}

/// Imports `input` as `provider`. `progress` is called after every batch. A file refused
/// whole, or a key of the wrong kind, is an error with nothing stored.
#[allow(clippy::too_many_arguments)]
pub async fn run<R: Read + Send + 'static>(
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    provider: &Provider,
    input: R,
    tz: Tz,
    now: DateTime<Utc>,
    options: ImportOptions,
    mut progress: impl FnMut(Progress<'_>) + Send,
) -> Result<Report, ImportError> {
    let needs = provider_kind_for(options.category);
    if provider.kind != needs {
        return Err(ImportError::WrongKey {
            kind: provider.kind.as_str(),
            what: match options.category {
                Category::Tests => "test results",
                Category::Vaccinations => "vaccinations",
            },
            needs: needs.as_str(),
        });
    }
    let (tx, mut rx) = mpsc::channel(4);
    let parser = {
        let store = store.clone();
        let provider_id = provider.id;
        tokio::task::spawn_blocking(move || {
            parse(
                &*store,
                &policy,
                provider_id,
                options.category,
                input,
                tz,
                now,
                &tx,
            )
        })
    };
    let mut report = Report {
        atomic: options.atomic,
        ..Report::default()
    };
    let mut bulk = None;
    let mut written = write_all(&store, &mut bulk, &mut rx, &mut report, now, &mut progress).await;
    // Dropping the receiver stops the parser at its next send, if it is still reading.
    drop(rx);
    // A reader that panicked has closed the channel as the end of the file would: that must
    // not pass for a complete file (nor commit an atomic import's first part).
    if parser.await.is_err() && written.is_ok() {
        let stored = if options.atomic { 0 } else { report.accepted };
        written = Err(ImportError::Reader { stored });
    }
    match (written, bulk) {
        (Err(e), Some(bulk)) => {
            let _ = bulk.rollback().await;
            Err(e)
        }
        (Err(e), None) => Err(e),
        (Ok(()), None) if report.atomic => {
            // Nothing was written: every row was rejected, or there were none.
            report.committed = report.rejected_count == 0;
            Ok(report)
        }
        (Ok(()), Some(bulk)) => {
            let finish = if report.rejected_count == 0 {
                bulk.commit().await
            } else {
                bulk.rollback().await
            };
            finish.map_err(|source| ImportError::Store { stored: 0, source })?;
            report.committed = report.rejected_count == 0;
            Ok(report)
        }
        (Ok(()), None) => {
            report.committed = true;
            Ok(report)
        }
    }
}

/// Receives parsed batches and stores them, tallying the report. An atomic import opens its
/// transaction at its first batch, and writes nothing more once a row has been rejected (the
/// batch holding that row included): from then on it can only roll back, so the rest of the
/// file is checked but not written, and holds no lock.
///
/// Other imports write up to [`Store::parallel_batches`] batches at once, each in its own
/// transaction, and count them in file order. A batch naming a record that a batch still
/// being written also names waits for it, so that the later row of the file is the later
/// revision.
async fn write_all(
    store: &Arc<dyn Store>,
    bulk: &mut Option<Box<dyn BulkWrite>>,
    rx: &mut mpsc::Receiver<Message>,
    report: &mut Report,
    now: DateTime<Utc>,
    progress: &mut (impl FnMut(Progress<'_>) + Send),
) -> Result<(), ImportError> {
    let parallel = if report.atomic {
        1
    } else {
        store.parallel_batches().max(1)
    };
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    // Where writes are serialised anyway (SQLite), batches share a transaction for up to
    // GROUP_FOR: each commit writes every index page the group touched, and the subject
    // index's pages are touched at random, so fewer, larger commits write far less. A batch is
    // counted once its group is committed.
    let grouped = !report.atomic && parallel == 1;
    let mut group: Option<(Box<dyn BulkWrite>, std::time::Instant)> = None;
    let mut uncommitted: Vec<(Vec<Position>, BatchOutcome)> = Vec::new();
    loop {
        // While a group is open it holds the write lock: a sender slower than GROUP_FOR (an
        // upload trickling in) gets its group committed instead of holding everyone up.
        let message = match &group {
            Some((_, started)) => {
                let deadline = tokio::time::Instant::from_std(*started + GROUP_FOR);
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(message) => message,
                    Err(_) => {
                        commit_group(group.take(), &mut uncommitted, report, progress).await?;
                        continue;
                    }
                }
            }
            None => rx.recv().await,
        };
        let Some(message) = message else {
            break;
        };
        let batch = match message {
            Message::Opened {
                format,
                ignored_columns,
            } => {
                report.format = Some(format_name(format).to_owned());
                report.ignored_columns = ignored_columns;
                continue;
            }
            Message::Failed(e) => return Err(ImportError::File(e)),
            Message::Batch(batch) => batch,
        };
        let mut positions = Vec::with_capacity(batch.len());
        let mut submissions = Vec::with_capacity(batch.len());
        for parsed in batch {
            report.rows += 1;
            match parsed {
                Ok((at, s)) => {
                    positions.push(at);
                    submissions.push(s);
                }
                Err(r) => reject(report, r),
            }
        }
        if submissions.is_empty() {
            continue;
        }
        if report.atomic {
            if report.rejected_count > 0 {
                report.checked_only += submissions.len() as u64;
                continue;
            }
            if bulk.is_none() {
                *bulk = Some(
                    store
                        .begin_bulk()
                        .await
                        .map_err(|source| ImportError::Store { stored: 0, source })?,
                );
            }
            if let Some(bulk) = bulk {
                let outcome = bulk
                    .write(&submissions, now)
                    .await
                    .map_err(|source| ImportError::Store { stored: 0, source })?;
                count(report, positions, outcome, progress)?;
            }
            continue;
        }
        if grouped {
            // Slice by slice, so that the group's time is checked every GROUP_SLICE rows: a
            // batch that is slow to write (a slow machine, every row logged) does not hold
            // the write lock for the whole batch past GROUP_FOR.
            let mut written = 0;
            while written < submissions.len() {
                let end = (written + GROUP_SLICE).min(submissions.len());
                let stored = report.accepted;
                let failed = |source| ImportError::Store { stored, source };
                let (tx, started) = match group.as_mut() {
                    Some(open) => open,
                    None => group.insert((
                        store.begin_bulk().await.map_err(failed)?,
                        std::time::Instant::now(),
                    )),
                };
                let outcome = tx
                    .write(&submissions[written..end], now)
                    .await
                    .map_err(failed)?;
                uncommitted.push((positions[written..end].to_vec(), outcome));
                if started.elapsed() >= GROUP_FOR {
                    commit_group(group.take(), &mut uncommitted, report, progress).await?;
                }
                written = end;
            }
            continue;
        }
        let records: HashSet<(i64, String)> = submissions
            .iter()
            .map(|s| (s.provider_id, s.record_id.clone()))
            .collect();
        while in_flight.len() >= parallel
            || in_flight.iter().any(|f| !f.records.is_disjoint(&records))
        {
            let Some(oldest) = in_flight.pop_front() else {
                break;
            };
            finish(oldest, report, progress).await?;
        }
        let writer = store.clone();
        in_flight.push_back(InFlight {
            positions,
            records,
            written: tokio::spawn(async move { writer.submit_batch(&submissions, now).await }),
        });
    }
    while let Some(oldest) = in_flight.pop_front() {
        finish(oldest, report, progress).await?;
    }
    commit_group(group.take(), &mut uncommitted, report, progress).await
}

/// How long batches of a non-atomic import share a transaction on a database that writes one
/// transaction at a time. Other writers wait for the group's commit, so this, plus the time
/// to write one [`GROUP_SLICE`], is the longest a single submission waits behind an import.
const GROUP_FOR: std::time::Duration = std::time::Duration::from_millis(1000);

/// Rows written into a group between two looks at its age: two full statements of the bulk
/// path.
const GROUP_SLICE: usize = 3_000;

/// Commits a group of batches and counts them, in file order.
async fn commit_group(
    group: Option<(Box<dyn BulkWrite>, std::time::Instant)>,
    uncommitted: &mut Vec<(Vec<Position>, BatchOutcome)>,
    report: &mut Report,
    progress: &mut (impl FnMut(Progress<'_>) + Send),
) -> Result<(), ImportError> {
    let Some((tx, _)) = group else {
        return Ok(());
    };
    let stored = report.accepted;
    tx.commit()
        .await
        .map_err(|source| ImportError::Store { stored, source })?;
    for (positions, outcome) in uncommitted.drain(..) {
        count(report, positions, outcome, progress)?;
    }
    Ok(())
}

/// A batch being written in a task of its own.
struct InFlight {
    positions: Vec<Position>,
    records: HashSet<(i64, String)>,
    written: tokio::task::JoinHandle<Result<BatchOutcome, StoreError>>,
}

/// Waits for a batch and counts it. A batch that fails stops the import; batches after it
/// that were already being written may have been stored too (a rerun finds them unchanged).
async fn finish(
    batch: InFlight,
    report: &mut Report,
    progress: &mut (impl FnMut(Progress<'_>) + Send),
) -> Result<(), ImportError> {
    let stored = report.accepted;
    let outcome = match batch.written.await {
        Ok(written) => written.map_err(|source| ImportError::Store { stored, source })?,
        Err(_) => {
            return Err(ImportError::Store {
                stored,
                source: StoreError::Database("a batch writer stopped".into()),
            });
        }
    };
    count(report, batch.positions, outcome, progress)
}

/// Counts a written batch into the report and tells `progress` whom it touched.
fn count(
    report: &mut Report,
    positions: Vec<Position>,
    outcome: BatchOutcome,
    progress: &mut (impl FnMut(Progress<'_>) + Send),
) -> Result<(), ImportError> {
    let touched = tally(report, positions, outcome)?;
    progress(Progress {
        report,
        touched: &touched,
    });
    Ok(())
}

/// Counts a batch's outcome into the report; returns the people whose evidence changed.
fn tally(
    report: &mut Report,
    positions: Vec<Position>,
    outcome: BatchOutcome,
) -> Result<Vec<DocIndex>, ImportError> {
    let mut touched = Vec::new();
    for (at, result) in positions.into_iter().zip(outcome) {
        match result {
            Ok(stored) => {
                report.accepted += 1;
                match stored.outcome {
                    Outcome::Created => report.created += 1,
                    Outcome::Corrected => report.corrected += 1,
                    Outcome::Unchanged => {
                        report.unchanged += 1;
                        continue;
                    }
                }
                touched.push(stored.subject);
                touched.extend(stored.previous_subject);
            }
            Err(e) => match e.row_code() {
                Some(code) => reject(report, Rejected::new(at, code, e.to_string())),
                None => {
                    return Err(ImportError::Store {
                        stored: report.accepted,
                        source: e,
                    });
                }
            },
        }
    }
    Ok(touched)
}

fn reject(report: &mut Report, r: Rejected) {
    report.rejected_count += 1;
    if report.rejected.len() < MAX_LISTED_REJECTIONS {
        report.rejected.push(r);
    }
}

/// The parsing side, on a blocking thread: opens the file, then sends batches until the end
/// or until the receiver is gone.
#[allow(clippy::too_many_arguments)]
fn parse<R: Read + Send + 'static>(
    store: &dyn Store,
    policy: &Policy,
    provider_id: i64,
    category: Category,
    input: R,
    tz: Tz,
    now: DateTime<Utc>,
    tx: &mpsc::Sender<Message>,
) {
    let records = match healthcode_ingest::open(category, input, tz, now) {
        Ok(records) => records,
        Err(e) => {
            let _ = tx.blocking_send(Message::Failed(e));
            return;
        }
    };
    let opened = Message::Opened {
        format: records.format,
        ignored_columns: records.ignored_columns.clone(),
    };
    if tx.blocking_send(opened).is_err() {
        return;
    }
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    for item in records {
        batch.push(prepare(store, policy, provider_id, item));
        if batch.len() == BATCH_ROWS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            if tx.blocking_send(Message::Batch(full)).is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Message::Batch(batch));
    }
}

/// A row as the store's submission, or its rejection.
fn prepare(
    store: &dyn Store,
    policy: &Policy,
    provider_id: i64,
    item: Result<Record, RowError>,
) -> Parsed {
    let (at, record_id, document, body) = checked(policy, item)?;
    Ok((
        at,
        Submission {
            provider_id,
            record_id,
            subject: store.blind_index(&document),
            body,
        },
    ))
}

/// A row's evidence, or its rejection: the reader's, or a vaccine the policy does not know.
fn checked(
    policy: &Policy,
    item: Result<Record, RowError>,
) -> Result<(Position, String, DocumentNumber, EvidenceBody), Rejected> {
    let record = item.map_err(|e| Rejected::new(e.at, e.code, e.message))?;
    let body = match record.body {
        RecordBody::Test {
            kind,
            outcome,
            sampled_at,
            resulted_at,
        } => EvidenceBody::Test {
            kind,
            outcome,
            sampled_at,
            resulted_at,
        },
        RecordBody::Vaccination { kind, at } => {
            if let VaccinationKind::Dose { product, .. } = &kind
                && !policy.knows_product(product)
            {
                return Err(Rejected::new(
                    record.at,
                    "vaccine_product_unknown",
                    format!("vaccine product {product:?} is not in the policy's vaccine table"),
                ));
            }
            EvidenceBody::Vaccination { kind, at }
        }
    };
    Ok((record.at, record.record_id, record.document, body))
}

/// Reads and checks `input` as an import would, and stores nothing: how a provider checks a
/// file before sending it. The report has every verdict but those only the store can give (a
/// record id reused for another kind of record, a late retry of a corrected record).
pub fn check<R: Read + Send + 'static>(
    policy: &Policy,
    category: Category,
    input: R,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Report, ImportError> {
    let records = healthcode_ingest::open(category, input, tz, now).map_err(ImportError::File)?;
    let mut report = Report {
        format: Some(format_name(records.format).to_owned()),
        ignored_columns: records.ignored_columns.clone(),
        ..Report::default()
    };
    for item in records {
        report.rows += 1;
        match checked(policy, item) {
            Ok(_) => report.accepted += 1,
            Err(r) => reject(&mut report, r),
        }
    }
    Ok(report)
}
