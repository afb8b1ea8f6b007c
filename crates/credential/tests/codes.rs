//! Issuing and verifying codes: the round trip, each refusal of docs/FORMAT.md's verification
//! steps that can be reached with honestly issued codes, and tampering anywhere in a code.
//! (Refusals that need a code no issuer would produce are unit tests in `src/verify.rs`.)

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

mod common;

use chrono::TimeDelta;
use common::*;
use healthcode_credential::{
    CodeClaims, IssueError, KeyUsage, PREFIX, SigningKey, TrustedKey, Verifier, VerifyError,
    base45, issue_code,
};
use healthcode_domain::{Colour, ReminderKind, VaccinationState};

fn example_code() -> String {
    issue_code(&example_claims(), &example_key()).expect("issues")
}

#[test]
fn round_trip() {
    let code = example_code();
    assert!(code.starts_with("HCN1:"));
    let claims = example_verifier()
        .verify(&code, example_now())
        .expect("verifies");
    assert_eq!(claims, example_claims());
}

#[test]
fn round_trip_with_every_field_busy() {
    let mut claims = example_claims();
    claims.colour = Colour::Red;
    claims.reminders = ReminderKind::ALL.to_vec();
    claims.test_recency_days = None;
    claims.vaccination = VaccinationState::NoRecord;
    claims.masked_name = "欧阳**".into();
    let code = issue_code(&claims, &example_key()).expect("issues");
    assert_eq!(example_verifier().verify(&code, example_now()), Ok(claims));
}

#[test]
fn issuing_is_deterministic() {
    assert_eq!(example_code(), example_code());
}

#[test]
fn valid_from_just_before_iat_until_just_before_exp() {
    let claims = example_claims();
    let verifier = example_verifier();
    let code = example_code();
    // iat may be up to 60 s ahead of the verifier's clock.
    assert!(
        verifier
            .verify(&code, claims.issued_at - TimeDelta::seconds(60))
            .is_ok()
    );
    assert!(verifier.verify(&code, claims.issued_at).is_ok());
    assert!(
        verifier
            .verify(&code, claims.expires_at - TimeDelta::milliseconds(1))
            .is_ok()
    );
}

#[test]
fn expired_at_exactly_exp() {
    let claims = example_claims();
    let result = example_verifier().verify(&example_code(), claims.expires_at);
    assert_eq!(result, Err(VerifyError::Expired));
    assert_eq!(VerifyError::Expired.code(), "expired");
}

#[test]
fn not_yet_valid_more_than_60_seconds_before_iat() {
    let claims = example_claims();
    let now = claims.issued_at - TimeDelta::seconds(61);
    assert_eq!(
        example_verifier().verify(&example_code(), now),
        Err(VerifyError::NotYetValid)
    );
}

