//! `healthcode bench live`: open code pages (server-sent event streams) on a running demo, then
//! change the status of the people behind them and time how long each page takes to hear of
//! it, and what an open page costs the server in memory.
//!
//! Each page is one HTTP/1.1 connection to `GET /code/events` with a demo resident's session
//! cookie, from one of several loopback source addresses (127.0.0.2, 127.0.0.3, …) so that one
//! address's ports and the server's per-client cap are not the limit. A status change is a
//! positive PCR result submitted by the demo's lab through the API; a page's latency is from
//! the moment its person's submission was answered to the moment its stream says `changed`.
//! Traffic goes to loopback only and the run ends by itself.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;

use healthcode_server::clock::{Clock, SystemClock};

use crate::demo::DemoFile;

#[derive(Args)]
pub struct LiveBench {
    /// The running demo's address (loopback only).
    #[arg(long, default_value = "127.0.0.1:18080")]
    server: SocketAddr,
    /// The demo's description (`data/demo.json`): residents' sessions and the lab's key.
    #[arg(long)]
    demo: PathBuf,
    /// Code pages to open.
    #[arg(long, default_value_t = 10_000)]
    pages: usize,
    /// People whose pages they are (pages are shared out evenly); each gets one new result.
    #[arg(long, default_value_t = 500)]
    people: usize,
    /// Loopback source addresses to spread the pages over (127.0.0.2 onwards).
    #[arg(long, default_value_t = 64)]
    sources: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    opening: usize,
    /// The server's process id, to read its memory before and after the pages open.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds to wait for every page to hear of its change.
    #[arg(long, default_value_t = 10)]
    wait_secs: u64,
}

/// Resident memory of a process, in KiB.
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Opens one page's stream; returns once the server said it is open, with a task that then
/// reports the instant it hears `changed`.
async fn open_page(
    server: SocketAddr,
    source: Ipv4Addr,
    token: &str,
    page: usize,
    heard: mpsc::UnboundedSender<(usize, Instant)>,
) -> Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let mut stream = socket.connect(server).await?;
    let request = format!(
        "GET /code/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nCookie: hc_session={token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut seen = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("the server closed a page's stream before it opened");
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(10).any(|w| w == b"data: open") {
            break;
        }
        if seen.len() > 16 * 1024 {
            bail!("no open event: {}", String::from_utf8_lossy(&seen[..200]));
        }
    }
    tokio::spawn(async move {
        let mut seen = Vec::with_capacity(256);
        let mut buf = [0u8; 512];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(13).any(|w| w == b"data: changed") {
                let _ = heard.send((page, Instant::now()));
                // Keep the connection open until the run ends.
                let _ = stream.read(&mut buf).await;
                return;
            }
            if seen.len() > 4096 {
                seen.drain(..seen.len() - 64);
            }
        }
    });
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn live(a: LiveBench) -> Result<()> {
    if !a.server.ip().is_loopback() {
        bail!("this load test only sends traffic to loopback addresses");
    }
    let demo: DemoFile = serde_json::from_slice(
        &std::fs::read(&a.demo).with_context(|| format!("cannot read {}", a.demo.display()))?,
    )?;
    let people: Vec<_> = demo.residents.iter().take(a.people.max(1)).collect();
    if people.is_empty() {
        bail!("the demo has no residents");
    }
    let sources = a.sources.clamp(1, 250);
    let rss_before = a.server_pid.and_then(rss_kib);

    let (heard_tx, mut heard_rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let opened = futures_util::stream::iter((0..a.pages).map(|page| {
        let person = people[page % people.len()];
        let source = Ipv4Addr::new(127, 0, 0, 2 + (page % sources) as u8);
        let heard = heard_tx.clone();
        let token = person.token.clone();
        async move { open_page(a.server, source, &token, page, heard).await }
    }))
    .buffer_unordered(a.opening.max(1))
    .collect::<Vec<_>>()
    .await;
    drop(heard_tx);
    let failed: Vec<_> = opened.iter().filter_map(|r| r.as_ref().err()).collect();
    let open = a.pages - failed.len();
    let open_secs = started.elapsed().as_secs_f64();
    println!("pages open: {open} of {} in {open_secs:.1} s", a.pages);
    if let Some(e) = failed.first() {
        println!("  {} failed to open, the first with: {e:#}", failed.len());
    }
    // Let the server settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = a.server_pid.and_then(rss_kib);
    if let (Some(b), Some(after)) = (rss_before, rss_after) {
        let per_page = (after.saturating_sub(b) as f64 * 1024.0) / open.max(1) as f64;
        println!(
            "server memory: {:.0} MiB before, {:.0} MiB with the pages open: {:.1} KiB per open page",
            b as f64 / 1024.0,
            after as f64 / 1024.0,
            per_page / 1024.0
        );
    }

    // One positive result for each person, eight at a time.
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/test-results", a.server);
    let lab = demo.providers.lab.api_key.clone();
    let now = SystemClock.now();
    let sampled = (now - chrono::Duration::hours(1)).to_rfc3339();
    let resulted = (now - chrono::Duration::minutes(5)).to_rfc3339();
    let sent_at = Instant::now();
    let answered: Vec<(usize, Instant)> =
        futures_util::stream::iter(people.iter().enumerate().map(|(i, person)| {
            let body = serde_json::json!({
                "record_id": format!("live-bench-{i}-{}", sent_at.elapsed().as_nanos()),
                "document_type": person.document_type.as_str(),
                "document_number": person.document_number,
                "sampled_at": sampled,
                "resulted_at": resulted,
                "kind": "pcr",
                "result": "positive",
            });
            let req = client.post(&url).bearer_auth(&lab).json(&body);
            async move { (i, req.send().await) }
        }))
        .buffer_unordered(8)
        .filter_map(|(i, r)| async move {
            match r {
                Ok(resp) if resp.status().is_success() => Some((i, Instant::now())),
                Ok(resp) => {
                    eprintln!("a result was refused: {}", resp.status());
                    None
                }
                Err(e) => {
                    eprintln!("a result was not sent: {e}");
                    None
                }
            }
        })
        .collect()
        .await;
    let submitted: HashMap<usize, Instant> = answered.into_iter().collect();
    println!(
        "results submitted: {} in {:.2} s",
        submitted.len(),
        sent_at.elapsed().as_secs_f64()
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.wait_secs);
    let mut latencies = Vec::with_capacity(open);
    let people_count = people.len();
    while latencies.len() < open {
        match tokio::time::timeout_at(deadline, heard_rx.recv()).await {
            Ok(Some((page, at))) => {
                if let Some(done) = submitted.get(&(page % people_count)) {
                    latencies.push(at.saturating_duration_since(*done).as_secs_f64());
                }
            }
            _ => break,
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "pages told: {} of {open}; from the result's answer: p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
