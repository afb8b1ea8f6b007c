//! The JWT claims of a health card (SMART Health Cards, "Health Cards are encoded as Compact
//! Serialization JSON Web Signatures"): `iss`, `nbf`, optional `exp`, and the `vc` claim with
//! `type`, optional `rid` and `credentialSubject.fhirBundle`.
//!
//! This module owns reading those members and their types. It does not own what the bundle
//! says ([`crate::fhir`]) nor any decision about the times or the issuer ([`crate::verify`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::ShcError;

/// The type every health card carries in `vc.type`.
pub const HEALTH_CARD_TYPE: &str = "https://smarthealth.cards#health-card";

/// The claims, read but not yet judged.
#[derive(Debug)]
pub(crate) struct Claims {
    pub iss: String,
    pub nbf: DateTime<Utc>,
    pub exp: Option<DateTime<Utc>>,
    pub types: Vec<String>,
    pub rid: Option<String>,
    pub fhir_version: Option<String>,
    pub bundle: Value,
}

/// Reads the inflated payload as JSON.
pub(crate) fn parse_json(payload: &[u8]) -> Result<Value, ShcError> {
    serde_json::from_slice(payload).map_err(|_| ShcError::BadPayloadJson)
}

/// The `iss` claim, read first so that a card of an untrusted issuer is reported as such
/// whatever else is wrong with it.
pub(crate) fn issuer(payload: &Value) -> Result<&str, ShcError> {
    payload
        .as_object()
        .ok_or(ShcError::BadClaims("the payload is not a JSON object"))?
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(ShcError::BadClaims("iss is missing or not a string"))
}

/// Reads the claims of the payload.
pub(crate) fn parse(payload: &Value) -> Result<Claims, ShcError> {
    let iss = issuer(payload)?.to_owned();
    let root = payload
        .as_object()
        .ok_or(ShcError::BadClaims("the payload is not a JSON object"))?;
    let nbf = match root.get("nbf") {
        Some(v) => numeric_date(v).ok_or(ShcError::BadClaims(
            "nbf is not a time in seconds since 1970",
        ))?,
        None => return Err(ShcError::BadClaims("nbf is missing")),
    };
    let exp = match root.get("exp") {
        Some(v) => Some(numeric_date(v).ok_or(ShcError::BadClaims(
            "exp is not a time in seconds since 1970",
        ))?),
        None => None,
    };
    let vc = root
        .get("vc")
        .and_then(Value::as_object)
        .ok_or(ShcError::BadClaims("vc is missing or not an object"))?;
    let types = vc
        .get("type")
        .and_then(Value::as_array)
        .and_then(|types| {
            types
                .iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or(ShcError::BadClaims("vc.type is not an array of strings"))?;
    let rid = match vc.get("rid") {
        None => None,
        Some(Value::String(rid)) => Some(rid.clone()),
        Some(_) => return Err(ShcError::BadClaims("vc.rid is not a string")),
    };
    let subject = vc
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or(ShcError::BadClaims(
            "vc.credentialSubject is missing or not an object",
        ))?;
    let fhir_version = match subject.get("fhirVersion") {
        None => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(_) => return Err(ShcError::BadClaims("fhirVersion is not a string")),
    };
    let bundle = subject
        .get("fhirBundle")
        .cloned()
        .ok_or(ShcError::BadClaims(
            "vc.credentialSubject.fhirBundle is missing",
        ))?;
    Ok(Claims {
        iss,
        nbf,
        exp,
        types,
        rid,
        fhir_version,
        bundle,
    })
}

/// Reads only `iss`, to tell an untrusted issuer from an unknown key when no trusted key
/// matches (the payload is then unauthenticated and used for nothing else).
pub(crate) fn peek_issuer(payload: &[u8]) -> Option<String> {
    let value = parse_json(payload).ok()?;
    issuer(&value).ok().map(str::to_owned)
}

/// A JWT NumericDate (RFC 7519 section 2): seconds since 1970, possibly with a fraction. The
/// examples carry milliseconds (`1687450764.657`), which are kept.
fn numeric_date(value: &Value) -> Option<DateTime<Utc>> {
    let seconds = value.as_f64()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    let millis = (seconds * 1000.0).round();
    // Beyond the range below, the cast would saturate; chrono refuses far fewer years anyway.
    if millis > 1e17 {
        return None;
    }
    DateTime::from_timestamp_millis(millis as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Result<Claims, ShcError> {
        parse(&parse_json(json.as_bytes())?)
    }

    const VC: &str = r#""vc":{"type":["https://smarthealth.cards#health-card"],"credentialSubject":{"fhirVersion":"4.0.1","fhirBundle":{"resourceType":"Bundle"}}}"#;

    #[test]
    fn reads_the_claims() {
        let c = claims(&format!(
            r#"{{"iss":"https://a.example","nbf":1687450764.657,"exp":1718986764,{VC}}}"#
        ))
        .unwrap();
        assert_eq!(c.iss, "https://a.example");
        assert_eq!(c.nbf.timestamp_millis(), 1_687_450_764_657);
        assert_eq!(c.exp.unwrap().timestamp(), 1_718_986_764);
        assert_eq!(c.types, [HEALTH_CARD_TYPE]);
        assert_eq!(c.fhir_version.as_deref(), Some("4.0.1"));
        assert_eq!(c.rid, None);
    }

    #[test]
    fn refuses_malformed_claims() {
        let cases = [
            ("not json".to_owned(), "payload"),
            ("[]".to_owned(), "claims"),
            (format!(r#"{{"nbf":1,{VC}}}"#), "claims"),
            (format!(r#"{{"iss":7,"nbf":1,{VC}}}"#), "claims"),
            (format!(r#"{{"iss":"https://a","iat":1,{VC}}}"#), "claims"),
            (format!(r#"{{"iss":"https://a","nbf":"1",{VC}}}"#), "claims"),
            (format!(r#"{{"iss":"https://a","nbf":-1,{VC}}}"#), "claims"),
            (format!(r#"{{"iss":"https://a","nbf":1e300,{VC}}}"#), "claims"),
            (format!(r#"{{"iss":"https://a","nbf":1,"exp":null,{VC}}}"#), "claims"),
            (r#"{"iss":"https://a","nbf":1}"#.to_owned(), "claims"),
            (r#"{"iss":"https://a","nbf":1,"vc":{"type":"x"}}"#.to_owned(), "claims"),
            (
                r#"{"iss":"https://a","nbf":1,"vc":{"type":[],"credentialSubject":{}}}"#.to_owned(),
                "claims",
            ),
            (
                r#"{"iss":"https://a","nbf":1,"vc":{"type":[],"rid":5,"credentialSubject":{"fhirBundle":{}}}}"#.to_owned(),
                "claims",
            ),
        ];
        for (json, code) in cases {
            assert_eq!(claims(&json).unwrap_err().code(), code, "{json}");
        }
    }

    #[test]
    fn peeks_at_the_issuer_only() {
        assert_eq!(
            peek_issuer(br#"{"iss":"https://a"}"#).as_deref(),
            Some("https://a")
        );
        assert_eq!(peek_issuer(b"garbage"), None);
    }
}
