//! Command-line arguments (clap derive): the commands and global flags of DESIGN.md.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Build fleets of Azure VM images with Azure Image Builder from one TOML manifest.
#[derive(Debug, Parser)]
#[command(name = "aib", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Where run state lives: a directory, or azblob://ACCOUNT/CONTAINER[/PREFIX]
    /// (default: .aib/ beside the manifest).
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub state: Option<String>,
    /// ARM endpoint to talk to instead of the cloud's (for the simulator).
    #[arg(long, global = true, env = "AIB_ARM_ENDPOINT", value_name = "URL")]
    pub arm_endpoint: Option<String>,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less output: errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Format of log lines on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Allow plain `http://` to endpoints that are not loopback (ARM, Blob state). Tokens and
    /// keys then cross the network unencrypted: only for test rigs.
    #[arg(long, global = true)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a manifest offline: syntax, keys, references, templates, graph.
    Validate(ValidateArgs),
    /// Show the units, their dependencies and template names, without building.
    Plan(PlanArgs),
    /// Run the local Azure simulator (ARM, Image Builder, gallery, Blob, managed identity).
    Sim(SimArgs),
    /// Turn an AIB template you already have (ARM deployment or imageTemplate body, with
    /// `<placeholders>`) into an `aib.toml` stub and a template under `templates/`.
    Import(ImportArgs),
    /// Build the selected units: deploy, build, verify, cleanup; collect logs of failures.
    Build(BuildArgs),
    /// Advance an unfinished run (default: the latest; `--all`: every one) from the state
    /// alone: follow, verify, collect logs and clean up what finished, start what became
    /// ready; with `--detach` once, else to the end.
    Resume(ResumeArgs),
    /// Cancel an unfinished run: its running builds are cancelled in Azure, its units not
    /// ended are recorded `cancelled`, and the units it held are free for a new run.
    Cancel(CancelArgs),
    /// Show a run (default: the latest) unit by unit.
    Status(StatusArgs),
    /// List past runs, newest first.
    History(HistoryArgs),
    /// Print the build log a unit left in a run (default: its latest run with a log).
    Logs(LogsArgs),
    /// Run the manifest's `[schedules]`: as a service, or once (`--once [--now T]`).
    Schedule(ScheduleArgs),
    /// Delete what aib left in Azure that nothing needs: its imageTemplates no running run
    /// uses, staging groups and deployment records of deleted templates, gallery versions
    /// beyond `retain`.
    Gc(GcArgs),
    /// Write a CI workflow that ticks: a short job on a cron starts the due schedules and
    /// advances every unfinished run (builds go on in Azure between ticks); a manual trigger
    /// starts a detached build. One shared `azblob://` state.
    #[command(subcommand)]
    Ci(CiCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(CompletionsArgs),
    /// Print aib's man page (roff) to stdout, or write one page per command into a folder.
    Man(ManArgs),
}

/// `aib completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `aib man [--out DIR]`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `aib.1` and one `aib-<command>.1` per command into this folder instead of
    /// printing `aib.1`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// CI systems `aib ci` writes workflows for.
#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// A GitHub Actions workflow (aib's own OIDC login; tick and manual jobs).
    Github(CiArgs),
    /// An Azure Pipelines pipeline (workload identity service connection; tick and manual
    /// jobs).
    AzurePipelines(CiArgs),
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// The manifest file (written into the workflow as given: use a path relative to the
    /// repository root).
    #[arg(default_value = "aib.toml")]
    pub manifest: PathBuf,
    /// Write the workflow to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How late a CI trigger may fire and still build a schedule that was due (CI schedulers
    /// delay and drop triggers; recorded runs keep a due time from building twice).
    #[arg(long, default_value = "2h", value_name = "DURATION")]
    pub within: String,
    /// Shell command that installs aib on the runner (default: this version of aib from
    /// crates.io, so CI builds with the aib that wrote the workflow).
    #[arg(
        long,
        default_value = concat!("cargo install aib --locked --version ", env!("CARGO_PKG_VERSION")),
        value_name = "COMMAND"
    )]
    pub install: String,
    /// Azure Pipelines: the Azure Resource Manager service connection to log in with.
    #[arg(long, default_value = "aib-azure", value_name = "NAME")]
    pub service_connection: String,
    /// Azure Pipelines: the branch scheduled runs build from.
    #[arg(long, default_value = "main", value_name = "BRANCH")]
    pub branch: String,
    /// How often the tick runs (it starts due schedules and advances unfinished runs): a
    /// divisor of an hour or whole hours; GitHub runs nothing more often than every 5 minutes,
    /// Azure Pipelines queues about 1,000 scheduled runs a week.
    #[arg(long, default_value = "15m", value_name = "DURATION", value_parser = parse_duration)]
    pub tick_every: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The manifest file.
    #[arg(default_value = "aib.toml")]
    pub manifest: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Most units building at once (default: `[pipeline] max_parallel`, else 20; environments'
    /// `max_parallel` also apply).
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<usize>,
    /// Stop starting new units after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Build even units whose inputs are unchanged.
    #[arg(long)]
    pub force: bool,
    /// Re-run only the failed, cancelled and skipped units of a run (default: the latest),
    /// with the source versions it resolved; builds still running in Azure are followed,
    /// finished ones verified.
    #[arg(long, value_name = "RUN_ID", num_args = 0..=1, default_missing_value = "latest")]
    pub retry_failed: Option<String>,
    /// Run against an in-process Azure simulator (no Azure account needed), with one
    /// scripted failure so the failure report can be seen.
    #[arg(long)]
    pub simulate: bool,
    /// Write the JSON report (schemas/aib-report.schema.json) to this file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report (one testcase per unit) to this file.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a Markdown summary (status table, failures, Mermaid gantt) to this file.
    #[arg(long, value_name = "FILE")]
    pub report_markdown: Option<PathBuf>,
    /// When another run holds the state lock, wait up to this long for it (e.g. `30m`),
    /// saying so, instead of exiting 4 at once. `0` (the default) does not wait.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Do what can be done now — preflight, deploy and start every unit that is ready — then
    /// save the run, print its id and exit 0 while its builds go on in Azure; `aib resume`
    /// advances it.
    #[arg(long)]
    pub detach: bool,
    /// The schedule that started this build (set by `aib schedule`; recorded as the trigger).
    #[arg(skip)]
    pub trigger: Option<String>,
    /// When that schedule fired (recorded with the trigger).
    #[arg(skip)]
    pub trigger_due: Option<chrono::DateTime<chrono::Utc>>,
}

