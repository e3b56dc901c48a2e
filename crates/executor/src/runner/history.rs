//! Expected build durations from the state's history: how long each unit's last successful
//! build held its slot (its first stage's start to its verify's end), read from the newest run
//! records. The scheduler ranks chains by them; a unit with no history counts as the mean.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aib_planner::{Action, Plan};
use aib_state::{StageStatus, StateStore, UnitRecord, UnitStatus};

/// Run records read at most (newest first).
pub const RUNS_READ: usize = 5;

/// The longest the history may take to read before the run goes on without it.
pub const READ_LIMIT: Duration = Duration::from_secs(10);

/// Unit id → expected duration, for the units of `plan` that build and appear succeeded in one
/// of the [`RUNS_READ`] newest runs (the newest such build counts). A state that cannot be
/// read gives what was read so far: the history only orders units, it never stops a run.
pub async fn expected_durations(store: &StateStore, plan: &Plan) -> HashMap<String, Duration> {
    let wanted: HashSet<&str> = plan
        .units()
        .iter()
        .filter(|u| u.action == Action::Build)
        .map(|u| u.id.as_str())
        .collect();
    let mut out = HashMap::new();
    if wanted.is_empty() {
        return out;
    }
    let read = async {
        let Ok(ids) = store.list_runs().await else {
            return;
        };
        for id in ids.iter().take(RUNS_READ) {
            let Ok(rec) = store.read_run(id).await else {
                continue;
            };
            for u in &rec.units {
                if wanted.contains(u.id.as_str())
                    && !out.contains_key(&u.id)
                    && let Some(d) = slot_time(u)
                {
                    out.insert(u.id.clone(), d);
                }
            }
            if out.len() == wanted.len() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(READ_LIMIT, read).await;
    out
}

/// How long a succeeded unit held its slot: first stage started → verify finished.
pub fn slot_time(u: &UnitRecord) -> Option<Duration> {
    if u.status != UnitStatus::Succeeded {
        return None;
    }
    let start = u.stages.iter().filter_map(|s| s.started).min()?;
    let end = u
        .stages
        .iter()
        .find(|s| s.name == "verify" && s.status == StageStatus::Succeeded)?
        .finished?;
    (end - start).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aib_state::StageRecord;
    use chrono::{TimeZone, Utc};

    fn stage(name: &str, status: StageStatus, from: i64, to: i64) -> StageRecord {
        StageRecord {
            name: name.into(),
            status,
            started: Utc.timestamp_opt(from, 0).single(),
            finished: Utc.timestamp_opt(to, 0).single(),
        }
    }

    #[test]
    fn a_succeeded_unit_held_its_slot_from_deploy_to_verify() {
        let mut u = UnitRecord::pending("dev/a");
        u.status = UnitStatus::Succeeded;
        u.stages = vec![
            stage("deploy", StageStatus::Succeeded, 100, 160),
            stage("build", StageStatus::Succeeded, 160, 3700),
            stage("verify", StageStatus::Succeeded, 3700, 3710),
            stage("cleanup", StageStatus::Succeeded, 3710, 3800),
        ];
        assert_eq!(slot_time(&u), Some(Duration::from_secs(3610)));
        u.status = UnitStatus::Failed;
        assert_eq!(slot_time(&u), None);
        u.status = UnitStatus::Succeeded;
        u.stages.truncate(2);
        assert_eq!(slot_time(&u), None, "never verified");
    }
}
