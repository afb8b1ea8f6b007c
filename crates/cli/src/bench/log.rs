//! `healthcode bench log`: the transparency log's figures (docs/BENCHMARKS.md), each with its
//! baseline in the same run.
//!
//! 1. Import: `--leaves` test results written in batches of 20,000 (the bulk-import path),
//!    each with its leaf — rows per second, against the same rows into a store that writes no
//!    leaves.
//! 2. Appending: the sequencer takes every leaf into the tree (tiles and a signed checkpoint
//!    per run of 100,000) — leaves per second.
//! 3. Proofs: inclusion proofs of random leaves against the newest checkpoint, read from the
//!    stored tiles as the server does — time per proof, and its size.
//! 4. The cost of logging: single-record submits (`--submits`, `--in-flight` at once) with the
//!    log on, as a ratio to the same submits into a store that writes no leaves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use rand::{Rng, SeedableRng};

use healthcode_domain::{TestKind, TestOutcome};
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::log::SEQUENCE_BATCH;
use healthcode_store::{DocIndex, EvidenceBody, Log, SqlStore, Store, Submission, Vault};
use healthcode_tlog::{
    Hash, NoteSigner, Tile, inclusion_proof_from_tiles, tile_from_bytes, tiles_for_inclusion_proof,
};

#[derive(Args)]
pub struct LogBench {
    /// Leaves (test results) to import and sequence.
    #[arg(long, default_value_t = 1_000_000)]
    leaves: usize,
    /// Single-record submits for the cost of logging, on each of the two stores.
    #[arg(long, default_value_t = 20_000)]
    submits: usize,
    /// Submits in flight at once.
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// Inclusion proofs to time.
    #[arg(long, default_value_t = 10_000)]
    proofs: usize,
    /// A PostgreSQL database to measure on instead of the embedded one (its tables are
    /// created if missing; use an empty database).
    #[arg(long)]
    database_url: Option<String>,
    /// A second, empty PostgreSQL database for the store without leaves (with
    /// `--database-url`).
    #[arg(long)]
    baseline_database_url: Option<String>,
}

const BATCH: usize = 20_000;
const ORIGIN: &str = "bench.example/log";

fn test_result(lab: i64, n: usize, at: chrono::DateTime<chrono::Utc>) -> Submission {
    let mut subject = [0u8; 32];
    subject[..8].copy_from_slice(&(n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    subject[8..16].copy_from_slice(&(n as u64).to_be_bytes());
    Submission {
        provider_id: lab,
        record_id: format!("R{n:09}"),
        subject: DocIndex(subject),
        body: EvidenceBody::Test {
            kind: TestKind::Pcr,
            outcome: TestOutcome::Negative,
            sampled_at: at - chrono::Duration::hours(6),
            resulted_at: at - chrono::Duration::hours(1),
        },
    }
}

async fn open(url: &str, log_writes: bool) -> Result<Arc<SqlStore>> {
    let vault = Arc::new(Vault::from_master_key(&[7; 32]));
    let store = SqlStore::connect(url, vault)
        .await
        .with_context(|| format!("cannot open {url}"))?;
    Ok(Arc::new(if log_writes {
        store
    } else {
        store.without_log_writes()
    }))
}

async fn import(store: &SqlStore, lab: i64, rows: usize, first: usize) -> Result<f64> {
    let now = SystemClock.now();
    let started = Instant::now();
    let mut n = first;
    while n < first + rows {
        let end = (n + BATCH).min(first + rows);
        let batch: Vec<Submission> = (n..end).map(|i| test_result(lab, i, now)).collect();
        let outcome = store.submit_batch(&batch, now).await?;
        anyhow::ensure!(outcome.iter().all(|r| r.is_ok()), "a row was refused");
        n = end;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

async fn submits(store: Arc<SqlStore>, lab: i64, count: usize, in_flight: usize) -> Result<f64> {
    let now = SystemClock.now();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..in_flight {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while i < count {
                store
                    .submit(&test_result(lab, 50_000_000 + i, now), now)
                    .await?;
                i += in_flight;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

pub async fn log(a: LogBench) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, baseline_url) = match (&a.database_url, &a.baseline_database_url) {
        (Some(u), Some(b)) => (u.clone(), b.clone()),
        (Some(_), None) => anyhow::bail!("--database-url needs --baseline-database-url"),
        _ => (
            format!("sqlite://{}", dir.path().join("log.db").display()),
            format!("sqlite://{}", dir.path().join("nolog.db").display()),
        ),
    };
    let store = open(&url, true).await?;
    let bare = open(&baseline_url, false).await?;
    let now = SystemClock.now();
    let lab = store
        .add_provider(
            healthcode_store::ProviderKind::Lab,
            "bench lab",
            &[1; 32],
            now,
        )
        .await?
        .id;
    let bare_lab = bare
        .add_provider(
            healthcode_store::ProviderKind::Lab,
            "bench lab",
            &[1; 32],
            now,
        )
        .await?
        .id;
    println!(
        "database: {}",
        if a.database_url.is_some() {
            "PostgreSQL"
        } else {
            "embedded (SQLite)"
        }
    );

    // 1. Import, with and without leaves.
    let with_log = import(&store, lab, a.leaves, 0).await?;
    let without = import(&bare, bare_lab, a.leaves, 0).await?;
    println!(
        "import {} rows: {:.0} rows/s with leaves, {:.0} rows/s without (ratio {:.3})",
        a.leaves,
        with_log,
        without,
        with_log / without
    );

    // 2. Appending.
    let signer = NoteSigner::from_seed(ORIGIN, &[3; 32])?;
    let started = Instant::now();
    let mut runs = 0;
    let size = loop {
        let done = store
            .integrate_log(&signer, ORIGIN, SEQUENCE_BATCH, SystemClock.now())
            .await?;
        runs += 1;
        if done.added == 0 {
            break done.size;
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sequenced {size} leaves in {secs:.2} s ({runs} runs): {:.0} leaves/s",
        size as f64 / secs
    );

    // 3. Inclusion proofs from the stored tiles.
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let mut times = Vec::with_capacity(a.proofs);
    let mut hashes = 0usize;
    for _ in 0..a.proofs {
        let index = rng.gen_range(0..size);
        let started = Instant::now();
        let mut tiles: BTreeMap<Tile, Vec<Hash>> = BTreeMap::new();
        for t in tiles_for_inclusion_proof(index, size)? {
            let data = store
                .log_tile(i64::from(t.level()), t.index(), t.width())
                .await?
                .context("a tile of the proof is missing")?;
            tiles.insert(t, tile_from_bytes(&t, &data)?);
        }
        let proof = inclusion_proof_from_tiles(index, size, &tiles)?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        hashes = proof.len();
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "inclusion proof at size {size}: p50 {:.0} µs, p99 {:.0} µs, {hashes} hashes ({} bytes)",
        pick(0.5),
        pick(0.99),
        hashes * 32
    );

    // 4. The cost of logging on single-record submits.
    let on = submits(store.clone(), lab, a.submits, a.in_flight).await?;
    let off = submits(bare.clone(), bare_lab, a.submits, a.in_flight).await?;
    println!(
        "single submits ({} in flight): {on:.0}/s with the log, {off:.0}/s without: ratio {:.3}",
        a.in_flight,
        on / off
    );
    store.close().await;
    bare.close().await;
    Ok(())
}
