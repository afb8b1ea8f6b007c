//! COSE_Sign1 (RFC 9052 §4.2): the one reader of signed envelopes in this project, and the
//! writer of its own.
//!
//! Two profiles share one reader:
//! - **Native** ([`Sign1::parse`]): this project's codes and trust lists, as docs/FORMAT.md
//!   §3 specifies them: the strict CBOR profile, tag 18, the protected header `{1: -8, 4: kid}`
//!   (EdDSA, an 8-byte kid) and nothing else, an empty unprotected header, a 64-byte Ed25519
//!   signature. [`sign`] writes them.
//! - **Foreign** ([`CoseSign1::from_bytes`]): any COSE_Sign1 another issuer may send, as the
//!   EU DCC (hcert) specification allows it: tagged 18, inside the CWT tag 61, or untagged;
//!   any definite-length CBOR; header parameters this reader does not use are passed over.
//!   `kid` may sit in either header and the protected one wins. `alg` is read from the
//!   protected header, or from the unprotected one when the protected header has none, as
//!   the EU reference verifiers do: an algorithm there is not covered by the signature, but
//!   the signer's key must fit it and the signature still decides.
//!
//! This module owns the envelope and the Sig_structure (RFC 9052 §4.4). It does not know what
//! the payload means, and checks no signature but Ed25519's for the native profile; callers
//! decode the payload after the signature is checked.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::cbor::{CborError, Decoder, Encoder, MAJOR_NINT, MAJOR_TAG, MAJOR_TEXT, MAJOR_UINT};
use crate::keys::{KID_LEN, SigningKey};

/// CBOR tag for COSE_Sign1 (RFC 9052 §2, Table 1).
pub(crate) const TAG_SIGN1: u64 = 18;
/// CBOR tag of a CWT (RFC 8392 §6), which may wrap the COSE tag.
const TAG_CWT: u64 = 61;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoseError {
    /// Not well-formed CBOR (of the strict profile, for native envelopes).
    #[error("not well-formed CBOR: {0}")]
    Cbor(&'static str),
    /// Not tag 18 (native), or tagged as something other than a COSE_Sign1 (foreign).
    #[error("not tagged as a COSE_Sign1")]
    Tag,
    /// Well-formed CBOR of the wrong shape.
    #[error("not a COSE_Sign1: {0}")]
    Structure(&'static str),
    /// Bytes after the structure.
    #[error("bytes follow the COSE_Sign1")]
    TrailingBytes,
    /// Native only: `alg` is missing or is not EdDSA.
    #[error("the algorithm is not EdDSA")]
    Algorithm,
    /// Native only: `kid` is missing.
    #[error("the protected header has no key identifier")]
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
/// `["Signature1", protected, external_aad = h'', payload]` (RFC 9052 §4.4), with definite
/// lengths in their shortest form as §4.4 requires.
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

/// Which envelopes [`envelope`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Native,
    Foreign,
}

/// The parts of a COSE_Sign1, borrowed from its bytes, with the headers not yet read.
struct Envelope<'a> {
    protected: &'a [u8],
    /// The unprotected header's parameters (foreign profile only; empty for native).
    unprotected: Headers<'a>,
    payload: &'a [u8],
    signature: &'a [u8],
}

/// Reads the envelope in this order: tags, array of four, protected header bytes,
/// unprotected header map, payload bytes, signature bytes, nothing after.
fn envelope(bytes: &[u8], profile: Profile) -> Result<Envelope<'_>, CoseError> {
    let native = profile == Profile::Native;
    let mut d = if native {
        Decoder::new(bytes)
    } else {
        Decoder::lenient(bytes)
    };
    if native {
        match d.tag() {
            Ok(TAG_SIGN1) => {}
            Ok(_) | Err(CborError::Unexpected(_)) => return Err(CoseError::Tag),
            Err(CborError::Malformed(m)) => return Err(CoseError::Cbor(m)),
        }
    } else {
        // Optionally the CWT tag, then optionally the COSE_Sign1 tag; no other tag.
        let mut outer = true;
        while d.next_major() == Some(MAJOR_TAG) {
            match d.tag().map_err(|e| CoseError::structure(e, "a tag"))? {
                TAG_CWT if outer => outer = false,
                TAG_SIGN1 => break,
                _ => return Err(CoseError::Tag),
            }
        }
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
    let pairs = d
        .map()
        .map_err(|e| CoseError::structure(e, "unprotected header is not a map"))?;
    let unprotected = if native {
        if pairs != 0 {
            return Err(CoseError::Structure("unprotected header must be empty"));
        }
        Headers::default()
    } else {
        Headers::read(&mut d, pairs)?
    };
    // A nil payload would mean detached content (RFC 9052 §4.1), which neither format uses;
    // it fails here as "not a byte string".
    let payload = d
        .bytes()
        .map_err(|e| CoseError::structure(e, "payload is not a byte string"))?;
    let signature = d
        .bytes()
        .map_err(|e| CoseError::structure(e, "signature is not a byte string"))?;
    if native && signature.len() != SIGNATURE_LEN {
        return Err(CoseError::Structure("signature is not 64 bytes"));
    }
    if !d.is_empty() {
        return Err(CoseError::TrailingBytes);
    }
    Ok(Envelope {
        protected,
        unprotected,
        payload,
        signature,
    })
}

/// The header parameters a verifier uses, from one header map of a foreign envelope.
#[derive(Debug, Default)]
struct Headers<'a> {
    algorithm: Option<i64>,
    kid: Option<&'a [u8]>,
}

