//! The crate's errors: why a code, place code or paper pass was refused ([`VerifyError`]), why a trust list
//! was refused ([`TrustListError`]) and why something could not be issued or signed
//! ([`IssueError`]).
//!
//! Every variant has a stable machine-readable [`code`](VerifyError::code) that the server and
//! the CLI may show and match on, and a message a person can act on. The messages never contain
//! personal data from the code being checked.

use thiserror::Error;

use crate::base45::Base45Error;

/// Why a code or a place code failed verification. Variants are listed in the order the checks
/// run (see docs/FORMAT.md, "Verification"); a place code goes through the same steps with
/// [`PlaceClaims`](VerifyError::PlaceClaims) for `Claims` and without the expiry checks, and
/// a paper pass with [`PassClaims`](VerifyError::PassClaims).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The text does not start with the prefix of what was asked for: `HCN1:` for a code,
    /// `HCP1:` for a place code, `HCZ1:` for a paper pass.
    #[error(
        "not a healthcode code of the expected kind: health codes start with \"HCN1:\", place codes with \"HCP1:\", paper passes with \"HCZ1:\""
    )]
    Prefix,
    /// The text after the prefix is not valid base45 (RFC 9285).
    #[error("the code's text is damaged: {0}")]
    Base45(#[from] Base45Error),
    /// The decoded bytes are not well-formed CBOR in the strict profile the format uses.
    #[error("the code's bytes are damaged: {0}")]
    Cbor(&'static str),
    /// The decoded bytes are not tagged as a COSE_Sign1 (CBOR tag 18).
    #[error("the code is not a COSE_Sign1 (CBOR tag 18)")]
    Tag,
    /// Well-formed CBOR, but not the COSE_Sign1 structure the format defines.
    #[error("the code's signed envelope is malformed: {0}")]
    Cose(&'static str),
    /// Bytes follow the COSE_Sign1 structure.
    #[error("the code has bytes after its signed envelope")]
    TrailingBytes,
    /// The protected header does not name EdDSA (-8) as its algorithm.
    #[error("the code is signed with an algorithm other than EdDSA")]
    Algorithm,
    /// The protected header has no key identifier.
    #[error("the code does not say which key signed it")]
    MissingKid,
    /// No trust list in use has a key with this identifier.
    #[error("the code was signed by a key that no trust list in use contains")]
    UnknownKey,
    /// The key is in a trust list but was not valid for signing this code.
    #[error("the signing key was not valid for this code: {0}")]
    KeyNotValid(&'static str),
    /// The Ed25519 signature does not verify.
    #[error("the code's signature is not valid: it was altered or not issued by this key")]
    Signature,
    /// The signed payload is not the claims set the format defines.
    #[error("the code's contents are malformed: {0}")]
    Claims(&'static str),
    /// The signed payload of a place code is not the place map the format defines (which
    /// includes a code's claims put behind the place prefix).
    #[error("the place code's contents are malformed: {0}")]
    PlaceClaims(&'static str),
    /// The signed payload of a paper pass is not the pass map the format defines (which
    /// includes a code's claims or a place payload put behind the pass prefix).
    #[error("the paper pass's contents are malformed: {0}")]
    PassClaims(&'static str),
    /// The code names a region other than the one whose trust list holds the key.
    #[error("the code claims region {claimed} but its key belongs to region {trusted}")]
    Region { claimed: String, trusted: String },
    /// Issued more than the allowed clock skew in the future.
    #[error("the code was issued in the future (check this device's clock)")]
    NotYetValid,
    /// The code's expiry is at or before now.
    #[error("the code has expired; ask the holder to refresh it")]
    Expired,
    /// The expiry is before the issue time.
    #[error("the code expires before it was issued")]
    ExpiresBeforeIssued,
    /// The code claims to be valid for longer than a code may be.
    #[error("the code claims a lifetime longer than 24 hours")]
    Lifetime,
    /// The code outlives the status it carries.
    #[error("the code is valid for longer than the status it shows")]
    OutlivesStatus,
}

impl VerifyError {
    /// A stable machine-readable code, listed in docs/FORMAT.md.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Prefix => "prefix",
            VerifyError::Base45(_) => "base45",
            VerifyError::Cbor(_) => "cbor",
            VerifyError::Tag => "tag",
            VerifyError::Cose(_) => "cose",
            VerifyError::TrailingBytes => "trailing_bytes",
            VerifyError::Algorithm => "algorithm",
            VerifyError::MissingKid => "missing_kid",
            VerifyError::UnknownKey => "unknown_key",
            VerifyError::KeyNotValid(_) => "key_not_valid",
            VerifyError::Signature => "signature",
            VerifyError::Claims(_) => "claims",
            VerifyError::PlaceClaims(_) => "place_claims",
            VerifyError::PassClaims(_) => "pass_claims",
            VerifyError::Region { .. } => "region",
            VerifyError::NotYetValid => "not_yet_valid",
            VerifyError::Expired => "expired",
            VerifyError::ExpiresBeforeIssued => "expires_before_issued",
            VerifyError::Lifetime => "lifetime",
            VerifyError::OutlivesStatus => "outlives_status",
        }
    }
}

/// Why a trust list file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrustListError {
    /// The file is not the JSON object the format defines.
    #[error("the trust list file is not valid JSON of the expected shape: {0}")]
    Json(String),
    /// The JSON names another format or an unsupported version.
    #[error("the file is not a version 1 healthcode trust list")]
    Format,
    /// The `cose` member is not standard base64.
    #[error("the trust list's signed part is not valid base64")]
    Base64,
    /// The signed part is not well-formed CBOR in the strict profile the format uses.
    #[error("the trust list's signed part is damaged: {0}")]
    Cbor(&'static str),
    /// Not the COSE_Sign1 structure the format defines (including a missing tag 18 and bytes
    /// after the structure).
    #[error("the trust list's signed envelope is malformed: {0}")]
    Cose(&'static str),
    /// The protected header does not name EdDSA (-8) as its algorithm.
    #[error("the trust list is signed with an algorithm other than EdDSA")]
    Algorithm,
    /// The protected header's key identifier is missing or is not that of the embedded root.
    #[error("the trust list's key identifier is not that of its root key")]
    KeyId,
    /// The Ed25519 signature by the embedded root key does not verify.
    #[error("the trust list's signature is not valid: it was altered or not signed by its root")]
    Signature,
    /// The signed payload is not a valid trust list.
    #[error("the trust list's contents are invalid: {0}")]
    Payload(&'static str),
    /// The informative `region` in the JSON differs from the signed region.
    #[error("the file says region {file} but the signed list is for region {signed}")]
    Region { file: String, signed: String },
    /// The embedded root key is not the pinned one.
    #[error("the trust list is signed by a root key other than the pinned one")]
    RootMismatch,
}

impl TrustListError {
    /// A stable machine-readable code, listed in docs/FORMAT.md.
    pub fn code(&self) -> &'static str {
        match self {
            TrustListError::Json(_) => "json",
            TrustListError::Format => "format",
            TrustListError::Base64 => "base64",
            TrustListError::Cbor(_) => "cbor",
            TrustListError::Cose(_) => "cose",
            TrustListError::Algorithm => "algorithm",
            TrustListError::KeyId => "kid",
            TrustListError::Signature => "signature",
            TrustListError::Payload(_) => "payload",
            TrustListError::Region { .. } => "region",
            TrustListError::RootMismatch => "root_mismatch",
        }
    }
}

/// Why a code could not be issued or a trust list signed. Each is a bug in the caller's data,
/// caught here so that nothing is signed that a verifier would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IssueError {
    /// A time that the format cannot carry: before 1970 or with a fraction of a second.
    #[error("{0} must be a whole second at or after 1970-01-01T00:00:00Z")]
    Time(&'static str),
    /// The claims break a rule of the format.
    #[error("the claims cannot be issued: {0}")]
    Claims(&'static str),
    /// The trust list breaks a rule of the format.
    #[error("the trust list cannot be signed: {0}")]
    TrustList(&'static str),
    /// The signing key is not the list's root key.
    #[error("the trust list must be signed by its own root key")]
    RootKeyMismatch,
}

impl IssueError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IssueError::Time(_) => "time",
            IssueError::Claims(_) => "claims",
            IssueError::TrustList(_) => "trust_list",
            IssueError::RootKeyMismatch => "root_key_mismatch",
        }
    }
}
