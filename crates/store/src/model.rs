//! The store's records, in the domain's terms.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_domain::{
    Declared, DesignationKind, DocumentNumber, Exposure, PersonName, PhoneNumber, TestKind,
    TestOutcome, VaccinationKind,
};

use crate::vault::DocIndex;

/// Which kind of data provider a credential belongs to. Each kind may submit one category of
/// evidence (see [`ProviderKind::may_designate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Lab,
    Vaccination,
    Cdc,
    Community,
    /// The health authority's operators: venues, risk areas, confirmed cases and their
    /// contacts. Submits no evidence of its own over the evidence endpoints.
    Operator,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Lab,
        ProviderKind::Vaccination,
        ProviderKind::Cdc,
        ProviderKind::Community,
        ProviderKind::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Lab => "lab",
            ProviderKind::Vaccination => "vaccination",
            ProviderKind::Cdc => "cdc",
            ProviderKind::Community => "community",
            ProviderKind::Operator => "operator",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Designations this kind of provider may make and release. The CDC owns the red
    /// designations and the epidemiological reminders; community offices own home observation
    /// and arrival registration (返京报备).
    pub fn may_designate(self, kind: DesignationKind) -> bool {
        use DesignationKind::*;
        match self {
            ProviderKind::Cdc => matches!(
                kind,
                ConfirmedCase
                    | CloseContact
                    | InboundQuarantine
                    | CoPresence
                    | RiskAreaVisit
                    | CaseCountyStay
                    | RiskLink
                    | BorderPortStay
            ),
            ProviderKind::Community => matches!(kind, HomeObservation | Arrival | RiskLink),
            ProviderKind::Lab | ProviderKind::Vaccination | ProviderKind::Operator => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: i64,
    pub kind: ProviderKind,
    pub name: String,
}

/// A registered person, decrypted.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub doc_index: DocIndex,
    pub document: DocumentNumber,
    pub name: PersonName,
    pub phone: Option<PhoneNumber>,
    /// Pseudonymous subject id carried in codes; random, unrelated to the document.
    pub subject: [u8; 16],
    pub created_at: DateTime<Utc>,
}

/// The body of one evidence record, as a provider states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "category", rename_all = "snake_case")]
pub enum EvidenceBody {
    Test {
        kind: TestKind,
        outcome: TestOutcome,
        sampled_at: DateTime<Utc>,
        resulted_at: DateTime<Utc>,
    },
    Vaccination {
        kind: VaccinationKind,
        at: DateTime<Utc>,
    },
    Designation {
        kind: DesignationKind,
        started_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
        released_at: Option<DateTime<Utc>>,
        /// The visit a venue-derived designation follows from (see [`Exposure`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exposure: Option<Exposure>,
    },
    /// A person's own declaration (自主申报), recorded under the self-declared provider
    /// ([`crate::Store::declare`]).
    Declaration {
        declared: Declared,
        declared_at: DateTime<Utc>,
    },
}

impl EvidenceBody {
    pub fn category(&self) -> &'static str {
        match self {
            EvidenceBody::Test { .. } => "test",
            EvidenceBody::Vaccination { .. } => "vaccination",
            EvidenceBody::Designation { .. } => "designation",
            EvidenceBody::Declaration { .. } => "declaration",
        }
    }
}

/// A submission of one record: who, which record, about whom, what.
#[derive(Debug, Clone)]
pub struct Submission {
    pub provider_id: i64,
    pub record_id: String,
    pub subject: DocIndex,
    pub body: EvidenceBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// First submission of this record id.
    Created,
    /// Same record id, same content: nothing changed.
    Unchanged,
    /// Same record id, different content: stored as a new revision; the old one is kept.
    Corrected,
}

/// What the store did with a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub revision: u32,
    pub outcome: Outcome,
    /// Whom the record is about now.
    pub subject: DocIndex,
    /// For a correction that moved the record to another person: the earlier subject, whose
    /// status changes too.
    pub previous_subject: Option<DocIndex>,
}

/// One revision of a record, for history views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    pub id: i64,
    pub revision: u32,
    pub current: bool,
    pub body: EvidenceBody,
    pub received_at: DateTime<Utc>,
}

/// How much of one connection pool is in use, for the server's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Which pool: `main` (every read, and writes where the database takes them in
    /// parallel), or `writer` (SQLite's one writing connection).
    pub pool: &'static str,
    /// Connections open, idle or not.
    pub open: u32,
    /// Open connections not lent to anyone.
    pub idle: usize,
    /// The most the pool opens.
    pub max: u32,
}

/// One row of the change feed: an evidence row's id and the people whose status it changes
/// (its subject, and the previous subject when a correction moved the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub subjects: Vec<DocIndex>,
}

/// A place people check in at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    pub id: i64,
    pub name: String,
    /// The venue type, one of the policy's `[venues.*]`.
    pub kind: String,
    pub district: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
}

