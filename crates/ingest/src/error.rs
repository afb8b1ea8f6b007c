//! Why a file or a row was refused. A row error names where the row is (a line, or a Bundle
//! entry) and carries a stable code and a sentence a person at the provider can act on.

use std::borrow::Cow;

use healthcode_domain::{DocumentError, EvidenceError};
use thiserror::Error;

use crate::record::Position;

/// The file as a whole cannot be read: nothing in it is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileError {
    #[error("the file is empty: it needs a header line naming the columns")]
    Empty,
    #[error("{0}")]
    Header(String),
    #[error("the header is missing columns: {0} (see docs/IMPORT.md)")]
    MissingColumns(String),
    #[error("the header names column {0} twice")]
    DuplicateColumn(String),
    #[error("the file is JSON but not FHIR R4 resources: {0} (see docs/IMPORT.md)")]
    NotFhir(String),
    #[error("the file could not be read: {0}")]
    Io(String),
}

impl FileError {
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Empty => "file_empty",
            FileError::Header(_) => "header_unreadable",
            FileError::MissingColumns(_) => "header_missing_columns",
            FileError::DuplicateColumn(_) => "header_duplicate_column",
            FileError::NotFhir(_) => "json_not_fhir",
            FileError::Io(_) => "file_unreadable",
        }
    }
}

/// The most characters of a sender's value that a message repeats: enough to recognise it,
/// while the message stays a sentence however long the value is (a report keeps the messages
/// of up to 100,000 rejected rows).
const ECHO_CHARS: usize = 100;

/// `value` as a message repeats it: whole, or its first [`ECHO_CHARS`] characters and `…`.
/// Every message that quotes the input (a reference, a resource type, a parser's description)
/// goes through this.
pub(crate) fn echo(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(ECHO_CHARS) {
        None => Cow::Borrowed(value),
        Some((end, _)) => Cow::Owned(format!("{}…", &value[..end])),
    }
}

/// One row refused, with where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{at}: {message} ({code})")]
pub struct RowError {
    pub at: Position,
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    pub fn new(at: Position, code: &'static str, message: impl Into<String>) -> RowError {
        RowError {
            at,
            code,
            message: message.into(),
        }
    }
}

/// What is wrong with a row before it is known where the row is: the value checks are shared
/// by every format, and only the reader knows whether it is at a line or an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    code: &'static str,
    message: String,
}

impl Problem {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn at(self, at: Position) -> RowError {
        RowError {
            at,
            code: self.code,
            message: self.message,
        }
    }
}

/// The domain's errors keep their codes, so a rejected row reads as the API would answer.
impl From<DocumentError> for Problem {
    fn from(e: DocumentError) -> Problem {
        Problem::new(e.code(), e.to_string())
    }
}

impl From<EvidenceError> for Problem {
    fn from(e: EvidenceError) -> Problem {
        Problem::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_keeps_short_values_and_cuts_long_ones_at_a_character() {
        assert_eq!(echo("Patient/p1"), "Patient/p1");
        let exact = "a".repeat(ECHO_CHARS);
        assert_eq!(echo(&exact), exact.as_str());
        let long = "阴".repeat(ECHO_CHARS + 1);
        assert_eq!(echo(&long), format!("{}…", "阴".repeat(ECHO_CHARS)));
    }
}
