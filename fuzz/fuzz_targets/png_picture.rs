//! Arbitrary image data behind a well-formed PNG header, to the QR picture reader: any panic,
//! overflow or hang is a bug. The first bytes choose the picture's size and colour type, and
//! the rest is its image data twice over: as the zlib stream itself (reaching the inflater's
//! error paths), and compressed (so that arbitrary filter types and rows reach the
//! unfiltering). Chunk CRCs are made right, so that nothing stops at the CRC check.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    out.extend_from_slice(&hasher.finalize().to_be_bytes());
}

fn picture(width: u32, height: u32, colour: u8, depth: u8, image: &[u8]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[depth, colour, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    // Split in two chunks, as encoders do with large pictures.
    let (first, second) = image.split_at(image.len() / 2);
    chunk(&mut out, b"IDAT", first);
    chunk(&mut out, b"IDAT", second);
    chunk(&mut out, b"IEND", &[]);
    out
}

fuzz_target!(|data: &[u8]| {
    let [w, h, kind, rest @ ..] = data else {
        return;
    };
    let width = u32::from(*w % 64) + 1;
    let height = u32::from(*h % 64) + 1;
    let colour = [0, 2, 4, 6, 3][usize::from(*kind % 5)];
    let depth = if kind & 0x80 == 0 { 8 } else { 16 };
    let _ = healthcode_qrscan::read(&picture(width, height, colour, depth, rest));
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    if zlib.write_all(rest).is_ok()
        && let Ok(compressed) = zlib.finish()
    {
        let _ = healthcode_qrscan::read(&picture(
            width, height, colour, depth, &compressed,
        ));
    }
});