/// `aib resume [RUN_ID|--all] [--detach]`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run to advance (default: the latest unfinished run).
    #[arg(conflicts_with = "all")]
    pub run_id: Option<String>,
    /// Advance every unfinished run, oldest first (the exit code is the worst of them).
    #[arg(long)]
    pub all: bool,
    /// Advance once and exit: 0 while the run goes on, its final code once it ended.
    #[arg(long)]
    pub detach: bool,
    /// The manifest (default: the path the run recorded; the default state is `.aib/` beside
    /// `aib.toml`).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Wait up to this long for the state lock (default 30s); a lock another resume still
    /// holds then means there is nothing to do (exit 0).
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Write the JSON report of the run so far (schemas/aib-report.schema.json) to this file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report of the run so far to this file.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a Markdown summary of the run so far to this file.
    #[arg(long, value_name = "FILE")]
    pub report_markdown: Option<PathBuf>,
}

/// `aib cancel RUN_ID`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run to cancel.
    pub run_id: String,
    /// The manifest (default: the path the run recorded; the default state is `.aib/` beside
    /// `aib.toml`).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Wait up to this long for the state lock (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// The manifest file.
    #[arg(default_value = "aib.toml")]
    pub manifest: PathBuf,
    /// Run the schedules due in the minute ending now (or at `--now`), then exit.
    #[arg(long)]
    pub once: bool,
    /// With `--once`: act as if the time were this (RFC 3339, e.g. 2026-11-29T03:00:00Z).
    #[arg(long, requires = "once", value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub now: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Build against the simulated Azure of `aib build --simulate` (its world and runs in
    /// `.aib/simulate` beside the manifest).
    #[arg(long)]
    pub simulate: bool,
    /// With `--once`: build every schedule with a due time in the last DURATION (e.g. `2h`)
    /// that no recorded run of that schedule covers, instead of only those due in the
    /// current minute. For CI triggers, which fire late, early or twice.
    #[arg(long, requires = "once", value_name = "DURATION", value_parser = parse_duration)]
    pub within: Option<std::time::Duration>,
    /// Only build these environments of the due schedules (repeatable; a CI shard).
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    /// With `--once`: start each due schedule's build detached (as `aib build --detach`) and
    /// exit; `aib resume --all` advances them.
    #[arg(long, requires = "once")]
    pub detach: bool,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, crate::duration::DurationError> {
    crate::duration::parse(s)
}

/// A duration that may be zero (`0`: do not wait).
fn parse_wait(s: &str) -> Result<std::time::Duration, crate::duration::DurationError> {
    if s.trim().trim_end_matches('s') == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    crate::duration::parse(s)
}

