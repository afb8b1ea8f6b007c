//! FHIR R4 input (docs/IMPORT.md, "FHIR R4"): one Bundle, read entry by entry as it streams,
//! or Bulk Data NDJSON, one resource per line. Observations become test results and
//! Immunizations vaccinations; Patients are not rows but are remembered, so that later entries
//! can refer to them.
//!
//! Both read through a [`Capped`] reader: a line or an entry longer than
//! [`crate::MAX_RECORD_BYTES`] stops the reading rather than being held whole.
//!
//! What this module does not own: the value checks (`values`, shared with CSV) and whether a
//! vaccine product is in the policy (the caller's check).

mod bundle;
mod immunization;
mod ndjson;
mod observation;
mod resources;
mod shapes;
mod sniff;

use std::io::{BufReader, Cursor, Read};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::{FileError, RowError, echo};
use crate::limits::Capped;
use crate::record::{Category, Format, Record};
use resources::Resources;
use sniff::Json;

pub(crate) type Rows = Box<dyn Iterator<Item = Result<Record, RowError>> + Send>;

/// Reads a JSON file of `category` records: `head` is its first bytes (after any byte-order
/// mark), which decide between a Bundle and NDJSON, and `rest` the bytes after them.
pub(crate) fn open<R: Read + Send + 'static>(
    head: Vec<u8>,
    rest: R,
    category: Category,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(Format, Rows), FileError> {
    let json = sniff::sniff(&head)?;
    // Under the buffer, so that serde_json's byte-at-a-time reads do not each pass through
    // the count; the count is then ahead by at most the buffer's 8 KiB.
    let (input, bytes) = Capped::new(Cursor::new(head).chain(rest));
    let input = BufReader::new(input);
    let resources = Resources::new(category, tz, now);
    Ok(match json {
        Json::Bundle => (
            Format::FhirBundle,
            Box::new(bundle::read(input, bytes, resources)?),
        ),
        Json::Resources => (
            Format::FhirNdjson,
            Box::new(ndjson::Lines::new(input, bytes, resources)),
        ),
    })
}

/// serde_json's description of `e`, for a message. Its first part can quote the input
/// (`invalid type: string "…"`), so that part goes through [`echo`]; the position is kept.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(what) => format!("{}{position}", echo(what)),
        None => echo(&text).into_owned(),
    }
}
