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
//!   `Authorization: Bearer <token from /msi/token>` and an `api-version`.
//! - `GET /msi/token` (App Service managed identity protocol, header `X-IDENTITY-HEADER`).
//!   Also `GET /metadata/identity/oauth2/token` (IMDS, `Metadata: true`) and
//!   `POST /{tenant}/oauth2/v2.0/token` (client credentials) issue tokens the sim accepts.
//! - Blob service under `/blob/{account}/...` (Shared Key or SAS).
//! - `GET /_sim/stats`, `POST /_sim/publish` (no auth, never faulted).
//!
//! Stats operation names are listed in [`stats`]; scenario keys in [`scenario::Scenario`]:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `minute_ms` | 20 | real ms per simulated minute |
//! | `build_minutes` | 45 | run duration (Queued 10%, Building 20%, Customizing 40%, Validating 10% if `validate`, Distributing rest) |
//! | `deploy_minutes` | 1 | ARM deployment duration |
//! | `delete_minutes` | 1 | imageTemplate deletion |
//! | `create_minutes` | 1 | imageTemplate provisioningState Creating → Succeeded |
//! | `cancel_minutes` | 2 | Canceling → Canceled |
//! | `replicate_minutes` | 0 | gallery replication after the build |
//! | `token_lifetime_seconds` | 3600 | access token lifetime (real seconds) |
//! | `default_location` | `eastus2` | location of resource groups and default resources |
//! | `platform_image_version` | `1.0.0` | version every platform image has |
//! | `missing` | `[]` | resource id globs (case-insensitive) that do not exist |
//! | `[[outcome]]` | succeed | `template` glob, `result` = succeed / fail / timeout / stuck-canceling, `failed_customizer`, `build_minutes` |
//! | `[faults]` | none | `throttle`, `server_error`, `reset`, `reset_mid_body` (fraction of resets), `latency_ms`, `seed` (1), `throttle_storm = [{start_ms, duration_ms}]`, `operation_status_errors` (first N polls of each AIB operation answer 500) |

#![allow(clippy::result_large_err, clippy::too_many_arguments)]

pub mod arm;
pub mod auth;
pub mod blob;
pub mod clock;
pub mod customization_log;
pub mod faults;
pub mod response;
pub mod router;
pub mod scenario;
pub mod server;
pub mod state;
pub mod stats;

pub use scenario::{Scenario, ScenarioError};
pub use server::{SimError, SimHandle, start};
