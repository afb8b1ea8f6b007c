//! Venues and their doors: the entry policy of each venue type, the decision a gate makes
//! from what a code shows, and the exposure a check-in can lead to.
//!
//! The policy document names the venue types and their entry rules (`[venues.*]`), how long
//! check-ins are kept and how co-presence is judged (`[checkins]`), and what a visit to a
//! designated risk area does (`[risk_areas]`); [`crate::Policy`] compiles them. This module
//! owns the decision itself, which reads no clock: a gate passes what its code says.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::evidence::DesignationKind;
use crate::status::{Colour, ReminderKind, VaccinationState};

/// What a venue type requires at its door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPolicy {
    /// The venue type, as the policy names it (`subway`, `mall`, …).
    pub kind: String,
    pub label_zh: String,
    pub label_en: String,
    /// The worst colour let in (almost always green).
    pub max_colour: Colour,
    /// A negative test within this many hours, if required. Codes show days since the last
    /// negative sample; a code showing `d` days stands for a test within `(d + 1) × 24` hours.
    pub test_within_hours: Option<u32>,
    /// The vaccination the door requires, if any.
    pub vaccination: Option<VaccinationRequirement>,
    /// Whether a reminder (弹窗) in force stops the holder at this door.
    pub reminders_block: bool,
}

/// The vaccination a door requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaccinationRequirement {
    /// The primary series complete (a booster counts too); 不适宜接种 is accepted.
    PrimaryComplete,
    /// A booster; 不适宜接种 is accepted.
    BoosterComplete,
}

impl VaccinationRequirement {
    fn met_by(self, state: VaccinationState) -> bool {
        match self {
            VaccinationRequirement::PrimaryComplete => matches!(
                state,
                VaccinationState::PrimaryComplete
                    | VaccinationState::BoosterComplete
                    | VaccinationState::NotSuitable
            ),
            VaccinationRequirement::BoosterComplete => matches!(
                state,
                VaccinationState::BoosterComplete | VaccinationState::NotSuitable
            ),
        }
    }
}

/// What a gate reads off a verified code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented<'a> {
    pub colour: Colour,
    pub reminders: &'a [ReminderKind],
    pub test_recency_days: Option<u32>,
    pub vaccination: VaccinationState,
}

/// Why a gate stops someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum StopReason {
    Colour {
        colour: Colour,
        allowed: Colour,
    },
    Reminder {
        reminder: ReminderKind,
    },
    NoRecentTest {
        required_hours: u32,
        /// Days since the last negative test on the code, if it shows one.
        days: Option<u32>,
    },
    Vaccination {
        required: VaccinationRequirement,
        state: VaccinationState,
    },
}

impl StopReason {
    pub fn text_zh(&self) -> String {
        match self {
            StopReason::Colour { colour, .. } => format!("健康码为{}", colour.label_zh()),
            StopReason::Reminder { reminder } => format!("弹窗:{}", reminder.label_zh()),
            StopReason::NoRecentTest {
                required_hours,
                days,
            } => match days {
                Some(d) => format!("需{required_hours}小时内核酸阴性证明(最近一次为{d}天前)"),
                None => format!("需{required_hours}小时内核酸阴性证明(无记录)"),
            },
            StopReason::Vaccination { required, .. } => match required {
                VaccinationRequirement::PrimaryComplete => "需完成基础免疫".to_owned(),
                VaccinationRequirement::BoosterComplete => "需完成加强免疫".to_owned(),
            },
        }
    }

    pub fn text_en(&self) -> String {
        match self {
            StopReason::Colour { colour, allowed } => format!(
                "The code is {} ({}); this venue admits {} only",
                colour.as_str(),
                colour.label_en(),
                allowed.as_str()
            ),
            StopReason::Reminder { reminder } => {
                format!("A reminder is in force: {}", reminder.label_en())
            }
            StopReason::NoRecentTest {
                required_hours,
                days,
            } => match days {
                Some(d) => format!(
                    "A negative test within {required_hours} hours is required; the last was {d} day(s) ago"
                ),
                None => format!(
                    "A negative test within {required_hours} hours is required; the code shows none"
                ),
            },
            StopReason::Vaccination { required, state } => format!(
                "{} is required; the code shows: {}",
                match required {
                    VaccinationRequirement::PrimaryComplete => "A complete primary vaccination",
                    VaccinationRequirement::BoosterComplete => "A booster vaccination",
                },
                state.label_en()
            ),
        }
    }
}

/// PASS, or STOP with every reason that applies (all of them, so the holder learns
/// everything to fix at once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateDecision {
    pub pass: bool,
    pub reasons: Vec<StopReason>,
}

impl EntryPolicy {
    /// Applies this door's rules to what a code shows.
    pub fn decide(&self, shown: &Presented<'_>) -> GateDecision {
        let mut reasons = Vec::new();
        if shown.colour > self.max_colour {
            reasons.push(StopReason::Colour {
                colour: shown.colour,
                allowed: self.max_colour,
            });
        }
        if self.reminders_block {
            reasons.extend(
                shown
                    .reminders
                    .iter()
                    .map(|&reminder| StopReason::Reminder { reminder }),
            );
        }
        if let Some(hours) = self.test_within_hours {
            let recent = shown
                .test_recency_days
                .is_some_and(|d| crate::Policy::recency_hours(d) <= hours);
            if !recent {
                reasons.push(StopReason::NoRecentTest {
                    required_hours: hours,
                    days: shown.test_recency_days,
                });
            }
        }
        if let Some(required) = self.vaccination
            && !required.met_by(shown.vaccination)
        {
            reasons.push(StopReason::Vaccination {
                required,
                state: shown.vaccination,
            });
        }
        GateDecision {
            pass: reasons.is_empty(),
            reasons,
        }
    }
}