/// A header label (RFC 9052 §3: an integer or a text string), to find repeated ones.
#[derive(Debug, PartialEq, Eq)]
enum Label<'a> {
    Int(i128),
    Text(&'a str),
}

impl<'a> Headers<'a> {
    /// Reads `pairs` label–value pairs. A label must not occur twice (RFC 9052 §3); `alg`
    /// must be an integer and `kid` a byte string; other parameters are passed over.
    fn read(d: &mut Decoder<'a>, pairs: usize) -> Result<Headers<'a>, CoseError> {
        let mut headers = Headers::default();
        let mut seen: Vec<Label<'a>> = Vec::with_capacity(pairs.min(16));
        for _ in 0..pairs {
            let label = match d.next_major() {
                Some(MAJOR_UINT | MAJOR_NINT) => Label::Int(
                    d.int()
                        .map_err(|e| CoseError::structure(e, "a header label"))?,
                ),
                Some(MAJOR_TEXT) => Label::Text(
                    d.text()
                        .map_err(|e| CoseError::structure(e, "a header label"))?,
                ),
                Some(_) => {
                    return Err(CoseError::Structure(
                        "a header label is neither an integer nor text",
                    ));
                }
                None => return Err(CoseError::Cbor("truncated")),
            };
            if seen.contains(&label) {
                return Err(CoseError::Structure("a header label occurs twice"));
            }
            match label {
                Label::Int(LABEL_ALG) => {
                    let alg = d
                        .int()
                        .map_err(|e| CoseError::structure(e, "the algorithm is not an integer"))?;
                    headers.algorithm = Some(
                        i64::try_from(alg)
                            .map_err(|_| CoseError::Structure("the algorithm is out of range"))?,
                    );
                }
                Label::Int(LABEL_KID) => {
                    headers.kid = Some(d.bytes().map_err(|e| {
                        CoseError::structure(e, "the key identifier is not a byte string")
                    })?);
                }
                _ => d
                    .skip()
                    .map_err(|e| CoseError::structure(e, "a header value"))?,
            }
            seen.push(label);
        }
        Ok(headers)
    }
}

/// A parsed, not yet verified COSE_Sign1 of the native profile.
#[derive(Debug, Clone)]
pub(crate) struct Sign1<'a> {
    protected: &'a [u8],
    pub(crate) kid: [u8; KID_LEN],
    pub(crate) payload: &'a [u8],
    signature: [u8; SIGNATURE_LEN],
}

