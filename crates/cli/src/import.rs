//! `healthcode import tests FILE`: reads a lab's CSV file (docs/IMPORT.md) and stores every
//! valid row as that lab's submission, directly in the database, then reports: how many rows
//! were accepted (created, corrected, unchanged) and every rejected row with its line and
//! reason. Running it again on the same file changes nothing.
//!
//! Rows are stored one at a time through `Store::submit`, the path the API uses; the batched
//! path that bulk ingestion needs at scale is not built yet.

use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use healthcode_ingest::{RowError, read_test_results};
use healthcode_server::extract::secret_hash;
use healthcode_store::{EvidenceBody, Outcome, ProviderKind, Store, StoreError, Submission};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub rows: u64,
    pub accepted: u64,
    pub created: u64,
    pub corrected: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejected>,
    pub ignored_columns: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub code: &'static str,
    pub reason: String,
}

impl From<RowError> for Rejected {
    fn from(e: RowError) -> Self {
        Rejected {
            line: e.line,
            code: e.code,
            reason: e.message,
        }
    }
}

/// Imports `file` as the lab whose API key is `api_key`. A file that cannot be read at all is
/// an error; rejected rows are in the report.
pub async fn tests(
    store: &dyn Store,
    api_key: &str,
    file: &Path,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Report> {
    let provider = store
        .provider_by_key(&secret_hash(api_key))
        .await?
        .context("unknown API key")?;
    if provider.kind != ProviderKind::Lab {
        bail!(
            "a {} key cannot import test results; it needs a lab key",
            provider.kind.as_str()
        );
    }
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let rows = read_test_results(BufReader::new(input), tz, now)
        .map_err(|e| anyhow::anyhow!("{} is refused: {e} ({})", file.display(), e.code()))?;
    let mut report = Report {
        ignored_columns: rows.ignored_columns.clone(),
        ..Report::default()
    };
    for row in rows {
        report.rows += 1;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                report.rejected.push(e.into());
                continue;
            }
        };
        let submission = Submission {
            provider_id: provider.id,
            record_id: row.record_id,
            subject: store.blind_index(&row.document),
            body: EvidenceBody::Test {
                kind: row.kind,
                outcome: row.outcome,
                sampled_at: row.sampled_at,
                resulted_at: row.resulted_at,
            },
        };
        match store.submit(&submission, now).await {
            Ok(stored) => {
                report.accepted += 1;
                match stored.outcome {
                    Outcome::Created => report.created += 1,
                    Outcome::Corrected => report.corrected += 1,
                    Outcome::Unchanged => report.unchanged += 1,
                }
            }
            Err(e @ (StoreError::Superseded { .. } | StoreError::WrongCategory(_))) => {
                report.rejected.push(Rejected {
                    line: row.line,
                    code: match e {
                        StoreError::Superseded { .. } => "superseded_revision",
                        _ => "record_kind_mismatch",
                    },
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "stopped at line {}: rows before it are stored; running the import again is safe",
                        row.line
                    )
                });
            }
        }
    }
    Ok(report)
}

pub fn print(report: &Report) {
    println!(
        "{} rows: {} accepted ({} new, {} corrected, {} unchanged), {} rejected",
        report.rows,
        report.accepted,
        report.created,
        report.corrected,
        report.unchanged,
        report.rejected.len()
    );
    if !report.ignored_columns.is_empty() {
        println!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    for r in &report.rejected {
        println!("  line {}: {} ({})", r.line, r.reason, r.code);
    }
}
