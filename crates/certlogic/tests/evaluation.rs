#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The evaluator through its public API, on cases the specification describes but its test
//! suite does not cover: errors for malformed rules and mistyped operands, laziness,
//! truthiness in every operation that uses it, `var` and `reduce` details, and date-times.

use healthcode_certlogic::{EvalError, evaluate, validate};
use serde_json::{Value, json};

fn eval(rule: Value, data: Value) -> Result<Value, EvalError> {
    evaluate(&rule, &data)
}

fn invalid_message(rule: Value) -> String {
    match eval(rule.clone(), json!({})) {
        Err(EvalError::Invalid(issue)) => issue.message,
        other => panic!("{rule} gave {other:?}, expected an invalid-expression error"),
    }
}

fn operand_error(rule: Value, data: Value) -> (&'static str, usize, &'static str, &'static str) {
    match eval(rule.clone(), data) {
        Err(EvalError::Operand {
            operation,
            position,
            expected,
            found,
        }) => (operation, position, expected, found),
        other => panic!("{rule} gave {other:?}, expected an operand error"),
    }
}

#[test]
fn unknown_operations_are_errors() {
    assert_eq!(
        invalid_message(json!({ "or": [true, false] })),
        "unrecognised operator: \"or\""
    );
    assert_eq!(
        invalid_message(json!({ "!==": [1, 2] })),
        "unrecognised operator: \"!==\""
    );
    assert_eq!(
        invalid_message(json!({ "==": [1, 1] })),
        "unrecognised operator: \"==\""
    );
    assert_eq!(
        invalid_message(json!({ "missing": ["a"] })),
        "unrecognised operator: \"missing\""
    );
}

#[test]
fn wrong_arities_are_errors_naming_the_operation() {
    let cases = [
        (
            json!({ "if": [true, 1] }),
            "an \"if\"-operation must have exactly 3 values/operands, but it has 2",
        ),
        (
            json!({ "===": [1] }),
            "an operation with operator \"===\" must have 2 operands, but it has 1",
        ),
        (
            json!({ "in": [1, [1], [2]] }),
            "an operation with operator \"in\" must have 2 operands, but it has 3",
        ),
        (
            json!({ "+": [1, 2, 3] }),
            "an operation with operator \"+\" must have 2 operands, but it has 3",
        ),
        (
            json!({ "and": [true] }),
            "an \"and\" operation must have at least 2 operands, but it has 1",
        ),
        (
            json!({ "<": [1, 2, 3, 4] }),
            "an operation with operator \"<\" must have 2 or 3 operands, but it has 4",
        ),
        (
            json!({ "after": [] }),
            "an operation with operator \"after\" must have 2 or 3 operands, but it has 0",
        ),
        (
            json!({ "!": [true, false] }),
            "a !-operation (logical not/negation) must have exactly 1 operand, but it has 2",
        ),
        (
            json!({ "plusTime": ["2021-01-01", 1] }),
            "a \"plusTime\"-operation must have exactly 3 values/operands, but it has 2",
        ),
        (
            json!({ "reduce": [[], 0] }),
            "a \"reduce\"-operation must have exactly 3 values/operands, but it has 2",
        ),
        (
            json!({ "extractFromUVCI": ["x"] }),
            "an \"extractFromUVCI\"-operation must have exactly 2 values/operands, but it has 1",
        ),
        (
            json!({ "dccDateOfBirth": [] }),
            "a \"dccDateOfBirth\"-operation must have exactly 1 value/operand, but it has 0",
        ),
    ];
    for (rule, message) in cases {
        assert_eq!(invalid_message(rule), message);
    }
}

