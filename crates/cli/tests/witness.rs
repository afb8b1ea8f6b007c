//! `healthcode witness`, the real binary over HTTP: it follows a growing log, keeps its state
//! across a restart and then still refuses a fork and a rollback, answers a stale old size
//! with 409 and its size, refuses oversized and malformed bodies, unknown logs and other keys,
//! lets only one of several concurrent requests advance from one state, and keeps one name per
//! key. The log's side is `healthcode_tlog` over a `MemoryTree`.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)] // tests state their expectations

mod support;

use std::path::Path;
use std::process::Command;

use healthcode_tlog::{
    Checkpoint, CosignatureVerifier, MemoryTree, Note, NoteSigner, add_checkpoint_request,
    add_cosignatures, parse_add_checkpoint_response, parse_tlog_size, witnessed,
};

use support::Witness;

const ORIGIN: &str = "log.example/healthcode";
const NAME: &str = "witness.example/w1";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[0x11; 32]).expect("key")
}

fn tree(name: &str, len: u64) -> MemoryTree {
    MemoryTree::from_entries((0..len).map(|i| format!("{name} {i}")))
}

fn signed(tree: &MemoryTree, size: u64, key: &NoteSigner) -> String {
    Checkpoint::new(key.name(), size, tree.root_at(size).expect("size"))
        .expect("valid")
        .sign(&[key])
        .expect("signs")
}

/// The body a log holding `tree` sends to move the witness from `old` to `size`.
fn request(tree: &MemoryTree, old: u64, size: u64) -> String {
    let proof = if old == 0 {
        Vec::new()
    } else {
        tree.consistency_proof(old, size).expect("proof")
    };
    add_checkpoint_request(old, &proof, &signed(tree, size, &log_key()))
}

fn start(dir: &Path, logs: &[String]) -> Witness {
    support::start_witness(dir, NAME, logs)
}

fn log_vkeys() -> Vec<String> {
    vec![log_key().verifier().to_string()]
}

/// One POST: status, content type and body.
fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, String, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{url}/add-checkpoint"))
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, kind, response.text().await.expect("body"))
    })
}

/// Posts `body` and expects a cosignature by the witness of `vkey` on its checkpoint.
fn expect_cosigned(witness: &Witness, body: &str) {
    let (status, _, answer) = post(&witness.url, body.to_owned());
    assert_eq!(status, 200, "{answer}");
    let verifier = CosignatureVerifier::parse(&witness.vkey).expect("the printed key");
    let signed = body.split_once("\n\n").expect("blank line").1;
    let mut note = Note::parse(signed.as_bytes()).expect("note");
    let lines = parse_add_checkpoint_response(&answer).expect("signature lines");
    assert_eq!(
        add_cosignatures(&mut note, &lines, std::slice::from_ref(&verifier)),
        Ok(1)
    );
    assert!(witnessed(&note, &[verifier], 1).is_ok());
}

fn expect_conflict(witness: &Witness, body: &str, size: u64) {
    let (status, kind, answer) = post(&witness.url, body.to_owned());
    assert_eq!(
        (status, kind.as_str()),
        (409, "text/x.tlog.size"),
        "{answer}"
    );
    assert_eq!(parse_tlog_size(&answer), Some(size));
}

fn status(witness: &Witness, body: &str) -> u16 {
    post(&witness.url, body.to_owned()).0
}

#[test]
fn a_witness_follows_a_log_and_keeps_its_state_across_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let log = tree("a", 40);
    let ours = tree("b", 40);

    let printed = Command::new(support::BIN)
        .args(["witness", "key", "--name", NAME, "--state"])
        .arg(dir.path())
        .output()
        .expect("witness key");
    assert!(printed.status.success());
    let vkey = String::from_utf8(printed.stdout).expect("text");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("witness.key"))
            .expect("the seed")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let witness = start(dir.path(), &log_vkeys());
    assert_eq!(format!("{}\n", witness.vkey), vkey);
    expect_cosigned(&witness, &request(&log, 0, 3));
    expect_cosigned(&witness, &request(&log, 3, 8));
    // The same checkpoint again: cosigned again.
    expect_cosigned(&witness, &request(&log, 8, 8));
    expect_conflict(&witness, &request(&log, 3, 9), 8);
    drop(witness);

    let witness = start(dir.path(), &log_vkeys());
    assert_eq!(format!("{}\n", witness.vkey), vkey);
    // It remembers size 8.
    expect_conflict(&witness, &request(&log, 0, 10), 8);
    // Another root at size 8: 409; a larger tree not extending it: 422.
    assert_eq!(status(&witness, &request(&ours, 8, 8)), 409);
    assert_eq!(status(&witness, &request(&ours, 8, 12)), 422);
    // A smaller tree: 400.
    let back = add_checkpoint_request(8, &[], &signed(&log, 5, &log_key()));
    assert_eq!(status(&witness, &back), 400);
    // The log goes on.
    expect_cosigned(&witness, &request(&log, 8, 40));
    drop(witness);

    let witness = start(dir.path(), &log_vkeys());
    expect_conflict(&witness, &request(&log, 8, 12), 40);
}

