//! `healthcode gate`: a gate device (闸机) that keeps deciding when the network is down.
//! `setup` fetches the device's venue, the venue's entry policy and the region's signed trust
//! list while online; `scan` verifies a code against that cached list and applies the policy
//! with no network, queueing the check-in; `upload` sends the queue to
//! `POST /api/v1/gate/checkins` when the network is back; `status` says how old the cache is
//! and what is waiting.
//!
//! The device keeps one directory:
//! - `config.json`: server URL, device key and the fetched configuration (mode 0600: it holds
//!   the key).
//! - `seq`: the next check-in sequence number. A number is written as taken before its row is
//!   queued and never handed out again, so (device, seq), which the server stores once, names
//!   one scan for good: an upload sent twice counts duplicates, never a second visit.
//! - `queue.jsonl`: check-ins the server has not answered for yet, one JSON object a line.
//! - `rejected.jsonl`: rows the server refused and queue lines that no longer read, each with
//!   the reason, for a person to look at; nothing leaves the queue unaccounted for.
//! - `lock`: held while the files above change, so a scan during an upload loses nothing.
//!
//! Not owned here: the decision ([`EntryPolicy::decide`]), verifying ([`Verifier`]) and what
//! the server does with an upload.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use healthcode_credential::{TrustList, Verifier};
use healthcode_domain::{EntryPolicy, Presented, StopReason, VaccinationRequirement};
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_store::{CheckinMethod, Device, Venue};

use crate::files::{Access, write_atomically};

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

/// What `GET /api/v1/gate/config` answers.
#[derive(Serialize, Deserialize)]
struct Fetched {
    device: Device,
    venue: Venue,
    entry_policy: EntryPolicy,
    policy_version: String,
    region: String,
    trust_list: Value,
    server_time: DateTime<Utc>,
}

/// `config.json`.
#[derive(Serialize, Deserialize)]
struct Config {
    server: String,
    key: String,
    fetched_at: DateTime<Utc>,
    config: Fetched,
}

impl Config {
    fn read(dir: &Path) -> Result<Config> {
        let path = dir.join("config.json");
        let bytes = match std::fs::read(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(
                "{} is not set up: run `healthcode gate setup --server URL --key KEY --dir {}`",
                dir.display(),
                dir.display()
            ),
            other => other.with_context(|| format!("cannot read {}", path.display()))?,
        };
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} does not read: run setup again", path.display()))
    }

    /// The cached trust list, its signature checked again: the file may have been edited.
    fn trust_list(&self) -> Result<TrustList> {
        let list = TrustList::from_json(&self.config.trust_list.to_string(), None)
            .map_err(|e| anyhow!("the trust list does not verify ({e}): run setup again"))?;
        if list.region != self.config.region {
            bail!(
                "the trust list is region {}'s, the gate is in {}: run setup again",
                list.region,
                self.config.region
            );
        }
        Ok(list)
    }
}

/// One queued check-in, exactly as `POST /api/v1/gate/checkins` takes it. `venue_id` lets the
/// server refuse a row a reconfigured gate would otherwise file under its new venue.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checkin {
    seq: i64,
    subject: String,
    at: DateTime<Utc>,
    passed: bool,
    method: CheckinMethod,
    venue_id: i64,
}

/// A line of `queue.jsonl`, kept as written so that a rewrite never alters what it keeps.
struct Line {
    number: usize,
    text: String,
    row: Result<Checkin, String>,
}

fn read_queue(dir: &Path) -> Result<Vec<Line>> {
    let path = dir.join("queue.jsonl");
    let bytes = match std::fs::read(&path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.with_context(|| format!("cannot read {}", path.display()))?,
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, raw)| !raw.iter().all(u8::is_ascii_whitespace))
        .map(|(i, raw)| {
            let text = String::from_utf8_lossy(raw).into_owned();
            let row = std::str::from_utf8(raw)
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|t| serde_json::from_str(t).map_err(|e| e.to_string()));
            Line {
                number: i + 1,
                text,
                row,
            }
        })
        .collect())
}

fn rewrite_queue<'a>(dir: &Path, kept: impl Iterator<Item = &'a Line>) -> Result<()> {
    let text: String = kept.map(|l| format!("{}\n", l.text)).collect();
    write_atomically(&dir.join("queue.jsonl"), text.as_bytes(), Access::Default)
}

/// Appends whole lines and syncs them. A line left without its newline by a crash is ended
/// first, so the next row does not run into it.
fn append_lines(path: &Path, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    if file.metadata()?.len() > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Held while the queue, the sequence number or the rejected file change.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

fn read_seq(dir: &Path) -> Result<Option<i64>> {
    let path = dir.join("seq");
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(lost_seq(&path, &format!("holds {:?}", text.trim()))),
        },
    }
}

