//! `Visitor`: a client that keeps cookies and follows no redirects, as a browser on the
//! resident's pages does, with the forms' CSRF token filled in.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;

use super::TestApp;

/// A visitor: a client that keeps cookies and does not follow redirects.
pub struct Visitor {
    pub app: Arc<TestApp>,
    pub client: reqwest::Client,
    pub cookies: HashMap<String, String>,
    /// Every `Set-Cookie` seen, whole, to check the flags.
    pub set_cookies: Vec<String>,
}

/// A response, as the visitor received it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Visitor {
    pub async fn new() -> Visitor {
        Visitor::with(Arc::new(TestApp::spawn().await))
    }

    pub fn with(app: Arc<TestApp>) -> Visitor {
        Visitor {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap().to_owned();
            let (pair, _) = v.split_once(';').unwrap_or((&v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.set_cookies.push(v);
        }
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let resp = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        self.keep(&headers);
        Page {
            status,
            headers,
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(self.app.url(path));
        self.send(req).await
    }

    pub async fn get_lang(&mut self, path: &str, accept: &str) -> Page {
        let req = self
            .client
            .get(self.app.url(path))
            .header("accept-language", accept);
        self.send(req).await
    }

    pub fn csrf(&self) -> String {
        self.cookies.get("hc_csrf").cloned().unwrap_or_default()
    }

    pub async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if !fields.iter().any(|(k, _)| k == "csrf") {
            fields.push(("csrf".into(), self.csrf()));
        }
        let req = self.client.post(self.app.url(path)).form(&fields);
        self.send(req).await
    }

    pub async fn json(&mut self, path: &str, body: Value) -> (StatusCode, Value) {
        let req = self
            .client
            .post(self.app.url(path))
            .header("x-csrf-token", self.csrf())
            .json(&body);
        let page = self.send(req).await;
        (
            page.status,
            serde_json::from_str(&page.body).unwrap_or(Value::Null),
        )
    }

    pub async fn register(&mut self, doc: &str, name: &str) -> Page {
        self.get("/").await;
        self.form(
            "/register",
            &[
                ("name", name),
                ("document_type", "resident_id"),
                ("document_number", doc),
                ("phone", ""),
            ],
        )
        .await
    }
}
