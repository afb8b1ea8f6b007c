//! The Merkle tree hash of RFC 6962 §2.1 (RFC 9162 §2.1.1): SHA-256 with one byte of domain
//! separation between leaves (0x00) and interior nodes (0x01).
//!
//! This module owns the [`Hash`] type, its text forms (base64 as in checkpoints and proofs, hex
//! for people) and the three hashes every other module builds on: [`leaf_hash`],
//! [`node_hash`] and [`empty_root`]. It does not own the shape of the tree (that is
//! [`crate::tree`]) or SHA-256 itself (`sha2`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::HashError;

/// Length of a [`Hash`](struct@Hash) in bytes: SHA-256.
pub const HASH_LEN: usize = 32;

/// A SHA-256 Merkle tree hash: the hash of a leaf, of an interior node or the root of a tree.
///
/// Equality is plain byte equality; nothing here is secret, so it need not be constant-time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The hash held in `bytes`, which must be exactly [`HASH_LEN`] long.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, HashError> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashError::Length(bytes.len()))
    }

    /// The hash written as standard padded base64 (RFC 4648 §4), as in checkpoints and tlog
    /// proofs. Only the canonical encoding of 32 bytes is accepted.
    pub fn from_base64(text: &str) -> Result<Hash, HashError> {
        let bytes = STANDARD.decode(text).map_err(|_| HashError::Base64)?;
        Hash::from_slice(&bytes)
    }

    /// The standard padded base64 form (44 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Lowercase hex, for people and logs.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// The hash of a leaf holding `entry`: SHA-256(0x00 || entry) (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// The hash of an interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_of_empty_entry() {
        // SHA-256(0x00): the leaf of the single-entry vectors in shared/testdata/merkle.
        assert_eq!(
            leaf_hash(b"").to_string(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn base64_round_trip() {
        let hash = leaf_hash(b"hello world");
        assert_eq!(hash.to_base64().len(), 44);
        assert_eq!(Hash::from_base64(&hash.to_base64()), Ok(hash));
    }

    #[test]
    fn base64_is_strict() {
        let text = leaf_hash(b"").to_base64();
        assert_eq!(
            Hash::from_base64(text.trim_end_matches('=')),
            Err(HashError::Base64)
        );
        assert_eq!(
            Hash::from_base64(&format!("{text}=")),
            Err(HashError::Base64)
        );
        assert_eq!(
            Hash::from_base64(&format!(" {text}")),
            Err(HashError::Base64)
        );
        assert_eq!(
            Hash::from_base64(&STANDARD.encode([0u8; 31])),
            Err(HashError::Length(31))
        );
        assert_eq!(
            Hash::from_base64(&STANDARD.encode([0u8; 33])),
            Err(HashError::Length(33))
        );

        // The last character before the padding carries two unused bits; only zero bits are
        // canonical, so setting one must be refused rather than read as the same hash.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut altered = text.into_bytes();
        let last = altered.len() - 2;
        let position = ALPHABET
            .iter()
            .position(|c| *c == altered[last])
            .expect("base64 character");
        altered[last] = ALPHABET[position | 1];
        let altered = String::from_utf8(altered).expect("ascii");
        assert_eq!(Hash::from_base64(&altered), Err(HashError::Base64));
    }

    #[test]
    fn from_slice_wants_32_bytes() {
        assert_eq!(Hash::from_slice(&[7; 32]), Ok(Hash([7; 32])));
        assert_eq!(Hash::from_slice(&[]), Err(HashError::Length(0)));
        assert_eq!(Hash::from_slice(&[7; 12]), Err(HashError::Length(12)));
    }
}
