//! The SMART Health Cards specification's examples 00–03 (smart-on-fhir/health-cards,
//! gh-pages @ 8b8c2156; see shared/testdata/README.md), each verified from its numeric QR
//! text, its JWS and its `.smart-health-card` file, with the example issuer mapped to its
//! local `.well-known/` key set and revocation list.
//!
//! Example 03 is listed in the revocation list and expires on 2024-06-21: it is reported as
//! revoked, at an instant where it would otherwise be valid and at one after it expired.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use healthcode_shc::{
    HEALTH_CARD_TYPE, ObservationValue, Quantity, RevocationList, ShcError, VerifiedCard,
    decode_numeric, health_card_file_jws, verify_file, verify_jws, verify_qr,
};
use serde_json::Value;

/// Example number → (number of QR chunks, signing key).
const EXAMPLES: [(&str, usize, &str); 4] = [
    ("00", 1, KID_WITH_CRL),
    ("01", 1, KID_X5C),
    ("02", 3, KID_WITH_CRL),
    ("03", 1, KID_WITH_CRL),
];

fn qr_texts(dir: &Path, n: &str, chunks: usize) -> Vec<String> {
    (0..chunks)
        .map(|i| {
            read(
                dir,
                &format!("examples/example-{n}-f-qr-code-numeric-value-{i}.txt"),
            )
        })
        .collect()
}

/// The three ways a card arrives, each verified at `now`.
fn verify_all_forms(
    dir: &Path,
    n: &str,
    chunks: usize,
    trust: &healthcode_shc::Trust,
    now: chrono::DateTime<chrono::Utc>,
) -> [Result<VerifiedCard, ShcError>; 3] {
    let qr = qr_texts(dir, n, chunks);
    let qr: Vec<&str> = qr.iter().map(String::as_str).collect();
    let jws = read(dir, &format!("examples/example-{n}-d-jws.txt"));
    let file = read(
        dir,
        &format!("examples/example-{n}-e-file.smart-health-card"),
    );
    let from_file = verify_file(&file, trust, now).map(|mut cards| {
        assert_eq!(cards.len(), 1, "example {n} file holds one card");
        cards.remove(0)
    });
    [
        verify_qr(&qr, trust, now),
        verify_jws(&jws, trust, now),
        from_file,
    ]
}

#[test]
fn qr_text_decodes_to_the_example_jws() {
    let Some(dir) = shc_testdata() else { return };
    for (n, chunks, _) in EXAMPLES {
        let qr = qr_texts(&dir, n, chunks);
        let qr: Vec<&str> = qr.iter().map(String::as_str).collect();
        let jws = read(&dir, &format!("examples/example-{n}-d-jws.txt"));
        assert_eq!(decode_numeric(&qr).unwrap(), jws, "example {n}");
        let file = read(
            &dir,
            &format!("examples/example-{n}-e-file.smart-health-card"),
        );
        assert_eq!(health_card_file_jws(&file).unwrap(), [jws], "example {n}");
    }
}

#[test]
fn examples_00_to_02_verify_from_qr_jws_and_file() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let now = examples_now();
    let mut verified = 0;
    for (n, chunks, kid) in &EXAMPLES[..3] {
        let minified = read(
            &dir,
            &format!("examples/example-{n}-c-jws-payload-minified.json"),
        );
        let bundle: Value = serde_json::from_str(&read(
            &dir,
            &format!("examples/example-{n}-a-fhirBundle.json"),
        ))
        .unwrap();
        for (form, result) in ["QR", "JWS", "file"]
            .into_iter()
            .zip(verify_all_forms(&dir, n, *chunks, &trust, now))
        {
            let card = result.unwrap_or_else(|e| panic!("example {n} from {form}: {e}"));
            assert_eq!(card.payload, minified, "example {n} from {form}");
            assert_eq!(card.issuer, EXAMPLE_ISSUER);
            assert_eq!(card.kid, *kid);
            assert_eq!(card.types, [HEALTH_CARD_TYPE]);
            assert_eq!(card.nbf.timestamp(), 1_687_450_764);
            assert_eq!(card.exp, None);
            assert_eq!(card.fhir_version.as_deref(), Some("4.0.1"));
            summary_matches_bundle(&card, &bundle, n);
            verified += 1;
        }
    }
    println!("examples 00-02: {verified} verifications passed (QR, JWS and file for each)");
    assert_eq!(verified, 9);
}

