//! Realistic import files for demos, tests and benchmarks: a day of mass-testing results or a
//! vaccination centre's records, as CSV (docs/IMPORT.md) or one FHIR R4 Bundle (the mapping
//! in docs/IMPORT.md), with a chosen number of rows broken on purpose and their positions
//! reported, so that a test can check a reader refuses exactly those.
//!
//! What this crate owns: making up plausible people, times and outcomes, and laying them out
//! in the import formats. What it does not own: reading files (`healthcode-ingest`, whose
//! readers its tests check it against) or storing records. It is its own crate so that
//! the ingest library, which reads providers' files in production, ships no test-data maker;
//! the `healthcode` binary (`demo generate`, `bench`) and tests use it.
//!
//! The output is a function of the [`Spec`] alone: the same seed, `now` and zone give the same
//! bytes (with the same `rand` release, whose `StdRng` algorithm may change between releases).
//! Breaking a row consumes no randomness, so the rows that are not broken are the same
//! whatever `broken_rows` is. Rows are written as they are made: memory does not grow with
//! `rows`.

use std::io::{self, BufWriter, Write};

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use healthcode_domain::document::resident_id_check_char;
use healthcode_domain::evidence::check_record_id;
use healthcode_domain::{DocumentType, TestKind, TestOutcome};

/// About one positive in 2,000: the order of what Beijing's mass-testing rounds found during
/// an outbreak.
pub const DEFAULT_POSITIVE_RATE: f64 = 1.0 / 2000.0;

/// Which evidence the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// Results of one day of mass testing (全员核酸): one test per person.
    Tests,
    /// A vaccination centre's records over two years: several doses per person, a few
    /// contraindications.
    Vaccinations,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The English header of docs/IMPORT.md, times local to the zone.
    Csv,
    /// One Bundle of type `batch`, each entry POSTing an Observation or an Immunization whose
    /// subject is a logical reference by document number (no Patient entries).
    Fhir,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub dataset: Dataset,
    pub format: OutputFormat,
    /// Rows (CSV lines after the header, or Bundle entries), broken ones included.
    pub rows: u64,
    /// How many of `rows` are broken on purpose, each in a way the readers refuse.
    pub broken_rows: u64,
    pub seed: u64,
    /// When the file is made: nothing in it is later, except a broken row's future date.
    pub now: DateTime<Utc>,
    /// The zone of the local times, and of the day the samples were taken.
    pub tz: Tz,
    /// Prefix of every record id, `{lab}-{yyyymmdd}-{seq:08}`.
    pub lab: String,
    /// Share of test results that are positive.
    pub positive_rate: f64,
}

