//! `healthcode venues …` and `healthcode purge` on a data directory: the printed poster
//! rendered by a real headless Chromium and its QR read back from the screenshot, and old
//! check-ins deleted for good.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    // The binary reads the wall clock; the test compares against it.
    clippy::disallowed_methods
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use healthcode_credential::{TrustList, Verifier};
use sqlx::{Connection, Row};

use support::BIN;

fn healthcode(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("HEALTHCODE_LOG", "warn")
        .output()
        .expect("run healthcode");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "healthcode {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Debian's Chromium, or `None` outside CI when it is not installed (in CI it must be).
fn chromium() -> Option<PathBuf> {
    for p in ["/usr/lib/chromium/chromium", "/usr/bin/chromium"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs Chromium (apt-get install -y chromium; .ci/run does it)"
    );
    eprintln!("Chromium not installed: skipping");
    None
}

fn add_venue(data: &str) -> i64 {
    let out = healthcode(&[
        "venues",
        "add",
        "--data-dir",
        data,
        "--name",
        "西单站 <Xidan> & \"Co\"",
        "--kind",
        "subway",
        "--district",
        "西城区",
        "--address",
        "西单北大街",
    ]);
    out.trim()
        .strip_prefix("Added venue #")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {out}"))
}

#[test]
fn the_printed_poster_scans_as_the_venues_place_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let id = add_venue(data);
    let page = dir.path().join("poster.html");
    let out = healthcode(&[
        "venues",
        "poster",
        &id.to_string(),
        "--data-dir",
        data,
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    let code = out
        .lines()
        .find_map(|l| l.strip_prefix("place code: "))
        .expect("the place code is printed")
        .to_owned();
    // The same poster printed again is the same poster.
    let again = healthcode(&[
        "venues",
        "poster",
        &id.to_string(),
        "--data-dir",
        data,
        "--out",
        dir.path().join("p.svg").to_str().unwrap(),
    ]);
    assert!(again.contains(&code), "{again}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("西单站 &lt;Xidan&gt; &amp;"),
        "the name is escaped"
    );

    // The trust list of the data directory verifies the printed code as this venue.
    let list = healthcode(&["keys", "trust-list", "--data-dir", data]);
    let verifier = Verifier::new(&[TrustList::from_json(list.trim(), None).unwrap()]);
    let now = chrono::DateTime::from_timestamp(unix_now(), 0).unwrap();
    assert_eq!(verifier.verify_place(&code, now).unwrap().venue_id, id);

    let Some(chromium) = chromium() else {
        return;
    };
    let shot = dir.path().join("poster.png");
    let profile = dir.path().join("chromium-profile");
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1240,1754",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", page.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish the screenshot");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    let read = healthcode_qrscan::read(&png).expect("the QR on the page reads");
    assert_eq!(read, [code]);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn purge_deletes_old_check_ins_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let id = add_venue(data_s);
    let db = format!("sqlite://{}", data.join("healthcode.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secs = |days: i64| unix_now() - days * 86_400;
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        for (n, days) in [(0, 30), (1, 22), (2, 20), (3, 1)] {
            sqlx::query(
                "INSERT INTO checkins (venue_id, subject, at, method, passed, received_at) \
                 VALUES (?, ?, ?, 'self_scan', 1, ?)",
            )
            .bind(id)
            .bind(vec![n as u8; 16])
            .bind(secs(days))
            .bind(secs(0))
            .execute(&mut c)
            .await
            .unwrap();
        }
    });
    let out = healthcode(&["purge", "--data-dir", data_s]);
    assert!(out.starts_with("deleted 2 check-ins"), "{out}");
    let out = healthcode(&["purge", "--data-dir", data_s]);
    assert!(out.starts_with("deleted 0 check-ins"), "{out}");
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        let left: Vec<i64> = sqlx::query("SELECT at FROM checkins ORDER BY at")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<i64, _>("at"))
            .collect();
        assert_eq!(left.len(), 2, "the rows are gone, not flagged");
        assert!(left.iter().all(|&at| at > secs(21)));
        let purges: Vec<i64> = sqlx::query("SELECT deleted FROM purges ORDER BY id")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<i64, _>("deleted"))
            .collect();
        assert_eq!(purges, vec![2, 0]);
    });
}
