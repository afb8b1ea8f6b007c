//! The crate's one error type, [`ShcError`]: why a card, a key set, a revocation list or a
//! `.smart-health-card` file was refused.
//!
//! Every variant has a stable machine-readable [`code`](ShcError::code) that the server and
//! the CLI may show and match on, and a message a person can act on. Messages never contain
//! personal or health data from the card being checked; they may name a key id, an issuer URL
//! or a size.

use thiserror::Error;

/// Why something was refused. Card variants are grouped by stage (QR text, JWS structure,
/// trust and signature, payload, revocation and time, content); [`crate::verify_jws`] gives
/// the exact order of the checks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShcError {
    // --- numeric QR text (SMART Health Cards, "Encoding QRs") ---
    /// Whitespace or a byte order mark before or after the QR text or the JWS. Scanners and
    /// copy-paste add these; the card itself never contains them.
    #[error("the text has characters before or after the card (whitespace or a byte order mark)")]
    TrailingCharacters,
    /// No QR text was given.
    #[error("no QR text was given")]
    NoChunks,
    /// The QR text does not start with `shc:/`.
    #[error("not a SMART Health Card QR: it does not start with \"shc:/\"")]
    BadPrefix,
    /// `shc:/INDEX/TOTAL/` is malformed: not positive decimal numbers, or too large.
    #[error("the QR chunk header is malformed: {0}")]
    BadChunkHeader(&'static str),
    /// The numeric part has a character other than `0`-`9`.
    #[error("the QR's numeric part has a character that is not a digit, at position {position}")]
    NonDigit { position: usize },
    /// The numeric part has an odd number of digits, so it is not whole digit pairs.
    #[error("the QR's numeric part has an odd number of digits ({count})")]
    OddDigitCount { count: usize },
    /// A digit pair above 77: no JWS character encodes to it (`z` is 122 - 45 = 77).
    #[error("the QR's numeric part has the digit pair {pair}, above the largest (77)")]
    DigitPairOutOfRange { pair: u8 },
    /// A QR text with no digits after its header.
    #[error("a QR chunk carries no data")]
    EmptyChunk,
    /// `shc:/INDEX/TOTAL/` with INDEX of 0 or above TOTAL.
    #[error("QR chunk index {index} is outside 1..={total}")]
    ChunkIndexOutOfRange { index: u32, total: u32 },
    /// The chunks do not agree on how many there are, mix the single and chunked forms, or are
    /// more than they say.
    #[error("the QR chunks do not agree on their number: {0}")]
    ChunkTotalMismatch(&'static str),
    /// Two chunks with the same index.
    #[error("QR chunk {index} was given twice")]
    DuplicateChunk { index: u32 },
    /// A chunk of the set was not given.
    #[error("QR chunk {index} of {total} is missing")]
    MissingChunk { index: u32, total: u32 },
    /// A chunk of a chunked set carries more than 1191 JWS characters.
    #[error("QR chunk {index} carries {len} characters, more than a chunk may (1191)")]
    ChunkTooBig { index: u32, len: usize },
    /// A chunk carries fewer characters than balanced chunking of a JWS that needs chunking
    /// gives: the set was split needlessly or unevenly.
    #[error("QR chunk {index} carries {len} characters, fewer than a chunk of {total} may ({min})")]
    ChunkTooSmall {
        index: u32,
        total: u32,
        len: usize,
        min: usize,
    },
    /// A chunked set whose JWS would have fit in one QR.
    #[error("a JWS of {len} characters fits in one QR but was split into {total} chunks")]
    UnneededChunking { len: usize, total: u32 },
    /// A single (unchunked) QR carrying more than 1195 JWS characters.
    #[error("the QR carries a JWS of {len} characters, more than one QR may (1195)")]
    JwsTooLong { len: usize },

    // --- JWS compact serialization (RFC 7515 section 7.1) ---
    /// Not three base64url parts separated by dots.
    #[error("not a compact JWS: {0}")]
    BadJws(&'static str),
    /// The header is not a JSON object of the expected members.
    #[error("the JWS header is malformed: {0}")]
    BadHeader(&'static str),
    /// The header's `alg` is missing or not `ES256`.
    #[error("the JWS header does not name ES256 as its algorithm")]
    HeaderAlg,
    /// The header's `zip` is missing or not `DEF`.
    #[error("the JWS header does not say the payload is DEFLATE-compressed (zip: DEF)")]
    HeaderZip,
    /// The header has no `kid`.
    #[error("the JWS header does not say which key signed it (no kid)")]
    MissingKid,
    /// The signature is not the 64-byte r||s form of RFC 7515 appendix A.3 (often DER).
    #[error(
        "the signature is {len} bytes; ES256 in a JWS is the 64-byte r||s form, not DER (RFC 7515 A.3)"
    )]
    SignatureFormat { len: usize },

    // --- trust ---
    /// The payload names an issuer the caller does not trust.
    #[error("the card's issuer {iss} is not trusted")]
    UnknownIssuer { iss: String },
    /// No trusted issuer publishes a key with the header's `kid`.
    #[error("no trusted issuer publishes the signing key {kid}")]
    UnknownKid { kid: String },
    /// The key that signed the card belongs to a trusted issuer other than the one the
    /// payload names.
    #[error("the card names issuer {iss}, which does not publish the signing key {kid}")]
    IssuerMismatch { iss: String, kid: String },
    /// The ES256 signature does not verify with the named key.
    #[error("the card's signature is not valid: it was altered or not signed by this key")]
    BadSignature,

    // --- payload ---
    /// The payload is not raw DEFLATE (RFC 1951) data.
    #[error("the card's payload does not inflate (raw DEFLATE expected)")]
    Inflate,
    /// The payload inflates to more than [`crate::MAX_PAYLOAD_BYTES`].
    #[error("the card's payload inflates to more than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The inflated payload is not JSON.
    #[error("the card's payload is not JSON")]
    BadPayloadJson,
    /// The payload is JSON but not the JWT claims a health card has (RFC 7519, SMART Health
    /// Cards "Health Cards are encoded as Compact Serialization JWS").
    #[error("the card's claims are malformed: {0}")]
    BadClaims(&'static str),
    /// `vc.type` lacks `https://smarthealth.cards#health-card`.
    #[error("the credential is not typed as a SMART Health Card")]
    NotAHealthCard,

    // --- revocation and time ---
    /// The signing key announces a revocation list (`crlVersion`) that the caller did not
    /// supply.
    #[error("the signing key {kid} has a revocation list, but none was supplied")]
    RevocationListMissing { kid: String },
    /// The supplied revocation list is older than the one the key announces.
    #[error("the revocation list for key {kid} is version {have}; the key announces {need}")]
    RevocationListStale { kid: String, have: u64, need: u64 },
    /// The card's `rid` is listed in the revocation list of its signing key.
    #[error("the card has been revoked by its issuer")]
    Revoked,
    /// `nbf` is later than the validation instant plus the allowed skew.
    #[error("the card is not valid yet (check this device's clock)")]
    NotYetValid,
    /// `exp` is at or before the validation instant.
    #[error("the card has expired")]
    Expired,
    /// `exp` is before `nbf`.
    #[error("the card expires before it becomes valid")]
    ExpiresBeforeValid,

    // --- FHIR content ---
    /// A Patient, Immunization or Observation lacks what FHIR R4 requires of it, or a member
    /// has the wrong JSON type.
    #[error("the card's FHIR bundle is malformed: {0}")]
    BadBundle(&'static str),
    /// More than one Patient: the card does not say whose it is.
    #[error("the card's FHIR bundle has more than one Patient")]
    MultiplePatients,

    // --- inputs other than cards ---
    /// A `.smart-health-card` file is not `{"verifiableCredential": [JWS, ...]}`.
    #[error("the .smart-health-card file is malformed: {0}")]
    BadFile(&'static str),
    /// A JWK set that is not JSON of the expected shape.
    #[error("the issuer's key set is malformed: {0}")]
    BadJwks(String),
    /// A revocation list that is not of the SMART Health Cards form.
    #[error("the revocation list is malformed: {0}")]
    BadCrl(String),
    /// An issuer URL that is not `https://` or ends with `/`.
    #[error("{0} is not an issuer URL: it must use https and must not end with '/'")]
    BadIssuerUrl(String),
}

impl ShcError {
    /// A stable machine-readable code, one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            ShcError::TrailingCharacters => "trailing_characters",
            ShcError::NoChunks => "no_chunks",
            ShcError::BadPrefix => "prefix",
            ShcError::BadChunkHeader(_) => "chunk_header",
            ShcError::NonDigit { .. } => "non_digit",
            ShcError::OddDigitCount { .. } => "odd_digit_count",
            ShcError::DigitPairOutOfRange { .. } => "digit_pair_out_of_range",
            ShcError::EmptyChunk => "empty_chunk",
            ShcError::ChunkIndexOutOfRange { .. } => "chunk_index_out_of_range",
            ShcError::ChunkTotalMismatch(_) => "chunk_total_mismatch",
            ShcError::DuplicateChunk { .. } => "duplicate_chunk",
            ShcError::MissingChunk { .. } => "missing_chunk",
            ShcError::ChunkTooBig { .. } => "chunk_too_big",
            ShcError::ChunkTooSmall { .. } => "chunk_too_small",
            ShcError::UnneededChunking { .. } => "unneeded_chunking",
            ShcError::JwsTooLong { .. } => "jws_too_long",
            ShcError::BadJws(_) => "jws",
            ShcError::BadHeader(_) => "header",
            ShcError::HeaderAlg => "algorithm",
            ShcError::HeaderZip => "header_zip",
            ShcError::MissingKid => "missing_kid",
            ShcError::SignatureFormat { .. } => "signature",
            ShcError::UnknownIssuer { .. } => "unknown_issuer",
            ShcError::UnknownKid { .. } => "unknown_key",
            ShcError::IssuerMismatch { .. } => "issuer_mismatch",
            ShcError::BadSignature => "signature",
            ShcError::Inflate => "compression",
            ShcError::PayloadTooLarge { .. } => "too_large",
            ShcError::BadPayloadJson => "payload",
            ShcError::BadClaims(_) => "claims",
            ShcError::NotAHealthCard => "not_a_health_card",
            ShcError::RevocationListMissing { .. } => "crl_missing",
            ShcError::RevocationListStale { .. } => "crl_stale",
            ShcError::Revoked => "revoked",
            ShcError::NotYetValid => "not_yet_valid",
            ShcError::Expired => "expired",
            ShcError::ExpiresBeforeValid => "expires_before_issued",
            ShcError::BadBundle(_) => "fhir_bundle",
            ShcError::MultiplePatients => "multiple_patients",
            ShcError::BadFile(_) => "file",
            ShcError::BadJwks(_) => "jwks",
            ShcError::BadCrl(_) => "crl",
            ShcError::BadIssuerUrl(_) => "issuer_url",
        }
    }
}
