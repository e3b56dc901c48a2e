//! Shared by the benchmarks that drive the in-process simulator.

use std::sync::Arc;

use aib_azure::{ArmClient, ArmConfig, Credential, Endpoints};

/// An ARM client for the simulator at `base`, with a token from its managed-identity endpoint.
/// `time_scale` is real seconds per Azure second: the client's token buckets refill in real
/// time, so a run on compressed Azure time must compress them the same way, or they throttle
/// it where ARM would not.
pub async fn sim_client(
    base: &str,
    t: &aib_azure::transport::Transport,
    time_scale: f64,
) -> ArmClient {
    let tok: serde_json::Value = t
        .client()
        .get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com/"
        ))
        .header("X-IDENTITY-HEADER", "bench")
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let cred = Credential::from_static_token(
        tok["access_token"].as_str().unwrap_or_default(),
        tok["expires_on"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    );
    ArmClient::with_config(
        Endpoints::custom(base, true).expect("endpoints"),
        Arc::new(cred),
        ArmConfig {
            rate_limit: aib_azure::rate_limit::RateLimitConfig {
                time_scale,
                ..Default::default()
            },
            ..ArmConfig::default()
        },
    )
    .expect("client")
}
