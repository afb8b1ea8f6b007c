//! The `healthcode` binary as scripts use it: the demo's contract (`demo.json`), the README's
//! walk-through, `verify`'s exit codes, `providers add`, and `serve` on PostgreSQL.

// These tests drive a real server on the system clock, so they read it too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use support::{BIN, free_port, get_text, http, read_demo, start, wait_ready};

/// Starts `serve` on `data_dir` and `url`, expects it to refuse, and returns what it said.
fn serve_refused(data_dir: &Path, url: &str) -> String {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--database-url", url])
        .output()
        .expect("start serve");
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn verify(code: &str, trust_list: &str, extra: &[&str]) -> (i32, Value) {
    let out = Command::new(BIN)
        .args(["verify", code, "--trust-list", trust_list, "--json"])
        .args(extra)
        .output()
        .expect("run verify");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn demo_contract_and_walkthrough() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    // Hundreds of status reads from one address: lift the per-client rate limit for this run.
    let _server = start(&[
        "demo",
        "--listen",
        &listen,
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
        "--rate-limit-per-second",
        "100000",
        "--rate-limit-burst",
        "100000",
    ]);
    let demo = read_demo(dir.path());
    let base = demo["base_url"].as_str().expect("base_url").to_owned();
    wait_ready(&base);

    let trust = demo["trust_list"].as_str().expect("trust_list").to_owned();
    assert!(Path::new(&trust).exists());
    for p in ["lab", "cdc", "community", "vaccination"] {
        assert!(
            demo["providers"][p]["api_key"]
                .as_str()
                .expect("key")
                .starts_with("hcp_")
        );
    }
    let residents = demo["residents"].as_array().expect("residents");
    assert_eq!(residents.len(), 1000);

    // The seeded mix covers every colour, reminders, no data, and every vaccination state.
    let mut colours = std::collections::BTreeSet::new();
    let mut vaccination = std::collections::BTreeSet::new();
    let (mut reminders, mut no_data, mut stale) = (0, 0, 0);
    for r in residents.iter().take(300) {
        let token = r["token"].as_str().expect("token");
        let (s, status) = http("GET", &format!("{base}/api/v1/me/status"), token, None);
        assert_eq!(s, 200, "{status}");
        colours.insert(status["colour"].as_str().expect("colour").to_owned());
        vaccination.insert(
            status["vaccination"]["state"]
                .as_str()
                .expect("state")
                .to_owned(),
        );
        reminders += usize::from(!status["reminders"].as_array().expect("r").is_empty());
        no_data += usize::from(status["no_data"] == true);
        stale += usize::from(
            status["test_recency"]["days"]
                .as_u64()
                .is_some_and(|d| d >= 4),
        );
    }
    assert_eq!(colours.len(), 3, "{colours:?}");
    assert_eq!(vaccination.len(), 5, "{vaccination:?}");
    assert!(
        reminders > 10 && no_data > 3 && stale > 10,
        "{reminders} {no_data} {stale}"
    );

    // The demo serves its metrics on the main listener with a token of its own: those reads
    // are counted under the route's pattern, and nothing personal is in the text.
    let metrics_url = demo["metrics_url"].as_str().expect("metrics_url");
    assert_eq!(metrics_url, format!("{base}/metrics"));
    let metrics_token = demo["metrics_token"].as_str().expect("metrics_token");
    assert!(metrics_token.starts_with("hcm_"));
    assert_eq!(get_text(metrics_url, "hcm_wrong").0, 401);
    let (s, metrics) = get_text(metrics_url, metrics_token);
    assert_eq!(s, 200, "{metrics}");
    assert!(
        metrics.contains(
            "healthcode_http_requests_total{route=\"/api/v1/me/status\",method=\"GET\",status=\"200\",class=\"2xx\"} "
        ),
        "{metrics}"
    );
    let first = &residents[0];
    for personal in ["token", "document_number", "name"] {
        let value = first[personal].as_str().expect("a string");
        assert!(!metrics.contains(value), "{personal} in the metrics");
    }

    // The walk-through: a green resident's code verifies; the CDC designates; the next code is red.
    let r = residents
        .iter()
        .find(|r| r["profile"] == "green_recent_test")
        .expect("a green resident");
    let token = r["token"].as_str().expect("token");
    let (_, code) = http("GET", &format!("{base}/api/v1/me/code"), token, None);
    let text = code["code"].as_str().expect("code").to_owned();
    assert_eq!(code["status"]["colour"], "green");
    let (exit, v) = verify(&text, &trust, &[]);
    assert_eq!(
        (exit, v["valid"].as_bool(), v["colour"].as_str()),
        (0, Some(true), Some("green")),
        "{v}"
    );
    assert!(v["masked_name"].as_str().expect("name").ends_with('*'));

    let cdc = demo["providers"]["cdc"]["api_key"].as_str().expect("key");
    let (s, b) = http(
        "POST",
        &format!("{base}/api/v1/designations"),
        cdc,
        Some(json!({
            "record_id": "CDC-2026-0001", "document_type": r["document_type"], "document_number": r["document_number"],
            "kind": "confirmed_case", "started_at": chrono::Utc::now().to_rfc3339(),
        })),
    );
    assert_eq!(s, 201, "{b}");
    let (_, code) = http("GET", &format!("{base}/api/v1/me/code"), token, None);
    let (exit, v) = verify(code["code"].as_str().expect("code"), &trust, &[]);
    assert_eq!((exit, v["colour"].as_str()), (0, Some("red")));

    // Exit codes: 1 for an invalid code, with the reason; 2 for usage errors.
    let mut flipped = text.clone().into_bytes();
    flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
    let (exit, v) = verify(&String::from_utf8(flipped).expect("ascii"), &trust, &[]);
    assert_eq!((exit, v["valid"].as_bool()), (1, Some(false)), "{v}");
    assert!(v["error"].is_string());
    let (exit, v) = verify(&text, &trust, &["--at", "2099-01-01T00:00:00Z"]);
    assert_eq!((exit, v["error_code"].as_str()), (1, Some("expired")));
    let (exit, _) = verify("garbage", &trust, &[]);
    assert_eq!(exit, 1);
    let (exit, _) = verify(&text, "/nonexistent/trust-list.json", &[]);
    assert_eq!(exit, 2);
    let out = Command::new(BIN)
        .args(["verify", &text])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --trust-list is a usage error"
    );

    // Standard input works too.
    let mut child = Command::new(BIN)
        .args(["verify", "-", "--trust-list", &trust])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("VALID"));

    // A code from another region's keys is refused.
    let other = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args([
            "keys",
            "trust-list",
            "--data-dir",
            other.path().to_str().expect("utf-8"),
            "--region",
            "CN-TJ",
        ])
        .output()
        .expect("keys");
    assert!(out.status.success());
    let other_list = other.path().join("tl.json");
    std::fs::write(&other_list, &out.stdout).expect("write");
    let (exit, v) = verify(&text, other_list.to_str().expect("utf-8"), &[]);
    assert_eq!(
        (exit, v["error_code"].as_str()),
        (1, Some("unknown_key")),
        "{v}"
    );
}

