//! Paper passes (纸质通行证): the signed QR printed on a sheet for someone with no phone. It names
//! the pass, not a status: a status printed on paper goes stale, so a gate resolves the pass
//! online to the holder's current status.
//!
//! A paper pass is `HCZ1:` (Z for 纸, paper) followed by base45 (RFC 9285) of a COSE_Sign1
//! (RFC 9052 §4.2) made by [`crate::cose`] with the region's code-signing key, the envelope
//! codes and place codes use. The payload is a CBOR map (RFC 8949, deterministic order of
//! §4.2.1):
//!
//! ```text
//! {1: region (text), 2: serial (16 bytes), 3: issued at (uint, Unix seconds), 4: "pass",
//!  5: masked name (text), 6: masked document (text), 7: document type (uint)}
//! ```
//!
//! As with place codes, the prefix is not signed, so the payload says what it is: key 4 holds
//! the text `"pass"` (a code's `exp` is an integer, a place code's marker is `"place"`), key 2
//! is a byte string (a place code's venue is an integer), keys 5 to 7 are unknown to a place
//! payload and key 3 to a code's claims, and every decoder refuses a key it does not know. So
//! the signed bytes of one kind never read as another, whatever prefix they are put behind.
//!
//! This module owns the payload and issuing; verification is [`crate::Verifier::verify_pass`].
//! A pass has no expiry: it lives until the region revokes its serial (a gate asks online) or
//! drops the key that signed it.

use chrono::{DateTime, Utc};
use healthcode_domain::DocumentType;
use serde::{Deserialize, Serialize};

use crate::cbor::{Decoder, Encoder, non_empty_text, set_once};
use crate::claims::epoch_seconds;
use crate::code::signed_text;
use crate::error::IssueError;
use crate::keys::SigningKey;

/// The prefix of every paper pass, in the QR alphanumeric set. It differs from
/// [`crate::PREFIX`] and [`crate::PLACE_PREFIX`] so that a gate can tell the three apart
/// before decoding; the payload's marker is what makes the difference binding.
pub const PASS_PREFIX: &str = "HCZ1:";

/// Keys of the pass payload map.
const PASS_REGION: u64 = 1;
const PASS_SERIAL: u64 = 2;
const PASS_ISSUED_AT: u64 = 3;
const PASS_KIND: u64 = 4;
const PASS_MASKED_NAME: u64 = 5;
const PASS_MASKED_DOCUMENT: u64 = 6;
const PASS_DOCUMENT_TYPE: u64 = 7;
/// The value of [`PASS_KIND`]: text, so never a CWT `exp`, and not `"place"`.
const PASS_MARKER: &str = "pass";

/// What a paper pass says: which pass of which region, and whom it was printed for (masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassClaims {
    /// The region whose key signed the pass, e.g. `CN-BJ`.
    pub region: String,
    /// The pass's serial in that region's registry: random, looked up online.
    #[serde(with = "hex")]
    pub serial: [u8; 16],
    /// When the pass was issued, in whole seconds.
    pub issued_at: DateTime<Utc>,
    /// The holder's name as printed, e.g. `张*`.
    pub masked_name: String,
    /// The document number as printed, e.g. `11**************2X`.
    pub masked_document: String,
    pub document_type: DocumentType,
}

impl PassClaims {
    /// Encodes the payload, refusing claims no verifier would accept: an empty region, name or
    /// document, a time before 1970 or with a fraction of a second.
    pub(crate) fn to_cbor(&self) -> Result<Vec<u8>, IssueError> {
        if self.region.is_empty() {
            return Err(IssueError::Claims("region is empty"));
        }
        if self.masked_name.is_empty() || self.masked_document.is_empty() {
            return Err(IssueError::Claims("a pass names its holder"));
        }
        let iat = epoch_seconds(self.issued_at, "issued_at")?;
        let mut e = Encoder::with_capacity(
            64 + self.region.len() + self.masked_name.len() + self.masked_document.len(),
        );
        e.map(7);
        e.uint(PASS_REGION);
        e.text(&self.region);
        e.uint(PASS_SERIAL);
        e.bytes(&self.serial);
        e.uint(PASS_ISSUED_AT);
        e.uint(iat);
        e.uint(PASS_KIND);
        e.text(PASS_MARKER);
        e.uint(PASS_MASKED_NAME);
        e.text(&self.masked_name);
        e.uint(PASS_MASKED_DOCUMENT);
        e.text(&self.masked_document);
        e.uint(PASS_DOCUMENT_TYPE);
        e.uint(u64::from(self.document_type.code()));
        Ok(e.into_bytes())
    }

