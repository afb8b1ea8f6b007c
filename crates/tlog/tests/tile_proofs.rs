//! Proofs computed from tiles alone agree with the proofs of the tree that holds every hash
//! (`MemoryTree`, RFC 9162 §2.1.3.1 and §2.1.4.1), and verify (§2.1.3.2, §2.1.4.2).
//!
//! Each proof is computed from exactly the tiles its `tiles_for_*` function names, at the
//! widths the size gives them. Every inclusion and consistency proof of every tree of 1 to 300
//! leaves is checked (a full level-0 tile and the partial one after it, level 1 from 256 on);
//! in every tree of up to 1,100 leaves (four full level-0 tiles and a partial one, level-1
//! tiles of width 1 to 4), the proofs of the leaves on each side of every tile boundary, in
//! the middle of the tiles and at the right edge. (Every proof of every tree to 1,100 leaves
//! would be 1.2 million proofs hashing a tile each.) Larger trees, to 70,000 leaves and so to
//! level 2, are checked on seeded random cases. Then: each named tile is needed, a full tile serves for a partial one, and a
//! missing, short or altered tile, or a request with no proof, is refused or caught.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use std::collections::{BTreeMap, HashMap};

use healthcode_tlog::{
    Hash, MemoryTree, ProofError, Tile, TileError, consistency_proof_from_tiles,
    inclusion_proof_from_tiles, subtree_from_tiles, tile_for, tiles_for_consistency_proof,
    tiles_for_inclusion_proof, tiles_for_subtree, verify_consistency, verify_inclusion,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0x711e_5eed;
const SMALL: u64 = 1100;
const EVERY: u64 = 300;
const LARGE: u64 = 70_000;
const RANDOM_CASES: usize = 1500;

type Tiles = BTreeMap<Tile, Vec<Hash>>;

fn tree(size: u64) -> MemoryTree {
    MemoryTree::from_entries((0..size).map(|i| format!("entry {i}")))
}

/// The levels a tree of `size` leaves has tiles at.
fn levels(size: u64) -> usize {
    (0..8).take_while(|level| size >> (8 * level) > 0).count()
}

/// The given tiles as the log serves them at `size`: each must be one of the tree's tiles at
/// that size, with its width.
fn served(tree: &MemoryTree, size: u64, tiles: &[Tile]) -> Tiles {
    tiles
        .iter()
        .map(|tile| {
            let at_size = tile_for(tile.level(), tile.index(), size).expect("a tile of the tree");
            assert_eq!(
                *tile, at_size,
                "a tile at another width than size {size} gives"
            );
            let hashes = tree.tile(tile).expect("complete");
            assert!(hashes.len() <= 256);
            (*tile, hashes)
        })
        .collect()
}

/// The tiles a proof named, served; the few distinct sets a size gives are built once.
fn tiles_for<'a>(
    cache: &'a mut HashMap<Vec<Tile>, Tiles>,
    tree: &MemoryTree,
    size: u64,
    named: Vec<Tile>,
) -> &'a Tiles {
    assert!(
        named.len() <= 2 * levels(size),
        "size {size}: {} tiles named",
        named.len()
    );
    cache
        .entry(named)
        .or_insert_with_key(|named| served(tree, size, named))
}

fn check_inclusion(tree: &MemoryTree, cache: &mut HashMap<Vec<Tile>, Tiles>, i: u64, n: u64) {
    let named = tiles_for_inclusion_proof(i, n).expect("in range");
    let tiles = tiles_for(cache, tree, n, named);
    let proof = inclusion_proof_from_tiles(i, n, tiles).expect("the named tiles suffice");
    assert_eq!(
        proof,
        tree.inclusion_proof(i, n).expect("in range"),
        "{i} in {n}"
    );
    let leaf = tree.leaf_hash(i).expect("leaf");
    let root = tree.root_at(n).expect("in range");
    assert_eq!(verify_inclusion(&leaf, i, n, &proof, &root), Ok(()));
}

