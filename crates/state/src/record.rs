//! The stored types: run records, unit records, events, and the naming rules (run ids, unit-id
//! directory names). Field names are a contract with the executor and `status`/`history`/`logs`.

use crate::error::{Result, StateError};
pub use aib_vocab::{Failure, RunEvent, RunStatus, Stage, StageStatus, UnitStatus};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Current `RunRecord::version`.
pub const RUN_RECORD_VERSION: u32 = 1;

/// Reads a `run.json`: a record of a version this aib does not know is refused (naming both
/// versions), never read as if it were version 1.
pub fn parse_run(bytes: &[u8], location: &str) -> Result<RunRecord> {
    #[derive(Deserialize)]
    struct Versioned {
        version: Option<u32>,
    }
    let corrupt = |e: serde_json::Error| StateError::Corrupt {
        location: location.to_owned(),
        message: e.to_string(),
    };
    let v: Versioned = serde_json::from_slice(bytes).map_err(corrupt)?;
    match v.version {
        Some(RUN_RECORD_VERSION) => serde_json::from_slice(bytes).map_err(corrupt),
        Some(other) => Err(StateError::UnsupportedVersion {
            location: location.to_owned(),
            version: other,
            supported: RUN_RECORD_VERSION,
        }),
        None => Err(StateError::Corrupt {
            location: location.to_owned(),
            message: "no `version`".into(),
        }),
    }
}

/// RFC 3339 UTC timestamps with millisecond precision (`2026-11-28T23:35:00.123Z`).
pub mod ts {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    /// Deserialize any RFC 3339 timestamp, normalised to UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option` (serialized as `null` when absent).
    pub mod option {
        use super::*;

        /// Serialize.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
                None => s.serialize_none(),
            }
        }

        /// Deserialize.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

/// Why a run started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Trigger {
    /// `aib build` by hand.
    Manual,
    /// `aib schedule`, naming the `[schedules.<name>]` entry.
    Schedule {
        /// Schedule name.
        name: String,
        /// When the schedule fired (the due time this run builds): a later trigger judges
        /// whether that due time was built by it, not by when a job started.
        #[serde(default, with = "ts::option", skip_serializing_if = "Option::is_none")]
        due: Option<DateTime<Utc>>,
    },
}

/// What the user selected (`--env`, `--variant`, `--unit`, flags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Selection {
    /// `--env` values.
    pub environments: Vec<String>,
    /// `--variant` globs.
    pub variants: Vec<String>,
    /// `--unit` ids.
    pub units: Vec<String>,
    /// `--force`.
    pub force: bool,
    /// `--retry-failed RUN_ID`: the run whose failed units are retried.
    pub retry_failed: Option<String>,
}

/// One stage of a unit (`deploy`, `build`, `verify`, `cleanup`, `collect-logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Stage name.
    pub name: String,
    /// Status.
    pub status: StageStatus,
    /// Start time.
    #[serde(with = "ts::option", default)]
    pub started: Option<DateTime<Utc>>,
    /// End time.
    #[serde(with = "ts::option", default)]
    pub finished: Option<DateTime<Utc>>,
}

/// One unit of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Unit id (`env/variant[axis=value,...]`).
    pub id: String,
    /// Status.
    pub status: UnitStatus,
    /// Why it was skipped / unchanged.
    #[serde(default)]
    pub reason: Option<String>,
    /// `sha256:<hex>`.
    pub input_hash: String,
    /// imageTemplate name.
    pub template_name: String,
    /// Resource group of the template.
    pub resource_group: String,
    /// Subscription id.
    pub subscription: String,
    /// ARM deployment name.
    pub deployment_name: String,
    /// Published gallery image version id.
    #[serde(default)]
    pub image_version_id: Option<String>,
    /// The resolved source image version.
    #[serde(default)]
    pub source_version: Option<String>,
    /// Stages, in order.
    #[serde(default)]
    pub stages: Vec<StageRecord>,
    /// Failure details.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// URL of the `run` long-running operation, so a later process can re-attach.
    #[serde(default)]
    pub run_operation: Option<String>,
    /// The gallery image version this unit publishes, as preflight chose it (absent: Azure
    /// chooses): `aib resume` keeps it instead of choosing again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_version: Option<String>,
}

