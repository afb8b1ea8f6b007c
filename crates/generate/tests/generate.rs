//! The import-file generator, checked against the ingest crate's readers: every row it means to
//! be valid is accepted, every row it breaks is refused at the position it reports, and its
//! output is realistic in the ways the demos and benchmarks rely on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Cursor, Write};
use std::time::Instant;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Asia::Shanghai;
use chrono_tz::Tz;
use healthcode_domain::{
    DocumentNumber, DocumentType, Policy, TestKind, TestOutcome, VaccinationKind,
};
use healthcode_generate::{self as generate, Dataset, OutputFormat, Spec, Summary};
use healthcode_ingest::{Category, Position, Record, RecordBody, RowError, open};

/// 10:00 in Beijing: the previous day's samples are all in, the last results still arriving.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 2, 2, 0, 0).single().unwrap()
}

fn spec(dataset: Dataset, format: OutputFormat, rows: u64, broken: u64) -> Spec {
    let mut spec = Spec::new(dataset, rows, now());
    spec.format = format;
    spec.broken_rows = broken;
    spec.seed = 42;
    spec
}

fn generate(spec: &Spec) -> (Vec<u8>, Summary) {
    let mut out = Vec::new();
    let summary = generate::write(spec, &mut out).unwrap();
    (out, summary)
}

fn category(dataset: Dataset) -> Category {
    match dataset {
        Dataset::Tests => Category::Tests,
        Dataset::Vaccinations => Category::Vaccinations,
    }
}

/// Reads a generated file back and checks the readers agree with the generator's summary:
/// `rows - broken` records, and one error at each broken position.
fn read_back(spec: &Spec, bytes: Vec<u8>, summary: &Summary) -> (Vec<Record>, Vec<RowError>) {
    let records = open(
        category(spec.dataset),
        Cursor::new(bytes),
        spec.tz,
        spec.now,
    )
    .expect("the file is accepted");
    let (ok, bad): (Vec<_>, Vec<_>) = records.partition(Result::is_ok);
    let ok: Vec<Record> = ok.into_iter().map(Result::unwrap).collect();
    let bad: Vec<RowError> = bad.into_iter().map(Result::unwrap_err).collect();
    assert_eq!(summary.rows, spec.rows);
    assert_eq!(summary.broken.len() as u64, spec.broken_rows);
    assert_eq!(
        ok.len() as u64,
        spec.rows - spec.broken_rows,
        "{:?}",
        &bad[..bad.len().min(5)]
    );
    let at: Vec<Position> = bad.iter().map(|e| e.at).collect();
    let expected: Vec<Position> = summary
        .broken
        .iter()
        .map(|&n| match spec.format {
            OutputFormat::Csv => Position::Line(n),
            OutputFormat::Fhir => Position::Entry(n),
        })
        .collect();
    assert_eq!(at, expected);
    (ok, bad)
}

fn codes(errors: &[RowError]) -> BTreeMap<&'static str, usize> {
    let mut codes = BTreeMap::new();
    for e in errors {
        *codes.entry(e.code).or_default() += 1;
    }
    codes
}

fn test_body(record: &Record) -> (TestKind, TestOutcome, DateTime<Utc>, DateTime<Utc>) {
    match record.body {
        RecordBody::Test {
            kind,
            outcome,
            sampled_at,
            resulted_at,
        } => (kind, outcome, sampled_at, resulted_at),
        RecordBody::Vaccination { .. } => panic!("a vaccination in a test file"),
    }
}