#[test]
fn providers_add_prints_a_working_key_and_serve_runs_on_postgres() {
    let Some(url) = support::postgres_database("hc_cli") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");

    let out = Command::new(BIN)
        .args([
            "providers",
            "add",
            "--kind",
            "lab",
            "--name",
            "Lab PG",
            "--data-dir",
            data,
            "--database-url",
            &url,
        ])
        .output()
        .expect("providers add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("hcp_"))
        .expect("key printed")
        .to_owned();
    let bad = Command::new(BIN)
        .args([
            "providers",
            "add",
            "--kind",
            "wizard",
            "--name",
            "X",
            "--data-dir",
            data,
            "--database-url",
            &url,
        ])
        .output()
        .expect("run");
    assert!(!bad.status.success());

    let listen = format!("127.0.0.1:{}", free_port());
    let _server = start(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        data,
        "--database-url",
        &url,
        "--dev-identity",
    ]);
    let base = format!("http://{listen}");
    wait_ready(&base);

    let (s, enrol) = http(
        "POST",
        &format!("{base}/api/v1/enrol"),
        "",
        Some(
            json!({"document_type": "resident_id", "document_number": "110101199003070011", "name": "陈一"}),
        ),
    );
    assert_eq!(s, 201, "{enrol}");
    let token = enrol["token"].as_str().expect("token");
    let now = chrono::Utc::now();
    let (s, b) = http(
        "POST",
        &format!("{base}/api/v1/test-results"),
        &key,
        Some(json!({
            "record_id": "PG-1", "document_type": "resident_id", "document_number": "110101199003070011",
            "sampled_at": (now - chrono::Duration::hours(3)).to_rfc3339(), "resulted_at": now.to_rfc3339(),
            "kind": "pcr", "result": "negative",
        })),
    );
    assert_eq!(s, 201, "{b}");
    let (_, code) = http("GET", &format!("{base}/api/v1/me/code"), token, None);
    // 0天, or 1天 when the result is issued between 00:00 and 06:00 Beijing time.
    let days = code["status"]["test_recency"]["days"].as_u64();
    assert!(matches!(days, Some(0 | 1)), "{code}");
    let trust = dir.path().join("trust-list.json");
    let (exit, v) = verify(
        code["code"].as_str().expect("code"),
        trust.to_str().expect("utf-8"),
        &[],
    );
    assert_eq!((exit, v["colour"].as_str()), (0, Some("green")), "{v}");

    // A second node given the same master key but signing keys of its own is refused: its
    // codes would not verify against the region's trust list.
    let dir2 = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir2.path().join("keys")).expect("keys dir");
    std::fs::copy(
        dir.path().join("keys/master.key"),
        dir2.path().join("keys/master.key"),
    )
    .expect("copy master key");
    let err = serve_refused(dir2.path(), &url);
    assert!(err.contains("code_signing_kid"), "{err}");
    // And one with another master key is refused before that.
    let dir3 = tempfile::tempdir().expect("tempdir");
    assert!(serve_refused(dir3.path(), &url).contains("master key does not match"));

    // Personal fields are ciphertext in the database.
    rt.block_on(async {
        use sqlx::{Connection, Row};
        let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
        let row = sqlx::query("SELECT doc_number_enc, name_enc FROM people")
            .fetch_one(&mut c)
            .await
            .expect("row");
        let doc: Vec<u8> = row.get(0);
        let name: Vec<u8> = row.get(1);
        assert!(!doc.windows(18).any(|w| w == b"110101199003070011"));
        assert!(!name.windows(6).any(|w| w == "陈一".as_bytes()));
        c.close().await.ok();
    });
}

