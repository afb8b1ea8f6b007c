//! Tiles (C2SP tlog-tiles): for every tree size from 1 to 600 the tiles are computed two ways
//! (from the tree's stored subtrees and from the bare leaf hashes) and the root rebuilt from
//! them equals the tree's root. 600 leaves cover full and partial tiles at level 0 (two full
//! tiles, a third of 88 hashes) and partial tiles at level 1 (widths 1 and 2); sizes around
//! 65,536 and the specification's 70,000 reach level 2. Entry bundles are checked against the
//! level-0 tiles they sit under.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use std::collections::BTreeMap;

use healthcode_tlog::{
    Hash, MemoryTree, TILE_WIDTH, Tile, TileError, TilePath, encode_entry_bundle, leaf_hash,
    parse_entry_bundle, parse_tile_path, root_from_tiles, root_of, tile_for, tile_from_bytes,
    tile_hashes, tile_to_bytes, tiles_for_root, tiles_for_size,
};

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn tree(size: u64) -> (MemoryTree, Vec<Hash>) {
    let tree = MemoryTree::from_entries((0..size).map(entry));
    let leaves = (0..size)
        .map(|i| tree.leaf_hash(i).expect("leaf"))
        .collect();
    (tree, leaves)
}

/// Every tile of a tree of `size`, each as served (to bytes and back).
fn served_tiles(tree: &MemoryTree, leaves: &[Hash], size: u64) -> BTreeMap<Tile, Vec<Hash>> {
    let leaves = &leaves[..size as usize];
    tiles_for_size(size)
        .into_iter()
        .map(|tile| {
            let from_tree = tree.tile(&tile).expect("complete");
            let from_leaves = tile_hashes(&tile, leaves).expect("complete");
            assert_eq!(from_tree, from_leaves, "{tile} at size {size}");
            assert_eq!(from_tree.len(), usize::from(tile.width()));
            let bytes = tile_to_bytes(&from_tree);
            (
                tile,
                tile_from_bytes(&tile, &bytes).expect("the right length"),
            )
        })
        .collect()
}

#[test]
fn roots_rebuilt_from_tiles_for_every_size_up_to_600() {
    let (tree, leaves) = tree(600);
    let mut partial_levels = [0usize; 2];
    for size in 1..=600 {
        let tiles = served_tiles(&tree, &leaves, size);
        let root = tree.root_at(size).expect("in range");
        assert_eq!(root, root_of(&leaves[..size as usize]));
        assert_eq!(root_from_tiles(size, &tiles), Ok(root), "size {size}");

        // The tiles the root needs are among the tree's tiles, and are enough on their own.
        let needed = tiles_for_root(size).expect("in range");
        assert!(needed.len() <= 4, "size {size}: {needed:?}");
        let only_needed: BTreeMap<Tile, Vec<Hash>> = needed
            .iter()
            .map(|tile| (*tile, tiles.get(tile).expect("a tile of the tree").clone()))
            .collect();
        assert_eq!(root_from_tiles(size, &only_needed), Ok(root), "size {size}");

        // And each is needed.
        for tile in &needed {
            let mut fewer = only_needed.clone();
            fewer.remove(tile);
            assert_eq!(
                root_from_tiles(size, &fewer),
                Err(TileError::Missing(*tile)),
                "size {size}"
            );
        }
        for tile in tiles.keys().filter(|tile| tile.is_partial()) {
            partial_levels[usize::from(tile.level())] += 1;
        }
    }
    // Partial tiles at level 0 for every size not a multiple of 256, and at level 1 from 256 on.
    assert_eq!(partial_levels, [600 - 2, 600 - 255]);
}

#[test]
fn a_full_tile_serves_for_a_partial_one() {
    // C2SP: a client MAY fetch the full tile when the partial one is gone. Its first hashes
    // are the partial tile's.
    let (tree, leaves) = tree(768);
    for size in [513, 600, 700, 767] {
        let mut tiles = served_tiles(&tree, &leaves, size);
        let partial = tile_for(0, 2, size).expect("in range");
        assert!(partial.is_partial());
        let full = tree.tile(&partial.full()).expect("complete at 768");
        assert_eq!(full[..usize::from(partial.width())], tiles[&partial][..]);
        tiles.remove(&partial);
        tiles.insert(partial.full(), full);
        assert_eq!(
            root_from_tiles(size, &tiles).ok(),
            tree.root_at(size).ok(),
            "size {size}"
        );
    }
}

