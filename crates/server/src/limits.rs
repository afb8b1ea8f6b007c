//! Protection every public endpoint gets: a per-client rate limit, a cap on requests in
//! flight that sheds load with 503 instead of queueing without bound, a request timeout, and a
//! body-size limit (set in the router). Also the per-key [`Limiter`] behind them, which the
//! digital sentinel uses per gate device.
//!
//! Clients are told apart by peer address: an IPv4 address, or an IPv6 /64 (one subscriber's
//! allocation, so that a client cannot mint fresh addresses to reset its limit). Behind a
//! reverse proxy every client shares the proxy's address; such deployments rate-limit at the
//! proxy (docs/OPERATIONS.md).
//!
//! The limits are `governor`'s GCRA, which admits exactly what a token bucket of `burst`
//! tokens refilled at `per_second` would. Each key's state is one atomic word in a sharded
//! map whose locks cannot be poisoned, so a panic elsewhere neither opens nor closes the
//! limit. Time comes from the server's [`Clock`] (its monotonic reading), so tests move it by
//! hand.
//!
//! Every refusal is counted (`crate::metrics`): rate-limited, shed, timed out.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::BoxError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;
use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;

/// Keys held before idle ones are swept.
const SWEEP_AT: usize = 65_536;
/// Sweeping is linear in the keys held, so it is looked at no more often than this.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// The refill period taken for a rate that is not a positive number: in effect, no refill.
const NO_REFILL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained requests per second per client.
    pub per_second: f64,
    /// How many requests a client may make at once after being idle (whole requests, at
    /// least one).
    pub burst: f64,
}

impl RateLimit {
    fn quota(self) -> Quota {
        // `as` saturates: NaN and anything below 1 give 0, which is not a burst; 1 is taken.
        let burst = NonZeroU32::new(self.burst as u32).unwrap_or(NonZeroU32::MIN);
        let period = Duration::try_from_secs_f64(self.per_second.recip()).unwrap_or(NO_REFILL);
        // A period of zero (an enormous rate) is refused by `with_period`; the fastest quota
        // there is stands in for it.
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst)
    }
}

/// The server's clock as governor reads it: the monotonic reading.
#[derive(Clone)]
struct Ticks(Arc<dyn Clock>);

impl governor::clock::Clock for Ticks {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.monotonic()
    }
}

/// A rate limit per key (a client address, a gate device).
pub struct Limiter<K: Hash + Eq + Clone> {
    gcra: RateLimiter<K, DashMapStateStore<K>, Ticks, NoOpMiddleware<Duration>>,
    clock: Ticks,
    sweep_at: usize,
    /// The clock's monotonic reading, in nanoseconds, when a sweep was last looked at.
    last_sweep: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> Limiter<K> {
        let clock = Ticks(clock);
        Limiter {
            gcra: RateLimiter::dashmap_with_clock(limit.quota(), clock.clone()),
            last_sweep: AtomicU64::new(nanos(governor::clock::Clock::now(&clock))),
            clock,
            sweep_at: SWEEP_AT,
        }
    }

    /// Admits one request for `key`, or says how long until one would be admitted.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let now = governor::clock::Clock::now(&self.clock);
        self.sweep(now);
        self.gcra
            .check_key(key)
            .map_err(|refused| refused.wait_time_from(now))
    }

    /// Keys held, idle ones included until swept.
    fn keys(&self) -> usize {
        self.gcra.len()
    }

    /// Once `sweep_at` keys or more are held, forgets those whose bucket has been full for a
    /// refill period (they are indistinguishable from new ones); looks at most once per
    /// [`SWEEP_EVERY`].
    fn sweep(&self, now: Duration) {
        let now = nanos(now);
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.saturating_sub(last) < nanos(SWEEP_EVERY)
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if self.gcra.len() >= self.sweep_at {
            self.gcra.retain_recent();
            self.gcra.shrink_to_fit();
        }
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl Limiter<IpAddr> {
    /// Admits one request from `ip`, counted against its [`client_key`].
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check(&client_key(ip))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The key a client is limited by.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A 429 whose `Retry-After` is `wait` in whole seconds, rounded up (at least 1), so that a
/// client that waits as told is admitted.
pub fn rate_limited(message: &'static str, wait: Duration) -> Response {
    let mut resp =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(secs.max(1)));
    resp
}

/// Middleware: refuses a client over its rate with 429 and `Retry-After`.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = client
        && let Err(wait) = state.limiter.check_address(ip)
    {
        metrics::rate_limited(metrics::RateLimited::Client);
        return rate_limited(
            "too many requests from this address; wait and try again",
            wait,
        );
    }
    next.run(req).await
}

