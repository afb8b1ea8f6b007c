//! The crate's errors, one enum per kind of input: a hash in text ([`HashError`]) and a Merkle
//! proof or a request for one ([`ProofError`]).
//!
//! Each variant is one reason, named for what was wrong with the input, so that a caller (and
//! a test) can tell a forged proof from a truncated one. Messages quote sizes and key names,
//! which are public, and never entry contents.

use thiserror::Error;

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
