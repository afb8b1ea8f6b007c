//! An evidence row: the columns each kind of [`EvidenceBody`] occupies (a declaration's
//! details are JSON in `declaration`, migration 0010), how a new row is bound
//! to its `INSERT` ([`NewEvidence`]) and read back ([`body_from_row`]), and a subject's current
//! evidence in the domain's terms. It does not decide which revision a row is or whether to
//! write it (sql/revisions.rs, sql/bulk.rs), nor where a subject's rows are found
//! (sql/subjects.rs).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use healthcode_domain::{
    Declaration, Designation, DesignationKind, Evidence, EvidenceMeta, TestKind, TestOutcome,
    TestResult, Vaccination, VaccinationKind,
};

use super::subjects::{self, subject_key};
use super::{SqlStore, from_secs, to_revision};
use crate::error::StoreError;
use crate::model::EvidenceBody;
use crate::vault::DocIndex;

/// The start of every insert into `evidence`, up to its `VALUES`. Each row's values are bound
/// in this order by [`NewEvidence::bind`], with `is_current` written as the literal 1.
pub(super) const INSERT_EVIDENCE: &str = "INSERT INTO evidence (provider_id, record_id, revision, \
     is_current, subject_index, subject_key, category, test_kind, test_outcome, sampled_at, resulted_at, \
     dose_number, product, designation_kind, started_at, ends_at, released_at, at, \
     content_hash, received_at, exposure, declaration) VALUES";

/// The 21 values of one new evidence row.
pub(super) struct NewEvidence<'a> {
    pub(super) provider_id: i64,
    pub(super) record_id: &'a str,
    pub(super) revision: i64,
    pub(super) subject: &'a DocIndex,
    pub(super) body: &'a EvidenceBody,
    pub(super) hash: Vec<u8>,
    pub(super) received_at: DateTime<Utc>,
}

impl<'a> NewEvidence<'a> {
    /// Binds the row's values, in [`INSERT_EVIDENCE`]'s column order.
    pub(super) fn bind(
        self,
        q: sqlx::query::Query<'a, Any, sqlx::any::AnyArguments<'a>>,
    ) -> sqlx::query::Query<'a, Any, sqlx::any::AnyArguments<'a>> {
        let cols = Columns::of(self.body);
        q.bind(self.provider_id)
            .bind(self.record_id)
            .bind(self.revision)
            .bind(self.subject.0.to_vec())
            .bind(subject_key(self.subject))
            .bind(self.body.category())
            .bind(cols.test_kind)
            .bind(cols.test_outcome)
            .bind(cols.sampled_at)
            .bind(cols.resulted_at)
            .bind(cols.dose_number)
            .bind(cols.product)
            .bind(cols.designation_kind)
            .bind(cols.started_at)
            .bind(cols.ends_at)
            .bind(cols.released_at)
            .bind(cols.at)
            .bind(self.hash)
            .bind(self.received_at.timestamp())
            .bind(cols.exposure)
            .bind(cols.declaration)
    }
}

/// The typed columns an [`EvidenceBody`] occupies; the rest stay NULL.
#[derive(Default)]
struct Columns {
    test_kind: Option<&'static str>,
    test_outcome: Option<&'static str>,
    sampled_at: Option<i64>,
    resulted_at: Option<i64>,
    dose_number: Option<i64>,
    product: Option<String>,
    designation_kind: Option<&'static str>,
    started_at: Option<i64>,
    ends_at: Option<i64>,
    released_at: Option<i64>,
    at: Option<i64>,
    exposure: Option<String>,
    declaration: Option<String>,
}

