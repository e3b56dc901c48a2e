//! CI that ticks (`aib ci github|azure-pipelines`): instead of one job holding a runner for the
//! whole batch, a short job on a cron starts the schedules that are due and advances every
//! unfinished run (`aib schedule --once --detach`, `aib resume --all --detach`); a manual
//! trigger starts a detached build of a selection. One shared `azblob://` state for the whole
//! pipeline, so promotion is per unit (aib's own scheduler orders environments). Ticks never
//! overlap (GitHub: a concurrency group for ticks and another for manual runs; Azure
//! Pipelines: `lockBehavior: sequential`, and aib's state lock in both).
//!
//! The workflows are typed values written with `yaml-rust2`: no user value is spliced into
//! YAML text.

use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use aib_manifest::SecretRef;

use super::{Workflow, WorkflowOptions};
use crate::Plan;

/// GitHub runs nothing scheduled more often than every 5 minutes.
pub const GITHUB_MIN_TICK_MINUTES: u32 = 5;
/// Azure Pipelines queues at most about 1,000 scheduled runs a week.
pub const AZURE_MAX_RUNS_PER_WEEK: u32 = 1000;
/// The default tick interval.
pub const DEFAULT_TICK_MINUTES: u32 = 15;
/// A tick job's time limit: a tick starts what is ready and exits, a few minutes at most.
pub const TICK_TIMEOUT_MINUTES: u32 = 10;

/// Why a tick interval cannot be written as a cron.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--tick-every {minutes}m: {why}")]
pub struct TickError {
    pub minutes: u32,
    pub why: String,
}

/// The cron line of a tick every `minutes` (a divisor of an hour, or whole hours dividing a
/// day), refusing what the CI would not run.
pub fn tick_cron(minutes: u32, github: bool) -> Result<String, TickError> {
    let err = |why: String| TickError { minutes, why };
    if github && minutes < GITHUB_MIN_TICK_MINUTES {
        return Err(err(format!(
            "GitHub runs scheduled workflows at most every {GITHUB_MIN_TICK_MINUTES} minutes"
        )));
    }
    if minutes == 0 {
        return Err(err("a tick needs an interval".into()));
    }
    let per_week = 7 * 24 * 60 / minutes;
    if !github && per_week > AZURE_MAX_RUNS_PER_WEEK {
        return Err(err(format!(
            "{per_week} scheduled runs a week; Azure Pipelines queues at most about {AZURE_MAX_RUNS_PER_WEEK} (every 11 minutes or less often)"
        )));
    }
    if minutes < 60 && 60 % minutes == 0 {
        return Ok(format!("*/{minutes} * * * *"));
    }
    if minutes.is_multiple_of(60) && 24 % (minutes / 60) == 0 {
        return Ok(format!("0 */{} * * *", minutes / 60));
    }
    Err(err(
        "must divide an hour (5, 10, 15, 20, 30 minutes) or be whole hours dividing a day".into(),
    ))
}

