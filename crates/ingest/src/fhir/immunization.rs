//! An Immunization as a vaccination: a completed dose, or a contraindication recorded as a
//! dose not given for a medical precaution.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use healthcode_domain::VaccinationKind;

use super::resources::RecordResource;
use super::shapes::{Identifier, Immunization, Reference};
use crate::error::Problem;
use crate::record::RecordBody;
use crate::values;

const CVX: &str = "http://hl7.org/fhir/sid/cvx";
/// The policy's own product codes, for vaccines CVX has no code for (CanSino, ZF2001, WIBP).
const PRODUCT: &str = "urn:healthcode:vaccine";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

impl RecordResource for Immunization {
    fn ids(&self) -> (&[Identifier], Option<&str>) {
        (&self.identifier, self.id.as_deref())
    }

    fn subject(&self) -> Option<&Reference> {
        self.patient.as_ref()
    }

    fn body(&self, tz: Tz, now: DateTime<Utc>) -> Result<RecordBody, Problem> {
        let kind = match self.status.as_deref() {
            Some("completed") => self.dose()?,
            // MEDPREC, "medical precaution": the v3 ActReason the R4 value set
            // immunization-status-reason offers for a dose withheld on medical grounds.
            Some("not-done") if self.status_reason.codes(ACT_REASON).any(|c| c == "MEDPREC") => {
                VaccinationKind::Contraindication
            }
            _ => {
                return Err(Problem::new(
                    "status_not_completed",
                    "status must be completed (a dose) or not-done with statusReason MEDPREC (a contraindication)",
                ));
            }
        };
        let at = values::time(
            self.occurrence_date_time.as_deref().unwrap_or_default(),
            "occurrenceDateTime",
            tz,
        )?;
        values::not_in_future(at, now)?;
        Ok(RecordBody::Vaccination { kind, at })
    }
}

impl Immunization {
    fn dose(&self) -> Result<VaccinationKind, Problem> {
        // The policy's own code names the product exactly; a CVX code is mapped to it.
        let product = self
            .vaccine_code
            .codes(PRODUCT)
            .find(|c| !c.is_empty())
            .or_else(|| self.vaccine_code.codes(CVX).find_map(values::cvx_product))
            .ok_or_else(|| {
                Problem::new(
                    "vaccine_code_unknown",
                    "vaccineCode must hold a CVX code (510, 511, 207, 208, 212, 210) or a product code with system urn:healthcode:vaccine",
                )
            })?;
        let number = values::dose_number(
            self.protocol_applied
                .first()
                .and_then(|p| p.dose_number_positive_int),
        )?;
        Ok(VaccinationKind::Dose {
            number,
            product: product.to_owned(),
        })
    }
}
