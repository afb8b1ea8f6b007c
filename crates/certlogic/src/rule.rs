//! An EU business rule file: a CertLogic expression with the metadata the EU DCC gateway
//! distributes it with (`Identifier`, `Country`, `CertificateType`, `ValidFrom`, …), as in
//! the `rule.json` files of the EU's business-rules test data.
//!
//! A rule is evaluated against `{ "external": …, "payload": … }`: `payload` is the
//! certificate's health data, `external` what the verifier supplies (`validationClock`,
//! `valueSets`, `countryCode`, `exp`, `iat`). Reading the clock is the caller's business:
//! the validation instant comes in through `external.validationClock` and
//! [`Rule::is_valid_at`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::EvalError;
use crate::value::json_kind;

/// The `Engine` of a rule this crate evaluates.
pub const ENGINE: &str = "CERTLOGIC";

/// An EU business rule (the `rule.json` format); read it with `serde_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// For example `VR-EU-0001`: the kind of rule, the country, a number.
    pub identifier: String,
    #[serde(rename = "Type")]
    pub rule_type: RuleType,
    /// ISO 3166-1 alpha-2 code of the country that set the rule.
    pub country: String,
    pub version: String,
    pub schema_version: String,
    /// `CERTLOGIC` for every rule this crate can evaluate.
    pub engine: String,
    pub engine_version: String,
    pub certificate_type: CertificateType,
    /// What the rule checks, in one or more languages.
    pub description: Vec<Description>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    /// The certificate fields the rule reads, as paths below `payload`.
    pub affected_fields: Vec<String>,
    /// The CertLogic expression.
    pub logic: Value,
}

/// Whether a rule says which certificates are accepted, or which are invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleType {
    Acceptance,
    Invalidation,
}

/// Which certificates a rule applies to; `General` applies to all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateType {
    General,
    Test,
    Vaccination,
    Recovery,
}

/// A rule's description in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// ISO 639-1 language code.
    pub lang: String,
    pub desc: String,
}

impl Rule {
    /// Whether the rule is in force at `now`: from `ValidFrom` (included) to `ValidTo`
    /// (excluded), as the EU's rule tooling checks it.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from <= now && now < self.valid_to
    }

    /// Evaluates the rule's logic on `{ "external": external, "payload": payload }`. The
    /// certificate passes the rule when this gives `Ok(true)`; the spec advises treating an
    /// error as not passed. A result other than a boolean is an error.
    pub fn evaluate(&self, external: &Value, payload: &Value) -> Result<bool, EvalError> {
        if self.engine != ENGINE {
            return Err(EvalError::Engine {
                rule: self.identifier.clone(),
                engine: self.engine.clone(),
            });
        }
        let data = json!({ "external": external, "payload": payload });
        match crate::evaluate(&self.logic, &data)? {
            Value::Bool(passed) => Ok(passed),
            other => Err(EvalError::NotBoolean {
                rule: self.identifier.clone(),
                found: json_kind(&other),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn rule(logic: Value) -> Rule {
        serde_json::from_value(json!({
            "Identifier": "VR-XX-0001",
            "Type": "Acceptance",
            "Country": "XX",
            "Version": "1.0.0",
            "SchemaVersion": "1.0.0",
            "Engine": "CERTLOGIC",
            "EngineVersion": "0.7.5",
            "CertificateType": "Vaccination",
            "Description": [{ "lang": "en", "desc": "At least two doses." }],
            "ValidFrom": "2021-07-01T00:00:00Z",
            "ValidTo": "2030-06-01T00:00:00Z",
            "AffectedFields": ["v.0.dn"],
            "Logic": logic
        }))
        .unwrap()
    }

    #[test]
    fn evaluates_on_external_and_payload() {
        let rule =
            rule(json!({ ">=": [{ "var": "payload.v.0.dn" }, { "var": "external.minimum" }] }));
        assert_eq!(
            rule.evaluate(&json!({ "minimum": 2 }), &json!({ "v": [{ "dn": 2 }] })),
            Ok(true)
        );
        assert_eq!(
            rule.evaluate(&json!({ "minimum": 2 }), &json!({ "v": [{ "dn": 1 }] })),
            Ok(false)
        );
        assert!(matches!(
            rule.evaluate(&json!({}), &json!({ "v": [{ "dn": 1 }] })),
            Err(EvalError::Operand {
                operation: ">=",
                position: 2,
                ..
            })
        ));
    }

    #[test]
    fn a_result_other_than_a_boolean_is_an_error() {
        let rule = rule(json!({ "var": "payload.v.0.dn" }));
        assert_eq!(
            rule.evaluate(&json!({}), &json!({ "v": [{ "dn": 1 }] })),
            Err(EvalError::NotBoolean {
                rule: "VR-XX-0001".into(),
                found: "an integer"
            })
        );
    }

    #[test]
    fn another_engine_is_refused() {
        let mut rule = rule(json!(true));
        rule.engine = "JSONLOGIC".into();
        assert!(matches!(
            rule.evaluate(&json!({}), &json!({})),
            Err(EvalError::Engine { .. })
        ));
    }

    #[test]
    fn validity_window_includes_its_start_and_excludes_its_end() {
        let rule = rule(json!(true));
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(!rule.is_valid_at(at("2021-06-30T23:59:59Z")));
        assert!(rule.is_valid_at(at("2021-07-01T00:00:00Z")));
        assert!(rule.is_valid_at(at("2030-05-31T23:59:59Z")));
        assert!(!rule.is_valid_at(at("2030-06-01T00:00:00Z")));
    }

    #[test]
    fn unknown_rule_and_certificate_types_are_refused() {
        let mut json = serde_json::to_value(rule(json!(true))).unwrap();
        json["CertificateType"] = json!("Passport");
        assert!(serde_json::from_value::<Rule>(json).is_err());
    }
}
