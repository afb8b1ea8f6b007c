//! The resident's pages, served by the same binary as the API at `/`: server-rendered HTML
//! (askama), one stylesheet and one script embedded in the binary under content-hashed names,
//! Chinese and English, a large-text mode. They call the same domain, store and credential
//! code as the JSON API (`routes::residents`); nothing here is a second source of truth.
//!
//! - `i18n`: every text, one table per language.
//! - `assets`: the embedded stylesheet and script.
//! - `session`: the session cookie (the API's session token, kept `HttpOnly`), preferences,
//!   and the CSRF token every form and script request carries.
//! - `pages`: the pages themselves; `passkeys`: the WebAuthn ceremonies; `live`: server-sent
//!   events that tell an open code page its status changed; `checkin`: checking in at a venue
//!   (camera or typed code) and the 14-day travel history; `pass`: the printable paper pass;
//!   `family`: a guardian's dependants; `declare`: declaring symptoms or an arrival.
//!
//! What this module does not own: rules, persistence, the code format, the JSON API.

pub mod assets;
mod checkin;
mod declare;
mod family;
pub mod gate;
pub mod i18n;
pub mod live;
mod pages;
mod pass;
mod passkeys;
mod receipts;
mod session;
mod venues;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

pub use passkeys::{PasskeyConfig, user_handle};
pub use session::{CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE};

/// Pages may load their own stylesheet, script and images and talk to their own origin;
/// nothing inline, nothing from elsewhere, never framed.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                        img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                        worker-src 'self'; manifest-src 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// The pages and the requests their script makes.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/register", get(pages::register_form).post(pages::register))
        .route("/signin", get(pages::signin))
        .route("/passkey", get(pages::passkey))
        .route("/code", get(pages::code))
        .route("/code/card", get(pages::card))
        .route("/code/events", get(live::events))
        .route("/why", get(pages::why))
        .route("/family", get(family::family).post(family::add))
        .route("/family/{id}", get(family::code))
        .route("/family/{id}/card", get(family::card))
        .route("/family/{id}/events", get(family::events))
        .route("/family/{id}/why", get(family::why))
        .route("/family/{id}/remove", post(family::remove))
        .route(
            "/checkin",
            get(checkin::checkin_form).post(checkin::checkin_typed),
        )
        .route(
            "/checkin/frame",
            post(checkin::checkin_frame).layer(DefaultBodyLimit::max(checkin::MAX_FRAME_BYTES)),
        )
        .route("/history", get(checkin::history))
        .route("/receipts", get(receipts::list))
        .route("/receipts/{number}", get(receipts::download))
        .route("/pass", get(pass::pass).post(pass::issue))
        .route("/pass/revoke", post(pass::revoke))
        .route("/declare", get(declare::form))
        .route("/declare/symptoms", post(declare::symptoms))
        .route("/declare/arrival", post(declare::arrival))
        .route("/prefs", post(pages::prefs))
        .route("/signout", post(pages::signout))
        .route("/passkeys/register/start", post(passkeys::register_start))
        .route("/passkeys/register/finish", post(passkeys::register_finish))
        .route("/passkeys/signin/start", post(passkeys::signin_start))
        .route("/passkeys/signin/finish", post(passkeys::signin_finish))
        .route("/gate", get(gate::scanner))
        .route("/gate/enrol", get(gate::enrol_page).post(gate::enrol))
        .route("/gate/config", get(gate::config))
        .route(
            "/gate/checkins",
            post(gate::upload).layer(DefaultBodyLimit::max(crate::UPLOAD_BODY_BYTES)),
        )
        .route("/gate/lookup", post(gate::lookup))
        .route("/gate/pass", post(gate::pass))
        .route(
            "/gate/frame",
            post(gate::frame).layer(DefaultBodyLimit::max(gate::MAX_FRAME_BYTES)),
        )
        .route("/gate/sw.js", get(gate::service_worker))
        .route("/gate/manifest.webmanifest", get(gate::manifest))
        .route("/venues", get(venues::list))
        .route("/venues/{id}", get(venues::venue))
        .route("/venues/{id}/poster", get(venues::poster))
        .route("/venues/{id}/devices", post(venues::add_device))
        .route(
            "/venues/{id}/devices/{device}/link",
            post(venues::relink_device),
        )
        .route(
            "/venues/{id}/devices/{device}/revoke",
            post(venues::revoke_device),
        )
        .route("/assets/{name}", get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::ensure_csrf_cookie,
        ))
        .layer(axum::middleware::from_fn(page_csp))
}

/// Middleware: the pages' Content-Security-Policy, in place of the API's (which lets nothing
/// load).
async fn page_csp(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    // A route that set its own (the printed poster) keeps it.
    if !response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    response
}
