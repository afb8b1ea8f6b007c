//! The pages: home, register, create a passkey, sign in, my code (and its card, which the
//! script fetches again when the status changes or the code nears expiry), why this colour,
//! preferences and sign-out.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use healthcode_domain::evidence::EvidenceItem;
use healthcode_domain::{
    Colour, DocumentNumber, DocumentType, PersonError, PersonName, PhoneNumber, Reason, Status,
};

use super::assets;
use super::i18n::{Lang, Texts};
use super::session::{Page, end_session_cookie, lang_cookie, large_cookie, session_cookie};
use crate::error::ApiError;
use crate::routes::residents::{self, Enrolment};
use crate::state::AppState;

/// A page's response: the rendered page, never cached (pages show personal data).
pub(crate) fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    lang: Lang,
    t: &'static Texts,
    css: &'static str,
    message: &'static str,
}

/// A page that says what went wrong, in the visitor's language.
pub fn error_page(lang: Lang, status: StatusCode, message: &'static str) -> Response {
    html(
        status,
        ErrorPage {
            lang,
            t: lang.texts(),
            css: assets::path("app.css"),
            message,
        }
        .render(),
    )
}

/// An API error met while building a page, as a page.
pub(crate) fn failed(lang: Lang, e: &ApiError) -> Response {
    let t = lang.texts();
    let message = match e.status {
        StatusCode::NOT_FOUND => t.error_not_found,
        StatusCode::TOO_MANY_REQUESTS => t.error_busy,
        StatusCode::SERVICE_UNAVAILABLE => t.error_identity_unavailable,
        _ => t.error_internal,
    };
    error_page(lang, e.status, message)
}

// ---------------------------------------------------------------------------------------
// Home

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    page: Page,
}

pub async fn home(page: Page) -> Response {
    if page.signed_in() {
        return see_other("/code");
    }
    html(StatusCode::OK, HomePage { page }.render())
}

// ---------------------------------------------------------------------------------------
// Register

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    name: String,
    document_type: String,
    document_number: String,
    phone: String,
    recover: Option<String>,
}

pub(crate) struct FieldError {
    pub field: &'static str,
    pub message: &'static str,
}

pub(crate) struct DocTypeOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// The document types a form offers, `chosen` (or the resident identity card) selected.
pub(crate) fn doc_type_options(lang: Lang, chosen: &str) -> Vec<DocTypeOption> {
    let chosen = if chosen.is_empty() {
        DocumentType::ResidentId.as_str()
    } else {
        chosen
    };
    DocumentType::ALL
        .into_iter()
        .map(|t| DocTypeOption {
            value: t.as_str(),
            label: lang.document_type(t),
            selected: t.as_str() == chosen,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    page: Page,
    form: RegisterForm,
    errors: Vec<FieldError>,
    doc_types: Vec<DocTypeOption>,
}

impl RegisterPage {
    fn error_for(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message)
    }
}

fn register_page(page: Page, form: RegisterForm, errors: Vec<FieldError>) -> Response {
    let doc_types = doc_type_options(page.lang, &form.document_type);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html(
        status,
        RegisterPage {
            page,
            form,
            errors,
            doc_types,
        }
        .render(),
    )
}

pub async fn register_form(page: Page) -> Response {
    register_page(page, RegisterForm::default(), Vec::new())
}

/// The text for a refused name: the domain's code is one for all three cases.
fn name_error_key(e: PersonError) -> &'static str {
    match e {
        PersonError::NameEmpty => "name_empty",
        PersonError::NameTooLong => "name_too_long",
        PersonError::NameCharacters => "name_characters",
        PersonError::Phone => "phone_invalid",
    }
}

/// A person's name and document as a form gives them, parsed: what holds, and every field
/// that does not, named in the visitor's language.
pub(crate) fn identity_fields(
    lang: Lang,
    name: &str,
    document_type: &str,
    document_number: &str,
) -> (Option<PersonName>, Option<DocumentNumber>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let name = PersonName::parse(name.trim())
        .map_err(|e| {
            errors.push(FieldError {
                field: "name",
                message: lang.field_error(name_error_key(e)),
            })
        })
        .ok();
    let document = match DocumentType::parse(document_type) {
        Ok(kind) => DocumentNumber::parse(kind, document_number.trim())
            .map_err(|e| {
                errors.push(FieldError {
                    field: "document_number",
                    message: lang.field_error(e.code()),
                })
            })
            .ok(),
        Err(e) => {
            errors.push(FieldError {
                field: "document_type",
                message: lang.field_error(e.code()),
            });
            None
        }
    };
    (name, document, errors)
}

