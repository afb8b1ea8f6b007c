//! The claims a code carries ([`CodeClaims`]) and their CBOR encoding as a CWT claims set
//! (RFC 8392 §3) with one private claim holding the status.
//!
//! This module owns the claim keys, their value domains and the rules that hold for every code
//! whatever the time (expiry after issue, lifetime at most 24 hours, not outliving the status,
//! reminders in order). It does not own the signature ([`crate::cose`]) or the checks against
//! `now` and the trust list ([`crate::verify`]).

use chrono::{DateTime, TimeDelta, Utc};
use healthcode_domain::{Colour, DocumentType, ReminderKind, VaccinationState};
use serde::{Deserialize, Serialize};

use crate::cbor::{Decoder, Encoder, set_once};
use crate::error::IssueError;

/// The longest a code may be valid: `exp - iat` at most 24 hours.
pub const MAX_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// CWT claim keys (RFC 8392 §4, Table 1).
const CLAIM_ISS: i64 = 1;
const CLAIM_SUB: i64 = 2;
const CLAIM_EXP: i64 = 4;
const CLAIM_IAT: i64 = 6;
/// The private claim holding the status map. RFC 8392 §4 leaves integer keys below -65536
/// for private use.
const CLAIM_STATUS: i64 = -65537;

/// Keys of the status map inside [`CLAIM_STATUS`].
const STATUS_COLOUR: u64 = 1;
const STATUS_REMINDERS: u64 = 2;
const STATUS_TEST_RECENCY: u64 = 3;
const STATUS_VACCINATION: u64 = 4;
const STATUS_MASKED_NAME: u64 = 5;
const STATUS_MASKED_DOCUMENT: u64 = 6;
const STATUS_DOCUMENT_TYPE: u64 = 7;
const STATUS_VALID_UNTIL: u64 = 8;

/// What a code says about its holder. Times are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeClaims {
    /// The issuing region (`iss`), e.g. `CN-BJ`.
    pub region: String,
    /// Pseudonymous subject id (`sub`), the same for every code of one person in one region.
    #[serde(with = "hex")]
    pub subject: [u8; 16],
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp`: the code is refused at and after this instant.
    pub expires_at: DateTime<Utc>,
    pub colour: Colour,
    /// Reminders in force, in their official order (ascending number) without repeats.
    pub reminders: Vec<ReminderKind>,
    /// Days since the last negative test, if there is one.
    pub test_recency_days: Option<u32>,
    pub vaccination: VaccinationState,
    /// The holder's name as shown on the code, e.g. `张*`.
    pub masked_name: String,
    /// The document number as shown on the code, e.g. `11**************2X`.
    pub masked_document: String,
    pub document_type: DocumentType,
    /// When the status shown stops being valid; the code never outlives it.
    pub status_valid_until: DateTime<Utc>,
}

/// Why claims break a rule that holds at any time; see [`CodeClaims::check_rules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleError {
    ExpiresBeforeIssued,
    Lifetime,
    OutlivesStatus,
}

impl CodeClaims {
    /// The rules between the times, in the order a verifier checks them.
    pub(crate) fn check_rules(&self) -> Result<(), RuleError> {
        if self.expires_at < self.issued_at {
            return Err(RuleError::ExpiresBeforeIssued);
        }
        if self.expires_at - self.issued_at > MAX_LIFETIME {
            return Err(RuleError::Lifetime);
        }
        if self.expires_at > self.status_valid_until {
            return Err(RuleError::OutlivesStatus);
        }
        Ok(())
    }

