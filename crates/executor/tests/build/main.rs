//! `aib build` at the executor level, against the in-process simulator: scheduling, stages,
//! log collection and analysis, cleanup policies, Ctrl-C, reports; and (reference tests) the log
//! analyser on published logs.

mod common;
mod fleet;
mod outcomes;
#[cfg(feature = "reference-tests")]
mod reference;
mod reports;
mod retry;
mod scheduling;
