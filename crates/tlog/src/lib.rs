//! The formats of a tamper-evident, append-only log that outside auditors can check with
//! existing tools: the Merkle tree of RFC 9162 (formerly RFC 6962) and the C2SP transparency
//! log specifications.
//!
//! - [`leaf_hash`], [`node_hash`] and [`root_of`] define the tree hash (RFC 9162 §2.1.1);
//!   [`MemoryTree`] holds a tree in memory and answers roots, inclusion proofs and consistency
//!   proofs for any size it has reached.
//! - [`verify_inclusion`] and [`verify_consistency`] check those proofs (RFC 9162 §2.1.3.2,
//!   §2.1.4.2), each refusal a [`ProofError`] variant.
//!
//! What this crate does not own: what an entry holds or how it is hashed into a leaf beyond
//! [`leaf_hash`], storage, HTTP, reading the clock, and where keys and their randomness come
//! from. SHA-256 comes from `sha2`; nothing cryptographic is implemented here.

mod error;
mod hash;
mod proof;
mod tree;

pub use error::{HashError, ProofError};
pub use hash::{HASH_LEN, Hash, empty_root, leaf_hash, node_hash};
pub use proof::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
pub use tree::{MemoryTree, root_of};
