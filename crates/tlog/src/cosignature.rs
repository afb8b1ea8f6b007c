//! Witnesses' cosignatures of C2SP tlog-cosignature (the Ed25519 `cosignature/v1` type): a
//! witness's timestamped statement that a checkpoint is the largest consistent tree head it
//! has seen of that log.
//!
//! A cosignature is a signature line of the checkpoint's note,
//! `— <witness name> base64(key ID || timestamp || signature)`, where the key ID is the first
//! four bytes of SHA-256(name || 0x0A || 0x04 || public key), the timestamp is 8 bytes of
//! POSIX seconds, big-endian, at most 2^63 - 1, and the Ed25519 signature is over
//!
//! ```text
//! cosignature/v1
//! time <timestamp in decimal>
//! <the checkpoint's note text, with its final newline>
//! ```
//!
//! This module owns making one ([`CosignatureSigner::cosign`]), checking one
//! ([`CosignatureVerifier::verify`]), a witness's verifier key
//! `<name>+<hex key ID>+<base64(0x04 || public key)>`, moving a witness's cosignatures onto a
//! checkpoint ([`add_cosignatures`]) and the k-of-n policy a client applies
//! ([`witnessed`]). It does not own whether the log signed the checkpoint
//! ([`crate::Checkpoint::open`]), the ML-DSA-44 `subtree/v1` type, which it does not
//! implement, or what a witness checks before it cosigns ([`crate::Witness`]).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::checkpoint::Checkpoint;
use crate::error::{CosignatureError, NoteError};
use crate::note::{
    Note, NoteSignature, is_valid_key_name, parse_verifier_key, typed_key_id, write_verifier_key,
};

/// The signature type byte of the Ed25519 `cosignature/v1` cosignature in key IDs and
/// verifier keys (C2SP signed-note's registry, C2SP tlog-cosignature "Format").
pub const COSIGNATURE_V1: u8 = 0x04;

/// The largest timestamp a cosignature may carry: 2^63 - 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The message a cosignature at `time` signs over note text `text` (tlog-cosignature,
/// "Ed25519 signed message").
fn signed_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// A witness's named Ed25519 key that cosigns checkpoints.
///
/// The Ed25519 message does not commit to the name, so one key must serve one name only
/// (tlog-cosignature); a caller that keeps the seed should keep the name with it.
/// `Debug` shows the name and key ID, never the secret.
#[derive(Clone)]
pub struct CosignatureSigner {
    name: String,
    key: SigningKey,
    key_id: u32,
}

impl CosignatureSigner {
    /// The cosigner `name` with the Ed25519 key of this 32-byte seed (RFC 8032 §5.1.5).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<CosignatureSigner, CosignatureError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::KeyName.into());
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = typed_key_id(name, COSIGNATURE_V1, key.verifying_key().as_bytes());
        Ok(CosignatureSigner {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (signature type 0x04).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The verifier of this cosigner's cosignatures.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature of `checkpoint` at `time` (POSIX seconds): a signature line to add to
    /// the checkpoint's note, or to send to the log. Refuses a time above 2^63 - 1.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        time: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if time > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp(time));
        }
        let message = signed_message(&checkpoint.to_text(), time);
        let mut bytes = time.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
        Ok(NoteSignature::new(&self.name, self.key_id, bytes))
    }
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A witness's name and Ed25519 public key, which checks its cosignatures. Written as a
/// verifier key of type 0x04, `<name>+<hex key ID>+<base64(0x04 || public key)>` (its
/// `Display` and [`FromStr`]).
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// The verifier of cosigner `name` with this 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<CosignatureVerifier, CosignatureError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::KeyName.into());
        }
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::VerifierKey("not an Ed25519 public key"))?;
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: typed_key_id(name, COSIGNATURE_V1, public_key),
            key,
        })
    }

    /// Reads a cosigner's verifier key, `<name>+<8 lowercase hex digits>+<base64(0x04 ||
    /// key)>`, and checks that its key ID is the one its name and key give.
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, CosignatureError> {
        let parts = parse_verifier_key(vkey)?;
        if parts.algorithm != COSIGNATURE_V1 {
            return Err(CosignatureError::KeyType(parts.algorithm));
        }
        let public_key = <[u8; 32]>::try_from(parts.public_key.as_slice())
            .map_err(|_| NoteError::VerifierKey("an Ed25519 key is 32 bytes"))?;
        let verifier = CosignatureVerifier::new(parts.name, &public_key)?;
        if verifier.key_id != parts.key_id {
            return Err(NoteError::KeyIdMismatch.into());
        }
        Ok(verifier)
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (signature type 0x04).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `signature` is a line by this cosigner: its key name and key ID.
    pub fn is_signer_of(&self, signature: &NoteSignature) -> bool {
        signature.name() == self.name && signature.key_id() == self.key_id
    }

    /// Checks that `signature` is this cosigner's cosignature over note text `text` (a
    /// checkpoint's, with its final newline) and returns its timestamp. Strict Ed25519
    /// verification, as for notes. Timestamps in the future are the caller's to judge.
    pub fn verify(&self, text: &str, signature: &NoteSignature) -> Result<u64, CosignatureError> {
        if !self.is_signer_of(signature) {
            return Err(CosignatureError::OtherKey {
                name: signature.name().to_owned(),
                key_id: signature.key_id(),
            });
        }
        let bytes = signature.signature();
        let length = CosignatureError::Length(bytes.len());
        let Some((time, ed25519)) = bytes.split_first_chunk::<8>() else {
            return Err(length);
        };
        let Ok(ed25519) = <[u8; 64]>::try_from(ed25519) else {
            return Err(length);
        };
        let time = u64::from_be_bytes(*time);
        if time > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp(time));
        }
        let message = signed_message(text, time);
        self.key
            .verify_strict(message.as_bytes(), &Signature::from_bytes(&ed25519))
            .map_err(|_| CosignatureError::BadSignature {
                name: self.name.clone(),
                key_id: self.key_id,
            })?;
        Ok(time)
    }
}

