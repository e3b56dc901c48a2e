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
//! - Blob service under `/blob/{account}/...` (Shared Key or SAS).
//! - `GET /_sim/stats`, `POST /_sim/publish` (no auth, never faulted).
//!
//! Stats operation names are listed in [`stats`]; scenario keys in [`scenario::Scenario`].

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
