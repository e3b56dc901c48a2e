//! aib-azure: the one ARM + Blob client every aib command uses.
//!
//! - [`api_versions`]: the api-versions Azure serves per resource type, and the pinned ones.
//! - [`clock`]: Azure time, and the simulator's clock (`GET /_sim/clock`).
//! - [`cloud`]: endpoints per cloud, `AIB_ARM_ENDPOINT`.
//! - [`credential`]: azure_identity chain, `AIB_CREDENTIAL`, token cache.
//! - [`transport`]: the pooled HTTP client, headers, request ids.
//! - [`retry`]: retry policy, backoff, Retry-After parsing.
//! - [`rate_limit`]: client-side ARM token buckets.
//! - [`lro`]: long-running operations.
//! - [`arm`]: [`ArmClient`] and typed operations.
//! - [`blob`]: [`BlobClient`]: Shared Key / SAS / bearer, list, download.
//! - [`types`]: serde wire types.
//! - [`ids`]: resource ids compared as ARM compares them (case-insensitively).
//! - [`resource_id`]: typed ids, [`ResourceGroupId`] and [`ResourceId`], that operations take.
//! - [`error`]: the [`Error`] enum.
//!
//! ```no_run
//! use aib_azure::{ArmClient, Cloud, ResourceGroupId, ResourceId};
//! # async fn f() -> aib_azure::Result<()> {
//! // AIB_ARM_ENDPOINT / AIB_CREDENTIAL are honoured.
//! let arm = ArmClient::from_env(Cloud::Public, None, false)?;
//! let template = ResourceId::image_template(&ResourceGroupId::new("sub", "rg"), "tmpl");
//! let op = arm.run_image_template(&template).await?;
//! let handle = op.handle().cloned(); // store it to resume after a restart
//! match op.wait().await {
//!     Ok(_) => {}
//!     Err(e) if e.is_auth_or_config() => { /* exit code 3 */ }
//!     Err(e) => return Err(e),
//! }
//! let t = arm.get_image_template(&template).await?;
//! let _state = t.properties.last_run_status.and_then(|s| s.run_state);
//! # let _ = handle; Ok(()) }
//! ```

pub mod api_versions;
pub mod arm;
pub mod blob;
pub mod clock;
pub mod cloud;
pub mod credential;
pub mod error;
pub mod github_oidc;
pub mod ids;
pub mod lro;
pub mod rate_limit;
pub mod resource_id;
pub mod retry;
pub mod transport;
pub mod types;

pub use arm::{ArmClient, ArmConfig};
pub use blob::{BlobAuth, BlobClient};
pub use clock::TimeScale;
pub use cloud::{Cloud, Endpoints};
pub use credential::{Credential, CredentialKind};
pub use error::{Error, Result};
pub use lro::{Operation, OperationHandle, OperationState};
pub use resource_id::{ResourceGroupId, ResourceId, ResourceIdError, ResourceKind};
pub use retry::RetryPolicy;
