//! COSE_Sign1 (RFC 9052 §4.2) with EdDSA over Ed25519 (RFC 9053 §2.2), as both codes and
//! trust lists use it.
//!
//! This module owns the envelope: the tagged four-element array, the protected header
//! `{1: -8, 4: kid}`, the empty unprotected header, the Sig_structure (RFC 9052 §4.4) and the
//! signature. It does not know what the payload means; callers decode it after
//! [`Sign1::verify`] succeeds.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::cbor::{CborError, Decoder, Encoder};
use crate::keys::{KID_LEN, SigningKey};

/// CBOR tag for COSE_Sign1 (RFC 9052 §2, Table 1).
pub(crate) const TAG_SIGN1: u64 = 18;
/// Header parameter labels (RFC 9052 §3.1, Table 2).
const LABEL_ALG: i128 = 1;
const LABEL_KID: i128 = 4;
/// EdDSA (RFC 9053 §2.2, Table 2).
pub(crate) const ALG_EDDSA: i64 = -8;
/// The context string of a COSE_Sign1 Sig_structure (RFC 9052 §4.4).
const SIGNATURE1: &str = "Signature1";
/// Ed25519 signature length (RFC 8032 §5.1.6).
const SIGNATURE_LEN: usize = 64;

/// Why bytes are not an acceptable COSE_Sign1. Callers map these onto their own error enums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoseError {
    /// Not well-formed CBOR.
    Cbor(&'static str),
    /// The first item is not tag 18.
    Tag,
    /// Well-formed CBOR of the wrong shape.
    Structure(&'static str),
    /// Bytes after the structure.
    TrailingBytes,
    /// `alg` is missing or is not EdDSA.
    Algorithm,
    /// `kid` is missing.
    MissingKid,
}

impl CoseError {
    fn structure(err: CborError, what: &'static str) -> CoseError {
        match err {
            CborError::Malformed(m) => CoseError::Cbor(m),
            CborError::Unexpected(_) => CoseError::Structure(what),
        }
    }
}

/// The protected header: `{1: -8, 4: kid}`, keys in that order (RFC 8949 §4.2.1 order).
fn protected_header(kid: &[u8; KID_LEN]) -> Vec<u8> {
    let mut e = Encoder::with_capacity(16);
    e.map(2);
    e.uint(1);
    e.int(ALG_EDDSA);
    e.uint(4);
    e.bytes(kid);
    e.into_bytes()
}

/// The bytes that are signed: the CBOR encoding of
/// `["Signature1", protected, external_aad = h'', payload]` (RFC 9052 §4.4).
pub(crate) fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut e = Encoder::with_capacity(protected.len() + payload.len() + 24);
    e.array(4);
    e.text(SIGNATURE1);
    e.bytes(protected);
    e.bytes(&[]);
    e.bytes(payload);
    e.into_bytes()
}

/// Signs `payload` and returns the tagged COSE_Sign1 bytes:
/// `18([protected, {}, payload, signature])`.
pub(crate) fn sign(payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let protected = protected_header(&key.kid());
    let signature = key.sign(&sig_structure(&protected, payload));
    let mut e = Encoder::with_capacity(protected.len() + payload.len() + SIGNATURE_LEN + 16);
    e.tag(TAG_SIGN1);
    e.array(4);
    e.bytes(&protected);
    e.map(0);
    e.bytes(payload);
    e.bytes(&signature);
    e.into_bytes()
}

/// A parsed, not yet verified COSE_Sign1.
#[derive(Debug, Clone)]
pub(crate) struct Sign1<'a> {
    protected: &'a [u8],
    pub(crate) kid: [u8; KID_LEN],
    pub(crate) payload: &'a [u8],
    signature: [u8; SIGNATURE_LEN],
}

