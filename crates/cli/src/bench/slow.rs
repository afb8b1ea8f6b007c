//! `healthcode bench slow`: a slowloris attack on a running demo, and what a normal client sees
//! meanwhile.
//!
//! Attacker processes (this binary again, `--attack`, so that no one process needs more than
//! its file limit) open `--connections` connections from loopback source addresses 127.0.0.2
//! onwards, each sending half a request and nothing more; a connection the server closes is
//! opened again a second later, for as long as the attack lasts (as slowloris tools refill
//! their sockets). A normal client on 127.0.0.1 opens a
//! new connection for each `GET /api/v1/me/code` (a phone opening the app) and times it from
//! connecting to the whole answer: `--requests` of them before the attack, the same number
//! during it. Traffic goes to loopback only and the run ends by itself.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::demo::DemoFile;

#[derive(Args)]
pub struct SlowBench {
    /// The running demo's address (loopback only).
    #[arg(long, default_value = "127.0.0.1:18080")]
    server: SocketAddr,
    /// The demo's description (`data/demo.json`): a resident's session for the normal client.
    #[arg(long)]
    demo: Option<PathBuf>,
    /// Half-sent connections to hold, across all attacker processes.
    #[arg(long, default_value_t = 20_000)]
    connections: usize,
    /// Attacker processes to share them (each holds connections / attackers).
    #[arg(long, default_value_t = 2)]
    attackers: usize,
    /// Loopback source addresses the attack comes from (127.0.0.2 onwards).
    #[arg(long, default_value_t = 100)]
    sources: usize,
    /// The normal client's requests, before the attack and again during it.
    #[arg(long, default_value_t = 1_000)]
    requests: usize,
    /// The server's process id, to read its memory during the attack.
    #[arg(long)]
    server_pid: Option<u32>,
    /// (Used by the run itself.) Be an attacker: hold this many connections.
    #[arg(long, hide = true)]
    attack: Option<usize>,
    /// (Used by the run itself.) The attacker's first source address, 127.0.0.N.
    #[arg(long, hide = true, default_value_t = 2)]
    first_source: usize,
    /// (Used by the run itself.) How long an attacker holds on, in seconds.
    #[arg(long, hide = true, default_value_t = 120)]
    seconds: u64,
}

/// How long an attacker waits to open a connection again once the server has closed it.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// What an attacker sends of its request: the request line and one header, never the end.
const HALF_REQUEST: &[u8] = b"GET /api/v1/me/code HTTP/1.1\r\nHost: bench\r\nX-Slow: ";

