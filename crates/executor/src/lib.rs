//! aib-executor

// `aib build` (issue 5): scheduler, stages, logs, events, reports.
pub mod events;
pub mod gc;
pub mod incremental;
pub mod inputs;
pub mod logs;
pub mod preflight;
pub mod prerequisites;
pub mod redact;
pub mod report;
pub mod resume;
pub mod runner;
pub mod secrets;
pub mod session;
pub mod stages;
mod sync;
pub mod version;
