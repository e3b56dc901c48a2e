//! Logging: tracing to stderr, as text or JSON lines; `-v`/`-q` pick the level, `RUST_LOG`
//! overrides it. Every line passes the process's [`redactor`] first: once a build has resolved
//! its secrets, no log line (whatever Azure sent back into it) shows one.

use std::sync::OnceLock;

use aib_executor::redact::Redactor;
use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat};

/// The redactor of this process: builds teach it their secret values; log lines, errors and
/// warnings the binary prints pass it.
pub fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(Redactor::new)
}

/// `s` as the binary may print it.
pub fn redact(s: &str) -> String {
    redactor().redact(s).into_owned()
}

/// stderr, each write redacted (tracing writes one whole line per event).
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let out = redactor().redact_bytes(buf);
        std::io::stderr().write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

pub fn init(args: &GlobalArgs) {
    let level = if args.quiet {
        "error"
    } else {
        match args.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr);
    match args.log_format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Text => builder.with_target(false).without_time().init(),
    }
}
