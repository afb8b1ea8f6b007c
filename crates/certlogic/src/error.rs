//! The crate's error ([`EvalError`]: why an expression could not be evaluated) and the issues
//! static validation finds ([`ValidationError`]).
//!
//! Messages name the operation and what was wrong with it. They quote the rule where that
//! helps (rules are public), but never the data being checked: of a value from a
//! certificate they give only its kind ("a string", "null"), since it may be personal data.

use std::fmt;

use serde_json::Value;
use thiserror::Error;

/// One way in which an expression does not follow the CertLogic specification, found without
/// evaluating it. The messages are those of the specification's validation test suite.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    /// The (sub-)expression the issue is about.
    pub expr: Value,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Why evaluating an expression failed (spec, "CertLogic expression objects"): the expression
/// is invalid, or an operand evaluated to a value the operation does not accept. A valid
/// expression on data it was written for never fails; the spec advises treating a failed
/// acceptance rule as not passed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// The expression does not follow the specification; this is the first issue
    /// [`validate`](crate::validate) reports. Nothing was evaluated.
    #[error("invalid CertLogic expression: {0}")]
    Invalid(ValidationError),
    /// An operand evaluated to a value of a type the operation does not accept.
    #[error("\"{operation}\" operation: operand #{position} must be {expected}, but it is {found}")]
    Operand {
        operation: &'static str,
        /// 1-based, as the spec numbers operands.
        position: usize,
        expected: &'static str,
        found: &'static str,
    },
    /// A string given to `plusTime` or `dccDateOfBirth` is not in a format the spec allows,
    /// or names a day that does not exist.
    #[error("\"{operation}\" operation: operand #1 is not a date in a format the operation allows")]
    DateFormat { operation: &'static str },
    /// `plusTime` went beyond ±100,000,000 days from 1970, where ECMAScript's `Date` (which
    /// the spec defines the operation by) has no dates.
    #[error("\"plusTime\" operation: the result lies outside the range of date-times")]
    DateRange,
    /// `+` on two integers whose sum does not fit in 64 bits.
    #[error("\"+\" operation: the sum does not fit in a 64-bit integer")]
    IntegerOverflow,
    /// An EU rule's logic evaluated to something other than `true` or `false`.
    #[error("rule {rule}: its logic evaluated to {found}, not to a boolean")]
    NotBoolean { rule: String, found: &'static str },
    /// An EU rule names an engine other than CertLogic.
    #[error("rule {rule}: the engine is {engine:?}, not \"CERTLOGIC\"")]
    Engine { rule: String, engine: String },
}
