//! Azure time: every wait of the client (operation polling, backoff, the retry budget, the
//! token buckets) and every deadline of a build is a duration of Azure's clock. Against Azure
//! that is the wall clock. A simulator (`aib sim`) compresses time: it says how long one of its
//! minutes lasts at `GET /_sim/clock` (`{"minute_ms": n}`), and a client pointed at it runs on
//! that clock by itself, so a 30-second polling interval lasts `30 / 60 * n` real milliseconds.

use std::time::Duration;

use crate::cloud::Endpoints;

/// How long the probe of `/_sim/clock` may take before the endpoint is taken for Azure.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Real seconds per Azure second: 1 against Azure, `minute_ms / 60000` against a simulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale(f64);

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL
    }
}

impl TimeScale {
    /// Azure's own clock.
    pub const REAL: TimeScale = TimeScale(1.0);

    /// The clock of a simulator whose minute lasts `minute_ms` real milliseconds.
    pub fn from_minute_ms(minute_ms: u64) -> TimeScale {
        TimeScale(minute_ms.max(1) as f64 / 60_000.0)
    }

    /// A clock `factor` real seconds per Azure second (negative or NaN: stopped at 0).
    pub fn from_factor(factor: f64) -> TimeScale {
        TimeScale(if factor.is_finite() {
            factor.max(0.0)
        } else {
            0.0
        })
    }

    /// The same clock `k` times slower (tests give aib slack over a loaded simulator).
    pub fn slower(self, k: f64) -> TimeScale {
        TimeScale::from_factor(self.0 * k)
    }

    /// The factor (real seconds per Azure second).
    pub fn factor(self) -> f64 {
        self.0
    }

    /// Whether this is Azure's own clock.
    pub fn is_real(self) -> bool {
        (self.0 - 1.0).abs() < f64::EPSILON
    }

    /// The real duration of `d` of Azure time.
    pub fn real(self, d: Duration) -> Duration {
        if self.is_real() {
            d
        } else {
            d.mul_f64(self.0.max(0.0))
        }
    }
}

/// The clock of the ARM endpoint: a custom endpoint that answers `GET /_sim/clock` with
/// `{"minute_ms": n}` (n ≥ 1) runs on that clock; anything else (Azure's clouds, an endpoint
/// that does not answer, answers something else or takes longer than [`PROBE_TIMEOUT`]) on
/// Azure's. No credential is sent.
pub async fn probe(endpoints: &Endpoints) -> TimeScale {
    if !endpoints.is_custom_arm() {
        return TimeScale::REAL;
    }
    let Ok(url) = endpoints.arm.join("/_sim/clock") else {
        return TimeScale::REAL;
    };
    let Ok(client) = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return TimeScale::REAL;
    };
    let answer = async {
        let resp = client.get(url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: serde_json::Value = resp.json().await.ok()?;
        v.get("minute_ms")?.as_u64().filter(|n| *n >= 1)
    };
    match answer.await {
        Some(ms) => TimeScale::from_minute_ms(ms),
        None => TimeScale::REAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_azure_time() {
        let s = TimeScale::from_minute_ms(20);
        assert_eq!(s.real(Duration::from_secs(30)), Duration::from_millis(10));
        assert_eq!(
            TimeScale::REAL.real(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert!(TimeScale::from_minute_ms(60_000).is_real());
        assert_eq!(TimeScale::from_minute_ms(0), TimeScale::from_minute_ms(1));
    }

    #[tokio::test]
    async fn azure_clouds_are_never_probed() {
        let e = match Endpoints::for_cloud(crate::cloud::Cloud::Public) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(probe(&e).await, TimeScale::REAL);
    }
}
