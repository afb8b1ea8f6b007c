//! Place codes (场所码): the signed QR a venue prints on a poster and a resident's app scans to
//! check in.
//!
//! A place code is `HCP1:` followed by base45 (RFC 9285) of a COSE_Sign1 (RFC 9052 §4.2) made
//! by [`crate::cose`] with the region's code-signing key, the same envelope a health code uses.
//! The payload is a CBOR map (RFC 8949, deterministic order of §4.2.1):
//!
//! ```text
//! {1: region (text), 2: venue id (uint > 0), 3: issued at (uint, Unix seconds), 4: "place"}
//! ```
//!
//! The prefix is not signed, so the payload itself must say what it is: key 4 holds the text
//! `"place"`, where a code's claims set has `exp`, an integer; key 2 is an integer, where a code
//! has a 16-byte `sub`; and neither decoder accepts a key it does not know. A code's signed
//! bytes therefore never read as a place, nor a place's as a code, whatever prefix they are put
//! behind.
//!
//! This module owns the payload and issuing. Verification, which needs the trust lists, is
//! [`crate::Verifier::verify_place`]. A place code has no expiry of its own: a poster hangs for
//! months and stays valid for as long as the key that signed it is in the region's trust list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cbor::{Decoder, Encoder, non_empty_text, set_once};
use crate::claims::epoch_seconds;
use crate::code::signed_text;
use crate::error::IssueError;
use crate::keys::SigningKey;

/// The prefix of every place code: format name and version, in the QR alphanumeric set like
/// the rest of the code. It differs from [`crate::PREFIX`] so that a scanner can tell the two
/// apart before decoding; the payload's marker is what makes the difference binding.
pub const PLACE_PREFIX: &str = "HCP1:";

/// Keys of the place payload map.
const PLACE_REGION: u64 = 1;
const PLACE_VENUE: u64 = 2;
const PLACE_ISSUED_AT: u64 = 3;
const PLACE_KIND: u64 = 4;
/// The value of [`PLACE_KIND`]. Text, so that it can never be a CWT `exp` (RFC 8392 §3.1.4,
/// a NumericDate), which is what key 4 holds in a code's claims.
const PLACE_MARKER: &str = "place";

/// What a place code says: which venue of which region, and when the poster was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceClaims {
    /// The region whose key signed the code, e.g. `CN-BJ`.
    pub region: String,
    /// The venue's id in that region's registry; always positive.
    pub venue_id: i64,
    /// When the code was issued, in whole seconds.
    pub issued_at: DateTime<Utc>,
}

impl PlaceClaims {
    /// Encodes the payload, refusing claims no verifier would accept: an empty region, a venue
    /// id that is not positive, a time before 1970 or with a fraction of a second.
    pub(crate) fn to_cbor(&self) -> Result<Vec<u8>, IssueError> {
        if self.region.is_empty() {
            return Err(IssueError::Claims("region is empty"));
        }
        let venue = u64::try_from(self.venue_id)
            .ok()
            .filter(|&id| id > 0)
            .ok_or(IssueError::Claims("venue id must be positive"))?;
        let iat = epoch_seconds(self.issued_at, "issued_at")?;
        let mut e = Encoder::with_capacity(32 + self.region.len());
        e.map(4);
        e.uint(PLACE_REGION);
        e.text(&self.region);
        e.uint(PLACE_VENUE);
        e.uint(venue);
        e.uint(PLACE_ISSUED_AT);
        e.uint(iat);
        e.uint(PLACE_KIND);
        e.text(PLACE_MARKER);
        Ok(e.into_bytes())
    }

