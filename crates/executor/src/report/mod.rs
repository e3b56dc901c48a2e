//! Reports of a finished run: `--report-json` (DESIGN.md's shape, with a JSON Schema),
//! `--report-junit` (one testcase per unit) and `--report-markdown` (a GitHub job summary
//! with a status table, each failure's customizer and log excerpt, and a Mermaid gantt).

pub mod json;
pub mod junit;
pub mod markdown;

pub use json::{BuildReport, report_schema};
