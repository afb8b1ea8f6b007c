//! The CWT claims set (RFC 8392) a DCC's COSE_Sign1 signs, as the hcert spec ("CWT Claims")
//! defines it: `iss` (1), `exp` (4), `iat` (6) and `hcert` (-260) holding the EU DCC under
//! key 1.
//!
//! This module reads the claims; whether the times are acceptable is decided in
//! [`crate::verify`] against a given instant.

use healthcode_credential::cbor::{Decoder, Item, MAJOR_MAP, MAJOR_NINT, MAJOR_TEXT, MAJOR_UINT};
use serde_json::Value as Json;

use crate::error::DccError;
use crate::json::{malformed, read_json};

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
    /// Reads the claims from the COSE payload, in one pass over its bytes: the certificate
    /// goes straight from CBOR to JSON. A claim key must not occur twice; claims other than
    /// these four are passed over.
    pub fn from_payload(payload: &[u8]) -> Result<Claims, DccError> {
        let mut d = Decoder::lenient(payload);
        let Item::Map(pairs) = d.item().map_err(malformed)? else {
            return Err(DccError::Claims("the claims set is not a map"));
        };
        let mut seen = Vec::with_capacity(pairs.min(16));
        let (mut issuer, mut issued_at, mut expires_at, mut dcc) = (None, None, None, None);
        for _ in 0..pairs {
            let key = Key::read(&mut d)?;
            if seen.contains(&key) {
                return Err(DccError::Claims("a claim occurs twice"));
            }
            match key {
                Key::Int(CLAIM_ISS) => match d.item().map_err(malformed)? {
                    Item::Text(iss) => issuer = Some(iss.to_owned()),
                    _ => return Err(DccError::Claims("the issuer is not text")),
                },
                Key::Int(CLAIM_EXP) => expires_at = Some(numeric_date(&mut d)?),
                Key::Int(CLAIM_IAT) => issued_at = Some(numeric_date(&mut d)?),
                Key::Int(CLAIM_HCERT) => dcc = Some(hcert(&mut d)?),
                _ => d.skip().map_err(malformed)?,
            }
            seen.push(key);
        }
        if !d.is_empty() {
            return Err(DccError::Cbor("bytes follow the data item".into()));
        }
        Ok(Claims {
            issuer,
            issued_at,
            expires_at,
            dcc: dcc.ok_or(DccError::Claims(
                "there is no health certificate claim (-260)",
            ))?,
        })
    }
}

/// A map key as read: an integer, text, or any other item's bytes.
#[derive(Debug, PartialEq, Eq)]
enum Key<'a> {
    Int(i128),
    Text(&'a str),
    Other(&'a [u8]),
}

impl<'a> Key<'a> {
    fn read(d: &mut Decoder<'a>) -> Result<Key<'a>, DccError> {
        let before = d.remaining();
        if matches!(d.next_major(), Some(MAJOR_UINT | MAJOR_NINT | MAJOR_TEXT)) {
            return Ok(match d.item().map_err(malformed)? {
                Item::Text(t) => Key::Text(t),
                Item::Nint(n) => Key::Int(-1 - i128::from(n)),
                Item::Uint(u) => Key::Int(i128::from(u)),
                _ => Key::Other(before),
            });
        }
        // Any other key: the whole item's bytes, nested items included.
        d.skip().map_err(malformed)?;
        Ok(Key::Other(&before[..before.len() - d.remaining().len()]))
    }
}

/// The `hcert` claim: a map holding the EU DCC under key 1, as JSON.
fn hcert(d: &mut Decoder<'_>) -> Result<Json, DccError> {
    let Item::Map(pairs) = d.item().map_err(malformed)? else {
        return Err(DccError::Claims(
            "there is no health certificate claim (-260)",
        ));
    };
    let mut seen = Vec::with_capacity(pairs.min(4));
    let mut dcc = None;
    for _ in 0..pairs {
        let key = Key::read(d)?;
        if seen.contains(&key) {
            return Err(DccError::Claims("a claim occurs twice"));
        }
        if key == Key::Int(HCERT_EU_DCC_V1) {
            if d.next_major() != Some(MAJOR_MAP) {
                return Err(DccError::Claims("the EU DCC is not a map"));
            }
            dcc = Some(read_json(d)?);
        } else {
            d.skip().map_err(malformed)?;
        }
        seen.push(key);
    }
    dcc.ok_or(DccError::Claims(
        "the health certificate claim holds no EU DCC",
    ))
}

/// RFC 8392 §2 NumericDate: an integer or a float number of seconds, optionally under the
/// epoch tag 1; fractions are dropped towards the past, which can only make a check stricter
/// for `exp` by under a second.
fn numeric_date(d: &mut Decoder<'_>) -> Result<i64, DccError> {
    let mut item = d.item().map_err(malformed)?;
    if item == Item::Tag(1) {
        item = d.item().map_err(malformed)?;
    }
    let out_of_range = || DccError::Claims("a time is out of range");
    match item {
        Item::Uint(u) => i64::try_from(u).map_err(|_| out_of_range()),
        Item::Nint(n) => i64::try_from(n).map(|n| -1 - n).map_err(|_| out_of_range()),
        Item::Float(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.floor() as i64),
        _ => Err(DccError::Claims("a time is not a number")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use ciborium::value::Value;
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
