//! Reading a CertLogic expression (JSON) into a typed tree, checking on the way everything
//! that can be checked without data: the operators, their number of operands, and the
//! operands that must be literals. This is both the static validation of the spec's
//! "validation-testSuite" and the check the evaluator makes "before evaluating any of its
//! operands" (spec, "CertLogic expression objects").
//!
//! The tree borrows the rule's JSON. It does not own what the operations do with values:
//! that is `eval.rs`.

use serde_json::{Map, Value};

use crate::datetime::TimeUnit;
use crate::error::ValidationError;
use crate::value::json_int;

/// How deeply expressions may nest. Validation and evaluation recurse once per level, so the
/// limit bounds their stack use (in unoptimised builds some 4 KiB a level) for any input.
/// JSON that serde_json reads nests at most 128 deep, so no parsed rule comes near it; EU
/// rules nest less than 10 deep.
pub(crate) const MAX_DEPTH: usize = 128;

/// A valid CertLogic expression.
#[derive(Debug)]
pub(crate) enum Expr<'r> {
    /// A string, integer or boolean (spec, "Literal values").
    Literal(&'r Value),
    /// An array, every item an expression.
    Array(Vec<Expr<'r>>),
    /// `var`: the path's fragments; none for the whole data context.
    Var(Vec<&'r str>),
    /// `if`: guard, then, else.
    If(Box<[Expr<'r>; 3]>),
    /// `===`.
    Equal(Box<[Expr<'r>; 2]>),
    /// `in`: the needle and the array to look in.
    In(Box<[Expr<'r>; 2]>),
    /// `+`.
    Plus(Box<[Expr<'r>; 2]>),
    /// `and`: two operands or more.
    And(Vec<Expr<'r>>),
    /// `!`.
    Not(Box<Expr<'r>>),
    /// `<`, `>`, `<=`, `>=` on integers; `before`, `after`, `not-after`, `not-before` on
    /// date-times. Two or three operands.
    Compare {
        comparison: Comparison,
        operands: Vec<Expr<'r>>,
    },
    /// `plusTime`: the amount and the unit are literals.
    PlusTime {
        date: Box<Expr<'r>>,
        amount: i64,
        unit: TimeUnit,
    },
    /// `reduce`: operand, lambda, initial.
    Reduce(Box<[Expr<'r>; 3]>),
    /// `extractFromUVCI`: the index is a literal.
    ExtractFromUvci { uvci: Box<Expr<'r>>, index: i64 },
    /// `dccDateOfBirth`.
    DccDateOfBirth(Box<Expr<'r>>),
}

/// One of the eight comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub(crate) operator: &'static str,
    pub(crate) order: Order,
    pub(crate) on_date_times: bool,
}

/// What a comparison checks of each pair of neighbouring operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
}

impl Comparison {
    /// The spec makes `after`, `before`, `not-after` and `not-before` the date-time
    /// equivalents of `>`, `<`, `<=` and `>=` (spec, "Operations with infix operators").
    fn from_operator(operator: &str) -> Option<Self> {
        let (operator, order, on_date_times) = match operator {
            "<" => ("<", Order::Less, false),
            ">" => (">", Order::Greater, false),
            "<=" => ("<=", Order::LessOrEqual, false),
            ">=" => (">=", Order::GreaterOrEqual, false),
            "before" => ("before", Order::Less, true),
            "after" => ("after", Order::Greater, true),
            "not-after" => ("not-after", Order::LessOrEqual, true),
            "not-before" => ("not-before", Order::GreaterOrEqual, true),
            _ => return None,
        };
        Some(Comparison {
            operator,
            order,
            on_date_times,
        })
    }
}

impl Order {
    pub(crate) fn holds<T: Ord>(self, left: &T, right: &T) -> bool {
        match self {
            Order::Less => left < right,
            Order::Greater => left > right,
            Order::LessOrEqual => left <= right,
            Order::GreaterOrEqual => left >= right,
        }
    }
}

/// Reads `rule` into an expression tree, or gives every issue found, in document order.
pub(crate) fn compile(rule: &Value) -> Result<Expr<'_>, Vec<ValidationError>> {
    let mut compiler = Compiler { issues: Vec::new() };
    match compiler.expr(rule, 0) {
        Some(expr) if compiler.issues.is_empty() => Ok(expr),
        _ => Err(compiler.issues),
    }
}

struct Compiler {
    issues: Vec<ValidationError>,
}

impl Compiler {
    /// Records an issue with `expr`; always `None`, so callers can `return self.issue(…)`.
    fn issue<T>(&mut self, expr: &Value, message: String) -> Option<T> {
        self.issues.push(ValidationError {
            expr: expr.clone(),
            message,
        });
        None
    }

    /// `None` when this expression or one inside it has an issue (then recorded).
    fn expr<'r>(&mut self, json: &'r Value, depth: usize) -> Option<Expr<'r>> {
        if depth > MAX_DEPTH {
            return self.too_deep(json);
        }
        match json {
            Value::String(_) | Value::Bool(_) => Some(Expr::Literal(json)),
            Value::Number(_) => self.number(json),
            // spec, "Literal values": there is no literal for null (nor for objects).
            Value::Null => self.issue(json, "invalid CertLogic expression".to_owned()),
            Value::Array(items) => self.all(items, depth).map(Expr::Array),
            Value::Object(entries) => self.operation(json, entries, depth),
        }
    }

    fn too_deep<T>(&mut self, json: &Value) -> Option<T> {
        // The issue holds the expression elided: a copy would be as deep as the original.
        self.issues.push(ValidationError {
            expr: elided(json),
            message: format!("expression nested deeper than {MAX_DEPTH} levels"),
        });
        None
    }

    /// A number is a literal when it is an integer (spec, "Literal values").
    fn number<'r>(&mut self, json: &'r Value) -> Option<Expr<'r>> {
        if json_int(json).is_some() {
            Some(Expr::Literal(json))
        } else if json.as_f64().is_some_and(|f| f.fract() == 0.0) {
            self.issue(json, format!("{json} is an integer too large for 64 bits"))
        } else {
            self.issue(json, format!("{json} is a non-integer number"))
        }
    }

    /// Compiles every item, so that every issue gets recorded, and gives them all if none
    /// has an issue.
    fn all<'r>(&mut self, items: &'r [Value], depth: usize) -> Option<Vec<Expr<'r>>> {
        let compiled: Vec<_> = items
            .iter()
            .map(|item| self.expr(item, depth + 1))
            .collect();
        compiled.into_iter().collect()
    }

    fn operation<'r>(
        &mut self,
        json: &'r Value,
        entries: &'r Map<String, Value>,
        depth: usize,
    ) -> Option<Expr<'r>> {
        let mut iter = entries.iter();
        let (Some((operator, values)), None) = (iter.next(), iter.next()) else {
            return self.issue(
                json,
                format!(
                    "expression object must have exactly one key, but it has {}",
                    entries.len()
                ),
            );
        };
        if operator == "var" {
            return self.var(json, values);
        }
        let Value::Array(values) = values else {
            return self.issue(
                json,
                "operation not of the form { \"<operator>\": [ <values...> ] }".to_owned(),
            );
        };
        self.operator(json, operator, values, depth)
    }

    /// An operation of the form `{ "<operator>": [ <values...> ] }`. Each branch hands its
    /// work to a function of its own, which keeps this frame small: nested expressions
    /// recurse through it.
    fn operator<'r>(
        &mut self,
        json: &'r Value,
        operator: &'r str,
        values: &'r [Value],
        depth: usize,
    ) -> Option<Expr<'r>> {
        let count = values.len();
        match operator {
            "if" => self
                .fixed(json, values, depth, || {
                    format!("an \"if\"-operation must have exactly 3 values/operands, but it has {count}")
                })
                .map(|operands| Expr::If(Box::new(operands))),
            "===" => self
                .binary(json, operator, values, depth)
                .map(|operands| Expr::Equal(Box::new(operands))),
            "in" => self
                .binary(json, operator, values, depth)
                .map(|operands| Expr::In(Box::new(operands))),
            "+" => self
                .binary(json, operator, values, depth)
                .map(|operands| Expr::Plus(Box::new(operands))),
            "and" => {
                let arity_ok = self.arity(json, count >= 2, || {
                    format!("an \"and\" operation must have at least 2 operands, but it has {count}")
                });
                let operands = self.all(values, depth)?;
                arity_ok.then_some(Expr::And(operands))
            }
            "!" => self
                .fixed(json, values, depth, || {
                    format!("a !-operation (logical not/negation) must have exactly 1 operand, but it has {count}")
                })
                .map(|[operand]| Expr::Not(Box::new(operand))),
            "plusTime" => self.plus_time(json, values, depth),
            "reduce" => self
                .fixed(json, values, depth, || {
                    format!("a \"reduce\"-operation must have exactly 3 values/operands, but it has {count}")
                })
                .map(|operands| Expr::Reduce(Box::new(operands))),
            "extractFromUVCI" => self.extract_from_uvci(json, values, depth),
            "dccDateOfBirth" => self
                .fixed(json, values, depth, || {
                    format!("a \"dccDateOfBirth\"-operation must have exactly 1 value/operand, but it has {count}")
                })
                .map(|[operand]| Expr::DccDateOfBirth(Box::new(operand))),
            _ => match Comparison::from_operator(operator) {
                Some(comparison) => self.comparison(json, comparison, values, depth),
                None => self.issue(json, format!("unrecognised operator: \"{operator}\"")),
            },
        }
    }

    /// An operation with exactly `N` operands, all expressions.
    fn fixed<'r, const N: usize>(
        &mut self,
        json: &'r Value,
        values: &'r [Value],
        depth: usize,
        arity_message: impl FnOnce() -> String,
    ) -> Option<[Expr<'r>; N]> {
        let arity_ok = self.arity(json, values.len() == N, arity_message);
        let operands = self.all(values, depth)?;
        if arity_ok {
            operands.try_into().ok()
        } else {
            None
        }
    }

    /// `===`, `in` and `+`: exactly two operands (spec, "Operations with infix operators").
    fn binary<'r>(
        &mut self,
        json: &'r Value,
        operator: &str,
        values: &'r [Value],
        depth: usize,
    ) -> Option<[Expr<'r>; 2]> {
        let count = values.len();
        self.fixed(json, values, depth, || {
            format!(
                "an operation with operator \"{operator}\" must have 2 operands, but it has {count}"
            )
        })
    }

    /// The comparisons take two operands, or three for the "between" form (spec,
    /// "Operations with infix operators").
    fn comparison<'r>(
        &mut self,
        json: &'r Value,
        comparison: Comparison,
        values: &'r [Value],
        depth: usize,
    ) -> Option<Expr<'r>> {
        let count = values.len();
        let arity_ok = self.arity(json, (2..=3).contains(&count), || {
            format!(
                "an operation with operator \"{}\" must have 2 or 3 operands, but it has {count}",
                comparison.operator
            )
        });
        let operands = self.all(values, depth)?;
        arity_ok.then_some(Expr::Compare {
            comparison,
            operands,
        })
    }

    /// Records an arity issue unless `ok`; gives `ok`.
    fn arity(&mut self, json: &Value, ok: bool, message: impl FnOnce() -> String) -> bool {
        if !ok {
            self.issue::<()>(json, message());
        }
        ok
    }

    /// spec, "Data access": `{ "var": "<path>" }`, the path's fragments separated by single
    /// periods; the empty path is the whole data context.
    fn var<'r>(&mut self, json: &'r Value, path: &'r Value) -> Option<Expr<'r>> {
        let Value::String(path) = path else {
            return self.issue(json, "not of the form { \"var\": \"<path>\" }".to_owned());
        };
        if path.is_empty() {
            return Some(Expr::Var(Vec::new()));
        }
        let fragments: Vec<&str> = path.split('.').collect();
        if fragments.iter().any(|fragment| fragment.is_empty()) {
            return self.issue(
                json,
                format!("data access path doesn't have a valid format: {path}"),
            );
        }
        Some(Expr::Var(fragments))
    }

    /// spec, "Offset date-time": `[ <date>, <integer literal>, <time unit literal> ]`.
    fn plus_time<'r>(
        &mut self,
        json: &'r Value,
        values: &'r [Value],
        depth: usize,
    ) -> Option<Expr<'r>> {
        let count = values.len();
        let arity_ok = self.arity(json, count == 3, || {
            format!(
                "a \"plusTime\"-operation must have exactly 3 values/operands, but it has {count}"
            )
        });
        let date = values.first().and_then(|date| self.expr(date, depth + 1));
        let amount = match values.get(1) {
            Some(amount) => json_int(amount).or_else(|| {
                self.issue(
                    json,
                    format!("\"amount\" argument (#2) of \"plusTime\" must be an integer, but it is: {amount}"),
                )
            }),
            None => None,
        };
        let unit = match values.get(2) {
            Some(unit) => unit.as_str().and_then(TimeUnit::from_name).or_else(|| {
                self.issue(
                    json,
                    format!(
                        "\"unit\" argument (#3) of \"plusTime\" must be a string equal to one of {}, but it is: {unit}",
                        TimeUnit::NAMES.join(", ")
                    ),
                )
            }),
            None => None,
        };
        let (date, amount, unit) = (date?, amount?, unit?);
        arity_ok.then(|| Expr::PlusTime {
            date: Box::new(date),
            amount,
            unit,
        })
    }

    /// spec, "Extract data from an UCI": `[ <operand>, <integer literal> ]`.
    fn extract_from_uvci<'r>(
        &mut self,
        json: &'r Value,
        values: &'r [Value],
        depth: usize,
    ) -> Option<Expr<'r>> {
        let count = values.len();
        let arity_ok = self.arity(json, count == 2, || {
            format!("an \"extractFromUVCI\"-operation must have exactly 2 values/operands, but it has {count}")
        });
        let uvci = values.first().and_then(|uvci| self.expr(uvci, depth + 1));
        let index = match values.get(1) {
            Some(index) => json_int(index).or_else(|| {
                self.issue(
                    json,
                    format!("\"index\" argument (#2) of \"extractFromUVCI\" must be an integer, but it is: {index}"),
                )
            }),
            None => None,
        };
        let (uvci, index) = (uvci?, index?);
        arity_ok.then(|| Expr::ExtractFromUvci {
            uvci: Box::new(uvci),
            index,
        })
    }
}

/// `json` with everything below its top level replaced by `"…"`.
fn elided(json: &Value) -> Value {
    let ellipsis = || Value::String("…".to_owned());
    match json {
        Value::Object(entries) => Value::Object(
            entries
                .keys()
                .map(|key| (key.clone(), ellipsis()))
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() => Value::Array(vec![ellipsis()]),
        _ => json.clone(),
    }
}