    /// Decodes a place payload. Every key must be present exactly once, the marker must be
    /// `"place"`, unknown keys are refused and the whole payload must be consumed. Keys may
    /// come in any order, as in a code's claims.
    pub(crate) fn from_cbor(payload: &[u8]) -> Result<PlaceClaims, &'static str> {
        let mut d = Decoder::new(payload);
        let pairs = d
            .map()
            .map_err(|e| e.explain("place payload is not a map"))?;
        let mut region = None;
        let mut venue = None;
        let mut iat = None;
        let mut marker = None;
        for _ in 0..pairs {
            let key = d
                .uint()
                .map_err(|e| e.explain("a place key is not an unsigned integer"))?;
            match key {
                PLACE_REGION => set_once(
                    &mut region,
                    non_empty_text(&mut d, "region is not text", "region is empty")?.to_owned(),
                )?,
                PLACE_VENUE => {
                    let v = d
                        .uint()
                        .map_err(|e| e.explain("venue id is not an unsigned integer"))?;
                    let id = i64::try_from(v)
                        .ok()
                        .filter(|&id| id > 0)
                        .ok_or("venue id out of range")?;
                    set_once(&mut venue, id)?;
                }
                PLACE_ISSUED_AT => set_once(
                    &mut iat,
                    d.epoch_time()
                        .map_err(|e| e.explain("issued-at is not an epoch time"))?,
                )?,
                PLACE_KIND => {
                    let v = d
                        .text()
                        .map_err(|e| e.explain("the place marker is not text"))?;
                    if v != PLACE_MARKER {
                        return Err("the marker does not say \"place\"");
                    }
                    set_once(&mut marker, ())?;
                }
                _ => return Err("unknown place key"),
            }
        }
        if !d.is_empty() {
            return Err("bytes after the place map");
        }
        marker.ok_or("the place marker (4) is missing")?;
        Ok(PlaceClaims {
            region: region.ok_or("region missing")?,
            venue_id: venue.ok_or("venue id missing")?,
            issued_at: iat.ok_or("issued-at missing")?,
        })
    }
}

