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
//! - [`CosignatureSigner`] and [`CosignatureVerifier`] are C2SP tlog-cosignature's Ed25519
//!   `cosignature/v1`; [`add_cosignatures`] moves a witness's onto a checkpoint and
//!   [`witnessed`] checks a k-of-n policy over them.
//! - [`Witness`] is the decision of a C2SP tlog-witness on an [`AddCheckpoint`] request;
//!   [`add_checkpoint_request`], [`parse_add_checkpoint_response`] and [`parse_tlog_size`]
//!   are the log's end of that call.
//!
//! What this crate does not own: what an entry holds or how it is hashed into a leaf beyond
//! [`leaf_hash`], storage (a witness's [`LogState`] is passed in and handed back), HTTP,
//! reading the clock, where keys and their randomness come from (signers are made from a
//! seed), and which witnesses, or how many, a client should trust. SHA-256 comes from
//! `sha2`, Ed25519 from `ed25519-dalek`; nothing cryptographic is implemented here.

mod bundle;
mod checkpoint;
mod cosignature;
mod decimal;
mod error;
mod hash;
mod note;
mod proof;
mod tile;
mod tile_proof;
mod tlog_proof;
mod tree;
mod witness;

pub use bundle::{MAX_ENTRY_LEN, encode_entry_bundle, parse_entry_bundle};
pub use checkpoint::Checkpoint;
pub use cosignature::{
    COSIGNATURE_V1, Cosignature, CosignatureSigner, CosignatureVerifier, MAX_TIMESTAMP,
    add_cosignatures, witnessed,
};
pub use error::{
    CheckpointError, CosignatureError, HashError, NoteError, ProofError, TileError, TlogProofError,
    WitnessError,
};
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
pub use witness::{
    AddCheckpoint, Cosigned, LogState, MAX_CONSISTENCY_PROOF_LINES, TLOG_SIZE_CONTENT_TYPE,
    Witness, add_checkpoint_request, parse_add_checkpoint_response, parse_tlog_size,
};
