//! Converts the health certificate (claim -260/1) from CBOR to JSON, so that the DCC JSON
//! schema and CertLogic rules can read it.
//!
//! The DCC is defined as JSON and only carried as CBOR (hcert spec, "Health Certificate
//! Claim"), so every CBOR item an issuer writes has one JSON meaning:
//! - integers stay integers and floats stay floats (a schema's `integer` accepts `1` and `1.0`,
//!   and a rule comparing numbers must see the issuer's value, not a rounded one);
//! - the date tags carry text or a time: tag 0 (RFC 8949 §3.4.1) and 1004 (RFC 8943) are
//!   their text, tag 1 (epoch seconds, §3.4.2) becomes RFC 3339 UTC text, tag 100 (RFC 8943
//!   days since 1970) becomes a full-date; other tags are transparent;
//! - map keys must be text and unique, as in a JSON object.
//!
//! Byte strings, NaN and infinities have no JSON form and are refused rather than invented.

use chrono::{DateTime, Days, NaiveDate, SecondsFormat};
use ciborium::value::Value;
use serde_json::{Map, Number, Value as Json};

use crate::error::DccError;

/// RFC 8949 §3.4.1: date/time text.
const TAG_DATE_TIME: u64 = 0;
/// RFC 8949 §3.4.2: epoch-based date/time.
const TAG_EPOCH: u64 = 1;
/// RFC 8943 §3: full-date text.
const TAG_FULL_DATE: u64 = 1004;
/// RFC 8943 §2: days since 1970-01-01.
const TAG_DAYS: u64 = 100;

/// Converts a CBOR value to JSON.
pub fn cbor_to_json(value: &Value) -> Result<Json, DccError> {
    cbor_into_json(value.clone())
}

/// Converts a CBOR value to JSON, moving its strings rather than copying them: the verifier
/// owns the decoded payload and needs it only as JSON.
pub(crate) fn cbor_into_json(value: Value) -> Result<Json, DccError> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Text(t) => Json::String(t),
        Value::Integer(i) => integer(i128::from(i))?,
        Value::Float(f) => {
            Json::Number(Number::from_f64(f).ok_or(DccError::Payload("a number is not finite"))?)
        }
        Value::Array(items) => Json::Array(
            items
                .into_iter()
                .map(cbor_into_json)
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                let Value::Text(key) = key else {
                    return Err(DccError::Payload("a map key is not text"));
                };
                if object.insert(key, cbor_into_json(value)?).is_some() {
                    return Err(DccError::Payload("a map key occurs twice"));
                }
            }
            Json::Object(object)
        }
        Value::Tag(tag, inner) => tagged(tag, *inner)?,
        Value::Bytes(_) => return Err(DccError::Payload("a byte string has no JSON form")),
        _ => return Err(DccError::Payload("a CBOR simple value has no JSON form")),
    })
}

fn integer(i: i128) -> Result<Json, DccError> {
    if let Ok(u) = u64::try_from(i) {
        Ok(Json::Number(u.into()))
    } else if let Ok(s) = i64::try_from(i) {
        Ok(Json::Number(s.into()))
    } else {
        Err(DccError::Payload("an integer is out of range"))
    }
}

