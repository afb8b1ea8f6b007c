//! Runs every file of the EU DCC test data (eu-digital-green-certificates/dgc-testdata @
//! 4a62c8d9, Apache-2.0; see `testdata/README.md`) through the pipeline and checks each
//! `EXPECTED…` flag a file sets against the step it names (true: the step succeeds, false: it
//! fails). Every step starts from the file's `PREFIX` and runs through this crate's own
//! functions; where a file also gives a step's expected output (`BASE45`, `COMPRESSED`,
//! `COSE`, `CBOR`, `JSON`), a successful step must produce it.
//!
//! | flag | step |
//! |---|---|
//! | EXPECTEDPICTUREDECODE | `2DCODE`/`_2DCODE` PNG → `healthcode_qrscan::read` = `PREFIX` |
//! | EXPECTEDUNPREFIX | [`unprefix`] (= `BASE45`) |
//! | EXPECTEDB45DECODE | [`base45_decode`] (= `COMPRESSED`) |
//! | EXPECTEDCOMPRESSION | [`inflate`] (= `COSE`) |
//! | EXPECTEDDECODE | [`CoseSign1::from_bytes`] and [`Claims::from_payload`] (= `CBOR`) |
//! | EXPECTEDVERIFY | [`DscTrust::verify_signature`] with `TESTCTX.CERTIFICATE` |
//! | EXPECTEDVALIDJSON | the decoded payload as JSON = `JSON` |
//! | EXPECTEDVALIDOBJECT | `JSON` (else the payload) reads as a [`HealthCertificate`] |
//! | EXPECTEDSCHEMAVALIDATION | [`Schema::validate`] (DCC schema 1.3.3) on the payload |
//! | EXPECTEDEXPIRATIONCHECK | [`check_times`] and [`check_signer_validity`] at `VALIDATIONCLOCK` |
//! | EXPTECTEDEXPIRED (sic) | the same check (see below) |
//! | EXPECTEDKEYUSAGE | signature, then [`check_key_usage`] for the payload's type |
//! | EXPECTEDENCODE | see below |
//!
//! EXPECTEDENCODE asks an issuer to encode `JSON` as CBOR and compare with `CBOR` "decoded and
//! re-encoded with the same codec" (the data's README, note 2). A verifier writes no CBOR, so
//! the encoding itself does not apply; what the flag asserts — that `JSON` and `CBOR` hold
//! the same certificate — is checked in the direction a verifier works: `CBOR` read with
//! [`cbor_to_json`] must equal `JSON`.
//!
//! `EXPTECTEDEXPIRED` occurs only in the four BG files, where it stands in for
//! `EXPECTEDEXPIRATIONCHECK` (the data's README calls it a misspelling): all four are `true`,
//! and three of them are plainly unexpired at their clock (issued six days or less before it,
//! expiring a year later), so "expired" cannot be what `true` means.
//!
//! Quirks of the data that are honoured: `_2DCODE` for `2DCODE`, the misspelt
//! `EXPTECTEDEXPIRED`, `EXPECTEDRESULTS` nested in itself, `validationClockInstant` when
//! `VALIDATIONCLOCK` is missing, clocks with and without offsets and with up to nine
//! fractional digits, `CBOR` holding either the claims set or only the DCC.
//!
//! A mismatch is allowed only when listed in `tests/deviations.txt` (path, flag, reason; the
//! data is wrong there). Every other mismatch, and every listed deviation that no longer
//! occurs, fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use ciborium::value::Value as Cbor;
use common::{parse_clock, testdata_dir};
use healthcode_dcc::{
    Claims, CoseSign1, DscTrust, HealthCertificate, Schema, base45_decode, cbor_to_json,
    check_key_usage, check_signer_validity, check_times, inflate, unprefix,
};
use serde_json::{Map, Value as Json};

/// Every regular file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The flags of `EXPECTEDRESULTS`, with nested `EXPECTEDRESULTS` objects merged in.
fn expected_flags(results: &Json, out: &mut BTreeMap<String, bool>) {
    let Some(object) = results.as_object() else {
        return;
    };
    for (key, value) in object {
        match value {
            Json::Bool(flag) => {
                out.insert(key.clone(), *flag);
            }
            Json::Object(_) => expected_flags(value, out),
            // A flag written as a string ("true") is read the same way.
            Json::String(text) if text == "true" || text == "false" => {
                out.insert(key.clone(), text == "true");
            }
            _ => {}
        }
    }
}

