//! `healthcode demo`: a seeded demo region on the embedded database.
//!
//! Seeds one lab, one vaccination centre, one CDC office and one community office, and 1,000
//! residents in a realistic mix of states, all relative to the moment of seeding. Writes
//! `DATA_DIR/demo.json` with what scripts need to drive it. Everything is made up: names from
//! common surnames and given-name characters, resident ID numbers with valid check digits.
//! Seeding is deterministic for a given seed, apart from the keys and times.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use healthcode_domain::document::resident_id_check_char;
use healthcode_domain::{
    DesignationKind, DocumentNumber, DocumentType, PersonName, PhoneNumber, TestKind, TestOutcome,
    VaccinationKind,
};
use healthcode_server::auth::{new_device_key, new_provider_key, new_session_token};
use healthcode_server::extract::secret_hash;
use healthcode_store::{EvidenceBody, ProviderKind, Store, Submission};

pub const RESIDENTS: usize = 1000;

#[derive(Debug, Serialize, Deserialize)]
pub struct DemoFile {
    pub base_url: String,
    pub region: String,
    pub trust_list: String,
    pub providers: DemoProviders,
    pub residents: Vec<DemoResident>,
    /// Venues, each with one gate device.
    #[serde(default)]
    pub venues: Vec<DemoVenue>,
    /// Where the server's Prometheus metrics are read (docs/OPERATIONS.md), if they are served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_url: Option<String>,
    /// The bearer token `metrics_url` asks for, when it is on the main listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DemoVenue {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub district: String,
    /// The key of the venue's gate device.
    pub device_key: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DemoProviders {
    pub lab: DemoProvider,
    pub vaccination: DemoProvider,
    pub cdc: DemoProvider,
    pub community: DemoProvider,
    /// The health authority's operator (venues, risk areas, cases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<DemoProvider>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DemoProvider {
    pub name: String,
    pub api_key: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DemoResident {
    pub document_type: DocumentType,
    pub document_number: String,
    pub name: String,
    pub token: String,
    /// What the seeding gave this person (`green_recent_test`, `close_contact`, …).
    pub profile: String,
}

const SURNAMES: [&str; 30] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "欧阳", "司马",
];
const GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "辉", "建", "国", "红", "云",
    "海", "鹏", "宇", "浩", "欣", "怡", "子", "涵",
];
const LATIN: [(&str, &str); 8] = [
    ("SMITH", "JOHN"),
    ("MÜLLER", "ANNA"),
    ("TANAKA", "YUKI"),
    ("KIM", "MINJUN"),
    ("DUBOIS", "CLAIRE"),
    ("ROSSI", "MARCO"),
    ("IVANOV", "PAVEL"),
    ("GARCIA", "LUCIA"),
];
/// Beijing district codes (GB/T 2260) for resident ID numbers.
const DISTRICTS: [&str; 8] = [
    "110101", "110102", "110105", "110106", "110107", "110108", "110111", "110114",
];

/// Profiles and their weight out of 1,000.
const PROFILES: [(&str, u32); 14] = [
    ("green_recent_test", 520),
    ("green_stale_test", 90),
    ("no_data", 50),
    ("vaccination_only", 30),
    ("home_observation", 50),
    ("close_contact", 25),
    ("confirmed_case", 10),
    ("inbound_quarantine", 10),
    ("inbound_quarantine_released", 20),
    ("antigen_positive_awaiting_pcr", 20),
    ("arrival_untested", 60),
    ("case_county_stay", 50),
    ("risk_link", 40),
    ("border_port_stay", 25),
];

struct Seeder<'a> {
    store: &'a dyn Store,
    rng: StdRng,
    now: DateTime<Utc>,
    lab: i64,
    vaccination: i64,
    cdc: i64,
    community: i64,
    next_record: u64,
}

/// Seeds providers and residents into `store` and returns the demo description (without the
/// base URL, which is known only once the server listens).
/// The demo's venues: name, type, district, address.
const DEMO_VENUES: [(&str, &str, &str, &str); 4] = [
    ("西单站 Xidan Station", "subway", "西城区", "西单北大街"),
    (
        "西单大悦城 Joy City Xidan",
        "mall",
        "西城区",
        "西单北大街131号",
    ),
    (
        "国贸大厦 China World Tower",
        "office",
        "朝阳区",
        "建国门外大街1号",
    ),
    (
        "国家体育场 National Stadium",
        "large_event",
        "朝阳区",
        "国家体育场南路1号",
    ),
];

