//! Checking Merkle proofs: inclusion of a leaf in a tree (RFC 9162 §2.1.3.2) and consistency of
//! an older tree with a newer one (RFC 9162 §2.1.4.2).
//!
//! This module owns the verifiers. They follow the RFC's algorithms step by step, after
//! checking the proof's length against the one the index and sizes determine, so that a
//! truncated or padded proof is named as such rather than as a root mismatch. It does not own
//! producing proofs ([`crate::MemoryTree`]) or deciding which root to trust (a
//! [`crate::Checkpoint`] does that).
//!
//! Where RFC 9162 leaves a case open, these functions do what the vectors of
//! transparency-dev/merkle (shared/testdata/merkle) expect: a consistency proof between equal
//! sizes is empty and holds when the roots are equal, and one from the empty tree is refused.

use crate::error::ProofError;
use crate::hash::{Hash, node_hash};

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves, for
/// `index < size`: one per level below the point where the paths to `index` and to the last
/// leaf part, then one per left sibling above it.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    inner as usize + (index >> inner).count_ones() as usize
}

/// The number of hashes in the consistency proof from `old` to `new` leaves, for
/// `0 < old < new`: the inclusion proof of the old tree's last leaf in the new tree, less the
/// levels inside the old tree's rightmost perfect subtree, plus that subtree's root unless it
/// is the whole old tree (whose root the verifier already has).
pub fn consistency_proof_len(old: u64, new: u64) -> usize {
    let shift = old.trailing_zeros();
    let below = inclusion_proof_len(old - 1, new) - shift as usize;
    if old.is_power_of_two() {
        below
    } else {
        below + 1
    }
}

/// The root a tree of `size` leaves would have if `leaf` were leaf `index` and `proof` its
/// inclusion proof (RFC 9162 §2.1.3.2, steps 1 to 4).
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        // The length check above makes this unreachable; kept because it is the RFC's.
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    Ok(r)
}

/// Checks that `proof` proves leaf `leaf` at `index` in the tree of `size` leaves whose root is
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion_proof(leaf, index, size, proof)? != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that `proof` proves the tree of `old` leaves with root `old_root` to be a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need the empty proof and equal roots; different roots for one size are a fork
/// ([`ProofError::SameSizeDifferentRoots`]). `old == 0` is refused
/// ([`ProofError::EmptyOldTree`]): every tree extends the empty one, so such a proof would say
/// nothing.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeDecreased { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        if old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots);
        }
        return Ok(());
    }
    let expected = consistency_proof_len(old, new);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }

    // Step 2: if the old tree is perfect, its root starts the path.
    let mut path = proof.iter();
    let first = if old.is_power_of_two() {
        *old_root
    } else {
        match path.next() {
            Some(hash) => *hash,
            None => {
                return Err(ProofError::WrongProofLength {
                    expected,
                    actual: proof.len(),
                });
            }
        }
    };
    // Steps 3 and 4.
    let mut f_n = old - 1;
    let mut s_n = new - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let mut f_r = first;
    let mut s_r = first;
    // Step 6.
    for c in path {
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(ProofError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if f_r != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if s_r != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::tree::MemoryTree;

    #[test]
    fn proof_lengths_match_generated_proofs() {
        let tree = MemoryTree::from_entries((0u32..70).map(|i| i.to_be_bytes()));
        for size in 1..=70 {
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).expect("in range");
                assert_eq!(
                    proof.len(),
                    inclusion_proof_len(index, size),
                    "{index} {size}"
                );
            }
            for old in 1..size {
                let proof = tree.consistency_proof(old, size).expect("in range");
                assert_eq!(
                    proof.len(),
                    consistency_proof_len(old, size),
                    "{old} {size}"
                );
            }
        }
    }

    #[test]
    fn each_refusal() {
        let tree = MemoryTree::from_entries((0u8..7).map(|i| [i]));
        let leaf = tree.leaf_hash(3).expect("leaf");
        let root = tree.root();
        let proof = tree.inclusion_proof(3, 7).expect("proof");
        assert_eq!(verify_inclusion(&leaf, 3, 7, &proof, &root), Ok(()));
        assert_eq!(
            verify_inclusion(&leaf, 7, 7, &proof, &root),
            Err(ProofError::IndexOutOfRange { index: 7, size: 7 })
        );
        assert_eq!(
            verify_inclusion(&leaf, 3, 7, &proof[..2], &root),
            Err(ProofError::WrongProofLength {
                expected: 3,
                actual: 2
            })
        );
        assert_eq!(
            verify_inclusion(&leaf_hash(b"other"), 3, 7, &proof, &root),
            Err(ProofError::RootMismatch)
        );

        let old_root = tree.root_at(3).expect("root");
        let consistency = tree.consistency_proof(3, 7).expect("proof");
        assert_eq!(
            verify_consistency(3, 7, &consistency, &old_root, &root),
            Ok(())
        );
        assert_eq!(
            verify_consistency(7, 3, &consistency, &root, &old_root),
            Err(ProofError::SizeDecreased { old: 7, new: 3 })
        );
        assert_eq!(
            verify_consistency(0, 7, &[], &old_root, &root),
            Err(ProofError::EmptyOldTree)
        );
        assert_eq!(verify_consistency(7, 7, &[], &root, &root), Ok(()));
        assert_eq!(
            verify_consistency(7, 7, &[], &old_root, &root),
            Err(ProofError::SameSizeDifferentRoots)
        );
        assert_eq!(
            verify_consistency(7, 7, &consistency[..1], &root, &root),
            Err(ProofError::WrongProofLength {
                expected: 0,
                actual: 1
            })
        );
        assert_eq!(
            verify_consistency(3, 7, &consistency, &leaf, &root),
            Err(ProofError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(3, 7, &consistency, &old_root, &leaf),
            Err(ProofError::NewRootMismatch)
        );
    }
}