/// JSON equality as the data model defines it: numbers compare by value (`2` = `2.0`) and
/// RFC 3339 timestamps by the instant they denote (`…Z` = `…+00:00`), since the schema's
/// `date-time` is an instant and issuers' JSON tools write UTC either way.
fn same_json(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::String(x), Json::String(y)) if x != y => {
            match (
                DateTime::parse_from_rfc3339(x),
                DateTime::parse_from_rfc3339(y),
            ) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
        }
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The DCC inside a `CBOR` field, which holds either the claims set or the DCC alone.
fn dcc_of_cbor_field(hex_text: &str) -> Option<Json> {
    let bytes = hex::decode(hex_text.trim()).ok()?;
    if let Ok(claims) = Claims::from_payload(&bytes) {
        return Some(claims.dcc);
    }
    let value: Cbor = ciborium::de::from_reader(bytes.as_slice()).ok()?;
    cbor_to_json(&value).ok()
}

/// What one step gave: success, failure, or "cannot be run" (an input the file lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    NoInput(&'static str),
}

impl Outcome {
    fn from_bool(ok: bool) -> Outcome {
        if ok {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        }
    }
}

/// Everything the pipeline produced for one file, each stage `None` once a stage failed.
struct Run {
    unprefixed: Option<String>,
    compressed: Option<Vec<u8>>,
    cose_bytes: Option<Vec<u8>>,
    cose: Option<CoseSign1>,
    claims: Option<Claims>,
}

fn run_pipeline(prefix: &str) -> Run {
    let unprefixed = unprefix(prefix).ok().map(str::to_owned);
    let compressed = unprefixed.as_deref().and_then(|t| base45_decode(t).ok());
    let cose_bytes = compressed.as_deref().and_then(|c| inflate(c).ok());
    let cose = cose_bytes
        .as_deref()
        .and_then(|b| CoseSign1::from_bytes(b).ok());
    let claims = cose
        .as_ref()
        .and_then(|c| Claims::from_payload(c.payload()).ok());
    Run {
        unprefixed,
        compressed,
        cose_bytes,
        cose,
        claims,
    }
}

