//! Issuer keys: a JSON Web Key Set (RFC 7517 section 5) read as SMART Health Cards require
//! ("Determining keys associated with an issuer"), with each `kid` checked against the key's
//! RFC 7638 thumbprint.
//!
//! This module owns which JWKs are ES256 signing keys, the checks each must pass and the
//! thumbprint. It does not own fetching the set (the caller reads it from wherever it keeps
//! it) nor X.509 chains in `x5c`, which are not checked: trust comes from the caller naming
//! the issuer.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::ShcError;

/// An issuer's ES256 signing key, checked.
#[derive(Debug, Clone)]
pub struct IssuerKey {
    kid: String,
    crl_version: Option<u64>,
    public: ParsedPublicKey,
}

impl IssuerKey {
    /// The key id: the base64url SHA-256 thumbprint of the key (RFC 7638).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The `crlVersion` the issuer announces for this key, if it keeps a revocation list.
    pub fn crl_version(&self) -> Option<u64> {
        self.crl_version
    }

    /// Whether `signature` (64-byte r||s) is this key's ES256 signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.public.verify_sig(message, signature).is_ok()
    }
}

/// Why a JWK of a set is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRejection {
    /// Not `"kty": "EC"`, `"use": "sig"`, `"alg": "ES256"`: not a card signing key. Such keys
    /// are skipped, as the specification says signing keys are found by these members.
    NotSigningKey,
    /// A signing key on a curve other than P-256.
    Curve,
    /// `x` or `y` missing or not 32 bytes of base64url.
    Coordinates,
    /// `x`, `y` is not a point of P-256.
    NotOnCurve,
    /// The key carries the private parameter `d`, which a published set SHALL NOT.
    PrivateKey,
    /// No `kid`.
    MissingKid,
    /// `kid` is not the key's RFC 7638 thumbprint.
    KidMismatch { thumbprint: String },
    /// `crlVersion` is not a non-negative integer.
    CrlVersion,
}

impl fmt::Display for KeyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRejection::NotSigningKey => f.write_str("not an EC ES256 signing key"),
            KeyRejection::Curve => f.write_str("the curve is not P-256"),
            KeyRejection::Coordinates => f.write_str("x or y is not 32 bytes of base64url"),
            KeyRejection::NotOnCurve => f.write_str("x, y is not a point of P-256"),
            KeyRejection::PrivateKey => f.write_str("the key includes its private part (d)"),
            KeyRejection::MissingKid => f.write_str("the key has no kid"),
            KeyRejection::KidMismatch { thumbprint } => {
                write!(f, "the kid is not the key's thumbprint ({thumbprint})")
            }
            KeyRejection::CrlVersion => f.write_str("crlVersion is not a non-negative integer"),
        }
    }
}

/// A key of the set that is not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedKey {
    /// The `kid` the entry claims, if it has one.
    pub kid: Option<String>,
    pub reason: KeyRejection,
}

/// An issuer's key set: the ES256 signing keys that passed every check, and the entries that
/// did not, with the reason.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<IssuerKey>,
    rejected: Vec<RejectedKey>,
}

impl Jwks {
    /// Reads a `jwks.json` document. A document that is not `{"keys": [objects]}` is refused;
    /// within it, entries that are not usable ES256 signing keys are set aside in
    /// [`Jwks::rejected`] and the others kept.
    pub fn from_json(text: &str) -> Result<Jwks, ShcError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ShcError::BadJwks(format!("not JSON: {e}")))?;
        let entries = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| ShcError::BadJwks("no \"keys\" array".into()))?;
        let mut jwks = Jwks::default();
        for (i, entry) in entries.iter().enumerate() {
            let entry = entry
                .as_object()
                .ok_or_else(|| ShcError::BadJwks(format!("keys[{i}] is not an object")))?;
            match read_key(entry) {
                Ok(key) => jwks.insert(key),
                Err(reason) => jwks.rejected.push(RejectedKey {
                    kid: string(entry, "kid").map(str::to_owned),
                    reason,
                }),
            }
        }
        Ok(jwks)
    }

    /// The usable signing keys.
    pub fn keys(&self) -> &[IssuerKey] {
        &self.keys
    }

    /// The entries that were not kept, with the reason.
    pub fn rejected(&self) -> &[RejectedKey] {
        &self.rejected
    }

    /// The signing key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&IssuerKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Adds a key. The specification lets an issuer list one key several times with different
    /// `x5c`; as the kid is the key's thumbprint, the entries are the same key and one is
    /// kept, with the highest `crlVersion` any of them announces.
    fn insert(&mut self, key: IssuerKey) {
        match self.keys.iter_mut().find(|k| k.kid == key.kid) {
            Some(existing) => existing.crl_version = existing.crl_version.max(key.crl_version),
            None => self.keys.push(key),
        }
    }
}

fn string<'a>(entry: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    entry.get(name).and_then(Value::as_str)
}

