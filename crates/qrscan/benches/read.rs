//! Time to read the QR code of a phone-camera-sized picture with [`healthcode_qrscan::read`].
//! Reading pictures is not on a hot path, and no target is set; the figure shows what an
//! upload of a camera picture costs.
//!
//! `cargo bench -p healthcode-qrscan --bench read -- --warm-up-time 1 --measurement-time 3`
//!
//! The pictures are built at run time from the QR code of a 610-character `HC1:`-like text (the
//! length of the EU DCC test data's FI vaccination): the code is printed with a quiet zone
//! on a sheet of paper, scaled to about half the frame's height, turned by 5° and laid on a
//! shaded desk; the colour frame gets sensor-like noise and is written as JPEG (quality 85,
//! as a phone camera or an upload form re-encodes it) and as PNG. Frames of 1280×960 and
//! 1920×1080 are timed. In the same run, decoding each picture to RGB with the `image` crate
//! alone is timed as a reference for this machine's speed at the moment: reading the code
//! decodes the picture too, so the two are best compared as a ratio.
//!
//! With `HEALTHCODE_QR_BENCH_SAVE` set to a folder, the pictures are also written there to be
//! looked at.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use healthcode_qrscan::read;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{GrayImage, ImageFormat, Luma, Rgb, RgbImage};

/// An `HC1:`-like text of the length of the EU test data's FI vaccination (610 characters),
/// and its QR code at four pixels a module, black on white, without a quiet zone.
fn code() -> (String, GrayImage) {
    let text = format!(
        "HC1:{}",
        "6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N".repeat(14)
    )[..610]
        .to_owned();
    let qr = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let module = 4;
    let side = qr.width() as u32 * module;
    let picture = GrayImage::from_fn(side, side, |x, y| {
        let dark = qr[((x / module) as usize, (y / module) as usize)] == qrcode::Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    (text, picture)
}

/// A small deterministic generator, so that every run times the same pictures.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Roughly normal noise with a standard deviation of about `sigma` grey levels.
    fn noise(&mut self, sigma: f32) -> f32 {
        let r = self.next();
        // The sum of four uniform values is close enough to a normal distribution here.
        let sum: f32 = (0..4)
            .map(|i| ((r >> (16 * i)) & 0xffff) as f32 / 65_535.0)
            .sum();
        (sum - 2.0) * sigma * 1.73
    }
}

/// A camera-like colour frame of `width`×`height` holding `code` at `scale` of its height,
/// turned by a few degrees as a hand-held phone sees it.
fn camera_frame(code: &GrayImage, width: u32, height: u32, scale: f32) -> RgbImage {
    // The code as printed: four modules of quiet zone on a sheet of paper.
    let margin = code.width() / 14;
    let mut sheet = GrayImage::from_pixel(
        code.width() + 2 * margin,
        code.height() + 2 * margin,
        Luma([255]),
    );
    image::imageops::overlay(&mut sheet, code, i64::from(margin), i64::from(margin));
    let side = (height as f32 * scale) as u32;
    let sheet = image::imageops::resize(&sheet, side, side, FilterType::Triangle);
    let half = side as f32 / 2.0;
    let (centre_x, centre_y) = (width as f32 * 0.55, height as f32 * 0.5);
    let (sin, cos) = 5f32.to_radians().sin_cos();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    RgbImage::from_fn(width, height, |x, y| {
        let (dx, dy) = (x as f32 - centre_x, y as f32 - centre_y);
        let (u, v) = (cos * dx + sin * dy + half, -sin * dx + cos * dy + half);
        // Lit from the top left.
        let light = 1.0 - 0.25 * (x as f32 / width as f32 + y as f32 / height as f32) / 2.0;
        let colour = match bilinear(&sheet, u, v) {
            // Ink is never black and paper never white under a room's light.
            Some(paper) => [30.0, 32.0, 45.0].map(|ink| ink + paper * (228.0 - ink)),
            None => {
                // A wooden desk.
                let grain = 14.0 * (y as f32 / 9.0 + 3.0 * (x as f32 / 150.0).sin()).sin();
                [140.0 + grain, 100.0 + grain, 70.0 + grain]
            }
        };
        Rgb(colour.map(|c| (c * light + rng.noise(6.0)).clamp(0.0, 255.0) as u8))
    })
}

/// The sheet's brightness (0 to 1) at a point, or `None` off the sheet.
fn bilinear(sheet: &GrayImage, u: f32, v: f32) -> Option<f32> {
    let limit = (sheet.width() - 1) as f32;
    if !(0.0..limit).contains(&u) || !(0.0..limit).contains(&v) {
        return None;
    }
    let (x, y) = (u as u32, v as u32);
    let (fx, fy) = (u.fract(), v.fract());
    let at = |x, y| f32::from(sheet.get_pixel(x, y).0[0]) / 255.0;
    let top = at(x, y) * (1.0 - fx) + at(x + 1, y) * fx;
    let bottom = at(x, y + 1) * (1.0 - fx) + at(x + 1, y + 1) * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

fn jpeg(frame: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(frame)
        .unwrap();
    out
}

fn png(frame: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    frame.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn bench(c: &mut Criterion) {
    let (expected, code) = code();

    let mut group = c.benchmark_group("qrscan");
    group.sample_size(20);
    for (width, height) in [(1280, 960), (1920, 1080)] {
        let frame = camera_frame(&code, width, height, 0.55);
        for (format, bytes) in [("JPEG q85", jpeg(&frame, 85)), ("PNG", png(&frame))] {
            let name = format!("{width}x{height} {format}");
            match read(&bytes) {
                Ok(texts) if texts == [expected.as_str()] => {}
                other => {
                    eprintln!("{name}: the code is not read back ({other:?}); not measured");
                    continue;
                }
            }
            eprintln!("{name}: {} bytes", bytes.len());
            group.bench_function(format!("read {name}"), |b| {
                b.iter(|| read(black_box(&bytes)))
            });
            group.bench_function(
                format!("reference: image crate decoding to RGB {name}"),
                |b| b.iter(|| image::load_from_memory(black_box(&bytes))),
            );
            if let Some(dir) = std::env::var_os("HEALTHCODE_QR_BENCH_SAVE") {
                let file = format!(
                    "{width}x{height}.{}",
                    if format == "PNG" { "png" } else { "jpg" }
                );
                std::fs::write(PathBuf::from(dir).join(file), &bytes).unwrap();
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