impl<'a> Sign1<'a> {
    /// Parses a tagged COSE_Sign1, in this order: tag, array of four, protected header bytes,
    /// empty unprotected map, payload bytes, 64 signature bytes, nothing after; then the
    /// protected header's `alg` and `kid`.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Sign1<'a>, CoseError> {
        let mut d = Decoder::new(bytes);
        match d.tag() {
            Ok(TAG_SIGN1) => {}
            Ok(_) | Err(CborError::Unexpected(_)) => return Err(CoseError::Tag),
            Err(CborError::Malformed(m)) => return Err(CoseError::Cbor(m)),
        }
        let len = d
            .array()
            .map_err(|e| CoseError::structure(e, "COSE_Sign1 is not an array"))?;
        if len != 4 {
            return Err(CoseError::Structure("COSE_Sign1 must have four elements"));
        }
        let protected = d
            .bytes()
            .map_err(|e| CoseError::structure(e, "protected header is not a byte string"))?;
        let unprotected = d
            .map()
            .map_err(|e| CoseError::structure(e, "unprotected header is not a map"))?;
        if unprotected != 0 {
            return Err(CoseError::Structure("unprotected header must be empty"));
        }
        // A nil payload would mean detached content (RFC 9052 §4.1), which the format does
        // not use; it fails here as "not a byte string".
        let payload = d
            .bytes()
            .map_err(|e| CoseError::structure(e, "payload is not a byte string"))?;
        let signature = d
            .bytes_fixed::<SIGNATURE_LEN>()
            .map_err(|e| CoseError::structure(e, "signature is not 64 bytes"))?;
        if !d.is_empty() {
            return Err(CoseError::TrailingBytes);
        }
        let kid = parse_protected(protected)?;
        Ok(Sign1 {
            protected,
            kid,
            payload,
            signature,
        })
    }

    /// Verifies the Ed25519 signature over the Sig_structure (RFC 8032 §5.1.7).
    ///
    /// ed25519-dalek refuses a non-canonical `S` (step 1 of §5.1.7; without it a signature
    /// could be altered into another valid one) and compares `[S]B - [k]A` with `R` on their
    /// encodings, so `R` is canonical too. That is the cofactorless equation, which §5.1.7
    /// allows; `verify_strict` would also refuse small-order `R`, which costs a point
    /// decompression (about a fifth of the time) and adds nothing here: small-order public
    /// keys are refused when trust lists are loaded, and for any other key a signature with a
    /// small-order `R` verifies only if the key's owner made it.
    pub(crate) fn verify(&self, key: &VerifyingKey) -> bool {
        let message = sig_structure(self.protected, self.payload);
        ed25519_dalek::Verifier::verify(key, &message, &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

/// Reads the protected header map: exactly `alg` (1) and `kid` (4), in any order, each once.
/// An empty byte string stands for an empty map (RFC 9052 §3) and so has no `alg`.
fn parse_protected(protected: &[u8]) -> Result<[u8; KID_LEN], CoseError> {
    if protected.is_empty() {
        return Err(CoseError::Algorithm);
    }
    let bad = |e| CoseError::structure(e, "protected header is not a map of integer labels");
    let mut d = Decoder::new(protected);
    let pairs = d.map().map_err(bad)?;
    let mut alg = None;
    let mut kid = None;
    for _ in 0..pairs {
        match d.int().map_err(bad)? {
            LABEL_ALG if alg.is_none() => {
                // Any value other than the integer -8 (including a text name) is not EdDSA.
                alg = Some(matches!(d.int(), Ok(v) if v == i128::from(ALG_EDDSA)));
            }
            LABEL_KID if kid.is_none() => {
                let value = d
                    .bytes_fixed::<KID_LEN>()
                    .map_err(|e| CoseError::structure(e, "kid is not 8 bytes"))?;
                kid = Some(value);
            }
            LABEL_ALG | LABEL_KID => {
                return Err(CoseError::Structure("protected header repeats a label"));
            }
            _ => {
                return Err(CoseError::Structure(
                    "protected header has a parameter the format does not use",
                ));
            }
        }
    }
    if !d.is_empty() {
        return Err(CoseError::Structure("bytes after the protected header map"));
    }
    match (alg, kid) {
        (Some(true), Some(kid)) => Ok(kid),
        (Some(true), None) => Err(CoseError::MissingKid),
        _ => Err(CoseError::Algorithm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[7u8; 32])
    }

    fn verifying(key: &SigningKey) -> VerifyingKey {
        VerifyingKey::from_bytes(&key.public_key()).expect("valid key")
    }

    #[test]
    fn sign_then_parse_and_verify() {
        let key = key();
        let bytes = sign(b"\xa0", &key);
        let parsed = Sign1::parse(&bytes).expect("parses");
        assert_eq!(parsed.kid, key.kid());
        assert_eq!(parsed.payload, b"\xa0");
        assert!(parsed.verify(&verifying(&key)));
        let other = SigningKey::from_seed(&[8u8; 32]);
        assert!(!parsed.verify(&verifying(&other)));
    }

    #[test]
    fn layout_is_as_specified() {
        let key = key();
        let bytes = sign(b"", &key);
        // d2 (tag 18), 84 (array 4), 4d (bstr 13) a2 01 27 04 48 <kid>, a0, 40, 58 40 <sig>.
        assert_eq!(&bytes[..7], &[0xd2, 0x84, 0x4d, 0xa2, 0x01, 0x27, 0x04]);
        assert_eq!(bytes[7], 0x48);
        assert_eq!(&bytes[8..16], &key.kid());
        assert_eq!(&bytes[16..20], &[0xa0, 0x40, 0x58, 0x40]);
        assert_eq!(bytes.len(), 20 + 64);
    }

    fn envelope(protected: &[u8]) -> Vec<u8> {
        let mut e = Encoder::default();
        e.tag(TAG_SIGN1);
        e.array(4);
        e.bytes(protected);
        e.map(0);
        e.bytes(b"");
        e.bytes(&[0; 64]);
        e.into_bytes()
    }

    #[test]
    fn protected_header_rules() {
        let kid = [1u8; 8];
        let mut ok = Encoder::default();
        ok.map(2);
        ok.uint(4);
        ok.bytes(&kid);
        ok.uint(1);
        ok.int(-8);
        assert_eq!(
            Sign1::parse(&envelope(&ok.into_bytes())).map(|s| s.kid),
            Ok(kid)
        );

        let mut es256 = Encoder::default();
        es256.map(2);
        es256.uint(1);
        es256.int(-7);
        es256.uint(4);
        es256.bytes(&kid);
        assert_eq!(
            Sign1::parse(&envelope(&es256.into_bytes())).map(|s| s.kid),
            Err(CoseError::Algorithm)
        );

        let mut no_kid = Encoder::default();
        no_kid.map(1);
        no_kid.uint(1);
        no_kid.int(-8);
        assert_eq!(
            Sign1::parse(&envelope(&no_kid.into_bytes())).map(|s| s.kid),
            Err(CoseError::MissingKid)
        );

        assert_eq!(
            Sign1::parse(&envelope(b"")).map(|s| s.kid),
            Err(CoseError::Algorithm)
        );

        let mut extra = Encoder::default();
        extra.map(3);
        extra.uint(1);
        extra.int(-8);
        extra.uint(4);
        extra.bytes(&kid);
        extra.uint(3);
        extra.uint(60);
        assert!(matches!(
            Sign1::parse(&envelope(&extra.into_bytes())),
            Err(CoseError::Structure(_))
        ));
    }

    #[test]
    fn envelope_rules() {
        let key = key();
        let good = sign(b"x", &key);

        let mut untagged = good.clone();
        untagged.remove(0);
        assert_eq!(Sign1::parse(&untagged).map(|_| ()), Err(CoseError::Tag));

        let mut cwt_tag = good.clone();
        cwt_tag[0] = 0xd8; // tag 61 (CWT), one-byte argument
        cwt_tag.insert(1, 61);
        assert_eq!(Sign1::parse(&cwt_tag).map(|_| ()), Err(CoseError::Tag));

        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            Sign1::parse(&trailing).map(|_| ()),
            Err(CoseError::TrailingBytes)
        );

        let truncated = &good[..good.len() - 1];
        assert!(matches!(Sign1::parse(truncated), Err(CoseError::Cbor(_))));
    }
}
