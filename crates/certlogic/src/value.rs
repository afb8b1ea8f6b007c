//! The values an expression evaluates to: JSON values, borrowed from the rule or the data
//! where possible, plus the date-times that only `plusTime` and `dccDateOfBirth` make (spec,
//! "Dates and date-times") and arrays that may hold them.
//!
//! This module owns what CertLogic says about values: which are truthy, falsy or neither
//! (spec, "Truthy and falsy values"), which numbers are integers, and when two values are
//! equal for `===` and `in`.

use std::borrow::Cow;

use serde_json::Value;

use crate::datetime::DateTime;

static NULL: Value = Value::Null;

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    /// A JSON value: a literal of the rule, a part of the data, or a computed result.
    Json(Cow<'a, Value>),
    /// An array expression's items, each evaluated (spec: "A JSON array evaluates to an array
    /// with every item evaluated separately"); they may be date-times.
    List(Vec<Val<'a>>),
    DateTime(DateTime),
}

impl<'a> Val<'a> {
    pub(crate) fn null() -> Self {
        Val::Json(Cow::Borrowed(&NULL))
    }

    pub(crate) fn owned(value: Value) -> Self {
        Val::Json(Cow::Owned(value))
    }

    pub(crate) fn json(&self) -> Option<&Value> {
        match self {
            Val::Json(value) => Some(value),
            Val::List(_) | Val::DateTime(_) => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self.json(), Some(Value::Null))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        self.json().and_then(Value::as_str)
    }

    pub(crate) fn as_int(&self) -> Option<i64> {
        self.json().and_then(json_int)
    }

    /// `Some(true)` for truthy, `Some(false)` for falsy, `None` for a value that is neither
    /// (spec, "Truthy and falsy values"). A date-time is neither: the spec lists it in
    /// neither notion.
    pub(crate) fn truthiness(&self) -> Option<bool> {
        match self {
            Val::Json(value) => json_truthiness(value),
            Val::List(items) => Some(!items.is_empty()),
            Val::DateTime(_) => None,
        }
    }

    /// What kind of value this is, for error messages: never the value itself, which may be
    /// personal data.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Val::Json(value) => json_kind(value),
            Val::List(_) => "an array",
            Val::DateTime(_) => "a date-time",
        }
    }

    /// The value as JSON; a date-time becomes its ECMAScript ISO string, as certlogic-js
    /// would serialise it.
    pub(crate) fn into_json(self) -> Value {
        match self {
            Val::Json(value) => value.into_owned(),
            Val::List(items) => Value::Array(items.into_iter().map(Val::into_json).collect()),
            Val::DateTime(date_time) => Value::String(date_time.to_string()),
        }
    }

    /// Equality for `===` and `in`: no type coercion. The spec only promises it for strings
    /// and integers; here booleans and null compare by value, arrays and objects item by
    /// item, numbers by numeric value and date-times by instant.
    pub(crate) fn strict_eq(&self, other: &Val<'_>) -> bool {
        match (self, other) {
            (Val::Json(left), right) => right.eq_json(left),
            (left, Val::Json(right)) => left.eq_json(right),
            (Val::List(left), Val::List(right)) => {
                left.len() == right.len() && left.iter().zip(right).all(|(l, r)| l.strict_eq(r))
            }
            (Val::DateTime(left), Val::DateTime(right)) => left == right,
            (Val::List(_), Val::DateTime(_)) | (Val::DateTime(_), Val::List(_)) => false,
        }
    }

    fn eq_json(&self, other: &Value) -> bool {
        match (self, other) {
            (Val::Json(value), other) => json_eq(value, other),
            (Val::List(items), Value::Array(others)) => {
                items.len() == others.len() && items.iter().zip(others).all(|(i, o)| i.eq_json(o))
            }
            _ => false,
        }
    }
}

/// The integer a JSON number stands for, if it is one that fits in 64 bits. A number written
/// with a fraction of zero (`2.0`) is an integer, as in JavaScript, whose `Number` type the
/// spec's integers are a subset of.
pub(crate) fn json_int(value: &Value) -> Option<i64> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(int) = number.as_i64() {
        return Some(int);
    }
    let float = number.as_f64()?;
    // -2^63 is exact as f64; i64::MAX is not, so the upper bound is exclusive.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float);
    (float.fract() == 0.0 && in_range).then_some(float as i64)
}

