//! Throughput of verifying and issuing a realistic code (the worked example of
//! docs/FORMAT.md, with two reminders so that every field is filled). The target is at least
//! 25,000 verifications a second on one core.
//!
//! `cargo bench -p healthcode-credential --bench verify -- --quick`

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use healthcode_credential::{
    CodeClaims, KeyUsage, SigningKey, TrustList, TrustedKey, Verifier, issue_code,
};
use healthcode_domain::{Colour, DocumentType, ReminderKind, VaccinationState};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn claims() -> CodeClaims {
    let issued_at = at(1_777_622_400);
    CodeClaims {
        region: "CN-BJ".into(),
        subject: core::array::from_fn(|i| i as u8 + 1),
        issued_at,
        expires_at: issued_at + TimeDelta::minutes(3),
        colour: Colour::Yellow,
        reminders: vec![ReminderKind::CaseCountyStay, ReminderKind::RiskLink],
        test_recency_days: Some(1),
        vaccination: VaccinationState::BoosterComplete,
        masked_name: "欧阳*".into(),
        masked_document: "11**************2X".into(),
        document_type: DocumentType::ResidentId,
        status_valid_until: at(1_777_651_200),
    }
}

/// A verifier holding a realistic number of keys: the signing key among 31 others, in lists
/// of four regions.
fn verifier(key: &SigningKey) -> Verifier {
    let lists: Vec<TrustList> = ["CN-BJ", "CN-SH", "CN-GD", "CN-ZJ"]
        .iter()
        .enumerate()
        .map(|(r, region)| {
            let root = SigningKey::from_seed(&[100 + r as u8; 32]);
            let mut keys: Vec<TrustedKey> = (0..7)
                .map(|k| {
                    TrustedKey::new(
                        SigningKey::from_seed(&[(r * 10 + k) as u8 + 40; 32]).public_key(),
                        at(1_767_225_600),
                        at(1_798_761_599),
                        vec![KeyUsage::Code],
                    )
                })
                .collect();
            if r == 0 {
                keys.push(TrustedKey::new(
                    key.public_key(),
                    at(1_767_225_600),
                    at(1_798_761_599),
                    vec![KeyUsage::Code],
                ));
            }
            TrustList {
                region: (*region).into(),
                sequence: 1,
                issued_at: at(1_777_593_600),
                next_update: at(1_778_198_400),
                root_public_key: root.public_key(),
                log: None,
                keys,
            }
        })
        .collect();
    Verifier::new(&lists)
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[7u8; 32]);
    let claims = claims();
    let verifier = verifier(&key);
    let Ok(code) = issue_code(&claims, &key) else {
        return;
    };
    let now = claims.issued_at + TimeDelta::seconds(30);
    assert!(
        verifier.verify(&code, now).is_ok(),
        "the bench code must verify"
    );

    let mut group = c.benchmark_group("code");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify", |b| {
        b.iter(|| verifier.verify(black_box(&code), black_box(now)))
    });
    group.bench_function("verify_rejects_bad_signature", |b| {
        // One character inside the claims lowered to '0' (so the group stays valid base45):
        // decodes and parses, then fails at the signature.
        let mut chars: Vec<char> = code.chars().collect();
        chars[60] = if chars[60] == '0' { '1' } else { '0' };
        let bad: String = chars.into_iter().collect();
        assert_eq!(
            verifier.verify(&bad, now).map_err(|e| e.code()),
            Err("signature")
        );
        b.iter(|| verifier.verify(black_box(&bad), black_box(now)))
    });
    group.bench_function("verify_unknown_key", |b| {
        // Everything but the signature: decode, parse, look up the kid, fail.
        let stranger = SigningKey::from_seed(&[99u8; 32]);
        let Ok(other) = issue_code(&claims, &stranger) else {
            return;
        };
        b.iter(|| verifier.verify(black_box(&other), black_box(now)))
    });
    group.bench_function("issue_code", |b| {
        b.iter(|| issue_code(black_box(&claims), black_box(&key)))
    });
    group.finish();

    // The floor: Ed25519 alone on a message of the Sig_structure's size, with the public key
    // already decompressed, as the verifier holds it.
    let mut group = c.benchmark_group("ed25519_baseline");
    group.throughput(Throughput::Elements(1));
    let dalek = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public = dalek.verifying_key();
    let message = [0x5au8; 120];
    let signature = ed25519_dalek::Signer::sign(&dalek, &message);
    group.bench_function("verify", |b| {
        b.iter(|| ed25519_dalek::Verifier::verify(&public, black_box(&message), &signature))
    });
    group.bench_function("verify_strict", |b| {
        b.iter(|| public.verify_strict(black_box(&message), &signature))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
