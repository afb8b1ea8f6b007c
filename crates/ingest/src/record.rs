//! One API over every format: [`open`] looks at the start of a file, picks the reader (CSV,
//! FHIR Bundle, FHIR NDJSON) and hands back [`Records`], an iterator of [`Record`]s or
//! [`RowError`]s that does not care which format it came from.

use std::fmt;
use std::io::{Cursor, Read};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use healthcode_domain::{DocumentNumber, TestKind, TestOutcome, VaccinationKind};

use crate::error::{FileError, RowError};
use crate::text::{BOM, Encoding, SNIFF};
use crate::{fhir, read_test_results, read_vaccinations};

/// What a file holds: which kind of evidence its rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Tests,
    Vaccinations,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// One FHIR R4 `Bundle` resource.
    FhirBundle,
    /// FHIR Bulk Data NDJSON: one resource per line.
    FhirNdjson,
}

/// Where a row is, in the terms a person opening the file would use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A CSV or NDJSON line, counted from 1 (a CSV header is line 1).
    Line(u64),
    /// A Bundle entry, counted from 0 as FHIRPath does (`Bundle.entry[3]`).
    Entry(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Entry(n) => write!(f, "entry {n}"),
        }
    }
}

/// A row that passed every check the reader can make. Whether a vaccine product is in the
/// policy is the caller's check: the policy can change without the file changing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Position,
    /// The provider's own id for the record (the idempotency key).
    pub record_id: String,
    pub document: DocumentNumber,
    pub body: RecordBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    Test {
        kind: TestKind,
        outcome: TestOutcome,
        sampled_at: DateTime<Utc>,
        resulted_at: DateTime<Utc>,
    },
    Vaccination {
        kind: VaccinationKind,
        at: DateTime<Utc>,
    },
}

/// The rows of a file, whatever its format, with what was found out about it.
pub struct Records {
    rows: Box<dyn Iterator<Item = Result<Record, RowError>> + Send>,
    pub format: Format,
    /// The text encoding, for CSV (FHIR JSON is UTF-8 by definition).
    pub encoding: Option<Encoding>,
    /// CSV header names the reader does not use.
    pub ignored_columns: Vec<String>,
}

impl Iterator for Records {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("ignored_columns", &self.ignored_columns)
            .finish_non_exhaustive()
    }
}

/// Opens a file of `category` records in any supported format (docs/IMPORT.md). The format is
/// decided by the first bytes that are not white space, after an optional UTF-8 byte-order
/// mark: a JSON object whose top-level `resourceType` is `Bundle` is a FHIR Bundle, any other
/// JSON object starts FHIR NDJSON, and anything else is CSV. Times without an offset are local
/// to `tz`; records from after `now` (beyond a few minutes of clock skew) are refused.
///
/// `input` is `Send + 'static` because a Bundle is parsed on a thread of its own (see
/// `fhir::bundle`).
pub fn open<R: Read + Send + 'static>(
    category: Category,
    mut input: R,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Records, FileError> {
    let mut head = Vec::with_capacity(SNIFF);
    (&mut input)
        .take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(|e| FileError::Io(e.to_string()))?;
    let json = head.strip_prefix(BOM).unwrap_or(&head);
    if json.trim_ascii_start().starts_with(b"{") {
        let (format, rows) = fhir::open(json.to_vec(), input, category, tz, now)?;
        return Ok(Records {
            rows,
            format,
            encoding: None,
            ignored_columns: Vec::new(),
        });
    }
    let input = Cursor::new(head).chain(input);
    let csv = match category {
        Category::Tests => read_test_results(input, tz, now)?,
        Category::Vaccinations => read_vaccinations(input, tz, now)?,
    };
    Ok(Records {
        format: Format::Csv,
        encoding: Some(csv.encoding),
        ignored_columns: csv.ignored_columns.clone(),
        rows: Box::new(csv),
    })
}
