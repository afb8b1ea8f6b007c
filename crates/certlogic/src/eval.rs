//! Evaluating a valid expression tree against a data context (spec, "Operations"): what each
//! operation does with its operands' values, which operands it evaluates (`if` and `and`
//! are lazy), and the type mismatches that can only show once operands are evaluated.
//!
//! The result borrows from the rule and the data wherever it can; `var` never copies the
//! part of the data it points at.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::datetime::{DateTime, TimeUnit};
use crate::error::EvalError;
use crate::expr::{Comparison, Expr};
use crate::value::Val;

/// What `var` reads from.
pub(crate) enum Context<'a, 'c> {
    /// The data the expression was given.
    Data(&'a Value),
    /// Inside a `reduce` lambda: `{ "current": …, "accumulator": … }` (spec, "Reduction"),
    /// without the optional `data` key the spec says CertLogic *may* add one day.
    Reduce {
        current: &'c Val<'a>,
        accumulator: &'c Val<'a>,
    },
}

/// Evaluates `expr`. Each operation has its own function, which keeps this one's stack frame
/// small: nested expressions recurse through it.
pub(crate) fn eval<'a>(expr: &Expr<'a>, context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    match expr {
        Expr::Literal(value) => Ok(Val::Json(Cow::Borrowed(*value))),
        Expr::Array(items) => array(items, context),
        Expr::Var(path) => Ok(var(context, path)),
        Expr::If(operands) => if_then_else(operands, context),
        Expr::And(operands) => and(operands, context),
        Expr::Not(operand) => not(operand, context),
        Expr::Equal(operands) => equal(operands, context),
        Expr::In(operands) => member_of(operands, context),
        Expr::Plus(operands) => plus(operands, context),
        Expr::Compare {
            comparison,
            operands,
        } => compare(*comparison, operands, context),
        Expr::PlusTime { date, amount, unit } => plus_time(date, *amount, *unit, context),
        Expr::DccDateOfBirth(operand) => dcc_date_of_birth(operand, context),
        Expr::Reduce(operands) => reduce(operands, context),
        Expr::ExtractFromUvci { uvci, index } => extract_from_uvci(uvci, *index, context),
    }
}

fn array<'a>(items: &[Expr<'a>], context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    items
        .iter()
        .map(|item| eval(item, context))
        .collect::<Result<_, _>>()
        .map(Val::List)
}

/// spec, "If-then-else": only the branch the guard picks is evaluated. A guard that is
/// neither truthy nor falsy is an error, as for `!` and `and`: such values "can't be used
/// for conditional logic" (spec, "Truthy and falsy values").
fn if_then_else<'a>(
    operands: &[Expr<'a>; 3],
    context: &Context<'a, '_>,
) -> Result<Val<'a>, EvalError> {
    let [guard, then, otherwise] = operands;
    if truthiness("if", 1, &eval(guard, context)?)? {
        eval(then, context)
    } else {
        eval(otherwise, context)
    }
}

/// spec, "Negation (`!`)".
fn not<'a>(operand: &Expr<'a>, context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    let value = eval(operand, context)?;
    Ok(boolean(!truthiness("!", 1, &value)?))
}

fn equal<'a>(operands: &[Expr<'a>; 2], context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    let [left, right] = operands;
    let (left, right) = (eval(left, context)?, eval(right, context)?);
    Ok(boolean(left.strict_eq(&right)))
}

/// `in`: operand 2 "must be an array - possibly empty"; anything else, null included, is an
/// error (spec, "Operations with infix operators").
fn member_of<'a>(
    operands: &[Expr<'a>; 2],
    context: &Context<'a, '_>,
) -> Result<Val<'a>, EvalError> {
    let [needle, haystack] = operands;
    let (needle, haystack) = (eval(needle, context)?, eval(haystack, context)?);
    let found = match &haystack {
        Val::Json(value) => match &**value {
            Value::Array(items) => items
                .iter()
                .any(|item| needle.strict_eq(&Val::Json(Cow::Borrowed(item)))),
            _ => return Err(operand_error("in", 2, "an array", &haystack)),
        },
        Val::List(items) => items.iter().any(|item| needle.strict_eq(item)),
        Val::DateTime(_) => return Err(operand_error("in", 2, "an array", &haystack)),
    };
    Ok(boolean(found))
}

fn plus<'a>(operands: &[Expr<'a>; 2], context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    let [left, right] = operands;
    let left = integer("+", 1, &eval(left, context)?)?;
    let right = integer("+", 2, &eval(right, context)?)?;
    let sum = left.checked_add(right).ok_or(EvalError::IntegerOverflow)?;
    Ok(Val::owned(Value::from(sum)))
}