impl Columns {
    fn of(body: &EvidenceBody) -> Columns {
        match body {
            EvidenceBody::Test {
                kind,
                outcome,
                sampled_at,
                resulted_at,
            } => Columns {
                test_kind: Some(test_kind_str(*kind)),
                test_outcome: Some(outcome_str(*outcome)),
                sampled_at: Some(sampled_at.timestamp()),
                resulted_at: Some(resulted_at.timestamp()),
                ..Columns::default()
            },
            EvidenceBody::Vaccination { kind, at } => match kind {
                VaccinationKind::Dose { number, product } => Columns {
                    dose_number: Some(i64::from(*number)),
                    product: Some(product.clone()),
                    at: Some(at.timestamp()),
                    ..Columns::default()
                },
                VaccinationKind::Contraindication => Columns {
                    at: Some(at.timestamp()),
                    ..Columns::default()
                },
            },
            EvidenceBody::Designation {
                kind,
                started_at,
                ends_at,
                released_at,
                exposure,
            } => Columns {
                designation_kind: Some(kind.as_str()),
                started_at: Some(started_at.timestamp()),
                ends_at: ends_at.map(|t| t.timestamp()),
                released_at: released_at.map(|t| t.timestamp()),
                // A struct of strings, integers and a timestamp always serialises.
                exposure: exposure
                    .as_ref()
                    .and_then(|e| serde_json::to_string(e).ok()),
                ..Columns::default()
            },
            EvidenceBody::Declaration {
                declared,
                declared_at,
            } => Columns {
                at: Some(declared_at.timestamp()),
                // An enum of strings, dates and a timestamp always serialises.
                declaration: serde_json::to_string(declared).ok(),
                ..Columns::default()
            },
        }
    }
}

/// The body as [`body_from_row`] reads it back once stored: its typed times to the second
/// (the columns hold Unix seconds). What the transparency log commits to, so that a record
/// read back matches its leaf.
pub(super) fn as_stored(body: &EvidenceBody) -> EvidenceBody {
    let s = |t: &DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(*t);
    match body {
        EvidenceBody::Test {
            kind,
            outcome,
            sampled_at,
            resulted_at,
        } => EvidenceBody::Test {
            kind: *kind,
            outcome: *outcome,
            sampled_at: s(sampled_at),
            resulted_at: s(resulted_at),
        },
        EvidenceBody::Vaccination { kind, at } => EvidenceBody::Vaccination {
            kind: kind.clone(),
            at: s(at),
        },
        EvidenceBody::Designation {
            kind,
            started_at,
            ends_at,
            released_at,
            exposure,
        } => EvidenceBody::Designation {
            kind: *kind,
            started_at: s(started_at),
            ends_at: ends_at.as_ref().map(s),
            released_at: released_at.as_ref().map(s),
            exposure: exposure.clone(),
        },
        EvidenceBody::Declaration {
            declared,
            declared_at,
        } => EvidenceBody::Declaration {
            declared: declared.clone(),
            declared_at: s(declared_at),
        },
    }
}