fn tagged(tag: u64, inner: Value) -> Result<Json, DccError> {
    match (tag, inner) {
        (TAG_DATE_TIME | TAG_FULL_DATE, Value::Text(text)) => Ok(Json::String(text)),
        (TAG_DATE_TIME | TAG_FULL_DATE, _) => Err(DccError::Payload("a date tag holds no text")),
        (TAG_EPOCH, Value::Integer(seconds)) => {
            let seconds = i64::try_from(i128::from(seconds))
                .map_err(|_| DccError::Payload("a time is out of range"))?;
            epoch_text(DateTime::from_timestamp(seconds, 0))
        }
        (TAG_EPOCH, Value::Float(seconds)) => {
            if !seconds.is_finite() {
                return Err(DccError::Payload("a time is not finite"));
            }
            let millis = (seconds * 1000.0).round();
            // Range-checked by `from_timestamp_millis`; the cast saturates for huge values.
            epoch_text(DateTime::from_timestamp_millis(millis as i64))
        }
        (TAG_EPOCH, _) => Err(DccError::Payload("an epoch tag holds no number")),
        (TAG_DAYS, Value::Integer(days)) => {
            let days = i64::try_from(i128::from(days))
                .map_err(|_| DccError::Payload("a date is out of range"))?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
                .ok_or(DccError::Payload("a date is out of range"))?;
            let date = if days >= 0 {
                epoch.checked_add_days(Days::new(days.unsigned_abs()))
            } else {
                epoch.checked_sub_days(Days::new(days.unsigned_abs()))
            };
            let date = date.ok_or(DccError::Payload("a date is out of range"))?;
            Ok(Json::String(date.format("%Y-%m-%d").to_string()))
        }
        (TAG_DAYS, _) => Err(DccError::Payload("a day-count tag holds no integer")),
        (_, inner) => cbor_into_json(inner),
    }
}

fn epoch_text(time: Option<DateTime<chrono::Utc>>) -> Result<Json, DccError> {
    let time = time.ok_or(DccError::Payload("a time is out of range"))?;
    Ok(Json::String(
        time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Text(k.into()), v))
                .collect(),
        )
    }

    #[test]
    fn plain_values() {
        let value = map(vec![
            ("ver", Value::Text("1.3.0".into())),
            ("dn", Value::Integer(2.into())),
            ("neg", Value::Integer((-3).into())),
            ("big", Value::Integer(u64::MAX.into())),
            ("f", Value::Float(1.5)),
            ("whole", Value::Float(2.0)),
            ("n", Value::Null),
            ("b", Value::Bool(true)),
            ("a", Value::Array(vec![Value::Integer(1.into())])),
        ]);
        let json = cbor_to_json(&value).unwrap();
        assert_eq!(
            json,
            json!({"ver": "1.3.0", "dn": 2, "neg": -3, "big": u64::MAX, "f": 1.5,
                   "whole": 2.0, "n": null, "b": true, "a": [1]})
        );
        // A float stays a float: 2.0 is not silently turned into the integer 2.
        assert!(json["whole"].is_f64());
        assert!(json["dn"].is_u64());
    }

    #[test]
    fn date_tags() {
        let value = Value::Array(vec![
            Value::Tag(0, Box::new(Value::Text("2021-05-29T10:00:00Z".into()))),
            Value::Tag(1, Box::new(Value::Integer(1_622_282_400.into()))),
            Value::Tag(1, Box::new(Value::Float(1_622_282_400.5))),
            Value::Tag(1004, Box::new(Value::Text("2021-05-29".into()))),
            Value::Tag(100, Box::new(Value::Integer(18_776.into()))),
            Value::Tag(100, Box::new(Value::Integer((-1).into()))),
            Value::Tag(32, Box::new(Value::Text("https://example.org".into()))),
        ]);
        assert_eq!(
            cbor_to_json(&value).unwrap(),
            json!([
                "2021-05-29T10:00:00Z",
                "2021-05-29T10:00:00Z",
                "2021-05-29T10:00:00.500Z",
                "2021-05-29",
                "2021-05-29",
                "1969-12-31",
                "https://example.org"
            ])
        );
    }

    #[test]
    fn refusals() {
        for value in [
            Value::Bytes(vec![1]),
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Integer((-(1i128 << 64)).try_into().unwrap()),
            Value::Map(vec![(Value::Integer(1.into()), Value::Null)]),
            map(vec![("a", Value::Null), ("a", Value::Null)]),
            Value::Tag(0, Box::new(Value::Integer(1.into()))),
            Value::Tag(1, Box::new(Value::Text("x".into()))),
            Value::Tag(1, Box::new(Value::Integer(i64::MAX.into()))),
            Value::Tag(100, Box::new(Value::Integer(i64::MAX.into()))),
        ] {
            assert_eq!(
                cbor_to_json(&value).unwrap_err().code(),
                "payload",
                "{value:?}"
            );
        }
    }
}
