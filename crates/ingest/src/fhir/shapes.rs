//! The parts of FHIR R4 resources the mapping reads (<https://hl7.org/fhir/R4/>), as serde
//! shapes. Every other field is ignored, and every field here is optional: a missing value is
//! refused by the mapping with a code that names it, not by serde with a generic message.

use serde::Deserialize;

/// Only the type, read first to choose the shape for the rest.
#[derive(Debug, Deserialize)]
pub(super) struct Head {
    #[serde(rename = "resourceType")]
    pub(super) resource_type: String,
}

/// `Bundle.entry[i]`: the resource is kept as JSON text until its type is known.
#[derive(Debug, Deserialize)]
pub(super) struct Entry<'a> {
    #[serde(rename = "fullUrl")]
    pub(super) full_url: Option<String>,
    #[serde(borrow)]
    pub(super) resource: Option<&'a serde_json::value::RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Identifier {
    pub(super) system: Option<String>,
    pub(super) value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Reference {
    pub(super) reference: Option<String>,
    pub(super) identifier: Option<Identifier>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Coding {
    pub(super) system: Option<String>,
    pub(super) code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CodeableConcept {
    pub(super) coding: Vec<Coding>,
}

impl CodeableConcept {
    /// The codes of the codings from `system`, in order.
    pub(super) fn codes<'a>(&'a self, system: &'a str) -> impl Iterator<Item = &'a str> {
        self.coding
            .iter()
            .filter(move |c| c.system.as_deref() == Some(system))
            .filter_map(|c| c.code.as_deref())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Patient {
    pub(super) id: Option<String>,
    pub(super) identifier: Vec<Identifier>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Observation {
    pub(super) id: Option<String>,
    pub(super) identifier: Vec<Identifier>,
    pub(super) status: Option<String>,
    pub(super) code: CodeableConcept,
    pub(super) subject: Option<Reference>,
    pub(super) effective_date_time: Option<String>,
    pub(super) issued: Option<String>,
    pub(super) value_codeable_concept: CodeableConcept,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Immunization {
    pub(super) id: Option<String>,
    pub(super) identifier: Vec<Identifier>,
    pub(super) status: Option<String>,
    pub(super) status_reason: CodeableConcept,
    pub(super) vaccine_code: CodeableConcept,
    pub(super) patient: Option<Reference>,
    pub(super) occurrence_date_time: Option<String>,
    pub(super) protocol_applied: Vec<ProtocolApplied>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct ProtocolApplied {
    pub(super) dose_number_positive_int: Option<i64>,
}
