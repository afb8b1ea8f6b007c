//! The `healthcode gate` command line and what each command does, with the queue
//! (`queue`), the server (`client`) and the printing (`output`) in their own files.

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use healthcode_credential::Verifier;
use healthcode_server::api::gate::{Decision, UploadRow};
use healthcode_server::api::venues::CheckinMethodView;
use healthcode_server::clock::{Clock, SystemClock};

use super::client::Client;
use super::config::{Config, check_refresh};
use super::output::{self, Scanned, Totals, span};
use super::queue::{
    lock, read_queue, read_seq, record, reject, rejected_count, rejected_line, rewrite_queue,
    start_numbering,
};

/// The most check-ins the server takes in one upload.
const MAX_BATCH: i64 = healthcode_server::MAX_CHECKIN_UPLOAD as i64;
/// Longest line read from a scanner on standard input.
const MAX_CODE_BYTES: u64 = 64 * 1024;
/// A clock further than this from the server's makes check-ins refused or codes misjudged.
const CLOCK_TOLERANCE: TimeDelta = TimeDelta::minutes(2);

#[derive(Subcommand)]
pub enum GateCommand {
    /// Fetch this device's venue, entry policy and trust list from the server. Run it again
    /// to refresh them; queued check-ins and sequence numbers are kept.
    Setup {
        /// The server, for example http://10.0.0.5:8080.
        #[arg(long, env = "HEALTHCODE_SERVER")]
        server: String,
        /// The device key (hcd_…) an operator created for this gate.
        #[arg(long, env = "HEALTHCODE_DEVICE_KEY")]
        key: String,
        #[command(flatten)]
        dir: GateDir,
    },
    /// Check a code offline: PASS (exit 0) or STOP (exit 1); the check-in is queued.
    Scan {
        /// The code, or - to read one line from standard input (a scanner that types).
        code: String,
        #[command(flatten)]
        dir: GateDir,
        /// Check as at this instant (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send the queued check-ins (exit 0 all taken, 1 some rejected, 2 error: the rest stays
    /// queued and a later upload sends it again).
    Upload {
        #[command(flatten)]
        dir: GateDir,
        /// Check-ins per request.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u16).range(1..=MAX_BATCH))]
        batch: u16,
        /// Print the totals as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the venue, the policy, the trust list's age and the queue.
    Status {
        #[command(flatten)]
        dir: GateDir,
    },
}

#[derive(Args)]
pub struct GateDir {
    /// The gate's directory: configuration, queue and sequence numbers.
    #[arg(long = "dir", env = "HEALTHCODE_GATE_DIR")]
    path: PathBuf,
}

/// Runs a gate command; every error is a usage or setup error (exit 2).
pub async fn run(command: GateCommand) -> Result<ExitCode> {
    let now = SystemClock.now();
    let result = match command {
        GateCommand::Setup { server, key, dir } => setup(&server, &key, &dir.path, now).await,
        GateCommand::Scan {
            code,
            dir,
            at,
            json,
        } => scan(&code, &dir.path, at.unwrap_or(now), json),
        GateCommand::Upload { dir, batch, json } => {
            upload(&dir.path, usize::from(batch), json, now).await
        }
        GateCommand::Status { dir } => status(&dir.path, now),
    };
    result.or_else(|e| {
        eprintln!("healthcode gate: {e:#}");
        Ok(ExitCode::from(2))
    })
}

async fn setup(server: &str, key: &str, dir: &Path, now: DateTime<Utc>) -> Result<ExitCode> {
    let server = server.trim().trim_end_matches('/');
    let key = key.trim();
    if !key.starts_with(healthcode_server::auth::DEVICE_KEY_PREFIX) {
        bail!(
            "a device key starts with {}: an operator creates one with POST /api/v1/venues/ID/devices",
            healthcode_server::auth::DEVICE_KEY_PREFIX
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = Config {
        server: server.to_owned(),
        key: key.to_owned(),
        fetched_at: now,
        config: Client::new(server, key)?.config().await?,
    };
    let list = config.trust_list()?;
    let _lock = lock(dir)?;
    let previous = Config::path(dir).exists().then(|| Config::read(dir));
    match &previous {
        Some(Ok(old)) => {
            if let Ok(old_list) = old.trust_list() {
                check_refresh(&old_list, &list)?;
            }
            if old.config.venue.id != config.config.venue.id {
                let queued = read_queue(dir)?.len();
                if queued > 0 {
                    eprintln!(
                        "warning: {queued} check-ins recorded at venue #{} are queued; the server \
                         refuses them from a device of venue #{} (they go to rejected.jsonl)",
                        old.config.venue.id, config.config.venue.id
                    );
                }
            }
        }
        Some(Err(e)) => eprintln!("warning: replacing an unreadable configuration: {e:#}"),
        None => {}
    }
    start_numbering(dir, previous.is_some())?;
    config.write(dir)?;
    let skew = config.config.server_time - now;
    if skew.abs() > CLOCK_TOLERANCE {
        eprintln!(
            "warning: this device's clock is {} off the server's: codes are judged and \
             check-ins dated by it; set the clock",
            span(skew.abs())
        );
    }
    output::device(dir, &config, true);
    output::describe(&config, &list, now);
    Ok(ExitCode::SUCCESS)
}

fn read_code(arg: &str) -> Result<String> {
    let text = if arg == "-" {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_CODE_BYTES)
            .read_line(&mut line)
            .context("cannot read the code from standard input")?;
        line
    } else {
        arg.to_owned()
    };
    let code = text.trim();
    if code.is_empty() {
        bail!("no code given");
    }
    Ok(code.to_owned())
}

fn scan(arg: &str, dir: &Path, now: DateTime<Utc>, json: bool) -> Result<ExitCode> {
    let config = Config::read(dir)?;
    let list = config.trust_list()?;
    let code = read_code(arg)?;
    let gate = &config.config;
    let mut warnings = Vec::new();
    if now > list.next_update {
        warnings.push(format!(
            "the trust list was due for renewal {} ago: run `healthcode gate setup` while online",
            span(now - list.next_update)
        ));
    }
    let mut failed_to_queue = false;
    let out = match Verifier::new(std::slice::from_ref(&list)).verify(&code, now) {
        Err(e) => Scanned {
            decision: Decision::invalid_code(gate.venue.id, &e),
            seq: None,
            not_queued: Some("the code does not verify".to_owned()),
            warnings,
        },
        Ok(claims) => {
            let decision = Decision::for_code(&gate.entry_policy, &claims, gate.venue.id);
            let (seq, not_queued) = if claims.region != gate.region {
                (
                    None,
                    Some(format!(
                        "a visitor from {}: this region keeps no check-in for them",
                        claims.region
                    )),
                )
            } else {
                let row = UploadRow {
                    seq: 0,
                    subject: hex::encode(claims.subject),
                    at: now.trunc_subsecs(0),
                    passed: decision.pass,
                    method: Some(CheckinMethodView::Gate),
                    venue_id: Some(gate.venue.id),
                };
                match record(dir, row) {
                    Ok(seq) => (Some(seq), None),
                    Err(e) => {
                        failed_to_queue = true;
                        (None, Some(format!("cannot queue the check-in: {e:#}")))
                    }
                }
            };
            Scanned {
                decision,
                seq,
                not_queued,
                warnings,
            }
        }
    };
    output::scanned(&out, json)?;
    Ok(if failed_to_queue {
        ExitCode::from(2)
    } else if out.decision.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn upload(dir: &Path, batch: usize, json: bool, now: DateTime<Utc>) -> Result<ExitCode> {
    let config = Config::read(dir)?;
    let client = Client::new(&config.server, &config.key)?;
    let mut totals = Totals::default();
    // Lines that no longer read go to rejected.jsonl first, with their line numbers.
    let pending: Vec<UploadRow> = {
        let _lock = lock(dir)?;
        let lines = read_queue(dir)?;
        let mut corrupt = Vec::new();
        for line in &lines {
            if let Err(e) = &line.row {
                eprintln!(
                    "queue.jsonl line {}: {e}: moved to rejected.jsonl",
                    line.number
                );
                corrupt.push(rejected_line(
                    Value::String(line.text.clone()),
                    "unreadable",
                    &format!("queue.jsonl line {}: {e}", line.number),
                    now,
                )?);
            }
        }
        if !corrupt.is_empty() {
            reject(dir, &corrupt)?;
            rewrite_queue(dir, lines.iter().filter(|l| l.row.is_ok()))?;
            totals.rejected += corrupt.len();
        }
        lines.into_iter().filter_map(|l| l.row.ok()).collect()
    };
    for chunk in pending.chunks(batch) {
        let answer = match client.upload(chunk).await {
            Ok(a) => a,
            Err(e) => {
                totals.queued = read_queue(dir).map(|q| q.len()).unwrap_or(pending.len());
                if json || totals.sent > 0 || totals.rejected > 0 {
                    output::totals(&totals, dir, json)?;
                }
                eprintln!("healthcode gate upload: {e:#}");
                eprintln!(
                    "{} check-ins stay queued: run upload again (the server stores each once)",
                    totals.queued
                );
                return Ok(ExitCode::from(2));
            }
        };
        let _lock = lock(dir)?;
        let mut rejected = Vec::with_capacity(answer.rejected.len());
        for r in &answer.rejected {
            let row = chunk
                .get(r.index)
                .filter(|row| row.seq == r.seq)
                .or_else(|| chunk.iter().find(|row| row.seq == r.seq))
                .map_or_else(|| json!({ "seq": r.seq }), |row| json!(row));
            rejected.push(rejected_line(row, &r.code, &r.message, now)?);
        }
        reject(dir, &rejected)?;
        // Read again: scans may have queued more while the request was out.
        let sent: HashSet<i64> = chunk.iter().map(|r| r.seq).collect();
        let lines = read_queue(dir)?;
        rewrite_queue(
            dir,
            lines
                .iter()
                .filter(|l| l.row.as_ref().map_or(true, |r| !sent.contains(&r.seq))),
        )?;
        totals.sent += answer.received;
        totals.stored += answer.stored;
        totals.duplicates += answer.duplicates;
        totals.rejected += answer.rejected.len();
        totals.designated += answer.designated;
    }
    totals.queued = read_queue(dir)?.len();
    output::totals(&totals, dir, json)?;
    Ok(if totals.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn status(dir: &Path, now: DateTime<Utc>) -> Result<ExitCode> {
    let config = Config::read(dir)?;
    let list = config.trust_list()?;
    let queue = read_queue(dir)?;
    let next = read_seq(dir)?;
    output::status(dir, &config, &list, &queue, next, rejected_count(dir), now);
    Ok(ExitCode::SUCCESS)
}
