//! Client-side rate limiting per (subscription, principal), mirroring ARM's token buckets.
//!
//! ARM throttles each principal per subscription with token buckets (reads: 250 burst,
//! 25/s; writes: 200 burst, 10/s). We keep the same buckets locally and, when ARM reports
//! in `x-ms-ratelimit-remaining-subscription-{reads,writes}` that few tokens are left, we
//! shrink our bucket to match, so callers slow down before ARM answers 429. Our buckets hold
//! `reserve` tokens less than ARM's: requests reach ARM later and more bunched than we sent
//! them (connection setup, scheduling), so ARM's bucket refills a little less than ours between
//! two arrivals; the reserve absorbs that (at 25/s, 10 tokens cover 400 ms of skew).
//! Waiting is a single `tokio::time::sleep` computed from the deficit (no polling loop).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
// Tokio's clock (the real one unless a test paused it).
use tokio::time::Instant;

/// Read or write (ARM counts them in separate buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// GET / HEAD.
    Read,
    /// PUT / PATCH / POST / DELETE.
    Write,
}

impl Access {
    /// Classify an HTTP method.
    pub fn of(method: &reqwest::Method) -> Self {
        if matches!(*method, reqwest::Method::GET | reqwest::Method::HEAD) {
            Access::Read
        } else {
            Access::Write
        }
    }
}

/// Bucket sizes and the "remaining" level below which we slow down.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Read bucket capacity.
    pub read_burst: f64,
    /// Read refill per second.
    pub read_per_sec: f64,
    /// Write bucket capacity.
    pub write_burst: f64,
    /// Write refill per second.
    pub write_per_sec: f64,
    /// Keep this many of ARM's tokens in reserve: our buckets hold `burst - reserve`, and
    /// ARM's reported remaining count minus this is what we allow ourselves.
    pub reserve: f64,
    /// Real seconds per Azure second: buckets refill `1 / time_scale` times faster (runs on
    /// compressed simulated time).
    pub time_scale: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            read_burst: 250.0,
            read_per_sec: 25.0,
            write_burst: 200.0,
            write_per_sec: 10.0,
            reserve: 10.0,
            time_scale: 1.0,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: f64, per_sec: f64) -> Self {
        Self {
            capacity,
            per_sec,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// Take one token (possibly going negative = a reservation) and return how long the
    /// caller must wait for it.
    fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 || self.per_sec <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_sec)
        }
    }
}

/// A full bucket for `access`. It refills in real time: ARM's rate per Azure second over
/// `time_scale` real seconds per Azure second (scaling only the waits would leave the refill in
/// real time, so a compressed run would pile up debt and wait longer and longer).
fn new_bucket(config: &RateLimitConfig, access: Access) -> Bucket {
    let reserve = config.reserve.max(0.0);
    let scale = config.time_scale;
    let real = |per_sec: f64| {
        if scale > 0.0 {
            per_sec / scale
        } else {
            f64::MAX
        }
    };
    match access {
        Access::Read => Bucket::new(
            (config.read_burst - reserve).max(1.0),
            real(config.read_per_sec),
        ),
        Access::Write => Bucket::new(
            (config.write_burst - reserve).max(1.0),
            real(config.write_per_sec),
        ),
    }
}

/// Token buckets for every (subscription, principal) seen.
#[derive(Debug, Default)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<(String, String, Access), Bucket>>,
}

impl RateLimiter {
    /// A limiter with the given bucket sizes.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn with_bucket<T>(
        &self,
        subscription: &str,
        principal: &str,
        access: Access,
        f: impl FnOnce(&mut Bucket) -> T,
    ) -> T {
        let mut map = match self.buckets.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = (
            subscription.to_ascii_lowercase(),
            principal.to_owned(),
            access,
        );
        let bucket = map
            .entry(key)
            .or_insert_with(|| new_bucket(&self.config, access));
        f(bucket)
    }

    /// How long the next request must wait (reserving its token). Exposed for tests.
    pub fn reserve(&self, subscription: &str, principal: &str, access: Access) -> Duration {
        self.with_bucket(subscription, principal, access, |b| b.take(Instant::now()))
    }

    /// Wait (asynchronously) for a token.
    pub async fn acquire(&self, subscription: &str, principal: &str, access: Access) {
        let wait = self.reserve(subscription, principal, access);
        if !wait.is_zero() {
            tracing::debug!(?wait, subscription, ?access, "client-side rate limit");
            tokio::time::sleep(wait).await;
        }
    }

    /// Feed back ARM's `x-ms-ratelimit-remaining-subscription-*` value: if ARM has fewer
    /// tokens left than our bucket thinks, shrink ours (keeping `reserve` spare).
    pub fn observe_remaining(
        &self,
        subscription: &str,
        principal: &str,
        access: Access,
        remaining: u64,
    ) {
        let reserve = self.config.reserve;
        self.with_bucket(subscription, principal, access, |b| {
            b.refill(Instant::now());
            let allowed = remaining as f64 - reserve;
            if allowed < b.tokens {
                b.tokens = allowed;
            }
        });
    }

    /// Read the remaining-count headers of a response and feed them back.
    pub fn observe_headers(
        &self,
        subscription: &str,
        principal: &str,
        headers: &reqwest::header::HeaderMap,
    ) {
        for (name, access) in [
            ("x-ms-ratelimit-remaining-subscription-reads", Access::Read),
            (
                "x-ms-ratelimit-remaining-subscription-writes",
                Access::Write,
            ),
        ] {
            if let Some(n) = headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                self.observe_remaining(subscription, principal, access, n);
            }
        }
    }
}

