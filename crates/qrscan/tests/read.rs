//! Reading codes from pictures as they arrive: colour JPEGs and PNGs of every colour type and
//! depth, codes large and small in pictures larger than a Full HD frame, several codes in one
//! picture, and the pictures that must be refused quickly: not a picture, a truncated one, a
//! blank one, one tiled with finder patterns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use healthcode_qrscan::{ScanError, read};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage};

/// An `HC1:`-like text of the length real certificates have.
fn text() -> String {
    format!(
        "HC1:{}",
        "6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N".repeat(12)
    )
}

/// Whether the pixel (x, y) is dark in the code of `text` printed at `module` pixels a module
/// with a quiet zone of four modules, its corner at (left, top); `None` outside the sheet.
fn sheet(code: &qrcode::QrCode, module: u32, left: u32, top: u32, x: u32, y: u32) -> Option<bool> {
    let modules = code.width() as u32;
    let side = (modules + 8) * module;
    if !(left..left + side).contains(&x) || !(top..top + side).contains(&y) {
        return None;
    }
    let (mx, my) = ((x - left) / module, (y - top) / module);
    let inside = (4..modules + 4).contains(&mx) && (4..modules + 4).contains(&my);
    Some(inside && code[((mx - 4) as usize, (my - 4) as usize)] == qrcode::Color::Dark)
}

/// A colour frame of `width`×`height` with the QR code of `text` at `module` pixels a module,
/// centred on white paper, on a darker, noisy background.
fn frame(text: &str, module: u32, width: u32, height: u32) -> RgbImage {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let side = (code.width() as u32 + 8) * module;
    let (left, top) = ((width - side) / 2, (height - side) / 2);
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    RgbImage::from_fn(width, height, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        let grain = (noise % 13) as u8;
        match sheet(&code, module, left, top, x, y) {
            None => Rgb([120 + grain, 90 + grain, 60 + grain]),
            Some(true) => Rgb([30 + grain, 30 + grain, 40 + grain]),
            Some(false) => Rgb([220 + grain, 220 + grain, 215 + grain]),
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

fn png(picture: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn refuses_non_images_and_other_formats() {
    assert_eq!(read(b"not a picture"), Err(ScanError::Format));
    assert_eq!(read(b"GIF89a...."), Err(ScanError::Format));
    assert_eq!(read(&[]), Err(ScanError::Format));
    assert_eq!(ScanError::Format.code(), "image");
}

#[test]
fn refuses_a_truncated_png() {
    let bytes = png(&GrayImage::from_pixel(64, 64, Luma([255])).into());
    assert_eq!(read(&bytes[..bytes.len() / 2]), Err(ScanError::Damaged));
}

#[test]
fn refuses_a_picture_larger_than_the_limit_before_decoding_it() {
    // A PNG header claiming 100,000 × 8 pixels: refused from the header alone.
    let mut bytes = png(&GrayImage::from_pixel(8, 8, Luma([255])).into());
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    assert_eq!(read(&bytes), Err(ScanError::Damaged));
}

#[test]
fn a_blank_picture_has_no_code() {
    let bytes = png(&GrayImage::from_pixel(64, 64, Luma([255])).into());
    assert_eq!(read(&bytes), Err(ScanError::NoCode));
    assert_eq!(ScanError::NoCode.code(), "qr_code");
}

#[test]
fn reads_a_colour_jpeg_and_png() {
    let text = text();
    let picture = frame(&text, 6, 1280, 960);
    assert_eq!(read(&jpeg(&picture)).unwrap(), vec![text.clone()]);
    assert_eq!(read(&png(&picture.into())).unwrap(), vec![text]);
}

#[test]
fn reads_a_png_of_every_colour_type_and_depth() {
    let text = text();
    let picture = DynamicImage::ImageRgb8(frame(&text, 4, 640, 480));
    let variants: [DynamicImage; 7] = [
        picture.to_luma8().into(),
        picture.to_luma_alpha8().into(),
        picture.clone(),
        picture.to_rgba8().into(),
        picture.to_luma16().into(),
        picture.to_rgb16().into(),
        picture.to_rgba16().into(),
    ];
    for v in variants {
        assert_eq!(
            read(&png(&v)).unwrap(),
            vec![text.clone()],
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
    assert_eq!(read(&jpeg(&large)).unwrap(), vec![text.clone()]);
    // Too small to survive the reduction: found in the full picture.
    let small = frame(&text, 3, 2600, 1800);
    assert_eq!(read(&jpeg(&small)).unwrap(), vec![text]);
}

#[test]
fn reads_every_code_of_a_picture_with_two() {
    let (first, second) = ("HCP1:PLACE-ONE".to_owned(), "HCP1:PLACE-TWO".to_owned());
    let codes = [
        qrcode::QrCode::new(first.as_bytes()).unwrap(),
        qrcode::QrCode::new(second.as_bytes()).unwrap(),
    ];
    let picture = GrayImage::from_fn(800, 400, |x, y| {
        let dark = sheet(&codes[0], 6, 40, 40, x, y)
            .or_else(|| sheet(&codes[1], 6, 440, 40, x, y))
            .unwrap_or(false);
        Luma([if dark { 20 } else { 235 }])
    });
    let mut found = read(&png(&picture.into())).unwrap();
    found.sort();
    assert_eq!(found, vec![first, second]);
}

#[test]
fn a_picture_tiled_with_finder_patterns_is_refused_without_a_long_search() {
    // Finder patterns of 4-pixel modules a module apart, all over a quarter-HD picture: a
    // search that tries every three of them on a copy of the picture (as rqrr's does) takes
    // minutes on such a picture; quirc stops at 32 patterns and 8 grids.
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
    let started = Instant::now();
    assert_eq!(read(&png(&tiles.into())), Err(ScanError::NoCode));
    // Generous for an unoptimised build on a busy machine; the old search took minutes.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn reads_a_code_cropped_with_no_quiet_zone() {
    // As some issuers' pictures are (the EU DCC test data's CY/2DCode/raw/5.json to 8.json):
    // the code's modules reach the picture's edges.
    let text = text();
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let module = 4;
    let side = code.width() as u32 * module;
    let picture = GrayImage::from_fn(side, side, |x, y| {
        let dark = code[((x / module) as usize, (y / module) as usize)] == qrcode::Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    assert_eq!(read(&png(&picture.into())).unwrap(), vec![text]);
}
