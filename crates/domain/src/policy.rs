//! The status policy: a versioned TOML document (see `policy/default.toml` and
//! docs/POLICY.md) compiled into a form the engine can consult without allocating.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Deserialize;

use crate::declaration::DeclarationKind;
use crate::error::PolicyError;
use crate::evidence::DesignationKind;
use crate::status::{Colour, ReminderKind};
use crate::venue::{CheckinRules, EntryPolicy, RiskLevel, VaccinationRequirement};

/// The policy shipped with the binary.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../policy/default.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: String,
    #[serde(default)]
    description: String,
    code: CodeSection,
    tests: TestsSection,
    designations: BTreeMap<String, DesignationSection>,
    vaccines: VaccinesSection,
    #[serde(default)]
    declarations: BTreeMap<String, DeclarationSection>,
    #[serde(default)]
    checkins: CheckinsSection,
    #[serde(default)]
    risk_areas: RiskAreasSection,
    #[serde(default)]
    venues: BTreeMap<String, VenueSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CheckinsSection {
    retention_days: u32,
    lookback_days: u32,
    margin_minutes: u32,
    default_stay_minutes: u32,
    max_future_skew_minutes: u32,
    co_presence: String,
    trust_list_grace_hours: u32,
}

impl Default for CheckinsSection {
    fn default() -> Self {
        CheckinsSection {
            retention_days: 21,
            lookback_days: 14,
            margin_minutes: 30,
            default_stay_minutes: 60,
            max_future_skew_minutes: 5,
            co_presence: "co_presence".into(),
            trust_list_grace_hours: 72,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RiskAreasSection {
    medium: String,
    high: String,
}

impl Default for RiskAreasSection {
    fn default() -> Self {
        RiskAreasSection {
            medium: "risk_link".into(),
            high: "risk_area_visit".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueSection {
    label_zh: String,
    label_en: String,
    #[serde(default = "green")]
    max_colour: Colour,
    test_within_hours: Option<u32>,
    vaccination: Option<VaccinationRequirement>,
    #[serde(default = "yes")]
    reminders_block: bool,
}

fn green() -> Colour {
    Colour::Green
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeSection {
    lifetime_minutes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestsSection {
    antigen_positive_awaiting_pcr: Option<Colour>,
    pcr_positive: Option<Colour>,
    night_cutoff_hour: u32,
    recency_window_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EffectName {
    Red,
    Yellow,
    Reminder,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesignationSection {
    effect: EffectName,
    reminder: Option<ReminderKind>,
    lapses_after_days: Option<u32>,
    #[serde(default)]
    cleared_by_negative_test: bool,
    reminder_after_release: Option<ReminderKind>,
    reminder_until_days_after_start: Option<u32>,
}

/// A declaration's rule: as a designation's, without colours (a person's own word is not
/// checked by anyone, so it may only ask for a test) and without an after-release reminder
/// (nobody releases a declaration).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclarationSection {
    effect: EffectName,
    reminder: Option<ReminderKind>,
    lapses_after_days: Option<u32>,
    #[serde(default)]
    cleared_by_negative_test: bool,
}

impl DeclarationSection {
    /// The rule for a kind the document does not mention (a policy written before
    /// declarations): a reminder for 14 days, cleared by a negative PCR sampled after the
    /// declared start — reminder 6 for symptoms, reminder 4 for an arrival.
    fn default_for(kind: DeclarationKind) -> DeclarationSection {
        DeclarationSection {
            effect: EffectName::Reminder,
            reminder: Some(match kind {
                DeclarationKind::Symptoms => ReminderKind::SymptomsDeclared,
                DeclarationKind::Arrival => ReminderKind::ArrivalUntested,
            }),
            lapses_after_days: Some(14),
            cleared_by_negative_test: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaccinesSection {
    default_primary_doses: u8,
    primary_doses: BTreeMap<String, u8>,
}

/// What a designation does while in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Colour(Colour),
    Reminder(ReminderKind),
    None,
}

/// One designation kind's rule, compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesignationRule {
    pub effect: Effect,
    pub lapses_after: Option<Duration>,
    pub cleared_by_negative_test: bool,
    /// A reminder that follows the designation's end, until `start + days`.
    pub after_release: Option<(ReminderKind, Duration)>,
}

/// A parsed, checked status policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: String,
    pub description: String,
    pub code_lifetime: Duration,
    pub antigen_positive_awaiting_pcr: Option<Colour>,
    pub pcr_positive: Option<Colour>,
    pub night_cutoff_hour: u32,
    pub recency_window_days: u32,
    rules: [DesignationRule; DesignationKind::ALL.len()],
    declaration_rules: [DesignationRule; DeclarationKind::ALL.len()],
    default_primary_doses: u8,
    primary_doses: BTreeMap<String, u8>,
    /// How check-ins are kept and read for exposure.
    pub checkins: CheckinRules,
    /// The designation a visit to a medium- and a high-risk area leads to.
    risk_medium: DesignationKind,
    risk_high: DesignationKind,
    /// Entry policy by venue type.
    venues: BTreeMap<String, EntryPolicy>,
    /// The document this policy was compiled from, kept so it can be shown and diffed.
    pub source: String,
}

impl Policy {
    /// The default policy shipped with the binary.
    pub fn default_policy() -> Result<Policy, PolicyError> {
        Policy::from_toml(DEFAULT_POLICY_TOML)
    }

    /// Parses and checks a policy document. Every designation kind must be given a rule:
    /// a policy that forgets one is refused rather than silently treating it as harmless.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let doc: Document =
            toml::from_str(text).map_err(|e| PolicyError::Syntax(e.message().to_owned()))?;
        if doc.version.trim().is_empty() {
            return Err(PolicyError::Invalid("version must not be empty".into()));
        }
        if doc.code.lifetime_minutes == 0 || doc.code.lifetime_minutes > 24 * 60 {
            return Err(PolicyError::Invalid(
                "code.lifetime_minutes must be between 1 and 1440".into(),
            ));
        }
        if doc.tests.night_cutoff_hour > 12 {
            return Err(PolicyError::Invalid(
                "tests.night_cutoff_hour must be between 0 and 12".into(),
            ));
        }
        for name in doc.designations.keys() {
            if DesignationKind::parse(name).is_none() {
                return Err(PolicyError::Invalid(format!(
                    "designations.{name}: no such designation kind"
                )));
            }
        }
        let mut rules = [DesignationRule {
            effect: Effect::None,
            lapses_after: None,
            cleared_by_negative_test: false,
            after_release: None,
        }; DesignationKind::ALL.len()];
        for kind in DesignationKind::ALL {
            let section = doc.designations.get(kind.as_str()).ok_or_else(|| {
                PolicyError::Invalid(format!("designations.{} is missing", kind.as_str()))
            })?;
            let effect = match (&section.effect, section.reminder) {
                (EffectName::Red, None) => Effect::Colour(Colour::Red),
                (EffectName::Yellow, None) => Effect::Colour(Colour::Yellow),
                (EffectName::None, None) => Effect::None,
                (EffectName::Reminder, Some(r)) => Effect::Reminder(r),
                (EffectName::Reminder, None) => {
                    return Err(PolicyError::Invalid(format!(
                        "designations.{}: effect \"reminder\" needs `reminder`",
                        kind.as_str()
                    )));
                }
                (_, Some(_)) => {
                    return Err(PolicyError::Invalid(format!(
                        "designations.{}: `reminder` only goes with effect \"reminder\"",
                        kind.as_str()
                    )));
                }
            };
            let after_release = match (
                section.reminder_after_release,
                section.reminder_until_days_after_start,
            ) {
                (Some(r), Some(days)) => Some((r, Duration::days(i64::from(days)))),
                (None, None) => None,
                _ => {
                    return Err(PolicyError::Invalid(format!(
                        "designations.{}: reminder_after_release and reminder_until_days_after_start go together",
                        kind.as_str()
                    )));
                }
            };
            rules[kind.index()] = DesignationRule {
                effect,
                lapses_after: section
                    .lapses_after_days
                    .map(|d| Duration::days(i64::from(d))),
                cleared_by_negative_test: section.cleared_by_negative_test,
                after_release,
            };
        }
        let declaration_rules = compile_declarations(&doc.declarations)?;
        if doc.vaccines.default_primary_doses == 0 {
            return Err(PolicyError::Invalid(
                "vaccines.default_primary_doses must be at least 1".into(),
            ));
        }
        let checkins = compile_checkins(&doc.checkins)?;
        let designation = |what: &str, name: &str| {
            DesignationKind::parse(name).ok_or_else(|| {
                PolicyError::Invalid(format!("{what}: no such designation kind {name:?}"))
            })
        };
        let risk_medium = designation("risk_areas.medium", &doc.risk_areas.medium)?;
        let risk_high = designation("risk_areas.high", &doc.risk_areas.high)?;
        let mut venues = BTreeMap::new();
        for (kind, v) in doc.venues {
            let ok = (1..=32).contains(&kind.len())
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(PolicyError::Invalid(format!(
                    "venues.{kind}: a venue type is 1 to 32 characters of a-z, 0-9 and _"
                )));
            }
            if v.test_within_hours == Some(0) {
                return Err(PolicyError::Invalid(format!(
                    "venues.{kind}.test_within_hours must be at least 1"
                )));
            }
            venues.insert(
                kind.clone(),
                EntryPolicy {
                    kind,
                    label_zh: v.label_zh,
                    label_en: v.label_en,
                    max_colour: v.max_colour,
                    test_within_hours: v.test_within_hours,
                    vaccination: v.vaccination,
                    reminders_block: v.reminders_block,
                },
            );
        }
        Ok(Policy {
            checkins,
            risk_medium,
            risk_high,
            venues,
            version: doc.version,
            description: doc.description,
            code_lifetime: Duration::minutes(i64::from(doc.code.lifetime_minutes)),
            antigen_positive_awaiting_pcr: doc.tests.antigen_positive_awaiting_pcr,
            pcr_positive: doc.tests.pcr_positive,
            night_cutoff_hour: doc.tests.night_cutoff_hour,
            recency_window_days: doc.tests.recency_window_days,
            rules,
            declaration_rules,
            default_primary_doses: doc.vaccines.default_primary_doses,
            primary_doses: doc.vaccines.primary_doses,
            source: text.to_owned(),
        })
    }

    pub fn rule(&self, kind: DesignationKind) -> &DesignationRule {
        &self.rules[kind.index()]
    }

    /// What a declaration of `kind` does: a reminder or nothing, never a colour, and never
    /// an after-release reminder.
    pub fn declaration_rule(&self, kind: DeclarationKind) -> &DesignationRule {
        &self.declaration_rules[kind.index()]
    }

    /// Doses in the primary series of `product`.
    pub fn primary_doses(&self, product: &str) -> u8 {
        self.primary_doses
            .get(product)
            .copied()
            .unwrap_or(self.default_primary_doses)
    }

    /// Whether `product` is named in the vaccine table.
    pub fn knows_product(&self, product: &str) -> bool {
        self.primary_doses.contains_key(product)
    }

    /// The entry policy of venue type `kind`, if the policy defines it.
    pub fn venue(&self, kind: &str) -> Option<&EntryPolicy> {
        self.venues.get(kind)
    }

    /// Every venue type, in name order.
    pub fn venue_types(&self) -> impl Iterator<Item = &EntryPolicy> {
        self.venues.values()
    }

    /// The designation a visit to a risk area of `level` leads to.
    pub fn risk_area_designation(&self, level: RiskLevel) -> DesignationKind {
        match level {
            RiskLevel::Medium => self.risk_medium,
            RiskLevel::High => self.risk_high,
        }
    }

    /// Hours a recency of `days` stands for: 0天 is within 24 hours, 1天 within 48, …
    pub fn recency_hours(days: u32) -> u32 {
        // Saturating: a code may state any number of days, and a huge one must not wrap round
        // to a recent test.
        days.saturating_add(1).saturating_mul(24)
    }
}

fn compile_declarations(
    sections: &BTreeMap<String, DeclarationSection>,
) -> Result<[DesignationRule; DeclarationKind::ALL.len()], PolicyError> {
    for name in sections.keys() {
        if DeclarationKind::parse(name).is_none() {
            return Err(PolicyError::Invalid(format!(
                "declarations.{name}: no such declaration kind"
            )));
        }
    }
    let mut rules = [DesignationRule {
        effect: Effect::None,
        lapses_after: None,
        cleared_by_negative_test: false,
        after_release: None,
    }; DeclarationKind::ALL.len()];
    for kind in DeclarationKind::ALL {
        let default;
        let section = match sections.get(kind.as_str()) {
            Some(s) => s,
            None => {
                default = DeclarationSection::default_for(kind);
                &default
            }
        };
        let invalid = |m: &str| {
            Err(PolicyError::Invalid(format!(
                "declarations.{}: {m}",
                kind.as_str()
            )))
        };
        let effect = match (&section.effect, section.reminder) {
            (EffectName::Reminder, Some(r)) => Effect::Reminder(r),
            (EffectName::None, None) => Effect::None,
            (EffectName::Reminder, None) => return invalid("effect \"reminder\" needs `reminder`"),
            (EffectName::None, Some(_)) => {
                return invalid("`reminder` only goes with effect \"reminder\"");
            }
            (EffectName::Red | EffectName::Yellow, _) => {
                return invalid(
                    "a declaration is the person's own word: its effect is \"reminder\" or \"none\"",
                );
            }
        };
        rules[kind.index()] = DesignationRule {
            effect,
            lapses_after: section
                .lapses_after_days
                .map(|d| Duration::days(i64::from(d))),
            cleared_by_negative_test: section.cleared_by_negative_test,
            after_release: None,
        };
    }
    Ok(rules)
}

fn compile_checkins(c: &CheckinsSection) -> Result<CheckinRules, PolicyError> {
    let invalid = |m: &str| Err(PolicyError::Invalid(format!("checkins.{m}")));
    if c.retention_days == 0 || c.retention_days > 366 {
        return invalid("retention_days must be between 1 and 366");
    }
    if c.lookback_days == 0 || c.lookback_days > c.retention_days {
        return invalid("lookback_days must be at least 1 and at most retention_days");
    }
    if c.default_stay_minutes == 0 || c.default_stay_minutes > 24 * 60 {
        return invalid("default_stay_minutes must be between 1 and 1440");
    }
    if c.margin_minutes > 24 * 60 {
        return invalid("margin_minutes must be at most 1440");
    }
    if c.max_future_skew_minutes > 60 {
        return invalid("max_future_skew_minutes must be at most 60");
    }
    if c.trust_list_grace_hours > 24 * 30 {
        return invalid("trust_list_grace_hours must be at most 720");
    }
    let Some(co_presence) = DesignationKind::parse(&c.co_presence) else {
        return invalid("co_presence: no such designation kind");
    };
    let minutes = |m: u32| Duration::minutes(i64::from(m));
    Ok(CheckinRules {
        retention: Duration::days(i64::from(c.retention_days)),
        lookback: Duration::days(i64::from(c.lookback_days)),
        margin: minutes(c.margin_minutes),
        default_stay: minutes(c.default_stay_minutes),
        max_future_skew: minutes(c.max_future_skew_minutes),
        co_presence,
        trust_list_grace: Duration::hours(i64::from(c.trust_list_grace_hours)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_compiles() {
        let p = Policy::default_policy().expect("default policy");
        assert_eq!(
            p.rule(DesignationKind::ConfirmedCase).effect,
            Effect::Colour(Colour::Red)
        );
        assert_eq!(
            p.rule(DesignationKind::Arrival).effect,
            Effect::Reminder(ReminderKind::ArrivalUntested)
        );
        assert_eq!(p.primary_doses("cansino-ad5"), 1);
        assert_eq!(p.primary_doses("something-new"), 2);
    }

    #[test]
    fn missing_designation_is_refused() {
        let text =
            DEFAULT_POLICY_TOML.replace("[designations.close_contact]\neffect = \"red\"", "");
        let err = Policy::from_toml(&text).expect_err("must fail");
        assert!(err.to_string().contains("close_contact"), "{err}");
    }

    #[test]
    fn default_policy_has_venue_rules() {
        let p = Policy::default_policy().expect("default policy");
        let subway = p.venue("subway").expect("subway");
        assert_eq!(subway.test_within_hours, Some(72));
        let event = p.venue("large_event").expect("large_event");
        assert_eq!(event.test_within_hours, Some(48));
        assert_eq!(
            event.vaccination,
            Some(VaccinationRequirement::PrimaryComplete)
        );
        assert_eq!(p.checkins.retention, Duration::days(21));
        assert_eq!(p.checkins.lookback, Duration::days(14));
        assert_eq!(
            p.risk_area_designation(RiskLevel::High),
            DesignationKind::RiskAreaVisit
        );
    }

    #[test]
    fn lookback_beyond_retention_is_refused() {
        let text = DEFAULT_POLICY_TOML.replace("lookback_days = 14", "lookback_days = 30");
        let err = Policy::from_toml(&text).expect_err("must fail");
        assert!(err.to_string().contains("lookback_days"), "{err}");
    }

    #[test]
    fn declarations_default_to_reminders() {
        let p = Policy::default_policy().expect("default policy");
        let symptoms = p.declaration_rule(DeclarationKind::Symptoms);
        assert_eq!(
            symptoms.effect,
            Effect::Reminder(ReminderKind::SymptomsDeclared)
        );
        assert!(symptoms.cleared_by_negative_test);
        let arrival = p.declaration_rule(DeclarationKind::Arrival);
        assert_eq!(
            arrival.effect,
            Effect::Reminder(ReminderKind::ArrivalUntested)
        );
        assert_eq!(arrival.lapses_after, Some(Duration::days(14)));

        // A policy written before declarations still loads, with the same rules.
        let start = DEFAULT_POLICY_TOML
            .find("[declarations.symptoms]")
            .expect("section");
        let end = DEFAULT_POLICY_TOML.find("[vaccines]").expect("section");
        let older = format!(
            "{}{}",
            &DEFAULT_POLICY_TOML[..start],
            &DEFAULT_POLICY_TOML[end..]
        );
        let q = Policy::from_toml(&older).expect("older policy");
        assert_eq!(q.declaration_rule(DeclarationKind::Symptoms), symptoms);
        assert_eq!(q.declaration_rule(DeclarationKind::Arrival), arrival);
    }

    #[test]
    fn declarations_cannot_set_a_colour() {
        let text = DEFAULT_POLICY_TOML.replace(
            "[declarations.symptoms]\neffect = \"reminder\"\nreminder = \"symptoms_declared\"",
            "[declarations.symptoms]\neffect = \"yellow\"",
        );
        let err = Policy::from_toml(&text).expect_err("must fail");
        assert!(err.to_string().contains("declarations.symptoms"), "{err}");
        let text = format!("{DEFAULT_POLICY_TOML}\n[declarations.rumour]\neffect = \"none\"\n");
        assert!(Policy::from_toml(&text).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = format!("{DEFAULT_POLICY_TOML}\n[extra]\nx = 1\n");
        assert!(matches!(
            Policy::from_toml(&text),
            Err(PolicyError::Syntax(_))
        ));
    }
}
