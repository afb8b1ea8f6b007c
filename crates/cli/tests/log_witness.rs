//! The log server and its witnesses, all real binaries: `healthcode serve --witness URL=VKEY`
//! twice sends each new checkpoint to two `healthcode witness` processes and serves it with
//! both cosignatures, and once restarted takes up from the size each witness says it has;
//! then the server is made to fork (a stored entry rewritten and the tree
//! signed again behind its back), and both witnesses refuse the new tree, at the same size
//! and at a larger one, so that the checkpoint served no longer meets a 2-of-2 policy.

// These tests drive a real server on the system clock, so they read it too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use healthcode_tlog::{Checkpoint, CosignatureVerifier, Note, NoteSigner, witnessed};
use serde_json::json;
use sqlx::{Connection, Row};

use support::{BIN, free_port, get_text, http, start, start_witness, wait_ready};

const LOG_SEED: [u8; 32] = [0x33; 32];

/// The served checkpoint, once `done` accepts it (checked against the log's key first).
fn checkpoint_when(
    base: &str,
    log: &NoteSigner,
    what: &str,
    done: impl Fn(&Checkpoint, &Note) -> bool,
) -> (Checkpoint, Note) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, signed) = get_text(&format!("{base}/log/checkpoint"), "");
        if status == 200 {
            let checkpoint =
                Checkpoint::open(signed.as_bytes(), log.name(), &[log.verifier()]).unwrap();
            let note = Note::parse(signed.as_bytes()).unwrap();
            if done(&checkpoint, &note) {
                return (checkpoint, note);
            }
        }
        assert!(Instant::now() < deadline, "the log never served {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many times `witness` has refused this server's checkpoints, from its metrics.
fn refusals(metrics: &str, witness: &str) -> u64 {
    let (_, text) = get_text(metrics, "");
    text.lines()
        .filter(|l| l.starts_with("healthcode_log_witness_submissions_total{"))
        .filter(|l| l.contains(&format!("witness=\"{witness}\"")))
        .filter(|l| l.contains("result=\"refused\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn wait_refusals(metrics: &str, witnesses: &[CosignatureVerifier], at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while witnesses
        .iter()
        .any(|w| refusals(metrics, w.name()) < at_least)
    {
        assert!(
            Instant::now() < deadline,
            "the witnesses did not refuse {at_least} checkpoints"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn submit_result(base: &str, lab: &str, record: &str) {
    let now = chrono::Utc::now();
    let (status, body) = http(
        "POST",
        &format!("{base}/api/v1/test-results"),
        lab,
        Some(json!({
            "record_id": record, "document_type": "resident_id",
            "document_number": "110101199003070011",
            "sampled_at": (now - chrono::Duration::hours(3)).to_rfc3339(),
            "resulted_at": now.to_rfc3339(), "kind": "pcr", "result": "negative",
        })),
    );
    assert_eq!(status, 201, "{body}");
}

/// Rewrites the first entry in the database and drops the tree and its checkpoints, as a
/// log operator rewriting history would: the running sequencer signs the rebuilt tree.
fn fork(db: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let mut tx = c.begin().await.unwrap();
        let row = sqlx::query("SELECT id, entry FROM log_leaves ORDER BY id LIMIT 1")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let id: i64 = row.get("id");
        let mut entry: Vec<u8> = row.get("entry");
        entry.push(b' ');
        for statement in [
            "DELETE FROM log_tiles",
            "DELETE FROM log_checkpoints",
            "UPDATE log_leaves SET leaf_index = NULL",
        ] {
            sqlx::query(statement).execute(&mut *tx).await.unwrap();
        }
        sqlx::query("UPDATE log_leaves SET entry = $1 WHERE id = $2")
            .bind(entry)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
}

#[test]
fn the_served_checkpoint_carries_both_witnesses_cosignatures_until_the_log_forks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    // The log's key is the data directory's; its origin is the default public address's.
    std::fs::create_dir_all(data.join("keys")).unwrap();
    std::fs::write(data.join("keys/log.key"), LOG_SEED).unwrap();
    let log = NoteSigner::from_seed(&format!("localhost:{port}/log"), &LOG_SEED).unwrap();
    let logs = [log.verifier().to_string()];
    let w1 = start_witness(&dir.path().join("w1"), "witness.test/w1", &logs);
    let w2 = start_witness(&dir.path().join("w2"), "witness.test/w2", &logs);
    let witnesses = [
        CosignatureVerifier::parse(&w1.vkey).unwrap(),
        CosignatureVerifier::parse(&w2.vkey).unwrap(),
    ];

    let out = Command::new(BIN)
        .args(["providers", "add", "--kind", "lab", "--name", "Lab"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let lab = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("hcp_"))
        .expect("key printed")
        .to_owned();

    let metrics_port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    let (witness1, witness2) = (
        format!("{}={}", w1.url, w1.vkey),
        format!("{}/={}", w2.url, w2.vkey),
    );
    let serve = || {
        start(&[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
            "--metrics-listen",
            &metrics_listen,
            "--witness",
            &witness1,
            "--witness",
            &witness2,
        ])
    };
    let server = serve();
    let base = format!("http://{listen}");
    let metrics = format!("http://{metrics_listen}/metrics");
    wait_ready(&base);

    // An accepted result is in a checkpoint that both witnesses cosigned.
    submit_result(&base, &lab, "R-1");
    let (before, note) = checkpoint_when(&base, &log, "a cosigned checkpoint", |c, n| {
        c.size() >= 2 && witnessed(n, &witnesses, 2).is_ok()
    });
    let cosigned = witnessed(&note, &witnesses, 2).unwrap();
    assert_eq!(cosigned.len(), 2);
    // An auditor that requires both witnesses accepts it.
    let audit = |k: &str| {
        Command::new(BIN)
            .args([
                "audit",
                "--server",
                &base,
                "--witness",
                &w1.vkey,
                "--witness",
            ])
            .args([&w2.vkey, "--min-witnesses", k])
            .env("HEALTHCODE_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = audit("2");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("witnessed by 2 of 2"));
    assert_eq!(refusals(&metrics, witnesses[0].name()), 0);

    // Restarted, the server believes the witnesses have seen nothing: each answers 409 with
    // its size, and the server proves the next checkpoint consistent from there.
    drop(server);
    let _server = serve();
    wait_ready(&base);
    submit_result(&base, &lab, "R-2");
    let (before, _) = checkpoint_when(&base, &log, "a larger cosigned checkpoint", |c, n| {
        c.size() > before.size() && witnessed(n, &witnesses, 2).is_ok()
    });
    assert_eq!(refusals(&metrics, witnesses[0].name()), 0);

    // The log forks: the same size with another root. Both witnesses refuse it.
    fork(&data.join("healthcode.db"));
    let (forked, note) = checkpoint_when(&base, &log, "the forked tree", |c, _| {
        c.size() >= before.size() && c.root() != before.root()
    });
    wait_refusals(&metrics, &witnesses, 1);
    let (now, note_now) = checkpoint_when(&base, &log, "the forked tree", |_, _| true);
    assert_eq!(now.root(), forked.root(), "{note}");
    assert!(witnessed(&note_now, &witnesses, 2).is_err());
    assert!(witnessed(&note_now, &witnesses, 1).is_err(), "{note_now}");
    // The auditor requiring witnesses refuses what the server now serves.
    let out = audit("1");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cosigned by 0 of the witnesses, 1 required"),
        "{out:?}"
    );

    // And a larger tree grown from the fork: its consistency proof does not verify.
    submit_result(&base, &lab, "R-3");
    checkpoint_when(&base, &log, "a larger forked tree", |c, _| {
        c.size() > forked.size()
    });
    wait_refusals(&metrics, &witnesses, 2);
    let (_, note_now) = checkpoint_when(&base, &log, "the larger tree", |_, _| true);
    assert!(witnessed(&note_now, &witnesses, 1).is_err(), "{note_now}");
}
