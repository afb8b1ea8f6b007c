//! From one FHIR resource to a [`Record`], or the reason it is refused: the dispatch on
//! `resourceType`, the record id, the subject (an identifier, or a Patient met earlier), and
//! the Patients remembered for that, within [`MAX_PATIENTS`] and [`MAX_REFERENCE_BYTES`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;

use healthcode_domain::{DocumentNumber, DocumentType};

use super::json_error;
use super::shapes::{Entry, Head, Identifier, Immunization, Observation, Patient, Reference};
use crate::error::{Problem, RowError, echo};
use crate::record::{Category, Position, Record, RecordBody};
use crate::values;

/// Identifier systems that name a document: this prefix, then the document type's wire name.
const DOCUMENT_SYSTEM: &str = "urn:healthcode:document:";

/// The most Patients one file may have remembered. They are the only memory that grows with
/// the file, so without a cap the sender would choose how much the reader holds. A hundred
/// thousand keep it near 30 MiB with the usual `urn:uuid:` references and under about
/// 100 MiB with the longest allowed (each Patient is two references of at most
/// [`MAX_REFERENCE_BYTES`], and a document number or a message of a few hundred bytes), so
/// that an import's memory stays within its budget. A larger file is split, or names people
/// by identifier in each record, which costs nothing.
pub(super) const MAX_PATIENTS: usize = 100_000;

/// The longest reference to a Patient (`fullUrl`, or `Patient/{id}`) that is remembered or
/// looked up. A FHIR id is at most 64 characters and a `urn:uuid:` fullUrl 45, so 256 bytes
/// leaves room for absolute URLs while the sender cannot choose how much each remembered
/// Patient costs.
pub(super) const MAX_REFERENCE_BYTES: usize = 256;

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
    /// Patients remembered so far (each under one or two references).
    remembered: usize,
    /// [`MAX_PATIENTS`], lowered by the unit tests.
    max_patients: usize,
}

impl Resources {
    pub(super) fn new(category: Category, tz: Tz, now: DateTime<Utc>) -> Resources {
        Resources {
            category,
            tz,
            now,
            patients: HashMap::new(),
            remembered: 0,
            max_patients: MAX_PATIENTS,
        }
    }

