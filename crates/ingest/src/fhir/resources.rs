//! From one FHIR resource to a [`Record`], or the reason it is refused: the dispatch on
//! `resourceType`, the record id, the subject (an identifier, or a Patient met earlier), and
//! the Patients remembered for that.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;

use healthcode_domain::{DocumentNumber, DocumentType};

use super::shapes::{Entry, Head, Identifier, Immunization, Observation, Patient, Reference};
use crate::error::{Problem, RowError};
use crate::record::{Category, Position, Record, RecordBody};
use crate::values;

/// Identifier systems that name a document: this prefix, then the document type's wire name.
const DOCUMENT_SYSTEM: &str = "urn:healthcode:document:";

/// An Observation or an Immunization: what every record has, and the body that is its own.
pub(super) trait RecordResource: DeserializeOwned {
    /// `identifier` and `id`, where the record id comes from.
    fn ids(&self) -> (&[Identifier], Option<&str>);
    /// Whom the record is about (`Observation.subject`, `Immunization.patient`).
    fn subject(&self) -> Option<&Reference>;
    fn body(&self, tz: Tz, now: DateTime<Utc>) -> Result<RecordBody, Problem>;
}

/// Reads the resources of one file, in order.
pub(super) struct Resources {
    category: Category,
    tz: Tz,
    now: DateTime<Utc>,
    /// Patients met so far, under each reference that can name them (`fullUrl`,
    /// `Patient/{id}`), with their document or why they have none. This is the only memory
    /// that grows with the file.
    patients: HashMap<String, Result<DocumentNumber, Problem>>,
}

impl Resources {
    pub(super) fn new(category: Category, tz: Tz, now: DateTime<Utc>) -> Resources {
        Resources {
            category,
            tz,
            now,
            patients: HashMap::new(),
        }
    }

    /// One `Bundle.entry`, as JSON text.
    pub(super) fn entry(&mut self, json: &str, at: Position) -> Option<Result<Record, RowError>> {
        let entry: Entry<'_> = match serde_json::from_str(json) {
            Ok(entry) => entry,
            Err(e) => return Some(Err(json_problem(e).at(at))),
        };
        let Some(resource) = entry.resource else {
            return Some(Err(Problem::new(
                "resource_invalid",
                "the entry has no resource (only entries that carry one can be imported)",
            )
            .at(at)));
        };
        self.resource(resource.get().as_bytes(), entry.full_url, at)
    }

    /// One resource, as JSON text: its record or why not, or nothing for a Patient, which is
    /// remembered instead (under `full_url` too, when it came in a Bundle entry).
    pub(super) fn resource(
        &mut self,
        json: &[u8],
        full_url: Option<String>,
        at: Position,
    ) -> Option<Result<Record, RowError>> {
        let record = match serde_json::from_slice::<Head>(json) {
            Err(e) => Err(json_problem(e)),
            Ok(head) => match (head.resource_type.as_str(), self.category) {
                ("Patient", _) => {
                    self.remember(json, full_url);
                    return None;
                }
                ("Observation", Category::Tests) => self.record::<Observation>(json, at),
                ("Immunization", Category::Vaccinations) => self.record::<Immunization>(json, at),
                (other, category) => Err(unexpected(other, category)),
            },
        };
        Some(record.map_err(|p| p.at(at)))
    }

    fn record<E: RecordResource>(&self, json: &[u8], at: Position) -> Result<Record, Problem> {
        let resource: E = serde_json::from_slice(json).map_err(json_problem)?;
        let (identifiers, id) = resource.ids();
        let record_id = identifiers
            .iter()
            .find_map(|i| i.value.as_deref())
            .or(id)
            .unwrap_or_default();
        Ok(Record {
            at,
            record_id: values::record_id(record_id)?,
            document: self.subject(resource.subject())?,
            body: resource.body(self.tz, self.now)?,
        })
    }

    fn remember(&mut self, json: &[u8], full_url: Option<String>) {
        let (id, document) = match serde_json::from_slice::<Patient>(json) {
            Ok(patient) => (patient.id.clone(), patient_document(&patient)),
            Err(e) => (None, Err(json_problem(e))),
        };
        if let Some(id) = id {
            self.patients
                .insert(format!("Patient/{id}"), document.clone());
        }
        if let Some(url) = full_url {
            self.patients.insert(url, document);
        }
    }

    /// The document of the person a record is about: named by an identifier in the reference
    /// itself, or by the Patient the reference points to.
    fn subject(&self, subject: Option<&Reference>) -> Result<DocumentNumber, Problem> {
        let missing = || {
            Problem::new(
                "subject_missing",
                "the record does not say whom it is about (subject or patient, with an identifier or a reference)",
            )
        };
        let subject = subject.ok_or_else(missing)?;
        if let Some(identifier) = &subject.identifier {
            return document(identifier);
        }
        let reference = subject.reference.as_deref().ok_or_else(missing)?;
        self.patients.get(reference).cloned().unwrap_or_else(|| {
            Err(Problem::new(
                "subject_unknown",
                format!("the reference {reference} names no Patient that comes before it"),
            ))
        })
    }
}

/// A Patient's document: its first identifier from a document system.
fn patient_document(patient: &Patient) -> Result<DocumentNumber, Problem> {
    patient
        .identifier
        .iter()
        .find(|i| {
            i.system
                .as_deref()
                .is_some_and(|s| s.starts_with(DOCUMENT_SYSTEM))
        })
        .map_or_else(|| Err(unknown_system()), document)
}

fn document(identifier: &Identifier) -> Result<DocumentNumber, Problem> {
    let kind = identifier
        .system
        .as_deref()
        .and_then(|s| s.strip_prefix(DOCUMENT_SYSTEM))
        .and_then(|t| DocumentType::parse(t).ok())
        .ok_or_else(unknown_system)?;
    Ok(DocumentNumber::parse(
        kind,
        identifier.value.as_deref().unwrap_or_default(),
    )?)
}

fn unknown_system() -> Problem {
    Problem::new(
        "document_type_unknown",
        format!(
            "the identifier's system must be {DOCUMENT_SYSTEM} followed by resident_id, passport, hk_macau_permit, taiwan_permit or foreigner_permanent_residence"
        ),
    )
}

fn unexpected(resource_type: &str, category: Category) -> Problem {
    let wanted = match category {
        Category::Tests => "a test-result import takes Observations",
        Category::Vaccinations => "a vaccination import takes Immunizations",
    };
    Problem::new(
        "resource_type_unexpected",
        format!("{wanted} (and the Patients they refer to), not {resource_type}"),
    )
}

/// Text that is not JSON is a syntax error; JSON whose shape FHIR does not give the resource
/// (a string where an object belongs, no resourceType) is `resource_invalid`.
fn json_problem(e: serde_json::Error) -> Problem {
    if e.is_data() {
        Problem::new(
            "resource_invalid",
            format!("the resource does not have the shape FHIR R4 gives it: {e}"),
        )
    } else {
        Problem::new("json_syntax", format!("this is not valid JSON: {e}"))
    }
}
