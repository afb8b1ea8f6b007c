//! Checking in at a venue from the resident's pages, in process: a typed short code or place
//! code, a camera frame with the place code's QR in it (read by the server), what is refused
//! (no QR, another region's code, garbage, an oversized frame, no CSRF token), and the 14-day
//! travel history. The camera in a real Chromium is tested in crates/e2e (tests/checkin.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::visitor::{Page, Visitor};
use common::{DOC, TestApp};
use healthcode_credential::{
    KeyUsage, PlaceClaims, SigningKey, TrustList, TrustedKey, issue_place_code,
};
use healthcode_domain::PlaceShortCode;
use image::{GrayImage, ImageFormat, Luma};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What only checking in asks of a visitor.
impl Visitor {
    /// A camera frame, as the page's script sends it.
    async fn frame(&mut self, bytes: Vec<u8>, content_type: &str) -> (StatusCode, Value) {
        let req = self
            .client
            .post(self.app.url("/checkin/frame"))
            .header("x-csrf-token", self.csrf())
            .header("content-type", content_type)
            .body(bytes);
        let page = self.send(req).await;
        (
            page.status,
            serde_json::from_str(&page.body).unwrap_or(Value::Null),
        )
    }

    async fn history(&mut self) -> String {
        let Page { status, body, .. } = self.get_lang("/history", "zh-CN").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// A visitor who has registered through the form.
async fn registered(app: &Arc<TestApp>) -> Visitor {
    let mut v = Visitor::with(app.clone());
    assert_eq!(v.register(DOC, "张三").await.status, StatusCode::SEE_OTHER);
    v
}

async fn venue(app: &TestApp, name: &str, district: &str) -> i64 {
    let (s, body) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": name, "kind": "park", "district": district, "address": "1号"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// A place code signed with the test region's code-signing key, naming `region`.
fn place(app: &TestApp, region: &str, venue_id: i64) -> String {
    issue_place_code(
        &PlaceClaims {
            region: region.into(),
            venue_id,
            issued_at: app.clock_now() - Duration::days(30),
        },
        &SigningKey::from_seed(&[2; 32]),
    )
    .unwrap()
}

/// A PNG of `text` as a QR, 6 pixels a module with a white quiet zone, as a camera might see
/// a poster.
fn qr_png(text: &str) -> Vec<u8> {
    let qr = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let width = qr.width();
    let colors = qr.to_colors();
    let (scale, quiet) = (6, 4);
    let side = u32::try_from((width + 2 * quiet) * scale).unwrap();
    let picture = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x as usize / scale, y as usize / scale);
        let dark = mx >= quiet
            && my >= quiet
            && mx < width + quiet
            && my < width + quiet
            && colors[(my - quiet) * width + (mx - quiet)] == qrcode::Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    png(&picture)
}

fn png(picture: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_typed_short_code_checks_in_and_shows_in_the_history() {
    let app = Arc::new(TestApp::spawn().await);
    let park = venue(&app, "北海公园", "西城区").await;
    let mut v = Visitor::with(app.clone());
    // Signed out, the page sends the visitor to sign in.
    let s = v.get_lang("/checkin", "zh-CN").await.status;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(v.register(DOC, "张三").await.status, StatusCode::SEE_OTHER);

    let Page {
        status: s,
        body: page,
        ..
    } = v.get_lang("/checkin", "zh-CN").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains(r#"id="start-camera""#), "{page}");
    assert!(
        page.contains("/assets/checkin."),
        "the page's script is linked"
    );
    let code_page = v.get_lang("/code", "zh-CN").await.body;
    assert!(
        code_page.contains(r#"href="/checkin""#),
        "the code page links it"
    );

    // Nothing yet.
    assert!(v.history().await.contains("最近14天没有登记记录"));

    // A typo in the short code is named, the text kept, nothing recorded.
    let short = PlaceShortCode::of(park).unwrap().to_string();
    let mut typo = short.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
    let typo = String::from_utf8(typo).unwrap();
    let Page {
        status: s,
        body: page,
        ..
    } = v.form("/checkin", &[("code", &typo)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("手输码不对"), "{page}");
    assert!(page.contains(&format!(r#"value="{typo}""#)), "{page}");
    // A short code that holds but names no venue.
    let nowhere = PlaceShortCode::of(park + 1000).unwrap().to_string();
    let Page {
        status: s,
        body: page,
        ..
    } = v.form("/checkin", &[("code", &nowhere)]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("没有这个场所"), "{page}");
    assert!(v.history().await.contains("最近14天没有登记记录"));

    // The right one, with the spaces a person might type.
    let spaced = format!("{} {}", &short[..1], &short[1..]);
    let Page {
        status: s,
        body: page,
        ..
    } = v.form("/checkin", &[("code", &spaced)]).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains(r#"id="checkin-done""#), "{page}");
    assert!(
        page.contains("北海公园") && page.contains("已登记"),
        "{page}"
    );
    assert!(page.contains("2026-05-01 12:00"), "local time: {page}");
    // No test yet: a person with no data is green, and a park asks for green only.
    assert!(page.contains("绿码") && page.contains("符合本场所的入场要求"));

    // A place code's text, as a BarcodeDetector in the browser reads it, works the same.
    let Page {
        status: s,
        body: page,
        ..
    } = v
        .form("/checkin", &[("code", &place(&app, "CN-BJ", park))])
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains(r#"id="checkin-done""#));

    let history = v.history().await;
    assert_eq!(history.matches(r#"class="visit""#).count(), 2, "{history}");
    assert!(history.contains("北海公园") && history.contains("西城区"));
    assert!(history.contains("2026-05-01 12:00"));
}

#[tokio::test]
async fn a_camera_frame_with_the_place_code_checks_in() {
    let app = Arc::new(TestApp::spawn().await);
    let park = venue(&app, "北海公园", "西城区").await;
    let mut v = registered(&app).await;

    let (s, out) = v
        .frame(qr_png(&place(&app, "CN-BJ", park)), "image/png")
        .await;
    assert_eq!(s, StatusCode::CREATED, "{out}");
    assert_eq!(out["venue"], "北海公园");
    let html = out["html"].as_str().unwrap();
    assert!(html.contains("已登记") && html.contains("绿码"), "{html}");
    assert!(v.history().await.contains("北海公园"));
}

#[tokio::test]
async fn frames_without_a_place_code_of_this_region_are_refused_and_record_nothing() {
    let app = Arc::new(TestApp::spawn().await);
    let park = venue(&app, "北海公园", "西城区").await;
    let mut v = registered(&app).await;

    let blank = png(&GrayImage::from_pixel(320, 240, Luma([255])));
    let refused: [(Vec<u8>, &str, StatusCode, &str); 4] = [
        (
            blank,
            "image/png",
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_place_code",
        ),
        // Naming another region, signed with a key that is not that region's.
        (
            qr_png(&place(&app, "CN-SH", park)),
            "image/png",
            StatusCode::UNPROCESSABLE_ENTITY,
            "place_code_invalid",
        ),
        (
            qr_png("https://example.com/not-a-place"),
            "image/png",
            StatusCode::UNPROCESSABLE_ENTITY,
            "place_code_invalid",
        ),
        (
            b"\xff\xd8\xff not a picture at all".to_vec(),
            "image/jpeg",
            StatusCode::UNPROCESSABLE_ENTITY,
            "image",
        ),
    ];
    for (bytes, content_type, status, code) in refused {
        let (s, out) = v.frame(bytes, content_type).await;
        assert_eq!(s, status, "{code}: {out}");
        assert_eq!(out["error"]["code"], code, "{out}");
        assert!(!out["error"]["message"].as_str().unwrap().is_empty());
    }
    // A place code of a region whose trust list is imported: it verifies, and the person is
    // told to check in with that region's app.
    let shanghai_root = SigningKey::from_seed(&[3; 32]);
    let shanghai = SigningKey::from_seed(&[4; 32]);
    let now = app.clock_now();
    let shanghai_list = TrustList {
        region: "CN-SH".into(),
        sequence: 1,
        issued_at: now - Duration::days(1),
        next_update: now + Duration::days(7),
        root_public_key: shanghai_root.public_key(),
        log: None,
        keys: vec![TrustedKey {
            kid: shanghai.kid(),
            public_key: shanghai.public_key(),
            not_before: now - Duration::days(60),
            not_after: now + Duration::days(365),
            usage: vec![KeyUsage::Code],
        }],
    };
    let mut trust = healthcode_verify::Trust::new().unwrap();
    trust.add_trust_list(TrustList::from_json(&app.trust_list, None).unwrap());
    trust.add_trust_list(shanghai_list);
    app.state.set_verifier(trust);
    let foreign = issue_place_code(
        &PlaceClaims {
            region: "CN-SH".into(),
            venue_id: park,
            issued_at: now - Duration::days(30),
        },
        &shanghai,
    )
    .unwrap();
    let (s, out) = v.frame(qr_png(&foreign), "image/png").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert_eq!(out["error"]["code"], "place_code_other_region");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("其他地区")
    );

    // Larger than a frame may be.
    let (s, out) = v.frame(vec![0; 600 * 1024], "image/jpeg").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{out}");
    assert_eq!(out["error"]["code"], "frame_too_large");

    assert!(v.history().await.contains("最近14天没有登记记录"));
}

#[tokio::test]
async fn checking_in_needs_the_csrf_token() {
    let app = Arc::new(TestApp::spawn().await);
    let park = venue(&app, "北海公园", "西城区").await;
    let mut v = registered(&app).await;
    let short = PlaceShortCode::of(park).unwrap().to_string();

    let req = v
        .client
        .post(app.url("/checkin"))
        .form(&[("code", short.as_str())]);
    let s = v.send(req).await.status;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let req = v
        .client
        .post(app.url("/checkin/frame"))
        .header("x-csrf-token", "A".repeat(43))
        .body(qr_png(&place(&app, "CN-BJ", park)));
    let s = v.send(req).await.status;
    assert_eq!(s, StatusCode::FORBIDDEN);

    assert!(v.history().await.contains("最近14天没有登记记录"));
}