/// The summary against the example's expanded bundle (`-a-fhirBundle.json`), read here with
/// plain JSON access: one entry per Immunization and Observation, in bundle order.
fn summary_matches_bundle(card: &VerifiedCard, bundle: &Value, n: &str) {
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let of_type = |t: &str| resources.iter().filter(|r| r["resourceType"] == t).count();
    let s = &card.summary;
    assert_eq!(
        s.immunizations.len(),
        of_type("Immunization"),
        "example {n}"
    );
    assert_eq!(s.observations.len(), of_type("Observation"), "example {n}");
    assert_eq!(s.patient.is_some(), of_type("Patient") == 1, "example {n}");
    let immunizations = resources
        .iter()
        .filter(|r| r["resourceType"] == "Immunization");
    for (got, want) in s.immunizations.iter().zip(immunizations) {
        assert_eq!(got.occurrence, want["occurrenceDateTime"].as_str().unwrap());
        assert_eq!(got.lot_number.as_deref(), want["lotNumber"].as_str());
        assert_eq!(got.status, want["status"].as_str().unwrap());
        let coding = &want["vaccineCode"]["coding"][0];
        assert_eq!(got.vaccine[0].system.as_deref(), coding["system"].as_str());
        assert_eq!(got.vaccine[0].code.as_deref(), coding["code"].as_str());
    }
    let observations = resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation");
    for (got, want) in s.observations.iter().zip(observations) {
        assert_eq!(
            got.code[0].code.as_deref(),
            want["code"]["coding"][0]["code"].as_str()
        );
        assert_eq!(got.effective.as_deref(), want["effectiveDateTime"].as_str());
        match (&got.value, &want["valueQuantity"]["value"]) {
            (Some(ObservationValue::Quantity(q)), Value::Number(v)) => {
                assert_eq!(q.value, v.as_f64())
            }
            (_, Value::Null) => {}
            (other, v) => panic!("example {n}: {other:?} for quantity {v}"),
        }
    }
}

#[test]
fn example_00_summary_for_a_gate() {
    let Some(dir) = shc_testdata() else { return };
    let jws = read(&dir, "examples/example-00-d-jws.txt");
    let card = verify_jws(&jws, &example_trust(&dir), examples_now()).unwrap();
    let patient = card.summary.patient.unwrap();
    let name = patient.name.unwrap();
    assert_eq!(name.family.as_deref(), Some("Anyperson"));
    assert_eq!(name.given, ["John", "B."]);
    assert_eq!(patient.birth_date.as_deref(), Some("1951-01-20"));
    let doses: Vec<(&str, &str, &str)> = card
        .summary
        .immunizations
        .iter()
        .map(|i| {
            (
                i.vaccine[0].code.as_deref().unwrap(),
                i.occurrence.as_str(),
                i.lot_number.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        doses,
        [
            ("207", "2021-01-01", "0000001"),
            ("207", "2021-01-29", "0000007"),
            ("229", "2022-09-05", "0000001")
        ]
    );
    assert!(card.summary.observations.is_empty());
    assert_eq!(card.rid.as_deref(), Some("MKyCxh7p6uQ"));
}

#[test]
fn example_02_lab_results_for_a_gate() {
    let Some(dir) = shc_testdata() else { return };
    let jws = read(&dir, "examples/example-02-d-jws.txt");
    let card = verify_jws(&jws, &example_trust(&dir), examples_now()).unwrap();
    // The lab report bundle has no Patient; its DiagnosticReport and Specimens are left out.
    assert_eq!(card.summary.patient, None);
    assert!(card.summary.immunizations.is_empty());
    let hemoglobin = card
        .summary
        .observations
        .iter()
        .find(|o| o.code[0].code.as_deref() == Some("718-7"))
        .unwrap();
    assert_eq!(
        hemoglobin.value,
        Some(ObservationValue::Quantity(Quantity {
            value: Some(176.0),
            comparator: None,
            unit: Some("g/L".into()),
            system: Some("http://unitsofmeasure.org".into()),
            code: Some("g/L".into()),
        }))
    );
    let high: Vec<&str> = card
        .summary
        .observations
        .iter()
        .filter(|o| {
            o.interpretation
                .iter()
                .any(|c| c.code.as_deref() == Some("H"))
        })
        .map(|o| o.code[0].code.as_deref().unwrap())
        .collect();
    assert!(high.contains(&"4544-3"), "{high:?}");
    let urine_ph = card
        .summary
        .observations
        .iter()
        .find(|o| o.code[0].code.as_deref() == Some("2756-5"))
        .unwrap();
    assert_eq!(urine_ph.effective.as_deref(), Some("2015-08-16T06:40:17Z"));
}

#[test]
fn example_02_chunks_verify_in_any_order() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let qr = qr_texts(&dir, "02", 3);
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let chunks: Vec<&str> = order.iter().map(|&i| qr[i].as_str()).collect();
        assert!(
            verify_qr(&chunks, &trust, examples_now()).is_ok(),
            "{order:?}"
        );
    }
    let missing = [qr[0].as_str(), qr[2].as_str()];
    assert_eq!(
        verify_qr(&missing, &trust, examples_now()).unwrap_err(),
        ShcError::MissingChunk { index: 2, total: 3 }
    );
    let repeated = [qr[0].as_str(), qr[1].as_str(), qr[0].as_str()];
    assert_eq!(
        verify_qr(&repeated, &trust, examples_now()).unwrap_err(),
        ShcError::DuplicateChunk { index: 1 }
    );
}

