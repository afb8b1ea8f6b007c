//! `healthcode backup` and `healthcode restore` (docs/OPERATIONS.md, "Backup and restore"): a
//! backup taken while the server runs, restored into a fresh data directory given the same
//! keys, serves every record with its history and verifies a code issued before; a wrong master
//! key, a damaged file and an occupied directory are refused.

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

use serde_json::{Value, json};

use support::{Server, add_lab, free_port, http, run, start, text, wait_ready, with_keys};

fn serve(data: &Path) -> (Server, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let server = start(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        text(data),
        "--dev-identity",
    ]);
    let base = format!("http://{listen}");
    wait_ready(&base);
    (server, base)
}

fn restore(data: &Path, from: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["restore", "--data-dir", text(data), "--from", text(from)];
    args.extend_from_slice(extra);
    run(&args)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_backup_taken_while_serving_restores_with_the_same_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(&["keys", "generate", "--data-dir", text(&data)]);
    assert!(out.status.success(), "{out:?}");
    let lab = add_lab(&data, &[]);

    let (server, base) = serve(&data);
    let (s, enrol) = http(
        "POST",
        &format!("{base}/api/v1/enrol"),
        "",
        Some(
            json!({"document_type": "resident_id", "document_number": "110101199003070011", "name": "陈一"}),
        ),
    );
    assert_eq!(s, 201, "{enrol}");
    let token = enrol["token"].as_str().expect("token").to_owned();
    // A result, then its correction: the record has a history of two revisions.
    let now = chrono::Utc::now();
    for (result, hours) in [("positive", 3), ("negative", 2)] {
        let (s, b) = http(
            "POST",
            &format!("{base}/api/v1/test-results"),
            &lab,
            Some(json!({
                "record_id": "R-1", "document_type": "resident_id",
                "document_number": "110101199003070011",
                "sampled_at": (now - chrono::Duration::hours(hours)).to_rfc3339(),
                "resulted_at": now.to_rfc3339(), "kind": "pcr", "result": result,
            })),
        );
        assert!(s == 200 || s == 201, "{s} {b}");
    }
    let (s, history) = http("GET", &format!("{base}/api/v1/records/R-1"), &lab, None);
    assert_eq!(s, 200, "{history}");
    assert_eq!(history["revisions"].as_array().map(Vec::len), Some(2));
    let (s, code) = http("GET", &format!("{base}/api/v1/me/code"), &token, None);
    assert_eq!(s, 200, "{code}");
    let code = code["code"].as_str().expect("code").to_owned();
    let (_, status) = http("GET", &format!("{base}/api/v1/me/status"), &token, None);

    // The backup, while the server runs.
    let backup = tmp.path().join("healthcode-backup.db");
    let out = run(&["backup", "--data-dir", text(&data), "--out", text(&backup)]);
    assert!(out.status.success(), "{out:?}");
    #[cfg(unix)]
    assert_eq!(mode(&backup), 0o600);
    let again = run(&["backup", "--data-dir", text(&data), "--out", text(&backup)]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = run(&[
        "backup",
        "--data-dir",
        text(&data),
        "--out",
        text(&backup),
        "--force",
    ]);
    assert!(forced.status.success(), "{forced:?}");
    drop(server);

    // Restored into a fresh directory holding the same keys.
    let restored = with_keys(tmp.path(), "restored", &data.join("keys"));
    let out = restore(&restored, &backup, &[]);
    assert!(out.status.success(), "{out:?}");
    #[cfg(unix)]
    assert_eq!(mode(&restored.join("healthcode.db")), 0o600);
    let (server, base) = serve(&restored);
    let (s, after) = http("GET", &format!("{base}/api/v1/records/R-1"), &lab, None);
    assert_eq!(s, 200, "{after}");
    assert_eq!(after, history);
    let (s, status_after) = http("GET", &format!("{base}/api/v1/me/status"), &token, None);
    assert_eq!(s, 200, "{status_after}");
    assert_eq!(status_after["colour"], status["colour"], "{status_after}");
    let trust = restored.join("trust-list.json");
    let verified = run(&["verify", &code, "--trust-list", text(&trust), "--json"]);
    let v: Value = serde_json::from_slice(&verified.stdout).unwrap_or(Value::Null);
    assert_eq!(verified.status.code(), Some(0), "{v}");
    drop(server);

    // A directory that has a database is not replaced without --force; with it the old one is
    // kept aside.
    let out = restore(&restored, &backup, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a database"));
    let out = restore(&restored, &backup, &["--force"]);
    assert!(out.status.success(), "{out:?}");
    let aside = std::fs::read_dir(&restored)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("healthcode.db.replaced-")
        })
        .count();
    assert!(aside >= 1);

    // Another master key does not open it.
    let wrong = with_keys(tmp.path(), "wrong-key", &data.join("keys"));
    std::fs::write(wrong.join("keys/master.key"), [7u8; 32]).unwrap();
    let out = restore(&wrong, &backup, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key does not match"), "{err}");
    assert!(!wrong.join("healthcode.db").exists());

    // No keys at all: refused, and none are created.
    let empty = tmp.path().join("no-keys");
    let out = restore(&empty, &backup, &[]);
    assert!(!out.status.success());
    assert!(!empty.join("keys/master.key").exists());

    // A truncated backup, and a file that is no database, are refused.
    let bytes = std::fs::read(&backup).unwrap();
    let truncated = tmp.path().join("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = tmp.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"not a database at all, just some text".repeat(200),
    )
    .unwrap();
    for (name, file) in [("t", &truncated), ("g", &garbage)] {
        let fresh = with_keys(tmp.path(), name, &data.join("keys"));
        let out = restore(&fresh, file, &[]);
        assert!(!out.status.success(), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a usable healthcode backup"), "{err}");
        assert!(!fresh.join("healthcode.db").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&fresh)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn postgres_is_backed_up_with_pg_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&[
        "backup",
        "--data-dir",
        text(tmp.path()),
        "--database-url",
        "postgres://healthcode@localhost/healthcode",
        "--out",
        text(&tmp.path().join("b.db")),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump -Fc"));
}
