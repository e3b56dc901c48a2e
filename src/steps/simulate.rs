//! `--simulate`: an in-process Azure simulator whose world (templates, gallery versions,
//! deployments, staging groups and their logs, published platform images, its clock) is kept
//! in `azure/` of the simulated state (`.aib/simulate/azure` beside the manifest), so a second
//! run sees what the first built. `build`, `schedule` and `gc` hold and save it; `plan
//! --refresh` only reads it. Each manifest has one scripted failure: a unit fails once, at one
//! customizer, so the failure report and the skipped dependents can be seen, and the next run
//! rebuilds just those.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aib_planner::{Plan, ResolvedStep, Unit};
use aib_sim::scenario::{OutcomeResult, OutcomeRule};
use aib_state::StateLocation;

use crate::exit::Exit;

/// Real milliseconds per Azure minute of `--simulate`.
pub const SIMULATE_MINUTE_MS: u64 = 20;

/// The folder of the simulated world for a simulated state: `azure/` in it (or beside the
/// manifest, `.aib/simulate/azure`, for a state that is not a folder).
pub fn world_dir(state: &StateLocation, manifest_dir: &Path) -> PathBuf {
    match state {
        StateLocation::Local(p) => p.join("azure"),
        StateLocation::Blob(_) => manifest_dir.join(".aib").join("simulate").join("azure"),
    }
}

/// What a simulator is started for.
pub enum Use<'a> {
    /// Held and saved back when stopped (`build`, `gc`); with the manifest's plan and its
    /// path as the user wrote it, a build also scripts its failure.
    Keep {
        world: PathBuf,
        scripted: Option<Script<'a>>,
    },
    /// Started from the saved world and never saved (`plan --refresh`).
    Read { world: PathBuf },
}

/// What a build's scripted failure is chosen from and said with.
pub struct Script<'a> {
    /// The manifest's whole plan (the same unit fails whatever is selected).
    pub whole: &'a Plan,
    /// The plan of this run.
    pub selected: &'a Plan,
    /// The manifest as the user wrote it (for the hint to run again).
    pub manifest: &'a Path,
}

/// A running simulator and the world folder it holds.
pub struct Simulator {
    pub handle: aib_sim::SimHandle,
    world: Option<Arc<aib_sim::WorldDir>>,
}

/// Saves a simulator's world from a signal handler (before a second Ctrl-C exits at once).
#[derive(Clone)]
pub struct Saver {
    saver: aib_sim::WorldSaver,
    world: Arc<aib_sim::WorldDir>,
}

impl Saver {
    /// Saves, giving up after a few seconds (the process is exiting).
    pub async fn save(&self) {
        let saved = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            self.saver.save(&self.world),
        )
        .await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("error: the simulated Azure could not be saved: {e}"),
            Err(_) => eprintln!("error: the simulated Azure could not be saved in 5 s"),
        }
    }
}

impl Simulator {
    /// What saves the world it holds from elsewhere, if it holds one.
    pub fn saver(&self) -> Option<Saver> {
        self.world.as_ref().map(|w| Saver {
            saver: self.handle.saver(),
            world: w.clone(),
        })
    }

    /// Saves the world (when held) and stops serving; a world that cannot be saved is said.
    pub async fn stop(self) {
        if let Some(dir) = &self.world
            && let Err(e) = self.handle.save(dir).await
        {
            eprintln!(
                "error: the simulated Azure could not be saved, so the next run starts from its previous state: {e}"
            );
        }
        self.handle.shutdown().await;
    }
}

/// The unit `--simulate` fails, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    pub unit: String,
    pub step: String,
    /// Its dependents and theirs, in plan order: skipped when it fails.
    pub skipped: Vec<String>,
    pub rule: OutcomeRule,
}

/// The scripted failure of a manifest's whole plan: a unit that waits for another (so something
/// builds first) and that others wait for (so they are skipped), the one whose failure skips
/// the most; failing at its Windows Update step if it has one, else its last script. Without
/// such a unit: one others wait for, else the last with customizers.
pub fn scripted_failure(plan: &Plan) -> Option<Scripted> {
    let steps: Vec<&Unit> = plan
        .units()
        .iter()
        .filter(|u| !u.settings.customize.is_empty())
        .collect();
    let waiting: Vec<&Unit> = steps
        .iter()
        .copied()
        .filter(|u| !u.depends_on.is_empty())
        .collect();
    let unit = most_skipping(plan, waiting)
        .or_else(|| most_skipping(plan, steps.clone()))
        .or_else(|| steps.last().copied())?;
    let c = &unit.settings.customize;
    let step = c
        .iter()
        .find(|s| matches!(s.step, ResolvedStep::WindowsUpdate { .. }))
        .or_else(|| c.iter().rev().find(|s| s.script().is_some()))
        .or_else(|| c.last())?;
    let tags = [
        ("aib.pipeline".to_string(), plan.pipeline().to_string()),
        ("aib.unit".to_string(), unit.id.to_string()),
    ];
    Some(Scripted {
        unit: unit.id.to_string(),
        step: step.name.clone(),
        skipped: downstream(plan, unit),
        rule: OutcomeRule {
            tags: tags.into_iter().collect(),
            result: OutcomeResult::Fail,
            failed_customizer: Some(step.name.clone()),
            times: Some(1),
            ..OutcomeRule::default()
        },
    })
}