impl Spec {
    /// CSV, nothing broken, seed 0, Beijing time, record ids `LAB1-…`, the default positive
    /// rate.
    pub fn new(dataset: Dataset, rows: u64, now: DateTime<Utc>) -> Spec {
        Spec {
            dataset,
            format: OutputFormat::Csv,
            rows,
            broken_rows: 0,
            seed: 0,
            now,
            tz: chrono_tz::Asia::Shanghai,
            lab: "LAB1".to_owned(),
            positive_rate: DEFAULT_POSITIVE_RATE,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Rows written, broken ones included.
    pub rows: u64,
    /// Where the broken rows are, as the readers name them, ascending: the CSV line (the
    /// header is line 1) or the Bundle entry index (0-based).
    pub broken: Vec<u64>,
    /// Positive test results among the rows that are not broken.
    pub positives: u64,
}

/// Writes the file `spec` describes to `out` and says where its broken rows are.
///
/// Output is buffered here, so `out` can be a bare file. Refused as `InvalidInput`: more
/// broken rows than rows, a positive rate outside 0–1, a `lab` that makes record ids invalid,
/// and a `now` outside the years 1990–2100 (the ages made up must give resident-ID birth years
/// the domain accepts).
pub fn write<W: Write>(spec: &Spec, out: W) -> io::Result<Summary> {
    check(spec)?;
    let mut out = BufWriter::with_capacity(BUFFER, out);
    let summary = match spec.format {
        OutputFormat::Csv => generate(spec, &mut Csv::new(&mut out, spec))?,
        OutputFormat::Fhir => generate(spec, &mut Fhir::new(&mut out, spec))?,
    };
    out.flush()?;
    Ok(summary)
}

const BUFFER: usize = 64 * 1024;

fn check(spec: &Spec) -> io::Result<()> {
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    if spec.broken_rows > spec.rows {
        return refuse(format!(
            "{} broken rows asked for in a file of {} rows",
            spec.broken_rows, spec.rows
        ));
    }
    if !(0.0..=1.0).contains(&spec.positive_rate) {
        return refuse(format!(
            "the positive rate {} is not between 0 and 1",
            spec.positive_rate
        ));
    }
    if check_record_id(&format!("{}-20260101-00000001", spec.lab)).is_err() {
        return refuse(format!(
            "lab prefix {:?} would make invalid record ids (letters, digits and .-_: only, 110 at most)",
            spec.lab
        ));
    }
    if !(1990..=2100).contains(&spec.now.with_timezone(&spec.tz).year()) {
        return refuse(format!("now ({}) must be in the years 1990–2100", spec.now));
    }
    Ok(())
}

fn generate(spec: &Spec, layout: &mut impl Layout) -> io::Result<Summary> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut source = match spec.dataset {
        Dataset::Tests => Source::Tests(Tests::new(spec, &mut rng)),
        Dataset::Vaccinations => Source::Vaccinations(Vaccinations::new(spec, &mut rng)),
    };
    let mut breakage = Breakage::new(spec.rows, spec.broken_rows);
    let mut summary = Summary {
        rows: spec.rows,
        broken: Vec::new(),
        positives: 0,
    };
    layout.begin()?;
    for index in 0..spec.rows {
        let defect = breakage.defect(index);
        if defect.is_some() {
            summary.broken.push(layout.position(index));
        }
        match &mut source {
            Source::Tests(tests) => {
                let row = tests.row(&mut rng, index, defect)?;
                if defect.is_none() && row.outcome == TestOutcome::Positive {
                    summary.positives += 1;
                }
                layout.test(&row)?;
            }
            Source::Vaccinations(vaccinations) => {
                layout.vaccination(&vaccinations.row(&mut rng, index, defect)?)?;
            }
        }
    }
    layout.end()?;
    Ok(summary)
}

enum Source<'s> {
    Tests(Tests<'s>),
    Vaccinations(Vaccinations<'s>),
}

// ---------------------------------------------------------------------------------------------
// Broken rows

/// The ways a row is broken, taken in turn. Each breaks one rule a reader must enforce, and
/// leaves the rest of the row valid so that it is refused for that reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    /// A resident ID with the wrong GB 11643 check character.
    CheckDigit,
    /// Tests: a result reported an hour before its sample. Vaccinations: a date three days
    /// after `now`.
    Chronology,
    /// A code no reader knows: the result of a test (`inconclusive`, SNOMED 419984006), the
    /// event of a vaccination (`refused`, FHIR status `entered-in-error`).
    UnknownCode,
    /// CSV: the last field cut off. FHIR: no subject.
    MissingField,
    /// A record id with `/` in it.
    RecordId,
    /// A document type that is not one of the five.
    DocumentType,
}

const DEFECTS: [Defect; 6] = [
    Defect::CheckDigit,
    Defect::Chronology,
    Defect::UnknownCode,
    Defect::MissingField,
    Defect::RecordId,
    Defect::DocumentType,
];

/// Chooses exactly `broken` of `rows` rows, evenly spread and starting half a stride in: row
/// i is broken when ⌊(i·broken + rows/2) / rows⌋ steps up at i + 1. That sum goes from 0 at
/// the start to `broken` at the end in steps of at most one, so it steps exactly `broken`
/// times; no state but a counter is kept.
struct Breakage {
    rows: u128,
    broken: u128,
    seen: usize,
}

impl Breakage {
    fn new(rows: u64, broken: u64) -> Breakage {
        Breakage {
            rows: u128::from(rows),
            broken: u128::from(broken),
            seen: 0,
        }
    }