/// Numbers already used could come back, and the server would drop those check-ins as
/// duplicates: only a new device (a new key) starts numbering again safely.
fn lost_seq(path: &Path, what: &str) -> anyhow::Error {
    anyhow!(
        "{} {what}, but this gate has numbered check-ins before: upload what is queued, then set \
         the gate up with a new device key in an empty directory",
        path.display()
    )
}

/// Takes the next sequence number and queues the row under it; the number is stored as used
/// before the row is written, so a crash in between skips a number rather than reusing one.
fn record(dir: &Path, mut row: Checkin) -> Result<i64> {
    let _lock = lock(dir)?;
    let Some(seq) = read_seq(dir)? else {
        return Err(lost_seq(&dir.join("seq"), "is missing"));
    };
    write_atomically(
        &dir.join("seq"),
        format!("{}\n", seq + 1).as_bytes(),
        Access::Default,
    )?;
    row.seq = seq;
    append_lines(&dir.join("queue.jsonl"), &[serde_json::to_string(&row)?])?;
    Ok(seq)
}

fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot start the HTTP client")
}

/// The server's `{"error": {"code", "message"}}`, or the status and body as they came.
async fn refusal(what: &str, response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            Some(format!(
                "{} ({})",
                v["error"]["message"].as_str()?,
                v["error"]["code"].as_str()?
            ))
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    let hint = if status.as_u16() == 401 {
        ": the device key was refused (revoked, or for another server)"
    } else {
        ""
    };
    anyhow!("{what}: the server answered {status}: {reason}{hint}")
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
    let response = client()?
        .get(format!("{server}/api/v1/gate/config"))
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    if !response.status().is_success() {
        return Err(refusal("setup", response).await);
    }
    let fetched: Fetched = response
        .json()
        .await
        .context("the server's answer is not a gate configuration")?;
    let config = Config {
        server: server.to_owned(),
        key: key.to_owned(),
        fetched_at: now,
        config: fetched,
    };
    let list = config.trust_list()?;
    let _lock = lock(dir)?;
    let previous = dir.join("config.json").exists().then(|| Config::read(dir));
    match &previous {
        Some(Ok(old)) => {
            if let Ok(old_list) = old.trust_list() {
                accept_update(&old_list, &list)?;
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
    match read_seq(dir)? {
        Some(_) => {}
        None if previous.is_none() => write_atomically(&dir.join("seq"), b"0\n", Access::Default)?,
        None => return Err(lost_seq(&dir.join("seq"), "is missing")),
    }
    write_atomically(
        &dir.join("config.json"),
        &serde_json::to_vec_pretty(&config)?,
        Access::OwnerOnly,
    )?;
    let skew = config.config.server_time - now;
    if skew.abs() > CLOCK_TOLERANCE {
        eprintln!(
            "warning: this device's clock is {} off the server's: codes are judged and \
             check-ins dated by it; set the clock",
            span(skew.abs())
        );
    }
    println!(
        "gate set up in {}: device #{} {:?}",
        dir.display(),
        config.config.device.id,
        config.config.device.name
    );
    describe(&config, &list, now);
    Ok(ExitCode::SUCCESS)
}

/// A refreshed list must come from the same root and be no older than the cached one, as for
/// `healthcode trust import`: a server that is not the region's cannot swap the keys a gate
/// trusts.
fn accept_update(old: &TrustList, new: &TrustList) -> Result<()> {
    if old.root_public_key != new.root_public_key {
        bail!(
            "the server's trust list is signed by root key {}, not {} as before: if the region \
             rotated its root on purpose, upload the queue, remove config.json and set up again",
            hex::encode(new.root_public_key),
            hex::encode(old.root_public_key)
        );
    }
    if new.sequence < old.sequence {
        bail!(
            "the server's trust list (sequence {}) is older than the cached one ({}): refused",
            new.sequence,
            old.sequence
        );
    }
    Ok(())
}

/// One reason for a STOP, in both languages.
#[derive(Serialize)]
struct Reason {
    code: String,
    zh: String,
    en: String,
}

impl Reason {
    fn of(r: &StopReason) -> Reason {
        let code = match r {
            StopReason::Colour { .. } => "colour",
            StopReason::Reminder { .. } => "reminder",
            StopReason::NoRecentTest { .. } => "no_recent_test",
            StopReason::Vaccination { .. } => "vaccination",
        };
        Reason {
            code: code.to_owned(),
            zh: r.text_zh(),
            en: r.text_en(),
        }
    }
}

/// What `scan` prints.
#[derive(Serialize)]
struct Decision {
    decision: &'static str,
    pass: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    colour: Option<healthcode_domain::Colour>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    reasons: Vec<Reason>,
    venue_id: i64,
    /// The check-in's sequence number, when one was queued.
    seq: Option<i64>,
    /// Why nothing was queued, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_queued: Option<String>,
    warnings: Vec<String>,
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
        Err(e) => Decision {
            decision: "STOP",
            pass: false,
            masked_name: None,
            colour: None,
            region: None,
            reasons: vec![Reason {
                code: e.code().to_owned(),
                zh: "健康码无效".to_owned(),
                en: format!("the code does not verify: {e}"),
            }],
            venue_id: gate.venue.id,
            seq: None,
            not_queued: Some("the code does not verify".to_owned()),
            warnings,
        },
        Ok(claims) => {
            let decision = gate.entry_policy.decide(&Presented {
                colour: claims.colour,
                reminders: &claims.reminders,
                test_recency_days: claims.test_recency_days,
                vaccination: claims.vaccination,
            });
            let (seq, not_queued) = if claims.region != gate.region {
                (
                    None,
                    Some(format!(
                        "a visitor from {}: this region keeps no check-in for them",
                        claims.region
                    )),
                )
            } else {
                let row = Checkin {
                    seq: 0,
                    subject: hex::encode(claims.subject),
                    at: now.trunc_subsecs(0),
                    passed: decision.pass,
                    method: CheckinMethod::Gate,
                    venue_id: gate.venue.id,
                };
                match record(dir, row) {
                    Ok(seq) => (Some(seq), None),
                    Err(e) => {
                        failed_to_queue = true;
                        (None, Some(format!("cannot queue the check-in: {e:#}")))
                    }
                }
            };
            Decision {
                decision: if decision.pass { "PASS" } else { "STOP" },
                pass: decision.pass,
                masked_name: Some(claims.masked_name),
                colour: Some(claims.colour),
                region: Some(claims.region),
                reasons: decision.reasons.iter().map(Reason::of).collect(),
                venue_id: gate.venue.id,
                seq,
                not_queued,
                warnings,
            }
        }
    };
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_decision(&out);
    }
    Ok(if failed_to_queue {
        ExitCode::from(2)
    } else if out.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_decision(d: &Decision) {
    let mut head = d.decision.to_owned();
    if let Some(name) = &d.masked_name {
        head.push_str(&format!("  {name}"));
    }
    if let Some(colour) = d.colour {
        head.push_str(&format!(
            "  {} {} ({})",
            colour.as_str().to_uppercase(),
            colour.label_zh(),
            colour.label_en()
        ));
    }
    println!("{head}");
    for r in &d.reasons {
        println!("  {}", r.zh);
        println!("  {}", r.en);
    }
    match (d.seq, &d.not_queued) {
        (Some(seq), _) => println!("check-in #{seq} queued"),
        (None, Some(why)) => println!("not queued: {why}"),
        (None, None) => {}
    }
    for w in &d.warnings {
        eprintln!("warning: {w}");
    }
}

/// The server's answer to an upload.
#[derive(Deserialize)]
struct UploadAnswer {
    received: usize,
    stored: u64,
    duplicates: u64,
    rejected: Vec<RejectedRow>,
    designated: usize,
}

#[derive(Deserialize)]
struct RejectedRow {
    index: usize,
    seq: i64,
    code: String,
    message: String,
}

#[derive(Default, Serialize)]
struct Totals {
    sent: usize,
    stored: u64,
    duplicates: u64,
    rejected: usize,
    designated: usize,
    queued: usize,
}

fn rejected_line(row: Value, code: &str, message: &str, now: DateTime<Utc>) -> Result<String> {
    Ok(serde_json::to_string(&json!({
        "row": row,
        "code": code,
        "message": message,
        "rejected_at": now,
    }))?)
}

async fn upload(dir: &Path, batch: usize, json: bool, now: DateTime<Utc>) -> Result<ExitCode> {
    let config = Config::read(dir)?;
    let client = client()?;
    let mut totals = Totals::default();
    // Lines that no longer read go to rejected.jsonl first, with their line numbers.
    let pending: Vec<Checkin> = {
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
            append_lines(&dir.join("rejected.jsonl"), &corrupt)?;
            rewrite_queue(dir, lines.iter().filter(|l| l.row.is_ok()))?;
            totals.rejected += corrupt.len();
        }
        lines.into_iter().filter_map(|l| l.row.ok()).collect()
    };
    let url = format!("{}/api/v1/gate/checkins", config.server);
    for chunk in pending.chunks(batch) {
        let answer = match send(&client, &url, &config.key, chunk).await {
            Ok(a) => a,
            Err(e) => {
                totals.queued = read_queue(dir).map(|q| q.len()).unwrap_or(pending.len());
                if json || totals.sent > 0 || totals.rejected > 0 {
                    report(&totals, dir, json)?;
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
        append_lines(&dir.join("rejected.jsonl"), &rejected)?;
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
    report(&totals, dir, json)?;
    Ok(if totals.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    rows: &[Checkin],
) -> Result<UploadAnswer> {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(&json!({ "checkins": rows }))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if !response.status().is_success() {
        return Err(refusal("upload", response).await);
    }
    let answer: UploadAnswer = response
        .json()
        .await
        .context("the server's answer to the upload does not read")?;
    if answer.received != rows.len() {
        bail!(
            "the server received {} check-ins of {} sent",
            answer.received,
            rows.len()
        );
    }
    Ok(answer)
}

fn report(t: &Totals, dir: &Path, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(t)?);
        return Ok(());
    }
    if t.sent == 0 && t.rejected == 0 {
        println!("nothing to upload");
        return Ok(());
    }
    println!(
        "uploaded {} check-ins: {} stored, {} duplicates, {} rejected",
        t.sent, t.stored, t.duplicates, t.rejected
    );
    if t.rejected > 0 {
        println!(
            "rejected rows, with the reason, are in {}",
            dir.join("rejected.jsonl").display()
        );
    }
    if t.designated > 0 {
        println!(
            "{} designations written: visits fell in open risk areas",
            t.designated
        );
    }
    if t.queued > 0 {
        println!("{} check-ins queued", t.queued);
    }
    Ok(())
}

fn status(dir: &Path, now: DateTime<Utc>) -> Result<ExitCode> {
    let config = Config::read(dir)?;
    let list = config.trust_list()?;
    println!(
        "gate in {}: device #{} {:?}",
        dir.display(),
        config.config.device.id,
        config.config.device.name
    );
    println!("server:      {}", config.server);
    println!("set up:      {} ago", span(now - config.fetched_at));
    describe(&config, &list, now);
    let lines = read_queue(dir)?;
    let next = read_seq(dir)?.map_or_else(|| "missing".to_owned(), |n| n.to_string());
    println!(
        "queued:      {} check-ins (next number {next})",
        lines.len()
    );
    for line in &lines {
        if let Err(e) = &line.row {
            println!("  queue.jsonl line {} does not read: {e}", line.number);
        }
    }
    let rejected = std::fs::read(dir.join("rejected.jsonl"))
        .map(|b| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count())
        .unwrap_or(0);
    if rejected > 0 {
        println!(
            "rejected:    {rejected} rows in {}",
            dir.join("rejected.jsonl").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The venue, its door rules and the trust list, as `setup` and `status` print them.
fn describe(config: &Config, list: &TrustList, now: DateTime<Utc>) {
    let c = &config.config;
    let p = &c.entry_policy;
    println!(
        "venue:       #{} {} ({}, {})",
        c.venue.id, c.venue.name, c.venue.kind, c.venue.district
    );
    let mut rules = vec![format!("{} codes or better", p.max_colour.as_str())];
    if let Some(hours) = p.test_within_hours {
        rules.push(format!("a negative test within {hours} hours"));
    }
    match p.vaccination {
        Some(VaccinationRequirement::PrimaryComplete) => {
            rules.push("a complete primary vaccination".to_owned());
        }
        Some(VaccinationRequirement::BoosterComplete) => {
            rules.push("a booster vaccination".to_owned());
        }
        None => {}
    }
    if p.reminders_block {
        rules.push("no reminder in force".to_owned());
    }
    println!(
        "policy:      {} / {}: {} (policy {})",
        p.label_zh,
        p.label_en,
        rules.join(", "),
        c.policy_version
    );
    let renewal = if now > list.next_update {
        format!(
            "OVERDUE by {}: run setup while online",
            span(now - list.next_update)
        )
    } else {
        format!("due in {}", span(list.next_update - now))
    };
    println!(
        "trust list:  {} #{}, signed {} ago, renewal {renewal}",
        list.region,
        list.sequence,
        span(now - list.issued_at)
    );
}

/// A duration as a person reads it: `3 d 4 h`, `5 h 12 min`, `40 s`.
fn span(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}
