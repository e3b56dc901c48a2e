//! Integration tests: real HTTP against a simulator started on a free port.
#![allow(clippy::unwrap_used)]

mod common;

mod api_version;
mod auth;
mod blob;
mod errors;
mod faults;
mod federated;
mod flow;
mod hostile;
mod key_vault;
mod limits;
mod misc;
mod outcomes;
mod paging;
#[cfg(feature = "reference-tests")]
mod reference;
mod retention;
mod shapes;
mod templates;
mod world;
