//! The paper pass pages (纸质通行证): a resident prints a pass for someone with no phone (or for
//! themselves), reprints it when the sheet is lost (which revokes the old one) or revokes it.
//!
//! The sheet carries the masked identity and a signed QR that names the pass, not a status;
//! a gate looks the pass up online (`routes::passes`). It prints on A6 or A4 through named
//! CSS pages (`@page a6`, `@page a4` in app.css), chosen with `?size=`.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::pages::{error_page, failed, html, local, see_other};
use super::session::Page;
use crate::error::ApiError;
use crate::routes::passes::pass_text;
use crate::routes::residents::{self, qr_svg};
use crate::state::AppState;

/// The paper a sheet is printed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    A6,
    A4,
}

impl Paper {
    pub fn class(self) -> &'static str {
        match self {
            Paper::A6 => "a6",
            Paper::A4 => "a4",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PassQuery {
    size: Option<String>,
}

/// What the printed sheet shows.
pub struct Sheet {
    pub masked_name: String,
    pub masked_document: String,
    pub document_type: &'static str,
    pub qr_svg: String,
    pub issued: String,
    pub printed: String,
}

#[derive(Template)]
#[template(path = "pass.html")]
struct PassPage {
    page: Page,
    sheet: Option<Sheet>,
    paper: Paper,
    script: &'static str,
}

/// The sheet of the person's live pass, if they have one.
async fn sheet_for(
    state: &AppState,
    page: &Page,
    person_id: i64,
) -> Result<Option<Sheet>, ApiError> {
    let Some(pass) = state.store.live_paper_pass(person_id).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let entry = residents::load(state, person_id, now).await?;
    let text = pass_text(state, &entry.who, &pass)?;
    let tz = state.region.tz();
    Ok(Some(Sheet {
        masked_name: entry.who.masked_name.clone(),
        masked_document: entry.who.masked_document.clone(),
        document_type: page.lang.document_type(entry.who.document_type),
        qr_svg: qr_svg(&text)?,
        issued: local(pass.created_at, tz, "%Y-%m-%d"),
        printed: local(now, tz, "%Y-%m-%d"),
    }))
}

/// `GET /pass`: the live pass ready to print, or the form that issues one.
pub async fn pass(
    State(state): State<AppState>,
    page: Page,
    query: Result<Query<PassQuery>, QueryRejection>,
) -> Response {
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    let paper = match query.ok().and_then(|Query(q)| q.size).as_deref() {
        Some("a4") => Paper::A4,
        _ => Paper::A6,
    };
    match sheet_for(&state, &page, session.person_id).await {
        Ok(sheet) => html(
            StatusCode::OK,
            PassPage {
                page,
                sheet,
                paper,
                script: super::assets::path("pass.js"),
            }
            .render(),
        ),
        Err(e) => failed(page.lang, &e),
    }
}

/// The forms carry only their CSRF token, which the middleware has already checked.
#[derive(Debug, Default, Deserialize)]
pub struct EmptyForm {}

/// `POST /pass`: issues a pass, revoking the one before, and shows it.
pub async fn issue(
    State(state): State<AppState>,
    page: Page,
    form: Result<Form<EmptyForm>, FormRejection>,
) -> Response {
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    if form.is_err() {
        return error_page(page.lang, StatusCode::BAD_REQUEST, page.t.error_csrf);
    }
    let now = state.clock.now();
    match state.store.issue_paper_pass(session.person_id, now).await {
        Ok(_) => see_other("/pass"),
        Err(e) => failed(page.lang, &ApiError::from(e)),
    }
}

/// `POST /pass/revoke`: revokes the live pass; a gate refuses it from now on.
pub async fn revoke(
    State(state): State<AppState>,
    page: Page,
    form: Result<Form<EmptyForm>, FormRejection>,
) -> Response {
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    if form.is_err() {
        return error_page(page.lang, StatusCode::BAD_REQUEST, page.t.error_csrf);
    }
    let now = state.clock.now();
    match state
        .store
        .revoke_paper_passes(session.person_id, now)
        .await
    {
        Ok(_) => see_other("/pass"),
        Err(e) => failed(page.lang, &ApiError::from(e)),
    }
}