/// What a request is for, as far as shedding goes: under overload, what a resident shows at a
/// door and what the door decides go before everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Code display (the code, its page, its live stream and assets) and gate decisions
    /// (scans, lookups, paper passes, check-in uploads, the trust list gates verify with).
    First,
    /// Everything else: enrolment, records, exports, risk areas, the other pages.
    Rest,
}

impl Priority {
    /// The priority of a request for `path`.
    pub fn of(path: &str) -> Priority {
        const FIRST: [&str; 7] = [
            "/api/v1/me/code",
            "/api/v1/verify",
            "/api/v1/trust-list",
            "/code",
            "/code/card",
            "/code/events",
            "/checkin",
        ];
        let gate =
            path.starts_with("/api/v1/gate/") || path == "/gate" || path.starts_with("/gate/");
        if FIRST.contains(&path) || gate || path.starts_with("/assets/") {
            Priority::First
        } else {
            Priority::Rest
        }
    }
}

/// `max_in_flight` for the whole server, with a share kept for [`Priority::First`]: a request
/// of the rest is shed once only that share is free, so that enrolments, exports and records
/// cannot take the last slots from code display and gate decisions.
pub struct InFlight {
    permits: Arc<tokio::sync::Semaphore>,
    /// Permits only [`Priority::First`] may take: a quarter of the whole.
    reserved: usize,
}

impl InFlight {
    pub fn new(max_in_flight: usize) -> InFlight {
        InFlight {
            permits: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
            reserved: max_in_flight / 4,
        }
    }
}

/// Middleware: admits a request within `max_in_flight` and its priority's share, or sheds it
/// at once with 503 and `Retry-After` (never queued). The slot is held until the response's
/// head is ready.
pub async fn in_flight(State(limit): State<Arc<InFlight>>, req: Request, next: Next) -> Response {
    let rest = Priority::of(req.uri().path()) == Priority::Rest;
    if rest && limit.permits.available_permits() <= limit.reserved {
        return overloaded(metrics::Shed::InFlight);
    }
    let Ok(_permit) = limit.permits.clone().try_acquire_owned() else {
        return overloaded(metrics::Shed::InFlight);
    };
    next.run(req).await
}

/// A request shed by `limit`: 503 with `Retry-After`, counted.
fn overloaded(limit: metrics::Shed) -> Response {
    metrics::shed(limit);
    let mut resp = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "the service is at capacity; try again in a moment",
    )
    .into_response();
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from_static("1"));
    resp
}

/// Turns the load-shedding and timeout layers' errors into JSON 503s; a request shed is
/// counted against `max_in_flight`.
pub async fn overload_error(err: BoxError) -> Response {
    refusal(err, metrics::Shed::InFlight)
}

/// [`overload_error`] for the import endpoints, whose requests are shed by `max_imports`.
pub async fn import_overload_error(err: BoxError) -> Response {
    refusal(err, metrics::Shed::Imports)
}

