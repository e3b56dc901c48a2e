//! The planner's error: every problem found, each a manifest [`Diagnostic`] pointing at
//! `file:line:col` where the manifest says what went wrong.

use std::ops::Range;

use aib_manifest::{Diagnostic, Diagnostics, SourceFile};

/// Planning failed; `diagnostics` holds every problem found, in file order.
#[derive(Debug, thiserror::Error)]
#[error("{}", summary(.diagnostics))]
pub struct PlanError {
    pub diagnostics: Diagnostics,
}

fn summary(d: &Diagnostics) -> String {
    let n = d.errors().count();
    let first = d
        .errors()
        .next()
        .map(|e| format!(": {}", e.message))
        .unwrap_or_default();
    if n == 1 {
        format!("cannot plan: 1 error{first}")
    } else {
        format!("cannot plan: {n} errors{first}")
    }
}

/// Collects problems while planning.
#[derive(Debug)]
pub(crate) struct Problems {
    source: SourceFile,
    text_len: usize,
    pub(crate) out: Diagnostics,
}

impl Problems {
    pub(crate) fn new(source: &SourceFile) -> Self {
        Self {
            source: source.clone(),
            text_len: source.text().len(),
            out: Diagnostics::default(),
        }
    }

    /// An error with an optional label at `span` (spans of values that did not come from the
    /// manifest, such as `--set`, are empty and left out).
    pub(crate) fn error(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        span: Option<(Range<usize>, String)>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::error(code, message).with_source(&self.source);
        if let Some((span, text)) = span
            && span.end <= self.text_len
            && !(span.start == 0 && span.end == 0)
        {
            d = d.with_label(span, text);
        }
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.out.push(d);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.out.has_errors()
    }

    pub(crate) fn into_error(mut self) -> PlanError {
        self.out.sort();
        PlanError {
            diagnostics: self.out,
        }
    }
}
