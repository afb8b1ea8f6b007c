//! Reading the QR code in a picture (PNG or JPEG): a screenshot, a scan of a paper
//! certificate or a camera frame, as the verifier's upload form receives them.
//!
//! This module only finds and decodes the symbol (ISO/IEC 18004) and returns its text; the
//! text is then an ordinary `HC1:` string for [`crate::verify`]. Pictures are bounded in
//! size before decoding, so a crafted header cannot make the decoder allocate without limit.
//!
//! A quick look for a code held flat towards the camera comes first (qr_finder.rs); it reads
//! most pictures a gate sees in a fraction of a general search. What it does not read is
//! searched by `quircs` (a port of quirc) twice: on the greyscale picture with quirc's own
//! threshold, one level for the whole picture, and then on the picture made black and white
//! by an adaptive threshold, which reads codes in uneven light. A picture larger than a Full
//! HD frame is searched at a reduced size first, and each search also gets the picture at half
//! that size, where a large code in a noisy picture is sometimes clearer.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::error::DccError;
use crate::qr_finder::RowScan;
use crate::qr_png::Reading;

/// Largest width or height accepted, in pixels: a 40 MP camera picture fits.
const MAX_DIMENSION: u32 = 8_192;
/// Largest allocation the decoder may make, in bytes.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Pictures with more pixels than a Full HD frame are first searched at a reduced size:
/// searching costs time in proportion to the pixels, and a code that a phone's camera is
/// pointed at is large enough to be read there. The full picture is searched last. (Searching
/// a Full HD frame at half size first was slower: a code filling half the frame's height has
/// modules of three pixels there, which often do not read, and the full search follows.)
const WORK_PIXELS: usize = 1920 * 1080;
/// The shortest side a reduced picture may have. A DCC's code is of version 10 to 15 (57 to
/// 77 modules); filling half of a smaller picture, with its quiet zone, its modules would be
/// under three pixels wide, too few to read reliably.
const MIN_REDUCED_SIDE: usize = 480;

/// Decodes the first readable QR code in a PNG or JPEG picture and returns its text.
pub fn decode_qr_image(bytes: &[u8]) -> Result<String, DccError> {
    let (picture, scanned) = match luma(bytes)? {
        Greyscale::Picture(picture, scanned) => (picture, scanned),
        // Read while the picture was still being read (qr_png.rs).
        Greyscale::Code(text) => return Ok(text),
    };
    // The quick look for a code held flat (qr_finder.rs), on rows searched as they were read.
    if let Some(text) = scanned.as_ref().and_then(|scan| scan.read(&picture)) {
        return Ok(text);
    }
    // pyramid[k] is the picture at 1/2^k of its width and height.
    let mut pyramid = vec![picture];
    while let Some(smaller) = pyramid
        .last()
        .filter(|level| level.pixels.len() > WORK_PIXELS && level.reducible())
        .map(Grey::halved)
    {
        pyramid.push(smaller);
    }
    let work = pyramid.len() - 1;
    // Otherwise the quick look at the working size.
    if scanned.is_none()
        && let Some(text) = pyramid
            .get(work)
            .and_then(|level| RowScan::over(level).read(level))
    {
        return Ok(text);
    }
    // The working size, then half of it (made only if needed), then the finer sizes down to
    // the full picture.
    let order = || {
        std::iter::once(work)
            .chain(std::iter::once(work + 1))
            .chain((0..work).rev())
    };
    let mut found = false;
    for read in [Grey::read_with_quirc, Grey::read_with_adaptive_threshold] {
        for k in order() {
            if k == pyramid.len() {
                match pyramid.last().filter(|l| l.reducible()).map(Grey::halved) {
                    Some(smaller) => pyramid.push(smaller),
                    None => continue,
                }
            }
            let Some(level) = pyramid.get(k) else {
                continue;
            };
            let (grids, text) = read(level);
            found |= grids;
            if let Some(text) = text {
                return Ok(text);
            }
        }
    }
    Err(if found {
        DccError::QrCode("the QR code is damaged or not text")
    } else {
        DccError::QrCode("no QR code found")
    })
}

/// A picture read to greyscale, with its rows searched for finder patterns where it was read
/// row by row; or the text of a code already read from its rows while it was being read.
enum Greyscale {
    Picture(Grey, Option<Box<RowScan>>),
    Code(String),
}

/// A greyscale picture, one byte a pixel, row after row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Grey {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) pixels: Vec<u8>,
}

