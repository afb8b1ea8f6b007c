//! Tiles of C2SP tlog-tiles: the Merkle tree served as fixed files of 256 consecutive hashes.
//!
//! The `N`-th tile at level `L` holds, for `i` in `0..W`, the hash of the perfect subtree of
//! `256^L` leaves starting at leaf `(N * 256 + i) * 256^L`: at level 0 the leaf hashes, at level
//! 1 the roots of full level-0 tiles, and so on. A tree whose size is not a multiple of 256 at
//! some level ends in a partial tile there (`W < 256`).
//!
//! This module owns tile coordinates ([`Tile`], [`tile_for`], [`tiles_for_size`]), their paths
//! (`tile/<L>/<N>[.p/<W>]`, [`Tile::path`], [`parse_tile_path`]), a tile's contents computed
//! from leaf hashes ([`tile_hashes`], [`MemoryTree::tile`]) and as bytes, and the root of a tree
//! rebuilt from its tiles ([`tiles_for_root`], [`root_from_tiles`]). It does not own serving or
//! fetching tiles, entry bundles ([`crate::bundle`]), or proofs computed from tiles
//! ([`crate::tile_proof`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::decimal::parse_decimal;
use crate::error::TileError;
use crate::hash::{HASH_LEN, Hash, empty_root, node_hash};
use crate::tree::{MemoryTree, root_of};

/// The height of a tile in tree levels: a tile is a subtree of height 8 over its hashes.
pub const TILE_HEIGHT: u32 = 8;

/// The number of hashes in a full tile.
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;

/// The highest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Tile levels at or above this one would hold subtrees of at least `256^8 = 2^64` leaves,
/// which no tree with a `u64` size reaches.
const LEVELS_IN_U64: u8 = 8;

/// The coordinates of a tile: its level, its index within the level and its width (256 for a
/// full tile, fewer for a partial one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// What a tile path names: a tile of hashes, or the bundle of the entries under a level-0 tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`, the entries whose leaf hashes are the level-0 tile given.
    Entries(Tile),
}

impl Tile {
    /// The tile at `level` (0 to 63), `index` and `width` (1 to 256).
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::Level(level));
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::Width(width));
        }
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// The level: 0 for leaf hashes.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The index of the tile within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes in the tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile has fewer than 256 hashes.
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The full tile at the same place.
    pub fn full(&self) -> Tile {
        Tile {
            width: TILE_WIDTH,
            ..*self
        }
    }

    /// The path of the tile under a log's prefix: `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.index_and_width())
    }

    /// The path of the entry bundle under this tile, `tile/entries/<N>[.p/<W>]`, for a level-0
    /// tile; `None` at higher levels, which have no entries of their own.
    pub fn entries_path(&self) -> Option<String> {
        (self.level == 0).then(|| format!("tile/entries/{}", self.index_and_width()))
    }

    fn index_and_width(&self) -> String {
        let index = encode_tile_index(self.index);
        if self.is_partial() {
            format!("{index}.p/{}", self.width)
        } else {
            index
        }
    }

    /// The leaves under hash `i` of this tile: the first and the count, or `None` if they lie
    /// beyond any `u64` tree.
    fn span(&self, i: u16) -> Option<(u64, u64)> {
        if self.level >= LEVELS_IN_U64 {
            return None;
        }
        let per_hash = 1u128 << (TILE_HEIGHT * u32::from(self.level));
        let first = (u128::from(self.index) * u128::from(TILE_WIDTH) + u128::from(i)) * per_hash;
        let end = first + per_hash;
        u64::try_from(end).ok()?;
        Some((first as u64, per_hash as u64))
    }

    /// Whether every hash of this tile is a complete subtree of the tree of `size` leaves.
    fn fits(&self, size: u64) -> bool {
        match self.span(self.width - 1) {
            Some((first, count)) => first + count <= size,
            None => false,
        }
    }
}

