//! The receipts page (记录凭证): every record about the signed-in resident that the public
//! transparency log holds — each test result, vaccination, designation, release and
//! declaration — with whether it is in the log yet, and each receipt to download
//! (docs/FORMAT.md §10.4), to be checked offline with `healthcode audit receipt`.
//!
//! The receipts and their proofs are `crate::log`'s; this shows them. A receipt is named in its
//! address by its place in the list, never by anything about the person.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use healthcode_store::leaf::{Entry, Receipt};

use super::i18n::Texts;
use super::pages::{failed, html, local, see_other};
use super::session::Page;
use crate::log::receipts_of;
use crate::state::AppState;

pub struct ReceiptLine {
    /// 1-based: the download's address.
    pub number: usize,
    pub kind: &'static str,
    pub at: String,
    /// The entry's index in the log, once it is there.
    pub index: Option<u64>,
}

#[derive(Template)]
#[template(path = "receipts.html")]
struct ReceiptsPage {
    page: Page,
    lines: Vec<ReceiptLine>,
    log_key: String,
}

fn kind_word(t: &Texts, kind: &str) -> &'static str {
    match kind {
        "test" => t.receipts_kind_test,
        "vaccination" => t.receipts_kind_vaccination,
        "designation" => t.receipts_kind_designation,
        "release" => t.receipts_kind_release,
        "declaration" => t.receipts_kind_declaration,
        _ => t.receipts_kind_other,
    }
}

/// `GET /receipts`.
pub async fn list(State(state): State<AppState>, page: Page) -> Response {
    let Some(person_id) = page.session.as_ref().map(|s| s.person_id) else {
        return see_other("/signin");
    };
    let receipts = match receipts_of(&state, person_id).await {
        Ok(r) => r,
        Err(e) => return failed(page.lang, &e),
    };
    let tz = state.region.tz();
    let lines = receipts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = Entry::parse(r.entry.as_bytes())
                .ok()
                .and_then(|e| chrono::DateTime::from_timestamp(e.time, 0))
                .map(|t| local(t, tz, "%Y-%m-%d %H:%M"))
                .unwrap_or_default();
            ReceiptLine {
                number: i + 1,
                kind: kind_word(page.t, &r.kind),
                at,
                index: r.index.filter(|_| r.proof.is_some()),
            }
        })
        .collect();
    let log_key = state
        .log()
        .map(|k| k.verifier().to_string())
        .unwrap_or_default();
    html(
        StatusCode::OK,
        ReceiptsPage {
            page,
            lines,
            log_key,
        }
        .render(),
    )
}

/// `GET /receipts/{number}`: one receipt as a JSON file to keep.
pub async fn download(
    State(state): State<AppState>,
    page: Page,
    Path(number): Path<usize>,
) -> Response {
    let Some(person_id) = page.session.as_ref().map(|s| s.person_id) else {
        return see_other("/signin");
    };
    let receipts = match receipts_of(&state, person_id).await {
        Ok(r) => r,
        Err(e) => return failed(page.lang, &e),
    };
    let Some(receipt): Option<&Receipt> = number.checked_sub(1).and_then(|i| receipts.get(i))
    else {
        return failed(
            page.lang,
            &crate::error::ApiError::not_found("no such receipt"),
        );
    };
    let Ok(body) = serde_json::to_vec_pretty(receipt) else {
        return failed(page.lang, &crate::error::ApiError::internal());
    };
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"receipt-{number}.json\""),
            ),
        ],
        body,
    )
        .into_response()
}
