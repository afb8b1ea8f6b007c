//! Operations metrics, in the Prometheus text format: what is counted, under which names and
//! labels, the process's one recorder, and the two ways `GET /metrics` is served (on the main
//! listener behind a bearer token, or on a listener of its own). docs/OPERATIONS.md lists
//! every metric.
//!
//! The `metrics` facade has one recorder per process, installed on first use and shared by
//! every [`crate::AppState`] in it (tests run many servers in one process: their counts add
//! up). Gauges that describe one server's state (its change feed, its database pools) are
//! refreshed from the scraped server's state when `/metrics` is read.
//!
//! No label carries personal data or anything a client chose: a route is the router's pattern
//! (`/api/v1/venues/{id}`), never the path asked for; a method outside the standard ones is
//! `other`; the other labels come from fixed lists.
//!
//! What this module does not own: what is measured and when — the limits, the cache, the
//! change feed, imports, live pages and `serve` call the functions here at the moment
//! something happens.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The content type of the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Requests answered, by route, method, status code and status class.
pub const REQUESTS: &str = "healthcode_http_requests_total";
/// Time from a request's arrival to its response's head, by route and method.
pub const REQUEST_DURATION: &str = "healthcode_http_request_duration_seconds";
/// Requests refused with 503 because a concurrency limit was full, by limit.
pub const SHED: &str = "healthcode_http_requests_shed_total";
/// Requests stopped with 503 for taking longer than their timeout.
pub const TIMED_OUT: &str = "healthcode_http_requests_timed_out_total";
/// Requests refused with 429 by a rate limit, by limit.
pub const RATE_LIMITED: &str = "healthcode_http_requests_rate_limited_total";
/// TCP connections open on the main listener.
pub const CONNECTIONS_OPEN: &str = "healthcode_connections_open";
/// TCP connections closed as soon as accepted, because a connection cap was reached.
pub const CONNECTIONS_REFUSED: &str = "healthcode_connections_refused_total";
pub const CONNECTIONS_EVICTED: &str = "healthcode_connections_evicted_total";
/// Live code pages' event streams open.
pub const LIVE_STREAMS: &str = "healthcode_live_streams_open";
/// Cache lookups, by cache and result.
pub const CACHE_LOOKUPS: &str = "healthcode_cache_lookups_total";
/// Seconds since the start of the change feed's last complete read.
pub const FEED_LAG: &str = "healthcode_change_feed_lag_seconds";
/// The highest evidence id the change feed has applied.
pub const FEED_HIGH_WATER: &str = "healthcode_change_feed_high_water";
/// Evidence ids the change feed skipped over and still looks for.
pub const FEED_GAPS: &str = "healthcode_change_feed_gaps";
/// Evidence rows the change feed applied.
pub const FEED_CHANGES: &str = "healthcode_change_feed_changes_total";
/// Reads of the change feed that failed (each clears the cache).
pub const FEED_FAILURES: &str = "healthcode_change_feed_failures_total";
/// Rows stored by bulk imports, by kind.
pub const IMPORT_ROWS: &str = "healthcode_import_rows_total";
/// Rows rejected by bulk imports, by kind.
pub const IMPORT_REJECTED: &str = "healthcode_import_rows_rejected_total";
/// Checkpoints sent to a witness, by witness name and result (`cosigned`, `refused`,
/// `failed`).
pub const WITNESS_SUBMISSIONS: &str = "healthcode_log_witness_submissions_total";
/// Database connections open, by pool.
pub const DB_OPEN: &str = "healthcode_db_pool_connections";
/// Database connections open and idle, by pool.
pub const DB_IDLE: &str = "healthcode_db_pool_idle_connections";
/// The most connections a pool opens, by pool.
pub const DB_MAX: &str = "healthcode_db_pool_max_connections";

/// Histogram buckets, in seconds: from a cached code (about a millisecond) to a timeout.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histograms' samples are folded into their buckets when nobody scrapes (the
/// recorder keeps raw samples until then).
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's recorder, installed on the first call; every later call gets the same
/// handle. Should another recorder be installed already (a program embedding the server),
/// the handle renders nothing and recording goes to that recorder.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match ::metrics::set_global_recorder(recorder) {
                Ok(()) => describe(),
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics will be empty");
                }
            }
            handle
        })
        .clone()
}

