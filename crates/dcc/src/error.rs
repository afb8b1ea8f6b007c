//! The crate's one error type, [`DccError`]: why an `HC1:` text, a signer certificate or a QR
//! image was refused.
//!
//! Variants follow the order of the pipeline in [`crate::verify`]; each has a stable
//! machine-readable [`code`](DccError::code) that the server and the CLI may show and match on.
//! Messages never carry personal data from the certificate: a schema failure names the JSON
//! path and the rule, never the value.

use healthcode_credential::Base45Error;
use thiserror::Error;

/// Why a Digital COVID Certificate, a signer certificate or a QR image was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DccError {
    /// The text does not start with the context identifier `HC1:` (hcert spec, "QR 2D Barcode").
    #[error("not an EU Digital COVID Certificate: the text does not start with \"HC1:\"")]
    Prefix,
    /// The text after the prefix is not valid base45 (RFC 9285).
    #[error("the certificate's text is damaged: {0}")]
    Base45(#[from] Base45Error),
    /// The bytes are not a valid ZLIB stream (RFC 1950).
    #[error("the certificate's compressed data is damaged: {0}")]
    Compression(&'static str),
    /// Inflating would exceed [`crate::MAX_INFLATED_LEN`]: a certificate is never that large.
    #[error("the certificate's data inflates to more than {limit} bytes")]
    TooLarge {
        /// The cap that was hit, in bytes.
        limit: usize,
    },
    /// The bytes are not well-formed CBOR (RFC 8949).
    #[error("the certificate's bytes are not well-formed CBOR: {0}")]
    Cbor(String),
    /// Well-formed CBOR, but not a COSE_Sign1 (RFC 9052 §4.2).
    #[error("the certificate's signed envelope is malformed: {0}")]
    Cose(&'static str),
    /// The protected header names no algorithm or one this verifier does not accept.
    #[error("the certificate is signed with an unsupported algorithm ({0})")]
    Algorithm(String),
    /// Neither header carries a key identifier.
    #[error("the certificate does not say which key signed it")]
    MissingKid,
    /// The signed payload is not the CWT claims set of the hcert spec.
    #[error("the certificate's claims are malformed: {0}")]
    Claims(&'static str),
    /// The health certificate (claim -260/1) cannot be represented as JSON.
    #[error("the certificate's payload cannot be read as JSON: {0}")]
    Payload(&'static str),
    /// A signer certificate (DSC) that cannot be used: not X.509 DER, or an unsupported key.
    #[error("the signer certificate cannot be used: {0}")]
    SignerCertificate(&'static str),
    /// No trusted signer certificate has the certificate's key identifier.
    #[error("the certificate was signed by a key that is not trusted")]
    UnknownKey,
    /// The header's algorithm does not fit the signer's key (for example PS256 with an EC key).
    #[error("the certificate's algorithm does not match the signer's key")]
    KeyAlgorithmMismatch,
    /// The signature does not verify with any trusted key of that identifier.
    #[error("the certificate's signature is not valid: it was altered or not issued by this key")]
    Signature,
    /// The payload breaks the DCC JSON schema at this path.
    #[error("the certificate's contents break the DCC schema at {path} ({rule})")]
    Schema {
        /// JSON pointer into the payload, e.g. `/v/0/dn`.
        path: String,
        /// The schema keyword that failed, e.g. `pattern`.
        rule: String,
    },
    /// The schema text itself could not be compiled.
    #[error("the DCC schema cannot be compiled: {0}")]
    SchemaDefinition(String),
    /// The CWT has no expiry (claim 4) or no issue time (claim 6).
    #[error("the certificate does not say when it was issued or when it expires")]
    MissingTimes,
    /// The issue time is after the validation instant.
    #[error("the certificate was issued in the future (check this device's clock)")]
    NotYetValid,
    /// The expiry is at or before the validation instant.
    #[error("the certificate's signature has expired")]
    Expired,
    /// The signer certificate was not valid at the instant that matters.
    #[error("the signer certificate was not valid: {0}")]
    SignerValidity(&'static str),
    /// The payload holds none or several of vaccination, test and recovery.
    #[error("the certificate does not hold exactly one vaccination, test or recovery")]
    CertificateType,
    /// The signer's extended key usage does not allow this certificate type.
    #[error("the signer is not allowed to sign {0} certificates")]
    KeyUsage(&'static str),
}

impl DccError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DccError::Prefix => "prefix",
            DccError::Base45(_) => "base45",
            DccError::Compression(_) => "compression",
            DccError::TooLarge { .. } => "too_large",
            DccError::Cbor(_) => "cbor",
            DccError::Cose(_) => "cose",
            DccError::Algorithm(_) => "algorithm",
            DccError::MissingKid => "missing_kid",
            DccError::Claims(_) => "claims",
            DccError::Payload(_) => "payload",
            DccError::SignerCertificate(_) => "signer_certificate",
            DccError::UnknownKey => "unknown_key",
            DccError::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            DccError::Signature => "signature",
            DccError::Schema { .. } => "schema",
            DccError::SchemaDefinition(_) => "schema_definition",
            DccError::MissingTimes => "missing_times",
            DccError::NotYetValid => "not_yet_valid",
            DccError::Expired => "expired",
            DccError::SignerValidity(_) => "signer_validity",
            DccError::CertificateType => "certificate_type",
            DccError::KeyUsage(_) => "key_usage",
        }
    }
}

/// The COSE_Sign1 reader is shared with the native format; its faults keep the codes DCC
/// verification has always given them (`cbor` for bytes that are not CBOR or that follow
/// the structure, `cose` for the wrong shape).
impl From<healthcode_credential::cose::CoseError> for DccError {
    fn from(err: healthcode_credential::cose::CoseError) -> DccError {
        use healthcode_credential::cose::CoseError;
        match err {
            CoseError::Cbor(m) => DccError::Cbor(m.into()),
            CoseError::TrailingBytes => DccError::Cbor("bytes follow the data item".into()),
            CoseError::Tag => DccError::Cose("tagged as something other than COSE_Sign1"),
            CoseError::Structure(m) => DccError::Cose(m),
            // Only the native profile judges the algorithm and the kid.
            CoseError::Algorithm => DccError::Algorithm("not in the header".into()),
            CoseError::MissingKid => DccError::MissingKid,
        }
    }
}
