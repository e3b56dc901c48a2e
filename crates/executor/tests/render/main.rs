//! Rendering, lint and import tests (issue 3).

mod check;
mod common;
mod examples;
mod import;
mod lint;
mod rendered;
mod schema;
mod template_errors;
