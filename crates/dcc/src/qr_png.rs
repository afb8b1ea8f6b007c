//! The common PNG picture (8 bits a sample, grey, grey and alpha, RGB or RGBA, not
//! interlaced) read to greyscale on two threads: one inflates the image data, the other
//! undoes the row filters and turns each row grey as soon as its bytes arrive.
//!
//! A camera picture barely compresses, so inflating it is most of the work of reading it
//! (about 40 % of finding the code in a noisy Full HD PNG), and undoing the filters a fifth;
//! one after the other they were over the 20 ms a gate may spend on a picture. Side by side,
//! the picture is read in about the time inflating takes. The rows are searched for a QR
//! code's finder patterns as they come (qr_finder.rs), and once a code held flat has been
//! read from the rows so far, the rest is not inflated. Every other kind of PNG is left to
//! the `png` crate ([`read`] answers `None`).
//!
//! The container is PNG as ISO/IEC 15948 (W3C PNG, 2nd edition) gives it: the signature, then
//! chunks of a length, a type, data and a CRC-32 of type and data; `IHDR` first, the image in
//! one or more consecutive `IDAT` chunks as one zlib stream, `IEND` last. Each row of the
//! inflated data is a filter type byte (§9.2: none, sub, up, average, Paeth) and the row's
//! filtered bytes.

use std::sync::mpsc::{Receiver, sync_channel};

use crate::error::DccError;
use crate::qr_finder::RowScan;
use crate::qr_image::{Grey, grey_row};

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// Compressed bytes handed to the inflater at a time.
const INPUT_STEP: usize = 64 * 1024;
/// The inflater's window, the room it keeps free in it, and how far back deflate refers
/// (RFC 1951 §2).
const WINDOW: usize = 1 << 20;
const WINDOW_ROOM: usize = 256 * 1024;
const HISTORY: usize = 32 * 1024;

fn damaged() -> DccError {
    DccError::Image("the picture is damaged or too large")
}

/// What `IHDR` says, for a picture this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    width: usize,
    height: usize,
    /// Bytes a pixel: 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
    channels: usize,
}

impl Header {
    /// Bytes of one inflated row: the filter type and the pixels.
    fn stride(&self) -> usize {
        1 + self.width * self.channels
    }
}

/// Reads `bytes` as a PNG picture of at most `max_dimension` pixels a side and `max_alloc`
/// bytes inflated. `Ok(None)` for a valid start of a PNG that this module does not handle
/// (another bit depth, a palette, interlacing) or when no second thread can be had; an error
/// for a damaged picture. The rows are also searched for finder patterns as they arrive, and
/// a code held flat is read as soon as its rows are in: the rest of the image data, whose
/// chunks' CRCs are checked first, is then not inflated.
pub(crate) fn read(
    bytes: &[u8],
    max_dimension: usize,
    max_alloc: usize,
) -> Result<Option<Reading>, DccError> {
    let rest = bytes.strip_prefix(&SIGNATURE).ok_or_else(damaged)?;
    let mut chunks = Chunks { rest };
    let first = chunks.next().ok_or_else(damaged)??;
    if first.kind != *b"IHDR" || !first.intact() {
        return Err(damaged());
    }
    let Some(header) = header(first.data, max_dimension)? else {
        return Ok(None);
    };
    let mut image = Vec::new();
    for chunk in chunks.by_ref() {
        let chunk = chunk?;
        match &chunk.kind {
            b"IDAT" => image.push(chunk),
            b"IEND" => break,
            _ => {}
        }
    }
    if image.is_empty() {
        return Err(damaged());
    }
    let image_data: Vec<&[u8]> = image.iter().map(|chunk| chunk.data).collect();
    let size = header
        .stride()
        .checked_mul(header.height)
        .filter(|&size| size <= max_alloc)
        .ok_or_else(damaged)?;
    let (sender, receiver) = sync_channel::<Vec<u8>>(64);
    std::thread::scope(|scope| {
        let Ok(inflater) = std::thread::Builder::new()
            .name("png-inflate".into())
            .spawn_scoped(scope, move || {
                // The reader stops listening only once it has failed, with its own error.
                inflate(&image_data, size, |block| sender.send(block).is_ok())
            })
        else {
            return Ok(None);
        };
        // The image data's CRCs are checked here while the other thread inflates it: this
        // thread waits for rows anyway.
        let reading = if image.iter().all(Chunk::intact) {
            unfilter(header, &receiver)
        } else {
            Err(damaged())
        };
        // Once the code is read, the inflater finds no one listening and stops.
        drop(receiver);
        let inflated = inflater.join().map_err(|_| damaged())?;
        let reading = reading?;
        if let Reading::Picture(..) = reading {
            inflated?;
        }
        Ok(Some(reading))
    })
}

