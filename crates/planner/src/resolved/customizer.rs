//! A resolved customizer or in-VM validation step: its name and what it does, one variant per
//! type holding only that type's keys. Serialized in one flat shape for every type (see
//! [`ResolvedCustomizer`]'s `Serialize`), the form input hashes have always digested.

use aib_manifest::CustomizerKind;
use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::LocalFile;

/// One customizer or in-VM validation step, every string rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedCustomizer {
    /// The step's name (`name`, else `<type>#<n>`).
    pub name: String,
    /// What the step does.
    pub step: ResolvedStep,
}

/// What a step does, one variant per customizer type.
#[derive(Clone, Debug, PartialEq)]
pub enum ResolvedStep {
    Shell(ResolvedScript),
    Powershell {
        script: ResolvedScript,
        run_elevated: Option<bool>,
        run_as_system: Option<bool>,
        valid_exit_codes: Option<Vec<i64>>,
    },
    File {
        source_uri: Option<String>,
        destination: Option<String>,
        sha256_checksum: Option<String>,
    },
    WindowsRestart {
        restart_command: Option<String>,
        restart_check_command: Option<String>,
        restart_timeout: Option<String>,
    },
    WindowsUpdate {
        search_criteria: Option<String>,
        filters: Option<Vec<String>>,
        update_limit: Option<u32>,
    },
}

/// The script of a `shell` or `powershell` step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedScript {
    /// A local script file, inlined line by line when rendered.
    pub script: Option<LocalFile>,
    pub inline: Option<Vec<String>>,
    pub script_uri: Option<String>,
    pub sha256_checksum: Option<String>,
}

impl ResolvedStep {
    /// The step's type.
    pub fn kind(&self) -> CustomizerKind {
        match self {
            Self::Shell(_) => CustomizerKind::Shell,
            Self::Powershell { .. } => CustomizerKind::Powershell,
            Self::File { .. } => CustomizerKind::File,
            Self::WindowsRestart { .. } => CustomizerKind::WindowsRestart,
            Self::WindowsUpdate { .. } => CustomizerKind::WindowsUpdate,
        }
    }
}

impl ResolvedCustomizer {
    /// The step's type.
    pub fn kind(&self) -> CustomizerKind {
        self.step.kind()
    }

    /// The script of a `shell` or `powershell` step.
    pub fn script(&self) -> Option<&ResolvedScript> {
        match &self.step {
            ResolvedStep::Shell(s) | ResolvedStep::Powershell { script: s, .. } => Some(s),
            _ => None,
        }
    }

    /// The local script file the step reads, if any.
    pub fn local_file(&self) -> Option<&LocalFile> {
        self.script().and_then(|s| s.script.as_ref())
    }
}

/// The hashed form and what user templates see in `settings`: one object for every type, with
/// `kind`, `name` and then every key of every type in a fixed order, `null` where the step's
/// type has none. Changing it changes every input hash.
impl Serialize for ResolvedCustomizer {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let k = FlatKeys::of(&self.step);
        let mut o = ser.serialize_struct("ResolvedCustomizer", 17)?;
        o.serialize_field("kind", &self.kind())?;
        o.serialize_field("name", &self.name)?;
        o.serialize_field("script", &k.script)?;
        o.serialize_field("inline", &k.inline)?;
        o.serialize_field("script_uri", &k.script_uri)?;
        o.serialize_field("sha256_checksum", &k.sha256_checksum)?;
        o.serialize_field("run_elevated", &k.run_elevated)?;
        o.serialize_field("run_as_system", &k.run_as_system)?;
        o.serialize_field("valid_exit_codes", &k.valid_exit_codes)?;
        o.serialize_field("source_uri", &k.source_uri)?;
        o.serialize_field("destination", &k.destination)?;
        o.serialize_field("restart_command", &k.restart_command)?;
        o.serialize_field("restart_check_command", &k.restart_check_command)?;
        o.serialize_field("restart_timeout", &k.restart_timeout)?;
        o.serialize_field("search_criteria", &k.search_criteria)?;
        o.serialize_field("filters", &k.filters)?;
        o.serialize_field("update_limit", &k.update_limit)?;
        o.end()
    }
}

/// Every type's keys of a step, borrowed: `None` for the keys of other types.
#[derive(Default)]
struct FlatKeys<'a> {
    script: Option<&'a LocalFile>,
    inline: Option<&'a Vec<String>>,
    script_uri: Option<&'a String>,
    sha256_checksum: Option<&'a String>,
    run_elevated: Option<bool>,
    run_as_system: Option<bool>,
    valid_exit_codes: Option<&'a Vec<i64>>,
    source_uri: Option<&'a String>,
    destination: Option<&'a String>,
    restart_command: Option<&'a String>,
    restart_check_command: Option<&'a String>,
    restart_timeout: Option<&'a String>,
    search_criteria: Option<&'a String>,
    filters: Option<&'a Vec<String>>,
    update_limit: Option<u32>,
}

