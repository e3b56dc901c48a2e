//! One module per command; each returns the process exit code.

pub mod build;
pub mod ci;
pub mod completions;
pub mod gc;
pub mod history;
pub mod import;
pub mod logs;
pub mod plan;
pub mod resume;
pub mod schedule;
pub mod sim;
pub mod simulate;
pub mod status;
pub mod validate;

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
