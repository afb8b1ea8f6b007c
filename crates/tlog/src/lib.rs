//! The formats of a tamper-evident, append-only log that outside auditors can check with
//! existing tools: the Merkle tree of RFC 9162 (formerly RFC 6962) and the C2SP transparency
//! log specifications.
//!
//! - [`leaf_hash`], [`node_hash`] and [`root_of`] define the tree hash (RFC 9162 §2.1.1);
//!   [`MemoryTree`] holds a tree in memory and answers roots, inclusion proofs and consistency
//!   proofs for any size it has reached.
//! - [`verify_inclusion`] and [`verify_consistency`] check those proofs (RFC 9162 §2.1.3.2,
//!   §2.1.4.2), each refusal a [`ProofError`] variant.
//! - [`Tile`], [`tiles_for_size`], [`parse_tile_path`], [`tile_hashes`] and
//!   [`root_from_tiles`] serve and read the tree as C2SP tlog-tiles; [`encode_entry_bundle`]
//!   and [`parse_entry_bundle`] are its entry bundles.
//! - [`inclusion_proof_from_tiles`], [`consistency_proof_from_tiles`] and
//!   [`subtree_from_tiles`] compute proofs and subtree roots from tiles alone, for a log that
//!   keeps only its tiles and for a client that fetched them; [`tiles_for_inclusion_proof`],
//!   [`tiles_for_consistency_proof`] and [`tiles_for_subtree`] name the few tiles each reads.
//! - [`Note`], [`NoteSigner`] and [`NoteVerifier`] are C2SP signed notes with Ed25519 keys.
//! - [`Checkpoint`] is C2SP tlog-checkpoint, the signed tree head.
//! - [`TlogProof`] is C2SP tlog-proof, one entry's offline-verifiable proof.
//!
//! What this crate does not own: what an entry holds or how it is hashed into a leaf beyond
//! [`leaf_hash`], storage, HTTP, reading the clock, where keys and their randomness come from
//! (a [`NoteSigner`] is made from a seed), and any policy over witnesses. SHA-256 comes from
//! `sha2`, Ed25519 from `ed25519-dalek`; nothing cryptographic is implemented here.

mod bundle;
mod checkpoint;
mod decimal;
mod error;
mod hash;
mod note;
mod proof;
mod tile;
mod tile_proof;
mod tlog_proof;
mod tree;

pub use bundle::{MAX_ENTRY_LEN, encode_entry_bundle, parse_entry_bundle};
pub use checkpoint::Checkpoint;
pub use error::{CheckpointError, HashError, NoteError, ProofError, TileError, TlogProofError};
pub use hash::{HASH_LEN, Hash, empty_root, leaf_hash, node_hash};
pub use note::{
    ED25519, MAX_SIGNATURES, Note, NoteSignature, NoteSigner, NoteVerifier, is_valid_key_name,
    key_id,
};
pub use proof::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
pub use tile::{
    MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, Tile, TilePath, encode_tile_index, parse_tile_path,
    root_from_tiles, tile_for, tile_from_bytes, tile_hashes, tile_to_bytes, tiles_for_root,
    tiles_for_size,
};
pub use tile_proof::{
    consistency_proof_from_tiles, inclusion_proof_from_tiles, subtree_from_tiles,
    tiles_for_consistency_proof, tiles_for_inclusion_proof, tiles_for_subtree,
};
pub use tlog_proof::{TLOG_PROOF_HEADER, TlogProof};
pub use tree::{MemoryTree, root_of};
