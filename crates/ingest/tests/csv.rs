//! Test-result CSV files as labs send them, good and broken.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono_tz::Asia::Shanghai;
use common::{Flood, ID, now, split, test, utc};
use healthcode_domain::{TestKind, TestOutcome};
use healthcode_ingest::Position::Line;
use healthcode_ingest::{
    Encoding, FileError, MAX_RECORD_BYTES, Position, Record, read_test_results,
};
use proptest::prelude::*;
use std::io::Read;
use std::sync::atomic::Ordering;

const HEADER: &str = "record_id,document_type,document_number,sampled_at,resulted_at,kind,result";

fn read(bytes: &[u8]) -> (Vec<Record>, Vec<(Position, &'static str)>) {
    split(read_test_results(bytes, Shanghai, now()).expect("header ok"))
}

#[test]
fn a_good_file() {
    let file = format!(
        "{HEADER}\nT-1,resident_id,{ID},2026-05-01 08:00:00,2026-05-01 20:00,pcr,negative\n\
         T-2,passport,E12345678,2026-05-01T00:00:00Z,2026-05-01T10:00:00+08:00,antigen,positive\n"
    );
    let (ok, bad) = read(file.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0].at, Line(2));
    assert_eq!(ok[0].record_id, "T-1");
    assert_eq!(ok[0].document.expose(), ID);
    // Local times are Beijing time.
    assert_eq!(
        test(&ok[0]),
        (
            TestKind::Pcr,
            TestOutcome::Negative,
            utc(2026, 5, 1, 0, 0),
            utc(2026, 5, 1, 12, 0)
        )
    );
    assert_eq!(
        test(&ok[1]),
        (
            TestKind::Antigen,
            TestOutcome::Positive,
            utc(2026, 5, 1, 0, 0),
            utc(2026, 5, 1, 2, 0)
        )
    );
}

#[test]
fn chinese_headers_values_gb18030_tabs_crlf_bom_and_extra_columns() {
    let text = format!(
        "姓名\t记录编号\t证件类型\t证件号码\t采样时间\t报告时间\t检测类型\t检测结果\r\n\
         张三\tT-1\t居民身份证\t{ID}\t2026/05/01 08:00\t2026/05/01 20:00\t核酸\t阴性\r\n"
    );
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    let rows = read_test_results(&gb[..], Shanghai, now()).expect("header ok");
    assert_eq!(rows.encoding, Encoding::Gb18030);
    assert_eq!(rows.ignored_columns, vec!["姓名".to_owned()]);
    let all: Vec<_> = rows.collect();
    assert_eq!(all.len(), 1);
    assert_eq!(test(all[0].as_ref().expect("ok")).1, TestOutcome::Negative);

    let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    let rows = read_test_results(with_bom.as_slice(), Shanghai, now()).expect("header ok");
    assert_eq!(rows.encoding, Encoding::Utf8);
    assert_eq!(rows.filter(Result::is_ok).count(), 1);
}

#[test]
fn every_broken_row_is_named_and_the_good_ones_still_come_through() {
    let file = format!(
        "{HEADER}\n\
         T-1,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T-2,resident_id,110105194912310021,2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T-3,resident_id,{ID},2026-05-01 08:00,2026-05-01 07:00,pcr,negative\n\
         T-4,resident_id,{ID},2026-05-01 08:00,2026-05-09 20:00,pcr,negative\n\
         T-5,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,maybe\n\
         T-6,resident_id,{ID},yesterday,2026-05-01 20:00,pcr,negative\n\
         T-7,library_card,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T 8,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T-9,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,blood,negative\n\
         \n\
         T-10,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T-11,resident_id,{ID},2026-05-01 08:00"
    );
    let mut bytes = file.into_bytes();
    // A stray byte that is not UTF-8: a file this small is then read as GB18030 (see
    // `text`), where it decodes to U+FFFD, and the row is refused for its value.
    let bad_row =
        format!("\nT-12,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,neg\u{e9}tive");
    let mut bad_row = bad_row.into_bytes();
    let at = bad_row.len() - 6;
    bad_row[at] = 0xFF;
    // Put it before the cut-off last row.
    let cut = bytes.iter().rposition(|b| *b == b'\n').expect("newline");
    let tail = bytes.split_off(cut);
    bytes.extend_from_slice(&bad_row);
    bytes.extend_from_slice(&tail);

    let (ok, bad) = read(&bytes);
    assert_eq!(
        ok.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(),
        vec!["T-1", "T-10"]
    );
    assert_eq!(
        bad,
        vec![
            (Line(3), "document_number_check_digit"),
            (Line(4), "result_before_sample"),
            (Line(5), "time_in_future"),
            (Line(6), "result_unknown"),
            (Line(7), "time_invalid"),
            (Line(8), "document_type_unknown"),
            (Line(9), "record_id_invalid"),
            (Line(10), "kind_unknown"),
            (Line(13), "result_unknown"),
            (Line(14), "field_count"),
        ]
    );
}

#[test]
fn invalid_utf8_after_the_first_block_is_named_on_its_row() {
    let mut file = String::from(HEADER);
    for i in 0..2_000 {
        file.push_str(&format!(
            "\nT-{i},resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative"
        ));
    }
    let mut bytes = file.into_bytes();
    assert!(bytes.len() > 64 * 1024);
    bytes.extend_from_slice(
        format!("\nT-x,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,").as_bytes(),
    );
    bytes.extend_from_slice(b"neg\xFFtive\n");
    let (ok, bad) = read(&bytes);
    assert_eq!(ok.len(), 2_000);
    assert_eq!(bad, vec![(Line(2_002), "invalid_utf8")]);
}