    /// One `Bundle.entry`, as JSON text.
    pub(super) fn entry(&mut self, json: &str, at: Position) -> Option<Result<Record, RowError>> {
        let entry: Entry<'_> = match serde_json::from_str(json) {
            Ok(entry) => entry,
            Err(e) => return Some(Err(json_problem(&e).at(at))),
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
    /// remembered instead (under `full_url` too, when it came in a Bundle entry) unless it is
    /// past a cap.
    pub(super) fn resource(
        &mut self,
        json: &[u8],
        full_url: Option<String>,
        at: Position,
    ) -> Option<Result<Record, RowError>> {
        let record = match serde_json::from_slice::<Head>(json) {
            Err(e) => Err(json_problem(&e)),
            Ok(head) => match (head.resource_type.as_str(), self.category) {
                ("Patient", _) => match self.remember(json, full_url) {
                    Ok(()) => return None,
                    Err(p) => Err(p),
                },
                ("Observation", Category::Tests) => self.record::<Observation>(json, at),
                ("Immunization", Category::Vaccinations) => self.record::<Immunization>(json, at),
                (other, category) => Err(unexpected(other, category)),
            },
        };
        Some(record.map_err(|p| p.at(at)))
    }

    fn record<E: RecordResource>(&self, json: &[u8], at: Position) -> Result<Record, Problem> {
        let resource: E = serde_json::from_slice(json).map_err(|e| json_problem(&e))?;
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

    /// Remembers a Patient under each reference that can name it. One that cannot be
    /// remembered (a reference too long, too many Patients) is refused, so the sender learns
    /// why the records that refer to it are then `subject_unknown`.
    fn remember(&mut self, json: &[u8], full_url: Option<String>) -> Result<(), Problem> {
        let (id, document) = match serde_json::from_slice::<Patient>(json) {
            Ok(patient) => (patient.id.clone(), patient_document(&patient)),
            Err(e) => (None, Err(json_problem(&e))),
        };
        let names: Vec<String> = id
            .map(|id| format!("Patient/{id}"))
            .into_iter()
            .chain(full_url)
            .collect();
        if let Some(long) = names.iter().find(|n| n.len() > MAX_REFERENCE_BYTES) {
            return Err(reference_too_long(
                long,
                "the Patient is not remembered: its fullUrl or Patient/{id} is",
            ));
        }
        if names.is_empty() {
            return Ok(());
        }
        if self.remembered >= self.max_patients {
            return Err(Problem::new(
                "patient_limit",
                format!(
                    "the file has more than {} Patients, and this one is not remembered: records referring to it are refused (split the file, or name people by identifier in each record)",
                    self.max_patients
                ),
            ));
        }
        self.remembered += 1;
        for name in names {
            self.patients.insert(name, document.clone());
        }
        Ok(())
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
        if reference.len() > MAX_REFERENCE_BYTES {
            return Err(reference_too_long(
                reference,
                "the reference names no remembered Patient: it is",
            ));
        }
        self.patients.get(reference).cloned().unwrap_or_else(|| {
            Err(Problem::new(
                "subject_unknown",
                format!(
                    "the reference {} names no Patient that comes before it",
                    echo(reference)
                ),
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

/// `what` begins the sentence: what follows from `reference` being too long.
fn reference_too_long(reference: &str, what: &str) -> Problem {
    Problem::new(
        "reference_too_long",
        format!(
            "{what} longer than {MAX_REFERENCE_BYTES} bytes: {}",
            echo(reference)
        ),
    )
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
        format!(
            "{wanted} (and the Patients they refer to), not {}",
            echo(resource_type)
        ),
    )
}

/// Text that is not JSON is a syntax error; JSON whose shape FHIR does not give the resource
/// (a string where an object belongs, no resourceType) is `resource_invalid`.
fn json_problem(e: &serde_json::Error) -> Problem {
    if e.is_data() {
        Problem::new(
            "resource_invalid",
            format!(
                "the resource does not have the shape FHIR R4 gives it: {}",
                json_error(e)
            ),
        )
    } else {
        Problem::new(
            "json_syntax",
            format!("this is not valid JSON: {}", json_error(e)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;

    fn patient(n: usize) -> String {
        format!(
            r#"{{"resourceType":"Patient","id":"p{n}","identifier":[{{"system":"urn:healthcode:document:passport","value":"E1234567{n}"}}]}}"#
        )
    }

    /// A million Patients would make a slow test: the cap is lowered, the code path is the same.
    #[test]
    fn patients_past_the_cap_are_refused_and_not_remembered() {
        let now = Utc
            .with_ymd_and_hms(2026, 5, 2, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut resources = Resources::new(Category::Tests, chrono_tz::Asia::Shanghai, now);
        resources.max_patients = 2;
        let mut codes = Vec::new();
        for n in 0..4 {
            let full_url = Some(format!("urn:uuid:p{n}"));
            let row = resources.resource(patient(n).as_bytes(), full_url, Position::Entry(0));
            codes.push(row.map(|r| r.err().map(|e| e.code)));
        }
        assert_eq!(
            codes,
            vec![
                None,
                None,
                Some(Some("patient_limit")),
                Some(Some("patient_limit"))
            ]
        );
        assert_eq!(resources.patients.len(), 4);
        assert!(resources.patients.contains_key("Patient/p1"));
        assert!(!resources.patients.contains_key("urn:uuid:p2"));
        // A Patient met again counts again: the cap is on Patient entries.
        let again = resources.resource(patient(0).as_bytes(), None, Position::Entry(0));
        assert_eq!(
            again.and_then(|r| r.err()).map(|e| e.code),
            Some("patient_limit")
        );
    }
}
