//! `healthcode bench …`: the figures of docs/BENCHMARKS.md that need a whole server or a
//! large database, each measured against a baseline in the same run.
//!
//! - `bench checkins`: check-ins per second through the gate upload API on the embedded
//!   database, against the same requests to an endpoint that only parses them.
//! - `bench live`: open code pages' event streams on a running demo and time a status change
//!   reaching them (`bench/live.rs`).
//! - `bench copresence`: the co-presence contacts of N confirmed cases over a file of
//!   check-ins (`healthcode demo generate checkins`) loaded into the embedded database; the
//!   cases are written beside the file so that `scripts/bench-copresence.sh` can ask DuckDB
//!   the same question.
//! - `bench log`: the transparency log's import, sequencing, proof and submit figures
//!   (`bench/log.rs`).
//! - `bench slow`: a slowloris attack on a running demo, and a normal client's latency before
//!   and during it (`bench/slow.rs`).

mod live;
mod log;
mod slow;

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use healthcode_domain::{Policy, Region};
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::limits::RateLimit;
use healthcode_server::{AppState, ServerConfig};
use healthcode_store::{CheckinMethod, NewCheckin, Store, Venues};

use crate::generate::subject_of;
use crate::setup::DataDir;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Check-ins per second through `POST /api/v1/gate/checkins` on the embedded database.
    Checkins(CheckinsBench),
    /// Co-presence contacts of confirmed cases over a file of check-ins.
    Copresence(CopresenceBench),
    /// Open code pages (live event streams) on a running demo; how fast a status change
    /// reaches them, and their memory.
    Live(live::LiveBench),
    /// The transparency log: importing with leaves, sequencing, inclusion proofs, and what
    /// logging costs a single submit.
    Log(log::LogBench),
    /// Half-sent connections held open against a running demo, and what a normal client sees
    /// before and during the attack.
    Slow(slow::SlowBench),
}

