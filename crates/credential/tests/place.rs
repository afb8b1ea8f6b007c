//! Place codes (场所码): issuing and verifying, each refusal that can be reached with honestly
//! issued codes or simple tampering, and the confusion of a health code with a place code in
//! both directions. (Refusals that need a place payload no issuer would produce, such as venue
//! id 0 or a missing marker, are unit tests in `src/place.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests state their expectations

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use common::*;
use healthcode_credential::{
    KeyUsage, PLACE_PREFIX, PREFIX, PlaceClaims, SigningKey, Verifier, VerifyError, base45,
    issue_code, issue_place_code,
};
use proptest::prelude::*;

fn example_place() -> PlaceClaims {
    PlaceClaims {
        region: "CN-BJ".into(),
        venue_id: 110_105_000_123,
        issued_at: at("2026-05-01T08:00:00Z"),
    }
}

fn place_code() -> String {
    issue_place_code(&example_place(), &example_key()).expect("issues")
}

/// The COSE bytes inside a place code.
fn place_cose(code: &str) -> Vec<u8> {
    let text = code.strip_prefix(PLACE_PREFIX).expect("has prefix");
    base45::decode(text.as_bytes()).expect("valid base45")
}

/// A place code around the given COSE bytes.
fn place_of(cose: &[u8]) -> String {
    format!("{PLACE_PREFIX}{}", base45::encode(cose))
}

#[test]
fn round_trip() {
    let code = place_code();
    assert!(code.starts_with("HCP1:"));
    let claims = example_verifier()
        .verify_place(&code, example_now())
        .expect("verifies");
    assert_eq!(claims, example_place());
}

#[test]
fn issuing_is_deterministic_and_qr_alphanumeric() {
    let code = place_code();
    assert_eq!(code, place_code());
    assert!(
        code.bytes()
            .all(|c| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&c))
    );
}

#[test]
fn does_not_expire_while_its_key_is_listed() {
    // Months later, with the key still in the list, the poster still verifies.
    let later = at("2026-12-31T00:00:00Z");
    assert_eq!(
        example_verifier().verify_place(&place_code(), later),
        Ok(example_place())
    );
    // Even after the key's not_after: validity is judged at the poster's issue time.
    let much_later = at("2030-01-01T00:00:00Z");
    assert!(
        example_verifier()
            .verify_place(&place_code(), much_later)
            .is_ok()
    );
}