/// Environment variables the manifest's `env:` secrets read, sorted.
pub fn env_secrets(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .units()
        .iter()
        .flat_map(|u| u.settings.secrets.values())
        .filter_map(|r| match r.reference() {
            Ok(SecretRef::Env(v)) => Some(v.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An ordered YAML mapping.
#[derive(Debug, Default, Clone)]
struct Map(Hash);

impl Map {
    fn new() -> Self {
        Self::default()
    }

    fn set(mut self, key: &str, value: impl Into<Node>) -> Self {
        self.0.insert(Yaml::String(key.to_string()), value.into().0);
        self
    }

    fn set_opt(self, key: &str, value: Option<impl Into<Node>>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }
}

/// Any YAML value.
struct Node(Yaml);

impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Node(Yaml::String(s.to_string()))
    }
}
impl From<String> for Node {
    fn from(s: String) -> Self {
        Node(Yaml::String(s))
    }
}
impl From<bool> for Node {
    fn from(b: bool) -> Self {
        Node(Yaml::Boolean(b))
    }
}
impl From<u32> for Node {
    fn from(n: u32) -> Self {
        Node(Yaml::Integer(i64::from(n)))
    }
}
impl From<Map> for Node {
    fn from(m: Map) -> Self {
        Node(Yaml::Hash(m.0))
    }
}
impl<T: Into<Node>> From<Vec<T>> for Node {
    fn from(v: Vec<T>) -> Self {
        Node(Yaml::Array(v.into_iter().map(|x| x.into().0).collect()))
    }
}

/// One step of a GitHub job.
#[derive(Debug, Default, Clone)]
struct GhStep {
    name: String,
    id: Option<String>,
    if_: Option<String>,
    uses: Option<String>,
    with: Vec<(String, String)>,
    env: Vec<(String, String)>,
    run: Option<String>,
}

impl From<GhStep> for Node {
    fn from(s: GhStep) -> Self {
        let with = (!s.with.is_empty()).then(|| {
            s.with
                .iter()
                .fold(Map::new(), |m, (k, v)| m.set(k, v.as_str()))
        });
        let env = (!s.env.is_empty()).then(|| {
            s.env
                .iter()
                .fold(Map::new(), |m, (k, v)| m.set(k, v.as_str()))
        });
        Map::new()
            .set("name", s.name)
            .set_opt("id", s.id)
            .set_opt("if", s.if_)
            .set_opt("uses", s.uses)
            .set_opt("with", with)
            .set_opt("env", env)
            .set_opt("run", s.run)
            .into()
    }
}

/// One GitHub job.
#[derive(Debug, Clone)]
struct GhJob {
    name: String,
    if_: String,
    concurrency_group: String,
    steps: Vec<GhStep>,
}

impl From<GhJob> for Node {
    fn from(j: GhJob) -> Self {
        Map::new()
            .set("name", j.name)
            .set("if", j.if_)
            .set("runs-on", "ubuntu-latest")
            .set("timeout-minutes", TICK_TIMEOUT_MINUTES)
            .set(
                "concurrency",
                Map::new()
                    .set("group", j.concurrency_group)
                    .set("cancel-in-progress", false),
            )
            .set("steps", j.steps)
            .into()
    }
}

/// What both workflows say about the tick.
struct Tick<'a> {
    opts: &'a WorkflowOptions,
    cron: String,
    secrets: Vec<String>,
    pipeline: String,
}

impl Tick<'_> {
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// `aib schedule --once --within W --detach`: the schedules due since the last tick.
    fn schedule_cmd(&self) -> String {
        format!(
            "aib schedule \"$AIB_MANIFEST\" --once --within {} --detach --state \"$AIB_STATE\"",
            self.opts.within
        )
    }

    /// `aib resume --all --detach`: every unfinished run advanced once.
    fn resume_cmd(&self, summary: &str) -> String {
        format!(
            "aib resume --all --detach --manifest \"$AIB_MANIFEST\" --state \"$AIB_STATE\" --report-markdown \"{summary}\""
        )
    }

    /// `aib build --detach` of the manual trigger's selection (`$AIB_SELECT`, word-split with
    /// globbing off) and `force`.
    fn manual_cmd(&self, force: &str, summary: &str) -> String {
        format!(
            "set -f\naib build \"$AIB_MANIFEST\" --state \"$AIB_STATE\" --detach $AIB_SELECT {force} --report-markdown \"{summary}\""
        )
    }

    fn header(&self, tool: &str) -> String {
        let mut h = format!(
            "# Generated by `aib ci {tool}` from {} (aib {}).\n\
             # Change the manifest and run `aib ci {tool}` again instead of editing this file.\n\
             #\n\
             # A tick every {} (`{}` UTC) starts the schedules that are due and advances every\n\
             # unfinished run, then exits: builds go on in Azure between ticks. A manual run\n\
             # starts a detached build of a selection. Every job shares one state, so promotion is\n\
             # per unit: a failed unit holds back only the units built or promoted from it.\n",
            self.opts.manifest_path.replace(['\n', '\r'], " "),
            self.version(),
            humanize_minutes(&self.cron),
            self.cron,
        );
        if self.opts.state.is_none() {
            h.push_str(
                "# State: set the variable AIB_STATE to azblob://ACCOUNT/CONTAINER[/PREFIX].\n",
            );
        }
        h
    }
}

fn humanize_minutes(cron: &str) -> String {
    match cron.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["0", h, ..] => format!("{} hour(s)", h.trim_start_matches("*/")),
        [m, ..] => format!("{} minutes", m.trim_start_matches("*/")),
        _ => cron.to_string(),
    }
}

