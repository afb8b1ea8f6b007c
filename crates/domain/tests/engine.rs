//! The status engine against the default policy: one test per rule, and the properties the
//! engine must keep for any evidence.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use healthcode_domain::{
    Colour, Declaration, Declared, Designation, DesignationKind, Evidence, EvidenceMeta, Policy,
    Reason, ReminderKind, Symptom, TestKind, TestOutcome, TestResult, Vaccination, VaccinationKind,
    VaccinationState, evaluate,
};
use proptest::prelude::*;

fn policy() -> Policy {
    Policy::default_policy().expect("default policy")
}

/// Local Beijing time on 2026-05-`day` at `h`:`m`.
fn bj(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(2026, 5, day, h, m, 0)
        .single()
        .expect("valid")
        .with_timezone(&Utc)
}

fn meta(id: i64) -> EvidenceMeta {
    EvidenceMeta {
        id,
        provider: "p".into(),
        record_id: format!("r{id}"),
        revision: 1,
    }
}

fn test(id: i64, kind: TestKind, outcome: TestOutcome, sampled: DateTime<Utc>) -> TestResult {
    TestResult {
        meta: meta(id),
        kind,
        outcome,
        sampled_at: sampled,
        resulted_at: sampled + Duration::hours(8),
    }
}

fn designation(id: i64, kind: DesignationKind, start: DateTime<Utc>) -> Designation {
    Designation {
        meta: meta(id),
        kind,
        started_at: start,
        ends_at: None,
        released_at: None,
        exposure: None,
    }
}

fn dose(id: i64, number: u8, product: &str) -> Vaccination {
    Vaccination {
        meta: meta(id),
        kind: VaccinationKind::Dose {
            number,
            product: product.into(),
        },
        at: bj(1, 9, 0) - Duration::days(300 - i64::from(number) * 30),
    }
}

#[test]
fn no_evidence_is_green_with_no_data() {
    let s = evaluate(&Evidence::default(), &policy(), Shanghai, bj(10, 12, 0));
    assert_eq!(s.colour, Colour::Green);
    assert!(s.no_data);
    assert_eq!(s.reasons, vec![Reason::NoData]);
    assert_eq!(s.vaccination, VaccinationState::NoRecord);
    assert_eq!(s.test_recency, None);
}

#[test]
fn valid_until_is_local_midnight() {
    let s = evaluate(&Evidence::default(), &policy(), Shanghai, bj(10, 23, 59));
    assert_eq!(s.valid_until, bj(11, 0, 0));
    let s = evaluate(&Evidence::default(), &policy(), Shanghai, bj(10, 0, 0));
    assert_eq!(s.valid_until, bj(11, 0, 0));
}

#[test]
fn red_designations() {
    for kind in [
        DesignationKind::ConfirmedCase,
        DesignationKind::CloseContact,
        DesignationKind::InboundQuarantine,
    ] {
        let ev = Evidence {
            designations: vec![designation(1, kind, bj(9, 10, 0))],
            ..Evidence::default()
        };
        let s = evaluate(&ev, &policy(), Shanghai, bj(10, 12, 0));
        assert_eq!(s.colour, Colour::Red, "{kind:?}");
        assert_eq!(
            s.reasons,
            vec![Reason::Designation {
                kind,
                colour: Colour::Red,
                evidence: 1
            }]
        );
    }
}

#[test]
fn release_and_planned_end() {
    let mut d = designation(1, DesignationKind::HomeObservation, bj(1, 10, 0));
    d.ends_at = Some(bj(8, 10, 0));
    let ev = Evidence {
        designations: vec![d.clone()],
        ..Evidence::default()
    };
    let during = evaluate(&ev, &policy(), Shanghai, bj(8, 9, 0));
    assert_eq!(during.colour, Colour::Yellow);
    // The status expires when the observation ends, before midnight.
    assert_eq!(during.valid_until, bj(8, 10, 0));
    assert_eq!(
        evaluate(&ev, &policy(), Shanghai, bj(8, 10, 0)).colour,
        Colour::Green
    );
    d.ends_at = None;
    d.released_at = Some(bj(3, 10, 0));
    let ev = Evidence {
        designations: vec![d],
        ..Evidence::default()
    };
    assert_eq!(
        evaluate(&ev, &policy(), Shanghai, bj(3, 9, 0)).colour,
        Colour::Yellow
    );
    assert_eq!(
        evaluate(&ev, &policy(), Shanghai, bj(3, 11, 0)).colour,
        Colour::Green
    );
}

