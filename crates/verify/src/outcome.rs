//! The one result shape of every verification, whatever the format.
//!
//! The common fields are always present: `valid`, `format` (null when the text is no known
//! format), and on refusal `error` (in words) and `error_code` (stable, snake_case, from the
//! format's own error). A valid result adds who issued it and what it says, masked as a gate
//! shows it: the name as surname and `*`, the year of birth only, no document number beyond
//! the native code's own masked form. Format-specific fields sit beside the common ones.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Format;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub refusal: Option<Refusal>,
    /// Who signed it: a region code, a country code, or a SMART Health Card issuer URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<String>,
    /// What the certificate says, in one line of English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Format-specific fields, written beside the common ones.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// In words, for the person at the gate.
    pub error: String,
    /// Stable, for programs.
    pub error_code: String,
}

impl Verification {
    /// A refusal of a text in `format` (`None`: not a known format).
    pub fn refused(format: Option<Format>, code: &str, message: impl Into<String>) -> Self {
        Verification {
            valid: false,
            format,
            refusal: Some(Refusal {
                error: message.into(),
                error_code: code.to_owned(),
            }),
            issuer: None,
            masked_name: None,
            birth_year: None,
            summary: None,
            issued_at: None,
            expires_at: None,
            details: Map::new(),
        }
    }

    /// The error code of a refusal.
    pub fn error_code(&self) -> Option<&str> {
        self.refusal.as_ref().map(|r| r.error_code.as_str())
    }
}
