//! Exit codes, as documented in README.md and DESIGN.md.

/// How `aib` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every selected unit succeeded or was unchanged.
    Success = 0,
    /// A unit failed.
    UnitFailed = 1,
    /// The manifest or the command line is invalid.
    Invalid = 2,
    /// Azure authentication or configuration failed.
    Azure = 3,
    /// The state is locked by another run.
    Locked = 4,
    /// The run's state, a report or the result could not be read or written (a full disk,
    /// a read-only folder, a state file of an unknown version): what was not saved is said.
    Io = 5,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
