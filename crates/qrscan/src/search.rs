//! Where the codes are looked for, and in what order.
//!
//! `quircs` (a port of quirc) searches the greyscale picture with quirc's own threshold, one
//! level for the whole picture; what that does not read is searched again after an adaptive
//! threshold has made the picture black and white, which reads codes in uneven light. A
//! picture larger than a Full HD frame is searched at a reduced size first, and each search
//! also gets the picture at half that size, where a large code in a noisy picture is
//! sometimes clearer. A code cropped with no quiet zone is searched for last, inside a
//! white border.

use crate::error::ScanError;
use crate::picture::Picture;

/// Pictures with more pixels than a Full HD frame are first searched at a reduced size:
/// searching costs time in proportion to the pixels, and a code that a phone's camera is
/// pointed at is large enough to be read there. The full picture is searched last.
const WORK_PIXELS: usize = 1920 * 1080;
/// The shortest side a reduced picture may have. A DCC's code is of version 10 to 15 (57 to
/// 77 modules); filling half of a smaller picture, with its quiet zone, its modules would be
/// under three pixels wide, too few to read reliably.
const MIN_REDUCED_SIDE: usize = 480;

/// The text of every code the first successful search reads.
pub(crate) fn codes(picture: Picture) -> Result<Vec<String>, ScanError> {
    // pyramid[k] is the picture at 1/2^k of its width and height.
    let mut pyramid = vec![picture];
    while let Some(smaller) = pyramid
        .last()
        .filter(|level| level.pixels.len() > WORK_PIXELS && reducible(level))
        .map(halved)
    {
        pyramid.push(smaller);
    }
    let work = pyramid.len() - 1;
    // The working size, then half of it (made only if needed), then the finer sizes down to
    // the full picture.
    let order = || {
        std::iter::once(work)
            .chain(std::iter::once(work + 1))
            .chain((0..work).rev())
    };
    let mut found = false;
    for search in [with_quirc, with_adaptive_threshold] {
        for k in order() {
            if k == pyramid.len() {
                match pyramid.last().filter(|l| reducible(l)).map(halved) {
                    Some(smaller) => pyramid.push(smaller),
                    None => continue,
                }
            }
            let Some(level) = pyramid.get(k) else {
                continue;
            };
            let (grids, texts) = search(level);
            found |= grids;
            if !texts.is_empty() {
                return Ok(texts);
            }
        }
    }
    // Last, a code cropped to its edge with no quiet zone (ISO/IEC 18004 asks for four modules
    // of it), as some issuers' pictures are: quirc finds no finder pattern without light
    // around it, so the working size is searched again inside a white border.
    if let Some(level) = pyramid.get(work) {
        let framed = bordered(level);
        for search in [with_quirc, with_adaptive_threshold] {
            let (grids, texts) = search(&framed);
            found |= grids;
            if !texts.is_empty() {
                return Ok(texts);
            }
        }
    }
    Err(if found {
        ScanError::Unreadable
    } else {
        ScanError::NoCode
    })
}

/// The picture inside a white border a tenth of its shorter side wide (at least 8 pixels):
/// room for the quiet zone of a code that fills the picture.
fn bordered(picture: &Picture) -> Picture {
    let pad = (picture.width.min(picture.height) / 10).max(8);
    let width = picture.width + 2 * pad;
    let height = picture.height + 2 * pad;
    let mut pixels = vec![255u8; width * height];
    if picture.width > 0 {
        for (row, out) in picture
            .pixels
            .chunks_exact(picture.width)
            .zip(pixels.chunks_exact_mut(width).skip(pad))
        {
            out[pad..pad + picture.width].copy_from_slice(row);
        }
    }
    Picture {
        width,
        height,
        pixels,
    }
}

/// Whether half of this picture is still worth searching.
fn reducible(picture: &Picture) -> bool {
    picture.width.min(picture.height) / 2 >= MIN_REDUCED_SIDE
}