/// The HELP lines.
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS,
        "Requests answered, by route pattern, method, status code and class."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response's head, by route pattern and method."
    );
    describe_counter!(
        SHED,
        "Requests refused with 503 because a concurrency limit was full (in_flight, imports)."
    );
    describe_counter!(
        TIMED_OUT,
        "Requests stopped with 503 for taking longer than their timeout."
    );
    describe_counter!(
        RATE_LIMITED,
        "Requests refused with 429 by a rate limit (client: per address; sentinel: per gate device)."
    );
    describe_gauge!(
        CONNECTIONS_OPEN,
        "TCP connections open on the main listener."
    );
    describe_counter!(
        CONNECTIONS_REFUSED,
        "TCP connections closed at once because a cap was reached (server, client)."
    );
    describe_counter!(
        CONNECTIONS_EVICTED,
        "TCP connections without a request yet, closed at the server's cap to admit a new one."
    );
    describe_gauge!(LIVE_STREAMS, "Live code pages' event streams open.");
    describe_counter!(
        CACHE_LOOKUPS,
        "Cache lookups by cache (session, person, code) and result (hit, miss)."
    );
    describe_gauge!(
        FEED_LAG,
        Unit::Seconds,
        "Seconds since the start of the change feed's last complete read: every change committed before it is applied."
    );
    describe_gauge!(
        FEED_HIGH_WATER,
        "The highest evidence id the change feed has applied."
    );
    describe_gauge!(
        FEED_GAPS,
        "Evidence ids the change feed skipped over and still looks for."
    );
    describe_counter!(FEED_CHANGES, "Evidence rows the change feed applied.");
    describe_counter!(
        FEED_FAILURES,
        "Reads of the change feed that failed; each clears the cache."
    );
    describe_counter!(
        IMPORT_ROWS,
        "Rows stored by bulk imports over the API, by kind (test_results, vaccinations)."
    );
    describe_counter!(
        IMPORT_REJECTED,
        "Rows rejected by bulk imports over the API, by kind."
    );
    describe_gauge!(
        DB_OPEN,
        "Database connections open, by pool (main, writer)."
    );
    describe_counter!(
        WITNESS_SUBMISSIONS,
        "Checkpoints sent to a witness, by witness and result."
    );
    describe_gauge!(DB_IDLE, "Database connections open and idle, by pool.");
    describe_gauge!(DB_MAX, "The most connections a pool opens, by pool.");
}

/// Folds histograms' samples into their buckets every [`UPKEEP_EVERY`], so that memory stays
/// flat between scrapes (or without any). Runs until the task is dropped.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// The bearer token `/metrics` asks for on the main listener. Kept as its hash, so that
/// comparing takes the same time whatever the guess, and `Debug` shows nothing.
#[derive(Clone)]
pub struct MetricsToken([u8; 32]);

impl MetricsToken {
    /// The token, or `None` for an empty one (which would admit anyone).
    pub fn new(token: &str) -> Option<MetricsToken> {
        let token = token.trim();
        (!token.is_empty()).then(|| MetricsToken(Sha256::digest(token.as_bytes()).into()))
    }