/// The unit of `pool` whose failure skips the most (the first in plan order of those), if
/// any skips one.
fn most_skipping<'a>(plan: &Plan, pool: Vec<&'a Unit>) -> Option<&'a Unit> {
    pool.into_iter()
        .map(|u| (downstream(plan, u).len(), u))
        .filter(|(n, _)| *n > 0)
        .rev()
        .max_by_key(|(n, _)| *n)
        .map(|(_, u)| u)
}

/// Every unit that waits for `u`, directly or not, in plan order.
fn downstream(plan: &Plan, u: &Unit) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![&u.id];
    while let Some(id) = todo.pop() {
        for d in plan.dependents(id) {
            if seen.insert(d.id.to_string()) {
                todo.push(&d.id);
            }
        }
    }
    plan.units()
        .iter()
        .map(|u| u.id.to_string())
        .filter(|id| seen.contains(id))
        .collect()
}

/// Starts the simulator for `usage`; with the note to show (the scripted failure, the world).
pub async fn start(usage: Use<'_>) -> Result<(Simulator, Option<String>), Exit> {
    let mut scenario = aib_sim::Scenario {
        minute_ms: SIMULATE_MINUTE_MS,
        ..aib_sim::Scenario::default()
    };
    let (path, held, scripted) = match usage {
        Use::Keep { world, scripted } => {
            let dir = aib_sim::WorldDir::open(&world).await.map_err(world_error)?;
            (world, Some(dir), scripted)
        }
        Use::Read { world } => (world, None, None),
    };
    let saved = match &held {
        Some(dir) => dir.load().await,
        None => aib_sim::persist::read(&path).await,
    }
    .map_err(world_error)?;
    let resumed = saved.is_some();
    let script = scripted.and_then(|s| Some((scripted_failure(s.whole)?, s)));
    if let Some((s, _)) = &script {
        scenario.outcome.push(s.rule.clone());
    }
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let handle = aib_sim::start_from(listen, scenario, saved)
        .await
        .map_err(|e| {
            eprintln!("error: cannot start the simulator: {e}");
            Exit::Azure
        })?;
    let note = script.map(|(s, script)| {
        let when = if handle.outcome_runs(&s.rule) > 0 {
            When::Spent
        } else if script
            .selected
            .units()
            .iter()
            .any(|u| u.id.as_str() == s.unit)
        {
            When::Now
        } else {
            When::Later
        };
        note(&s, when, resumed, &path, script.manifest)
    });
    Ok((
        Simulator {
            handle,
            world: held.map(Arc::new),
        },
        note,
    ))
}

/// Why aib could not connect to the simulator it started.
#[derive(Debug, thiserror::Error)]
pub enum SimConnectError {
    #[error("{0}")]
    Client(#[from] aib_azure::Error),
    #[error("simulator token: {0}")]
    Token(#[from] reqwest::Error),
    #[error("simulator token: no access_token")]
    NoToken,
}

/// A managed-identity token from the simulator's token endpoint.
pub async fn credential(arm_base: &str) -> Result<aib_azure::Credential, SimConnectError> {
    let transport = aib_azure::transport::Transport::new(&Default::default())?;
    let url = format!(
        "{arm_base}/msi/token?api-version=2019-08-01&resource={}",
        "https://management.azure.com/"
    );
    let resp = transport
        .client()
        .get(&url)
        .header("X-IDENTITY-HEADER", "aib-simulate")
        .send()
        .await?;
    let body: serde_json::Value = resp.json().await?;
    let token = body
        .get("access_token")
        .and_then(|v| v.as_str())
        .ok_or(SimConnectError::NoToken)?;
    let expires = body
        .get("expires_on")
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .or_else(|| v.as_i64())
        })
        .unwrap_or(0);
    Ok(aib_azure::Credential::from_static_token(token, expires))
}

