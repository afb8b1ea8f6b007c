//! SMART Health Cards (`shc:/`): verifying a card from its QR text, its JWS or its
//! `.smart-health-card` file against issuers the caller trusts, at an instant the caller gives.
//!
//! A card is a compact JWS signed with ES256, whose payload is raw-DEFLATE-compressed JWT
//! claims carrying a FHIR R4 bundle; in a QR code the JWS is written in numeric mode behind
//! `shc:/`. The specification is at <https://spec.smarthealth.cards/>.
//!
//! - [`decode_numeric`] turns QR text (one code, or every chunk of a chunked set) into the JWS.
//! - [`verify_qr`], [`verify_jws`] and [`verify_file`] check a card and return a
//!   [`VerifiedCard`] with the issuer, the times and a [`CardSummary`] of the bundle.
//! - [`Trust`] holds the trusted issuers, each with its [`Jwks`] and [`RevocationList`]s.
//! - Every refusal is an [`ShcError`] with a stable [`code`](ShcError::code).
//!
//! What this crate does not own: fetching key sets or revocation lists (the caller supplies
//! them), reading QR images, X.509 chains in `x5c`, reading the clock (every check takes
//! `now`), or deciding what the card's contents allow.

mod claims;
mod crl;
mod error;
mod fhir;
mod file;
mod jwk;
mod jws;
mod numeric;
mod trust;
mod verify;

pub use claims::HEALTH_CARD_TYPE;
pub use crl::{MAX_RID_LEN, RevocationList};
pub use error::ShcError;
pub use fhir::{
    CardSummary, Coding, HumanName, Immunization, Observation, ObservationValue, Patient, Quantity,
};
pub use file::{health_card_file_jws, verify_file};
pub use jwk::{IssuerKey, Jwks, KeyRejection, RejectedKey};
pub use jws::MAX_PAYLOAD_BYTES;
pub use numeric::{MAX_CHUNK_JWS_LEN, MAX_SINGLE_JWS_LEN, PREFIX, decode_numeric};
pub use trust::Trust;
pub use verify::{CLOCK_SKEW, VerifiedCard, verify_jws, verify_qr};
