//! `[schedules.<name>]` evaluated against a given instant: which schedules are due in the
//! minute ending at `t`, and when the next one is. Pure: the time is always passed in.
//!
//! A cron expression is read in its schedule's time zone (default UTC). Daylight saving follows
//! croner's rules, which are the ones cron users expect:
//!
//! * **Spring forward** (a wall-clock hour does not exist): a fixed-time job whose time falls
//!   in the gap (`30 2 * * *` in Europe/Berlin on the last Sunday of March) runs once, at the
//!   first valid instant after the gap (03:00 CEST). Interval/wildcard jobs (`*/15 * * * *`)
//!   simply have no runs in the missing hour.
//! * **Fall back** (a wall-clock hour happens twice): a fixed-time job runs once, at the
//!   earlier of the two instants. Interval/wildcard jobs run at every real instant that
//!   matches, in both copies of the hour (every 15 minutes stays every 15 minutes).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use globset::Glob;

use aib_manifest::model::{ManifestFile, Rebuild};

/// A schedule that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSchedule {
    /// The `[schedules.<name>]` key.
    pub name: String,
    /// Environments to build (the schedule's list, or every environment of the manifest).
    pub environments: Vec<String>,
    /// Variant globs (default `["*"]`).
    pub variant_globs: Vec<String>,
    /// `always` rebuilds every selected unit (a forced build).
    pub rebuild: Rebuild,
    /// Run once at service start when the last due time was missed.
    pub catch_up: bool,
    /// The cron time (UTC) that made it due.
    pub fire_time: DateTime<Utc>,
}

/// A schedule the manifest validator should have refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("bad cron expression `{cron}` in schedule `{name}`: {why}")]
    Cron {
        name: String,
        cron: String,
        why: String,
    },
    #[error("unknown time zone `{tz}` in schedule `{name}`")]
    TimeZone { name: String, tz: String },
    #[error("bad variant glob `{glob}` in schedule `{name}`")]
    Glob { name: String, glob: String },
}

/// One schedule, parsed.
#[derive(Debug, Clone)]
struct Compiled {
    name: String,
    cron: Cron,
    tz: Tz,
    environments: Vec<String>,
    variant_globs: Vec<String>,
    rebuild: Rebuild,
    catch_up: bool,
}

impl Compiled {
    fn due(&self, fire_time: DateTime<Utc>) -> DueSchedule {
        DueSchedule {
            name: self.name.clone(),
            environments: self.environments.clone(),
            variant_globs: self.variant_globs.clone(),
            rebuild: self.rebuild,
            catch_up: self.catch_up,
            fire_time,
        }
    }

