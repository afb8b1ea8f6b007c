//! The transparency log over HTTP: an accepted result is in a signed checkpoint within about
//! a second; the tiles under `/log/` rebuild that checkpoint's root; malformed and
//! out-of-tree tile paths are 404; a resident's receipts carry proofs that check offline
//! against the key at `/log/key`; and two nodes on one database serve one log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use healthcode_store::leaf::Receipt;
use healthcode_tlog::{
    Checkpoint, Hash, NoteVerifier, Tile, TlogProof, leaf_hash, parse_entry_bundle,
    root_from_tiles, tile_from_bytes, tiles_for_size,
};
use reqwest::StatusCode;

use common::{DOC, TestApp};

async fn text(app: &TestApp, path: &str) -> (StatusCode, String, Option<String>) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    let status = resp.status();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.text().await.unwrap(), cache)
}

async fn bytes(app: &TestApp, path: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    let status = resp.status();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.bytes().await.unwrap().to_vec(), cache)
}

fn kind(entry: &[u8]) -> String {
    healthcode_store::leaf::Entry::parse(entry).unwrap().kind
}

async fn key(app: &TestApp) -> NoteVerifier {
    let (status, body, _) = text(app, "/log/key").await;
    assert_eq!(status, StatusCode::OK);
    NoteVerifier::parse(body.trim_end()).unwrap()
}