/// spec, "Offset date-time (`plusTime`)": the operand must be a string in an allowed format.
fn plus_time<'a>(
    date: &Expr<'a>,
    amount: i64,
    unit: TimeUnit,
    context: &Context<'a, '_>,
) -> Result<Val<'a>, EvalError> {
    let date = eval(date, context)?;
    let text = date
        .as_str()
        .ok_or_else(|| operand_error("plusTime", 1, "a string", &date))?;
    let date_time = DateTime::parse(text).ok_or(EvalError::DateFormat {
        operation: "plusTime",
    })?;
    let shifted = date_time.plus(amount, unit).ok_or(EvalError::DateRange)?;
    Ok(Val::DateTime(shifted))
}

/// spec, "DCC Date of birth (`dccDateOfBirth`)".
fn dcc_date_of_birth<'a>(
    operand: &Expr<'a>,
    context: &Context<'a, '_>,
) -> Result<Val<'a>, EvalError> {
    let dob = eval(operand, context)?;
    let text = dob
        .as_str()
        .ok_or_else(|| operand_error("dccDateOfBirth", 1, "a string", &dob))?;
    let date_time = DateTime::of_birth_date(text).ok_or(EvalError::DateFormat {
        operation: "dccDateOfBirth",
    })?;
    Ok(Val::DateTime(date_time))
}

/// spec, "Extract data from an UCI": a null operand gives null.
fn extract_from_uvci<'a>(
    uvci: &Expr<'a>,
    index: i64,
    context: &Context<'a, '_>,
) -> Result<Val<'a>, EvalError> {
    let uvci = eval(uvci, context)?;
    if uvci.is_null() {
        return Ok(Val::null());
    }
    let text = uvci
        .as_str()
        .ok_or_else(|| operand_error("extractFromUVCI", 1, "a string or null", &uvci))?;
    Ok(uvci_fragment(text, index)
        .map_or_else(Val::null, |fragment| Val::owned(Value::from(fragment))))
}

fn boolean<'a>(value: bool) -> Val<'a> {
    Val::owned(Value::Bool(value))
}

/// spec, "Data access (`var`)": drills into the context; whatever does not exist is null.
fn var<'a>(context: &Context<'a, '_>, path: &[&str]) -> Val<'a> {
    match context {
        Context::Data(data) => Val::Json(Cow::Borrowed(drill_json(data, path))),
        Context::Reduce {
            current,
            accumulator,
        } => match path.split_first() {
            // The lambda's whole context is an object made for it; date-times in it appear
            // as their ISO strings.
            None => {
                let mut object = Map::new();
                object.insert("current".to_owned(), (*current).clone().into_json());
                object.insert("accumulator".to_owned(), (*accumulator).clone().into_json());
                Val::owned(Value::Object(object))
            }
            Some((&"current", rest)) => drill_val(current, rest),
            Some((&"accumulator", rest)) => drill_val(accumulator, rest),
            Some(_) => Val::null(),
        },
    }
}

fn drill_json<'v>(value: &'v Value, path: &[&str]) -> &'v Value {
    static NULL: Value = Value::Null;
    path.iter()
        .try_fold(value, |value, fragment| step(value, fragment))
        .unwrap_or(&NULL)
}

/// One path fragment: an object's property, or an array's item when the fragment is an
/// integer (spec: "An integer path fragment signifies array indexing").
fn step<'v>(value: &'v Value, fragment: &str) -> Option<&'v Value> {
    match value {
        Value::Object(entries) => entries.get(fragment),
        Value::Array(items) => items.get(array_index(fragment)?),
        _ => None,
    }
}

fn array_index(fragment: &str) -> Option<usize> {
    if fragment.bytes().all(|byte| byte.is_ascii_digit()) {
        fragment.parse().ok()
    } else {
        None
    }
}

/// Drills into a value of the lambda's context, borrowing from the original data where the
/// value does.
fn drill_val<'a>(value: &Val<'a>, path: &[&str]) -> Val<'a> {
    let Some((fragment, rest)) = path.split_first() else {
        return value.clone();
    };
    match value {
        Val::Json(Cow::Borrowed(json)) => Val::Json(Cow::Borrowed(drill_json(json, path))),
        Val::Json(Cow::Owned(json)) => Val::owned(drill_json(json, path).clone()),
        Val::List(items) => array_index(fragment)
            .and_then(|index| items.get(index))
            .map_or_else(Val::null, |item| drill_val(item, rest)),
        Val::DateTime(_) => Val::null(),
    }
}

fn truthiness(
    operation: &'static str,
    position: usize,
    value: &Val<'_>,
) -> Result<bool, EvalError> {
    value
        .truthiness()
        .ok_or_else(|| operand_error(operation, position, "truthy or falsy", value))
}

fn integer(operation: &'static str, position: usize, value: &Val<'_>) -> Result<i64, EvalError> {
    value
        .as_int()
        .ok_or_else(|| operand_error(operation, position, "an integer", value))
}

