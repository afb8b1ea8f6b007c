//! The verification pipeline: from `HC1:` text to a [`VerifiedDcc`], one step per function.
//!
//! [`verify`] runs, in order: [`unprefix`](crate::unprefix), [`base45_decode`](crate::base45_decode),
//! [`inflate`](crate::inflate), [`CoseSign1::from_bytes`], the signature
//! ([`DscTrust::verify_signature`]), the claims ([`Claims::from_payload`]), the schema
//! ([`Schema::validate`]), the times ([`check_times`], [`check_signer_validity`]) and the key
//! usage ([`check_key_usage`]). The signature is checked before the payload is read, as the
//! hcert spec asks ("Input Data Validation"). [`decode`] runs the same steps without the
//! signature and without judging anything, for display and diagnostics.
//!
//! Nothing here reads the clock: the validation instant is a parameter.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::cwt::Claims;
use crate::dsc::{DscTrust, KID_LEN, SignerCertificate};
use crate::error::DccError;
use crate::model::{CertificateEntry, CertificateKind, HealthCertificate, HolderName};
use crate::schema::Schema;
use crate::transport::{base45_decode, inflate, unprefix};
use healthcode_credential::cose::CoseSign1;

/// A DCC read without checking its signature or anything else.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The signed envelope, with its headers.
    pub cose: CoseSign1,
    /// The claims and the payload as JSON.
    pub claims: Claims,
}

/// Decodes an `HC1:` text: prefix, base45, ZLIB, COSE_Sign1 and CWT claims. Trust nothing in
/// the result: the signature has not been checked.
pub fn decode(hc1: &str) -> Result<Decoded, DccError> {
    let cose = decode_cose(hc1)?;
    let claims = Claims::from_payload(cose.payload())?;
    Ok(Decoded { cose, claims })
}

/// The transport layers and the envelope, shared by [`decode`] and [`verify`].
fn decode_cose(hc1: &str) -> Result<CoseSign1, DccError> {
    let base45 = unprefix(hc1)?;
    let compressed = base45_decode(base45)?;
    let bytes = inflate(&compressed)?;
    Ok(CoseSign1::from_bytes(&bytes)?)
}

/// A DCC whose every check passed at the given instant.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDcc {
    /// `iss`: the issuing country, when the issuer says.
    pub issuer_country: Option<String>,
    /// `iat`: when the DCC was signed.
    pub issued_at: DateTime<Utc>,
    /// `exp`: when the signature stops being valid.
    pub expires_at: DateTime<Utc>,
    /// The key identifier of the signer certificate that verified it.
    pub kid: [u8; KID_LEN],
    /// `ver`: the schema version the issuer wrote.
    pub schema_version: String,
    /// The holder's name, as written and standardised.
    pub name: HolderName,
    /// The holder's date of birth as written (`YYYY`, `YYYY-MM`, `YYYY-MM-DD` or empty).
    pub date_of_birth: String,
    /// The vaccination, test or recovery.
    pub entry: CertificateEntry,
    /// The whole payload as JSON, for the business rules (CertLogic).
    pub payload: Json,
}

impl VerifiedDcc {
    /// Which kind of certificate this is.
    pub fn kind(&self) -> CertificateKind {
        self.entry.kind()
    }
}

/// Verifies an `HC1:` text at `now` against trusted signer certificates and the schema.
pub fn verify(
    hc1: &str,
    trust: &DscTrust,
    schema: &Schema,
    now: DateTime<Utc>,
) -> Result<VerifiedDcc, DccError> {
    let cose = decode_cose(hc1)?;
    let signer = trust.verify_signature(&cose)?;
    let claims = Claims::from_payload(cose.payload())?;
    schema.validate(&claims.dcc)?;
    let (issued_at, expires_at) = check_times(&claims, now)?;
    check_signer_validity(signer, now)?;
    let certificate = HealthCertificate::from_json(&claims.dcc)?;
    check_key_usage(signer, certificate.entry.kind())?;
    Ok(VerifiedDcc {
        issuer_country: claims.issuer,
        issued_at,
        expires_at,
        kid: signer.kid(),
        schema_version: certificate.version,
        name: certificate.name,
        date_of_birth: certificate.date_of_birth,
        entry: certificate.entry,
        payload: claims.dcc,
    })
}