/// The tile's path.
impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// `N` as tile paths write it: 3-digit groups, zero-padded, separated by `/`, all but the last
/// prefixed with `x` (1234067 is `x001/x234/067`).
pub fn encode_tile_index(index: u64) -> String {
    let mut groups = vec![index % 1000];
    let mut rest = index / 1000;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, group)| {
            if i == last {
                format!("{group:03}")
            } else {
                format!("x{group:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a tile path, `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, in the one form
/// [`Tile::path`] and [`Tile::entries_path`] write: no leading zeros in `L` or `W`, no
/// leading `x000` group in `N`, `W` below 256.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TileError> {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() < 3 || parts[0] != "tile" {
        return Err(TileError::Path("not tile/<L>/<N>"));
    }
    let entries = parts[1] == "entries";
    let level = if entries {
        0
    } else {
        let level = parse_decimal(parts[1]).ok_or(TileError::Path("level is not a number"))?;
        u8::try_from(level)
            .ok()
            .filter(|level| *level <= MAX_TILE_LEVEL)
            .ok_or(TileError::Path("level is above 63"))?
    };

    let mut width = TILE_WIDTH;
    if parts.len() >= 4 {
        let before_last = parts[parts.len() - 2];
        if let Some(stripped) = before_last.strip_suffix(".p") {
            let w = parse_decimal(parts[parts.len() - 1])
                .ok_or(TileError::Path("width is not a number"))?;
            if w == 0 || w >= u64::from(TILE_WIDTH) {
                return Err(TileError::Path("partial width is not between 1 and 255"));
            }
            width = w as u16;
            parts.pop();
            let last = parts.len() - 1;
            parts[last] = stripped;
        }
    }

    let groups = &parts[2..];
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let digits = if i + 1 == groups.len() {
            *group
        } else {
            group.strip_prefix('x').ok_or(TileError::Path(
                "an index group other than the last lacks its x",
            ))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::Path("an index group is not three digits"));
        }
        if i == 0 && groups.len() > 1 && digits == "000" {
            return Err(TileError::Path("the index has a leading zero group"));
        }
        let value: u64 = digits.parse().map_err(|_| TileError::Path("bad index"))?;
        index = index
            .checked_mul(1000)
            .and_then(|index| index.checked_add(value))
            .ok_or(TileError::Path("the index does not fit in 64 bits"))?;
    }
    let tile = Tile::new(level, index, width)?;
    Ok(if entries {
        TilePath::Entries(tile)
    } else {
        TilePath::Hashes(tile)
    })
}

/// The tile at `level` and `index` as the tree of `size` leaves has it: full, or partial with
/// the width the size leaves it. Refused if the tree has no hash in that tile yet.
pub fn tile_for(level: u8, index: u64, size: u64) -> Result<Tile, TileError> {
    let full = Tile::new(level, index, TILE_WIDTH)?;
    let hashes = hashes_at_level(level, size);
    let full_tiles = hashes >> TILE_HEIGHT;
    if index < full_tiles {
        return Ok(full);
    }
    let rest = (hashes % u64::from(TILE_WIDTH)) as u16;
    if index == full_tiles && rest > 0 {
        return Tile::new(level, index, rest);
    }
    Err(TileError::BeyondTree { tile: full, size })
}

/// How many hashes tiles at `level` hold for a tree of `size` leaves: `floor(size / 256^level)`.
fn hashes_at_level(level: u8, size: u64) -> u64 {
    if level >= LEVELS_IN_U64 {
        0
    } else {
        size >> (TILE_HEIGHT * u32::from(level))
    }
}

/// Every tile of the tree of `size` leaves, level by level: the full tiles, then the partial
/// one where the level does not end on a tile boundary. For C2SP's example size 70,000 that is
/// 273 full and one partial (width 112) tiles at level 0, one full and one partial (17) at
/// level 1, and one partial (1) at level 2.
///
/// One entry per tile: about `size / 255` of them.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    let mut tiles = Vec::new();
    for level in 0..LEVELS_IN_U64 {
        let hashes = hashes_at_level(level, size);
        if hashes == 0 {
            break;
        }
        let full_tiles = hashes >> TILE_HEIGHT;
        tiles.extend((0..full_tiles).map(|index| Tile {
            level,
            index,
            width: TILE_WIDTH,
        }));
        let rest = (hashes % u64::from(TILE_WIDTH)) as u16;
        if rest > 0 {
            tiles.push(Tile {
                level,
                index: full_tiles,
                width: rest,
            });
        }
    }
    tiles
}

/// The hashes of `tile` computed from the leaf hashes of a tree (`leaves[i]` the hash of leaf
/// `i`): hash `i` is the root of the leaves it spans. Refused if those leaves are not all there.
pub fn tile_hashes(tile: &Tile, leaves: &[Hash]) -> Result<Vec<Hash>, TileError> {
    let size = leaves.len() as u64;
    if !tile.fits(size) {
        return Err(TileError::BeyondTree { tile: *tile, size });
    }
    (0..tile.width)
        .map(|i| {
            let (first, count) = tile
                .span(i)
                .ok_or(TileError::BeyondTree { tile: *tile, size })?;
            // `fits` checked that the last span ends within `leaves`, which is in memory.
            Ok(root_of(&leaves[first as usize..(first + count) as usize]))
        })
        .collect()
}

impl MemoryTree {
    /// The hashes of `tile`, read from the tree's complete subtrees. Refused if the tree does
    /// not have all of them yet.
    pub fn tile(&self, tile: &Tile) -> Result<Vec<Hash>, TileError> {
        let size = self.len();
        if !tile.fits(size) {
            return Err(TileError::BeyondTree { tile: *tile, size });
        }
        (0..tile.width)
            .map(|i| {
                let (first, count) = tile
                    .span(i)
                    .ok_or(TileError::BeyondTree { tile: *tile, size })?;
                Ok(self.subtree(first, first + count))
            })
            .collect()
    }
}

