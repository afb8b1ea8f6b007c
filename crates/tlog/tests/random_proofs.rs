//! Randomised checks of the proofs: over many tree sizes, indexes and pairs of sizes, every
//! proof the tree produces verifies, and every tampered version of it does not.
//!
//! Generation (`MemoryTree`, RFC 9162 §2.1.3.1 and §2.1.4.1) and verification (RFC 9162
//! §2.1.3.2 and §2.1.4.2) are written separately from the RFC's two descriptions, and roots are
//! also checked against `root_of`, the definition of §2.1.1, so agreement here means something.
//! The generator is seeded: a failure names the seed and case, and reruns the same way.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use healthcode_tlog::{
    Hash, MemoryTree, ProofError, consistency_proof_len, inclusion_proof_len, root_of,
    verify_consistency, verify_inclusion,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0x7106_2024;
const MAX_SIZE: u64 = 1100;
const CASES: usize = 600;

fn tree() -> (MemoryTree, Vec<Hash>) {
    let tree = MemoryTree::from_entries((0..MAX_SIZE).map(|i| format!("entry {i}")));
    let leaves = (0..MAX_SIZE)
        .map(|i| tree.leaf_hash(i).expect("leaf"))
        .collect();
    (tree, leaves)
}

/// A size in `1..=MAX_SIZE`, often next to a power of two, where proofs change shape.
fn size(rng: &mut StdRng) -> u64 {
    if rng.gen_bool(0.3) {
        let power = 1u64 << rng.gen_range(0..=10);
        (power + rng.gen_range(0..=2))
            .saturating_sub(1)
            .clamp(1, MAX_SIZE)
    } else {
        rng.gen_range(1..=MAX_SIZE)
    }
}

fn flip_bit(hash: &Hash, rng: &mut StdRng) -> Hash {
    let mut bytes = hash.0;
    let bit = rng.gen_range(0..256);
    bytes[bit / 8] ^= 1 << (bit % 8);
    Hash(bytes)
}

#[test]
fn inclusion_proofs_verify_and_tampered_ones_do_not() {
    let (tree, leaves) = tree();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut refused = 0;
    for case in 0..CASES {
        let size = size(&mut rng);
        let index = rng.gen_range(0..size);
        let context = format!("seed {SEED:#x}, case {case}: index {index} in size {size}");
        let root = tree.root_at(size).expect("in range");
        assert_eq!(root, root_of(&leaves[..size as usize]), "{context}");
        let leaf = leaves[index as usize];
        let proof = tree.inclusion_proof(index, size).expect("in range");
        assert_eq!(proof.len(), inclusion_proof_len(index, size), "{context}");
        assert_eq!(
            verify_inclusion(&leaf, index, size, &proof, &root),
            Ok(()),
            "{context}"
        );

        let mut expect_refused = |result: Result<(), ProofError>, what: &str| {
            assert!(result.is_err(), "{context}: {what} was accepted");
            refused += 1;
        };
        if !proof.is_empty() {
            let mut altered = proof.clone();
            let at = rng.gen_range(0..proof.len());
            altered[at] = flip_bit(&altered[at], &mut rng);
            let result = verify_inclusion(&leaf, index, size, &altered, &root);
            assert_eq!(result, Err(ProofError::RootMismatch), "{context}");
            expect_refused(result, "a flipped bit in the proof");

            let mut shorter = proof.clone();
            shorter.remove(rng.gen_range(0..proof.len()));
            expect_refused(
                verify_inclusion(&leaf, index, size, &shorter, &root),
                "a proof missing a hash",
            );
            let mut swapped = proof.clone();
            if swapped.len() > 1 {
                swapped.swap(0, 1);
                expect_refused(
                    verify_inclusion(&leaf, index, size, &swapped, &root),
                    "a proof with two hashes swapped",
                );
            }
        }
        let mut longer = proof.clone();
        longer.insert(rng.gen_range(0..=proof.len()), leaf);
        let result = verify_inclusion(&leaf, index, size, &longer, &root);
        assert!(
            matches!(result, Err(ProofError::WrongProofLength { .. })),
            "{context}"
        );
        expect_refused(result, "a proof with an extra hash");
        expect_refused(
            verify_inclusion(&flip_bit(&leaf, &mut rng), index, size, &proof, &root),
            "another leaf",
        );
        expect_refused(
            verify_inclusion(&leaf, index, size, &proof, &flip_bit(&root, &mut rng)),
            "another root",
        );
        if size > 1 {
            let other = (index + rng.gen_range(1..size)) % size;
            expect_refused(
                verify_inclusion(&leaf, other, size, &proof, &root),
                "the proof for another index",
            );
            expect_refused(
                verify_inclusion(&leaves[other as usize], index, size, &proof, &root),
                "another index's leaf",
            );
        }
        // The proof against another tree size, with that size's true root.
        let other_size = rng.gen_range(index + 1..=MAX_SIZE);
        if other_size != size {
            let other_root = tree.root_at(other_size).expect("in range");
            expect_refused(
                verify_inclusion(&leaf, index, other_size, &proof, &other_root),
                "the proof for another tree size",
            );
        }
        expect_refused(
            verify_inclusion(&leaf, size, size, &proof, &root),
            "an index past the end",
        );
    }
    assert!(refused > CASES * 5, "{refused} refusals");
}

