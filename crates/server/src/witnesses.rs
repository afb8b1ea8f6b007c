//! The log's end of C2SP tlog-witness (docs/FORMAT.md §10.3): the witnesses configured for
//! the region, and sending each new checkpoint to all of them at once so that the one served
//! carries their cosignatures.
//!
//! Each witness gets `POST <url>/add-checkpoint` with the consistency proof from the size this
//! node believes it has seen (0 at first; a 409 `text/x.tlog.size` answer tells the real one,
//! and the request is made once more from there), computed from the stored tiles. Valid
//! cosignatures by the configured keys are added to the stored checkpoint; anything else a
//! witness says is logged and counted, never fatal: the log runs without its witnesses, and
//! its checkpoints are then merely not cosigned. A witness that refuses the checkpoint (another
//! root at a size it cosigned, a proof that does not verify) is logged as an error, since that
//! is what a fork of the log looks like.
//!
//! What this module does not own: checking a witness's decision (the witness's, and
//! `healthcode_tlog::Witness`'s), how many cosignatures a verifier requires (the verifier's),
//! and where the list comes from (the binary's flags).

use std::collections::BTreeMap;
use std::time::Duration;

use healthcode_tlog::{
    CosignatureError, CosignatureVerifier, Hash, Note, NoteSignature, TLOG_SIZE_CONTENT_TYPE, Tile,
    add_checkpoint_request, add_cosignatures, consistency_proof_from_tiles,
    parse_add_checkpoint_response, parse_tlog_size, tile_from_bytes, tiles_for_consistency_proof,
};
use tokio::sync::watch;

use crate::log::LogKey;
use crate::metrics::WITNESS_SUBMISSIONS;
use crate::state::AppState;

/// How long one witness may take to answer one request.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The most of a refusal's text that is logged.
const LOGGED_REFUSAL: usize = 200;

/// A witness the log submits its checkpoints to: its base URL (`add-checkpoint` is under it)
/// and the verifier key of its cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    url: String,
    verifier: CosignatureVerifier,
}

/// Why a witness's configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum WitnessConfigError {
    #[error("a witness is given as URL=VKEY: its base URL and its cosignature verifier key")]
    Form,
    #[error("{0:?} is not an http or https URL")]
    Url(String),
    #[error("the witness's verifier key: {0}")]
    Key(#[from] CosignatureError),
}

impl Witness {
    /// The witness at base URL `url` (http or https; a final `/` is dropped) whose
    /// cosignatures `verifier` checks.
    pub fn new(url: &str, verifier: CosignatureVerifier) -> Result<Witness, WitnessConfigError> {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
            _ => return Err(WitnessConfigError::Url(url.to_owned())),
        }
        Ok(Witness {
            url: url.trim_end_matches('/').to_owned(),
            verifier,
        })
    }

    /// Reads `URL=VKEY`, split at the first `=` (a verifier key may end in `=`, a witness's
    /// base URL has no query).
    pub fn parse(spec: &str) -> Result<Witness, WitnessConfigError> {
        let (url, vkey) = spec.split_once('=').ok_or(WitnessConfigError::Form)?;
        Witness::new(url, CosignatureVerifier::parse(vkey)?)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }
}

/// Why one submission brought no cosignature.
enum Failure {
    /// The witness refused the checkpoint with this status and text.
    Refused(u16, String),
    /// The witness has a larger tree of this log than the checkpoint's.
    Ahead(u64),
    /// No answer, or not one that reads.
    Unreachable(String),
    /// The consistency proof could not be read from the stored tiles.
    Proof(String),
}

/// Sends the newest checkpoint to the witnesses each time `news` says the sequencer signed
/// one, for as long as the sequencer runs. Checkpoints signed while a round is in flight are
/// folded into the next round, which sends the newest only.
pub(crate) async fn cosign_new_checkpoints(
    state: &AppState,
    key: &LogKey,
    mut news: watch::Receiver<()>,
) {
    if key.witnesses().is_empty() {
        return;
    }
    let client = match reqwest::Client::builder().timeout(WITNESS_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot make the witnesses' HTTP client; checkpoints are not cosigned");
            return;
        }
    };
    // The size of the log each witness has cosigned, as far as this node knows.
    let mut known = vec![0u64; key.witnesses().len()];
    while news.changed().await.is_ok() {
        cosign_newest(state, key, &client, &mut known).await;
    }
}

/// One round: the newest checkpoint to every witness at once, and the valid cosignatures
/// into the store.
async fn cosign_newest(
    state: &AppState,
    key: &LogKey,
    client: &reqwest::Client,
    known: &mut [u64],
) {
    let (size, signed) = match state.store.log_checkpoint().await {
        Ok(Some(newest)) => newest,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the checkpoint to send to the witnesses");
            return;
        }
    };
    let mut note = match Note::parse(signed.as_bytes()) {
        Ok(note) => note,
        Err(e) => {
            tracing::error!(error = %e, "the stored checkpoint does not read as a note");
            return;
        }
    };
    let answers = futures_util::future::join_all(
        key.witnesses()
            .iter()
            .zip(known.iter_mut())
            .map(|(witness, known)| submit(state, client, witness, known, size, &signed)),
    )
    .await;
    let mut cosigned = Vec::new();
    for (witness, answer) in key.witnesses().iter().zip(answers) {
        let name = witness.verifier.name().to_owned();
        let lines = match answer {
            Ok(lines) => lines,
            Err(failure) => {
                report(witness, size, failure);
                continue;
            }
        };
        match add_cosignatures(&mut note, &lines, std::slice::from_ref(&witness.verifier)) {
            Ok(0) => {
                tracing::warn!(witness = %name, url = %witness.url, size, "the witness answered without a cosignature by its key");
                metrics::counter!(WITNESS_SUBMISSIONS, "witness" => name, "result" => "failed")
                    .increment(1);
            }
            Ok(_) => {
                cosigned.extend(
                    note.signatures()
                        .iter()
                        .filter(|s| witness.verifier.is_signer_of(s))
                        .cloned(),
                );
                metrics::counter!(WITNESS_SUBMISSIONS, "witness" => name, "result" => "cosigned")
                    .increment(1);
            }
            Err(e) => {
                tracing::warn!(witness = %name, url = %witness.url, size, error = %e, "the witness's cosignature does not verify");
                metrics::counter!(WITNESS_SUBMISSIONS, "witness" => name, "result" => "failed")
                    .increment(1);
            }
        }
    }
    if cosigned.is_empty() {
        return;
    }
    match state
        .store
        .add_log_cosignatures(size, note.text(), &cosigned)
        .await
    {
        Ok(true) => tracing::debug!(size, cosignatures = cosigned.len(), "checkpoint cosigned"),
        Ok(false) => {
            tracing::warn!(
                size,
                "the checkpoint was signed again before its cosignatures were stored"
            )
        }
        Err(e) => tracing::warn!(error = %e, size, "cannot store the witnesses' cosignatures"),
    }
}

