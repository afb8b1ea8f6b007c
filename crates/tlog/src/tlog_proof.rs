//! Tlog proofs of C2SP tlog-proof: an offline-verifiable proof that one entry is in a log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional)
//! index <decimal>
//! <base64 hash>             (zero or more: the inclusion proof, bottom up)
//!
//! <the signed checkpoint, verbatim>
//! ```
//!
//! This module owns that text ([`TlogProof::parse`], `Display`) and checking it
//! ([`TlogProof::verify`]): the checkpoint is the given log's and signed by a trusted key, and
//! the inclusion proof binds the entry's leaf hash to its root. It does not own computing the
//! leaf hash (the application knows what was logged), what the extra data means, or a policy
//! over witnesses' cosignatures.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::Checkpoint;
use crate::decimal::parse_decimal;
use crate::error::{CheckpointError, TlogProofError};
use crate::hash::Hash;
use crate::note::{Note, NoteVerifier};
use crate::proof::verify_inclusion;

/// The first line of a tlog proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The longest inclusion proof a tree with a 64-bit size has.
const MAX_PROOF_HASHES: usize = 64;

/// A proof that the entry at `index` is in the tree of a signed checkpoint.
///
/// A value of this type always holds a well-formed signed checkpoint; whether its signatures
/// and the inclusion proof hold is for [`TlogProof::verify`] to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Vec<u8>,
    index: u64,
    proof: Vec<Hash>,
    checkpoint: String,
}

/// The line at the start of `rest`, without its newline; `rest` moves past it.
fn next_line<'a>(rest: &mut &'a str) -> Result<&'a str, TlogProofError> {
    let (line, after) = rest.split_once('\n').ok_or(TlogProofError::Malformed(
        "no blank line before the checkpoint",
    ))?;
    *rest = after;
    Ok(line)
}

/// Checks that `signed` is a signed note whose text is a checkpoint, without checking
/// signatures.
fn check_checkpoint(signed: &str) -> Result<(), TlogProofError> {
    let note = Note::parse(signed.as_bytes()).map_err(CheckpointError::from)?;
    Checkpoint::parse_text(note.text())?;
    Ok(())
}

impl TlogProof {
    /// The proof of entry `index` with inclusion proof `proof` (from
    /// [`MemoryTree::inclusion_proof`](crate::MemoryTree::inclusion_proof)) in the tree of
    /// `signed_checkpoint`, a signed note as [`Checkpoint::sign`] writes it.
    pub fn new(
        index: u64,
        proof: Vec<Hash>,
        signed_checkpoint: &str,
    ) -> Result<TlogProof, TlogProofError> {
        if proof.len() > MAX_PROOF_HASHES {
            return Err(TlogProofError::Malformed("more than 64 proof hashes"));
        }
        check_checkpoint(signed_checkpoint)?;
        Ok(TlogProof {
            extra: Vec::new(),
            index,
            proof,
            checkpoint: signed_checkpoint.to_owned(),
        })
    }

    /// The same proof carrying opaque extra data (none if empty). The data is not
    /// authenticated: a verifier must not trust it.
    pub fn with_extra(mut self, extra: Vec<u8>) -> TlogProof {
        self.extra = extra;
        self
    }

    /// The extra data; empty if there is none.
    pub fn extra(&self) -> &[u8] {
        &self.extra
    }

    /// The entry's index in the log.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof, from the leaf's sibling up.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint, verbatim.
    pub fn signed_checkpoint(&self) -> &str {
        &self.checkpoint
    }

    /// Reads a tlog proof in the one form `Display` writes: the header line, an `extra` line
    /// only if there is extra data (non-empty canonical base64), the `index` line in decimal
    /// without leading zeros, at most 64 hash lines in canonical base64, a blank line, and a
    /// well-formed signed checkpoint.
    pub fn parse(text: &[u8]) -> Result<TlogProof, TlogProofError> {
        let text = std::str::from_utf8(text).map_err(|_| TlogProofError::Malformed("not UTF-8"))?;
        let mut rest = text;

        if next_line(&mut rest)? != TLOG_PROOF_HEADER {
            return Err(TlogProofError::Malformed(
                "the first line is not c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = next_line(&mut rest)?;
        let mut extra = Vec::new();
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = STANDARD
                .decode(encoded)
                .map_err(|_| TlogProofError::Malformed("the extra data is not base64"))?;
            if extra.is_empty() {
                return Err(TlogProofError::Malformed("an extra line with no data"));
            }
            line = next_line(&mut rest)?;
        }
        let index = line.strip_prefix("index ").and_then(parse_decimal).ok_or(
            TlogProofError::Malformed("no index line with a decimal number without leading zeros"),
        )?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::Malformed("more than 64 proof hashes"));
            }
            proof.push(Hash::from_base64(line).map_err(|_| {
                TlogProofError::Malformed("a proof line is not the base64 of a 32-byte hash")
            })?);
        }
        Ok(TlogProof::new(index, proof, rest)?.with_extra(extra))
    }

    /// Checks the proof for the entry whose leaf hash is `leaf`: the checkpoint is log
    /// `origin`'s, signed by a key among `verifiers` (see [`Checkpoint::open`]), and the
    /// inclusion proof leads from `leaf` at the index to its root. Returns the checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        origin: &str,
        verifiers: &[NoteVerifier],
    ) -> Result<Checkpoint, TlogProofError> {
        let checkpoint = Checkpoint::open(self.checkpoint.as_bytes(), origin, verifiers)?;
        verify_inclusion(
            leaf,
            self.index,
            checkpoint.size(),
            &self.proof,
            checkpoint.root(),
        )?;
        Ok(checkpoint)
    }
}

/// The proof as text, in the layout of C2SP tlog-proof.
impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if !self.extra.is_empty() {
            writeln!(f, "extra {}", STANDARD.encode(&self.extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.proof {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}
