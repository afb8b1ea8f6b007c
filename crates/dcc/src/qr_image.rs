//! Reading the QR code in a picture (PNG or JPEG): a screenshot, a scan of a paper
//! certificate or a camera frame, as the verifier's upload form receives them.
//!
//! This module only finds and decodes the symbol (ISO/IEC 18004) and returns its text; the
//! text is then an ordinary `HC1:` string for [`crate::verify`]. Pictures are bounded in
//! size before decoding, so a crafted header cannot make the decoder allocate without limit.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::error::DccError;

/// Largest width or height accepted, in pixels: a 40 MP camera picture fits.
const MAX_DIMENSION: u32 = 8_192;
/// Largest allocation the decoder may make, in bytes.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Decodes the first readable QR code in a PNG or JPEG picture and returns its text.
pub fn decode_qr_image(bytes: &[u8]) -> Result<String, DccError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DccError::Image("the picture cannot be read"))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg) => {}
        _ => return Err(DccError::Image("only PNG and JPEG pictures are supported")),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = reader;
    reader.limits(limits);
    let picture = reader
        .decode()
        .map_err(|_| DccError::Image("the picture is damaged or too large"))?
        .into_luma8();
    let (width, height) = picture.dimensions();
    // u32 to usize is lossless on every supported target; dimensions are at most 8,192.
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            picture.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(DccError::QrCode("no QR code found"));
    }
    grids
        .iter()
        .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .ok_or(DccError::QrCode("the QR code is damaged or not text"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use image::{GrayImage, Luma};

    use super::*;

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
}
