//! The text form of a code, `HCN1:` followed by base45 of the COSE_Sign1 bytes, and issuing.
//!
//! This module ties the pieces together for the issuer: claims to CBOR ([`crate::claims`]),
//! CBOR to COSE_Sign1 ([`crate::cose`]), bytes to text ([`crate::base45`]). Verification is in
//! [`crate::verify`].

use crate::claims::CodeClaims;
use crate::error::IssueError;
use crate::keys::SigningKey;
use crate::{base45, cose};

/// The prefix of every code: format name and version. Upper case and `:` so that the whole
/// code stays in the QR alphanumeric set.
pub const PREFIX: &str = "HCN1:";

/// Encodes and signs `claims`; returns the `HCN1:…` text to put in a QR code.
///
/// Fails only for claims that no verifier would accept whatever the time: an empty region,
/// reminders out of order or repeated, times before 1970 or with fractions of a second,
/// `expires_at` not after `issued_at`, a lifetime over 24 hours, or `expires_at` after
/// `status_valid_until`.
pub fn issue_code(claims: &CodeClaims, key: &SigningKey) -> Result<String, IssueError> {
    Ok(signed_text(PREFIX, &claims.to_cbor()?, key))
}

/// `payload` signed with `key` as a COSE_Sign1, in base45 behind `prefix`: the text form
/// shared by codes, place codes and paper passes.
pub(crate) fn signed_text(prefix: &str, payload: &[u8], key: &SigningKey) -> String {
    let cose = cose::sign(payload, key);
    let mut text = String::with_capacity(prefix.len() + cose.len().div_ceil(2) * 3);
    text.push_str(prefix);
    text.push_str(&base45::encode(&cose));
    text
}
