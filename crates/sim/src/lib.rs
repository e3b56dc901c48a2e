//! aib-sim: a local stand-in for ARM, Azure Image Builder, Compute Gallery, platform image
//! versions, storage accounts, Blob storage and the App Service managed-identity token
//! endpoint, all on one port.
//!
//! ```no_run
//! # async fn f() -> Result<(), aib_sim::SimError> {
//! let sim = aib_sim::start("127.0.0.1:0".parse().unwrap(), aib_sim::Scenario::default()).await?;
//! println!("listening on {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Endpoints (all on `base_url()`):
//! - ARM under `/subscriptions/...` (see [`router`] for the list), every call needs
//!   `Authorization: Bearer <token from /msi/token>` and an `api-version` the resource type is
//!   served at ([`api_versions`]; others answer ARM's 400). Answers have the shapes recorded
//!   Azure traffic shows (`azure-reference/recordings/`).
//! - `GET /msi/token` (App Service managed identity protocol, header `X-IDENTITY-HEADER`).
//!   Also `GET /metadata/identity/oauth2/token` (IMDS, `Metadata: true`) and
//!   `POST /{tenant}/oauth2/v2.0/token` (client credentials) issue tokens the sim accepts.
//! - The same port speaks TLS to clients that start a TLS handshake (`https_base_url()`, a
//!   certificate from a throwaway CA: `ca_pem()`; see [`tls`]). Entra's token endpoint and the
//!   CI OIDC endpoints are meant to be used that way, as azure_identity insists on `https`.
//! - `POST /_sim/ci-job` hands out a CI job's OIDC environment (GitHub Actions'
//!   `ACTIONS_ID_TOKEN_REQUEST_*`, Azure Pipelines' `SYSTEM_OIDCREQUESTURI` /
//!   `SYSTEM_ACCESSTOKEN`); their token endpoints issue assertions that live
//!   `assertion_lifetime_seconds`, which the Entra endpoint exchanges while they are valid and
//!   refuses with Entra's errors afterwards (see [`handlers::federated`]).
//! - Blob service under `/blob/{account}/...` (Shared Key, SAS, or an Entra token it issued).
//! - Key Vault secrets under `/keyvault/{vault}/secrets/{name}[/{version}]` (the data plane of
//!   `https://{vault}.vault.azure.net`; bearer token from any token endpoint, `api-version`
//!   required; see [`handlers::key_vault`]).
//! - `GET /_sim/clock` (`{"minute_ms": n}`), `GET /_sim/stats`, `POST /_sim/publish` (no auth,
//!   never faulted).
//! - `POST /_sim/control`: hold the answers of chosen operations after they took effect, or cut
//!   the next N Blob downloads mid-body, at a moment a test chooses (see [`control`]).
//! - Any method other than GET, HEAD, PUT, POST, DELETE and PATCH is answered 405 with `Allow`.
//!   A connection whose request headers do not arrive within `header_read_timeout_ms` is
//!   closed.
//!
//! A simulator can keep its world in a folder between runs: [`WorldDir::open`] holds the
//! folder, [`WorldDir::load`] reads the saved world, [`start_from`] starts in it and
//! [`SimHandle::save`] writes it back (a versioned `world.json`; see [`persist`] for what is
//! kept, how time goes on and what a file of another version does). `aib build --simulate`
//! keeps one in `.aib/simulate/azure`, `aib sim --state-dir DIR` in DIR.
//!
//! Stats operation names are listed in [`stats`]; scenario keys in [`scenario::Scenario`]:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `minute_ms` | 20 | real ms per simulated minute; `GET /_sim/clock` tells clients (`{"minute_ms": n}`), and aib pointed at the simulator runs its own intervals and deadlines on it |
//! | `clock_minute_ms` | `minute_ms` | the minute `/_sim/clock` reports instead: larger runs clients' deadlines slower than the simulator's work (slack for tests on a loaded machine) |
//! | `build_minutes` | 45 | run duration (Queued 10%, Building 20%, Customizing 40%, Validating 10% if `validate`, Distributing rest) |
//! | `deploy_minutes` | 1 | ARM deployment duration |
//! | `delete_minutes` | 1 | imageTemplate deletion |
//! | `create_minutes` | 1 | imageTemplate provisioningState Creating → Succeeded |
//! | `cancel_minutes` | 2 | Canceling → Canceled |
//! | `replicate_minutes` | 0 | gallery replication after the build |
//! | `token_lifetime_seconds` | 3600 | access token lifetime (real seconds) |
//! | `assertion_lifetime_seconds` | 300 | lifetime of the OIDC assertions CI job endpoints issue (real seconds) |
//! | `default_location` | `eastus2` | location of resource groups and default resources |
//! | `platform_image_version` | `1.0.0` | version every platform image has |
//! | `missing` | `[]` | resource id globs (case-insensitive) that do not exist |
//! | `keep_staging` | `[]` | imageTemplate name globs whose deletion leaves the staging resource group behind (tags kept), as a lock or a foreign resource in it does in Azure; `aib gc` deletes such leftovers |
//! | `echo` | `[]` | imageTemplate name globs whose failing builds echo the failing step's inline commands into `customization.log` (`+ <command>`) and quote its last command in the failure message, as `set -x` or a chatty tool does (a secret in a command comes back) |
//! | `header_read_timeout_ms` | 30000 | real ms a client may take to send a request's headers (or to start its next one on a kept-alive connection) before the connection is closed |
//! | `[[outcome]]` | succeed | `template` glob (default `*`), `tags` (the template must carry all of them, e.g. `{ "aib.unit" = "test/app" }`), `result` = succeed / fail / timeout / stuck-canceling / timeout-distributing (times out while distributing; the gallery versions finish replicating `replicate_minutes`, at least 2, after the failure) / provision-fail (the template's creation fails: 201 `Creating`, then its operation `Failed` and `provisioningState: Failed` with a `provisioningError`; `run` refused with 409 `OperationNotAllowed`, a re-PUT with the update conflict, a deployment with `ResourceDeploymentFailure`), `failed_customizer`, `build_minutes`, `times` (the rule applies N times, then matching templates succeed: provision-fail counts creations, the other results runs; the count is part of a saved world) |
//! | `log_format` | `telemetry` | the `customization.log` of a failing build: `telemetry` (`(telemetry) Starting provisioner <type>` / `ending <type>` around each step) or `packer-1.14` (no markers; steps start at their first UI line) |
//! | `[storage]` | all allowed | the staging storage accounts: `shared_key = false` forbids Shared Key and key SAS (403 `KeyBasedAuthenticationNotPermitted`; Entra tokens only), `list_keys = false` refuses `listKeys` (403 `AuthorizationFailed`), `data_reader = false` refuses Entra tokens (403 `AuthorizationPermissionMismatch`) |
//! | `page_size` | 50 | items per page of ARM lists (imageTemplates by RG and subscription, deployments, deployment operations, gallery image versions, storage accounts, runOutputs); longer lists carry an absolute `nextLink` with `$skiptoken` and the request's api-version |
//! | `[faults]` | none | `throttle`, `server_error`, `reset`, `reset_mid_body` (fraction of resets), `latency_ms`, `seed` (1), `throttle_storm = [{start_ms, duration_ms}]` (429 windows), `throttle_retry_after_ms` (what a 429 asks to wait; one simulated minute), `outage = [{start_ms, duration_ms}]` (503 windows), `operation_status_errors` (first N polls of each AIB operation answer 500), `token` (false: also fault the token endpoints) |
//! | `[key_vault]` | `{}` | Key Vault secrets, `"VAULT/NAME" = "value"` (case-insensitive names); anything else answers 404 `SecretNotFound` |
//! | `[limits]` | reported, not enforced | ARM's token buckets per subscription and principal: `read_burst` 250 / `read_per_sec` 25, `write_burst` 200 / `write_per_sec` 10, `delete_burst` 200 / `delete_per_sec` 10, `global_factor` 15 (the subscription-wide bucket of all principals), `enforce` (false) |
//!
//! Rate limits: every ARM answer carries `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`
//! from the buckets of the token's principal (the managed identity's client id). With
//! `[limits] enforce = true` an empty bucket answers 429 `SubscriptionRequestsThrottled` with
//! `Retry-After` / `retry-after-ms` (counted as `ratelimited` in `/_sim/stats`, not as a fault).
//! The buckets refill in real time while builds run on simulated time (`minute_ms`), so an
//! hour of polling happens in seconds; enforcing ARM's numbers there would throttle what Azure
//! never would, and the batch benchmarks would measure the sim's throttling instead of aib. So
//! enforcement is off by default and meant for tests of the client's limiter and its recovery.
//!
//! Paging: the default `page_size` of 50 is small enough that fleets of more than 50 templates
//! in one resource group (the batch benchmarks, load tests) exercise `nextLink` following.