/// Checks `iat` and `exp` against `now`. Both claims are required. The DCC must have been
/// issued at or before `now` ("Issued At"), and `exp` is the last instant it is valid: the
/// hcert spec ("Expiration Time") has verifiers reject a DCC *after* `exp`, which the EU test
/// data exercises with clocks set exactly to `exp`. Returns both as instants.
pub fn check_times(
    claims: &Claims,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DccError> {
    let (Some(iat), Some(exp)) = (claims.issued_at, claims.expires_at) else {
        return Err(DccError::MissingTimes);
    };
    let issued_at =
        DateTime::from_timestamp(iat, 0).ok_or(DccError::Claims("iat is out of range"))?;
    let expires_at =
        DateTime::from_timestamp(exp, 0).ok_or(DccError::Claims("exp is out of range"))?;
    if issued_at > now {
        return Err(DccError::NotYetValid);
    }
    if now > expires_at {
        return Err(DccError::Expired);
    }
    Ok((issued_at, expires_at))
}

/// Checks that the signer certificate is within its validity period at `now` (X.509
/// `notBefore`/`notAfter`, RFC 5280 §4.1.2.5): a verifier accepts only DSCs that are valid
/// when it verifies. Whether the DSC was valid when it signed is the issuer's obligation
/// (hcert spec, "Issued At"); the EU test data includes a DCC issued before its DSC's
/// `notBefore` that verifiers must accept, so it is not enforced here.
pub fn check_signer_validity(
    signer: &SignerCertificate,
    now: DateTime<Utc>,
) -> Result<(), DccError> {
    if now.timestamp() < signer.not_before() {
        Err(DccError::SignerValidity(
            "the signer certificate is not yet valid",
        ))
    } else if now.timestamp() > signer.not_after() {
        Err(DccError::SignerValidity(
            "the signer certificate has expired",
        ))
    } else {
        Ok(())
    }
}

/// Checks that the signer may sign this kind of certificate (hcert spec, "Key Usage Policy
/// Identifiers").
pub fn check_key_usage(signer: &SignerCertificate, kind: CertificateKind) -> Result<(), DccError> {
    if signer.key_usage().allows(kind) {
        Ok(())
    } else {
        Err(DccError::KeyUsage(kind.name()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(iat: Option<i64>, exp: Option<i64>) -> Claims {
        Claims {
            issuer: Some("DE".into()),
            issued_at: iat,
            expires_at: exp,
            dcc: json!({}),
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn times_are_inclusive_at_both_ends() {
        let c = claims(Some(1_000), Some(2_000));
        assert_eq!(check_times(&c, at(1_000)), Ok((at(1_000), at(2_000))));
        assert!(check_times(&c, at(1_500)).is_ok());
        assert!(check_times(&c, at(2_000)).is_ok());
        assert_eq!(check_times(&c, at(999)), Err(DccError::NotYetValid));
        assert_eq!(check_times(&c, at(2_001)), Err(DccError::Expired));
        let just_after = at(2_000) + chrono::TimeDelta::milliseconds(1);
        assert_eq!(check_times(&c, just_after), Err(DccError::Expired));
    }

    #[test]
    fn times_are_required() {
        for c in [
            claims(None, Some(2_000)),
            claims(Some(1_000), None),
            claims(None, None),
        ] {
            assert_eq!(check_times(&c, at(1_500)), Err(DccError::MissingTimes));
        }
        let out_of_range = claims(Some(i64::MAX), Some(i64::MAX));
        assert_eq!(
            check_times(&out_of_range, at(0)).unwrap_err().code(),
            "claims"
        );
    }

    #[test]
    fn decode_reports_the_first_failing_layer() {
        assert_eq!(decode("HC2:6BF").unwrap_err().code(), "prefix");
        assert_eq!(decode("HC1:6BF+7").unwrap_err().code(), "base45");
        // "HC1:" + base45 of bytes that are not ZLIB.
        let text = format!("HC1:{}", healthcode_credential::base45::encode(b"\xd2\x84"));
        assert_eq!(decode(&text).unwrap_err().code(), "compression");
    }
}
