//! One module per command; each returns the process exit code.

pub mod build;
pub mod ci;
pub mod gc;
pub mod history;
pub mod import;
pub mod logs;
pub mod plan;
pub mod schedule;
pub mod sim;
pub mod status;
pub mod validate;
