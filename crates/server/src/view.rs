//! How a status looks from outside: labels in Chinese and English, the masked identity, and
//! every reason with the evidence it cites spelled out.

use chrono::{DateTime, Utc};
use serde::Serialize;

use healthcode_domain::evidence::EvidenceItem;
use healthcode_domain::{
    Colour, Declared, Evidence, Exposure, ExposureSource, Reason, ReminderKind, Status,
    VaccinationState,
};

use crate::cache::CodeSubject;

#[derive(Debug, Serialize)]
pub struct Label {
    pub zh: &'static str,
    pub en: &'static str,
}

/// Everything about a status: the summary, and the reasons with the evidence they cite.
#[derive(Debug, Serialize)]
pub struct StatusView<'a> {
    #[serde(flatten)]
    pub summary: StatusSummary<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<Label>,
    pub evaluated_at: DateTime<Utc>,
    pub reasons: Vec<ReasonView<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ReminderView {
    pub number: u8,
    pub code: ReminderKind,
    pub zh: &'static str,
    pub en: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RecencyView {
    pub days: u32,
    /// As shown on the code: 0天, 1天, …
    pub display: String,
    pub within_hours: u32,
    pub sampled_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct VaccinationView {
    pub state: VaccinationState,
    pub zh: &'static str,
    pub en: &'static str,
}

/// A reason with its text. Serialised as the reason's own fields, except that the id of the
/// evidence it cites is replaced by that evidence, under the same key `evidence` (one key,
/// not two: JSON parsers disagree on duplicates).
#[derive(Debug)]
pub struct ReasonView<'a> {
    pub reason: Reason,
    pub zh: String,
    pub en: String,
    /// The evidence the reason cites, as stored (no personal identifiers in it).
    pub evidence: Option<EvidenceItem<'a>>,
}

impl Serialize for ReasonView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut fields = match serde_json::to_value(self.reason).map_err(S::Error::custom)? {
            serde_json::Value::Object(fields) => fields,
            _ => return Err(S::Error::custom("a reason serialises as an object")),
        };
        fields.insert("zh".into(), self.zh.clone().into());
        fields.insert("en".into(), self.en.clone().into());
        if let Some(item) = &self.evidence {
            fields.insert(
                "evidence".into(),
                serde_json::to_value(item).map_err(S::Error::custom)?,
            );
        }
        fields.serialize(s)
    }
}

/// The summary returned with a code: what the screen around the QR shows. The reasons and
/// their evidence are at `GET /api/v1/me/status`; the app polls for codes far more often
/// than anyone reads the explanation.
#[derive(Debug, Serialize)]
pub struct StatusSummary<'a> {
    pub colour: Colour,
    pub label: Label,
    pub masked_name: &'a str,
    pub masked_document: &'a str,
    pub no_data: bool,
    pub reminders: Vec<ReminderView>,
    pub test_recency: Option<RecencyView>,
    pub vaccination: VaccinationView,
    pub valid_until: DateTime<Utc>,
    pub policy_version: &'a str,
}

pub fn status_summary<'a>(
    status: &Status,
    who: &'a CodeSubject,
    policy_version: &'a str,
) -> StatusSummary<'a> {
    StatusSummary {
        colour: status.colour,
        label: colour_label(status.colour),
        masked_name: &who.masked_name,
        masked_document: &who.masked_document,
        no_data: status.no_data,
        reminders: reminder_views(status),
        test_recency: recency_view(status),
        vaccination: vaccination_view(status.vaccination),
        valid_until: status.valid_until,
        policy_version,
    }
}

fn colour_label(c: Colour) -> Label {
    Label {
        zh: c.label_zh(),
        en: c.label_en(),
    }
}

fn reminder_views(status: &Status) -> Vec<ReminderView> {
    status
        .reminders
        .iter()
        .map(|&r| ReminderView {
            number: r.number(),
            code: r,
            zh: r.label_zh(),
            en: r.label_en(),
        })
        .collect()
}

fn recency_view(status: &Status) -> Option<RecencyView> {
    status.test_recency.map(|r| RecencyView {
        days: r.days,
        display: format!("{}天", r.days),
        within_hours: r.within_hours,
        sampled_at: r.sampled_at,
    })
}

fn vaccination_view(v: VaccinationState) -> VaccinationView {
    VaccinationView {
        state: v,
        zh: v.label_zh(),
        en: v.label_en(),
    }
}

pub fn status_view<'a>(
    status: &'a Status,
    who: &'a CodeSubject,
    evidence: &'a Evidence,
    policy_version: &'a str,
) -> StatusView<'a> {
    StatusView {
        summary: status_summary(status, who, policy_version),
        notice: status.no_data.then_some(Label {
            zh: "健康宝暂无您的防疫信息。完成核酸检测后结果将自动显示；如有疑问可申请纠错。",
            en: "We have no health information for you yet. Your next test result will appear here automatically; if you believe this is wrong, you can appeal.",
        }),
        evaluated_at: status.evaluated_at,
        reasons: status
            .reasons
            .iter()
            .map(|r| {
                let (zh, en) = reason_text(r, evidence);
                ReasonView {
                    reason: *r,
                    zh,
                    en,
                    evidence: r.evidence().and_then(|id| evidence.find(id)),
                }
            })
            .collect(),
    }
}

