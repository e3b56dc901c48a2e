//! Retry policy: which failures are retried, how long to wait, and when to give up.
//!
//! Waits are exponential backoff with full jitter (`uniform(0, min(cap, base * 2^n))`), unless
//! the server named a delay (`retry-after-ms`, `x-ms-retry-after-ms`, `Retry-After` in seconds
//! or as an HTTP-date), which wins (capped at `max_delay`). Every wait and the total budget
//! are multiplied by `time_scale`, so tests can run a 10-minute policy in milliseconds.

use rand::Rng;
use reqwest::Method;
use reqwest::header::HeaderMap;
use std::time::{Duration, Instant, SystemTime};

/// How the client retries failed requests.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// HTTP statuses that are retried (408, 429, 500, 502, 503, 504).
    pub statuses: Vec<u16>,
    /// First backoff ceiling; doubles each attempt.
    pub base_delay: Duration,
    /// Cap of any single wait, including server-named delays.
    pub max_delay: Duration,
    /// Total time budget for one logical request, retries included.
    pub budget: Duration,
    /// Maximum number of attempts (the first try included). The default is effectively
    /// unlimited: the time budget decides (servers with tiny Retry-After hints would
    /// otherwise exhaust a count long before a throttling storm ends).
    pub max_attempts: u32,
    /// Multiplier on every wait and on the budget (1.0 in production, e.g. 0.001 in tests).
    pub time_scale: f64,
    /// Whether `time_scale` applies to the delays servers name too (`true`, for tests against
    /// a server answering in Azure's time). A server that already compresses its hints (a
    /// simulator, whose clock [`crate::clock::probe`] read) sets `false`: its hints are waited
    /// as given while the client's own backoff, budget and default intervals are compressed.
    pub scale_server_hints: bool,
}

/// The least real time a compressed-time budget allows (see [`RetryPolicy::real_budget`]).
pub const MIN_COMPRESSED_BUDGET: Duration = Duration::from_secs(20);

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            statuses: vec![408, 429, 500, 502, 503, 504],
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
            budget: Duration::from_secs(600),
            max_attempts: u32::MAX,
            time_scale: 1.0,
            scale_server_hints: true,
        }
    }
}

/// What a retry decision is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with this status.
    Status(u16),
    /// Could not connect: the request was certainly not sent.
    Connect,
    /// Connection dropped, timed out or the body broke mid-read: the request may have been processed.
    Io,
}

impl RetryPolicy {
    /// A policy whose waits are multiplied by `scale`.
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// Is this status worth retrying?
    pub fn is_retryable_status(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }

