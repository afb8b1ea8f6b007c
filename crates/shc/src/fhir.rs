//! What a card's FHIR R4 bundle says, in the few terms a gate decides on: who the patient is,
//! which vaccines were given when, and which observations (test results) were made.
//!
//! This module owns reading Patient, Immunization and Observation resources into
//! [`CardSummary`]. Other resource types (DiagnosticReport, Specimen, Organization, ...) are
//! left out of the summary; they are not an error. It does not own FHIR validation beyond the
//! members it reads, nor any decision made from them.

use serde_json::{Map, Value};

use crate::error::ShcError;

/// The part of a card's bundle a gate looks at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardSummary {
    /// The one Patient of the bundle; `None` when it has none (a lab report may not).
    pub patient: Option<Patient>,
    pub immunizations: Vec<Immunization>,
    pub observations: Vec<Observation>,
}

/// A Patient resource: the first of its names, and its birth date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patient {
    pub name: Option<HumanName>,
    /// FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, as written.
    pub birth_date: Option<String>,
}

/// A FHIR HumanName.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HumanName {
    pub family: Option<String>,
    pub given: Vec<String>,
    /// The name as a whole text, when the issuer gave one.
    pub text: Option<String>,
}

/// A FHIR Coding: a code in a code system (CVX, SNOMED CT, LOINC, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
}

/// An Immunization resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Immunization {
    /// `completed`, `entered-in-error` or `not-done`: a gate counts only `completed`.
    pub status: String,
    /// The codings of `vaccineCode`.
    pub vaccine: Vec<Coding>,
    /// `occurrenceDateTime` or `occurrenceString`, as written.
    pub occurrence: String,
    pub lot_number: Option<String>,
}

/// An Observation resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `final`, `amended`, `preliminary`, ...
    pub status: String,
    /// The codings of `code` (what was observed).
    pub code: Vec<Coding>,
    pub value: Option<ObservationValue>,
    /// The codings of every `interpretation` (e.g. `H`, `POS`, `NEG`).
    pub interpretation: Vec<Coding>,
    /// `effectiveDateTime`, `effectiveInstant` or the start of `effectivePeriod`, as written.
    pub effective: Option<String>,
}

/// An Observation's `value[x]`, for the types a result is given in.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationValue {
    Quantity(Quantity),
    /// `valueCodeableConcept`: its codings.
    Coded(Vec<Coding>),
    String(String),
    Boolean(bool),
    Integer(i64),
}

/// A FHIR Quantity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quantity {
    pub value: Option<f64>,
    /// `<`, `<=`, `>=` or `>`.
    pub comparator: Option<String>,
    pub unit: Option<String>,
    pub system: Option<String>,
    pub code: Option<String>,
}

type Object = Map<String, Value>;

/// Reads the bundle of `vc.credentialSubject.fhirBundle`.
pub(crate) fn summarize(bundle: &Value) -> Result<CardSummary, ShcError> {
    let bundle = bundle
        .as_object()
        .filter(|b| b.get("resourceType").and_then(Value::as_str) == Some("Bundle"))
        .ok_or(ShcError::BadBundle("fhirBundle is not a Bundle resource"))?;
    let entries = match bundle.get("entry") {
        None => &[][..],
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(_) => return Err(ShcError::BadBundle("Bundle.entry is not an array")),
    };
    let mut summary = CardSummary::default();
    for entry in entries {
        let entry = entry
            .as_object()
            .ok_or(ShcError::BadBundle("a Bundle.entry is not an object"))?;
        let Some(resource) = entry.get("resource") else {
            continue;
        };
        let resource = resource.as_object().ok_or(ShcError::BadBundle(
            "a Bundle.entry.resource is not an object",
        ))?;
        match resource.get("resourceType").and_then(Value::as_str) {
            Some("Patient") => {
                if summary.patient.is_some() {
                    return Err(ShcError::MultiplePatients);
                }
                summary.patient = Some(patient(resource)?);
            }
            Some("Immunization") => summary.immunizations.push(immunization(resource)?),
            Some("Observation") => summary.observations.push(observation(resource)?),
            Some(_) => {}
            None => return Err(ShcError::BadBundle("a resource has no resourceType")),
        }
    }
    Ok(summary)
}

