//! FHIR R4 input as providers send it, good and broken (docs/IMPORT.md, "FHIR R4"): the
//! documented examples, every per-entry code, Patient references, NDJSON, and Bundles that
//! stream (far larger than memory would hold, cut off, abandoned halfway).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono_tz::Asia::Shanghai;
use common::{Flood, ID, doc_examples, dose, now, split, test, utc, vaccination};
use healthcode_domain::{TestKind, TestOutcome, VaccinationKind};
use healthcode_ingest::Position::{Entry, Line};
use healthcode_ingest::{
    Category, FileError, Format, MAX_RECORD_BYTES, Position, Record, Records, RowError, open,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn open_bytes(category: Category, bytes: Vec<u8>) -> Result<Records, FileError> {
    open(category, Cursor::new(bytes), Shanghai, now())
}

fn read(category: Category, bytes: Vec<u8>) -> (Vec<Record>, Vec<(Position, &'static str)>) {
    split(open_bytes(category, bytes).expect("a FHIR file"))
}

/// A Bundle of `entries` (each `{"resource": …}` or a whole entry with `fullUrl`). Written
/// by hand because serde_json sorts keys, and `resourceType` comes first, as servers write it.
fn bundle(entries: Vec<Value>) -> Vec<u8> {
    let entries = serde_json::to_string(&entries).unwrap();
    format!(r#"{{"resourceType": "Bundle", "type": "batch", "entry": {entries}}}"#).into_bytes()
}

fn entry(resource: Value) -> Value {
    json!({ "resource": resource })
}

fn patient(full_url: &str, id: &str, number: &str) -> Value {
    json!({
        "fullUrl": full_url,
        "resource": {
            "resourceType": "Patient",
            "id": id,
            "identifier": [
                {"system": "urn:other:mrn", "value": "MRN-1"},
                {"system": "urn:healthcode:document:resident_id", "value": number}
            ]
        }
    })
}

fn coding(system: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code }] })
}

fn by_identifier(kind: &str, number: &str) -> Value {
    json!({ "identifier": { "system": format!("urn:healthcode:document:{kind}"), "value": number } })
}

/// A valid Observation (a negative PCR of the resident ID's holder); `change` edits it.
fn observation(record_id: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "identifier": [{ "value": record_id }],
        "status": "final",
        "code": coding("http://loinc.org", "94500-6"),
        "subject": by_identifier("resident_id", ID),
        "effectiveDateTime": "2026-05-01T08:00:00+08:00",
        "issued": "2026-05-01T20:00:00+08:00",
        "valueCodeableConcept": coding("http://snomed.info/sct", "260385009")
    });
    change(&mut o);
    entry(o)
}

/// A valid Immunization (a first dose of CoronaVac); `change` edits it.
fn immunization(record_id: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut i = json!({
        "resourceType": "Immunization",
        "identifier": [{ "value": record_id }],
        "status": "completed",
        "vaccineCode": coding("http://hl7.org/fhir/sid/cvx", "511"),
        "patient": by_identifier("resident_id", ID),
        "occurrenceDateTime": "2021-04-10T09:00:00+08:00",
        "protocolApplied": [{ "doseNumberPositiveInt": 1 }]
    });
    change(&mut i);
    entry(i)
}

fn ids(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.record_id.as_str()).collect()
}

#[test]
fn records_are_send() {
    fn send<T: Send>() {}
    send::<Records>();
}

/// The example Bundles of docs/IMPORT.md (its other JSON blocks are API answers), in order.
fn documented_bundles() -> Vec<String> {
    doc_examples("json")
        .into_iter()
        .filter(|b| b.contains("\"Bundle\""))
        .collect()
}