#[test]
fn literal_operands_must_be_literals() {
    assert_eq!(
        invalid_message(json!({ "plusTime": ["2021-01-01", { "var": "n" }, "day"] })),
        "\"amount\" argument (#2) of \"plusTime\" must be an integer, but it is: {\"var\":\"n\"}"
    );
    assert_eq!(
        invalid_message(json!({ "plusTime": ["2021-01-01", 1, "week"] })),
        "\"unit\" argument (#3) of \"plusTime\" must be a string equal to one of year, month, day, hour, but it is: \"week\""
    );
    assert_eq!(
        invalid_message(json!({ "extractFromUVCI": ["x", "1"] })),
        "\"index\" argument (#2) of \"extractFromUVCI\" must be an integer, but it is: \"1\""
    );
    assert_eq!(
        invalid_message(json!([1, null])),
        "invalid CertLogic expression"
    );
    assert_eq!(
        invalid_message(json!({ "var": "a..b" })),
        "data access path doesn't have a valid format: a..b"
    );
    assert_eq!(
        invalid_message(json!(1e30)),
        "1e+30 is an integer too large for 64 bits"
    );
}

/// The whole expression is checked before anything is evaluated (spec, "CertLogic expression
/// objects"), so an invalid branch that would never be taken is an error all the same.
#[test]
fn invalid_parts_are_errors_even_where_evaluation_would_not_reach() {
    let rule = json!({ "if": [true, 1, { "unknown": [] }] });
    assert_eq!(
        invalid_message(rule.clone()),
        "unrecognised operator: \"unknown\""
    );
    assert_eq!(validate(&rule).len(), 1);
    let rule = json!({ "and": [false, { "var": 1 }] });
    assert_eq!(
        invalid_message(rule),
        "not of the form { \"var\": \"<path>\" }"
    );
}

#[test]
fn validation_reports_every_issue_in_document_order() {
    let rule = json!({ "and": [{ "if": [1] }, { "foo": [] }, 3.5] });
    let messages: Vec<_> = validate(&rule)
        .into_iter()
        .map(|issue| issue.message)
        .collect();
    assert_eq!(
        messages,
        [
            "an \"if\"-operation must have exactly 3 values/operands, but it has 1",
            "unrecognised operator: \"foo\"",
            "3.5 is a non-integer number",
        ]
    );
    assert_eq!(validate(&rule)[1].expr, json!({ "foo": [] }));
}

#[test]
fn neither_truthy_nor_falsy_values_cannot_decide() {
    let date = json!({ "plusTime": ["2021-01-01", 0, "day"] });
    assert_eq!(
        operand_error(json!({ "!": [date.clone()] }), json!({})),
        ("!", 1, "truthy or falsy", "a date-time")
    );
    assert_eq!(
        operand_error(json!({ "if": [{ "var": "x" }, 1, 2] }), json!({ "x": 0.5 })),
        ("if", 1, "truthy or falsy", "a non-integer number")
    );
    assert_eq!(
        operand_error(json!({ "and": [true, date] }), json!({})),
        ("and", 2, "truthy or falsy", "a date-time")
    );
}

#[test]
fn truthiness_decides_if_not_and_and() {
    let pick = |value: Value| {
        eval(
            json!({ "if": [{ "var": "v" }, "T", "F"] }),
            json!({ "v": value }),
        )
        .unwrap()
    };
    for falsy in [
        json!(false),
        json!(null),
        json!(""),
        json!(0),
        json!([]),
        json!({}),
    ] {
        assert_eq!(pick(falsy.clone()), json!("F"), "{falsy}");
        assert_eq!(
            eval(
                json!({ "!": [{ "var": "v" }] }),
                json!({ "v": falsy.clone() })
            )
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            eval(
                json!({ "and": [{ "var": "v" }, 1] }),
                json!({ "v": falsy.clone() })
            )
            .unwrap(),
            falsy
        );
    }
    for truthy in [
        json!(true),
        json!("x"),
        json!(-2),
        json!([null]),
        json!({ "a": 0 }),
    ] {
        assert_eq!(pick(truthy.clone()), json!("T"), "{truthy}");
        assert_eq!(
            eval(
                json!({ "!": [{ "var": "v" }] }),
                json!({ "v": truthy.clone() })
            )
            .unwrap(),
            json!(false)
        );
        assert_eq!(
            eval(
                json!({ "and": [{ "var": "v" }, 1] }),
                json!({ "v": truthy })
            )
            .unwrap(),
            json!(1)
        );
    }
}

