//! The resident's side: enrol (through the identity provider), see my status, get my code.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use healthcode_credential::{CodeClaims, issue_code};
use healthcode_domain::engine::next_local_midnight;
use healthcode_domain::{DocumentNumber, DocumentType, PersonName, PhoneNumber, Status, evaluate};
use healthcode_store::StoreError;

use crate::auth::new_session_token;

use crate::cache::{CodeSubject, Entry, IssuedCode};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Resident, ResidentSession, secret_hash};
use crate::identity::Claim;
use crate::state::AppState;
use crate::view::{StatusSummary, status_summary, status_view};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolIn {
    document_type: String,
    document_number: String,
    name: String,
    phone: Option<String>,
    /// Enrol again after losing a passkey: revokes the person's passkeys.
    #[serde(default)]
    recover: bool,
}

#[derive(Debug, Serialize)]
pub struct EnrolOut {
    token: String,
    /// Sessions end at 24:00 local time: re-verification is daily, as in Beijing.
    expires_at: DateTime<Utc>,
    masked_name: String,
    masked_document: String,
    registered: bool,
}

/// How many sessions a sign-out ended.
#[derive(Debug, Serialize)]
pub struct Ended {
    ended: u64,
}

/// Signs out: ends the session whose token the request carries, on this node at once and on
/// every node's cache within its backstop (docs/SECURITY.md).
pub async fn logout(
    State(state): State<AppState>,
    session: ResidentSession,
) -> Result<Json<Ended>, ApiError> {
    let ended = state
        .store
        .end_sessions(session.person_id, Some(&session.token_hash))
        .await?;
    state
        .cache
        .forget_sessions(session.person_id, Some(&session.token_hash));
    Ok(Json(Ended { ended }))
}

/// Signs out everywhere: ends every session of the person, this one included (a lost phone).
pub async fn logout_everywhere(
    State(state): State<AppState>,
    session: ResidentSession,
) -> Result<Json<Ended>, ApiError> {
    let ended = state.store.end_sessions(session.person_id, None).await?;
    state.cache.forget_sessions(session.person_id, None);
    tracing::info!(ended, "signed out everywhere");
    Ok(Json(Ended { ended }))
}

/// What a person claims when enrolling, checked by the domain's parsers.
pub(crate) struct Enrolment {
    pub document: DocumentNumber,
    pub name: PersonName,
    pub phone: Option<PhoneNumber>,
    /// A fresh proofing after losing a passkey: the person's passkeys are revoked and their
    /// sessions ended.
    pub recover: bool,
}

/// Proofs the claim with the identity provider, then registers the person or finds them.
/// Someone who has a passkey is not signed in this way (anyone who knows a name and a
/// document number could) unless `recover` says they lost it, which revokes their passkeys
/// and ends their sessions. Returns the person and whether they were registered just now.
pub(crate) async fn proof_and_register(
    state: &AppState,
    enrolment: Enrolment,
) -> Result<(healthcode_store::Person, bool), ApiError> {
    let recover = enrolment.recover;
    let (person, registered) = proofed_person(state, enrolment).await?;
    let now = state.clock.now();
    if !registered && state.store.has_passkey(person.id).await? {
        if !recover {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "passkey_required",
                "this person has a passkey: sign in with it; if it is lost, enrol again with \"recover\": true, which revokes the old passkeys",
            ));
        }
        let revoked = state.store.revoke_passkeys(person.id, now).await?;
        state.store.end_sessions(person.id, None).await?;
        state.cache.forget_sessions(person.id, None);
        tracing::info!(
            person = person.id,
            revoked,
            "passkeys revoked after a fresh proofing"
        );
    }
    Ok((person, registered))
}

/// Proofs the claim with the identity provider, then finds the person or registers them.
/// Returns the person and whether they were registered just now. Signs nobody in.
pub(crate) async fn proofed_person(
    state: &AppState,
    enrolment: Enrolment,
) -> Result<(healthcode_store::Person, bool), ApiError> {
    let identity = state.identity.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_unavailable",
            "no identity provider is configured on this server",
        )
    })?;
    let Enrolment {
        document,
        name,
        phone,
        recover: _,
    } = enrolment;
    let claim = Claim {
        document: document.clone(),
        name: name.clone(),
    };
    identity
        .proof(&claim)
        .await
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "identity_refused", e.to_string()))?;

    let now = state.clock.now();
    let (person, registered) = match state.store.person_by_document(&document).await? {
        Some(existing) if existing.name == name => (existing, false),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "document_registered",
                "this document is registered under another name; use the appeal process to correct it",
            ));
        }
        None => match state
            .store
            .register(&document, &name, phone.as_ref(), now)
            .await
        {
            Ok(p) => (p, true),
            // Two enrolments of one document raced; the other one won.
            Err(StoreError::Conflict(_)) => {
                let p = state
                    .store
                    .person_by_document(&document)
                    .await?
                    .ok_or_else(ApiError::internal)?;
                if p.name != name {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "document_registered",
                        "this document is registered under another name",
                    ));
                }
                (p, false)
            }
            Err(e) => return Err(e.into()),
        },
    };
    tracing::info!(
        person = person.id,
        provider = identity.name(),
        registered,
        "enrolled"
    );
    Ok((person, registered))
}

