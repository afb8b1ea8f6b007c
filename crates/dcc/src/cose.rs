//! COSE_Sign1 (RFC 9052 §4.2) as DCCs use it: the envelope, its headers and the bytes a
//! signature covers (the Sig_structure, RFC 9052 §4.4).
//!
//! This module reads the structure only; it neither checks signatures ([`crate::signature`])
//! nor interprets the payload ([`crate::cwt`]). Following the hcert spec ("Key Identifier"),
//! `kid` may sit in either header and the protected one wins; `alg` is read from the protected
//! header only, since an algorithm an attacker could change is no algorithm at all
//! (RFC 9052 §3.1 asks for `alg` to be protected).

use ciborium::value::Value;

use crate::error::DccError;

/// CBOR tag of a COSE_Sign1 (RFC 9052 §2, Table 1).
const TAG_SIGN1: u64 = 18;
/// CBOR tag of a CWT (RFC 8392 §6), which may wrap the COSE tag.
const TAG_CWT: u64 = 61;
/// Header labels (RFC 9052 §3.1, Table 2).
const LABEL_ALG: i128 = 1;
const LABEL_KID: i128 = 4;

/// A parsed COSE_Sign1: the headers that matter to a verifier and the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign1 {
    /// The protected header exactly as received: the signature covers these bytes.
    protected: Vec<u8>,
    /// `alg` from the protected header, if present and an integer.
    algorithm: Option<i64>,
    /// `kid` from the protected header, else from the unprotected one.
    kid: Option<Vec<u8>>,
    /// The payload bytes (the CWT claims set).
    payload: Vec<u8>,
    /// The signature bytes.
    signature: Vec<u8>,
}

