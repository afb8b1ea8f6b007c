//! Why a file or a row was refused. A row error names its line and carries a stable code and
//! a sentence a person at the lab can act on.

use thiserror::Error;

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
            FileError::Io(_) => "file_unreadable",
        }
    }
}

/// One row refused, with its line (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message} ({code})")]
pub struct RowError {
    pub line: u64,
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    pub fn new(line: u64, code: &'static str, message: impl Into<String>) -> RowError {
        RowError {
            line,
            code,
            message: message.into(),
        }
    }
}
