//! The witness of C2SP tlog-witness, without I/O: what it checks before it cosigns a log's
//! checkpoint, and the two ends of its `add-checkpoint` call.
//!
//! A request body is an old size line, zero to 63 consistency proof lines, a blank line and the
//! log's signed checkpoint:
//!
//! ```text
//! old 20852014
//! PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
//! …
//!
//! example.com/behind-the-sofa
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//!
//! — example.com/behind-the-sofa Az3grlgt…
//! ```
//!
//! and the answer to a good one is the witness's cosignature line. This module owns reading a
//! request ([`AddCheckpoint::parse`]), the checks in the specification's order, each refusal a
//! [`WitnessError`] with its HTTP status ([`Witness::add_checkpoint`]), and the log's side:
//! writing a request ([`add_checkpoint_request`]) and reading the answers
//! ([`parse_add_checkpoint_response`], [`parse_tlog_size`]).
//!
//! It does not own the witness's state: the caller keeps each log's [`LogState`], passes it in,
//! and must store the new one before it hands out the cosignature, with the check and the
//! store atomic per log (tlog-witness describes the rollback that follows otherwise). Nor does
//! it own the clock, HTTP, or which logs to trust.

use std::collections::BTreeMap;

use crate::checkpoint::Checkpoint;
use crate::cosignature::CosignatureSigner;
use crate::decimal::parse_decimal;
use crate::error::{NoteError, ProofError, WitnessError};
use crate::hash::{Hash, empty_root};
use crate::note::{Note, NoteSignature, NoteVerifier};
use crate::proof::verify_consistency;

/// The most consistency proof lines a request may carry (tlog-witness: clients "MUST NOT send
/// more than 63").
pub const MAX_CONSISTENCY_PROOF_LINES: usize = 63;

/// The media type of a 409 answer's body, the witness's size of the log in decimal.
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// What a witness remembers of one log: the size and root of the latest checkpoint it
/// cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogState {
    /// The tree size.
    pub size: u64,
    /// The root hash at that size.
    pub root: Hash,
}

impl LogState {
    /// The state a checkpoint records.
    pub fn of(checkpoint: &Checkpoint) -> LogState {
        LogState {
            size: checkpoint.size(),
            root: *checkpoint.root(),
        }
    }
}

/// A well-formed `add-checkpoint` request: nothing in it is checked against a key or a state
/// yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    old_size: u64,
    proof: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl AddCheckpoint {
    /// Reads a request body: `old <size>` in decimal without leading zeros, at most 63
    /// consistency proof lines of base64 hashes, a blank line, then a signed note whose text
    /// is a checkpoint. Every line ends with a newline. Anything else is
    /// [`WitnessError::Malformed`] (400).
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
        let body = std::str::from_utf8(body).map_err(|_| WitnessError::Malformed("not UTF-8"))?;
        // The first blank line ends the proof: no line before it may be empty, and the
        // checkpoint's own blank line comes after its text.
        let (head, signed) = body.split_once("\n\n").ok_or(WitnessError::Malformed(
            "no blank line before the checkpoint",
        ))?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .and_then(parse_decimal)
            .ok_or(WitnessError::Malformed(
                "the first line is not \"old\" and a size in decimal",
            ))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_CONSISTENCY_PROOF_LINES {
                return Err(WitnessError::Malformed(
                    "more than 63 consistency proof lines",
                ));
            }
            let hash = Hash::from_base64(line).map_err(|_| {
                WitnessError::Malformed("a consistency proof line is not a base64 hash")
            })?;
            proof.push(hash);
        }
        let note = Note::parse(signed.as_bytes())
            .map_err(|_| WitnessError::Malformed("the checkpoint is not a signed note"))?;
        let checkpoint = Checkpoint::parse_text(note.text())
            .map_err(|_| WitnessError::Malformed("the note's text is not a checkpoint"))?;
        Ok(AddCheckpoint {
            old_size,
            proof,
            note,
            checkpoint,
        })
    }

    /// The log's origin, to find its keys and state by.
    pub fn origin(&self) -> &str {
        self.checkpoint.origin()
    }

    /// The size the log believes the witness has of it.
    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    /// The consistency proof from the old size to the checkpoint's.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The checkpoint, its signatures unchecked.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note as sent, its signatures unchecked.
    pub fn note(&self) -> &Note {
        &self.note
    }
}

/// What a witness gives for a checkpoint it accepts: the state to store before answering,
/// and its cosignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    state: LogState,
    cosignature: NoteSignature,
}

impl Cosigned {
    /// The log's new state: store it, durably, before answering.
    pub fn state(&self) -> LogState {
        self.state
    }

    /// The cosignature of the checkpoint.
    pub fn cosignature(&self) -> &NoteSignature {
        &self.cosignature
    }

    /// The body of the 200 answer: the cosignature line, with its newline.
    pub fn response_body(&self) -> String {
        self.cosignature.to_string()
    }
}

/// A witness: its cosigning key and the logs it witnesses, each an origin and the keys its
/// checkpoints must be signed with.
#[derive(Debug, Clone)]
pub struct Witness {
    signer: CosignatureSigner,
    logs: BTreeMap<String, Vec<NoteVerifier>>,
}

impl Witness {
    /// A witness cosigning with `signer` that knows no log yet.
    pub fn new(signer: CosignatureSigner) -> Witness {
        Witness {
            signer,
            logs: BTreeMap::new(),
        }
    }

    /// The same witness, also trusting `key` for the checkpoints of log `origin`. A log may
    /// have several keys (while one replaces another, say).
    pub fn with_log(mut self, origin: &str, key: NoteVerifier) -> Witness {
        self.logs.entry(origin.to_owned()).or_default().push(key);
        self
    }

