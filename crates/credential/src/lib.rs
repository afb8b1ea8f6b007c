//! healthcode's native signed code format and region trust lists.
//!
//! A code is a CWT claims set (RFC 8392) signed as a COSE_Sign1 (RFC 9052) with Ed25519
//! (RFC 8032), encoded with base45 (RFC 9285) behind the prefix `HCN1:`. A trust list says
//! which keys may sign codes for a region, signed by the region's root key. docs/FORMAT.md
//! specifies both down to the bytes.
//!
//! - [`issue_code`] turns [`CodeClaims`] into the `HCN1:` text with a [`SigningKey`].
//! - [`TrustList::sign`] and [`TrustList::from_json`] write and read trust list files.
//! - [`Verifier::verify`] checks a code against trust lists at a given instant.
//! - [`issue_place_code`] and [`Verifier::verify_place`] do the same for place codes (场所码,
//!   `HCP1:`), the signed QR a venue prints for residents to check in; see [`PlaceClaims`].
//! - [`issue_pass`] and [`Verifier::verify_pass`] do the same for paper passes (`HCZ1:`), the
//!   QR printed for someone with no phone, which names a pass and not a status; see
//!   [`PassClaims`].
//!
//! What this crate does not own: HTTP, storage, reading the clock (every check takes `now`),
//! or where randomness comes from (key generation takes an RNG). The status itself is
//! computed by `healthcode-domain`.

pub mod base45;
pub mod cbor;
mod claims;
mod code;
pub mod cose;
mod error;
mod keys;
mod pass;
mod place;
mod trust_list;
mod verify;

pub use base45::Base45Error;
pub use claims::{CodeClaims, MAX_LIFETIME};
pub use code::{PREFIX, issue_code};
pub use error::{IssueError, TrustListError, VerifyError};
pub use keys::{KID_LEN, SigningKey, kid_of};
pub use pass::{PASS_PREFIX, PassClaims, issue_pass};
pub use place::{PLACE_PREFIX, PlaceClaims, issue_place_code};
pub use trust_list::{KeyUsage, TRUST_LIST_FORMAT, TRUST_LIST_VERSION, TrustList, TrustedKey};
pub use verify::{CLOCK_SKEW, Verifier};

/// The `rand_core` version [`SigningKey::generate`] takes an RNG from (0.6, as `rand` 0.8).
pub use rand_core;