/// The subscription id in an ARM URL path (`/subscriptions/{id}/...`), or `""`.
pub fn subscription_of(path: &str) -> &str {
    let mut it = path.split('/');
    while let Some(seg) = it.next() {
        if seg.eq_ignore_ascii_case("subscriptions") {
            return it.next().unwrap_or("");
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_rate() {
        let rl = RateLimiter::new(RateLimitConfig::default());
        // ARM's 250 minus our reserve of 10.
        for _ in 0..240 {
            assert_eq!(rl.reserve("s", "p", Access::Read), Duration::ZERO);
        }
        let w = rl.reserve("s", "p", Access::Read);
        // One token short at 25/s is ~40 ms.
        assert!(
            w > Duration::from_millis(30) && w <= Duration::from_millis(41),
            "{w:?}"
        );
        // Another principal or subscription has its own buckets.
        assert_eq!(rl.reserve("s", "q", Access::Read), Duration::ZERO);
        assert_eq!(rl.reserve("t", "p", Access::Read), Duration::ZERO);
        for _ in 0..190 {
            assert_eq!(rl.reserve("s", "p", Access::Write), Duration::ZERO);
        }
        let w = rl.reserve("s", "p", Access::Write);
        assert!(
            w > Duration::from_millis(90) && w <= Duration::from_millis(101),
            "{w:?}"
        );
    }

    #[test]
    fn compressed_time_refills_compressed() {
        // 1 Azure second = 1 real ms: 25 reads per Azure second are 25 per real millisecond.
        let config = RateLimitConfig {
            time_scale: 0.001,
            ..RateLimitConfig::default()
        };
        let mut b = new_bucket(&config, Access::Read);
        let t0 = b.last;
        for _ in 0..240 {
            assert_eq!(b.take(t0), Duration::ZERO);
        }
        // In debt by one token: 1/25 of an Azure second = 40 real µs.
        let w = b.take(t0);
        assert!(
            w > Duration::from_micros(39) && w <= Duration::from_micros(41),
            "{w:?}"
        );
        // 20 real ms later (20 Azure seconds, 500 reads) the bucket is full again.
        let t1 = t0 + Duration::from_millis(20);
        for _ in 0..240 {
            assert_eq!(b.take(t1), Duration::ZERO);
        }
        assert!(b.take(t1) > Duration::ZERO);
    }

    #[test]
    fn slows_down_when_arm_reports_low_remaining() {
        let rl = RateLimiter::new(RateLimitConfig::default());
        assert_eq!(rl.reserve("s", "p", Access::Write), Duration::ZERO);
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "x-ms-ratelimit-remaining-subscription-writes",
            reqwest::header::HeaderValue::from_static("12"),
        );
        rl.observe_headers("s", "p", &h);
        // 12 remaining - 10 reserve = 2 tokens before we start waiting.
        assert_eq!(rl.reserve("s", "p", Access::Write), Duration::ZERO);
        assert_eq!(rl.reserve("s", "p", Access::Write), Duration::ZERO);
        assert!(rl.reserve("s", "p", Access::Write) > Duration::ZERO);
        // Reads unaffected.
        assert_eq!(rl.reserve("s", "p", Access::Read), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_without_spinning() {
        let rl = RateLimiter::new(RateLimitConfig {
            write_burst: 1.0,
            write_per_sec: 100.0,
            ..RateLimitConfig::default()
        });
        let t = Instant::now();
        for _ in 0..4 {
            rl.acquire("s", "p", Access::Write).await;
        }
        // 3 waits of 10 ms each, on the paused clock: slept, not spun, and no longer.
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(29) && waited <= Duration::from_millis(31),
            "{waited:?}"
        );
    }

    #[test]
    fn subscription_from_path() {
        assert_eq!(
            subscription_of("/subscriptions/abc/resourceGroups/x"),
            "abc"
        );
        assert_eq!(subscription_of("/providers/Microsoft.X/operations"), "");
    }
}