fn emit(header: &str, doc: Map) -> String {
    let mut out = String::new();
    let y = Yaml::Hash(doc.0);
    let mut e = YamlEmitter::new(&mut out);
    e.multiline_strings(true);
    // Writing into a String cannot fail.
    let _ = e.dump(&y);
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    format!("{header}{body}\n")
}

/// The GitHub Actions workflow (`.github/workflows/aib.yml`).
pub fn github_tick_workflow(
    plan: &Plan,
    opts: &WorkflowOptions,
    tick_minutes: u32,
) -> Result<Workflow, TickError> {
    let tick = Tick {
        opts,
        cron: tick_cron(tick_minutes, true)?,
        secrets: env_secrets(plan),
        pipeline: plan.pipeline().to_string(),
    };
    let doc = Map::new()
        .set("name", format!("aib {}", tick.pipeline))
        .set("on", gh_triggers(&tick))
        .set(
            "permissions",
            Map::new().set("id-token", "write").set("contents", "read"),
        )
        .set("env", gh_env(&tick))
        .set("jobs", gh_jobs(&tick));
    Ok(Workflow {
        text: emit(&gh_header(&tick), doc),
        warnings: vec![
            "GitHub disables the schedules of a public repository after 60 days without activity: the ticks then stop until the workflow is enabled again".to_string(),
        ],
    })
}

/// The workflow's `env`: the OIDC login, the manifest, the state and the `env:` secrets.
fn gh_env(tick: &Tick<'_>) -> Map {
    let state = tick
        .opts
        .state
        .clone()
        .unwrap_or_else(|| "${{ vars.AIB_STATE }}".to_string());
    let mut env = Map::new()
        .set("AIB_CREDENTIAL", "github-actions")
        .set("AZURE_CLIENT_ID", "${{ vars.AZURE_CLIENT_ID }}")
        .set("AZURE_TENANT_ID", "${{ vars.AZURE_TENANT_ID }}")
        .set("AIB_MANIFEST", tick.opts.manifest_path.as_str())
        .set("AIB_STATE", state);
    for s in &tick.secrets {
        env = env.set(s, format!("${{{{ secrets.{s} }}}}"));
    }
    env
}

/// Check out, then aib from the cache or installed once.
fn gh_install_steps(tick: &Tick<'_>) -> Vec<GhStep> {
    vec![
        GhStep {
            name: "Check out".into(),
            uses: Some("actions/checkout@v5".into()),
            ..GhStep::default()
        },
        GhStep {
            name: "Cache aib".into(),
            id: Some("aib-cache".into()),
            uses: Some("actions/cache@v5".into()),
            with: vec![
                ("path".into(), "~/.cargo/bin/aib".into()),
                (
                    "key".into(),
                    format!("aib-${{{{ runner.os }}}}-{}", tick.version()),
                ),
            ],
            ..GhStep::default()
        },
        GhStep {
            name: "Install aib".into(),
            if_: Some("steps.aib-cache.outputs.cache-hit != 'true'".into()),
            run: Some(tick.opts.install.clone()),
            ..GhStep::default()
        },
    ]
}

/// The tick job (schedules, then every unfinished run) and the manual job (a detached build),
/// each in its own concurrency group so a queued tick never drops a manual run.
fn gh_jobs(tick: &Tick<'_>) -> Map {
    let mut tick_steps = gh_install_steps(tick);
    tick_steps.push(GhStep {
        name: "Start the schedules that are due".into(),
        run: Some(tick.schedule_cmd()),
        ..GhStep::default()
    });
    tick_steps.push(GhStep {
        name: "Advance every unfinished run".into(),
        run: Some(tick.resume_cmd("$GITHUB_STEP_SUMMARY")),
        ..GhStep::default()
    });
    let mut manual_steps = gh_install_steps(tick);
    manual_steps.push(GhStep {
        name: "Start a detached build".into(),
        env: vec![("AIB_SELECT".into(), "${{ inputs.select }}".into())],
        run: Some(tick.manual_cmd(
            "${{ inputs.force && '--force' || '' }}",
            "$GITHUB_STEP_SUMMARY",
        )),
        ..GhStep::default()
    });
    let job = |name: &str, event: &str, group: &str, steps| GhJob {
        name: name.into(),
        if_: format!("github.event_name == '{event}'"),
        concurrency_group: format!("aib-{}-{group}", tick.pipeline),
        steps,
    };
    Map::new()
        .set("tick", job("tick", "schedule", "tick", tick_steps))
        .set(
            "manual",
            job("start a build", "workflow_dispatch", "manual", manual_steps),
        )
}