    fn defect(&mut self, index: u64) -> Option<Defect> {
        let step = |i: u128| (i * self.broken + self.rows / 2) / self.rows;
        let i = u128::from(index);
        if step(i + 1) == step(i) {
            return None;
        }
        let defect = DEFECTS[self.seen % DEFECTS.len()];
        self.seen += 1;
        Some(defect)
    }
}

// ---------------------------------------------------------------------------------------------
// People

/// GB/T 2260 county-level codes that lead resident ID numbers, with how many people per birth
/// date each contributes (at most 1,000: the three sequence digits), which weights them:
/// Beijing's districts most, about three in four, including Chongwen (110103) and Xuanwu
/// (110104), merged away in 2010 but still on older cards; then the provinces most of
/// Beijing's residents from elsewhere come from (Hebei, Henan, Shandong, Tianjin, …); then a
/// district of every other province's capital.
const REGIONS: [(u64, u64); 57] = [
    (110101, 600),  // 东城区
    (110102, 800),  // 西城区
    (110103, 300),  // 崇文区 (until 2010)
    (110104, 300),  // 宣武区 (until 2010)
    (110105, 1000), // 朝阳区
    (110106, 1000), // 丰台区
    (110107, 400),  // 石景山区
    (110108, 1000), // 海淀区
    (110109, 200),  // 门头沟区
    (110111, 600),  // 房山区
    (110112, 800),  // 通州区
    (110113, 600),  // 顺义区
    (110114, 1000), // 昌平区
    (110115, 900),  // 大兴区
    (110116, 200),  // 怀柔区
    (110117, 200),  // 平谷区
    (110118, 300),  // 密云区
    (110119, 200),  // 延庆区
    (120101, 150),  // 天津 和平区
    (120104, 150),  // 天津 南开区
    (120116, 60),   // 天津 滨海新区
    (130102, 300),  // 石家庄 长安区
    (130104, 100),  // 石家庄 桥西区
    (130602, 300),  // 保定 竞秀区
    (131082, 400),  // 廊坊 三河市
    (140105, 100),  // 太原 小店区
    (150102, 80),   // 呼和浩特 新城区
    (210102, 100),  // 沈阳 和平区
    (220102, 80),   // 长春 南关区
    (230102, 120),  // 哈尔滨 道里区
    (310101, 60),   // 上海 黄浦区
    (310104, 60),   // 上海 徐汇区
    (310115, 60),   // 上海 浦东新区
    (320102, 80),   // 南京 玄武区
    (330106, 60),   // 杭州 西湖区
    (340104, 150),  // 合肥 蜀山区
    (350102, 50),   // 福州 鼓楼区
    (360102, 60),   // 南昌 东湖区
    (370102, 200),  // 济南 历下区
    (370202, 100),  // 青岛 市南区
    (410105, 350),  // 郑州 金水区
    (420106, 120),  // 武汉 武昌区
    (430104, 80),   // 长沙 岳麓区
    (440106, 50),   // 广州 天河区
    (440304, 40),   // 深圳 福田区
    (450103, 30),   // 南宁 青秀区
    (460105, 20),   // 海口 秀英区
    (500103, 50),   // 重庆 渝中区
    (510107, 80),   // 成都 武侯区
    (520102, 30),   // 贵阳 南明区
    (530102, 30),   // 昆明 五华区
    (540102, 10),   // 拉萨 城关区
    (610113, 80),   // 西安 雁塔区
    (620102, 50),   // 兰州 城关区
    (630102, 15),   // 西宁 城东区
    (640104, 15),   // 银川 兴庆区
    (650102, 30),   // 乌鲁木齐 天山区
];

/// Ages run from 0 to 95 years.
const AGE_SPAN_DAYS: u64 = 96 * 365;

/// Documents other than resident IDs, per 1,000 resident IDs: about 2% in all, passports
/// first. The counts set how much of the numbering each type gets.
const PASSPORTS_PER_1000: u64 = 10;
const HK_MACAU_PER_1000: u64 = 6;
const TAIWAN_PER_1000: u64 = 4;

/// The document type written when a row is broken by its type.
const UNKNOWN_DOCUMENT_TYPE: &str = "driving_licence";

/// Everyone who can appear in a file, numbered: first the resident IDs region by region (in
/// each region every birth date in the age span times every sequence number in its share),
/// then passports, Hong Kong and Macau permits and Taiwan permits. Person `p` is the document
/// with number π(p) for a seeded permutation π, so distinct people have distinct documents,
/// spread over regions and ages in proportion to their share of the numbering. Beyond the
/// numbering's size (some 5·10⁸ people) people repeat.
struct People {
    order: Permutation,
    /// Where each of [`REGIONS`] ends in the numbering.
    ends: [u64; REGIONS.len()],
    residents: u64,
    passports: u64,
    hk_macau: u64,
    /// Birth dates count back from the day before this.
    today: NaiveDate,
    youngest_days: u64,
}

impl People {
    /// People at least `youngest_days` old on `today`.
    fn new(rng: &mut StdRng, today: NaiveDate, youngest_days: u64) -> People {
        let span = AGE_SPAN_DAYS - youngest_days;
        let mut ends = [0; REGIONS.len()];
        let mut end = 0;
        for (slot, (_, per_day)) in ends.iter_mut().zip(REGIONS) {
            end += per_day * span;
            *slot = end;
        }
        let residents = end;
        let passports = residents / 1000 * PASSPORTS_PER_1000;
        let hk_macau = residents / 1000 * HK_MACAU_PER_1000;
        let taiwan = residents / 1000 * TAIWAN_PER_1000;
        People {
            order: Permutation::new(residents + passports + hk_macau + taiwan, rng),
            ends,
            residents,
            passports,
            hk_macau,
            today,
            youngest_days,
        }
    }

    /// Puts person `person`'s document number in `number` and returns the document type's wire
    /// name, both spoiled if `defect` is about them.
    fn subject(
        &self,
        person: u64,
        defect: Option<Defect>,
        number: &mut String,
    ) -> io::Result<&'static str> {
        number.clear();
        let n = self.order.apply(person % self.order.domain);
        if defect == Some(Defect::CheckDigit) {
            self.resident(n % self.residents, number)?;
            spoil_check_char(number);
            return Ok(DocumentType::ResidentId.as_str());
        }
        let kind = self.document(n, number)?;
        Ok(if defect == Some(Defect::DocumentType) {
            UNKNOWN_DOCUMENT_TYPE
        } else {
            kind.as_str()
        })
    }

