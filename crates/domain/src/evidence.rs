//! Evidence: what data providers tell us about a person — test results, vaccinations and
//! designations — and what the person declares (`crate::declaration`). Every item carries an [`EvidenceMeta`] so that a status can cite it.
//!
//! This module owns the shapes and their wire names. Where evidence is stored, and who is
//! allowed to submit which kind, are the store's and the server's business.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::declaration::Declaration;
use crate::error::EvidenceError;

/// Checks a provider's record id: 1 to 128 characters of letters, digits and `.-_:` (no `/`,
/// so that every id is one path segment in `/records/{record_id}`).
pub fn check_record_id(raw: &str) -> Result<(), EvidenceError> {
    let ok = (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(EvidenceError::RecordId)
    }
}

/// Where an item of evidence came from: the store's id for it, the provider that submitted it
/// and the provider's own record id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceMeta {
    pub id: i64,
    pub provider: String,
    pub record_id: String,
    /// Revision of the record: 1 for the first submission, +1 for each correction.
    pub revision: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// Nucleic-acid test (核酸).
    Pcr,
    /// Antigen test (抗原).
    Antigen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Negative,
    Positive,
    /// The sample could not be evaluated; it counts for nothing.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub meta: EvidenceMeta,
    pub kind: TestKind,
    pub outcome: TestOutcome,
    pub sampled_at: DateTime<Utc>,
    pub resulted_at: DateTime<Utc>,
}

impl TestResult {
    /// Checks the times against each other and against `now`: a result cannot come before its
    /// sample, nor from the future (a few minutes of clock skew are tolerated).
    pub fn check_times(
        sampled_at: DateTime<Utc>,
        resulted_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), EvidenceError> {
        let skew = chrono::Duration::minutes(5);
        if resulted_at < sampled_at {
            return Err(EvidenceError::ResultBeforeSample);
        }
        if resulted_at > now + skew || sampled_at > now + skew {
            return Err(EvidenceError::InFuture);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VaccinationKind {
    /// A dose of a vaccine; `product` is a code from the policy's vaccine table.
    Dose { number: u8, product: String },
    /// A recorded medical contraindication (不适宜接种).
    Contraindication,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vaccination {
    pub meta: EvidenceMeta,
    pub kind: VaccinationKind,
    pub at: DateTime<Utc>,
}

/// The kinds of designation a CDC or a community office can make. What each does to a status
/// is the policy's decision, not this type's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesignationKind {
    ConfirmedCase,
    CloseContact,
    InboundQuarantine,
    HomeObservation,
    CoPresence,
    RiskAreaVisit,
    CaseCountyStay,
    RiskLink,
    Arrival,
    BorderPortStay,
}

impl DesignationKind {
    pub const ALL: [DesignationKind; 10] = [
        DesignationKind::ConfirmedCase,
        DesignationKind::CloseContact,
        DesignationKind::InboundQuarantine,
        DesignationKind::HomeObservation,
        DesignationKind::CoPresence,
        DesignationKind::RiskAreaVisit,
        DesignationKind::CaseCountyStay,
        DesignationKind::RiskLink,
        DesignationKind::Arrival,
        DesignationKind::BorderPortStay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DesignationKind::ConfirmedCase => "confirmed_case",
            DesignationKind::CloseContact => "close_contact",
            DesignationKind::InboundQuarantine => "inbound_quarantine",
            DesignationKind::HomeObservation => "home_observation",
            DesignationKind::CoPresence => "co_presence",
            DesignationKind::RiskAreaVisit => "risk_area_visit",
            DesignationKind::CaseCountyStay => "case_county_stay",
            DesignationKind::RiskLink => "risk_link",
            DesignationKind::Arrival => "arrival",
            DesignationKind::BorderPortStay => "border_port_stay",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        DesignationKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Designation {
    pub meta: EvidenceMeta,
    pub kind: DesignationKind,
    pub started_at: DateTime<Utc>,
    /// A planned end (a quarantine period); `None` means until released.
    pub ends_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    /// For a designation that follows from a check-in (a risk-area visit, co-presence with a
    /// case): the visit, so that the reason can name the place and the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<crate::venue::Exposure>,
}

impl Designation {
    /// When it stopped (or will stop) being in force, if it does.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        match (self.released_at, self.ends_at) {
            (Some(r), Some(e)) => Some(r.min(e)),
            (r, e) => r.or(e),
        }
    }
}

/// Everything known about one person, as the status engine sees it. Only the latest revision
/// of each record is here; history stays in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub tests: Vec<TestResult>,
    pub vaccinations: Vec<Vaccination>,
    pub designations: Vec<Designation>,
    /// The person's own declarations (自主申报).
    #[serde(default)]
    pub declarations: Vec<Declaration>,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
            && self.vaccinations.is_empty()
            && self.designations.is_empty()
            && self.declarations.is_empty()
    }

    /// The evidence item with store id `id`, for rendering a reason.
    pub fn find(&self, id: i64) -> Option<EvidenceItem<'_>> {
        if let Some(t) = self.tests.iter().find(|t| t.meta.id == id) {
            return Some(EvidenceItem::Test(t));
        }
        if let Some(v) = self.vaccinations.iter().find(|v| v.meta.id == id) {
            return Some(EvidenceItem::Vaccination(v));
        }
        if let Some(d) = self.designations.iter().find(|d| d.meta.id == id) {
            return Some(EvidenceItem::Designation(d));
        }
        self.declarations
            .iter()
            .find(|d| d.meta.id == id)
            .map(EvidenceItem::Declaration)
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvidenceItem<'a> {
    Test(&'a TestResult),
    Vaccination(&'a Vaccination),
    Designation(&'a Designation),
    Declaration(&'a Declaration),
}

/// 2019-12-01T00:00:00Z, before the first case of the epidemic this product was made for.
const EARLIEST_RECORD: i64 = 1_575_158_400;
/// 2100-01-01T00:00:00Z.
const AFTER_LATEST_RECORD: i64 = 4_102_444_800;

/// Whether `t` can be the time of a record: from 2019-12-01 to the end of 2099. Anything else
/// is a mistyped year (1800, 2200), refused rather than stored, by the API and imports alike.
pub fn plausible_time(t: chrono::DateTime<chrono::Utc>) -> bool {
    let secs = t.timestamp();
    (EARLIEST_RECORD..AFTER_LATEST_RECORD).contains(&secs)
}