    /// First fire time strictly after `after`, or `None` if there is none (e.g. `31 2 30 2 *`).
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Last fire time at or before `at`.
    fn previous_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

fn compile(file: &ManifestFile) -> Result<Vec<Compiled>, ScheduleError> {
    let all_envs: Vec<String> = file
        .environments
        .keys()
        .map(|k| k.as_str().to_string())
        .collect();
    let mut out = Vec::with_capacity(file.schedules.len());
    for (name, s) in &file.schedules {
        let name = name.as_str().to_string();
        let cron = s
            .cron
            .schedule()
            .cloned()
            .map_err(|why| ScheduleError::Cron {
                name: name.clone(),
                cron: s.cron.as_str().to_string(),
                why: why.to_string(),
            })?;
        let tz = match &s.timezone {
            None => Tz::UTC,
            Some(tz) => tz
                .as_str()
                .parse::<Tz>()
                .map_err(|_| ScheduleError::TimeZone {
                    name: name.clone(),
                    tz: tz.as_str().to_string(),
                })?,
        };
        let environments = match &s.environments {
            Some(list) => list.iter().map(|e| e.as_str().to_string()).collect(),
            None => all_envs.clone(),
        };
        let variant_globs: Vec<String> = match &s.variants {
            Some(list) => list.iter().map(|g| g.as_str().to_string()).collect(),
            None => vec!["*".to_string()],
        };
        for g in &variant_globs {
            Glob::new(g).map_err(|_| ScheduleError::Glob {
                name: name.clone(),
                glob: g.clone(),
            })?;
        }
        out.push(Compiled {
            name,
            cron,
            tz,
            environments,
            variant_globs,
            rebuild: s.rebuild.as_ref().map(|r| **r).unwrap_or_default(),
            catch_up: s.catch_up.as_ref().map(|c| **c).unwrap_or(false),
        });
    }
    Ok(out)
}

/// Every schedule with a cron time in the minute ending at `t`, i.e. in `(t − 60 s, t]`, in
/// manifest order. A schedule firing several times in that minute (six fields with seconds)
/// is listed once, with its first fire time.
pub fn due_in_minute_ending(
    file: &ManifestFile,
    t: DateTime<Utc>,
) -> Result<Vec<DueSchedule>, ScheduleError> {
    let start = t - Duration::seconds(60);
    Ok(compile(file)?
        .iter()
        .filter_map(|c| {
            let fire = c.next_after(start)?;
            (fire <= t).then(|| c.due(fire))
        })
        .collect())
}

/// A fire time and the schedules that fire then.
pub type Firing = (DateTime<Utc>, Vec<DueSchedule>);

/// The earliest fire time strictly after `after`, with every schedule firing then (manifest
/// order). `None` when no schedule ever fires again.
pub fn next_due(
    file: &ManifestFile,
    after: DateTime<Utc>,
) -> Result<Option<Firing>, ScheduleError> {
    let mut best: Option<Firing> = None;
    for c in compile(file)? {
        let Some(fire) = c.next_after(after) else {
            continue;
        };
        match &mut best {
            Some((t, list)) if *t == fire => list.push(c.due(fire)),
            Some((t, _)) if *t < fire => {}
            _ => best = Some((fire, vec![c.due(fire)])),
        }
    }
    Ok(best)
}

/// For every schedule: its last fire time at or before `at` (for `catch_up`).
pub fn last_due_at_or_before(
    file: &ManifestFile,
    at: DateTime<Utc>,
) -> Result<Vec<DueSchedule>, ScheduleError> {
    Ok(compile(file)?
        .iter()
        .filter_map(|c| c.previous_at_or_before(at).map(|t| c.due(t)))
        .collect())
}

/// Checks every schedule of the manifest parses (the validator already did).
pub fn check(file: &ManifestFile) -> Result<(), ScheduleError> {
    compile(file).map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aib_manifest::SourceFile;

    fn manifest(schedules: &str) -> ManifestFile {
        let text = format!(
            r#"
version = 1
[pipeline]
name = "p"
[environments.dev]
[environments.prod]
{schedules}
"#
        );
        aib_manifest::parse(&SourceFile::new("aib.toml".to_string(), text)).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn due_names(m: &ManifestFile, t: &str) -> Vec<String> {
        due_in_minute_ending(m, utc(t))
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    }

    #[test]
    fn due_at_exact_minute_and_not_a_minute_later() {
        let m = manifest("[schedules.nightly]\ncron = \"0 3 * * *\"\n");
        assert_eq!(due_names(&m, "2026-11-29T03:00:00Z"), ["nightly"]);
        assert_eq!(due_names(&m, "2026-11-29T03:00:59Z"), ["nightly"]);
        assert!(due_names(&m, "2026-11-29T03:01:00Z").is_empty());
        assert!(due_names(&m, "2026-11-29T02:59:59Z").is_empty());
        assert!(due_names(&m, "2026-11-29T04:00:00Z").is_empty());
        let d = due_in_minute_ending(&m, utc("2026-11-29T03:00:30Z")).unwrap();
        assert_eq!(d[0].fire_time, utc("2026-11-29T03:00:00Z"));
        assert_eq!(d[0].environments, ["dev", "prod"]);
        assert_eq!(d[0].variant_globs, ["*"]);
        assert_eq!(d[0].rebuild, Rebuild::Changed);
        assert!(!d[0].catch_up);
    }

    #[test]
    fn selection_and_rebuild_are_carried() {
        let m = manifest(
            "[schedules.w]\ncron = \"0 3 * * *\"\nenvironments = [\"prod\"]\n\
             variants = [\"ubuntu*\"]\nrebuild = \"always\"\ncatch_up = true\n",
        );
        let d = due_in_minute_ending(&m, utc("2026-11-29T03:00:00Z")).unwrap();
        assert_eq!(d[0].environments, ["prod"]);
        assert_eq!(d[0].variant_globs, ["ubuntu*"]);
        assert_eq!(d[0].rebuild, Rebuild::Always);
        assert!(d[0].catch_up);
    }

    #[test]
    fn six_fields_with_seconds() {
        let m = manifest("[schedules.s]\ncron = \"30 15 3 * * *\"\n");
        assert_eq!(due_names(&m, "2026-11-29T03:15:30Z"), ["s"]);
        assert_eq!(due_names(&m, "2026-11-29T03:16:29Z"), ["s"]);
        assert!(due_names(&m, "2026-11-29T03:15:29Z").is_empty());
        assert!(due_names(&m, "2026-11-29T03:16:30Z").is_empty());
        // Several fires in one minute: listed once, at the first.
        let m = manifest("[schedules.s]\ncron = \"*/10 * * * * *\"\n");
        let d = due_in_minute_ending(&m, utc("2026-11-29T03:15:05Z")).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].fire_time, utc("2026-11-29T03:14:10Z"));
    }