impl UnitRecord {
    /// A pending unit with no stages.
    pub fn pending(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            status: UnitStatus::Pending,
            reason: None,
            input_hash: String::new(),
            template_name: String::new(),
            resource_group: String::new(),
            subscription: String::new(),
            deployment_name: String::new(),
            image_version_id: None,
            source_version: None,
            stages: Vec::new(),
            failure: None,
            run_operation: None,
            image_version: None,
        }
    }
}

/// One run (`runs/<run_id>/run.json`). Its JSON is a superset of `aib build --report-json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Format version ([`RUN_RECORD_VERSION`]).
    pub version: u32,
    /// Run id ([`new_run_id`]).
    pub run_id: String,
    /// Why it ran.
    pub trigger: Trigger,
    /// `[pipeline].name`.
    pub pipeline: String,
    /// Manifest path as given on the command line.
    pub manifest: String,
    /// Host that ran it.
    pub host: String,
    /// Start time.
    #[serde(with = "ts")]
    pub started: DateTime<Utc>,
    /// End time; `null` while running.
    #[serde(with = "ts::option", default)]
    pub finished: Option<DateTime<Utc>>,
    /// Status.
    pub status: RunStatus,
    /// What was selected.
    #[serde(default)]
    pub selection: Selection,
    /// Units in plan order.
    #[serde(default)]
    pub units: Vec<UnitRecord>,
    /// A run against a simulator: Azure minutes per real minute of the clock it ran on (its
    /// `GET /_sim/clock`, e.g. 3000 for `--simulate`'s 20 ms minute), so its times can be
    /// shown in Azure time. Absent for Azure's own clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// What `aib resume` needs to advance the run on any machine (absent in runs recorded
    /// before detached runs existed: those are retried with `--retry-failed` instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeSpec>,
}

/// The options a run was started with, kept so that `aib resume` advances it as the first
/// process would have (secret *references* only, in the manifest; never values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResumeSpec {
    /// `--max-parallel` (environments' `max_parallel` come from the manifest).
    pub max_parallel: usize,
    /// `--fail-fast`.
    pub fail_fast: bool,
    /// `--simulate`: placeholder secret values, the simulated world beside the state.
    pub simulate: bool,
    /// Started with `--detach` (or advanced by `aib resume --detach`): its unfinished units
    /// belong to it until it ends or is cancelled, and a process of it that died leaves it
    /// `detached`, not `interrupted`.
    pub detached: bool,
    /// Unit id → the offline input hash the plan gave it when the run started: a unit whose
    /// manifest entry changed since is not deployed from the changed manifest.
    pub plan_hashes: std::collections::BTreeMap<String, String>,
    /// The SHA-256 of the index of the run's inputs kept beside the record (the manifest
    /// text, scripts and templates the plan read; `runs/<id>/inputs/<sha256>`):
    /// `aib resume` re-plans from them, not from the manifest on disk. Absent in runs
    /// recorded before inputs were kept (resumed from the manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
}

impl RunRecord {
    /// The status to show for this record given who holds its state's run lock now (`None`:
    /// free, or a stale local lock). A run recorded `running` whose lock it no longer holds
    /// ended without saying so (its process died, or its blob lease expired) and is shown
    /// `interrupted`; every other status is shown as recorded.
    pub fn status_given_lock(&self, holder: Option<&crate::LockInfo>) -> RunStatus {
        match (self.status, holder) {
            (RunStatus::Running, Some(h)) if h.run_id == self.run_id => RunStatus::Running,
            // A tick of a detached run died: the run still waits for `aib resume`.
            (RunStatus::Running, _) if self.resume.as_ref().is_some_and(|r| r.detached) => {
                RunStatus::Detached
            }
            (RunStatus::Running, _) => RunStatus::Interrupted,
            (s, _) => s,
        }
    }