    fn document(&self, n: u64, number: &mut String) -> io::Result<DocumentType> {
        if n < self.residents {
            self.resident(n, number)?;
            return Ok(DocumentType::ResidentId);
        }
        let mut rest = n - self.residents;
        if rest < self.passports {
            // Chinese ordinary passports since 2012: E and eight digits.
            number.push('E');
            push_digits(number, scatter(rest), 8);
            return Ok(DocumentType::Passport);
        }
        rest -= self.passports;
        if rest < self.hk_macau {
            // H for Hong Kong, M for Macau, about nine to one as their populations are.
            number.push(if rest.is_multiple_of(10) { 'M' } else { 'H' });
            push_digits(number, scatter(rest), 8);
            return Ok(DocumentType::HkMacauPermit);
        }
        rest -= self.hk_macau;
        push_digits(number, scatter(rest), 8);
        Ok(DocumentType::TaiwanPermit)
    }

    /// Resident ID number `n` (below `residents`): region code, birth date, sequence digits
    /// and the GB 11643 check character.
    fn resident(&self, n: u64, number: &mut String) -> io::Result<()> {
        let region = self.ends.partition_point(|end| *end <= n);
        let start = match region {
            0 => 0,
            r => self.ends[r - 1],
        };
        let (code, per_day) = REGIONS[region];
        let offset = n - start;
        let birth = self.today - Days::new(self.youngest_days + 1 + offset / per_day);
        push_digits(number, code, 6);
        push_digits(number, u64::from(birth.year().unsigned_abs()), 4);
        push_digits(number, u64::from(birth.month()), 2);
        push_digits(number, u64::from(birth.day()), 2);
        push_digits(number, offset % per_day, 3);
        let check = resident_id_check_char(number)
            .ok_or_else(|| io::Error::other("a generated resident ID body is not 17 digits"))?;
        number.push(check);
        Ok(())
    }
}

/// Replaces the check character with the next one in GB 11643's table, which is never the
/// right one.
fn spoil_check_char(number: &mut String) {
    const CHECK: &[u8; 11] = b"10X98765432";
    if let Some(right) = number.pop() {
        let at = CHECK
            .iter()
            .position(|c| char::from(*c) == right)
            .unwrap_or(0);
        number.push(char::from(CHECK[(at + 1) % CHECK.len()]));
    }
}

/// Spreads the numbers 0…10⁸ over eight digits one to one (an affine map modulo 10⁸ with a
/// multiplier prime to 10), so that consecutive people do not get consecutive numbers.
fn scatter(n: u64) -> u64 {
    (n * 48_271 + 31_415_926) % 100_000_000
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u64, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u64.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// A keyed pseudo-random permutation of `0..domain`: a four-round Feistel network on the
/// smallest even number of bits that covers the domain, cycle-walking past the values beyond
/// it (Black and Rogaway, "Ciphers with Arbitrary Finite Domains", CT-RSA 2002). It gives each
/// row a different person without remembering who has been used.
struct Permutation {
    domain: u64,
    half: u32,
    keys: [u64; 4],
}

impl Permutation {
    fn new(domain: u64, rng: &mut StdRng) -> Permutation {
        let bits = u64::BITS - domain.saturating_sub(1).leading_zeros();
        Permutation {
            domain,
            half: bits.div_ceil(2).max(1),
            keys: std::array::from_fn(|_| rng.next_u64()),
        }
    }

    /// π(x) for x below `domain`. The walk ends because `x` lies on a cycle of the network
    /// that comes back into the domain, at `x` itself at the latest.
    fn apply(&self, x: u64) -> u64 {
        let mut y = self.encipher(x);
        while y >= self.domain {
            y = self.encipher(y);
        }
        y
    }

    fn encipher(&self, x: u64) -> u64 {
        let mask = (1 << self.half) - 1;
        let (mut left, mut right) = (x >> self.half, x & mask);
        for key in self.keys {
            (left, right) = (right, left ^ (mix(right ^ key) & mask));
        }
        (left << self.half) | right
    }
}

/// The SplitMix64 finaliser (Steele, Lea and Flood, OOPSLA 2014): every input bit affects
/// every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------------
// Rows

/// What every row has: which record it is and whom it is about.
struct Head<'a> {
    lab: &'a str,
    /// Local date in the record id.
    date: NaiveDate,
    /// Row index + 1, unique in the file.
    seq: u64,
    /// The document type's wire name (or, broken, a name that is none).
    document_type: &'static str,
    number: &'a str,
    defect: Option<Defect>,
}

impl Head<'_> {
    /// `{lab}-{yyyymmdd}-{seq:08}`, with `/` instead of `-` when the record id is to be broken.
    fn write_record_id(&self, out: &mut impl Write) -> io::Result<()> {
        let sep = if self.defect == Some(Defect::RecordId) {
            '/'
        } else {
            '-'
        };
        let d = self.date;
        write!(
            out,
            "{}{sep}{:04}{:02}{:02}{sep}{:08}",
            self.lab,
            d.year(),
            d.month(),
            d.day(),
            self.seq
        )
    }
}