impl CoseSign1 {
    /// Reads a COSE_Sign1, tagged (18, optionally inside the CWT tag 61) or untagged. Bytes
    /// after the structure are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<CoseSign1, DccError> {
        let value = decode_one(bytes)?;
        let value = untag(value)?;
        let Value::Array(items) = value else {
            return Err(DccError::Cose("not an array"));
        };
        let [protected, unprotected, payload, signature]: [Value; 4] = items
            .try_into()
            .map_err(|_| DccError::Cose("not an array of four items"))?;
        let Value::Bytes(protected) = protected else {
            return Err(DccError::Cose("the protected header is not a byte string"));
        };
        let protected_map = if protected.is_empty() {
            // RFC 9052 §3: an empty protected header is encoded as a zero-length byte string.
            Vec::new()
        } else {
            match decode_one(&protected)? {
                Value::Map(entries) => entries,
                _ => return Err(DccError::Cose("the protected header is not a map")),
            }
        };
        let Value::Map(unprotected_map) = unprotected else {
            return Err(DccError::Cose("the unprotected header is not a map"));
        };
        check_unique_labels(&protected_map)?;
        check_unique_labels(&unprotected_map)?;
        let algorithm = match header(&protected_map, LABEL_ALG) {
            None => None,
            Some(Value::Integer(alg)) => Some(
                i64::try_from(i128::from(*alg))
                    .map_err(|_| DccError::Cose("the algorithm is out of range"))?,
            ),
            Some(_) => return Err(DccError::Cose("the algorithm is not an integer")),
        };
        let kid = match header(&protected_map, LABEL_KID).or(header(&unprotected_map, LABEL_KID)) {
            None => None,
            Some(Value::Bytes(kid)) => Some(kid.clone()),
            Some(_) => return Err(DccError::Cose("the key identifier is not a byte string")),
        };
        let Value::Bytes(payload) = payload else {
            return Err(DccError::Cose("the payload is not a byte string"));
        };
        let Value::Bytes(signature) = signature else {
            return Err(DccError::Cose("the signature is not a byte string"));
        };
        Ok(CoseSign1 {
            protected,
            algorithm,
            kid,
            payload,
            signature,
        })
    }

    /// The COSE algorithm identifier from the protected header (RFC 9053), if any.
    pub fn algorithm(&self) -> Option<i64> {
        self.algorithm
    }

    /// The key identifier, protected header first.
    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }

    /// The signed payload: the CWT claims set.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signature as carried (for ECDSA the raw `r || s` of RFC 9053 §2.1).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The bytes the signature covers: the Sig_structure
    /// `["Signature1", protected, external_aad = h'', payload]` (RFC 9052 §4.4), written
    /// with definite lengths as §4.4 requires.
    pub fn signed_bytes(&self) -> Vec<u8> {
        const CONTEXT: &[u8] = b"Signature1";
        let mut out = Vec::with_capacity(self.protected.len() + self.payload.len() + 32);
        out.push(0x84); // array of 4
        push_head(&mut out, 3, CONTEXT.len());
        out.extend_from_slice(CONTEXT);
        push_head(&mut out, 2, self.protected.len());
        out.extend_from_slice(&self.protected);
        out.push(0x40); // external_aad: empty byte string
        push_head(&mut out, 2, self.payload.len());
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Writes a CBOR head (RFC 8949 §3) of major type `major` for length `len`.
fn push_head(out: &mut Vec<u8>, major: u8, len: usize) {
    let major = major << 5;
    // `usize` is at most 64 bits on every supported target.
    let len = len as u64;
    if len < 24 {
        out.push(major | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[major | 24, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(major | 25);
        out.extend_from_slice(&len.to_be_bytes());
    } else if let Ok(len) = u32::try_from(len) {
        out.push(major | 26);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Decodes exactly one CBOR data item from `bytes`.
pub(crate) fn decode_one(bytes: &[u8]) -> Result<Value, DccError> {
    let mut rest = bytes;
    let value: Value =
        ciborium::de::from_reader(&mut rest).map_err(|e| DccError::Cbor(cbor_error(&e)))?;
    if !rest.is_empty() {
        return Err(DccError::Cbor("bytes follow the data item".into()));
    }
    Ok(value)
}

/// A message for a CBOR decoding error that names the problem but no content.
fn cbor_error<E: std::fmt::Debug>(err: &ciborium::de::Error<E>) -> String {
    match err {
        ciborium::de::Error::Io(_) => "the data ends early".into(),
        ciborium::de::Error::Syntax(offset) => format!("syntax error at offset {offset}"),
        ciborium::de::Error::Semantic(offset, _) => match offset {
            Some(offset) => format!("invalid item at offset {offset}"),
            None => "invalid item".into(),
        },
        ciborium::de::Error::RecursionLimitExceeded => "nested too deeply".into(),
    }
}

/// Strips the optional CWT tag and the optional COSE_Sign1 tag; any other tag is refused
/// (a COSE_Sign with tag 98, for example, is a different structure).
fn untag(value: Value) -> Result<Value, DccError> {
    let value = match value {
        Value::Tag(TAG_CWT, inner) => *inner,
        other => other,
    };
    match value {
        Value::Tag(TAG_SIGN1, inner) => Ok(*inner),
        Value::Tag(_, _) => Err(DccError::Cose("tagged as something other than COSE_Sign1")),
        other => Ok(other),
    }
}

/// RFC 9052 §3: a label must not occur twice in a header map.
fn check_unique_labels(map: &[(Value, Value)]) -> Result<(), DccError> {
    for (i, (label, _)) in map.iter().enumerate() {
        if map[..i].iter().any(|(earlier, _)| earlier == label) {
            return Err(DccError::Cose("a header label occurs twice"));
        }
    }
    Ok(())
}

/// The value of an integer header label.
fn header(map: &[(Value, Value)], label: i128) -> Option<&Value> {
    map.iter().find_map(|(key, value)| match key {
        Value::Integer(key) if i128::from(*key) == label => Some(value),
        _ => None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(value, &mut out).unwrap();
        out
    }

    fn header_map(entries: Vec<(i64, Value)>) -> Vec<u8> {
        encode(&Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Integer(k.into()), v))
                .collect(),
        ))
    }

    fn sign1(protected: Vec<u8>, unprotected: Vec<(i64, Value)>) -> Value {
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

    #[test]
    fn reads_tagged_and_untagged() {
        let protected = header_map(vec![(1, Value::Integer((-7).into()))]);
        let untagged = sign1(protected.clone(), vec![(4, Value::Bytes(vec![1; 8]))]);
        let tagged = Value::Tag(18, Box::new(untagged.clone()));
        let cwt = Value::Tag(61, Box::new(tagged.clone()));
        for value in [untagged, tagged, cwt] {
            let cose = CoseSign1::from_bytes(&encode(&value)).unwrap();
            assert_eq!(cose.algorithm(), Some(-7));
            assert_eq!(cose.kid(), Some(&[1u8; 8][..]));
            assert_eq!(cose.payload(), b"payload");
            assert_eq!(cose.signature(), &[7; 64]);
        }
    }

    #[test]
    fn protected_kid_wins() {
        let protected = header_map(vec![
            (1, Value::Integer((-7).into())),
            (4, Value::Bytes(vec![1; 8])),
        ]);
        let value = sign1(protected, vec![(4, Value::Bytes(vec![2; 8]))]);
        let cose = CoseSign1::from_bytes(&encode(&value)).unwrap();
        assert_eq!(cose.kid(), Some(&[1u8; 8][..]));
    }

    #[test]
    fn algorithm_in_the_unprotected_header_is_ignored() {
        let value = sign1(Vec::new(), vec![(1, Value::Integer((-7).into()))]);
        let cose = CoseSign1::from_bytes(&encode(&value)).unwrap();
        assert_eq!(cose.algorithm(), None);
        assert_eq!(cose.kid(), None);
    }

    #[test]
    fn sig_structure_matches_an_independent_encoding() {
        let protected = header_map(vec![(1, Value::Integer((-7).into()))]);
        let payload = vec![0xa5; 300];
        let mut value = sign1(protected.clone(), vec![]);
        if let Value::Array(items) = &mut value {
            items[2] = Value::Bytes(payload.clone());
        }
        let cose = CoseSign1::from_bytes(&encode(&value)).unwrap();
        let expected = encode(&Value::Array(vec![
            Value::Text("Signature1".into()),
            Value::Bytes(protected),
            Value::Bytes(Vec::new()),
            Value::Bytes(payload),
        ]));
        assert_eq!(cose.signed_bytes(), expected);
    }

    #[test]
    fn push_head_uses_the_shortest_form() {
        for (len, head) in [
            (0usize, vec![0x40u8]),
            (23, vec![0x57]),
            (24, vec![0x58, 24]),
            (255, vec![0x58, 0xff]),
            (256, vec![0x59, 1, 0]),
            (65536, vec![0x5a, 0, 1, 0, 0]),
        ] {
            let mut out = Vec::new();
            push_head(&mut out, 2, len);
            assert_eq!(out, head, "length {len}");
        }
    }

    #[test]
    fn refuses_wrong_shapes() {
        let protected = header_map(vec![(1, Value::Integer((-7).into()))]);
        let good = sign1(protected.clone(), vec![]);
        let Value::Array(items) = good.clone() else {
            unreachable!()
        };
        let cases: Vec<(Value, &str)> = vec![
            (Value::Map(vec![]), "cose"),
            (Value::Array(items[..3].to_vec()), "cose"),
            (Value::Tag(98, Box::new(good.clone())), "cose"),
            (
                {
                    let mut v = items.clone();
                    v[0] = Value::Map(vec![]);
                    Value::Array(v)
                },
                "cose",
            ),
            (
                {
                    let mut v = items.clone();
                    v[0] = Value::Bytes(encode(&Value::Array(vec![])));
                    Value::Array(v)
                },
                "cose",
            ),
            (
                {
                    let mut v = items.clone();
                    v[2] = Value::Null;
                    Value::Array(v)
                },
                "cose",
            ),
            (
                {
                    let mut v = items.clone();
                    v[0] = Value::Bytes(vec![0xa1, 0x01]);
                    Value::Array(v)
                },
                "cbor",
            ),
        ];
        for (value, code) in cases {
            let err = CoseSign1::from_bytes(&encode(&value)).unwrap_err();
            assert_eq!(err.code(), code, "{value:?}");
        }
        let mut trailing = encode(&good);
        trailing.push(0);
        assert_eq!(CoseSign1::from_bytes(&trailing).unwrap_err().code(), "cbor");
    }

    #[test]
    fn refuses_duplicate_labels() {
        // {1: -7, 1: -7}, written by hand since encoders refuse to.
        let protected = vec![0xa2, 0x01, 0x26, 0x01, 0x26];
        let value = sign1(protected, vec![]);
        assert_eq!(
            CoseSign1::from_bytes(&encode(&value)),
            Err(DccError::Cose("a header label occurs twice"))
        );
    }
}