fn check_consistency(tree: &MemoryTree, cache: &mut HashMap<Vec<Tile>, Tiles>, m: u64, n: u64) {
    let named = tiles_for_consistency_proof(m, n).expect("in range");
    if m == n {
        assert_eq!(named, []);
    }
    let tiles = tiles_for(cache, tree, n, named);
    let proof = consistency_proof_from_tiles(m, n, tiles).expect("the named tiles suffice");
    assert_eq!(
        proof,
        tree.consistency_proof(m, n).expect("in range"),
        "{m} to {n}"
    );
    let old = tree.root_at(m).expect("in range");
    let new = tree.root_at(n).expect("in range");
    assert_eq!(verify_consistency(m, n, &proof, &old, &new), Ok(()));
}

#[test]
fn every_proof_in_trees_to_300_leaves() {
    let tree = tree(SMALL);
    for n in 1..=EVERY {
        let mut cache = HashMap::new();
        for i in 0..n {
            check_inclusion(&tree, &mut cache, i, n);
        }
        // One set of tiles per level-0 tile at most: the tiles above a leaf change only there.
        assert!(cache.len() <= n.div_ceil(256) as usize, "size {n}");
        for m in 1..=n {
            check_consistency(&tree, &mut cache, m, n);
        }
    }
}

/// Where the tiles a proof reads change: the ends of the tree, each side of a level-0 tile
/// boundary, the middle of a tile, and the last leaves before the right edge.
fn telling_indexes(n: u64) -> impl Iterator<Item = u64> {
    let boundaries = (0..=SMALL / 256).flat_map(|t| {
        let b = t * 256;
        [
            b.saturating_sub(2),
            b.saturating_sub(1),
            b,
            b + 1,
            b + 127,
            b + 128,
        ]
    });
    let edge = (n.saturating_sub(4)..n).chain([n / 2, n / 3]);
    boundaries.chain(edge).filter(move |i| *i < n)
}

#[test]
fn proofs_in_every_tree_to_1100_leaves() {
    let tree = tree(SMALL);
    for n in 1..=SMALL {
        let mut cache = HashMap::new();
        for i in telling_indexes(n) {
            check_inclusion(&tree, &mut cache, i, n);
            check_consistency(&tree, &mut cache, i + 1, n);
        }
    }
}

#[test]
fn random_proofs_in_trees_to_level_2() {
    let tree = tree(LARGE);
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut reached_level_2 = 0;
    for _ in 0..RANDOM_CASES {
        // Half the sizes near 65,536 = 256^2, where level 2 begins.
        let n = if rng.gen_bool(0.5) {
            rng.gen_range(65_000..=LARGE)
        } else {
            rng.gen_range(1..=LARGE)
        };
        if levels(n) == 3 {
            reached_level_2 += 1;
        }
        let mut cache = HashMap::new();
        check_inclusion(&tree, &mut cache, rng.gen_range(0..n), n);
        check_inclusion(&tree, &mut cache, n - 1, n);
        check_consistency(&tree, &mut cache, rng.gen_range(1..=n), n);
        let near = n.saturating_sub(rng.gen_range(0..600)).max(1);
        check_consistency(&tree, &mut cache, near, n);
    }
    assert!(reached_level_2 > RANDOM_CASES / 4, "{reached_level_2}");
}

#[test]
fn each_named_tile_is_needed() {
    let tree = tree(SMALL);
    for n in (1..=SMALL)
        .step_by(7)
        .chain([256, 257, 511, 512, 513, 768, 1024, 1025])
    {
        for i in [0, n / 3, n - 1] {
            let named = tiles_for_inclusion_proof(i, n).expect("in range");
            let tiles = served(&tree, n, &named);
            for tile in &named {
                let mut fewer = tiles.clone();
                fewer.remove(tile);
                assert_eq!(
                    inclusion_proof_from_tiles(i, n, &fewer),
                    Err(TileError::Missing(*tile)),
                    "{i} in {n}"
                );
            }
        }
        for m in [1, n / 2 + 1, n - 1]
            .into_iter()
            .filter(|m| (1..n).contains(m))
        {
            let named = tiles_for_consistency_proof(m, n).expect("in range");
            assert!(!named.is_empty());
            let tiles = served(&tree, n, &named);
            for tile in &named {
                let mut fewer = tiles.clone();
                fewer.remove(tile);
                assert_eq!(
                    consistency_proof_from_tiles(m, n, &fewer),
                    Err(TileError::Missing(*tile)),
                    "{m} to {n}"
                );
            }
        }
    }
}