/// A tile as served: its hashes concatenated, 32 bytes each.
pub fn tile_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|hash| hash.0).collect()
}

/// The hashes of `tile` from the bytes served for it, which must be exactly its width times
/// 32 bytes.
pub fn tile_from_bytes(tile: &Tile, data: &[u8]) -> Result<Vec<Hash>, TileError> {
    let expected = usize::from(tile.width) * HASH_LEN;
    if data.len() != expected {
        return Err(TileError::DataLength {
            expected,
            actual: data.len(),
        });
    }
    data.chunks_exact(HASH_LEN)
        .map(|chunk| {
            Hash::from_slice(chunk).map_err(|_| TileError::DataLength {
                expected,
                actual: data.len(),
            })
        })
        .collect()
}

/// The perfect subtrees whose roots make up the root of a tree of `size` leaves, largest
/// (leftmost) first, as (first leaf, height): one per bit set in `size`.
fn perfect_subtrees(size: u64) -> Vec<(u64, u32)> {
    let mut parts = Vec::new();
    let mut first = 0;
    for height in (0..64).rev() {
        if size & (1 << height) != 0 {
            parts.push((first, height));
            first += 1 << height;
        }
    }
    parts
}

/// Where the root of a perfect subtree is found in tiles: the tile, and the run of its hashes
/// the subtree covers (a perfect subtree of `2^r` of them).
pub(crate) fn locate(
    first: u64,
    height: u32,
    size: u64,
) -> Result<(Tile, usize, usize), TileError> {
    let level = (height / TILE_HEIGHT) as u8;
    let below = height % TILE_HEIGHT;
    let position = first >> (TILE_HEIGHT * u32::from(level));
    let tile = tile_for(level, position >> TILE_HEIGHT, size)?;
    let offset = (position % u64::from(TILE_WIDTH)) as usize;
    Ok((tile, offset, offset + (1 << below)))
}

/// The root of the perfect subtree of `2^height` leaves from leaf `first`, read from the tile
/// that holds it in the tree of `size` leaves (or from the full tile at the same place).
pub(crate) fn perfect_subtree_from_tiles(
    first: u64,
    height: u32,
    size: u64,
    tiles: &BTreeMap<Tile, Vec<Hash>>,
) -> Result<Hash, TileError> {
    let (tile, start, end) = locate(first, height, size)?;
    let (found, hashes) = tiles
        .get_key_value(&tile)
        .or_else(|| tiles.get_key_value(&tile.full()))
        .ok_or(TileError::Missing(tile))?;
    let expected = usize::from(found.width);
    if hashes.len() != expected {
        return Err(TileError::DataLength {
            expected: expected * HASH_LEN,
            actual: hashes.len() * HASH_LEN,
        });
    }
    // `end <= tile.width() <= found.width()`: `locate` keeps the run inside the tile.
    Ok(root_of(&hashes[start..end]))
}

/// The tiles [`root_from_tiles`] reads for a tree of `size` leaves: at most two per level,
/// each with the width this size gives it.
pub fn tiles_for_root(size: u64) -> Result<Vec<Tile>, TileError> {
    let mut tiles = BTreeSet::new();
    for (first, height) in perfect_subtrees(size) {
        tiles.insert(locate(first, height, size)?.0);
    }
    Ok(tiles.into_iter().collect())
}