#[test]
fn a_day_of_mass_testing_reads_back_with_errors_exactly_where_broken() {
    let spec = spec(Dataset::Tests, OutputFormat::Csv, 20_000, 37);
    let (bytes, summary) = generate(&spec);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with(
        "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n"
    ));
    let (ok, bad) = read_back(&spec, bytes, &summary);

    // Each of the six ways of breaking a row, in turn: 37 = 6·6 + 1.
    let expected: BTreeMap<&str, usize> = [
        ("document_number_check_digit", 7),
        ("result_before_sample", 6),
        ("result_unknown", 6),
        ("field_count", 6),
        ("record_id_invalid", 6),
        ("document_type_unknown", 6),
    ]
    .into();
    assert_eq!(codes(&bad), expected);
    // Spread through the file, not bunched at its start.
    assert!(summary.broken[0] > 100 && *summary.broken.last().unwrap() < 19_900);

    let lines: Vec<&str> = text.lines().collect();
    let broken: HashSet<u64> = summary.broken.iter().copied().collect();
    for (i, line) in lines.iter().enumerate().skip(1) {
        if broken.contains(&(i as u64 + 1)) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let kind = DocumentType::parse(fields[1]).unwrap();
        DocumentNumber::parse(kind, fields[2]).unwrap_or_else(|e| panic!("{line}: {e}"));
    }

    let yesterday = Shanghai.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap();
    let mut ids = HashSet::new();
    let mut people = HashSet::new();
    let (mut positives, mut pcr, mut residents, mut beijing) = (0, 0, 0, 0);
    for record in &ok {
        let (kind, outcome, sampled_at, resulted_at) = test_body(record);
        assert!(
            sampled_at <= resulted_at && resulted_at <= now(),
            "{record:?}"
        );
        let local = sampled_at.with_timezone(&Shanghai);
        assert_eq!(local.date_naive(), yesterday.date_naive());
        assert!((7..21).contains(&local.hour()), "{local}");
        let hours = (resulted_at - sampled_at).num_minutes() as f64 / 60.0;
        assert!(
            hours <= 14.0 && (hours >= 4.0 || resulted_at == now()),
            "{hours}"
        );
        assert!(ids.insert(record.record_id.clone()), "{}", record.record_id);
        assert!(record.record_id.starts_with("LAB1-20260501-"));
        assert!(
            people.insert(record.document.clone()),
            "one test per person"
        );
        positives += usize::from(outcome == TestOutcome::Positive);
        pcr += usize::from(kind == TestKind::Pcr);
        if record.document.kind() == DocumentType::ResidentId {
            residents += 1;
            beijing += usize::from(record.document.expose().starts_with("1101"));
            let age = 2026 - record.document.birth_date().unwrap().year();
            assert!((0..=96).contains(&age), "{age}");
        }
    }
    assert_eq!(positives as u64, summary.positives);
    // 1 in 2,000 of 20,000 is 10; the bound is loose on purpose.
    assert!((2..=25).contains(&positives), "{positives}");
    let share = |n: usize| n as f64 / ok.len() as f64;
    assert!((0.87..0.93).contains(&share(pcr)), "{pcr}");
    assert!((0.96..0.995).contains(&share(residents)), "{residents}");
    assert!(
        (0.65..0.8).contains(&(beijing as f64 / residents as f64)),
        "{beijing}"
    );
}

#[test]
fn the_positive_rate_is_followed() {
    let mut spec = spec(Dataset::Tests, OutputFormat::Csv, 10_000, 0);
    spec.positive_rate = 0.1;
    let (bytes, summary) = generate(&spec);
    assert!((850..=1150).contains(&summary.positives), "{summary:?}");
    let (ok, _) = read_back(&spec, bytes, &summary);
    let positives = ok
        .iter()
        .filter(|r| test_body(r).1 == TestOutcome::Positive)
        .count();
    assert_eq!(positives as u64, summary.positives);
}

#[test]
fn the_seed_decides_the_bytes() {
    for dataset in [Dataset::Tests, Dataset::Vaccinations] {
        for format in [OutputFormat::Csv, OutputFormat::Fhir] {
            let a = spec(dataset, format, 2_000, 5);
            let mut b = a.clone();
            b.seed = 43;
            assert_eq!(generate(&a).0, generate(&a).0, "{dataset:?} {format:?}");
            assert_ne!(generate(&a).0, generate(&b).0, "{dataset:?} {format:?}");
        }
    }
}

#[test]
fn breaking_rows_leaves_the_others_as_they_were() {
    for dataset in [Dataset::Tests, Dataset::Vaccinations] {
        let (whole, _) = generate(&spec(dataset, OutputFormat::Csv, 3_000, 0));
        let (broken, summary) = generate(&spec(dataset, OutputFormat::Csv, 3_000, 100));
        let whole = String::from_utf8(whole).unwrap();
        let broken = String::from_utf8(broken).unwrap();
        let differ: Vec<u64> = whole
            .lines()
            .zip(broken.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i as u64 + 1)
            .collect();
        assert_eq!(differ, summary.broken, "{dataset:?}");
    }
}