fn world_error(e: aib_sim::WorldError) -> Exit {
    eprintln!("error: {e}");
    match e {
        aib_sim::WorldError::InUse { .. } => Exit::Locked,
        _ => Exit::Azure,
    }
}

/// Where a scripted failure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// It happens in this run.
    Now,
    /// Its unit is not selected: it happens when that unit builds.
    Later,
    /// It happened in an earlier run.
    Spent,
}

/// What `--simulate` says before a build, one line per `note:`.
fn note(s: &Scripted, when: When, resumed: bool, world: &Path, manifest: &Path) -> String {
    let world = world.display();
    let azure = format!(
        "simulated: Azure is a local simulator (1 Azure minute = {SIMULATE_MINUTE_MS} ms) kept in {world}{}",
        if resumed {
            ", with what earlier runs built"
        } else {
            ""
        }
    );
    if when == When::Later {
        return format!(
            "{azure}\nsimulated: unit {} is scripted to fail once, at customizer `{}`, the first time it builds (it is not selected now)",
            s.unit, s.step
        );
    }
    if when == When::Spent {
        return format!(
            "{azure}\nsimulated: the scripted failure of unit {} happened in an earlier run (delete {world} to start afresh)",
            s.unit
        );
    }
    let again = format!(
        "aib build {} --simulate",
        crate::text::shell_word(&manifest.display().to_string())
    );
    let (skipped, rebuilt) = match s.skipped.as_slice() {
        [] => (String::new(), "it".to_string()),
        [one] => (
            format!(", and its dependent {one} to be skipped"),
            "those 2".to_string(),
        ),
        many => (
            format!(", and its dependents {} to be skipped", many.join(", ")),
            format!("those {}", many.len() + 1),
        ),
    };
    format!(
        "{azure}\nsimulated: unit {} is scripted to fail once, at customizer `{}`{skipped}; then `{again}` rebuilds only {rebuilt}",
        s.unit, s.step,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(path: &str) -> Plan {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest =
            aib_manifest::Manifest::load(&root.join(path)).expect("example manifest loads");
        aib_planner::plan(&manifest, &aib_planner::PlanOptions::default()).expect("plans")
    }

    #[test]
    fn each_example_fails_a_unit_with_dependents_that_are_skipped() {
        let avd = scripted_failure(&plan_of("pipelines/avd/aib.toml")).expect("a unit");
        assert_eq!(avd.unit, "test/win11-avd");
        assert_eq!(avd.step, "updates");
        assert_eq!(avd.skipped, ["test/win11-avd-devtools", "prod/win11-avd"]);
        let linux = scripted_failure(&plan_of("pipelines/linux-fleet/aib.toml")).expect("a unit");
        assert_eq!(linux.unit, "staging/ubuntu-docker[release=2404]");
        assert_eq!(linux.step, "docker");
        assert_eq!(linux.skipped, ["production/ubuntu-docker[release=2404]"]);
        assert_eq!(linux.rule.times, Some(1));
        assert_eq!(
            linux.rule.tags.get("aib.unit").map(String::as_str),
            Some("staging/ubuntu-docker[release=2404]")
        );
    }

    #[test]
    fn the_note_says_what_fails_what_is_skipped_and_what_to_run_next() {
        let s = scripted_failure(&plan_of("pipelines/avd/aib.toml")).expect("a unit");
        let world = Path::new("pipelines/avd/.aib/simulate/azure");
        let manifest = Path::new("pipelines/avd/aib.toml");
        insta::assert_snapshot!(note(&s, When::Now, false, world, manifest), @r"
        simulated: Azure is a local simulator (1 Azure minute = 20 ms) kept in pipelines/avd/.aib/simulate/azure
        simulated: unit test/win11-avd is scripted to fail once, at customizer `updates`, and its dependents test/win11-avd-devtools, prod/win11-avd to be skipped; then `aib build pipelines/avd/aib.toml --simulate` rebuilds only those 3
        ");
        insta::assert_snapshot!(note(&s, When::Spent, true, world, manifest), @r"
        simulated: Azure is a local simulator (1 Azure minute = 20 ms) kept in pipelines/avd/.aib/simulate/azure, with what earlier runs built
        simulated: the scripted failure of unit test/win11-avd happened in an earlier run (delete pipelines/avd/.aib/simulate/azure to start afresh)
        ");
        insta::assert_snapshot!(note(&s, When::Later, true, world, manifest), @r"
        simulated: Azure is a local simulator (1 Azure minute = 20 ms) kept in pipelines/avd/.aib/simulate/azure, with what earlier runs built
        simulated: unit test/win11-avd is scripted to fail once, at customizer `updates`, the first time it builds (it is not selected now)
        ");
    }
}
