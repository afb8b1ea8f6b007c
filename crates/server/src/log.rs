//! The transparency log over HTTP (docs/FORMAT.md §10): the sequencer that takes new leaves
//! into the tree every quarter of a second, the C2SP tlog-tiles read API under `/log/`, the
//! log's verifier key, and a resident's receipts with their proofs.
//!
//! Writing leaves is the store's, beside each change in its transaction; the tree's arithmetic
//! is `healthcode-tlog`'s. Where the log's key comes from is the binary's
//! ([`crate::state::Shared::set_log`]); without one the server writes leaves but neither
//! sequences nor serves them.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use healthcode_store::leaf::Receipt;
use healthcode_tlog::{
    Hash, NoteSigner, NoteVerifier, Tile, TilePath, TlogProof, inclusion_proof_from_tiles,
    parse_tile_path, tile_from_bytes, tiles_for_inclusion_proof,
};

use crate::error::ApiError;
use crate::extract::Resident;
use crate::state::AppState;
use crate::witnesses::Witness;

/// How often the sequencer looks for new leaves: a leaf is in the tree within about this
/// long after its write commits (the bound is a second).
pub const SEQUENCE_EVERY: Duration = Duration::from_millis(250);

/// Leaves taken into the tree per transaction; with more waiting, the sequencer goes on at
/// once. On the embedded database a run holds the write lock, so this also bounds how long a
/// submission waits behind the sequencer (a fraction of a second).
pub const SEQUENCE_BATCH: i64 = 20_000;

/// A full tile never changes, nor does a partial one at its width: served as immutable.
const TILE_CACHE: &str = "public, max-age=31536000, immutable";

/// The log's identity: its origin (the checkpoints' first line, and its key's name), the
/// key that signs its checkpoints, and the witnesses that cosign them.
pub struct LogKey {
    signer: NoteSigner,
    witnesses: Vec<Witness>,
}

impl LogKey {
    /// The log `origin` signing with the Ed25519 key of `seed`. Refused for an origin that is
    /// not a valid key name (empty, or with spaces or `+`).
    pub fn new(origin: &str, seed: &[u8; 32]) -> Result<LogKey, healthcode_tlog::NoteError> {
        Ok(LogKey {
            signer: NoteSigner::from_seed(origin, seed)?,
            witnesses: Vec::new(),
        })
    }

    /// The log with each new checkpoint sent to `witnesses`, whose cosignatures the served
    /// checkpoint then carries ([`crate::witnesses`]).
    pub fn with_witnesses(mut self, witnesses: Vec<Witness>) -> LogKey {
        self.witnesses = witnesses;
        self
    }

    /// The witnesses the log's checkpoints are sent to.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The note verifier key, `<origin>+<key id>+<key>`: what auditors and receipts check
    /// against.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }
}

/// Sequences the log for as long as the server runs: every [`SEQUENCE_EVERY`], the leaves
/// written since are taken into the tree (more at once while a backlog lasts). Several nodes
/// may run this on one database; one integrates at a time. A failure is logged and retried.
/// Each checkpoint this node signs, and the newest when it starts, goes to the log's
/// witnesses ([`crate::witnesses`]) without holding the sequencer up.
pub async fn sequence_periodically(state: AppState) {
    let Some(key) = state.log() else { return };
    let (signed, news) = tokio::sync::watch::channel(());
    tokio::join!(
        sequence(&state, &key, signed),
        crate::witnesses::cosign_new_checkpoints(&state, &key, news),
    );
}

