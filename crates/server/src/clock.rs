//! Where the server gets `now`. Handlers ask the [`Clock`] once per request and pass the
//! instant down; tests use a [`ManualClock`] they can move. The rate limiters measure
//! intervals with the same clock's monotonic reading, so tests move those too.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Time since a fixed point of the clock's choosing, for measuring intervals: unlike
    /// [`Clock::now`], the real clock's reading never goes back when the system time is set.
    fn monotonic(&self) -> std::time::Duration;
}

/// The real clock. The one place in the server that reads the system time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn monotonic(&self) -> std::time::Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|e| *e.into_inner())
    }

    /// The manual time since the Unix epoch: it moves exactly as the clock is moved.
    fn monotonic(&self) -> std::time::Duration {
        (self.now() - DateTime::UNIX_EPOCH)
            .to_std()
            .unwrap_or_default()
    }
}
