//! Bulk evidence formats: streaming readers that turn the files providers send into
//! validated records, or rejections that name the line (or the Bundle entry) and the reason.
//!
//! What this crate owns: recognising the format ([`open`]), encodings (UTF-8, GB18030), CSV
//! dialects, column names and value spellings, FHIR R4 Bundles and NDJSON and their mapping to
//! records, per-row validation against the domain's rules. What it does not own: storing the
//! records, idempotency and reports over a whole submission (the store and the server), and
//! whether a vaccine product is in the policy (the caller holds the policy).

mod csv_file;
pub mod error;
mod fhir;
mod limits;
pub mod record;
pub mod test_results;
pub mod text;
pub mod vaccinations;
mod values;

pub use csv_file::CsvRecords;
pub use error::{FileError, RowError};
pub use limits::MAX_RECORD_BYTES;
pub use record::{Category, Format, Position, Record, RecordBody, Records, open};
pub use test_results::read_test_results;
pub use text::Encoding;
pub use vaccinations::read_vaccinations;
pub use values::parse_time;