pub async fn slow(a: SlowBench) -> Result<()> {
    if !a.server.ip().is_loopback() {
        bail!("the attack goes to loopback only");
    }
    if let Some(count) = a.attack {
        return attack(a.server, count, a.first_source, a.sources, a.seconds).await;
    }
    let demo_path = a.demo.clone().context("--demo is needed")?;
    let demo: DemoFile = serde_json::from_slice(
        &std::fs::read(&demo_path)
            .with_context(|| format!("cannot read {}", demo_path.display()))?,
    )?;
    let token = demo
        .residents
        .first()
        .context("the demo has no residents")?
        .token
        .clone();

    let before = normal_client(a.server, &token, a.requests).await?;
    report("no attack", &before);

    // The attackers, each on its own share of source addresses.
    let per = a.connections.div_ceil(a.attackers.max(1));
    let sources_per = (a.sources / a.attackers.max(1)).max(1);
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for n in 0..a.attackers.max(1) {
        let child = tokio::process::Command::new(&exe)
            .args([
                "bench",
                "slow",
                "--server",
                &a.server.to_string(),
                "--attack",
                &per.to_string(),
                "--first-source",
                &(2 + n * sources_per).to_string(),
                "--sources",
                &sources_per.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start an attacker")?;
        children.push(child);
    }
    // Each attacker says when its connections are open.
    let mut outputs = Vec::new();
    for child in &mut children {
        let out = child.stdout.take().context("attacker output")?;
        let mut lines = BufReader::new(out).lines();
        let ready = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("an attacker did not open its connections in 2 minutes")??;
        println!("attacker: {}", ready.unwrap_or_default());
        outputs.push(lines);
    }
    // Let the server's cap fill and the attackers' reconnecting settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let memory = a.server_pid.and_then(super::live::rss_kib);
    let during = normal_client(a.server, &token, a.requests).await?;
    report(&format!("{} slow connections", a.connections), &during);
    if let Some(kib) = memory {
        println!("server memory during the attack: {} MiB", kib / 1024);
    }
    for child in &mut children {
        let _ = child.start_kill();
    }
    for mut lines in outputs {
        // The attacker's last report, if it had time to write one.
        if let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_secs(2), lines.next_line()).await
        {
            println!("attacker: {line}");
        }
    }
    println!(
        "p99 during / before: {:.2}",
        during.p99.as_secs_f64() / before.p99.as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// The normal client's figures.
struct Timings {
    ok: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn report(what: &str, t: &Timings) {
    println!(
        "{what}: {} answered, {} failed; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        t.ok,
        t.failed,
        t.p50.as_secs_f64() * 1e3,
        t.p99.as_secs_f64() * 1e3,
        t.max.as_secs_f64() * 1e3
    );
}

/// `requests` code requests one after another, each on a new connection from 127.0.0.1.
async fn normal_client(server: SocketAddr, token: &str, requests: usize) -> Result<Timings> {
    let request = format!(
        "GET /api/v1/me/code HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    let mut times = Vec::with_capacity(requests);
    let mut failed = 0;
    for _ in 0..requests {
        let started = Instant::now();
        let answered = tokio::time::timeout(Duration::from_secs(10), async {
            let mut s = TcpStream::connect(server).await?;
            s.write_all(request.as_bytes()).await?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await?;
            anyhow::Ok(answer.starts_with(b"HTTP/1.1 200"))
        })
        .await;
        match answered {
            Ok(Ok(true)) => times.push(started.elapsed()),
            _ => failed += 1,
        }
    }
    times.sort();
    let pick = |q: f64| {
        times
            .get(((times.len().saturating_sub(1)) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Timings {
        ok: times.len(),
        failed,
        p50: pick(0.5),
        p99: pick(0.99),
        max: times.last().copied().unwrap_or_default(),
    })
}

/// Holds `count` half-sent connections from `sources` addresses starting at 127.0.0.`first`,
/// opening each again when the server closes it, for `seconds`; says when all are open, and
/// at the end how many times the server closed one.
async fn attack(
    server: SocketAddr,
    count: usize,
    first: usize,
    sources: usize,
    seconds: u64,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(count);
    for n in 0..count {
        let source = Ipv4Addr::new(
            127,
            0,
            0,
            u8::try_from(first + n % sources.max(1)).unwrap_or(2),
        );
        let (stop, open, closed, failed) =
            (stop.clone(), open.clone(), closed.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut counted = false;
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = half_request(source, server).await else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if !counted {
                    open.fetch_add(1, Ordering::Relaxed);
                    counted = true;
                }
                // Held until the server closes it.
                let mut buf = [0u8; 256];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                closed.fetch_add(1, Ordering::Relaxed);
                // Back a second later, as slowloris tools refill their sockets: the attack is
                // holding connections, not a flood of new ones (the rate limit's and the
                // network's business).
                tokio::time::sleep(REOPEN_AFTER).await;
            }
        }));
        // Not all at once: the listen backlog is finite.
        if n % 256 == 255 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(100);
    while (open.load(Ordering::Relaxed) as usize) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} connections opened from {sources} addresses ({} attempts failed)",
        open.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    println!(
        "the server closed {} of them in {:.0} s (each opened again a second later)",
        closed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn half_request(source: Ipv4Addr, server: SocketAddr) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.into(), 0))?;
    let mut s = socket.connect(server).await?;
    s.write_all(HALF_REQUEST).await?;
    Ok(s)
}
