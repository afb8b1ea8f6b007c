//! Signed notes of C2SP signed-note, with Ed25519 keys (signature type 0x01).
//!
//! A note is text ending in a newline, a blank line, then one or more lines
//! `— <key name> <base64(key ID || signature)>`. The key ID is the first four bytes of
//! SHA-256(name || 0x0A || 0x01 || public key), big-endian; a verifier key is written
//! `<name>+<hex key ID>+<base64(0x01 || public key)>`.
//!
//! This module owns the note layout ([`Note::parse`], [`Note`]'s `Display`), signing
//! ([`Note::sign`] with [`NoteSigner`]s), verifying ([`Note::verify`], [`Note::open`] with
//! [`NoteVerifier`]s), key names, key IDs and the verifier key layout. It does not own what
//! the text says (a [`crate::Checkpoint`] is one such text), where keys are kept, or
//! signature types other than Ed25519, whose signatures it treats as from unknown keys:
//! witnesses' timestamped cosignatures (type 0x04) are [`crate::CosignatureVerifier`]'s.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::NoteError;

/// The signature type byte of Ed25519 in signed notes.
pub const ED25519: u8 = 0x01;

/// The most signature lines a note may carry. The specification asks verifiers to accept at
/// least 16; this is the limit of the Go implementation.
pub const MAX_SIGNATURES: usize = 100;

/// What starts a signature line: an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Whether `name` may name a key: non-empty, no whitespace (Unicode's), no `+`, no control
/// characters.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The key ID of an Ed25519 key: the first four bytes, big-endian, of
/// SHA-256(name || 0x0A || 0x01 || public key).
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    typed_key_id(name, ED25519, public_key)
}

/// The key ID of a key of signature type `algorithm`: the first four bytes, big-endian, of
/// SHA-256(name || 0x0A || algorithm || public key) (C2SP signed-note, "Signatures").
pub(crate) fn typed_key_id(name: &str, algorithm: u8, public_key: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([algorithm]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The parts of a verifier key `<name>+<hex key ID>+<base64(type || public key)>`, its key ID
/// not yet checked against the key.
pub(crate) struct VerifierKeyParts<'a> {
    pub(crate) name: &'a str,
    pub(crate) key_id: u32,
    pub(crate) algorithm: u8,
    pub(crate) public_key: Vec<u8>,
}

/// Splits a verifier key into its parts: a valid key name, exactly eight lowercase hex digits,
/// and canonical base64 of at least the type byte.
pub(crate) fn parse_verifier_key(vkey: &str) -> Result<VerifierKeyParts<'_>, NoteError> {
    let (name, rest) = vkey
        .split_once('+')
        .ok_or(NoteError::VerifierKey("no + after the name"))?;
    let (id, key) = rest
        .split_once('+')
        .ok_or(NoteError::VerifierKey("no + after the key ID"))?;
    if !is_valid_key_name(name) {
        return Err(NoteError::KeyName);
    }
    if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::VerifierKey(
            "the key ID is not 8 lowercase hex digits",
        ));
    }
    let key_id =
        u32::from_str_radix(id, 16).map_err(|_| NoteError::VerifierKey("the key ID is not hex"))?;
    let key = STANDARD
        .decode(key)
        .map_err(|_| NoteError::VerifierKey("the key is not base64"))?;
    let Some((&algorithm, public_key)) = key.split_first() else {
        return Err(NoteError::VerifierKey("the key is empty"));
    };
    Ok(VerifierKeyParts {
        name,
        key_id,
        algorithm,
        public_key: public_key.to_vec(),
    })
}

/// Writes a verifier key: `<name>+<hex key ID>+<base64(type || public key)>`.
pub(crate) fn write_verifier_key(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    key_id: u32,
    algorithm: u8,
    public_key: &[u8],
) -> fmt::Result {
    let mut key = vec![algorithm];
    key.extend_from_slice(public_key);
    write!(f, "{name}+{key_id:08x}+{}", STANDARD.encode(key))
}

/// A named Ed25519 key that signs notes.
///
/// `Debug` shows the name and key ID, never the secret.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: u32,
}

