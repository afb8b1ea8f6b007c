//! Data providers submit evidence: labs test results, vaccination centres doses, the CDC and
//! community offices designations and their release. Each key can do only its own kind.
//!
//! Submissions are idempotent by (provider, record id): the same content again changes
//! nothing and gets the same answer; different content is stored as a correction and the
//! earlier revision kept (see `GET /api/v1/records/{record_id}`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use healthcode_domain::evidence::check_record_id;
use healthcode_domain::{
    DesignationKind, DocumentNumber, DocumentType, EvidenceError, TestKind, TestOutcome,
    TestResult, VaccinationKind,
};
use healthcode_store::{EvidenceBody, Outcome, Provider, Revision, StoreError, Stored, Submission};

use crate::error::ApiError;
use crate::extract::{
    ApiJson, ApiPath, DesignatorScope, LabScope, ProviderAuth, Scoped, VaccinationScope,
};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct SubmitOut {
    record_id: String,
    id: i64,
    revision: u32,
    outcome: Outcome,
}

type Submitted = (StatusCode, Json<SubmitOut>);

/// Record ids are the provider's own keys (rule in `healthcode_domain::evidence`).
fn record_id(raw: String) -> Result<String, ApiError> {
    check_record_id(&raw)?;
    Ok(raw)
}

fn document(kind: &str, number: &str) -> Result<DocumentNumber, ApiError> {
    Ok(DocumentNumber::parse(DocumentType::parse(kind)?, number)?)
}

/// Times are stored to the second; truncating here keeps resubmissions byte-identical. A time
/// outside 2019-12-01 to 2099-12-31 is no time of this product's records (a year mistyped as
/// 1800 or 2200) and is refused rather than stored.
pub(crate) fn second(t: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let out_of_range = || {
        ApiError::bad_request(
            "time_invalid",
            "a time must be between 2019-12-01 and 2099-12-31",
        )
    };
    if !healthcode_domain::evidence::plausible_time(t) {
        return Err(out_of_range());
    }
    t.duration_trunc(TimeDelta::seconds(1))
        .map_err(|_| out_of_range())
}

fn not_in_future(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if t > now + TimeDelta::minutes(5) {
        return Err(EvidenceError::InFuture.into());
    }
    Ok(())
}

