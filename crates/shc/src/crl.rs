//! Card revocation lists: the per-key `crl/<kid>.json` of SMART Health Cards ("Revocation"),
//! method `rid`.
//!
//! This module owns reading a list and answering whether it revokes a card with a given `rid`
//! issued at a given `nbf`. It does not own fetching lists, nor deciding whether the list is
//! current for a key ([`crate::verify`] compares `ctr` with the key's `crlVersion`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::ShcError;

/// The longest `rid` the specification allows.
pub const MAX_RID_LEN: usize = 24;

/// A key's revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    kid: String,
    ctr: u64,
    /// rid → `None` when every card with that rid is revoked, `Some(t)` when the cards issued
    /// (`nbf`) before `t` are.
    rids: HashMap<String, Option<DateTime<Utc>>>,
}

impl RevocationList {
    /// Reads a list: `{"kid": ..., "method": "rid", "ctr": n, "rids": [...]}`, each rid in the
    /// base64url alphabet, at most 24 characters, optionally followed by `.` and a timestamp
    /// in seconds since the epoch.
    pub fn from_json(text: &str) -> Result<RevocationList, ShcError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ShcError::BadCrl(format!("not JSON: {e}")))?;
        let kid = value
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ShcError::BadCrl("no \"kid\"".into()))?;
        match value.get("method").and_then(Value::as_str) {
            Some("rid") => {}
            _ => {
                return Err(ShcError::BadCrl(
                    "\"method\" is not \"rid\", the only method this verifier knows".into(),
                ));
            }
        }
        let ctr = value
            .get("ctr")
            .and_then(Value::as_u64)
            .ok_or_else(|| ShcError::BadCrl("\"ctr\" is not a non-negative integer".into()))?;
        let entries = value
            .get("rids")
            .and_then(Value::as_array)
            .ok_or_else(|| ShcError::BadCrl("no \"rids\" array".into()))?;
        let mut rids = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let (rid, since) = entry
                .as_str()
                .ok_or_else(|| format!("rids[{i}] is not a string"))
                .and_then(|text| parse_entry(text).map_err(|why| format!("rids[{i}] {why}")))
                .map_err(ShcError::BadCrl)?;
            // The same rid listed twice: keep whichever revokes more.
            match rids.entry(rid.to_owned()) {
                Entry::Vacant(slot) => {
                    slot.insert(since);
                }
                Entry::Occupied(mut slot) => {
                    let merged = match (*slot.get(), since) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    slot.insert(merged);
                }
            }
        }
        Ok(RevocationList {
            kid: kid.to_owned(),
            ctr,
            rids,
        })
    }

    /// The key whose cards this list revokes.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// How many times the issuer has updated the list; compared with the key's `crlVersion`.
    pub fn ctr(&self) -> u64 {
        self.ctr
    }

    /// How many distinct rids are listed.
    pub fn len(&self) -> usize {
        self.rids.len()
    }

    /// Whether no rid is listed.
    pub fn is_empty(&self) -> bool {
        self.rids.is_empty()
    }

    /// Whether a card with this `rid` issued at `nbf` is revoked: its rid is listed, and if
    /// the entry has a timestamp, the card's `nbf` is before it.
    pub fn revokes(&self, rid: &str, nbf: DateTime<Utc>) -> bool {
        match self.rids.get(rid) {
            None => false,
            Some(None) => true,
            Some(Some(since)) => nbf < *since,
        }
    }
}

/// `rid` or `rid.timestamp`.
fn parse_entry(text: &str) -> Result<(&str, Option<DateTime<Utc>>), &'static str> {
    let (rid, timestamp) = match text.split_once('.') {
        Some((rid, timestamp)) => (rid, Some(timestamp)),
        None => (text, None),
    };
    let rid_ok = !rid.is_empty()
        && rid.len() <= MAX_RID_LEN
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !rid_ok {
        return Err("is not a rid of 1 to 24 base64url characters");
    }
    let since = timestamp
        .map(|t| parse_timestamp(t).ok_or("has a timestamp that is not seconds since 1970"))
        .transpose()?;
    Ok((rid, since))
}

/// Seconds since the epoch, with an optional fraction (kept to the millisecond).
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let millis = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    DateTime::from_timestamp_millis(seconds.checked_mul(1000)? + millis)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn list(rids: &str) -> Result<RevocationList, ShcError> {
        RevocationList::from_json(&format!(
            r#"{{"kid":"k1","method":"rid","ctr":2,"rids":[{rids}]}}"#
        ))
    }

    #[test]
    fn the_specification_example() {
        // "marks as revoked any Health Cards with rid equal to AQPCj4wwk6Mt and Health Cards
        // with rid equal to lHKzqFUMjhs issued before November 15, 2021 12:00:00 PM GMT".
        let crl = list(r#""AQPCj4wwk6Mt", "lHKzqFUMjhs.1636977600""#).unwrap();
        assert_eq!(crl.kid(), "k1");
        assert_eq!(crl.ctr(), 2);
        assert_eq!(crl.len(), 2);
        assert!(crl.revokes("AQPCj4wwk6Mt", at(0)));
        assert!(crl.revokes("AQPCj4wwk6Mt", at(2_000_000_000)));
        assert!(crl.revokes("lHKzqFUMjhs", at(1_636_977_599)));
        assert!(!crl.revokes("lHKzqFUMjhs", at(1_636_977_600)));
        assert!(!crl.revokes("lHKzqFUMjhs", at(1_636_977_601)));
        assert!(!crl.revokes("other", at(0)));
    }

    #[test]
    fn timestamps_keep_milliseconds() {
        let crl = list(r#""abc.1000.5""#).unwrap();
        assert!(crl.revokes("abc", DateTime::from_timestamp_millis(1_000_499).unwrap()));
        assert!(!crl.revokes("abc", DateTime::from_timestamp_millis(1_000_500).unwrap()));
    }

    #[test]
    fn a_repeated_rid_keeps_the_wider_revocation() {
        let crl = list(r#""abc.100", "abc.200""#).unwrap();
        assert!(crl.revokes("abc", at(150)));
        assert!(!crl.revokes("abc", at(200)));
        let crl = list(r#""abc.100", "abc""#).unwrap();
        assert!(crl.revokes("abc", at(500)));
        assert_eq!(crl.len(), 1);
    }

    #[test]
    fn refuses_malformed_lists() {
        for rids in [
            r#""""#,
            r#""a+b""#,
            r#""0123456789012345678901234""#,
            r#""abc.""#,
            r#""abc.12x""#,
            r#""abc.-5""#,
            r#"".100""#,
            "7",
        ] {
            assert_eq!(list(rids).unwrap_err().code(), "crl", "{rids}");
        }
        assert!(list(r#""012345678901234567890123""#).is_ok());
        for text in [
            r#"{"kid":"k","method":"other","ctr":1,"rids":[]}"#,
            r#"{"kid":"k","ctr":1,"rids":[]}"#,
            r#"{"kid":"k","method":"rid","ctr":"1","rids":[]}"#,
            r#"{"kid":"k","method":"rid","ctr":1}"#,
            r#"{"method":"rid","ctr":1,"rids":[]}"#,
            "[]",
        ] {
            assert_eq!(
                RevocationList::from_json(text).unwrap_err().code(),
                "crl",
                "{text}"
            );
        }
    }
}