/// The picture at half the width and height, each pixel the mean of four. Averaging rather
/// than skipping keeps thin modules and evens out sensor noise.
fn halved(picture: &Picture) -> Picture {
    let (width, height) = (picture.width / 2, picture.height / 2);
    let mut pixels = Vec::with_capacity(width * height);
    for rows in picture.pixels.chunks_exact(2 * picture.width).take(height) {
        let (top, bottom) = rows.split_at(picture.width);
        pixels.extend(
            top.chunks_exact(2)
                .zip(bottom.chunks_exact(2))
                .take(width)
                .map(|(t, b)| {
                    let sum = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]);
                    // At most 4 × 255 + 2, so the quotient fits a byte.
                    ((sum + u16::from(b[1]) + 2) / 4) as u8
                }),
        );
    }
    Picture {
        width,
        height,
        pixels,
    }
}

/// Searches the picture with quirc: whether any code-like grid was found, and the text of
/// each one that decodes.
fn with_quirc(picture: &Picture) -> (bool, Vec<String>) {
    if picture.width == 0 || picture.height == 0 {
        return (false, Vec::new());
    }
    let mut quirc = quircs::Quirc::default();
    let mut found = false;
    let mut texts = Vec::new();
    for code in quirc.identify(picture.width, picture.height, &picture.pixels) {
        found = true;
        if let Some(text) = code
            .ok()
            .and_then(|code| code.decode().ok())
            .and_then(|data| String::from_utf8(data.payload).ok())
        {
            texts.push(text);
        }
    }
    (found, texts)
}

/// Searches the picture with quirc, as [`with_quirc`] does, after an adaptive threshold has
/// made it black and white: quirc's own threshold is one level for the whole picture, which
/// misses codes in uneven light.
///
/// The threshold is rqrr's. rqrr's own detector tried every three finder-like patterns it
/// found on a fresh copy of the whole picture, with no limit on how many patterns it kept: a
/// Full HD picture tiled with finder patterns took it over three minutes, where quirc stops at
/// 32 patterns and 8 grids.
fn with_adaptive_threshold(picture: &Picture) -> (bool, Vec<String>) {
    if picture.width == 0 || picture.height == 0 {
        return (false, Vec::new());
    }
    with_quirc(&thresholded(picture))
}

/// The picture in black (0) and white (255) by rqrr's adaptive threshold
/// (`PreparedImage::prepare`), computed to the same bits: a moving average over an eighth of
/// the width, run in alternating directions along the rows and carried from row to row, and a
/// pixel darker than 95 % of it is black. rqrr divides three times a pixel, which made the
/// threshold its costliest step; here each division is a multiply.
fn thresholded(picture: &Picture) -> Picture {
    let (w, h) = (picture.width, picture.height);
    let window = (w / 8).max(1) as u64;
    let by_window = Divider::new(window);
    let by_limit = Divider::new(200 * window);
    let mut two_level = vec![255u8; w * h];
    let mut row_average = vec![0u64; w];
    let (mut avg_v, mut avg_u) = (0u64, 0u64);
    for (y, (row, out)) in picture
        .pixels
        .chunks_exact(w)
        .zip(two_level.chunks_exact_mut(w))
        .enumerate()
    {
        row_average.fill(0);
        for x in 0..w {
            let (v, u) = if y % 2 == 0 {
                (w - 1 - x, x)
            } else {
                (x, w - 1 - x)
            };
            avg_v = by_window.div(avg_v * (window - 1)) + u64::from(row[v]);
            avg_u = by_window.div(avg_u * (window - 1)) + u64::from(row[u]);
            row_average[v] += avg_v;
            row_average[u] += avg_u;
        }
        for ((out, &pixel), &average) in out.iter_mut().zip(row).zip(&row_average) {
            if u64::from(pixel) < by_limit.div(average * 95) {
                *out = 0;
            }
        }
    }
    Picture {
        width: w,
        height: h,
        pixels: two_level,
    }
}

