//! Paper passes (`HCZ1:`): issuing and verifying, refusals reachable with honestly issued passes
//! or simple tampering (forged signature, another region, a stranger's key, damaged text,
//! truncation), and the three native kinds put behind each other's prefixes. The worked example
//! of docs/FORMAT.md ("Paper passes") is checked byte for byte here. (Refusals that need a
//! payload no issuer would produce are unit tests in `src/pass.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests state their expectations

mod common;

use chrono::TimeDelta;
use common::*;
use healthcode_credential::{
    PASS_PREFIX, PassClaims, PlaceClaims, SigningKey, Verifier, VerifyError, base45, issue_code,
    issue_pass, issue_place_code,
};
use healthcode_domain::DocumentType;
use proptest::prelude::*;

fn example_pass() -> PassClaims {
    PassClaims {
        region: "CN-BJ".into(),
        serial: core::array::from_fn(|i| 0xa0 + i as u8),
        issued_at: at("2026-05-01T08:00:00Z"),
        masked_name: "张*".into(),
        masked_document: "11**************2X".into(),
        document_type: DocumentType::ResidentId,
    }
}

fn pass() -> String {
    issue_pass(&example_pass(), &example_key()).expect("issues")
}

fn pass_cose(text: &str) -> Vec<u8> {
    let rest = text.strip_prefix(PASS_PREFIX).expect("has prefix");
    base45::decode(rest.as_bytes()).expect("valid base45")
}

fn pass_of(cose: &[u8]) -> String {
    format!("{PASS_PREFIX}{}", base45::encode(cose))
}

#[test]
fn round_trip() {
    let text = pass();
    assert!(text.starts_with("HCZ1:"));
    assert_eq!(
        example_verifier().verify_pass(&text, example_now()),
        Ok(example_pass())
    );
}

/// docs/FORMAT.md, "Paper passes": the payload and the whole text of the worked example.
#[test]
fn the_worked_example_of_format_md() {
    let cose = pass_cose(&pass());
    // d2 84 | 4d a2 01 27 04 48 <kid> | a0 | 58 4a <payload> | 58 40 <signature>
    let payload_at = 3 + 13 + 1 + 2;
    let payload = &cose[payload_at..cose.len() - 66];
    assert_eq!(
        hex::encode(payload),
        "a70165434e2d424a0250a0a1a2a3a4a5a6a7a8a9aaabacadaeaf031a69f45d80046470617373\
         0564e5bca02a067231312a2a2a2a2a2a2a2a2a2a2a2a2a2a32580701"
    );
    assert_eq!(
        hex::encode(&cose),
        include_str!("pass_example.hex").trim_end()
    );
    assert_eq!(pass(), include_str!("pass_example.txt").trim_end());
}

#[test]
fn issuing_is_deterministic_and_qr_alphanumeric() {
    assert_eq!(pass(), pass());
    assert!(
        pass()
            .bytes()
            .all(|c| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&c))
    );
}

#[test]
fn does_not_expire_while_its_key_is_listed() {
    assert!(
        example_verifier()
            .verify_pass(&pass(), at("2030-01-01T00:00:00Z"))
            .is_ok()
    );
    let issued_at = example_pass().issued_at;
    assert_eq!(
        example_verifier().verify_pass(&pass(), issued_at - TimeDelta::seconds(61)),
        Err(VerifyError::NotYetValid)
    );
}

#[test]
fn forged_signature() {
    let cose = pass_cose(&pass());
    let mut forged = cose.clone();
    let at = forged.len() - 32;
    forged[at] ^= 0x01;
    assert_eq!(
        example_verifier().verify_pass(&pass_of(&forged), example_now()),
        Err(VerifyError::Signature)
    );
    // Another serial under the original signature.
    let mut other = example_pass();
    other.serial[0] ^= 1;
    let mut spliced = pass_cose(&issue_pass(&other, &example_key()).expect("issues"));
    let n = spliced.len();
    spliced[n - 64..].copy_from_slice(&cose[cose.len() - 64..]);
    assert_eq!(
        example_verifier().verify_pass(&pass_of(&spliced), example_now()),
        Err(VerifyError::Signature)
    );
}

