//! aib-render: what `aib validate`, `aib plan`, `aib lint` and `aib import` need without talking
//! to Azure, and what the executor renders before it deploys. Pure and synchronous: no tokio,
//! no network, no state.
//!
//! - [`render`]: a planned unit → an ARM deployment (the built-in imageTemplate template or the
//!   user's own), with secrets masked unless the executor passes their values;
//! - [`lint`]: checks on the plan and on rendered deployments against aib's model of the Image
//!   Builder API;
//! - [`import`]: an existing ARM template or Bicep-compiled JSON → an `aib.toml` draft.

pub mod import;
pub mod lint;
pub mod render;