/// Division by a fixed divisor as a multiply and a shift, exact for every dividend below 2³².
/// The threshold's dividends stay below 2²⁸: a moving average over at most 1,024 pixels is at
/// most 255 × 1,024, times 1,023; a row sum is at most twice that average, times 95.
struct Divider {
    magic: u128,
}

impl Divider {
    fn new(divisor: u64) -> Divider {
        // floor(2⁶⁴ / d) + 1 exceeds 2⁶⁴ / d by at most 1, so for n < 2³² the product
        // n × magic / 2⁶⁴ exceeds n / d by less than 2⁻³² ≤ 1/d, which cannot carry it past
        // the next integer.
        Divider {
            magic: u128::from(u64::MAX / divisor) + 1,
        }
    }

    fn div(&self, dividend: u64) -> u64 {
        // The quotient is below 2³², so the high half holds all of it.
        ((u128::from(dividend) * self.magic) >> 64) as u64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_rqrr_s_own() {
        use rqrr::PreparedImage;

        // Odd sizes, narrow and wide windows, and a picture with real contrast.
        for (width, height) in [(1, 1), (7, 3), (97, 61), (640, 33)] {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let pixels: Vec<u8> = (0..width * height)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let base: u8 = if (i / 5) % 3 == 0 { 40 } else { 200 };
                    base.wrapping_add((seed % 50) as u8)
                })
                .collect();
            let picture = Picture {
                width,
                height,
                pixels,
            };
            let black: Vec<bool> = thresholded(&picture)
                .pixels
                .iter()
                .map(|&p| p == 0)
                .collect();
            let ours =
                PreparedImage::prepare_from_bitmap(width, height, |x, y| black[y * width + x]);
            let theirs = PreparedImage::prepare_from_greyscale(width, height, |x, y| {
                picture.pixels[y * width + x]
            });
            for y in 0..height {
                for x in 0..width {
                    assert!(
                        ours.get_pixel_at(x, y) == theirs.get_pixel_at(x, y),
                        "({x}, {y}) of {width}×{height}"
                    );
                }
            }
            // With a window of one pixel nothing is darker than its own average.
            assert_eq!(black.iter().any(|&b| b), width >= 16);
        }
    }

    #[test]
    fn division_by_multiplying_is_exact() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for divisor in (1..2_000).chain([200 * 1_024, 1 << 17, (1 << 17) + 1]) {
            let by = Divider::new(divisor);
            for _ in 0..200 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let dividend = seed >> 32;
                assert_eq!(
                    by.div(dividend),
                    dividend / divisor,
                    "{dividend} / {divisor}"
                );
            }
            for dividend in [0, divisor - 1, divisor, divisor + 1, (1 << 32) - 1] {
                assert_eq!(
                    by.div(dividend),
                    dividend / divisor,
                    "{dividend} / {divisor}"
                );
            }
        }
    }

    #[test]
    fn halving_averages_four_pixels() {
        let picture = Picture {
            width: 5,
            height: 3,
            pixels: vec![0, 255, 10, 20, 9, 255, 255, 30, 40, 9, 9, 9, 9, 9, 9],
        };
        let half = halved(&picture);
        assert_eq!((half.width, half.height), (2, 1));
        assert_eq!(half.pixels, vec![191, 25]);
    }

    #[test]
    fn a_border_surrounds_the_picture() {
        let picture = Picture {
            width: 2,
            height: 1,
            pixels: vec![0, 7],
        };
        let framed = bordered(&picture);
        assert_eq!((framed.width, framed.height), (18, 17));
        assert_eq!(framed.pixels.iter().filter(|&&p| p != 255).count(), 2);
        assert_eq!(&framed.pixels[8 * 18 + 8..8 * 18 + 10], &[0, 7]);
    }

    #[test]
    fn empty_pictures_have_no_code() {
        let empty = Picture {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        };
        assert_eq!(codes(empty), Err(ScanError::NoCode));
    }
}
