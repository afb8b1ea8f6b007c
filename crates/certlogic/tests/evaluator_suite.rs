#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The CertLogic specification's evaluator test suite: `certlogic/testSuite` of
//! ehn-dcc-development/eu-dcc-business-rules @ 488f61ce (Apache-2.0), 14 files with 232
//! assertions, run in full.
//!
//! A file holds cases; a case holds assertions (`data`, `expected`, an optional `message`).
//! The expression is the case's `certLogicExpression`, or the assertion's own (as in
//! JsonLogic-testSuite.json). A file, case or assertion marked `"directive": "skip"` is
//! skipped, as the suite's own runners do: those assertions are still evaluated, and the
//! summary says how many of them would pass.

mod common;

use std::path::Path;

use healthcode_certlogic::evaluate;
use serde_json::Value;

/// Every assertion this evaluator does not honour, as (file, case, assertion index, reason).
/// An entry whose assertion passes fails the run, so the list cannot go stale.
const DEVIATIONS: &[(&str, &str, usize, &str)] = &[];

const FILES: usize = 14;
const ASSERTIONS: usize = 232;

#[derive(Default)]
struct Tally {
    files: usize,
    assertions: usize,
    checked: usize,
    passed: usize,
    skipped: usize,
    skipped_passing: usize,
    deviations: usize,
    failures: Vec<String>,
}

fn is_skipped(node: &Value, what: &str) -> bool {
    match node.get("directive") {
        None => false,
        Some(Value::String(directive)) if directive == "skip" => true,
        Some(other) => panic!("{what}: unknown directive {other}"),
    }
}

fn run_file(path: &Path, tally: &mut Tally) {
    let file = common::file_name(path);
    let suite = common::read_json(path);
    let file_skipped = is_skipped(&suite, &file);
    let cases = suite["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: no cases"));
    tally.files += 1;
    for case in cases {
        let name = case["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: a case without a name"));
        let case_skipped = file_skipped || is_skipped(case, name);
        let assertions = case["assertions"]
            .as_array()
            .unwrap_or_else(|| panic!("{file} / {name}: no assertions"));
        for (index, assertion) in assertions.iter().enumerate() {
            let at = format!("{file} / {name} / assertion #{index}");
            tally.assertions += 1;
            let expr = assertion
                .get("certLogicExpression")
                .or_else(|| case.get("certLogicExpression"))
                .unwrap_or_else(|| panic!("{at}: no certLogicExpression"));
            let data = assertion
                .get("data")
                .unwrap_or_else(|| panic!("{at}: no data"));
            let expected = assertion
                .get("expected")
                .unwrap_or_else(|| panic!("{at}: nothing expected"));
            let actual = evaluate(expr, data);
            let passes = actual.as_ref() == Ok(expected);
            if case_skipped || is_skipped(assertion, &at) {
                tally.skipped += 1;
                tally.skipped_passing += usize::from(passes);
                continue;
            }
            tally.checked += 1;
            let deviation = DEVIATIONS
                .iter()
                .find(|(f, c, i, _)| *f == file && *c == name && *i == index);
            match (passes, deviation) {
                (true, None) => tally.passed += 1,
                (false, Some(_)) => tally.deviations += 1,
                (true, Some((.., reason))) => tally
                    .failures
                    .push(format!("{at}: listed as a deviation ({reason}) but passes")),
                (false, None) => {
                    let message = assertion
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    tally.failures.push(format!(
                        "{at} {message}: {expr} on {data} gave {actual:?}, expected {expected}"
                    ));
                }
            }
        }
    }
}

#[test]
fn the_specification_test_suite_passes() {
    let Some(dir) = common::testdata("certlogic/testSuite") else {
        return;
    };
    let mut tally = Tally::default();
    for path in common::json_files(&dir) {
        run_file(&path, &mut tally);
    }
    println!(
        "CertLogic evaluator test suite: {} files, {} assertions; {} checked, {} passed, {} skipped by the data's own markers ({} of those would pass), {} known deviations",
        tally.files,
        tally.assertions,
        tally.checked,
        tally.passed,
        tally.skipped,
        tally.skipped_passing,
        tally.deviations,
    );
    for (file, case, index, reason) in DEVIATIONS {
        println!("  deviation: {file} / {case} / assertion #{index}: {reason}");
    }
    assert!(
        tally.failures.is_empty(),
        "failing assertions:\n{}",
        tally.failures.join("\n")
    );
    assert_eq!(tally.files, FILES, "the suite should have {FILES} files");
    assert_eq!(
        tally.assertions, ASSERTIONS,
        "the suite should have {ASSERTIONS} assertions"
    );
    assert_eq!(tally.checked, tally.passed + tally.deviations);
    assert_eq!(
        tally.deviations,
        DEVIATIONS.len(),
        "every listed deviation should be met once"
    );
}
