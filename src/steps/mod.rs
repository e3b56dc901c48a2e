//! The steps commands share: load the manifest, plan it, connect to Azure (or the simulator),
//! open the state and take its lock, and turn what went wrong into an exit code. Commands
//! (`crate::commands`) are built from these and never use each other.

pub mod conclude;
pub mod connect;
pub mod load;
pub mod plan;
pub mod simulate;
pub mod state;

pub use conclude::{Reports, Shown, conclude, worse};
pub use connect::{Connection, connect, connect_simulator};
pub use load::load;
pub use plan::{check_units, make_plan};
pub use state::{
    no_runs_yet, open_existing_state, runs_with_shards, state_error, state_location, status_word,
    take_lock, take_lock_or_busy,
};

/// The tokio runtime a command runs on: on every core for the commands that drive a fleet
/// (`multi`), one thread otherwise. When it cannot start, says why and gives `on_error`.
pub fn runtime(
    multi: bool,
    on_error: crate::exit::Exit,
) -> Result<tokio::runtime::Runtime, crate::exit::Exit> {
    let mut builder = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        on_error
    })
}

/// The runtime of the state-reading commands (`status`, `history`, `logs`).
pub fn reading_runtime() -> Result<tokio::runtime::Runtime, crate::exit::Exit> {
    runtime(false, crate::exit::Exit::UnitFailed)
}
