//! Numeric QR text (`shc:/...`) to JWS: SMART Health Cards, "Health Cards as QR Codes",
//! "Chunking Larger SHCs (deprecated)" and "Encoding QRs".
//!
//! This module owns the `shc:/` prefix, the `INDEX/TOTAL/` chunk header, the digit-pair
//! decoding, putting chunks back together and the size rules for a QR and a chunk. It does not
//! own reading the QR image (a scanner gives the text) nor anything about the JWS inside.

use std::collections::BTreeMap;

use crate::error::ShcError;

/// What every SMART Health Card QR text starts with (an IANA-registered scheme).
pub const PREFIX: &str = "shc:/";

/// The longest JWS one QR may carry: "Any JWS longer than 1195 characters SHALL be split".
pub const MAX_SINGLE_JWS_LEN: usize = 1195;

/// The longest JWS part one chunk of a chunked set may carry.
pub const MAX_CHUNK_JWS_LEN: usize = 1191;

/// The largest chunk index or total accepted. A payload at the inflate cap still needs fewer
/// than 1,200 chunks; four digits leave room and keep the numbers small.
const MAX_CHUNK_NUMBER: u32 = 9999;

/// The offset of the numeric encoding: each JWS character `c` is written as `c - 45` in two
/// decimal digits, 45 being `-`, the lowest character a compact JWS holds.
const OFFSET: u8 = b'-';

/// The largest digit pair: `z` (122) - 45.
const MAX_PAIR: u8 = b'z' - OFFSET;

/// One QR text, decoded.
#[derive(Debug)]
struct Chunk {
    /// `Some((index, total))` for the chunked form `shc:/INDEX/TOTAL/...`.
    position: Option<(u32, u32)>,
    jws: String,
}

/// Decodes the text of one QR code, or of every chunk of a chunked set in any order, into
/// the JWS it carries.
///
/// Refused: text with surrounding whitespace, a missing `shc:/` prefix, a malformed chunk
/// header, non-digits, an odd number of digits, a digit pair above 77, chunks that disagree on
/// their total, repeated or missing chunks, and sizes outside the rules of the specification
/// (see [`MAX_SINGLE_JWS_LEN`], [`MAX_CHUNK_JWS_LEN`] and [`ShcError::ChunkTooSmall`]).
pub fn decode_numeric(chunks: &[&str]) -> Result<String, ShcError> {
    let parsed = chunks
        .iter()
        .map(|text| parse_chunk(text))
        .collect::<Result<Vec<_>, _>>()?;
    let first = parsed.first().ok_or(ShcError::NoChunks)?;
    let Some((_, total)) = first.position else {
        if parsed.len() > 1 {
            return Err(ShcError::ChunkTotalMismatch(
                "several QR texts were given but they have no chunk header",
            ));
        }
        return Ok(first.jws.clone());
    };
    let mut slots: BTreeMap<u32, &str> = BTreeMap::new();
    for chunk in &parsed {
        let Some((index, this_total)) = chunk.position else {
            return Err(ShcError::ChunkTotalMismatch(
                "a QR text without chunk header was given with chunked ones",
            ));
        };
        if this_total != total {
            return Err(ShcError::ChunkTotalMismatch(
                "the chunks name different totals",
            ));
        }
        if slots.insert(index, &chunk.jws).is_some() {
            return Err(ShcError::DuplicateChunk { index });
        }
    }
    if let Some(index) = (1..=total).find(|i| !slots.contains_key(i)) {
        return Err(ShcError::MissingChunk { index, total });
    }
    // Keys are exactly 1..=total (each was checked to lie in that range, none repeats and
    // none is missing), so the map iterates in chunk order.
    let jws: String = slots.into_values().collect();
    if total > 1 && jws.len() <= MAX_SINGLE_JWS_LEN {
        return Err(ShcError::UnneededChunking {
            len: jws.len(),
            total,
        });
    }
    Ok(jws)
}

/// The fewest characters a chunk of a set of `total` may carry.
///
/// A chunked JWS is longer than [`MAX_SINGLE_JWS_LEN`] (shorter ones fit one QR), and
/// producers SHOULD balance chunk sizes, so each of `total` chunks carries about
/// `len / total >= 1196 / total` characters. Splitting by `ceil(len / total)` leaves the last
/// chunk up to `total - 1` characters short of that, which is allowed for. A smaller chunk
/// comes from a needless or lopsided split; such a set is refused rather than guessed at.
fn min_chunk_len(total: u32) -> usize {
    let total = total as usize;
    ((MAX_SINGLE_JWS_LEN + 1) / total).saturating_sub(total - 1)
}

fn parse_chunk(text: &str) -> Result<Chunk, ShcError> {
    if text.trim_matches(is_stray) != text {
        return Err(ShcError::TrailingCharacters);
    }
    let rest = text.strip_prefix(PREFIX).ok_or(ShcError::BadPrefix)?;
    let (position, body) = if rest.contains('/') {
        let mut parts = rest.splitn(3, '/');
        let (Some(index), Some(total), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ShcError::BadChunkHeader(
                "expected shc:/INDEX/TOTAL/ followed by digits",
            ));
        };
        let index = chunk_number(index)?;
        let total = chunk_number(total)?;
        if index == 0 || index > total {
            return Err(ShcError::ChunkIndexOutOfRange { index, total });
        }
        (Some((index, total)), body)
    } else {
        (None, rest)
    };
    let body_offset = text.len() - body.len();
    let jws = decode_digits(body, body_offset)?;
    check_size(position, jws.len())?;
    Ok(Chunk { position, jws })
}

