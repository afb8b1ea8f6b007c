//! CertLogic: the JsonLogic dialect the EU uses for certificate acceptance rules.
//!
//! This crate implements version 1.3.3 of the CertLogic specification ([`SPEC_VERSION`]):
//!
//! - [`evaluate`] runs an expression on a data context and gives its value, or an
//!   [`EvalError`] naming the operation and what was wrong: an invalid expression is an
//!   error, never a silent `false`.
//! - [`validate`] checks an expression without data and lists every [`ValidationError`].
//! - [`Rule`] reads an EU business rule file and evaluates it on a certificate's payload.
//!
//! Modules: `expr` reads JSON into a checked expression tree (this is the validation),
//! `eval` evaluates the tree, `value` holds what CertLogic says about values (truthiness,
//! integers, equality), `datetime` the date-time formats and calendar arithmetic.
//!
//! What this crate does not own: decoding certificates, fetching rules or value sets, and
//! reading the clock. The validation instant is data (`external.validationClock`), passed in
//! by the caller.

mod datetime;
mod error;
mod eval;
mod expr;
mod rule;
mod value;

use serde_json::Value;

pub use error::{EvalError, ValidationError};
pub use rule::{CertificateType, Description, ENGINE, Rule, RuleType};

/// The version of the CertLogic specification this crate implements.
pub const SPEC_VERSION: &str = "1.3.3";

/// Evaluates the CertLogic expression `rule` against the data context `data`.
///
/// The whole expression is checked first, as [`validate`] does; the first issue found is
/// returned as [`EvalError::Invalid`] and nothing is evaluated. A date-time in the result
/// (from `plusTime` or `dccDateOfBirth`) appears as its ISO 8601 string in UTC with
/// milliseconds, as ECMAScript's `toISOString` writes it.
pub fn evaluate(rule: &Value, data: &Value) -> Result<Value, EvalError> {
    let expr = expr::compile(rule).map_err(|issues| {
        // compile gives at least one issue whenever it fails.
        let first = issues
            .into_iter()
            .next()
            .unwrap_or_else(|| ValidationError {
                expr: rule.clone(),
                message: "invalid CertLogic expression".to_owned(),
            });
        EvalError::Invalid(first)
    })?;
    eval::eval(&expr, &eval::Context::Data(data)).map(value::Val::into_json)
}

/// Checks the CertLogic expression `rule` against the specification without evaluating it:
/// operators, numbers of operands, literal operands, and `var` paths. Gives every issue, in
/// document order; none for a valid expression.
pub fn validate(rule: &Value) -> Vec<ValidationError> {
    expr::compile(rule).err().unwrap_or_default()
}
