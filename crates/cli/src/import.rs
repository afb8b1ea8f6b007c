//! `healthcode import tests|vaccinations FILE`: a provider's file (CSV or FHIR R4, see
//! docs/IMPORT.md) stored directly in the database (`--data-dir` / `--database-url`) or sent
//! to a running server (`--server URL`), which streams it through the same import as here.
//! Either way the answer is a report that names every rejected row; `--atomic` stores all
//! rows or none. A long import shows a progress bar on a terminal.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use healthcode_domain::Policy;
use healthcode_ingest::Category;
use healthcode_server::extract::secret_hash;
use healthcode_server::import::{self, ImportError, ImportOptions, Report};
use healthcode_store::Store;

/// How an import ended, for the exit status.
pub enum Ended {
    /// The report: exit 0 if every row was accepted and stored, 1 otherwise.
    Report(Report),
    /// The file or the key was refused; nothing stored (exit 2).
    Refused(String),
    /// The database or the connection failed midway (exit 3); stored batches stay stored.
    Interrupted(String),
}

/// Imports `file` into `store` as the provider whose key is `api_key`.
#[allow(clippy::too_many_arguments)]
pub async fn direct(
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    api_key: &str,
    file: &Path,
    category: Category,
    atomic: bool,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Ended> {
    let Some(provider) = store.provider_by_key(&secret_hash(api_key)).await? else {
        return Ok(Ended::Refused("unknown API key".into()));
    };
    let (input, bar) = open_counted(file)?;
    let options = ImportOptions { category, atomic };
    let shown = bar.clone();
    let result = import::run(
        store,
        policy,
        &provider,
        input,
        tz,
        now,
        options,
        move |p| {
            shown.set_message(format!("{} rows", p.report.rows));
        },
    )
    .await;
    bar.finish_and_clear();
    Ok(match result {
        Ok(report) => Ended::Report(report),
        Err(e @ (ImportError::WrongKey { .. } | ImportError::File(_))) => {
            Ended::Refused(refusal(&e, file))
        }
        Err(ImportError::Store { stored, source }) => Ended::Interrupted(format!(
            "the database failed after {stored} rows were stored ({source}); running the \
             import again is safe"
        )),
        Err(e @ ImportError::Reader { .. }) => {
            Ended::Interrupted(format!("{e}; running the import again is safe"))
        }
    })
}

fn refusal(e: &ImportError, file: &Path) -> String {
    match e {
        ImportError::File(f) => format!("{} is refused: {f} ({})", file.display(), f.code()),
        other => other.to_string(),
    }
}

/// Reads and checks `file`, storing nothing.
pub fn check(
    policy: &Policy,
    file: &Path,
    category: Category,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Ended> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    Ok(
        match import::check(policy, category, io::BufReader::new(input), tz, now) {
            Ok(report) => Ended::Report(report),
            Err(e) => Ended::Refused(refusal(&e, file)),
        },
    )
}

/// Sends `file` to the server at `server` and returns its report.
pub async fn remote(
    server: &str,
    api_key: &str,
    file: &Path,
    category: Category,
    atomic: bool,
) -> Result<Ended> {
    let path = match category {
        Category::Tests => "test-results",
        Category::Vaccinations => "vaccinations",
    };
    let url = format!(
        "{}/api/v1/imports/{path}?atomic={atomic}",
        server.trim_end_matches('/')
    );
    let client = reqwest::Client::new();
    // The key is checked before the body is read, and a server that refuses it answers at
    // once and closes the connection: mid-upload, the client would only see the connection
    // drop. So ask first with an empty file, which stores nothing (and is refused as
    // `file_empty` when the key is good).
    match client.post(&url).bearer_auth(api_key).send().await {
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
            let (status, text) = (r.status(), r.text().await.unwrap_or_default());
            return Ok(Ended::Refused(format!(
                "the server refused the import ({status}): {}",
                error_message(text)
            )));
        }
        Ok(_) => {}
        Err(e) => {
            return Ok(Ended::Interrupted(format!(
                "cannot reach {url}: {e}; nothing was sent; sending the file again is safe"
            )));
        }
    }
    let (input, bar) = open_counted(file)?;
    let body = reqwest::Body::wrap_stream(chunks(input));
    let response = client
        .post(&url)
        .bearer_auth(api_key)
        .body(body)
        .send()
        .await;
    bar.finish_and_clear();
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return Ok(Ended::Interrupted(format!(
                "the upload to {url} failed: {e}; sending the file again is safe"
            )));
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    // A report comes with 200, or 422 for an atomic import that stored nothing; a file
    // refused whole is 422 with an error body.
    if let Ok(report) = serde_json::from_str::<Report>(&text)
        && (status.is_success() || status.as_u16() == 422)
    {
        return Ok(Ended::Report(report));
    }
    let message = error_message(text);
    Ok(if status.is_server_error() {
        Ended::Interrupted(format!("the server answered {status}: {message}"))
    } else {
        Ended::Refused(format!(
            "the server refused the import ({status}): {message}"
        ))
    })
}

/// The message and code of an API error body, or the body as it is.
fn error_message(text: String) -> String {
    serde_json::from_str::<ErrorBody>(&text)
        .map(|b| format!("{} ({})", b.error.message, b.error.code))
        .unwrap_or(text)
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// The file as a reader that advances a progress bar by the bytes read.
fn open_counted(file: &Path) -> Result<(Counted<std::fs::File>, ProgressBar)> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    // Drawn on standard error, and only when it is a terminal.
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}, {eta} left",
        )
        .map_err(|e| anyhow!("progress bar template: {e}"))?,
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let read = Arc::new(AtomicU64::new(0));
    let ticker = bar.clone();
    let counter = read.clone();
    // The reader runs on a blocking thread; the bar is updated from its count.
    tokio::spawn(async move {
        while !ticker.is_finished() {
            ticker.set_position(counter.load(Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Ok((Counted { inner: f, read }, bar))
}

/// A reader that counts the bytes it hands out.
pub struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The reader as a stream of 64 KiB chunks, read on a blocking thread.
fn chunks<R: Read + Send + 'static>(
    input: R,
) -> impl futures_util::Stream<Item = io::Result<Vec<u8>>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut input = input;
        loop {
            let mut buf = vec![0u8; 64 * 1024];
            match input.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

pub fn print(report: &Report) {
    println!(
        "{} rows ({}): {} accepted ({} new, {} corrected, {} unchanged), {} rejected",
        report.rows,
        report.format.as_deref().unwrap_or("empty"),
        report.accepted,
        report.created,
        report.corrected,
        report.unchanged,
        report.rejected_count
    );
    if !report.committed && !report.atomic {
        println!("checked only: nothing was stored");
    }
    if report.atomic && !report.committed {
        println!("atomic import: rows were rejected, so nothing was stored");
    }
    if report.checked_only > 0 {
        println!(
            "{} valid rows were checked but not written (an atomic import stops writing at a rejected row)",
            report.checked_only
        );
    }
    if !report.ignored_columns.is_empty() {
        println!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    for r in &report.rejected {
        let at = match (r.line, r.entry) {
            (Some(line), _) => format!("line {line}"),
            (None, Some(entry)) => format!("entry {entry}"),
            (None, None) => "?".into(),
        };
        println!("  {at}: {} ({})", r.reason, r.code);
    }
    if (report.rejected.len() as u64) < report.rejected_count {
        println!(
            "  … and {} more rejected rows not listed",
            report.rejected_count - report.rejected.len() as u64
        );
    }
}
