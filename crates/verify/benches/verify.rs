//! The one verifier's cost over the format's own: a native code through `Trust::verify`
//! (format detection, the result shape) against `Verifier::verify` alone, in the same run;
//! and the result written as JSON, as `POST /api/v1/verify` answers it.
//!
//! `cargo bench -p healthcode-verify --bench verify -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use healthcode_credential::{
    CodeClaims, KeyUsage, SigningKey, TrustList, TrustedKey, Verifier, issue_code,
};
use healthcode_domain::{Colour, DocumentType, ReminderKind, VaccinationState};
use healthcode_verify::Trust;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[7u8; 32]);
    let root = SigningKey::from_seed(&[1u8; 32]);
    let issued_at = at(1_777_622_400);
    let claims = CodeClaims {
        region: "CN-BJ".into(),
        subject: [3; 16],
        issued_at,
        expires_at: issued_at + TimeDelta::minutes(3),
        colour: Colour::Yellow,
        reminders: vec![ReminderKind::CaseCountyStay],
        test_recency_days: Some(1),
        vaccination: VaccinationState::BoosterComplete,
        masked_name: "欧阳*".into(),
        masked_document: "11**************2X".into(),
        document_type: DocumentType::ResidentId,
        status_valid_until: at(1_777_651_200),
    };
    let list = TrustList {
        region: "CN-BJ".into(),
        sequence: 1,
        issued_at: at(1_777_593_600),
        next_update: at(1_778_198_400),
        root_public_key: root.public_key(),
        log: None,
        keys: vec![TrustedKey::new(
            key.public_key(),
            at(1_767_225_600),
            at(1_798_761_599),
            vec![KeyUsage::Code],
        )],
    };
    let Ok(code) = issue_code(&claims, &key) else {
        return;
    };
    let now = issued_at + TimeDelta::seconds(30);
    let verifier = Verifier::new(std::slice::from_ref(&list));
    let Ok(mut trust) = Trust::new() else {
        return;
    };
    trust.add_trust_list(list);
    assert!(trust.verify(&code, now).valid, "the bench code must verify");

    let mut group = c.benchmark_group("native");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verifier_alone", |b| {
        b.iter(|| verifier.verify(black_box(&code), black_box(now)))
    });
    group.bench_function("trust_verify", |b| {
        b.iter(|| trust.verify(black_box(&code), black_box(now)))
    });
    group.bench_function("trust_verify_json", |b| {
        b.iter(|| serde_json::to_vec(&trust.verify(black_box(&code), black_box(now))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
