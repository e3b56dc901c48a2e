//! End-to-end tests of the `aib` binary: one test binary, one module per command.

mod build;
mod ci;
mod crash;
mod faults;
mod fleet;
mod gc;
mod hostile;
mod incremental;
mod plan;
mod schedule;
mod schemas;
mod secrets;
mod support;
mod validate;