/// Checks one flag of one file.
fn check_flag(
    flag: &str,
    case: &Map<String, Json>,
    run: &Run,
    schema: &Schema,
) -> Result<Outcome, String> {
    let text = |key: &str| case.get(key).and_then(Json::as_str);
    let ctx = case.get("TESTCTX").and_then(Json::as_object);
    let ctx_text = |key: &str| ctx.and_then(|c| c.get(key)).and_then(Json::as_str);
    let prefix = text("PREFIX").unwrap_or_default();
    let trust = || -> Option<DscTrust> {
        let mut trust = DscTrust::new();
        trust
            .add_certificate_pem_or_base64(ctx_text("CERTIFICATE")?)
            .ok()?;
        Some(trust)
    };
    let clock = || {
        ctx_text("VALIDATIONCLOCK")
            .or_else(|| ctx_text("validationClockInstant"))
            .and_then(parse_clock)
    };
    let expiration = || -> Result<Outcome, String> {
        let Some(now) = clock() else {
            return Ok(Outcome::NoInput("no readable VALIDATIONCLOCK"));
        };
        let Some(claims) = &run.claims else {
            return Ok(Outcome::Failed);
        };
        let times_ok = check_times(claims, now).is_ok();
        let signer_ok = match (&run.cose, trust()) {
            (Some(cose), Some(trust)) => match trust.verify_signature(cose) {
                Ok(signer) => check_signer_validity(signer, now).is_ok(),
                // Without a verified signer there is no validity period to check.
                Err(_) => true,
            },
            _ => true,
        };
        Ok(Outcome::from_bool(times_ok && signer_ok))
    };
    Ok(match flag {
        "EXPECTEDPICTUREDECODE" => {
            let Some(image) = text("2DCODE").or_else(|| text("_2DCODE")) else {
                return Ok(Outcome::NoInput("no 2DCODE picture"));
            };
            let bytes = STANDARD
                .decode(image.trim())
                .map_err(|e| format!("2DCODE is not base64: {e}"))?;
            Outcome::from_bool(healthcode_qrscan::read(&bytes).is_ok_and(|t| t == [prefix]))
        }
        "EXPECTEDUNPREFIX" => Outcome::from_bool(
            run.unprefixed
                .as_deref()
                .is_some_and(|b| text("BASE45").is_none_or(|expected| expected == b)),
        ),
        "EXPECTEDB45DECODE" => Outcome::from_bool(run.compressed.as_deref().is_some_and(|c| {
            text("COMPRESSED")
                .is_none_or(|expected| hex::decode(expected.trim()).ok().as_deref() == Some(c))
        })),
        "EXPECTEDCOMPRESSION" => Outcome::from_bool(run.cose_bytes.as_deref().is_some_and(|c| {
            text("COSE")
                .is_none_or(|expected| hex::decode(expected.trim()).ok().as_deref() == Some(c))
        })),
        "EXPECTEDDECODE" => Outcome::from_bool(run.claims.as_ref().is_some_and(|claims| {
            text("CBOR").is_none_or(|expected| {
                dcc_of_cbor_field(expected).is_some_and(|dcc| same_json(&dcc, &claims.dcc))
            })
        })),
        "EXPECTEDVERIFY" => Outcome::from_bool(match (&run.cose, trust()) {
            (Some(cose), Some(trust)) => trust.verify_signature(cose).is_ok(),
            _ => false,
        }),
        "EXPECTEDVALIDJSON" => Outcome::from_bool(run.claims.as_ref().is_some_and(|claims| {
            case.get("JSON")
                .is_none_or(|expected| same_json(expected, &claims.dcc))
        })),
        "EXPECTEDVALIDOBJECT" => {
            let object = case
                .get("JSON")
                .or_else(|| run.claims.as_ref().map(|c| &c.dcc));
            match object {
                Some(object) => Outcome::from_bool(HealthCertificate::from_json(object).is_ok()),
                None => Outcome::NoInput("no JSON and no decodable payload"),
            }
        }
        "EXPECTEDSCHEMAVALIDATION" => {
            match run.claims.as_ref().map(|c| &c.dcc).or(case.get("JSON")) {
                Some(payload) => Outcome::from_bool(schema.validate(payload).is_ok()),
                None => Outcome::NoInput("no payload"),
            }
        }
        // The misspelt flag is the expiration check under another name (see the header).
        "EXPECTEDEXPIRATIONCHECK" | "EXPTECTEDEXPIRED" => expiration()?,
        "EXPECTEDKEYUSAGE" => Outcome::from_bool(match (&run.cose, &run.claims, trust()) {
            (Some(cose), Some(claims), Some(trust)) => {
                match (
                    trust.verify_signature(cose),
                    HealthCertificate::from_json(&claims.dcc),
                ) {
                    (Ok(signer), Ok(cert)) => check_key_usage(signer, cert.entry.kind()).is_ok(),
                    _ => false,
                }
            }
            _ => false,
        }),
        "EXPECTEDENCODE" => {
            let Some(json) = case.get("JSON") else {
                return Ok(Outcome::NoInput("no JSON"));
            };
            // The CBOR as the file gives it: the CBOR field, else inside COSE, else in PREFIX.
            let dcc = match (text("CBOR"), text("COSE")) {
                (Some(cbor), _) => dcc_of_cbor_field(cbor),
                (None, Some(cose)) => hex::decode(cose.trim())
                    .ok()
                    .and_then(|bytes| CoseSign1::from_bytes(&bytes).ok())
                    .and_then(|cose| Claims::from_payload(cose.payload()).ok())
                    .map(|claims| claims.dcc),
                (None, None) => run.claims.as_ref().map(|claims| claims.dcc.clone()),
            };
            Outcome::from_bool(dcc.is_some_and(|dcc| same_json(&dcc, json)))
        }
        other => return Err(format!("unknown flag {other}")),
    })
}

/// The allowed deviations: (path relative to eu-dcc, flag) → reason.
fn deviations() -> BTreeMap<(String, String), String> {
    let text = include_str!("deviations.txt");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(path), Some(flag), Some(reason)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("deviations.txt: a line needs path, flag and reason: {line}");
        };
        assert!(
            out.insert((path.to_owned(), flag.to_owned()), reason.trim().to_owned())
                .is_none(),
            "deviations.txt lists {path} {flag} twice"
        );
    }
    out
}

