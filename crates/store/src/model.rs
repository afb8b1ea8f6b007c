//! The store's records, in the domain's terms.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_domain::{
    DesignationKind, DocumentNumber, PersonName, PhoneNumber, TestKind, TestOutcome,
    VaccinationKind,
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
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Lab,
        ProviderKind::Vaccination,
        ProviderKind::Cdc,
        ProviderKind::Community,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Lab => "lab",
            ProviderKind::Vaccination => "vaccination",
            ProviderKind::Cdc => "cdc",
            ProviderKind::Community => "community",
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
            ProviderKind::Lab | ProviderKind::Vaccination => false,
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
    },
}

impl EvidenceBody {
    pub fn category(&self) -> &'static str {
        match self {
            EvidenceBody::Test { .. } => "test",
            EvidenceBody::Vaccination { .. } => "vaccination",
            EvidenceBody::Designation { .. } => "designation",
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

/// One row of the change feed: an evidence row's id and the people whose status it changes
/// (its subject, and the previous subject when a correction moved the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub subjects: Vec<DocIndex>,
}