/// Polls the checkpoint until it holds at least `size` leaves; returns it and how long that
/// took.
async fn checkpoint_of(app: &TestApp, size: u64) -> (Checkpoint, String, Duration) {
    let key = key(app).await;
    let started = Instant::now();
    loop {
        let (status, signed, cache) = text(app, "/log/checkpoint").await;
        if status == StatusCode::OK {
            assert_eq!(cache.as_deref(), Some("no-cache"));
            let checkpoint =
                Checkpoint::open(signed.as_bytes(), key.name(), std::slice::from_ref(&key))
                    .unwrap();
            if checkpoint.size() >= size {
                return (checkpoint, signed, started.elapsed());
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the log never reached {size} leaves"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every tile of `checkpoint`'s tree, fetched over HTTP, rebuilds its root; returns the
/// entries.
async fn entries_from_tiles(app: &TestApp, checkpoint: &Checkpoint) -> Vec<Vec<u8>> {
    let mut tiles: BTreeMap<Tile, Vec<Hash>> = BTreeMap::new();
    let mut entries = Vec::new();
    for tile in tiles_for_size(checkpoint.size()) {
        let (status, data, cache) = bytes(app, &format!("/log/{}", tile.path())).await;
        assert_eq!(status, StatusCode::OK, "{}", tile.path());
        assert!(cache.unwrap().contains("immutable"));
        tiles.insert(tile, tile_from_bytes(&tile, &data).unwrap());
        if let Some(path) = tile.entries_path() {
            let (status, bundle, _) = bytes(app, &format!("/log/{path}")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let parsed = parse_entry_bundle(&bundle, tile.width()).unwrap();
            let hashes: Vec<Hash> = parsed.iter().map(|e| leaf_hash(e)).collect();
            assert_eq!(hashes, tiles[&tile]);
            entries.extend(parsed);
        }
    }
    assert_eq!(
        &root_from_tiles(checkpoint.size(), &tiles).unwrap(),
        checkpoint.root()
    );
    entries
}

#[tokio::test]
async fn an_accepted_result_is_in_a_signed_checkpoint_within_a_second() {
    let app = TestApp::spawn().await;
    let key = key(&app).await;
    assert_eq!(
        key.name(),
        format!(
            "{}/log",
            app.state.config.public_url.trim_start_matches("http://")
        )
    );
    let (status, body) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr("R-1", DOC, "negative", 3),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The server's first retention run (at start) is logged too.
    let (checkpoint, _, took) = checkpoint_of(&app, 2).await;
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(checkpoint.size(), 2);
    let entries = entries_from_tiles(&app, &checkpoint).await;
    let kinds: Vec<String> = entries.iter().map(|e| kind(e)).collect();
    kinds
        .iter()
        .find(|k| *k == "purge")
        .expect("the purge's leaf");
    let test = entries.iter().find(|e| kind(e) == "test").unwrap();
    let entry = String::from_utf8(test.clone()).unwrap();
    assert!(!entry.contains(DOC) && !entry.contains("R-1"));

    // Three hundred more, from a batch, cross a tile boundary.
    let rows: Vec<serde_json::Value> = (0..300)
        .map(|i| app.pcr(&format!("B-{i}"), DOC, "negative", 4))
        .collect();
    for row in rows {
        let (status, _) = app
            .post("/api/v1/test-results", Some(&app.keys.lab), row)
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (checkpoint, _, _) = checkpoint_of(&app, 302).await;
    let again = entries_from_tiles(&app, &checkpoint).await;
    assert_eq!(again[..2], entries[..], "an entry never changes");
    assert_eq!(again.len(), 302);

    // Paths that are not tiles, and tiles beyond the tree, are 404; so is a narrower width
    // asked as full.
    for path in [
        "/log/tile/0/002",
        "/log/tile/0/001.p/47",
        "/log/tile/0/x",
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/9/000",
        "/log/tile/64/000",
        "/log/tile/entries/002",
        "/log/tile/0/0",
        "/log/tile/0/1/000",
        "/log/tile/",
        "/log/checkpoints",
    ] {
        let (status, _, _) = bytes(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, narrow, _) = bytes(&app, "/log/tile/0/001.p/10").await;
    assert_eq!((status, narrow.len()), (StatusCode::OK, 320));
}

#[tokio::test]
async fn a_residents_receipts_prove_their_records_offline() {
    let app = TestApp::spawn().await;
    let token = app.enrol(DOC, "张三").await;
    for (record, result) in [("R-1", "positive"), ("R-2", "negative")] {
        let (status, body) = app
            .post(
                "/api/v1/test-results",
                Some(&app.keys.lab),
                app.pcr(record, DOC, result, 5),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Until both are in a checkpoint (the log holds other leaves too, such as the start's
    // purge, so a size of 2 does not say which).
    let started = Instant::now();
    let body = loop {
        let (status, body) = app.get("/api/v1/me/receipts", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let proved = body["receipts"]
            .as_array()
            .is_some_and(|r| r.len() == 2 && r.iter().all(|r| r["proof"].is_string()));
        if proved {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the records were not sequenced: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let key = NoteVerifier::parse(body["log"].as_str().unwrap()).unwrap();
    let receipts: Vec<Receipt> = serde_json::from_value(body["receipts"].clone()).unwrap();
    assert_eq!(receipts.len(), 2);
    for r in &receipts {
        let entry = r.check_record().unwrap();
        assert_eq!(entry.kind, "test");
        assert_eq!(entry.actor.split('/').next(), Some("provider"));
        let proof = TlogProof::parse(r.proof.as_ref().unwrap().as_bytes()).unwrap();
        assert_eq!(Some(proof.index()), r.index);
        proof
            .verify(
                &leaf_hash(r.entry.as_bytes()),
                key.name(),
                std::slice::from_ref(&key),
            )
            .unwrap();
    }
    assert!(receipts[0].record.contains("\"outcome\":\"positive\""));
    // Nobody else's, and not without a session.
    let other = app.enrol(common::DOC_B, "李四").await;
    let (_, body) = app.get("/api/v1/me/receipts", Some(&other)).await;
    assert_eq!(body["receipts"].as_array().unwrap().len(), 0);
    let (status, _) = app.get("/api/v1/me/receipts", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_nodes_on_one_database_serve_one_log() {
    let one = TestApp::spawn().await;
    let two = one.second_node().await;
    assert_eq!(key(&one).await, key(&two).await);
    for (i, node) in [&one, &two, &one, &two].into_iter().enumerate() {
        let (status, _) = node
            .post(
                "/api/v1/test-results",
                Some(&node.keys.lab),
                node.pcr(&format!("R-{i}"), DOC, "negative", 3),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // Four results and each node's first retention run.
    let (checkpoint, _, _) = checkpoint_of(&one, 6).await;
    let (same, _, _) = checkpoint_of(&two, checkpoint.size()).await;
    assert_eq!(same.root(), checkpoint.root());
    let a = entries_from_tiles(&one, &checkpoint).await;
    let b = entries_from_tiles(&two, &checkpoint).await;
    assert_eq!(a, b);
    assert_eq!(a.iter().filter(|e| kind(e) == "test").count(), 4);
}
