//! The declare page (自主申报): a health declaration (symptoms and the day they began) and a
//! trip declaration (where from, when), each its own form; the person's declarations so far;
//! and how a declaration reads on the why page. Both forms declare through the API's
//! `routes::declarations::record`, so the rules and the daily cap are the same.
//!
//! A refused form comes back with the field named and what was typed kept, like registering.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use healthcode_domain::{Declaration, DeclarationError, Declared, Symptom};

use super::i18n::{Lang, Texts};
use super::pages::{Detail, error_page, html};
use super::session::Page;
use crate::error::ApiError;
use crate::routes::declarations::record;
use crate::routes::residents::load;
use crate::state::AppState;

struct SymptomOption {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

struct FieldError {
    field: &'static str,
    message: &'static str,
}

/// What the two forms hold: as typed, so that a refused form shows it again.
#[derive(Default)]
struct Typed {
    symptoms: Vec<String>,
    onset: String,
    from: String,
    arrived_at: String,
}

struct DeclarationRow {
    kind: &'static str,
    details: Vec<Detail>,
}

#[derive(Template)]
#[template(path = "declare.html")]
struct DeclarePage {
    page: Page,
    symptoms: Vec<SymptomOption>,
    typed: Typed,
    today: String,
    errors: Vec<FieldError>,
    mine: Vec<DeclarationRow>,
}

impl DeclarePage {
    fn error_for(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message)
    }
}

fn local(t: DateTime<Utc>, tz: Tz, fmt: &str) -> String {
    t.with_timezone(&tz).format(fmt).to_string()
}

/// The rows the why page and this page show for a declaration.
pub(super) fn details(lang: Lang, d: &Declaration, tz: Tz) -> Vec<Detail> {
    let t = lang.texts();
    let when = |at: DateTime<Utc>| local(at, tz, "%Y-%m-%d %H:%M");
    let mut rows = vec![Detail {
        label: t.why_kind,
        value: kind_text(t, &d.declared).to_owned(),
    }];
    match &d.declared {
        Declared::Symptoms { symptoms, onset } => {
            let names: Vec<&str> = symptoms
                .iter()
                .map(|s| lang.pick(s.label_zh(), s.label_en()))
                .collect();
            rows.push(Detail {
                label: t.why_symptoms,
                value: names.join(lang.pick("、", ", ")),
            });
            rows.push(Detail {
                label: t.why_onset,
                value: onset.format("%Y-%m-%d").to_string(),
            });
        }
        Declared::Arrival { from, arrived_at } => {
            rows.push(Detail {
                label: t.why_arrived_from,
                value: from.clone(),
            });
            rows.push(Detail {
                label: t.why_arrived_at,
                value: when(*arrived_at),
            });
        }
    }
    rows.push(Detail {
        label: t.why_declared_at,
        value: when(d.declared_at),
    });
    rows.push(Detail {
        label: t.why_self_declared,
        value: lang.pick("自主申报", "Self-declared").to_owned(),
    });
    rows.push(Detail {
        label: t.why_record,
        value: d.meta.record_id.clone(),
    });
    rows
}

fn kind_text(t: &Texts, d: &Declared) -> &'static str {
    match d {
        Declared::Symptoms { .. } => t.declare_kind_symptoms,
        Declared::Arrival { .. } => t.declare_kind_arrival,
    }
}

async fn declare_page(
    state: &AppState,
    page: Page,
    typed: Typed,
    errors: Vec<FieldError>,
) -> Response {
    let lang = page.lang;
    let Some(session) = &page.session else {
        return Redirect::to("/signin").into_response();
    };
    let now = state.clock.now();
    let tz = state.region.tz();
    let entry = match load(state, session.person_id, now).await {
        Ok(e) => e,
        Err(e) => return error_page(lang, e.status, lang.texts().error_internal),
    };
    let mine = entry
        .evidence
        .declarations
        .iter()
        .rev()
        .map(|d| DeclarationRow {
            kind: kind_text(lang.texts(), &d.declared),
            details: details(lang, d, tz),
        })
        .collect();
    let symptoms = Symptom::ALL
        .into_iter()
        .map(|s| SymptomOption {
            value: s.as_str(),
            label: lang.pick(s.label_zh(), s.label_en()),
            checked: typed.symptoms.iter().any(|t| t == s.as_str()),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let today = local(now, tz, "%Y-%m-%d");
    html(
        status,
        DeclarePage {
            page,
            symptoms,
            typed,
            today,
            errors,
            mine,
        }
        .render(),
    )
}

/// `GET /declare`: both forms, filled with today and now.
pub async fn form(State(state): State<AppState>, page: Page) -> Response {
    let now = state.clock.now();
    let tz = state.region.tz();
    let typed = Typed {
        onset: local(now, tz, "%Y-%m-%d"),
        arrived_at: local(now, tz, "%Y-%m-%dT%H:%M"),
        ..Typed::default()
    };
    declare_page(&state, page, typed, Vec::new()).await
}

/// The form's fields; `symptoms` may come many times (one per ticked box).
fn parse_form(body: &[u8]) -> Typed {
    let mut typed = Typed::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "symptoms" => typed.symptoms.push(v.into_owned()),
            "onset" => typed.onset = v.into_owned(),
            "from" => typed.from = v.into_owned(),
            "arrived_at" => typed.arrived_at = v.into_owned(),
            _ => {}
        }
    }
    typed
}