struct TestRow<'a> {
    head: Head<'a>,
    kind: TestKind,
    outcome: TestOutcome,
    sampled_at: DateTime<Utc>,
    resulted_at: DateTime<Utc>,
}

struct VaccinationRow<'a> {
    head: Head<'a>,
    at: DateTime<Utc>,
    /// The dose number; none for a contraindication.
    dose: Option<u8>,
    /// The product given, or the one the contraindication is against.
    product: &'static Product,
}

/// Samples are taken during the day, local time.
const SAMPLING_HOURS: (i64, i64) = (7, 21);
/// A lab reports 4 to 14 hours after sampling.
const REPORTING_HOURS: (i64, i64) = (4, 14);
/// Share of tests that are PCR (核酸); the rest are antigen tests.
const PCR_SHARE: f64 = 0.9;
const INVALID_RATE: f64 = 1.0 / 5000.0;

/// One day of mass testing: row i is person i, sampled on the local day before `now`.
struct Tests<'s> {
    people: People,
    lab: &'s str,
    tz: Tz,
    day: NaiveDate,
    /// `now` in whole seconds, as the files carry it, so that no result is after it.
    now: DateTime<Utc>,
    positive_rate: f64,
    number: String,
}

impl<'s> Tests<'s> {
    fn new(spec: &'s Spec, rng: &mut StdRng) -> Tests<'s> {
        let today = spec.now.with_timezone(&spec.tz).date_naive();
        Tests {
            people: People::new(rng, today, 0),
            lab: &spec.lab,
            tz: spec.tz,
            day: today - Days::new(1),
            now: whole_seconds(spec.now),
            positive_rate: spec.positive_rate,
            number: String::with_capacity(24),
        }
    }

    fn row(
        &mut self,
        rng: &mut StdRng,
        index: u64,
        defect: Option<Defect>,
    ) -> io::Result<TestRow<'_>> {
        let (from, to) = SAMPLING_HOURS;
        let second = rng.gen_range(from * 3600..to * 3600);
        let sampled_at = at_local(
            self.tz,
            self.day.and_time(NaiveTime::MIN) + TimeDelta::seconds(second),
        );
        let (from, to) = REPORTING_HOURS;
        let delay = TimeDelta::seconds(rng.gen_range(from * 3600..=to * 3600));
        let kind = if rng.gen_bool(PCR_SHARE) {
            TestKind::Pcr
        } else {
            TestKind::Antigen
        };
        let outcome = self.outcome(rng);
        let resulted_at = if defect == Some(Defect::Chronology) {
            sampled_at - TimeDelta::hours(1)
        } else {
            (sampled_at + delay).min(self.now)
        };
        let document_type = self.people.subject(index, defect, &mut self.number)?;
        Ok(TestRow {
            head: Head {
                lab: self.lab,
                date: self.day,
                seq: index + 1,
                document_type,
                number: &self.number,
                defect,
            },
            kind,
            outcome,
            sampled_at,
            resulted_at,
        })
    }

    fn outcome(&self, rng: &mut StdRng) -> TestOutcome {
        let draw: f64 = rng.gen_range(0.0..1.0);
        if draw < self.positive_rate {
            TestOutcome::Positive
        } else if draw < self.positive_rate + INVALID_RATE {
            TestOutcome::Invalid
        } else {
            TestOutcome::Negative
        }
    }
}

/// A vaccine product: its code in the policy's table (crates/domain/policy/default.toml), its
/// CVX code where CDC has assigned one, and the doses in its primary series (as in the
/// policy), which decide whether the next dose comes weeks or months later.
struct Product {
    code: &'static str,
    cvx: Option<&'static str>,
    name: &'static str,
    primary: u8,
}

/// Products, weighted per thousand people towards the Chinese inactivated vaccines that gave
/// most doses in China; the last takes what remains.
#[rustfmt::skip]
const PRODUCTS: [(u32, Product); 9] = [
    (460, product("sinopharm-bibp", Some("510"), "Sinopharm BIBP COVID-19 vaccine", 2)),
    (380, product("sinovac-coronavac", Some("511"), "Sinovac CoronaVac", 2)),
    (50, product("sinopharm-wibp", None, "Sinopharm WIBP COVID-19 vaccine", 2)),
    (40, product("zifivax-zf2001", None, "Zhifei ZF2001 (Zifivax)", 3)),
    (30, product("cansino-ad5", None, "CanSino Ad5-nCoV (Convidecia)", 1)),
    (20, product("pfizer-comirnaty", Some("208"), "Pfizer-BioNTech Comirnaty", 2)),
    (10, product("moderna-spikevax", Some("207"), "Moderna Spikevax", 2)),
    (5, product("astrazeneca-vaxzevria", Some("210"), "AstraZeneca Vaxzevria", 2)),
    (5, product("janssen", Some("212"), "Janssen COVID-19 vaccine", 1)),
];