    /// A new running record with no units.
    pub fn new(
        run_id: impl Into<String>,
        trigger: Trigger,
        pipeline: impl Into<String>,
        manifest: impl Into<String>,
        host: impl Into<String>,
        started: DateTime<Utc>,
    ) -> Self {
        Self {
            version: RUN_RECORD_VERSION,
            run_id: run_id.into(),
            trigger,
            pipeline: pipeline.into(),
            manifest: manifest.into(),
            host: host.into(),
            started,
            finished: None,
            status: RunStatus::Running,
            selection: Selection::default(),
            units: Vec::new(),
            time_scale: None,
            resume: None,
        }
    }

    /// A detached run that has not ended: the units it has not ended are its own (a new
    /// run leaves them to it).
    pub fn holds_units(&self) -> bool {
        self.status.is_unfinished() && self.resume.as_ref().is_some_and(|r| r.detached)
    }

    /// Units this run has not ended (pending or running).
    pub fn open_units(&self) -> impl Iterator<Item = &UnitRecord> {
        self.units
            .iter()
            .filter(|u| matches!(u.status, UnitStatus::Pending | UnitStatus::Running))
    }

    /// The unit with this id.
    pub fn unit(&self, id: &str) -> Option<&UnitRecord> {
        self.units.iter().find(|u| u.id == id)
    }

    /// The unit with this id, mutable.
    pub fn unit_mut(&mut self, id: &str) -> Option<&mut UnitRecord> {
        self.units.iter_mut().find(|u| u.id == id)
    }
}

/// The last successful build of one unit (`index.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Unit id.
    pub unit: String,
    /// Input hash of that build.
    pub input_hash: String,
    /// imageTemplate name.
    pub template_name: String,
    /// Published image version id.
    pub image_version_id: String,
    /// When it was built.
    #[serde(with = "ts")]
    pub built_at: DateTime<Utc>,
    /// Run that built it.
    pub run_id: String,
}

/// One event (one line of `events.ndjson`). Extra fields are flattened into the object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    #[serde(with = "ts")]
    pub ts: DateTime<Utc>,
    /// Run id.
    pub run_id: String,
    /// Unit id, if about a unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Stage, if about a stage.
    #[serde(default)]
    pub stage: Option<String>,
    /// Event name (`run.started`, `stage.finished`, ...).
    pub event: String,
    /// Everything else.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// An event with no unit, stage or fields, stamped now (to the millisecond, as stored).
    pub fn new(run_id: impl Into<String>, event: impl Into<String>) -> Self {
        Self {
            ts: now_millis(),
            run_id: run_id.into(),
            unit: None,
            stage: None,
            event: event.into(),
            fields: serde_json::Map::new(),
        }
    }

    /// Set the unit.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Set the stage.
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = Some(stage.into());
        self
    }

    /// Add a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// The line of a run event at `ts`: its `unit` and `stage` as the event names them, its
    /// `event` name and fields as serde writes the event (the format is [`RunEvent`]'s).
    pub fn of(ts: DateTime<Utc>, run_id: impl Into<String>, event: &RunEvent) -> Self {
        // An event always serializes as an object (string keys, no maps of other keys).
        let mut fields = match serde_json::to_value(event) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        for k in ["event", "unit", "stage"] {
            fields.shift_remove(k);
        }
        Self {
            ts,
            run_id: run_id.into(),
            unit: event.unit().map(|u| u.as_str().to_owned()),
            stage: event.stage().map(|s| s.as_str().to_owned()),
            event: event.name().to_owned(),
            fields,
        }
    }

    /// The run event this line holds; `None` for a line of an event this aib does not know
    /// (kept as it was read, never failing the read of the others).
    pub fn run_event(&self) -> Option<RunEvent> {
        let mut m = serde_json::Map::new();
        m.insert("event".into(), self.event.clone().into());
        if let Some(u) = &self.unit {
            m.insert("unit".into(), u.clone().into());
        }
        if let Some(s) = &self.stage {
            m.insert("stage".into(), s.clone().into());
        }
        m.extend(self.fields.clone());
        serde_json::from_value(serde_json::Value::Object(m)).ok()
    }
}