/// Characters a scanner or an editor may leave around the text: whitespace and the UTF-8
/// byte order mark.
pub(crate) fn is_stray(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// A chunk index or total: a positive decimal number without leading zeros.
fn chunk_number(text: &str) -> Result<u32, ShcError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ShcError::BadChunkHeader(
            "the chunk index and total must be decimal numbers",
        ));
    }
    if text.starts_with('0') {
        return Err(ShcError::BadChunkHeader(
            "the chunk index and total must be positive, without leading zeros",
        ));
    }
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_CHUNK_NUMBER => Ok(n),
        _ => Err(ShcError::BadChunkHeader(
            "the chunk index or total is larger than any card needs",
        )),
    }
}

/// Digit pairs to JWS characters; `offset` is where `digits` starts in the QR text, for the
/// position reported with a non-digit.
fn decode_digits(digits: &str, offset: usize) -> Result<String, ShcError> {
    if let Some(i) = digits.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(ShcError::NonDigit {
            position: offset + i,
        });
    }
    if digits.is_empty() {
        return Err(ShcError::EmptyChunk);
    }
    if !digits.len().is_multiple_of(2) {
        return Err(ShcError::OddDigitCount {
            count: digits.len(),
        });
    }
    digits
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let value = (pair[0] - b'0') * 10 + (pair[1] - b'0');
            if value > MAX_PAIR {
                Err(ShcError::DigitPairOutOfRange { pair: value })
            } else {
                Ok(char::from(value + OFFSET))
            }
        })
        .collect()
}

