//! Vaccination CSV files as sites send them, good and broken (docs/IMPORT.md, "Vaccinations as
//! CSV"). The file rules shared with test results (encoding, delimiter, quoting) are tested in
//! csv.rs; here, that they hold for this layout too, and the columns of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Cursor;

use chrono_tz::Asia::Shanghai;
use common::{ID, doc_examples, dose, now, split, utc, vaccination};
use healthcode_domain::VaccinationKind;
use healthcode_ingest::Position::Line;
use healthcode_ingest::{
    Category, Encoding, FileError, Format, Position, Record, open, read_vaccinations,
};
use proptest::prelude::*;

const HEADER: &str = "record_id,document_type,document_number,vaccinated_at,dose_number,product";

fn read(bytes: &[u8]) -> (Vec<Record>, Vec<(Position, &'static str)>) {
    split(read_vaccinations(bytes, Shanghai, now()).expect("header ok"))
}

#[test]
fn the_documented_example() {
    let example = &doc_examples("csv")[1];
    let rows = open(
        Category::Vaccinations,
        Cursor::new(example.clone().into_bytes()),
        Shanghai,
        now(),
    )
    .expect("header ok");
    assert_eq!(
        (rows.format, rows.encoding),
        (Format::Csv, Some(Encoding::Utf8))
    );
    let (ok, bad) = split(rows);
    assert!(bad.is_empty(), "{bad:?}");
    let got: Vec<_> = ok
        .iter()
        .map(|r| {
            (
                r.at,
                r.record_id.as_str(),
                r.document.expose(),
                vaccination(r),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Line(2),
                "V-2021-0001",
                ID,
                (dose(1, "sinovac-coronavac"), utc(2021, 4, 10, 1, 0))
            ),
            (
                Line(3),
                "V-2021-0002",
                ID,
                (dose(2, "sinovac-coronavac"), utc(2021, 5, 8, 1, 30))
            ),
            (
                Line(4),
                "V-2021-0003",
                "E12345678",
                (VaccinationKind::Contraindication, utc(2021, 6, 1, 2, 0))
            ),
        ]
    );
}

#[test]
fn gb18030_with_chinese_headers_tabs_crlf_and_an_extra_column() {
    let text = format!(
        "姓名\t接种编号\t证件类型\t证件号码\t接种时间\t剂次\t疫苗产品\t事件\r\n\
         张三\tV-1\t居民身份证\t{ID}\t2021/04/10 09:00\t1\t北京生物\t接种\r\n\
         张三\tV-2\t身份证\t{ID}\t2021/05/08 09:00\t2\t国药北京\t\r\n\
         张三\tV-3\t身份证\t{ID}\t2022/01/15 10:00\t\t\t禁忌\r\n"
    );
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    let rows = read_vaccinations(&gb[..], Shanghai, now()).expect("header ok");
    assert_eq!(rows.encoding, Encoding::Gb18030);
    assert_eq!(rows.ignored_columns, vec!["姓名".to_owned()]);
    let (ok, bad) = split(rows);
    assert!(bad.is_empty(), "{bad:?}");
    let kinds: Vec<_> = ok.iter().map(|r| vaccination(r).0).collect();
    assert_eq!(
        kinds,
        vec![
            dose(1, "sinopharm-bibp"),
            dose(2, "sinopharm-bibp"),
            VaccinationKind::Contraindication
        ]
    );
}

#[test]
fn products_by_code_cvx_number_and_maker() {
    let products = [
        ("sinopharm-bibp", "sinopharm-bibp"),
        ("Pfizer-Comirnaty", "pfizer-comirnaty"),
        ("510", "sinopharm-bibp"),
        ("511", "sinovac-coronavac"),
        ("207", "moderna-spikevax"),
        ("208", "pfizer-comirnaty"),
        ("212", "janssen"),
        ("210", "astrazeneca-vaxzevria"),
        ("科兴", "sinovac-coronavac"),
        ("武汉生物", "sinopharm-wibp"),
        ("国药武汉", "sinopharm-wibp"),
        ("康希诺", "cansino-ad5"),
        ("智飞", "zifivax-zf2001"),
        // Not in any table: the caller checks it against the policy.
        ("some-new-vaccine", "some-new-vaccine"),
    ];
    let mut file = String::from(HEADER);
    for (i, (written, _)) in products.iter().enumerate() {
        file.push_str(&format!(
            "\nV-{i},resident_id,{ID},2021-04-10 09:00,1,{written}"
        ));
    }
    let (ok, bad) = read(file.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    let got: Vec<_> = ok.iter().map(|r| vaccination(r).0).collect();
    let expected: Vec<_> = products.iter().map(|(_, code)| dose(1, code)).collect();
    assert_eq!(got, expected);
}

#[test]
fn every_broken_row_is_named_and_the_good_ones_still_come_through() {
    let file = format!(
        "{HEADER},event\n\
         V-1,resident_id,{ID},2021-04-10 09:00,1,510,dose\n\
         V-2,resident_id,{ID},2021-04-10 09:00,1,510,booster\n\
         V-3,resident_id,{ID},2021-04-10 09:00,0,510,\n\
         V-4,resident_id,{ID},2021-04-10 09:00,10,510,\n\
         V-5,resident_id,{ID},2021-04-10 09:00,,510,\n\
         V-6,resident_id,{ID},2021-04-10 09:00,first,510,\n\
         V-7,resident_id,{ID},2021-04-10 09:00,1,,\n\
         V-8,resident_id,{ID},2021-04-10,1,510,\n\
         V-9,resident_id,{ID},2026-05-03 09:00,1,510,\n\
         V-10,resident_id,110105194912310021,2021-04-10 09:00,1,510,\n\
         V-11,library_card,{ID},2021-04-10 09:00,1,510,\n\
         V/12,resident_id,{ID},2021-04-10 09:00,1,510,\n\
         V-13,resident_id,{ID},2021-04-10 09:00,1,510\n\
         \n\
         V-14,resident_id,{ID},2021-04-10 09:00,,,contraindication\n\
         V-15,resident_id,{ID},2026-05-02 08:04,9,510,\n"
    );
    let (ok, bad) = read(file.as_bytes());
    assert_eq!(
        ok.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(),
        vec!["V-1", "V-14", "V-15"]
    );
    assert_eq!(
        bad,
        vec![
            (Line(3), "event_unknown"),
            (Line(4), "dose_number_invalid"),
            (Line(5), "dose_number_invalid"),
            (Line(6), "dose_number_invalid"),
            (Line(7), "dose_number_invalid"),
            (Line(8), "vaccine_product_missing"),
            (Line(9), "time_invalid"),
            (Line(10), "time_in_future"),
            (Line(11), "document_number_check_digit"),
            (Line(12), "document_type_unknown"),
            (Line(13), "record_id_invalid"),
            (Line(14), "field_count"),
        ]
    );
}

#[test]
fn unusable_headers_refuse_the_file() {
    let err = |text: &str| {
        read_vaccinations(text.as_bytes(), Shanghai, now())
            .err()
            .expect("refused")
    };
    assert_eq!(err(""), FileError::Empty);
    assert_eq!(
        err("record_id,document_type,document_number,at\n"),
        FileError::MissingColumns("dose_number, product".into())
    );
    assert_eq!(
        err(&format!("{HEADER},剂次\n")),
        FileError::DuplicateColumn("dose_number".into())
    );
    assert_eq!(
        err(&format!("{HEADER},event,事件\n")),
        FileError::DuplicateColumn("event".into())
    );
}

proptest! {
    #[test]
    fn arbitrary_rows_under_a_good_header_never_panic(body in "[ -~\n,\t\"剂禁忌科兴]{0,400}") {
        let file = format!("{HEADER},event\n{body}");
        let rows = read_vaccinations(file.as_bytes(), Shanghai, now()).expect("header ok");
        for _ in rows.take(1000) {}
    }
}