fn parse_rfc3339(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("not an RFC 3339 time ({e}); write e.g. 2026-11-29T03:00:00Z"))
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run (default: the latest).
    pub run_id: Option<String>,
    /// The manifest whose state is read (for the default `.aib/` beside it).
    #[arg(long, default_value = "aib.toml")]
    pub manifest: PathBuf,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// The manifest file.
    #[arg(default_value = "aib.toml")]
    pub manifest: PathBuf,
    /// Only what belongs to these units (without: everything of the pipeline, including units
    /// no longer in the manifest).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Show what would be deleted and why, without deleting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Collect in the simulated Azure `aib build --simulate` keeps (`.aib/simulate/azure`)
    /// instead of Azure.
    #[arg(long)]
    pub simulate: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GcFormat::Text)]
    pub format: GcFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GcFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The manifest whose state is read (for the default `.aib/` beside it).
    #[arg(long, default_value = "aib.toml")]
    pub manifest: PathBuf,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The unit whose collected log is shown, e.g. `dev/win11-avd`.
    #[arg(required_unless_present = "analyse", conflicts_with = "analyse")]
    pub unit: Option<String>,
    /// Analyse any customization.log (or validation.log), e.g. one downloaded from a build run
    /// by hand: where it failed, why, the step and Packer's error lines.
    #[arg(long, value_name = "FILE")]
    pub analyse: Option<PathBuf>,
    /// With `--analyse`: the manifest unit whose customizers name the steps.
    #[arg(long = "unit", value_name = "ID", requires = "analyse")]
    pub analyse_unit: Option<String>,
    /// With `--analyse`: text or JSON (schemas/aib-log-analysis.schema.json).
    #[arg(long, value_enum, default_value_t = GcFormat::Text, requires = "analyse")]
    pub format: GcFormat,
    /// The run (default: the latest run that has a log of this unit).
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// Which log (`customization.log` or `validation.log`).
    #[arg(long, default_value = "customization.log")]
    pub file: String,
    /// The manifest whose state is read (for the default `.aib/` beside it); with
    /// `--analyse --unit`, the manifest that declares the unit.
    #[arg(long, default_value = "aib.toml")]
    pub manifest: PathBuf,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8700", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Scenario file (TOML): timings, outcomes, faults, missing resources.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Write the certificate of the simulator's throwaway certificate authority (PEM) to FILE
    /// before it starts answering: with `AIB_CA_FILE=FILE`, aib trusts the simulator's
    /// `https://` side (same port), where its Entra and CI OIDC endpoints are.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Keep the simulated world in DIR: start from the one saved there (if any) and save it
    /// back when stopped (`aib build --simulate` keeps its own in `.aib/simulate/azure`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Selection of units (`SELECT` in DESIGN.md).
#[derive(Debug, Args, Default)]
pub struct SelectArgs {
    /// Only units of this environment (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    /// Only units of variants matching this glob (repeatable).
    #[arg(long = "variant", value_name = "GLOB")]
    pub variants: Vec<String>,
    /// Only this unit, e.g. `dev/ubuntu[release=2404]` (repeatable).
    #[arg(long = "unit", value_name = "ID")]
    pub units: Vec<String>,
}

impl SelectArgs {
    /// No `--env`, `--variant` or `--unit`: every unit.
    pub fn is_everything(&self) -> bool {
        self.envs.is_empty() && self.variants.is_empty() && self.units.is_empty()
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The manifest file.
    #[arg(default_value = "aib.toml")]
    pub manifest: PathBuf,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The manifest file.
    #[arg(default_value = "aib.toml")]
    pub manifest: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// With `--format github-matrix`: one matrix entry per environment, or per connected
    /// component of the plan graph (units that wait for each other stay together; at most 256
    /// entries, each with its own state prefix). `unit` is the old name of `component`.
    #[arg(long, value_enum, default_value_t = ShardBy::Environment)]
    pub shard_by: ShardBy,
    /// Override a setting for every selected unit, e.g. `--set vm_size=Standard_D8s_v5`
    /// or `--set tags.owner=me` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Also write each unit's ARM deployment to DIR: `<template_name>.json` and
    /// `<template_name>.parameters.json` (secret values left out), deployable with
    /// `az deployment group create -g RG -f X.json -p @X.parameters.json`.
    #[arg(long, value_name = "DIR")]
    pub render_dir: Option<PathBuf>,
    /// Resolve `latest` sources and compare with the state's last builds: `action` shows
    /// which units a build would leave unchanged (reads the state and Azure).
    #[arg(long)]
    pub refresh: bool,
    /// With `--refresh`: ask an in-process simulator instead of Azure (as `build --simulate`).
    #[arg(long, requires = "refresh")]
    pub simulate: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The template: a full ARM deployment, or a bare imageTemplate body.
    pub file: PathBuf,
    /// Directory to write `aib.toml` and `templates/` to.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,
    /// Keep deploymentScripts that start the image build on deploy (by default they are left
    /// out: aib runs the build itself).
    #[arg(long)]
    pub keep_deployment_scripts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
    Mermaid,
    /// `{"include": [...]}` for a GitHub Actions `strategy.matrix`.
    GithubMatrix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShardBy {
    Environment,
    Component,
    /// Deprecated: now the same as `component` (one unit per entry broke dependent units).
    #[value(hide = true)]
    Unit,
}
