//! The one verifier: native codes of imported regions, trust-list updates, SMART Health Cards
//! and EU certificates with acceptance rules, all through `Trust::verify`.
//!
//! External data: the SMART Health Cards examples and the EU DCC test files under
//! `shared/testdata` (see its README), found through `HEALTHCODE_TESTDATA`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use healthcode_credential::{
    CodeClaims, KeyUsage, SigningKey, TrustList, TrustedKey, issue_code, rand_core::OsRng,
};
use healthcode_domain::{Colour, DocumentType, VaccinationState};
use healthcode_verify::regions::{TrustImportError, Update, accept_update};
use healthcode_verify::{Format, Trust};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The folder `sub` of the shared test data, or `None` (skip) when it is missing outside CI.
fn testdata(sub: &str) -> Option<PathBuf> {
    let root = std::env::var_os("HEALTHCODE_TESTDATA").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/testdata"
            ))
        },
        PathBuf::from,
    );
    let dir = root.join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    let message = format!("test data folder {} is missing", dir.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("SKIPPED: {message}");
    None
}

/// A region with a root key and one code-signing key, valid around 2026-05.
struct Region {
    name: &'static str,
    root: SigningKey,
    code_key: SigningKey,
}

impl Region {
    fn new(name: &'static str) -> Region {
        Region {
            name,
            root: SigningKey::generate(&mut OsRng),
            code_key: SigningKey::generate(&mut OsRng),
        }
    }

    fn list(&self, sequence: u64, keys: &[&SigningKey]) -> String {
        TrustList {
            region: self.name.into(),
            sequence,
            issued_at: at("2026-05-01T00:00:00Z"),
            next_update: at("2026-05-08T00:00:00Z"),
            root_public_key: self.root.public_key(),
            log: None,
            keys: keys
                .iter()
                .map(|k| {
                    TrustedKey::new(
                        k.public_key(),
                        at("2026-01-01T00:00:00Z"),
                        at("2026-12-31T00:00:00Z"),
                        vec![KeyUsage::Code],
                    )
                })
                .collect(),
        }
        .sign(&self.root)
        .unwrap()
    }

    fn code(&self, key: &SigningKey, issued_at: DateTime<Utc>) -> String {
        let claims = CodeClaims {
            region: self.name.into(),
            subject: [7; 16],
            issued_at,
            expires_at: issued_at + Duration::minutes(3),
            colour: Colour::Green,
            reminders: vec![],
            test_recency_days: Some(1),
            vaccination: VaccinationState::BoosterComplete,
            masked_name: "张*".into(),
            masked_document: "11**************2X".into(),
            document_type: DocumentType::ResidentId,
            status_valid_until: issued_at + Duration::hours(8),
        };
        issue_code(&claims, key).unwrap()
    }
}

#[test]
fn native_codes_verify_for_imported_regions_only() {
    let tianjin = Region::new("CN-TJ");
    let hebei = Region::new("CN-HE");
    let now = at("2026-05-02T09:00:00Z");
    let (list, update) =
        accept_update("CN-BJ", &tianjin.list(1, &[&tianjin.code_key]), &[], None).unwrap();
    assert_eq!(update, Update::New);
    let mut trust = Trust::new().unwrap();
    trust.add_trust_list(list);

    let ok = trust.verify(&tianjin.code(&tianjin.code_key, now), now);
    assert!(ok.valid, "{ok:?}");
    assert_eq!(ok.format, Some(Format::Native));
    assert_eq!(ok.issuer.as_deref(), Some("CN-TJ"));
    assert_eq!(ok.masked_name.as_deref(), Some("张*"));
    let json = serde_json::to_value(&ok).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["format"], "native");
    assert_eq!(json["colour"], "green");
    assert!(json.get("error").is_none());

    // A region not imported here: refused, with the native verifier's own reason.
    let foreign = trust.verify(&hebei.code(&hebei.code_key, now), now);
    assert!(!foreign.valid);
    assert_eq!(foreign.format, Some(Format::Native));
    let json = serde_json::to_value(&foreign).unwrap();
    assert_eq!(json["valid"], false);
    assert!(json["error"].as_str().unwrap().len() > 10, "{json}");
    assert!(json["error_code"].is_string());
    assert!(
        json.get("masked_name").is_none(),
        "nothing of a refused code is shown"
    );

    // After its key validity: refused.
    let late = at("2027-01-02T00:00:00Z");
    assert!(
        !trust
            .verify(&tianjin.code(&tianjin.code_key, late), late)
            .valid
    );
}

#[test]
fn a_refreshed_list_drops_removed_keys_and_cannot_be_rolled_back() {
    let tianjin = Region::new("CN-TJ");
    let old_key = SigningKey::generate(&mut OsRng);
    let now = at("2026-05-02T09:00:00Z");
    let first = tianjin.list(1, &[&old_key, &tianjin.code_key]);
    let (v1, _) = accept_update("CN-BJ", &first, &[], None).unwrap();
    let mut trust = Trust::new().unwrap();
    trust.add_trust_list(v1.clone());
    let old_code = tianjin.code(&old_key, now);
    assert!(trust.verify(&old_code, now).valid);

    // The region removes (revokes) the old key in list number 2.
    let second = tianjin.list(2, &[&tianjin.code_key]);
    let (v2, update) = accept_update("CN-BJ", &second, std::slice::from_ref(&v1), None).unwrap();
    assert_eq!(
        update,
        Update::Replaced {
            previous_sequence: 1
        }
    );
    let mut refreshed = Trust::new().unwrap();
    refreshed.add_trust_list(v2.clone());
    let refused = refreshed.verify(&old_code, now);
    assert!(!refused.valid, "{refused:?}");
    assert!(
        refreshed
            .verify(&tianjin.code(&tianjin.code_key, now), now)
            .valid
    );

    // Replaying list 1 is refused; list 2 again changes nothing.
    let replay = accept_update("CN-BJ", &first, std::slice::from_ref(&v2), None).unwrap_err();
    assert!(matches!(
        replay,
        TrustImportError::Rollback {
            offered: 1,
            current: 2,
            ..
        }
    ));
    assert_eq!(replay.code(), "trust_list_rollback");
    let (_, again) = accept_update("CN-BJ", &second, std::slice::from_ref(&v2), None).unwrap();
    assert_eq!(again, Update::Unchanged);
}

