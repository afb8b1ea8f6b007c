//! `healthcode audit` as an outside auditor runs it, against a C2SP tlog-tiles log served by a
//! small in-test HTTP server: a log built with `MemoryTree`, its tiles and entry bundles, and a
//! checkpoint signed with a `NoteSigner`, whose answers each test changes the way a dishonest or
//! broken log would. And `healthcode audit receipt` on receipts (docs/FORMAT.md §10.4), good
//! and tampered.
//!
//! Exit status 0 is verified, 1 refused (with a message naming what failed), 2 not checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests state expectations

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use healthcode_store::leaf::{Entry, Receipt};
use healthcode_tlog::{
    Checkpoint, MemoryTree, NoteSigner, TlogProof, encode_entry_bundle, tile_for, tile_to_bytes,
    tiles_for_size,
};

use support::BIN;

const ORIGIN: &str = "healthcode.example/log";

/// The record, salt and entry of leaf `i`.
fn leaf(i: u64) -> (String, [u8; 16], Vec<u8>) {
    let record = format!("{{\"table\":\"evidence\",\"id\":{i}}}");
    let salt = [(i % 251) as u8; 16];
    let kind = ["test", "vaccination", "release", "purge"][(i % 4) as usize];
    let entry = Entry::new(
        kind,
        1_733_400_000 + i as i64,
        "provider/12",
        &salt,
        record.as_bytes(),
    )
    .expect("words")
    .to_bytes();
    (record, salt, entry)
}

fn signer(seed: u8) -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[seed; 32]).expect("signer")
}

/// What the test server answers: paths under /log/ and their bodies.
type Files = HashMap<String, Vec<u8>>;

/// The log of `entries` as served at size `entries.len()`, signed by `signer`, its key file
/// naming `key`.
fn publish(entries: &[Vec<u8>], signer: &NoteSigner, key: &NoteSigner) -> Files {
    let tree = MemoryTree::from_entries(entries);
    let size = tree.len();
    let mut files = Files::new();
    for tile in tiles_for_size(size) {
        files.insert(
            tile.path(),
            tile_to_bytes(&tree.tile(&tile).expect("complete")),
        );
        if let Some(path) = tile.entries_path() {
            let first = (tile.index() * 256) as usize;
            let bundle = &entries[first..first + usize::from(tile.width())];
            files.insert(path, encode_entry_bundle(bundle).expect("small entries"));
        }
    }
    let checkpoint = Checkpoint::new(ORIGIN, size, tree.root()).expect("checkpoint");
    files.insert(
        "checkpoint".into(),
        checkpoint.sign(&[signer]).expect("signed").into_bytes(),
    );
    files.insert("key".into(), format!("{}\n", key.verifier()).into_bytes());
    files
}

fn entries(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| leaf(i).2).collect()
}

/// An HTTP server answering `GET /log/…` from the files it is given, replaceable at any time.
struct LogServer {
    url: String,
    files: Arc<Mutex<Files>>,
    _runtime: tokio::runtime::Runtime,
}