#[test]
fn if_evaluates_only_the_branch_taken() {
    let failing = json!({ "plusTime": [{ "var": "x" }, 0, "day"] });
    let rule = json!({ "if": [{ "var": "x" }, failing, "no date"] });
    assert_eq!(
        eval(rule.clone(), json!({ "x": null })).unwrap(),
        json!("no date")
    );
    assert_eq!(
        eval(rule, json!({ "x": "2021-01-01" })).unwrap(),
        json!("2021-01-01T00:00:00.000Z")
    );
}

#[test]
fn operands_of_the_wrong_type_are_errors() {
    assert_eq!(
        operand_error(json!({ "in": ["a", { "var": "x" }] }), json!({ "x": null })),
        ("in", 2, "an array", "null")
    );
    assert_eq!(
        operand_error(json!({ "in": ["a", "abc"] }), json!({})),
        ("in", 2, "an array", "a string")
    );
    assert_eq!(
        operand_error(json!({ "+": [1, "2"] }), json!({})),
        ("+", 2, "an integer", "a string")
    );
    assert_eq!(
        operand_error(json!({ "<": [1, { "var": "x" }, 3] }), json!({ "x": null })),
        ("<", 2, "an integer", "null")
    );
    assert_eq!(
        operand_error(json!({ ">=": [{ "var": "x" }, 1] }), json!({ "x": 1.5 })).3,
        "a non-integer number"
    );
    assert_eq!(
        operand_error(
            json!({ "before": [{ "plusTime": ["2021-01-01", 0, "day"] }, "2021-02-01"] }),
            json!({})
        ),
        ("before", 2, "a date-time", "a string")
    );
    assert_eq!(
        operand_error(
            json!({ "plusTime": [{ "var": "d" }, 1, "day"] }),
            json!({ "d": null })
        ),
        ("plusTime", 1, "a string", "null")
    );
    assert_eq!(
        operand_error(
            json!({ "dccDateOfBirth": [{ "var": "d" }] }),
            json!({ "d": 2004 })
        ),
        ("dccDateOfBirth", 1, "a string", "an integer")
    );
    assert_eq!(
        operand_error(
            json!({ "extractFromUVCI": [{ "var": "u" }, 0] }),
            json!({ "u": 1 })
        ),
        ("extractFromUVCI", 1, "a string or null", "an integer")
    );
    assert_eq!(
        operand_error(json!({ "reduce": ["abc", 0, 0] }), json!({})),
        ("reduce", 1, "an array or null", "a string")
    );
}

#[test]
fn date_strings_outside_the_formats_are_errors() {
    let plus_time = |date: &str| eval(json!({ "plusTime": [date, 0, "day"] }), json!({}));
    for bad in [
        "",
        "2021-02-30",
        "2022-13",
        "yesterday",
        "2021-06-01T10:00",
        "2021-06-01 10:00:00Z",
    ] {
        assert_eq!(
            plus_time(bad),
            Err(EvalError::DateFormat {
                operation: "plusTime"
            }),
            "{bad:?}"
        );
    }
    assert_eq!(
        eval(
            json!({ "dccDateOfBirth": ["2004-01-01T00:00:00Z"] }),
            json!({})
        ),
        Err(EvalError::DateFormat {
            operation: "dccDateOfBirth"
        })
    );
    assert_eq!(
        eval(
            json!({ "plusTime": ["2021-01-01", 9_000_000_000_000_000_000_i64, "hour"] }),
            json!({})
        ),
        Err(EvalError::DateRange)
    );
}

#[test]
fn date_times_leave_the_evaluator_as_iso_strings() {
    assert_eq!(
        eval(
            json!({ "plusTime": ["2021-06-01T12:00:00.123456+02:00", 1, "month"] }),
            json!({})
        )
        .unwrap(),
        json!("2021-07-01T10:00:00.123Z")
    );
    assert_eq!(
        eval(json!({ "dccDateOfBirth": ["1999-02"] }), json!({})).unwrap(),
        json!("1999-02-28T00:00:00.000Z")
    );
    assert_eq!(
        eval(json!([{ "plusTime": ["2021", 0, "year"] }, 1]), json!({})).unwrap(),
        json!(["2021-12-31T00:00:00.000Z", 1])
    );
}