/// What reading a PNG came to.
#[derive(Debug)]
pub(crate) enum Reading {
    /// The whole picture in greyscale, with its rows searched for finder patterns.
    Picture(Grey, Box<RowScan>),
    /// The text of a code read before the picture was complete.
    Code(String),
}

/// The picture's header, if this module reads such pictures.
fn header(data: &[u8], max_dimension: usize) -> Result<Option<Header>, DccError> {
    let [
        w0,
        w1,
        w2,
        w3,
        h0,
        h1,
        h2,
        h3,
        depth,
        colour,
        compression,
        filter,
        interlace,
    ] = *data
    else {
        return Err(damaged());
    };
    let width = u32::from_be_bytes([w0, w1, w2, w3]) as usize;
    let height = u32::from_be_bytes([h0, h1, h2, h3]) as usize;
    if width == 0 || height == 0 || width > max_dimension || height > max_dimension {
        return Err(damaged());
    }
    if compression != 0 || filter != 0 || interlace > 1 {
        return Err(damaged());
    }
    let channels = match colour {
        0 => 1,
        4 => 2,
        2 => 3,
        6 => 4,
        3 => return Ok(None),
        _ => return Err(damaged()),
    };
    if depth != 8 || interlace != 0 {
        return Ok(None);
    }
    Ok(Some(Header {
        width,
        height,
        channels,
    }))
}

/// A chunk: its type, its data and the CRC-32 it gives for both.
struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    crc: u32,
}

impl Chunk<'_> {
    fn intact(&self) -> bool {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&self.kind);
        hasher.update(self.data);
        hasher.finalize() == self.crc
    }
}

/// The chunks after the signature; one cut short ends them with an error.
struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>, DccError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let chunk = || -> Option<(Chunk<'a>, &'a [u8])> {
            let (length, rest) = self.rest.split_first_chunk::<4>()?;
            let length = u32::from_be_bytes(*length) as usize;
            let (kind, rest) = rest.split_first_chunk::<4>()?;
            let (data, rest) = rest.split_at_checked(length)?;
            let (crc, rest) = rest.split_first_chunk::<4>()?;
            let crc = u32::from_be_bytes(*crc);
            Some((
                Chunk {
                    kind: *kind,
                    data,
                    crc,
                },
                rest,
            ))
        };
        match chunk() {
            Some((chunk, rest)) => {
                self.rest = rest;
                Some(Ok(chunk))
            }
            None => {
                self.rest = &[];
                Some(Err(damaged()))
            }
        }
    }
}