//! Modules, in layers (each uses only the ones before it, and no file imports one that
//! imports it back; a unit test checks both): support modules ([`scenario`], [`clock`], [`response`],
//! [`stats`], [`faults`], [`ratelimit`], [`control`], [`api_versions`], [`tls`], [`sync`]) →
//! [`model`] (the resources kept) → [`state`] (all of them, plain data) → [`context`] (`Ctx`,
//! `Sim`) → [`handlers`] (what each service does; [`persist`] saves and loads the world) →
//! [`router`] (which handler a request goes to) → [`server`] (sockets, TLS, shutdown).

#![allow(clippy::result_large_err, clippy::too_many_arguments)]

pub mod api_versions;
pub mod clock;
pub mod context;
pub mod control;
pub mod faults;
pub mod handlers;
pub mod model;
pub mod persist;
pub mod ratelimit;
pub mod response;
pub mod router;
pub mod scenario;
pub mod server;
pub mod state;
pub mod stats;
pub mod sync;
pub mod tls;

pub use handlers::arm;
pub use persist::{World, WorldDir, WorldError};
pub use scenario::{Scenario, ScenarioError};
pub use server::{SimError, SimHandle, WorldSaver, start, start_from};

#[cfg(test)]
mod tests {
    /// The layer of a module, by its first path segment (the order in the docs above).
    fn layer(module: &[String]) -> Option<usize> {
        let top = module.first()?.as_str();
        Some(match top {
            "scenario" | "clock" | "response" | "stats" | "faults" | "ratelimit" | "control"
            | "api_versions" | "tls" | "sync" => 0,
            "model" => 1,
            "state" => 2,
            "context" => 3,
            "handlers" | "persist" => 4,
            "router" => 5,
            "server" => 6,
            _ => return None,
        })
    }

    /// The layers hold: no file imports one of a later layer, and none imports one that
    /// imports it back.
    #[test]
    fn layers_and_no_import_cycles_between_files() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let (graph, cycles) = aib_testkit::module_graph::cycles(&src).expect("read src/");
        let shown: Vec<String> = cycles.iter().map(|c| graph.describe(c)).collect();
        assert!(cycles.is_empty(), "import cycles:\n{}", shown.join("\n\n"));
        let mut upward = Vec::new();
        for (from, tos) in &graph.edges {
            if from.is_empty() {
                continue; // lib.rs: declarations and re-exports
            }
            let Some(lf) = layer(from) else {
                upward.push(format!("{} has no layer", from.join("::")));
                continue;
            };
            for to in tos {
                if layer(to).is_none_or(|lt| lt > lf) {
                    upward.push(format!("{} -> {}", from.join("::"), to.join("::")));
                }
            }
        }
        assert!(
            upward.is_empty(),
            "imports against the layers:\n{}",
            upward.join("\n")
        );
    }
}