#[test]
fn refusals() {
    let dir = tempfile::tempdir().expect("dir");
    let log = tree("a", 10);
    let witness = start(dir.path(), &log_vkeys());

    // Too large a body: 413, whatever it holds.
    let (code, _, _) = post(&witness.url, vec![b'a'; 20 * 1024]);
    assert_eq!(code, 413);
    let mut padded = request(&log, 0, 4);
    padded.push_str(&"\u{2014} x AAAAAAA=\n".repeat(2000));
    assert_eq!(status(&witness, &padded), 413);

    // Malformed: 400.
    for bad in [
        String::new(),
        "old 0\n".to_owned(),
        signed(&log, 4, &log_key()),
        request(&log, 0, 4).replacen("old 0", "old 00", 1),
        request(&log, 2, 4).replacen('\n', "\r\n", 1),
    ] {
        assert_eq!(status(&witness, &bad), 400, "{bad:?}");
    }
    let (code, _, _) = post(&witness.url, vec![0xff, 0xfe, b'\n', b'\n']);
    assert_eq!(code, 400);

    // Another log: 404. The log's name with another key: 403.
    let stranger = NoteSigner::from_seed("log.example/other", &[0x11; 32]).expect("key");
    let body = add_checkpoint_request(0, &[], &signed(&log, 4, &stranger));
    assert_eq!(status(&witness, &body), 404);
    let impostor = NoteSigner::from_seed(ORIGIN, &[0x66; 32]).expect("key");
    let body = add_checkpoint_request(0, &[], &signed(&log, 4, &impostor));
    assert_eq!(status(&witness, &body), 403);

    // None of that moved it: it is still at size 0.
    expect_cosigned(&witness, &request(&log, 0, 4));
    // A bad proof: 422.
    let mut proof = log.consistency_proof(4, 10).expect("proof");
    proof[0].0[0] ^= 1;
    let body = add_checkpoint_request(4, &proof, &signed(&log, 10, &log_key()));
    assert_eq!(status(&witness, &body), 422);
}

#[test]
fn concurrent_requests_do_not_both_advance_from_one_state() {
    let dir = tempfile::tempdir().expect("dir");
    let log = tree("a", 40);
    let witness = start(dir.path(), &log_vkeys());

    // Twelve requests from size 0 at once, to different sizes: one wins, the others learn its
    // size.
    let bodies: Vec<String> = (1..=12).map(|size| request(&log, 0, size * 3)).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let answers = runtime.block_on(futures_util::future::join_all(bodies.iter().map(|body| {
        let request = client
            .post(format!("{}/add-checkpoint", witness.url))
            .body(body.clone())
            .send();
        async move {
            let response = request.await.expect("request");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    })));
    let won: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i].0 == 200)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    let size = (won[0] as u64 + 1) * 3;
    for (i, (status, body)) in answers.iter().enumerate() {
        if i != won[0] {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(parse_tlog_size(body), Some(size));
        }
    }
    expect_cosigned(&witness, &request(&log, size, 40));
}

#[test]
fn a_state_directory_keeps_one_name_and_one_process() {
    let dir = tempfile::tempdir().expect("dir");
    let key = |name: &str| {
        Command::new(support::BIN)
            .args(["witness", "key", "--name", name, "--state"])
            .arg(dir.path())
            .output()
            .expect("witness key")
    };
    let first = key(NAME);
    assert!(first.status.success());
    let again = key(NAME);
    assert_eq!(again.stdout, first.stdout);
    let renamed = key("witness.example/w2");
    assert!(!renamed.status.success());
    assert!(String::from_utf8_lossy(&renamed.stderr).contains("one name only"));

    let _serving = start(dir.path(), &log_vkeys());
    let second = Command::new(support::BIN)
        .args([
            "witness",
            "--listen",
            "127.0.0.1:0",
            "--name",
            NAME,
            "--state",
        ])
        .arg(dir.path())
        .args(["--log", &log_vkeys()[0]])
        .output()
        .expect("a second witness");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another witness"));
}
