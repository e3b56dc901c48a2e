//! End-to-end tests of the `aib` binary: one test binary, one module per command.

mod build;
mod ci;
mod completions;
mod crash;
mod faults;
mod fleet;
mod gc;
mod incremental;
mod plan;
mod recover;
mod schedule;
mod schemas;
mod secrets;
mod support;
mod validate;
