//! The pages' stylesheet and script, compiled into the binary and served under names that
//! carry a hash of their content (`/assets/app.3f2a9c1d0b.css`), so a browser may keep them
//! for a year and still never runs an old script against a new page.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub struct Asset {
    body: &'static [u8],
    mime: &'static str,
    path: LazyLock<String>,
}

impl Asset {
    /// The address pages link to.
    pub fn path(&'static self) -> &'static str {
        self.path.as_str()
    }

    fn file_name(&'static self) -> &'static str {
        self.path().trim_start_matches("/assets/")
    }
}

fn hashed(stem: &str, ext: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("/assets/{stem}.{}.{ext}", hex::encode(&digest[..5]))
}

const CSS_BODY: &[u8] = include_bytes!("../../assets/app.css");
const JS_BODY: &[u8] = include_bytes!("../../assets/app.js");

pub static CSS: Asset = Asset {
    body: CSS_BODY,
    mime: "text/css; charset=utf-8",
    path: LazyLock::new(|| hashed("app", "css", CSS_BODY)),
};

pub static JS: Asset = Asset {
    body: JS_BODY,
    mime: "text/javascript; charset=utf-8",
    path: LazyLock::new(|| hashed("app", "js", JS_BODY)),
};

static ALL: [&Asset; 2] = [&CSS, &JS];

/// `GET /assets/{name}`: the asset with exactly that hashed name; any other name is 404, so
/// an old page asking for a replaced script gets an error rather than the new one.
pub async fn serve(Path(name): Path<String>) -> Response {
    match ALL.iter().find(|a| a.file_name() == name) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
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
        assert!(CSS.path().starts_with("/assets/app."));
        assert!(CSS.path().ends_with(".css"));
        assert_ne!(hashed("app", "css", b"a"), hashed("app", "css", b"b"));
        assert_eq!(JS.file_name().len(), "app.0123456789.js".len());
    }
}
