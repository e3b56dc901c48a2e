//! `aib build` at the executor level, against the in-process simulator: scheduling, stages,
//! log collection and analysis, cleanup policies, Ctrl-C, reports.

mod common;
mod fleet;
mod outcomes;
mod reports;
mod retry;
mod scheduling;
