//! What the ingest test files share: the clock, a valid resident ID, and ways to look at rows.
// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A hostile file made as it is read and never held: `head`, then `len` copies of `filler`,
/// then `tail`. It counts the bytes the reader pulls, to show where reading stopped.
pub struct Flood {
    head: Vec<u8>,
    filler: u8,
    len: u64,
    tail: Vec<u8>,
    pulled: Arc<AtomicU64>,
}

impl Flood {
    pub fn new(head: &[u8], filler: u8, len: u64, tail: &[u8]) -> (Flood, Arc<AtomicU64>) {
        let pulled = Arc::new(AtomicU64::new(0));
        let flood = Flood {
            head: head.to_vec(),
            filler,
            len,
            tail: tail.to_vec(),
            pulled: pulled.clone(),
        };
        (flood, pulled)
    }
}

impl Read for Flood {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = if !self.head.is_empty() {
            let n = buf.len().min(self.head.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            n
        } else if self.len > 0 {
            let n = buf
                .len()
                .min(usize::try_from(self.len).unwrap_or(usize::MAX));
            buf[..n].fill(self.filler);
            self.len -= n as u64;
            n
        } else {
            let n = buf.len().min(self.tail.len());
            buf[..n].copy_from_slice(&self.tail[..n]);
            self.tail.drain(..n);
            n
        };
        self.pulled.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}