/// How check-ins are kept and read for exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckinRules {
    /// Check-ins older than this are deleted.
    pub retention: Duration,
    /// How far back a confirmed case's visits are examined.
    pub lookback: Duration,
    /// Two stays at one venue count as co-present when they overlap, or when one began less
    /// than this long after the other ended.
    pub margin: Duration,
    /// How long a check-in without a check-out is taken to last.
    pub default_stay: Duration,
    /// How far a device's clock may run ahead: a check-in later than `now + this` is refused.
    pub max_future_skew: Duration,
    /// The designation a co-presence contact gets.
    pub co_presence: DesignationKind,
    /// How long past its next update a gate may keep deciding offline on a trust list: until
    /// then it warns that the list is stale; after, it admits no one (the list may still name
    /// keys the region has withdrawn).
    pub trust_list_grace: Duration,
}

impl CheckinRules {
    /// Whether two visits at one venue overlap within the margin. A visit is `[at, at + stay)`.
    pub fn overlaps(
        &self,
        a: DateTime<Utc>,
        a_stay: Duration,
        b: DateTime<Utc>,
        b_stay: Duration,
    ) -> bool {
        a - self.margin < b + b_stay && b - self.margin < a + a_stay
    }
}

/// Risk-area levels an operator designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// 中风险.
    Medium,
    /// 高风险.
    High,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }

    pub fn parse(raw: &str) -> Option<RiskLevel> {
        match raw {
            "medium" => Some(RiskLevel::Medium),
            "high" => Some(RiskLevel::High),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RiskLevel::Medium => "中风险区",
            RiskLevel::High => "高风险区",
        }
    }
}

/// The visit behind an exposure designation, so that its reason can name the place and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    pub source: ExposureSource,
    pub venue_id: i64,
    pub venue: String,
    pub district: String,
    pub visited_at: DateTime<Utc>,
}

/// What made a visit an exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExposureSource {
    /// A designated risk area.
    RiskArea {
        id: i64,
        name: String,
        level: RiskLevel,
    },
    /// A confirmed case was there at an overlapping time.
    Case { case_id: i64 },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn subway() -> EntryPolicy {
        EntryPolicy {
            kind: "subway".into(),
            label_zh: "地铁站".into(),
            label_en: "Subway station".into(),
            max_colour: Colour::Green,
            test_within_hours: Some(72),
            vaccination: None,
            reminders_block: true,
        }
    }

    fn shown(days: Option<u32>) -> Presented<'static> {
        Presented {
            colour: Colour::Green,
            reminders: &[],
            test_recency_days: days,
            vaccination: VaccinationState::NoRecord,
        }
    }

    #[test]
    fn a_test_two_days_old_is_within_72_hours_three_is_not() {
        assert!(subway().decide(&shown(Some(2))).pass);
        let d = subway().decide(&shown(Some(3)));
        assert!(!d.pass);
        assert_eq!(
            d.reasons,
            vec![StopReason::NoRecentTest {
                required_hours: 72,
                days: Some(3)
            }]
        );
        assert!(!subway().decide(&shown(None)).pass);
    }

    #[test]
    fn a_huge_number_of_days_is_no_recent_test() {
        // (d + 1) × 24 would wrap round to a few hours for these.
        for days in [178_956_970, u32::MAX - 1, u32::MAX] {
            assert!(!subway().decide(&shown(Some(days))).pass, "{days}");
        }
    }

    #[test]
    fn every_reason_is_listed() {
        let mut event = subway();
        event.vaccination = Some(VaccinationRequirement::PrimaryComplete);
        let d = event.decide(&Presented {
            colour: Colour::Yellow,
            reminders: &[ReminderKind::RiskLink],
            test_recency_days: None,
            vaccination: VaccinationState::PrimaryIncomplete,
        });
        assert!(!d.pass);
        assert_eq!(d.reasons.len(), 4, "{d:?}");
        for r in &d.reasons {
            assert!(!r.text_zh().is_empty() && !r.text_en().is_empty());
        }
    }

    #[test]
    fn not_suitable_for_vaccination_meets_a_vaccination_rule() {
        let mut event = subway();
        event.test_within_hours = None;
        event.vaccination = Some(VaccinationRequirement::BoosterComplete);
        let mut s = shown(None);
        s.vaccination = VaccinationState::NotSuitable;
        assert!(event.decide(&s).pass);
        s.vaccination = VaccinationState::PrimaryComplete;
        assert!(!event.decide(&s).pass);
    }

    #[test]
    fn overlap_uses_the_margin_on_both_sides() {
        let rules = CheckinRules {
            trust_list_grace: Duration::hours(72),
            retention: Duration::days(21),
            lookback: Duration::days(14),
            margin: Duration::minutes(30),
            default_stay: Duration::minutes(60),
            max_future_skew: Duration::minutes(5),
            co_presence: DesignationKind::CoPresence,
        };
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let hour = Duration::hours(1);
        // b arrives 80 minutes after a: a's stay ended 20 minutes before, inside the margin.
        assert!(rules.overlaps(t, hour, t + Duration::minutes(80), hour));
        assert!(rules.overlaps(t + Duration::minutes(80), hour, t, hour));
        // 100 minutes: 40 minutes apart, outside it.
        assert!(!rules.overlaps(t, hour, t + Duration::minutes(100), hour));
        assert!(!rules.overlaps(t + Duration::minutes(100), hour, t, hour));
    }
}
