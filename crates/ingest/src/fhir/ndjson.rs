//! FHIR Bulk Data NDJSON (<https://hl7.org/fhir/uv/bulkdata/>): one resource per line. Lines
//! are independent, so a line that is not JSON is refused alone and reading goes on; a line
//! longer than [`MAX_RECORD_BYTES`] stops the reading, since its end is not known.

use std::io::BufRead;

use super::resources::Resources;
use crate::error::{RowError, echo};
use crate::limits::{MAX_RECORD_BYTES, RecordBytes};
use crate::record::{Position, Record};

pub(super) struct Lines<R> {
    input: R,
    /// How much of the line being read has been, counted by the reader under `input`.
    bytes: RecordBytes,
    resources: Resources,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    pub(super) fn new(input: R, bytes: RecordBytes, resources: Resources) -> Lines<R> {
        Lines {
            input,
            bytes,
            resources,
            line: 0,
            buf: Vec::new(),
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            self.bytes.start();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    let json = self.buf.trim_ascii();
                    // A blank line is not a row (a trailing newline, a CRLF file's last line).
                    if json.is_empty() {
                        continue;
                    }
                    let row = self
                        .resources
                        .resource(json, None, Position::Line(self.line));
                    if row.is_some() {
                        return row;
                    }
                }
                Err(_) if self.bytes.too_large() => {
                    self.done = true;
                    return Some(Err(RowError::new(
                        Position::Line(self.line + 1),
                        "record_too_large",
                        format!(
                            "the line is longer than {} MiB; the file cannot be read from here on",
                            MAX_RECORD_BYTES / (1024 * 1024)
                        ),
                    )));
                }
                Err(e) => {
                    self.done = true;
                    let e = e.to_string();
                    return Some(Err(RowError::new(
                        Position::Line(self.line + 1),
                        "json_syntax",
                        format!("the file cannot be read from here on: {}", echo(&e)),
                    )));
                }
            }
        }
        None
    }
}
