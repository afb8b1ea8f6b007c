//! Signature algorithms (RFC 9053 §2) and the signer's public key, checked with aws-lc-rs.
//!
//! The hcert spec ("Signature Algorithm") names ES256 as primary and PS256 as secondary;
//! ES384 is accepted too because some issuers' signer keys are on P-384. The algorithm in the
//! protected header must fit the key: an RSA key never verifies an ECDSA signature and the
//! other way round. RFC 9053 §2.1 ties ES256 to SHA-256 and only *suggests* P-256, so an
//! ES256 signature made with a P-384 key (which some issuers produce) is checked as ECDSA
//! P-384 with SHA-256.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA256_ASN1, ECDSA_P384_SHA384_FIXED, ParsedPublicKey,
    RSA_PSS_2048_8192_SHA256,
};

use crate::error::DccError;

/// A COSE signature algorithm this verifier accepts (RFC 9053 §2.1, RFC 8230 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA with SHA-256, COSE -7.
    Es256,
    /// ECDSA with SHA-384, COSE -35.
    Es384,
    /// RSASSA-PSS with SHA-256 and MGF1 SHA-256, COSE -37.
    Ps256,
}

impl Algorithm {
    /// Maps a COSE algorithm identifier; anything else is refused.
    pub fn from_cose(id: i64) -> Result<Algorithm, DccError> {
        match id {
            -7 => Ok(Algorithm::Es256),
            -35 => Ok(Algorithm::Es384),
            -37 => Ok(Algorithm::Ps256),
            other => Err(DccError::Algorithm(other.to_string())),
        }
    }
}

/// A signer's public key, parsed once when the signer certificate is trusted.
#[derive(Clone)]
pub(crate) enum SignerKey {
    /// ECDSA on P-256 with SHA-256 (raw signature).
    P256(ParsedPublicKey),
    /// ECDSA on P-384, ready for SHA-384 (raw signature) and SHA-256 (DER signature).
    P384 {
        sha384: ParsedPublicKey,
        sha256: ParsedPublicKey,
    },
    /// RSA, for RSASSA-PSS with SHA-256.
    Rsa(ParsedPublicKey),
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignerKey::P256(_) => "SignerKey::P256",
            SignerKey::P384 { .. } => "SignerKey::P384",
            SignerKey::Rsa(_) => "SignerKey::Rsa",
        })
    }
}

/// The length in bytes of each of `r` and `s` in a COSE ECDSA signature on P-384.
const P384_LEN: usize = 48;

impl SignerKey {
    /// A P-256 key from its SEC 1 point encoding.
    pub(crate) fn p256(point: &[u8]) -> Result<SignerKey, DccError> {
        Ok(SignerKey::P256(
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(|_| bad_key())?,
        ))
    }

    /// A P-384 key from its SEC 1 point encoding.
    pub(crate) fn p384(point: &[u8]) -> Result<SignerKey, DccError> {
        Ok(SignerKey::P384 {
            sha384: ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, point).map_err(|_| bad_key())?,
            sha256: ParsedPublicKey::new(&ECDSA_P384_SHA256_ASN1, point).map_err(|_| bad_key())?,
        })
    }

    /// An RSA key from its PKCS #1 `RSAPublicKey` encoding (2048 to 8192 bits).
    pub(crate) fn rsa(pkcs1: &[u8]) -> Result<SignerKey, DccError> {
        Ok(SignerKey::Rsa(
            ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, pkcs1).map_err(|_| bad_key())?,
        ))
    }

    /// Checks `signature` over `message` with `algorithm`.
    pub(crate) fn verify(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), DccError> {
        let checked = match (self, algorithm) {
            (SignerKey::P256(key), Algorithm::Es256) => key.verify_sig(message, signature),
            (SignerKey::P384 { sha384, .. }, Algorithm::Es384) => {
                sha384.verify_sig(message, signature)
            }
            (SignerKey::P384 { sha256, .. }, Algorithm::Es256) => {
                // aws-lc-rs has no fixed-length form for this pairing; RFC 9053 §2.1's
                // `r || s` is re-encoded as the DER ECDSA-Sig-Value it offers instead.
                let der = raw_to_der(signature, P384_LEN).ok_or(DccError::Signature)?;
                sha256.verify_sig(message, &der)
            }
            (SignerKey::Rsa(key), Algorithm::Ps256) => key.verify_sig(message, signature),
            _ => return Err(DccError::KeyAlgorithmMismatch),
        };
        checked.map_err(|_| DccError::Signature)
    }

    /// The COSE algorithms this key can check.
    pub(crate) fn fits(&self, algorithm: Algorithm) -> bool {
        matches!(
            (self, algorithm),
            (SignerKey::P256(_), Algorithm::Es256)
                | (SignerKey::P384 { .. }, Algorithm::Es256 | Algorithm::Es384)
                | (SignerKey::Rsa(_), Algorithm::Ps256)
        )
    }
}