#[test]
fn tiles_with_the_wrong_hashes() {
    let (tree, leaves) = tree(600);
    let tiles = served_tiles(&tree, &leaves, 600);
    let partial = tile_for(0, 2, 600).expect("in range");

    let mut short = tiles.clone();
    short.insert(partial, tiles[&partial][..87].to_vec());
    assert_eq!(
        root_from_tiles(600, &short),
        Err(TileError::DataLength {
            expected: 88 * 32,
            actual: 87 * 32
        })
    );

    let mut altered = tiles.clone();
    altered
        .get_mut(&partial)
        .expect("tile")
        .last_mut()
        .expect("hash")
        .0[0] ^= 1;
    assert_ne!(root_from_tiles(600, &altered).ok(), tree.root_at(600).ok());
}

#[test]
fn level_one_hashes_are_the_roots_of_level_zero_tiles() {
    let (tree, _) = tree(600);
    let level_one = tree
        .tile(&tile_for(1, 0, 600).expect("tile"))
        .expect("complete");
    assert_eq!(level_one.len(), 2);
    for (i, hash) in level_one.iter().enumerate() {
        let below = tree
            .tile(&Tile::new(0, i as u64, TILE_WIDTH).expect("tile"))
            .expect("complete");
        assert_eq!(*hash, root_of(&below));
    }
}

#[test]
fn tiles_beyond_the_tree_are_refused() {
    let (tree, leaves) = tree(300);
    let beyond = Tile::new(0, 1, TILE_WIDTH).expect("tile");
    assert_eq!(
        tree.tile(&beyond),
        Err(TileError::BeyondTree {
            tile: beyond,
            size: 300
        })
    );
    assert_eq!(
        tile_hashes(&beyond, &leaves),
        Err(TileError::BeyondTree {
            tile: beyond,
            size: 300
        })
    );
    let level_one = Tile::new(1, 0, 2).expect("tile");
    assert!(tree.tile(&level_one).is_err());
    assert!(tree.tile(&Tile::new(1, 0, 1).expect("tile")).is_ok());
}

#[test]
fn level_two_and_the_spec_example() {
    let (tree, leaves) = tree(70_000);
    for size in [65_535, 65_536, 65_537, 65_792, 70_000] {
        let tiles = served_tiles(&tree, &leaves, size);
        assert_eq!(
            root_from_tiles(size, &tiles).ok(),
            tree.root_at(size).ok(),
            "size {size}"
        );
    }
    let needed = tiles_for_root(70_000).expect("in range");
    assert!(needed.iter().any(|tile| tile.level() == 2));
}

#[test]
fn the_empty_tree() {
    assert_eq!(tiles_for_size(0), []);
    assert_eq!(tiles_for_root(0), Ok(vec![]));
    assert_eq!(
        root_from_tiles(0, &BTreeMap::new()),
        Ok(MemoryTree::new().root())
    );
}

#[test]
fn entry_bundles_hash_to_their_level_zero_tiles() {
    let (tree, _) = tree(600);
    for tile in tiles_for_size(600).into_iter().filter(|t| t.level() == 0) {
        let first = tile.index() * u64::from(TILE_WIDTH);
        let entries: Vec<Vec<u8>> = (first..first + u64::from(tile.width()))
            .map(entry)
            .collect();
        let bundle = encode_entry_bundle(&entries).expect("encodes");
        let path = tile.entries_path().expect("level 0");
        let Ok(TilePath::Entries(parsed)) = parse_tile_path(&path) else {
            panic!("{path} is not an entries path");
        };
        assert_eq!(parsed, tile);
        let read = parse_entry_bundle(&bundle, parsed.width()).expect("parses");
        let hashes: Vec<Hash> = read.iter().map(|e| leaf_hash(e)).collect();
        assert_eq!(hashes, tree.tile(&tile).expect("complete"), "{path}");
    }
}