    /// Methods that can be repeated without changing the outcome.
    pub fn is_idempotent(method: &Method) -> bool {
        matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        )
    }

    /// May `failure` of a `method` request be retried without asking the server what happened?
    /// Idempotent methods: any retryable status or connection error. Others (POST): only when
    /// the request certainly was not acted on (429, or the connection never opened).
    pub fn may_retry(&self, method: &Method, failure: Failure) -> bool {
        let idempotent = Self::is_idempotent(method);
        match failure {
            Failure::Status(s) if idempotent => self.is_retryable_status(s),
            Failure::Status(s) => s == 429 && self.is_retryable_status(s),
            Failure::Connect => true,
            Failure::Io => idempotent,
        }
    }

    /// Unscaled full-jitter backoff for attempt `n` (0-based): uniform in `[0, min(max, base*2^n)]`.
    pub fn backoff<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let ceiling = self.backoff_ceiling(attempt);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rng.random_range(0..=nanos))
    }

    /// Upper bound of the jittered backoff for attempt `n`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Unscaled delay before the next attempt: the server's hint wins, capped at `max_delay`.
    pub fn delay<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        server_hint: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        match server_hint {
            Some(h) => h.min(self.max_delay),
            None => self.backoff(attempt, rng),
        }
    }

    /// Apply `time_scale`.
    /// The budget in real time. Under compressed time it is never less than
    /// [`MIN_COMPRESSED_BUDGET`] (or the budget itself, if smaller): connecting, sending and
    /// waiting for a CPU take real time that compression does not shrink, so a 600 s budget
    /// at 1/12,000 (60 ms) would give up on a loaded machine before a first retry.
    pub fn real_budget(&self) -> Duration {
        let scaled = self.scale(self.budget);
        if self.time_scale < 1.0 {
            scaled.max(MIN_COMPRESSED_BUDGET.min(self.budget))
        } else {
            scaled
        }
    }

    pub fn scale(&self, d: Duration) -> Duration {
        if (self.time_scale - 1.0).abs() < f64::EPSILON {
            d
        } else {
            d.mul_f64(self.time_scale.max(0.0))
        }
    }

    /// The real wait for a delay the server named (`retry-after`, an operation's polling hint).
    pub fn server_wait(&self, hint: Duration) -> Duration {
        if self.scale_server_hints {
            self.scale(hint)
        } else {
            hint
        }
    }

    /// Start tracking one logical request.
    pub fn start(&self) -> RetryState {
        RetryState {
            started: Instant::now(),
            attempt: 0,
        }
    }

    /// Decide whether to retry after `failure` and how long to sleep (already scaled).
    /// `None` means give up (not retryable, attempts or budget exhausted).
    pub fn next_wait<R: Rng + ?Sized>(
        &self,
        state: &mut RetryState,
        method: &Method,
        failure: Failure,
        headers: Option<&HeaderMap>,
        rng: &mut R,
    ) -> Option<Duration> {
        if !self.may_retry(method, failure) {
            return None;
        }
        self.next_wait_unchecked(state, headers, rng)
    }

    /// Like [`RetryPolicy::next_wait`] but without the method/status check (the caller has
    /// decided the failure is retryable, e.g. a failed LRO status read or a `run` proven not started).
    pub fn next_wait_unchecked<R: Rng + ?Sized>(
        &self,
        state: &mut RetryState,
        headers: Option<&HeaderMap>,
        rng: &mut R,
    ) -> Option<Duration> {
        if state.attempt.saturating_add(1) >= self.max_attempts {
            return None;
        }
        let hint = headers.and_then(|h| parse_retry_after(h, SystemTime::now()));
        let wait = match hint {
            Some(h) => self.server_wait(h.min(self.max_delay)),
            None => self.scale(self.backoff(state.attempt, rng)),
        };
        if state.started.elapsed() + wait > self.real_budget() {
            return None;
        }
        state.attempt += 1;
        Some(wait)
    }
}

/// Progress of one logical request through its retries.
#[derive(Debug, Clone)]
pub struct RetryState {
    started: Instant,
    attempt: u32,
}

