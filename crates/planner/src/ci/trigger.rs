//! UTC trigger crons for CI systems whose schedules are UTC-only, five-field and without
//! `#`/`L`/`W` (GitHub Actions, Azure Pipelines).
//!
//! A manifest schedule such as `0 3 * * 3#2` in `Europe/Berlin` cannot be written exactly as a
//! UTC cron: the offset changes with daylight saving and `#2` is not supported. So a CI
//! workflow is triggered by a *superset*: the schedule's wall-clock minutes and hours moved to
//! UTC for every offset the zone uses in the coming year, with day fields kept only when they
//! are plain and no time crosses midnight (otherwise every day). At each trigger the job runs
//! `aib schedule --once --within W`, which builds a schedule only if one of its real due times
//! lies in the last `W` and no recorded run of that schedule covers it. Extra triggers are
//! therefore harmless, and a trigger the CI system delays or drops is caught by the next one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// One UTC cron line of a CI trigger, with the local rule it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtcTrigger {
    /// Five fields, UTC.
    pub cron: String,
    /// Human note: the schedule's cron, zone and the UTC offset this line covers.
    pub note: String,
    /// The line fires exactly at the schedule's due times (one offset, day fields kept);
    /// otherwise it fires at a superset of them.
    pub exact: bool,
}

/// Why a schedule cannot be turned into triggers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule `{name}`: cron `{cron}` {why}")]
pub struct TriggerError {
    pub name: String,
    pub cron: String,
    pub why: String,
}

/// The UTC trigger lines for a schedule's `cron` read in `tz`, for the year starting at `from`.
pub fn utc_triggers(
    name: &str,
    cron: &str,
    tz: Tz,
    from: DateTime<Utc>,
) -> Result<Vec<UtcTrigger>, TriggerError> {
    let err = |why: String| TriggerError {
        name: name.to_string(),
        cron: cron.to_string(),
        why,
    };
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let fields: &[&str] = match fields.len() {
        5 => &fields[..],
        6 => &fields[1..], // seconds: CI triggers have minute granularity
        n => return Err(err(format!("has {n} fields; expected 5 or 6"))),
    };
    let minutes = expand(fields[0], 0, 59).map_err(|w| err(format!("minute field: {w}")))?;
    let hours = expand(fields[1], 0, 23).map_err(|w| err(format!("hour field: {w}")))?;
    let days = [fields[2], fields[3], fields[4]];
    let plain_days = days.iter().all(|d| {
        d.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | ',' | '-' | '/'))
    });

    let mut out = Vec::new();
    let offsets = offsets(tz, from);
    let single_offset = offsets.len() == 1;
    for offset_minutes in offsets {
        // (utc hour, utc minute) pairs, and whether any moved to another day.
        let mut pairs: BTreeSet<(u32, u32)> = BTreeSet::new();
        let mut crosses_midnight = false;
        for &h in &hours {
            for &m in &minutes {
                let local = i64::from(h * 60 + m);
                let utc = local - offset_minutes;
                if !(0..24 * 60).contains(&utc) {
                    crosses_midnight = true;
                }
                let utc = utc.rem_euclid(24 * 60);
                // rem_euclid of a value in 0..1440 fits u32.
                let utc = u32::try_from(utc).unwrap_or(0);
                pairs.insert((utc / 60, utc % 60));
            }
        }
        let keep_days = plain_days && !crosses_midnight;
        let day_fields = if keep_days {
            days.join(" ")
        } else {
            "* * *".to_string()
        };
        let note = format!(
            "schedule `{name}`: `{cron}` in {tz} at UTC{}",
            format_offset(offset_minutes)
        );
        for (minute_field, hour_field) in group(&pairs) {
            let cron = format!("{minute_field} {hour_field} {day_fields}");
            if !out.iter().any(|t: &UtcTrigger| t.cron == cron) {
                out.push(UtcTrigger {
                    cron,
                    note: note.clone(),
                    exact: single_offset && keep_days,
                });
            }
        }
    }
    Ok(out)
}

/// The distinct UTC offsets (in minutes) `tz` uses in the year from `from`, in order of first use.
fn offsets(tz: Tz, from: DateTime<Utc>) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut t = from;
    let end = from + Duration::days(366);
    while t <= end {
        let off = i64::from(
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        ) / 60;
        if !seen.contains(&off) {
            seen.push(off);
        }
        t += Duration::hours(6);
    }
    seen
}