impl<'a> Sign1<'a> {
    /// Parses a native COSE_Sign1, in this order: tag, array of four, protected header bytes,
    /// empty unprotected map, payload bytes, 64 signature bytes, nothing after; then the
    /// protected header's `alg` and `kid`.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Sign1<'a>, CoseError> {
        let envelope = envelope(bytes, Profile::Native)?;
        let kid = parse_protected(envelope.protected)?;
        let signature = <[u8; SIGNATURE_LEN]>::try_from(envelope.signature)
            .map_err(|_| CoseError::Structure("signature is not 64 bytes"))?;
        Ok(Sign1 {
            protected: envelope.protected,
            kid,
            payload: envelope.payload,
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

/// Reads a native protected header map: exactly `alg` (1) and `kid` (4), in any order, each
/// once. An empty byte string stands for an empty map (RFC 9052 §3) and so has no `alg`.
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

/// A COSE_Sign1 from another issuer (the foreign profile), read but not verified: the
/// headers a verifier uses and the bytes the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign1 {
    /// The protected header exactly as received: the signature covers these bytes.
    protected: Vec<u8>,
    algorithm: Option<i64>,
    kid: Option<Vec<u8>>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl CoseSign1 {
    /// Reads a COSE_Sign1, tagged (18, optionally inside the CWT tag 61) or untagged. Bytes
    /// after the structure are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<CoseSign1, CoseError> {
        let envelope = envelope(bytes, Profile::Foreign)?;
        let protected = if envelope.protected.is_empty() {
            // RFC 9052 §3: an empty protected header is a zero-length byte string.
            Headers::default()
        } else {
            let mut d = Decoder::lenient(envelope.protected);
            let pairs = d
                .map()
                .map_err(|e| CoseError::structure(e, "the protected header is not a map"))?;
            let headers = Headers::read(&mut d, pairs)?;
            if !d.is_empty() {
                return Err(CoseError::Cbor("bytes follow the protected header"));
            }
            headers
        };
        Ok(CoseSign1 {
            protected: envelope.protected.to_vec(),
            algorithm: protected.algorithm.or(envelope.unprotected.algorithm),
            kid: protected
                .kid
                .or(envelope.unprotected.kid)
                .map(<[u8]>::to_vec),
            payload: envelope.payload.to_vec(),
            signature: envelope.signature.to_vec(),
        })
    }

    /// The COSE algorithm identifier (RFC 9053): the protected header's, else the
    /// unprotected one's.
    pub fn algorithm(&self) -> Option<i64> {
        self.algorithm
    }

    /// The key identifier, protected header first.
    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }

    /// The signed payload (for a CWT, the claims set).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signature as carried (for ECDSA the raw `r || s` of RFC 9053 §2.1).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The bytes the signature covers: the Sig_structure (RFC 9052 §4.4).
    pub fn signed_bytes(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
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

    // The foreign profile, with envelopes written by an independent encoder (ciborium).

    use ciborium::value::Value;

    fn cbor(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(value, &mut out).expect("encodes");
        out
    }

    fn header_map(entries: Vec<(i64, Value)>) -> Vec<u8> {
        cbor(&Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Integer(k.into()), v))
                .collect(),
        ))
    }

    fn foreign(protected: Vec<u8>, unprotected: Vec<(i64, Value)>) -> Value {
        Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(
                unprotected
                    .into_iter()
                    .map(|(k, v)| (Value::Integer(k.into()), v))
                    .collect(),
            ),
            Value::Bytes(b"payload".to_vec()),
            Value::Bytes(vec![7; 64]),
        ])
    }

    fn es256() -> Value {
        Value::Integer((-7).into())
    }

    #[test]
    fn foreign_reads_tagged_and_untagged() {
        let protected = header_map(vec![(1, es256())]);
        let untagged = foreign(protected, vec![(4, Value::Bytes(vec![1; 8]))]);
        let tagged = Value::Tag(18, Box::new(untagged.clone()));
        let cwt = Value::Tag(61, Box::new(tagged.clone()));
        let cwt_untagged = Value::Tag(61, Box::new(untagged.clone()));
        for value in [untagged, tagged, cwt, cwt_untagged] {
            let cose = CoseSign1::from_bytes(&cbor(&value)).expect("reads");
            assert_eq!(cose.algorithm(), Some(-7));
            assert_eq!(cose.kid(), Some(&[1u8; 8][..]));
            assert_eq!(cose.payload(), b"payload");
            assert_eq!(cose.signature(), &[7; 64]);
        }
    }

    #[test]
    fn foreign_protected_kid_and_alg_win() {
        let protected = header_map(vec![(1, es256()), (4, Value::Bytes(vec![1; 8]))]);
        let value = foreign(
            protected,
            vec![
                (1, Value::Integer((-37).into())),
                (4, Value::Bytes(vec![2; 8])),
            ],
        );
        let cose = CoseSign1::from_bytes(&cbor(&value)).expect("reads");
        assert_eq!(cose.kid(), Some(&[1u8; 8][..]));
        assert_eq!(cose.algorithm(), Some(-7));
    }

    /// The EU reference verifiers accept a DCC whose protected header is empty and whose
    /// `alg` and `kid` are in the unprotected header (RFC 9052 §3 allows either bucket).
    #[test]
    fn foreign_empty_protected_header_takes_the_unprotected_parameters() {
        let value = foreign(
            Vec::new(),
            vec![(1, es256()), (4, Value::Bytes(vec![3; 8]))],
        );
        let cose = CoseSign1::from_bytes(&cbor(&value)).expect("reads");
        assert_eq!(cose.algorithm(), Some(-7));
        assert_eq!(cose.kid(), Some(&[3u8; 8][..]));
        // The signature then covers an empty protected bstr.
        assert_eq!(&cose.signed_bytes()[..13], b"\x84\x6aSignature1\x40");
    }

    #[test]
    fn foreign_passes_over_other_parameters() {
        let protected = cbor(&Value::Map(vec![
            (Value::Integer(1.into()), es256()),
            (
                Value::Text("x-issuer".into()),
                Value::Array(vec![Value::Float(1.5)]),
            ),
            (
                Value::Integer(33.into()),
                Value::Tag(24, Box::new(Value::Bytes(vec![0]))),
            ),
        ]));
        let value = foreign(
            protected,
            vec![(5, Value::Bool(true)), (4, Value::Bytes(vec![9]))],
        );
        let cose = CoseSign1::from_bytes(&cbor(&value)).expect("reads");
        assert_eq!((cose.algorithm(), cose.kid()), (Some(-7), Some(&[9u8][..])));
    }

    #[test]
    fn foreign_accepts_arguments_not_in_shortest_form() {
        // 18([h'a10126', {}, h'', h'']) with the array's and the payload's heads padded.
        let bytes = [
            0xd2, 0x98, 0x04, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x58, 0x00, 0x40,
        ];
        let cose = CoseSign1::from_bytes(&bytes).expect("reads");
        assert_eq!(cose.algorithm(), Some(-7));
        // The native profile refuses the same padding.
        assert!(matches!(Sign1::parse(&bytes), Err(CoseError::Cbor(_))));
    }

    #[test]
    fn foreign_sig_structure_matches_an_independent_encoding() {
        let protected = header_map(vec![(1, es256())]);
        let payload = vec![0xa5; 300];
        let mut value = foreign(protected.clone(), vec![]);
        if let Value::Array(items) = &mut value {
            items[2] = Value::Bytes(payload.clone());
        }
        let cose = CoseSign1::from_bytes(&cbor(&value)).expect("reads");
        let expected = cbor(&Value::Array(vec![
            Value::Text("Signature1".into()),
            Value::Bytes(protected),
            Value::Bytes(Vec::new()),
            Value::Bytes(payload),
        ]));
        assert_eq!(cose.signed_bytes(), expected);
    }

    #[test]
    fn foreign_refuses_wrong_shapes() {
        let protected = header_map(vec![(1, es256())]);
        let good = foreign(protected, vec![]);
        let Value::Array(items) = good.clone() else {
            unreachable!()
        };
        let with = |at: usize, item: Value| {
            let mut v = items.clone();
            v[at] = item;
            Value::Array(v)
        };
        let structure = |e: Result<CoseSign1, CoseError>| matches!(e, Err(CoseError::Structure(_)));
        for value in [
            Value::Map(vec![]),
            Value::Array(items[..3].to_vec()),
            with(0, Value::Map(vec![])),
            with(0, Value::Bytes(cbor(&Value::Array(vec![])))),
            with(1, Value::Array(vec![])),
            with(2, Value::Null),
            with(3, Value::Text("sig".into())),
            with(
                0,
                Value::Bytes(header_map(vec![(1, Value::Text("ES256".into()))])),
            ),
            with(
                0,
                Value::Bytes(header_map(vec![(4, Value::Text("kid".into()))])),
            ),
            with(
                0,
                Value::Bytes(cbor(&Value::Map(vec![(Value::Bytes(vec![1]), es256())]))),
            ),
        ] {
            assert!(structure(CoseSign1::from_bytes(&cbor(&value))), "{value:?}");
        }
        assert_eq!(
            CoseSign1::from_bytes(&cbor(&Value::Tag(98, Box::new(good.clone())))),
            Err(CoseError::Tag)
        );
        assert!(matches!(
            CoseSign1::from_bytes(&cbor(&with(0, Value::Bytes(vec![0xa1, 0x01])))),
            Err(CoseError::Cbor(_))
        ));
        let mut trailing = cbor(&good);
        trailing.push(0);
        assert_eq!(
            CoseSign1::from_bytes(&trailing),
            Err(CoseError::TrailingBytes)
        );
    }

    #[test]
    fn foreign_refuses_duplicate_labels() {
        // {1: -7, 1: -7}, written by hand since encoders refuse to.
        let value = foreign(vec![0xa2, 0x01, 0x26, 0x01, 0x26], vec![]);
        assert_eq!(
            CoseSign1::from_bytes(&cbor(&value)),
            Err(CoseError::Structure("a header label occurs twice"))
        );
    }

    #[test]
    fn foreign_refuses_deep_nesting_in_a_header() {
        let mut deep = Value::Integer(0.into());
        for _ in 0..40 {
            deep = Value::Array(vec![deep]);
        }
        let value = foreign(header_map(vec![(1, es256()), (99, deep)]), vec![]);
        assert_eq!(
            CoseSign1::from_bytes(&cbor(&value)),
            Err(CoseError::Cbor("nested too deeply"))
        );
    }
}