pub(crate) fn json_truthiness(value: &Value) -> Option<bool> {
    match value {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::Number(_) => json_int(value).map(|int| int != 0),
        Value::String(s) => Some(!s.is_empty()),
        Value::Array(items) => Some(!items.is_empty()),
        Value::Object(entries) => Some(!entries.is_empty()),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) if json_int(value).is_some() => "an integer",
        Value::Number(_) => "a non-integer number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_eq(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(l), Value::Number(r)) => match (l.as_i64(), r.as_i64()) {
            (Some(l), Some(r)) => l == r,
            _ => l.as_f64() == r.as_f64(),
        },
        (Value::Array(l), Value::Array(r)) => {
            l.len() == r.len() && l.iter().zip(r).all(|(l, r)| json_eq(l, r))
        }
        (Value::Object(l), Value::Object(r)) => {
            l.len() == r.len()
                && l.iter()
                    .all(|(key, l)| r.get(key).is_some_and(|r| json_eq(l, r)))
        }
        _ => left == right,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn truthiness(value: Value) -> Option<bool> {
        Val::owned(value).truthiness()
    }

    #[test]
    fn falsy_values_are_exactly_the_spec_list() {
        for value in [
            json!(false),
            json!(null),
            json!(""),
            json!(0),
            json!([]),
            json!({}),
            json!(0.0),
        ] {
            assert_eq!(truthiness(value.clone()), Some(false), "{value}");
        }
    }

    #[test]
    fn truthy_values_are_exactly_the_spec_list() {
        for value in [
            json!(true),
            json!("0"),
            json!("false"),
            json!(1),
            json!(-1),
            json!([0]),
            json!({"a": null}),
            json!(2.0),
        ] {
            assert_eq!(truthiness(value.clone()), Some(true), "{value}");
        }
        assert_eq!(Val::List(vec![Val::null()]).truthiness(), Some(true));
        assert_eq!(Val::List(vec![]).truthiness(), Some(false));
    }

    #[test]
    fn fractions_and_date_times_are_neither() {
        assert_eq!(truthiness(json!(0.5)), None);
        assert_eq!(truthiness(json!(-3.25)), None);
        let date_time = crate::datetime::DateTime::parse("2021-06-01").unwrap();
        assert_eq!(Val::DateTime(date_time).truthiness(), None);
    }

    #[test]
    fn integers_are_numbers_without_a_fraction_that_fit_in_64_bits() {
        assert_eq!(json_int(&json!(42)), Some(42));
        assert_eq!(json_int(&json!(-7)), Some(-7));
        assert_eq!(json_int(&json!(2.0)), Some(2));
        assert_eq!(json_int(&json!(2.5)), None);
        assert_eq!(json_int(&json!(u64::MAX)), None);
        assert_eq!(json_int(&json!(1e300)), None);
        assert_eq!(json_int(&json!("1")), None);
    }

    #[test]
    fn strict_equality_does_not_coerce() {
        let eq = |l: Value, r: Value| Val::owned(l).strict_eq(&Val::owned(r));
        assert!(eq(json!(1), json!(1)));
        assert!(eq(json!(1), json!(1.0)));
        assert!(!eq(json!(1), json!("1")));
        assert!(!eq(json!(0), json!(false)));
        assert!(!eq(json!(null), json!(false)));
        assert!(!eq(json!(""), json!(null)));
        assert!(eq(json!(null), json!(null)));
        assert!(eq(json!([1, "a"]), json!([1, "a"])));
        assert!(eq(json!({"a": [1]}), json!({"a": [1.0]})));
        assert!(!eq(json!({"a": 1}), json!({"b": 1})));
        let list = Val::List(vec![Val::owned(json!(1)), Val::owned(json!("a"))]);
        assert!(list.strict_eq(&Val::owned(json!([1, "a"]))));
        assert!(Val::owned(json!([1, "a"])).strict_eq(&list));
        assert!(!list.strict_eq(&Val::owned(json!([1]))));
    }
}
