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
    /// Instead of the four figures, the inclusion proof alone in a log of this many leaves:
    /// synthetic leaves (entries without records) written straight into an embedded store's
    /// log table, sequenced as the server does, then `--proofs` proofs timed. 100,000,000
    /// takes about 30 GB of disk under `--dir`.
    #[arg(long)]
    proof_leaves: Option<u64>,
    /// Where the databases go (default: a temporary directory under the system's).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
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

/// Rows per `INSERT` of synthetic leaves: four parameters each.
const SYNTHETIC_ROWS: usize = 8_000;
/// Synthetic leaves per transaction.
const SYNTHETIC_TX: u64 = 1_000_000;

/// The inclusion proof at `leaves` leaves: fills an embedded store's log with synthetic
/// entries, sequences them, and times proofs.
async fn proof_only(a: &LogBench, dir: &std::path::Path, leaves: u64) -> Result<()> {
    use sqlx::Connection as _;
    let path = dir.join("proofs.db");
    let url = format!("sqlite://{}", path.display());
    let store = open(&url, true).await?;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    let full = insert_synthetic_sql(SYNTHETIC_ROWS);
    let mut written = 0u64;
    while written < leaves {
        let end = (written + SYNTHETIC_TX).min(leaves);
        let mut tx = conn.begin().await?;
        let mut n = written;
        while n < end {
            let rows = (end - n).min(SYNTHETIC_ROWS as u64);
            let partial;
            let sql = if rows == SYNTHETIC_ROWS as u64 {
                &full
            } else {
                partial = insert_synthetic_sql(rows as usize);
                &partial
            };
            let mut q = sqlx::query(sql);
            for i in n..n + rows {
                let mut salt = [0u8; healthcode_store::leaf::SALT_LEN];
                salt[..8].copy_from_slice(&i.to_be_bytes());
                let entry = healthcode_store::leaf::entry_bytes(
                    "test",
                    1_733_400_000 + (i / 1_000) as i64,
                    "provider/1",
                    &salt,
                    &i.to_le_bytes(),
                )?;
                q = q.bind(i as i64).bind(salt.to_vec()).bind(entry);
            }
            q.execute(&mut *tx).await?;
            n += rows;
        }
        tx.commit().await?;
        written = end;
    }
    conn.close().await?;
    let secs = started.elapsed().as_secs_f64();
    println!("wrote {leaves} synthetic leaves in {secs:.1} s");

    let signer = NoteSigner::from_seed(ORIGIN, &[3; 32])?;
    let started = Instant::now();
    let size = loop {
        let done = store
            .integrate_log(&signer, ORIGIN, SEQUENCE_BATCH, SystemClock.now())
            .await?;
        if done.added == 0 {
            break done.size;
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sequenced {size} leaves in {secs:.1} s: {:.0} leaves/s",
        size as f64 / secs
    );
    time_proofs(&store, size, a.proofs).await?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("database: {:.1} GB", bytes as f64 / 1e9);
    store.close().await;
    Ok(())
}

/// The `INSERT` of `rows` synthetic evidence leaves.
fn insert_synthetic_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO log_leaves (source, source_id, salt, entry) VALUES ");
    for n in 0..rows {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str("('evidence', ?, ?, ?)");
    }
    sql
}

/// Times `count` inclusion proofs of random leaves against the newest checkpoint of `size`,
/// read from the stored tiles as the server does.
async fn time_proofs(store: &SqlStore, size: u64, count: usize) -> Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let mut times = Vec::with_capacity(count);
    let mut hashes = 0usize;
    for _ in 0..count {
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
    anyhow::ensure!(!times.is_empty(), "no proofs to time");
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "inclusion proof at size {size}: p50 {:.0} µs, p99 {:.0} µs, {hashes} hashes ({} bytes)",
        pick(0.5),
        pick(0.99),
        hashes * 32
    );
    Ok(())
}

pub async fn log(a: LogBench) -> Result<()> {
    let dir = match &a.dir {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    if let Some(leaves) = a.proof_leaves {
        return proof_only(&a, dir.path(), leaves).await;
    }
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
    time_proofs(&store, size, a.proofs).await?;

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
