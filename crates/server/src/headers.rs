//! Headers every response carries, whatever route produced it: no content sniffing, no
//! caching unless the route says otherwise (answers hold personal data: a status, a code, a
//! contact list), no referrer, and a Content-Security-Policy that lets a page load nothing and
//! run nothing (the poster's page has only inline style; pages with more set their own).
//!
//! What this module does not own: rate limits and other refusals (`limits`, `text`).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy for anything a browser might render (HTML, SVG) and harmless on JSON.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

/// Middleware: adds the headers a response lacks; a header the route set is kept.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let defaults: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
