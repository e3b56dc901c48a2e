//! `aib completions SHELL` and `aib man`: shell completion scripts and man pages, generated from
//! the same clap definition that parses the command line, so they never drift from it.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::Exit;

/// Prints the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs) -> Exit {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "aib", &mut out);
    write_stdout(&out)
}

/// Prints `aib.1`, or writes it and one page per command into `--out`.
pub fn man(args: &ManArgs) -> Exit {
    let cmd = Cli::command();
    match &args.out {
        None => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(cmd).render(&mut out) {
                Ok(()) => write_stdout(&out),
                Err(e) => {
                    eprintln!("error: cannot render the man page: {e}");
                    Exit::Invalid
                }
            }
        }
        Some(dir) => match write_pages(cmd, dir) {
            Ok(n) => {
                println!(
                    "wrote {n} man page{} to {}",
                    if n == 1 { "" } else { "s" },
                    dir.display()
                );
                Exit::Success
            }
            Err(e) => {
                eprintln!("error: cannot write man pages to {}: {e}", dir.display());
                Exit::Invalid
            }
        },
    }
}

/// `aib.1` plus `aib-<sub>.1` for every subcommand (nested ones as `aib-ci-github.1`).
fn write_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd;
    cmd.build();
    let mut n = 0;
    write_page(&cmd, dir, "aib", &mut n)?;
    Ok(n)
}

fn write_page(cmd: &clap::Command, dir: &Path, name: &str, n: &mut usize) -> std::io::Result<()> {
    let page = cmd.clone().name(name.to_owned());
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::fs::write(dir.join(format!("{name}.1")), out)?;
    *n += 1;
    // clap adds a `help` subcommand to every command with subcommands; it needs no page.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_page(sub, dir, &format!("{name}-{}", sub.get_name()), n)?;
    }
    Ok(())
}

/// Writes to stdout; a closed pipe (`aib completions bash | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Exit {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            Exit::Invalid
        }
    }
}