#[test]
fn inbound_quarantine_leaves_reminder_two_until_day_21() {
    let mut d = designation(1, DesignationKind::InboundQuarantine, bj(1, 10, 0));
    d.released_at = Some(bj(15, 10, 0));
    let ev = Evidence {
        designations: vec![d],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(16, 10, 0));
    assert_eq!(s.colour, Colour::Green);
    assert_eq!(s.reminders, vec![ReminderKind::InboundQuarantine]);
    let s = evaluate(&ev, &policy(), Shanghai, bj(22, 10, 0));
    assert!(s.reminders.is_empty());
}

#[test]
fn arrival_reminder_clears_with_a_negative_test() {
    let arrival = designation(1, DesignationKind::Arrival, bj(10, 8, 0));
    let mut ev = Evidence {
        designations: vec![arrival],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 12, 0));
    assert_eq!(s.reminders, vec![ReminderKind::ArrivalUntested]);
    assert_eq!(s.colour, Colour::Green);
    // A test sampled before arrival does not clear it.
    ev.tests
        .push(test(2, TestKind::Pcr, TestOutcome::Negative, bj(9, 8, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 20, 0));
    assert_eq!(s.reminders, vec![ReminderKind::ArrivalUntested]);
    ev.tests
        .push(test(3, TestKind::Pcr, TestOutcome::Negative, bj(10, 9, 0)));
    // Not yet resulted at 12:00 (results come 8 hours after sampling).
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 12, 0));
    assert_eq!(s.reminders, vec![ReminderKind::ArrivalUntested]);
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 18, 0));
    assert!(s.reminders.is_empty());
}

fn declaration(id: i64, declared: Declared, at: DateTime<Utc>) -> Declaration {
    Declaration {
        meta: meta(id),
        declared,
        declared_at: at,
    }
}

fn symptoms(onset_day: u32) -> Declared {
    Declared::Symptoms {
        symptoms: vec![Symptom::Fever, Symptom::Cough],
        onset: chrono::NaiveDate::from_ymd_opt(2026, 5, onset_day).expect("valid"),
    }
}