fn format_offset(minutes: i64) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Groups (hour, minute) pairs into as few `minute hour` field pairs as possible: minutes with
/// the same set of hours share a line; a full set is written `*`.
fn group(pairs: &BTreeSet<(u32, u32)>) -> Vec<(String, String)> {
    let mut hours_by_minute: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for &(h, m) in pairs {
        hours_by_minute.entry(m).or_default().insert(h);
    }
    let mut minutes_by_hours: BTreeMap<BTreeSet<u32>, BTreeSet<u32>> = BTreeMap::new();
    for (m, hs) in hours_by_minute {
        minutes_by_hours.entry(hs).or_default().insert(m);
    }
    minutes_by_hours
        .into_iter()
        .map(|(hs, ms)| (list(&ms, 60), list(&hs, 24)))
        .collect()
}

fn list(values: &BTreeSet<u32>, full: usize) -> String {
    if values.len() == full {
        return "*".to_string();
    }
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Expands a minute or hour field (`*`, `5`, `1,2`, `0-30/10`, `*/15`) into its values.
fn expand(field: &str, min: u32, max: u32) -> Result<BTreeSet<u32>, FieldError> {
    let mut out = BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| FieldError::Step(s.to_string()))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, min, max)?, number(b, min, max)?)
        } else {
            let n = number(range, min, max)?;
            (n, if part.contains('/') { max } else { n })
        };
        if lo > hi {
            return Err(FieldError::Backwards(range.to_string()));
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    Ok(out)
}

fn number(s: &str, min: u32, max: u32) -> Result<u32, FieldError> {
    s.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| FieldError::Number {
            text: s.to_string(),
            min,
            max,
        })
}

/// What is wrong with a minute or hour field.
#[derive(Debug, thiserror::Error)]
enum FieldError {
    #[error("bad step `{0}`")]
    Step(String),
    #[error("range `{0}` runs backwards")]
    Backwards(String),
    #[error("`{text}` is not a number from {min} to {max}")]
    Number { text: String, min: u32, max: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn crons(cron: &str, tz: Tz) -> Vec<String> {
        utc_triggers("s", cron, tz, at("2026-11-29T00:00:00Z"))
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.cron)
            .collect()
    }

    #[test]
    fn utc_schedules_are_kept() {
        assert_eq!(crons("0 2 * * *", Tz::UTC), ["0 2 * * *"]);
        assert_eq!(crons("*/15 * * * 1-5", Tz::UTC), ["0,15,30,45 * * * 1-5"]);
    }

    #[test]
    fn daylight_saving_zone_gets_both_offsets() {
        // 03:00 Berlin is 02:00 UTC in winter (+01:00) and 01:00 UTC in summer (+02:00).
        assert_eq!(
            crons("0 3 * * 0", chrono_tz::Europe::Berlin),
            ["0 2 * * 0", "0 1 * * 0"]
        );
    }

    #[test]
    fn nth_weekday_relaxes_days_to_a_daily_superset() {
        assert_eq!(
            crons("0 3 * * 3#2", chrono_tz::Europe::Berlin),
            ["0 2 * * *", "0 1 * * *"]
        );
    }

    #[test]
    fn crossing_midnight_relaxes_days() {
        // 00:30 in New York is 05:30 UTC (EST) or 04:30 (EDT): same day, days kept.
        assert_eq!(
            crons("30 0 1 * *", chrono_tz::America::New_York),
            ["30 5 1 * *", "30 4 1 * *"]
        );
        // 01:00 in Tokyo is 16:00 UTC the day before: days relaxed.
        assert_eq!(crons("0 1 * * 1", chrono_tz::Asia::Tokyo), ["0 16 * * *"]);
    }

    #[test]
    fn half_hour_offsets_move_minutes() {
        assert_eq!(crons("0 9 * * *", chrono_tz::Asia::Kolkata), ["30 3 * * *"]);
    }

    #[test]
    fn six_fields_drop_seconds_and_bad_fields_fail() {
        assert_eq!(crons("0 0 4 * * 0", Tz::UTC), ["0 4 * * 0"]);
        let e = utc_triggers("s", "61 * * * *", Tz::UTC, at("2026-11-29T00:00:00Z"));
        assert!(e.is_err_and(|e| e.to_string().contains("minute field")));
    }
}