#[derive(Args)]
pub struct CheckinsBench {
    /// Check-ins to upload in all.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Check-ins per upload (the API takes at most 10,000).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Gate devices uploading (each of its own venue).
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Where the database goes (default: a temporary directory, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct CopresenceBench {
    /// A check-in file from `healthcode demo generate checkins`.
    #[arg(long)]
    checkins: PathBuf,
    /// How many confirmed cases to trace (chosen at random among people with check-ins).
    #[arg(long, default_value_t = 1_000)]
    cases: usize,
    /// How many times to run the query (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Where the database goes (default: a temporary directory, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub async fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Checkins(a) => checkins(a).await,
        BenchCommand::Copresence(a) => copresence(a).await,
        BenchCommand::Live(a) => live::live(a).await,
        BenchCommand::Log(a) => log::log(a).await,
        BenchCommand::Slow(a) => slow::slow(a).await,
    }
}

/// A fresh data directory: the one asked for, or a temporary one kept alive by the guard.
fn data_dir(asked: Option<PathBuf>) -> Result<(DataDir, Option<tempfile::TempDir>)> {
    match asked {
        Some(p) => Ok((DataDir::new(&p)?, None)),
        None => {
            let t = tempfile::tempdir_in(std::env::temp_dir())?;
            Ok((DataDir::new(t.path())?, Some(t)))
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Row {
    seq: i64,
    subject: String,
    at: chrono::DateTime<chrono::Utc>,
    passed: bool,
}

#[derive(Serialize, Deserialize)]
struct Upload {
    checkins: Vec<Row>,
}

/// Sends every body to `url` with `in_flight` at once; returns the seconds it took and the
/// sum of the answers' `stored` (0 where there is none).
async fn send_all(
    client: &reqwest::Client,
    url: &str,
    bodies: &[(String, Vec<u8>)],
    in_flight: usize,
) -> Result<(f64, u64)> {
    let started = Instant::now();
    let mut results = futures_util::stream::iter(bodies.iter().map(|(key, body)| {
        let req = client
            .post(url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.clone());
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let text = resp.text().await?;
            anyhow::Ok((status, text))
        }
    }))
    .buffer_unordered(in_flight.max(1));
    let mut stored = 0;
    while let Some(r) = results.next().await {
        let (status, text) = r?;
        if !status.is_success() {
            bail!("upload refused: {status} {text}");
        }
        stored += serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["stored"].as_u64())
            .unwrap_or(0);
    }
    Ok((started.elapsed().as_secs_f64(), stored))
}

/// The baseline: an endpoint that reads and parses the same upload, and stores nothing.
async fn parse_only(axum::Json(u): axum::Json<Upload>) -> String {
    u.checkins.len().to_string()
}

async fn checkins(a: CheckinsBench) -> Result<()> {
    if a.batch == 0 || a.batch > healthcode_server::MAX_CHECKIN_UPLOAD || a.devices == 0 {
        bail!(
            "--batch must be 1 to {} and --devices at least 1",
            healthcode_server::MAX_CHECKIN_UPLOAD
        );
    }
    let now = SystemClock.now();
    let (dir, _guard) = data_dir(a.data_dir)?;
    let store = dir.store(None).await?;
    let keys = dir.keys(now)?;
    let region = Region::new("CN-BJ", "Asia/Shanghai")?;
    let trust_list = keys.trust_list(region.id(), now)?;
    let mut device_keys = Vec::with_capacity(a.devices);
    for d in 0..a.devices {
        let v = store
            .add_venue(&format!("venue {d}"), "subway", "bench", "", now)
            .await?;
        let key = healthcode_server::auth::new_device_key();
        store
            .add_device(
                v.id,
                "gate",
                &healthcode_server::extract::secret_hash(&key),
                now,
            )
            .await?;
        device_keys.push(key);
    }
    let config = ServerConfig {
        rate_limit: RateLimit {
            per_second: 1e9,
            burst: 1e9,
        },
        ..ServerConfig::default()
    };
    let state = AppState::new(
        store.clone() as Arc<dyn Store>,
        Policy::default_policy()?,
        region,
        keys.code.clone(),
        trust_list,
        None,
        Arc::new(SystemClock),
        config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(healthcode_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let baseline_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let baseline_addr = baseline_listener.local_addr()?;
    let baseline_app = axum::Router::new()
        .route("/parse", axum::routing::post(parse_only))
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024));
    let baseline = tokio::spawn(async move {
        axum::serve(baseline_listener, baseline_app.into_make_service()).await
    });

    // The uploads, built before the clock starts: device b % devices sends batch b, the
    // check-ins of the last 12 hours in time order (as gates record them), each of one of a
    // million people.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let batches = a.rows.div_ceil(a.batch);
    let mut bodies = Vec::with_capacity(batches);
    let span_ms = 12 * 3600 * 1000;
    for b in 0..batches {
        let n = a.batch.min(a.rows - b * a.batch);
        let rows = (0..n)
            .map(|i| {
                let k = (b * a.batch + i) as i64;
                Row {
                    seq: k,
                    subject: hex::encode(subject_of(1, rng.gen_range(0..1_000_000))),
                    at: now - chrono::Duration::milliseconds(span_ms - span_ms * k / a.rows as i64),
                    passed: rng.gen_bool(0.97),
                }
            })
            .collect();
        bodies.push((
            device_keys[b % a.devices].clone(),
            serde_json::to_vec(&Upload { checkins: rows })?,
        ));
    }
    let client = reqwest::Client::new();
    let (base_secs, _) = send_all(
        &client,
        &format!("http://{baseline_addr}/parse"),
        &bodies,
        a.in_flight,
    )
    .await?;
    let (secs, stored) = send_all(
        &client,
        &format!("http://{addr}/api/v1/gate/checkins"),
        &bodies,
        a.in_flight,
    )
    .await?;
    if stored != a.rows as u64 {
        bail!("{stored} of {} check-ins were stored", a.rows);
    }
    // Everything sent again: every row a duplicate, nothing new stored.
    let (again, stored_again) = send_all(
        &client,
        &format!("http://{addr}/api/v1/gate/checkins"),
        &bodies[..bodies.len().min(10)],
        a.in_flight,
    )
    .await?;
    if stored_again != 0 {
        bail!("uploading batches again stored {stored_again} new check-ins");
    }
    let _ = stop.send(());
    let _ = server.await;
    baseline.abort();
    let rate = a.rows as f64 / secs;
    let base_rate = a.rows as f64 / base_secs;
    let report = serde_json::json!({
        "rows": a.rows,
        "stored": stored,
        "batch": a.batch,
        "devices": a.devices,
        "in_flight": a.in_flight,
        "seconds": secs,
        "checkins_per_second": rate.round(),
        "baseline_parse_only_per_second": base_rate.round(),
        "ratio_to_baseline": (rate / base_rate * 1000.0).round() / 1000.0,
        "resend_10_batches_seconds": again,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn copresence(a: CopresenceBench) -> Result<()> {
    if a.cases == 0 || a.runs == 0 {
        bail!("--cases and --runs must be at least 1");
    }
    let now = SystemClock.now();
    let policy = Policy::default_policy()?;
    let (dir, _guard) = data_dir(a.data_dir)?;
    let store = dir.store(None).await?;
    let file = std::fs::File::open(&a.checkins)
        .with_context(|| format!("cannot open {}", a.checkins.display()))?;
    let mut lines = std::io::BufReader::with_capacity(1 << 20, file).lines();
    let header = lines.next().transpose()?.unwrap_or_default();
    if header.trim() != "venue_id,subject,at,method,passed" {
        bail!(
            "{} is not a check-in file (header {header:?})",
            a.checkins.display()
        );
    }
    // Reservoir of subjects with a presence check-in, to draw the cases from.
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    let reservoir_size = a.cases * 4;
    let mut reservoir: Vec<[u8; 16]> = Vec::with_capacity(reservoir_size);
    let mut seen = 0u64;
    let mut chunk = Vec::with_capacity(50_000);
    let mut total = 0u64;
    let load_started = Instant::now();
    for (n, line) in lines.enumerate() {
        let line = line?;
        let row = parse_line(&line).with_context(|| format!("line {}", n + 2))?;
        if row.passed || row.method == CheckinMethod::SelfScan {
            seen += 1;
            if reservoir.len() < reservoir_size {
                reservoir.push(row.subject);
            } else {
                let j = rng.gen_range(0..seen);
                if (j as usize) < reservoir_size {
                    reservoir[j as usize] = row.subject;
                }
            }
        }
        chunk.push(row);
        if chunk.len() == chunk.capacity() {
            total += store.add_checkins(&chunk, now).await?.stored;
            chunk.clear();
        }
    }
    total += store.add_checkins(&chunk, now).await?.stored;
    let load_secs = load_started.elapsed().as_secs_f64();
    let mut cases: Vec<[u8; 16]> = Vec::with_capacity(a.cases);
    let mut taken = std::collections::HashSet::new();
    for s in reservoir {
        if cases.len() == a.cases {
            break;
        }
        if taken.insert(s) {
            cases.push(s);
        }
    }
    let cases_path = a.checkins.with_extension("cases.csv");
    let mut text = String::from("subject\n");
    for c in &cases {
        text.push_str(&hex::encode(c));
        text.push('\n');
    }
    std::fs::write(&cases_path, text)
        .with_context(|| format!("cannot write {}", cases_path.display()))?;

    let rules = policy.checkins;
    let since = now - rules.lookback;
    let window = rules.default_stay + rules.margin;
    let mut times = Vec::with_capacity(a.runs);
    let mut found = Vec::new();
    for _ in 0..a.runs {
        let started = Instant::now();
        found = store.co_present(&cases, since, window).await?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let distinct: std::collections::HashSet<[u8; 16]> = found.iter().map(|c| c.subject).collect();
    let report = serde_json::json!({
        "checkins": total,
        "load_seconds": load_secs,
        "load_per_second": (total as f64 / load_secs).round(),
        "cases": cases.len(),
        "cases_file": cases_path,
        "since": since.timestamp(),
        "window_seconds": window.num_seconds(),
        "contact_rows": found.len(),
        "distinct_contacts": distinct.len(),
        "seconds": times,
        "median_seconds": median,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn parse_line(line: &str) -> Result<NewCheckin> {
    let mut f = line.split(',');
    let (Some(venue), Some(subject), Some(at), Some(method), Some(passed), None) =
        (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        bail!("expected 5 fields");
    };
    let venue_id: i64 = venue.parse().context("venue_id")?;
    let mut s = [0u8; 16];
    hex::decode_to_slice(subject, &mut s).context("subject must be 32 hex digits")?;
    let at = chrono::DateTime::from_timestamp(at.parse().context("at")?, 0)
        .context("at out of range")?;
    let method = CheckinMethod::parse(method).context("method")?;
    Ok(NewCheckin {
        venue_id,
        subject: s,
        at,
        method,
        passed: passed == "1",
        device: None,
        flagged: false,
    })
}
