#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Real EU acceptance rules and their tests: `<CC>/<RuleId>/rule.json` with
//! `tests/*.json`, from eu-digital-green-certificates/dgc-business-rules-testdata @ cf57b975
//! (Apache-2.0).
//!
//! Each test gives `payload`, `external` and the `expected` boolean. As the EU's own runner
//! (tooling/src/run-all-tests.ts there) does, every rule must read as a rule file and pass
//! validation, every test must evaluate without error to its expected value, and a test's
//! `external.validationClock` must fall within the rule's validity window.
//!
//! Tests carry their value sets in `external.valueSets`; for a test without them whose rule
//! reads value sets, the compressed `valuesets/valueSets.json` is supplied (the summary says
//! how often).

mod common;

use std::path::Path;

use chrono::{DateTime, Utc};
use healthcode_certlogic::{Rule, evaluate, validate};
use serde_json::{Value, json};

/// Tests whose data is wrong, as (rule, test file, reason). An entry whose test passes fails
/// the run, so the list cannot go stale.
const DEVIATIONS: &[(&str, &str, &str)] = &[];

/// The validation clock as an instant, read the way CertLogic reads date-times (a missing
/// offset is UTC), which RFC 3339 parsers refuse.
fn validation_clock(external: &Value) -> Option<DateTime<Utc>> {
    let clock = external.get("validationClock")?;
    let iso = evaluate(&json!({ "plusTime": [clock, 0, "hour"] }), &Value::Null)
        .unwrap_or_else(|e| panic!("validationClock {clock}: {e}"));
    let iso = iso
        .as_str()
        .expect("a date-time evaluates to its ISO string");
    Some(
        DateTime::parse_from_rfc3339(iso)
            .expect("ISO string")
            .with_timezone(&Utc),
    )
}

#[derive(Default)]
struct Tally {
    rules: usize,
    tests: usize,
    passed: usize,
    value_sets_supplied: usize,
    deviations: usize,
    failures: Vec<String>,
}

fn run_rule(dir: &Path, value_sets: &Value, tally: &mut Tally) {
    let rule_json = common::read_json(&dir.join("rule.json"));
    let rule: Rule = serde_json::from_value(rule_json)
        .unwrap_or_else(|e| panic!("{}: not a rule file: {e}", dir.display()));
    tally.rules += 1;
    let issues = validate(&rule.logic);
    if !issues.is_empty() {
        tally
            .failures
            .push(format!("{}: invalid logic: {issues:?}", rule.identifier));
    }
    let reads_value_sets = rule.logic.to_string().contains("\"external.valueSets.");
    for path in common::json_files(&dir.join("tests")) {
        let file = common::file_name(&path);
        let at = format!("{} / {file}", rule.identifier);
        let test = common::read_json(&path);
        tally.tests += 1;
        let mut external = test["external"].clone();
        if reads_value_sets && external.get("valueSets").is_none() {
            external["valueSets"] = value_sets.clone();
            tally.value_sets_supplied += 1;
        }
        let expected = test["expected"]
            .as_bool()
            .unwrap_or_else(|| panic!("{at}: expected is not a boolean"));
        let mut problems = Vec::new();
        if let Some(now) = validation_clock(&external)
            && !rule.is_valid_at(now)
        {
            problems.push(format!(
                "validation clock {now} is outside the rule's validity [{}, {})",
                rule.valid_from, rule.valid_to
            ));
        }
        match rule.evaluate(&external, &test["payload"]) {
            Ok(actual) if actual == expected => {}
            outcome => problems.push(format!("gave {outcome:?}, expected {expected}")),
        }
        let deviation = DEVIATIONS
            .iter()
            .find(|(id, f, _)| *id == rule.identifier && *f == file);
        match (problems.is_empty(), deviation) {
            (true, None) => tally.passed += 1,
            (false, Some(_)) => tally.deviations += 1,
            (true, Some((.., reason))) => tally
                .failures
                .push(format!("{at}: listed as a deviation ({reason}) but passes")),
            (false, None) => {
                let name = test
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("<no name>");
                tally
                    .failures
                    .push(format!("{at} ({name}): {}", problems.join("; ")));
            }
        }
    }
}

#[test]
fn every_eu_rule_gives_what_its_tests_expect() {
    let Some(root) = common::testdata("eu-business-rules") else {
        return;
    };
    let value_sets = common::read_json(&root.join("valuesets/valueSets.json"));
    let is_country = |path: &Path| {
        let name = common::file_name(path);
        path.is_dir() && name.len() == 2 && name.bytes().all(|b| b.is_ascii_uppercase())
    };
    let mut tally = Tally::default();
    for country in common::entries(&root, is_country) {
        for rule_dir in common::entries(&country, |path| path.join("rule.json").is_file()) {
            run_rule(&rule_dir, &value_sets, &mut tally);
        }
    }
    println!(
        "EU business rules: {} rules, {} tests, {} passed, {} known deviations; value sets supplied to {} tests",
        tally.rules, tally.tests, tally.passed, tally.deviations, tally.value_sets_supplied
    );
    for (rule, file, reason) in DEVIATIONS {
        println!("  deviation: {rule} / {file}: {reason}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert!(
        tally.rules > 0 && tally.tests > 0,
        "no rules found in {}",
        root.display()
    );
    assert_eq!(tally.tests, tally.passed + tally.deviations);
    assert_eq!(
        tally.deviations,
        DEVIATIONS.len(),
        "every listed deviation should be met once"
    );
}
