//! Reading QR codes from pictures: the bytes of a PNG or JPEG (a screenshot, a scan of a paper
//! certificate, a camera frame) in, the text of the codes in it out.
//!
//! - [`read`] returns the text of every readable code found by the first search that finds
//!   one, or says why there is none.
//!
//! Every step is bounded on hostile input: a picture's size is checked before it is decoded
//! (so a crafted header cannot make the decoder allocate without limit), and the search
//! (quirc) keeps at most 32 finder patterns and 8 grids, so a picture tiled with finder
//! patterns is refused in milliseconds rather than searched for minutes.
//!
//! What this crate does not own: what the text means (an `HCN1:` code, a place code, an EU
//! DCC or a SMART Health Card is the verifier's business), and reading a camera stream.
//! Reading pictures is not on a hot path: gates read codes from scanners or from the camera's
//! own decoder.

mod error;
mod picture;
mod search;

pub use error::ScanError;
pub use picture::{MAX_DIMENSION, Picture};

/// Reads the QR codes in a PNG or JPEG picture: the text of each readable code found by the
/// first search that finds one, in the order quirc reports them (never empty).
pub fn read(bytes: &[u8]) -> Result<Vec<String>, ScanError> {
    search::codes(Picture::decode(bytes)?)
}