    #[test]
    fn nth_weekday() {
        // Second Tuesday of the month at 02:00 (Patch Tuesday style).
        let m = manifest("[schedules.p]\ncron = \"0 2 * * 2#2\"\n");
        assert_eq!(due_names(&m, "2026-12-08T02:00:00Z"), ["p"]);
        assert!(due_names(&m, "2026-12-01T02:00:00Z").is_empty());
        assert!(due_names(&m, "2026-12-15T02:00:00Z").is_empty());
        let (t, _) = next_due(&m, utc("2026-12-08T02:00:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2027-01-12T02:00:00Z"));
    }

    #[test]
    fn time_zones() {
        let m = manifest(
            "[schedules.ams]\ncron = \"0 4 * * 0\"\ntimezone = \"Europe/Amsterdam\"\n\
             [schedules.ny]\ncron = \"0 4 * * 0\"\ntimezone = \"America/New_York\"\n\
             [schedules.utc]\ncron = \"0 4 * * 0\"\n",
        );
        // Sunday 2026-11-29, winter: Amsterdam UTC+1, New York UTC-5.
        assert_eq!(due_names(&m, "2026-11-29T03:00:00Z"), ["ams"]);
        assert_eq!(due_names(&m, "2026-11-29T04:00:00Z"), ["utc"]);
        assert_eq!(due_names(&m, "2026-11-29T09:00:00Z"), ["ny"]);
        // Summer: Amsterdam UTC+2, New York UTC-4.
        assert_eq!(due_names(&m, "2026-07-05T02:00:00Z"), ["ams"]);
        assert_eq!(due_names(&m, "2026-07-05T08:00:00Z"), ["ny"]);
    }

    #[test]
    fn next_due_picks_the_earliest_and_groups_ties() {
        let m = manifest(
            "[schedules.a]\ncron = \"0 5 * * *\"\n[schedules.b]\ncron = \"0 4 * * *\"\n\
             [schedules.c]\ncron = \"0 6 * * *\"\ntimezone = \"Europe/Berlin\"\n",
        );
        let (t, list) = next_due(&m, utc("2026-11-29T03:00:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2026-11-29T04:00:00Z"));
        let names: Vec<_> = list.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["b"]);
        // Strictly after: at 04:00 exactly, the next is 05:00 (a and c, 06:00 Berlin).
        let (t, list) = next_due(&m, utc("2026-11-29T04:00:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2026-11-29T05:00:00Z"));
        let names: Vec<_> = list.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert!(
            next_due(&manifest(""), utc("2026-11-29T04:00:00Z"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn berlin_spring_forward_runs_once_after_the_gap() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 does not exist.
        let m = manifest("[schedules.b]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\n");
        assert_eq!(due_names(&m, "2026-03-29T01:00:00Z"), ["b"]);
        let (t, _) = next_due(&m, utc("2026-03-28T12:00:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2026-03-29T01:00:00Z"));
        // And only once that day: next is the 30th, 02:30 CEST = 00:30 UTC.
        let (t, _) = next_due(&m, t).unwrap().unwrap();
        assert_eq!(t, utc("2026-03-30T00:30:00Z"));
    }

    #[test]
    fn berlin_fall_back_runs_once() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:30 happens twice,
        // at 00:30 UTC and 01:30 UTC. It runs at the first only.
        let m = manifest("[schedules.b]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\n");
        assert_eq!(due_names(&m, "2026-10-25T00:30:00Z"), ["b"]);
        assert!(due_names(&m, "2026-10-25T01:30:00Z").is_empty());
        let (t, _) = next_due(&m, utc("2026-10-25T00:30:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        let m = manifest("[schedules.n]\ncron = \"30 2 * * *\"\ntimezone = \"America/New_York\"\n");
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        assert_eq!(due_names(&m, "2026-03-08T07:00:00Z"), ["n"]);
        let (t, _) = next_due(&m, utc("2026-03-08T07:00:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2026-03-09T06:30:00Z"));
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC.
        let m = manifest("[schedules.n]\ncron = \"30 1 * * *\"\ntimezone = \"America/New_York\"\n");
        assert_eq!(due_names(&m, "2026-11-01T05:30:00Z"), ["n"]);
        assert!(due_names(&m, "2026-11-01T06:30:00Z").is_empty());
        let (t, _) = next_due(&m, utc("2026-11-01T05:30:00Z")).unwrap().unwrap();
        assert_eq!(t, utc("2026-11-02T06:30:00Z"));
    }

    #[test]
    fn last_due_for_catch_up() {
        let m = manifest("[schedules.n]\ncron = \"0 3 * * *\"\n");
        let d = last_due_at_or_before(&m, utc("2026-11-29T02:00:00Z")).unwrap();
        assert_eq!(d[0].fire_time, utc("2026-11-28T03:00:00Z"));
        let d = last_due_at_or_before(&m, utc("2026-11-29T03:00:00Z")).unwrap();
        assert_eq!(d[0].fire_time, utc("2026-11-29T03:00:00Z"));
    }
}