#[test]
fn the_documented_test_result_bundle() {
    let example = documented_bundles()[0].clone().into_bytes();
    let rows = open_bytes(Category::Tests, example).expect("a Bundle");
    assert_eq!(
        (rows.format, rows.encoding, rows.ignored_columns.len()),
        (Format::FhirBundle, None, 0)
    );
    let (ok, bad) = split(rows);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        ok.iter()
            .map(|r| (r.at, r.record_id.as_str(), r.document.expose(), test(r)))
            .collect::<Vec<_>>(),
        vec![
            (
                Entry(1),
                "LAB1-2026-000123",
                ID,
                (
                    TestKind::Pcr,
                    TestOutcome::Negative,
                    utc(2026, 5, 1, 0, 30),
                    utc(2026, 5, 1, 12, 10)
                )
            ),
            (
                Entry(2),
                "LAB1-2026-000124",
                "E12345678",
                (
                    TestKind::Antigen,
                    TestOutcome::Positive,
                    utc(2026, 5, 1, 0, 40),
                    utc(2026, 5, 1, 1, 5)
                )
            ),
        ]
    );
}

#[test]
fn the_documented_vaccination_bundle() {
    let example = documented_bundles()[1].clone().into_bytes();
    let (ok, bad) = read(Category::Vaccinations, example);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        ok.iter()
            .map(|r| (
                r.at,
                r.record_id.as_str(),
                r.document.expose(),
                vaccination(r)
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                Entry(1),
                "V-2021-0001",
                ID,
                (dose(1, "sinovac-coronavac"), utc(2021, 4, 10, 1, 0))
            ),
            (
                Entry(2),
                "V-2021-0002",
                ID,
                (dose(2, "sinovac-coronavac"), utc(2021, 5, 8, 1, 30))
            ),
            (
                Entry(3),
                "V-2021-0003",
                ID,
                (VaccinationKind::Contraindication, utc(2022, 1, 15, 2, 0))
            ),
            // Without an offset, Beijing time.
            (
                Entry(4),
                "V-2021-0004",
                "E12345678",
                (dose(3, "zifivax-zf2001"), utc(2021, 6, 1, 2, 0))
            ),
        ]
    );
}

#[test]
fn the_documented_ndjson() {
    let example = doc_examples("ndjson")[0].clone().into_bytes();
    let rows = open_bytes(Category::Tests, example).expect("NDJSON");
    assert_eq!(rows.format, Format::FhirNdjson);
    let (ok, bad) = split(rows);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok.len(), 1);
    assert_eq!((ok[0].at, ok[0].document.expose()), (Line(2), ID));
    assert_eq!(test(&ok[0]).1, TestOutcome::Negative);
}

#[test]
fn every_broken_observation_is_named_and_the_good_ones_still_come_through() {
    let set = |field: &'static str, value: Value| move |o: &mut Value| o[field] = value;
    let drop = |field: &'static str| {
        move |o: &mut Value| {
            o.as_object_mut().unwrap().remove(field);
        }
    };
    let entries = vec![
        observation("T-0", |_| {}),
        observation("T-1", set("status", json!("preliminary"))),
        observation("T-2", drop("status")),
        observation("T-3", set("code", coding("http://loinc.org", "2160-0"))),
        observation("T-4", set("code", coding("urn:lab", "94500-6"))),
        observation(
            "T-5",
            set(
                "valueCodeableConcept",
                coding("http://snomed.info/sct", "1"),
            ),
        ),
        observation("T-6", set("effectiveDateTime", json!("2026-05-01"))),
        observation("T-7", drop("issued")),
        observation("T-8", set("issued", json!("2026-05-01T07:00:00+08:00"))),
        observation("T-9", set("issued", json!("2026-05-03T07:00:00+08:00"))),
        observation("T-10", drop("subject")),
        observation("T-11", set("subject", json!({}))),
        observation(
            "T-12",
            set("subject", json!({"reference": "urn:uuid:nobody"})),
        ),
        observation("T-13", set("subject", by_identifier("library_card", ID))),
        observation(
            "T-14",
            set(
                "subject",
                by_identifier("resident_id", "110105194912310021"),
            ),
        ),
        observation("T-15", set("identifier", json!([]))),
        observation("T-16", set("identifier", json!([{"value": "T/16"}]))),
        observation("T-17", set("status", json!(5))),
        immunization("V-18", |_| {}),
        entry(json!({"resourceType": "Encounter", "status": 5})),
        entry(json!({"status": "final"})),
        json!({"fullUrl": "urn:uuid:no-resource"}),
        json!(5),
        observation("T-23", set("status", json!("corrected"))),
    ];
    let (ok, bad) = read(Category::Tests, bundle(entries));
    assert_eq!(ids(&ok), vec!["T-0", "T-23"]);
    assert_eq!(
        bad,
        vec![
            (Entry(1), "status_not_final"),
            (Entry(2), "status_not_final"),
            (Entry(3), "code_unknown"),
            (Entry(4), "code_unknown"),
            (Entry(5), "result_unknown"),
            (Entry(6), "time_invalid"),
            (Entry(7), "time_invalid"),
            (Entry(8), "result_before_sample"),
            (Entry(9), "time_in_future"),
            (Entry(10), "subject_missing"),
            (Entry(11), "subject_missing"),
            (Entry(12), "subject_unknown"),
            (Entry(13), "document_type_unknown"),
            (Entry(14), "document_number_check_digit"),
            (Entry(15), "record_id_invalid"),
            (Entry(16), "record_id_invalid"),
            (Entry(17), "resource_invalid"),
            (Entry(18), "resource_type_unexpected"),
            (Entry(19), "resource_type_unexpected"),
            (Entry(20), "resource_invalid"),
            (Entry(21), "resource_invalid"),
            (Entry(22), "resource_invalid"),
        ]
    );
}