pub async fn seed(
    store: &dyn Store,
    region: &str,
    trust_list: &Path,
    now: DateTime<Utc>,
    seed: u64,
) -> Result<DemoFile> {
    let mut providers = Vec::new();
    let mut ids = Vec::new();
    for (kind, name) in [
        (ProviderKind::Lab, "北京市第三方检测实验室 Beijing Lab 1"),
        (
            ProviderKind::Vaccination,
            "朝阳区疫苗接种点 Chaoyang Vaccination Centre",
        ),
        (ProviderKind::Cdc, "北京市疾控中心 Beijing CDC"),
        (
            ProviderKind::Community,
            "建外街道社区 Jianwai Community Office",
        ),
    ] {
        let key = new_provider_key();
        let p = store
            .add_provider(kind, name, &secret_hash(&key), now)
            .await
            .context("adding demo provider")?;
        ids.push(p.id);
        providers.push(DemoProvider {
            name: name.to_owned(),
            api_key: key,
        });
    }
    let mut seeder = Seeder {
        store,
        rng: StdRng::seed_from_u64(seed),
        now,
        lab: ids[0],
        vaccination: ids[1],
        cdc: ids[2],
        community: ids[3],
        next_record: 1,
    };
    let mut residents = Vec::with_capacity(RESIDENTS);
    let mut profiles: Vec<&str> = PROFILES
        .iter()
        .flat_map(|(p, n)| std::iter::repeat_n(*p, *n as usize))
        .collect();
    profiles.shuffle(&mut seeder.rng);
    for profile in profiles.into_iter().take(RESIDENTS) {
        residents.push(seeder.resident(profile).await?);
    }
    let operator_name = "北京市疫情防控指挥部 Beijing Epidemic Control Office";
    let operator_key = new_provider_key();
    store
        .add_provider(
            ProviderKind::Operator,
            operator_name,
            &secret_hash(&operator_key),
            now,
        )
        .await
        .context("adding the demo operator")?;
    let mut venues = Vec::new();
    for (name, kind, district, address) in DEMO_VENUES {
        let v = store
            .add_venue(name, kind, district, address, now)
            .await
            .context("adding a demo venue")?;
        let device_key = new_device_key();
        store
            .add_device(v.id, "闸机 1 gate 1", &secret_hash(&device_key), now)
            .await
            .context("adding a demo gate")?;
        venues.push(DemoVenue {
            id: v.id,
            name: v.name,
            kind: v.kind,
            district: v.district,
            device_key,
        });
    }
    let mut providers = providers.into_iter();
    let mut next = || {
        providers
            .next()
            .ok_or_else(|| anyhow::anyhow!("four providers were created"))
    };
    Ok(DemoFile {
        base_url: String::new(),
        region: region.to_owned(),
        trust_list: trust_list.display().to_string(),
        providers: DemoProviders {
            lab: next()?,
            vaccination: next()?,
            cdc: next()?,
            community: next()?,
            operator: Some(DemoProvider {
                name: operator_name.to_owned(),
                api_key: operator_key,
            }),
        },
        residents,
        venues,
        metrics_url: None,
        metrics_token: None,
    })
}

/// Signs the demo's residents in again with fresh week-long sessions, so that a demo region
/// reused after its tokens ended keeps working.
pub async fn refresh_tokens(
    store: &dyn Store,
    demo: &mut DemoFile,
    now: DateTime<Utc>,
) -> Result<()> {
    for r in &mut demo.residents {
        let doc = DocumentNumber::parse(r.document_type, &r.document_number)?;
        let person = store
            .person_by_document(&doc)
            .await?
            .context("demo.json names a resident the database does not have")?;
        let token = new_session_token();
        store
            .create_session(
                person.id,
                &secret_hash(&token),
                now,
                now + Duration::days(7),
            )
            .await?;
        r.token = token;
    }
    Ok(())
}

