//! What every CSV format shares: a header naming the columns in English or Chinese
//! (docs/IMPORT.md), comma or tab separated, UTF-8 or GB18030, CRLF or LF, blank lines
//! skipped. Rows stream: memory does not grow with the file, and a row longer than
//! [`MAX_RECORD_BYTES`] (an unclosed quote runs to the end of the file) stops the reading
//! rather than being held whole.
//!
//! A format is a [`Layout`]: its columns and a function reading a row's body. The identity
//! columns (`record_id`, `document_type`, `document_number`) are read here, the same way for
//! every format; a file whose header is unusable is refused whole with a [`FileError`].

use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use csv::ByteRecord;

use healthcode_domain::DocumentNumber;

use crate::error::{FileError, Problem, RowError, echo};
use crate::limits::{Capped, MAX_RECORD_BYTES, RecordBytes};
use crate::record::{Position, Record, RecordBody};
use crate::text::{Encoding, Utf8Text};
use crate::values;

/// A column and the header names it accepts (compared without case or surrounding spaces).
pub(crate) struct Column {
    pub(crate) name: &'static str,
    pub(crate) aliases: &'static [&'static str],
    /// A file without a required column is refused; an optional one reads as empty.
    pub(crate) required: bool,
}

/// One CSV format. Its columns must include `record_id`, `document_type` and
/// `document_number`, which [`CsvRecords`] reads itself.
pub(crate) struct Layout {
    pub(crate) columns: &'static [Column],
    pub(crate) body: fn(&Row<'_>) -> Result<RecordBody, Problem>,
}

impl Column {
    pub(crate) const fn required(name: &'static str, aliases: &'static [&'static str]) -> Column {
        Column {
            name,
            aliases,
            required: true,
        }
    }

    pub(crate) const fn optional(name: &'static str, aliases: &'static [&'static str]) -> Column {
        Column {
            name,
            aliases,
            required: false,
        }
    }
}

pub(crate) const DOCUMENT_TYPE: Column =
    Column::required("document_type", &["document_type", "证件类型"]);
pub(crate) const DOCUMENT_NUMBER: Column =
    Column::required("document_number", &["document_number", "证件号码"]);

/// Records from a CSV stream, in the [`Layout`] it was opened with.
pub struct CsvRecords<R: Read> {
    reader: csv::Reader<Capped<Utf8Text<R>>>,
    /// How much of the row being read has been, for the cap on a row's size.
    bytes: RecordBytes,
    layout: &'static Layout,
    /// Where each of the layout's columns is in the file's rows, if it is there.
    index: Vec<Option<usize>>,
    width: usize,
    record: ByteRecord,
    tz: Tz,
    now: DateTime<Utc>,
    pub encoding: Encoding,
    /// Header names the reader does not use (extra columns are allowed and ignored).
    pub ignored_columns: Vec<String>,
    done: bool,
}

impl<R: Read> CsvRecords<R> {
    /// Decides the encoding and the delimiter, then reads the header.
    pub(crate) fn open(
        input: R,
        layout: &'static Layout,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<CsvRecords<R>, FileError> {
        let text = Utf8Text::sniff(input).map_err(|e| FileError::Io(e.to_string()))?;
        let encoding = text.encoding;
        let delimiter = text.delimiter;
        let (text, bytes) = Capped::new(text);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .from_reader(text);
        let mut header = ByteRecord::new();
        match reader.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err(FileError::Empty),
            Err(e) => {
                let e = e.to_string();
                return Err(FileError::Header(format!(
                    "the header cannot be read: {}",
                    echo(&e)
                )));
            }
        }
        bytes.start();
        let (index, ignored_columns) = map_header(&header, layout.columns)?;
        Ok(CsvRecords {
            reader,
            bytes,
            layout,
            index,
            width: header.len(),
            record: ByteRecord::new(),
            tz,
            now,
            encoding,
            ignored_columns,
            done: false,
        })
    }

    fn row(&self, at: Position) -> Result<Record, Problem> {
        if self.record.len() != self.width {
            return Err(Problem::new(
                "field_count",
                format!(
                    "the row has {} fields but the header has {} (a cut-off line or a stray delimiter?)",
                    self.record.len(),
                    self.width
                ),
            ));
        }
        let row = Row {
            record: &self.record,
            columns: self.layout.columns,
            index: &self.index,
            tz: self.tz,
            now: self.now,
        };
        let record_id = values::record_id(row.text("record_id")?)?;
        let document_type = values::document_type(row.text("document_type")?)?;
        let document = DocumentNumber::parse(document_type, row.text("document_number")?)?;
        Ok(Record {
            at,
            record_id,
            document,
            body: (self.layout.body)(&row)?,
        })
    }
}

/// Finds each of `columns` in the header: the index of each, and the names no column uses.
fn map_header(
    header: &ByteRecord,
    columns: &[Column],
) -> Result<(Vec<Option<usize>>, Vec<String>), FileError> {
    let mut index = vec![None; columns.len()];
    let mut ignored = Vec::new();
    for (i, field) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(field).trim().to_lowercase();
        match columns
            .iter()
            .position(|c| c.aliases.contains(&name.as_str()))
        {
            Some(c) if index[c].is_some() => {
                return Err(FileError::DuplicateColumn(columns[c].name.to_owned()));
            }
            Some(c) => index[c] = Some(i),
            None => ignored.push(name),
        }
    }
    let missing: Vec<&str> = columns
        .iter()
        .zip(&index)
        .filter(|(c, i)| c.required && i.is_none())
        .map(|(c, _)| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing.join(", ")));
    }
    Ok((index, ignored))
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let line = self.reader.position().line();
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {
                    self.bytes.start();
                    let line = self.record.position().map(|p| p.line()).unwrap_or(line);
                    // A blank line is not a row.
                    if self.record.len() == 1 && self.record.get(0).is_some_and(<[u8]>::is_empty) {
                        continue;
                    }
                    let at = Position::Line(line);
                    return Some(self.row(at).map_err(|p| p.at(at)));
                }
                Err(e) => {
                    // The csv reader accepts any bytes (an unclosed quote just runs to the end
                    // of the file, or to the cap), so an error is the input failing or a row
                    // too large to hold: nothing more can be read.
                    self.done = true;
                    let line = e.position().map(|p| p.line()).unwrap_or(line);
                    if self.bytes.too_large() {
                        return Some(Err(RowError::new(
                            Position::Line(line),
                            "record_too_large",
                            format!(
                                "the row starting here is longer than {} MiB (a quote that is never closed?); the file cannot be read from here on",
                                MAX_RECORD_BYTES / (1024 * 1024)
                            ),
                        )));
                    }
                    let e = e.to_string();
                    return Some(Err(RowError::new(
                        Position::Line(line),
                        "csv_syntax",
                        format!("the file cannot be read from here on: {}", echo(&e)),
                    )));
                }
            }
        }
    }
}

/// One row as a [`Layout`]'s body function sees it: fields by column name, and the zone and
/// clock the file is read with.
pub(crate) struct Row<'a> {
    record: &'a ByteRecord,
    columns: &'static [Column],
    index: &'a [Option<usize>],
    pub(crate) tz: Tz,
    pub(crate) now: DateTime<Utc>,
}

impl<'a> Row<'a> {
    /// The trimmed text of `column`; empty when an optional column is not in the file.
    pub(crate) fn text(&self, column: &str) -> Result<&'a str, Problem> {
        let bytes = self
            .columns
            .iter()
            .position(|c| c.name == column)
            .and_then(|c| self.index.get(c).copied().flatten())
            .and_then(|i| self.record.get(i))
            .unwrap_or(&[]);
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Problem::new(
                "invalid_utf8",
                format!("column {column} is not valid UTF-8 text"),
            )
        })?;
        Ok(text.trim())
    }

    pub(crate) fn time(&self, column: &str) -> Result<DateTime<Utc>, Problem> {
        values::time(self.text(column)?, column, self.tz)
    }
}