/// `on`: the tick's cron, and a manual trigger with the selection and `force` as inputs.
fn gh_triggers(tick: &Tick<'_>) -> Map {
    let input = |description: &str, kind: &str| {
        Map::new()
            .set("description", description)
            .set("type", kind)
            .set("required", false)
    };
    let inputs = Map::new()
        .set(
            "select",
            input(
                "aib selection, e.g. `--env dev --variant 'ubuntu*'` (empty: everything)",
                "string",
            )
            .set("default", ""),
        )
        .set(
            "force",
            input("Rebuild units whose inputs are unchanged", "boolean").set("default", false),
        );
    Map::new()
        .set("schedule", vec![Map::new().set("cron", tick.cron.as_str())])
        .set("workflow_dispatch", Map::new().set("inputs", inputs))
}

fn gh_header(tick: &Tick<'_>) -> String {
    let mut header = tick.header("github");
    header.push_str(
        "#\n# Azure login: OpenID Connect, done by aib itself (AIB_CREDENTIAL=github-actions): it asks\n\
         # GitHub for a fresh ID token whenever it needs an Azure token. Set the repository\n\
         # variables AZURE_CLIENT_ID and AZURE_TENANT_ID and give that identity a federated\n\
         # credential for this repository (audience api://AzureADTokenExchange).\n",
    );
    if !tick.secrets.is_empty() {
        header.push_str(&format!(
            "# Secrets the manifest reads from the environment (repository secrets): {}.\n",
            tick.secrets.join(", ")
        ));
    }
    header
}

/// The Azure Pipelines definition (`azure-pipelines.yml`).
pub fn azure_tick_pipeline(
    plan: &Plan,
    opts: &WorkflowOptions,
    tick_minutes: u32,
) -> Result<Workflow, TickError> {
    let tick = Tick {
        opts,
        cron: tick_cron(tick_minutes, false)?,
        secrets: env_secrets(plan),
        pipeline: plan.pipeline().to_string(),
    };
    let mut vars = Map::new()
        .set("AIB_CREDENTIAL", "azure-pipelines")
        .set("AIB_MANIFEST", opts.manifest_path.as_str());
    if let Some(state) = &opts.state {
        vars = vars.set("AIB_STATE", state.as_str());
    }
    let doc = Map::new()
        .set(
            "name",
            format!("aib {} $(Date:yyyyMMdd)$(Rev:.r)", tick.pipeline),
        )
        .set("trigger", "none")
        .set("pr", "none")
        .set("schedules", az_schedules(&tick))
        .set("lockBehavior", "sequential")
        .set("parameters", az_parameters())
        .set("variables", vars)
        .set("jobs", az_jobs(&tick));
    Ok(Workflow {
        text: emit(&az_header(&tick), doc),
        warnings: Vec::new(),
    })
}

/// Where `Install aib` puts the binary (cached between runs).
const AZ_BIN: &str = "$(Pipeline.Workspace)/aib-bin";

/// The tick's schedule: on the branch, whether or not the code changed.
fn az_schedules(tick: &Tick<'_>) -> Vec<Map> {
    vec![
        Map::new()
            .set("cron", tick.cron.as_str())
            .set("displayName", "aib tick")
            .set(
                "branches",
                Map::new().set("include", vec![tick.opts.branch.as_str()]),
            )
            .set("always", true),
    ]
}

/// The manual run's parameters: the selection and `force`.
fn az_parameters() -> Vec<Map> {
    vec![
        Map::new()
            .set("name", "select")
            .set(
                "displayName",
                "aib selection, e.g. --env dev (a space: everything)",
            )
            .set("type", "string")
            .set("default", " "),
        Map::new()
            .set("name", "force")
            .set("displayName", "Rebuild units whose inputs are unchanged")
            .set("type", "boolean")
            .set("default", false),
    ]
}

