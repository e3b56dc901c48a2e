//! Retry policy: which failures are retried, how long to wait, and when to give up.
//!
//! Waits are exponential backoff with full jitter (`uniform(0, min(cap, base * 2^n))`), unless
//! the server named a delay (`retry-after-ms`, `x-ms-retry-after-ms`, `Retry-After` in seconds
//! or as an HTTP-date), which wins; a named delay beyond what is left of the budget gives up at
//! once instead of waiting for nothing. Every wait and the total budget are multiplied by
//! `time_scale`, so tests can run a 10-minute policy in milliseconds.
//!
//! An endpoint that never answers (connect failures, first-byte timeouts, dropped connections
//! and nothing else) gets no new attempt once `silent_budget` has passed, so it fails in about
//! two minutes instead of the whole budget. Deterministic 4xx answers are never retried. Why a
//! retry was given up is kept in the [`RetryState`] for the error message, and waits of more
//! than [`LOUD_WAIT`] (Azure time) are logged at warn level, which the default verbosity shows.

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
    /// Cap of any backoff wait of our own (a delay the server names is waited as named, or
    /// refused when it is beyond the budget).
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
    /// No new attempt is started once this long (real time, never scaled) has passed without
    /// any answer from the server.
    pub silent_budget: Duration,
}

/// Waits at least this long (in Azure time) are logged at warn level.
pub const LOUD_WAIT: Duration = Duration::from_secs(5);

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
            silent_budget: Duration::from_secs(60),
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
    /// The server answered with something aib refuses to read (a body over the size cap):
    /// never retried.
    Refused,
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

    /// A 4xx other than 408 and 429: asking again gets the same answer.
    pub fn is_deterministic(status: u16) -> bool {
        (400..500).contains(&status) && status != 408 && status != 429
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
            Failure::Refused => false,
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
            answered: false,
            refusal: None,
        }
    }

    /// A real duration in Azure time (the simulator compresses time by `time_scale`).
    pub fn azure_time(&self, real: Duration) -> Duration {
        if self.time_scale > 0.0 && (self.time_scale - 1.0).abs() >= f64::EPSILON {
            real.div_f64(self.time_scale)
        } else {
            real
        }
    }

    /// Says that `what` is retried after `wait`: at warn level (shown by default) when the
    /// wait is [`LOUD_WAIT`] or more in Azure time, else at debug level.
    pub fn announce(&self, state: &RetryState, what: &str, wait: Duration) {
        let shown = self.azure_time(wait);
        let budget = self.budget;
        let left = budget.saturating_sub(self.azure_time(state.elapsed()));
        if shown >= LOUD_WAIT {
            tracing::warn!(
                "{what}: waiting {}, retry {} ({} left of the {} retry budget)",
                human(shown),
                state.attempt,
                human(left),
                human(budget)
            );
        } else {
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                retry = state.attempt,
                "{what}: retrying"
            );
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
        if let Failure::Status(_) | Failure::Refused = failure {
            state.answered = true;
        }
        if !self.may_retry(method, failure) {
            return None;
        }
        if !state.answered && state.elapsed() >= self.silent_budget {
            state.refusal = Some(format!(
                "no answer at all for {} ({} attempts)",
                human(state.elapsed()),
                state.attempt + 1
            ));
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
            Some(h) => self.server_wait(h),
            None => self.scale(self.backoff(state.attempt, rng)),
        };
        let budget = self.real_budget();
        if state.started.elapsed() + wait > budget {
            let left = self
                .azure_time(budget.saturating_sub(state.started.elapsed()))
                .min(self.budget);
            state.refusal = Some(match hint {
                Some(h) => format!(
                    "the server asked to wait {} before retrying, more than the {} left of the {} retry budget: giving up now",
                    human(h),
                    human(left),
                    human(self.budget)
                ),
                None => format!("the {} retry budget is spent", human(self.budget)),
            });
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
    /// The server answered at least once (any status).
    answered: bool,
    /// Why the last [`RetryPolicy::next_wait`] gave up, when it was not the failure itself.
    refusal: Option<String>,
}

impl RetryState {
    /// Why retrying was given up (the budget, a Retry-After beyond it, a silent endpoint),
    /// when that and not the failure itself is the reason.
    pub fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }

    /// Whether the server answered at least once.
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// Retries done so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
    /// Time since the first attempt.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// A duration for people: `45 s`, `90 s`, `2 min 5 s`, `1 h 10 min`; under 10 s with one
/// decimal, under a second in ms.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_secs(1) {
        return format!("{} ms", d.as_millis());
    }
    if secs < 10 {
        let t = d.as_secs_f64();
        return if (t - t.round()).abs() < 0.05 {
            format!("{} s", t.round())
        } else {
            format!("{t:.1} s")
        };
    }
    if secs < 120 {
        return format!("{secs} s");
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
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

    /// Attack: a server (or a man in the middle) answers 429 with `Retry-After: 3600`. The
    /// client used to wait its capped 60 s and ask again for the whole budget, in silence; now
    /// it gives up at once and says why.
    #[test]
    fn a_retry_after_beyond_the_budget_gives_up_at_once_saying_so() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(9);
        let mut st = p.start();
        let h = headers(&[("retry-after", "3600")]);
        let w = p.next_wait(
            &mut st,
            &Method::GET,
            Failure::Status(429),
            Some(&h),
            &mut rng,
        );
        assert_eq!(w, None);
        let why = st.refusal().unwrap_or_default();
        assert!(why.contains("asked to wait 1 h"), "{why}");
        assert!(why.contains("10 min retry budget"), "{why}");
        // A hint within the budget is waited as named, even beyond max_delay.
        let mut st = p.start();
        let h = headers(&[("retry-after", "90")]);
        let w = p.next_wait(
            &mut st,
            &Method::GET,
            Failure::Status(429),
            Some(&h),
            &mut rng,
        );
        assert_eq!(w, Some(Duration::from_secs(90)));
        assert_eq!(st.refusal(), None);
    }

    /// Attack: an endpoint that accepts connections and never answers. Without any answer, no
    /// attempt starts after `silent_budget`; one answer (even a 503) lifts that limit.
    #[test]
    fn a_silent_endpoint_is_given_up_after_the_silent_budget() {
        let p = RetryPolicy {
            silent_budget: Duration::ZERO,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(2);
        let mut st = p.start();
        assert_eq!(
            p.next_wait(&mut st, &Method::GET, Failure::Io, None, &mut rng),
            None
        );
        assert!(
            st.refusal().is_some_and(|r| r.contains("no answer at all")),
            "{:?}",
            st.refusal()
        );
        let mut st = p.start();
        assert!(
            p.next_wait(&mut st, &Method::GET, Failure::Status(503), None, &mut rng)
                .is_some()
        );
        assert!(st.answered());
        assert!(
            p.next_wait(&mut st, &Method::GET, Failure::Connect, None, &mut rng)
                .is_some()
        );
    }

    #[test]
    fn deterministic_answers_and_refused_bodies_are_not_retried() {
        for s in [400, 401, 403, 404, 405, 409, 410, 412, 422] {
            assert!(RetryPolicy::is_deterministic(s), "{s}");
        }
        for s in [200, 408, 429, 500, 503] {
            assert!(!RetryPolicy::is_deterministic(s), "{s}");
        }
        let p = RetryPolicy::default();
        assert!(!p.may_retry(&Method::GET, Failure::Refused));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(60)), "60 s");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
        assert_eq!(human(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(human(Duration::from_secs(5)), "5 s");
        assert_eq!(human(Duration::from_secs(4200)), "1 h 10 min");
        assert_eq!(human(Duration::from_millis(20)), "20 ms");
    }
}