const fn product(
    code: &'static str,
    cvx: Option<&'static str>,
    name: &'static str,
    primary: u8,
) -> Product {
    Product {
        code,
        cvx,
        name,
        primary,
    }
}

/// Doses a vaccinated person has, per thousand: most had a booster.
const DOSES: [(u32, usize); 3] = [(70, 1), (280, 2), (650, 3)];
const CONTRAINDICATION_RATE: f64 = 1.0 / 200.0;
/// Records go back two years.
const WINDOW_DAYS: u64 = 730;
/// A dose in the primary series follows the last after 3 to 8 weeks; a booster after 5 to 10
/// months.
const PRIMARY_GAP_DAYS: (u64, u64) = (21, 56);
const BOOSTER_GAP_DAYS: (u64, u64) = (150, 300);
/// Vaccination centres are open 08:00–17:30.
const CLINIC_MINUTES: (i64, i64) = (8 * 60, 17 * 60 + 30);
/// People vaccinated were at least three (China vaccinated from age 3), counting from two years
/// back.
const YOUNGEST_VACCINATED_DAYS: u64 = 5 * 365;

/// A vaccination centre's records: person after person, each with their doses (or a
/// contraindication) in order.
struct Vaccinations<'s> {
    people: People,
    lab: &'s str,
    tz: Tz,
    today: NaiveDate,
    now: DateTime<Utc>,
    person: u64,
    course: Course,
    number: String,
}

/// One person's records, made when their first row is due.
struct Course {
    product: &'static Product,
    contraindication: bool,
    times: [NaiveDateTime; 3],
    count: usize,
    next: usize,
}

impl<'s> Vaccinations<'s> {
    fn new(spec: &'s Spec, rng: &mut StdRng) -> Vaccinations<'s> {
        let today = spec.now.with_timezone(&spec.tz).date_naive();
        let people = People::new(rng, today, YOUNGEST_VACCINATED_DAYS);
        let course = Course::new(rng, today);
        Vaccinations {
            people,
            lab: &spec.lab,
            tz: spec.tz,
            today,
            now: whole_seconds(spec.now),
            person: 0,
            course,
            number: String::with_capacity(24),
        }
    }

    fn row(
        &mut self,
        rng: &mut StdRng,
        index: u64,
        defect: Option<Defect>,
    ) -> io::Result<VaccinationRow<'_>> {
        if self.course.next == self.course.count {
            self.person += 1;
            self.course = Course::new(rng, self.today);
        }
        let course = &mut self.course;
        let dose = course.next;
        course.next += 1;
        let at = if defect == Some(Defect::Chronology) {
            self.now + TimeDelta::days(3)
        } else {
            at_local(self.tz, course.times[dose])
        };
        let dose = (!course.contraindication).then_some(dose as u8 + 1);
        let product = course.product;
        let document_type = self.people.subject(self.person, defect, &mut self.number)?;
        Ok(VaccinationRow {
            head: Head {
                lab: self.lab,
                date: at.with_timezone(&self.tz).date_naive(),
                seq: index + 1,
                document_type,
                number: &self.number,
                defect,
            },
            at,
            dose,
            product,
        })
    }
}

impl Course {
    /// Picks the product, the number of doses and their dates: the first early enough in the
    /// window that the last is before today.
    fn new(rng: &mut StdRng, today: NaiveDate) -> Course {
        let product = pick(rng, &PRODUCTS);
        let contraindication = rng.gen_bool(CONTRAINDICATION_RATE);
        let count = if contraindication {
            1
        } else {
            *pick(rng, &DOSES)
        };
        let mut gaps = [0; 3];
        for (dose, gap) in gaps.iter_mut().enumerate().take(count).skip(1) {
            let (from, to) = if dose < usize::from(product.primary) {
                PRIMARY_GAP_DAYS
            } else {
                BOOSTER_GAP_DAYS
            };
            *gap = rng.gen_range(from..=to);
        }
        let mut back = rng.gen_range(gaps.iter().sum::<u64>() + 1..=WINDOW_DAYS);
        let mut times = [NaiveDateTime::MIN; 3];
        for (time, gap) in times.iter_mut().zip(gaps).take(count) {
            back -= gap;
            let (from, to) = CLINIC_MINUTES;
            let minute = rng.gen_range(from..to);
            let second = rng.gen_range(0..60);
            *time = (today - Days::new(back)).and_time(NaiveTime::MIN)
                + TimeDelta::seconds(minute * 60 + second);
        }
        Course {
            product,
            contraindication,
            times,
            count,
            next: 0,
        }
    }
}

