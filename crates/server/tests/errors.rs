//! One error shape everywhere, and one table of its codes: every refusal the server's source
//! can give names a code that docs/ERRORS.md lists, and refusals that do not come from a
//! handler (a wrong method, a bad path value, a bad query, an unknown route) are JSON too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::TestApp;
use reqwest::StatusCode;

/// The codes in docs/ERRORS.md's table (first column; several per row are comma-separated).
fn documented() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md"))
            .unwrap();
    let table = text
        .split("<!-- codes:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- codes:end -->").next())
        .expect("ERRORS.md marks its table");
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split(" |").next())
        .flat_map(|cell| cell.split(", ").map(|c| c.trim_matches('`').to_owned()))
        .collect()
}

/// The code literal after each `ApiError::new(StatusCode::…,`, `bad_request(` and
/// `code: "` in a source file.
fn codes_in(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for opener in ["ApiError::new(", "bad_request(", "code: \""] {
        for (at, _) in source.match_indices(opener) {
            let rest = &source[at + opener.len()..];
            let rest = if opener == "ApiError::new(" {
                // Past the status argument.
                match rest.split_once(',') {
                    Some((status, rest)) if status.contains("StatusCode::") => rest,
                    _ => continue,
                }
            } else if opener == "code: \"" {
                &source[at + opener.len() - 1..]
            } else {
                rest
            };
            let rest = rest.trim_start();
            if let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split('"').next())
                && !literal.is_empty()
                && literal.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                out.push(literal.to_owned());
            }
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(path).unwrap());
        }
    }
}

#[test]
fn every_code_the_server_gives_is_documented() {
    let documented = documented();
    let mut files = Vec::new();
    sources(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut files,
    );
    sources(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../store/src")),
        &mut files,
    );
    let mut found: Vec<String> = files.iter().flat_map(|f| codes_in(f)).collect();
    found.sort();
    found.dedup();
    assert!(found.len() > 30, "{found:?}");
    let missing: Vec<&String> = found.iter().filter(|c| !documented.contains(c)).collect();
    assert!(missing.is_empty(), "not in docs/ERRORS.md: {missing:?}");
}

#[tokio::test]
async fn refusals_outside_handlers_are_json_too() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            app.client.delete(app.url("/api/v1/venues")),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.client.get(app.url("/api/v1/test-results")),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.client.get(app.url("/api/v1/imports/test-results")),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.client.get(app.url("/api/v1/venues/abc")),
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            app.client
                .get(app.url("/api/v1/venues?colour=green"))
                .bearer_auth(&app.keys.operator),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            app.client.get(app.url("/nowhere")),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        let what = format!("{} {}", response.url(), response.status());
        assert_eq!(response.status(), status, "{what}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
}
