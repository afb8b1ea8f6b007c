//! The Merkle tree of RFC 9162 §2.1.1 over a list of leaf hashes, and the proofs a log hands
//! out: inclusion (§2.1.3.1) and consistency (§2.1.4.1).
//!
//! This module owns [`root_of`], the definition of the tree hash written as the RFC writes it,
//! and [`MemoryTree`], an append-only tree held in memory that answers roots and proofs for any
//! size it has reached. It does not own checking proofs ([`crate::proof`], written from the
//! RFC's verification algorithms rather than from the generation code here, so that each
//! checks the other), storage, or tiles ([`crate::tile`]).

use crate::error::ProofError;
use crate::hash::{Hash, empty_root, leaf_hash, node_hash};

/// The largest power of two smaller than `n`, for `n >= 2`: where RFC 9162 §2.1.1 splits a
/// list of `n` leaves into a left subtree (a perfect one) and the rest.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The Merkle tree hash MTH of a list of leaf hashes (RFC 9162 §2.1.1): the empty-tree hash for
/// none, the leaf hash for one, else the node hash of the roots of the first `k` and of the
/// rest, `k` the largest power of two smaller than the count.
///
/// This is the definition, computed anew each call; [`MemoryTree`] keeps the complete
/// subtrees instead.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            // `split` of a length that fits in memory fits in usize.
            let k = split(leaves.len() as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// An append-only Merkle tree held in memory.
///
/// It keeps every complete subtree: `levels[h][i]` is the root of the perfect subtree of
/// `2^h` leaves starting at leaf `i * 2^h`. So a root or a proof for any size costs a few
/// dozen lookups and hashes, and the whole costs about two hashes per leaf.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    pub(crate) levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// A tree of these entries, in order.
    pub fn from_entries<I, E>(entries: I) -> MemoryTree
    where
        I: IntoIterator<Item = E>,
        E: AsRef<[u8]>,
    {
        let mut tree = MemoryTree::new();
        for entry in entries {
            tree.push(entry.as_ref());
        }
        tree
    }

    /// Appends an entry as the next leaf (its hash is [`leaf_hash`]) and returns its index.
    pub fn push(&mut self, entry: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf whose hash the caller computed, and returns its index.
    pub fn push_leaf_hash(&mut self, hash: Hash) -> u64 {
        let index = self.len();
        let mut hash = hash;
        let mut height = 0;
        loop {
            if self.levels.len() == height {
                self.levels.push(Vec::new());
            }
            let level = &mut self.levels[height];
            level.push(hash);
            // An even count at this height completes a subtree one level up.
            if level.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            height += 1;
        }
        index
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of leaf `index`, if there is one.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        let leaves = self.levels.first()?;
        leaves.get(usize::try_from(index).ok()?).copied()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.subtree(0, self.len())
    }

    /// The root of the tree of the first `size` leaves, as the log had it at that size.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves, from the
    /// leaf's sibling up to a child of the root: `PATH(index, D[0:size])` of RFC 9162 §2.1.3.1.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    /// The consistency proof from the tree of the first `old` leaves to that of the first
    /// `new`: `PROOF(old, D[0:new])` of RFC 9162 §2.1.4.1.
    ///
    /// Equal sizes give the empty proof. A proof from the empty tree is refused
    /// ([`ProofError::EmptyOldTree`]): it would prove nothing, and verifiers refuse it.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new)?;
        if old > new {
            return Err(ProofError::SizeDecreased { old, new });
        }
        if old == 0 {
            return Err(ProofError::EmptyOldTree);
        }
        let mut proof = Vec::new();
        if old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.len() {
            return Err(ProofError::SizeBeyondTree {
                size,
                len: self.len(),
            });
        }
        Ok(())
    }

    /// `MTH(D[start:end])` for `start <= end <= len()`.
    pub(crate) fn subtree(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let height = n.trailing_zeros() as usize;
            // A perfect, aligned subtree inside the first `len()` leaves was completed, so
            // `levels[height]` holds it; indexes fit in usize because the leaves are in memory.
            return self.levels[height][(start >> height) as usize];
        }
        let k = split(n);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// `PATH(m, D[start:end])` of RFC 9162 §2.1.3.1, appended to `out` from the bottom up.
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.subtree(start, start + k));
        }
    }

    /// `SUBPROOF(m, D[start:end], b)` of RFC 9162 §2.1.4.1, appended to `out` from the bottom
    /// up. `known` is the RFC's `b`: whether the subtree of the first `m` leaves is the old
    /// tree itself, whose root the verifier already has.
    fn subproof(&self, m: u64, start: u64, end: u64, known: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !known {
                out.push(self.subtree(start, end));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, known, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.subtree(start, start + k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(8), 4);
        assert_eq!(split(9), 8);
        assert_eq!(split(u64::MAX), 1 << 63);
    }

    #[test]
    fn small_trees_by_hand() {
        let l = leaves(3);
        assert_eq!(root_of(&[]), empty_root());
        assert_eq!(root_of(&l[..1]), l[0]);
        assert_eq!(root_of(&l[..2]), node_hash(&l[0], &l[1]));
        assert_eq!(
            root_of(&l),
            node_hash(&node_hash(&l[0], &l[1]), &l[2]),
            "three leaves: ((0 1) 2)"
        );
    }

    #[test]
    fn memory_tree_roots_match_the_definition_at_every_size() {
        let l = leaves(300);
        let mut tree = MemoryTree::new();
        assert_eq!(tree.root(), empty_root());
        for (i, leaf) in l.iter().enumerate() {
            assert_eq!(tree.push_leaf_hash(*leaf), i as u64);
            assert_eq!(tree.root(), root_of(&l[..=i]));
        }
        for size in 0..=300 {
            assert_eq!(tree.root_at(size), Ok(root_of(&l[..size as usize])));
        }
        assert_eq!(
            tree.root_at(301),
            Err(ProofError::SizeBeyondTree {
                size: 301,
                len: 300
            })
        );
    }

    #[test]
    fn proof_requests_out_of_range() {
        let tree = MemoryTree::from_entries([b"a", b"b", b"c"]);
        assert_eq!(
            tree.inclusion_proof(3, 3),
            Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
        );
        assert_eq!(
            tree.inclusion_proof(0, 0),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            tree.inclusion_proof(0, 4),
            Err(ProofError::SizeBeyondTree { size: 4, len: 3 })
        );
        assert_eq!(
            tree.consistency_proof(3, 2),
            Err(ProofError::SizeDecreased { old: 3, new: 2 })
        );
        assert_eq!(tree.consistency_proof(0, 2), Err(ProofError::EmptyOldTree));
        assert_eq!(tree.consistency_proof(2, 2), Ok(vec![]));
        assert_eq!(tree.inclusion_proof(0, 1), Ok(vec![]));
    }

    #[test]
    fn rfc_9162_example_proofs() {
        // The seven-leaf tree of RFC 9162 §2.1.5 (leaves d0..d6) and its worked examples.
        let tree = MemoryTree::from_entries((0u8..7).map(|i| [i]));
        let h = |start, end| tree.subtree(start, end);
        let d = |i| tree.leaf_hash(i).expect("leaf");
        assert_eq!(tree.inclusion_proof(0, 7), Ok(vec![d(1), h(2, 4), h(4, 7)]));
        assert_eq!(tree.inclusion_proof(3, 7), Ok(vec![d(2), h(0, 2), h(4, 7)]));
        assert_eq!(tree.inclusion_proof(4, 7), Ok(vec![d(5), d(6), h(0, 4)]));
        assert_eq!(tree.inclusion_proof(6, 7), Ok(vec![h(4, 6), h(0, 4)]));
        assert_eq!(
            tree.consistency_proof(3, 7),
            Ok(vec![d(2), d(3), h(0, 2), h(4, 7)])
        );
        assert_eq!(tree.consistency_proof(4, 7), Ok(vec![h(4, 7)]));
        assert_eq!(
            tree.consistency_proof(6, 7),
            Ok(vec![h(4, 6), d(6), h(0, 4)])
        );
    }
}