fn patient(resource: &Object) -> Result<Patient, ShcError> {
    let names = array(resource, "name", "Patient.name is not an array")?;
    let name = names
        .first()
        .map(|name| {
            let name = name
                .as_object()
                .ok_or(ShcError::BadBundle("a Patient.name is not an object"))?;
            let given = array(name, "given", "HumanName.given is not an array")?
                .iter()
                .map(|g| g.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(ShcError::BadBundle("HumanName.given has a non-string"))?;
            Ok::<_, ShcError>(HumanName {
                family: string(name, "family", "HumanName.family is not a string")?,
                given,
                text: string(name, "text", "HumanName.text is not a string")?,
            })
        })
        .transpose()?;
    Ok(Patient {
        name,
        birth_date: string(resource, "birthDate", "Patient.birthDate is not a string")?,
    })
}

fn immunization(resource: &Object) -> Result<Immunization, ShcError> {
    let status = string(resource, "status", "Immunization.status is not a string")?
        .ok_or(ShcError::BadBundle("an Immunization has no status"))?;
    let vaccine = codeable_concept(resource.get("vaccineCode"))?
        .ok_or(ShcError::BadBundle("an Immunization has no vaccineCode"))?;
    let occurrence = match (
        string(
            resource,
            "occurrenceDateTime",
            "occurrenceDateTime is not a string",
        )?,
        string(
            resource,
            "occurrenceString",
            "occurrenceString is not a string",
        )?,
    ) {
        (Some(at), _) | (None, Some(at)) => at,
        (None, None) => return Err(ShcError::BadBundle("an Immunization has no occurrence")),
    };
    Ok(Immunization {
        status,
        vaccine,
        occurrence,
        lot_number: string(
            resource,
            "lotNumber",
            "Immunization.lotNumber is not a string",
        )?,
    })
}

fn observation(resource: &Object) -> Result<Observation, ShcError> {
    let status = string(resource, "status", "Observation.status is not a string")?
        .ok_or(ShcError::BadBundle("an Observation has no status"))?;
    let code = codeable_concept(resource.get("code"))?
        .ok_or(ShcError::BadBundle("an Observation has no code"))?;
    let mut interpretation = Vec::new();
    for concept in array(resource, "interpretation", "interpretation is not an array")? {
        interpretation.extend(codeable_concept(Some(concept))?.unwrap_or_default());
    }
    let effective = match string(
        resource,
        "effectiveDateTime",
        "effectiveDateTime is not a string",
    )? {
        Some(at) => Some(at),
        None => match string(
            resource,
            "effectiveInstant",
            "effectiveInstant is not a string",
        )? {
            Some(at) => Some(at),
            None => match resource.get("effectivePeriod") {
                None => None,
                Some(Value::Object(period)) => {
                    string(period, "start", "effectivePeriod.start is not a string")?
                }
                Some(_) => return Err(ShcError::BadBundle("effectivePeriod is not an object")),
            },
        },
    };
    Ok(Observation {
        status,
        code,
        value: observation_value(resource)?,
        interpretation,
        effective,
    })
}

fn observation_value(resource: &Object) -> Result<Option<ObservationValue>, ShcError> {
    if let Some(quantity) = resource.get("valueQuantity") {
        let q = quantity
            .as_object()
            .ok_or(ShcError::BadBundle("valueQuantity is not an object"))?;
        let value = match q.get("value") {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or(ShcError::BadBundle("Quantity.value is not a number"))?,
            ),
        };
        return Ok(Some(ObservationValue::Quantity(Quantity {
            value,
            comparator: string(q, "comparator", "Quantity.comparator is not a string")?,
            unit: string(q, "unit", "Quantity.unit is not a string")?,
            system: string(q, "system", "Quantity.system is not a string")?,
            code: string(q, "code", "Quantity.code is not a string")?,
        })));
    }
    if let Some(codings) = codeable_concept(resource.get("valueCodeableConcept"))? {
        return Ok(Some(ObservationValue::Coded(codings)));
    }
    if let Some(text) = string(resource, "valueString", "valueString is not a string")? {
        return Ok(Some(ObservationValue::String(text)));
    }
    match resource.get("valueBoolean") {
        None => {}
        Some(Value::Bool(b)) => return Ok(Some(ObservationValue::Boolean(*b))),
        Some(_) => return Err(ShcError::BadBundle("valueBoolean is not a boolean")),
    }
    match resource.get("valueInteger") {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(|i| Some(ObservationValue::Integer(i)))
            .ok_or(ShcError::BadBundle("valueInteger is not an integer")),
    }
}