/// Reads a PNG or JPEG picture into greyscale, within the size limits, with its rows
/// already searched for finder patterns where the picture was read row by row.
fn luma(bytes: &[u8]) -> Result<Greyscale, DccError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => Ok(Greyscale::Picture(jpeg_luma(bytes)?, None)),
        Ok(ImageFormat::Png) => png_luma(bytes),
        _ => Err(DccError::Image("only PNG and JPEG pictures are supported")),
    }
}

/// A JPEG's luma channel. A camera's YCbCr JPEG already holds the grey picture in its Y
/// channel, so the colour channels are neither converted nor kept; other colour models go
/// through the general decoder.
fn jpeg_luma(bytes: &[u8]) -> Result<Grey, DccError> {
    let damaged = |_| DccError::Image("the picture is damaged or too large");
    let options = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(damaged)?;
    if !matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::Luma)
    ) {
        return image_luma(bytes, ImageFormat::Jpeg);
    }
    decoder.set_options(options.jpeg_set_out_colorspace(ColorSpace::Luma));
    let pixels = decoder.decode().map_err(damaged)?;
    let (width, height) = decoder
        .dimensions()
        .ok_or(DccError::Image("the picture is damaged or too large"))?;
    if pixels.len() != width.saturating_mul(height) {
        return Err(DccError::Image("the picture is damaged or too large"));
    }
    Ok(Grey {
        width,
        height,
        pixels,
    })
}

/// A PNG's rows straight to greyscale as they are inflated, without an RGB picture in
/// between: a noisy camera frame barely compresses, and the copy and conversion pass over it
/// cost a tenth of reading it. The common 8-bit pictures are read on two threads by qr_png.rs
/// first; interlaced and palette pictures go through the general decoder.
fn png_luma(bytes: &[u8]) -> Result<Greyscale, DccError> {
    let max_alloc = usize::try_from(MAX_ALLOC).unwrap_or(usize::MAX);
    match crate::qr_png::read(bytes, MAX_DIMENSION as usize, max_alloc)? {
        Some(Reading::Picture(grey, scan)) => return Ok(Greyscale::Picture(grey, Some(scan))),
        Some(Reading::Code(text)) => return Ok(Greyscale::Code(text)),
        None => {}
    }
    let damaged = || DccError::Image("the picture is damaged or too large");
    let limits = png::Limits {
        bytes: usize::try_from(MAX_ALLOC).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|_| damaged())?;
    let (width, height, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(damaged());
    }
    let channels = match reader.output_color_type().0 {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Ok(Greyscale::Picture(
                image_luma(bytes, ImageFormat::Png)?,
                None,
            ));
        }
    };
    if interlaced {
        return Ok(Greyscale::Picture(
            image_luma(bytes, ImageFormat::Png)?,
            None,
        ));
    }
    // u32 to usize is lossless on every supported target; dimensions are at most 8,192.
    let (width, height) = (width as usize, height as usize);
    let mut pixels = Vec::with_capacity(width * height);
    while let Some(row) = reader.next_row().map_err(|_| damaged())? {
        let data = row.data().get(..width * channels).ok_or_else(damaged)?;
        grey_row(data, channels, &mut pixels);
    }
    if pixels.len() != width * height {
        return Err(damaged());
    }
    let grey = Grey {
        width,
        height,
        pixels,
    };
    Ok(Greyscale::Picture(grey, None))
}

/// Any supported picture through the general decoder, then converted to greyscale.
fn image_luma(bytes: &[u8], format: ImageFormat) -> Result<Grey, DccError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let picture = reader
        .decode()
        .map_err(|_| DccError::Image("the picture is damaged or too large"))?;
    // u32 to usize is lossless on every supported target; dimensions are at most 8,192.
    let (width, height) = (picture.width() as usize, picture.height() as usize);
    // The general conversion goes through floating point for every pixel and took longer
    // than finding the code; the common 8-bit layouts are converted here with the same
    // Rec. 709 weights in integers, and alpha is ignored as it is there.
    let pixels = match picture {
        DynamicImage::ImageLuma8(grey) => grey.into_raw(),
        DynamicImage::ImageRgb8(rgb) => rgb.as_raw().chunks_exact(3).map(rec709).collect(),
        DynamicImage::ImageRgba8(rgba) => rgba.as_raw().chunks_exact(4).map(rec709).collect(),
        other => other.into_luma8().into_raw(),
    };
    Ok(Grey {
        width,
        height,
        pixels,
    })
}

/// Appends a row of `channels`-byte pixels (grey, grey and alpha, RGB or RGBA) in greyscale;
/// alpha is ignored.
pub(crate) fn grey_row(row: &[u8], channels: usize, out: &mut Vec<u8>) {
    match channels {
        1 => out.extend_from_slice(row),
        2 => out.extend(row.chunks_exact(2).map(|p| p[0])),
        _ => out.extend(row.chunks_exact(channels).map(rec709)),
    }
}