    /// The cosigning key.
    pub fn signer(&self) -> &CosignatureSigner {
        &self.signer
    }

    /// The origins of the logs it witnesses, in order.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// Whether it witnesses the log `origin`.
    pub fn knows(&self, origin: &str) -> bool {
        self.logs.contains_key(origin)
    }

    /// Decides on `request` given `state`, what this witness last cosigned of the request's
    /// log (`None`: nothing yet, as size 0), and cosigns at `time` (POSIX seconds) if every
    /// check of tlog-witness passes, in its order:
    ///
    /// 1. the origin is a known log's (else 404, [`WitnessError::UnknownLog`]);
    /// 2. the checkpoint is signed by a key of that log, and no signature by one of its keys
    ///    fails (else 403, [`WitnessError::Signature`]);
    /// 3. the old size is at most the checkpoint's (else 400,
    ///    [`WitnessError::OldSizeAboveSize`]);
    /// 4. the old size is the witnessed size (else 409 with that size,
    ///    [`WitnessError::OldSizeMismatch`]);
    /// 5. at the witnessed size, the root is the witnessed root (else 409,
    ///    [`WitnessError::Fork`]);
    /// 6. the consistency proof leads from the witnessed root to the checkpoint's: empty when
    ///    the old size is 0, and then a checkpoint of size 0 must have the empty tree's root
    ///    (else 422, [`WitnessError::Proof`], [`WitnessError::EmptyTreeRoot`]).
    ///
    /// The same checkpoint again is cosigned again, with the new time. A witness that stores
    /// the returned state never cosigns two roots for one size, nor a smaller tree after a
    /// larger one.
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
        state: Option<LogState>,
        time: u64,
    ) -> Result<Cosigned, WitnessError> {
        let checkpoint = &request.checkpoint;
        let keys = self
            .logs
            .get(checkpoint.origin())
            .ok_or_else(|| WitnessError::UnknownLog(checkpoint.origin().to_owned()))?;
        request.note.verify(keys).map_err(WitnessError::Signature)?;
        check_consistency(request, state)?;
        let cosignature = self
            .signer
            .cosign(checkpoint, time)
            .map_err(WitnessError::Cosign)?;
        Ok(Cosigned {
            state: LogState::of(checkpoint),
            cosignature,
        })
    }
}

/// Steps 3 to 6 of [`Witness::add_checkpoint`].
fn check_consistency(request: &AddCheckpoint, state: Option<LogState>) -> Result<(), WitnessError> {
    let (old, size, root) = (
        request.old_size,
        request.checkpoint.size(),
        request.checkpoint.root(),
    );
    if old > size {
        return Err(WitnessError::OldSizeAboveSize { old, size });
    }
    let witnessed = state.map_or(0, |s| s.size);
    if old != witnessed {
        return Err(WitnessError::OldSizeMismatch {
            old,
            size: witnessed,
        });
    }
    match state {
        Some(state) if state.size > 0 => {
            if size == state.size && *root != state.root {
                return Err(WitnessError::Fork { size });
            }
            verify_consistency(old, size, &request.proof, &state.root, root)
                .map_err(WitnessError::Proof)
        }
        // Nothing witnessed: every tree extends the empty one, and the only proof of that is
        // the empty one.
        _ => {
            if !request.proof.is_empty() {
                return Err(WitnessError::Proof(ProofError::WrongProofLength {
                    expected: 0,
                    actual: request.proof.len(),
                }));
            }
            if size == 0 && *root != empty_root() {
                return Err(WitnessError::EmptyTreeRoot);
            }
            Ok(())
        }
    }
}

impl WitnessError {
    /// The HTTP status tlog-witness gives this refusal: 400, 403, 404, 409 or 422; 500 for
    /// [`WitnessError::Cosign`], the witness's own failure.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::Malformed(_) | WitnessError::OldSizeAboveSize { .. } => 400,
            WitnessError::Signature(_) => 403,
            WitnessError::UnknownLog(_) => 404,
            WitnessError::OldSizeMismatch { .. } | WitnessError::Fork { .. } => 409,
            WitnessError::Proof(_) | WitnessError::EmptyTreeRoot => 422,
            WitnessError::Cosign(_) => 500,
        }
    }

    /// For a mismatched old size, the witness's size of the log: the 409 answer's body is this
    /// in decimal and a newline, of type [`TLOG_SIZE_CONTENT_TYPE`].
    pub fn conflict_size(&self) -> Option<u64> {
        match self {
            WitnessError::OldSizeMismatch { size, .. } => Some(*size),
            _ => None,
        }
    }
}

/// The body of a log's `add-checkpoint` request: `old <size>`, the consistency proof from that
/// size to the checkpoint's (empty from size 0), a blank line, and the signed checkpoint as
/// the log publishes it.
pub fn add_checkpoint_request(
    old_size: u64,
    consistency_proof: &[Hash],
    signed_checkpoint: &str,
) -> String {
    let mut body = format!("old {old_size}\n");
    for hash in consistency_proof {
        body.push_str(&hash.to_base64());
        body.push('\n');
    }
    body.push('\n');
    body.push_str(signed_checkpoint);
    body
}

/// Reads a witness's 200 answer: one or more signature lines. Which are valid cosignatures of
/// which witness is [`crate::add_cosignatures`]'s to decide.
pub fn parse_add_checkpoint_response(body: &str) -> Result<Vec<NoteSignature>, NoteError> {
    NoteSignature::parse_lines(body)
}

/// Reads a witness's 409 answer of type [`TLOG_SIZE_CONTENT_TYPE`]: its size of the log, in
/// decimal without leading zeros, and a newline.
pub fn parse_tlog_size(body: &str) -> Option<u64> {
    body.strip_suffix('\n').and_then(parse_decimal)
}
