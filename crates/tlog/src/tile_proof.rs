//! Inclusion and consistency proofs (RFC 9162 §2.1.3.1, §2.1.4.1) computed from tiles alone
//! (C2SP tlog-tiles), for a log that keeps its tree as tiles rather than every hash, and for a
//! client that has fetched the tiles and wants the proof a log would have given.
//!
//! Each proof comes as a pair of functions: `tiles_for_*` names the tiles the proof reads, each
//! at the width the tree of the given size gives it (so a partial tile on the right edge), and
//! `*_from_tiles` computes the proof from them. Every hash of a proof is the root of a range of
//! leaves `D[start:end]` whose start is a multiple of the smallest power of two at least its
//! length; such a range is perfect subtrees laid side by side, one per binary digit of its
//! length, and each of those is the root of a run of hashes inside one tile. A proof so reads
//! at most two tiles per level: the one above the leaf (or the old tree's last leaf) and the
//! one on the tree's right edge.
//!
//! This module owns choosing those tiles and hashing them into proofs, and the root of any
//! such range ([`subtree_from_tiles`]: a leaf's hash, the root of an older tree). It does not
//! own tile coordinates, paths and bytes ([`crate::tile`]), proofs from every hash
//! ([`crate::MemoryTree`]), or checking proofs ([`crate::verify_inclusion`],
//! [`crate::verify_consistency`]): a proof computed from altered tiles is a proof of the
//! altered tree, and only checking it against a signed root says whether that is the log's.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{ProofError, TileError};
use crate::hash::{Hash, empty_root, node_hash};
use crate::tile::{Tile, locate, perfect_subtree_from_tiles};
use crate::tree::split;

/// The ranges `D[start:end]` whose roots make up `PATH(m, D[start:end])` of RFC 9162
/// §2.1.3.1, bottom up, as [`crate::MemoryTree::inclusion_proof`] hashes them.
fn path_ranges(m: u64, start: u64, end: u64, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_ranges(m, start, start + k, out);
        out.push((start + k, end));
    } else {
        path_ranges(m - k, start + k, end, out);
        out.push((start, start + k));
    }
}

