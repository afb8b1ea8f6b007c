#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Randomised inputs: whatever rule and data `evaluate` and `validate` are given, they return
//! a value or an error and never panic; and `evaluate` refuses exactly the rules that
//! `validate` finds issues in.
//!
//! Two generators: any JSON (keys and strings mostly from CertLogic's vocabulary), and JSON
//! shaped like CertLogic, most of which passes validation and gets evaluated.

use healthcode_certlogic::{EvalError, evaluate, validate};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const KEYS: &[&str] = &[
    "var",
    "if",
    "===",
    "and",
    "!",
    "<",
    ">",
    "<=",
    ">=",
    "in",
    "+",
    "reduce",
    "plusTime",
    "before",
    "after",
    "not-before",
    "not-after",
    "extractFromUVCI",
    "dccDateOfBirth",
    "current",
    "accumulator",
    "x",
    "0",
    "1",
    "or",
];

const STRINGS: &[&str] = &[
    "",
    "x",
    "x.0",
    "0",
    "1",
    "current",
    "accumulator",
    "current.0",
    "day",
    "hour",
    "month",
    "year",
    "2021",
    "2021-02",
    "2020-02-29",
    "2021-06-01T12:00:00",
    "2021-06-01T12:00:00.5+1",
    "2021-06-01T12:00:00-09:30",
    "9999-12-31T23:59:59.999Z",
    "0000-01-01",
    "URN:UVCI:01:NL:187/37512422923",
    "a::c/#/f",
    "2021-13-01",
    "x..y",
];

/// Any JSON, with keys and strings drawn mostly from CertLogic's vocabulary.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..40).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            (prop::sample::select(KEYS), inner.clone()).prop_map(|(key, value)| object(key, value)),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..3).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// Operators with the numbers of operands they take (`plusTime` and `extractFromUVCI`, with
/// literal operands, are made separately).
const OPERATIONS: &[(&str, usize, usize)] = &[
    ("if", 3, 3),
    ("===", 2, 2),
    ("and", 2, 3),
    ("!", 1, 1),
    ("<", 2, 3),
    (">", 2, 3),
    ("<=", 2, 3),
    (">=", 2, 3),
    ("in", 2, 2),
    ("+", 2, 2),
    ("reduce", 3, 3),
    ("before", 2, 3),
    ("after", 2, 3),
    ("not-before", 2, 3),
    ("not-after", 2, 3),
    ("dccDateOfBirth", 1, 1),
];

/// JSON shaped like CertLogic: literals, `var`s and operations with a few operands, so that
/// most rules get past validation and reach evaluation.
fn rule() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (-3i64..40).prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(|path| object("var", Value::from(path))),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        let operation = (
            prop::sample::select(OPERATIONS),
            prop::collection::vec(inner.clone(), 3),
            any::<usize>(),
        )
            .prop_map(|((operator, min, max), operands, pick)| {
                let count = min + pick % (max - min + 1);
                object(
                    operator,
                    Value::Array(operands.into_iter().take(count).collect()),
                )
            });
        let time_unit = prop::sample::select(&["year", "month", "day", "hour"][..]);
        prop_oneof![
            6 => operation,
            1 => (inner.clone(), any::<i64>(), time_unit)
                .prop_map(|(date, amount, unit)| object("plusTime", json!([date, amount, unit]))),
            1 => (inner.clone(), -1i64..6)
                .prop_map(|(uvci, index)| object("extractFromUVCI", json!([uvci, index]))),
            1 => (prop::sample::select(KEYS), prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(key, operands)| object(key, Value::Array(operands))),
            1 => prop::collection::vec(inner, 0..3).prop_map(Value::Array),
        ]
    })
}

fn object(key: &str, value: Value) -> Value {
    let mut object = Map::new();
    object.insert(key.to_owned(), value);
    Value::Object(object)
}

fn check(rule: &Value, data: &Value) -> Result<(), TestCaseError> {
    let issues = validate(rule);
    match evaluate(rule, data) {
        Err(EvalError::Invalid(first)) => prop_assert_eq!(Some(&first), issues.first()),
        _ => prop_assert!(
            issues.is_empty(),
            "evaluated a rule with issues: {:?}",
            issues
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn any_json_never_panics_and_evaluation_agrees_with_validation(rule in json(), data in json()) {
        check(&rule, &data)?;
    }

    #[test]
    fn certlogic_shaped_rules_never_panic(rule in rule(), data in json()) {
        check(&rule, &data)?;
    }

    #[test]
    fn plus_time_never_panics(date in prop::sample::select(STRINGS), amount in any::<i64>(), unit in prop::sample::select(&["year", "month", "day", "hour"][..])) {
        let rule = json!({ "plusTime": [date, amount, unit] });
        match evaluate(&rule, &Value::Null) {
            Ok(Value::String(_)) | Err(EvalError::DateFormat { .. } | EvalError::DateRange) => {}
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