    /// Decodes a pass payload. Every key must be present exactly once, the marker must be
    /// `"pass"`, unknown keys are refused and the whole payload must be consumed. Keys may come
    /// in any order.
    pub(crate) fn from_cbor(payload: &[u8]) -> Result<PassClaims, &'static str> {
        let mut d = Decoder::new(payload);
        let pairs = d
            .map()
            .map_err(|e| e.explain("pass payload is not a map"))?;
        let mut region = None;
        let mut serial = None;
        let mut iat = None;
        let mut marker = None;
        let mut name = None;
        let mut document = None;
        let mut document_type = None;
        for _ in 0..pairs {
            let key = d
                .uint()
                .map_err(|e| e.explain("a pass key is not an unsigned integer"))?;
            match key {
                PASS_REGION => set_once(
                    &mut region,
                    non_empty_text(&mut d, "region is not text", "region is empty")?.to_owned(),
                )?,
                PASS_SERIAL => set_once(
                    &mut serial,
                    d.bytes_fixed::<16>()
                        .map_err(|e| e.explain("serial is not 16 bytes"))?,
                )?,
                PASS_ISSUED_AT => set_once(
                    &mut iat,
                    d.epoch_time()
                        .map_err(|e| e.explain("issued-at is not an epoch time"))?,
                )?,
                PASS_KIND => {
                    let v = d
                        .text()
                        .map_err(|e| e.explain("the pass marker is not text"))?;
                    if v != PASS_MARKER {
                        return Err("the marker does not say \"pass\"");
                    }
                    set_once(&mut marker, ())?;
                }
                PASS_MASKED_NAME => set_once(
                    &mut name,
                    non_empty_text(&mut d, "masked name is not text", "masked name is empty")?
                        .to_owned(),
                )?,
                PASS_MASKED_DOCUMENT => set_once(
                    &mut document,
                    non_empty_text(
                        &mut d,
                        "masked document is not text",
                        "masked document is empty",
                    )?
                    .to_owned(),
                )?,
                PASS_DOCUMENT_TYPE => {
                    let v = d
                        .uint()
                        .map_err(|e| e.explain("document type is not a number"))?;
                    let kind = u8::try_from(v)
                        .ok()
                        .and_then(DocumentType::from_code)
                        .ok_or("unknown document type")?;
                    set_once(&mut document_type, kind)?;
                }
                _ => return Err("unknown pass key"),
            }
        }
        if !d.is_empty() {
            return Err("bytes after the pass map");
        }
        marker.ok_or("the pass marker (4) is missing")?;
        Ok(PassClaims {
            region: region.ok_or("region missing")?,
            serial: serial.ok_or("serial missing")?,
            issued_at: iat.ok_or("issued-at missing")?,
            masked_name: name.ok_or("masked name missing")?,
            masked_document: document.ok_or("masked document missing")?,
            document_type: document_type.ok_or("document type missing")?,
        })
    }
}