#[test]
fn subtrees_from_tiles() {
    let tree = tree(SMALL);
    for n in (1..=SMALL).step_by(3).chain([256, 512, 1024]) {
        for m in (1..=n).step_by(5).chain([n]) {
            let tiles = served(&tree, n, &tiles_for_subtree(0, m, n).expect("a prefix"));
            assert!(tiles.len() <= levels(n));
            assert_eq!(
                subtree_from_tiles(0, m, n, &tiles).ok(),
                tree.root_at(m).ok(),
                "the root at {m} from the tiles at {n}"
            );
            let i = m - 1;
            let tiles = served(&tree, n, &tiles_for_subtree(i, i + 1, n).expect("a leaf"));
            assert_eq!(tiles.len(), 1);
            assert_eq!(
                subtree_from_tiles(i, i + 1, n, &tiles).ok(),
                tree.leaf_hash(i)
            );
        }
    }
    for (start, end, size) in [(1, 3, 8), (0, 9, 8), (256, 768, 1000)] {
        assert_eq!(
            tiles_for_subtree(start, end, size),
            Err(TileError::Range { start, end, size })
        );
        assert_eq!(
            subtree_from_tiles(start, end, size, &Tiles::new()),
            Err(TileError::Range { start, end, size })
        );
    }
}

#[test]
fn a_full_tile_serves_for_a_partial_one() {
    // A client MAY fetch the full tile when the log no longer serves the partial one (C2SP
    // tlog-tiles); its first hashes are the partial tile's.
    let tree = tree(1024);
    for n in [513, 600, 767] {
        let mut tiles = served(&tree, n, &tiles_for_consistency_proof(300, n).expect("ok"));
        let partial = tile_for(0, 2, n).expect("in range");
        assert!(tiles.remove(&partial).is_some());
        tiles.insert(
            partial.full(),
            tree.tile(&partial.full()).expect("complete"),
        );
        assert_eq!(
            consistency_proof_from_tiles(300, n, &tiles).ok(),
            tree.consistency_proof(300, n).ok()
        );
    }
}

#[test]
fn refusals() {
    let tree = tree(600);
    assert_eq!(
        tiles_for_inclusion_proof(600, 600),
        Err(TileError::Proof(ProofError::IndexOutOfRange {
            index: 600,
            size: 600
        }))
    );
    assert_eq!(
        inclusion_proof_from_tiles(0, 0, &Tiles::new()),
        Err(TileError::Proof(ProofError::IndexOutOfRange {
            index: 0,
            size: 0
        }))
    );
    assert_eq!(
        tiles_for_consistency_proof(0, 600),
        Err(TileError::Proof(ProofError::EmptyOldTree))
    );
    assert_eq!(
        consistency_proof_from_tiles(601, 600, &Tiles::new()),
        Err(TileError::Proof(ProofError::SizeDecreased {
            old: 601,
            new: 600
        }))
    );
    assert_eq!(
        consistency_proof_from_tiles(600, 600, &Tiles::new()),
        Ok(vec![])
    );

    // A tile with fewer hashes than its width.
    let named = tiles_for_inclusion_proof(520, 600).expect("in range");
    let mut tiles = served(&tree, 600, &named);
    let partial = tile_for(0, 2, 600).expect("in range");
    let good = tiles[&partial].clone();
    tiles.insert(partial, good[..87].to_vec());
    assert_eq!(
        inclusion_proof_from_tiles(520, 600, &tiles),
        Err(TileError::DataLength {
            expected: 88 * 32,
            actual: 87 * 32
        })
    );

    // A tile with one hash changed gives a proof that does not verify.
    let mut altered = good.clone();
    altered[9].0[0] ^= 1;
    tiles.insert(partial, altered);
    let proof = inclusion_proof_from_tiles(520, 600, &tiles).expect("well-formed tiles");
    let leaf = tree.leaf_hash(520).expect("leaf");
    let root = tree.root_at(600).expect("in range");
    assert_eq!(
        verify_inclusion(&leaf, 520, 600, &proof, &root),
        Err(ProofError::RootMismatch)
    );

    // A tile at the width of another size is not the one named.
    tiles.remove(&partial);
    let other = tile_for(0, 2, 590).expect("in range");
    tiles.insert(other, tree.tile(&other).expect("complete"));
    assert_eq!(
        inclusion_proof_from_tiles(520, 600, &tiles),
        Err(TileError::Missing(partial))
    );
}
