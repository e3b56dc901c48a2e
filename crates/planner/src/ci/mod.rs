//! Beyond one machine: shards of a plan for CI systems (`aib plan --format github-matrix`) and
//! the generated CI workflows (`aib ci github`, `aib ci azure-pipelines`), which tick: a cron
//! job starts due schedules and advances every unfinished run once, on one shared state (see
//! [`tick`]). `--shard-by component` shards by connected component of the plan graph (see
//! [`components`]): shards that need no order at all.

pub mod components;
pub mod tick;
pub mod trigger;

use chrono::{DateTime, Utc};
use serde_json::json;

use aib_manifest::model::ManifestFile;

use crate::Plan;
pub use tick::{TickError, azure_tick_pipeline, github_tick_workflow};
pub use trigger::{TriggerError, UtcTrigger, utc_triggers};

/// How `aib plan --format github-matrix` splits the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardBy {
    /// One entry per environment (`--env E`), with the environments it must wait for.
    #[default]
    Environment,
    /// One entry per connected component of the plan graph (`--unit ID...`), at most 256,
    /// each with its own state prefix `shards/<key>`.
    Component,
}

/// GitHub's limit on a job's outputs (the matrix is one), in bytes.
pub const MAX_JOB_OUTPUT: usize = 1024 * 1024;

/// `aib plan --format github-matrix`: the JSON and what the user should know about it.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub json: String,
    pub warnings: Vec<String>,
}

/// One environment shard of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// The environment.
    pub environment: String,
    /// Shards (environments of the plan) this one runs after.
    pub needs: Vec<String>,
    /// Units of the plan in this environment.
    pub units: usize,
}

/// The plan's environments in plan order, each with the planned environments it runs after.
pub fn environment_shards(file: &ManifestFile, plan: &Plan) -> Vec<Shard> {
    let planned = plan.environments();
    planned
        .iter()
        .map(|env| {
            let needs = file
                .environments
                .iter()
                .find(|(name, _)| name.as_str() == env)
                .map(|(_, e)| {
                    e.after
                        .iter()
                        .map(|a| a.as_str().to_string())
                        .filter(|a| planned.contains(a))
                        .collect()
                })
                .unwrap_or_default();
            Shard {
                environment: env.clone(),
                needs,
                units: plan
                    .units()
                    .iter()
                    .filter(|u| &u.environment == env)
                    .count(),
            }
        })
        .collect()
}

/// `aib plan --format github-matrix`: `{ "include": [ ... ] }` for a GitHub Actions
/// `strategy.matrix` (`matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`). Each entry has
/// `select`, the aib arguments that pick its units, already quoted for a POSIX shell.
///
/// By environment: `environment`, `needs` (environments it runs after), `units` (count).
/// By component: `shard` (key), `state_prefix` (`shards/<key>`, to append to the shared
/// state), `units` (count), `components`, `environments`, `first_unit`. No template names: a
/// unit's template name depends on source versions resolved only when it builds.
pub fn github_matrix(file: &ManifestFile, plan: &Plan, by: ShardBy) -> Matrix {
    let mut warnings = Vec::new();
    let include: Vec<serde_json::Value> = match by {
        ShardBy::Environment => environment_shards(file, plan)
            .into_iter()
            .map(|s| {
                json!({
                    "environment": s.environment,
                    "needs": s.needs,
                    "units": s.units,
                    "select": format!("--env {}", shell_quote(&s.environment)),
                })
            })
            .collect(),
        ShardBy::Component => {
            let shards = components::component_shards(plan);
            let comps: usize = shards.iter().map(|s| s.components).sum();
            if comps > components::MAX_MATRIX {
                warnings.push(format!(
                    "the plan has {comps} connected components, more than the {} jobs GitHub runs in one matrix: they are packed into {} shards of about as many units each (bin-000..); a component may move to another shard as the plan changes (its last builds are found wherever they were recorded)",
                    components::MAX_MATRIX,
                    shards.len()
                ));
            }
            shards.iter().map(component_entry).collect()
        }
    };
    let mut json = serde_json::to_string(&json!({ "include": include }))
        .unwrap_or_else(|_| "{\"include\":[]}".to_string());
    json.push('\n');
    if json.len() > MAX_JOB_OUTPUT {
        warnings.push(format!(
            "the matrix is {} bytes, over the {MAX_JOB_OUTPUT} bytes GitHub allows a job's outputs: pass it to the build jobs as a file (an artifact) instead of a job output",
            json.len()
        ));
    }
    Matrix { json, warnings }
}

fn component_entry(s: &components::ComponentShard) -> serde_json::Value {
    let select: Vec<String> = s
        .units
        .iter()
        .map(|u| format!("--unit {}", shell_quote(u)))
        .collect();
    json!({
        "shard": s.key,
        "state_prefix": s.state_prefix(),
        "units": s.units.len(),
        "components": s.components,
        "environments": s.environments,
        "first_unit": s.units.first(),
        "select": select.join(" "),
    })
}

/// What a generated workflow needs beyond the manifest and the plan.
#[derive(Debug, Clone)]
pub struct WorkflowOptions {
    /// The manifest path as the workflow sees it (relative to the repository root).
    pub manifest_path: String,
    /// The shared state location (`azblob://...`), or `None` to read it from a CI variable.
    pub state: Option<String>,
    /// Shell command that installs aib on the runner.
    pub install: String,
    /// `aib schedule --within` window: how late a trigger may fire and still build.
    pub within: String,
    /// Azure DevOps service connection (workload identity federation) name.
    pub service_connection: String,
    /// Branch scheduled runs build from (Azure Pipelines).
    pub branch: String,
    /// The time the trigger crons are computed from (daylight-saving offsets of the next year).
    pub now: DateTime<Utc>,
}

/// Everything generated for one workflow: the file text and notes for the user.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub text: String,
    pub warnings: Vec<String>,
}

/// Quotes a word for a POSIX shell when it needs it (`dev/ubuntu[release=2404]` has a glob).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | '@' | '%' | '+' | ',')
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_globs() {
        assert_eq!(shell_quote("dev"), "dev");
        assert_eq!(
            shell_quote("dev/ubuntu[release=2404]"),
            "'dev/ubuntu[release=2404]'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