/// The tick job (a scheduled run) and the manual job (any other run).
fn az_jobs(tick: &Tick<'_>) -> Vec<Map> {
    let summary = "$(Agent.TempDirectory)/aib-summary.md";
    let tick_script = format!(
        "{}\n{}\necho \"##vso[task.uploadsummary]{summary}\"",
        tick.schedule_cmd(),
        tick.resume_cmd(summary)
    );
    let manual_script = format!(
        "force=\"\"; [ \"${{{{ parameters.force }}}}\" = \"True\" ] && force=--force\nexport AIB_SELECT=\"${{{{ parameters.select }}}}\"\n{}\necho \"##vso[task.uploadsummary]{summary}\"",
        tick.manual_cmd("$force", summary)
    );
    let job = |id: &str, condition: &str, script: String, name: &str| {
        Map::new()
            .set("job", id)
            .set("condition", condition)
            .set("timeoutInMinutes", TICK_TIMEOUT_MINUTES)
            .set("pool", Map::new().set("vmImage", "ubuntu-latest"))
            .set("steps", az_steps(tick, script, name))
    };
    vec![
        job(
            "tick",
            "eq(variables['Build.Reason'], 'Schedule')",
            tick_script,
            "aib tick",
        ),
        job(
            "manual",
            "ne(variables['Build.Reason'], 'Schedule')",
            manual_script,
            "aib build --detach",
        ),
    ]
}

/// Check out, aib from the cache or installed once, then `script` logged in through the
/// service connection, with the `env:` secrets exported.
fn az_steps(tick: &Tick<'_>, script: String, name: &str) -> Vec<Map> {
    let mut env = Map::new().set("SYSTEM_ACCESSTOKEN", "$(System.AccessToken)");
    for s in &tick.secrets {
        env = env.set(s, format!("$({s})"));
    }
    let login = Map::new()
        .set("azureSubscription", tick.opts.service_connection.as_str())
        .set("scriptType", "bash")
        .set("scriptLocation", "inlineScript")
        .set(
            "inlineScript",
            format!("set -eu\nexport PATH=\"{AZ_BIN}/bin:$PATH\"\n{script}\n"),
        );
    vec![
        Map::new().set("checkout", "self"),
        Map::new()
            .set("task", "Cache@2")
            .set("displayName", "Cache aib")
            .set(
                "inputs",
                Map::new()
                    .set("key", format!("aib | \"$(Agent.OS)\" | {}", tick.version()))
                    .set("path", AZ_BIN)
                    .set("cacheHitVar", "AIB_CACHED"),
            ),
        Map::new()
            .set("script", tick.opts.install.as_str())
            .set("displayName", "Install aib")
            .set("env", Map::new().set("CARGO_INSTALL_ROOT", AZ_BIN))
            .set("condition", "ne(variables.AIB_CACHED, 'true')"),
        Map::new()
            .set("task", "AzureCLI@2")
            .set("displayName", name)
            .set("inputs", login)
            .set("env", env),
    ]
}

fn az_header(tick: &Tick<'_>) -> String {
    let mut header = tick.header("azure-pipelines");
    header.push_str(&format!(
        "#\n# Azure login: the Azure Resource Manager service connection `{}` (workload identity\n\
         # federation), used by aib through AzurePipelinesCredential, which asks for a fresh OIDC\n\
         # token whenever it needs one.\n",
        tick.opts.service_connection.replace(['\n', '\r'], " ")
    ));
    if !tick.secrets.is_empty() {
        header.push_str(&format!(
            "# Secrets the manifest reads from the environment (secret pipeline variables): {}.\n",
            tick.secrets.join(", ")
        ));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_crons_respect_what_each_ci_runs() {
        assert_eq!(tick_cron(15, true).as_deref(), Ok("*/15 * * * *"));
        assert_eq!(tick_cron(120, true).as_deref(), Ok("0 */2 * * *"));
        assert!(tick_cron(2, true).is_err(), "GitHub's 5-minute floor");
        assert!(tick_cron(5, false).is_err(), "over 1,000 runs a week");
        assert_eq!(tick_cron(15, false).as_deref(), Ok("*/15 * * * *"));
        assert!(tick_cron(7, true).is_err(), "does not divide an hour");
        assert!(tick_cron(0, true).is_err());
    }
}
