//! Entry bundles of C2SP tlog-tiles (`tile/entries/<N>[.p/<W>]`): the entries under one level-0
//! tile, each prefixed with its length as a big-endian u16.
//!
//! This module owns that encoding. It does not own what an entry holds (the application's
//! business) or the paths of bundles ([`crate::Tile::entries_path`]). Entry `i` of bundle `N`
//! is leaf `N * 256 + i`; its [`leaf_hash`](crate::leaf_hash) is hash `i` of level-0 tile `N`.

use crate::error::TileError;
use crate::tile::TILE_WIDTH;

/// The longest entry a bundle can hold: the largest u16.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// The bundle of these entries, in order. At most 256 entries of at most 65535 bytes each.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(TileError::TooManyEntries(entries.len()));
    }
    let mut bundle = Vec::new();
    for entry in entries {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong(entry.len()))?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// The entries of a bundle, which must hold exactly `width` of them (256 for a full bundle, `W`
/// for `.p/<W>`) and nothing after the last.
pub fn parse_entry_bundle(data: &[u8], width: u16) -> Result<Vec<Vec<u8>>, TileError> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some((prefix, after)) = rest.split_first_chunk::<2>() else {
            return Err(TileError::TruncatedBundle);
        };
        let len = usize::from(u16::from_be_bytes(*prefix));
        if after.len() < len {
            return Err(TileError::TruncatedBundle);
        }
        let (entry, after) = after.split_at(len);
        entries.push(entry.to_vec());
        if entries.len() > usize::from(TILE_WIDTH) {
            return Err(TileError::TooManyEntries(entries.len()));
        }
        rest = after;
    }
    if entries.len() != usize::from(width) {
        return Err(TileError::BundleCount {
            expected: width,
            actual: entries.len(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let bundle = encode_entry_bundle(&[&b"ab"[..], b"", b"c"]).expect("encodes");
        assert_eq!(bundle, [0, 2, b'a', b'b', 0, 0, 0, 1, b'c']);
        assert_eq!(
            parse_entry_bundle(&bundle, 3),
            Ok(vec![b"ab".to_vec(), vec![], b"c".to_vec()])
        );
    }

    #[test]
    fn limits() {
        let long = vec![7u8; MAX_ENTRY_LEN];
        let bundle = encode_entry_bundle(&[&long]).expect("the longest entry fits");
        assert_eq!(&bundle[..2], [0xff, 0xff]);
        assert_eq!(parse_entry_bundle(&bundle, 1), Ok(vec![long]));
        assert_eq!(
            encode_entry_bundle(&[vec![0u8; MAX_ENTRY_LEN + 1]]),
            Err(TileError::EntryTooLong(MAX_ENTRY_LEN + 1))
        );
        let many = vec![b"x"; 257];
        assert_eq!(
            encode_entry_bundle(&many),
            Err(TileError::TooManyEntries(257))
        );
        let full = encode_entry_bundle(&many[..256]).expect("256 fit");
        assert_eq!(parse_entry_bundle(&full, 256).map(|e| e.len()), Ok(256));
        let mut over = full.clone();
        over.extend_from_slice(&[0, 1, b'x']);
        assert_eq!(
            parse_entry_bundle(&over, 256),
            Err(TileError::TooManyEntries(257))
        );
    }

    #[test]
    fn damaged_bundles() {
        let bundle = encode_entry_bundle(&[&b"abc"[..], b"de"]).expect("encodes");
        for cut in 1..bundle.len() {
            let result = parse_entry_bundle(&bundle[..cut], 2);
            assert!(result.is_err(), "cut at {cut} was accepted");
        }
        assert_eq!(
            parse_entry_bundle(&bundle[..1], 1),
            Err(TileError::TruncatedBundle)
        );
        assert_eq!(
            parse_entry_bundle(&bundle, 3),
            Err(TileError::BundleCount {
                expected: 3,
                actual: 2
            })
        );
        assert_eq!(
            parse_entry_bundle(&[], 1),
            Err(TileError::BundleCount {
                expected: 1,
                actual: 0
            })
        );
    }
}
