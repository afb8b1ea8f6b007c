//! What the ingest test files share: the clock, a valid resident ID, and ways to look at rows.
// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use healthcode_domain::{TestKind, TestOutcome, VaccinationKind};
use healthcode_ingest::{Position, Record, RecordBody, RowError};

/// A resident ID number with a correct GB 11643 check character.
pub const ID: &str = "11010519491231002X";

/// The reading time of every test: 2026-05-02 08:00 in Beijing.
pub fn now() -> DateTime<Utc> {
    utc(2026, 5, 2, 0, 0)
}

pub fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid")
}

/// The accepted records, and the position and code of every refused row.
pub fn split(
    rows: impl Iterator<Item = Result<Record, RowError>>,
) -> (Vec<Record>, Vec<(Position, &'static str)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for row in rows {
        match row {
            Ok(record) => ok.push(record),
            Err(e) => bad.push((e.at, e.code)),
        }
    }
    (ok, bad)
}

pub fn test(record: &Record) -> (TestKind, TestOutcome, DateTime<Utc>, DateTime<Utc>) {
    match &record.body {
        RecordBody::Test {
            kind,
            outcome,
            sampled_at,
            resulted_at,
        } => (*kind, *outcome, *sampled_at, *resulted_at),
        other => panic!("not a test result: {other:?}"),
    }
}

pub fn vaccination(record: &Record) -> (VaccinationKind, DateTime<Utc>) {
    match &record.body {
        RecordBody::Vaccination { kind, at } => (kind.clone(), *at),
        other => panic!("not a vaccination: {other:?}"),
    }
}

pub fn dose(number: u8, product: &str) -> VaccinationKind {
    VaccinationKind::Dose {
        number,
        product: product.to_owned(),
    }
}

/// The code blocks of docs/IMPORT.md whose fence names `lang`, in order: the examples users
/// copy are the ones the tests read.
pub fn doc_examples(lang: &str) -> Vec<String> {
    let doc = include_str!("../../../../docs/IMPORT.md");
    let fence = format!("```{lang}\n");
    doc.split(fence.as_str())
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().to_owned())
        .collect()
}