#[test]
fn every_broken_immunization_is_named_and_the_good_ones_still_come_through() {
    let set = |field: &'static str, value: Value| move |i: &mut Value| i[field] = value;
    let medprec = || {
        coding(
            "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "MEDPREC",
        )
    };
    let entries = vec![
        immunization("V-0", |_| {}),
        immunization("V-1", set("status", json!("entered-in-error"))),
        immunization("V-2", set("status", json!("not-done"))),
        immunization("V-3", |i| {
            i["status"] = json!("not-done");
            i["statusReason"] = coding("urn:other", "MEDPREC");
        }),
        immunization(
            "V-4",
            set("vaccineCode", coding("http://hl7.org/fhir/sid/cvx", "999")),
        ),
        immunization(
            "V-5",
            set("vaccineCode", coding("urn:healthcode:vaccine", "")),
        ),
        immunization("V-6", set("protocolApplied", json!([]))),
        immunization(
            "V-7",
            set("protocolApplied", json!([{"doseNumberPositiveInt": 10}])),
        ),
        immunization(
            "V-8",
            set("protocolApplied", json!([{"doseNumberString": "1"}])),
        ),
        immunization(
            "V-9",
            set("occurrenceDateTime", json!("2026-05-03T09:00:00+08:00")),
        ),
        immunization("V-10", set("occurrenceDateTime", json!("2021-04"))),
        observation("T-11", |_| {}),
        // A contraindication needs neither a vaccine code nor a dose number.
        immunization("V-12", |i| {
            i["status"] = json!("not-done");
            i["statusReason"] = medprec();
            i["vaccineCode"] = json!({});
            i["protocolApplied"] = json!([]);
        }),
        immunization(
            "V-13",
            set(
                "vaccineCode",
                coding("urn:healthcode:vaccine", "cansino-ad5"),
            ),
        ),
    ];
    let (ok, bad) = read(Category::Vaccinations, bundle(entries));
    assert_eq!(ids(&ok), vec!["V-0", "V-12", "V-13"]);
    assert_eq!(vaccination(&ok[1]).0, VaccinationKind::Contraindication);
    assert_eq!(vaccination(&ok[2]).0, dose(1, "cansino-ad5"));
    assert_eq!(
        bad,
        vec![
            (Entry(1), "status_not_completed"),
            (Entry(2), "status_not_completed"),
            (Entry(3), "status_not_completed"),
            (Entry(4), "vaccine_code_unknown"),
            (Entry(5), "vaccine_code_unknown"),
            (Entry(6), "dose_number_invalid"),
            (Entry(7), "dose_number_invalid"),
            (Entry(8), "dose_number_invalid"),
            (Entry(9), "time_in_future"),
            (Entry(10), "time_invalid"),
            (Entry(11), "resource_type_unexpected"),
        ]
    );
}