impl<'a> FlatKeys<'a> {
    fn of(step: &'a ResolvedStep) -> Self {
        let script = |s: &'a ResolvedScript| FlatKeys {
            script: s.script.as_ref(),
            inline: s.inline.as_ref(),
            script_uri: s.script_uri.as_ref(),
            sha256_checksum: s.sha256_checksum.as_ref(),
            ..FlatKeys::default()
        };
        match step {
            ResolvedStep::Shell(s) => script(s),
            ResolvedStep::Powershell {
                script: s,
                run_elevated,
                run_as_system,
                valid_exit_codes,
            } => FlatKeys {
                run_elevated: *run_elevated,
                run_as_system: *run_as_system,
                valid_exit_codes: valid_exit_codes.as_ref(),
                ..script(s)
            },
            ResolvedStep::File {
                source_uri,
                destination,
                sha256_checksum,
            } => FlatKeys {
                source_uri: source_uri.as_ref(),
                destination: destination.as_ref(),
                sha256_checksum: sha256_checksum.as_ref(),
                ..FlatKeys::default()
            },
            ResolvedStep::WindowsRestart {
                restart_command,
                restart_check_command,
                restart_timeout,
            } => FlatKeys {
                restart_command: restart_command.as_ref(),
                restart_check_command: restart_check_command.as_ref(),
                restart_timeout: restart_timeout.as_ref(),
                ..FlatKeys::default()
            },
            ResolvedStep::WindowsUpdate {
                search_criteria,
                filters,
                update_limit,
            } => FlatKeys {
                search_criteria: search_criteria.as_ref(),
                filters: filters.as_ref(),
                update_limit: *update_limit,
                ..FlatKeys::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The flat shape's keys, in order: the same for every type.
    const KEYS: [&str; 17] = [
        "kind",
        "name",
        "script",
        "inline",
        "script_uri",
        "sha256_checksum",
        "run_elevated",
        "run_as_system",
        "valid_exit_codes",
        "source_uri",
        "destination",
        "restart_command",
        "restart_check_command",
        "restart_timeout",
        "search_criteria",
        "filters",
        "update_limit",
    ];

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    fn script() -> ResolvedScript {
        ResolvedScript {
            script: Some(LocalFile {
                path: "scripts/a.sh".into(),
                resolved: "/abs/scripts/a.sh".into(),
            }),
            inline: Some(vec!["echo".into()]),
            script_uri: some("https://x/s"),
            sha256_checksum: some("abc"),
        }
    }

    /// One step of each type with every key of its type set, and the non-null keys expected.
    fn every_kind() -> Vec<(ResolvedStep, Value)> {
        let script_keys = json!({"script": {"path": "scripts/a.sh"}, "inline": ["echo"],
            "script_uri": "https://x/s", "sha256_checksum": "abc"});
        let mut ps_keys = script_keys.clone();
        if let Value::Object(o) = &mut ps_keys {
            o.extend([
                ("run_elevated".into(), json!(true)),
                ("run_as_system".into(), json!(false)),
                ("valid_exit_codes".into(), json!([0, 3010])),
            ]);
        }
        vec![
            (ResolvedStep::Shell(script()), script_keys),
            (
                ResolvedStep::Powershell {
                    script: script(),
                    run_elevated: Some(true),
                    run_as_system: Some(false),
                    valid_exit_codes: Some(vec![0, 3010]),
                },
                ps_keys,
            ),
            (
                ResolvedStep::File {
                    source_uri: some("https://x/f"),
                    destination: some("/tmp/f"),
                    sha256_checksum: some("def"),
                },
                json!({"sha256_checksum": "def", "source_uri": "https://x/f", "destination": "/tmp/f"}),
            ),
            (
                ResolvedStep::WindowsRestart {
                    restart_command: some("r"),
                    restart_check_command: some("c"),
                    restart_timeout: some("5m"),
                },
                json!({"restart_command": "r", "restart_check_command": "c", "restart_timeout": "5m"}),
            ),
            (
                ResolvedStep::WindowsUpdate {
                    search_criteria: some("IsInstalled=0"),
                    filters: Some(vec!["include:$true".into()]),
                    update_limit: Some(40),
                },
                json!({"search_criteria": "IsInstalled=0", "filters": ["include:$true"], "update_limit": 40}),
            ),
        ]
    }

    #[test]
    fn every_kind_serializes_flat_with_every_key_in_order() -> serde_json::Result<()> {
        for (step, set) in every_kind() {
            let kind = step.kind();
            let c = ResolvedCustomizer {
                name: "n".into(),
                step,
            };
            let Value::Object(got) = serde_json::to_value(&c)? else {
                panic!("{kind:?}: not an object");
            };
            let keys: Vec<&str> = got.keys().map(String::as_str).collect();
            assert_eq!(keys, KEYS, "{kind:?}");
            assert_eq!(got["kind"], json!(kind.as_str()));
            assert_eq!(got["name"], json!("n"));
            for (k, v) in got.iter().skip(2) {
                assert_eq!(v, set.get(k).unwrap_or(&Value::Null), "{kind:?}: {k}");
            }
        }
        Ok(())
    }

    #[test]
    fn a_bare_step_writes_null_for_every_key() -> serde_json::Result<()> {
        let c = ResolvedCustomizer {
            name: "windows-restart#1".into(),
            step: ResolvedStep::WindowsRestart {
                restart_command: None,
                restart_check_command: None,
                restart_timeout: None,
            },
        };
        let nulls: Vec<String> = KEYS[2..].iter().map(|k| format!(",\"{k}\":null")).collect();
        assert_eq!(
            serde_json::to_string(&c)?,
            format!(
                "{{\"kind\":\"windows-restart\",\"name\":\"windows-restart#1\"{}}}",
                nulls.concat()
            )
        );
        Ok(())
    }

    #[test]
    fn only_script_steps_have_a_script_and_a_local_file() {
        for (step, _) in every_kind() {
            let kind = step.kind();
            let c = ResolvedCustomizer {
                name: "n".into(),
                step,
            };
            let scripted = matches!(kind, CustomizerKind::Shell | CustomizerKind::Powershell);
            assert_eq!(c.script().is_some(), scripted, "{kind:?}");
            assert_eq!(
                c.local_file().map(|f| f.path.as_str()),
                scripted.then_some("scripts/a.sh"),
                "{kind:?}"
            );
        }
    }
}
