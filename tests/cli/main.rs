//! End-to-end tests of the `aib` binary: one test binary, one module per command.

mod azure_setup;
mod build;
mod ci;
mod completions;
mod crash;
mod demo;
mod detach;
mod faults;
mod fleet;
mod gc;
mod hostile;
mod import;
mod import_roundtrip;
mod incremental;
mod layers;
mod locks;
mod login;
mod logs;
mod plan;
mod recover;
#[cfg(feature = "reference-tests")]
mod reference;
mod resume_state;
mod schedule;
mod schemas;
mod secrets;
mod shards;
mod support;
mod validate;