/// Encodes and signs `claims` with the region's code-signing key; returns the `HCZ1:…` text to
/// print as a QR code.
///
/// Fails only for claims no verifier would accept: an empty region, name or document, or an
/// issue time before 1970 or with a fraction of a second.
pub fn issue_pass(claims: &PassClaims, key: &SigningKey) -> Result<String, IssueError> {
    Ok(signed_text(PASS_PREFIX, &claims.to_cbor()?, key))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    //! The payload's strictness, and refusals that need passes no honest issuer makes: built
    //! here with the crate's own encoder and signed with a listed key, so that the check under
    //! test is the one that fails and not the signature.

    use super::*;
    use crate::claims::CodeClaims;
    use crate::error::VerifyError;
    use crate::place::PlaceClaims;
    use crate::trust_list::{KeyUsage, TrustList, TrustedKey};
    use crate::verify::Verifier;
    use crate::{base45, cose};

    const IAT: i64 = 1_777_622_400; // 2026-05-01T08:00:00Z
    const SERIAL: [u8; 16] = [0xa5; 16];

    fn time(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("in range")
    }

    fn key() -> SigningKey {
        SigningKey::from_seed(&[7u8; 32])
    }

    fn sample() -> PassClaims {
        PassClaims {
            region: "CN-BJ".into(),
            serial: SERIAL,
            issued_at: time(IAT),
            masked_name: "张*".into(),
            masked_document: "11**************2X".into(),
            document_type: DocumentType::ResidentId,
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

    fn signed(payload: &[u8]) -> String {
        format!(
            "{PASS_PREFIX}{}",
            base45::encode(&cose::sign(payload, &key()))
        )
    }

    enum Value {
        Uint(u64),
        Text(&'static str),
        Bytes(&'static [u8]),
    }

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

    fn good_entries() -> Vec<(u64, Value)> {
        vec![
            (1, Value::Text("CN-BJ")),
            (2, Value::Bytes(&SERIAL)),
            (3, Value::Uint(IAT as u64)),
            (4, Value::Text("pass")),
            (5, Value::Text("张*")),
            (6, Value::Text("11**************2X")),
            (7, Value::Uint(1)),
        ]
    }

    #[test]
    fn encodes_in_deterministic_order_and_round_trips() {
        let bytes = sample().to_cbor().expect("encodes");
        assert_eq!(bytes, payload(&good_entries()));
        assert_eq!(PassClaims::from_cbor(&bytes), Ok(sample()));
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
        assert_eq!(keys, (1..=7).map(Some).collect::<Vec<_>>());
        assert_eq!(map[1].1.as_bytes().map(Vec::as_slice), Some(&SERIAL[..]));
        assert_eq!(map[3].1.as_text(), Some("pass"));
        assert_eq!(map[4].1.as_text(), Some("张*"));
    }

    #[test]
    fn any_key_order_is_read() {
        let mut entries = good_entries();
        entries.reverse();
        assert_eq!(PassClaims::from_cbor(&payload(&entries)), Ok(sample()));
    }

    #[test]
    fn issuing_refuses_what_a_verifier_would() {
        let empty_name = PassClaims {
            masked_name: String::new(),
            ..sample()
        };
        assert_eq!(
            issue_pass(&empty_name, &key()),
            Err(IssueError::Claims("a pass names its holder"))
        );
        let empty_region = PassClaims {
            region: String::new(),
            ..sample()
        };
        assert_eq!(
            issue_pass(&empty_region, &key()),
            Err(IssueError::Claims("region is empty"))
        );
        let early = PassClaims {
            issued_at: time(-1),
            ..sample()
        };
        assert_eq!(
            issue_pass(&early, &key()),
            Err(IssueError::Time("issued_at"))
        );
    }

    #[test]
    fn wrong_or_missing_marker_is_refused_even_when_signed() {
        for marker in [Value::Text("place"), Value::Text(""), Value::Uint(1)] {
            let mut entries = good_entries();
            entries[3].1 = marker;
            let err = verifier()
                .verify_pass(&signed(&payload(&entries)), time(IAT))
                .expect_err("refused");
            assert!(matches!(err, VerifyError::PassClaims(_)), "{err:?}");
            assert_eq!(err.code(), "pass_claims");
        }
        let mut entries = good_entries();
        entries.remove(3);
        assert_eq!(
            verifier().verify_pass(&signed(&payload(&entries)), time(IAT)),
            Err(VerifyError::PassClaims("the pass marker (4) is missing"))
        );
    }

    #[test]
    fn payload_strictness() {
        let mut unknown = good_entries();
        unknown.push((8, Value::Uint(0)));
        assert_eq!(
            PassClaims::from_cbor(&payload(&unknown)),
            Err("unknown pass key")
        );
        let mut duplicate = good_entries();
        duplicate.push((2, Value::Bytes(&SERIAL)));
        assert_eq!(
            PassClaims::from_cbor(&payload(&duplicate)),
            Err("a map key appears twice")
        );
        let mut trailing = payload(&good_entries());
        trailing.push(0x00);
        assert_eq!(
            PassClaims::from_cbor(&trailing),
            Err("bytes after the pass map")
        );
        let mut short_serial = good_entries();
        short_serial[1].1 = Value::Bytes(&[1; 15]);
        assert!(PassClaims::from_cbor(&payload(&short_serial)).is_err());
        let mut int_serial = good_entries();
        int_serial[1].1 = Value::Uint(4207);
        assert!(PassClaims::from_cbor(&payload(&int_serial)).is_err());
        let mut empty_name = good_entries();
        empty_name[4].1 = Value::Text("");
        assert_eq!(
            PassClaims::from_cbor(&payload(&empty_name)),
            Err("masked name is empty")
        );
        let mut doc_type = good_entries();
        doc_type[6].1 = Value::Uint(99);
        assert_eq!(
            PassClaims::from_cbor(&payload(&doc_type)),
            Err("unknown document type")
        );
        let mut no_serial = good_entries();
        no_serial.remove(1);
        assert_eq!(
            PassClaims::from_cbor(&payload(&no_serial)),
            Err("serial missing")
        );
        let whole = payload(&good_entries());
        assert!(PassClaims::from_cbor(&whole[..whole.len() - 1]).is_err());
    }

    #[test]
    fn payloads_of_the_three_kinds_never_read_as_each_other() {
        let pass = sample().to_cbor().expect("encodes");
        let place = PlaceClaims {
            region: "CN-BJ".into(),
            venue_id: 4207,
            issued_at: time(IAT),
        }
        .to_cbor()
        .expect("encodes");
        let code = CodeClaims {
            region: "CN-BJ".into(),
            subject: SERIAL,
            issued_at: time(IAT),
            expires_at: time(IAT + 180),
            colour: healthcode_domain::Colour::Green,
            reminders: vec![],
            test_recency_days: None,
            vaccination: healthcode_domain::VaccinationState::NoRecord,
            masked_name: "张*".into(),
            masked_document: "11**************2X".into(),
            document_type: DocumentType::ResidentId,
            status_valid_until: time(IAT + 3600),
        }
        .to_cbor()
        .expect("encodes");
        assert!(PassClaims::from_cbor(&place).is_err());
        assert!(PassClaims::from_cbor(&code).is_err());
        assert!(PlaceClaims::from_cbor(&pass).is_err());
        assert!(CodeClaims::from_cbor(&pass).is_err());
    }
}