    /// Whether `presented` is the token.
    fn admits(&self, presented: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        hash == self.0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

/// `GET /metrics` on the main listener: only with `Authorization: Bearer TOKEN` (the route
/// exists only when a token is configured).
pub async fn scrape_with_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let admitted = match (&state.config.metrics_token, presented) {
        (Some(token), Some(presented)) => token.admits(presented),
        _ => false,
    };
    if !admitted {
        let mut resp =
            ApiError::unauthorized("send the metrics token as Authorization: Bearer TOKEN")
                .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    scrape(State(state)).await
}

/// `GET /metrics` on the metrics listener: the text, after refreshing the gauges that are
/// read from the server's state.
pub async fn scrape(State(state): State<AppState>) -> Response {
    refresh(&state);
    let body = state.metrics.render();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response()
}

/// Sets the gauges that describe this server's state rather than events.
fn refresh(state: &AppState) {
    let feed = state.feed.snapshot();
    if let Some(since) = feed.caught_up_at {
        ::metrics::gauge!(FEED_LAG).set(since.elapsed().as_secs_f64());
    }
    ::metrics::gauge!(FEED_HIGH_WATER).set(feed.high_water as f64);
    ::metrics::gauge!(FEED_GAPS).set(feed.gaps as f64);
    for pool in state.store.pool_use() {
        ::metrics::gauge!(DB_OPEN, "pool" => pool.pool).set(f64::from(pool.open));
        ::metrics::gauge!(DB_IDLE, "pool" => pool.pool).set(pool.idle as f64);
        ::metrics::gauge!(DB_MAX, "pool" => pool.pool).set(f64::from(pool.max));
    }
}

/// The router of the metrics listener: `GET /metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves. Meant for an address only the
/// monitoring system reaches: it asks for no token.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Middleware: counts every request by its route's pattern, method and status, and times it
/// to its response's head. A request no route matched is `unmatched`.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let response = next.run(req).await;
    let status = response.status();
    ::metrics::counter!(
        REQUESTS,
        "route" => route.clone(),
        "method" => method,
        "status" => status.as_u16().to_string(),
        "class" => class_label(status),
    )
    .increment(1);
    ::metrics::histogram!(REQUEST_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A method as a label: the standard ones by name, any other as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A status's class: `2xx`, `4xx`, …
fn class_label(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Which concurrency limit shed a request.
#[derive(Debug, Clone, Copy)]
pub enum Shed {
    /// `max_in_flight`, across the server.
    InFlight,
    /// `max_imports`, across both import endpoints.
    Imports,
}

/// A request shed by a concurrency limit.
pub fn shed(limit: Shed) {
    let limit = match limit {
        Shed::InFlight => "in_flight",
        Shed::Imports => "imports",
    };
    ::metrics::counter!(SHED, "limit" => limit).increment(1);
}

/// A request stopped by its timeout.
pub fn timed_out() {
    ::metrics::counter!(TIMED_OUT).increment(1);
}

/// Which rate limit refused a request.
#[derive(Debug, Clone, Copy)]
pub enum RateLimited {
    /// Requests per client address.
    Client,
    /// The digital sentinel's lookups per gate device.
    Sentinel,
}

/// A request refused by a rate limit.
pub fn rate_limited(limit: RateLimited) {
    let limit = match limit {
        RateLimited::Client => "client",
        RateLimited::Sentinel => "sentinel",
    };
    ::metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// Which connection cap refused a connection.
#[derive(Debug, Clone, Copy)]
pub enum ConnectionCap {
    /// `max_connections`.
    Server,
    /// `max_connections_per_client`.
    Client,
}

/// A connection closed at once by a cap.
pub fn connection_refused(cap: ConnectionCap) {
    let reason = match cap {
        ConnectionCap::Server => "server",
        ConnectionCap::Client => "client",
    };
    ::metrics::counter!(CONNECTIONS_REFUSED, "cap" => reason).increment(1);
}

/// A connection that had sent no request, closed at the cap to admit a new one.
pub fn connection_evicted() {
    ::metrics::counter!(CONNECTIONS_EVICTED).increment(1);
}

/// Counts one open connection (or stream) in a gauge until dropped.
#[derive(Debug)]
pub struct Open(&'static str);

impl Open {
    /// One more TCP connection on the main listener.
    pub fn connection() -> Open {
        Open::of(CONNECTIONS_OPEN)
    }

    /// One more live page's event stream.
    pub fn live_stream() -> Open {
        Open::of(LIVE_STREAMS)
    }

    fn of(name: &'static str) -> Open {
        ::metrics::gauge!(name).increment(1.0);
        Open(name)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        ::metrics::gauge!(self.0).decrement(1.0);
    }
}

/// The caches that count their lookups.
#[derive(Debug, Clone, Copy)]
pub enum CacheKind {
    /// Session token → person.
    Session,
    /// Person → identity fields and evidence.
    Person,
    /// Person → the code last signed for them.
    Code,
}

/// A cache lookup and whether it found something.
pub fn cache_lookup(cache: CacheKind, hit: bool) {
    let cache = match cache {
        CacheKind::Session => "session",
        CacheKind::Person => "person",
        CacheKind::Code => "code",
    };
    let result = if hit { "hit" } else { "miss" };
    ::metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result).increment(1);
}

/// Evidence rows the change feed applied.
pub fn feed_applied(rows: usize) {
    ::metrics::counter!(FEED_CHANGES).increment(rows as u64);
}

/// A failed read of the change feed.
pub fn feed_failed() {
    ::metrics::counter!(FEED_FAILURES).increment(1);
}

/// Rows a bulk import stored, and rows it rejected, for `category`.
pub fn import_rows(category: healthcode_ingest::Category, stored: u64, rejected: u64) {
    let kind = match category {
        healthcode_ingest::Category::Tests => "test_results",
        healthcode_ingest::Category::Vaccinations => "vaccinations",
    };
    if stored > 0 {
        ::metrics::counter!(IMPORT_ROWS, "kind" => kind).increment(stored);
    }
    if rejected > 0 {
        ::metrics::counter!(IMPORT_REJECTED, "kind" => kind).increment(rejected);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_lists() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(class_label(StatusCode::TOO_MANY_REQUESTS), "4xx");
        assert_eq!(class_label(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }

    #[test]
    fn the_token_is_compared_whole_and_never_shown() {
        let token = MetricsToken::new("s3cret").unwrap();
        assert!(token.admits("s3cret"));
        assert!(!token.admits("s3cre"));
        assert!(!token.admits(""));
        assert_eq!(format!("{token:?}"), "MetricsToken(..)");
        assert!(MetricsToken::new("  ").is_none());
    }
}
