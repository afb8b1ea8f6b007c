//! The status engine: a pure function of (evidence, policy, time zone, now).
//!
//! It reads no clock and does no I/O, so every rule can be tested at any instant. It is on
//! the hot path of code issuance, so it allocates only the two small vectors it returns.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use chrono_tz::Tz;

use crate::evidence::{Evidence, TestKind, TestOutcome, TestResult, VaccinationKind};
use crate::policy::{DesignationRule, Effect, Policy};
use crate::status::{Colour, Reason, ReminderKind, Status, TestRecency, VaccinationState};

/// Computes a person's status at `now`.
///
/// Evidence that lies in the future relative to `now` (a result not yet issued, a designation
/// not yet started) is ignored, and the status is made to expire when it would start to count.
pub fn evaluate(evidence: &Evidence, policy: &Policy, tz: Tz, now: DateTime<Utc>) -> Status {
    let mut colour = Colour::Green;
    let mut reasons = Vec::new();
    let mut reminder_bits: u8 = 0;
    let mut valid_until = next_local_midnight(now, tz);

    // Results and doses not yet known at `now` count from the moment they are.
    for at in evidence
        .tests
        .iter()
        .map(|t| t.resulted_at)
        .chain(evidence.vaccinations.iter().map(|v| v.at))
        .filter(|at| *at > now)
    {
        valid_until = valid_until.min(at);
    }
    let last_negative_pcr = last_negative_pcr(&evidence.tests, now);
    let negative_sampled_at = last_negative_pcr.map(|t| t.sampled_at);

    for d in &evidence.designations {
        if d.started_at > now {
            valid_until = valid_until.min(d.started_at);
            continue;
        }
        let rule = policy.rule(d.kind);
        let lapse = rule.lapses_after.map(|l| d.started_at + l);
        let end = match (d.ended_at(), lapse) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let in_force = end.is_none_or(|e| e > now);
        if in_force {
            if let Some(e) = end {
                valid_until = valid_until.min(e);
            }
            match rule.effect {
                Effect::Colour(c) => {
                    colour = colour.max(c);
                    reasons.push(Reason::Designation {
                        kind: d.kind,
                        colour: c,
                        evidence: d.meta.id,
                    });
                }
                Effect::Reminder(r) => {
                    if let Some(reason) =
                        reminder(r, rule, d.started_at, end, negative_sampled_at, d.meta.id)
                    {
                        reminder_bits |= 1 << r.number();
                        reasons.push(reason);
                    }
                }
                Effect::None => {}
            }
        } else if let Some((r, days)) = rule.after_release {
            let until = d.started_at + days;
            if now < until {
                valid_until = valid_until.min(until);
                reminder_bits |= 1 << r.number();
                reasons.push(Reason::Reminder {
                    reminder: r,
                    evidence: d.meta.id,
                    until: Some(until),
                    cleared_by_negative_test: false,
                });
            }
        }
    }

    // A declaration counts from when it was made, or from its start if that is later (an
    // arrival declared a few minutes early); its rule runs from the declared start.
    for d in &evidence.declarations {
        let started_at = d.started_at(tz);
        let counts_from = d.declared_at.max(started_at);
        if counts_from > now {
            valid_until = valid_until.min(counts_from);
            continue;
        }
        let rule = policy.declaration_rule(d.kind());
        let end = rule.lapses_after.map(|l| started_at + l);
        if end.is_some_and(|e| e <= now) {
            continue;
        }
        if let Some(e) = end {
            valid_until = valid_until.min(e);
        }
        if let Effect::Reminder(r) = rule.effect
            && let Some(reason) = reminder(r, rule, started_at, end, negative_sampled_at, d.meta.id)
        {
            reminder_bits |= 1 << r.number();
            reasons.push(reason);
        }
    }

    if let Some(c) = policy.antigen_positive_awaiting_pcr
        && let Some(t) = unresolved_positive(&evidence.tests, TestKind::Antigen, now)
    {
        colour = colour.max(c);
        reasons.push(Reason::AntigenPositiveAwaitingPcr {
            colour: c,
            evidence: t.meta.id,
        });
    }
    if let Some(c) = policy.pcr_positive
        && let Some(t) = unresolved_positive(&evidence.tests, TestKind::Pcr, now)
    {
        colour = colour.max(c);
        reasons.push(Reason::PcrPositive {
            colour: c,
            evidence: t.meta.id,
        });
    }

    let no_data = evidence.is_empty();
    if no_data {
        reasons.push(Reason::NoData);
    } else if colour == Colour::Green && reminder_bits == 0 {
        reasons.push(Reason::NoRisk);
    }

    let reminders = ReminderKind::ALL
        .into_iter()
        .filter(|r| reminder_bits & (1 << r.number()) != 0)
        .collect();

    Status {
        colour,
        reminders,
        test_recency: last_negative_pcr.and_then(|t| recency(t, policy, tz, now)),
        vaccination: vaccination_state(evidence, policy, now),
        evaluated_at: now,
        valid_until,
        reasons,
        no_data,
    }
}