/// Inflates the zlib stream split over `parts` into exactly `size` bytes, handing each newly
/// inflated block to `deliver` as it comes; stops early when `deliver` answers false.
fn inflate(
    parts: &[&[u8]],
    size: usize,
    mut deliver: impl FnMut(Vec<u8>) -> bool,
) -> Result<(), DccError> {
    let mut decompressor = fdeflate::Decompressor::new();
    // The chunks' CRCs cover the same bytes.
    decompressor.ignore_adler32();
    // Inflated into a window that slides, not into a buffer of the picture's size: it stays
    // in the processor's cache, and the memory of a picture-sized buffer need not be mapped
    // page by page as it is first written (about 1,500 page faults at Full HD).
    let mut out = vec![0u8; WINDOW];
    let mut at = 0;
    let mut produced = 0;
    let mut parts = parts.iter().flat_map(|p| p.chunks(INPUT_STEP)).peekable();
    'parts: while let Some(mut input) = parts.next() {
        let last = parts.peek().is_none();
        loop {
            if at > WINDOW - WINDOW_ROOM {
                // Keep the last 32 KiB, as far back as deflate refers.
                out.copy_within(at - HISTORY..at, 0);
                at = HISTORY;
            }
            let (used, made) = decompressor
                .read(input, &mut out, at, last)
                .map_err(|_| damaged())?;
            if made > 0 {
                let block = out.get(at..at + made).ok_or_else(damaged)?;
                if !deliver(block.to_vec()) {
                    return Ok(());
                }
                at += made;
                produced += made;
            }
            if produced > size {
                return Err(damaged());
            }
            input = input.get(used..).unwrap_or_default();
            if decompressor.is_done() {
                break 'parts;
            }
            if input.is_empty() {
                // The last part is drained until nothing more comes out.
                if !last || made == 0 {
                    break;
                }
            } else if used == 0 && made == 0 {
                return Err(damaged());
            }
        }
    }
    if produced != size || !decompressor.is_done() {
        return Err(damaged());
    }
    Ok(())
}

/// Receives the inflated picture block by block and returns its pixels in greyscale, with
/// their rows searched for finder patterns, unless a code is read from the rows so far.
fn unfilter(header: Header, blocks: &Receiver<Vec<u8>>) -> Result<Reading, DccError> {
    let stride = header.stride();
    let mut pixels = Vec::with_capacity(header.width * header.height);
    let mut scan = RowScan::new(header.width);
    let mut above = vec![0u8; stride - 1];
    let mut row = Vec::with_capacity(stride);
    let mut rows = 0;
    for block in blocks {
        let mut block = block.as_slice();
        while !block.is_empty() {
            let (head, tail) = block.split_at((stride - row.len()).min(block.len()));
            row.extend_from_slice(head);
            block = tail;
            if row.len() < stride {
                continue;
            }
            if rows == header.height {
                return Err(damaged());
            }
            let (&mut kind, current) = row.split_first_mut().ok_or_else(damaged)?;
            undo_filter(kind, header.channels, &above, current)?;
            let start = pixels.len();
            grey_row(current, header.channels, &mut pixels);
            scan.row(&pixels[start..]);
            above.copy_from_slice(current);
            row.clear();
            rows += 1;
            if scan.has_news(rows) {
                let so_far = Grey {
                    width: header.width,
                    height: rows,
                    pixels: std::mem::take(&mut pixels),
                };
                let text = scan.read_early(&so_far);
                pixels = so_far.pixels;
                if let Some(text) = text {
                    return Ok(Reading::Code(text));
                }
            }
        }
    }
    if rows != header.height || !row.is_empty() {
        return Err(damaged());
    }
    let grey = Grey {
        width: header.width,
        height: header.height,
        pixels,
    };
    Ok(Reading::Picture(grey, Box::new(scan)))
}

/// Undoes filter `kind` on `row` (§9.2), given the row above, already unfiltered.
fn undo_filter(kind: u8, bpp: usize, above: &[u8], row: &mut [u8]) -> Result<(), DccError> {
    match kind {
        0 => {}
        2 => {
            for (x, &b) in row.iter_mut().zip(above) {
                *x = x.wrapping_add(b);
            }
        }
        1 | 3 | 4 => match bpp {
            1 => by_pixel::<1>(kind, above, row),
            2 => by_pixel::<2>(kind, above, row),
            3 => by_pixel::<3>(kind, above, row),
            _ => by_pixel::<4>(kind, above, row),
        },
        _ => return Err(damaged()),
    }
    Ok(())
}

