//! Test results as CSV, the way labs send them: one row per result, a header naming the
//! columns in English or Chinese (docs/IMPORT.md), comma or tab separated, UTF-8 or GB18030,
//! CRLF or LF. Rows stream: memory does not grow with the file.
//!
//! Every row comes out as a [`TestResultRow`] or a [`RowError`] naming its line and what is
//! wrong; a file whose header is unusable is refused whole with a [`FileError`].

use std::io::Read;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use csv::ByteRecord;

use healthcode_domain::evidence::check_record_id;
use healthcode_domain::{DocumentNumber, DocumentType, TestKind, TestOutcome, TestResult};

use crate::error::{FileError, RowError};
use crate::text::{Encoding, Utf8Text};

/// A row that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResultRow {
    /// Line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub record_id: String,
    pub document: DocumentNumber,
    pub kind: TestKind,
    pub outcome: TestOutcome,
    pub sampled_at: DateTime<Utc>,
    pub resulted_at: DateTime<Utc>,
}

/// The columns, with the header names each accepts (compared without case or surrounding
/// spaces).
const COLUMNS: [(&str, &[&str]); 7] = [
    ("record_id", &["record_id", "记录编号", "样本编号"]),
    ("document_type", &["document_type", "证件类型"]),
    ("document_number", &["document_number", "证件号码"]),
    ("sampled_at", &["sampled_at", "采样时间"]),
    ("resulted_at", &["resulted_at", "报告时间", "检测时间"]),
    ("kind", &["kind", "检测类型"]),
    ("result", &["result", "检测结果"]),
];

/// Reads test results from a CSV stream.
pub struct TestResults<R: Read> {
    reader: csv::Reader<Utf8Text<R>>,
    /// Index of each of [`COLUMNS`] in the file's rows.
    index: [usize; COLUMNS.len()],
    width: usize,
    record: ByteRecord,
    tz: Tz,
    now: DateTime<Utc>,
    pub encoding: Encoding,
    /// Header names the reader does not use (extra columns are allowed and ignored).
    pub ignored_columns: Vec<String>,
    done: bool,
}

/// Opens a CSV file of test results. Times without an offset are local to `tz`; results from
/// after `now` (beyond a few minutes of clock skew) are refused.
pub fn read_test_results<R: Read>(
    input: R,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<TestResults<R>, FileError> {
    let text = Utf8Text::sniff(input).map_err(|e| FileError::Io(e.to_string()))?;
    let encoding = text.encoding;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(text.delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text);
    let mut header = ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(FileError::Empty),
        Err(e) => return Err(FileError::Header(format!("the header cannot be read: {e}"))),
    }
    let names: Vec<String> = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_lowercase())
        .collect();
    let mut index = [usize::MAX; COLUMNS.len()];
    let mut ignored_columns = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match COLUMNS
            .iter()
            .position(|(_, aliases)| aliases.contains(&name.as_str()))
        {
            Some(c) if index[c] != usize::MAX => {
                return Err(FileError::DuplicateColumn(COLUMNS[c].0.to_owned()));
            }
            Some(c) => index[c] = i,
            None => ignored_columns.push(name.clone()),
        }
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .zip(index)
        .filter(|(_, i)| *i == usize::MAX)
        .map(|((name, _), _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing.join(", ")));
    }
    Ok(TestResults {
        reader,
        index,
        width: names.len(),
        record: ByteRecord::new(),
        tz,
        now,
        encoding,
        ignored_columns,
        done: false,
    })
}

impl<R: Read> Iterator for TestResults<R> {
    type Item = Result<TestResultRow, RowError>;

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
                    let line = self.record.position().map(|p| p.line()).unwrap_or(line);
                    // A blank line is not a row.
                    if self.record.len() == 1 && self.record.get(0).is_some_and(<[u8]>::is_empty) {
                        continue;
                    }
                    return Some(self.row(line));
                }
                Err(e) => {
                    // The csv reader cannot resynchronise after a syntax error (an unclosed
                    // quote swallows the rest): report it and stop.
                    self.done = true;
                    let line = e.position().map(|p| p.line()).unwrap_or(line);
                    return Some(Err(RowError::new(
                        line,
                        "csv_syntax",
                        format!("the file cannot be read from here on: {e}"),
                    )));
                }
            }
        }
    }
}