fn reason_text(r: &Reason, evidence: &Evidence) -> (String, String) {
    let item = r.evidence().and_then(|id| evidence.find(id));
    // Who the evidence came from, in each language: a provider's name as registered, or the
    // person themselves.
    let (by_zh, by_en, record) = match item {
        Some(EvidenceItem::Test(t)) => (
            t.meta.provider.as_str(),
            t.meta.provider.as_str(),
            t.meta.record_id.as_str(),
        ),
        Some(EvidenceItem::Vaccination(v)) => (
            v.meta.provider.as_str(),
            v.meta.provider.as_str(),
            v.meta.record_id.as_str(),
        ),
        Some(EvidenceItem::Designation(d)) => (
            d.meta.provider.as_str(),
            d.meta.provider.as_str(),
            d.meta.record_id.as_str(),
        ),
        Some(EvidenceItem::Declaration(d)) => {
            ("自主申报", "self-declared", d.meta.record_id.as_str())
        }
        None => ("", "", ""),
    };
    let (visit_zh, visit_en) = match item {
        Some(EvidenceItem::Designation(d)) => {
            d.exposure.as_ref().map(exposure_text).unwrap_or_default()
        }
        Some(EvidenceItem::Declaration(d)) => declared_text(&d.declared),
        _ => Default::default(),
    };
    match r {
        Reason::Designation { kind, colour, .. } => (
            format!(
                "{}{visit_zh}（{by_zh}，记录 {record}）→ {}",
                designation_zh(*kind),
                colour.label_zh()
            ),
            format!(
                "{}{visit_en} designated by {by_en} (record {record}) → {}",
                kind.as_str().replace('_', " "),
                colour.as_str()
            ),
        ),
        Reason::AntigenPositiveAwaitingPcr { colour, .. } => (
            format!(
                "抗原阳性，待核酸复核（{by_zh}，记录 {record}）→ {}",
                colour.label_zh()
            ),
            format!(
                "positive antigen test awaiting PCR ({by_en}, record {record}) → {}",
                colour.as_str()
            ),
        ),
        Reason::PcrPositive { colour, .. } => (
            format!("核酸阳性（{by_zh}，记录 {record}）→ {}", colour.label_zh()),
            format!(
                "positive PCR test ({by_en}, record {record}) → {}",
                colour.as_str()
            ),
        ),
        Reason::Reminder {
            reminder, until, ..
        } => {
            let until_zh = until
                .map(|u| format!("，至 {}", u.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            let until_en = until
                .map(|u| format!(", until {}", u.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            (
                format!(
                    "弹窗{}：{}{visit_zh}（{by_zh}，记录 {record}{until_zh}）",
                    reminder.number(),
                    reminder.label_zh()
                ),
                format!(
                    "reminder {}: {}{visit_en} ({by_en}, record {record}{until_en})",
                    reminder.number(),
                    reminder.label_en()
                ),
            )
        }
        Reason::NoRisk => (
            "无生效中的风险判定".to_owned(),
            "no designation or result in force that changes the colour".to_owned(),
        ),
        Reason::NoData => (
            "暂无防疫信息".to_owned(),
            "no health information yet".to_owned(),
        ),
    }
}

/// What a person declared, as a clause: the symptoms and since when, or where from and when.
fn declared_text(d: &Declared) -> (String, String) {
    match d {
        Declared::Symptoms { symptoms, onset } => {
            let zh: Vec<&str> = symptoms.iter().map(|s| s.label_zh()).collect();
            let en: Vec<&str> = symptoms.iter().map(|s| s.label_en()).collect();
            (
                format!("：{onset} 起{}", zh.join("、")),
                format!(": {} since {onset}", en.join(", ")),
            )
        }
        Declared::Arrival { from, arrived_at } => {
            let when = arrived_at.format("%Y-%m-%d %H:%M UTC");
            (
                format!("：{when} 自{from}抵达"),
                format!(": arrived from {from} at {when}"),
            )
        }
    }
}

/// The visit behind an exposure designation, as a clause: where, when, and what made it one.
fn exposure_text(e: &Exposure) -> (String, String) {
    let when = e.visited_at.format("%Y-%m-%d %H:%M UTC");
    match &e.source {
        ExposureSource::RiskArea { name, level, .. } => (
            format!(
                "：{when} 到访 {}（{}），属{}「{name}」",
                e.venue,
                e.district,
                level.label_zh()
            ),
            format!(
                ": visited {} ({}) at {when}, in the {} risk area \"{name}\"",
                e.venue,
                e.district,
                level.as_str()
            ),
        ),
        ExposureSource::Case { case_id } => (
            format!(
                "：{when} 在 {}（{}）与确诊病例（病例 {case_id}）时空伴随",
                e.venue, e.district
            ),
            format!(
                ": at {} ({}) at {when}, at the same time as confirmed case {case_id}",
                e.venue, e.district
            ),
        ),
    }
}

fn designation_zh(kind: healthcode_domain::DesignationKind) -> &'static str {
    use healthcode_domain::DesignationKind::*;
    match kind {
        ConfirmedCase => "确诊病例",
        CloseContact => "密切接触者",
        InboundQuarantine => "入境隔离",
        HomeObservation => "居家观察",
        CoPresence => "时空伴随",
        RiskAreaVisit => "到访高风险区域",
        CaseCountyStay => "本土疫情县旅居",
        RiskLink => "时空关联",
        Arrival => "抵达报备",
        BorderPortStay => "边境口岸城市旅居",
    }
}