pub(super) fn body_from_row(r: &AnyRow) -> Result<EvidenceBody, StoreError> {
    let category: String = r.try_get("category")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("evidence row: {what}"));
    let time = |col: &str| -> Result<DateTime<Utc>, StoreError> {
        from_secs(
            r.try_get::<Option<i64>, _>(col)?
                .ok_or_else(|| corrupt(col))?,
        )
    };
    let opt_time = |col: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        r.try_get::<Option<i64>, _>(col)?.map(from_secs).transpose()
    };
    match category.as_str() {
        "test" => {
            let kind = match r.try_get::<Option<String>, _>("test_kind")?.as_deref() {
                Some("pcr") => TestKind::Pcr,
                Some("antigen") => TestKind::Antigen,
                _ => return Err(corrupt("test_kind")),
            };
            let outcome = match r.try_get::<Option<String>, _>("test_outcome")?.as_deref() {
                Some("negative") => TestOutcome::Negative,
                Some("positive") => TestOutcome::Positive,
                Some("invalid") => TestOutcome::Invalid,
                _ => return Err(corrupt("test_outcome")),
            };
            Ok(EvidenceBody::Test {
                kind,
                outcome,
                sampled_at: time("sampled_at")?,
                resulted_at: time("resulted_at")?,
            })
        }
        "vaccination" => {
            let kind = match r.try_get::<Option<i64>, _>("dose_number")? {
                Some(n) => VaccinationKind::Dose {
                    number: u8::try_from(n).map_err(|_| corrupt("dose_number"))?,
                    product: r
                        .try_get::<Option<String>, _>("product")?
                        .ok_or_else(|| corrupt("product"))?,
                },
                None => VaccinationKind::Contraindication,
            };
            Ok(EvidenceBody::Vaccination {
                kind,
                at: time("at")?,
            })
        }
        "designation" => {
            let kind = r
                .try_get::<Option<String>, _>("designation_kind")?
                .as_deref()
                .and_then(DesignationKind::parse)
                .ok_or_else(|| corrupt("designation_kind"))?;
            Ok(EvidenceBody::Designation {
                kind,
                started_at: time("started_at")?,
                ends_at: opt_time("ends_at")?,
                released_at: opt_time("released_at")?,
                exposure: r
                    .try_get::<Option<String>, _>("exposure")?
                    .map(|j| serde_json::from_str(&j).map_err(|_| corrupt("exposure")))
                    .transpose()?,
            })
        }
        "declaration" => Ok(EvidenceBody::Declaration {
            declared: r
                .try_get::<Option<String>, _>("declaration")?
                .and_then(|j| serde_json::from_str(&j).ok())
                .ok_or_else(|| corrupt("declaration"))?,
            declared_at: time("at")?,
        }),
        _ => Err(corrupt("category")),
    }
}

fn test_kind_str(k: TestKind) -> &'static str {
    match k {
        TestKind::Pcr => "pcr",
        TestKind::Antigen => "antigen",
    }
}

fn outcome_str(o: TestOutcome) -> &'static str {
    match o {
        TestOutcome::Negative => "negative",
        TestOutcome::Positive => "positive",
        TestOutcome::Invalid => "invalid",
    }
}

/// A subject's current evidence: `$1` its key, `$2` its whole blind index. Built once.
static EVIDENCE_FOR: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT e.*, p.name AS provider_name FROM evidence e \
         JOIN providers p ON p.id = e.provider_id \
         WHERE e.id IN ({}) AND e.subject_index = $2 \
         AND e.is_current = 1 ORDER BY e.id",
        subjects::EVIDENCE_IDS
    )
});

pub(super) async fn evidence_for(
    store: &SqlStore,
    subject: &DocIndex,
) -> Result<Evidence, StoreError> {
    let rows = sqlx::query(&EVIDENCE_FOR)
        .bind(subject_key(subject))
        .bind(subject.0.to_vec())
        .fetch_all(&store.pool)
        .await?;
    let mut evidence = Evidence::default();
    for r in &rows {
        let meta = EvidenceMeta {
            id: r.try_get("id")?,
            provider: r.try_get("provider_name")?,
            record_id: r.try_get("record_id")?,
            revision: to_revision(r.try_get("revision")?)?,
        };
        match body_from_row(r)? {
            EvidenceBody::Test {
                kind,
                outcome,
                sampled_at,
                resulted_at,
            } => evidence.tests.push(TestResult {
                meta,
                kind,
                outcome,
                sampled_at,
                resulted_at,
            }),
            EvidenceBody::Vaccination { kind, at } => {
                evidence.vaccinations.push(Vaccination { meta, kind, at })
            }
            EvidenceBody::Designation {
                kind,
                started_at,
                ends_at,
                released_at,
                exposure,
            } => evidence.designations.push(Designation {
                meta,
                kind,
                started_at,
                ends_at,
                released_at,
                exposure,
            }),
            EvidenceBody::Declaration {
                declared,
                declared_at,
            } => evidence.declarations.push(Declaration {
                meta,
                declared,
                declared_at,
            }),
        }
    }
    Ok(evidence)
}
