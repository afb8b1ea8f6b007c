//! What a page knows of its visitor: the session cookie, the language and text-size
//! preferences, and the CSRF token.
//!
//! The session cookie carries the same token the API takes as `Authorization: Bearer`, so a
//! page and the API share sessions, their daily end and sign-out; it is `HttpOnly`,
//! `SameSite=Strict`, and `Secure` when the server's public address is https.
//!
//! CSRF: every browser gets a random token in an `HttpOnly` cookie; pages write it into each
//! form (`csrf` field) and into a `<meta>` that the script sends back as `x-csrf-token`. A
//! state-changing request whose token does not match the cookie is refused before any handler
//! runs ([`ensure_csrf_cookie`]). `SameSite=Strict` on the session is the second wall.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;

use super::assets;
use super::i18n::{Lang, Texts};
use super::pages::error_page;
use crate::extract::{ResidentSession, session_for_token};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "hc_session";
pub const CSRF_COOKIE: &str = "hc_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const LANG_COOKIE: &str = "hc_lang";
const LARGE_COOKIE: &str = "hc_large";
/// Form bodies are small; a larger one is refused before its token is looked for.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The value of cookie `name` in the request, if sent (the first one, if sent twice).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value. `max_age` zero deletes the cookie.
fn set_cookie(name: &str, value: &str, max_age_secs: i64, same_site: &str, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session cookie for `token`, ending when the session does.
pub fn session_cookie(
    state: &AppState,
    token: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> String {
    let max_age = (expires_at - now).num_seconds().max(0);
    set_cookie(
        SESSION_COOKIE,
        token,
        max_age,
        "Strict",
        state.secure_cookies(),
    )
}

/// Deletes the session cookie.
pub fn end_session_cookie(state: &AppState) -> String {
    set_cookie(SESSION_COOKIE, "", 0, "Strict", state.secure_cookies())
}

/// Remembers a language choice for a year.
pub fn lang_cookie(state: &AppState, lang: Lang) -> String {
    set_cookie(
        LANG_COOKIE,
        lang.code(),
        31_536_000,
        "Lax",
        state.secure_cookies(),
    )
}

/// Remembers the text size for a year.
pub fn large_cookie(state: &AppState, large: bool) -> String {
    set_cookie(
        LARGE_COOKIE,
        if large { "1" } else { "0" },
        31_536_000,
        "Lax",
        state.secure_cookies(),
    )
}

/// The CSRF token of this request's browser (set by [`ensure_csrf_cookie`]).
#[derive(Clone)]
pub struct CsrfToken(pub String);

fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn well_formed_token(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Middleware: gives a browser without one a CSRF token (and the cookie that holds it), and
/// refuses a state-changing request that does not send the token back, in the
/// `x-csrf-token` header or a form's `csrf` field.
pub async fn ensure_csrf_cookie(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let existing = cookie(&parts.headers, CSRF_COOKIE)
        .filter(|t| well_formed_token(t))
        .map(str::to_owned);
    let lang = preferred_lang(&parts.headers);
    let safe = matches!(parts.method, Method::GET | Method::HEAD);
    let body = if safe {
        body
    } else {
        let Some(expected) = existing.as_deref() else {
            return error_page(lang, StatusCode::FORBIDDEN, lang.texts().error_csrf);
        };
        let from_header = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (sent, body) = match from_header {
            Some(t) => (Some(t), body),
            None => {
                let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
                    return error_page(
                        lang,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        lang.texts().error_csrf,
                    );
                };
                let sent = url::form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == "csrf")
                    .map(|(_, v)| v.into_owned());
                (sent, Body::from(bytes))
            }
        };
        if !sent.is_some_and(|s| same(&s, expected)) {
            return error_page(lang, StatusCode::FORBIDDEN, lang.texts().error_csrf);
        }
        body
    };
    let fresh = existing.is_none();
    let token = existing.unwrap_or_else(new_csrf_token);
    parts.extensions.insert(CsrfToken(token.clone()));
    let secure = state.secure_cookies();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if fresh
        && let Ok(v) = HeaderValue::from_str(&set_cookie(
            CSRF_COOKIE,
            &token,
            31_536_000,
            "Strict",
            secure,
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The language a request asks for: the remembered choice, else `Accept-Language`.
pub fn preferred_lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            Lang::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        })
}

/// Everything the frame around a page needs: language, text size, the CSRF token, the asset
/// names, and who is signed in (if anyone).
pub struct Page {
    pub lang: Lang,
    pub t: &'static Texts,
    pub large: bool,
    pub csrf: String,
    pub css: &'static str,
    pub js: &'static str,
    pub session: Option<ResidentSession>,
    /// The path of this page, for the preference forms to come back to.
    pub path: String,
}

impl Page {
    pub fn signed_in(&self) -> bool {
        self.session.is_some()
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = preferred_lang(&parts.headers);
        let large = cookie(&parts.headers, LARGE_COOKIE) == Some("1");
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) if !token.is_empty() => session_for_token(state, token)
                .await
                .map_err(|e| e.into_response())?,
            _ => None,
        };
        Ok(Page {
            lang,
            t: lang.texts(),
            large,
            csrf,
            css: assets::path("app.css"),
            js: assets::path("app.js"),
            session,
            path: parts.uri.path().to_owned(),
        })
    }
}