/// `POST /register`: checks every field (all errors at once, the text kept), proofs the
/// identity, registers or signs in, and goes on to create a passkey.
pub async fn register(
    State(state): State<AppState>,
    page: Page,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Response {
    let lang = page.lang;
    let Ok(Form(form)) = form else {
        return error_page(lang, StatusCode::BAD_REQUEST, lang.texts().error_csrf);
    };
    let (name, document, mut errors) =
        identity_fields(lang, &form.name, &form.document_type, &form.document_number);
    let phone = if form.phone.trim().is_empty() {
        None
    } else {
        match PhoneNumber::parse(form.phone.trim()) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError {
                    field: "phone",
                    message: lang.field_error(e.code()),
                });
                None
            }
        }
    };
    let (Some(name), Some(document), true) = (name, document, errors.is_empty()) else {
        return register_page(page, form, errors);
    };
    let recover = form.recover.is_some();
    let enrolment = Enrolment {
        document,
        name,
        phone,
        recover,
    };
    let person = match residents::proof_and_register(&state, enrolment).await {
        Ok((person, _)) => person,
        Err(e) => {
            let field = match e.code {
                "document_registered" => "document_number",
                "passkey_required" => "recover",
                "identity_refused" => "name",
                _ => return failed(lang, &e),
            };
            let code = if e.code == "passkey_required" {
                "passkey_exists"
            } else {
                e.code
            };
            errors.push(FieldError {
                field,
                message: lang.field_error(code),
            });
            return register_page(page, form, errors);
        }
    };
    let now = state.clock.now();
    match residents::open_session(&state, person.id, now).await {
        Ok((token, expires_at)) => with_cookie(
            see_other("/passkey"),
            &session_cookie(&state, &token, now, expires_at),
        ),
        Err(e) => failed(lang, &e),
    }
}

// ---------------------------------------------------------------------------------------
// Passkeys and signing in

#[derive(Template, WebTemplate)]
#[template(path = "passkey.html")]
struct PasskeyPage {
    page: Page,
}

pub async fn passkey(page: Page) -> Response {
    if !page.signed_in() {
        return see_other("/signin");
    }
    html(StatusCode::OK, PasskeyPage { page }.render())
}

#[derive(Template, WebTemplate)]
#[template(path = "signin.html")]
struct SigninPage {
    page: Page,
    /// Where to go once signed in, if not the code page.
    next: &'static str,
}

/// The sign-in page. `?next=/venues` comes back to the venue manager's pages; no other
/// address is followed (an open redirect is a phishing tool).
pub async fn signin(
    page: Page,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let wants_venues = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "next" && v == "/venues")
    });
    let next = if wants_venues { "/venues" } else { "" };
    html(StatusCode::OK, SigninPage { page, next }.render())
}

/// `POST /signout`: ends this session (here and, within the cache backstop, on every node).
pub async fn signout(State(state): State<AppState>, page: Page) -> Response {
    if let Some(session) = &page.session {
        if let Err(e) = state
            .store
            .end_sessions(session.person_id, Some(&session.token_hash))
            .await
        {
            return failed(page.lang, &ApiError::from(e));
        }
        state
            .cache
            .forget_sessions(session.person_id, Some(&session.token_hash));
    }
    with_cookie(see_other("/"), &end_session_cookie(&state))
}

// ---------------------------------------------------------------------------------------
// Preferences

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PrefsForm {
    lang: Option<String>,
    large: Option<String>,
    back: String,
}

/// Only a path on this site (`/code`), never another site (`//evil`, `https://…`).
fn local_path(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/"
    }
}

