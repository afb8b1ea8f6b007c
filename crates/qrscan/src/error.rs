//! Why a picture yields no code.

use thiserror::Error;

/// Why no QR code could be read from a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ScanError {
    /// Neither PNG nor JPEG.
    #[error("only PNG and JPEG pictures are supported")]
    Format,
    /// The picture does not decode, or is larger than the limits.
    #[error("the picture is damaged or too large")]
    Damaged,
    /// Nothing like a QR code in the picture.
    #[error("no QR code found")]
    NoCode,
    /// Something like a QR code, but none decodes to text.
    #[error("the QR code is damaged or not text")]
    Unreadable,
}

impl ScanError {
    /// A stable code: `image` for the picture, `qr_code` for the code in it.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Format | ScanError::Damaged => "image",
            ScanError::NoCode | ScanError::Unreadable => "qr_code",
        }
    }
}