#[test]
fn vaccination_records_read_back_with_several_doses_per_person() {
    let spec = spec(Dataset::Vaccinations, OutputFormat::Csv, 20_000, 37);
    let (bytes, summary) = generate(&spec);
    assert!(bytes.starts_with(
        b"record_id,document_type,document_number,vaccinated_at,dose_number,product,event\n"
    ));
    assert_eq!(summary.positives, 0);
    let (ok, bad) = read_back(&spec, bytes, &summary);
    let expected: BTreeMap<&str, usize> = [
        ("document_number_check_digit", 7),
        ("time_in_future", 6),
        ("event_unknown", 6),
        ("field_count", 6),
        ("record_id_invalid", 6),
        ("document_type_unknown", 6),
    ]
    .into();
    assert_eq!(codes(&bad), expected);
    check_vaccinations(&ok);
}

/// Doses come in order for each person, over the last two years, with products the policy
/// knows, mostly Chinese inactivated vaccines; contraindications are rare.
fn check_vaccinations(records: &[Record]) {
    let policy = Policy::default_policy().unwrap();
    let two_years_ago = now() - TimeDelta::days(731);
    // Each person's doses: number, time, product.
    type Doses<'r> = Vec<(u8, DateTime<Utc>, &'r str)>;
    let mut people: BTreeMap<&str, Doses<'_>> = BTreeMap::new();
    let (mut inactivated, mut doses, mut contraindications) = (0, 0, 0);
    let mut ids = HashSet::new();
    for record in records {
        assert!(ids.insert(record.record_id.clone()), "{}", record.record_id);
        let RecordBody::Vaccination { kind, at } = &record.body else {
            panic!("a test result in a vaccination file");
        };
        assert!(two_years_ago < *at && *at < now(), "{record:?}");
        match kind {
            VaccinationKind::Dose { number, product } => {
                assert!(policy.knows_product(product), "{product}");
                doses += 1;
                inactivated +=
                    usize::from(product == "sinopharm-bibp" || product == "sinovac-coronavac");
                people
                    .entry(record.document.expose())
                    .or_default()
                    .push((*number, *at, product));
            }
            VaccinationKind::Contraindication => contraindications += 1,
        }
    }
    assert!(
        (0.75..0.92).contains(&(inactivated as f64 / doses as f64)),
        "{inactivated}"
    );
    assert!(contraindications > 0 && contraindications * 100 < records.len());
    let several = people.values().filter(|d| d.len() > 1).count();
    assert!(
        several * 2 > people.len(),
        "most people had more than one dose"
    );
    for doses in people.values() {
        for pair in doses.windows(2) {
            let ((n1, t1, p1), (n2, t2, _)) = (pair[0], pair[1]);
            assert!(n2 > n1 && t2 > t1);
            // A broken row may have taken the dose in between.
            if n2 != n1 + 1 {
                continue;
            }
            let gap = (t2 - t1).num_days();
            if n2 <= policy.primary_doses(p1) {
                assert!((20..=57).contains(&gap), "primary series: {gap} days");
            } else {
                assert!((149..=301).contains(&gap), "booster: {gap} days");
            }
        }
    }
}

#[test]
fn fhir_bundles_are_json_and_read_back() {
    for dataset in [Dataset::Tests, Dataset::Vaccinations] {
        let spec = spec(dataset, OutputFormat::Fhir, 3_000, 37);
        let (bytes, summary) = generate(&spec);
        let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "batch");
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 3_000);
        let resource_type = match dataset {
            Dataset::Tests => "Observation",
            Dataset::Vaccinations => "Immunization",
        };
        for entry in entries {
            assert_eq!(entry["resource"]["resourceType"], resource_type);
            assert_eq!(entry["request"]["method"], "POST");
        }
        let (ok, bad) = read_back(&spec, bytes, &summary);
        let (chronology, unknown) = match dataset {
            Dataset::Tests => ("result_before_sample", "result_unknown"),
            Dataset::Vaccinations => ("time_in_future", "status_not_completed"),
        };
        let expected: BTreeMap<&str, usize> = [
            ("document_number_check_digit", 7),
            (chronology, 6),
            (unknown, 6),
            ("subject_missing", 6),
            ("record_id_invalid", 6),
            ("document_type_unknown", 6),
        ]
        .into();
        assert_eq!(codes(&bad), expected, "{dataset:?}");
        if dataset == Dataset::Vaccinations {
            check_vaccinations(&ok);
        }
    }
}

