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
    #[error("database: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict("a row with the same key");
        }
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration: {e}"))
    }
}
