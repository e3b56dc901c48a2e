//! Rendering, lint and import tests (issue 3).

mod check;
mod common;
mod examples;
mod import;
mod lint;
#[cfg(feature = "reference-tests")]
mod reference;
mod rendered;
mod template_errors;
