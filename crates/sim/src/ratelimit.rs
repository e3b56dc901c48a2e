//! ARM's subscription throttling: token buckets per (subscription, principal) and operation
//! type (reads, writes, deletes), plus a subscription-wide bucket per operation type that is
//! `global_factor` times larger and shared by all principals (ARM's regional throttling since
//! 2024: reads 250 burst / 25 per s, writes and deletes 200 / 10 per s, global 15×).
//!
//! Buckets refill in real time. Without `[limits] enforce` a request always passes and the
//! count only feeds the `x-ms-ratelimit-remaining-subscription-*` headers (floored at 0).

use crate::scenario::Limits;
use std::collections::HashMap;
use std::time::Instant;

/// The operation type ARM counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Read,
    Write,
    Delete,
}

impl Kind {
    /// The `x-ms-ratelimit-remaining-subscription-*` header for this kind.
    pub fn header(self) -> &'static str {
        match self {
            Kind::Read => "x-ms-ratelimit-remaining-subscription-reads",
            Kind::Write => "x-ms-ratelimit-remaining-subscription-writes",
            Kind::Delete => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// `read` / `write` / `delete`, as ARM's 429 message names them.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Delete => "delete",
        }
    }

    fn numbers(self, l: &Limits) -> (f64, f64) {
        match self {
            Kind::Read => (l.read_burst, l.read_per_sec),
            Kind::Write => (l.write_burst, l.write_per_sec),
            Kind::Delete => (l.delete_burst, l.delete_per_sec),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, capacity: f64, per_sec: f64) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * per_sec).min(capacity);
        self.last = now;
    }
}

/// What a request gets from the buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Go ahead; `remaining` tokens are left in the principal's bucket.
    Pass { remaining: u64 },
    /// Throttled: retry after this many real milliseconds.
    Throttled { retry_after_ms: u64 },
}

/// All buckets.
#[derive(Debug, Default)]
pub struct RateLimits {
    principal: HashMap<(String, String, Kind), Bucket>,
    global: HashMap<(String, Kind), Bucket>,
}

impl RateLimits {
    /// Take one token for a request by `principal` on subscription `sub`.
    pub fn take(&mut self, l: &Limits, sub: &str, principal: &str, kind: Kind) -> Verdict {
        self.take_at(l, sub, principal, kind, Instant::now())
    }

    fn take_at(
        &mut self,
        l: &Limits,
        sub: &str,
        principal: &str,
        kind: Kind,
        now: Instant,
    ) -> Verdict {
        let (cap, rate) = kind.numbers(l);
        let (gcap, grate) = (cap * l.global_factor, rate * l.global_factor);
        let sub = sub.to_ascii_lowercase();
        let p = self
            .principal
            .entry((sub.clone(), principal.to_string(), kind))
            .or_insert(Bucket {
                tokens: cap,
                last: now,
            });
        p.refill(now, cap, rate);
        let g = self.global.entry((sub, kind)).or_insert(Bucket {
            tokens: gcap,
            last: now,
        });
        g.refill(now, gcap, grate);
        if l.enforce && (p.tokens < 1.0 || g.tokens < 1.0) {
            let wait_p = (1.0 - p.tokens).max(0.0) / rate;
            let wait_g = (1.0 - g.tokens).max(0.0) / grate;
            let ms = (wait_p.max(wait_g) * 1000.0).ceil().max(1.0) as u64;
            return Verdict::Throttled { retry_after_ms: ms };
        }
        p.tokens = (p.tokens - 1.0).max(0.0);
        g.tokens = (g.tokens - 1.0).max(0.0);
        Verdict::Pass {
            remaining: p.tokens.min(g.tokens).floor().max(0.0) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_throttle_then_refill() {
        let l = Limits {
            enforce: true,
            ..Limits::default()
        };
        let mut rl = RateLimits::default();
        let t0 = Instant::now();
        for i in 0..250u64 {
            assert_eq!(
                rl.take_at(&l, "S", "p", Kind::Read, t0),
                Verdict::Pass { remaining: 249 - i }
            );
        }
        // Empty: one token takes 40 ms at 25/s.
        assert_eq!(
            rl.take_at(&l, "s", "p", Kind::Read, t0),
            Verdict::Throttled { retry_after_ms: 40 }
        );
        // Writes, deletes and other principals have their own buckets.
        assert!(matches!(
            rl.take_at(&l, "s", "p", Kind::Write, t0),
            Verdict::Pass { remaining: 199 }
        ));
        assert!(matches!(
            rl.take_at(&l, "s", "p", Kind::Delete, t0),
            Verdict::Pass { remaining: 199 }
        ));
        assert!(matches!(
            rl.take_at(&l, "s", "q", Kind::Read, t0),
            Verdict::Pass { .. }
        ));
        // 100 ms later 2.5 tokens have come back.
        let t1 = t0 + Duration::from_millis(100);
        assert!(matches!(
            rl.take_at(&l, "s", "p", Kind::Read, t1),
            Verdict::Pass { remaining: 1 }
        ));
    }

    #[test]
    fn not_enforced_never_throttles() {
        let l = Limits {
            read_burst: 2.0,
            ..Limits::default()
        };
        let mut rl = RateLimits::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(matches!(
                rl.take_at(&l, "s", "p", Kind::Read, t0),
                Verdict::Pass { .. }
            ));
        }
        assert_eq!(
            rl.take_at(&l, "s", "p", Kind::Read, t0),
            Verdict::Pass { remaining: 0 }
        );
    }

    #[test]
    fn the_subscription_bucket_is_shared_by_principals() {
        let l = Limits {
            enforce: true,
            read_burst: 2.0,
            read_per_sec: 1.0,
            global_factor: 2.0,
            ..Limits::default()
        };
        let mut rl = RateLimits::default();
        let t0 = Instant::now();
        for p in ["a", "a", "b", "b"] {
            assert!(matches!(
                rl.take_at(&l, "s", p, Kind::Read, t0),
                Verdict::Pass { .. }
            ));
        }
        // A third principal with a full bucket of its own meets the empty global one.
        assert!(matches!(
            rl.take_at(&l, "s", "c", Kind::Read, t0),
            Verdict::Throttled { .. }
        ));
    }
}