/// A gate device of one venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: i64,
    pub venue_id: i64,
    pub name: String,
    /// When it was added: it can have recorded no check-in before.
    pub created_at: DateTime<Utc>,
    /// The latest check-in time among the rows it has uploaded (none yet: `None`).
    pub upload_high_water: Option<DateTime<Utc>>,
    /// When a browser or key holder took its credential: at once for a device added with a
    /// key ([`crate::Venues::add_device`]), at the redemption of its one-time link for one
    /// added pending ([`crate::Venues::add_pending_device`]); `None` until then.
    pub enrolled_at: Option<DateTime<Utc>>,
    /// When it was revoked: its key no longer works, and it cannot be enrolled again.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A person who manages a venue in the gate app (see [`crate::Venues::assign_manager`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueManager {
    /// The assignment's id.
    pub id: i64,
    pub venue_id: i64,
    pub person_id: i64,
    pub assigned_at: DateTime<Utc>,
}

/// The check-ins at a venue in one hour (see [`crate::Venues::hourly_checkins`]): counts
/// only, nothing about anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    /// The start of the UTC hour.
    pub hour: DateTime<Utc>,
    /// Every check-in of the hour, flagged ones included.
    pub checkins: i64,
    /// Those the door stopped (not passed).
    pub stopped: i64,
}

/// How a check-in was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckinMethod {
    /// A gate scanned the person's code.
    Gate,
    /// The person scanned the venue's place code.
    SelfScan,
    /// A gate looked the person up by document number (digital sentinel).
    Sentinel,
}

impl CheckinMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckinMethod::Gate => "gate",
            CheckinMethod::SelfScan => "self_scan",
            CheckinMethod::Sentinel => "sentinel",
        }
    }

    pub fn parse(raw: &str) -> Option<CheckinMethod> {
        [
            CheckinMethod::Gate,
            CheckinMethod::SelfScan,
            CheckinMethod::Sentinel,
        ]
        .into_iter()
        .find(|m| m.as_str() == raw)
    }
}

/// One check-in: who (the pseudonymous subject of their code), where, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckin {
    pub venue_id: i64,
    pub subject: [u8; 16],
    pub at: DateTime<Utc>,
    pub method: CheckinMethod,
    /// Whether the door let them in.
    pub passed: bool,
    /// The gate and its sequence number, for check-ins a gate recorded: unique together, so
    /// that a batch uploaded twice is stored once.
    pub device: Option<(i64, i64)>,
    /// Kept for review, not used for exposure: a device dated it well before check-ins it
    /// had already uploaded (see `docs/SECURITY.md`).
    pub flagged: bool,
}

/// A stored check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkin {
    pub id: i64,
    pub venue_id: i64,
    #[serde(skip)]
    pub subject: [u8; 16],
    pub at: DateTime<Utc>,
    pub method: CheckinMethod,
    pub passed: bool,
    /// Kept for review and left out of risk areas and co-presence.
    pub flagged: bool,
}

/// What a batch of check-ins did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckinsStored {
    pub stored: u64,
    /// Already stored (same device and sequence number): ignored.
    pub duplicates: u64,
}

/// A visit of someone else at a venue while a case was there (see [`crate::Venues::co_present`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoPresent {
    pub case_subject: [u8; 16],
    pub venue_id: i64,
    pub case_at: DateTime<Utc>,
    pub subject: [u8; 16],
    pub at: DateTime<Utc>,
}

/// An operator's risk-area designation: a set of venues (or every venue of a district) and a
/// window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskArea {
    pub id: i64,
    pub name: String,
    pub level: healthcode_domain::RiskLevel,
    pub district: Option<String>,
    pub venue_ids: Vec<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub provider_id: i64,
    pub created_at: DateTime<Utc>,
}

/// A new risk area; `district` or `venue_ids` (or both) say where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRiskArea {
    pub name: String,
    pub level: healthcode_domain::RiskLevel,
    pub district: Option<String>,
    pub venue_ids: Vec<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub provider_id: i64,
}

/// One purge of old check-ins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purge {
    pub id: i64,
    /// The local day of the run, `YYYY-MM-DD`.
    pub day: String,
    pub deleted: u64,
    /// Check-ins before this instant were deleted.
    pub cutoff: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// One entry of the access log: who read personal data (or was refused), what for, how much.
/// It names the reader, never the person read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// `device:ID`, `provider:ID`.
    pub actor: String,
    pub action: String,
    pub purpose: String,
    /// `ok`, or why it was refused (`rate_limited`, `not_found`, …).
    pub outcome: String,
    /// How many people's records were read.
    pub records: u64,
    pub at: DateTime<Utc>,
}

/// A current designation record, as found by [`crate::Venues::designations_with_prefix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRecord {
    pub record_id: String,
    pub subject: DocIndex,
    pub body: EvidenceBody,
}

/// A resident's WebAuthn credential, unrevoked. `passkey` is the credential as the server's
/// WebAuthn library serializes it (public key, sign counter); the store does not read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: i64,
    pub person_id: i64,
    /// The authenticator's credential id, by which a sign-in names the passkey.
    pub credential_id: Vec<u8>,
    pub passkey: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A printed pass for someone with no phone. Its QR names `serial`; the status shown is the
/// person's current one, looked up online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperPass {
    /// 16 random bytes: they identify the pass and say nothing about the person.
    pub serial: [u8; 16],
    pub person_id: i64,
    pub created_at: DateTime<Utc>,
    /// When it was revoked (reprinted, or revoked on its own): such a pass shows no status.
    pub revoked_at: Option<DateTime<Utc>>,
}
