//! The resident's pages in process: forms, cookies, CSRF, languages, the passkey ceremonies
//! with a software passkey, and the live code stream. The same pages in a real browser are
//! tested in crates/e2e.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::visitor::Visitor;
use common::{DOC, TestApp};
use healthcode_store::{Store, Venues};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

/// What only the passkey tests ask of a visitor.
impl Visitor {
    /// The pages' public address, which passkeys are scoped to (shared by a region's nodes).
    fn origin(&self) -> Url {
        Url::parse(&self.app.state.config.public_url).unwrap()
    }

    /// Creates a passkey on `authenticator` for the signed-in visitor; returns the user handle
    /// the server asked the authenticator to keep, and the credential id.
    async fn create_passkey(&mut self, authenticator: &mut SoftPasskey) -> (Vec<u8>, String) {
        let (s, start) = self.json("/passkeys/register/start", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{start}");
        assert_eq!(
            start["options"]["publicKey"]["authenticatorSelection"]["residentKey"],
            "required"
        );
        assert_eq!(
            start["options"]["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        // The software passkey keeps no resident credentials; the server does not depend on
        // it (a browser's passkey is discoverable, as the Chromium tests show).
        let mut options = start["options"].clone();
        options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("discouraged");
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(false);
        let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
        let handle = options.public_key.user.id.to_vec();
        let credential = authenticator
            .do_registration(self.origin(), options)
            .unwrap();
        let id = credential.id.clone();
        let (s, done) = self
            .json(
                "/passkeys/register/finish",
                json!({"ceremony": start["ceremony"], "credential": credential}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{done}");
        (handle, id)
    }

    /// Signs in with the passkey. The software authenticator cannot discover its credentials
    /// by itself, so the test names the credential and hands back the user handle, as a
    /// discoverable authenticator does from what it stored.
    async fn sign_in(
        &mut self,
        authenticator: &mut SoftPasskey,
        handle: &[u8],
        credential_id: &str,
    ) -> (StatusCode, Value) {
        let (s, start) = self.json("/passkeys/signin/start", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{start}");
        assert!(
            start["options"]["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(|a| a.is_empty()),
            "discoverable: the server names no credential"
        );
        let mut options = start["options"].clone();
        options["publicKey"]["allowCredentials"] =
            json!([{"type": "public-key", "id": credential_id}]);
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let mut credential = authenticator
            .do_authentication(self.origin(), options)
            .unwrap();
        credential.response.user_handle = Some(handle.to_vec());
        self.json(
            "/passkeys/signin/finish",
            json!({"ceremony": start["ceremony"], "credential": credential}),
        )
        .await
    }
}

#[tokio::test]
async fn the_home_page_speaks_the_visitors_language_under_a_strict_policy() {
    let mut v = Visitor::new().await;
    let zh = v.get("/").await;
    assert_eq!(zh.status, StatusCode::OK);
    assert!(zh.body.contains("健康宝"), "{}", zh.body);
    assert!(zh.body.contains(r#"lang="zh-CN""#));
    let csp = zh.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(zh.headers["cache-control"], "no-store");
    let csrf = v
        .set_cookies
        .iter()
        .find(|c| c.starts_with("hc_csrf="))
        .unwrap();
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );

    let mut w = Visitor::new().await;
    let en = w.get_lang("/", "en-GB,en;q=0.9").await;
    assert!(en.body.contains("Health Code") && en.body.contains(r#"lang="en""#));

    // The choice is remembered over the header, and the switch goes back where it was.
    let back = v
        .form("/prefs", &[("lang", "en"), ("back", "/register")])
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.headers[LOCATION], "/register");
    let page = v.get_lang("/register", "zh-CN").await;
    assert!(page.body.contains("Document number"), "{}", page.body);
    // Large text.
    v.form("/prefs", &[("large", "1"), ("back", "/")]).await;
    assert!(v.get("/").await.body.contains(r#"class="large""#));
    // Never to another site.
    let away = v
        .form("/prefs", &[("lang", "zh"), ("back", "//evil.example/")])
        .await;
    assert_eq!(away.headers[LOCATION], "/");
}

#[tokio::test]
async fn assets_have_hashed_names_and_are_kept_for_a_year() {
    let mut v = Visitor::new().await;
    let home = v.get("/").await;
    let css = home
        .body
        .split('"')
        .find(|s| s.starts_with("/assets/app.") && s.ends_with(".css"))
        .unwrap()
        .to_owned();
    let got = v.get(&css).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(
        got.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        got.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        v.get("/assets/app.0000000000.css").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_nothing_is_saved() {
    let mut v = Visitor::new().await;
    v.get("/").await;
    let fields = [
        ("csrf", "forged-token-forged-token-forged-token-forge"),
        ("name", "张三"),
        ("document_type", "resident_id"),
        ("document_number", DOC),
    ];
    let page = v.form("/register", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!v.cookies.contains_key("hc_session"));
    // A script request without the header is refused too.
    let req = v
        .client
        .post(v.app.url("/passkeys/signin/start"))
        .json(&json!({}));
    assert_eq!(v.send(req).await.status, StatusCode::FORBIDDEN);
    assert_eq!(v.app.store.count_people().await.unwrap(), 0);
}

#[tokio::test]
async fn bad_fields_come_back_named_with_the_text_kept() {
    let mut v = Visitor::new().await;
    v.get("/").await;
    let page = v
        .form(
            "/register",
            &[
                ("name", "张三<b>"),
                ("document_type", "resident_id"),
                ("document_number", "110105194912310021"),
                ("phone", "12"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("身份证号码校验位不对"), "{}", page.body);
    assert!(page.body.contains("手机号应为11位"));
    assert!(page.body.contains("姓名只能包含"));
    // The text is kept, escaped.
    assert!(page.body.contains(r#"value="110105194912310021""#));
    assert!(page.body.contains("张三&#60;b&#62;") || page.body.contains("张三&lt;b&gt;"));
    assert!(!page.body.contains("张三<b>"));
    assert!(!v.cookies.contains_key("hc_session"));
    assert_eq!(v.app.store.count_people().await.unwrap(), 0);
}

#[tokio::test]
async fn register_create_a_passkey_sign_out_and_sign_in_with_it() {
    let mut v = Visitor::new().await;
    let registered = v.register(DOC, "张三").await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    assert_eq!(registered.headers[LOCATION], "/passkey");
    let session = v
        .set_cookies
        .iter()
        .find(|c| c.starts_with("hc_session="))
        .unwrap()
        .clone();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "served over plain http");

    let code = v.get("/code").await;
    assert_eq!(code.status, StatusCode::OK);
    assert!(code.body.contains("张*"), "masked name");
    assert!(!code.body.contains(DOC), "never the whole document number");
    assert!(code.body.contains("健康宝暂无您的防疫信息"), "no data yet");
    assert!(code.body.contains("<svg"), "the QR");

    let mut phone = SoftPasskey::new(true);
    let (handle, credential) = v.create_passkey(&mut phone).await;

    // Enrolment by name and number no longer signs this person in...
    let (s, body) = v
        .app
        .post(
            "/api/v1/enrol",
            None,
            json!({"document_type": "resident_id", "document_number": DOC, "name": "张三"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "passkey_required");
    // ...nor does the form.
    let again = v.register(DOC, "张三").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("您已创建通行密钥"), "{}", again.body);

    // Sign out; the code page then asks to sign in.
    let out = v.form("/signout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!v.cookies.contains_key("hc_session"));
    let code = v.get("/code").await;
    assert_eq!(code.status, StatusCode::SEE_OTHER);
    assert_eq!(code.headers[LOCATION], "/signin");

    // Sign in with the passkey.
    let (s, body) = v.sign_in(&mut phone, &handle, &credential).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["next"], "/code");
    assert_eq!(v.get("/code").await.status, StatusCode::OK);

    // Someone else's passkey answer with this person's handle is refused.
    let mut stranger = SoftPasskey::new(true);
    let mut w = Visitor::with(v.app.clone());
    w.register(common::DOC_B, "李四").await;
    let (_, stranger_credential) = w.create_passkey(&mut stranger).await;
    let (s, body) = w
        .sign_in(&mut stranger, &handle, &stranger_credential)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "passkey_refused");
}

#[tokio::test]
async fn a_ceremony_is_answered_once() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    let mut phone = SoftPasskey::new(true);
    let (handle, credential) = v.create_passkey(&mut phone).await;
    let (s, start) = v.json("/passkeys/signin/start", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let mut options = start["options"].clone();
    options["publicKey"]["allowCredentials"] = json!([{"type": "public-key", "id": credential}]);
    let mut answer = phone
        .do_authentication(v.origin(), serde_json::from_value(options).unwrap())
        .unwrap();
    answer.response.user_handle = Some(handle);
    let body = json!({"ceremony": start["ceremony"], "credential": answer});
    let (first, _) = v.json("/passkeys/signin/finish", body.clone()).await;
    assert_eq!(first, StatusCode::OK);
    let (replayed, err) = v.json("/passkeys/signin/finish", body).await;
    assert_eq!(replayed, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"]["code"], "ceremony_unknown");
}

#[tokio::test]
async fn a_lost_passkey_is_replaced_after_a_fresh_proofing_which_revokes_it() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    let mut lost = SoftPasskey::new(true);
    let (handle, lost_credential) = v.create_passkey(&mut lost).await;
    v.form("/signout", &[]).await;

    let page = v
        .form(
            "/register",
            &[
                ("name", "张三"),
                ("document_type", "resident_id"),
                ("document_number", DOC),
                ("recover", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.headers[LOCATION], "/passkey");
    let mut new_phone = SoftPasskey::new(true);
    let (new_handle, new_credential) = v.create_passkey(&mut new_phone).await;
    assert_eq!(handle, new_handle, "the same person");
    v.form("/signout", &[]).await;

    let (s, _) = v.sign_in(&mut lost, &handle, &lost_credential).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old passkey is revoked");
    let (s, body) = v.sign_in(&mut new_phone, &handle, &new_credential).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_open_code_page_is_told_within_two_seconds_that_its_status_changed() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    let lab = v.app.keys.lab.clone();
    let (s, _) = v
        .app
        .post(
            "/api/v1/test-results",
            Some(&lab),
            v.app.pcr("r-1", DOC, "negative", 3),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // The change feed picks the result up.
    let mut green = false;
    for _ in 0..30 {
        let card = v.get("/code/card").await;
        if card.body.contains(r#"data-colour="green""#) && card.body.contains("0天") {
            green = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(green, "a negative test makes the code green");

    let resp = v
        .client
        .get(v.app.url("/code/events"))
        .header("cookie", v.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = resp.bytes_stream();
    use futures_util::StreamExt;
    let mut seen = String::new();
    // The first event says the stream is open.
    while !seen.contains("data: open") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("the stream opens")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let (s, _) = v
        .app
        .post(
            "/api/v1/test-results",
            Some(&lab),
            v.app.pcr("r-2", DOC, "positive", 1),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let started = std::time::Instant::now();
    while !seen.contains("data: changed") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("told within 2 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    let card = v.get("/code/card").await;
    assert!(
        !card.body.contains(r#"data-colour="green""#),
        "{}",
        card.body
    );
    assert!(card.body.contains("黄码") || card.body.contains("红码"));
    let why = v.get("/why").await;
    assert!(why.body.contains("r-2"), "why names the test: {}", why.body);
    assert!(why.body.contains("阳性"));
}

#[tokio::test]
async fn pages_without_a_session_send_the_visitor_to_sign_in() {
    let mut v = Visitor::new().await;
    for path in ["/code", "/why", "/passkey"] {
        let page = v.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.headers[LOCATION], "/signin", "{path}");
    }
    assert_eq!(v.get("/code/card").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(v.get("/code/events").await.status, StatusCode::UNAUTHORIZED);
    // A made-up session cookie is no session.
    v.cookies.insert("hc_session".into(), "hcs_made-up".into());
    assert_eq!(v.get("/code").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_guardian_adds_shows_and_removes_dependants_and_sees_no_one_else() {
    let app = Arc::new(TestApp::spawn().await);
    let mut guardian = Visitor::with(app.clone());
    guardian.register(DOC, "张三").await;
    let page = guardian.get("/family").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("还没有添加家人"));

    // A bad number comes back named; nothing is added.
    let bad = guardian
        .form(
            "/family",
            &[
                ("name", "张小"),
                ("document_type", "resident_id"),
                ("document_number", "110101198001010054"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("校验位"), "{}", bad.body);
    assert!(bad.body.contains(r#"value="张小""#));

    let added = guardian
        .form(
            "/family",
            &[
                ("name", "张小"),
                ("document_type", "resident_id"),
                ("document_number", "110101198001010053"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let list = guardian.get("/family").await;
    assert!(list.body.contains("张*"));
    let id = list
        .body
        .split("href=\"/family/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    // The dependant's code, live like one's own, saying who shows it.
    let code = guardian.get(&format!("/family/{id}")).await;
    assert_eq!(code.status, StatusCode::OK);
    assert!(code.body.contains("代查人：张*"), "{}", code.body);
    assert!(
        code.body
            .contains(&format!(r#"data-card-url="/family/{id}/card""#))
    );
    assert_eq!(
        guardian.get(&format!("/family/{id}/card")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        guardian.get(&format!("/family/{id}/why")).await.status,
        StatusCode::OK
    );

    // Someone else cannot see it, nor learn whether it exists.
    let mut stranger = Visitor::with(app.clone());
    stranger.register(common::DOC_B, "李四").await;
    for path in [
        format!("/family/{id}"),
        format!("/family/{id}/card"),
        format!("/family/{id}/why"),
        "/family/999".to_owned(),
    ] {
        let page = stranger.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        stranger
            .form(&format!("/family/{id}/remove"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Up to four.
    let docs = [
        "110101199001010015",
        "110101199001010023",
        "110101199001010031",
        "11010119900101004X",
    ];
    for doc in &docs[..3] {
        let page = guardian
            .form(
                "/family",
                &[
                    ("name", "张某"),
                    ("document_type", "resident_id"),
                    ("document_number", doc),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{doc}: {}", page.body);
    }
    let full = guardian.get("/family").await;
    assert!(full.body.contains("最多可添加4位家人"), "{}", full.body);
    let fifth = guardian
        .form(
            "/family",
            &[
                ("name", "张某"),
                ("document_type", "resident_id"),
                ("document_number", docs[3]),
            ],
        )
        .await;
    assert_eq!(fifth.status, StatusCode::UNPROCESSABLE_ENTITY);

    let removed = guardian.form(&format!("/family/{id}/remove"), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        guardian.get(&format!("/family/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sessions_end_at_midnight_and_the_code_page_then_asks_for_the_passkey() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    let session = v
        .set_cookies
        .iter()
        .find(|c| c.starts_with("hc_session="))
        .unwrap()
        .clone();
    // 12:00 in Beijing: the cookie lasts twelve hours, to 24:00.
    assert!(session.contains("Max-Age=43200"), "{session}");
    assert_eq!(v.get("/code").await.status, StatusCode::OK);
    v.app.clock.advance(chrono::Duration::hours(12));
    let page = v.get("/code").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[LOCATION], "/signin");
}

#[tokio::test]
async fn over_https_the_cookies_are_secure() {
    let app = TestApp::builder()
        .config(|c| c.public_url = "https://health.example".to_owned())
        .spawn()
        .await;
    let mut v = Visitor::with(Arc::new(app));
    v.register(DOC, "张三").await;
    for c in &v.set_cookies {
        assert!(c.contains("; Secure"), "{c}");
    }
    assert!(v.set_cookies.iter().any(|c| c.starts_with("hc_session=")));
}

#[tokio::test]
async fn the_api_gives_a_guardian_their_dependants_codes_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let guardian = app.enrol(DOC, "张三").await;
    let other = app.enrol(common::DOC_B, "李四").await;
    let (s, added) = app
        .post(
            "/api/v1/me/dependants",
            Some(&guardian),
            json!({"document_type": "resident_id", "document_number": "110101198001010053", "name": "张小"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let id = added["id"].as_i64().unwrap();
    assert_eq!(added["masked_name"], "张*");
    let (s, list) = app.get("/api/v1/me/dependants", Some(&guardian)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, code) = app
        .get(&format!("/api/v1/me/dependants/{id}/code"), Some(&guardian))
        .await;
    assert_eq!(s, StatusCode::OK, "{code}");
    let claims = app
        .verifier()
        .verify(code["code"].as_str().unwrap(), app.clock_now())
        .unwrap();
    assert_eq!(claims.masked_name, "张*");
    assert_eq!(code["status"]["masked_document"], added["masked_document"]);
    let (s, body) = app
        .get(&format!("/api/v1/me/dependants/{id}/code"), Some(&other))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "not_your_dependant");
    // Oneself is refused.
    let (s, body) = app
        .post(
            "/api/v1/me/dependants",
            Some(&guardian),
            json!({"document_type": "resident_id", "document_number": DOC, "name": "张三"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "dependant_self");
    let (s, _) = app
        .post(
            &format!("/api/v1/me/dependants/{id}/remove"),
            Some(&guardian),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .get(
            &format!("/api/v1/me/dependants/{id}/status"),
            Some(&guardian),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_code_page_with_everything_it_loads_is_under_60_kb_compressed() {
    use std::io::Write;
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    let page = v.get("/code").await;
    assert_eq!(page.status, StatusCode::OK);
    let gzip = |body: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(body).unwrap();
        e.finish().unwrap().len()
    };
    let mut total = gzip(page.body.as_bytes());
    let assets: Vec<String> = page
        .body
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_owned)
        .collect();
    assert!(assets.len() >= 2, "{assets:?}");
    for a in assets {
        let got = v.get(&a).await;
        assert_eq!(got.status, StatusCode::OK, "{a}");
        total += gzip(got.body.as_bytes());
    }
    assert!(total < 60 * 1024, "{total} bytes compressed");
}

// ---------------------------------------------------------------------------------------
// Paper passes

/// The text of the QR in the first `<svg>` after `id="{id}"` in `body`: the `qrcode` crate's
/// rectangles (`M{x} {y}h{w}v{h}H{x}V{y}`) drawn into a bitmap and read with `rqrr`, a decoder
/// of its own.
fn qr_in(body: &str, id: &str) -> String {
    let at = body.find(&format!("id=\"{id}\"")).expect("QR on the page");
    let svg = &body[at..];
    let svg = &svg[svg.find("<svg").unwrap()..svg.find("</svg>").unwrap()];
    let attr = |name: &str| -> usize {
        let from = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        svg[from..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (attr("width"), attr("height"));
    let mut grid = vec![vec![false; w]; h];
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let (xy, rest) = rect.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (rw, rest) = rest.split_once('v').unwrap();
        let rh = rest.split('H').next().unwrap();
        let [x, y, rw, rh]: [usize; 4] = [x, y, rw, rh].map(|n| n.parse().unwrap());
        for row in &mut grid[y..y + rh] {
            for cell in &mut row[x..x + rw] {
                *cell = true;
            }
        }
    }
    let mut image = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| grid[y][x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("decodes").1
}

/// A venue of `kind` with one gate device; returns the device's key and id.
async fn gate_at(app: &TestApp, kind: &str) -> (String, i64) {
    let (s, venue) = app
        .post(
            "/api/v1/venues",
            Some(&app.keys.operator),
            json!({"name": "国贸大厦", "kind": kind, "district": "朝阳区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{venue}");
    let (s, device) = app
        .post(
            &format!("/api/v1/venues/{}/devices", venue["id"]),
            Some(&app.keys.operator),
            json!({"name": "gate 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{device}");
    (
        device["key"].as_str().unwrap().to_owned(),
        device["id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_paper_pass_prints_the_masked_identity_and_resolves_at_the_gate_to_the_current_status() {
    let app = Arc::new(TestApp::spawn().await);
    let mut v = Visitor::with(app.clone());
    v.register(DOC, "张三").await;

    // No pass yet: the page offers to issue one, and the code page links to it.
    assert!(v.get("/code").await.body.contains(r#"href="/pass""#));
    let empty = v.get("/pass").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains(r#"id="issue-pass""#), "{}", empty.body);
    assert!(!empty.body.contains(r#"id="sheet""#));
    // A form without its CSRF token issues nothing.
    let forged = v.form("/pass", &[("csrf", "x")]).await;
    assert_ne!(forged.status, StatusCode::SEE_OTHER);
    assert!(!v.get("/pass").await.body.contains(r#"id="sheet""#));

    let issued = v.form("/pass", &[]).await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER);
    assert_eq!(issued.headers[LOCATION], "/pass");
    let sheet = v.get("/pass").await;
    assert!(
        sheet.body.contains(r#"id="pass-name">张*<"#),
        "{}",
        sheet.body
    );
    assert!(sheet.body.contains("11**************2X"));
    assert!(!sheet.body.contains(DOC), "never the whole number");
    assert!(sheet.body.contains("本通行证不显示健康状态"));
    assert!(sheet.body.contains(r#"<section class="sheet a6""#));
    assert!(sheet.body.contains(r#"id="reprint-pass""#));
    let a4 = v.get("/pass?size=a4").await;
    assert!(a4.body.contains(r#"<section class="sheet a4""#));
    let en = v.get_lang("/pass", "en").await;
    assert!(en.body.contains("This pass shows no health status"));

    // The QR is a pass that verifies, names the pass and not a status, and prints the same.
    let first = qr_in(&sheet.body, "pass-qr");
    assert!(first.starts_with("HCZ1:"), "{first}");
    assert_eq!(qr_in(&a4.body, "pass-qr"), first);
    let claims = app
        .verifier()
        .verify_pass(&first, app.clock_now())
        .expect("verifies");
    assert_eq!(
        (claims.region.as_str(), claims.masked_name.as_str()),
        ("CN-BJ", "张*")
    );

    // A gate resolves it to the holder's current colour …
    let (gate, device_id) = gate_at(&app, "office").await;
    let ask = |pass: &str| app.post("/api/v1/gate/pass", Some(&gate), json!({ "pass": pass }));
    let (s, out) = ask(&first).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["masked_name"], "张*");
    assert_eq!(out["colour"], "green");
    assert_eq!(out["checked_in"], true);
    // … and after a positive test the same sheet resolves to the new colour.
    let (s, body) = app
        .post(
            "/api/v1/test-results",
            Some(&app.keys.lab),
            app.pcr("PASS-1", DOC, "positive", 3),
        )
        .await;
    assert!(s.is_success(), "{body}");
    let (s, out) = ask(&first).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let shown = v.get("/code").await.body;
    let colour = out["colour"].as_str().unwrap();
    assert_ne!(colour, "green");
    assert!(
        shown.contains(&format!(r#"data-colour="{colour}""#)),
        "the colour the app shows"
    );
    assert_eq!(out["pass"], false);

    // Reprinting revokes the old sheet.
    assert_eq!(v.form("/pass", &[]).await.status, StatusCode::SEE_OTHER);
    let second = qr_in(&v.get("/pass").await.body, "pass-qr");
    assert_ne!(second, first);
    let (s, err) = ask(&first).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::GONE, Some("pass_revoked"))
    );
    assert_eq!(ask(&second).await.0, StatusCode::OK);

    // Forged, damaged, another kind, a pass the registry never issued.
    let mut damaged = second.clone().into_bytes();
    let at = damaged.len() - 10;
    damaged[at] = if damaged[at] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).unwrap();
    let stranger = healthcode_credential::issue_pass(
        &claims,
        &healthcode_credential::SigningKey::from_seed(&[9; 32]),
    )
    .unwrap();
    for text in [damaged.as_str(), "HCN1:ABC", stranger.as_str(), ""] {
        let (s, err) = ask(text).await;
        assert_eq!(
            (s, err["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("pass_invalid")),
            "{text}"
        );
    }
    let unknown = healthcode_credential::issue_pass(
        &healthcode_credential::PassClaims {
            serial: [0; 16],
            ..claims.clone()
        },
        &healthcode_credential::SigningKey::from_seed(&[2; 32]),
    )
    .unwrap();
    let (s, err) = ask(&unknown).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("pass_unknown"))
    );

    // Revoking from the page: the gate refuses the sheet, the page offers a new one.
    assert_eq!(
        v.form("/pass/revoke", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(ask(&second).await.1["error"]["code"], "pass_revoked");
    assert!(v.get("/pass").await.body.contains(r#"id="issue-pass""#));

    // Every lookup is in the access log under its own action, with its outcome.
    let log = app
        .store
        .accesses(&format!("device:{device_id}"), 100)
        .await
        .unwrap();
    assert!(log.iter().all(|a| a.action == "pass_lookup"));
    let count = |o: &str| log.iter().filter(|a| a.outcome == o).count();
    assert_eq!(
        (
            count("ok"),
            count("revoked"),
            count("invalid_pass"),
            count("unknown")
        ),
        (3, 2, 4, 1)
    );
}

#[tokio::test]
async fn paper_pass_lookups_are_limited_per_device() {
    let app = Arc::new(
        TestApp::builder()
            .config(|c| {
                c.sentinel_rate = healthcode_server::limits::RateLimit {
                    per_second: 0.01,
                    burst: 2.0,
                }
            })
            .spawn()
            .await,
    );
    let mut v = Visitor::with(app.clone());
    v.register(DOC, "张三").await;
    v.form("/pass", &[]).await;
    let pass = qr_in(&v.get("/pass").await.body, "pass-qr");
    let (gate, device_id) = gate_at(&app, "office").await;
    let (other_gate, _) = gate_at(&app, "office").await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        let (s, _) = app
            .post("/api/v1/gate/pass", Some(&gate), json!({ "pass": pass }))
            .await;
        answers.push(s);
    }
    assert_eq!(
        answers,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let (s, _) = app
        .post(
            "/api/v1/gate/pass",
            Some(&other_gate),
            json!({ "pass": pass }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "another device is not held up");
    let log = app
        .store
        .accesses(&format!("device:{device_id}"), 100)
        .await
        .unwrap();
    assert_eq!(
        log.iter().filter(|a| a.outcome == "rate_limited").count(),
        2
    );
}

#[tokio::test]
async fn declaring_symptoms_shows_a_reminder_that_why_calls_self_declared_until_a_negative_pcr() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    let code = v.get("/code").await;
    assert!(code.body.contains(r#"href="/declare""#), "{}", code.body);
    let page = v.get("/declare").await;
    assert_eq!(page.status, StatusCode::OK);
    // Filled with today, and no date after it can be picked.
    assert!(page.body.contains(r#"value="2026-05-01""#), "{}", page.body);
    assert!(page.body.contains(r#"max="2026-05-01""#));
    assert!(page.body.contains("暂无申报"));
    let page = v
        .form(
            "/declare/symptoms",
            &[
                ("symptoms", "fever"),
                ("symptoms", "sore_throat"),
                ("onset", "2026-05-01"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.headers[LOCATION], "/code");
    let card = v.get("/code/card").await;
    assert!(
        card.body.contains("自主申报有发热等症状"),
        "the code shows reminder 6: {}",
        card.body
    );
    let why = v.get("/why").await;
    assert!(why.body.contains("自主申报"), "{}", why.body);
    assert!(why.body.contains("发热、咽痛"), "{}", why.body);
    assert!(why.body.contains("2026-05-01"));
    let mine = v.get("/declare").await;
    assert!(mine.body.contains("健康申报（症状）"), "{}", mine.body);
    assert!(!mine.body.contains("暂无申报"));
    // In English too.
    let why = v.get_lang("/why", "en").await;
    assert!(why.body.contains("Self-declared"), "{}", why.body);
    assert!(why.body.contains("fever, sore throat since 2026-05-01"));

    // A negative PCR sampled after the onset clears it.
    let lab = v.app.keys.lab.clone();
    let (s, _) = v
        .app
        .post(
            "/api/v1/test-results",
            Some(&lab),
            v.app.pcr("r-1", DOC, "negative", 1),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let card = v.get("/code/card").await;
    assert!(!card.body.contains("自主申报有发热等症状"), "{}", card.body);
}

#[tokio::test]
async fn a_declared_arrival_shows_reminder_four() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    v.get("/declare").await;
    let page = v
        .form(
            "/declare/arrival",
            &[("from", "上海"), ("arrived_at", "2026-05-01T09:30")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let card = v.get("/code/card").await;
    assert!(
        card.body.contains("抵达后72小时内未进行核酸检测"),
        "{}",
        card.body
    );
    let why = v.get("/why").await;
    assert!(why.body.contains("自上海抵达"), "{}", why.body);
    assert!(why.body.contains("2026-05-01 09:30"), "{}", why.body);
}

#[tokio::test]
async fn bad_declarations_come_back_named_with_the_text_kept_and_nothing_is_saved() {
    let mut v = Visitor::new().await;
    v.register(DOC, "张三").await;
    v.get("/declare").await;
    // Nothing ticked.
    let page = v
        .form("/declare/symptoms", &[("onset", "2026-04-28")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("请至少选择一项症状"), "{}", page.body);
    assert!(page.body.contains(r#"value="2026-04-28""#));
    // The arrival form, not sent, holds its default: now.
    assert!(
        page.body.contains(r#"value="2026-05-01T12:00""#),
        "{}",
        page.body
    );
    // A day that has not come yet; the ticks are kept.
    let page = v
        .form(
            "/declare/symptoms",
            &[("symptoms", "cough"), ("onset", "2026-05-03")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("时间不能晚于现在"), "{}", page.body);
    assert!(
        page.body.contains(r#"value="cough" checked"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r##"href="#onset""##));
    // An empty place; the time is kept.
    let page = v
        .form(
            "/declare/arrival",
            &[("from", " "), ("arrived_at", "2026-05-01T08:00")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("请填写出发地"), "{}", page.body);
    assert!(page.body.contains(r#"value="2026-05-01T08:00""#));
    // A time that is not one; the place is kept, escaped.
    let page = v
        .form(
            "/declare/arrival",
            &[("from", "上海<b>"), ("arrived_at", "yesterday")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("请填写有效的日期和时间"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("上海<b>"));
    // An arrival in the future.
    let page = v
        .form(
            "/declare/arrival",
            &[("from", "上海"), ("arrived_at", "2026-05-01T14:00")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("时间不能晚于现在"), "{}", page.body);
    // Without the CSRF token nothing is read at all.
    let page = v
        .form(
            "/declare/symptoms",
            &[
                ("csrf", "x"),
                ("symptoms", "fever"),
                ("onset", "2026-05-01"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let mine = v.get("/declare").await;
    assert!(mine.body.contains("暂无申报"), "{}", mine.body);
    let card = v.get("/code/card").await;
    assert!(card.body.contains(r#"id="no-data""#), "{}", card.body);
}

#[tokio::test]
async fn declaring_needs_a_session() {
    let mut v = Visitor::new().await;
    let page = v.get("/declare").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[LOCATION], "/signin");
    let page = v
        .form(
            "/declare/symptoms",
            &[("symptoms", "fever"), ("onset", "2026-05-01")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[LOCATION], "/signin");
}

#[tokio::test]
async fn two_nodes_share_sessions_ceremonies_and_live_pages() {
    let a = Arc::new(TestApp::spawn().await);
    let b = Arc::new(a.second_node().await);
    let mut on_a = Visitor::with(a.clone());
    on_a.register(DOC, "张三").await;
    let mut on_b = Visitor::with(b.clone());
    on_b.cookies = on_a.cookies.clone();
    assert_eq!(
        on_b.get("/code").await.status,
        StatusCode::OK,
        "the session on both"
    );

    // A passkey ceremony started on one node is finished on the other.
    let (s, start) = on_a.json("/passkeys/register/start", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{start}");
    let mut options = start["options"].clone();
    options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("discouraged");
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(false);
    let mut phone = SoftPasskey::new(true);
    let credential = phone
        .do_registration(on_a.origin(), serde_json::from_value(options).unwrap())
        .unwrap();
    let (s, done) = on_b
        .json(
            "/passkeys/register/finish",
            json!({"ceremony": start["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");

    // A page open on one node hears of a result submitted to the other.
    let resp = on_b
        .client
        .get(b.url("/code/events"))
        .header("cookie", on_b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    use futures_util::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("data: open") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("the stream opens")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let lab = a.keys.lab.clone();
    let (s, _) = a
        .post(
            "/api/v1/test-results",
            Some(&lab),
            a.pcr("r-9", DOC, "positive", 1),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    while !seen.contains("data: changed") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("the other node's page is told within 2 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let card = on_b.get("/code/card").await;
    assert!(
        !card.body.contains(r#"data-colour="green""#),
        "{}",
        card.body
    );
}

#[tokio::test]
async fn the_receipts_page_lists_each_record_and_hands_out_its_receipt() {
    let app = Arc::new(TestApp::spawn().await);
    let mut v = Visitor::with(app.clone());
    v.register(DOC, "张三").await;
    let empty = v.get("/receipts").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("还没有关于您的记录"), "{}", empty.body);
    for (record, result) in [("R-1", "negative"), ("R-2", "positive")] {
        let (status, body) = app
            .post(
                "/api/v1/test-results",
                Some(&app.keys.lab),
                app.pcr(record, DOC, result, 4),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Within about a second both are in the log.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let page = loop {
        let page = v.get("/receipts").await;
        if page.body.matches("已写入公开日志").count() == 2 {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(page.body.matches("检测结果").count(), 2);
    assert!(page.body.contains("href=\"/receipts/2\""));
    let key = app.state.log().unwrap().verifier().to_string();
    assert!(page.body.contains(&key), "the log key to check with");
    assert!(!page.body.contains(DOC) && !page.body.contains("R-1"));

    let download = v.get("/receipts/2").await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("receipt-2.json")
    );
    let receipt: healthcode_store::leaf::Receipt = serde_json::from_str(&download.body).unwrap();
    assert!(receipt.record.contains("\"outcome\":\"positive\""));
    receipt.check_record().unwrap();
    assert_eq!(v.get("/receipts/3").await.status, StatusCode::NOT_FOUND);
    assert_eq!(v.get("/receipts/0").await.status, StatusCode::NOT_FOUND);

    // In English too; and nobody else's.
    let en = v.get_lang("/receipts", "en").await;
    assert!(en.body.contains("In the public log, entry"), "{}", en.body);
    let mut other = Visitor::with(app.clone());
    other.register(common::DOC_B, "李四").await;
    assert!(
        other
            .get("/receipts")
            .await
            .body
            .contains("还没有关于您的记录")
    );
    assert_eq!(other.get("/receipts/1").await.status, StatusCode::NOT_FOUND);
    let mut stranger = Visitor::with(app.clone());
    assert_eq!(
        stranger.get("/receipts").await.status,
        StatusCode::SEE_OTHER
    );
}
