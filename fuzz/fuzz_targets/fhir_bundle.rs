//! Arbitrary bytes as an import file of either kind, through `healthcode_ingest::open`: the
//! format sniffing, then the FHIR Bundle and NDJSON readers (or CSV). Every row must come out
//! as a record or a named rejection; any panic, overflow or hang is a bug. A panic on the
//! Bundle's parse thread is raised again in the iterator, so the fuzzer sees it.
//!
//! Each input is tried twice: as it is, and behind the start of a Bundle's first entry, which
//! sends the fuzzer's bytes straight into entry mapping without its having to find
//! `{"resourceType":"Bundle"` first.

#![no_main]

use std::io::Cursor;

use chrono::{TimeZone, Utc};
use healthcode_ingest::{Category, open};
use libfuzzer_sys::fuzz_target;

const BUNDLE_START: &[u8] =
    br#"{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:p1","resource":{"resourceType":"#;

fuzz_target!(|data: &[u8]| {
    let Some(now) = Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).single() else {
        return;
    };
    for input in [data.to_vec(), [BUNDLE_START, data].concat()] {
        for category in [Category::Tests, Category::Vaccinations] {
            let file = Cursor::new(input.clone());
            if let Ok(rows) = open(category, file, chrono_tz::Asia::Shanghai, now) {
                for row in rows.take(10_000) {
                    let _ = row;
                }
            }
        }
    }
});