/// Encodes and signs `claims` with the region's code-signing key; returns the `HCP1:…` text to
/// print as a QR code.
///
/// Fails only for claims no verifier would accept: an empty region, a venue id that is not
/// positive, or an issue time before 1970 or with a fraction of a second.
pub fn issue_place_code(claims: &PlaceClaims, key: &SigningKey) -> Result<String, IssueError> {
    Ok(signed_text(PLACE_PREFIX, &claims.to_cbor()?, key))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    //! The payload's strictness, and refusals that need place codes no honest issuer makes:
    //! built here with the crate's own encoder and signed with a listed key, so that the check
    //! under test is the one that fails and not the signature.

    use chrono::TimeDelta;
    use healthcode_domain::{Colour, DocumentType, VaccinationState};

    use super::*;
    use crate::claims::CodeClaims;
    use crate::error::VerifyError;
    use crate::trust_list::{KeyUsage, TrustList, TrustedKey};
    use crate::verify::Verifier;
    use crate::{base45, cose};

    const IAT: i64 = 1_777_622_400; // 2026-05-01T08:00:00Z

    fn time(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("in range")
    }

    fn key() -> SigningKey {
        SigningKey::from_seed(&[7u8; 32])
    }

    fn sample() -> PlaceClaims {
        PlaceClaims {
            region: "CN-BJ".into(),
            venue_id: 4207,
            issued_at: time(IAT),
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(&[TrustList {
            region: "CN-BJ".into(),
            sequence: 1,
            issued_at: time(IAT - 86_400),
            next_update: time(IAT + 86_400),
            root_public_key: SigningKey::from_seed(&[1u8; 32]).public_key(),
            log: None,
            keys: vec![TrustedKey::new(
                key().public_key(),
                time(IAT - 86_400),
                time(IAT + 86_400),
                vec![KeyUsage::Code],
            )],
        }])
    }

    /// A place code around a hand-made payload, signed with the listed key.
    fn signed(payload: &[u8]) -> String {
        format!(
            "{PLACE_PREFIX}{}",
            base45::encode(&cose::sign(payload, &key()))
        )
    }

    /// A payload with the given entries, in the order given.
    fn payload(entries: &[(u64, Value)]) -> Vec<u8> {
        let mut e = Encoder::default();
        e.map(entries.len());
        for (k, v) in entries {
            e.uint(*k);
            match v {
                Value::Uint(n) => e.uint(*n),
                Value::Text(t) => e.text(t),
                Value::Bytes(b) => e.bytes(b),
            }
        }
        e.into_bytes()
    }

    enum Value {
        Uint(u64),
        Text(&'static str),
        Bytes(&'static [u8]),
    }

    fn good_entries() -> Vec<(u64, Value)> {
        vec![
            (1, Value::Text("CN-BJ")),
            (2, Value::Uint(4207)),
            (3, Value::Uint(IAT as u64)),
            (4, Value::Text("place")),
        ]
    }

    #[test]
    fn encodes_in_deterministic_order_and_round_trips() {
        let bytes = sample().to_cbor().expect("encodes");
        assert_eq!(bytes, payload(&good_entries()));
        // a4 01 65 "CN-BJ" 02 19 106f 03 1a 69f45d80 04 65 "place"
        assert_eq!(
            hex::encode(&bytes),
            "a40165434e2d424a0219106f031a69f45d800465706c616365"
        );
        assert_eq!(PlaceClaims::from_cbor(&bytes), Ok(sample()));
    }

    #[test]
    fn an_independent_decoder_reads_the_same_map() {
        let bytes = sample().to_cbor().expect("encodes");
        let value: ciborium::Value = ciborium::from_reader(bytes.as_slice()).expect("CBOR");
        let map = value.into_map().expect("a map");
        let keys: Vec<_> = map
            .iter()
            .map(|(k, _)| k.as_integer().map(i128::from))
            .collect();
        assert_eq!(keys, [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(map[0].1.as_text(), Some("CN-BJ"));
        assert_eq!(map[1].1.as_integer().map(i128::from), Some(4207));
        assert_eq!(map[2].1.as_integer().map(i128::from), Some(i128::from(IAT)));
        assert_eq!(map[3].1.as_text(), Some("place"));
    }

    #[test]
    fn any_key_order_is_read() {
        let mut entries = good_entries();
        entries.reverse();
        assert_eq!(PlaceClaims::from_cbor(&payload(&entries)), Ok(sample()));
    }

    #[test]
    fn issuing_refuses_what_a_verifier_would() {
        for venue_id in [0, -1, i64::MIN] {
            let claims = PlaceClaims {
                venue_id,
                ..sample()
            };
            assert_eq!(
                issue_place_code(&claims, &key()),
                Err(IssueError::Claims("venue id must be positive"))
            );
        }
        let claims = PlaceClaims {
            region: String::new(),
            ..sample()
        };
        assert_eq!(
            issue_place_code(&claims, &key()),
            Err(IssueError::Claims("region is empty"))
        );
        let claims = PlaceClaims {
            issued_at: time(IAT) + TimeDelta::milliseconds(1),
            ..sample()
        };
        assert_eq!(
            issue_place_code(&claims, &key()),
            Err(IssueError::Time("issued_at"))
        );
        let claims = PlaceClaims {
            issued_at: time(-1),
            ..sample()
        };
        assert_eq!(
            issue_place_code(&claims, &key()),
            Err(IssueError::Time("issued_at"))
        );
    }

    #[test]
    fn the_largest_venue_id_round_trips() {
        let claims = PlaceClaims {
            venue_id: i64::MAX,
            ..sample()
        };
        let text = issue_place_code(&claims, &key()).expect("issues");
        assert_eq!(verifier().verify_place(&text, time(IAT)), Ok(claims));
    }

    #[test]
    fn venue_id_zero_is_refused_even_when_signed() {
        let mut entries = good_entries();
        entries[1].1 = Value::Uint(0);
        assert_eq!(
            verifier().verify_place(&signed(&payload(&entries)), time(IAT)),
            Err(VerifyError::PlaceClaims("venue id out of range"))
        );
        entries[1].1 = Value::Uint(1 << 63);
        assert_eq!(
            verifier().verify_place(&signed(&payload(&entries)), time(IAT)),
            Err(VerifyError::PlaceClaims("venue id out of range"))
        );
    }

    #[test]
    fn missing_marker_is_refused_even_when_signed() {
        let mut entries = good_entries();
        entries.pop();
        let err = verifier()
            .verify_place(&signed(&payload(&entries)), time(IAT))
            .expect_err("refused");
        assert_eq!(
            err,
            VerifyError::PlaceClaims("the place marker (4) is missing")
        );
        assert_eq!(err.code(), "place_claims");
    }

    #[test]
    fn wrong_marker_is_refused_even_when_signed() {
        for marker in [Value::Text("code"), Value::Text(""), Value::Uint(1)] {
            let mut entries = good_entries();
            entries[3].1 = marker;
            assert!(matches!(
                verifier().verify_place(&signed(&payload(&entries)), time(IAT)),
                Err(VerifyError::PlaceClaims(_))
            ));
        }
    }

    #[test]
    fn payload_strictness() {
        let mut unknown = good_entries();
        unknown.push((5, Value::Uint(0)));
        assert_eq!(
            PlaceClaims::from_cbor(&payload(&unknown)),
            Err("unknown place key")
        );

        let mut duplicate = good_entries();
        duplicate.push((2, Value::Uint(4207)));
        assert_eq!(
            PlaceClaims::from_cbor(&payload(&duplicate)),
            Err("a map key appears twice")
        );

        let mut trailing = payload(&good_entries());
        trailing.push(0x00);
        assert_eq!(
            PlaceClaims::from_cbor(&trailing),
            Err("bytes after the place map")
        );

        let mut no_region = good_entries();
        no_region.remove(0);
        assert_eq!(
            PlaceClaims::from_cbor(&payload(&no_region)),
            Err("region missing")
        );

        let mut empty_region = good_entries();
        empty_region[0].1 = Value::Text("");
        assert_eq!(
            PlaceClaims::from_cbor(&payload(&empty_region)),
            Err("region is empty")
        );

        let mut bytes_venue = good_entries();
        bytes_venue[1].1 = Value::Bytes(&[1; 16]);
        assert_eq!(
            PlaceClaims::from_cbor(&payload(&bytes_venue)),
            Err("venue id is not an unsigned integer")
        );

        let truncated = payload(&good_entries());
        assert!(PlaceClaims::from_cbor(&truncated[..truncated.len() - 1]).is_err());
    }

    fn code_claims() -> CodeClaims {
        CodeClaims {
            region: "CN-BJ".into(),
            subject: [1; 16],
            issued_at: time(IAT),
            expires_at: time(IAT + 180),
            colour: Colour::Green,
            reminders: vec![],
            test_recency_days: Some(1),
            vaccination: VaccinationState::BoosterComplete,
            masked_name: "张*".into(),
            masked_document: "11**************2X".into(),
            document_type: DocumentType::ResidentId,
            status_valid_until: time(IAT + 8 * 3600),
        }
    }

    #[test]
    fn payloads_never_read_as_each_other() {
        let code = code_claims().to_cbor().expect("encodes");
        let place = sample().to_cbor().expect("encodes");
        assert!(PlaceClaims::from_cbor(&code).is_err());
        assert!(CodeClaims::from_cbor(&place).is_err());
        // Even a place payload carrying every code key it could: a code's `sub` at key 2 and
        // `exp` at key 4 are the wrong types for a place, and the status claim is unknown.
        let mut e = Encoder::default();
        e.map(4);
        e.uint(1);
        e.text("CN-BJ");
        e.uint(2);
        e.bytes(&[1; 16]);
        e.uint(4);
        e.uint(IAT as u64 + 180);
        e.uint(6);
        e.uint(IAT as u64);
        assert!(PlaceClaims::from_cbor(&e.into_bytes()).is_err());
    }
}
