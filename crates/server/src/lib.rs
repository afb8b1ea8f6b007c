//! healthcode's HTTP API: a thin axum layer over the domain, the store and the credential
//! crates. One module per area under `routes`; the JSON shapes clients rely on in `api`;
//! authentication in `extract`; limits in `limits`; operations metrics in `metrics`. Handlers
//! read the clock once and pass `now` down.
//!
//! What this crate does not own: rules (domain), persistence (store), the code format
//! (credential), process setup and key files (the `healthcode` binary).

pub mod api;
pub mod auth;
pub mod cache;
pub mod changes;
pub mod clock;
pub mod error;
pub mod extract;
mod headers;
pub mod identity;
pub mod import;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod poster;
mod routes;
pub mod state;
mod text;
pub mod tls;
pub mod venues;
pub mod view;
pub mod web;
pub mod witnesses;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;

pub use api::gate::MAX_UPLOAD as MAX_CHECKIN_UPLOAD;
pub use state::{AppState, ServerConfig};

/// The largest offline upload of check-ins: 10,000 rows of about 150 bytes, with room.
pub(crate) const UPLOAD_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/enrol", post(routes::residents::enrol))
        .route("/me/status", get(routes::residents::status))
        .route("/me/code", get(routes::residents::code))
        .route("/me/code.svg", get(routes::residents::code_svg))
        .route(
            "/me/dependants",
            get(routes::dependants::list).post(routes::dependants::add_dependant),
        )
        .route(
            "/me/dependants/{id}/remove",
            post(routes::dependants::remove),
        )
        .route("/me/dependants/{id}/code", get(routes::dependants::code))
        .route(
            "/me/dependants/{id}/status",
            get(routes::dependants::status),
        )
        .route("/me/logout", post(routes::residents::logout))
        .route("/me/receipts", get(log::my_receipts))
        .route(
            "/me/logout-everywhere",
            post(routes::residents::logout_everywhere),
        )
        .route("/test-results", post(routes::evidence::submit_test_result))
        .route("/vaccinations", post(routes::evidence::submit_vaccination))
        .route("/designations", post(routes::evidence::submit_designation))
        .route(
            "/designations/release",
            post(routes::evidence::release_designation),
        )
        .route(
            "/records/{record_id}",
            get(routes::evidence::record_history),
        )
        .route("/trust-list", get(routes::trust::trust_list))
        .route("/policy", get(routes::trust::policy))
        .route("/verify", post(routes::verify::verify))
        .route(
            "/venues",
            post(routes::venues::add_venue).get(routes::venues::list_venues),
        )
        .route("/venues/{id}", get(routes::venues::venue))
        .route(
            "/venues/{id}/devices",
            post(routes::venues::add_device).get(routes::venues::list_devices),
        )
        .route(
            "/venues/{id}/devices/{device}/revoke",
            post(routes::venues::revoke_device),
        )
        .route(
            "/venues/{id}/managers",
            post(routes::venues::add_manager).get(routes::venues::list_managers),
        )
        .route(
            "/venues/{id}/managers/{assignment}",
            delete(routes::venues::remove_manager),
        )
        .route("/venues/{id}/poster", get(routes::venues::poster))
        .route("/gate/config", get(routes::gate::gate_config))
        .route("/gate/scan", post(routes::gate::gate_scan))
        .route("/gate/lookup", post(routes::gate::gate_lookup))
        .route("/gate/pass", post(routes::passes::gate_pass))
        .route(
            "/me/declarations",
            post(routes::declarations::declare).get(routes::declarations::list),
        )
        .route(
            "/me/checkins",
            post(routes::checkins::self_checkin).get(routes::checkins::history),
        )
        .route(
            "/risk-areas",
            post(routes::exposure::add_area).get(routes::exposure::list_areas),
        )
        .route("/risk-areas/{id}/release", post(routes::exposure::release))
        .route("/cases", post(routes::exposure::mark_case))
        .route(
            "/cases/{record_id}/contacts",
            get(routes::exposure::case_contacts),
        )
        // Offline gates upload up to 10,000 check-ins at once.
        .route(
            "/gate/checkins",
            post(routes::gate::gate_upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .method_not_allowed_fallback(routes::health::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(limits::overload_error))
                .timeout(state.config.request_timeout),
        );
    // Imports stream bodies of any size for as long as they take: no body limit or request
    // timeout, but few at a time across both endpoints (one semaphore for the server: a
    // layer on a router is cloned into each route, and `concurrency_limit` would give each
    // route a limit of its own).
    let imports = Router::new()
        .route("/imports/test-results", post(routes::imports::test_results))
        .route("/imports/vaccinations", post(routes::imports::vaccinations))
        .method_not_allowed_fallback(routes::health::method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(limits::import_overload_error))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(Arc::new(
                    Semaphore::new(state.config.max_imports),
                )))
                .timeout(state.config.import_timeout),
        );
    // Every API request counts against `max_in_flight`, one count for the whole server, and is
    // shed, not queued, beyond it; a quarter of it is kept for code display and gate
    // decisions (`limits::Priority`). Health checks are outside it by design: a load balancer
    // must see a node that is busy as alive.
    // The resident's pages; a live page's event stream outlasts the timeout, which bounds
    // only the time to the response's head.
    let pages = web::router(&state).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(limits::overload_error))
            .timeout(state.config.request_timeout),
    );
    let limited = Router::new()
        .nest("/api/v1", api.merge(imports))
        .merge(pages)
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/tile/{*rest}", get(log::tile))
        .fallback(routes::health::not_found)
        .method_not_allowed_fallback(routes::health::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(limits::InFlight::new(state.config.max_in_flight)),
            limits::in_flight,
        ));
    let mut outside = Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz));
    // Metrics on the main listener only with a token to ask for; otherwise the path is
    // unknown here (a listener of its own may serve it: `metrics::serve`).
    if state.config.metrics_token.is_some() {
        outside = outside.route("/metrics", get(metrics::scrape_with_token));
    }
    outside
        .method_not_allowed_fallback(routes::health::method_not_allowed)
        .merge(limited)
        .layer(axum::middleware::from_fn(text::refuse_control_in_uri))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        // Outermost, so that refusals (shed, rate-limited) carry the headers too.
        .layer(axum::middleware::from_fn_with_state(
            state.secure_cookies(),
            headers::security_headers,
        ))
        // A layer on the router runs after routing, so the route's pattern is known; this one
        // sees every answer, refusals included.
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Open connections per client (an IPv4 address, an IPv6 /64, as the rate limit keys them).
#[derive(Clone)]
struct ClientConnections {
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    cap: usize,
}