/// Serialize events as NDJSON (one line each, `\n`-terminated).
pub fn events_to_ndjson(events: &[Event]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    for e in events {
        serde_json::to_writer(&mut buf, e).map_err(|err| StateError::Internal(err.to_string()))?;
        buf.push(b'\n');
    }
    Ok(buf)
}

/// Parse NDJSON, skipping lines that do not parse (a torn last line after a crash) with a
/// warning. A missing final newline is fine.
pub fn events_from_ndjson(bytes: &[u8], location: &str) -> Vec<Event> {
    let mut out = Vec::new();
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(line) {
            Ok(e) => out.push(e),
            Err(err) => {
                tracing::warn!(location, line = i + 1, last = (i + 1 == n), error = %err, "skipping unreadable event line");
            }
        }
    }
    out
}

/// A new run id for `now`: `YYYYMMDDTHHMMSSZ-<6 hex>`; ids sort by start time.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    let r = uuid::Uuid::new_v4();
    let b = r.as_bytes();
    format!(
        "{}-{:02x}{:02x}{:02x}",
        now.format("%Y%m%dT%H%M%SZ"),
        b[0],
        b[1],
        b[2]
    )
}

/// True if `id` has the shape of [`new_run_id`].
pub fn is_run_id(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 23 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..23]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Check a run id before it becomes a path.
pub fn check_run_id(id: &str) -> Result<()> {
    if is_run_id(id) {
        Ok(())
    } else {
        Err(StateError::InvalidName {
            what: "run id",
            value: id.to_owned(),
            reason: "expected YYYYMMDDTHHMMSSZ-xxxxxx".into(),
        })
    }
}

/// Check a log file name (`customization.log`): `[A-Za-z0-9._-]`, not starting with `.`.
pub fn check_file_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidName {
            what: "log file name",
            value: name.to_owned(),
            reason: "use letters, digits, '.', '_' and '-', not starting with '.'".into(),
        })
    }
}

/// Encode a unit id as one safe, readable, reversible path segment.
///
/// `[A-Za-z0-9._=,-]` stay as they are (a leading `.` is escaped); `/` → `~`, `[` → `@`,
/// `]` → `+`; every other byte (including literal `~ @ + %`) → `%XX`.
/// `dev/ubuntu[release=2204,arch=x64]` → `dev~ubuntu@release=2204,arch=x64+`.
pub fn encode_unit_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 4);
    for (i, b) in id.bytes().enumerate() {
        match b {
            b'.' if i == 0 => out.push_str("%2E"),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b',' | b'-' => {
                out.push(b as char)
            }
            b'/' => out.push('~'),
            b'[' => out.push('@'),
            b']' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Reverse of [`encode_unit_id`].
pub fn decode_unit_id(seg: &str) -> Result<String> {
    let bad = |reason: &str| StateError::InvalidName {
        what: "unit directory name",
        value: seg.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::with_capacity(seg.len());
    let b = seg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'~' => out.push(b'/'),
            b'@' => out.push(b'['),
            b'+' => out.push(b']'),
            b'%' => {
                let hex = seg.get(i + 1..i + 3).ok_or_else(|| bad("truncated %XX"))?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| bad("bad %XX"))?;
                out.push(v);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad("not UTF-8"))
}

/// Check a unit id before it becomes a path segment.
pub fn check_unit_id(id: &str) -> Result<()> {
    if id.is_empty() || encode_unit_id(id).len() > 240 {
        return Err(StateError::InvalidName {
            what: "unit id",
            value: id.to_owned(),
            reason: "must be non-empty and encode to at most 240 bytes".into(),
        });
    }
    Ok(())
}

/// Now, truncated to the millisecond precision timestamps are stored with.
pub fn now_millis() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(3)
}

/// RFC 3339 text of a time, as stored.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The host name (`/proc/sys/kernel/hostname`, `/etc/hostname`, `HOSTNAME`, `COMPUTERNAME`).
pub fn current_host() -> String {
    let from_file = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