/// The luma of an sRGB pixel (its first three bytes) with the Rec. 709 weights, in 256ths.
pub(crate) fn rec709(pixel: &[u8]) -> u8 {
    match *pixel {
        // The weights sum to 256, so the result is at most 255.
        [r, g, b, ..] => {
            ((54 * u32::from(r) + 183 * u32::from(g) + 19 * u32::from(b) + 128) >> 8) as u8
        }
        _ => 0,
    }
}

impl Grey {
    /// Whether half of this picture is still worth searching.
    fn reducible(&self) -> bool {
        self.width.min(self.height) / 2 >= MIN_REDUCED_SIDE
    }

    /// The picture at half the width and height, each pixel the mean of four. Averaging
    /// rather than skipping keeps thin modules and evens out sensor noise.
    fn halved(&self) -> Grey {
        let (width, height) = (self.width / 2, self.height / 2);
        let mut pixels = Vec::with_capacity(width * height);
        for rows in self.pixels.chunks_exact(2 * self.width).take(height) {
            let (top, bottom) = rows.split_at(self.width);
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
        Grey {
            width,
            height,
            pixels,
        }
    }

    /// Searches the picture with quirc: whether any code-like grid was found, and the text
    /// of the first one that decodes.
    fn read_with_quirc(&self) -> (bool, Option<String>) {
        if self.width == 0 || self.height == 0 {
            return (false, None);
        }
        let mut quirc = quircs::Quirc::default();
        let mut found = false;
        for code in quirc.identify(self.width, self.height, &self.pixels) {
            found = true;
            let text = code
                .ok()
                .and_then(|code| code.decode().ok())
                .and_then(|data| String::from_utf8(data.payload).ok());
            if text.is_some() {
                return (true, text);
            }
        }
        (found, None)
    }

    /// Searches the picture with quirc, as [`Grey::read_with_quirc`] does, after an adaptive
    /// threshold has made it black and white: quirc's own threshold is one level for the
    /// whole picture, which misses codes in uneven light.
    ///
    /// The threshold is rqrr's, whose detector this search replaced. rqrr tried every
    /// three finder-like patterns it found on a fresh copy of the whole picture, with no
    /// limit on how many patterns it kept: a Full HD picture tiled with finder patterns took
    /// it over three minutes, where quirc stops at 32 patterns and 8 grids.
    fn read_with_adaptive_threshold(&self) -> (bool, Option<String>) {
        if self.width == 0 || self.height == 0 {
            return (false, None);
        }
        self.thresholded().read_with_quirc()
    }

    /// The picture in black (0) and white (255) by rqrr's adaptive threshold
    /// (`PreparedImage::prepare`), computed to the same bits: a moving average over an
    /// eighth of the width, run in alternating directions along the rows and carried from
    /// row to row, and a pixel darker than 95 % of it is black. rqrr divides three times a
    /// pixel, which made the threshold its costliest step; here each division is a multiply.
    fn thresholded(&self) -> Grey {
        let (w, h) = (self.width, self.height);
        let window = (w / 8).max(1) as u64;
        let by_window = Divider::new(window);
        let by_limit = Divider::new(200 * window);
        let mut two_level = vec![255u8; w * h];
        let mut row_average = vec![0u64; w];
        let (mut avg_v, mut avg_u) = (0u64, 0u64);
        for (y, (row, out)) in self
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
        Grey {
            width: w,
            height: h,
            pixels: two_level,
        }
    }
}

/// Division by a fixed divisor as a multiply and a shift, exact for every dividend below
/// 2³². The threshold's dividends stay below 2²⁸: a moving average over at most 1,024
/// pixels is at most 255 × 1,024, times 1,023; a row sum is at most twice that average,
/// times 95.
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
    use image::codecs::jpeg::JpegEncoder;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    use super::*;

    /// An `HC1:`-like text of the length real certificates have.
    fn text() -> String {
        format!(
            "HC1:{}",
            "6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N".repeat(12)
        )
    }

