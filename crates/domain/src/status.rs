//! The result of the status engine: colour, reminders, test recency, vaccination state,
//! validity and the reasons, each citing evidence by its store id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::evidence::DesignationKind;

/// The code colour. Ordered by severity: `Green < Yellow < Red`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// 未见异常 — nothing abnormal found.
    Green,
    /// 居家观察 — home observation.
    Yellow,
    /// 集中观察 — centralised observation.
    Red,
}

impl Colour {
    pub fn label_zh(self) -> &'static str {
        match self {
            Colour::Green => "未见异常",
            Colour::Yellow => "居家观察",
            Colour::Red => "集中观察",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Colour::Green => "No abnormality found",
            Colour::Yellow => "Home observation",
            Colour::Red => "Centralised observation",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Colour::Green),
            1 => Some(Colour::Yellow),
            2 => Some(Colour::Red),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }
}

/// The pop-up reminders (弹窗), after Beijing's 2022 set. Each blocks entry until cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// 1: stayed in a county with local cases within 14 days.
    CaseCountyStay = 1,
    /// 2: inbound quarantine ended less than 21 days ago.
    InboundQuarantine = 2,
    /// 3: a time-and-place link to a risk area, venue or case.
    RiskLink = 3,
    /// 4: no test within 72 hours of arrival.
    ArrivalUntested = 4,
    /// 5: stayed near a land border port within 14 days.
    BorderPortStay = 5,
    /// 6: the person declared symptoms (自主申报) and has had no negative PCR since they
    /// began. Not one of Beijing's five: added so that a declaration is never shown as one of
    /// them.
    SymptomsDeclared = 6,
}

impl ReminderKind {
    pub const ALL: [ReminderKind; 6] = [
        ReminderKind::CaseCountyStay,
        ReminderKind::InboundQuarantine,
        ReminderKind::RiskLink,
        ReminderKind::ArrivalUntested,
        ReminderKind::BorderPortStay,
        ReminderKind::SymptomsDeclared,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u64) -> Option<Self> {
        ReminderKind::ALL
            .into_iter()
            .find(|r| u64::from(r.number()) == n)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReminderKind::CaseCountyStay => "14天内有本土疫情县(市、区、旗)旅居史",
            ReminderKind::InboundQuarantine => "入境人员集中隔离期满未满21天",
            ReminderKind::RiskLink => "与风险区域、场所或病例存在时空关联",
            ReminderKind::ArrivalUntested => "抵达后72小时内未进行核酸检测",
            ReminderKind::BorderPortStay => "14天内有陆地边境口岸城市旅居史",
            ReminderKind::SymptomsDeclared => "自主申报有发热等症状，尚未进行核酸检测",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ReminderKind::CaseCountyStay => "Stayed in a county with local cases within 14 days",
            ReminderKind::InboundQuarantine => "Inbound quarantine ended less than 21 days ago",
            ReminderKind::RiskLink => "Time-and-place link to a risk area, venue or case",
            ReminderKind::ArrivalUntested => "No test within 72 hours of arrival",
            ReminderKind::BorderPortStay => "Stayed near a land border port within 14 days",
            ReminderKind::SymptomsDeclared => "Declared symptoms, no PCR test since",
        }
    }
}

/// 完成加强免疫 / 完成基础免疫 / 未完成基础免疫 / 不适宜接种 / 未查询到接种信息.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaccinationState {
    BoosterComplete,
    PrimaryComplete,
    PrimaryIncomplete,
    NotSuitable,
    NoRecord,
}

impl VaccinationState {
    pub const ALL: [VaccinationState; 5] = [
        VaccinationState::BoosterComplete,
        VaccinationState::PrimaryComplete,
        VaccinationState::PrimaryIncomplete,
        VaccinationState::NotSuitable,
        VaccinationState::NoRecord,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u64) -> Option<Self> {
        VaccinationState::ALL
            .into_iter()
            .find(|v| u64::from(v.code()) == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            VaccinationState::BoosterComplete => "完成加强免疫",
            VaccinationState::PrimaryComplete => "完成基础免疫",
            VaccinationState::PrimaryIncomplete => "未完成基础免疫",
            VaccinationState::NotSuitable => "不适宜接种",
            VaccinationState::NoRecord => "未查询到接种信息",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            VaccinationState::BoosterComplete => "Booster complete",
            VaccinationState::PrimaryComplete => "Primary series complete",
            VaccinationState::PrimaryIncomplete => "Primary series incomplete",
            VaccinationState::NotSuitable => "Not suitable for vaccination",
            VaccinationState::NoRecord => "No vaccination record found",
        }
    }
}

/// Days since the last negative test, as shown on a code (0天, 1天, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRecency {
    pub days: u32,
    /// The policy's reading of `days` in hours (0天 = within 24 hours, 1天 = within 48, …).
    pub within_hours: u32,
    pub sampled_at: DateTime<Utc>,
    pub evidence: i64,
}

/// Why a status is what it is. `evidence` is the store id of the item it cites, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// A designation in force that sets the colour.
    Designation {
        kind: DesignationKind,
        colour: Colour,
        evidence: i64,
    },
    /// An antigen-positive result with no PCR sampled since.
    AntigenPositiveAwaitingPcr { colour: Colour, evidence: i64 },
    /// A PCR-positive result with no negative PCR sampled since.
    PcrPositive { colour: Colour, evidence: i64 },
    /// A reminder in force, caused by the cited designation.
    Reminder {
        reminder: ReminderKind,
        evidence: i64,
        /// When it lapses by itself, if it does.
        until: Option<DateTime<Utc>>,
        /// Whether a negative test sampled after it clears it.
        cleared_by_negative_test: bool,
    },
    /// Nothing that changes the colour is in force.
    NoRisk,
    /// No evidence at all yet (健康宝暂无您的防疫信息).
    NoData,
}

impl Reason {
    pub fn evidence(&self) -> Option<i64> {
        match self {
            Reason::Designation { evidence, .. }
            | Reason::AntigenPositiveAwaitingPcr { evidence, .. }
            | Reason::PcrPositive { evidence, .. }
            | Reason::Reminder { evidence, .. } => Some(*evidence),
            Reason::NoRisk | Reason::NoData => None,
        }
    }
}

/// A person's status at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub colour: Colour,
    /// Reminders in force, in their official order, without repeats.
    pub reminders: Vec<ReminderKind>,
    pub test_recency: Option<TestRecency>,
    pub vaccination: VaccinationState,
    /// The instant the status was computed for.
    pub evaluated_at: DateTime<Utc>,
    /// Never after 24:00 local time of `evaluated_at`'s day; earlier when something in the
    /// evidence is due to lapse before then.
    pub valid_until: DateTime<Utc>,
    pub reasons: Vec<Reason>,
    /// True when there is no evidence at all for this person.
    pub no_data: bool,
}