/// What a refused declaration says, and next to which field.
fn refusal(t: &Texts, e: DeclarationError, time_field: &'static str) -> FieldError {
    let (field, message) = match e {
        DeclarationError::SymptomsEmpty => ("symptoms", t.declare_err_symptoms_empty),
        DeclarationError::SymptomUnknown => ("symptoms", t.declare_err_symptom_unknown),
        DeclarationError::From(_) => ("from", t.declare_err_from),
        DeclarationError::TimeInvalid => (time_field, t.declare_err_date),
        DeclarationError::InFuture => (time_field, t.declare_err_future),
    };
    FieldError { field, message }
}

/// Stores the declaration and goes back to the code, or shows the form again with why not.
async fn finish(
    state: &AppState,
    page: Page,
    typed: Typed,
    declared: Result<Declared, FieldError>,
    first_field: &'static str,
) -> Response {
    let lang = page.lang;
    let Some(session) = &page.session else {
        return Redirect::to("/signin").into_response();
    };
    let declared = match declared {
        Ok(d) => d,
        Err(e) => return declare_page(state, page, typed, vec![e]).await,
    };
    let now = state.clock.now();
    match record(state, session.person_id, declared, now).await {
        Ok(_) => Redirect::to("/code").into_response(),
        Err(ApiError {
            code: "declarations_limit",
            ..
        }) => {
            let e = FieldError {
                field: first_field,
                message: lang.texts().declare_err_limit,
            };
            declare_page(state, page, typed, vec![e]).await
        }
        Err(e) => error_page(lang, e.status, lang.texts().error_internal),
    }
}

/// `POST /declare/symptoms`.
pub async fn symptoms(State(state): State<AppState>, page: Page, body: Bytes) -> Response {
    let tz = state.region.tz();
    let mut typed = parse_form(&body);
    // The other form was not sent: shown again, it holds its defaults.
    typed.arrived_at = local(state.clock.now(), tz, "%Y-%m-%dT%H:%M");
    let t = page.t;
    let declared = match NaiveDate::parse_from_str(typed.onset.trim(), "%Y-%m-%d") {
        Ok(onset) => Declared::symptoms(&typed.symptoms, onset, tz, state.clock.now())
            .map_err(|e| refusal(t, e, "onset")),
        // Nothing ticked is the first thing to say; a missing date the next.
        Err(_) if typed.symptoms.is_empty() => {
            Err(refusal(t, DeclarationError::SymptomsEmpty, "onset"))
        }
        Err(_) => Err(FieldError {
            field: "onset",
            message: t.declare_err_date,
        }),
    };
    finish(&state, page, typed, declared, "symptoms").await
}

/// `datetime-local`'s value (`YYYY-MM-DDTHH:MM`, seconds optional) in the region's time.
fn local_time(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `POST /declare/arrival`.
pub async fn arrival(State(state): State<AppState>, page: Page, body: Bytes) -> Response {
    let tz = state.region.tz();
    let mut typed = parse_form(&body);
    typed.onset = local(state.clock.now(), tz, "%Y-%m-%d");
    typed.symptoms.clear();
    let t = page.t;
    let declared = match local_time(&typed.arrived_at, tz) {
        Some(at) => Declared::arrival(&typed.from, at, state.clock.now())
            .map_err(|e| refusal(t, e, "arrived_at")),
        None => match Declared::arrival(&typed.from, state.clock.now(), state.clock.now()) {
            // The place is wrong too: say that first, it comes first on the form.
            Err(e @ DeclarationError::From(_)) => Err(refusal(t, e, "arrived_at")),
            _ => Err(FieldError {
                field: "arrived_at",
                message: t.declare_err_date,
            }),
        },
    };
    finish(&state, page, typed, declared, "from").await
}
