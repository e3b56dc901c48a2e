//! Simulated time: `minute_ms` real milliseconds make one simulated minute.
//!
//! Simulated instants are `f64` minutes since the simulator's world began (the start of this
//! process, or of the saved world it resumed: see [`crate::persist`]); progress of builds,
//! deployments and replication is computed lazily from them when something is read.

use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// The simulator's clock.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    /// The simulated instant `start` is (0 for a new world).
    offset: f64,
    /// The wall-clock time of simulated instant 0.
    start_utc: DateTime<Utc>,
    minute_ms: u64,
}

impl Clock {
    pub fn new(minute_ms: u64) -> Clock {
        Clock {
            start: Instant::now(),
            offset: 0.0,
            start_utc: Utc::now(),
            minute_ms: minute_ms.max(1),
        }
    }

    /// A clock that goes on from simulated instant `minutes` of a world whose instant 0 was
    /// `start_utc`.
    pub fn resume(minute_ms: u64, minutes: f64, start_utc: DateTime<Utc>) -> Clock {
        Clock {
            start: Instant::now(),
            offset: if minutes.is_finite() {
                minutes.max(0.0)
            } else {
                0.0
            },
            start_utc,
            minute_ms: minute_ms.max(1),
        }
    }

    /// The wall-clock time of simulated instant 0.
    pub fn start_utc(&self) -> DateTime<Utc> {
        self.start_utc
    }

    /// Simulated minutes since the world began.
    pub fn now(&self) -> f64 {
        self.offset + self.start.elapsed().as_secs_f64() * 1000.0 / self.minute_ms as f64
    }

    /// Real milliseconds since this process started serving (fault windows count from it).
    pub fn real_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Simulated wall-clock time of a simulated instant.
    pub fn utc(&self, minutes: f64) -> DateTime<Utc> {
        let ms = (minutes * 60_000.0) as i64;
        self.start_utc + chrono::Duration::milliseconds(ms)
    }

    /// RFC 3339 timestamp (7 fractional digits, as ARM prints them).
    pub fn stamp(&self, minutes: f64) -> String {
        let t = self.utc(minutes);
        format!(
            "{}.{:07}Z",
            t.format("%Y-%m-%dT%H:%M:%S"),
            t.timestamp_subsec_nanos() / 100
        )
    }

    /// ISO 8601 duration between two simulated instants (`PT1M2.5S`).
    pub fn iso_duration(minutes: f64) -> String {
        let secs = (minutes.max(0.0) * 60.0 * 1000.0).round() / 1000.0;
        let h = (secs / 3600.0).floor();
        let m = ((secs - h * 3600.0) / 60.0).floor();
        let s = secs - h * 3600.0 - m * 60.0;
        let mut out = String::from("PT");
        if h > 0.0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0.0 {
            out.push_str(&format!("{m}M"));
        }
        out.push_str(&format!("{:.3}S", s));
        out
    }

    /// Real duration of `minutes` simulated minutes.
    pub fn real(&self, minutes: f64) -> Duration {
        Duration::from_millis((minutes * self.minute_ms as f64).round() as u64)
    }

    /// The polling hint: one simulated minute in real ms (at least 1).
    pub fn poll_hint_ms(&self) -> u64 {
        self.minute_ms.max(1)
    }
}