#[test]
fn refused_once_the_key_leaves_the_trust_list() {
    let mut list = example_list();
    list.sequence = 2;
    list.keys.clear();
    let verifier = Verifier::new(&[example_list(), list]);
    assert_eq!(
        verifier.verify_place(&place_code(), example_now()),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn issued_in_the_future() {
    let issued_at = example_place().issued_at;
    let verifier = example_verifier();
    // Up to 60 s of clock skew is allowed …
    assert!(
        verifier
            .verify_place(&place_code(), issued_at - TimeDelta::seconds(60))
            .is_ok()
    );
    // … and no more.
    let result = verifier.verify_place(&place_code(), issued_at - TimeDelta::seconds(61));
    assert_eq!(result, Err(VerifyError::NotYetValid));
}

#[test]
fn forged_signature() {
    let cose = place_cose(&place_code());
    // The signature is the last 64 bytes; flip a bit in its middle.
    let mut forged = cose.clone();
    let at = forged.len() - 32;
    forged[at] ^= 0x01;
    assert_eq!(
        example_verifier().verify_place(&place_of(&forged), example_now()),
        Err(VerifyError::Signature)
    );
    // A changed venue id under the original signature.
    let mut other = example_place();
    other.venue_id += 1;
    let other_cose = place_cose(&issue_place_code(&other, &example_key()).expect("issues"));
    let mut spliced = other_cose.clone();
    let sig = cose.len() - 64;
    spliced[other_cose.len() - 64..].copy_from_slice(&cose[sig..]);
    assert_eq!(
        example_verifier().verify_place(&place_of(&spliced), example_now()),
        Err(VerifyError::Signature)
    );
}

#[test]
fn every_single_byte_change_is_refused() {
    let cose = place_cose(&place_code());
    for i in 0..cose.len() {
        let mut changed = cose.clone();
        changed[i] ^= 0x40;
        assert!(
            example_verifier()
                .verify_place(&place_of(&changed), example_now())
                .is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn unknown_key() {
    let stranger = SigningKey::from_seed(&[42u8; 32]);
    let code = issue_place_code(&example_place(), &stranger).expect("issues");
    assert_eq!(
        example_verifier().verify_place(&code, example_now()),
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(
        Verifier::new(&[]).verify_place(&place_code(), example_now()),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn wrong_region() {
    let mut claims = example_place();
    claims.region = "CN-SH".into();
    let code = issue_place_code(&claims, &example_key()).expect("issues");
    assert_eq!(
        example_verifier().verify_place(&code, example_now()),
        Err(VerifyError::Region {
            claimed: "CN-SH".into(),
            trusted: "CN-BJ".into()
        })
    );
}

#[test]
fn key_not_valid_at_issue_time_or_not_for_codes() {
    let mut list = example_list();
    list.keys[0].not_before = at("2026-06-01T00:00:00Z");
    let result = Verifier::new(&[list]).verify_place(&place_code(), example_now());
    assert!(
        matches!(result, Err(VerifyError::KeyNotValid(_))),
        "{result:?}"
    );

    let mut list = example_list();
    list.keys[0].not_after = at("2026-05-01T07:59:59Z");
    let result = Verifier::new(&[list]).verify_place(&place_code(), example_now());
    assert!(
        matches!(result, Err(VerifyError::KeyNotValid(_))),
        "{result:?}"
    );

    let mut list = example_list();
    list.keys[0].usage = vec![KeyUsage::TrustList];
    let result = Verifier::new(&[list]).verify_place(&place_code(), example_now());
    assert!(
        matches!(result, Err(VerifyError::KeyNotValid(_))),
        "{result:?}"
    );
}

#[test]
fn prefix_is_required_exactly() {
    let code = place_code();
    let rest = &code[PLACE_PREFIX.len()..];
    for text in [
        format!("hcp1:{rest}"),
        format!(" {code}"),
        format!("HCN1:{rest}"),
        rest.to_owned(),
        String::new(),
    ] {
        assert_eq!(
            example_verifier().verify_place(&text, example_now()),
            Err(VerifyError::Prefix),
            "{text:?}"
        );
    }
}

#[test]
fn malformed_base45() {
    let code = place_code();
    for text in [
        format!("{code}\n"),
        code.to_lowercase().replacen("hcp1:", "HCP1:", 1),
        format!("{PLACE_PREFIX}GGW"),
        format!("{code}a"),
    ] {
        let result = example_verifier().verify_place(&text, example_now());
        assert!(matches!(result, Err(VerifyError::Base45(_))), "{result:?}");
    }
}

#[test]
fn truncated() {
    let cose = place_cose(&place_code());
    for len in [0, 1, 2, cose.len() / 2, cose.len() - 1] {
        let result = example_verifier().verify_place(&place_of(&cose[..len]), example_now());
        assert!(
            matches!(
                result,
                Err(VerifyError::Cbor(_) | VerifyError::Tag | VerifyError::Cose(_))
            ),
            "{len}: {result:?}"
        );
    }
    // Cut inside the signature: malformed CBOR, a length longer than what is left.
    let result = example_verifier().verify_place(&place_of(&cose[..cose.len() - 1]), example_now());
    assert!(matches!(result, Err(VerifyError::Cbor(_))), "{result:?}");
}

#[test]
fn trailing_bytes() {
    let mut cose = place_cose(&place_code());
    cose.push(0x00);
    assert_eq!(
        example_verifier().verify_place(&place_of(&cose), example_now()),
        Err(VerifyError::TrailingBytes)
    );
}

#[test]
fn a_health_code_behind_the_place_prefix_is_refused() {
    let code = issue_code(&example_claims(), &example_key()).expect("issues");
    let as_place = place_of(&cose_bytes(&code));
    let result = example_verifier().verify_place(&as_place, example_now());
    assert!(
        matches!(result, Err(VerifyError::PlaceClaims(_))),
        "{result:?}"
    );
    assert_eq!(result.map_err(|e| e.code()), Err("place_claims"));
    // And as it is, a health code is not a place code.
    assert_eq!(
        example_verifier().verify_place(&code, example_now()),
        Err(VerifyError::Prefix)
    );
}

#[test]
fn a_place_code_behind_the_code_prefix_is_refused() {
    let as_code = code_of(&place_cose(&place_code()));
    assert!(as_code.starts_with(PREFIX));
    let result = example_verifier().verify(&as_code, example_now());
    assert!(matches!(result, Err(VerifyError::Claims(_))), "{result:?}");
    // And as it is, a place code is not a health code.
    assert_eq!(
        example_verifier().verify(&place_code(), example_now()),
        Err(VerifyError::Prefix)
    );
}

#[test]
fn a_trust_list_envelope_is_not_a_place_code() {
    // A trust list is a COSE_Sign1 too. Even if its signer were also trusted for codes (a
    // verifier fed a list that names the root as a code key), it must not read as a place.
    let json = example_list().sign(&example_root()).expect("signs");
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let cose = STANDARD
        .decode(parsed["cose"].as_str().expect("cose member"))
        .expect("base64");
    let mut careless = example_list();
    careless.keys[0].public_key = example_root().public_key();
    careless.keys[0].kid = example_root().kid();
    let result = Verifier::new(&[careless]).verify_place(&place_of(&cose), example_now());
    assert!(
        matches!(result, Err(VerifyError::PlaceClaims(_))),
        "{result:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_after_the_prefix_never_panics(text in ".{0,300}") {
        let verifier = example_verifier();
        let prefixed = format!("HCP1:{text}");
        prop_assert!(verifier.verify_place(&prefixed, example_now()).is_err());
        let _ = verifier.verify_place(&text, example_now());
    }

    #[test]
    fn arbitrary_base45_after_the_prefix_never_panics(text in "[0-9A-Z $%*+./:-]{0,400}") {
        let _ = example_verifier().verify_place(&format!("HCP1:{text}"), example_now());
    }

    #[test]
    fn arbitrary_cose_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(example_verifier().verify_place(&place_of(&bytes), example_now()).is_err());
    }

    #[test]
    fn any_valid_place_round_trips(
        venue_id in 1..=i64::MAX,
        secs in 1_767_225_600i64..1_798_761_599,
    ) {
        let claims = PlaceClaims {
            region: "CN-BJ".into(),
            venue_id,
            issued_at: chrono::DateTime::from_timestamp(secs, 0).expect("in range"),
        };
        let code = issue_place_code(&claims, &example_key()).expect("issues");
        prop_assert_eq!(example_verifier().verify_place(&code, claims.issued_at), Ok(claims));
    }
}