/// The root of the tree of `size` leaves, computed from its tiles alone.
///
/// `tiles` must hold each tile of [`tiles_for_root`]; where that one is partial, the full tile
/// at the same place serves too (its first hashes are the partial tile's), as a client may
/// fetch it when the log has already dropped the partial one. Each tile's hash count must be
/// its width.
pub fn root_from_tiles(size: u64, tiles: &BTreeMap<Tile, Vec<Hash>>) -> Result<Hash, TileError> {
    let roots = perfect_subtrees(size)
        .into_iter()
        .map(|(first, height)| perfect_subtree_from_tiles(first, height, size, tiles))
        .collect::<Result<Vec<_>, _>>()?;
    let mut roots = roots.into_iter().rev();
    let Some(mut root) = roots.next() else {
        return Ok(empty_root());
    };
    for left in roots {
        root = node_hash(&left, &root);
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding() {
        assert_eq!(encode_tile_index(0), "000");
        assert_eq!(encode_tile_index(7), "007");
        assert_eq!(encode_tile_index(999), "999");
        assert_eq!(encode_tile_index(1000), "x001/000");
        assert_eq!(encode_tile_index(1234067), "x001/x234/067");
        assert_eq!(
            encode_tile_index(u64::MAX),
            "x018/x446/x744/x073/x709/x551/615"
        );
    }

    #[test]
    fn paths_of_the_spec() {
        // C2SP tlog-tiles: "index 1234067 will be encoded as x001/x234/067".
        let tile = Tile::new(0, 1234067, 256).expect("tile");
        assert_eq!(tile.path(), "tile/0/x001/x234/067");
        assert_eq!(
            tile.entries_path().as_deref(),
            Some("tile/entries/x001/x234/067")
        );
        let partial = Tile::new(2, 1234067, 17).expect("tile");
        assert_eq!(partial.path(), "tile/2/x001/x234/067.p/17");
        assert_eq!(partial.entries_path(), None);
    }

    #[test]
    fn paths_round_trip() {
        for level in [0, 1, 5, 63] {
            for index in [0, 1, 999, 1000, 1234067, u64::MAX] {
                for width in [1, 17, 255, 256] {
                    let tile = Tile::new(level, index, width).expect("tile");
                    assert_eq!(parse_tile_path(&tile.path()), Ok(TilePath::Hashes(tile)));
                    if let Some(path) = tile.entries_path() {
                        assert_eq!(parse_tile_path(&path), Ok(TilePath::Entries(tile)));
                    }
                }
            }
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for bad in [
            "",
            "tile",
            "tile/0",
            "tiles/0/000",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/+1/000",
            "tile/0/0",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x001/x002",
            "tile/0/x01/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/017",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000/",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/entries/x000/001",
            "tile/entries/000.p/300",
            "tile/data/000",
        ] {
            assert!(parse_tile_path(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn coordinates_are_checked() {
        assert_eq!(Tile::new(64, 0, 1), Err(TileError::Level(64)));
        assert_eq!(Tile::new(0, 0, 0), Err(TileError::Width(0)));
        assert_eq!(Tile::new(0, 0, 257), Err(TileError::Width(257)));
    }

    #[test]
    fn tiles_of_the_spec_example() {
        // C2SP tlog-tiles: "a tree of size 70,000 will be represented by 273 full level 0
        // tiles, one partial level 0 tile of width 112, one full level 1 tile, one partial
        // level 1 tile of width 17, and one partial level 2 tile of width 1."
        let tiles = tiles_for_size(70_000);
        let level = |l: u8| tiles.iter().filter(move |t| t.level() == l);
        assert_eq!(level(0).filter(|t| !t.is_partial()).count(), 273);
        assert_eq!(
            level(0).filter(|t| t.is_partial()).collect::<Vec<_>>(),
            [&Tile::new(0, 273, 112).expect("tile")]
        );
        assert_eq!(level(1).filter(|t| !t.is_partial()).count(), 1);
        assert_eq!(
            level(1).filter(|t| t.is_partial()).collect::<Vec<_>>(),
            [&Tile::new(1, 1, 17).expect("tile")]
        );
        assert_eq!(
            level(2).collect::<Vec<_>>(),
            [&Tile::new(2, 0, 1).expect("tile")]
        );
        assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);

        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        assert_eq!(
            tiles_for_size(256),
            [
                Tile::new(0, 0, 256).expect("tile"),
                Tile::new(1, 0, 1).expect("tile")
            ]
        );
        assert_eq!(tiles_for_size(0), []);
    }

    #[test]
    fn tile_for_a_size() {
        assert_eq!(tile_for(0, 0, 256), Tile::new(0, 0, 256));
        assert_eq!(tile_for(0, 1, 300), Tile::new(0, 1, 44));
        assert_eq!(tile_for(1, 0, 300), Tile::new(1, 0, 1));
        assert!(matches!(
            tile_for(0, 2, 300),
            Err(TileError::BeyondTree { size: 300, .. })
        ));
        assert!(matches!(
            tile_for(1, 0, 255),
            Err(TileError::BeyondTree { size: 255, .. })
        ));
        assert!(matches!(
            tile_for(9, 0, u64::MAX),
            Err(TileError::BeyondTree { .. })
        ));
        // The largest tree has a partial tile at level 7 and none above.
        assert_eq!(tile_for(7, 0, u64::MAX), Tile::new(7, 0, 255));
    }

    #[test]
    fn tile_bytes() {
        let tile = Tile::new(0, 0, 2).expect("tile");
        let hashes = vec![Hash([1; 32]), Hash([2; 32])];
        let bytes = tile_to_bytes(&hashes);
        assert_eq!(bytes.len(), 64);
        assert_eq!(tile_from_bytes(&tile, &bytes), Ok(hashes));
        assert_eq!(
            tile_from_bytes(&tile, &bytes[..63]),
            Err(TileError::DataLength {
                expected: 64,
                actual: 63
            })
        );
        assert_eq!(
            tile_from_bytes(&tile.full(), &bytes),
            Err(TileError::DataLength {
                expected: 8192,
                actual: 64
            })
        );
    }
}
