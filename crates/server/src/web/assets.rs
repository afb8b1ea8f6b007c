//! The pages' stylesheet and scripts, compiled into the binary and served under names that
//! carry a hash of their content (`/assets/app.3f2a9c1d0b.css`), so a browser may keep them
//! for a year and still never runs an old script against a new page.
//!
//! Every file is in [`FILES`]; a template links one with `crate::web::assets::path("x.js")`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// (name, content, type) of every asset.
const FILES: &[(&str, &[u8], &str)] = &[
    ("app.css", include_bytes!("../../assets/app.css"), CSS),
    ("app.js", include_bytes!("../../assets/app.js"), JS),
    ("checkin.js", include_bytes!("../../assets/checkin.js"), JS),
    ("pass.js", include_bytes!("../../assets/pass.js"), JS),
    ("verify.js", include_bytes!("../../assets/verify.js"), JS),
    ("gate.js", include_bytes!("../../assets/gate.js"), JS),
    ("gate-sw.js", include_bytes!("../../assets/gate-sw.js"), JS),
    (
        "gate-icon.svg",
        include_bytes!("../../assets/gate-icon.svg"),
        SVG,
    ),
];

struct Served {
    name: &'static str,
    /// `/assets/app.<hash>.css`
    path: String,
    body: &'static [u8],
    mime: &'static str,
}

static SERVED: LazyLock<Vec<Served>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, body, mime)| Served {
            name,
            path: hashed(name, body),
            body,
            mime,
        })
        .collect()
});

fn hashed(name: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    format!("/assets/{stem}.{}.{ext}", hex::encode(&digest[..5]))
}

/// The address pages link `name` (`app.js`) at. An unknown name gives an address that is
/// 404, which the browser tests notice.
pub fn path(name: &str) -> &'static str {
    SERVED
        .iter()
        .find(|s| s.name == name)
        .map_or("/assets/unknown", |s| s.path.as_str())
}

/// The content of asset `name` (empty for an unknown name).
pub fn body(name: &str) -> &'static [u8] {
    FILES.iter().find(|f| f.0 == name).map_or(&[][..], |f| f.1)
}

/// `GET /assets/{name}`: the asset with exactly that hashed name; any other name is 404, so
/// an old page asking for a replaced script gets an error rather than the new one.
pub async fn serve(Path(name): Path<String>) -> Response {
    match SERVED
        .iter()
        .find(|s| s.path.strip_prefix("/assets/") == Some(name.as_str()))
    {
        Some(s) => (
            [
                (header::CONTENT_TYPE, s.mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            s.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        assert!(path("app.css").starts_with("/assets/app."));
        assert!(path("app.css").ends_with(".css"));
        assert_ne!(hashed("app.css", b"a"), hashed("app.css", b"b"));
        assert_eq!(path("app.js").len(), "/assets/app.0123456789.js".len());
        assert_eq!(path("nothing.js"), "/assets/unknown");
    }
}
