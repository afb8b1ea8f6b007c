//! A picture for Chromium's fake camera: a Y4M (YUV4MPEG2) file of one frame.
//!
//! Chromium's file capture device (`use-file-for-fake-video-capture`) plays the file's frames
//! in a loop, at the file's size; it reads 4:2:0 frames only, so the grey picture becomes the
//! luma plane and both chroma planes are neutral.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use image::GrayImage;

/// Writes `picture` as a one-frame Y4M file (C420, 30 frames a second) at `path`. Its width
/// and height must be even (4:2:0 halves both for the chroma planes).
///
/// Grey levels are mapped onto the video range Chromium decodes frames with (BT.601 luma
/// 16–235), so the page sees about the grey that was given: 0 as black, 255 as white.
pub fn write_y4m(path: &Path, picture: &GrayImage) -> Result<()> {
    let (width, height) = picture.dimensions();
    ensure!(
        width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0,
        "a Y4M picture needs an even width and height, not {width} × {height}"
    );
    let luma = picture.as_raw();
    let chroma = luma.len() / 2; // two planes of (width / 2) × (height / 2)
    let mut y4m = Vec::with_capacity(64 + luma.len() + chroma);
    writeln!(y4m, "YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg")?;
    writeln!(y4m, "FRAME")?;
    y4m.extend(luma.iter().map(|&grey| video_range(grey)));
    y4m.resize(y4m.len() + chroma, 128);
    std::fs::write(path, y4m).with_context(|| format!("writing {}", path.display()))
}

/// Full-range grey (0–255) to BT.601 video-range luma (16–235).
fn video_range(grey: u8) -> u8 {
    let scaled = (u32::from(grey) * 219 + 127) / 255;
    // At most 16 + 219 = 235.
    u8::try_from(16 + scaled).unwrap_or(235)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_with_neutral_chroma() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("two.y4m");
        let picture = GrayImage::from_fn(4, 2, |x, _| image::Luma([if x < 2 { 0 } else { 255 }]));
        write_y4m(&file, &picture).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let header = b"YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg\nFRAME\n";
        assert_eq!(&bytes[..header.len()], header);
        assert_eq!(
            &bytes[header.len()..],
            &[16, 16, 235, 235, 16, 16, 235, 235, 128, 128, 128, 128]
        );
    }

    #[test]
    fn odd_sizes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let odd = GrayImage::new(3, 2);
        assert!(write_y4m(&dir.path().join("odd.y4m"), &odd).is_err());
    }
}