fn check_size(position: Option<(u32, u32)>, len: usize) -> Result<(), ShcError> {
    match position {
        // `shc:/1/1/` is a single QR written with a header it should not have; the single QR
        // limit applies.
        None | Some((_, 1)) => {
            if len > MAX_SINGLE_JWS_LEN {
                return Err(ShcError::JwsTooLong { len });
            }
        }
        Some((index, total)) => {
            if len > MAX_CHUNK_JWS_LEN {
                return Err(ShcError::ChunkTooBig { index, len });
            }
            let min = min_chunk_len(total);
            if len < min {
                return Err(ShcError::ChunkTooSmall {
                    index,
                    total,
                    len,
                    min,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The inverse of the decoding, for building inputs.
    fn encode(jws: &str) -> String {
        jws.bytes().map(|b| format!("{:02}", b - OFFSET)).collect()
    }

    #[test]
    fn spec_example_character() {
        // "'X' is encoded as 43, since Ord('X') is 88, and 88-45 is 43."
        assert_eq!(decode_numeric(&["shc:/43"]).unwrap(), "X");
        assert_eq!(encode("X"), "43");
    }

    #[test]
    fn every_jws_character_round_trips() {
        let alphabet = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
        let text = format!("{PREFIX}{}", encode(alphabet));
        assert_eq!(decode_numeric(&[&text]).unwrap(), alphabet);
    }

    #[test]
    fn digit_errors_are_distinct() {
        assert_eq!(
            decode_numeric(&["shc:/12a4"]).unwrap_err(),
            ShcError::NonDigit { position: 7 }
        );
        assert_eq!(
            decode_numeric(&["shc:/123"]).unwrap_err(),
            ShcError::OddDigitCount { count: 3 }
        );
        assert_eq!(
            decode_numeric(&["shc:/7778"]).unwrap_err(),
            ShcError::DigitPairOutOfRange { pair: 78 }
        );
        assert_eq!(decode_numeric(&["shc:/77"]).unwrap(), "z");
        assert_eq!(
            decode_numeric(&["shc:/"]).unwrap_err(),
            ShcError::EmptyChunk
        );
        assert_eq!(decode_numeric(&[]).unwrap_err(), ShcError::NoChunks);
    }

    #[test]
    fn prefix_and_whitespace() {
        assert_eq!(
            decode_numeric(&["SHC:/43"]).unwrap_err(),
            ShcError::BadPrefix
        );
        assert_eq!(
            decode_numeric(&["shc:43"]).unwrap_err(),
            ShcError::BadPrefix
        );
        for text in ["shc:/43\n", " shc:/43", "\u{feff}shc:/43"] {
            assert_eq!(
                decode_numeric(&[text]).unwrap_err(),
                ShcError::TrailingCharacters
            );
        }
    }

    #[test]
    fn chunk_headers() {
        for bad in [
            "shc:/1/2",
            "shc:/x/2/43",
            "shc:/01/2/43",
            "shc:/1//43",
            "shc:/1/99999/43",
        ] {
            assert_eq!(
                decode_numeric(&[bad]).unwrap_err().code(),
                "chunk_header",
                "{bad}"
            );
        }
        assert_eq!(
            decode_numeric(&["shc:/3/2/43"]).unwrap_err(),
            ShcError::ChunkIndexOutOfRange { index: 3, total: 2 }
        );
        assert_eq!(
            decode_numeric(&["shc:/0/2/43"]).unwrap_err().code(),
            "chunk_header"
        );
        // A single QR written as chunk 1 of 1 is read as a single QR.
        assert_eq!(decode_numeric(&["shc:/1/1/43"]).unwrap(), "X");
    }

    /// A JWS-like text of `len` characters, split into `total` balanced chunk texts.
    fn chunked(len: usize, total: usize) -> (String, Vec<String>) {
        let jws: String = (0..len)
            .map(|i| if i % 2 == 0 { 'a' } else { 'B' })
            .collect();
        let size = len.div_ceil(total);
        let texts = jws
            .as_bytes()
            .chunks(size)
            .enumerate()
            .map(|(i, part)| {
                let part = std::str::from_utf8(part).unwrap();
                format!("{PREFIX}{}/{total}/{}", i + 1, encode(part))
            })
            .collect();
        (jws, texts)
    }

    #[test]
    fn chunks_reassemble_in_any_order() {
        let (jws, texts) = chunked(3000, 3);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        assert_eq!(decode_numeric(&refs).unwrap(), jws);
        let reversed: Vec<&str> = refs.iter().rev().copied().collect();
        assert_eq!(decode_numeric(&reversed).unwrap(), jws);
        let rotated = [refs[1], refs[2], refs[0]];
        assert_eq!(decode_numeric(&rotated).unwrap(), jws);
    }

    #[test]
    fn chunk_set_problems() {
        let (_, texts) = chunked(3000, 3);
        let t: Vec<&str> = texts.iter().map(String::as_str).collect();
        assert_eq!(
            decode_numeric(&[t[0], t[2]]).unwrap_err(),
            ShcError::MissingChunk { index: 2, total: 3 }
        );
        assert_eq!(
            decode_numeric(&[t[0], t[2], t[0]]).unwrap_err(),
            ShcError::DuplicateChunk { index: 1 }
        );
        let (_, other) = chunked(2000, 2);
        assert_eq!(
            decode_numeric(&[t[0], &other[1], t[2]]).unwrap_err().code(),
            "chunk_total_mismatch"
        );
        let single = format!("{PREFIX}{}", encode("abc"));
        assert_eq!(
            decode_numeric(&[t[0], &single]).unwrap_err().code(),
            "chunk_total_mismatch"
        );
        assert_eq!(
            decode_numeric(&[&single, &single]).unwrap_err().code(),
            "chunk_total_mismatch"
        );
    }

    #[test]
    fn size_rules() {
        let at_limit = format!("{PREFIX}{}", encode(&"a".repeat(MAX_SINGLE_JWS_LEN)));
        assert!(decode_numeric(&[&at_limit]).is_ok());
        let over = format!("{PREFIX}{}", encode(&"a".repeat(MAX_SINGLE_JWS_LEN + 1)));
        assert_eq!(
            decode_numeric(&[&over]).unwrap_err(),
            ShcError::JwsTooLong { len: 1196 }
        );
        let big = format!("{PREFIX}1/2/{}", encode(&"a".repeat(MAX_CHUNK_JWS_LEN + 1)));
        assert_eq!(
            decode_numeric(&[&big]).unwrap_err(),
            ShcError::ChunkTooBig {
                index: 1,
                len: 1192
            }
        );
        // 1196 characters in two chunks is the smallest chunking that is needed.
        let (jws, texts) = chunked(1196, 2);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        assert_eq!(decode_numeric(&refs).unwrap(), jws);
        // 1195 characters would have fit one QR.
        let (_, texts) = chunked(1194, 3);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        assert_eq!(
            decode_numeric(&refs).unwrap_err(),
            ShcError::UnneededChunking {
                len: 1194,
                total: 3
            }
        );
        // A lopsided split: one full chunk and a sliver.
        let sliver = format!("{PREFIX}2/2/{}", encode("abcdefghi"));
        assert_eq!(
            decode_numeric(&[&sliver]).unwrap_err(),
            ShcError::ChunkTooSmall {
                index: 2,
                total: 2,
                len: 9,
                min: 597
            }
        );
    }

    #[test]
    fn ceil_splitting_is_accepted_for_every_needed_length() {
        // Splitting by ceil(len / total) is what producers do; every such split of a JWS that
        // needs chunking passes the size rules.
        for total in 2..=8usize {
            let near_limit = MAX_SINGLE_JWS_LEN + 1..MAX_SINGLE_JWS_LEN + 41;
            for len in near_limit.chain([MAX_CHUNK_JWS_LEN * total - 7, MAX_CHUNK_JWS_LEN * total])
            {
                let (jws, texts) = chunked(len, total);
                if texts.len() != total {
                    continue; // ceil splitting gave fewer chunks than asked for
                }
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                assert_eq!(decode_numeric(&refs).unwrap(), jws, "{len} in {total}");
            }
        }
    }
}