impl<R: Read> TestResults<R> {
    fn field(&self, column: usize, line: u64) -> Result<&str, RowError> {
        let bytes = self.record.get(self.index[column]).unwrap_or(&[]);
        let text = std::str::from_utf8(bytes).map_err(|_| {
            RowError::new(
                line,
                "invalid_utf8",
                format!("column {} is not valid UTF-8 text", COLUMNS[column].0),
            )
        })?;
        Ok(text.trim())
    }

    fn row(&self, line: u64) -> Result<TestResultRow, RowError> {
        if self.record.len() != self.width {
            return Err(RowError::new(
                line,
                "field_count",
                format!(
                    "the row has {} fields but the header has {} (a cut-off line or a stray delimiter?)",
                    self.record.len(),
                    self.width
                ),
            ));
        }
        let record_id = self.field(0, line)?;
        check_record_id(record_id).map_err(|e| RowError::new(line, e.code(), e.to_string()))?;
        let document_type = document_type(self.field(1, line)?).ok_or_else(|| {
            RowError::new(
                line,
                "document_type_unknown",
                "document_type must be resident_id, passport, hk_macau_permit, taiwan_permit, foreigner_permanent_residence (or their Chinese names)",
            )
        })?;
        let document = DocumentNumber::parse(document_type, self.field(2, line)?)
            .map_err(|e| RowError::new(line, e.code(), e.to_string()))?;
        let sampled_at = self.time(3, line)?;
        let resulted_at = self.time(4, line)?;
        let kind = match self.field(5, line)?.to_lowercase().as_str() {
            "pcr" | "核酸" | "nucleic_acid" => TestKind::Pcr,
            "antigen" | "抗原" => TestKind::Antigen,
            _ => {
                return Err(RowError::new(
                    line,
                    "kind_unknown",
                    "kind must be pcr or antigen (核酸 or 抗原)",
                ));
            }
        };
        let outcome = match self.field(6, line)?.to_lowercase().as_str() {
            "negative" | "阴性" => TestOutcome::Negative,
            "positive" | "阳性" => TestOutcome::Positive,
            "invalid" | "无效" => TestOutcome::Invalid,
            _ => {
                return Err(RowError::new(
                    line,
                    "result_unknown",
                    "result must be negative, positive or invalid (阴性, 阳性 or 无效)",
                ));
            }
        };
        TestResult::check_times(sampled_at, resulted_at, self.now)
            .map_err(|e| RowError::new(line, e.code(), e.to_string()))?;
        Ok(TestResultRow {
            line,
            record_id: record_id.to_owned(),
            document,
            kind,
            outcome,
            sampled_at,
            resulted_at,
        })
    }

    fn time(&self, column: usize, line: u64) -> Result<DateTime<Utc>, RowError> {
        let raw = self.field(column, line)?;
        parse_time(raw, self.tz).ok_or_else(|| {
            RowError::new(
                line,
                "time_invalid",
                format!(
                    "{} must be a time such as 2026-05-01 08:30:00 (local) or 2026-05-01T00:30:00Z",
                    COLUMNS[column].0
                ),
            )
        })
    }
}

fn document_type(raw: &str) -> Option<DocumentType> {
    DocumentType::parse(raw).ok().or(match raw {
        "居民身份证" | "身份证" => Some(DocumentType::ResidentId),
        "护照" => Some(DocumentType::Passport),
        "港澳居民来往内地通行证" | "回乡证" => Some(DocumentType::HkMacauPermit),
        "台湾居民来往大陆通行证" | "台胞证" => Some(DocumentType::TaiwanPermit),
        "外国人永久居留身份证" => Some(DocumentType::ForeignerPermanentResidence),
        _ => None,
    })
}

/// RFC 3339 with an offset, or a local date and time in `tz` (`-` or `/` between the date's
/// parts, seconds optional). Whole seconds are kept, as the store keeps them.
pub fn parse_time(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        t.with_timezone(&Utc)
    } else {
        let normalised = raw.replace('/', "-");
        let local = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&normalised, f).ok())?;
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => return None,
        }
    };
    DateTime::from_timestamp(t.timestamp(), 0)
}