#[test]
fn every_single_byte_change_is_refused() {
    let cose = pass_cose(&pass());
    for i in 0..cose.len() {
        let mut changed = cose.clone();
        changed[i] ^= 0x40;
        assert!(
            example_verifier()
                .verify_pass(&pass_of(&changed), example_now())
                .is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn wrong_region_and_unknown_key() {
    let mut claims = example_pass();
    claims.region = "CN-SH".into();
    let text = issue_pass(&claims, &example_key()).expect("issues");
    assert_eq!(
        example_verifier().verify_pass(&text, example_now()),
        Err(VerifyError::Region {
            claimed: "CN-SH".into(),
            trusted: "CN-BJ".into()
        })
    );
    let stranger = SigningKey::from_seed(&[42u8; 32]);
    let text = issue_pass(&example_pass(), &stranger).expect("issues");
    assert_eq!(
        example_verifier().verify_pass(&text, example_now()),
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(
        Verifier::new(&[]).verify_pass(&pass(), example_now()),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn damaged_forms() {
    let text = pass();
    let rest = &text[PASS_PREFIX.len()..];
    for wrong_prefix in [
        format!("hcz1:{rest}"),
        format!("HCP1:{rest}"),
        format!("HCN1:{rest}"),
        rest.to_owned(),
        String::new(),
    ] {
        assert_eq!(
            example_verifier().verify_pass(&wrong_prefix, example_now()),
            Err(VerifyError::Prefix)
        );
    }
    for bad in [
        format!("{text}\n"),
        format!("{text}a"),
        format!("{PASS_PREFIX}GGW"),
    ] {
        let result = example_verifier().verify_pass(&bad, example_now());
        assert!(matches!(result, Err(VerifyError::Base45(_))), "{result:?}");
    }
    let cose = pass_cose(&text);
    for len in [0, 1, 2, cose.len() / 2, cose.len() - 1] {
        assert!(
            example_verifier()
                .verify_pass(&pass_of(&cose[..len]), example_now())
                .is_err()
        );
    }
    let mut trailing = cose.clone();
    trailing.push(0);
    assert_eq!(
        example_verifier().verify_pass(&pass_of(&trailing), example_now()),
        Err(VerifyError::TrailingBytes)
    );
}

#[test]
fn the_three_kinds_are_refused_behind_each_others_prefixes() {
    let code = issue_code(&example_claims(), &example_key()).expect("issues");
    let place = issue_place_code(
        &PlaceClaims {
            region: "CN-BJ".into(),
            venue_id: 7,
            issued_at: at("2026-05-01T08:00:00Z"),
        },
        &example_key(),
    )
    .expect("issues");
    let v = example_verifier();
    let code_as_pass = pass_of(&cose_bytes(&code));
    assert!(matches!(
        v.verify_pass(&code_as_pass, example_now()),
        Err(VerifyError::PassClaims(_))
    ));
    let place_cose = base45::decode(&place.as_bytes()[5..]).expect("base45");
    assert!(matches!(
        v.verify_pass(&pass_of(&place_cose), example_now()),
        Err(VerifyError::PassClaims(_))
    ));
    let pass_as_code = code_of(&pass_cose(&pass()));
    assert!(matches!(
        v.verify(&pass_as_code, example_now()),
        Err(VerifyError::Claims(_))
    ));
    let pass_as_place = format!("HCP1:{}", &pass()[5..]);
    assert!(matches!(
        v.verify_place(&pass_as_place, example_now()),
        Err(VerifyError::PlaceClaims(_))
    ));
    // As they are, neither a code nor a pass is the other.
    assert_eq!(
        v.verify_pass(&code, example_now()),
        Err(VerifyError::Prefix)
    );
    assert_eq!(v.verify(&pass(), example_now()), Err(VerifyError::Prefix));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(example_verifier().verify_pass(&pass_of(&bytes), example_now()).is_err());
        let text = String::from_utf8_lossy(&bytes);
        let _ = example_verifier().verify_pass(&format!("HCZ1:{text}"), example_now());
    }

    #[test]
    fn any_valid_pass_round_trips(
        serial in any::<[u8; 16]>(),
        secs in 1_767_225_600i64..1_798_761_599,
        name in "[\u{4e00}-\u{9fa5}*]{1,8}",
    ) {
        let claims = PassClaims {
            serial,
            issued_at: chrono::DateTime::from_timestamp(secs, 0).expect("in range"),
            masked_name: name,
            ..example_pass()
        };
        let text = issue_pass(&claims, &example_key()).expect("issues");
        prop_assert_eq!(example_verifier().verify_pass(&text, claims.issued_at), Ok(claims));
    }
}
