//! Helpers for the credential harness: the fast ARM policy, the in-process simulator, its
//! stats, and `ensure!` (an assertion that fails the scenario instead of panicking).

use aib_azure::arm::ArmConfig;
use aib_azure::{ResourceGroupId, ResourceId, RetryPolicy};
use aib_sim::SimHandle;
use std::time::Duration;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const RG: &str = "rg-images";

/// The resource group the checks ask about.
pub fn group() -> ResourceGroupId {
    ResourceGroupId::new(SUB, RG)
}

/// The simulator's gallery.
pub fn gallery() -> ResourceId {
    ResourceId::gallery(&ResourceGroupId::new(SUB, "rg-gal"), "gal")
}

/// Fail the current scenario with the condition (and an optional message) unless it holds.
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            return Err(format!("assertion failed: {}", stringify!($cond)).into());
        }
    };
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("assertion failed: {}: {}", stringify!($cond), format!($($msg)+)).into());
        }
    };
}
pub(crate) use ensure;

/// A retry policy for tests: the simulator's hints are already scaled by `minute_ms`, so
/// only our own backoff is shortened.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(300),
        budget: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

pub fn fast_config() -> ArmConfig {
    ArmConfig {
        retry: fast_retry(),
        lro_default_interval: Duration::from_millis(50),
        ..ArmConfig::default()
    }
}

pub async fn start_sim(toml: &str) -> TestResult<SimHandle> {
    let scenario = aib_sim::Scenario::from_toml_str(toml)?;
    Ok(aib_sim::start("127.0.0.1:0".parse()?, scenario).await?)
}

pub async fn stats(base: &str) -> TestResult<serde_json::Value> {
    Ok(reqwest::get(format!("{base}/_sim/stats"))
        .await?
        .json()
        .await?)
}