#[test]
fn references_name_patients_that_come_before_them() {
    let reference = |r: &'static str| move |o: &mut Value| o["subject"] = json!({ "reference": r });
    let entries = vec![
        observation("T-0", reference("urn:uuid:p1")),
        patient("urn:uuid:p1", "p1", ID),
        observation("T-2", reference("urn:uuid:p1")),
        observation("T-3", reference("Patient/p1")),
        observation("T-4", reference("Patient/p2")),
        // A Patient whose document is wrong refuses the records that refer to it.
        patient("urn:uuid:p2", "p2", "110105194912310021"),
        observation("T-6", reference("Patient/p2")),
        json!({"fullUrl": "urn:uuid:p3", "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:other:mrn", "value": "1"}]}}),
        observation("T-8", reference("urn:uuid:p3")),
        json!({"fullUrl": "urn:uuid:p4", "resource": {"resourceType": "Patient", "identifier": 5}}),
        observation("T-10", reference("urn:uuid:p4")),
    ];
    let (ok, bad) = read(Category::Tests, bundle(entries));
    assert_eq!(ids(&ok), vec!["T-2", "T-3"]);
    assert!(ok.iter().all(|r| r.document.expose() == ID));
    assert_eq!(
        bad,
        vec![
            (Entry(0), "subject_unknown"),
            (Entry(4), "subject_unknown"),
            (Entry(6), "document_number_check_digit"),
            (Entry(8), "document_type_unknown"),
            (Entry(10), "resource_invalid"),
        ]
    );
}

#[test]
fn ndjson_lines_stand_alone() {
    let line = |v: Value| serde_json::to_string(&v["resource"]).unwrap();
    let text = [
        line(patient("urn:uuid:p1", "p1", ID)),
        String::new(),
        line(observation("T-3", |o| {
            o["subject"] = json!({"reference": "Patient/p1"})
        })),
        "{\"resourceType\": \"Observation\", \"status\": ".to_owned(),
        "5".to_owned(),
        line(observation("T-6", |_| {})),
        format!(
            "{} {}",
            line(observation("T-7", |_| {})),
            line(observation("T-7b", |_| {}))
        ),
        line(observation("T-8", |o| o["status"] = json!("cancelled"))),
        format!("{}\r", line(observation("T-9", |_| {}))),
    ]
    .join("\n");
    let (ok, bad) = read(Category::Tests, text.into_bytes());
    assert_eq!(ids(&ok), vec!["T-3", "T-6", "T-9"]);
    assert_eq!(ok[0].at, Line(3));
    assert_eq!(
        bad,
        vec![
            (Line(4), "json_syntax"),
            (Line(5), "resource_invalid"),
            (Line(7), "json_syntax"),
            (Line(8), "status_not_final"),
        ]
    );
}

#[test]
fn a_cut_off_bundle_yields_the_entries_before_the_cut() {
    let entries = (0..5)
        .map(|i| observation(&format!("T-{i}"), |_| {}))
        .collect();
    let mut bytes = bundle(entries);
    let fourth = String::from_utf8_lossy(&bytes).find("T-3").unwrap();
    bytes.truncate(fourth + 2);
    let (ok, bad) = read(Category::Tests, bytes);
    assert_eq!(ids(&ok), vec!["T-0", "T-1", "T-2"]);
    assert_eq!(bad, vec![(Entry(3), "json_syntax")]);
}