/// The ranges whose roots make up `SUBPROOF(m, D[start:end], known)` of RFC 9162 §2.1.4.1,
/// bottom up, as [`crate::MemoryTree::consistency_proof`] hashes them.
fn subproof_ranges(m: u64, start: u64, end: u64, known: bool, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if m == n {
        if !known {
            out.push((start, end));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof_ranges(m, start, start + k, known, out);
        out.push((start + k, end));
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// Whether the tiles of a tree of `size` leaves give the root of `D[start:end]` by the few
/// perfect subtrees of [`pieces`]: the range lies in the tree and starts at a multiple of the
/// smallest power of two at least its length. Every range of a proof does.
fn check_range(start: u64, end: u64, size: u64) -> Result<(), TileError> {
    let aligned = start <= end
        && match (end - start).checked_next_power_of_two() {
            Some(power) => start.is_multiple_of(power),
            // A length above 2^63 leaves room only for a range from leaf 0.
            None => start == 0,
        };
    if !aligned || end > size {
        return Err(TileError::Range { start, end, size });
    }
    Ok(())
}

/// The perfect subtrees, as (first leaf, height), whose roots make up `MTH(D[start:end])` for a
/// range [`check_range`] accepts, left to right: one per bit set in its length, largest first.
/// The split of RFC 9162 §2.1.1 cuts such a range exactly there, at each step the largest
/// power of two below what is left.
fn pieces(start: u64, end: u64) -> Vec<(u64, u32)> {
    let len = end - start;
    let mut pieces = Vec::new();
    let mut first = start;
    for height in (0..64).rev() {
        if len & (1 << height) != 0 {
            pieces.push((first, height));
            first += 1 << height;
        }
    }
    pieces
}

/// Adds the tiles holding the pieces of `D[start:end]` in the tree of `size` leaves.
fn add_tiles(start: u64, end: u64, size: u64, tiles: &mut BTreeSet<Tile>) -> Result<(), TileError> {
    for (first, height) in pieces(start, end) {
        tiles.insert(locate(first, height, size)?.0);
    }
    Ok(())
}

/// `MTH(D[start:end])` from the roots of its pieces: each left piece is the left child of
/// the node over it and what follows it.
fn hash_range(
    start: u64,
    end: u64,
    size: u64,
    tiles: &BTreeMap<Tile, Vec<Hash>>,
) -> Result<Hash, TileError> {
    let roots = pieces(start, end)
        .into_iter()
        .map(|(first, height)| perfect_subtree_from_tiles(first, height, size, tiles))
        .collect::<Result<Vec<_>, _>>()?;
    let mut roots = roots.into_iter().rev();
    let Some(mut hash) = roots.next() else {
        return Ok(empty_root());
    };
    for left in roots {
        hash = node_hash(&left, &hash);
    }
    Ok(hash)
}

/// The tiles, at the widths the tree of `size` leaves gives them, that [`subtree_from_tiles`]
/// reads for `D[start:end]`: at most one per level. Refused with [`TileError::Range`] for a
/// range it does not hash.
pub fn tiles_for_subtree(start: u64, end: u64, size: u64) -> Result<Vec<Tile>, TileError> {
    check_range(start, end, size)?;
    let mut tiles = BTreeSet::new();
    add_tiles(start, end, size, &mut tiles)?;
    Ok(tiles.into_iter().collect())
}

/// `MTH(D[start:end])` (RFC 9162 §2.1.1) in the tree of `size` leaves, from its tiles: the hash
/// of leaf `i` is the range `(i, i + 1)`, and the root the tree had at an older size `old` is
/// the range `(0, old)`.
///
/// The range must lie in the tree and start at a multiple of the smallest power of two at
/// least its length, as every subtree of a proof and every prefix of the tree does; any other
/// is refused ([`TileError::Range`]). `tiles` must hold each tile of [`tiles_for_subtree`], or
/// the full tile in place of a partial one, each with as many hashes as its width.
pub fn subtree_from_tiles(
    start: u64,
    end: u64,
    size: u64,
    tiles: &BTreeMap<Tile, Vec<Hash>>,
) -> Result<Hash, TileError> {
    check_range(start, end, size)?;
    hash_range(start, end, size, tiles)
}

/// The ranges of the inclusion proof of leaf `index` in the tree of `size` leaves.
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, TileError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    let mut ranges = Vec::new();
    path_ranges(index, 0, size, &mut ranges);
    Ok(ranges)
}

/// The ranges of the consistency proof from the tree of `old` leaves to that of `new`.
fn consistency_ranges(old: u64, new: u64) -> Result<Vec<(u64, u64)>, TileError> {
    if old > new {
        return Err(ProofError::SizeDecreased { old, new }.into());
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree.into());
    }
    let mut ranges = Vec::new();
    if old < new {
        subproof_ranges(old, 0, new, true, &mut ranges);
    }
    Ok(ranges)
}

/// The tiles that [`inclusion_proof_from_tiles`] reads for leaf `index` in the tree of `size`
/// leaves, at the widths that size gives them: at most two per level. Refused
/// ([`ProofError::IndexOutOfRange`]) for an index not below the size.
pub fn tiles_for_inclusion_proof(index: u64, size: u64) -> Result<Vec<Tile>, TileError> {
    let mut tiles = BTreeSet::new();
    for (start, end) in inclusion_ranges(index, size)? {
        add_tiles(start, end, size, &mut tiles)?;
    }
    Ok(tiles.into_iter().collect())
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1), from
/// the tiles [`tiles_for_inclusion_proof`] names (or the full tile in place of a partial one):
/// the same hashes [`crate::MemoryTree::inclusion_proof`] gives.
pub fn inclusion_proof_from_tiles(
    index: u64,
    size: u64,
    tiles: &BTreeMap<Tile, Vec<Hash>>,
) -> Result<Vec<Hash>, TileError> {
    inclusion_ranges(index, size)?
        .into_iter()
        .map(|(start, end)| hash_range(start, end, size, tiles))
        .collect()
}

/// The tiles that [`consistency_proof_from_tiles`] reads for the proof from the tree of `old`
/// leaves to that of `new`, at the widths `new` gives them: at most two per level, none when
/// the sizes are equal. Refused as [`crate::MemoryTree::consistency_proof`] refuses: an old
/// size above the new ([`ProofError::SizeDecreased`]) or zero ([`ProofError::EmptyOldTree`]).
pub fn tiles_for_consistency_proof(old: u64, new: u64) -> Result<Vec<Tile>, TileError> {
    let mut tiles = BTreeSet::new();
    for (start, end) in consistency_ranges(old, new)? {
        add_tiles(start, end, new, &mut tiles)?;
    }
    Ok(tiles.into_iter().collect())
}

/// The consistency proof from the tree of `old` leaves to that of `new` (RFC 9162 §2.1.4.1),
/// from the tiles [`tiles_for_consistency_proof`] names (or the full tile in place of a partial
/// one): the same hashes [`crate::MemoryTree::consistency_proof`] gives.
pub fn consistency_proof_from_tiles(
    old: u64,
    new: u64,
    tiles: &BTreeMap<Tile, Vec<Hash>>,
) -> Result<Vec<Hash>, TileError> {
    consistency_ranges(old, new)?
        .into_iter()
        .map(|(start, end)| hash_range(start, end, new, tiles))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_a_proof_hashes() {
        // The seven-leaf tree of RFC 9162 §2.1.5.
        let mut ranges = Vec::new();
        path_ranges(3, 0, 7, &mut ranges);
        assert_eq!(ranges, [(2, 3), (0, 2), (4, 7)]);
        ranges.clear();
        subproof_ranges(3, 0, 7, true, &mut ranges);
        assert_eq!(ranges, [(2, 3), (3, 4), (0, 2), (4, 7)]);
        for (start, end) in [(2, 3), (3, 4), (0, 2), (4, 7), (0, 7), (6, 7)] {
            assert_eq!(check_range(start, end, 7), Ok(()), "{start}..{end}");
        }
    }

    #[test]
    fn ranges_tiles_cannot_hash_cheaply_are_refused() {
        for (start, end, size) in [(1, 3, 7), (2, 5, 7), (4, 8, 7), (3, 2, 7), (5, 7, 8)] {
            assert_eq!(
                check_range(start, end, size),
                Err(TileError::Range { start, end, size }),
                "{start}..{end} of {size}"
            );
        }
        assert_eq!(check_range(0, u64::MAX, u64::MAX), Ok(()));
        assert!(check_range(1, u64::MAX, u64::MAX).is_err());
        assert_eq!(check_range(5, 5, 7), Ok(()));
    }

    #[test]
    fn pieces_follow_the_binary_digits_of_the_length() {
        assert_eq!(pieces(0, 0), []);
        assert_eq!(pieces(4, 7), [(4, 1), (6, 0)]);
        assert_eq!(
            pieces(512, 811),
            [(512, 8), (768, 5), (800, 3), (808, 1), (810, 0)]
        );
    }
}
