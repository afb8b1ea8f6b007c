//! Status evaluation throughput for a person with a typical evidence history: two weeks of
//! PCR tests every other day, an antigen test, three vaccine doses and one released home
//! observation. Run: `cargo bench -p healthcode-domain --bench status`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use healthcode_domain::{
    Designation, DesignationKind, Evidence, EvidenceMeta, Policy, TestKind, TestOutcome,
    TestResult, Vaccination, VaccinationKind, evaluate,
};

fn meta(id: i64) -> EvidenceMeta {
    EvidenceMeta {
        id,
        provider: "Beijing Lab 3".into(),
        record_id: format!("R-{id}"),
        revision: 1,
    }
}

fn typical(now: chrono::DateTime<Utc>) -> Evidence {
    let mut tests: Vec<TestResult> = (0..7)
        .map(|i| {
            let s = now - Duration::days(2 * i + 1);
            TestResult {
                meta: meta(i),
                kind: TestKind::Pcr,
                outcome: TestOutcome::Negative,
                sampled_at: s,
                resulted_at: s + Duration::hours(10),
            }
        })
        .collect();
    tests.push(TestResult {
        meta: meta(20),
        kind: TestKind::Antigen,
        outcome: TestOutcome::Negative,
        sampled_at: now - Duration::days(3),
        resulted_at: now - Duration::days(3),
    });
    let vaccinations = (1..=3)
        .map(|n| Vaccination {
            meta: meta(30 + i64::from(n)),
            kind: VaccinationKind::Dose {
                number: n,
                product: "sinovac-coronavac".into(),
            },
            at: now - Duration::days(400 - 60 * i64::from(n)),
        })
        .collect();
    let designations = vec![Designation {
        meta: meta(40),
        kind: DesignationKind::HomeObservation,
        started_at: now - Duration::days(30),
        ends_at: None,
        released_at: Some(now - Duration::days(23)),
        exposure: None,
    }];
    Evidence {
        tests,
        vaccinations,
        designations,
        declarations: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let Ok(policy) = Policy::default_policy() else {
        return;
    };
    let Some(now) = Utc.with_ymd_and_hms(2026, 5, 10, 4, 0, 0).single() else {
        return;
    };
    let evidence = typical(now);
    let mut g = c.benchmark_group("status");
    g.throughput(Throughput::Elements(1));
    g.bench_function("evaluate_typical", |b| {
        b.iter(|| evaluate(black_box(&evidence), &policy, Shanghai, black_box(now)))
    });
    let empty = Evidence::default();
    g.bench_function("evaluate_no_data", |b| {
        b.iter(|| evaluate(black_box(&empty), &policy, Shanghai, black_box(now)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