/// Stores a submission; `supersedes` names the current revision a deliberate correction
/// replaces (see `Store::submit_superseding`).
async fn store(
    state: &AppState,
    submission: Submission,
    supersedes: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Submitted, ApiError> {
    let stored: Stored = match supersedes {
        None => state.store.submit(&submission, now).await?,
        Some(n) => state.store.submit_superseding(&submission, n, now).await?,
    };
    respond(
        state,
        submission.provider_id,
        submission.body.category(),
        submission.record_id,
        stored,
    )
}

/// Drops the people the write concerns from this node's cache, logs it, and answers.
fn respond(
    state: &AppState,
    provider_id: i64,
    category: &'static str,
    record_id: String,
    stored: Stored,
) -> Result<Submitted, ApiError> {
    state
        .cache
        .invalidate(std::iter::once(&stored.subject).chain(&stored.previous_subject));
    tracing::info!(
        provider = provider_id,
        category,
        outcome = ?stored.outcome,
        revision = stored.revision,
        "evidence submitted"
    );
    let code = if stored.outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(SubmitOut {
            record_id,
            id: stored.id,
            revision: stored.revision,
            outcome: stored.outcome,
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResultIn {
    record_id: String,
    document_type: String,
    document_number: String,
    sampled_at: DateTime<Utc>,
    resulted_at: DateTime<Utc>,
    kind: TestKind,
    result: TestOutcome,
    /// For a deliberate correction: the current revision this one replaces.
    supersedes: Option<u32>,
}

pub async fn submit_test_result(
    State(state): State<AppState>,
    Scoped(provider, _): Scoped<LabScope>,
    ApiJson(body): ApiJson<TestResultIn>,
) -> Result<Submitted, ApiError> {
    let now = state.clock.now();
    let body_supersedes = body.supersedes;
    let record_id = record_id(body.record_id)?;
    let doc = document(&body.document_type, &body.document_number)?;
    let (sampled_at, resulted_at) = (second(body.sampled_at)?, second(body.resulted_at)?);
    TestResult::check_times(sampled_at, resulted_at, now)?;
    let submission = Submission {
        provider_id: provider.id,
        record_id,
        subject: state.store.blind_index(&doc),
        body: EvidenceBody::Test {
            kind: body.kind,
            outcome: body.result,
            sampled_at,
            resulted_at,
        },
    };
    store(&state, submission, body_supersedes, now).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaccinationEventKind {
    Dose,
    Contraindication,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccinationIn {
    record_id: String,
    document_type: String,
    document_number: String,
    #[serde(default = "dose")]
    kind: VaccinationEventKind,
    dose_number: Option<u8>,
    product: Option<String>,
    administered_at: DateTime<Utc>,
    /// For a deliberate correction: the current revision this one replaces.
    supersedes: Option<u32>,
}

fn dose() -> VaccinationEventKind {
    VaccinationEventKind::Dose
}

pub async fn submit_vaccination(
    State(state): State<AppState>,
    Scoped(provider, _): Scoped<VaccinationScope>,
    ApiJson(body): ApiJson<VaccinationIn>,
) -> Result<Submitted, ApiError> {
    let now = state.clock.now();
    let body_supersedes = body.supersedes;
    let record_id = record_id(body.record_id)?;
    let doc = document(&body.document_type, &body.document_number)?;
    let at = second(body.administered_at)?;
    not_in_future(at, now)?;
    let kind = match body.kind {
        VaccinationEventKind::Dose => {
            let number = body
                .dose_number
                .filter(|n| (1..=10).contains(n))
                .ok_or(EvidenceError::DoseNumber)?;
            let product = body.product.ok_or_else(|| {
                ApiError::bad_request("vaccine_product_missing", "a dose needs a product code")
            })?;
            if !state.policy.knows_product(&product) {
                return Err(EvidenceError::UnknownProduct.into());
            }
            VaccinationKind::Dose { number, product }
        }
        VaccinationEventKind::Contraindication => VaccinationKind::Contraindication,
    };
    let submission = Submission {
        provider_id: provider.id,
        record_id,
        subject: state.store.blind_index(&doc),
        body: EvidenceBody::Vaccination { kind, at },
    };
    store(&state, submission, body_supersedes, now).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignationIn {
    record_id: String,
    document_type: String,
    document_number: String,
    kind: DesignationKind,
    started_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    /// For a deliberate correction: the current revision this one replaces.
    supersedes: Option<u32>,
}

fn may_designate(provider: &Provider, kind: DesignationKind) -> Result<(), ApiError> {
    if provider.kind.may_designate(kind) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "a {} key cannot designate or release {}",
            provider.kind.as_str(),
            kind.as_str()
        )))
    }
}

/// Designates a person. Resubmitting a designation that has since been released does not
/// undo the release, unless it now starts after the release: that is a new period of the
/// designation, in force again (see `Store::submit`).
///
/// A record id already used for a test result or vaccination is refused by the store as a
/// change of category.
pub async fn submit_designation(
    State(state): State<AppState>,
    Scoped(provider, _): Scoped<DesignatorScope>,
    ApiJson(body): ApiJson<DesignationIn>,
) -> Result<Submitted, ApiError> {
    may_designate(&provider, body.kind)?;
    let now = state.clock.now();
    let body_supersedes = body.supersedes;
    let record_id = record_id(body.record_id)?;
    let doc = document(&body.document_type, &body.document_number)?;
    let started_at = second(body.started_at)?;
    not_in_future(started_at, now)?;
    let ends_at = body.ends_at.map(second).transpose()?;
    if ends_at.is_some_and(|e| e <= started_at) {
        return Err(EvidenceError::EndBeforeStart.into());
    }
    let submission = Submission {
        provider_id: provider.id,
        record_id,
        subject: state.store.blind_index(&doc),
        // A release already made is kept by the store (see `Store::submit`).
        body: EvidenceBody::Designation {
            kind: body.kind,
            started_at,
            ends_at,
            released_at: None,
            exposure: None,
        },
    };
    store(&state, submission, body_supersedes, now).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseIn {
    record_id: String,
    released_at: DateTime<Utc>,
}

/// Releases a designation: a new revision of the record with its release time, written in
/// one transaction with the read of the current revision.
pub async fn release_designation(
    State(state): State<AppState>,
    Scoped(provider, _): Scoped<DesignatorScope>,
    ApiJson(body): ApiJson<ReleaseIn>,
) -> Result<Submitted, ApiError> {
    let now = state.clock.now();
    let record_id = record_id(body.record_id)?;
    let released = second(body.released_at)?;
    not_in_future(released, now)?;
    let allowed: Vec<DesignationKind> = DesignationKind::ALL
        .into_iter()
        .filter(|k| provider.kind.may_designate(*k))
        .collect();
    let stored = state
        .store
        .release(provider.id, &record_id, released, &allowed, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::not_found("this provider has no designation with that record_id")
            }
            other => other.into(),
        })?;
    respond(&state, provider.id, "designation", record_id, stored)
}

#[derive(Debug, Serialize)]
pub struct HistoryOut {
    record_id: String,
    revisions: Vec<Revision>,
}

/// Every revision of one of the caller's records, oldest first.
pub async fn record_history(
    State(state): State<AppState>,
    ProviderAuth(provider): ProviderAuth,
    ApiPath(record_id): ApiPath<String>,
) -> Result<Json<HistoryOut>, ApiError> {
    let revisions = state.store.history(provider.id, &record_id).await?;
    if revisions.is_empty() {
        return Err(ApiError::not_found(
            "this provider has no record with that id",
        ));
    }
    Ok(Json(HistoryOut {
        record_id,
        revisions,
    }))
}
