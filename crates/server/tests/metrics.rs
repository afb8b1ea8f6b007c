//! `/metrics`: off unless configured, behind a bearer token on the main listener, open on a
//! listener of its own; requests counted by their route's pattern (never the path asked for)
//! with a latency histogram; refusals, cache lookups, imports, connections, the change feed
//! and the database pools; and no personal data anywhere in it.
//!
//! The tests in this file share one recorder (one per process) and run in parallel, so each
//! asserts on what it caused — counters that grew by at least as much as it did — never on
//! totals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use healthcode_server::metrics::MetricsToken;
use reqwest::StatusCode;
use serde_json::json;

use common::{DOC, TestApp};

const TOKEN: &str = "hcm_test-token-for-metrics";

/// A server whose main listener serves `/metrics` with [`TOKEN`].
async fn with_token(f: impl FnOnce(&mut healthcode_server::ServerConfig)) -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.metrics_token = MetricsToken::new(TOKEN);
            f(c);
        })
        .spawn()
        .await
}

impl TestApp {
    /// The metrics text, read with the token.
    async fn scrape(&self) -> String {
        let resp = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("scrape");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.expect("text")
    }
}

/// The sum of the samples of `name` whose labels include every one of `labels`; `None` if
/// there is no such sample.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")))
        {
            *found.get_or_insert(0.0) += value.parse::<f64>().expect("a number");
        }
    }
    found
}