#[test]
fn unknown_key() {
    let stranger = SigningKey::from_seed(&[42u8; 32]);
    let code = issue_code(&example_claims(), &stranger).expect("issues");
    assert_eq!(
        example_verifier().verify(&code, example_now()),
        Err(VerifyError::UnknownKey)
    );
    // No trust lists at all: every key is unknown.
    assert_eq!(
        Verifier::new(&[]).verify(&example_code(), example_now()),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn key_outside_its_validity_period() {
    let mut list = example_list();
    list.keys[0].not_before = at("2026-06-01T00:00:00Z");
    let result = Verifier::new(&[list.clone()]).verify(&example_code(), example_now());
    assert!(
        matches!(result, Err(VerifyError::KeyNotValid(_))),
        "{result:?}"
    );

    list.keys[0].not_before = at("2026-01-01T00:00:00Z");
    list.keys[0].not_after = at("2026-05-01T07:59:59Z");
    let result = Verifier::new(&[list]).verify(&example_code(), example_now());
    assert!(
        matches!(result, Err(VerifyError::KeyNotValid(_))),
        "{result:?}"
    );
}

#[test]
fn key_validity_bounds_are_inclusive() {
    let mut list = example_list();
    list.keys[0].not_before = example_claims().issued_at;
    list.keys[0].not_after = example_claims().issued_at;
    assert!(
        Verifier::new(&[list])
            .verify(&example_code(), example_now())
            .is_ok()
    );
}

#[test]
fn key_without_code_usage() {
    let mut list = example_list();
    list.keys[0].usage = vec![KeyUsage::TrustList];
    let result = Verifier::new(&[list]).verify(&example_code(), example_now());
    assert!(
        matches!(result, Err(VerifyError::KeyNotValid(_))),
        "{result:?}"
    );
}

#[test]
fn region_mismatch() {
    let mut claims = example_claims();
    claims.region = "CN-SH".into();
    let code = issue_code(&claims, &example_key()).expect("issues");
    let result = example_verifier().verify(&code, example_now());
    assert_eq!(
        result,
        Err(VerifyError::Region {
            claimed: "CN-SH".into(),
            trusted: "CN-BJ".into()
        })
    );
}

#[test]
fn a_newer_list_of_the_region_replaces_an_older_one() {
    let old = example_list();
    let mut new = example_list();
    new.sequence = 2;
    let replacement = SigningKey::from_seed(&[9u8; 32]);
    new.keys = vec![TrustedKey::new(
        replacement.public_key(),
        at("2026-01-01T00:00:00Z"),
        at("2026-12-31T00:00:00Z"),
        vec![KeyUsage::Code],
    )];
    for lists in [[old.clone(), new.clone()], [new.clone(), old.clone()]] {
        let verifier = Verifier::new(&lists);
        assert_eq!(
            verifier.verify(&example_code(), example_now()),
            Err(VerifyError::UnknownKey)
        );
        let code = issue_code(&example_claims(), &replacement).expect("issues");
        assert!(verifier.verify(&code, example_now()).is_ok());
    }
}

#[test]
fn lists_of_several_regions_work_together() {
    let mut shanghai = example_list();
    shanghai.region = "CN-SH".into();
    let sh_key = SigningKey::from_seed(&[3u8; 32]);
    shanghai.keys = vec![TrustedKey::new(
        sh_key.public_key(),
        at("2026-01-01T00:00:00Z"),
        at("2026-12-31T00:00:00Z"),
        vec![KeyUsage::Code],
    )];
    let verifier = Verifier::new(&[example_list(), shanghai]);
    let mut claims = example_claims();
    claims.region = "CN-SH".into();
    let sh_code = issue_code(&claims, &sh_key).expect("issues");
    assert_eq!(verifier.verify(&sh_code, example_now()), Ok(claims));
    assert!(verifier.verify(&example_code(), example_now()).is_ok());
}

#[test]
fn prefix_is_required_exactly() {
    let code = example_code();
    let body = code.strip_prefix(PREFIX).expect("prefix");
    for bad in [
        body.to_string(),
        format!("hcn1:{body}"),
        format!("HCN2:{body}"),
        format!(" {code}"),
        String::new(),
    ] {
        assert_eq!(
            example_verifier().verify(&bad, example_now()),
            Err(VerifyError::Prefix)
        );
    }
    assert!(matches!(
        example_verifier().verify(&format!("{code}\n"), example_now()),
        Err(VerifyError::Base45(_))
    ));
}

#[test]
fn trailing_bytes_after_the_cose_structure() {
    let mut cose = cose_bytes(&example_code());
    cose.push(0x00);
    assert_eq!(
        example_verifier().verify(&code_of(&cose), example_now()),
        Err(VerifyError::TrailingBytes)
    );
}

#[test]
fn untagged_cose_is_refused() {
    let cose = cose_bytes(&example_code());
    assert_eq!(
        example_verifier().verify(&code_of(&cose[1..]), example_now()),
        Err(VerifyError::Tag)
    );
}

#[test]
fn every_flipped_bit_of_the_cose_bytes_fails() {
    let verifier = example_verifier();
    let now = example_now();
    let cose = cose_bytes(&example_code());
    let mut codes = std::collections::BTreeMap::<&str, usize>::new();
    for byte in 0..cose.len() {
        for bit in 0..8 {
            let mut tampered = cose.clone();
            tampered[byte] ^= 1 << bit;
            match verifier.verify(&code_of(&tampered), now) {
                Ok(_) => panic!("flipping bit {bit} of byte {byte} was not detected"),
                Err(e) => *codes.entry(e.code()).or_default() += 1,
            }
        }
    }
    // Most flips land in the signed bytes or the signature.
    assert!(codes.get("signature").copied().unwrap_or(0) > cose.len() * 6);
}

const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Replaces character `i` of `code` with each of `replacements` (skipping the one already
/// there) and asserts that no result verifies.
fn assert_changes_fail(code: &[char], i: usize, replacements: impl Iterator<Item = char>) {
    let verifier = example_verifier();
    for c in replacements {
        if c == code[i] {
            continue;
        }
        let mut tampered = code.to_vec();
        tampered[i] = c;
        let tampered: String = tampered.into_iter().collect();
        assert!(
            verifier.verify(&tampered, example_now()).is_err(),
            "changing character {i} to {c:?} was not detected"
        );
    }
}

/// Every position, with a few replacements each: a neighbour in the alphabet, one far away,
/// and a character outside the alphabet. (The exhaustive version below is slow in debug
/// builds, where Ed25519 takes milliseconds.)
#[test]
fn every_changed_character_of_the_text_fails() {
    let code: Vec<char> = example_code().chars().collect();
    let alphabet: Vec<char> = ALPHABET.chars().collect();
    for i in 0..code.len() {
        let at = alphabet.iter().position(|&c| c == code[i]).unwrap_or(0);
        let picks = [
            alphabet[(at + 1) % 45],
            alphabet[(at + 22) % 45],
            alphabet[(at + 44) % 45],
            'a',
        ];
        assert_changes_fail(&code, i, picks.into_iter());
    }
}

/// Every position with every other alphabet character:
/// `cargo test --release -p healthcode-credential -- --ignored`.
#[test]
#[ignore = "slow in debug builds; run with --release"]
fn every_changed_character_of_the_text_fails_exhaustively() {
    let code: Vec<char> = example_code().chars().collect();
    for i in 0..code.len() {
        assert_changes_fail(&code, i, ALPHABET.chars());
    }
}

#[test]
fn truncation_and_extension_fail() {
    let verifier = example_verifier();
    let code = example_code();
    for len in 0..code.len() {
        if code.is_char_boundary(len) {
            assert!(verifier.verify(&code[..len], example_now()).is_err());
        }
    }
    assert!(
        verifier
            .verify(&format!("{code}00"), example_now())
            .is_err()
    );
    assert!(
        verifier
            .verify(&format!("{code}000"), example_now())
            .is_err()
    );
}

#[test]
fn issue_refuses_claims_a_verifier_would_refuse() {
    let key = example_key();
    let mut c = example_claims();
    c.expires_at = c.issued_at + TimeDelta::hours(25);
    c.status_valid_until = c.expires_at;
    assert!(matches!(issue_code(&c, &key), Err(IssueError::Claims(_))));

    let mut c = example_claims();
    c.expires_at = c.status_valid_until + TimeDelta::seconds(1);
    assert!(matches!(issue_code(&c, &key), Err(IssueError::Claims(_))));

    let mut c = example_claims();
    c.issued_at += TimeDelta::nanoseconds(1);
    assert_eq!(issue_code(&c, &key), Err(IssueError::Time("issued_at")));

    let mut c = example_claims();
    c.reminders = vec![ReminderKind::RiskLink, ReminderKind::RiskLink];
    assert!(matches!(issue_code(&c, &key), Err(IssueError::Claims(_))));
}

#[test]
fn claims_serialize_for_people() {
    let json = serde_json::to_value(example_claims()).expect("serializes");
    assert_eq!(json["subject"], "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(json["issued_at"], "2026-05-01T08:00:00Z");
    assert_eq!(json["colour"], "green");
    assert_eq!(json["document_type"], "resident_id");
    assert_eq!(json["vaccination"], "booster_complete");
    let back: CodeClaims = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, example_claims());
}

#[test]
fn base45_is_reexported_for_tools() {
    assert_eq!(base45::encode(b"AB"), "BB8");
}
