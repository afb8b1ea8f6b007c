//! The harness proved against a small server of its own: a passkey made and used by the
//! virtual authenticator, a page at 320 px, the fake camera showing a picture the test wrote,
//! and a page's CSP violation and exception reported.
//!
//! Each test launches its own Chromium (with its own profile); without Chromium they are
//! skipped, except in CI, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use anyhow::Result;
use axum::Router;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use healthcode_e2e::{Browser, GrayImage, Options, ProblemKind, write_y4m};
use serde::Deserialize;

const WAIT: Duration = Duration::from_secs(20);

/// Every response's policy: the page's own files only, no inline script or style.
const CSP: &str = "default-src 'self'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, content_type), (CONTENT_SECURITY_POLICY, CSP)],
        body,
    )
}

fn html(body: &'static str) -> impl IntoResponse {
    asset("text/html; charset=utf-8", body)
}

fn script(body: &'static str) -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", body)
}

/// Starts the test pages' server on a free loopback port and returns its address, as
/// `localhost` (WebAuthn takes a domain as relying party, not an IP address).
async fn serve() -> String {
    let app = Router::new()
        .route(
            "/page.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("pages/page.css")) }),
        )
        .route(
            "/passkey",
            get(|| async {
                (
                    [(SET_COOKIE, "visit=1; Path=/; HttpOnly; SameSite=Strict")],
                    html(include_str!("pages/passkey.html")),
                )
            }),
        )
        .route(
            "/passkey.js",
            get(|| async { script(include_str!("pages/passkey.js")) }),
        )
        .route(
            "/narrow",
            get(|| async { html(include_str!("pages/narrow.html")) }),
        )
        .route(
            "/camera",
            get(|| async { html(include_str!("pages/camera.html")) }),
        )
        .route(
            "/camera.js",
            get(|| async { script(include_str!("pages/camera.js")) }),
        )
        .route(
            "/inline",
            get(|| async { html(include_str!("pages/inline.html")) }),
        )
        .route(
            "/throws.js",
            get(|| async { script(include_str!("pages/throws.js")) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://localhost:{port}")
}

#[tokio::test]
async fn the_virtual_authenticator_creates_a_passkey_and_signs_in_with_it() -> Result<()> {
    let server = serve().await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/passkey")).await?;
    let authenticator = page.add_virtual_authenticator().await?;
    assert!(page.credentials(&authenticator).await?.is_empty());

    page.type_into("#name", "Li Hua 李华").await?;
    assert_eq!(
        page.eval::<String>("document.getElementById('name').value")
            .await?,
        "Li Hua 李华"
    );
    page.screenshot("harness/passkey-form").await?;
    page.click("#register").await?;
    page.wait_until(
        "document.getElementById('outcome').textContent !== ''",
        WAIT,
    )
    .await?;
    assert_eq!(page.text("#outcome").await?, "Signed in, verified");
    page.screenshot("harness/passkey-signed-in").await?;

    let passkeys = page.credentials(&authenticator).await?;
    assert_eq!(passkeys.len(), 1, "{passkeys:?}");
    let passkey = &passkeys[0];
    assert!(passkey.resident);
    assert_eq!(passkey.rp_id.as_deref(), Some("localhost"));
    assert_eq!(passkey.user_handle.as_ref().map(Vec::len), Some(16));
    assert_eq!(passkey.user_name.as_deref(), Some("Li Hua 李华"));
    assert!(passkey.sign_count >= 1, "{passkey:?}");
    let shown = page.text("#created").await?;
    assert_eq!(
        shown,
        format!("Created {}", URL_SAFE_NO_PAD.encode(&passkey.id))
    );

    let cookies = page.cookies().await?;
    let visit = cookies.iter().find(|c| c.name == "visit").unwrap();
    assert!(visit.http_only && !visit.secure && visit.session);
    assert_eq!(visit.same_site.as_deref(), Some("Strict"));

    page.assert_no_problems().await?;
    page.remove_credentials(&authenticator).await?;
    assert!(page.credentials(&authenticator).await?.is_empty());
    browser.close().await
}

#[tokio::test]
async fn a_page_fits_320_pixels() -> Result<()> {
    let server = serve().await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/narrow")).await?;
    assert_eq!(page.eval::<u32>("window.innerWidth").await?, 390);

    page.set_viewport(320, 640).await?;
    assert_eq!(page.eval::<u32>("window.innerWidth").await?, 320);
    let width: u32 = page.eval("document.documentElement.scrollWidth").await?;
    assert!(width <= 320, "the page is {width} px wide");
    assert_eq!(
        page.computed_style("h1", "color").await?,
        "rgb(10, 125, 50)"
    );
    assert_eq!(page.text("h1").await?, "Green code");
    let shot = page.screenshot("harness/narrow-320").await?;
    let png = image::open(&shot)?;
    assert_eq!(png.width(), 320);

    page.assert_no_problems().await?;
    browser.close().await
}

#[derive(Debug, Deserialize)]
struct Frame {
    error: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    left: Option<f64>,
    right: Option<f64>,
}

#[tokio::test]
async fn the_fake_camera_shows_the_picture_given() -> Result<()> {
    let server = serve().await;
    let dir = tempfile::tempdir()?;
    let y4m = dir.path().join("halves.y4m");
    // Black on the left, white on the right.
    let picture = GrayImage::from_fn(320, 240, |x, _| {
        image::Luma([if x < 160 { 0 } else { 255 }])
    });
    write_y4m(&y4m, &picture)?;
    let Some(browser) = Browser::launch_or_skip(Options::default().camera(&y4m)).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/camera")).await?;
    page.wait_until("document.getElementById('frame').textContent !== ''", WAIT)
        .await?;
    let frame: Frame = page
        .eval("JSON.parse(document.getElementById('frame').textContent)")
        .await?;
    assert_eq!(frame.error, None);
    assert_eq!((frame.width, frame.height), (Some(320), Some(240)));
    let (left, right) = (frame.left.unwrap(), frame.right.unwrap());
    assert!(left < 20.0, "left quarter brightness {left}");
    assert!(right > 235.0, "right quarter brightness {right}");
    page.screenshot("harness/camera").await?;

    page.assert_no_problems().await?;
    browser.close().await
}

#[tokio::test]
async fn csp_violations_and_exceptions_are_reported() -> Result<()> {
    let server = serve().await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/inline")).await?;
    page.wait_until("document.readyState === 'complete'", WAIT)
        .await?;
    let inline: Option<String> = page.eval("document.documentElement.dataset.inline").await?;
    assert_eq!(inline, None, "the inline script ran despite the policy");

    let problems = page.problems().await?;
    assert!(
        problems.iter().any(|p| p.is_csp_violation()),
        "no CSP violation in {problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.kind == ProblemKind::Exception && p.text.contains("thrown by throws.js")),
        "no exception in {problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.kind == ProblemKind::Console && p.text == "about to fail"),
        "no console error in {problems:#?}"
    );
    let refused = page.assert_no_problems().await.unwrap_err().to_string();
    assert!(refused.contains("Content Security Policy"), "{refused}");

    page.clear_problems().await?;
    page.assert_no_problems().await?;
    browser.close().await
}

#[tokio::test]
async fn a_missing_chromium_is_named() {
    let missing = Options::default().chromium("/nonexistent/chromium");
    let error = Browser::launch(missing).await.unwrap_err().to_string();
    assert!(error.contains("apt-get install -y chromium"), "{error}");
    assert!(error.contains("/nonexistent/chromium"), "{error}");
}
