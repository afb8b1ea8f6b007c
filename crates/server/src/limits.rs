//! Protection every public endpoint gets: a per-client token-bucket rate limit, a cap on
//! requests in flight that sheds load with 503 instead of queueing without bound, a request
//! timeout, and a body-size limit (set in the router).
//!
//! Clients are told apart by peer address: an IPv4 address, or an IPv6 /64 (one subscriber's
//! allocation, so that a client cannot mint fresh addresses to reset its limit). Behind a
//! reverse proxy every client shares the proxy's address; such deployments rate-limit at the
//! proxy (docs/OPERATIONS.md).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::BoxError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

const SHARDS: usize = 16;
/// Buckets kept per shard before idle ones are swept.
const SHARD_SWEEP_AT: usize = 4096;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained requests per second per client.
    pub per_second: f64,
    /// How many requests a client may make at once after being idle.
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            last: now,
        }
    }

    /// Refills for the time since the last call, then takes one token; on refusal says how
    /// long until one is free.
    fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / limit.per_second;
            Err(Duration::try_from_secs_f64(wait.max(0.001)).unwrap_or(Duration::from_secs(3600)))
        }
    }
}

#[derive(Debug, Default)]
struct Shard {
    buckets: HashMap<IpAddr, Bucket>,
    last_sweep: Option<Instant>,
}

#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    shards: Vec<Mutex<Shard>>,
    /// Keyed per process, so clients cannot aim at one shard.
    hasher: RandomState,
}

/// The key a client is limited by.
fn client_key(ip: IpAddr) -> IpAddr {
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

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Takes one token for `client` at `now`; on refusal says how long until one is free.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = client_key(client);
        let shard = (self.hasher.hash_one(client) as usize) % SHARDS;
        let Ok(mut shard) = self.shards[shard].lock() else {
            return Ok(());
        };
        // Idle clients' buckets are full again and can be forgotten; sweeping is linear in the
        // shard, so it runs at most once a second.
        if shard.buckets.len() >= SHARD_SWEEP_AT
            && shard
                .last_sweep
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            let full = self.limit.burst;
            let rate = self.limit.per_second;
            shard.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < full
            });
            shard.last_sweep = Some(now);
        }
        shard
            .buckets
            .entry(client)
            .or_insert_with(|| Bucket::full(self.limit, now))
            .take(self.limit, now)
    }
}

/// Middleware: refuses a client over its rate with 429 and `Retry-After`.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = client
        && let Err(wait) = state.limiter.check(ip, Instant::now())
    {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address; wait and try again",
        )
        .into_response();
        let secs = wait.as_secs().max(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    next.run(req).await
}

/// Turns the load-shedding and timeout layers' errors into JSON 503s.
pub async fn overload_error(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long and was stopped; try again",
        )
        .into_response();
    }
    if err.is::<tower::load_shed::error::Overloaded>() {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the service is at capacity; try again in a moment",
        )
        .into_response();
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return resp;
    }
    tracing::error!(error = %err, "middleware failure");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_the_configured_rate() {
        let l = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip, t0).is_ok());
        }
        let wait = l.check(ip, t0).expect_err("over the burst");
        assert!(wait <= Duration::from_millis(101), "{wait:?}");
        assert!(l.check(other, t0).is_ok(), "clients are independent");
        assert!(l.check(ip, t0 + Duration::from_millis(100)).is_ok());
        assert!(l.check(ip, t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let l = RateLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 1.0,
        });
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert!(l.check(a, t0).is_ok());
        assert!(l.check(b, t0).is_err(), "same /64, same bucket");
        assert!(l.check(other, t0).is_ok());
    }
}

/// A token bucket per key (a gate device, say), for limits that follow a credential rather
/// than an address.
#[derive(Debug)]
pub struct KeyedLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl KeyedLimiter {
    pub fn new(limit: RateLimit) -> KeyedLimiter {
        KeyedLimiter {
            limit,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `key` at `now`; on refusal says how long until one is free.
    pub fn check(&self, key: i64, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Err(Duration::from_secs(1));
        };
        buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.limit, now))
            .take(self.limit, now)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod keyed_tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_bucket() {
        let l = KeyedLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 3.0,
        });
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check(1, t).is_ok());
        }
        assert!(l.check(1, t).is_err());
        assert!(l.check(2, t).is_ok(), "another device is not affected");
        assert!(l.check(1, t + Duration::from_secs(1)).is_ok(), "refilled");
    }
}