/// The 503 for a timeout or a request shed by `limit`, counted.
fn refusal(err: BoxError, limit: metrics::Shed) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        metrics::timed_out();
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long and was stopped; try again",
        )
        .into_response();
    }
    if err.is::<tower::load_shed::error::Overloaded>() {
        return overloaded(limit);
    }
    tracing::error!(error = %err, "middleware failure");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn code_display_and_gate_decisions_come_first() {
        for path in [
            "/api/v1/me/code",
            "/api/v1/verify",
            "/api/v1/trust-list",
            "/api/v1/gate/scan",
            "/api/v1/gate/checkins",
            "/code",
            "/code/card",
            "/code/events",
            "/gate",
            "/checkin",
            "/assets/app.js",
        ] {
            assert_eq!(Priority::of(path), Priority::First, "{path}");
        }
        for path in [
            "/api/v1/enrol",
            "/api/v1/me/status",
            "/api/v1/imports/test-results",
            "/api/v1/records/R-1",
            "/api/v1/me/export",
            "/",
            "/history",
            "/log/checkpoint",
            "/code-of-conduct",
            "/gatekeeper",
        ] {
            assert_eq!(Priority::of(path), Priority::Rest, "{path}");
        }
    }
    use crate::clock::ManualClock;

    fn limiter<K: Hash + Eq + Clone>(
        per_second: f64,
        burst: f64,
    ) -> (Limiter<K>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0).unwrap(),
        ));
        let limit = RateLimit { per_second, burst };
        (Limiter::new(limit, clock.clone()), clock)
    }

    fn ms(n: i64) -> chrono::Duration {
        chrono::Duration::milliseconds(n)
    }

    #[test]
    fn a_burst_is_admitted_then_one_request_per_refill() {
        let (l, clock) = limiter::<IpAddr>(10.0, 3.0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(l.check_address(ip).is_ok());
        }
        assert_eq!(l.check_address(ip), Err(Duration::from_millis(100)));
        assert!(
            l.check_address([127, 0, 0, 2].into()).is_ok(),
            "clients are independent"
        );
        clock.advance(ms(99));
        assert_eq!(l.check_address(ip), Err(Duration::from_millis(1)));
        clock.advance(ms(1));
        assert!(
            l.check_address(ip).is_ok(),
            "one token refilled after 100 ms"
        );
        assert!(l.check_address(ip).is_err());
        // Idle long enough to refill the whole burst, and no more than the burst.
        clock.advance(ms(10_000));
        for _ in 0..3 {
            assert!(l.check_address(ip).is_ok());
        }
        assert!(l.check_address(ip).is_err());
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let (l, _) = limiter::<IpAddr>(1.0, 1.0);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check_address(a).is_ok());
        assert!(l.check_address(b).is_err(), "same /64, same limit");
        assert!(l.check_address(other).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(l.check_address([192, 0, 2, 1].into()).is_ok());
        assert!(
            l.check_address(mapped).is_err(),
            "IPv4-mapped is the IPv4 client"
        );
    }

    #[test]
    fn each_key_has_its_own_limit() {
        let (l, clock) = limiter::<i64>(0.5, 3.0);
        for _ in 0..3 {
            assert!(l.check(&1).is_ok());
        }
        assert_eq!(l.check(&1), Err(Duration::from_secs(2)));
        assert!(l.check(&2).is_ok(), "another device is not affected");
        clock.advance(chrono::Duration::seconds(2));
        assert!(l.check(&1).is_ok(), "refilled");
    }

    #[test]
    fn retry_after_is_the_wait_in_whole_seconds_rounded_up() {
        let header = |wait| {
            rate_limited("slow down", wait)
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header(Duration::from_millis(1)).as_deref(), Some("1"));
        assert_eq!(header(Duration::from_secs(2)).as_deref(), Some("2"));
        assert_eq!(header(Duration::from_millis(2_001)).as_deref(), Some("3"));
        assert_eq!(header(Duration::ZERO).as_deref(), Some("1"));
        let resp = rate_limited("slow down", Duration::from_secs(1));
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn idle_keys_are_swept_once_there_are_many_and_limited_ones_kept() {
        let (mut l, clock) = limiter::<i64>(1.0, 2.0);
        l.sweep_at = 100;
        for key in 0..1_000 {
            assert!(l.check(&key).is_ok());
        }
        // A second on, the 1,000 keys are only just full again: nothing goes yet.
        clock.advance(ms(1_000));
        assert!(l.check(&5_000).is_ok());
        assert_eq!(l.keys(), 1_001);
        // Key -1 spends its burst; within a second of the last look there is no sweep.
        clock.advance(ms(500));
        assert!(l.check(&-1).is_ok() && l.check(&-1).is_ok());
        assert!(l.check(&-1).is_err());
        assert_eq!(l.keys(), 1_002);
        // Then the idle keys are forgotten, and -1, still short of its burst, is kept and
        // still limited.
        clock.advance(ms(600));
        assert_eq!(l.check(&-1), Err(Duration::from_millis(400)));
        assert_eq!(l.keys(), 2, "only 5000 and -1 are left");
        // Below the threshold nothing is swept.
        clock.advance(ms(10_000));
        assert!(l.check(&7).is_ok());
        assert_eq!(l.keys(), 3);
    }

    #[test]
    fn rates_that_are_not_positive_numbers_still_limit() {
        for per_second in [0.0, -1.0, f64::NAN] {
            let (l, clock) = limiter::<i64>(per_second, 1.0);
            assert!(l.check(&1).is_ok());
            clock.advance(chrono::Duration::minutes(59));
            assert!(l.check(&1).is_err(), "{per_second}");
        }
        let (l, _) = limiter::<i64>(f64::INFINITY, 0.0);
        assert!(l.check(&1).is_ok());
    }
}
