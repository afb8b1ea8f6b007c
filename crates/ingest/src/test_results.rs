//! Test results as CSV, the way labs send them: one row per result (docs/IMPORT.md, "Test
//! results as CSV"). The file rules are [`crate::csv_file`]'s; this module owns the columns and
//! the spellings of test kinds and results.

use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use healthcode_domain::{TestKind, TestOutcome, TestResult};

use crate::csv_file::{Column, CsvRecords, DOCUMENT_NUMBER, DOCUMENT_TYPE, Layout, Row};
use crate::error::{FileError, Problem};
use crate::record::RecordBody;

static LAYOUT: Layout = Layout {
    columns: &[
        Column::required("record_id", &["record_id", "记录编号", "样本编号"]),
        DOCUMENT_TYPE,
        DOCUMENT_NUMBER,
        Column::required("sampled_at", &["sampled_at", "采样时间"]),
        Column::required("resulted_at", &["resulted_at", "报告时间", "检测时间"]),
        Column::required("kind", &["kind", "检测类型"]),
        Column::required("result", &["result", "检测结果"]),
    ],
    body,
};

/// Opens a CSV file of test results. Times without an offset are local to `tz`; results from
/// after `now` (beyond a few minutes of clock skew) are refused. This is [`crate::open`]'s CSV
/// branch, for callers whose reader is not `Send`.
pub fn read_test_results<R: Read>(
    input: R,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<CsvRecords<R>, FileError> {
    CsvRecords::open(input, &LAYOUT, tz, now)
}

fn body(row: &Row<'_>) -> Result<RecordBody, Problem> {
    let sampled_at = row.time("sampled_at")?;
    let resulted_at = row.time("resulted_at")?;
    let kind = match row.text("kind")?.to_lowercase().as_str() {
        "pcr" | "核酸" | "nucleic_acid" => TestKind::Pcr,
        "antigen" | "抗原" => TestKind::Antigen,
        _ => {
            return Err(Problem::new(
                "kind_unknown",
                "kind must be pcr or antigen (核酸 or 抗原)",
            ));
        }
    };
    let outcome = match row.text("result")?.to_lowercase().as_str() {
        "negative" | "阴性" => TestOutcome::Negative,
        "positive" | "阳性" => TestOutcome::Positive,
        "invalid" | "无效" => TestOutcome::Invalid,
        _ => {
            return Err(Problem::new(
                "result_unknown",
                "result must be negative, positive or invalid (阴性, 阳性 or 无效)",
            ));
        }
    };
    TestResult::check_times(sampled_at, resulted_at, row.now)?;
    Ok(RecordBody::Test {
        kind,
        outcome,
        sampled_at,
        resulted_at,
    })
}