async fn sequence(state: &AppState, key: &LogKey, signed: tokio::sync::watch::Sender<()>) {
    let mut ticker = tokio::time::interval(SEQUENCE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first run announces the newest checkpoint, whoever signed it: a node restarted
    // after signing it may not have had it cosigned.
    let mut first = true;
    loop {
        ticker.tick().await;
        let mut new_checkpoint = false;
        loop {
            let now = state.clock.now();
            match state
                .store
                .integrate_log(&key.signer, key.origin(), SEQUENCE_BATCH, now)
                .await
            {
                Ok(done) => {
                    new_checkpoint |= std::mem::take(&mut first);
                    if done.added > 0 {
                        new_checkpoint = true;
                        metrics::counter!("healthcode_log_leaves_sequenced_total")
                            .increment(done.added);
                        metrics::gauge!("healthcode_log_size").set(done.size as f64);
                    }
                    if done.added < SEQUENCE_BATCH as u64 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sequencing the transparency log failed");
                    break;
                }
            }
        }
        if new_checkpoint {
            signed.send_replace(());
        }
    }
}

fn text(body: String, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such log resource\n").into_response()
}

/// `GET /log/checkpoint`: the newest signed checkpoint.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.log().is_none() {
        return Ok(not_found());
    }
    Ok(match state.store.log_checkpoint().await? {
        Some((_, signed)) => text(signed, "no-cache"),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the log has no checkpoint yet\n",
        )
            .into_response(),
    })
}

/// `GET /log/key`: the log's note verifier key, one line.
pub async fn key(State(state): State<AppState>) -> Response {
    match state.log() {
        Some(key) => text(format!("{}\n", key.verifier()), "public, max-age=300"),
        None => not_found(),
    }
}

/// `GET /log/tile/…`: a hash tile or an entry bundle, as C2SP tlog-tiles names them.
pub async fn tile(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    if state.log().is_none() {
        return Ok(not_found());
    }
    let Ok(path) = parse_tile_path(&format!("tile/{rest}")) else {
        return Ok(not_found());
    };
    let (level, tile) = match path {
        TilePath::Hashes(t) => (i64::from(t.level()), t),
        TilePath::Entries(t) => (-1, t),
    };
    Ok(
        match state
            .store
            .log_tile(level, tile.index(), tile.width())
            .await?
        {
            Some(data) => (
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, TILE_CACHE),
                ],
                data,
            )
                .into_response(),
            None => not_found(),
        },
    )
}

/// The inclusion proof of leaf `index` in the tree of `size`, read from the stored tiles.
pub(crate) async fn inclusion_proof(
    state: &AppState,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ApiError> {
    let needed = tiles_for_inclusion_proof(index, size).map_err(|_| ApiError::internal())?;
    let mut tiles: BTreeMap<Tile, Vec<Hash>> = BTreeMap::new();
    for t in needed {
        let data = state
            .store
            .log_tile(i64::from(t.level()), t.index(), t.width())
            .await?
            .ok_or_else(ApiError::internal)?;
        tiles.insert(
            t,
            tile_from_bytes(&t, &data).map_err(|_| ApiError::internal())?,
        );
    }
    inclusion_proof_from_tiles(index, size, &tiles).map_err(|_| ApiError::internal())
}

/// A person's receipts: every evidence revision about them, each with a tlog-proof against
/// the newest checkpoint once its leaf is in the tree.
pub(crate) async fn receipts_of(
    state: &AppState,
    person_id: i64,
) -> Result<Vec<Receipt>, ApiError> {
    let person = state.store.person(person_id).await?;
    let mut receipts = state.store.log_receipts(&person.doc_index).await?;
    let Some((size, signed)) = state.store.log_checkpoint().await? else {
        return Ok(receipts);
    };
    for r in &mut receipts {
        match r.index {
            Some(index) if index < size => {
                let proof = inclusion_proof(state, index, size).await?;
                r.proof = Some(
                    TlogProof::new(index, proof, &signed)
                        .map_err(|_| ApiError::internal())?
                        .to_string(),
                );
            }
            // Sequenced after the checkpoint read: the next request proves it.
            _ => r.index = None,
        }
    }
    Ok(receipts)
}

/// `GET /api/v1/me/receipts`: the signed-in resident's receipts (docs/FORMAT.md §10.4).
pub async fn my_receipts(
    State(state): State<AppState>,
    Resident(person_id): Resident,
) -> Result<Response, ApiError> {
    let receipts = receipts_of(&state, person_id).await?;
    let body = serde_json::to_vec(&serde_json::json!({
        "log": state.log().map(|k| k.verifier().to_string()),
        "receipts": receipts,
    }))
    .map_err(|_| ApiError::internal())?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
