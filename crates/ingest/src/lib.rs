//! Bulk evidence formats: streaming readers that turn the files providers send into
//! validated records, or rejections that name the line and the reason.
//!
//! What this crate owns: encodings (UTF-8, GB18030), CSV dialects, column names and value
//! spellings, per-row validation against the domain's rules. What it does not own: storing the
//! records, idempotency and reports over a whole submission (the store and the server), FHIR
//! (not yet written).

pub mod error;
pub mod test_results;
pub mod text;

pub use error::{FileError, RowError};
pub use test_results::{TestResultRow, TestResults, parse_time, read_test_results};
pub use text::Encoding;
