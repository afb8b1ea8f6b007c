//! The CWT claims set (RFC 8392) a DCC's COSE_Sign1 signs, as the hcert spec ("CWT Claims")
//! defines it: `iss` (1), `exp` (4), `iat` (6) and `hcert` (-260) holding the EU DCC under
//! key 1.
//!
//! This module reads the claims; whether the times are acceptable is decided in
//! [`crate::verify`] against a given instant.

use ciborium::value::Value;
use serde_json::Value as Json;

use crate::error::DccError;
use crate::json::cbor_into_json;

/// Claim keys (RFC 8392 §3.1 and the hcert spec).
const CLAIM_ISS: i128 = 1;
const CLAIM_EXP: i128 = 4;
const CLAIM_IAT: i128 = 6;
const CLAIM_HCERT: i128 = -260;
/// Key of the EU DCC v1 inside the `hcert` claim.
const HCERT_EU_DCC_V1: i128 = 1;

/// The claims of a DCC.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `iss`: the issuing country (ISO 3166-1 alpha-2), optional in the hcert spec.
    pub issuer: Option<String>,
    /// `iat` in seconds since the epoch (RFC 8392 NumericDate, fractions dropped).
    pub issued_at: Option<i64>,
    /// `exp` in seconds since the epoch.
    pub expires_at: Option<i64>,
    /// The EU DCC (claim -260/1) as JSON.
    pub dcc: Json,
}

impl Claims {
    /// Reads the claims from the COSE payload.
    pub fn from_payload(payload: &[u8]) -> Result<Claims, DccError> {
        let Value::Map(mut entries) = decode_one(payload)? else {
            return Err(DccError::Claims("the claims set is not a map"));
        };
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(earlier, _)| earlier == key) {
                return Err(DccError::Claims("a claim occurs twice"));
            }
        }
        let issuer = match claim(&entries, CLAIM_ISS) {
            None => None,
            Some(Value::Text(iss)) => Some(iss.clone()),
            Some(_) => return Err(DccError::Claims("the issuer is not text")),
        };
        let expires_at = claim(&entries, CLAIM_EXP).map(numeric_date).transpose()?;
        let issued_at = claim(&entries, CLAIM_IAT).map(numeric_date).transpose()?;
        let Some(Value::Map(mut hcert)) = take_claim(&mut entries, CLAIM_HCERT) else {
            return Err(DccError::Claims(
                "there is no health certificate claim (-260)",
            ));
        };
        let dcc = take_claim(&mut hcert, HCERT_EU_DCC_V1).ok_or(DccError::Claims(
            "the health certificate claim holds no EU DCC",
        ))?;
        if !matches!(dcc, Value::Map(_)) {
            return Err(DccError::Claims("the EU DCC is not a map"));
        }
        Ok(Claims {
            issuer,
            issued_at,
            expires_at,
            dcc: cbor_into_json(dcc)?,
        })
    }
}

/// RFC 8392 §2 NumericDate: an integer or a float number of seconds; fractions are dropped
/// towards the past, which can only make a check stricter for `exp` by under a second.
fn numeric_date(value: &Value) -> Result<i64, DccError> {
    match value {
        Value::Integer(i) => {
            i64::try_from(i128::from(*i)).map_err(|_| DccError::Claims("a time is out of range"))
        }
        Value::Float(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.floor() as i64),
        Value::Tag(1, inner) => numeric_date(inner),
        _ => Err(DccError::Claims("a time is not a number")),
    }
}

/// The value of an integer claim key.
fn claim(entries: &[(Value, Value)], key: i128) -> Option<&Value> {
    entries.iter().find_map(|(k, v)| match k {
        Value::Integer(k) if i128::from(*k) == key => Some(v),
        _ => None,
    })
}

/// Removes and returns the value of the first entry with an integer key, as [`claim`] finds
/// it, so that the payload is converted without copying it.
fn take_claim(entries: &mut Vec<(Value, Value)>, key: i128) -> Option<Value> {
    let index = entries
        .iter()
        .position(|(k, _)| matches!(k, Value::Integer(k) if i128::from(*k) == key))?;
    Some(entries.swap_remove(index).1)
}

/// Decodes exactly one CBOR data item from `bytes`.
fn decode_one(bytes: &[u8]) -> Result<Value, DccError> {
    let mut rest = bytes;
    let value: Value =
        ciborium::de::from_reader(&mut rest).map_err(|e| DccError::Cbor(cbor_error(&e)))?;
    if !rest.is_empty() {
        return Err(DccError::Cbor("bytes follow the data item".into()));
    }
    Ok(value)
}

/// A message for a CBOR decoding error that names the problem but no content.
fn cbor_error<E: std::fmt::Debug>(err: &ciborium::de::Error<E>) -> String {
    match err {
        ciborium::de::Error::Io(_) => "the data ends early".into(),
        ciborium::de::Error::Syntax(offset) => format!("syntax error at offset {offset}"),
        ciborium::de::Error::Semantic(offset, _) => match offset {
            Some(offset) => format!("invalid item at offset {offset}"),
            None => "invalid item".into(),
        },
        ciborium::de::Error::RecursionLimitExceeded => "nested too deeply".into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encode(entries: Vec<(Value, Value)>) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(&Value::Map(entries), &mut out).unwrap();
        out
    }

    fn int(i: i64) -> Value {
        Value::Integer(i.into())
    }

    fn dcc() -> Value {
        Value::Map(vec![(
            Value::Text("ver".into()),
            Value::Text("1.3.0".into()),
        )])
    }

    #[test]
    fn reads_the_claims() {
        let payload = encode(vec![
            (int(1), Value::Text("AT".into())),
            (int(4), int(1_700_000_000)),
            (int(6), Value::Float(1_600_000_000.7)),
            (int(-260), Value::Map(vec![(int(1), dcc())])),
        ]);
        let claims = Claims::from_payload(&payload).unwrap();
        assert_eq!(claims.issuer.as_deref(), Some("AT"));
        assert_eq!(claims.expires_at, Some(1_700_000_000));
        assert_eq!(claims.issued_at, Some(1_600_000_000));
        assert_eq!(claims.dcc, json!({"ver": "1.3.0"}));
    }

    #[test]
    fn times_and_issuer_are_optional_here() {
        let payload = encode(vec![(int(-260), Value::Map(vec![(int(1), dcc())]))]);
        let claims = Claims::from_payload(&payload).unwrap();
        assert_eq!(
            (claims.issuer, claims.issued_at, claims.expires_at),
            (None, None, None)
        );
    }

    #[test]
    fn refusals() {
        let hcert = || (int(-260), Value::Map(vec![(int(1), dcc())]));
        let cases = vec![
            encode(vec![]),
            encode(vec![(int(-260), dcc())]),
            encode(vec![(int(-260), Value::Map(vec![(int(2), dcc())]))]),
            encode(vec![(int(-260), Value::Map(vec![(int(1), int(3))]))]),
            encode(vec![(int(1), int(3)), hcert()]),
            encode(vec![(int(4), Value::Text("tomorrow".into())), hcert()]),
            encode(vec![(int(6), Value::Float(f64::NAN)), hcert()]),
            encode(vec![(int(4), int(1)), (int(4), int(2)), hcert()]),
        ];
        for payload in cases {
            assert_eq!(
                Claims::from_payload(&payload).unwrap_err().code(),
                "claims",
                "{}",
                hex::encode(&payload)
            );
        }
        let mut list = Vec::new();
        ciborium::ser::into_writer(&Value::Array(vec![]), &mut list).unwrap();
        assert_eq!(Claims::from_payload(&list).unwrap_err().code(), "claims");
    }
}