    /// Encodes the claims set as CBOR, refusing claims a verifier would refuse whatever the
    /// time. Map keys are written in the deterministic order of RFC 8949 §4.2.1.
    pub(crate) fn to_cbor(&self) -> Result<Vec<u8>, IssueError> {
        if self.region.is_empty() {
            return Err(IssueError::Claims("region is empty"));
        }
        if !in_official_order(&self.reminders) {
            return Err(IssueError::Claims(
                "reminders must be in their official order without repeats",
            ));
        }
        let iat = epoch_seconds(self.issued_at, "issued_at")?;
        let exp = epoch_seconds(self.expires_at, "expires_at")?;
        let valid_until = epoch_seconds(self.status_valid_until, "status_valid_until")?;
        if exp == iat {
            return Err(IssueError::Claims("expires_at must be after issued_at"));
        }
        self.check_rules().map_err(|e| {
            IssueError::Claims(match e {
                RuleError::ExpiresBeforeIssued => "expires_at must be after issued_at",
                RuleError::Lifetime => "a code may be valid for at most 24 hours",
                RuleError::OutlivesStatus => "expires_at must not be after status_valid_until",
            })
        })?;

        let mut e = Encoder::with_capacity(128 + self.masked_name.len() + self.region.len());
        e.map(5);
        e.int(CLAIM_ISS);
        e.text(&self.region);
        e.int(CLAIM_SUB);
        e.bytes(&self.subject);
        e.int(CLAIM_EXP);
        e.uint(exp);
        e.int(CLAIM_IAT);
        e.uint(iat);
        e.int(CLAIM_STATUS);
        e.map(8);
        e.uint(STATUS_COLOUR);
        e.uint(u64::from(self.colour.code()));
        e.uint(STATUS_REMINDERS);
        e.array(self.reminders.len());
        for r in &self.reminders {
            e.uint(u64::from(r.number()));
        }
        e.uint(STATUS_TEST_RECENCY);
        match self.test_recency_days {
            Some(days) => e.uint(u64::from(days)),
            None => e.null(),
        }
        e.uint(STATUS_VACCINATION);
        e.uint(u64::from(self.vaccination.code()));
        e.uint(STATUS_MASKED_NAME);
        e.text(&self.masked_name);
        e.uint(STATUS_MASKED_DOCUMENT);
        e.text(&self.masked_document);
        e.uint(STATUS_DOCUMENT_TYPE);
        e.uint(u64::from(self.document_type.code()));
        e.uint(STATUS_VALID_UNTIL);
        e.uint(valid_until);
        Ok(e.into_bytes())
    }

    /// Decodes a claims set. Every claim must be present exactly once with a value of its
    /// domain; unknown keys, at the top level or in the status map, are refused. Keys may come
    /// in any order. The whole payload must be consumed.
    pub(crate) fn from_cbor(payload: &[u8]) -> Result<CodeClaims, &'static str> {
        let mut d = Decoder::new(payload);
        let pairs = d.map().map_err(|e| e.explain("claims are not a map"))?;
        let mut iss = None;
        let mut sub = None;
        let mut exp = None;
        let mut iat = None;
        let mut status = None;
        for _ in 0..pairs {
            let key = d
                .int()
                .map_err(|e| e.explain("a claim key is not an integer"))?;
            // Keys beyond i64 are unknown like any other.
            let key = i64::try_from(key).unwrap_or(i64::MIN);
            match key {
                CLAIM_ISS => {
                    let v = d.text().map_err(|e| e.explain("iss is not text"))?;
                    set_once(&mut iss, v.to_owned())?;
                }
                CLAIM_SUB => {
                    let v = d
                        .bytes_fixed::<16>()
                        .map_err(|e| e.explain("sub is not 16 bytes"))?;
                    set_once(&mut sub, v)?;
                }
                CLAIM_EXP => set_once(
                    &mut exp,
                    d.epoch_time()
                        .map_err(|e| e.explain("exp is not an epoch time"))?,
                )?,
                CLAIM_IAT => set_once(
                    &mut iat,
                    d.epoch_time()
                        .map_err(|e| e.explain("iat is not an epoch time"))?,
                )?,
                CLAIM_STATUS => set_once(&mut status, Status::decode(&mut d)?)?,
                _ => return Err("unknown claim"),
            }
        }
        if !d.is_empty() {
            return Err("bytes after the claims map");
        }
        let status = status.ok_or("status claim (-65537) missing")?;
        Ok(CodeClaims {
            region: iss.ok_or("iss missing")?,
            subject: sub.ok_or("sub missing")?,
            issued_at: iat.ok_or("iat missing")?,
            expires_at: exp.ok_or("exp missing")?,
            colour: status.colour,
            reminders: status.reminders,
            test_recency_days: status.test_recency_days,
            vaccination: status.vaccination,
            masked_name: status.masked_name,
            masked_document: status.masked_document,
            document_type: status.document_type,
            status_valid_until: status.valid_until,
        })
    }
}

/// The contents of the private status claim.
struct Status {
    colour: Colour,
    reminders: Vec<ReminderKind>,
    test_recency_days: Option<u32>,
    vaccination: VaccinationState,
    masked_name: String,
    masked_document: String,
    document_type: DocumentType,
    valid_until: DateTime<Utc>,
}