impl fmt::Display for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_verifier_key(
            f,
            &self.name,
            self.key_id,
            COSIGNATURE_V1,
            self.key.as_bytes(),
        )
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureVerifier({self})")
    }
}

impl FromStr for CosignatureVerifier {
    type Err = CosignatureError;

    fn from_str(vkey: &str) -> Result<CosignatureVerifier, CosignatureError> {
        CosignatureVerifier::parse(vkey)
    }
}

/// One witness's valid cosignature, as [`witnessed`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    name: String,
    key_id: u32,
    timestamp: u64,
}

impl Cosignature {
    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The witness's key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// When the witness cosigned, in POSIX seconds (the latest, if it cosigned more than
    /// once).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// Checks a k-of-n witness policy on a note (a checkpoint with its cosignatures): at least
/// `k` distinct witnesses among `witnesses` cosigned its text. Returns each such witness's
/// cosignature, in the order of `witnesses`.
///
/// As for note signatures, a line by a listed witness that does not verify is refused
/// outright ([`CosignatureError::BadSignature`]), and lines by other keys, the log's
/// signature among them, are ignored. A witness listed twice counts once. This says nothing
/// about the log's own signature: open the checkpoint with the log's key too.
pub fn witnessed(
    note: &Note,
    witnesses: &[CosignatureVerifier],
    k: usize,
) -> Result<Vec<Cosignature>, CosignatureError> {
    let mut found: Vec<Cosignature> = Vec::new();
    for (i, witness) in witnesses.iter().enumerate() {
        if witnesses[..i].contains(witness) {
            continue;
        }
        let mut latest = None;
        for signature in note.signatures().iter().filter(|s| witness.is_signer_of(s)) {
            let time = witness.verify(note.text(), signature)?;
            latest = latest.max(Some(time));
        }
        if let Some(timestamp) = latest {
            found.push(Cosignature {
                name: witness.name.clone(),
                key_id: witness.key_id,
                timestamp,
            });
        }
    }
    if found.len() < k {
        return Err(CosignatureError::NotEnough {
            needed: k,
            found: found.len(),
        });
    }
    Ok(found)
}

/// Adds to `note` (a log's signed checkpoint) the cosignatures among `signatures` (a
/// witness's answer, [`crate::parse_add_checkpoint_response`]) that are by `witnesses`, each
/// in place of an earlier line by the same witness key, and returns how many were added.
///
/// Lines by other keys are ignored, as tlog-witness asks of clients. Every line by a listed
/// witness must verify over the note's text, or nothing is added.
pub fn add_cosignatures(
    note: &mut Note,
    signatures: &[NoteSignature],
    witnesses: &[CosignatureVerifier],
) -> Result<usize, CosignatureError> {
    let mut valid = Vec::new();
    for signature in signatures {
        let Some(witness) = witnesses.iter().find(|w| w.is_signer_of(signature)) else {
            continue;
        };
        witness.verify(note.text(), signature)?;
        valid.push(signature.clone());
    }
    let added = valid.len();
    for signature in valid {
        note.add_signature(signature)?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_debug_hides_the_seed() {
        let signer = CosignatureSigner::from_seed("witness.example/w1", &[0x42; 32]).expect("key");
        let shown = format!("{signer:?}");
        assert!(shown.contains("witness.example/w1"));
        assert!(!shown.contains("42, 42") && !shown.contains("4242"));
    }

    #[test]
    fn the_key_id_is_not_the_note_key_id() {
        // One Ed25519 key, two signature types: the type byte separates their key IDs, so a
        // note verifier never mistakes a cosignature for a log signature.
        let seed = [7; 32];
        let cosigner = CosignatureSigner::from_seed("w", &seed).expect("key");
        let note_signer = crate::NoteSigner::from_seed("w", &seed).expect("key");
        assert_eq!(cosigner.public_key(), note_signer.public_key());
        assert_ne!(cosigner.key_id(), note_signer.key_id());
    }
}