/// Opens a session for the person, ending at 24:00 local time: re-verification is daily.
pub(crate) async fn open_session(
    state: &AppState,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let token = new_session_token();
    let expires_at = next_local_midnight(now, state.region.tz());
    state
        .store
        .create_session(person_id, &secret_hash(&token), now, expires_at)
        .await?;
    Ok((token, expires_at))
}

/// Registers a person (or signs in a registered one without a passkey) after the identity
/// provider confirms the claim, and returns a session token.
pub async fn enrol(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnrolIn>,
) -> Result<(StatusCode, Json<EnrolOut>), ApiError> {
    let kind = DocumentType::parse(&body.document_type)?;
    let enrolment = Enrolment {
        document: DocumentNumber::parse(kind, &body.document_number)?,
        name: PersonName::parse(&body.name)?,
        phone: body.phone.as_deref().map(PhoneNumber::parse).transpose()?,
        recover: body.recover,
    };
    if state.identity.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_unavailable",
            "no identity provider is configured on this server",
        ));
    }
    let (person, registered) = proof_and_register(&state, enrolment).await?;
    let now = state.clock.now();
    let (token, expires_at) = open_session(&state, person.id, now).await?;
    let status = if registered {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(EnrolOut {
            token,
            expires_at,
            masked_name: person.name.masked(),
            masked_document: person.document.masked(),
            registered,
        }),
    ))
}

/// The person's cached identity fields and evidence, loading them if stale.
pub(crate) async fn load(
    state: &AppState,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<Entry, ApiError> {
    if let Some(e) = state.cache.person(person_id, now) {
        return Ok(e);
    }
    let epoch = state.cache.epoch();
    let person = state.store.person(person_id).await?;
    let evidence = state.store.evidence_for(&person.doc_index).await?;
    let who = CodeSubject {
        person_id,
        doc_index: person.doc_index,
        subject: person.subject,
        masked_name: person.name.masked(),
        masked_document: person.document.masked(),
        document_type: person.document.kind(),
    };
    Ok(state.cache.put_person(who, evidence, epoch, now))
}

pub(crate) fn evaluate_entry(state: &AppState, entry: &Entry, now: DateTime<Utc>) -> Status {
    evaluate(&entry.evidence, &state.policy, state.region.tz(), now)
}

pub async fn status(
    State(state): State<AppState>,
    Resident(person_id): Resident,
) -> Result<Response, ApiError> {
    status_of(&state, person_id).await
}

/// The status answer for a person: theirs, or a dependant's for their guardian.
pub(crate) async fn status_of(state: &AppState, person_id: i64) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let entry = load(state, person_id, now).await?;
    let status = evaluate_entry(state, &entry, now);
    let body = serde_json::to_vec(&status_view(
        &status,
        &entry.who,
        &entry.evidence,
        &state.policy.version,
    ))
    .map_err(|_| ApiError::internal())?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// `include=svg` adds the QR as SVG to the response.
    include: Option<String>,
}

#[derive(Serialize)]
struct CodeOut<'a> {
    code: &'a str,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qr_svg: Option<String>,
    status: StatusSummary<'a>,
}