impl NoteSigner {
    /// The signer for `name` with the Ed25519 key of this 32-byte seed (RFC 8032 §5.1.5).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<NoteSigner, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::KeyName);
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The verifier for this signer's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    fn sign(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A named Ed25519 public key that checks note signatures, written as a verifier key
/// `<name>+<hex key ID>+<base64(0x01 || public key)>` (its `Display` and [`FromStr`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier for `name` and a 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<NoteVerifier, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::KeyName);
        }
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::VerifierKey("not an Ed25519 public key"))?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: key_id(name, public_key),
            key,
        })
    }

    /// Reads a verifier key, `<name>+<8 lowercase hex digits>+<base64(0x01 || key)>`, and
    /// checks that its key ID is the one its name and key give.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let parts = parse_verifier_key(vkey)?;
        if parts.algorithm != ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(parts.algorithm));
        }
        let public_key = <[u8; 32]>::try_from(parts.public_key.as_slice())
            .map_err(|_| NoteError::VerifierKey("an Ed25519 key is 32 bytes"))?;
        let verifier = NoteVerifier::new(parts.name, &public_key)?;
        if verifier.key_id != parts.key_id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(verifier)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `signature` is this key's over `text`. Strict verification (RFC 8032 §5.1.7
    /// with canonical encodings and no small-order keys), as ed25519-dalek's `verify_strict`.
    fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_verifier_key(f, &self.name, self.key_id, ED25519, self.key.as_bytes())
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;

    fn from_str(vkey: &str) -> Result<NoteVerifier, NoteError> {
        NoteVerifier::parse(vkey)
    }
}

/// One signature line of a note: the key name, the key ID and the signature bytes that follow
/// the key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// The line of key `name` with key ID `key_id` and these signature bytes.
    pub(crate) fn new(name: &str, key_id: u32, signature: Vec<u8>) -> NoteSignature {
        NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        }
    }

    /// Reads signature lines and nothing else, as a witness answers (C2SP tlog-witness,
    /// add-checkpoint): one or more lines, each ending in a newline, at most
    /// [`MAX_SIGNATURES`]. Signatures are not checked.
    pub fn parse_lines(text: &str) -> Result<Vec<NoteSignature>, NoteError> {
        check_no_controls(text)?;
        let Some(lines) = text.strip_suffix('\n') else {
            return Err(NoteError::Malformed(if text.is_empty() {
                "no signature"
            } else {
                "the last signature line does not end with a newline"
            }));
        };
        let mut signatures = Vec::new();
        for line in lines.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::Malformed("more than 100 signatures"));
            }
            signatures.push(NoteSignature::parse(line)?);
        }
        Ok(signatures)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID (64 for Ed25519).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Reads one signature line, without its newline.
    fn parse(line: &str) -> Result<NoteSignature, NoteError> {
        let line = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::Malformed(
                "a signature line does not start with an em dash and a space",
            ))?;
        let (name, encoded) = line.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line has no space after the key name",
        ))?;
        if !is_valid_key_name(name) {
            return Err(NoteError::Malformed(
                "a signature line has an invalid key name",
            ));
        }
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
        }
        let (id, signature) = bytes.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
            signature: signature.to_vec(),
        })
    }
}

/// The signature line, with its newline.
impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        writeln!(
            f,
            "{SIGNATURE_PREFIX}{} {}",
            self.name,
            STANDARD.encode(bytes)
        )
    }
}

/// A signed note: its text and at least one signature line. `Display` writes it out.
///
/// A note from [`Note::parse`] is well-formed but its signatures are unchecked: nothing in the
/// text may be trusted before [`Note::verify`] succeeds ([`Note::open`] does both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Why `text` cannot be a note's text, if it cannot: it must end with a newline and hold no
/// control character other than newlines.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end with a newline"));
    }
    check_no_controls(text)
}

fn check_no_controls(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed(
            "a control character other than newline",
        ));
    }
    Ok(())
}

