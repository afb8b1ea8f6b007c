//! Family (他人代查) pages: the guardian's list of dependants, adding one through the identity
//! provider's proofing of the dependant, removing one, and showing a dependant's code (live,
//! like one's own, and saying which guardian shows it). The rules are in
//! `routes::dependants`, shared with the API.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::Lang;
use super::live;
use super::pages::{
    DocTypeOption, FieldError, Whose, card_fragment, code_page, doc_type_options, error_page,
    failed, html, identity_fields, see_other, why_page,
};
use super::session::Page;
use crate::routes::dependants::{self, DependantOut};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddForm {
    name: String,
    document_type: String,
    document_number: String,
}

#[derive(Template)]
#[template(path = "family.html")]
struct FamilyPage {
    page: Page,
    dependants: Vec<DependantOut>,
    full: bool,
    form: AddForm,
    errors: Vec<FieldError>,
    doc_types: Vec<DocTypeOption>,
}

impl FamilyPage {
    fn error_for(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message)
    }
}

async fn family_page(
    state: &AppState,
    page: Page,
    guardian: i64,
    form: AddForm,
    errors: Vec<FieldError>,
) -> Response {
    let lang = page.lang;
    let dependants = match state.store.dependants_of(guardian).await {
        Ok(d) => d.iter().map(DependantOut::of).collect::<Vec<_>>(),
        Err(e) => return failed(lang, &e.into()),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let doc_types = doc_type_options(lang, &form.document_type);
    html(
        status,
        FamilyPage {
            full: dependants.len() as i64 >= healthcode_store::MAX_DEPENDANTS,
            dependants,
            form,
            errors,
            doc_types,
            page,
        }
        .render(),
    )
}

/// `GET /family`
pub async fn family(State(state): State<AppState>, page: Page) -> Response {
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    let guardian = session.person_id;
    family_page(&state, page, guardian, AddForm::default(), Vec::new()).await
}

/// `POST /family`: proofs and adds a dependant; bad fields come back named, the text kept.
pub async fn add(
    State(state): State<AppState>,
    page: Page,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let lang = page.lang;
    let Some(session) = &page.session else {
        return see_other("/signin");
    };
    let guardian = session.person_id;
    let Ok(Form(form)) = form else {
        return error_page(lang, StatusCode::BAD_REQUEST, lang.texts().error_csrf);
    };
    let (name, document, mut errors) =
        identity_fields(lang, &form.name, &form.document_type, &form.document_number);
    let (Some(name), Some(document), true) = (name, document, errors.is_empty()) else {
        return family_page(&state, page, guardian, form, errors).await;
    };
    match dependants::add(&state, guardian, document, name).await {
        Ok(_) => see_other("/family"),
        Err(e) => {
            let field = match e.code {
                "document_registered" | "dependant_self" => "document_number",
                "identity_refused" => "name",
                "dependants_full" => "form",
                _ => return failed(lang, &e),
            };
            errors.push(FieldError {
                field,
                message: lang.field_error(e.code),
            });
            family_page(&state, page, guardian, form, errors).await
        }
    }
}

/// The dependant a path names, if the visitor is their guardian; else the response to give.
async fn dependant(
    state: &AppState,
    page: &Page,
    id: Result<Path<i64>, PathRejection>,
) -> Result<(i64, i64), Response> {
    let lang = page.lang;
    let Some(session) = &page.session else {
        return Err(see_other("/signin"));
    };
    let Ok(Path(id)) = id else {
        return Err(not_found(lang));
    };
    match dependants::check(state, session.person_id, id).await {
        Ok(()) => Ok((session.person_id, id)),
        Err(e) if e.status == StatusCode::FORBIDDEN => Err(not_found(lang)),
        Err(e) => Err(failed(lang, &e)),
    }
}

fn not_found(lang: Lang) -> Response {
    error_page(lang, StatusCode::NOT_FOUND, lang.texts().error_not_found)
}

/// The dependant a path names and whose code it is shown as (their guardian's), if the visitor
/// is that guardian; else the response to give.
async fn shown(
    state: &AppState,
    page: &Page,
    id: Result<Path<i64>, PathRejection>,
) -> Result<(i64, Whose), Response> {
    let (guardian, id) = dependant(state, page, id).await?;
    match state.store.person(guardian).await {
        Ok(g) => Ok((
            id,
            Whose::Dependant {
                id,
                guardian: g.name.masked(),
            },
        )),
        Err(e) => Err(failed(page.lang, &e.into())),
    }
}

/// `POST /family/{id}/remove`
pub async fn remove(
    State(state): State<AppState>,
    page: Page,
    id: Result<Path<i64>, PathRejection>,
) -> Response {
    let (guardian, id) = match dependant(&state, &page, id).await {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    match state.store.remove_dependant(guardian, id).await {
        Ok(_) => see_other("/family"),
        Err(e) => failed(page.lang, &e.into()),
    }
}

/// `GET /family/{id}`: the dependant's code.
pub async fn code(
    State(state): State<AppState>,
    page: Page,
    id: Result<Path<i64>, PathRejection>,
) -> Response {
    match shown(&state, &page, id).await {
        Ok((id, w)) => code_page(&state, page, id, w).await,
        Err(r) => r,
    }
}

/// `GET /family/{id}/card`
pub async fn card(
    State(state): State<AppState>,
    page: Page,
    id: Result<Path<i64>, PathRejection>,
) -> Response {
    if page.session.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match shown(&state, &page, id).await {
        Ok((id, w)) => card_fragment(&state, page, id, w).await,
        Err(r) => r,
    }
}

/// `GET /family/{id}/events`
pub async fn events(
    State(state): State<AppState>,
    page: Page,
    id: Result<Path<i64>, PathRejection>,
) -> Response {
    if page.session.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match dependant(&state, &page, id).await {
        Ok((_, id)) => live::events_for(&state, id).await,
        Err(r) => r,
    }
}

/// `GET /family/{id}/why`
pub async fn why(
    State(state): State<AppState>,
    page: Page,
    id: Result<Path<i64>, PathRejection>,
) -> Response {
    match dependant(&state, &page, id).await {
        Ok((_, id)) => why_page(&state, page, id, format!("/family/{id}")).await,
        Err(r) => r,
    }
}