/// The person's code for their status at `now`: the one signed for them moments ago if it
/// says exactly this (see `ServerConfig::code_reuse`), otherwise a fresh one. A code expires
/// after the policy's code lifetime, and never after the status itself.
pub(crate) fn code_for(
    state: &AppState,
    entry: &Entry,
    status: &Status,
    epoch: u64,
    now: DateTime<Utc>,
) -> Result<Arc<IssuedCode>, ApiError> {
    let issued_at = now
        .duration_trunc(TimeDelta::seconds(1))
        .map_err(|_| ApiError::internal())?;
    let valid_until = status
        .valid_until
        .duration_trunc(TimeDelta::seconds(1))
        .map_err(|_| ApiError::internal())?;
    let test_recency_days = status.test_recency.map(|r| r.days);
    let reuse = state.config.code_reuse;
    if reuse > TimeDelta::zero()
        && let Some(previous) = state.cache.code(entry.who.person_id)
    {
        let c = &previous.claims;
        let fresh = issued_at >= c.issued_at && issued_at - c.issued_at < reuse;
        let same = c.colour == status.colour
            && c.reminders == status.reminders
            && c.test_recency_days == test_recency_days
            && c.vaccination == status.vaccination
            && c.status_valid_until == valid_until;
        if fresh && same {
            return Ok(previous);
        }
    }
    let claims = CodeClaims {
        region: state.region.id().to_owned(),
        subject: entry.who.subject,
        issued_at,
        expires_at: (issued_at + state.policy.code_lifetime).min(valid_until),
        colour: status.colour,
        reminders: status.reminders.clone(),
        test_recency_days,
        vaccination: status.vaccination,
        masked_name: entry.who.masked_name.clone(),
        masked_document: entry.who.masked_document.clone(),
        document_type: entry.who.document_type,
        status_valid_until: valid_until,
    };
    let code = issue_code(&claims, &state.issuer()).map_err(|e| {
        tracing::error!(error = %e, "code signing failed");
        ApiError::internal()
    })?;
    let issued = Arc::new(IssuedCode {
        code,
        claims,
        qr_svg: std::sync::OnceLock::new(),
    });
    if reuse > TimeDelta::zero() {
        state.cache.put_code(&entry.who, issued.clone(), epoch);
    }
    Ok(issued)
}

pub async fn code(
    State(state): State<AppState>,
    Resident(person_id): Resident,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> Result<Response, ApiError> {
    code_of(&state, person_id, &q).await
}

/// The code answer for a person: theirs, or a dependant's for their guardian.
pub(crate) async fn code_of(
    state: &AppState,
    person_id: i64,
    q: &CodeQuery,
) -> Result<Response, ApiError> {
    let want_svg = match q.include.as_deref() {
        None => false,
        Some("svg") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "include may only be svg",
            ));
        }
    };
    let now = state.clock.now();
    let epoch = state.cache.epoch();
    let entry = load(state, person_id, now).await?;
    let status = evaluate_entry(state, &entry, now);
    let issued = code_for(state, &entry, &status, epoch, now)?;
    let qr_svg = want_svg
        .then(|| qr_svg_of(&issued).map(|s| s.to_string()))
        .transpose()?;
    let body = serde_json::to_vec(&CodeOut {
        code: &issued.code,
        issued_at: issued.claims.issued_at,
        expires_at: issued.claims.expires_at,
        qr_svg,
        status: status_summary(&status, &entry.who, &state.policy.version),
    })
    .map_err(|_| ApiError::internal())?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The code as a QR image. Rendering costs about a millisecond, which is why it is a separate
/// request from the code itself.
pub async fn code_svg(
    State(state): State<AppState>,
    Resident(person_id): Resident,
) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now();
    let epoch = state.cache.epoch();
    let entry = load(&state, person_id, now).await?;
    let status = evaluate_entry(&state, &entry, now);
    let issued = code_for(&state, &entry, &status, epoch, now)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        qr_svg_of(&issued)?.to_string(),
    ))
}

/// The QR of an issued code as SVG, rendered once per code however often it is shown.
pub(crate) fn qr_svg_of(issued: &IssuedCode) -> Result<Arc<str>, ApiError> {
    if let Some(svg) = issued.qr_svg.get() {
        return Ok(svg.clone());
    }
    let svg: Arc<str> = qr_svg(&issued.code)?.into();
    Ok(issued.qr_svg.get_or_init(|| svg).clone())
}

/// A QR as SVG in module units (scaled by whoever shows it), each run of dark modules in a row
/// one rectangle of the path: a few kilobytes where one rectangle per module is several times
/// that, which matters on a page fetched again at every status change.
pub(crate) fn qr_svg(code: &str) -> Result<String, ApiError> {
    use std::fmt::Write;
    // Codes are upper-case base45 behind an upper-case prefix: all QR alphanumeric-mode
    // characters, which the encoder picks by itself.
    let qr = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| ApiError::internal())?;
    const QUIET: usize = 4;
    let width = qr.width();
    let dark = qr.to_colors();
    let size = width + 2 * QUIET;
    let mut d = String::with_capacity(width * width);
    for (y, row) in dark.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] != qrcode::Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] == qrcode::Color::Dark {
                x += 1;
            }
            let (left, top) = (start + QUIET, y + QUIET);
            let _ = write!(d, "M{left} {top}h{}v1H{left}V{top}", x - start);
        }
    }
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="{d}"/></svg>"##
    ))
}
