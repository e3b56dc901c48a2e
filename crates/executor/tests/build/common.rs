//! Shared setup: a simulator, a client with its managed-identity token, a manifest in a
//! temporary directory, and a run of `session::build`.

use std::sync::Arc;

use aib_azure::{ArmClient, ArmConfig, Credential, Endpoints};
use aib_executor::runner::{ExecutorConfig, RunResult};
use aib_executor::secrets::SecretOptions;
use aib_executor::session::{self, BuildError, BuildRequest};
use aib_manifest::Manifest;
use aib_planner::{Date, PlanOptions};
use aib_sim::{Scenario, SimHandle};
use chrono::Datelike;
use tokio_util::sync::CancellationToken;

pub const MINUTE_MS: u64 = 5;

pub const FLEET: &str = r#"
version = 1

[pipeline]
name = "fleet"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[environments.prod]
subscription = "00000000-0000-0000-0000-000000000002"
replicate_to = ["eastus2", "westus3"]
after = ["dev"]

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "harden", inline = ["echo harden"] },
  { type = "shell", name = "install", inline = ["apt-get install -y x"] },
]

[variants.app]
image_definition = "app"
source = { variant = "base" }
customize = [ { type = "shell", name = "app", inline = ["echo app"] } ]

[variants.win]
image_definition = "win"
source = { platform = "MicrosoftWindowsDesktop:windows-11:win11-24h2-ent:latest" }
customize = [
  { type = "powershell", name = "tools", inline = ["echo tools"] },
  { type = "windows-restart", name = "restart" },
  { type = "windows-update", name = "updates" },
]
"#;

pub fn today() -> Date {
    let now = chrono::Utc::now().date_naive();
    Date::new(now.year(), now.month(), now.day())
}

pub async fn sim(mut scenario: Scenario) -> SimHandle {
    scenario.minute_ms = MINUTE_MS;
    aib_sim::start("127.0.0.1:0".parse().expect("addr"), scenario)
        .await
        .expect("start sim")
}

/// A client on the simulator's clock (read from `GET /_sim/clock`), `slower` times slower.
pub async fn client_slower(sim: &SimHandle, slower: f64) -> ArmClient {
    let base = sim.base_url();
    let body: serde_json::Value = reqwest_get_token(&base).await;
    let token = body["access_token"].as_str().expect("token").to_string();
    let exp = body["expires_on"]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    let cred = Credential::from_static_token(token, exp);
    let endpoints = Endpoints::custom(&base, true).expect("endpoints");
    let clock = aib_azure::clock::probe(&endpoints).await.slower(slower);
    ArmClient::with_config(
        endpoints,
        Arc::new(cred),
        ArmConfig::default().on_clock(clock),
    )
    .expect("client")
}

/// A client on the simulator's clock.
pub async fn client(sim: &SimHandle) -> ArmClient {
    client_slower(sim, 1.0).await
}

async fn reqwest_get_token(base: &str) -> serde_json::Value {
    let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
    t.client()
        .get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com/"
        ))
        .header("X-IDENTITY-HEADER", "test")
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json")
}

pub fn manifest(dir: &std::path::Path, text: &str) -> Manifest {
    std::fs::write(dir.join("aib.toml"), text).expect("write manifest");
    Manifest::load(&dir.join("aib.toml")).expect("manifest loads")
}

pub struct Run {
    pub result: Result<RunResult, BuildError>,
    pub store: aib_state::StateStore,
}

pub async fn build(
    sim: &SimHandle,
    dir: &std::path::Path,
    text: &str,
    config: ExecutorConfig,
    interrupt: CancellationToken,
) -> Run {
    build_with(sim, dir, text, config, interrupt, 1.0, |_| {
        aib_state::Selection::default()
    })
    .await
}

/// [`build`] with aib's clock `slower` times slower than the simulator's, and the run's
/// selection made from the plan.
pub async fn build_with(
    sim: &SimHandle,
    dir: &std::path::Path,
    text: &str,
    config: ExecutorConfig,
    interrupt: CancellationToken,
    slower: f64,
    selection: impl FnOnce(&aib_planner::Plan) -> aib_state::Selection,
) -> Run {
    let m = manifest(dir, text);
    let plan = aib_planner::plan(
        &m,
        &PlanOptions {
            today: today(),
            ..PlanOptions::default()
        },
    )
    .expect("plan");
    let store = aib_state::StateStore::open_local(dir.join(".aib"))
        .await
        .expect("state");
    let arm = client_slower(sim, slower).await;
    let config = ExecutorConfig {
        time_scale: arm.config().retry.time_scale,
        ..config
    }
    .with_manifest_limits(&m);
    let selection = selection(&plan);
    let result = session::build(BuildRequest {
        manifest: Arc::new(m),
        plan,
        arm,
        store: store.clone(),
        run_id: aib_state::new_run_id(chrono::Utc::now()),
        trigger: aib_state::Trigger::Manual,
        manifest_display: "aib.toml".into(),
        selection,
        config,
        interrupt,
        forward: None,
        note: None,
        secret_options: SecretOptions::default(),
    })
    .await;
    Run { result, store }
}

pub async fn stats(sim: &SimHandle) -> serde_json::Value {
    let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
    t.client()
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}