    /// A colour frame of `width`×`height` with the QR code of `text` at `module` pixels a
    /// module, centred with a quiet zone on white paper, on a darker, noisy background.
    fn frame(text: &str, module: u32, width: u32, height: u32) -> RgbImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let modules = code.width() as u32;
        let colors = code.to_colors();
        let side = (modules + 8) * module;
        let (left, top) = ((width - side) / 2, (height - side) / 2);
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        RgbImage::from_fn(width, height, |x, y| {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let grain = (noise % 13) as u8;
            if !(left..left + side).contains(&x) || !(top..top + side).contains(&y) {
                return Rgb([120 + grain, 90 + grain, 60 + grain]);
            }
            let (mx, my) = ((x - left) / module, (y - top) / module);
            let dark = (4..modules + 4).contains(&mx)
                && (4..modules + 4).contains(&my)
                && colors[((my - 4) * modules + mx - 4) as usize] == qrcode::Color::Dark;
            if dark {
                Rgb([30 + grain, 30 + grain, 40 + grain])
            } else {
                Rgb([220 + grain, 220 + grain, 215 + grain])
            }
        })
    }

    fn jpeg(picture: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(picture)
            .unwrap();
        out
    }

    fn png(picture: &GrayImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn refuses_non_images_and_other_formats() {
        assert_eq!(
            decode_qr_image(b"not a picture").unwrap_err().code(),
            "image"
        );
        assert_eq!(decode_qr_image(b"GIF89a....").unwrap_err().code(), "image");
        assert_eq!(decode_qr_image(&[]).unwrap_err().code(), "image");
    }

    #[test]
    fn refuses_a_truncated_png() {
        let bytes = png(&GrayImage::from_pixel(64, 64, Luma([255])));
        assert_eq!(
            decode_qr_image(&bytes[..bytes.len() / 2])
                .unwrap_err()
                .code(),
            "image"
        );
    }

    #[test]
    fn a_blank_picture_has_no_code() {
        let bytes = png(&GrayImage::from_pixel(64, 64, Luma([255])));
        assert_eq!(
            decode_qr_image(&bytes),
            Err(DccError::QrCode("no QR code found"))
        );
    }

    #[test]
    fn reads_a_colour_jpeg_and_png() {
        let text = text();
        let picture = frame(&text, 6, 1280, 960);
        assert_eq!(decode_qr_image(&jpeg(&picture)).unwrap(), text);
        let mut png = Cursor::new(Vec::new());
        picture.write_to(&mut png, ImageFormat::Png).unwrap();
        assert_eq!(decode_qr_image(&png.into_inner()).unwrap(), text);
    }

    #[test]
    fn reads_a_png_of_every_colour_type_and_depth() {
        let text = text();
        let picture = image::DynamicImage::ImageRgb8(frame(&text, 4, 640, 480));
        let variants = [
            picture.to_luma8().into(),
            picture.to_luma_alpha8().into(),
            picture.clone(),
            picture.to_rgba8().into(),
            picture.to_luma16().into(),
            picture.to_rgb16().into(),
            picture.to_rgba16().into(),
        ];
        for v in variants {
            let mut out = Cursor::new(Vec::new());
            v.write_to(&mut out, ImageFormat::Png).unwrap();
            assert_eq!(
                decode_qr_image(&out.into_inner()).unwrap(),
                text,
                "{:?}",
                v.color()
            );
        }
    }

    #[test]
    fn reads_large_and_small_codes_in_a_large_picture() {
        // Larger than the working size, so that the search starts on a reduced copy.
        let text = text();
        let large = frame(&text, 12, 2600, 1800);
        assert_eq!(decode_qr_image(&jpeg(&large)).unwrap(), text);
        // Too small to survive the reduction: found in the full picture.
        let small = frame(&text, 3, 2600, 1800);
        assert_eq!(decode_qr_image(&jpeg(&small)).unwrap(), text);
    }

    #[test]
    fn a_picture_tiled_with_finder_patterns_is_refused_without_a_long_search() {
        // Finder patterns of 4-pixel modules a module apart, all over a quarter-HD picture:
        // the search that once tried every three of them on a copy of the picture (rqrr's)
        // took minutes on such a picture; quirc stops at 32 patterns and 8 grids.
        let module = 4;
        let tiles = GrayImage::from_fn(960, 540, |x, y| {
            let (u, v) = ((x / module) % 8, (y / module) % 8);
            let ring = (u as i32 - 3).abs().max((v as i32 - 3).abs());
            Luma([if u == 7 || v == 7 || ring == 2 {
                220
            } else {
                30
            }])
        });
        assert_eq!(
            decode_qr_image(&png(&tiles)),
            Err(DccError::QrCode("no QR code found"))
        );
    }

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
            let picture = Grey {
                width,
                height,
                pixels,
            };
            let black: Vec<bool> = picture
                .thresholded()
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
        let picture = Grey {
            width: 5,
            height: 3,
            pixels: vec![0, 255, 10, 20, 9, 255, 255, 30, 40, 9, 9, 9, 9, 9, 9],
        };
        let half = picture.halved();
        assert_eq!((half.width, half.height), (2, 1));
        assert_eq!(half.pixels, vec![191, 25]);
    }
}
