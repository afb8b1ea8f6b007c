//! One verifier for every code a gate may be shown: healthcode's own (`HCN1:`, any region
//! whose trust list was imported), EU Digital COVID Certificates (`HC1:`) and SMART Health
//! Cards (`shc:/`). The venue scanner, `POST /api/v1/verify` and `healthcode verify` all go
//! through [`Trust::verify`], and all get the same [`Verification`].
//!
//! - [`detect`] recognises the format from the text alone.
//! - [`Trust`] holds the trust material of every format and the region's acceptance rules
//!   for foreign certificates, written in CertLogic.
//! - [`Verification`] says valid or not, why, and what the certificate says, in the masked
//!   form a gate shows: never a full name, document number or date of birth.
//! - [`regions::accept_update`] decides whether another region's trust list may replace the
//!   one already imported (root pinned, sequence never going back); [`regions::succeeds`] is
//!   that rule alone, which a gate also applies to its own region's cached list.
//!
//! What this crate does not own: the formats themselves (`healthcode-credential`,
//! `healthcode-dcc`, `healthcode-shc`, `healthcode-certlogic`), reading files, fetching trust
//! material, reading QR images, or the clock (every check takes `now`).

mod outcome;
pub mod regions;
mod trust;

pub use outcome::{Refusal, Verification};
pub use trust::{AcceptanceRules, Trust};

use serde::Serialize;

/// The formats a gate recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    /// healthcode's own signed code, `HCN1:`.
    #[serde(rename = "native")]
    Native,
    /// An EU Digital COVID Certificate, `HC1:`.
    #[serde(rename = "eu-dcc")]
    EuDcc,
    /// A SMART Health Card: `shc:/` QR text (one or more chunks), or a `.smart-health-card`
    /// file.
    #[serde(rename = "shc")]
    SmartHealthCard,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::EuDcc => "eu-dcc",
            Format::SmartHealthCard => "shc",
        }
    }
}

/// The format of `text`, from its prefix (a `.smart-health-card` file from its JSON member),
/// or `None`. Leading and trailing white space is ignored; prefixes are matched exactly as
/// the formats define them.
pub fn detect(text: &str) -> Option<Format> {
    let t = text.trim();
    if t.starts_with(healthcode_credential::PREFIX) {
        Some(Format::Native)
    } else if t.starts_with(healthcode_dcc::PREFIX) {
        Some(Format::EuDcc)
    } else if t.starts_with(healthcode_shc::PREFIX)
        || (t.starts_with('{') && t.contains("\"verifiableCredential\""))
    {
        Some(Format::SmartHealthCard)
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_prefix() {
        assert_eq!(detect("HCN1:ABC"), Some(Format::Native));
        assert_eq!(detect("  HC1:6BF"), Some(Format::EuDcc));
        assert_eq!(detect("hc1:6bf"), None);
        assert_eq!(detect("shc:/5676"), Some(Format::SmartHealthCard));
        assert_eq!(
            detect(r#"{"verifiableCredential": ["a.b.c"]}"#),
            Some(Format::SmartHealthCard)
        );
        assert_eq!(detect("HC2:xyz"), None);
        assert_eq!(detect(""), None);
        assert_eq!(detect("SHC:/56"), None, "numeric QR text is lower case");
        assert_eq!(detect("HC"), None);
        assert_eq!(detect("é"), None);
    }
}
