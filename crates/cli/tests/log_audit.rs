//! The transparency log's tamper tests, end to end with the real binary: a server takes
//! results, an outside auditor (`healthcode audit --server … --state …`) checks its log and
//! keeps the checkpoint it saw, and an inspector (`healthcode audit --data-dir …`) checks the
//! database against the leaves. Then someone with database access
//! 1. edits a stored result behind the server's back → the inspector names the record;
//! 2. serves an older checkpoint → the auditor refuses it as a rollback;
//! 3. rewrites a leaf and rebuilds the tree → the auditor's consistency check fails (a fork).

// These tests drive a real server on the system clock, so they read it too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, Executor, Row};

use support::{Server, add_lab, free_port, get_text, http, run, start, text, wait_ready};

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn serve(data: &Path, listen: &str) -> Server {
    let server = start(&["serve", "--listen", listen, "--data-dir", text(data)]);
    wait_ready(&format!("http://{listen}"));
    server
}

/// The size of the checkpoint the server serves, once it is at least `size`.
fn wait_for_size(base: &str, size: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get_text(&format!("{base}/log/checkpoint"), "");
        if status == 200 {
            let served: u64 = body.lines().nth(1).unwrap().parse().unwrap();
            if served >= size {
                return served;
            }
        }
        assert!(Instant::now() < deadline, "the log never reached {size}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn submit(base: &str, lab: &str, record: &str, result: &str) {
    let now = chrono::Utc::now();
    let (s, body) = http(
        "POST",
        &format!("{base}/api/v1/test-results"),
        lab,
        Some(json!({
            "record_id": record,
            "document_type": "resident_id",
            "document_number": "110101199003070011",
            "sampled_at": (now - chrono::Duration::hours(5)).to_rfc3339(),
            "resulted_at": (now - chrono::Duration::hours(3)).to_rfc3339(),
            "kind": "pcr",
            "result": result,
        })),
    );
    assert_eq!(s, 201, "{body}");
}

async fn db(data: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        data.join("healthcode.db").display()
    ))
    .await
    .unwrap()
}

fn sql(data: &Path, statements: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = db(data).await;
        conn.execute(statements).await.unwrap();
        conn.close().await.unwrap();
    });
}

fn evidence_id(data: &Path, record: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = db(data).await;
        sqlx::query("SELECT id FROM evidence WHERE record_id = $1")
            .bind(record)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get("id")
    })
}

#[test]
fn tampering_with_the_database_is_caught_by_the_inspector_and_the_auditor() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let state = tmp.path().join("auditor");
    let out = run(&["keys", "generate", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{out:?}");
    let lab = add_lab(&data, &[]);

    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let server = serve(&data, &listen);
    for (record, result) in [
        ("R-1", "positive"),
        ("R-2", "negative"),
        ("R-3", "negative"),
    ] {
        submit(&base, &lab, record, result);
    }
    // Three results and the server's first retention run.
    let first = wait_for_size(&base, 4);
    let audit_server = || run(&["audit", "--server", &base, "--state", text(&state)]);
    let out = audit_server();
    assert!(out.status.success(), "{}", said(&out));
    let out = run(&["audit", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{}", said(&out));

    // 1. A positive result turned negative in the database.
    sql(
        &data,
        "UPDATE evidence SET test_outcome = 'negative' WHERE record_id = 'R-1'",
    );
    let out = run(&["audit", "--data-dir", text(&data)]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let id = evidence_id(&data, "R-1");
    assert!(
        said(&out).contains(&format!("evidence {id} ")),
        "{}",
        said(&out)
    );
    assert!(said(&out).contains("does not match its leaf's commitment"));
    sql(
        &data,
        "UPDATE evidence SET test_outcome = 'positive' WHERE record_id = 'R-1'",
    );
    let out = run(&["audit", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{}", said(&out));

    // 2. More results; the auditor sees the larger log; then the newest checkpoint is
    // deleted, so the server serves the older one.
    submit(&base, &lab, "R-4", "negative");
    let second = wait_for_size(&base, first + 1);
    let out = audit_server();
    assert!(out.status.success(), "{}", said(&out));
    sql(
        &data,
        &format!("DELETE FROM log_checkpoints WHERE size >= {second}"),
    );
    assert_eq!(wait_for_size(&base, 0), first);
    let out = audit_server();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("rollback"), "{}", said(&out));

    // 3. The server stops; a leaf is rewritten and the whole tree rebuilt and signed again,
    // with as many leaves as the auditor saw.
    drop(server);
    sql(
        &data,
        "UPDATE log_leaves SET entry = CAST(replace(CAST(entry AS TEXT), ' test ', \
         ' vaccination ') AS BLOB) WHERE leaf_index = (SELECT MIN(leaf_index) FROM log_leaves \
         WHERE CAST(entry AS TEXT) LIKE 'healthcode/1 test %'); \
         DELETE FROM log_tiles; DELETE FROM log_checkpoints; \
         UPDATE log_leaves SET leaf_index = NULL;",
    );
    let _server = serve(&data, &listen);
    assert!(wait_for_size(&base, second) >= second);
    let out = audit_server();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let verdict = said(&out);
    assert!(
        verdict.contains("fork") || verdict.contains("consisten"),
        "{verdict}"
    );
    // The inspector sees it too: the rewritten leaf no longer commits to its record.
    let out = run(&["audit", "--data-dir", text(&data)]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
}