/// `POST /prefs`: remembers the language or the text size and goes back.
pub async fn prefs(
    State(state): State<AppState>,
    form: Result<Form<PrefsForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return see_other("/");
    };
    let mut response = see_other(local_path(&form.back));
    if let Some(lang) = form.lang.as_deref().and_then(Lang::parse) {
        response = with_cookie(response, &lang_cookie(&state, lang));
    }
    if let Some(large) = form.large.as_deref() {
        response = with_cookie(response, &large_cookie(&state, large == "1"));
    }
    response
}

// ---------------------------------------------------------------------------------------
// My code

/// Local time as shown on the pages.
pub(super) fn local(t: DateTime<Utc>, tz: Tz, fmt: &str) -> String {
    t.with_timezone(&tz).format(fmt).to_string()
}

/// The colour's word as the code shows it (绿码 / Green code).
pub(super) fn colour_word(lang: Lang, c: Colour) -> &'static str {
    match c {
        Colour::Green => lang.pick("绿码", "Green code"),
        Colour::Yellow => lang.pick("黄码", "Yellow code"),
        Colour::Red => lang.pick("红码", "Red code"),
    }
}

pub struct ReminderRow {
    pub number: u8,
    pub text: &'static str,
    pub clears: String,
}

/// What the card shows: the frame around the QR.
pub struct Card {
    pub colour: &'static str,
    pub word: &'static str,
    pub label: &'static str,
    pub qr_svg: std::sync::Arc<str>,
    pub masked_name: String,
    pub masked_document: String,
    pub test: Option<String>,
    pub vaccination: &'static str,
    pub reminders: Vec<ReminderRow>,
    pub valid_until: String,
    pub now: String,
    /// The region's time zone, for the live clock.
    pub tz: &'static str,
    pub expires_at: String,
    pub no_data: bool,
    /// Where the page fetches this card again, and its event stream, and "why".
    pub card_url: String,
    pub events_url: String,
    pub why_url: String,
    /// For a dependant's code: the guardian showing it (masked).
    pub shown_by: Option<String>,
}

/// Whose code a page shows: the signed-in person's, or a dependant's for their guardian.
pub enum Whose {
    Own,
    Dependant { id: i64, guardian: String },
}

impl Whose {
    fn base(&self) -> String {
        match self {
            Whose::Own => "/code".to_owned(),
            Whose::Dependant { id, .. } => format!("/family/{id}"),
        }
    }
}

fn reminder_rows(lang: Lang, status: &Status, tz: Tz) -> Vec<ReminderRow> {
    let t = lang.texts();
    status
        .reminders
        .iter()
        .map(|&r| {
            let found = status.reasons.iter().find_map(|reason| match reason {
                Reason::Reminder {
                    reminder,
                    until,
                    cleared_by_negative_test,
                    ..
                } if *reminder == r => Some((*until, *cleared_by_negative_test)),
                _ => None,
            });
            let mut clears = String::new();
            if let Some((until, by_test)) = found {
                if by_test {
                    clears.push_str(t.reminder_cleared_by_test);
                }
                if let Some(u) = until {
                    if !clears.is_empty() {
                        clears.push(' ');
                    }
                    clears.push_str(t.reminder_lapses);
                    clears.push_str(&local(u, tz, "%Y-%m-%d %H:%M"));
                }
            }
            if clears.is_empty() {
                clears.push_str(t.reminder_released_by_office);
            }
            ReminderRow {
                number: r.number(),
                text: lang.pick(r.label_zh(), r.label_en()),
                clears,
            }
        })
        .collect()
}

