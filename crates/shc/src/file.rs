//! The `.smart-health-card` file (SMART Health Cards, "via File Download"): a JSON object whose
//! `verifiableCredential` array holds one or more cards as compact JWS.
//!
//! This module owns reading that object. Each card in it is verified like any other
//! ([`crate::verify_jws`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::ShcError;
use crate::trust::Trust;
use crate::verify::{VerifiedCard, verify_jws};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthCardFile {
    verifiable_credential: Vec<String>,
}

/// The cards of a `.smart-health-card` file, as JWS texts, in file order.
pub fn health_card_file_jws(json: &str) -> Result<Vec<String>, ShcError> {
    let file: HealthCardFile = serde_json::from_str(json)
        .map_err(|_| ShcError::BadFile("expected {\"verifiableCredential\": [\"<JWS>\", ...]}"))?;
    if file.verifiable_credential.is_empty() {
        return Err(ShcError::BadFile("verifiableCredential is empty"));
    }
    Ok(file.verifiable_credential)
}

/// Verifies every card of a `.smart-health-card` file at `now`. The file is accepted only if
/// every card in it is: a gate shown a file does not pick the cards that pass.
pub fn verify_file(
    json: &str,
    trust: &Trust,
    now: DateTime<Utc>,
) -> Result<Vec<VerifiedCard>, ShcError> {
    health_card_file_jws(json)?
        .iter()
        .map(|jws| verify_jws(jws, trust, now))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_jws_list() {
        let jws = health_card_file_jws(r#"{"verifiableCredential":["a.b.c","d.e.f"]}"#).unwrap();
        assert_eq!(jws, ["a.b.c", "d.e.f"]);
    }

    #[test]
    fn refuses_other_shapes() {
        for text in [
            "",
            "[]",
            r#"{"verifiableCredential":[]}"#,
            r#"{"verifiableCredential":"a.b.c"}"#,
            r#"{"verifiableCredential":[7]}"#,
            r#"{"credentials":["a.b.c"]}"#,
        ] {
            assert_eq!(
                health_card_file_jws(text).unwrap_err().code(),
                "file",
                "{text}"
            );
        }
    }
}