#[test]
fn the_root_key_is_pinned() {
    let tianjin = Region::new("CN-TJ");
    let (v1, _) =
        accept_update("CN-BJ", &tianjin.list(1, &[&tianjin.code_key]), &[], None).unwrap();
    // Someone else signs a "CN-TJ" list with their own root.
    let impostor = Region::new("CN-TJ");
    let forged = impostor.list(5, &[&impostor.code_key]);
    let err = accept_update("CN-BJ", &forged, std::slice::from_ref(&v1), None).unwrap_err();
    assert_eq!(err.code(), "root_changed", "{err}");
    // A root given out of band is checked on the first import too.
    let err = accept_update("CN-BJ", &forged, &[], Some(&tianjin.root.public_key())).unwrap_err();
    assert_eq!(err.code(), "invalid_trust_list", "{err}");
    // A region does not import a list for itself.
    let own =
        accept_update("CN-TJ", &tianjin.list(1, &[&tianjin.code_key]), &[], None).unwrap_err();
    assert_eq!(own.code(), "own_region");
    // A damaged list is refused.
    let text = tianjin.list(2, &[&tianjin.code_key]);
    let damaged = text.replacen("\"cose\":\"", "\"cose\":\"AAAA", 1);
    assert_eq!(
        accept_update("CN-BJ", &damaged, &[], None)
            .unwrap_err()
            .code(),
        "invalid_trust_list"
    );
}

#[test]
fn text_that_is_no_code_is_refused_in_words() {
    let trust = Trust::new().unwrap();
    let now = at("2026-05-02T09:00:00Z");
    for text in ["", "hello", "HC2:ABC", "https://example.org/"] {
        let v = trust.verify(text, now);
        assert!(!v.valid);
        assert_eq!(v.format, None);
        assert_eq!(v.error_code(), Some("unknown_format"));
    }
    let huge = format!("HC1:{}", "A".repeat(100_000));
    assert_eq!(trust.verify(&huge, now).error_code(), Some("too_long"));
    // Each format's own refusal comes through with its code.
    assert_eq!(trust.verify("HCN1:!!!", now).format, Some(Format::Native));
    assert!(!trust.verify("HC1:!!!", now).valid);
    assert!(!trust.verify("shc:/123", now).valid);
}

#[test]
fn smart_health_cards_verify_with_their_issuer_keys() {
    let Some(dir) = testdata("smart-health-cards/examples") else {
        return;
    };
    let issuer = "https://spec.smarthealth.cards/examples/issuer";
    let jwks = std::fs::read_to_string(dir.join("issuer/.well-known/jwks.json")).unwrap();
    let mut trust = Trust::new().unwrap();
    trust
        .shc_mut()
        .add_issuer(issuer, healthcode_shc::Jwks::from_json(&jwks).unwrap())
        .unwrap();
    let crl_dir = dir.join("issuer/.well-known/crl");
    for entry in std::fs::read_dir(&crl_dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        trust
            .shc_mut()
            .add_crl(
                issuer,
                healthcode_shc::RevocationList::from_json(&text).unwrap(),
            )
            .unwrap();
    }
    let now = at("2023-07-01T00:00:00Z");
    let qr = std::fs::read_to_string(dir.join("example-00-f-qr-code-numeric-value-0.txt")).unwrap();
    let v = trust.verify(&qr, now);
    assert!(v.valid, "{v:?}");
    assert_eq!(v.format, Some(Format::SmartHealthCard));
    assert_eq!(v.issuer.as_deref(), Some(issuer));
    let name = v.masked_name.clone().unwrap();
    assert!(name.ends_with('*'), "{name}");
    // Example 00 holds three Immunization resources.
    assert_eq!(v.details["immunizations"].as_array().unwrap().len(), 3);

    // Three chunks, one per line, as a scanner reading them in turn would pass them.
    let chunks: Vec<String> = (0..3)
        .map(|i| {
            std::fs::read_to_string(dir.join(format!("example-02-f-qr-code-numeric-value-{i}.txt")))
                .unwrap()
        })
        .collect();
    assert!(trust.verify(&chunks.join("\n"), now).valid);

    // The .smart-health-card file form.
    let file = std::fs::read_to_string(dir.join("example-00-e-file.smart-health-card")).unwrap();
    assert!(trust.verify(&file, now).valid);

    // Example 03 is revoked.
    let revoked =
        std::fs::read_to_string(dir.join("example-03-f-qr-code-numeric-value-0.txt")).unwrap();
    assert_eq!(trust.verify(&revoked, now).error_code(), Some("revoked"));

    // Without the issuer's keys nothing verifies.
    let empty = Trust::new().unwrap();
    assert!(!empty.verify(&qr, now).valid);
}