#[test]
fn consistency_proofs_verify_and_tampered_ones_do_not() {
    let (tree, leaves) = tree();
    let mut rng = StdRng::seed_from_u64(SEED ^ 1);
    for case in 0..CASES {
        let new = size(&mut rng);
        let old = if rng.gen_bool(0.1) {
            new
        } else {
            rng.gen_range(1..=new)
        };
        let context = format!("seed {:#x}, case {case}: from {old} to {new}", SEED ^ 1);
        let old_root = tree.root_at(old).expect("in range");
        let new_root = tree.root_at(new).expect("in range");
        assert_eq!(old_root, root_of(&leaves[..old as usize]), "{context}");
        let proof = tree.consistency_proof(old, new).expect("in range");
        let expected_len = if old == new {
            0
        } else {
            consistency_proof_len(old, new)
        };
        assert_eq!(proof.len(), expected_len, "{context}");
        assert_eq!(
            verify_consistency(old, new, &proof, &old_root, &new_root),
            Ok(()),
            "{context}"
        );

        let refuse = |result: Result<(), ProofError>, what: &str| {
            assert!(result.is_err(), "{context}: {what} was accepted");
        };
        if !proof.is_empty() {
            let mut altered = proof.clone();
            let at = rng.gen_range(0..proof.len());
            altered[at] = flip_bit(&altered[at], &mut rng);
            let result = verify_consistency(old, new, &altered, &old_root, &new_root);
            assert!(
                matches!(
                    result,
                    Err(ProofError::OldRootMismatch | ProofError::NewRootMismatch)
                ),
                "{context}: {result:?}"
            );
            let mut shorter = proof.clone();
            shorter.remove(rng.gen_range(0..proof.len()));
            refuse(
                verify_consistency(old, new, &shorter, &old_root, &new_root),
                "a proof missing a hash",
            );
        }
        let mut longer = proof.clone();
        longer.insert(rng.gen_range(0..=proof.len()), old_root);
        let result = verify_consistency(old, new, &longer, &old_root, &new_root);
        assert!(
            matches!(result, Err(ProofError::WrongProofLength { .. })),
            "{context}: {result:?}"
        );
        refuse(
            verify_consistency(old, new, &proof, &flip_bit(&old_root, &mut rng), &new_root),
            "another old root",
        );
        refuse(
            verify_consistency(old, new, &proof, &old_root, &flip_bit(&new_root, &mut rng)),
            "another new root",
        );
        if old != new {
            refuse(
                verify_consistency(old, new, &proof, &new_root, &old_root),
                "swapped roots",
            );
            refuse(
                verify_consistency(new, old, &proof, &new_root, &old_root),
                "swapped sizes",
            );
        }
        // The proof between other sizes, each with its true root.
        let other_old = rng.gen_range(1..=new);
        if other_old != old {
            let other_root = tree.root_at(other_old).expect("in range");
            refuse(
                verify_consistency(other_old, new, &proof, &other_root, &new_root),
                "the proof from another old size",
            );
        }
        let other_new = rng.gen_range(old..=MAX_SIZE);
        if other_new != new {
            let other_root = tree.root_at(other_new).expect("in range");
            refuse(
                verify_consistency(old, other_new, &proof, &old_root, &other_root),
                "the proof to another new size",
            );
        }
        refuse(
            verify_consistency(0, new, &proof, &old_root, &new_root),
            "a proof from the empty tree",
        );
    }
}

#[test]
fn every_proof_of_small_trees() {
    // Exhaustively, for every size up to 70: every index and every pair of sizes.
    let (tree, leaves) = tree();
    for size in 1..=70u64 {
        let root = tree.root_at(size).expect("in range");
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).expect("in range");
            assert_eq!(
                verify_inclusion(&leaves[index as usize], index, size, &proof, &root),
                Ok(()),
                "index {index} in size {size}"
            );
        }
        for old in 1..=size {
            let proof = tree.consistency_proof(old, size).expect("in range");
            let old_root = tree.root_at(old).expect("in range");
            assert_eq!(
                verify_consistency(old, size, &proof, &old_root, &root),
                Ok(()),
                "from {old} to {size}"
            );
        }
    }
}
