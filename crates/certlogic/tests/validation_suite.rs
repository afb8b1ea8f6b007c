#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The CertLogic specification's validation test suite: `certlogic/validation-testSuite` of
//! ehn-dcc-development/eu-dcc-business-rules @ 488f61ce (Apache-2.0).
//!
//! Each case gives an expression and the issues validation must report, each an `expr` and
//! a `message`; both are compared exactly, in order. The evaluator must agree: it refuses
//! an expression with issues, naming the first one, and accepts one without.

mod common;

use healthcode_certlogic::{EvalError, ValidationError, evaluate, validate};
use serde_json::{Value, json};

fn as_json(issues: &[ValidationError]) -> Value {
    issues
        .iter()
        .map(|issue| json!({ "expr": issue.expr, "message": issue.message }))
        .collect()
}

#[test]
fn the_specification_validation_suite_passes() {
    let Some(dir) = common::testdata("certlogic/validation-testSuite") else {
        return;
    };
    let (mut files, mut cases, mut issues_expected) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in common::json_files(&dir) {
        let file = common::file_name(&path);
        let suite = common::read_json(&path);
        files += 1;
        for (index, case) in suite["cases"].as_array().expect("cases").iter().enumerate() {
            cases += 1;
            let expr = &case["certLogicExpression"];
            let expected = &case["issues"];
            issues_expected += expected.as_array().expect("issues").len();
            let issues = validate(expr);
            if as_json(&issues) != *expected {
                failures.push(format!(
                    "{file} #{index}: {expr} gave {}, expected {expected}",
                    as_json(&issues)
                ));
            }
            match (issues.first(), evaluate(expr, &Value::Null)) {
                (Some(first), Err(EvalError::Invalid(refused))) if refused == *first => {}
                (None, Ok(_)) => {}
                (_, outcome) => failures.push(format!(
                    "{file} #{index}: evaluating {expr} gave {outcome:?}, which disagrees with validation"
                )),
            }
        }
    }
    println!(
        "CertLogic validation test suite: {files} files, {cases} cases, {issues_expected} issues expected; {} cases failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    assert!(cases > 0, "no cases found in {}", dir.display());
}
