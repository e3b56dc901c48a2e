//! Problems found in a manifest, each with a code, a message, labelled spans in the source file
//! and an optional hint. Rendered by the binary through miette, like Cargo's errors.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};

/// The manifest text and the name it is shown under.
#[derive(Clone)]
pub struct SourceFile {
    inner: Arc<NamedSource<String>>,
    text: Arc<str>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text: String = text.into();
        let arc: Arc<str> = Arc::from(text.as_str());
        Self {
            inner: Arc::new(NamedSource::new(name.into(), text).with_language("TOML")),
            text: arc,
        }
    }

    pub fn name(&self) -> &str {
        self.inner.name()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before
            .get(line_start..)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }
}

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A labelled span inside the source.
#[derive(Clone, Debug)]
pub struct Label {
    pub span: Range<usize>,
    pub text: String,
}

/// One problem.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable code such as `aib::unknown-key`.
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub source: Option<SourceFile>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            source: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// Adds a labelled span (ignored when the span is empty, i.e. the value did not come from
    /// the file).
    pub fn with_label(mut self, span: Range<usize>, text: impl Into<String>) -> Self {
        if span.end > span.start || span.start > 0 {
            self.labels.push(Label {
                span,
                text: text.into(),
            });
        }
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_source(mut self, source: &SourceFile) -> Self {
        self.source = Some(source.clone());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` of the first label, when there is one.
    pub fn location(&self) -> Option<String> {
        let src = self.source.as_ref()?;
        let label = self.labels.first()?;
        let (line, col) = src.line_col(label.span.start);
        Some(format!("{}:{line}:{col}", src.name()))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        if self.labels.is_empty() {
            return None;
        }
        self.source
            .as_ref()
            .map(|s| s.inner.as_ref() as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().map(|l| {
            let len = l.span.end.saturating_sub(l.span.start);
            LabeledSpan::new(
                Some(l.text.clone()).filter(|t| !t.is_empty()),
                l.span.start,
                len,
            )
        })))
    }
}

/// Every problem found in one pass, errors and warnings.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    /// Sets the source of every diagnostic that has none.
    pub fn attach_source(&mut self, source: &SourceFile) {
        for d in &mut self.items {
            if d.source.is_none() {
                d.source = Some(source.clone());
            }
        }
    }

    /// Orders errors by position in the file, so they read top to bottom.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| {
            (
                d.labels.first().map(|l| l.span.start).unwrap_or(usize::MAX),
                d.code,
            )
        });
    }
}

/// The error every failed load returns: the problems found, all of them.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", invalid_summary(.0))]
    Invalid(Diagnostics),
}

fn invalid_summary(d: &Diagnostics) -> String {
    let n = d.errors().count();
    let name = d
        .items
        .first()
        .and_then(|d| d.source.as_ref())
        .map(|s| s.name().to_string());
    let name = name.unwrap_or_else(|| "manifest".into());
    if n == 1 {
        format!("{name} is invalid: 1 error")
    } else {
        format!("{name} is invalid: {n} errors")
    }
}