/// One open connection of a client, counted until dropped.
struct ClientSlot {
    of: ClientConnections,
    key: std::net::IpAddr,
}

impl ClientConnections {
    fn new(cap: usize) -> ClientConnections {
        ClientConnections {
            open: Arc::default(),
            cap,
        }
    }

    /// A slot for one more connection of the client at `ip`, unless it holds `cap` already.
    /// A poisoned count refuses (fails closed), as the rate limits would.
    fn take(&self, ip: std::net::IpAddr) -> Option<ClientSlot> {
        let key = limits::client_key(ip);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(key).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            of: self.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.of.open.lock()
            && let Some(count) = open.get_mut(&self.key)
        {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// How long a new connection at the cap waits for the slot of the connection closed for it.
const EVICTION_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// The open connections that have not sent a request yet, oldest first: at the connection cap
/// the oldest is closed to admit a new one, so that connections held open with half a request
/// (slowloris) cannot keep everyone else out. Tickets are numbered in accept order.
#[derive(Clone, Default)]
struct Waiting(Arc<std::sync::Mutex<WaitingInner>>);

#[derive(Default)]
struct WaitingInner {
    next: u64,
    open: std::collections::BTreeMap<u64, Arc<tokio::sync::Notify>>,
}

impl Waiting {
    /// A new connection: its ticket, and what tells it to close.
    fn add(&self) -> (u64, Arc<tokio::sync::Notify>) {
        let close = Arc::new(tokio::sync::Notify::new());
        let Ok(mut inner) = self.0.lock() else {
            return (u64::MAX, close);
        };
        let ticket = inner.next;
        inner.next += 1;
        inner.open.insert(ticket, close.clone());
        (ticket, close)
    }

    fn remove(&self, ticket: u64) {
        if let Ok(mut inner) = self.0.lock() {
            inner.open.remove(&ticket);
        }
    }

    /// Tells the oldest connection without a request to close; false if there is none.
    fn close_oldest(&self) -> bool {
        let Ok(mut inner) = self.0.lock() else {
            return false;
        };
        match inner.open.pop_first() {
            Some((_, close)) => {
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in [`Waiting`], given up when dropped.
struct WaitingTicket(Waiting, u64);

impl Drop for WaitingTicket {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes requests in flight.
///
/// Each connection is served by hyper's HTTP/1 with a header-read timeout (a client that sends
/// half a request and waits is closed, not kept), and the number of open connections is capped
/// (`ServerConfig::max_connections`), for the server and per client
/// (`max_connections_per_client`): beyond either a new connection is closed at once, so that
/// held-open connections cannot exhaust the process's file descriptors, nor one client take
/// every slot. Requests' own time is bounded by the router's timeouts. Open connections and
/// refused ones are counted in the metrics.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given. The handshake runs in the connection's own task
/// and must finish within the header-read timeout: a client that opens a connection and stalls
/// its handshake is closed as one that stalls its headers is. A failed handshake (a client
/// speaking plain HTTP, an unknown protocol version) closes that connection only.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<tls::Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let watcher = tokio::spawn(changes::watch(state.clone()));
    let purger = tokio::spawn(venues::purge_periodically(state.clone()));
    let upkeep = tokio::spawn(metrics::upkeep(state.metrics.clone()));
    let sequencer = tokio::spawn(log::sequence_periodically(state.clone()));
    let slots = Arc::new(Semaphore::new(state.config.max_connections));
    let header_read_timeout = state.config.header_read_timeout;
    let per_client = ClientConnections::new(state.config.max_connections_per_client);
    let waiting = Waiting::default();
    let live = state.live.clone();
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Per client first: a connection refused anyway must not close another's.
        let Some(client_slot) = per_client.take(peer.ip()) else {
            // This client holds its share already.
            metrics::connection_refused(metrics::ConnectionCap::Client);
            drop(stream);
            continue;
        };
        // At the cap, the connection that has waited longest without sending a request (a
        // half-sent one, most likely) makes way for this one, which takes its slot in its own
        // task (the accept loop never waits); with none to close, this one is closed at once
        // rather than queued.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) if waiting.close_oldest() => None,
            Err(_) => {
                metrics::connection_refused(metrics::ConnectionCap::Server);
                drop(stream);
                continue;
            }
        };
        let slots = slots.clone();
        let counted = metrics::Open::connection();
        let (ticket, close) = waiting.add();
        // The rate limiter tells clients apart by the peer address (`limits::client_key`).
        let first_request = waiting.clone();
        let service = tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                // A connection that has sent a request is no longer one to close at the cap.
                first_request.remove(ticket);
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        // Out of the waiting set however the task ends.
        let waits = WaitingTicket(waiting.clone(), ticket);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let slot = match slot {
                Some(slot) => slot,
                None => match tokio::time::timeout(EVICTION_WAIT, slots.acquire_owned()).await {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        metrics::connection_refused(metrics::ConnectionCap::Server);
                        return;
                    }
                },
            };
            let stream = match tls {
                None => tokio_util::either::Either::Left(stream),
                Some(tls) => {
                    match tokio::time::timeout(header_read_timeout, tls.accept(stream)).await {
                        Ok(Ok(secured)) => tokio_util::either::Either::Right(secured),
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = watcher.watch(connection);
            tokio::select! {
                served = connection => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                // Closed to make way at the cap, before it sent a request.
                () = close.notified() => metrics::connection_evicted(),
            }
            drop(waits);
            drop(client_slot);
            drop(slot);
            drop(counted);
        });
    }
    drop(listener);
    // Live pages' streams never end by themselves.
    live.close();
    graceful.shutdown().await;
    watcher.abort();
    sequencer.abort();
    purger.abort();
    upkeep.abort();
    Ok(())
}