#[test]
fn declared_symptoms_remind_until_a_negative_pcr_after_onset() {
    let mut ev = Evidence {
        declarations: vec![declaration(1, symptoms(10), bj(10, 20, 0))],
        ..Evidence::default()
    };
    // Nothing before it was declared, and the status expires when it is.
    let before = evaluate(&ev, &policy(), Shanghai, bj(10, 19, 0));
    assert!(before.reminders.is_empty());
    assert_eq!(before.valid_until, bj(10, 20, 0));

    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 21, 0));
    assert_eq!(s.reminders, vec![ReminderKind::SymptomsDeclared]);
    assert_eq!(s.colour, Colour::Green);
    assert!(!s.no_data);
    assert_eq!(
        s.reasons,
        vec![Reason::Reminder {
            reminder: ReminderKind::SymptomsDeclared,
            evidence: 1,
            until: Some(bj(24, 0, 0)),
            cleared_by_negative_test: true,
        }]
    );

    // A negative PCR sampled the day before onset does not clear it.
    ev.tests
        .push(test(2, TestKind::Pcr, TestOutcome::Negative, bj(9, 9, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(11, 9, 0));
    assert_eq!(s.reminders, vec![ReminderKind::SymptomsDeclared]);
    // Nor does an antigen test, nor a positive PCR.
    ev.tests.push(test(
        3,
        TestKind::Antigen,
        TestOutcome::Negative,
        bj(11, 8, 0),
    ));
    ev.tests
        .push(test(4, TestKind::Pcr, TestOutcome::Positive, bj(11, 8, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(11, 20, 0));
    assert!(s.reminders.contains(&ReminderKind::SymptomsDeclared));
    // A negative PCR sampled after onset does, once resulted.
    ev.tests.pop();
    ev.tests
        .push(test(5, TestKind::Pcr, TestOutcome::Negative, bj(11, 10, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(11, 17, 0));
    assert_eq!(s.reminders, vec![ReminderKind::SymptomsDeclared]);
    let s = evaluate(&ev, &policy(), Shanghai, bj(11, 18, 0));
    assert!(s.reminders.is_empty());
    assert!(s.reasons.contains(&Reason::NoRisk));
}

#[test]
fn declared_symptoms_lapse_fourteen_days_after_onset() {
    let ev = Evidence {
        declarations: vec![declaration(1, symptoms(3), bj(5, 9, 0))],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(16, 23, 0));
    assert_eq!(s.reminders, vec![ReminderKind::SymptomsDeclared]);
    let s = evaluate(&ev, &policy(), Shanghai, bj(17, 0, 0));
    assert!(s.reminders.is_empty());
}

#[test]
fn declared_arrival_is_reminder_four_until_a_test_after_arrival() {
    let arrival = Declared::Arrival {
        from: "上海".into(),
        arrived_at: bj(10, 8, 0),
    };
    let mut ev = Evidence {
        declarations: vec![declaration(1, arrival, bj(10, 12, 0))],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 13, 0));
    assert_eq!(s.reminders, vec![ReminderKind::ArrivalUntested]);
    // The same reminder as an office's arrival designation, shown once for both.
    ev.designations
        .push(designation(2, DesignationKind::Arrival, bj(10, 8, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 13, 0));
    assert_eq!(s.reminders, vec![ReminderKind::ArrivalUntested]);
    assert_eq!(s.reasons.len(), 2);
    ev.designations.clear();
    // A test sampled before the arrival does not clear it.
    ev.tests
        .push(test(3, TestKind::Pcr, TestOutcome::Negative, bj(9, 8, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(11, 9, 0));
    assert_eq!(s.reminders, vec![ReminderKind::ArrivalUntested]);
    // One sampled within 72 hours of it does.
    ev.tests
        .push(test(4, TestKind::Pcr, TestOutcome::Negative, bj(12, 9, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(12, 18, 0));
    assert!(s.reminders.is_empty());
}

#[test]
fn a_policy_can_make_declarations_do_nothing() {
    let text = healthcode_domain::policy::DEFAULT_POLICY_TOML.replace(
        "[declarations.arrival]\neffect = \"reminder\"\nreminder = \"arrival_untested\"",
        "[declarations.arrival]\neffect = \"none\"",
    );
    let p = Policy::from_toml(&text).expect("policy");
    let ev = Evidence {
        declarations: vec![declaration(
            1,
            Declared::Arrival {
                from: "CN-SH".into(),
                arrived_at: bj(10, 8, 0),
            },
            bj(10, 8, 0),
        )],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &p, Shanghai, bj(10, 9, 0));
    assert!(s.reminders.is_empty());
    assert_eq!(s.reasons, vec![Reason::NoRisk]);
}

#[test]
fn reminders_lapse_after_fourteen_days() {
    let ev = Evidence {
        designations: vec![designation(
            1,
            DesignationKind::CaseCountyStay,
            bj(1, 10, 0),
        )],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(15, 9, 0));
    assert_eq!(s.reminders, vec![ReminderKind::CaseCountyStay]);
    assert_eq!(s.valid_until, bj(15, 10, 0));
    let s = evaluate(&ev, &policy(), Shanghai, bj(15, 10, 0));
    assert!(s.reminders.is_empty());
}

#[test]
fn positive_antigen_is_yellow_until_a_pcr() {
    let mut ev = Evidence {
        tests: vec![test(
            1,
            TestKind::Antigen,
            TestOutcome::Positive,
            bj(10, 8, 0),
        )],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 20, 0));
    assert_eq!(s.colour, Colour::Yellow);
    assert_eq!(
        s.reasons,
        vec![Reason::AntigenPositiveAwaitingPcr {
            colour: Colour::Yellow,
            evidence: 1
        }]
    );
    ev.tests
        .push(test(2, TestKind::Pcr, TestOutcome::Negative, bj(10, 21, 0)));
    let s = evaluate(&ev, &policy(), Shanghai, bj(11, 8, 0));
    assert_eq!(s.colour, Colour::Green);
}

#[test]
fn test_recency_days_and_night_rule() {
    let ev = Evidence {
        tests: vec![test(1, TestKind::Pcr, TestOutcome::Negative, bj(8, 10, 0))],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 12, 0));
    let r = s.test_recency.expect("recency");
    assert_eq!((r.days, r.within_hours, r.evidence), (2, 72, 1));

    // Sampled 01:00 on the 9th, result issued 05:00: counts for the 8th.
    let night = TestResult {
        meta: meta(2),
        kind: TestKind::Pcr,
        outcome: TestOutcome::Negative,
        sampled_at: bj(9, 1, 0),
        resulted_at: bj(9, 5, 0),
    };
    let ev = Evidence {
        tests: vec![night],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 12, 0));
    assert_eq!(s.test_recency.map(|r| r.days), Some(2));

    // Antigen negatives and tests older than the window do not count.
    let ev = Evidence {
        tests: vec![
            test(3, TestKind::Antigen, TestOutcome::Negative, bj(10, 8, 0)),
            test(
                4,
                TestKind::Pcr,
                TestOutcome::Negative,
                bj(10, 8, 0) - Duration::days(20),
            ),
        ],
        ..Evidence::default()
    };
    assert_eq!(
        evaluate(&ev, &policy(), Shanghai, bj(10, 20, 0)).test_recency,
        None
    );
}

#[test]
fn vaccination_states() {
    let p = policy();
    let now = bj(10, 12, 0);
    let state = |v: Vec<Vaccination>| {
        evaluate(
            &Evidence {
                vaccinations: v,
                ..Evidence::default()
            },
            &p,
            Shanghai,
            now,
        )
        .vaccination
    };
    assert_eq!(state(vec![]), VaccinationState::NoRecord);
    assert_eq!(
        state(vec![dose(1, 1, "sinovac-coronavac")]),
        VaccinationState::PrimaryIncomplete
    );
    assert_eq!(
        state(vec![
            dose(1, 1, "sinovac-coronavac"),
            dose(2, 2, "sinovac-coronavac")
        ]),
        VaccinationState::PrimaryComplete
    );
    assert_eq!(
        state(vec![
            dose(1, 1, "sinovac-coronavac"),
            dose(2, 2, "sinovac-coronavac"),
            dose(3, 3, "sinopharm-bibp")
        ]),
        VaccinationState::BoosterComplete
    );
    assert_eq!(
        state(vec![dose(1, 1, "cansino-ad5")]),
        VaccinationState::PrimaryComplete
    );
    assert_eq!(
        state(vec![Vaccination {
            meta: meta(9),
            kind: VaccinationKind::Contraindication,
            at: bj(1, 9, 0)
        }]),
        VaccinationState::NotSuitable
    );
}

#[test]
fn future_evidence_is_ignored_and_shortens_validity() {
    let ev = Evidence {
        designations: vec![designation(
            1,
            DesignationKind::ConfirmedCase,
            bj(10, 15, 0),
        )],
        ..Evidence::default()
    };
    let s = evaluate(&ev, &policy(), Shanghai, bj(10, 12, 0));
    assert_eq!(s.colour, Colour::Green);
    assert_eq!(s.valid_until, bj(10, 15, 0));
}

// --- properties -----------------------------------------------------------------------------

fn arb_time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..40 * 24 * 60).prop_map(|m| bj(1, 0, 0) + Duration::minutes(m))
}

fn arb_designation(id: i64) -> impl Strategy<Value = Designation> {
    (
        0usize..DesignationKind::ALL.len(),
        arb_time(),
        proptest::option::of(1i64..30 * 24),
        proptest::option::of(0i64..30 * 24),
    )
        .prop_map(move |(k, start, end, release)| Designation {
            meta: meta(id),
            kind: DesignationKind::ALL[k],
            started_at: start,
            ends_at: end.map(|h| start + Duration::hours(h)),
            released_at: release.map(|h| start + Duration::hours(h)),
            exposure: None,
        })
}

fn arb_test(id: i64) -> impl Strategy<Value = TestResult> {
    (any::<bool>(), 0u8..3, arb_time(), 0i64..48).prop_map(move |(pcr, o, s, lag)| TestResult {
        meta: meta(id),
        kind: if pcr {
            TestKind::Pcr
        } else {
            TestKind::Antigen
        },
        outcome: [
            TestOutcome::Negative,
            TestOutcome::Positive,
            TestOutcome::Invalid,
        ][o as usize],
        sampled_at: s,
        resulted_at: s + Duration::hours(lag),
    })
}

fn arb_evidence() -> impl Strategy<Value = Evidence> {
    (
        proptest::collection::vec(arb_test(100), 0..6),
        proptest::collection::vec(arb_designation(200), 0..5),
    )
        .prop_map(|(mut tests, mut designations)| {
            for (i, t) in tests.iter_mut().enumerate() {
                t.meta.id = 100 + i as i64;
            }
            for (i, d) in designations.iter_mut().enumerate() {
                d.meta.id = 200 + i as i64;
            }
            Evidence {
                tests,
                vaccinations: vec![],
                designations,
                declarations: vec![],
            }
        })
}

proptest! {
    #[test]
    fn adding_a_red_designation_never_makes_a_status_greener(
        ev in arb_evidence(),
        now in arb_time(),
        start_before in 0i64..14 * 24,
        kind in 0usize..3,
    ) {
        let p = policy();
        let before = evaluate(&ev, &p, Shanghai, now);
        let mut with = ev.clone();
        let red = [DesignationKind::ConfirmedCase, DesignationKind::CloseContact, DesignationKind::InboundQuarantine][kind];
        with.designations.push(designation(999, red, now - Duration::hours(start_before)));
        let after = evaluate(&with, &p, Shanghai, now);
        prop_assert!(after.colour >= before.colour);
        prop_assert_eq!(after.colour, Colour::Red);
    }

    #[test]
    fn releasing_a_red_designation_restores_the_earlier_status(
        ev in arb_evidence(),
        now in arb_time(),
        kind in 0usize..2,
    ) {
        let p = policy();
        let before = evaluate(&ev, &p, Shanghai, now);
        let red = [DesignationKind::ConfirmedCase, DesignationKind::CloseContact][kind];
        let mut d = designation(999, red, now - Duration::hours(30));
        d.released_at = Some(now - Duration::minutes(1));
        let mut with = ev.clone();
        with.designations.push(d);
        let after = evaluate(&with, &p, Shanghai, now);
        prop_assert_eq!(after.colour, before.colour);
        prop_assert_eq!(&after.reminders, &before.reminders);
        prop_assert_eq!(after.test_recency, before.test_recency);
        prop_assert_eq!(after.valid_until, before.valid_until);
    }

    #[test]
    fn a_status_never_outlives_midnight(ev in arb_evidence(), now in arb_time()) {
        let s = evaluate(&ev, &policy(), Shanghai, now);
        let midnight = healthcode_domain::engine::next_local_midnight(now, Shanghai);
        prop_assert!(s.valid_until <= midnight);
        prop_assert!(s.valid_until > now);
        prop_assert!(midnight - now <= Duration::hours(24));
    }

    #[test]
    fn every_reason_cites_evidence_that_exists(ev in arb_evidence(), now in arb_time()) {
        let s = evaluate(&ev, &policy(), Shanghai, now);
        for r in &s.reasons {
            if let Some(id) = r.evidence() {
                prop_assert!(ev.find(id).is_some());
            }
        }
        prop_assert!(!s.reasons.is_empty());
    }
}
