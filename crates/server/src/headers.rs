//! Headers every response carries, whatever route produced it: no content sniffing, no
//! caching unless the route says otherwise (answers hold personal data: a status, a code, a
//! contact list), no referrer, and a Content-Security-Policy that lets a page load nothing and
//! run nothing (the poster's page has only inline style; pages with more set their own); and,
//! where the public address is https, Strict-Transport-Security.
//!
//! What this module does not own: rate limits and other refusals (`limits`, `text`).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy for anything a browser might render (HTML, SVG) and harmless on JSON.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

/// How long a browser that has seen the server over HTTPS keeps to HTTPS: a year.
const HSTS: &str = "max-age=31536000";

/// Middleware: adds the headers a response lacks; a header the route set is kept. `https`
/// (the public address is https, whether this process or a proxy in front of it terminates
/// TLS) adds `Strict-Transport-Security`.
pub async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if https && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
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