impl LogServer {
    fn start(files: Files) -> LogServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let files = Arc::new(Mutex::new(files));
        let served = files.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let files = served.clone();
            async move {
                let path = uri.path().strip_prefix("/log/").unwrap_or_default();
                match files.lock().expect("files").get(path) {
                    Some(body) => (StatusCode::OK, body.clone()),
                    None => (StatusCode::NOT_FOUND, Vec::new()),
                }
            }
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        runtime.spawn(async move { axum::serve(listener, app).await });
        LogServer {
            url,
            files,
            _runtime: runtime,
        }
    }

    fn serve(&self, files: Files) {
        *self.files.lock().expect("files") = files;
    }

    fn change(&self, path: &str, change: impl FnOnce(&mut Vec<u8>)) {
        let mut files = self.files.lock().expect("files");
        change(files.get_mut(path).expect("a served file"));
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn healthcode(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run healthcode");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn audit(server: &LogServer, state: &Path, extra: &[&str]) -> Run {
    let state = state.to_str().expect("utf-8");
    let mut args = vec!["audit", "--server", &server.url, "--state", state];
    args.extend_from_slice(extra);
    healthcode(&args)
}

#[track_caller]
fn verified(run: &Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

#[track_caller]
fn refused(run: &Run, says: &str) {
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(says),
        "{says:?} not in {:?}",
        run.stderr
    );
}

/// A server with a log of `size` entries already audited once into a fresh state directory.
fn audited(size: u64) -> (LogServer, tempfile::TempDir, Vec<Vec<u8>>) {
    let entries = entries(size);
    let server = LogServer::start(publish(&entries, &signer(1), &signer(1)));
    let state = tempfile::tempdir().expect("tempdir");
    verified(&audit(&server, state.path(), &[]));
    (server, state, entries)
}

#[test]
fn a_healthy_log_audited_as_it_grows() {
    let entries = entries(1100);
    let key = signer(1);
    let server = LogServer::start(publish(&entries[..300], &key, &key));
    let state = tempfile::tempdir().expect("tempdir");

    let first = audit(&server, state.path(), &[]);
    verified(&first);
    assert!(
        first.stdout.contains("pinned the log key"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("size 300"), "{}", first.stdout);
    assert!(
        first.stdout.contains("checked 300 entries"),
        "{}",
        first.stdout
    );
    let pinned = std::fs::read_to_string(state.path().join("log-key")).expect("pinned");
    assert_eq!(pinned, format!("{}\n", key.verifier()));

    // Grown across tile boundaries at both levels; the state carries the last checkpoint.
    for size in [301, 700, 1024, 1100] {
        server.serve(publish(&entries[..size as usize], &key, &key));
        let run = audit(&server, state.path(), &[]);
        verified(&run);
        assert!(!run.stdout.contains("pinned"), "{}", run.stdout);
        assert!(
            run.stdout.contains(&format!("size {size}")),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("consistent with the checkpoint"),
            "{}",
            run.stdout
        );
    }
    let saved = std::fs::read(state.path().join("checkpoint")).expect("saved");
    assert_eq!(saved, server.files.lock().expect("files")["checkpoint"]);

    // Unchanged: the same tree again. The key given agrees with the one pinned.
    let key_arg = key.verifier().to_string();
    let again = audit(&server, state.path(), &["--log-key", &key_arg]);
    verified(&again);
    assert!(again.stdout.contains("the same tree"), "{}", again.stdout);

    // Without a state directory nothing is pinned or compared, but the tree is still checked.
    let stateless = healthcode(&["audit", "--server", &server.url, "--log-key", &key_arg]);
    verified(&stateless);
    assert!(stateless.stdout.contains("checked 1100 entries"));
}

#[test]
fn a_rollback_is_refused() {
    let (server, state, entries) = audited(700);
    server.serve(publish(&entries[..500], &signer(1), &signer(1)));
    refused(
        &audit(&server, state.path(), &[]),
        "rollback: the server's checkpoint has size 500, smaller than the 700 seen before",
    );
}

#[test]
fn a_rewritten_leaf_is_a_fork() {
    let (server, state, mut entries) = audited(700);
    // Leaf 10 rewritten, the tree rebuilt and grown, the checkpoint signed again: every tile
    // agrees with the new root, but not with the checkpoint seen before.
    entries[10] = leaf(9999).2;
    entries.extend((700..800).map(|i| leaf(i).2));
    server.serve(publish(&entries, &signer(1), &signer(1)));
    let run = audit(&server, state.path(), &[]);
    refused(
        &run,
        "fork: the tree of size 800 the server serves had root",
    );
    assert!(run.stderr.contains("at size 700"), "{}", run.stderr);

    // Served at the same size as before, it is two roots for one size.
    server.serve(publish(&entries[..700], &signer(1), &signer(1)));
    refused(
        &audit(&server, state.path(), &[]),
        "fork: the server's checkpoint for size 700 has root",
    );
}

#[test]
fn an_altered_tile_or_entry_is_named() {
    let (server, state, entries) = audited(600);
    let honest = publish(&entries, &signer(1), &signer(1));

    // A leaf hash in a full level-0 tile.
    server.change("tile/0/001", |tile| tile[40] ^= 1);
    refused(
        &audit(&server, state.path(), &[]),
        "tile tile/0/001 does not hash to the entries of tile/entries/001",
    );

    // An entry changed under its tile.
    server.serve(honest.clone());
    server.change("tile/entries/002.p/88", |bundle| {
        let at = bundle.len() - 5;
        bundle[at] ^= 1;
    });
    let run = audit(&server, state.path(), &[]);
    refused(
        &run,
        "tile tile/0/002.p/88 does not hash to the entries of tile/entries/002.p/88",
    );
    assert!(run.stderr.contains("entry 599"), "{}", run.stderr);

    // A hash in the level-1 tile.
    server.serve(honest.clone());
    server.change("tile/1/000.p/2", |tile| tile[33] ^= 1);
    refused(
        &audit(&server, state.path(), &[]),
        "tile tile/1/000.p/2 does not hash to the tiles below it",
    );

    // A tile of the wrong length, and a tile that is too large to be one.
    server.serve(honest.clone());
    server.change("tile/0/000", |tile| tile.truncate(100));
    refused(
        &audit(&server, state.path(), &[]),
        "tile tile/0/000 is malformed",
    );
    server.change("tile/0/000", |tile| tile.resize(9000, 0));
    refused(
        &audit(&server, state.path(), &[]),
        "more than the 8192 bytes allowed",
    );

    // A missing tile is not a verdict on the log: exit 2.
    server.serve(honest.clone());
    server
        .files
        .lock()
        .expect("files")
        .remove("tile/entries/001");
    let run = audit(&server, state.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("tile/entries/001 answered 404"),
        "{}",
        run.stderr
    );

    // Nothing altered: verified, and the saved checkpoint never moved.
    server.serve(honest);
    verified(&audit(&server, state.path(), &[]));
}

#[test]
fn a_checkpoint_signed_with_another_key_is_refused() {
    let (server, state, entries) = audited(300);
    let files = publish(&entries, &signer(2), &signer(1));
    server.serve(files);
    refused(
        &audit(&server, state.path(), &[]),
        "the checkpoint is not signed by the log's key",
    );

    // The same on a first audit with the key given.
    let fresh = tempfile::tempdir().expect("tempdir");
    let key = signer(1).verifier().to_string();
    refused(
        &audit(&server, fresh.path(), &["--log-key", &key]),
        "the checkpoint is not signed by the log's key",
    );
    // A key is pinned only with a checkpoint it was seen to sign.
    assert!(!fresh.path().join("log-key").exists());
    assert!(!fresh.path().join("checkpoint").exists());
}

#[test]
fn a_key_other_than_the_pinned_one_is_refused() {
    let (server, state, entries) = audited(300);
    // The server now signs with, and serves, another key for the same origin.
    server.serve(publish(&entries, &signer(2), &signer(2)));
    refused(
        &audit(&server, state.path(), &[]),
        "the server now serves log key",
    );
    // A --log-key other than the pinned one.
    let other = signer(3).verifier().to_string();
    refused(
        &audit(&server, state.path(), &["--log-key", &other]),
        "is not the log key pinned in",
    );
    // Neither --server nor a receipt: a usage error.
    let run = healthcode(&["audit"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--server URL"), "{}", run.stderr);
}

#[test]
fn malformed_entries_are_reported() {
    let mut entries = entries(20);
    entries[7] = b"not an entry\n".to_vec();
    let server = LogServer::start(publish(&entries, &signer(1), &signer(1)));
    let state = tempfile::tempdir().expect("tempdir");
    let run = audit(&server, state.path(), &[]);
    refused(&run, "1 of the 20 entries is not a healthcode/1 entry");
    assert!(run.stderr.contains("entry 7"), "{}", run.stderr);
    // The tree itself checked out, so its checkpoint is kept.
    assert!(state.path().join("checkpoint").exists());
}

// --- Receipts --------------------------------------------------------------------------------

/// The receipt of leaf `index` in a log of `size` entries signed by `signer`.
fn receipt(index: u64, size: u64, signer: &NoteSigner) -> Receipt {
    let entries = entries(size);
    let tree = MemoryTree::from_entries(&entries);
    let checkpoint = Checkpoint::new(ORIGIN, size, tree.root())
        .expect("checkpoint")
        .sign(&[signer])
        .expect("signed");
    let proof = TlogProof::new(
        index,
        tree.inclusion_proof(index, size).expect("in range"),
        &checkpoint,
    )
    .expect("proof");
    let (record, salt, entry) = leaf(index);
    Receipt {
        kind: Entry::parse(&entry).expect("entry").kind,
        record,
        salt: STANDARD.encode(salt),
        entry: String::from_utf8(entry).expect("ascii"),
        index: Some(index),
        proof: Some(proof.to_string()),
    }
}

fn check_receipt(receipt: &Receipt, key: &NoteSigner) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receipt.json");
    std::fs::write(&path, serde_json::to_vec(receipt).expect("json")).expect("write");
    let key = key.verifier().to_string();
    healthcode(&[
        "audit",
        "receipt",
        path.to_str().expect("utf-8"),
        "--log-key",
        &key,
    ])
}

#[test]
fn a_good_receipt_verifies() {
    let key = signer(1);
    let run = check_receipt(&receipt(41, 300, &key), &key);
    verified(&run);
    assert!(run.stdout.contains("receipt verified"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("a vaccination record, accepted 2024-12-05T12:00:41Z from provider/12"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("entry 41 of log healthcode.example/log")
    );
    assert!(run.stdout.contains("checkpoint of size 300"));
}

#[test]
fn tampered_receipts_are_refused() {
    let key = signer(1);
    let good = receipt(41, 300, &key);

    let mut record = good.clone();
    record.record = record.record.replace("41", "42");
    refused(
        &check_receipt(&record, &key),
        "the record does not match its entry's commitment",
    );

    let mut salt = good.clone();
    salt.salt = STANDARD.encode([0u8; 16]);
    refused(
        &check_receipt(&salt, &key),
        "the record does not match its entry's commitment",
    );

    let mut index = good.clone();
    index.index = Some(42);
    refused(
        &check_receipt(&index, &key),
        "the proof is for entry 41, not the receipt's entry 42",
    );

    // The proof's index changed with the receipt's: the path leads elsewhere.
    let mut moved = good.clone();
    moved.index = Some(42);
    moved.proof = good
        .proof
        .as_ref()
        .map(|p| p.replace("\nindex 41\n", "\nindex 42\n"));
    refused(
        &check_receipt(&moved, &key),
        "the proof does not lead to the checkpoint's root",
    );

    refused(
        &check_receipt(&good, &signer(2)),
        "the proof's checkpoint is not signed by the log's key",
    );

    let mut pending = good.clone();
    pending.index = None;
    pending.proof = None;
    refused(
        &check_receipt(&pending, &key),
        "the receipt has no proof yet",
    );
}

#[test]
fn tile_paths_the_tests_change_are_the_logs() {
    // The paths above are those a tree of 600 leaves has.
    assert_eq!(tile_for(0, 2, 600).expect("tile").path(), "tile/0/002.p/88");
    assert_eq!(tile_for(1, 0, 600).expect("tile").path(), "tile/1/000.p/2");
    assert_eq!(tile_for(0, 1, 600).expect("tile").path(), "tile/0/001");
}
