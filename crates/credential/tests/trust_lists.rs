//! Signing and reading trust list files: the round trip, pinning, tampering with the signed
//! part and with the JSON wrapper, and lists that may not be signed.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use healthcode_credential::{
    IssueError, KeyUsage, SigningKey, TrustList, TrustListError, TrustedKey, kid_of,
};

fn signed() -> String {
    example_list().sign(&example_root()).expect("signs")
}

fn wrapper(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text).expect("json") {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn with_cose(cose: &[u8]) -> String {
    let mut file = wrapper(&signed());
    file.insert("cose".into(), STANDARD.encode(cose).into());
    serde_json::Value::Object(file).to_string()
}

#[test]
fn round_trip() {
    let text = signed();
    assert_eq!(TrustList::from_json(&text, None), Ok(example_list()));
    let root = example_root().public_key();
    assert_eq!(TrustList::from_json(&text, Some(&root)), Ok(example_list()));
}

#[test]
fn file_shape() {
    let text = signed();
    assert!(
        text.starts_with(
            r#"{"format":"healthcode-trust-list","version":1,"region":"CN-BJ","cose":""#
        )
    );
    assert!(text.ends_with("\"}\n"));
    let file = wrapper(&text);
    assert_eq!(file.len(), 4);
}

#[test]
fn pinned_root_mismatch() {
    let other = SigningKey::from_seed(&[2u8; 32]).public_key();
    assert_eq!(
        TrustList::from_json(&signed(), Some(&other)),
        Err(TrustListError::RootMismatch)
    );
}

#[test]
fn a_list_signed_by_another_root_is_refused_when_pinned() {
    // An attacker can make a perfectly valid list with their own root; only pinning stops it.
    let attacker = SigningKey::from_seed(&[66u8; 32]);
    let mut list = example_list();
    list.root_public_key = attacker.public_key();
    let text = list.sign(&attacker).expect("signs");
    assert!(TrustList::from_json(&text, None).is_ok());
    let pinned = example_root().public_key();
    assert_eq!(
        TrustList::from_json(&text, Some(&pinned)),
        Err(TrustListError::RootMismatch)
    );
}

#[test]
fn every_flipped_bit_of_the_signed_part_fails() {
    let cose = STANDARD
        .decode(wrapper(&signed())["cose"].as_str().expect("string"))
        .expect("base64");
    for byte in 0..cose.len() {
        for bit in 0..8 {
            let mut tampered = cose.clone();
            tampered[byte] ^= 1 << bit;
            let text = with_cose(&tampered);
            assert!(
                TrustList::from_json(&text, None).is_err(),
                "flipping bit {bit} of byte {byte} was not detected"
            );
        }
    }
}

#[test]
fn wrapper_region_must_match_the_signed_region() {
    let mut file = wrapper(&signed());
    file.insert("region".into(), "CN-SH".into());
    let text = serde_json::Value::Object(file).to_string();
    assert_eq!(
        TrustList::from_json(&text, None),
        Err(TrustListError::Region {
            file: "CN-SH".into(),
            signed: "CN-BJ".into()
        })
    );
}

#[test]
fn wrapper_format_version_and_members_are_checked() {
    let mut file = wrapper(&signed());
    file.insert("version".into(), 2.into());
    let text = serde_json::Value::Object(file).to_string();
    assert_eq!(
        TrustList::from_json(&text, None),
        Err(TrustListError::Format)
    );

    let mut file = wrapper(&signed());
    file.insert("format".into(), "dcc-trust-list".into());
    let text = serde_json::Value::Object(file).to_string();
    assert_eq!(
        TrustList::from_json(&text, None),
        Err(TrustListError::Format)
    );

    let mut file = wrapper(&signed());
    file.insert("extra".into(), true.into());
    let text = serde_json::Value::Object(file).to_string();
    let err = TrustList::from_json(&text, None).expect_err("refused");
    assert_eq!(err.code(), "json");

    let mut file = wrapper(&signed());
    file.insert("cose".into(), "not base64!".into());
    let text = serde_json::Value::Object(file).to_string();
    assert_eq!(
        TrustList::from_json(&text, None),
        Err(TrustListError::Base64)
    );

    assert_eq!(
        TrustList::from_json("[]", None).map_err(|e| e.code()),
        Err("json")
    );
}

#[test]
fn signing_requires_the_lists_own_root() {
    let other = SigningKey::from_seed(&[2u8; 32]);
    assert_eq!(
        example_list().sign(&other),
        Err(IssueError::RootKeyMismatch)
    );
}

#[test]
fn lists_that_break_the_rules_are_not_signed() {
    let root = example_root();
    let code_key = example_key().public_key();

    let mut list = example_list();
    list.keys[0].kid = [0; 8];
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.keys.push(list.keys[0].clone());
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.keys[0].usage = vec![];
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.keys[0].usage = vec![KeyUsage::TrustList, KeyUsage::Code];
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.next_update = list.issued_at;
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.keys[0].not_after = at("2025-01-01T00:00:00Z");
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.keys.push(TrustedKey::new(
        root.public_key(),
        at("2026-01-01T00:00:00Z"),
        at("2026-12-31T00:00:00Z"),
        vec![KeyUsage::Code],
    ));
    assert!(matches!(list.sign(&root), Err(IssueError::TrustList(_))));

    let mut list = example_list();
    list.issued_at += chrono::TimeDelta::milliseconds(1);
    assert_eq!(list.sign(&root), Err(IssueError::Time("issued_at")));

    // An empty list is allowed: a region that has withdrawn every key.
    let mut list = example_list();
    list.keys.clear();
    let text = list.sign(&root).expect("signs");
    assert_eq!(TrustList::from_json(&text, None), Ok(list));
    assert_eq!(kid_of(&code_key), example_key().kid());
}

#[test]
fn a_verifier_from_a_read_list_accepts_the_example_code() {
    let list = TrustList::from_json(&signed(), Some(&example_root().public_key())).expect("reads");
    let code = healthcode_credential::issue_code(&example_claims(), &example_key()).expect("ok");
    let verifier = healthcode_credential::Verifier::new(&[list]);
    assert_eq!(verifier.verify(&code, example_now()), Ok(example_claims()));
}

#[test]
fn list_serializes_for_people() {
    let json = serde_json::to_value(example_list()).expect("serializes");
    assert_eq!(json["keys"][0]["usage"][0], "code");
    assert_eq!(json["keys"][0]["kid"], hex::encode(example_key().kid()));
    assert_eq!(json["next_update"], "2026-05-08T00:00:00Z");
}

#[test]
fn a_list_may_name_its_regions_log() {
    // The key's base64 may hold '+' itself.
    let log = "beijing.example/log+2fcd1b6f+ARtq1Nm+VyCn2yp6uPwbqrLPOpVW2T9cDVJDUYpZxxcz";
    let list = TrustList {
        log: Some(log.to_owned()),
        ..example_list()
    };
    let text = list.sign(&example_root()).expect("sign");
    let back = TrustList::from_json(&text, None).expect("verify");
    assert_eq!(back.log.as_deref(), Some(log));
    assert_eq!(back, list);
    // Without one, the list is the version-1 map of seven members it always was.
    let plain = TrustList::from_json(&signed(), None).expect("verify");
    assert_eq!(plain.log, None);
    for bad in [
        "",
        "no plus signs",
        "a+b",
        "a b+2fcd1b6f+AR",
        "a+2fcd1b6+AR",
        "a+2fcd1b6g+AR",
        "+2fcd1b6f+AR",
        "a+2fcd1b6f+",
        &format!("a+2fcd1b6f+{}", "A".repeat(600)),
    ] {
        let list = TrustList {
            log: Some(bad.to_owned()),
            ..example_list()
        };
        assert!(list.sign(&example_root()).is_err(), "{bad:?}");
    }
}
