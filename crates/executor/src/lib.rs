//! aib-executor

pub mod import;
pub mod lint;
pub mod render;