/// Logs and counts a submission that brought no cosignature.
fn report(witness: &Witness, size: u64, failure: Failure) {
    let name = witness.verifier.name().to_owned();
    let url = &witness.url;
    let result = match failure {
        Failure::Refused(status, text) => {
            tracing::error!(witness = %name, %url, size, status, reason = %text, "the witness refused the log's checkpoint");
            "refused"
        }
        Failure::Ahead(witnessed) => {
            tracing::error!(witness = %name, %url, size, witnessed, "the witness has cosigned a larger tree of this log than its newest checkpoint");
            "refused"
        }
        Failure::Unreachable(e) => {
            tracing::warn!(witness = %name, %url, size, error = %e, "cannot reach the witness");
            "failed"
        }
        Failure::Proof(e) => {
            tracing::warn!(witness = %name, %url, size, error = %e, "cannot prove the checkpoint consistent from the tiles");
            "failed"
        }
    };
    metrics::counter!(WITNESS_SUBMISSIONS, "witness" => name, "result" => result).increment(1);
}

/// Sends the checkpoint of `size`, `signed`, to `witness`, from the size it is believed to
/// have (`known`, updated from a 409 and on success); returns the lines it answered with.
async fn submit(
    state: &AppState,
    client: &reqwest::Client,
    witness: &Witness,
    known: &mut u64,
    size: u64,
    signed: &str,
) -> Result<Vec<NoteSignature>, Failure> {
    let mut retried = false;
    loop {
        let old = *known;
        if old > size {
            return Err(Failure::Ahead(old));
        }
        let proof = consistency_proof(state, old, size).await?;
        let response = client
            .post(format!("{}/add-checkpoint", witness.url))
            .body(add_checkpoint_request(old, &proof, signed))
            .send()
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let tells_size = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(TLOG_SIZE_CONTENT_TYPE));
        let text = response
            .text()
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        if status == 200 {
            *known = size;
            return parse_add_checkpoint_response(&text)
                .map_err(|e| Failure::Unreachable(format!("its answer does not read: {e}")));
        }
        // tlog-witness: 409 with the witness's size when the old size is not it.
        if status == 409
            && tells_size
            && !retried
            && let Some(witnessed) = parse_tlog_size(&text)
            && witnessed != old
        {
            *known = witnessed;
            retried = true;
            continue;
        }
        let text: String = text.trim_end().chars().take(LOGGED_REFUSAL).collect();
        return Err(Failure::Refused(status, text));
    }
}

/// The consistency proof from the tree of `old` leaves to that of `new`, from the stored
/// tiles (none from the empty tree).
async fn consistency_proof(state: &AppState, old: u64, new: u64) -> Result<Vec<Hash>, Failure> {
    if old == 0 {
        return Ok(Vec::new());
    }
    let needed =
        tiles_for_consistency_proof(old, new).map_err(|e| Failure::Proof(e.to_string()))?;
    let mut tiles: BTreeMap<Tile, Vec<Hash>> = BTreeMap::new();
    for t in needed {
        let data = state
            .store
            .log_tile(i64::from(t.level()), t.index(), t.width())
            .await
            .map_err(|e| Failure::Proof(e.to_string()))?
            .ok_or_else(|| Failure::Proof(format!("tile {} is missing", t.path())))?;
        let hashes = tile_from_bytes(&t, &data).map_err(|e| Failure::Proof(e.to_string()))?;
        tiles.insert(t, hashes);
    }
    consistency_proof_from_tiles(old, new, &tiles).map_err(|e| Failure::Proof(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_witness_is_a_url_and_a_verifier_key() {
        let verifier = healthcode_tlog::CosignatureSigner::from_seed("w.example/1", &[3; 32])
            .expect("key")
            .verifier();
        let witness = Witness::parse(&format!("http://127.0.0.1:7380/=({verifier})"));
        assert!(witness.is_err(), "the key is checked");
        let witness = Witness::parse(&format!("http://127.0.0.1:7380/={verifier}")).expect("reads");
        assert_eq!(witness.url(), "http://127.0.0.1:7380");
        assert_eq!(witness.verifier(), &verifier);
        for bad in [
            format!("ftp://w.example={verifier}"),
            format!("w.example={verifier}"),
            verifier.to_string().replace('=', ""),
            "http://w.example=".to_owned(),
        ] {
            assert!(Witness::parse(&bad).is_err(), "{bad}");
        }
    }
}
