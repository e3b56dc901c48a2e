//! Printing manifest and plan problems to stderr, Cargo style: a caret under the place in the
//! file, `file:line:col`, a hint, and a closing count.

use std::io::IsTerminal;

use aib_manifest::{Diagnostic, Diagnostics};
use miette::{GraphicalReportHandler, GraphicalTheme};

fn handler() -> GraphicalReportHandler {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
}

/// One diagnostic as text.
pub fn render(d: &Diagnostic) -> String {
    let mut out = String::new();
    if handler().render_report(&mut out, d).is_err() {
        out = format!("{}: {}\n", d.code, d.message);
    }
    out
}

/// Prints every diagnostic (errors and warnings) and returns the closing summary line.
pub fn print_all(diags: &Diagnostics, quiet: bool) {
    for d in &diags.items {
        if quiet && !d.is_error() {
            continue;
        }
        eprint!("{}", render(d));
    }
}

/// `N errors, M warnings` for a closing line.
pub fn summary(diags: &Diagnostics) -> String {
    let errors = diags.errors().count();
    let warnings = diags.warnings().count();
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}