fn read_key(entry: &Map<String, Value>) -> Result<IssuerKey, KeyRejection> {
    let is_signing_key = string(entry, "kty") == Some("EC")
        && string(entry, "use") == Some("sig")
        && string(entry, "alg") == Some("ES256");
    if !is_signing_key {
        return Err(KeyRejection::NotSigningKey);
    }
    if entry.contains_key("d") {
        return Err(KeyRejection::PrivateKey);
    }
    if string(entry, "crv") != Some("P-256") {
        return Err(KeyRejection::Curve);
    }
    let (Some(x), Some(y)) = (string(entry, "x"), string(entry, "y")) else {
        return Err(KeyRejection::Coordinates);
    };
    let (Some(x_bytes), Some(y_bytes)) = (coordinate(x), coordinate(y)) else {
        return Err(KeyRejection::Coordinates);
    };
    // SEC 1 section 2.3.3: an uncompressed point is 0x04 || x || y.
    let mut point = [0u8; 65];
    point[0] = 0x04;
    point[1..33].copy_from_slice(&x_bytes);
    point[33..].copy_from_slice(&y_bytes);
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .parse()
        .map_err(|_| KeyRejection::NotOnCurve)?;
    let kid = string(entry, "kid").ok_or(KeyRejection::MissingKid)?;
    let thumbprint = ec_thumbprint(x, y);
    if kid != thumbprint {
        return Err(KeyRejection::KidMismatch { thumbprint });
    }
    let crl_version = match entry.get("crlVersion") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(KeyRejection::CrlVersion)?),
    };
    Ok(IssuerKey {
        kid: kid.to_owned(),
        crl_version,
        public,
    })
}

/// A P-256 coordinate: exactly 32 bytes, in canonical unpadded base64url (so that the text
/// hashed for the thumbprint is the one and only encoding of the value).
fn coordinate(text: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// The RFC 7638 thumbprint of an EC key: SHA-256 over the required members in lexicographic
/// order without whitespace (section 3.2), base64url-encoded. `x` and `y` are canonical
/// base64url (checked by [`coordinate`]), so they need no JSON escaping.
fn ec_thumbprint(x: &str, y: &str) -> String {
    let members = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(digest(&SHA256, members.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    // The key of the SMART Health Cards example issuer (examples/issuer/.well-known/jwks.json),
    // whose kid the specification computed as the thumbprint.
    const KID: &str = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s";
    const X: &str = "11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw";
    const Y: &str = "eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8";

    fn key_json(extra: &str) -> String {
        format!(
            r#"{{"keys":[{{"kty":"EC","kid":"{KID}","use":"sig","alg":"ES256","crv":"P-256","x":"{X}","y":"{Y}"{extra}}}]}}"#
        )
    }

    #[test]
    fn thumbprint_of_the_example_key() {
        assert_eq!(ec_thumbprint(X, Y), KID);
    }

    #[test]
    fn reads_a_signing_key() {
        let jwks = Jwks::from_json(&key_json(r#","crlVersion":3"#)).unwrap();
        assert_eq!(jwks.keys().len(), 1);
        assert!(jwks.rejected().is_empty());
        let key = jwks.get(KID).unwrap();
        assert_eq!(key.crl_version(), Some(3));
    }

    #[test]
    fn refuses_a_kid_that_is_not_the_thumbprint() {
        let text = key_json("").replace(KID, "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9t");
        let jwks = Jwks::from_json(&text).unwrap();
        assert!(jwks.keys().is_empty());
        assert_eq!(
            jwks.rejected()[0].reason,
            KeyRejection::KidMismatch {
                thumbprint: KID.into()
            }
        );
    }

    #[test]
    fn rejection_reasons() {
        let cases = [
            (
                key_json("").replace(r#""use":"sig""#, r#""use":"enc""#),
                KeyRejection::NotSigningKey,
            ),
            (
                key_json("").replace(r#""alg":"ES256""#, r#""alg":"ES384""#),
                KeyRejection::NotSigningKey,
            ),
            (
                key_json("").replace(r#""kty":"EC""#, r#""kty":"RSA""#),
                KeyRejection::NotSigningKey,
            ),
            (key_json("").replace("P-256", "P-384"), KeyRejection::Curve),
            (key_json(r#","d":"AAAA""#), KeyRejection::PrivateKey),
            (
                key_json("").replace(X, "11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcg"),
                KeyRejection::Coordinates,
            ),
            (
                key_json("").replace(X, &format!("{X}=")),
                KeyRejection::Coordinates,
            ),
            // y + 1 is not on the curve with this x.
            (
                key_json("").replace(Y, "eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYzA"),
                KeyRejection::NotOnCurve,
            ),
            (
                key_json("").replace(&format!(r#""kid":"{KID}","#), ""),
                KeyRejection::MissingKid,
            ),
            (key_json(r#","crlVersion":-1"#), KeyRejection::CrlVersion),
            (key_json(r#","crlVersion":"1""#), KeyRejection::CrlVersion),
        ];
        for (text, reason) in cases {
            let jwks = Jwks::from_json(&text).unwrap();
            assert!(jwks.keys().is_empty(), "{text}");
            assert_eq!(jwks.rejected()[0].reason, reason, "{text}");
        }
    }

    #[test]
    fn a_repeated_key_is_kept_once() {
        let entry = key_json(r#","crlVersion":1"#);
        let one = &entry[9..entry.len() - 2];
        let two = one.replace(r#""crlVersion":1"#, r#""crlVersion":4"#);
        let jwks = Jwks::from_json(&format!(r#"{{"keys":[{one},{two}]}}"#)).unwrap();
        assert_eq!(jwks.keys().len(), 1);
        assert_eq!(jwks.keys()[0].crl_version(), Some(4));
    }

    #[test]
    fn refuses_documents_of_the_wrong_shape() {
        for text in [
            "",
            "[]",
            r#"{"keys":{}}"#,
            r#"{"keys":[1]}"#,
            r#"{"key":[]}"#,
        ] {
            assert_eq!(Jwks::from_json(text).unwrap_err().code(), "jwks", "{text}");
        }
        assert!(Jwks::from_json(r#"{"keys":[]}"#).unwrap().keys().is_empty());
    }
}
