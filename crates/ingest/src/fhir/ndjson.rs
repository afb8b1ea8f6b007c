//! FHIR Bulk Data NDJSON (<https://hl7.org/fhir/uv/bulkdata/>): one resource per line. Lines
//! are independent, so a line that is not JSON is refused alone and reading goes on.

use std::io::BufRead;

use super::resources::Resources;
use crate::error::RowError;
use crate::record::{Position, Record};

pub(super) struct Lines<R> {
    input: R,
    resources: Resources,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    pub(super) fn new(input: R, resources: Resources) -> Lines<R> {
        Lines {
            input,
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
                Err(e) => {
                    self.done = true;
                    return Some(Err(RowError::new(
                        Position::Line(self.line + 1),
                        "json_syntax",
                        format!("the file cannot be read from here on: {e}"),
                    )));
                }
            }
        }
        None
    }
}