impl RetryState {
    /// Retries done so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
    /// Time since the first attempt.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The server's requested delay: `retry-after-ms`, then `x-ms-retry-after-ms`, then
/// `Retry-After` (delta-seconds or HTTP-date relative to `now`).
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<f64>().ok())
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let ra = text("retry-after")?;
    if let Ok(secs) = ra.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
        return None;
    }
    let when = httpdate::parse_http_date(ra).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn retryable_statuses() {
        let p = RetryPolicy::default();
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(p.is_retryable_status(s), "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 409, 412, 501] {
            assert!(!p.is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn methods() {
        let p = RetryPolicy::default();
        for m in [Method::GET, Method::PUT, Method::DELETE, Method::HEAD] {
            assert!(p.may_retry(&m, Failure::Status(503)));
            assert!(p.may_retry(&m, Failure::Io));
            assert!(!p.may_retry(&m, Failure::Status(404)));
        }
        // POST: never blindly after an ambiguous failure.
        assert!(!p.may_retry(&Method::POST, Failure::Status(500)));
        assert!(!p.may_retry(&Method::POST, Failure::Status(503)));
        assert!(!p.may_retry(&Method::POST, Failure::Io));
        // ...but a throttled or never-sent POST was not acted upon.
        assert!(p.may_retry(&Method::POST, Failure::Status(429)));
        assert!(p.may_retry(&Method::POST, Failure::Connect));
        assert!(!p.may_retry(&Method::PATCH, Failure::Status(502)));
    }

    #[test]
    fn retry_after_variants() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after-ms", "250")]), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after(&headers(&[("x-ms-retry-after-ms", "1500")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        // ms headers win over Retry-After.
        assert_eq!(
            parse_retry_after(
                &headers(&[("retry-after", "7"), ("retry-after-ms", "20")]),
                now
            ),
            Some(Duration::from_millis(20))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        // A date in the past means "now".
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "-3")]), now),
            None
        );
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_wins_over_backoff_but_is_capped() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(
            p.delay(5, Some(Duration::from_secs(3)), &mut rng),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3600)), &mut rng),
            p.max_delay
        );
    }

    #[test]
    fn jitter_bounds() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 0..12 {
            let ceiling = p.backoff_ceiling(attempt);
            assert!(ceiling <= p.max_delay);
            let mut max_seen = Duration::ZERO;
            for _ in 0..200 {
                let d = p.backoff(attempt, &mut rng);
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
                max_seen = max_seen.max(d);
            }
            // Full jitter spreads over the whole range.
            assert!(max_seen > ceiling / 2, "attempt {attempt}");
        }
        assert_eq!(p.backoff_ceiling(0), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(1600));
        assert_eq!(p.backoff_ceiling(20), Duration::from_secs(60));
    }

    #[test]
    fn hints_of_a_compressing_server_are_not_compressed_again() {
        let p = RetryPolicy {
            scale_server_hints: false,
            ..RetryPolicy::default()
        }
        .with_time_scale(0.001);
        let mut rng = StdRng::seed_from_u64(5);
        let mut st = p.start();
        // The server's hint is waited as given...
        let h = headers(&[("retry-after-ms", "20")]);
        let w = p.next_wait(
            &mut st,
            &Method::GET,
            Failure::Status(429),
            Some(&h),
            &mut rng,
        );
        assert_eq!(w, Some(Duration::from_millis(20)));
        assert_eq!(
            p.server_wait(Duration::from_millis(7)),
            Duration::from_millis(7)
        );
        // ...while the client's own backoff is compressed (800 ms ceiling → 0.8 ms).
        let w = p
            .next_wait(&mut st, &Method::GET, Failure::Io, None, &mut rng)
            .expect("retried");
        assert!(w <= Duration::from_micros(1_600), "{w:?}");
        // The default policy compresses hints too.
        let q = RetryPolicy::default().with_time_scale(0.001);
        assert_eq!(
            q.server_wait(Duration::from_secs(7)),
            Duration::from_millis(7)
        );
    }

    #[test]
    fn budget_and_scale() {
        let p = RetryPolicy {
            budget: Duration::from_secs(600),
            ..RetryPolicy::default()
        }
        .with_time_scale(0.001);
        let mut rng = StdRng::seed_from_u64(3);
        let mut st = p.start();
        let h = headers(&[("retry-after", "30")]);
        let w = p.next_wait(
            &mut st,
            &Method::GET,
            Failure::Status(429),
            Some(&h),
            &mut rng,
        );
        assert_eq!(w, Some(Duration::from_millis(30)));
        assert_eq!(st.attempts(), 1);
        // Not retryable: give up immediately.
        assert_eq!(
            p.next_wait(&mut st, &Method::GET, Failure::Status(400), None, &mut rng),
            None
        );
        // A wait beyond the budget gives up.
        let tiny = RetryPolicy {
            budget: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let mut st = tiny.start();
        let h = headers(&[("retry-after", "59")]);
        assert_eq!(
            tiny.next_wait(
                &mut st,
                &Method::GET,
                Failure::Status(503),
                Some(&h),
                &mut rng
            ),
            None
        );
        // Compressed time keeps a real floor under the budget: 600 s at 1/1000 is 20 s, not
        // 0.6 s; a budget below the floor stays itself.
        assert_eq!(p.real_budget(), MIN_COMPRESSED_BUDGET);
        assert_eq!(
            tiny.with_time_scale(0.001).real_budget(),
            Duration::from_secs(10)
        );
        assert_eq!(
            RetryPolicy::default().real_budget(),
            Duration::from_secs(600)
        );
        // Attempts cap.
        let two = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        }
        .with_time_scale(0.001);
        let mut st = two.start();
        assert!(
            two.next_wait(&mut st, &Method::GET, Failure::Io, None, &mut rng)
                .is_some()
        );
        assert!(
            two.next_wait(&mut st, &Method::GET, Failure::Io, None, &mut rng)
                .is_none()
        );
    }
}
