//! The crate's errors, one enum per kind of input: a hash in text ([`HashError`]), a Merkle
//! proof or a request for one ([`ProofError`]), tiles, entry bundles and proofs computed from
//! tiles ([`TileError`]), signed notes and their keys ([`NoteError`]), checkpoints
//! ([`CheckpointError`]) and tlog proofs ([`TlogProofError`]).
//!
//! Each variant is one reason, named for what was wrong with the input, so that a caller (and
//! a test) can tell a forged proof from a truncated one. Messages quote sizes and key names,
//! which are public, and never entry contents.

use thiserror::Error;

use crate::tile::Tile;

/// Why bytes or text are not a [`Hash`](crate::Hash).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HashError {
    /// A hash is 32 bytes (SHA-256); this many were given.
    #[error("a hash is 32 bytes, not {0}")]
    Length(usize),
    /// The text is not canonical standard padded base64 (RFC 4648 §4).
    #[error("a hash is not valid base64")]
    Base64,
}

/// Why a Merkle proof did not verify, or could not be produced (RFC 9162 §2.1.3, §2.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The proof has a different number of hashes from the one the index and sizes determine.
    #[error("the proof has {actual} hashes where {expected} are needed")]
    WrongProofLength { expected: usize, actual: usize },
    /// An inclusion proof leads to a root other than the expected one.
    #[error("the inclusion proof does not lead to the tree's root")]
    RootMismatch,
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("tree size {old} is larger than tree size {new}: a log never shrinks")]
    SizeDecreased { old: u64, new: u64 },
    /// A consistency proof from the empty tree proves nothing and is refused, as by the
    /// vectors of transparency-dev/merkle.
    #[error("a consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// Two roots for the same tree size differ: the log forked.
    #[error("two different roots for the same tree size")]
    SameSizeDifferentRoots,
    /// A consistency proof does not lead to the old root.
    #[error("the consistency proof does not lead to the old root")]
    OldRootMismatch,
    /// A consistency proof does not lead to the new root.
    #[error("the consistency proof does not lead to the new root")]
    NewRootMismatch,
    /// A root or proof was asked for a size the in-memory tree has not reached.
    #[error("tree size {size} is beyond the {len} leaves held")]
    SizeBeyondTree { size: u64, len: u64 },
}

/// Why tile coordinates, a tile path, tile data or an entry bundle were refused (C2SP
/// tlog-tiles).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TileError {
    /// The level is above 63.
    #[error("tile level {0} is above 63")]
    Level(u8),
    /// The width is 0 or more than 256.
    #[error("tile width {0} is not between 1 and 256")]
    Width(u16),
    /// The tile's hashes are not all complete subtrees of a tree of this size.
    #[error("tile {tile} is not part of a tree of size {size}")]
    BeyondTree { tile: Tile, size: u64 },
    /// A tile path does not have the form `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`
    /// with canonical numbers.
    #[error("malformed tile path: {0}")]
    Path(&'static str),
    /// Tile data is not the tile's width times 32 bytes.
    #[error("tile data is {actual} bytes where {expected} are needed")]
    DataLength { expected: usize, actual: usize },
    /// A tile needed to compute a root was not supplied.
    #[error("tile {0} is needed and was not supplied")]
    Missing(Tile),
    /// A range of leaves asked of the tiles lies outside the tree, or does not start at a
    /// multiple of the smallest power of two at least its length (the ranges a proof holds, a
    /// leaf and the tree's prefixes all do).
    #[error("leaves {start}..{end} are not a subtree the tiles of a tree of size {size} give")]
    Range { start: u64, end: u64, size: u64 },
    /// A proof was asked of tiles that has no answer: a leaf beyond the tree, a consistency
    /// proof to a smaller tree or from the empty one.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// An entry is too long for the big-endian u16 length prefix of an entry bundle.
    #[error("an entry of {0} bytes is longer than an entry bundle allows (65535)")]
    EntryTooLong(usize),
    /// An entry bundle would hold more than 256 entries.
    #[error("an entry bundle holds at most 256 entries, not {0}")]
    TooManyEntries(usize),
    /// An entry bundle ends inside a length prefix or an entry.
    #[error("the entry bundle is truncated")]
    TruncatedBundle,
    /// An entry bundle holds a number of entries other than its tile's width.
    #[error("the entry bundle holds {actual} entries where its path says {expected}")]
    BundleCount { expected: u16, actual: usize },
}

/// Why a signed note, a key name or a key was refused (C2SP signed-note).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    /// The note is not laid out as text, blank line and signature lines, or has bytes a note
    /// may not contain.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name is empty or holds a space, a plus sign or a control character.
    #[error(
        "invalid key name: names are non-empty, without spaces, plus signs or control characters"
    )]
    KeyName,
    /// A verifier key is not `<name>+<8 hex digits>+<base64>`.
    #[error("malformed verifier key: {0}")]
    VerifierKey(&'static str),
    /// A verifier key's key ID is not the one its name and public key give.
    #[error("the verifier key's ID does not match its name and public key")]
    KeyIdMismatch,
    /// A verifier key is of a signature type other than Ed25519 (0x01).
    #[error("unsupported signature type 0x{0:02x}; only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm(u8),
    /// Nothing to sign with.
    #[error("a note needs at least one signer")]
    NoSigner,
    /// Two of the given verifiers share a key name and key ID.
    #[error("two verifiers share key name {name} and ID {key_id:08x}")]
    AmbiguousKey { name: String, key_id: u32 },
    /// A signature from a known key does not verify: the note was altered or not signed by it.
    #[error("the signature by {name} ({key_id:08x}) does not verify")]
    BadSignature { name: String, key_id: u32 },
    /// No signature is by a known key.
    #[error("the note has no signature by a known key")]
    NoKnownSignature,
}

/// Why a checkpoint was refused (C2SP tlog-checkpoint).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointError {
    /// The signed note around the checkpoint was refused.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note text is not origin, tree size, root hash and non-empty extension lines.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// The checkpoint is for another log.
    #[error("the checkpoint is for log {found:?}, not {expected:?}")]
    Origin { expected: String, found: String },
}

/// Why a tlog proof was refused (C2SP tlog-proof).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlogProofError {
    /// The text is not header, optional extra, index, proof hashes, blank line, checkpoint.
    #[error("malformed tlog proof: {0}")]
    Malformed(&'static str),
    /// The checkpoint inside the proof was refused.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not bind the entry to the checkpoint's root.
    #[error(transparent)]
    Inclusion(#[from] ProofError),
}