/// Undoes the sub (1), average (3) or Paeth (4) filter, whose predictions use the pixel to
/// the left, a pixel of `BPP` bytes at a time. Each byte is carried to the next pixel from a
/// local rather than read back from the row (which made every pixel wait for its store), and
/// nothing branches on the picture's values: on a noisy picture a branch per byte would be
/// mispredicted half of the time.
fn by_pixel<const BPP: usize>(kind: u8, above: &[u8], row: &mut [u8]) {
    let mut left = [0u8; BPP];
    let mut corner = [0u8; BPP];
    let pixels = row.chunks_exact_mut(BPP).zip(above.chunks_exact(BPP));
    match kind {
        1 => {
            for (pixel, _) in pixels {
                for k in 0..BPP {
                    let value = pixel[k].wrapping_add(left[k]);
                    pixel[k] = value;
                    left[k] = value;
                }
            }
        }
        3 => {
            for (pixel, up) in pixels {
                for k in 0..BPP {
                    let mean = ((u16::from(left[k]) + u16::from(up[k])) >> 1) as u8;
                    let value = pixel[k].wrapping_add(mean);
                    pixel[k] = value;
                    left[k] = value;
                }
            }
        }
        _ => {
            for (pixel, up) in pixels {
                for k in 0..BPP {
                    let value = pixel[k].wrapping_add(paeth(left[k], up[k], corner[k]));
                    pixel[k] = value;
                    left[k] = value;
                    corner[k] = up[k];
                }
            }
        }
    }
}

