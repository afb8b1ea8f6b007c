//! `healthcode verify` on every format, from text, standard input and pictures, with trust
//! material given on the command line; `--rule` acceptance rules; `healthcode certlogic`.
//!
//! External data (see shared/testdata/README.md): the EU DCC test file CH/2DCode/raw/1.json
//! (a Swiss vaccination certificate, its signer certificate and its QR picture), the SMART
//! Health Cards spec examples with their issuer's key set and revocation list, and an EU
//! business rule with one of its test cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use support::BIN;

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
    if dir.exists() {
        return Some(dir);
    }
    let message = format!("test data {} is missing", dir.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("SKIPPED: {message}");
    None
}

/// Runs `healthcode ARGS` with `stdin`; exit status, stdout as JSON (or Null), stderr.
fn run(args: &[&str], stdin: &[u8]) -> (i32, Value, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn eu_certificates_verify_from_text_and_picture_and_meet_acceptance_rules() {
    let Some(file) = testdata("eu-dcc/CH/2DCode/raw/1.json") else {
        return;
    };
    let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cert = write(
        tmp.path(),
        "dsc.b64",
        case["TESTCTX"]["CERTIFICATE"].as_str().unwrap().as_bytes(),
    );
    let at = case["TESTCTX"]["VALIDATIONCLOCK"].as_str().unwrap();
    let hc1 = case["PREFIX"].as_str().unwrap();

    let (exit, v, said) = run(&["verify", hc1, "--dsc", &cert, "--at", at, "--json"], b"");
    assert_eq!(exit, 0, "{said}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["format"], "eu-dcc");
    assert_eq!(v["issuer"], "CH");
    assert_eq!(v["masked_name"], "Studer *", "{v}");
    assert_eq!(v["certificate_type"], "vaccination");
    assert_eq!(v["vaccination"]["dose_number"], 2);
    assert!(
        !said.contains("Martina"),
        "the given name is never shown: {said}"
    );

    // The same certificate from its QR picture, as a file and on standard input.
    let png = base64::engine::general_purpose::STANDARD
        .decode(case["2DCODE"].as_str().unwrap())
        .unwrap();
    let picture = write(tmp.path(), "qr.png", &png);
    let (exit, v, said) = run(
        &["verify", &picture, "--dsc", &cert, "--at", at, "--json"],
        b"",
    );
    assert_eq!((exit, v["valid"].clone()), (0, json!(true)), "{said}");
    let (exit, _, said) = run(&["verify", "-", "--dsc", &cert, "--at", at], &png);
    assert_eq!(exit, 0, "{said}");
    assert!(
        said.starts_with("VALID  eu-dcc: vaccination, dose 2 of 2"),
        "{said}"
    );

    // Without its signer, or a year later, it is refused with the reason.
    let other = write(tmp.path(), "other.pem", b"not a certificate");
    let (exit, _, said) = run(&["verify", hc1, "--dsc", &other, "--at", at], b"");
    assert_eq!(exit, 2, "an unusable certificate is a usage error: {said}");
    let (exit, v, _) = run(
        &[
            "verify",
            hc1,
            "--dsc",
            &cert,
            "--at",
            "2024-01-01T00:00:00Z",
            "--json",
        ],
        b"",
    );
    assert_eq!((exit, v["valid"].clone()), (1, json!(false)), "{v}");
    assert!(v["error"].is_string() && v["error_code"].is_string(), "{v}");

    // A region's acceptance rule in CertLogic: a booster (third dose) required.
    let rule = json!({
        "Identifier": "VR-CN-0001", "Type": "Acceptance", "Country": "CN", "Version": "1.0.0",
        "SchemaVersion": "1.0.0", "Engine": "CERTLOGIC", "EngineVersion": "0.7.5",
        "CertificateType": "Vaccination",
        "Description": [{"lang": "en", "desc": "At least three doses."}],
        "ValidFrom": "2021-01-01T00:00:00Z", "ValidTo": "2030-01-01T00:00:00Z",
        "AffectedFields": ["v.0.dn"],
        "Logic": {">=": [{"var": "payload.v.0.dn"}, 3]}
    });
    let rule_file = write(tmp.path(), "rule.json", rule.to_string().as_bytes());
    let (exit, v, said) = run(
        &[
            "verify", hc1, "--dsc", &cert, "--at", at, "--rule", &rule_file, "--json",
        ],
        b"",
    );
    assert_eq!(
        (exit, v["error_code"].clone()),
        (1, json!("rule_failed")),
        "{said}"
    );
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("At least three doses"),
        "{v}"
    );
}

#[test]
fn smart_health_cards_verify_with_keys_given_on_the_command_line() {
    let Some(dir) = testdata("smart-health-cards/examples") else {
        return;
    };
    let issuer = "https://spec.smarthealth.cards/examples/issuer";
    let jwks = format!(
        "{issuer}={}",
        dir.join("issuer/.well-known/jwks.json").display()
    );
    let crl_file = std::fs::read_dir(dir.join("issuer/.well-known/crl"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let crl = format!("{issuer}={}", crl_file.display());
    let at = "2023-07-01T00:00:00Z";
    let qr = std::fs::read(dir.join("example-00-f-qr-code-numeric-value-0.txt")).unwrap();
    let (exit, v, said) = run(
        &[
            "verify", "-", "--jwks", &jwks, "--crl", &crl, "--at", at, "--json",
        ],
        &qr,
    );
    assert_eq!(exit, 0, "{said}");
    assert_eq!(
        (v["valid"].clone(), v["format"].clone()),
        (json!(true), json!("shc"))
    );
    assert!(v["masked_name"].as_str().unwrap().ends_with('*'), "{v}");

    let revoked = std::fs::read(dir.join("example-03-f-qr-code-numeric-value-0.txt")).unwrap();
    let (exit, v, _) = run(
        &[
            "verify", "-", "--jwks", &jwks, "--crl", &crl, "--at", at, "--json",
        ],
        &revoked,
    );
    assert_eq!(
        (exit, v["error_code"].clone()),
        (1, json!("revoked")),
        "{v}"
    );

    // Without the issuer's keys: refused; a malformed ISSUER=FILE: a usage error.
    let other = format!(
        "https://example.org={}",
        dir.join("issuer/.well-known/jwks.json").display()
    );
    let (exit, v, _) = run(
        &["verify", "-", "--jwks", &other, "--at", at, "--json"],
        &qr,
    );
    assert_eq!((exit, v["valid"].clone()), (1, json!(false)));
    let (exit, _, said) = run(&["verify", "-", "--jwks", "nofile", "--at", at], &qr);
    assert_eq!(exit, 2, "{said}");
    // No trust material at all: a usage error.
    let (exit, _, _) = run(&["verify", "-", "--at", at], &qr);
    assert_eq!(exit, 2);
}

#[test]
fn certlogic_evaluates_an_eu_rule_on_its_own_test_case() {
    let Some(rules) = testdata("eu-business-rules") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Every test case of the first rule that has any: the printed result is the expected one.
    let mut checked = 0;
    'countries: for country in std::fs::read_dir(&rules).unwrap() {
        let country = country.unwrap().path();
        if !country.is_dir() || country.ends_with("valuesets") {
            continue;
        }
        for rule_dir in std::fs::read_dir(&country).unwrap() {
            let rule_dir = rule_dir.unwrap().path();
            let Ok(tests) = std::fs::read_dir(rule_dir.join("tests")) else {
                continue;
            };
            for test in tests {
                let case: Value =
                    serde_json::from_str(&std::fs::read_to_string(test.unwrap().path()).unwrap())
                        .unwrap();
                let (Some(payload), Some(expected)) = (case.get("payload"), case.get("expected"))
                else {
                    continue;
                };
                let data = json!({ "external": case["external"], "payload": payload });
                let data_file = write(tmp.path(), "data.json", data.to_string().as_bytes());
                let rule = rule_dir.join("rule.json");
                let (exit, result, said) = run(
                    &[
                        "certlogic",
                        "--rule",
                        rule.to_str().unwrap(),
                        "--data",
                        &data_file,
                    ],
                    b"",
                );
                assert_eq!(exit, 0, "{said}");
                assert_eq!(&result, expected, "{}", rule.display());
                checked += 1;
            }
            if checked > 0 {
                break 'countries;
            }
        }
    }
    assert!(checked > 0, "no EU rule test case found");

    // A bare expression; then a rule CertLogic refuses.
    let rule = write(
        tmp.path(),
        "r.json",
        br#"{"<": [{"var": "payload.v.0.dn"}, 3]}"#,
    );
    let data = write(tmp.path(), "d.json", br#"{"payload": {"v": [{"dn": 2}]}}"#);
    let (exit, result, _) = run(&["certlogic", "--rule", &rule, "--data", &data], b"");
    assert_eq!((exit, result), (0, json!(true)));
    let bad = write(tmp.path(), "bad.json", br#"{"no-such-operation": [1]}"#);
    let (exit, _, said) = run(&["certlogic", "--rule", &bad, "--data", &data], b"");
    assert_eq!(exit, 2, "{said}");
}