/// A CodeableConcept's codings; `None` when the member is absent.
fn codeable_concept(value: Option<&Value>) -> Result<Option<Vec<Coding>>, ShcError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let concept = value
        .as_object()
        .ok_or(ShcError::BadBundle("a CodeableConcept is not an object"))?;
    array(concept, "coding", "CodeableConcept.coding is not an array")?
        .iter()
        .map(|coding| {
            let coding = coding
                .as_object()
                .ok_or(ShcError::BadBundle("a Coding is not an object"))?;
            Ok(Coding {
                system: string(coding, "system", "Coding.system is not a string")?,
                code: string(coding, "code", "Coding.code is not a string")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// An optional string member; present with another type is an error.
fn string(object: &Object, name: &str, wrong: &'static str) -> Result<Option<String>, ShcError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ShcError::BadBundle(wrong)),
    }
}

/// An optional array member, empty when absent; present with another type is an error.
fn array<'a>(object: &'a Object, name: &str, wrong: &'static str) -> Result<&'a [Value], ShcError> {
    match object.get(name) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ShcError::BadBundle(wrong)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bundle(resources: Vec<Value>) -> Value {
        let entry: Vec<Value> = resources
            .into_iter()
            .enumerate()
            .map(|(i, r)| json!({"fullUrl": format!("resource:{i}"), "resource": r}))
            .collect();
        json!({"resourceType": "Bundle", "type": "collection", "entry": entry})
    }

    #[test]
    fn reads_patient_immunization_and_observation() {
        let b = bundle(vec![
            json!({"resourceType": "Patient", "name": [{"family": "Doe", "given": ["Ann", "B."]}, {"family": "Other"}], "birthDate": "1970-02"}),
            json!({"resourceType": "Immunization", "status": "completed",
                   "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]},
                   "occurrenceDateTime": "2021-01-01", "lotNumber": "L1"}),
            json!({"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "94558-4"}]},
                   "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]},
                   "interpretation": [{"coding": [{"code": "N"}]}],
                   "effectivePeriod": {"start": "2021-02-17T10:00:00Z"}}),
            json!({"resourceType": "Specimen", "anything": [1, 2]}),
        ]);
        let s = summarize(&b).unwrap();
        let patient = s.patient.unwrap();
        let name = patient.name.unwrap();
        assert_eq!(name.family.as_deref(), Some("Doe"));
        assert_eq!(name.given, ["Ann", "B."]);
        assert_eq!(patient.birth_date.as_deref(), Some("1970-02"));
        assert_eq!(s.immunizations.len(), 1);
        assert_eq!(s.immunizations[0].vaccine[0].code.as_deref(), Some("207"));
        assert_eq!(s.immunizations[0].lot_number.as_deref(), Some("L1"));
        let obs = &s.observations[0];
        assert_eq!(obs.code[0].code.as_deref(), Some("94558-4"));
        assert_eq!(
            obs.value,
            Some(ObservationValue::Coded(vec![Coding {
                system: Some("http://snomed.info/sct".into()),
                code: Some("260385009".into())
            }]))
        );
        assert_eq!(obs.interpretation[0].code.as_deref(), Some("N"));
        assert_eq!(obs.effective.as_deref(), Some("2021-02-17T10:00:00Z"));
    }

    #[test]
    fn observation_value_types() {
        let obs = |value: Value| {
            let mut o =
                json!({"resourceType": "Observation", "status": "final", "code": {"coding": []}});
            if let (Some(o), Some(v)) = (o.as_object_mut(), value.as_object()) {
                o.extend(v.clone());
            }
            summarize(&bundle(vec![o])).map(|s| s.observations[0].value.clone())
        };
        assert_eq!(
            obs(json!({"valueQuantity": {"value": 1.5, "comparator": "<", "unit": "/uL"}}))
                .unwrap(),
            Some(ObservationValue::Quantity(Quantity {
                value: Some(1.5),
                comparator: Some("<".into()),
                unit: Some("/uL".into()),
                ..Quantity::default()
            }))
        );
        assert_eq!(
            obs(json!({"valueString": "x"})).unwrap(),
            Some(ObservationValue::String("x".into()))
        );
        assert_eq!(
            obs(json!({"valueBoolean": true})).unwrap(),
            Some(ObservationValue::Boolean(true))
        );
        assert_eq!(
            obs(json!({"valueInteger": 3})).unwrap(),
            Some(ObservationValue::Integer(3))
        );
        assert_eq!(obs(json!({})).unwrap(), None);
        assert_eq!(
            obs(json!({"valueQuantity": {"value": "1"}}))
                .unwrap_err()
                .code(),
            "fhir_bundle"
        );
        assert_eq!(
            obs(json!({"valueInteger": 1.5})).unwrap_err().code(),
            "fhir_bundle"
        );
    }

    #[test]
    fn refuses_what_a_gate_cannot_read() {
        let imm = |extra: Value| {
            let mut r = json!({"resourceType": "Immunization", "status": "completed",
                               "vaccineCode": {"coding": [{"code": "207"}]}, "occurrenceString": "spring 2021"});
            if let (Some(r), Some(e)) = (r.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    if v.is_null() {
                        r.remove(k);
                    } else {
                        r.insert(k.clone(), v.clone());
                    }
                }
            }
            summarize(&bundle(vec![r]))
        };
        assert_eq!(
            imm(json!({})).unwrap().immunizations[0].occurrence,
            "spring 2021"
        );
        for extra in [
            json!({"status": null}),
            json!({"vaccineCode": null}),
            json!({"occurrenceString": null}),
            json!({"lotNumber": 7}),
            json!({"vaccineCode": {"coding": {}}}),
        ] {
            assert_eq!(
                imm(extra.clone()).unwrap_err().code(),
                "fhir_bundle",
                "{extra}"
            );
        }
        let two = bundle(vec![
            json!({"resourceType": "Patient"}),
            json!({"resourceType": "Patient"}),
        ]);
        assert_eq!(summarize(&two).unwrap_err(), ShcError::MultiplePatients);
        assert_eq!(
            summarize(&json!({"resourceType": "Parameters"}))
                .unwrap_err()
                .code(),
            "fhir_bundle"
        );
        assert_eq!(
            summarize(&bundle(vec![json!({"no": "type"})]))
                .unwrap_err()
                .code(),
            "fhir_bundle"
        );
        assert_eq!(
            summarize(&json!({"resourceType": "Bundle"})).unwrap(),
            CardSummary::default()
        );
    }
}