#[test]
fn eu_dcc_test_data() {
    let Some(dir) = testdata_dir() else {
        return;
    };
    let root = dir.join("eu-dcc");
    let schema = Schema::eu_dcc().unwrap();
    let allowed = deviations();

    let mut files = 0;
    let mut not_json = Vec::new();
    let mut checked = 0;
    let mut passed = 0;
    let mut per_flag: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut deviated = BTreeSet::new();
    let mut failures = Vec::new();

    for path in files_under(&root) {
        files += 1;
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(Json::Object(case)) = serde_json::from_slice::<Json>(&std::fs::read(&path).unwrap())
        else {
            not_json.push(relative);
            continue;
        };
        let mut flags = BTreeMap::new();
        if let Some(results) = case.get("EXPECTEDRESULTS") {
            expected_flags(results, &mut flags);
        }
        let run = run_pipeline(
            case.get("PREFIX")
                .and_then(Json::as_str)
                .unwrap_or_default(),
        );
        for (flag, expected) in flags {
            checked += 1;
            let outcome = match check_flag(&flag, &case, &run, &schema) {
                Ok(outcome) => outcome,
                Err(problem) => {
                    failures.push(format!("{relative} {flag}: {problem}"));
                    continue;
                }
            };
            let stats = per_flag.entry(flag.clone()).or_default();
            stats.0 += 1;
            let expected_outcome = Outcome::from_bool(expected);
            if outcome == expected_outcome {
                passed += 1;
                stats.1 += 1;
                continue;
            }
            let key = (relative.clone(), flag.clone());
            if allowed.contains_key(&key) {
                deviated.insert(key);
            } else {
                failures.push(format!(
                    "{relative} {flag}: expected {expected_outcome:?}, got {outcome:?}"
                ));
            }
        }
    }

    println!(
        "EU DCC test data: {files} files, {} not JSON",
        not_json.len()
    );
    for name in &not_json {
        println!("  not JSON: {name}");
    }
    println!(
        "flags checked: {checked}, passed: {passed}, deviations: {}, failures: {}",
        deviated.len(),
        failures.len()
    );
    for (flag, (seen, ok)) in &per_flag {
        println!("  {flag}: {ok}/{seen}");
    }
    for (path, flag) in &deviated {
        println!(
            "  deviation: {path} {flag}: {}",
            allowed[&(path.clone(), flag.clone())]
        );
    }
    let stale: Vec<_> = allowed
        .keys()
        .filter(|key| !deviated.contains(*key))
        .collect();
    assert!(
        stale.is_empty(),
        "deviations.txt lists mismatches that no longer occur: {stale:?}"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        files >= 427 && checked > 0,
        "the test data looks incomplete"
    );
}

#[test]
fn the_data_quirks_are_read() {
    let mut flags = BTreeMap::new();
    let results = serde_json::json!({
        "EXPECTEDVERIFY": true,
        "EXPECTEDRESULTS": {"EXPECTEDDECODE": false, "EXPECTEDRESULTS": {"EXPTECTEDEXPIRED": true}},
        "EXPECTEDKEYUSAGE": "false",
        "COMMENT": 3
    });
    expected_flags(&results, &mut flags);
    let flags: Vec<_> = flags.into_iter().collect();
    assert_eq!(
        flags,
        [
            ("EXPECTEDDECODE".to_owned(), false),
            ("EXPECTEDKEYUSAGE".to_owned(), false),
            ("EXPECTEDVERIFY".to_owned(), true),
            ("EXPTECTEDEXPIRED".to_owned(), true),
        ]
    );

    let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    for (text, instant) in [
        ("2021-05-03T18:00:00Z", "2021-05-03T18:00:00Z"),
        ("2021-06-18T23:59:59+03:00", "2021-06-18T20:59:59Z"),
        ("2022-01-18T11:21:00.375+0000", "2022-01-18T11:21:00.375Z"),
        (
            "2021-06-08T20:17:27.9906293Z",
            "2021-06-08T20:17:27.9906293Z",
        ),
        ("2021-05-26T09:36:56", "2021-05-26T09:36:56Z"),
        ("2021-06-27T09:02:51.073126", "2021-06-27T09:02:51.073126Z"),
    ] {
        assert_eq!(parse_clock(text), Some(utc(instant)), "{text}");
    }
    assert_eq!(parse_clock("yesterday"), None);

    assert!(same_json(
        &serde_json::json!({"dn": 1, "sc": "2021-06-30T12:34:56Z"}),
        &serde_json::json!({"dn": 1.0, "sc": "2021-06-30T12:34:56+00:00"})
    ));
    assert!(!same_json(
        &serde_json::json!({"sc": "2021-06-30T12:34:56Z"}),
        &serde_json::json!({"sc": "2021-06-30T12:34:57Z"})
    ));
    assert!(!same_json(
        &serde_json::json!({"dn": 1}),
        &serde_json::json!({"dn": 2})
    ));
    assert!(!same_json(
        &serde_json::json!({"a": 1}),
        &serde_json::json!({"a": 1, "b": 2})
    ));
}