#[test]
fn bundles_without_entries_or_with_a_broken_shape() {
    let read_text = |text: &str| read(Category::Tests, text.as_bytes().to_vec());
    assert_eq!(
        read_text(r#"{"resourceType": "Bundle", "type": "batch"}"#).1,
        vec![]
    );
    assert_eq!(
        read_text(r#"{"resourceType": "Bundle", "entry": []}"#).1,
        vec![]
    );
    assert_eq!(
        read_text(r#"{"resourceType": "Bundle", "entry": 5}"#).1,
        vec![(Entry(0), "resource_invalid")]
    );
    assert_eq!(
        read_text(r#"{"resourceType": "Bundle", "entry": []} {"#).1,
        vec![(Entry(0), "json_syntax")]
    );
    // A byte-order mark and white space before the JSON are allowed.
    let (ok, bad) = read(
        Category::Tests,
        [
            b"\xEF\xBB\xBF \r\n".as_slice(),
            &bundle(vec![observation("T-0", |_| {})]),
        ]
        .concat(),
    );
    assert_eq!((ok.len(), bad), (1, vec![]));
}

#[test]
fn json_that_is_not_fhir_refuses_the_file() {
    for text in [r#"{"name": "results"}"#, "{", r#"{"resourceType": 5}"#] {
        let err = open_bytes(Category::Tests, text.as_bytes().to_vec()).err();
        assert!(
            matches!(&err, Some(e @ FileError::NotFhir(_)) if e.code() == "json_not_fhir"),
            "{text}: {err:?}"
        );
    }
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let nested = deep(100_000);
    let entries = [
        format!(r#"{{"resource":{{"resourceType":"Observation","note":{nested}}}}}"#),
        format!(r#"{{"resource":{{"resourceType":"Observation","code":{{"coding":{nested}}}}}}}"#),
        format!(r#"{{"extension":{nested}}}"#),
    ];
    for entry in entries {
        let text = format!(r#"{{"resourceType":"Bundle","entry":[{entry}]}}"#);
        let (ok, bad) = read(Category::Tests, text.into_bytes());
        assert_eq!((ok.len(), bad.len()), (0, 1));
    }
    let ndjson = format!(
        r#"{{"resourceType":"Observation","code":{}}}"#,
        deep(100_000)
    );
    let (ok, bad) = read(Category::Tests, ndjson.into_bytes());
    assert_eq!((ok.len(), bad.len()), (0, 1));
}

/// Bytes the reader may pull beyond one record's cap: the 64 KiB read to recognise the format,
/// and a buffer.
const SLACK: u64 = 128 << 10;

#[test]
fn an_ndjson_line_that_never_ends_stops_at_the_record_cap() {
    let line = |id: &str| serde_json::to_string(&observation(id, |_| {})["resource"]).unwrap();
    let head = format!(
        "{}\n{}\n{{\"resourceType\":\"Observation\",\"note\":\"",
        line("T-1"),
        line("T-2")
    );
    let tail = format!("\"}}\n{}\n", line("T-4"));
    let (input, pulled) = Flood::new(head.as_bytes(), b'x', 64 << 20, tail.as_bytes());
    let rows = open(Category::Tests, input, Shanghai, now()).expect("NDJSON");
    assert_eq!(rows.format, Format::FhirNdjson);
    let (ok, bad) = split(rows);
    assert_eq!(ids(&ok), vec!["T-1", "T-2"]);
    assert_eq!(bad, vec![(Line(3), "record_too_large")]);
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(pulled < MAX_RECORD_BYTES + SLACK, "{pulled}");
}

#[test]
fn a_bundle_entry_past_the_record_cap_stops_the_bundle() {
    let entries = serde_json::to_string(&vec![
        observation("T-0", |_| {}),
        observation("T-1", |_| {}),
    ])
    .unwrap();
    let head = format!(
        r#"{{"resourceType": "Bundle", "type": "batch", "entry": {},{{"resource":{{"resourceType":"Observation","note":""#,
        entries.trim_end_matches(']')
    );
    let (input, pulled) = Flood::new(head.as_bytes(), b'x', 64 << 20, br#""}}]}"#);
    let rows = open(Category::Tests, input, Shanghai, now()).expect("a Bundle");
    assert_eq!(rows.format, Format::FhirBundle);
    let (ok, bad) = split(rows);
    assert_eq!(ids(&ok), vec!["T-0", "T-1"]);
    assert_eq!(bad, vec![(Entry(2), "record_too_large")]);
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(pulled < MAX_RECORD_BYTES + SLACK, "{pulled}");

    // An entry of 900 KiB, and a Bundle far larger than the cap, are read whole.
    let note = "n".repeat(900 << 10);
    let mut entries = vec![observation("T-0", |o| {
        o["note"] = json!([{ "text": note }])
    })];
    entries.extend((1..5_000).map(|i| observation(&format!("T-{i}"), |_| {})));
    let bytes = bundle(entries);
    assert!(bytes.len() as u64 > 2 * MAX_RECORD_BYTES);
    let (ok, bad) = read(Category::Tests, bytes);
    assert_eq!((ok.len(), bad), (5_000, vec![]));
}

/// The refused rows of a file, with their messages.
fn errors(category: Category, bytes: Vec<u8>) -> Vec<RowError> {
    open_bytes(category, bytes)
        .expect("a FHIR file")
        .filter_map(Result::err)
        .collect()
}

#[test]
fn references_longer_than_256_bytes_are_refused() {
    let long = format!("urn:uuid:{}", "p".repeat(300));
    let fits = format!("urn:uuid:{}", "q".repeat(256 - 9));
    let entries = vec![
        patient(&long, "p1", ID),
        observation("T-1", |o| o["subject"] = json!({ "reference": long })),
        json!({"fullUrl": "urn:uuid:p2", "resource": {"resourceType": "Patient", "id": "i".repeat(300)}}),
        observation("T-3", |o| {
            o["subject"] = json!({ "reference": "urn:uuid:p2" })
        }),
        patient(&fits, "p4", ID),
        observation("T-5", |o| o["subject"] = json!({ "reference": fits })),
        observation("T-6", |o| {
            o["subject"] = json!({ "reference": "Patient/p1" })
        }),
    ];
    let rows = errors(Category::Tests, bundle(entries));
    let codes: Vec<_> = rows.iter().map(|e| (e.at, e.code)).collect();
    assert_eq!(
        codes,
        vec![
            (Entry(0), "reference_too_long"),
            (Entry(1), "reference_too_long"),
            (Entry(2), "reference_too_long"),
            (Entry(3), "subject_unknown"),
            (Entry(6), "subject_unknown"),
        ]
    );
    for e in &rows {
        assert!(e.message.chars().count() < 250, "{e}");
    }
}

#[test]
fn messages_repeat_at_most_100_characters_of_a_value() {
    let huge = "z".repeat(100_000);
    let entries = vec![
        entry(json!({ "resourceType": huge })),
        observation("T-1", |o| o["status"] = json!({ "a": 1 })),
        observation("T-2", |o| o["subject"] = json!(huge)),
        observation("T-3", |o| {
            o["subject"] = json!({ "reference": format!("urn:uuid:{}", "r".repeat(200)) })
        }),
    ];
    let rows = errors(Category::Tests, bundle(entries));
    let codes: Vec<_> = rows.iter().map(|e| (e.at, e.code)).collect();
    assert_eq!(
        codes,
        vec![
            (Entry(0), "resource_type_unexpected"),
            (Entry(1), "resource_invalid"),
            (Entry(2), "resource_invalid"),
            (Entry(3), "subject_unknown"),
        ]
    );
    for e in &rows {
        assert!(e.message.chars().count() < 300, "{e}");
    }
    assert!(rows[0].message.ends_with(&format!("{}…", "z".repeat(100))));
    // The position serde_json gives is kept after the shortened description.
    assert!(rows[2].message.contains("…"), "{}", rows[2].message);
    assert!(
        rows[2].message.contains(" at line 1 column "),
        "{}",
        rows[2].message
    );

    let ndjson = format!(
        "{{\"resourceType\":\"Observation\",\"subject\":\"{huge}\"}}\n{{\"resourceType\":\"{huge}\"}}\n"
    );
    let rows = errors(Category::Vaccinations, ndjson.into_bytes());
    assert_eq!(rows.len(), 2);
    for e in &rows {
        assert!(e.message.chars().count() < 300, "{e}");
    }
}

/// A Bundle of `total` Observations, made as it is read and never held whole.
struct GeneratedBundle {
    total: u64,
    made: Arc<AtomicU64>,
    dropped: Arc<AtomicBool>,
    chunk: Vec<u8>,
    pos: usize,
    next: u64,
    finished: bool,
}

impl GeneratedBundle {
    fn new(total: u64) -> (GeneratedBundle, Arc<AtomicU64>, Arc<AtomicBool>) {
        let made = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicBool::new(false));
        let bundle = GeneratedBundle {
            total,
            made: made.clone(),
            dropped: dropped.clone(),
            chunk: br#"{"resourceType":"Bundle","type":"batch","entry":["#.to_vec(),
            pos: 0,
            next: 0,
            finished: false,
        };
        (bundle, made, dropped)
    }

    fn refill(&mut self) {
        self.pos = 0;
        self.chunk.clear();
        if self.next == self.total {
            self.chunk.extend_from_slice(b"]}");
            self.finished = true;
            return;
        }
        let i = self.next;
        self.next += 1;
        self.made.store(self.next, Ordering::SeqCst);
        let comma = if i == 0 { "" } else { "," };
        self.chunk.extend_from_slice(format!(
            r#"{comma}{{"resource":{{"resourceType":"Observation","id":"T-{i}","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"94500-6"}}]}},"subject":{{"identifier":{{"system":"urn:healthcode:document:resident_id","value":"{ID}"}}}},"effectiveDateTime":"2026-05-01T08:00:00+08:00","issued":"2026-05-01T20:00:00+08:00","valueCodeableConcept":{{"coding":[{{"system":"http://snomed.info/sct","code":"260385009"}}]}}}}}}"#
        ).as_bytes());
    }
}

impl Read for GeneratedBundle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.chunk.len() {
            if self.finished {
                return Ok(0);
            }
            self.refill();
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for GeneratedBundle {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_bundle_of_100k_entries_streams() {
    const TOTAL: u64 = 100_000;
    let (input, made, _) = GeneratedBundle::new(TOTAL);
    let mut rows = open(Category::Tests, input, Shanghai, now()).expect("a Bundle");
    assert_eq!(rows.format, Format::FhirBundle);
    let first = rows.next().unwrap().unwrap();
    assert_eq!(first.at, Entry(0));
    // The reader runs a bounded way ahead of the rows taken, not to the end of the file.
    assert!(made.load(Ordering::SeqCst) < 2_000, "{made:?}");
    let mut n = 1;
    for row in rows {
        let row = row.unwrap();
        assert_eq!(row.at, Entry(n));
        n += 1;
    }
    assert_eq!(n, TOTAL);
}

#[test]
fn dropping_the_rows_stops_the_reader() {
    let (input, made, dropped) = GeneratedBundle::new(10_000_000);
    let rows = open(Category::Tests, input, Shanghai, now()).expect("a Bundle");
    assert_eq!(rows.take(3).count(), 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dropped.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the reader still runs: {made:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(made.load(Ordering::SeqCst) < 10_000);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for category in [Category::Tests, Category::Vaccinations] {
            if let Ok(rows) = open_bytes(category, bytes.clone()) {
                for _ in rows.take(1000) {}
            }
        }
    }

    #[test]
    fn arbitrary_entries_never_panic(body in r#"[ -~\n]{0,300}"#) {
        for prefix in [r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"#, ""] {
            let text = format!("{prefix}{body}");
            for category in [Category::Tests, Category::Vaccinations] {
                if let Ok(rows) = open_bytes(category, text.clone().into_bytes()) {
                    for _ in rows.take(1000) {}
                }
            }
        }
    }
}
