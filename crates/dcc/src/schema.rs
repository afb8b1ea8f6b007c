//! Validation of a decoded payload against the DCC JSON schema.
//!
//! The normative schema 1.3.3 (JSON Schema draft 2020-12) is embedded from
//! `schema/DCC.combined-schema.json`; [`Schema::eu_dcc`] compiles it. Compiling takes far
//! longer than validating, so callers build one [`Schema`] and share it. No reference is ever
//! fetched: the schema is self-contained and the crate has no network or file resolver.
//!
//! `format` (`date`, `date-time`) is not asserted: the schema declares draft 2020-12 without
//! the format-assertion vocabulary, so there `format` is an annotation (JSON Schema
//! Validation, 2020-12, §7.2.1). Patterns, types, lengths, ranges and required members are
//! asserted; dates are the business rules' to interpret.

use jsonschema::Validator;
use serde_json::Value as Json;

use crate::error::DccError;

/// The DCC JSON schema 1.3.3 as published by the eHealth Network (Apache-2.0, see
/// `schema/README.md`).
pub const EU_DCC_SCHEMA_1_3_3: &str = include_str!("../schema/DCC.combined-schema.json");

/// A compiled JSON schema for DCC payloads.
pub struct Schema {
    validator: Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

impl Schema {
    /// The embedded DCC schema 1.3.3.
    pub fn eu_dcc() -> Result<Schema, DccError> {
        Schema::from_json_text(EU_DCC_SCHEMA_1_3_3)
    }

    /// Compiles a schema from its JSON text, e.g. a later schema version a deployment ships.
    pub fn from_json_text(text: &str) -> Result<Schema, DccError> {
        let schema: Json = serde_json::from_str(text)
            .map_err(|e| DccError::SchemaDefinition(format!("not JSON: {e}")))?;
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(&schema)
            .map_err(|e| DccError::SchemaDefinition(e.to_string()))?;
        Ok(Schema { validator })
    }

    /// Validates a payload. The error names the first failing JSON path and schema keyword,
    /// never the offending value, which may be personal data.
    pub fn validate(&self, payload: &Json) -> Result<(), DccError> {
        // The plain check is faster; errors are only collected when there is one to report.
        if self.validator.is_valid(payload) {
            return Ok(());
        }
        match self.validator.iter_errors(payload).next() {
            None => Ok(()),
            Some(error) => Err(DccError::Schema {
                path: match error.instance_path().as_str() {
                    "" => "/".to_owned(),
                    path => path.to_owned(),
                },
                rule: error.kind().keyword().to_owned(),
            }),
        }
    }

    /// Whether the payload is valid, without building an error.
    pub fn is_valid(&self, payload: &Json) -> bool {
        self.validator.is_valid(payload)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Json {
        json!({
            "ver": "1.3.0",
            "nam": {"fn": "Musterfrau", "fnt": "MUSTERFRAU"},
            "dob": "1964-08",
            "r": [{"tg": "840539006", "fr": "2021-01-10", "co": "DE", "is": "RKI",
                   "df": "2021-01-20", "du": "2021-07-10",
                   "ci": "URN:UVCI:01DE/5CWLU12RNOB9RXSEOP6FG8#W"}]
        })
    }

    #[test]
    fn embedded_schema_is_1_3_3_and_compiles() {
        assert!(EU_DCC_SCHEMA_1_3_3.contains("\"Schema version 1.3.3\""));
        let schema = Schema::eu_dcc().unwrap();
        assert_eq!(schema.validate(&valid()), Ok(()));
        assert!(schema.is_valid(&valid()));
    }

    #[test]
    fn errors_name_the_path_and_rule_but_not_the_value() {
        let schema = Schema::eu_dcc().unwrap();
        let mut payload = valid();
        payload["nam"]["fnt"] = json!("Musterfrau");
        let error = schema.validate(&payload).unwrap_err();
        assert_eq!(
            error,
            DccError::Schema {
                path: "/nam/fnt".into(),
                rule: "pattern".into()
            }
        );
        assert!(!error.to_string().contains("Musterfrau"));
    }

    #[test]
    fn refuses_two_groups_and_a_missing_name() {
        let schema = Schema::eu_dcc().unwrap();
        let mut two = valid();
        two["t"] = two["r"].clone();
        assert_eq!(schema.validate(&two).unwrap_err().code(), "schema");
        let mut nameless = valid();
        nameless.as_object_mut().unwrap().remove("nam");
        assert_eq!(schema.validate(&nameless).unwrap_err().code(), "schema");
    }

    #[test]
    fn a_broken_schema_is_reported() {
        assert_eq!(
            Schema::from_json_text("{").unwrap_err().code(),
            "schema_definition"
        );
        assert_eq!(
            Schema::from_json_text(r#"{"type": 12}"#)
                .unwrap_err()
                .code(),
            "schema_definition"
        );
    }
}
