//! A minimal libtest-compatible runner for scenarios that need their own process environment.
//!
//! Edition 2024 makes `std::env::set_var` unsafe (and the workspace forbids unsafe code), so
//! a parent scenario re-runs this binary with [`CHILD_ENV`] naming a child scenario and the
//! environment it needs; the child runs that one scenario and exits 0, or 1 with the error on
//! stderr. Without [`CHILD_ENV`] every parent scenario runs, reported like libtest.

use std::future::Future;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::ExitCode;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// Names the child scenario to run; unset in the parent.
pub const CHILD_ENV: &str = "AIB_TEST_CHILD";
/// Printed on stdout by a child whose scenario completed, so a parent never mistakes a child
/// that ran nothing for one that passed.
const CHILD_OK: &str = "aib-test-child ok:";

/// Variables that configure credentials, removed from every child before its own are set.
const CREDENTIAL_VARS: &[&str] = &[
    "AIB_CREDENTIAL",
    "AIB_ARM_ENDPOINT",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
];

/// A child's captured output.
pub struct ChildOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Run child scenario `scenario` in a fresh process with the credential variables removed and
/// `envs` set; succeed only if it exited 0 and reported completing that scenario.
pub async fn run_child(scenario: &str, envs: &[(&str, String)]) -> Result<ChildOutput, Error> {
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    for v in CREDENTIAL_VARS {
        cmd.env_remove(v);
    }
    cmd.env(CHILD_ENV, scenario);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await?;
    let output = ChildOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let done = format!("{CHILD_OK} {scenario}");
    if !out.status.success() || !output.stdout.lines().any(|l| l == done) {
        return Err(format!(
            "child scenario {scenario} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status, output.stdout, output.stderr
        )
        .into());
    }
    Ok(output)
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Run `fut` on a fresh runtime; a panic becomes an error.
fn block_on(fut: BoxFuture) -> Result<(), String> {
    let rt = runtime().map_err(|e| format!("tokio runtime: {e}"))?;
    match std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(fut))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".to_owned())),
    }
}

/// What the command line selects, libtest style.
struct Selection {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
    ignored_only: bool,
}

impl Selection {
    fn parse(args: impl Iterator<Item = String>) -> Self {
        let mut sel = Selection {
            filters: Vec::new(),
            skips: Vec::new(),
            exact: false,
            list: false,
            ignored_only: false,
        };
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--exact" => sel.exact = true,
                "--list" => sel.list = true,
                "--ignored" => sel.ignored_only = true,
                "--skip" => sel.skips.extend(args.next()),
                // libtest options whose value is the next argument.
                "--test-threads" | "--format" | "--color" | "--logfile" | "--shuffle-seed"
                | "-Z" => {
                    args.next();
                }
                s if s.starts_with('-') => {} // --nocapture, -q, --test-threads=N, ...
                _ => sel.filters.push(a),
            }
        }
        sel
    }

    fn matches(&self, name: &str) -> bool {
        if self.ignored_only {
            return false; // nothing here is ignored
        }
        let hit = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit)) && !self.skips.iter().any(hit)
    }
}

/// The test binary's `main`: a child scenario if [`CHILD_ENV`] is set, else every selected
/// parent scenario of `prefix` (reported as `prefix::name`).
pub fn main(
    prefix: &str,
    parents: &[&str],
    parent: fn(&str) -> BoxFuture,
    child: fn(&str) -> BoxFuture,
) -> ExitCode {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        return match block_on(child(&scenario)) {
            Ok(()) => {
                println!("{CHILD_OK} {scenario}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("child scenario {scenario} failed: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let sel = Selection::parse(std::env::args().skip(1));
    let selected: Vec<(&str, String)> = parents
        .iter()
        .map(|p| (*p, format!("{prefix}::{p}")))
        .filter(|(_, full)| sel.matches(full))
        .collect();
    let filtered_out = parents.len() - selected.len();
    if sel.list {
        for (_, full) in &selected {
            println!("{full}: test");
        }
        println!("\n{} tests, 0 benchmarks", selected.len());
        return ExitCode::SUCCESS;
    }

    let n = selected.len();
    println!("\nrunning {n} test{}", if n == 1 { "" } else { "s" });
    let mut failures = Vec::new();
    for (name, full) in &selected {
        print!("test {full} ... ");
        let _ = std::io::stdout().flush();
        match block_on(parent(name)) {
            Ok(()) => println!("ok"),
            Err(e) => {
                println!("FAILED");
                failures.push((full.clone(), e));
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (full, e) in &failures {
            println!("---- {full} ----\n{e}\n");
        }
        println!("failures:");
        for (full, _) in &failures {
            println!("    {full}");
        }
    }
    let failed = failures.len();
    println!(
        "\ntest result: {}. {} passed; {failed} failed; 0 ignored; 0 measured; {filtered_out} filtered out\n",
        if failed == 0 { "ok" } else { "FAILED" },
        n - failed,
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