/// How much a counter grew between two scrapes (a counter never seen before started at 0).
fn grew(before: &str, after: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(after, name, labels).unwrap_or(0.0) - sample(before, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_not_served_unless_configured() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no token configured");
}

#[tokio::test]
async fn the_main_listener_asks_for_the_token() {
    let app = with_token(|_| {}).await;
    let get = |bearer: Option<&'static str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send()
    };
    let none = get(None).await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.headers().get("www-authenticate").unwrap(),
        "Bearer",
        "the challenge says how to authenticate"
    );
    let wrong = get(Some("hcm_not-the-token")).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body = wrong.text().await.unwrap();
    assert!(!body.contains("healthcode_"), "{body}");
    let prefix = get(Some("hcm_test-token")).await.unwrap();
    assert_eq!(
        prefix.status(),
        StatusCode::UNAUTHORIZED,
        "part of the token"
    );

    let right = get(Some(TOKEN)).await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let content_type = right.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = right.text().await.unwrap();
    assert!(
        body.contains("# TYPE healthcode_http_requests_total counter"),
        "{body}"
    );
    // Only POST is not allowed; the answer is counted like any other.
    let post = app.client.post(app.url("/metrics")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_with_their_latency() {
    let app = with_token(|_| {}).await;
    let token = app.enrol(DOC, "张三").await;
    let before = app.scrape().await;
    for _ in 0..3 {
        app.status(&token).await;
    }
    let (s, _) = app.get("/api/v1/me/status", Some("hcs_nobody")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Paths holding an id, and one no route matches.
    app.get("/api/v1/venues/987654321", Some(&app.keys.operator))
        .await;
    let (s, _) = app.get(&format!("/no/such/path/{DOC}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(&format!("/api/v1/records/LAB-{DOC}"), Some(&app.keys.lab))
        .await;
    assert!(s.is_client_error() || s.is_success(), "{s}");
    let after = app.scrape().await;

    let status = [("route", "/api/v1/me/status"), ("method", "GET")];
    let ok = [status.as_slice(), &[("status", "200"), ("class", "2xx")]].concat();
    assert!(
        grew(&before, &after, "healthcode_http_requests_total", &ok) >= 3.0,
        "{after}"
    );
    let refused = [status.as_slice(), &[("status", "401"), ("class", "4xx")]].concat();
    assert!(grew(&before, &after, "healthcode_http_requests_total", &refused) >= 1.0);
    // Ids and unmatched paths are labelled by the pattern, never by the path.
    let venue = [("route", "/api/v1/venues/{id}")];
    assert!(grew(&before, &after, "healthcode_http_requests_total", &venue) >= 1.0);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(
        grew(
            &before,
            &after,
            "healthcode_http_requests_total",
            &unmatched
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "healthcode_http_requests_total",
            &[("route", "/api/v1/records/{record_id}")]
        )
        .is_some(),
        "{after}"
    );

    // A latency histogram per route: every request falls in the +Inf bucket.
    let inf = [status.as_slice(), &[("le", "+Inf")]].concat();
    assert!(
        grew(
            &before,
            &after,
            "healthcode_http_request_duration_seconds_bucket",
            &inf
        ) >= 4.0,
        "{after}"
    );
    assert!(
        after.contains("healthcode_http_request_duration_seconds_bucket{route=\"/api/v1/me/status\",method=\"GET\",le=\"0.005\"}"),
        "{after}"
    );
    assert!(
        sample(
            &after,
            "healthcode_http_request_duration_seconds_count",
            &status
        )
        .is_some()
    );

    // The session cache was asked, and the open connection is counted.
    assert!(
        sample(
            &after,
            "healthcode_cache_lookups_total",
            &[("cache", "session")]
        )
        .is_some(),
        "{after}"
    );
    assert!(sample(&after, "healthcode_connections_open", &[]).unwrap_or(0.0) >= 1.0);

    // Nothing personal: no document number (even one sent in a path), name, session token,
    // provider key, id or raw path.
    for secret in [
        DOC,
        "张三",
        token.as_str(),
        app.keys.lab.as_str(),
        app.keys.operator.as_str(),
        "987654321",
        "/no/such/path",
        TOKEN,
    ] {
        assert!(!after.contains(secret), "{secret} in the metrics");
    }
}

#[tokio::test]
async fn rate_limited_and_shed_requests_are_counted() {
    let app = with_token(|c| {
        c.rate_limit = healthcode_server::limits::RateLimit {
            per_second: 1.0,
            burst: 3.0,
        }
    })
    .await;
    let before = app.scrape().await;
    let mut refused = 0;
    for _ in 0..6 {
        let (s, _) = app.get("/healthz", None).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 3, "{refused}");
    // The limit follows the server's clock: a minute on, the scrape is admitted.
    app.clock.advance(Duration::minutes(1));
    let after = app.scrape().await;
    assert!(
        grew(
            &before,
            &after,
            "healthcode_http_requests_rate_limited_total",
            &[("limit", "client")]
        ) >= f64::from(refused),
        "{after}"
    );
    let limited = [("route", "/healthz"), ("status", "429"), ("class", "4xx")];
    assert!(
        grew(&before, &after, "healthcode_http_requests_total", &limited) >= f64::from(refused)
    );

    // With no capacity every API request is shed (the metrics, like the health checks, are
    // outside the limit).
    let shed = with_token(|c| c.max_in_flight = 0).await;
    let before = shed.scrape().await;
    let (s, body) = shed.get("/api/v1/trust-list", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let after = shed.scrape().await;
    assert!(
        grew(
            &before,
            &after,
            "healthcode_http_requests_shed_total",
            &[("limit", "in_flight")]
        ) >= 1.0,
        "{after}"
    );
}

#[tokio::test]
async fn imported_rows_are_counted_by_kind() {
    let app = with_token(|_| {}).await;
    let before = app.scrape().await;
    let now = app.clock_now();
    let at = |h: i64| (now - Duration::hours(h)).to_rfc3339();
    let csv = format!(
        "record_id,document_type,document_number,sampled_at,resulted_at,kind,result\n\
         M-1,resident_id,{DOC},{},{},pcr,negative\n\
         M-2,resident_id,110105194912310021,{},{},pcr,negative\n",
        at(30),
        at(28),
        at(30),
        at(28)
    );
    let (s, report) = app
        .post_raw(
            "/api/v1/imports/test-results",
            &app.keys.lab,
            "text/csv",
            csv.into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["accepted"], json!(1), "{report}");
    let after = app.scrape().await;
    let kind = [("kind", "test_results")];
    assert!(grew(&before, &after, "healthcode_import_rows_total", &kind) >= 1.0);
    assert!(
        grew(
            &before,
            &after,
            "healthcode_import_rows_rejected_total",
            &kind
        ) >= 1.0
    );
    assert!(!after.contains(DOC));
}

#[tokio::test]
async fn the_state_of_the_server_is_read_at_scrape() {
    let app = with_token(|_| {}).await;
    // The change feed's first read is 200 ms after the start.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let body = app.scrape().await;
    for (name, labels) in [
        ("healthcode_change_feed_high_water", &[][..]),
        ("healthcode_change_feed_gaps", &[]),
        ("healthcode_change_feed_lag_seconds", &[]),
        ("healthcode_db_pool_connections", &[("pool", "main")]),
        ("healthcode_db_pool_idle_connections", &[("pool", "main")]),
        ("healthcode_db_pool_max_connections", &[("pool", "writer")]),
    ] {
        assert!(sample(&body, name, labels).is_some(), "{name} in {body}");
    }
    let lag = sample(&body, "healthcode_change_feed_lag_seconds", &[]).unwrap();
    assert!((0.0..60.0).contains(&lag), "{lag}");
}

#[tokio::test]
async fn a_listener_of_its_own_serves_metrics_without_a_token() {
    let app = TestApp::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(healthcode_server::metrics::serve(
        listener,
        app.state.clone(),
        std::future::pending(),
    ));
    let resp = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let other = app
        .client
        .get(format!("http://{addr}/api/v1/trust-list"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "only /metrics");
    // The main listener still has none.
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND);
}