#[test]
fn example_03_is_revoked_before_and_after_expiry() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let expired_instant = at("2025-01-01T00:00:00Z");
    let mut reported = 0;
    for now in [examples_now(), expired_instant] {
        for (form, result) in ["QR", "JWS", "file"]
            .into_iter()
            .zip(verify_all_forms(&dir, "03", 1, &trust, now))
        {
            assert_eq!(result.unwrap_err(), ShcError::Revoked, "{form} at {now}");
            reported += 1;
        }
    }
    println!("example 03: revoked in {reported} of 6 checks (QR, JWS, file; before and after exp)");
    assert_eq!(reported, 6);
}

#[test]
fn example_03_without_its_revocation_entry_is_valid_then_expired() {
    let Some(dir) = shc_testdata() else { return };
    // The same key with a list at the announced version that does not name the card: the card
    // is otherwise sound, so the two instants chosen above differ only by the expiry.
    let mut trust = example_trust_without_crls(&dir);
    let empty = RevocationList::from_json(&format!(
        r#"{{"kid":"{KID_WITH_CRL}","method":"rid","ctr":1,"rids":[]}}"#
    ))
    .unwrap();
    trust.add_crl(EXAMPLE_ISSUER, empty).unwrap();
    let jws = read(&dir, "examples/example-03-d-jws.txt");
    let card = verify_jws(&jws, &trust, examples_now()).unwrap();
    assert_eq!(card.exp.unwrap().timestamp_millis(), 1_718_986_764_657);
    assert_eq!(
        card.summary
            .patient
            .unwrap()
            .name
            .unwrap()
            .family
            .as_deref(),
        Some("Revoked")
    );
    assert_eq!(
        verify_jws(&jws, &trust, at("2025-01-01T00:00:00Z")).unwrap_err(),
        ShcError::Expired
    );
    assert_eq!(
        verify_jws(&jws, &trust, card.exp.unwrap()).unwrap_err(),
        ShcError::Expired
    );
}

#[test]
fn a_key_with_a_crl_version_needs_its_list() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust_without_crls(&dir);
    let jws = read(&dir, "examples/example-00-d-jws.txt");
    assert_eq!(
        verify_jws(&jws, &trust, examples_now()).unwrap_err(),
        ShcError::RevocationListMissing {
            kid: KID_WITH_CRL.into()
        }
    );
    // Example 01's key announces no revocation list.
    let jws = read(&dir, "examples/example-01-d-jws.txt");
    assert!(verify_jws(&jws, &trust, examples_now()).is_ok());
}

#[test]
fn examples_are_not_valid_before_they_were_issued() {
    let Some(dir) = shc_testdata() else { return };
    let trust = example_trust(&dir);
    let jws = read(&dir, "examples/example-00-d-jws.txt");
    assert_eq!(
        verify_jws(&jws, &trust, at("2023-06-01T00:00:00Z")).unwrap_err(),
        ShcError::NotYetValid
    );
    // Within the clock skew of nbf (2023-06-22T16:19:24.656Z).
    assert!(verify_jws(&jws, &trust, at("2023-06-22T16:18:30Z")).is_ok());
}

#[test]
fn the_example_key_set_reads_with_both_keys() {
    let Some(dir) = shc_testdata() else { return };
    let jwks =
        healthcode_shc::Jwks::from_json(&read(&dir, "examples/issuer/.well-known/jwks.json"))
            .unwrap();
    let kids: Vec<&str> = jwks.keys().iter().map(|k| k.kid()).collect();
    assert_eq!(kids, [KID_WITH_CRL, KID_X5C]);
    assert!(jwks.rejected().is_empty());
    assert_eq!(jwks.get(KID_WITH_CRL).unwrap().crl_version(), Some(1));
    assert_eq!(jwks.get(KID_X5C).unwrap().crl_version(), None);
}

#[test]
fn an_unknown_issuer_is_refused() {
    let Some(dir) = shc_testdata() else { return };
    let jws = read(&dir, "examples/example-00-d-jws.txt");
    let mut other = healthcode_shc::Trust::new();
    other
        .add_issuer("https://other.example/issuer", TestIssuer::new().jwks(None))
        .unwrap();
    assert_eq!(
        verify_jws(&jws, &other, examples_now()).unwrap_err(),
        ShcError::UnknownIssuer {
            iss: EXAMPLE_ISSUER.into()
        }
    );
    assert_eq!(
        verify_jws(&jws, &healthcode_shc::Trust::new(), examples_now())
            .unwrap_err()
            .code(),
        "unknown_issuer"
    );
}
