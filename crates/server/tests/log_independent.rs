//! The log read by code that knows nothing of this project: the checkpoint's signature is
//! checked with the `signed_note` crate against the key at `/log/key`, and the tree is rebuilt
//! and checked with `tlog_tiles` (Cloudflare's port of Go's `golang.org/x/mod/sumdb/tlog`)
//! from tiles fetched over HTTP at the C2SP tlog-tiles paths: the root of each of two
//! checkpoints, every entry against its leaf hash, an inclusion proof of each entry, and the
//! consistency of the later checkpoint with the earlier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{
    Checkpoint, Hash, HashReader, Tile, TileHashReader, TileReader, check_record, check_tree,
    prove_record, prove_tree, record_hash, stored_hash_index, tree_hash,
};

use common::{DOC, TestApp};

const HEIGHT: u8 = 8;

/// A tile's path as C2SP tlog-tiles names it: Go's sumdb paths carry the height
/// (`tile/8/0/001.p/5`) and call entry bundles `data`; tlog-tiles has neither.
fn c2sp_path(tile: &Tile) -> String {
    let go = tile.path();
    let rest = go
        .strip_prefix(&format!("tile/{HEIGHT}/"))
        .expect("height 8");
    match rest.strip_prefix("data/") {
        Some(n) => format!("tile/entries/{n}"),
        None => format!("tile/{rest}"),
    }
}

/// Serves tiles fetched beforehand from the server.
struct Fetched(HashMap<String, Vec<u8>>);

impl TileReader for Fetched {
    fn height(&self) -> u8 {
        HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&c2sp_path(t))
                    .cloned()
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

async fn get(app: &TestApp, path: &str) -> Vec<u8> {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.bytes().await.unwrap().to_vec()
}

/// The checkpoint served once it holds at least `size` leaves, its signature checked with
/// `signed_note`.
async fn checkpoint(app: &TestApp, size: u64) -> Checkpoint {
    let vkey = String::from_utf8(get(app, "/log/key").await).unwrap();
    let verifier = StandardVerifier::new(vkey.trim_end()).unwrap();
    let verifiers = VerifierList::new(vec![Box::new(verifier)]);
    let started = Instant::now();
    loop {
        let signed = get(app, "/log/checkpoint").await;
        let note = Note::from_bytes(&signed).unwrap();
        let (verified, _) = note.verify(&verifiers).unwrap();
        assert_eq!(verified.len(), 1, "signed by the log's key");
        let checkpoint = Checkpoint::from_bytes(note.text()).unwrap();
        if checkpoint.size() >= size {
            // A byte changed in the signed text fails the signature.
            let mut forged = signed.clone();
            let at = forged.iter().position(|&b| b == b'\n').unwrap() + 1;
            forged[at] = if forged[at] == b'9' { b'8' } else { b'9' };
            if let Ok(note) = Note::from_bytes(&forged) {
                assert!(note.verify(&verifiers).is_err());
            }
            return checkpoint;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the log never reached {size} leaves"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every hash tile and entry bundle of a tree of `size`, fetched at its C2SP path.
async fn fetch_tiles(app: &TestApp, size: u64, into: &mut HashMap<String, Vec<u8>>) {
    for tile in Tile::new_tiles(HEIGHT, 0, size) {
        let path = c2sp_path(&tile);
        into.insert(path.clone(), get(app, &format!("/log/{path}")).await);
        if tile.level() == 0 {
            let mut data = tile;
            data.set_is_data();
            let path = c2sp_path(&data);
            into.insert(path.clone(), get(app, &format!("/log/{path}")).await);
        }
    }
}

/// The entries of a bundle: each preceded by its length, a big-endian 16-bit number.
fn bundle_entries(mut bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    while bundle.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([bundle[0], bundle[1]]));
        entries.push(bundle[2..2 + len].to_vec());
        bundle = &bundle[2 + len..];
    }
    assert!(bundle.is_empty());
    entries
}

#[tokio::test]
async fn an_outside_tlog_client_verifies_the_log() {
    let app = TestApp::spawn().await;
    for i in 0..300 {
        let (status, body) = app
            .post(
                "/api/v1/test-results",
                Some(&app.keys.lab),
                app.pcr(&format!("T-{i}"), DOC, "negative", 3),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let first = checkpoint(&app, 300).await;
    for i in 300..700 {
        let (status, body) = app
            .post(
                "/api/v1/test-results",
                Some(&app.keys.lab),
                app.pcr(&format!("T-{i}"), DOC, "negative", 3),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let second = checkpoint(&app, first.size() + 400).await;
    assert_eq!(second.origin(), first.origin());

    let mut fetched = HashMap::new();
    fetch_tiles(&app, first.size(), &mut fetched).await;
    fetch_tiles(&app, second.size(), &mut fetched).await;
    let tiles = Fetched(fetched);

    // Each checkpoint's root, rebuilt from the tiles.
    for c in [&first, &second] {
        let reader = TileHashReader::new(c.size(), *c.hash(), &tiles);
        assert_eq!(tree_hash(c.size(), &reader).unwrap(), *c.hash());
    }
    let reader = TileHashReader::new(second.size(), *second.hash(), &tiles);

    // Every entry hashes to its leaf, and is proved in the tree.
    let mut entries = Vec::new();
    for tile in Tile::new_tiles(HEIGHT, 0, second.size()) {
        if tile.level() == 0 {
            let mut data = tile;
            data.set_is_data();
            entries.extend(bundle_entries(&tiles.read_tiles(&[data]).unwrap()[0]));
        }
    }
    assert_eq!(entries.len() as u64, second.size());
    for (n, entry) in entries.iter().enumerate() {
        let n = n as u64;
        let leaf: Vec<Hash> = reader.read_hashes(&[stored_hash_index(0, n)]).unwrap();
        assert_eq!(leaf[0], record_hash(entry), "entry {n}");
        let proof = prove_record(second.size(), n, &reader).unwrap();
        check_record(&proof, second.size(), *second.hash(), n, record_hash(entry)).unwrap();
    }
    assert!(
        entries
            .iter()
            .all(|e| e.starts_with(b"healthcode/1 ") && e.ends_with(b"\n"))
    );

    // The later checkpoint extends the earlier one.
    let proof = prove_tree(second.size(), first.size(), &reader).unwrap();
    check_tree(
        &proof,
        second.size(),
        *second.hash(),
        first.size(),
        *first.hash(),
    )
    .unwrap();
    // And a made-up earlier root does not.
    assert!(
        check_tree(
            &proof,
            second.size(),
            *second.hash(),
            first.size(),
            record_hash(b"not the earlier tree"),
        )
        .is_err()
    );
}
