//! Results on stdout. A reader that went away (`aib plan | head -1`) is not a failure: output
//! stops quietly and the command ends with its own exit code. Any other write error (a full
//! disk behind `> plan.json`) is said on stderr once and makes a successful command exit 5,
//! so a truncated result never passes for a whole one.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

const OPEN: u8 = 0;
/// The reader closed the pipe.
const CLOSED: u8 = 1;
/// Writing failed for another reason.
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(OPEN);

/// Writes `bytes` to stdout and flushes.
pub fn write_bytes(bytes: &[u8]) {
    if STATE.load(Ordering::Relaxed) != OPEN {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        write_failed(&e);
    }
}

/// Records a write to stdout that failed (also one made by a streaming writer of its own).
pub fn write_failed(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        STATE.store(CLOSED, Ordering::Relaxed);
    } else if STATE.swap(FAILED, Ordering::Relaxed) != FAILED {
        eprintln!("error: cannot write the result to stdout: {e}");
    }
}

/// Writes `s` to stdout.
pub fn write(s: &str) {
    write_bytes(s.as_bytes());
}

/// Whether a write to stdout failed for a reason other than a closed pipe.
pub fn failed() -> bool {
    STATE.load(Ordering::Relaxed) == FAILED
}

/// `print!` that never panics (see the module).
macro_rules! out {
    ($($t:tt)*) => {
        $crate::output::write(&format!($($t)*))
    };
}

/// `println!` that never panics (see the module).
macro_rules! outln {
    () => {
        $crate::output::write("\n")
    };
    ($($t:tt)*) => {
        $crate::output::write(&format!("{}\n", format_args!($($t)*)))
    };
}

pub(crate) use {out, outln};