#[test]
fn unusable_headers_refuse_the_file() {
    let err = |text: &str| {
        read_test_results(text.as_bytes(), Shanghai, now())
            .err()
            .expect("refused")
    };
    assert_eq!(err(""), FileError::Empty);
    assert!(
        matches!(err("record_id,document_type\nx,y\n"), FileError::MissingColumns(m) if m.contains("document_number") && m.contains("result"))
    );
    assert_eq!(
        err(&format!("{HEADER},检测结果\n")),
        FileError::DuplicateColumn("result".into())
    );
}

#[test]
fn an_unclosed_quote_swallows_the_rest_into_one_refused_row() {
    let file = format!(
        "{HEADER}\nT-1,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         \"T-2,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T-3,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n"
    );
    let (ok, bad) = read(file.as_bytes());
    assert_eq!(ok.len(), 1);
    assert_eq!(bad, vec![(Line(3), "field_count")]);
}

#[test]
fn an_unclosed_quote_in_a_huge_file_stops_at_the_record_cap() {
    let head = format!(
        "{HEADER}\nT-1,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n\
         T-2,resident_id,{ID},\"2026-05-01 08:00,"
    );
    // 64 MiB inside the quote, then a good row the reader never reaches.
    let tail = format!("\"\nT-3,resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative\n");
    let (input, pulled) = Flood::new(head.as_bytes(), b'x', 64 << 20, tail.as_bytes());
    let rows = read_test_results(input, Shanghai, now()).expect("header ok");
    let (ok, bad) = split(rows);
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].record_id, "T-1");
    assert_eq!(bad, vec![(Line(3), "record_too_large")]);
    // The reader stopped about the cap past the row's start (the first 64 KiB are read to
    // decide the encoding, and the csv reader buffers 8 KiB), not at the end of the file.
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(pulled < MAX_RECORD_BYTES + (128 << 10), "{pulled}");
}

#[test]
fn rows_up_to_the_cap_are_read_and_one_over_it_stops_the_file() {
    let row = |id: &str, extra: &str| {
        format!("{id},resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative,{extra}\n")
    };
    let large = format!("\"{}\n{}\"", "a".repeat(500 << 10), "b".repeat(400 << 10));
    // Past the cap by more than the csv reader's buffer, which it may fill ahead of a row.
    let too_large = "c".repeat((MAX_RECORD_BYTES + (16 << 10)) as usize);
    let file = [
        format!("{HEADER},note\n"),
        row("T-1", &large),
        row("T-2", ""),
        row("T-3", &too_large),
        row("T-4", ""),
    ]
    .concat();
    let (ok, bad) = read(file.as_bytes());
    assert_eq!(
        ok.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(),
        vec!["T-1", "T-2"]
    );
    assert_eq!(bad, vec![(Line(5), "record_too_large")]);

    let header = format!("{HEADER},{}\n", "d".repeat(too_large.len()));
    let err = read_test_results(header.as_bytes(), Shanghai, now()).err();
    assert!(
        matches!(&err, Some(FileError::Header(m)) if m.contains("longer than 1 MiB")),
        "{err:?}"
    );
}

/// Gives `good`, then fails as a disk or a connection can.
struct FailingAfter<'a>(&'a [u8]);

impl Read for FailingAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("connection reset"));
        }
        let n = self.0.read(buf)?;
        Ok(n)
    }
}

#[test]
fn a_read_error_stops_with_csv_syntax_after_the_rows_before_it() {
    let mut file = String::from(HEADER);
    for i in 0..2_000 {
        file.push_str(&format!(
            "\nT-{i},resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative"
        ));
    }
    let rows = read_test_results(FailingAfter(file.as_bytes()), Shanghai, now()).expect("ok");
    let (ok, bad) = split(rows);
    assert!(ok.len() < 2_000);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].1, "csv_syntax");
}

#[test]
fn many_rows_stream() {
    let mut file = String::from(HEADER);
    for i in 0..50_000 {
        file.push_str(&format!(
            "\nT-{i},resident_id,{ID},2026-05-01 08:00,2026-05-01 20:00,pcr,negative"
        ));
    }
    let rows = read_test_results(file.as_bytes(), Shanghai, now()).expect("ok");
    let mut n = 0;
    let mut last_line = 0;
    for r in rows {
        let Line(line) = r.expect("valid").at else {
            panic!("a CSV row is at a line")
        };
        assert!(line > last_line);
        last_line = line;
        n += 1;
    }
    assert_eq!((n, last_line), (50_000, 50_001));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(rows) = read_test_results(bytes.as_slice(), Shanghai, now()) {
            for _ in rows.take(1000) {}
        }
    }

    #[test]
    fn arbitrary_rows_under_a_good_header_never_panic(body in "[ -~\n,\t\"张阴性]{0,400}") {
        let file = format!("{HEADER}\n{body}");
        let rows = read_test_results(file.as_bytes(), Shanghai, now()).expect("header ok");
        for _ in rows.take(1000) {}
    }
}
