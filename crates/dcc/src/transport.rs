//! The barcode transport encoding of the hcert spec ("Transport Encodings", "Barcode"):
//! the context identifier `HC1:`, base45 (RFC 9285) and ZLIB compression (RFC 1950).
//!
//! Each layer is its own function so that a caller (and the test suite) can tell which layer
//! refused a text. This module does not know what the inflated bytes mean; [`CoseSign1`](crate::CoseSign1)
//! reads them.

use std::cell::RefCell;

use healthcode_credential::base45;
use zlib_rs::{Inflate, InflateFlush, Status};

use crate::error::DccError;

/// The context identifier of version 1 certificates, including its colon.
pub const PREFIX: &str = "HC1:";

/// The most bytes a certificate may inflate to. A real COSE_Sign1 of a DCC is well under
/// 4 KiB (a version 40 QR code holds at most 4,296 alphanumeric characters, about 2.8 KiB
/// compressed), so 64 KiB leaves room for any honest issuer and refuses a ZLIB bomb early.
pub const MAX_INFLATED_LEN: usize = 64 * 1024;

/// Removes the context identifier and returns the base45 text behind it.
///
/// The identifier is matched exactly: the hcert spec reserves `HC2:` and later for
/// incompatible versions, so anything but `HC1:` is refused rather than guessed at.
pub fn unprefix(text: &str) -> Result<&str, DccError> {
    text.strip_prefix(PREFIX).ok_or(DccError::Prefix)
}

/// Decodes the base45 text (RFC 9285 §4.2, strict: any character outside the alphabet and
/// any impossible group are refused).
pub fn base45_decode(text: &str) -> Result<Vec<u8>, DccError> {
    Ok(base45::decode(text.as_bytes())?)
}

/// Inflates a ZLIB stream (RFC 1950 wrapping RFC 1951 deflate), refusing anything that would
/// grow beyond [`MAX_INFLATED_LEN`].
///
/// The hcert spec says the CWT SHALL be compressed, so uncompressed bytes are refused: a text
/// without the ZLIB header did not come from a conforming issuer.
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, DccError> {
    INFLATER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut stream) => {
            stream.reset(true);
            inflate_with(&mut stream, compressed)
        }
        // Only reachable if inflating ever re-entered itself; a fresh state is as correct.
        Err(_) => inflate_with(&mut new_inflater(), compressed),
    })
}

thread_local! {
    /// One inflater per thread, reset before each use: its window and tables take tens of
    /// kilobytes, which would otherwise be allocated and zeroed for every certificate.
    static INFLATER: RefCell<Inflate> = RefCell::new(new_inflater());
}

/// A ZLIB inflater (RFC 1950 header and Adler-32, 32 KiB window). zlib-rs rather than the
/// miniz backend of `flate2`: miniz builds full lookup tables for every dynamic Huffman
/// block, which was most of the time spent inflating a certificate of a few hundred bytes.
fn new_inflater() -> Inflate {
    Inflate::new(true, 15)
}

fn inflate_with(stream: &mut Inflate, compressed: &[u8]) -> Result<Vec<u8>, DccError> {
    // One byte of room past the cap tells "exactly at the cap" from "over it".
    let limit = MAX_INFLATED_LEN + 1;
    let mut out = vec![0; compressed.len().saturating_mul(4).clamp(1024, limit)];
    let mut produced = 0;
    loop {
        if produced == out.len() {
            if out.len() >= limit {
                return Err(DccError::TooLarge {
                    limit: MAX_INFLATED_LEN,
                });
            }
            out.resize(out.len().saturating_mul(2).min(limit), 0);
        }
        let consumed = usize::try_from(stream.total_in()).unwrap_or(usize::MAX);
        let rest = compressed.get(consumed..).unwrap_or_default();
        let room = out.get_mut(produced..).unwrap_or_default();
        let status = stream
            .decompress(rest, room, InflateFlush::NoFlush)
            .map_err(|_| DccError::Compression("not a valid ZLIB stream"))?;
        let before = produced;
        produced = usize::try_from(stream.total_out()).unwrap_or(usize::MAX);
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                let progressed = produced > before
                    || usize::try_from(stream.total_in()).unwrap_or(usize::MAX) > consumed;
                if !progressed && produced < out.len() {
                    return Err(DccError::Compression("the ZLIB stream is truncated"));
                }
            }
        }
    }
    if produced > MAX_INFLATED_LEN {
        return Err(DccError::TooLarge {
            limit: MAX_INFLATED_LEN,
        });
    }
    // Bytes after the stream's Adler-32 are not part of any certificate.
    if usize::try_from(stream.total_in()).unwrap_or(usize::MAX) != compressed.len() {
        return Err(DccError::Compression("bytes follow the ZLIB stream"));
    }
    out.truncate(produced);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::io::Write;

    use flate2::{Compression, write::ZlibEncoder};

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn unprefix_takes_only_hc1() {
        assert_eq!(unprefix("HC1:ABC"), Ok("ABC"));
        assert_eq!(unprefix("HC1:"), Ok(""));
        assert_eq!(unprefix("HC2:ABC"), Err(DccError::Prefix));
        assert_eq!(unprefix("hc1:ABC"), Err(DccError::Prefix));
        assert_eq!(unprefix("HC1ABC"), Err(DccError::Prefix));
        assert_eq!(unprefix(""), Err(DccError::Prefix));
    }

    #[test]
    fn base45_errors_are_reported_as_base45() {
        assert_eq!(base45_decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(base45_decode("a").unwrap_err().code(), "base45");
    }

    #[test]
    fn inflate_round_trips() {
        let data = b"a COSE_Sign1 would be here".repeat(10);
        assert_eq!(inflate(&zlib(&data)).unwrap(), data);
    }

    #[test]
    fn inflate_accepts_exactly_the_cap() {
        let data = vec![0u8; MAX_INFLATED_LEN];
        assert_eq!(inflate(&zlib(&data)).unwrap().len(), MAX_INFLATED_LEN);
    }

    #[test]
    fn inflate_refuses_a_bomb() {
        // 16 MiB of zeros compresses to about 16 KiB.
        let bomb = zlib(&vec![0u8; 16 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            inflate(&bomb),
            Err(DccError::TooLarge {
                limit: MAX_INFLATED_LEN
            })
        );
    }

    #[test]
    fn a_failed_inflate_leaves_nothing_behind() {
        // The per-thread inflater is reset between uses: a stream broken off midway must not
        // affect the next one.
        let whole = zlib(b"first certificate, long enough to be cut in two halves");
        assert!(inflate(&whole[..whole.len() / 2]).is_err());
        assert_eq!(inflate(&zlib(b"second")).unwrap(), b"second");
        assert!(inflate(b"garbage").is_err());
        assert_eq!(inflate(&zlib(b"third")).unwrap(), b"third");
    }

    #[test]
    fn inflate_refuses_uncompressed_and_truncated_data() {
        assert_eq!(inflate(b"\xd2\x84\x43").unwrap_err().code(), "compression");
        let whole = zlib(b"some data that is long enough to matter");
        assert_eq!(
            inflate(&whole[..whole.len() - 6]).unwrap_err().code(),
            "compression"
        );
        assert_eq!(inflate(&[]).unwrap_err().code(), "compression");
        let mut trailing = whole.clone();
        trailing.push(0);
        assert_eq!(inflate(&trailing).unwrap_err().code(), "compression");
    }
}