/// Valid until, written as the code says it: 24:00 of the day rather than 00:00 of the next.
fn valid_until_text(t: DateTime<Utc>, tz: Tz) -> String {
    let l = t.with_timezone(&tz);
    if l.format("%H:%M:%S").to_string() == "00:00:00" {
        let day = l - chrono::Duration::days(1);
        format!("{} 24:00", day.format("%Y-%m-%d"))
    } else {
        l.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The card for the person's current status, with a code signed for it.
pub async fn card_for(
    state: &AppState,
    lang: Lang,
    person_id: i64,
    whose: &Whose,
) -> Result<Card, ApiError> {
    let now = state.clock.now();
    let epoch = state.cache.epoch();
    let entry = residents::load(state, person_id, now).await?;
    let status = residents::evaluate_entry(state, &entry, now);
    let issued = residents::code_for(state, &entry, &status, epoch, now)?;
    let tz = state.region.tz();
    let qr_svg = residents::qr_svg_of(&issued)?;
    Ok(Card {
        colour: status.colour.as_str(),
        word: colour_word(lang, status.colour),
        label: lang.pick(status.colour.label_zh(), status.colour.label_en()),
        qr_svg,
        masked_name: entry.who.masked_name.clone(),
        masked_document: entry.who.masked_document.clone(),
        test: status.test_recency.map(|r| {
            format!(
                "{} · {}",
                lang.days(r.days),
                local(r.sampled_at, tz, "%m-%d %H:%M")
            )
        }),
        vaccination: lang.pick(status.vaccination.label_zh(), status.vaccination.label_en()),
        reminders: reminder_rows(lang, &status, tz),
        valid_until: valid_until_text(status.valid_until, tz),
        now: local(now, tz, "%Y-%m-%d %H:%M:%S"),
        tz: tz.name(),
        expires_at: issued.claims.expires_at.to_rfc3339(),
        no_data: status.no_data,
        card_url: format!("{}/card", whose.base()),
        events_url: format!("{}/events", whose.base()),
        why_url: match whose {
            Whose::Own => "/why".to_owned(),
            Whose::Dependant { .. } => format!("{}/why", whose.base()),
        },
        shown_by: match whose {
            Whose::Own => None,
            Whose::Dependant { guardian, .. } => Some(guardian.clone()),
        },
    })
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    page: Page,
    card: Card,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardFragment {
    t: &'static Texts,
    card: Card,
}

pub async fn code(State(state): State<AppState>, page: Page) -> Response {
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    let person = session.person_id;
    code_page(&state, page, person, Whose::Own).await
}

pub(crate) async fn code_page(state: &AppState, page: Page, person: i64, whose: Whose) -> Response {
    match card_for(state, page.lang, person, &whose).await {
        Ok(card) => html(StatusCode::OK, CodePage { page, card }.render()),
        Err(e) => failed(page.lang, &e),
    }
}

/// `GET /code/card`: the card alone, which the code page swaps in when its status changes.
pub async fn card(State(state): State<AppState>, page: Page) -> Response {
    let Some(session) = &page.session else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let person = session.person_id;
    card_fragment(&state, page, person, Whose::Own).await
}

pub(crate) async fn card_fragment(
    state: &AppState,
    page: Page,
    person: i64,
    whose: Whose,
) -> Response {
    match card_for(state, page.lang, person, &whose).await {
        Ok(card) => html(StatusCode::OK, CardFragment { t: page.t, card }.render()),
        Err(e) => failed(page.lang, &e),
    }
}

// ---------------------------------------------------------------------------------------
// Why this colour

pub struct Detail {
    pub label: &'static str,
    pub value: String,
}

pub struct ReasonRow {
    pub text: String,
    pub details: Vec<Detail>,
}

#[derive(Template)]
#[template(path = "why.html")]
struct WhyPage {
    page: Page,
    colour: &'static str,
    word: &'static str,
    label: &'static str,
    reasons: Vec<ReasonRow>,
    test: Option<ReasonRow>,
    no_data: bool,
    evaluated_at: String,
    policy_version: String,
    back: String,
}

fn evidence_details(lang: Lang, item: &EvidenceItem<'_>, tz: Tz) -> Vec<Detail> {
    let t = lang.texts();
    let when = |d: DateTime<Utc>| local(d, tz, "%Y-%m-%d %H:%M");
    let mut rows = Vec::new();
    match item {
        EvidenceItem::Test(r) => {
            rows.push(Detail {
                label: t.why_kind,
                value: match r.kind {
                    healthcode_domain::evidence::TestKind::Pcr => lang.pick("核酸检测", "PCR test"),
                    healthcode_domain::evidence::TestKind::Antigen => {
                        lang.pick("抗原检测", "Antigen test")
                    }
                }
                .to_owned(),
            });
            rows.push(Detail {
                label: t.why_result,
                value: match r.outcome {
                    healthcode_domain::evidence::TestOutcome::Negative => {
                        lang.pick("阴性", "negative")
                    }
                    healthcode_domain::evidence::TestOutcome::Positive => {
                        lang.pick("阳性", "positive")
                    }
                    healthcode_domain::evidence::TestOutcome::Invalid => {
                        lang.pick("无效样本", "invalid sample")
                    }
                }
                .to_owned(),
            });
            rows.push(Detail {
                label: t.why_sampled,
                value: when(r.sampled_at),
            });
            rows.push(Detail {
                label: t.why_resulted,
                value: when(r.resulted_at),
            });
            rows.push(Detail {
                label: t.why_by,
                value: r.meta.provider.clone(),
            });
            rows.push(Detail {
                label: t.why_record,
                value: r.meta.record_id.clone(),
            });
        }
        EvidenceItem::Vaccination(v) => {
            rows.push(Detail {
                label: t.why_vaccinated,
                value: when(v.at),
            });
            rows.push(Detail {
                label: t.why_by,
                value: v.meta.provider.clone(),
            });
            rows.push(Detail {
                label: t.why_record,
                value: v.meta.record_id.clone(),
            });
        }
        EvidenceItem::Designation(d) => {
            rows.push(Detail {
                label: t.why_kind,
                value: d.kind.as_str().replace('_', " "),
            });
            rows.push(Detail {
                label: t.why_from,
                value: when(d.started_at),
            });
            rows.push(Detail {
                label: t.why_until,
                value: d
                    .ends_at
                    .map_or_else(|| t.why_until_released.to_owned(), when),
            });
            if let Some(r) = d.released_at {
                rows.push(Detail {
                    label: t.why_released,
                    value: when(r),
                });
            }
            if let Some(e) = &d.exposure {
                rows.push(Detail {
                    label: t.why_visit,
                    value: format!("{} ({}) {}", e.venue, e.district, when(e.visited_at)),
                });
            }
            rows.push(Detail {
                label: t.why_by,
                value: d.meta.provider.clone(),
            });
            rows.push(Detail {
                label: t.why_record,
                value: d.meta.record_id.clone(),
            });
        }
        EvidenceItem::Declaration(d) => rows = super::declare::details(lang, d, tz),
    }
    rows
}

pub async fn why(State(state): State<AppState>, page: Page) -> Response {
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    let person = session.person_id;
    why_page(&state, page, person, "/code".to_owned()).await
}

/// "Why this colour" for `person`; `back` is the code page it explains.
pub(crate) async fn why_page(state: &AppState, page: Page, person: i64, back: String) -> Response {
    let lang = page.lang;
    let now = state.clock.now();
    let entry = match residents::load(state, person, now).await {
        Ok(e) => e,
        Err(e) => return failed(lang, &e),
    };
    let status = residents::evaluate_entry(state, &entry, now);
    let tz = state.region.tz();
    let view =
        crate::view::status_view(&status, &entry.who, &entry.evidence, &state.policy.version);
    let reasons = view
        .reasons
        .iter()
        .map(|r| ReasonRow {
            text: lang.pick(&r.zh, &r.en).to_owned(),
            details: r
                .evidence
                .as_ref()
                .map(|item| evidence_details(lang, item, tz))
                .unwrap_or_default(),
        })
        .collect();
    let test = status.test_recency.and_then(|r| {
        entry.evidence.find(r.evidence).map(|item| ReasonRow {
            text: format!("{} {}", lang.texts().code_test, lang.days(r.days)),
            details: evidence_details(lang, &item, tz),
        })
    });
    html(
        StatusCode::OK,
        WhyPage {
            colour: status.colour.as_str(),
            word: colour_word(lang, status.colour),
            label: lang.pick(status.colour.label_zh(), status.colour.label_en()),
            reasons,
            test,
            no_data: status.no_data,
            evaluated_at: local(status.evaluated_at, tz, "%Y-%m-%d %H:%M:%S"),
            policy_version: state.policy.version.clone(),
            back,
            page,
        }
        .render(),
    )
}