/// Picks from a table of (weight per thousand, item); the last item takes what the others
/// leave.
fn pick<T, const N: usize>(rng: &mut StdRng, table: &'static [(u32, T); N]) -> &'static T {
    let mut draw = rng.gen_range(0..1000);
    for (weight, item) in &table[..N - 1] {
        if draw < *weight {
            return item;
        }
        draw -= weight;
    }
    &table[N - 1].1
}

/// The instant a local wall-clock time names. A time skipped by a daylight-saving change is
/// moved on an hour, as clocks are; a repeated one is taken the first time, as the readers take
/// it.
fn at_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => at_local(tz, local + TimeDelta::hours(1)),
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

// ---------------------------------------------------------------------------------------------
// Formats

/// A file format: how rows are laid out, and how a reader names a row's position.
trait Layout {
    fn begin(&mut self) -> io::Result<()>;
    fn test(&mut self, row: &TestRow<'_>) -> io::Result<()>;
    fn vaccination(&mut self, row: &VaccinationRow<'_>) -> io::Result<()>;
    fn end(&mut self) -> io::Result<()>;
    fn position(&self, index: u64) -> u64;
}

const TESTS_HEADER: &str =
    "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n";
const VACCINATIONS_HEADER: &str =
    "record_id,document_type,document_number,vaccinated_at,dose_number,product,event\n";

/// CSV as docs/IMPORT.md describes it. No field needs quoting: every value is a code, digits
/// or a record id, none of which may hold a comma or a quote.
struct Csv<'w, W> {
    out: &'w mut W,
    tz: Tz,
    dataset: Dataset,
}

impl<'w, W: Write> Csv<'w, W> {
    fn new(out: &'w mut W, spec: &Spec) -> Self {
        Csv {
            out,
            tz: spec.tz,
            dataset: spec.dataset,
        }
    }

    fn head(&mut self, head: &Head<'_>) -> io::Result<()> {
        head.write_record_id(self.out)?;
        write!(self.out, ",{},{},", head.document_type, head.number)
    }

    /// `2026-05-01 08:30:00` in the zone.
    fn time(&mut self, at: DateTime<Utc>) -> io::Result<()> {
        let t = at.with_timezone(&self.tz);
        write!(
            self.out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// The last field and the line's end; a row broken by a missing field stops short of it.
    fn last(&mut self, head: &Head<'_>, value: &str) -> io::Result<()> {
        if head.defect == Some(Defect::MissingField) {
            return self.out.write_all(b"\n");
        }
        writeln!(self.out, ",{value}")
    }
}

impl<W: Write> Layout for Csv<'_, W> {
    fn begin(&mut self) -> io::Result<()> {
        let header = match self.dataset {
            Dataset::Tests => TESTS_HEADER,
            Dataset::Vaccinations => VACCINATIONS_HEADER,
        };
        self.out.write_all(header.as_bytes())
    }

    fn test(&mut self, row: &TestRow<'_>) -> io::Result<()> {
        self.head(&row.head)?;
        self.time(row.sampled_at)?;
        self.out.write_all(b",")?;
        self.time(row.resulted_at)?;
        let kind = match row.kind {
            TestKind::Pcr => "pcr",
            TestKind::Antigen => "antigen",
        };
        write!(self.out, ",{kind}")?;
        let result = match (row.head.defect, row.outcome) {
            (Some(Defect::UnknownCode), _) => "inconclusive",
            (_, TestOutcome::Negative) => "negative",
            (_, TestOutcome::Positive) => "positive",
            (_, TestOutcome::Invalid) => "invalid",
        };
        self.last(&row.head, result)
    }

    fn vaccination(&mut self, row: &VaccinationRow<'_>) -> io::Result<()> {
        self.head(&row.head)?;
        self.time(row.at)?;
        let event = match row.dose {
            Some(number) => {
                write!(self.out, ",{number},{}", row.product.code)?;
                "dose"
            }
            None => {
                self.out.write_all(b",,")?;
                "contraindication"
            }
        };
        let event = if row.head.defect == Some(Defect::UnknownCode) {
            "refused"
        } else {
            event
        };
        self.last(&row.head, event)
    }

    fn end(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The header is line 1.
    fn position(&self, index: u64) -> u64 {
        index + 2
    }
}

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const CVX: &str = "http://hl7.org/fhir/sid/cvx";

/// One FHIR R4 Bundle of type `batch`, one entry per line. Every string written is a code,
/// digits, a fixed text or a record id, none of which needs JSON escaping.
struct Fhir<'w, W> {
    out: &'w mut W,
    tz: Tz,
    now: DateTime<Utc>,
    lab: &'w str,
    entries: u64,
}

impl<'w, W: Write> Fhir<'w, W> {
    fn new(out: &'w mut W, spec: &'w Spec) -> Self {
        Fhir {
            out,
            tz: spec.tz,
            now: spec.now,
            lab: &spec.lab,
            entries: 0,
        }
    }

    /// A dateTime (or instant) with the zone's offset: `2026-05-01T08:30:00+08:00`.
    fn time(&mut self, at: DateTime<Utc>) -> io::Result<()> {
        let t = at.with_timezone(&self.tz);
        let offset = t.offset().fix().local_minus_utc();
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.unsigned_abs();
        write!(
            self.out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            offset / 3600,
            offset % 3600 / 60
        )
    }

    /// Opens an entry and its resource, up to the record id in `identifier`.
    fn open(&mut self, resource_type: &str, head: &Head<'_>) -> io::Result<()> {
        let separator = if self.entries == 0 { "\n" } else { ",\n" };
        self.entries += 1;
        write!(
            self.out,
            "{separator}{{\"resource\":{{\"resourceType\":\"{resource_type}\",\"identifier\":[{{\"system\":\"urn:healthcode:provider:{}\",\"value\":\"",
            self.lab
        )?;
        head.write_record_id(self.out)?;
        self.out.write_all(b"\"}]")
    }

    /// The logical reference to the person by document; left out when that is the defect.
    fn subject(&mut self, property: &str, head: &Head<'_>) -> io::Result<()> {
        if head.defect == Some(Defect::MissingField) {
            return Ok(());
        }
        write!(
            self.out,
            ",\"{property}\":{{\"identifier\":{{\"system\":\"urn:healthcode:document:{}\",\"value\":\"{}\"}}}}",
            head.document_type, head.number
        )
    }

    fn coding(
        &mut self,
        property: &str,
        system: &str,
        code: &str,
        display: &str,
    ) -> io::Result<()> {
        write!(
            self.out,
            ",\"{property}\":{{\"coding\":[{{\"system\":\"{system}\",\"code\":\"{code}\",\"display\":\"{display}\"}}]}}"
        )
    }

    /// Closes the resource and the entry with its batch request.
    fn close(&mut self, resource_type: &str) -> io::Result<()> {
        write!(
            self.out,
            "}},\"request\":{{\"method\":\"POST\",\"url\":\"{resource_type}\"}}}}"
        )
    }
}

impl<W: Write> Layout for Fhir<'_, W> {
    fn begin(&mut self) -> io::Result<()> {
        self.out
            .write_all(b"{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"timestamp\":\"")?;
        self.time(self.now)?;
        self.out.write_all(b"\",\"entry\":[")
    }

    fn test(&mut self, row: &TestRow<'_>) -> io::Result<()> {
        self.open("Observation", &row.head)?;
        self.out.write_all(
            b",\"status\":\"final\",\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":\"laboratory\"}]}]",
        )?;
        let (code, display) = match row.kind {
            TestKind::Pcr => (
                "94500-6",
                "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe detection",
            ),
            TestKind::Antigen => (
                "94558-4",
                "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory system specimen by Rapid immunoassay",
            ),
        };
        self.coding("code", LOINC, code, display)?;
        self.subject("subject", &row.head)?;
        self.out.write_all(b",\"effectiveDateTime\":\"")?;
        self.time(row.sampled_at)?;
        self.out.write_all(b"\",\"issued\":\"")?;
        self.time(row.resulted_at)?;
        self.out.write_all(b"\"")?;
        let (code, display) = match (row.head.defect, row.outcome) {
            (Some(Defect::UnknownCode), _) => ("419984006", "Inconclusive"),
            (_, TestOutcome::Negative) => ("260385009", "Negative"),
            (_, TestOutcome::Positive) => ("10828004", "Positive"),
            (_, TestOutcome::Invalid) => ("455371000124106", "Invalid result"),
        };
        self.coding("valueCodeableConcept", SNOMED, code, display)?;
        self.close("Observation")
    }

    fn vaccination(&mut self, row: &VaccinationRow<'_>) -> io::Result<()> {
        self.open("Immunization", &row.head)?;
        let status: &[u8] = match (row.head.defect, row.dose) {
            (Some(Defect::UnknownCode), _) => b",\"status\":\"entered-in-error\"",
            (_, Some(_)) => b",\"status\":\"completed\"",
            (_, None) => {
                b",\"status\":\"not-done\",\"statusReason\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\",\"code\":\"MEDPREC\",\"display\":\"medical precaution\"}]}"
            }
        };
        self.out.write_all(status)?;
        let product = row.product;
        match product.cvx {
            Some(cvx) => self.coding("vaccineCode", CVX, cvx, product.name)?,
            None => self.coding(
                "vaccineCode",
                "urn:healthcode:vaccine",
                product.code,
                product.name,
            )?,
        }
        self.subject("patient", &row.head)?;
        self.out.write_all(b",\"occurrenceDateTime\":\"")?;
        self.time(row.at)?;
        self.out.write_all(b"\"")?;
        if let Some(number) = row.dose {
            write!(
                self.out,
                ",\"protocolApplied\":[{{\"doseNumberPositiveInt\":{number}}}]"
            )?;
        }
        self.close("Immunization")
    }

    fn end(&mut self) -> io::Result<()> {
        self.out.write_all(b"\n]}\n")
    }

    /// Entries are counted from 0.
    fn position(&self, index: u64) -> u64 {
        index
    }
}
