//! A picture decoded to greyscale, within size limits checked before any pixel is decoded.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::ScanError;

/// Largest width or height accepted, in pixels: a 40 MP camera picture fits.
pub const MAX_DIMENSION: u32 = 8_192;
/// Largest allocation the decoder may make, in bytes.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// A greyscale picture, one byte a pixel, row after row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Picture {
    /// Decodes a PNG or JPEG picture to greyscale. The format is recognised by its first
    /// bytes, never by a name, and the size limits apply before decoding.
    pub fn decode(bytes: &[u8]) -> Result<Picture, ScanError> {
        let format = match image::guess_format(bytes) {
            Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => format,
            _ => return Err(ScanError::Format),
        };
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_DIMENSION);
        limits.max_image_height = Some(MAX_DIMENSION);
        limits.max_alloc = Some(MAX_ALLOC);
        reader.limits(limits);
        let picture = reader.decode().map_err(|_| ScanError::Damaged)?;
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
        if pixels.len() != width * height {
            return Err(ScanError::Damaged);
        }
        Ok(Picture {
            width,
            height,
            pixels,
        })
    }
}

/// The luma of an sRGB pixel (its first three bytes) with the Rec. 709 weights, in 256ths.
fn rec709(pixel: &[u8]) -> u8 {
    match *pixel {
        // The weights sum to 256, so the result is at most 255.
        [r, g, b, ..] => {
            ((54 * u32::from(r) + 183 * u32::from(g) + 19 * u32::from(b) + 128) >> 8) as u8
        }
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rec709_weights() {
        assert_eq!(rec709(&[0, 0, 0]), 0);
        assert_eq!(rec709(&[255, 255, 255, 0]), 255);
        assert_eq!(rec709(&[255, 0, 0]), 54);
        assert_eq!(rec709(&[0, 255, 0]), 182);
        assert_eq!(rec709(&[1]), 0);
    }
}