/// Reminder `r`, caused by evidence `id` that started at `started_at`, unless its rule lets
/// a negative PCR sampled at or after that start clear it and there is one. Designations and
/// declarations share it, so a reminder means the same whatever caused it.
fn reminder(
    r: ReminderKind,
    rule: &DesignationRule,
    started_at: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    negative_sampled_at: Option<DateTime<Utc>>,
    id: i64,
) -> Option<Reason> {
    let cleared =
        rule.cleared_by_negative_test && negative_sampled_at.is_some_and(|s| s >= started_at);
    (!cleared).then_some(Reason::Reminder {
        reminder: r,
        evidence: id,
        until: end,
        cleared_by_negative_test: rule.cleared_by_negative_test,
    })
}

/// 24:00 of `now`'s local day, as an instant.
pub fn next_local_midnight(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local_day = now.with_timezone(&tz).date_naive();
    let next_day = local_day.succ_opt().unwrap_or(local_day);
    crate::declaration::local_start_of_day(next_day, tz).unwrap_or(now + Duration::hours(24))
}

fn last_negative_pcr(tests: &[TestResult], now: DateTime<Utc>) -> Option<&TestResult> {
    tests
        .iter()
        .filter(|t| {
            t.kind == TestKind::Pcr && t.outcome == TestOutcome::Negative && t.resulted_at <= now
        })
        .max_by_key(|t| t.sampled_at)
}

/// The latest positive of `kind` known at `now` that no later sample has resolved. An antigen
/// positive is resolved by any valid PCR sampled after it; a PCR positive by a negative PCR.
fn unresolved_positive(
    tests: &[TestResult],
    kind: TestKind,
    now: DateTime<Utc>,
) -> Option<&TestResult> {
    let positive = tests
        .iter()
        .filter(|t| t.kind == kind && t.outcome == TestOutcome::Positive && t.resulted_at <= now)
        .max_by_key(|t| t.sampled_at)?;
    let resolved = tests.iter().any(|t| {
        t.kind == TestKind::Pcr
            && t.resulted_at <= now
            && t.sampled_at > positive.sampled_at
            && match kind {
                TestKind::Antigen => t.outcome != TestOutcome::Invalid,
                TestKind::Pcr => t.outcome == TestOutcome::Negative,
            }
    });
    (!resolved).then_some(positive)
}

/// Days since the sampling date of `t`. A result issued between 00:00 and the policy's night
/// cut-off hour counts for the day before the day it was issued, if that is earlier.
fn recency(t: &TestResult, policy: &Policy, tz: Tz, now: DateTime<Utc>) -> Option<TestRecency> {
    let today = now.with_timezone(&tz).date_naive();
    let mut reference = t.sampled_at.with_timezone(&tz).date_naive();
    let resulted = t.resulted_at.with_timezone(&tz);
    if resulted.hour() < policy.night_cutoff_hour
        && let Some(previous) = resulted.date_naive().pred_opt()
    {
        reference = reference.min(previous);
    }
    let days = u32::try_from(today.num_days_from_ce() - reference.num_days_from_ce()).unwrap_or(0);
    (days <= policy.recency_window_days).then_some(TestRecency {
        days,
        within_hours: Policy::recency_hours(days),
        sampled_at: t.sampled_at,
        evidence: t.meta.id,
    })
}

fn vaccination_state(evidence: &Evidence, policy: &Policy, now: DateTime<Utc>) -> VaccinationState {
    let mut highest: u8 = 0;
    let mut first_product: Option<(u8, &str)> = None;
    let mut contraindicated = false;
    for v in evidence.vaccinations.iter().filter(|v| v.at <= now) {
        match &v.kind {
            VaccinationKind::Dose { number, product } => {
                highest = highest.max(*number);
                if first_product.is_none_or(|(n, _)| *number < n) {
                    first_product = Some((*number, product));
                }
            }
            VaccinationKind::Contraindication => contraindicated = true,
        }
    }
    let Some((_, product)) = first_product else {
        return if contraindicated {
            VaccinationState::NotSuitable
        } else {
            VaccinationState::NoRecord
        };
    };
    let primary = policy.primary_doses(product);
    if highest > primary {
        VaccinationState::BoosterComplete
    } else if highest == primary {
        VaccinationState::PrimaryComplete
    } else if contraindicated {
        VaccinationState::NotSuitable
    } else {
        VaccinationState::PrimaryIncomplete
    }
}