/// The Paeth predictor of `a` (left), `b` (above) and `c` (above left): whichever of the
/// three is closest to a + b − c, preferring a, then b. Rewritten without the three absolute
/// differences: with lo ≤ hi the smaller and larger of a and b, and t = 3c − a − b, c is
/// farther from the estimate than lo exactly when hi ≤ t, and farther than hi exactly when
/// t ≤ lo; otherwise c is the nearest. Selections only, which compile to conditional moves.
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a, b, c) = (i16::from(a), i16::from(b), i16::from(c));
    let t = 3 * c - a - b;
    let (lo, hi) = (a.min(b), a.max(b));
    let near = if hi <= t { lo } else { c };
    (if t <= lo { hi } else { near }) as u8
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const LIMIT: usize = 8_192;
    const ALLOC: usize = 256 << 20;

    /// A picture of noise (each byte from a simple generator), `channels` bytes a pixel.
    fn noise(width: usize, height: usize, channels: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..width * height * channels)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect()
    }

    /// `pixels` as a PNG written by the `png` crate, every row with `filter`.
    fn encode(
        pixels: &[u8],
        width: usize,
        height: usize,
        colour: png::ColorType,
        filter: png::Filter,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(colour);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_filter(filter);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    fn colours() -> [(png::ColorType, usize); 4] {
        [
            (png::ColorType::Grayscale, 1),
            (png::ColorType::GrayscaleAlpha, 2),
            (png::ColorType::Rgb, 3),
            (png::ColorType::Rgba, 4),
        ]
    }

    #[test]
    fn every_filter_and_colour_type_reads_as_the_png_crate_reads_it() {
        let (width, height) = (67, 41);
        for (colour, channels) in colours() {
            let pixels = noise(width, height, channels, channels as u64);
            let expected: Vec<u8> = match channels {
                1 => pixels.clone(),
                2 => pixels.chunks_exact(2).map(|p| p[0]).collect(),
                _ => pixels
                    .chunks_exact(channels)
                    .map(crate::qr_image::rec709)
                    .collect(),
            };
            for filter in [
                png::Filter::NoFilter,
                png::Filter::Sub,
                png::Filter::Up,
                png::Filter::Avg,
                png::Filter::Paeth,
                png::Filter::Adaptive,
            ] {
                let file = encode(&pixels, width, height, colour, filter);
                let Some(Reading::Picture(grey, _)) = read(&file, LIMIT, ALLOC).unwrap() else {
                    panic!("a picture");
                };
                assert_eq!((grey.width, grey.height), (width, height));
                assert_eq!(grey.pixels, expected, "{colour:?} with {filter:?}");
            }
        }
    }

    #[test]
    fn other_kinds_of_png_are_left_to_the_png_crate() {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 4, 4);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Sixteen);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[7; 32]).unwrap();
        writer.finish().unwrap();
        assert!(read(&out, LIMIT, ALLOC).unwrap().is_none());
    }

    /// Rewrites chunk `kind`'s data with `edit` and gives it a correct CRC again.
    fn with_chunk(file: &[u8], kind: &[u8; 4], edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        for chunk in (Chunks { rest: &file[8..] }) {
            let chunk = chunk.unwrap();
            let mut data = chunk.data.to_vec();
            if chunk.kind == *kind {
                edit(&mut data);
            }
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(&chunk.kind);
            out.extend_from_slice(&data);
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&chunk.kind);
            hasher.update(&data);
            out.extend_from_slice(&hasher.finalize().to_be_bytes());
        }
        out
    }

    /// A zlib stream of `raw`, stored uncompressed (RFC 1950, RFC 1951 §3.2.4), so that the
    /// rows can be written by hand.
    fn stored_zlib(raw: &[u8]) -> Vec<u8> {
        let mut out = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
        for (i, block) in blocks.iter().enumerate() {
            out.push(u8::from(i + 1 == blocks.len()));
            let len = block.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(block);
        }
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in raw {
            a = (a + u32::from(byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        out.extend_from_slice(&((b << 16) | a).to_be_bytes());
        out
    }

    #[test]
    fn damaged_pictures_are_refused() {
        let pixels = noise(16, 8, 3, 9);
        let good = encode(&pixels, 16, 8, png::ColorType::Rgb, png::Filter::Paeth);
        assert!(read(&good, LIMIT, ALLOC).unwrap().is_some());
        let refused = |file: &[u8], why: &str| {
            assert_eq!(
                read(file, LIMIT, ALLOC).unwrap_err().code(),
                "image",
                "{why}"
            );
        };
        // Cut anywhere after the header: a chunk stops short or the rows do.
        for cut in [40, good.len() / 2, good.len() - 20, good.len() - 13] {
            refused(&good[..cut], &format!("cut at {cut}"));
        }
        // A flipped bit in the image data, caught by the CRC.
        let mut flipped = good.clone();
        let at = good.windows(4).position(|w| w == b"IDAT").unwrap() + 10;
        flipped[at] ^= 0x10;
        refused(&flipped, "a flipped bit");
        refused(b"\x89PNG\r\n\x1a\nrest", "no chunks");
        refused(&good[8..], "no signature");
        // Headers that make no sense: zero or too large a size, an unknown colour type.
        refused(
            &with_chunk(&good, b"IHDR", |d| d[..4].fill(0)),
            "zero width",
        );
        refused(
            &with_chunk(&good, b"IHDR", |d| {
                d[4..8].copy_from_slice(&9_000u32.to_be_bytes())
            }),
            "too tall",
        );
        refused(&with_chunk(&good, b"IHDR", |d| d[9] = 5), "colour type 5");
        // Rows by hand: too few, too many, and an unknown filter type.
        let stride = 1 + 16 * 3;
        let rows = |count: usize, filter: u8| {
            let mut raw = Vec::new();
            for _ in 0..count {
                raw.push(filter);
                raw.extend_from_slice(&[1; 48]);
            }
            raw
        };
        let with_rows = |raw: Vec<u8>| {
            let zlib = stored_zlib(&raw);
            with_chunk(&good, b"IDAT", move |d| *d = zlib.clone())
        };
        let fine = with_rows(rows(8, 0));
        let Some(Reading::Picture(grey, _)) = read(&fine, LIMIT, ALLOC).unwrap() else {
            panic!("a picture");
        };
        assert_eq!(grey.pixels, vec![1; 16 * 8]);
        assert_eq!(rows(8, 0).len(), 8 * stride);
        refused(&with_rows(rows(7, 0)), "a row short");
        refused(&with_rows(rows(9, 0)), "a row too many");
        refused(&with_rows(rows(8, 5)), "filter type 5");
        // The image data must be there at all.
        refused(
            &with_chunk(&good, b"IDAT", |d| d.clear()),
            "empty image data",
        );
    }

    /// The predictor as §9.4 defines it.
    fn paeth_as_defined(a: u8, b: u8, c: u8) -> u8 {
        let p = i16::from(a) + i16::from(b) - i16::from(c);
        let pa = (p - i16::from(a)).abs();
        let pb = (p - i16::from(b)).abs();
        let pc = (p - i16::from(c)).abs();
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    #[test]
    fn the_paeth_predictor_matches_its_definition_everywhere() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    assert_eq!(paeth(a, b, c), paeth_as_defined(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }
}