#[test]
fn import_tests_reports_every_row_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let key_of = |kind: &str| {
        let out = Command::new(BIN)
            .args([
                "providers",
                "add",
                "--kind",
                kind,
                "--name",
                kind,
                "--data-dir",
                data,
            ])
            .output()
            .expect("providers add");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|w| w.starts_with("hcp_"))
            .expect("key")
            .to_owned()
    };
    let lab = key_of("lab");
    let cdc = key_of("cdc");
    let file = dir.path().join("results.csv");
    std::fs::write(
        &file,
        "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n\
         I-1,resident_id,11010519491231002X,2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         I-2,resident_id,110105194912310021,2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         I-3,resident_id,110101199003070011,2026-05-01 08:00,2026-05-01 20:00,antigen,positive\n\
         I-4,passport,E12345678,2026-05-01 08:00,2026-05-01 07:00,pcr,negative\n\
         I-5,passport,E12345678,2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n",
    )
    .expect("write csv");
    let import = |key: &str, extra: &[&str]| {
        Command::new(BIN)
            .args(["import", "tests", "--api-key", key, "--data-dir", data])
            .args(extra)
            .arg(&file)
            .output()
            .expect("import")
    };
    let out = import(&lab, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("5 rows (csv): 3 accepted (3 new, 0 corrected, 0 unchanged), 2 rejected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 3:") && stdout.contains("(document_number_check_digit)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 5:") && stdout.contains("(result_before_sample)"),
        "{stdout}"
    );

    // The same file again changes nothing.
    let out = import(&lab, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(
        (report["accepted"].as_u64(), report["unchanged"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(report["rejected"][0]["line"], 3);

    // A key of another kind, or a file with no usable header, is refused whole (exit 2).
    let out = import(&cdc, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a lab key"));
    std::fs::write(&file, "name,phone\nx,y\n").expect("write");
    let out = import(&lab, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("header_missing_columns"));
}
