//! `healthcode import` end to end, on files from `healthcode demo generate`: rows broken on
//! purpose are refused exactly where the generator says it broke them, imports are idempotent,
//! `--atomic` stores every row or none, `--server` streams through a running server with the
//! same report and exit codes, an unknown vaccine is refused row by row, what is imported shows
//! in a resident's status at once, and the same holds on PostgreSQL.

// These tests drive a real server on the system clock, so they read it too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{BIN, free_port, http, read_demo, start, wait_ready};

/// `healthcode demo generate WHAT --rows ROWS --broken-rows BROKEN --out OUT EXTRA…`; returns
/// where the generator says the broken rows are (CSV lines or Bundle entries).
fn generate(what: &str, rows: u64, broken: u64, out: &Path, extra: &[&str]) -> Vec<u64> {
    let run = Command::new(BIN)
        .args(["demo", "generate", what, "--rows", &rows.to_string()])
        .args(["--broken-rows", &broken.to_string(), "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("demo generate");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains(&format!("wrote {rows} rows")), "{stdout}");
    let Some(line) = stdout.lines().find(|l| l.contains("broken on purpose")) else {
        assert_eq!(broken, 0, "{stdout}");
        return Vec::new();
    };
    let (_, list) = line
        .split_once(" at lines ")
        .or_else(|| line.split_once(" at entries "))
        .expect("positions");
    let positions: Vec<u64> = list
        .split(", ")
        .map(|n| n.parse().expect("a position"))
        .collect();
    assert_eq!(positions.len() as u64, broken, "{stdout}");
    positions
}

/// `providers add` on `data` (data-dir and database flags); returns the key it prints.
fn add_provider(data: &[&str], kind: &str) -> String {
    let out = Command::new(BIN)
        .args(["providers", "add", "--kind", kind, "--name", kind])
        .args(data)
        .output()
        .expect("providers add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("hcp_"))
        .expect("key printed")
        .to_owned()
}

/// What one `healthcode import` run ended with.
struct Imported {
    exit: Option<i32>,
    /// The JSON report, or `Null` when none was printed.
    report: Value,
    stderr: String,
}

/// `healthcode import WHAT --json --api-key KEY ARGS… FILE`.
fn import(what: &str, key: &str, file: &Path, args: &[&str]) -> Imported {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["import", what, "--json", "--api-key", key])
        .args(args)
        .arg(file)
        .output()
        .expect("import");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "import took {took:?}");
    Imported {
        exit: out.status.code(),
        report: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The report's counts, in the order `(rows, accepted, created, corrected, unchanged,
/// rejected_count)`.
fn counts(report: &Value) -> [Option<u64>; 6] {
    [
        "rows",
        "accepted",
        "created",
        "corrected",
        "unchanged",
        "rejected_count",
    ]
    .map(|k| report[k].as_u64())
}

/// The rejected rows' positions under `at` ("line" or "entry"), after checking that none is
/// named the other way.
fn rejected_at(report: &Value, at: &str) -> Vec<u64> {
    let other = if at == "line" { "entry" } else { "line" };
    let rejected = report["rejected"].as_array().expect("rejected");
    assert!(rejected.iter().all(|r| r.get(other).is_none()), "{report}");
    rejected
        .iter()
        .map(|r| r[at].as_u64().expect("position"))
        .collect()
}

fn rejected_codes(report: &Value) -> Vec<&str> {
    report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| r["code"].as_str().expect("code"))
        .collect()
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn generated_files_are_refused_exactly_where_broken_and_import_again_unchanged() {
    // The generator breaks rows in turn by check digit, chronology, an unknown result and a
    // missing field; the last is a short CSV line, or a FHIR entry without a subject.
    for (format, name, at, missing) in [
        ("csv", "csv", "line", "field_count"),
        ("fhir", "fhir_bundle", "entry", "subject_missing"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let lab = add_provider(&["--data-dir", utf8(&data)], "lab");
        let file = dir.path().join(format!("results.{format}"));
        let broken = generate("tests", 3000, 4, &file, &["--format", format]);
        let args = ["--data-dir", utf8(&data)];

        let first = import("tests", &lab, &file, &args);
        let r = &first.report;
        assert_eq!(first.exit, Some(1), "{format}: {}{r}", first.stderr);
        assert_eq!(r["format"], name, "{r}");
        assert_eq!(
            counts(r),
            [3000, 2996, 2996, 0, 0, 4].map(Some),
            "{format}: {r}"
        );
        assert_eq!(rejected_at(r, at), broken, "{format}");
        assert_eq!(
            rejected_codes(r),
            [
                "document_number_check_digit",
                "result_before_sample",
                "result_unknown",
                missing
            ],
            "{format}"
        );
        assert_eq!(
            (r["atomic"].as_bool(), r["committed"].as_bool()),
            (Some(false), Some(true))
        );

        let again = import("tests", &lab, &file, &args);
        assert_eq!(again.exit, Some(1), "{format}: {}", again.stderr);
        assert_eq!(
            counts(&again.report),
            [3000, 2996, 0, 0, 2996, 4].map(Some),
            "{format}: {}",
            again.report
        );
        assert_eq!(rejected_at(&again.report, at), broken, "{format}");
    }
}

#[test]
fn atomic_import_stores_every_row_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let args = ["--data-dir", utf8(&data)];
    let lab = add_provider(&args, "lab");

    // More rows than one batch (20,000), so the rollback has to undo batches already written
    // inside the transaction.
    let file = dir.path().join("big.csv");
    let broken = generate("tests", 25_000, 3, &file, &["--lab", "BIG"]);
    let atomic = import("tests", &lab, &file, &[&args[..], &["--atomic"]].concat());
    let r = &atomic.report;
    assert_eq!(atomic.exit, Some(1), "{}{r}", atomic.stderr);
    assert_eq!(
        (r["atomic"].as_bool(), r["committed"].as_bool()),
        (Some(true), Some(false)),
        "{r}"
    );
    assert_eq!(r["rejected_count"], 3, "{r}");
    assert_eq!(rejected_at(r, "line"), broken);
    // Nothing was stored: the same file without --atomic creates every valid row.
    let plain = import("tests", &lab, &file, &args);
    assert_eq!(plain.exit, Some(1), "{}", plain.stderr);
    assert_eq!(
        counts(&plain.report),
        [25_000, 24_997, 24_997, 0, 0, 3].map(Some),
        "{}",
        plain.report
    );

    // A file without a broken row is stored whole.
    let clean = dir.path().join("clean.csv");
    generate("tests", 2000, 0, &clean, &["--lab", "CLEAN"]);
    let atomic = import("tests", &lab, &clean, &[&args[..], &["--atomic"]].concat());
    let r = &atomic.report;
    assert_eq!(atomic.exit, Some(0), "{}{r}", atomic.stderr);
    assert_eq!(
        (r["atomic"].as_bool(), r["committed"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
    assert_eq!(counts(r), [2000, 2000, 2000, 0, 0, 0].map(Some), "{r}");
    let again = import("tests", &lab, &clean, &args);
    assert_eq!(again.exit, Some(0), "{}", again.stderr);
    assert_eq!(again.report["unchanged"], 2000, "{}", again.report);
}

#[test]
fn import_through_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_args = ["--data-dir", utf8(&data)];
    let lab = add_provider(&data_args, "lab");
    let vaccination = add_provider(&data_args, "vaccination");
    let listen = format!("127.0.0.1:{}", free_port());
    let _server = start(&["serve", "--listen", &listen, "--data-dir", utf8(&data)]);
    let base = format!("http://{listen}");
    wait_ready(&base);
    let server = ["--server", base.as_str()];

    // Test results as CSV: the same report as a direct import, and idempotent.
    let tests = dir.path().join("results.csv");
    let broken = generate("tests", 3000, 4, &tests, &[]);
    let first = import("tests", &lab, &tests, &server);
    let r = &first.report;
    assert_eq!(first.exit, Some(1), "{}{r}", first.stderr);
    assert_eq!(r["format"], "csv");
    assert_eq!(counts(r), [3000, 2996, 2996, 0, 0, 4].map(Some), "{r}");
    assert_eq!(rejected_at(r, "line"), broken);
    let again = import("tests", &lab, &tests, &server);
    assert_eq!(again.exit, Some(1), "{}", again.stderr);
    assert_eq!(
        counts(&again.report),
        [3000, 2996, 0, 0, 2996, 4].map(Some),
        "{}",
        again.report
    );

    // Vaccinations as a FHIR Bundle, broken by check digit, a future date and a status that
    // is neither completed nor not-done.
    let vaccinations = dir.path().join("vaccinations.json");
    let broken = generate(
        "vaccinations",
        3000,
        3,
        &vaccinations,
        &["--format", "fhir"],
    );
    let v = import("vaccinations", &vaccination, &vaccinations, &server);
    let r = &v.report;
    assert_eq!(v.exit, Some(1), "{}{r}", v.stderr);
    assert_eq!(r["format"], "fhir_bundle");
    assert_eq!(counts(r), [3000, 2997, 2997, 0, 0, 3].map(Some), "{r}");
    assert_eq!(rejected_at(r, "entry"), broken);
    assert_eq!(
        rejected_codes(r),
        [
            "document_number_check_digit",
            "time_in_future",
            "status_not_completed"
        ]
    );

    // --atomic through the server: a file with a broken row stores nothing (the server
    // answers 422 with the report), a clean one is stored whole.
    let atomic_file = dir.path().join("atomic.csv");
    generate("tests", 1000, 1, &atomic_file, &["--lab", "ATOMIC"]);
    let atomic = [&server[..], &["--atomic"]].concat();
    let refused = import("tests", &lab, &atomic_file, &atomic);
    assert_eq!(refused.exit, Some(1), "{}", refused.stderr);
    assert_eq!(refused.report["committed"], false, "{}", refused.report);
    let plain = import("tests", &lab, &atomic_file, &server);
    assert_eq!(plain.report["created"], 999, "{}", plain.report);
    let clean_file = dir.path().join("clean.csv");
    generate("tests", 1000, 0, &clean_file, &["--lab", "CLEAN"]);
    let clean = import("tests", &lab, &clean_file, &atomic);
    assert_eq!(clean.exit, Some(0), "{}", clean.stderr);
    assert_eq!(
        (
            clean.report["committed"].as_bool(),
            clean.report["created"].as_u64()
        ),
        (Some(true), Some(1000)),
        "{}",
        clean.report
    );

    // Refused whole (exit 2): a key of the wrong kind, an unknown key, a file that is not an
    // import.
    let wrong = import("vaccinations", &lab, &vaccinations, &server);
    assert_eq!(wrong.exit, Some(2), "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("needs a vaccination key"),
        "{}",
        wrong.stderr
    );
    let unknown = import(
        "tests",
        "hcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &tests,
        &server,
    );
    assert_eq!(unknown.exit, Some(2), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("unknown API key"),
        "{}",
        unknown.stderr
    );
    let not_an_import = dir.path().join("contacts.csv");
    std::fs::write(&not_an_import, "name,phone\nx,y\n").expect("write");
    let bad = import("tests", &lab, &not_an_import, &server);
    assert_eq!(bad.exit, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("header_missing_columns"),
        "{}",
        bad.stderr
    );

    // Nobody listening (exit 3): sending the file again later is safe.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let down = import("tests", &lab, &tests, &["--server", closed.as_str()]);
    assert_eq!(down.exit, Some(3), "{}", down.stderr);
    assert!(down.stderr.contains("again is safe"), "{}", down.stderr);
}

#[test]
fn vaccinations_with_an_unknown_product_are_refused_row_by_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let args = ["--data-dir", utf8(&data)];
    let vaccination = add_provider(&args, "vaccination");
    let lab = add_provider(&args, "lab");
    let file = dir.path().join("vaccinations.csv");
    // A product code, a CVX code, a maker's name and a contraindication are all known; the
    // made-up product on line 4 is not in the policy's vaccine table.
    std::fs::write(
        &file,
        "record_id,document_type,document_number,vaccinated_at,dose_number,product,event\n\
         V-1,resident_id,11010519491231002X,2021-04-10 09:00,1,sinovac-coronavac,dose\n\
         V-2,resident_id,11010519491231002X,2021-05-08 09:30,2,511,\n\
         V-3,resident_id,110101199003070011,2021-05-09 10:00,1,made-up-vaccine,dose\n\
         V-4,passport,E12345678,2021-06-01T02:00:00Z,,,contraindication\n\
         V-5,resident_id,110101199003070011,2021-06-09 10:00,1,北京生物,dose\n",
    )
    .expect("write csv");

    let imported = import("vaccinations", &vaccination, &file, &args);
    let r = &imported.report;
    assert_eq!(imported.exit, Some(1), "{}{r}", imported.stderr);
    assert_eq!(counts(r), [5, 4, 4, 0, 0, 1].map(Some), "{r}");
    assert_eq!(rejected_at(r, "line"), [4]);
    assert_eq!(rejected_codes(r), ["vaccine_product_unknown"]);
    assert!(
        r["rejected"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("made-up-vaccine"),
        "{r}"
    );

    let refused = import("vaccinations", &lab, &file, &args);
    assert_eq!(refused.exit, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("needs a vaccination key"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.report, Value::Null);
    // The refused run stored nothing and changed nothing.
    let again = import("vaccinations", &vaccination, &file, &args);
    assert_eq!(counts(&again.report), [5, 4, 0, 0, 4, 1].map(Some));
}

/// A valid resident ID for Ürümqi's Tianshan district, where the demo seeds nobody.
fn fresh_resident_id() -> String {
    let first17 = format!("65010219850615{:03}", std::process::id() % 1000);
    let check = healthcode_domain::document::resident_id_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A one-row test-results CSV: a PCR of `result` sampled ten minutes ago, reported now.
fn one_pcr(path: &Path, record_id: &str, document_type: &str, number: &str, result: &str) {
    let now = chrono::Utc::now();
    let sampled = now - chrono::Duration::minutes(10);
    std::fs::write(
        path,
        format!(
            "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n\
             {record_id},{document_type},{number},{},{},pcr,{result}\n",
            sampled.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    )
    .expect("write csv");
}

fn status(base: &str, token: &str) -> Value {
    let (s, status) = http("GET", &format!("{base}/api/v1/me/status"), token, None);
    assert_eq!(s, 200, "{status}");
    status
}

fn shows_positive_pcr(status: &Value, record_id: &str) -> bool {
    status["colour"] == "yellow"
        && status["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r["code"] == "pcr_positive" && r["evidence"]["meta"]["record_id"] == record_id)
}

/// Polls `token`'s status for up to a second until it shows the positive PCR `record_id`;
/// returns how long that took.
fn seen_within_a_second(base: &str, token: &str, record_id: &str) -> Duration {
    let since = Instant::now();
    loop {
        let s = status(base, token);
        if shows_positive_pcr(&s, record_id) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "{record_id} not in the status after a second: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn imported_results_show_in_a_residents_status_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let _server = start(&[
        "demo",
        "--listen",
        &listen,
        "--data-dir",
        utf8(dir.path()),
        "--rate-limit-per-second",
        "100000",
        "--rate-limit-burst",
        "100000",
    ]);
    let demo = read_demo(dir.path());
    let base = demo["base_url"].as_str().expect("base_url").to_owned();
    wait_ready(&base);
    let lab = demo["providers"]["lab"]["api_key"].as_str().expect("key");
    let server = ["--server", base.as_str()];
    let file = dir.path().join("one.csv");

    // Imported before the person registers: their first status already holds it.
    let number = fresh_resident_id();
    assert!(
        demo["residents"]
            .as_array()
            .expect("residents")
            .iter()
            .all(|r| r["document_number"] != number.as_str())
    );
    one_pcr(&file, "EARLY-1", "resident_id", &number, "positive");
    let early = import("tests", lab, &file, &server);
    assert_eq!(early.exit, Some(0), "{}{}", early.stderr, early.report);
    assert_eq!(early.report["created"], 1);
    let (s, enrol) = http(
        "POST",
        &format!("{base}/api/v1/enrol"),
        "",
        Some(json!({"document_type": "resident_id", "document_number": number, "name": "吐尔逊"})),
    );
    assert_eq!(s, 201, "{enrol}");
    let first = status(&base, enrol["token"].as_str().expect("token"));
    assert!(shows_positive_pcr(&first, "EARLY-1"), "{first}");
    assert_eq!(first["no_data"], false);

    // Registered and green, with the status cached by a read: a positive PCR imported through
    // the server shows within a second, and so does one written straight into the database
    // (which the server learns of from the change feed).
    let mut green = demo["residents"]
        .as_array()
        .expect("residents")
        .iter()
        .filter(|r| r["profile"] == "green_recent_test");
    for (record_id, how) in [
        ("LATE-SERVER-1", &server[..]),
        ("LATE-DIRECT-1", &["--data-dir", utf8(dir.path())][..]),
    ] {
        let r = green.next().expect("a green resident");
        let token = r["token"].as_str().expect("token");
        let before = status(&base, token);
        assert_eq!(before["colour"], "green", "{before}");
        one_pcr(
            &file,
            record_id,
            r["document_type"].as_str().expect("type"),
            r["document_number"].as_str().expect("number"),
            "positive",
        );
        let late = import("tests", lab, &file, how);
        assert_eq!(late.exit, Some(0), "{}{}", late.stderr, late.report);
        assert_eq!(late.report["created"], 1);
        let took = seen_within_a_second(&base, token, record_id);
        eprintln!("{record_id}: in the status after {took:?}");
    }
}

#[test]
fn import_on_postgres_is_all_or_nothing_and_idempotent() {
    let Some(url) = support::postgres_database("hc_import") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let args = ["--data-dir", utf8(&data), "--database-url", url.as_str()];
    let lab = add_provider(&args, "lab");
    let file = dir.path().join("results.csv");
    let broken = generate("tests", 5000, 5, &file, &[]);

    let atomic = import("tests", &lab, &file, &[&args[..], &["--atomic"]].concat());
    assert_eq!(atomic.exit, Some(1), "{}", atomic.stderr);
    assert_eq!(atomic.report["committed"], false, "{}", atomic.report);

    let first = import("tests", &lab, &file, &args);
    let r = &first.report;
    assert_eq!(first.exit, Some(1), "{}{r}", first.stderr);
    assert_eq!(counts(r), [5000, 4995, 4995, 0, 0, 5].map(Some), "{r}");
    assert_eq!(rejected_at(r, "line"), broken);
    let again = import("tests", &lab, &file, &args);
    assert_eq!(again.exit, Some(1), "{}", again.stderr);
    assert_eq!(
        counts(&again.report),
        [5000, 4995, 0, 0, 4995, 5].map(Some),
        "{}",
        again.report
    );

    // The store holds exactly the valid rows, once each.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM evidence")
            .fetch_one(&mut c)
            .await
            .expect("count");
        assert_eq!(n, 4995);
        c.close().await.ok();
    });
    support::drop_postgres_database(&url);
}
