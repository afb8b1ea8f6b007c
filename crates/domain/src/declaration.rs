//! Declarations (自主申报): what a person states about themselves, after the health
//! declaration and the trip declaration of GB/T 38962 — symptoms from a fixed list with the
//! day they began, or an arrival from another region at a time. Each is evidence whose source
//! is the person; what it does to a status is the policy's `[declarations.*]` rule.
//!
//! This module owns the shapes and the checks at the boundary. Who may declare (only the
//! person, signed in) is the server's business; where declarations are kept, the store's.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::DeclarationError;
use crate::evidence::{EvidenceMeta, plausible_time};
use crate::label::Label;

/// A symptom a health declaration may name. The list is fixed so that a declaration can be
/// read in either language and counted; free text would be neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symptom {
    Fever,
    Cough,
    SoreThroat,
    LossOfTasteOrSmell,
    Fatigue,
    ShortnessOfBreath,
    Diarrhoea,
}

impl Symptom {
    pub const ALL: [Symptom; 7] = [
        Symptom::Fever,
        Symptom::Cough,
        Symptom::SoreThroat,
        Symptom::LossOfTasteOrSmell,
        Symptom::Fatigue,
        Symptom::ShortnessOfBreath,
        Symptom::Diarrhoea,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Symptom::Fever => "fever",
            Symptom::Cough => "cough",
            Symptom::SoreThroat => "sore_throat",
            Symptom::LossOfTasteOrSmell => "loss_of_taste_or_smell",
            Symptom::Fatigue => "fatigue",
            Symptom::ShortnessOfBreath => "shortness_of_breath",
            Symptom::Diarrhoea => "diarrhoea",
        }
    }

    pub fn parse(raw: &str) -> Option<Symptom> {
        Symptom::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Symptom::Fever => "发热",
            Symptom::Cough => "咳嗽",
            Symptom::SoreThroat => "咽痛",
            Symptom::LossOfTasteOrSmell => "嗅觉或味觉减退",
            Symptom::Fatigue => "乏力",
            Symptom::ShortnessOfBreath => "气促",
            Symptom::Diarrhoea => "腹泻",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Symptom::Fever => "fever",
            Symptom::Cough => "cough",
            Symptom::SoreThroat => "sore throat",
            Symptom::LossOfTasteOrSmell => "loss of taste or smell",
            Symptom::Fatigue => "fatigue",
            Symptom::ShortnessOfBreath => "shortness of breath",
            Symptom::Diarrhoea => "diarrhoea",
        }
    }
}

/// The two kinds of declaration, each with a rule in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclarationKind {
    /// Health declaration: symptoms.
    Symptoms,
    /// Trip declaration: an arrival from another region.
    Arrival,
}

impl DeclarationKind {
    pub const ALL: [DeclarationKind; 2] = [DeclarationKind::Symptoms, DeclarationKind::Arrival];

    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationKind::Symptoms => "symptoms",
            DeclarationKind::Arrival => "arrival",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        DeclarationKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What was declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Declared {
    /// Symptoms, in the list's order without repeats, that began on the local day `onset`.
    Symptoms {
        symptoms: Vec<Symptom>,
        onset: NaiveDate,
    },
    /// An arrival from the region `from` (a short label: a name or a region code).
    Arrival {
        from: String,
        arrived_at: DateTime<Utc>,
    },
}

/// Arrival labels: a place name or a region code, short enough to read on a phone.
pub const FROM_MAX_CHARS: usize = 40;

/// Clock skew tolerated on an arrival time, as for test results.
const SKEW_MINUTES: i64 = 5;

impl Declared {
    pub fn kind(&self) -> DeclarationKind {
        match self {
            Declared::Symptoms { .. } => DeclarationKind::Symptoms,
            Declared::Arrival { .. } => DeclarationKind::Arrival,
        }
    }

