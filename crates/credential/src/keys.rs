//! Ed25519 signing keys (RFC 8032) and their key identifiers.
//!
//! This module owns key generation, the seed a caller stores, and the kid derivation: the first
//! 8 bytes of SHA-256 over the 32-byte raw public key. It does not own where keys are kept or
//! which keys are trusted (that is [`crate::TrustList`]).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use ed25519_dalek::Signer;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

/// Length of a key identifier in bytes.
pub const KID_LEN: usize = 8;

/// The key identifier of a public key: the first 8 bytes of SHA-256 over the 32-byte raw
/// public key (RFC 8032 §5.1.5 encoding).
pub fn kid_of(public_key: &[u8; 32]) -> [u8; KID_LEN] {
    let digest = Sha256::digest(public_key);
    let mut kid = [0u8; KID_LEN];
    kid.copy_from_slice(&digest[..KID_LEN]);
    kid
}

/// An Ed25519 signing key together with its key identifier.
///
/// Signing goes through aws-lc-rs, which signs about 1.75 times as fast as ed25519-dalek on
/// the machines we measured (docs/BENCHMARKS.md); issuing codes is the server's hottest
/// path. Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so both libraries produce the
/// same bytes, which a test checks. ed25519-dalek keeps the seed and derives the public key.
///
/// The secret is zeroed when the key is dropped (ed25519-dalek's `zeroize` feature; aws-lc
/// clears its own copy). `Debug` shows only the kid.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    /// `None` only if aws-lc refuses a seed, which it does not for 32 bytes; signing then
    /// falls back to ed25519-dalek.
    fast: Option<Arc<Ed25519KeyPair>>,
    kid: [u8; KID_LEN],
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate<R: CryptoRngCore>(rng: &mut R) -> SigningKey {
        SigningKey::wrap(ed25519_dalek::SigningKey::generate(rng))
    }

    /// The key for a 32-byte seed (the RFC 8032 §5.1.5 private key).
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey::wrap(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    fn wrap(inner: ed25519_dalek::SigningKey) -> SigningKey {
        let kid = kid_of(inner.verifying_key().as_bytes());
        let fast = Ed25519KeyPair::from_seed_unchecked(&inner.to_bytes())
            .ok()
            .filter(|pair| pair.public_key().as_ref() == inner.verifying_key().as_bytes())
            .map(Arc::new);
        SigningKey { inner, fast, kid }
    }

    /// The secret seed. The caller stores it; treat it as a secret.
    pub fn seed(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    pub fn kid(&self) -> [u8; KID_LEN] {
        self.kid
    }

    /// The 32-byte raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.inner.verifying_key().to_bytes()
    }

    /// Signs `message` (PureEdDSA, RFC 8032 §5.1.6). Deterministic.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        if let Some(pair) = &self.fast
            && let Ok(sig) = <[u8; 64]>::try_from(pair.sign(message).as_ref())
        {
            return sig;
        }
        self.inner.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &hex::encode(self.kid))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from RFC 8032 §7.1, TEST 1: a secret key, its public key and the signature of
    //! the empty message.

    use super::*;

    #[test]
    fn rfc8032_test_1_public_key() {
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .expect("hex")
                .try_into()
                .expect("32 bytes");
        let key = SigningKey::from_seed(&seed);
        assert_eq!(
            hex::encode(key.public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        // RFC 8032 §7.1 TEST 1: the signature of the empty message.
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let digest = Sha256::digest(key.public_key());
        assert_eq!(key.kid(), digest[..8]);
        assert_eq!(kid_of(&key.public_key()), key.kid());
    }

    proptest::proptest! {
        #[test]
        fn aws_lc_and_dalek_sign_the_same_bytes(seed in proptest::array::uniform32(0u8..), msg in proptest::collection::vec(0u8.., 0..400)) {
            let key = SigningKey::from_seed(&seed);
            proptest::prop_assert!(key.fast.is_some());
            proptest::prop_assert_eq!(key.sign(&msg), key.inner.sign(&msg).to_bytes());
        }
    }

    #[test]
    fn seed_round_trips_and_debug_hides_it() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let again = SigningKey::from_seed(&key.seed());
        assert_eq!(again.public_key(), key.public_key());
        let debug = format!("{key:?}");
        assert!(debug.contains(&hex::encode(key.kid())));
        assert!(!debug.contains(&hex::encode(key.seed())));
    }
}
