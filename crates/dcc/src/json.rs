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
use healthcode_credential::cbor::{CborError, Decoder, Item};
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
/// How deeply arrays, maps and tags may nest in a certificate (the DCC schema needs four).
const MAX_DEPTH: usize = 32;

/// Converts a CBOR value to JSON.
pub fn cbor_to_json(value: &Value) -> Result<Json, DccError> {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(value, &mut bytes)
        .map_err(|_| DccError::Payload("the value cannot be written as CBOR"))?;
    let mut d = Decoder::lenient(&bytes);
    let json = read_json(&mut d)?;
    if !d.is_empty() {
        return Err(DccError::Cbor("bytes follow the data item".into()));
    }
    Ok(json)
}

/// Reads the next CBOR item straight into JSON, with no CBOR value tree in between: the
/// verifier needs the certificate only as JSON.
pub(crate) fn read_json(d: &mut Decoder<'_>) -> Result<Json, DccError> {
    read(d, 0)
}

/// A CBOR fault as the DCC's error: the bytes are not well-formed.
pub(crate) fn malformed(err: CborError) -> DccError {
    match err {
        CborError::Malformed(m) => DccError::Cbor(m.into()),
        CborError::Unexpected(what) => DccError::Cbor(format!("expected {what}")),
    }
}

fn read(d: &mut Decoder<'_>, depth: usize) -> Result<Json, DccError> {
    if depth > MAX_DEPTH {
        return Err(DccError::Cbor("nested too deeply".into()));
    }
    Ok(match d.item().map_err(malformed)? {
        Item::Null => Json::Null,
        Item::Bool(b) => Json::Bool(b),
        Item::Text(t) => Json::String(t.to_owned()),
        Item::Uint(u) => Json::Number(u.into()),
        Item::Nint(n) => Json::Number(negative(n)?.into()),
        Item::Float(f) => {
            Json::Number(Number::from_f64(f).ok_or(DccError::Payload("a number is not finite"))?)
        }
        Item::Array(len) => Json::Array(
            (0..len)
                .map(|_| read(d, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Item::Map(pairs) => {
            let mut object = Map::new();
            for _ in 0..pairs {
                let Item::Text(key) = d.item().map_err(malformed)? else {
                    return Err(DccError::Payload("a map key is not text"));
                };
                if object.insert(key.to_owned(), read(d, depth + 1)?).is_some() {
                    return Err(DccError::Payload("a map key occurs twice"));
                }
            }
            Json::Object(object)
        }
        Item::Tag(tag) => tagged(d, tag, depth)?,
        Item::Bytes(_) => return Err(DccError::Payload("a byte string has no JSON form")),
        Item::Undefined | Item::Simple(_) => {
            return Err(DccError::Payload("a CBOR simple value has no JSON form"));
        }
    })
}

/// The negative integer `-1 - n`, if an i64 holds it.
fn negative(n: u64) -> Result<i64, DccError> {
    i64::try_from(n)
        .map(|n| -1 - n)
        .map_err(|_| DccError::Payload("an integer is out of range"))
}

/// The JSON of a tagged item: the date tags' text or time, any other tag transparent.
fn tagged(d: &mut Decoder<'_>, tag: u64, depth: usize) -> Result<Json, DccError> {
    let seconds_or_days = |item: Item<'_>, what: &'static str| match item {
        Item::Uint(u) => i64::try_from(u).map_err(|_| DccError::Payload(what)),
        Item::Nint(n) => negative(n).map_err(|_| DccError::Payload(what)),
        _ => Err(DccError::Payload(what)),
    };
    match tag {
        TAG_DATE_TIME | TAG_FULL_DATE => match d.item().map_err(malformed)? {
            Item::Text(text) => Ok(Json::String(text.to_owned())),
            _ => Err(DccError::Payload("a date tag holds no text")),
        },
        TAG_EPOCH => match d.item().map_err(malformed)? {
            Item::Float(seconds) => {
                if !seconds.is_finite() {
                    return Err(DccError::Payload("a time is not finite"));
                }
                let millis = (seconds * 1000.0).round();
                // Range-checked by `from_timestamp_millis`; the cast saturates for huge values.
                epoch_text(DateTime::from_timestamp_millis(millis as i64))
            }
            item @ (Item::Uint(_) | Item::Nint(_)) => epoch_text(DateTime::from_timestamp(
                seconds_or_days(item, "a time is out of range")?,
                0,
            )),
            _ => Err(DccError::Payload("an epoch tag holds no number")),
        },
        TAG_DAYS => {
            let item = d.item().map_err(malformed)?;
            if !matches!(item, Item::Uint(_) | Item::Nint(_)) {
                return Err(DccError::Payload("a day-count tag holds no integer"));
            }
            let days = seconds_or_days(item, "a date is out of range")?;
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
        _ => read(d, depth + 1),
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
