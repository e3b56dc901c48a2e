//! The stages of a unit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The stages of a unit, in the order they run; serialized by name (`deploy`, `build`,
/// `verify`, `collect-logs`, `cleanup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Deploy,
    Build,
    Verify,
    CollectLogs,
    Cleanup,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 5] = [
        Stage::Deploy,
        Stage::Build,
        Stage::Verify,
        Stage::CollectLogs,
        Stage::Cleanup,
    ];

    /// The name used in records, events and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Deploy => "deploy",
            Stage::Build => "build",
            Stage::Verify => "verify",
            Stage::CollectLogs => "collect-logs",
            Stage::Cleanup => "cleanup",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Stage {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Stage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A name that is not a stage's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStage(pub String);

impl fmt::Display for UnknownStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown stage `{}`", self.0)
    }
}

impl std::error::Error for UnknownStage {}

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for st in Stage::ALL {
            let json = serde_json::to_value(st).expect("serialize");
            assert_eq!(json, serde_json::Value::String(st.as_str().into()));
            assert_eq!(
                serde_json::from_value::<Stage>(json).expect("deserialize"),
                st
            );
            assert_eq!(st.as_str().parse::<Stage>(), Ok(st));
            assert_eq!(st.to_string(), st.as_str());
        }
        assert!(Stage::CollectLogs == "collect-logs" && Stage::Build != "deploy");
        assert_eq!(
            "collect_logs".parse::<Stage>(),
            Err(UnknownStage("collect_logs".into()))
        );
        assert!(serde_json::from_str::<Stage>("\"Build\"").is_err());
    }
}
