//! Three `healthcode serve` processes on one PostgreSQL database, nothing in front of them: a
//! result written through one node turns a resident's page on another node within a second;
//! `kill -9` of a node while writers keep writing through all three loses no write any node
//! accepted, the other two keep serving, and the log goes on being sequenced by a survivor.
//!
//! PostgreSQL comes from `HEALTHCODE_TEST_DATABASE_URL` (required when `CI` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The servers under test run on the system clock.
#![allow(clippy::disallowed_methods)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    Server, add_lab, drop_postgres_database, free_port, http, postgres_database, run, start, text,
    wait_ready, with_keys,
};

const DOC: &str = "110101199003070011";

fn node(data: &Path, db: &str) -> (Server, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let server = start(&[
        "serve",
        "--listen",
        &listen,
        "--data-dir",
        text(data),
        "--database-url",
        db,
        "--dev-identity",
        "--rate-limit-per-second",
        "100000",
        "--rate-limit-burst",
        "100000",
    ]);
    let base = format!("http://{listen}");
    wait_ready(&base);
    (server, base)
}

fn result(record: &str, doc: &str, outcome: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "record_id": record, "document_type": "resident_id", "document_number": doc,
        "sampled_at": (now - chrono::Duration::hours(3)).to_rfc3339(),
        "resulted_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "kind": "pcr", "result": outcome,
    })
}

/// A valid resident identity card number (GB 11643 check digit) for `n`.
fn id_number(n: usize) -> String {
    let body = format!("1101011990{:04}{:03}", 101 + n / 1000 % 1000, n % 1000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn checkpoint_size(base: &str) -> u64 {
    let (status, body) = support::get_text(&format!("{base}/log/checkpoint"), "");
    assert_eq!(status, 200, "{body}");
    body.lines().nth(1).unwrap().parse().unwrap()
}

/// Opens the code page's live stream as the resident's browser would (the session cookie),
/// and reads up to its first event.
fn open_live(base: &str, token: &str) -> BufReader<std::net::TcpStream> {
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /code/events HTTP/1.1\r\nHost: {host}\r\nCookie: hc_session={token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert_eq!(next_event(&mut reader), "open");
    reader
}

/// The data of the stream's next `status` event.
fn next_event(reader: &mut BufReader<std::net::TcpStream>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .expect("the stream ended or stalled");
        assert!(n > 0, "the stream ended");
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            return data.to_owned();
        }
    }
}

#[test]
fn three_nodes_share_one_database_and_survive_a_kill() {
    let Some(db) = postgres_database("hc_nodes") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("a");
    assert!(
        run(&["keys", "generate", "--data-dir", text(&first)])
            .status
            .success()
    );
    let lab = add_lab(&first, &["--database-url", &db]);
    let keys = first.join("keys");
    let (a, a_base) = node(&first, &db);
    let (_b, b_base) = node(&with_keys(tmp.path(), "b", &keys), &db);
    let (_c, c_base) = node(&with_keys(tmp.path(), "c", &keys), &db);

    // A resident enrolled through B watches their code page on C; a result written through A
    // turns it within a second.
    let (status, enrol) = http(
        "POST",
        &format!("{b_base}/api/v1/enrol"),
        "",
        Some(json!({"document_type": "resident_id", "document_number": DOC, "name": "陈一"})),
    );
    assert_eq!(status, 201, "{enrol}");
    let token = enrol["token"].as_str().unwrap().to_owned();
    let mut live = open_live(&c_base, &token);
    let written = Instant::now();
    let (status, body) = http(
        "POST",
        &format!("{a_base}/api/v1/test-results"),
        &lab,
        Some(result("VISIBLE-1", DOC, "positive")),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(next_event(&mut live), "changed");
    let told = written.elapsed();
    let (status, me) = http("GET", &format!("{c_base}/api/v1/me/status"), &token, None);
    assert_eq!(status, 200, "{me}");
    assert_ne!(me["colour"], "green", "{me}");
    eprintln!("a write on A reached the live page on C after {told:?}");
    assert!(told < Duration::from_secs(1), "{told:?}");

    // Writers through all three nodes; A is killed while they write.
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let bases = [a_base.clone(), b_base.clone(), c_base.clone()];
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (accepted, refused, stop) = (accepted.clone(), refused.clone(), stop.clone());
            let (bases, lab) = (bases.clone(), lab.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let _in_runtime = rt.enter();
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let record = format!("LOAD-{w}-{n}");
                    let doc = id_number(w * 1000 + n % 1000);
                    let base = &bases[n % 3];
                    let sent = rt.block_on(
                        client
                            .post(format!("{base}/api/v1/test-results"))
                            .bearer_auth(&lab)
                            .json(&result(&record, &doc, "negative"))
                            .send(),
                    );
                    match sent {
                        Ok(r) if r.status().as_u16() == 201 => {
                            accepted.lock().unwrap().push(record);
                        }
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let before_kill = accepted.lock().unwrap().len();
    drop(a); // SIGKILL: no shutdown, no flush.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    eprintln!(
        "{} writes accepted ({before_kill} before the kill), {} refused or unanswered",
        accepted.len(),
        refused.load(Ordering::Relaxed)
    );
    assert!(before_kill > 10, "the writers barely wrote");
    assert!(
        accepted.len() > before_kill,
        "the surviving nodes took no writes after the kill"
    );

    // Every accepted write is stored, whichever node took it, A included.
    for (i, record) in accepted.iter().enumerate() {
        let base = if i % 2 == 0 { &b_base } else { &c_base };
        let (status, body) = http(
            "GET",
            &format!("{base}/api/v1/records/{record}"),
            &lab,
            None,
        );
        assert_eq!(
            status, 200,
            "{record} was accepted but is not stored: {body}"
        );
    }
    // The survivors keep serving, and the log is still sequenced: a write through B is in
    // a checkpoint C serves.
    let size = checkpoint_size(&c_base);
    let (status, body) = http(
        "POST",
        &format!("{b_base}/api/v1/test-results"),
        &lab,
        Some(result("AFTER-1", DOC, "negative")),
    );
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while checkpoint_size(&c_base) <= size {
        assert!(
            Instant::now() < deadline,
            "nothing sequenced the log after the kill"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = http("GET", &format!("{c_base}/api/v1/me/status"), &token, None);
    assert_eq!(status, 200);
    drop(live);
    drop(_b);
    drop(_c);
    drop_postgres_database(&db);
}
