//! Finding the shared test data, and reading its clocks; used by every test that reads it.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime, Utc};

/// The test data folder (`HEALTHCODE_TESTDATA`, by default `../shared/testdata` beside the
/// repository), or `None` after saying it is missing. With `CI` set a missing folder fails
/// the test instead of skipping it.
pub fn testdata_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HEALTHCODE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/testdata"
            ))
        });
    if dir.join("eu-dcc").is_dir() {
        return Some(dir);
    }
    let message = format!(
        "EU DCC test data not found at {} (set HEALTHCODE_TESTDATA to the testdata folder)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    None
}

/// Parses the data's validation clocks: RFC 3339, offsets without a colon (`+0000`), and
/// times without any offset, which the data's authors meant as UTC.
pub fn parse_clock(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}
