//! An Observation as a test result: status, LOINC test code, SNOMED CT result, times.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use healthcode_domain::{TestKind, TestOutcome, TestResult};

use super::resources::RecordResource;
use super::shapes::{Identifier, Observation, Reference};
use crate::error::Problem;
use crate::record::RecordBody;
use crate::values;

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";

impl RecordResource for Observation {
    fn ids(&self) -> (&[Identifier], Option<&str>) {
        (&self.identifier, self.id.as_deref())
    }

    fn subject(&self) -> Option<&Reference> {
        self.subject.as_ref()
    }

    fn body(&self, tz: Tz, now: DateTime<Utc>) -> Result<RecordBody, Problem> {
        // A preliminary result may still change, and an entered-in-error one never counted
        // (https://hl7.org/fhir/R4/valueset-observation-status.html).
        if !matches!(
            self.status.as_deref(),
            Some("final" | "amended" | "corrected")
        ) {
            return Err(Problem::new(
                "status_not_final",
                "only results whose status is final, amended or corrected are imported",
            ));
        }
        let kind = self.code.codes(LOINC).find_map(test_kind).ok_or_else(|| {
            Problem::new(
                "code_unknown",
                "code must hold a LOINC code of a SARS-CoV-2 RNA test (94500-6, 94309-2, 94534-5, 94759-8) or antigen test (94558-4, 95209-3)",
            )
        })?;
        let outcome = self
            .value_codeable_concept
            .codes(SNOMED)
            .find_map(test_outcome)
            .ok_or_else(|| {
                Problem::new(
                    "result_unknown",
                    "valueCodeableConcept must hold a SNOMED CT result: 260385009 or 260415000 (negative), 10828004 or 260373001 (positive), 455371000124106 or 125154007 (invalid)",
                )
            })?;
        let sampled_at = values::time(
            self.effective_date_time.as_deref().unwrap_or_default(),
            "effectiveDateTime",
            tz,
        )?;
        let resulted_at = values::time(self.issued.as_deref().unwrap_or_default(), "issued", tz)?;
        TestResult::check_times(sampled_at, resulted_at, now)?;
        Ok(RecordBody::Test {
            kind,
            outcome,
            sampled_at,
            resulted_at,
        })
    }
}

fn test_kind(loinc: &str) -> Option<TestKind> {
    match loinc {
        // SARS-CoV-2 RNA by NAA with probe detection: respiratory specimen, any specimen,
        // RdRp gene, nasopharynx.
        "94500-6" | "94309-2" | "94534-5" | "94759-8" => Some(TestKind::Pcr),
        // SARS-CoV-2 (and SARS-CoV+SARS-CoV-2) antigen by rapid immunoassay.
        "94558-4" | "95209-3" => Some(TestKind::Antigen),
        _ => None,
    }
}

fn test_outcome(snomed: &str) -> Option<TestOutcome> {
    match snomed {
        // Negative, Not detected.
        "260385009" | "260415000" => Some(TestOutcome::Negative),
        // Positive, Detected.
        "10828004" | "260373001" => Some(TestOutcome::Positive),
        // Invalid result, Specimen unsatisfactory for evaluation.
        "455371000124106" | "125154007" => Some(TestOutcome::Invalid),
        _ => None,
    }
}