impl Seeder<'_> {
    /// A time between `lo` and `hi` hours ago, in whole minutes as providers send them.
    fn hours_ago(&mut self, lo: i64, hi: i64) -> DateTime<Utc> {
        let now = DateTime::from_timestamp(self.now.timestamp() / 60 * 60, 0).unwrap_or(self.now);
        now - Duration::minutes(self.rng.gen_range(lo * 60..hi * 60))
    }

    fn document(&mut self) -> Result<DocumentNumber> {
        let r: u32 = self.rng.gen_range(0..100);
        let (kind, raw) = if r < 92 {
            let district = DISTRICTS[self.rng.gen_range(0..DISTRICTS.len())];
            let year = self.rng.gen_range(1940..2016);
            let month = self.rng.gen_range(1..=12);
            let day = self.rng.gen_range(1..=28);
            let seq = self.rng.gen_range(0..1000);
            let body = format!("{district}{year:04}{month:02}{day:02}{seq:03}");
            let check = resident_id_check_char(&body).context("17 digits")?;
            (DocumentType::ResidentId, format!("{body}{check}"))
        } else if r < 96 {
            (
                DocumentType::Passport,
                format!("E{:08}", self.rng.gen_range(0..100_000_000)),
            )
        } else if r < 98 {
            (
                DocumentType::HkMacauPermit,
                format!("H{:08}", self.rng.gen_range(0..100_000_000)),
            )
        } else {
            (
                DocumentType::TaiwanPermit,
                format!("{:08}", self.rng.gen_range(0..100_000_000)),
            )
        };
        Ok(DocumentNumber::parse(kind, &raw)?)
    }

    fn name(&mut self, kind: DocumentType) -> String {
        if kind == DocumentType::Passport {
            let (s, g) = LATIN[self.rng.gen_range(0..LATIN.len())];
            return format!("{s}, {g}");
        }
        let mut n = SURNAMES[self.rng.gen_range(0..SURNAMES.len())].to_owned();
        for _ in 0..self.rng.gen_range(1..=2) {
            n.push_str(GIVEN[self.rng.gen_range(0..GIVEN.len())]);
        }
        n
    }

    async fn submit(
        &mut self,
        provider: i64,
        doc: &DocumentNumber,
        body: EvidenceBody,
    ) -> Result<()> {
        let record_id = format!("DEMO-{:06}", self.next_record);
        self.next_record += 1;
        self.store
            .submit(
                &Submission {
                    provider_id: provider,
                    record_id,
                    subject: self.store.blind_index(doc),
                    body,
                },
                self.now,
            )
            .await?;
        Ok(())
    }

    async fn pcr(
        &mut self,
        doc: &DocumentNumber,
        outcome: TestOutcome,
        hours_ago: (i64, i64),
    ) -> Result<()> {
        let sampled_at = self.hours_ago(hours_ago.0, hours_ago.1);
        let resulted_at = (sampled_at + Duration::hours(self.rng.gen_range(4..12)))
            .min(self.hours_ago(0, 1).max(sampled_at));
        self.submit(
            self.lab,
            doc,
            EvidenceBody::Test {
                kind: TestKind::Pcr,
                outcome,
                sampled_at,
                resulted_at,
            },
        )
        .await
    }

    async fn designate(
        &mut self,
        doc: &DocumentNumber,
        kind: DesignationKind,
        days_ago: (i64, i64),
        ends_in_days: Option<i64>,
        released: bool,
    ) -> Result<()> {
        let started_at = self.hours_ago(days_ago.0 * 24, days_ago.1 * 24);
        let provider = if ProviderKind::Cdc.may_designate(kind) {
            self.cdc
        } else {
            self.community
        };
        let released_at = released.then(|| self.hours_ago(1, 48).max(started_at));
        self.submit(
            provider,
            doc,
            EvidenceBody::Designation {
                kind,
                started_at,
                ends_at: ends_in_days.map(|d| started_at + Duration::days(d)),
                released_at,
                exposure: None,
            },
        )
        .await
    }

    /// Doses in a realistic spread over the five vaccination states; with `some`, at least one
    /// record.
    async fn vaccinations(&mut self, doc: &DocumentNumber, some: bool) -> Result<()> {
        let r: u32 = self.rng.gen_range(0..if some { 92 } else { 100 });
        let products = [
            "sinovac-coronavac",
            "sinopharm-bibp",
            "cansino-ad5",
            "zifivax-zf2001",
        ];
        let product = products[self.rng.gen_range(0..products.len())];
        let doses: u8 = match r {
            0..=59 => 3,
            60..=79 => 2,
            80..=87 => 1,
            88..=91 => {
                let at = self.hours_ago(2000, 9000);
                return self
                    .submit(
                        self.vaccination,
                        doc,
                        EvidenceBody::Vaccination {
                            kind: VaccinationKind::Contraindication,
                            at,
                        },
                    )
                    .await;
            }
            _ => 0,
        };
        for number in 1..=doses {
            let days = 900 - i64::from(number) * 120;
            let at = self.hours_ago(days * 24, days * 24 + 240);
            self.submit(
                self.vaccination,
                doc,
                EvidenceBody::Vaccination {
                    kind: VaccinationKind::Dose {
                        number,
                        product: product.to_owned(),
                    },
                    at,
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn resident(&mut self, profile: &str) -> Result<DemoResident> {
        let doc = self.document()?;
        let name_text = self.name(doc.kind());
        let name = PersonName::parse(&name_text)?;
        let phone =
            PhoneNumber::parse(&format!("13{:09}", self.rng.gen_range(0..1_000_000_000u64)))?;
        let person = self
            .store
            .register(&doc, &name, Some(&phone), self.now)
            .await?;
        let token = new_session_token();
        // Demo sessions last a week so that scripts keep working across midnight; real
        // sessions end at 24:00 (daily re-verification).
        self.store
            .create_session(
                person.id,
                &secret_hash(&token),
                self.now,
                self.now + Duration::days(7),
            )
            .await?;

        if profile != "no_data" {
            if profile != "vaccination_only" {
                // Earlier routine tests, then the profile's own evidence.
                for _ in 0..self.rng.gen_range(1..5) {
                    self.pcr(&doc, TestOutcome::Negative, (5 * 24, 14 * 24))
                        .await?;
                }
            }
            self.vaccinations(&doc, profile == "vaccination_only")
                .await?;
        }
        use DesignationKind::*;
        match profile {
            "green_recent_test" => self.pcr(&doc, TestOutcome::Negative, (12, 72)).await?,
            "home_observation" => {
                self.designate(&doc, HomeObservation, (1, 6), Some(7), false)
                    .await?
            }
            "close_contact" => {
                self.designate(&doc, CloseContact, (1, 5), Some(14), false)
                    .await?
            }
            "confirmed_case" => {
                self.pcr(&doc, TestOutcome::Positive, (30, 60)).await?;
                self.designate(&doc, ConfirmedCase, (0, 1), None, false)
                    .await?;
            }
            "inbound_quarantine" => {
                self.designate(&doc, InboundQuarantine, (1, 10), Some(14), false)
                    .await?
            }
            "inbound_quarantine_released" => {
                self.designate(&doc, InboundQuarantine, (15, 19), None, true)
                    .await?
            }
            "antigen_positive_awaiting_pcr" => {
                let sampled_at = self.hours_ago(2, 20);
                self.submit(
                    self.lab,
                    &doc,
                    EvidenceBody::Test {
                        kind: TestKind::Antigen,
                        outcome: TestOutcome::Positive,
                        sampled_at,
                        resulted_at: sampled_at,
                    },
                )
                .await?
            }
            "arrival_untested" => self.designate(&doc, Arrival, (0, 2), None, false).await?,
            "case_county_stay" => {
                self.designate(&doc, CaseCountyStay, (1, 10), None, false)
                    .await?
            }
            "risk_link" => self.designate(&doc, RiskLink, (0, 3), None, false).await?,
            "border_port_stay" => {
                self.designate(&doc, BorderPortStay, (1, 10), None, false)
                    .await?
            }
            _ => {}
        }
        Ok(DemoResident {
            document_type: doc.kind(),
            document_number: doc.expose().to_owned(),
            name: name_text,
            token,
            profile: profile.to_owned(),
        })
    }
}