#[test]
fn date_time_comparisons_take_two_or_three_operands() {
    let d = |text: &str| json!({ "plusTime": [text, 0, "day"] });
    let check = |op: &str, operands: Vec<Value>| eval(json!({ op: operands }), json!({})).unwrap();
    assert_eq!(
        check("before", vec![d("2021-01-01"), d("2021-01-02")]),
        json!(true)
    );
    assert_eq!(
        check("after", vec![d("2021-01-01"), d("2021-01-02")]),
        json!(false)
    );
    assert_eq!(
        check(
            "not-after",
            vec![d("2021-01-01"), d("2021-01-01T00:00:00+00:00")]
        ),
        json!(true)
    );
    assert_eq!(
        check(
            "not-before",
            vec![d("2021-01-01T01:00:00+01:00"), d("2021-01-01")]
        ),
        json!(true)
    );
    assert_eq!(
        check(
            "before",
            vec![d("2021-01-01"), d("2021-01-02"), d("2021-01-03")]
        ),
        json!(true)
    );
    assert_eq!(
        check(
            "before",
            vec![d("2021-01-01"), d("2021-01-03"), d("2021-01-02")]
        ),
        json!(false)
    );
    assert_eq!(
        check(
            "not-after",
            vec![d("2021-01-01"), d("2021-01-01"), d("2021-01-01")]
        ),
        json!(true)
    );
}