impl Note {
    /// Signs `text` with each of `signers`, in order.
    pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<Note, NoteError> {
        check_text(text)?;
        if signers.is_empty() {
            return Err(NoteError::NoSigner);
        }
        if signers.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("more than 100 signatures"));
        }
        Ok(Note {
            text: text.to_owned(),
            signatures: signers.iter().map(|signer| signer.sign(text)).collect(),
        })
    }

    /// Reads a note's layout: valid UTF-8 without control characters other than newline, the
    /// text up to and including the newline before the last blank line, then signature lines
    /// each ending in a newline, at least one and at most [`MAX_SIGNATURES`]. Signatures are
    /// not checked.
    pub fn parse(msg: &[u8]) -> Result<Note, NoteError> {
        let msg = std::str::from_utf8(msg).map_err(|_| NoteError::Malformed("not UTF-8"))?;
        check_no_controls(msg)?;
        let split = msg.rfind("\n\n").ok_or(NoteError::Malformed(
            "no blank line between the text and the signatures",
        ))?;
        let (text, lines) = (&msg[..=split], &msg[split + 2..]);
        let signatures = NoteSignature::parse_lines(lines)?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Reads a note and checks its signatures against `verifiers` ([`Note::verify`]).
    pub fn open(msg: &[u8], verifiers: &[NoteVerifier]) -> Result<Note, NoteError> {
        let note = Note::parse(msg)?;
        note.verify(verifiers)?;
        Ok(note)
    }

    /// The text, with its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line, unchecked, in place of any line by the same key name and key ID
    /// (so that a newer cosignature by one witness replaces its older one), else at the end.
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if let Some(same) = self
            .signatures
            .iter_mut()
            .find(|s| s.name == signature.name && s.key_id == signature.key_id)
        {
            *same = signature;
            return Ok(());
        }
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::Malformed("more than 100 signatures"));
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Checks the signatures by known keys and returns them.
    ///
    /// A signature is by a known key when one of `verifiers` has its key name and key ID;
    /// every such signature must verify, and there must be at least one. Signatures by other
    /// keys are ignored, as C2SP signed-note requires (they may be witnesses' cosignatures, or
    /// a key this verifier has not rotated to yet).
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<&NoteSignature>, NoteError> {
        let mut verified = Vec::new();
        for signature in &self.signatures {
            let mut known = verifiers
                .iter()
                .filter(|v| v.name == signature.name && v.key_id == signature.key_id);
            let Some(verifier) = known.next() else {
                continue;
            };
            if known.any(|other| other.key != verifier.key) {
                return Err(NoteError::AmbiguousKey {
                    name: signature.name.clone(),
                    key_id: signature.key_id,
                });
            }
            if !verifier.verifies(&self.text, &signature.signature) {
                return Err(NoteError::BadSignature {
                    name: signature.name.clone(),
                    key_id: signature.key_id,
                });
            }
            verified.push(signature);
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verified)
    }
}

/// The note as sent: text, blank line, signature lines.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            write!(f, "{signature}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        for good in [
            "a",
            "example.com/log",
            "quasimodo.example/salvatore",
            "日志",
        ] {
            assert!(is_valid_key_name(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{3000}b",
            "a\u{1}b",
        ] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
        assert_eq!(
            NoteSigner::from_seed("a b", &[0; 32]).map(|s| s.key_id()),
            Err(NoteError::KeyName)
        );
    }

    #[test]
    fn signer_debug_hides_the_seed() {
        let signer = NoteSigner::from_seed("example.com/log", &[0x42; 32]).expect("signer");
        let shown = format!("{signer:?}");
        assert!(shown.contains("example.com/log"));
        assert!(!shown.contains("42, 42") && !shown.contains("4242"));
    }

    #[test]
    fn the_text_must_end_with_a_newline_and_hold_no_controls() {
        let signer = NoteSigner::from_seed("k", &[1; 32]).expect("signer");
        assert!(Note::sign("hello\n", &[&signer]).is_ok());
        assert!(Note::sign("\n", &[&signer]).is_ok());
        assert!(matches!(
            Note::sign("hello", &[&signer]),
            Err(NoteError::Malformed(_))
        ));
        assert!(matches!(
            Note::sign("", &[&signer]),
            Err(NoteError::Malformed(_))
        ));
        assert!(matches!(
            Note::sign("he\rllo\n", &[&signer]),
            Err(NoteError::Malformed(_))
        ));
        assert_eq!(Note::sign("hello\n", &[]), Err(NoteError::NoSigner));
    }

    #[test]
    fn colliding_verifiers_are_ambiguous() {
        // Two keys with one name and one key ID need a 32-bit collision; forge one here.
        let signer = NoteSigner::from_seed("k", &[1; 32]).expect("signer");
        let note = Note::sign("hello\n", &[&signer]).expect("signs");
        let mut impostor = NoteSigner::from_seed("k", &[2; 32])
            .expect("signer")
            .verifier();
        impostor.key_id = signer.key_id();
        assert_eq!(
            note.verify(&[signer.verifier(), impostor.clone()]),
            Err(NoteError::AmbiguousKey {
                name: "k".into(),
                key_id: signer.key_id()
            })
        );
        // Alone, the impostor's key does not verify the signature.
        assert_eq!(
            note.verify(&[impostor]),
            Err(NoteError::BadSignature {
                name: "k".into(),
                key_id: signer.key_id()
            })
        );
        // The same verifier twice is not ambiguous.
        assert!(note.verify(&[signer.verifier(), signer.verifier()]).is_ok());
    }

    #[test]
    fn text_with_blank_lines_round_trips() {
        let signer = NoteSigner::from_seed("k", &[1; 32]).expect("signer");
        for text in [
            "a\n\nb\n",
            "a\n\n",
            "\n\n\n",
            "— k looks like a signature\n",
        ] {
            let note = Note::sign(text, &[&signer]).expect("signs");
            let opened =
                Note::open(note.to_string().as_bytes(), &[signer.verifier()]).expect("opens");
            assert_eq!(opened.text(), text);
        }
    }
}