    /// A health declaration: at least one symptom of the list (repeats are dropped, the list
    /// put in order), an onset on or before today's local date and not before the records
    /// this product keeps begin.
    pub fn symptoms<S: AsRef<str>>(
        names: &[S],
        onset: NaiveDate,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Declared, DeclarationError> {
        let mut symptoms = Vec::with_capacity(names.len());
        for name in names {
            let s = Symptom::parse(name.as_ref().trim()).ok_or(DeclarationError::SymptomUnknown)?;
            symptoms.push(s);
        }
        symptoms.sort();
        symptoms.dedup();
        if symptoms.is_empty() {
            return Err(DeclarationError::SymptomsEmpty);
        }
        let start = local_start_of_day(onset, tz).ok_or(DeclarationError::TimeInvalid)?;
        if !plausible_time(start) {
            return Err(DeclarationError::TimeInvalid);
        }
        let today = (now + Duration::minutes(SKEW_MINUTES))
            .with_timezone(&tz)
            .date_naive();
        if onset > today {
            return Err(DeclarationError::InFuture);
        }
        Ok(Declared::Symptoms { symptoms, onset })
    }

    /// A trip declaration: where from (a label of 1 to [`FROM_MAX_CHARS`] visible
    /// characters), and when, not in the future beyond a few minutes' clock skew.
    pub fn arrival(
        from: &str,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Declared, DeclarationError> {
        let from = Label::parse(from, 1, FROM_MAX_CHARS).map_err(DeclarationError::From)?;
        if !plausible_time(arrived_at) {
            return Err(DeclarationError::TimeInvalid);
        }
        if arrived_at > now + Duration::minutes(SKEW_MINUTES) {
            return Err(DeclarationError::InFuture);
        }
        Ok(Declared::Arrival {
            from: from.into_string(),
            arrived_at,
        })
    }
}

/// A declaration as stored: who recorded it (the person; see [`EvidenceMeta`]), what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub meta: EvidenceMeta,
    #[serde(flatten)]
    pub declared: Declared,
    /// When the person made it: it counts from then.
    pub declared_at: DateTime<Utc>,
}

impl Declaration {
    pub fn kind(&self) -> DeclarationKind {
        self.declared.kind()
    }

    /// The instant the declared fact began: the local start of the onset day, or the arrival.
    /// Lapses run from it, and a negative test clears a reminder if sampled at or after it.
    pub fn started_at(&self, tz: Tz) -> DateTime<Utc> {
        match &self.declared {
            Declared::Symptoms { onset, .. } => {
                local_start_of_day(*onset, tz).unwrap_or(self.declared_at)
            }
            Declared::Arrival { arrived_at, .. } => *arrived_at,
        }
    }
}

/// The first instant of a local day (a day may begin inside a DST gap in some zones).
pub(crate) fn local_start_of_day(day: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    use chrono::{NaiveTime, TimeZone};
    (0..3).find_map(|h| {
        let t = day.and_time(NaiveTime::from_hms_opt(h, 0, 0)?);
        tz.from_local_datetime(&t)
            .earliest()
            .map(|l| l.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    fn now() -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(2026, 5, 10, 9, 0, 0)
            .single()
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, d).expect("valid")
    }

    #[test]
    fn symptoms_are_ordered_without_repeats() {
        let d = Declared::symptoms(&["cough", "fever", "cough"], day(9), Shanghai, now())
            .expect("valid");
        assert_eq!(
            d,
            Declared::Symptoms {
                symptoms: vec![Symptom::Fever, Symptom::Cough],
                onset: day(9)
            }
        );
    }

    #[test]
    fn bad_symptoms_are_refused() {
        let none: [&str; 0] = [];
        assert_eq!(
            Declared::symptoms(&none, day(9), Shanghai, now()),
            Err(DeclarationError::SymptomsEmpty)
        );
        assert_eq!(
            Declared::symptoms(&["sneezing"], day(9), Shanghai, now()),
            Err(DeclarationError::SymptomUnknown)
        );
        assert_eq!(
            Declared::symptoms(&["fever"], day(11), Shanghai, now()),
            Err(DeclarationError::InFuture)
        );
        let old = NaiveDate::from_ymd_opt(1800, 1, 1).expect("valid");
        assert_eq!(
            Declared::symptoms(&["fever"], old, Shanghai, now()),
            Err(DeclarationError::TimeInvalid)
        );
        assert!(Declared::symptoms(&["fever"], day(10), Shanghai, now()).is_ok());
    }

    #[test]
    fn arrivals_are_checked() {
        assert!(Declared::arrival(" 上海 ", now(), now()).is_ok());
        assert_eq!(
            Declared::arrival("", now(), now()),
            Err(DeclarationError::From(crate::LabelError::TooShort))
        );
        assert_eq!(
            Declared::arrival("上\u{202e}海", now(), now()),
            Err(DeclarationError::From(crate::LabelError::Invisible))
        );
        assert_eq!(
            Declared::arrival(&"x".repeat(41), now(), now()),
            Err(DeclarationError::From(crate::LabelError::TooLong))
        );
        assert_eq!(
            Declared::arrival("CN-SH", now() + Duration::minutes(6), now()),
            Err(DeclarationError::InFuture)
        );
        assert!(Declared::arrival("CN-SH", now() + Duration::minutes(4), now()).is_ok());
    }
}