#[test]
fn equality_and_membership_do_not_coerce() {
    assert_eq!(
        eval(json!({ "===": [1, "1"] }), json!({})).unwrap(),
        json!(false)
    );
    assert_eq!(
        eval(
            json!({ "===": [{ "var": "a" }, { "var": "b" }] }),
            json!({ "a": null })
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        eval(
            json!({ "===": [{ "var": "a" }, [1, 2]] }),
            json!({ "a": [1, 2] })
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        eval(json!({ "in": [1, ["1", true]] }), json!({})).unwrap(),
        json!(false)
    );
    assert_eq!(
        eval(json!({ "in": [[1], [[1], 2]] }), json!({})).unwrap(),
        json!(true)
    );
    let same_instant = json!({ "===": [
        { "plusTime": ["2021-01-01T01:00:00+01:00", 0, "day"] },
        { "plusTime": ["2021-01-01", 0, "day"] }
    ] });
    assert_eq!(eval(same_instant, json!({})).unwrap(), json!(true));
}

#[test]
fn plus_adds_integers_and_refuses_overflow() {
    assert_eq!(
        eval(json!({ "+": [{ "var": "a" }, -5] }), json!({ "a": 3 })).unwrap(),
        json!(-2)
    );
    assert_eq!(
        eval(json!({ "+": [i64::MAX, 1] }), json!({})),
        Err(EvalError::IntegerOverflow)
    );
}

#[test]
fn var_drills_into_objects_and_arrays() {
    let data = json!({ "a": [{ "b": "x" }, [10, 20]], "1": "key", "c": "text" });
    assert_eq!(
        eval(json!({ "var": "a.0.b" }), data.clone()).unwrap(),
        json!("x")
    );
    assert_eq!(
        eval(json!({ "var": "a.1.1" }), data.clone()).unwrap(),
        json!(20)
    );
    assert_eq!(
        eval(json!({ "var": "1" }), data.clone()).unwrap(),
        json!("key")
    );
    assert_eq!(
        eval(json!({ "var": "a.2" }), data.clone()).unwrap(),
        json!(null)
    );
    assert_eq!(
        eval(json!({ "var": "a.-1" }), data.clone()).unwrap(),
        json!(null)
    );
    assert_eq!(
        eval(json!({ "var": "a.b" }), data.clone()).unwrap(),
        json!(null)
    );
    assert_eq!(
        eval(json!({ "var": "c.0" }), data.clone()).unwrap(),
        json!(null)
    );
    assert_eq!(
        eval(json!({ "var": "c.length" }), data.clone()).unwrap(),
        json!(null)
    );
    assert_eq!(eval(json!({ "var": "" }), json!(7)).unwrap(), json!(7));
}

#[test]
fn reduce_folds_with_current_and_accumulator() {
    // The latest date-time among the vaccinations, kept as a date-time while folding.
    let latest = json!({ "reduce": [
        { "var": "v" },
        { "if": [
            { "after": [{ "plusTime": [{ "var": "current.dt" }, 0, "day"] }, { "var": "accumulator" }] },
            { "plusTime": [{ "var": "current.dt" }, 0, "day"] },
            { "var": "accumulator" }
        ] },
        { "plusTime": ["1970-01-01", 0, "day"] }
    ] });
    let data =
        json!({ "v": [{ "dt": "2021-03-01" }, { "dt": "2021-06-15" }, { "dt": "2021-05-01" }] });
    assert_eq!(
        eval(latest.clone(), data).unwrap(),
        json!("2021-06-15T00:00:00.000Z")
    );
    assert_eq!(
        eval(latest, json!({ "v": [] })).unwrap(),
        json!("1970-01-01T00:00:00.000Z")
    );

    // Over an evaluated array, and over the result of another reduce.
    let collect = json!({ "reduce": [[1, { "var": "x" }, 3], { "+": [{ "var": "accumulator" }, { "var": "current" }] }, 0] });
    assert_eq!(eval(collect, json!({ "x": 2 })).unwrap(), json!(6));
    let nested = json!({ "reduce": [
        { "reduce": [{ "var": "xs" }, [[{ "var": "current" }]], []] },
        { "+": [{ "var": "accumulator" }, { "var": "current.0" }] },
        100
    ] });
    assert_eq!(eval(nested, json!({ "xs": [5, 6] })).unwrap(), json!(106));

    // Only current and accumulator are in the lambda's context.
    let outer = json!({ "reduce": [[1], { "var": "z" }, 0] });
    assert_eq!(eval(outer, json!({ "z": 5 })).unwrap(), json!(null));
    let whole = json!({ "reduce": [["a"], { "var": "" }, 0] });
    assert_eq!(
        eval(whole, json!({})).unwrap(),
        json!({ "current": "a", "accumulator": 0 })
    );
}

#[test]
fn extract_from_uvci_on_data() {
    let rule = json!({ "extractFromUVCI": [{ "var": "ci" }, 1] });
    assert_eq!(
        eval(
            rule.clone(),
            json!({ "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B" })
        )
        .unwrap(),
        json!("AT")
    );
    assert_eq!(eval(rule, json!({})).unwrap(), json!(null));
}

/// `{ "!": [operand] }`, built without `json!`, which would copy `operand` recursively.
fn negation(operand: Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("!".to_owned(), Value::Array(vec![operand]));
    Value::Object(object)
}

#[test]
fn nesting_up_to_the_limit_evaluates() {
    let mut rule = json!({ "var": "x" });
    for _ in 0..126 {
        rule = negation(rule);
    }
    assert_eq!(evaluate(&rule, &json!({ "x": 1 })), Ok(json!(true)));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut rule = json!(true);
    for _ in 0..2_000 {
        rule = negation(rule);
    }
    match evaluate(&rule, &json!({})) {
        Err(EvalError::Invalid(issue)) => {
            assert!(
                issue.message.starts_with("expression nested deeper than"),
                "{}",
                issue.message
            );
            assert_eq!(
                issue.expr,
                json!({ "!": "…" }),
                "the issue holds the expression elided"
            );
        }
        other => panic!("gave {other:?}"),
    }
    assert_eq!(validate(&rule).len(), 1);
    // serde_json drops values recursively; take this one apart from the top instead.
    while let Value::Object(mut entries) = rule {
        rule = entries
            .remove("!")
            .and_then(|mut operands| operands.get_mut(0).map(Value::take))
            .unwrap_or(Value::Null);
    }
}