fn bad_key() -> DccError {
    DccError::SignerCertificate("the public key is malformed or unsupported")
}

/// Re-encodes a COSE ECDSA signature `r || s` (each `len` bytes, RFC 9053 §2.1) as a DER
/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3).
fn raw_to_der(signature: &[u8], len: usize) -> Option<Vec<u8>> {
    if signature.len() != 2 * len {
        return None;
    }
    let (r, s) = signature.split_at(len);
    let r = der_integer(r);
    let s = der_integer(s);
    let body = r.len() + s.len();
    let mut out = Vec::with_capacity(body + 3);
    out.push(0x30);
    if body < 0x80 {
        out.push(u8::try_from(body).ok()?);
    } else {
        out.push(0x81);
        out.push(u8::try_from(body).ok()?);
    }
    out.extend_from_slice(&r);
    out.extend_from_slice(&s);
    Some(out)
}

/// A DER INTEGER holding the unsigned big-endian `bytes`: minimal, with a zero byte in
/// front when the top bit is set so that it stays positive.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let trimmed = &bytes[start..];
    let mut out = vec![0x02];
    match trimmed.first() {
        None => out.extend_from_slice(&[1, 0]),
        Some(&first) => {
            let pad = first & 0x80 != 0;
            // At most 49 bytes for P-384, so the short length form always applies.
            out.push((trimmed.len() + usize::from(pad)) as u8);
            if pad {
                out.push(0);
            }
            out.extend_from_slice(trimmed);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    };

    use super::*;

    fn p256_pair() -> EcdsaKeyPair {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()
    }

    fn p384_pair(alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm) -> EcdsaKeyPair {
        EcdsaKeyPair::generate(alg).unwrap()
    }

    #[test]
    fn algorithm_identifiers() {
        assert_eq!(Algorithm::from_cose(-7), Ok(Algorithm::Es256));
        assert_eq!(Algorithm::from_cose(-35), Ok(Algorithm::Es384));
        assert_eq!(Algorithm::from_cose(-37), Ok(Algorithm::Ps256));
        assert_eq!(Algorithm::from_cose(-8).unwrap_err().code(), "algorithm");
        assert_eq!(Algorithm::from_cose(-257).unwrap_err().code(), "algorithm");
    }

    #[test]
    fn es256_on_p256() {
        let pair = p256_pair();
        let key = SignerKey::p256(pair.public_key().as_ref()).unwrap();
        let sig = pair.sign(&SystemRandom::new(), b"message").unwrap();
        assert_eq!(
            key.verify(Algorithm::Es256, b"message", sig.as_ref()),
            Ok(())
        );
        assert_eq!(
            key.verify(Algorithm::Es256, b"massage", sig.as_ref()),
            Err(DccError::Signature)
        );
        assert_eq!(
            key.verify(Algorithm::Ps256, b"message", sig.as_ref()),
            Err(DccError::KeyAlgorithmMismatch)
        );
        assert_eq!(
            key.verify(Algorithm::Es384, b"message", sig.as_ref()),
            Err(DccError::KeyAlgorithmMismatch)
        );
    }

    #[test]
    fn es384_on_p384() {
        let pair = p384_pair(&ECDSA_P384_SHA384_FIXED_SIGNING);
        let key = SignerKey::p384(pair.public_key().as_ref()).unwrap();
        let sig = pair.sign(&SystemRandom::new(), b"message").unwrap();
        assert_eq!(sig.as_ref().len(), 96);
        assert_eq!(
            key.verify(Algorithm::Es384, b"message", sig.as_ref()),
            Ok(())
        );
        assert_eq!(
            key.verify(Algorithm::Es384, b"massage", sig.as_ref()),
            Err(DccError::Signature)
        );
    }

    /// An ES256 signature by a P-384 key, made with OpenSSL (pyca/cryptography,
    /// `ec.ECDSA(hashes.SHA256())` on SECP384R1) as an independent implementation.
    const P384_POINT: &str = "04ff0948f3a36738a38b35093a59d62599e14ef32315984d17ca96b289033422\
        d9b99629993c10aaf0a6883470826917555dc7586f04a2337be68e9acc0e440ab12958c6d92cf823091f08d1\
        ec3b9c35535d5a921d351801dd40cdf092aed3b2db";
    const P384_MESSAGE: &[u8] = b"ES256 header, P-384 key";
    const P384_SHA256_RAW: &str = "d4617ea738f17217833577dfab32dc16a9e1223bbe041dd41c9211d2e05f37\
        27cec56b0edad473efc6ba7ee1c6b6e6cd5d68a000905c57648af0f6c2dbec955e117d30967e20b02d0949e4\
        35360f09e532e200d9cc63eb4994086baac183b7c7";
    const P384_SHA256_DER: &str = "3065023100d4617ea738f17217833577dfab32dc16a9e1223bbe041dd41c92\
        11d2e05f3727cec56b0edad473efc6ba7ee1c6b6e6cd02305d68a000905c57648af0f6c2dbec955e117d3096\
        7e20b02d0949e435360f09e532e200d9cc63eb4994086baac183b7c7";

    #[test]
    fn es256_header_on_a_p384_key() {
        let key = SignerKey::p384(&hex::decode(P384_POINT).unwrap()).unwrap();
        let raw = hex::decode(P384_SHA256_RAW).unwrap();
        assert_eq!(
            raw_to_der(&raw, P384_LEN).unwrap(),
            hex::decode(P384_SHA256_DER).unwrap()
        );
        assert_eq!(key.verify(Algorithm::Es256, P384_MESSAGE, &raw), Ok(()));
        assert_eq!(
            key.verify(Algorithm::Es256, b"another message", &raw),
            Err(DccError::Signature)
        );
        // The same bytes are not an ES384 signature of the message.
        assert_eq!(
            key.verify(Algorithm::Es384, P384_MESSAGE, &raw),
            Err(DccError::Signature)
        );
        // A P-256-sized signature is simply wrong for this key.
        assert_eq!(
            key.verify(Algorithm::Es256, P384_MESSAGE, &[1; 64]),
            Err(DccError::Signature)
        );
    }

    #[test]
    fn der_integers_are_minimal_and_positive() {
        assert_eq!(der_integer(&[0, 0, 1]), vec![2, 1, 1]);
        assert_eq!(der_integer(&[0, 0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(der_integer(&[0, 0]), vec![2, 1, 0]);
        assert_eq!(der_integer(&[0x7f, 1]), vec![2, 2, 0x7f, 1]);
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert_eq!(
            SignerKey::p256(&[4; 65]).unwrap_err().code(),
            "signer_certificate"
        );
        assert_eq!(
            SignerKey::p384(&[4; 97]).unwrap_err().code(),
            "signer_certificate"
        );
        assert_eq!(
            SignerKey::rsa(&[0x30, 0]).unwrap_err().code(),
            "signer_certificate"
        );
    }

    #[test]
    fn fits() {
        let pair = p256_pair();
        let key = SignerKey::p256(pair.public_key().as_ref()).unwrap();
        assert!(key.fits(Algorithm::Es256));
        assert!(!key.fits(Algorithm::Ps256));
    }
}
