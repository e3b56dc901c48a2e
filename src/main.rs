//! The `aib` binary: parses arguments, calls the library crates, prints results (stdout) and
//! progress and problems (stderr), and exits with the documented code.

mod cli;
mod commands;
mod diagnostics;
mod duration;
mod exit;
mod hints;
mod logging;
mod output;
mod reporter;
mod signals;
mod steps;
mod text;

use clap::Parser;

/// mimalloc: planning a large fleet is mostly small allocations (settings, JSON values, names);
/// glibc's allocator spent about a third of `aib plan`'s time at 10,000 units.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cli::{Cli, Command};
use exit::Exit;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Success
                }
                _ => Exit::Invalid,
            }
            .into();
        }
    };
    logging::init(&cli.global);
    let exit = match &cli.command {
        Command::Validate(args) => commands::validate::run(&cli.global, args),
        Command::Plan(args) => commands::plan::run(&cli.global, args),
        Command::Sim(args) => commands::sim::run(args),
        Command::Import(args) => commands::import::run(&cli.global, args),
        Command::Build(args) => commands::build::run(&cli.global, args),
        Command::Resume(args) => commands::resume::run(&cli.global, args),
        Command::Cancel(args) => commands::resume::cancel(&cli.global, args),
        Command::Status(args) => commands::status::run(&cli.global, args),
        Command::History(args) => commands::history::run(&cli.global, args),
        Command::Logs(args) => commands::logs::run(&cli.global, args),
        Command::Schedule(args) => commands::schedule::run(&cli.global, args),
        Command::Gc(args) => commands::gc::run(&cli.global, args),
        Command::Ci(ci) => commands::ci::run(&cli.global, ci),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man(args) => commands::completions::man(args),
    };
    // A result cut short by a failed write to stdout is not a success.
    if exit == Exit::Success && output::failed() {
        return Exit::Io.into();
    }
    exit.into()
}
