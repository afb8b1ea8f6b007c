//! The store's one error type. Database errors are carried as text: no sqlx type crosses
//! this crate's boundary.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("record {0} is not of the kind this operation applies to")]
    WrongCategory(String),
    #[error(
        "this content is revision {matched} of the record, since superseded by revision {current}"
    )]
    Superseded { matched: u32, current: u32 },
    #[error("the submission supersedes revision {expected} but the current revision is {current}")]
    RevisionMismatch { expected: u32, current: u32 },
    #[error("{message}")]
    Rejected {
        code: &'static str,
        message: &'static str,
    },
    #[error("stored data could not be decrypted: {0}")]
    Crypto(&'static str),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("key file: {0}")]
    KeyFile(String),
    #[error("the database is busy with a conflicting write; try again")]
    Contention,
    #[error("database: {0}")]
    Database(String),
}

/// Refuses text that holds U+0000, which PostgreSQL cannot store in a text column and SQLite
/// would: the same answer on both backends, whatever the caller checked before.
pub(crate) fn no_nul<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    if texts.into_iter().any(|t| t.contains('\0')) {
        return Err(StoreError::Rejected {
            code: "control_character",
            message: "a text holds U+0000",
        });
    }
    Ok(())
}

impl StoreError {
    /// The stable code of an error that refuses one record for its content (and so belongs in
    /// an import report), `None` for failures of the store itself.
    pub fn row_code(&self) -> Option<&'static str> {
        match self {
            StoreError::WrongCategory(_) => Some("record_kind_mismatch"),
            StoreError::Superseded { .. } => Some("superseded_revision"),
            StoreError::RevisionMismatch { .. } => Some("revision_mismatch"),
            StoreError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict("a row with the same key");
        }
        // PostgreSQL's deadlock and serialisation failures, SQLite's busy database: the
        // transaction lost a race and can be run again.
        if let sqlx::Error::Database(db) = &e
            && matches!(db.code().as_deref(), Some("40P01" | "40001" | "5" | "517"))
        {
            return StoreError::Contention;
        }
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration: {e}"))
    }
}