#[test]
fn the_csv_and_the_bundle_hold_the_same_records() {
    for dataset in [Dataset::Tests, Dataset::Vaccinations] {
        let csv = spec(dataset, OutputFormat::Csv, 1_000, 10);
        let fhir = spec(dataset, OutputFormat::Fhir, 1_000, 10);
        let (csv_bytes, csv_summary) = generate(&csv);
        let (fhir_bytes, fhir_summary) = generate(&fhir);
        let (from_csv, _) = read_back(&csv, csv_bytes, &csv_summary);
        let (from_fhir, _) = read_back(&fhir, fhir_bytes, &fhir_summary);
        let without_position =
            |r: &Record| (r.record_id.clone(), r.document.clone(), r.body.clone());
        assert_eq!(
            from_csv.iter().map(without_position).collect::<Vec<_>>(),
            from_fhir.iter().map(without_position).collect::<Vec<_>>(),
            "{dataset:?}"
        );
        let lines: Vec<u64> = fhir_summary.broken.iter().map(|e| e + 2).collect();
        assert_eq!(csv_summary.broken, lines);
    }
}

#[test]
fn a_zone_with_daylight_saving_reads_back() {
    // New York moved its clocks on 2026-03-08: the samples are from that day.
    let mut spec = spec(Dataset::Tests, OutputFormat::Csv, 2_000, 0);
    spec.tz = "America/New_York".parse::<Tz>().unwrap();
    spec.now = Utc.with_ymd_and_hms(2026, 3, 9, 7, 0, 0).single().unwrap();
    let (bytes, summary) = generate(&spec);
    read_back(&spec, bytes, &summary);
}

#[test]
fn specs_that_cannot_be_met_are_refused() {
    let refused = |change: fn(&mut Spec)| {
        let mut s = spec(Dataset::Tests, OutputFormat::Csv, 10, 0);
        change(&mut s);
        generate::write(&s, io::sink()).unwrap_err().kind()
    };
    assert_eq!(refused(|s| s.broken_rows = 11), io::ErrorKind::InvalidInput);
    assert_eq!(
        refused(|s| s.positive_rate = 1.5),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        refused(|s| s.positive_rate = f64::NAN),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        refused(|s| s.lab = "LAB 1".into()),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        refused(|s| s.lab = "L".repeat(120)),
        io::ErrorKind::InvalidInput
    );
    let all_broken = spec(Dataset::Tests, OutputFormat::Csv, 10, 10);
    assert_eq!(generate(&all_broken).1.broken, (2..12).collect::<Vec<_>>());
    let (empty, _) = generate(&spec(Dataset::Tests, OutputFormat::Fhir, 0, 0));
    assert_eq!(
        String::from_utf8(empty).unwrap(),
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"timestamp\":\"2026-05-02T10:00:00+08:00\",\"entry\":[\n]}\n"
    );
}

/// Counts what passes through, so that the benchmark measures generating, not storing.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `cargo test --release -p healthcode-generate --test generate -- --ignored --nocapture`
#[test]
#[ignore = "a benchmark: run in release mode"]
fn five_million_rows() {
    for (dataset, format) in [
        (Dataset::Tests, OutputFormat::Csv),
        (Dataset::Tests, OutputFormat::Fhir),
        (Dataset::Vaccinations, OutputFormat::Csv),
        (Dataset::Vaccinations, OutputFormat::Fhir),
    ] {
        let spec = spec(dataset, format, 5_000_000, 1_000);
        let mut counter = Counter(0);
        let started = Instant::now();
        let summary = generate::write(&spec, &mut counter).unwrap();
        let elapsed = started.elapsed();
        println!(
            "{dataset:?} {format:?}: {} rows, {} bytes ({:.0} MB) in {:.2} s, {} positives",
            summary.rows,
            counter.0,
            counter.0 as f64 / 1e6,
            elapsed.as_secs_f64(),
            summary.positives
        );
        assert!(elapsed.as_secs() < 60);
    }
}