impl Status {
    fn decode(d: &mut Decoder<'_>) -> Result<Status, &'static str> {
        let pairs = d
            .map()
            .map_err(|e| e.explain("status claim is not a map"))?;
        let mut colour = None;
        let mut reminders = None;
        let mut recency = None;
        let mut vaccination = None;
        let mut name = None;
        let mut document = None;
        let mut document_type = None;
        let mut valid_until = None;
        for _ in 0..pairs {
            let key = d
                .uint()
                .map_err(|e| e.explain("a status key is not an unsigned integer"))?;
            match key {
                STATUS_COLOUR => {
                    let v = d.uint().map_err(|e| e.explain("colour is not a number"))?;
                    set_once(&mut colour, Colour::from_code(v).ok_or("unknown colour")?)?;
                }
                STATUS_REMINDERS => set_once(&mut reminders, decode_reminders(d)?)?,
                STATUS_TEST_RECENCY => {
                    let v = if d.null() {
                        None
                    } else {
                        let days = d
                            .uint()
                            .map_err(|e| e.explain("test recency is not a number or null"))?;
                        Some(u32::try_from(days).map_err(|_| "test recency out of range")?)
                    };
                    set_once(&mut recency, v)?;
                }
                STATUS_VACCINATION => {
                    let v = d
                        .uint()
                        .map_err(|e| e.explain("vaccination is not a number"))?;
                    let state =
                        VaccinationState::from_code(v).ok_or("unknown vaccination state")?;
                    set_once(&mut vaccination, state)?;
                }
                STATUS_MASKED_NAME => {
                    let v = d.text().map_err(|e| e.explain("masked name is not text"))?;
                    set_once(&mut name, v.to_owned())?;
                }
                STATUS_MASKED_DOCUMENT => {
                    let v = d
                        .text()
                        .map_err(|e| e.explain("masked document is not text"))?;
                    set_once(&mut document, v.to_owned())?;
                }
                STATUS_DOCUMENT_TYPE => {
                    let v = d
                        .uint()
                        .map_err(|e| e.explain("document type is not a number"))?;
                    let kind = u8::try_from(v)
                        .ok()
                        .and_then(DocumentType::from_code)
                        .ok_or("unknown document type")?;
                    set_once(&mut document_type, kind)?;
                }
                STATUS_VALID_UNTIL => set_once(
                    &mut valid_until,
                    d.epoch_time()
                        .map_err(|e| e.explain("status valid-until is not an epoch time"))?,
                )?,
                _ => return Err("unknown status key"),
            }
        }
        Ok(Status {
            colour: colour.ok_or("colour missing")?,
            reminders: reminders.ok_or("reminders missing")?,
            test_recency_days: recency.ok_or("test recency missing")?,
            vaccination: vaccination.ok_or("vaccination missing")?,
            masked_name: name.ok_or("masked name missing")?,
            masked_document: document.ok_or("masked document missing")?,
            document_type: document_type.ok_or("document type missing")?,
            valid_until: valid_until.ok_or("status valid-until missing")?,
        })
    }
}

fn decode_reminders(d: &mut Decoder<'_>) -> Result<Vec<ReminderKind>, &'static str> {
    let len = d
        .array()
        .map_err(|e| e.explain("reminders are not an array"))?;
    if len > ReminderKind::ALL.len() {
        return Err("more reminders than exist");
    }
    let mut reminders = Vec::with_capacity(len);
    for _ in 0..len {
        let n = d
            .uint()
            .map_err(|e| e.explain("a reminder is not a number"))?;
        reminders.push(ReminderKind::from_number(n).ok_or("unknown reminder")?);
    }
    if !in_official_order(&reminders) {
        return Err("reminders not in their official order without repeats");
    }
    Ok(reminders)
}

/// Strictly ascending by number: the official order, no repeats.
fn in_official_order(reminders: &[ReminderKind]) -> bool {
    reminders.windows(2).all(|w| w[0].number() < w[1].number())
}

/// Whole seconds since the epoch, or why the time cannot be carried.
pub(crate) fn epoch_seconds(time: DateTime<Utc>, field: &'static str) -> Result<u64, IssueError> {
    if time.timestamp_subsec_nanos() != 0 {
        return Err(IssueError::Time(field));
    }
    u64::try_from(time.timestamp()).map_err(|_| IssueError::Time(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CodeClaims {
        let iat = DateTime::from_timestamp(1_777_622_400, 0).expect("in range");
        CodeClaims {
            region: "CN-BJ".into(),
            subject: [9; 16],
            issued_at: iat,
            expires_at: iat + TimeDelta::minutes(3),
            colour: Colour::Yellow,
            reminders: vec![ReminderKind::CaseCountyStay, ReminderKind::RiskLink],
            test_recency_days: None,
            vaccination: VaccinationState::PrimaryComplete,
            masked_name: "*明".into(),
            masked_document: "E*******3".into(),
            document_type: DocumentType::Passport,
            status_valid_until: iat + TimeDelta::hours(8),
        }
    }

    #[test]
    fn round_trips() {
        let claims = sample();
        let bytes = claims.to_cbor().expect("encodes");
        assert_eq!(CodeClaims::from_cbor(&bytes), Ok(claims));
    }

    #[test]
    fn refuses_what_a_verifier_would() {
        let mut c = sample();
        c.reminders = vec![ReminderKind::RiskLink, ReminderKind::CaseCountyStay];
        assert!(matches!(c.to_cbor(), Err(IssueError::Claims(_))));

        let mut c = sample();
        c.issued_at += TimeDelta::milliseconds(5);
        assert_eq!(c.to_cbor(), Err(IssueError::Time("issued_at")));

        let mut c = sample();
        c.expires_at = c.issued_at + TimeDelta::hours(25);
        c.status_valid_until = c.expires_at;
        assert!(matches!(c.to_cbor(), Err(IssueError::Claims(_))));

        let mut c = sample();
        c.expires_at = c.status_valid_until + TimeDelta::seconds(1);
        assert!(matches!(c.to_cbor(), Err(IssueError::Claims(_))));

        let mut c = sample();
        c.expires_at = c.issued_at;
        assert!(matches!(c.to_cbor(), Err(IssueError::Claims(_))));

        let mut c = sample();
        c.status_valid_until = DateTime::from_timestamp(-1, 0).expect("in range");
        assert_eq!(c.to_cbor(), Err(IssueError::Time("status_valid_until")));
    }

    /// Re-encodes the sample with one change to the status map made by `edit`.
    fn with_status(edit: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder::default();
        e.map(5);
        e.uint(1);
        e.text("CN-BJ");
        e.uint(2);
        e.bytes(&[9; 16]);
        e.uint(4);
        e.uint(1_777_622_580);
        e.uint(6);
        e.uint(1_777_622_400);
        e.int(-65537);
        edit(&mut e);
        e.into_bytes()
    }

    fn status_fields(e: &mut Encoder, n: usize) {
        e.uint(1);
        e.uint(0);
        e.uint(2);
        e.array(0);
        e.uint(3);
        e.null();
        e.uint(4);
        e.uint(0);
        e.uint(5);
        e.text("张*");
        e.uint(6);
        e.text("1*2");
        e.uint(7);
        e.uint(1);
        if n == 8 {
            e.uint(8);
            e.uint(1_777_651_200);
        }
    }

    #[test]
    fn status_map_strictness() {
        let ok = with_status(|e| {
            e.map(8);
            status_fields(e, 8);
        });
        assert!(CodeClaims::from_cbor(&ok).is_ok());

        let missing = with_status(|e| {
            e.map(7);
            status_fields(e, 7);
        });
        assert_eq!(
            CodeClaims::from_cbor(&missing),
            Err("status valid-until missing")
        );

        let unknown = with_status(|e| {
            e.map(9);
            status_fields(e, 8);
            e.uint(9);
            e.uint(0);
        });
        assert_eq!(CodeClaims::from_cbor(&unknown), Err("unknown status key"));

        let duplicate = with_status(|e| {
            e.map(9);
            status_fields(e, 8);
            e.uint(1);
            e.uint(0);
        });
        assert_eq!(
            CodeClaims::from_cbor(&duplicate),
            Err("a map key appears twice")
        );
    }

    #[test]
    fn top_level_strictness() {
        let mut bytes = sample().to_cbor().expect("encodes");
        bytes[0] = 0xa6; // claim six pairs …
        bytes.extend_from_slice(&[0x07, 0x40]); // … the sixth is cti (7), unknown here
        assert_eq!(CodeClaims::from_cbor(&bytes), Err("unknown claim"));

        let mut trailing = sample().to_cbor().expect("encodes");
        trailing.push(0x00);
        assert_eq!(
            CodeClaims::from_cbor(&trailing),
            Err("bytes after the claims map")
        );
    }
}