fn operand_error(
    operation: &'static str,
    position: usize,
    expected: &'static str,
    found: &Val<'_>,
) -> EvalError {
    EvalError::Operand {
        operation,
        position,
        expected,
        found: found.kind(),
    }
}

/// spec, "Operations with infix operators": `and` gives its first falsy operand, or else its
/// last; operands are evaluated in order and no further than the first falsy one, and each
/// one evaluated must be truthy or falsy.
fn and<'a>(operands: &[Expr<'a>], context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    let mut result = Val::null();
    for (index, operand) in operands.iter().enumerate() {
        result = eval(operand, context)?;
        if !truthiness("and", index + 1, &result)? {
            break;
        }
    }
    Ok(result)
}

/// The binary form compares two operands; the ternary form `[a, b, c]` means `a op b and
/// b op c` (spec, "Operations with infix operators"). Every operand is evaluated first, and
/// all must be integers (or, for the date-time operators, date-times).
fn compare<'a>(
    comparison: Comparison,
    operands: &[Expr<'a>],
    context: &Context<'a, '_>,
) -> Result<Val<'a>, EvalError> {
    let values = operands
        .iter()
        .map(|operand| eval(operand, context))
        .collect::<Result<Vec<_>, _>>()?;
    let holds = if comparison.on_date_times {
        let date_times = values
            .iter()
            .enumerate()
            .map(|(index, value)| match value {
                Val::DateTime(date_time) => Ok(*date_time),
                _ => Err(operand_error(
                    comparison.operator,
                    index + 1,
                    "a date-time",
                    value,
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        date_times
            .windows(2)
            .all(|pair| comparison.order.holds(&pair[0], &pair[1]))
    } else {
        let integers = values
            .iter()
            .enumerate()
            .map(|(index, value)| integer(comparison.operator, index + 1, value))
            .collect::<Result<Vec<_>, _>>()?;
        integers
            .windows(2)
            .all(|pair| comparison.order.holds(&pair[0], &pair[1]))
    };
    Ok(boolean(holds))
}

/// spec, "Reduction (`reduce`)": a left fold of the lambda over the operand's items, starting
/// from the initial value. A null operand reduces to the initial value, as the spec's
/// JsonLogic test suite requires ("Filter, map, all, none, and some").
fn reduce<'a>(operands: &[Expr<'a>; 3], context: &Context<'a, '_>) -> Result<Val<'a>, EvalError> {
    let [operand, lambda, initial] = operands;
    let operand = eval(operand, context)?;
    let initial = eval(initial, context)?;
    let step = |accumulator: Val<'a>, current: &Val<'a>| {
        eval(
            lambda,
            &Context::Reduce {
                current,
                accumulator: &accumulator,
            },
        )
    };
    match operand {
        Val::Json(Cow::Borrowed(Value::Array(items))) => {
            items.iter().try_fold(initial, |accumulator, item| {
                step(accumulator, &Val::Json(Cow::Borrowed(item)))
            })
        }
        Val::Json(Cow::Owned(Value::Array(items))) => {
            items.into_iter().try_fold(initial, |accumulator, item| {
                step(accumulator, &Val::owned(item))
            })
        }
        Val::List(items) => items.iter().try_fold(initial, step),
        Val::Json(Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null)) => Ok(initial),
        other => Err(operand_error("reduce", 1, "an array or null", &other)),
    }
}

/// spec, "Extract data from an UCI": the fragment at `index` after splitting on `/`, `#` and
/// `:`, an optional `URN:UVCI:` prefix left out; `None` when there is no such fragment.
fn uvci_fragment(uvci: &str, index: i64) -> Option<&str> {
    let unprefixed = uvci.strip_prefix("URN:UVCI:").unwrap_or(uvci);
    let index = usize::try_from(index).ok()?;
    unprefixed.split(['/', '#', ':']).nth(index)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn uvci_fragments() {
        let uvci = "URN:UVCI:01:NL:187/37512422923";
        assert_eq!(uvci_fragment(uvci, 0), Some("01"));
        assert_eq!(uvci_fragment(uvci, 3), Some("37512422923"));
        assert_eq!(uvci_fragment(uvci, 4), None);
        assert_eq!(uvci_fragment(uvci, -1), None);
        assert_eq!(uvci_fragment("a::c/#/f", 5), Some("f"));
        assert_eq!(uvci_fragment("", 0), Some(""));
        // Only a prefix at the very start is left out.
        assert_eq!(uvci_fragment("01:URN:UVCI:x", 1), Some("URN"));
        assert_eq!(uvci_fragment("urn:uvci:01", 0), Some("urn"));
    }

    #[test]
    fn array_indices_are_plain_decimal_integers() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("12"), Some(12));
        assert_eq!(array_index("007"), Some(7));
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index("+1"), None);
        assert_eq!(array_index("1a"), None);
        assert_eq!(array_index("99999999999999999999999"), None);
    }
}
