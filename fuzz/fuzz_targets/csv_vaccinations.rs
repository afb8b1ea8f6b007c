//! Arbitrary bytes as a vaccination site's CSV file: the reader must name every problem and
//! never panic, whatever the encoding, delimiter, quoting or optional columns.

#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(now) = Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).single() else {
        return;
    };
    if let Ok(rows) = healthcode_ingest::read_vaccinations(data, chrono_tz::Asia::Shanghai, now) {
        for row in rows.take(10_000) {
            let _ = row;
        }
    }
});
