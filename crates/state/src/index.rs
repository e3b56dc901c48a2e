//! `index.json`: the last successful build per unit, used by `rebuild = "changed"` and `plan`.

use crate::error::{Result, StateError};
use crate::record::IndexEntry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Current `Index::version`.
pub const INDEX_VERSION: u32 = 1;

/// The whole index: unit id → its last successful build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Format version.
    pub version: u32,
    /// Entries keyed by unit id (sorted, so the file diff is stable).
    pub units: BTreeMap<String, IndexEntry>,
}

impl Default for Index {
    fn default() -> Self {
        Self {
            version: INDEX_VERSION,
            units: BTreeMap::new(),
        }
    }
}

impl Index {
    /// The entry of a unit.
    pub fn get(&self, unit: &str) -> Option<&IndexEntry> {
        self.units.get(unit)
    }

    /// Upsert entries. An entry older (`built_at`) than the stored one for the same unit is
    /// ignored, so a slow writer never rolls the index back.
    pub fn merge(&mut self, entries: &[IndexEntry]) {
        for e in entries {
            match self.units.get(&e.unit) {
                Some(old) if old.built_at > e.built_at => {}
                _ => {
                    self.units.insert(e.unit.clone(), e.clone());
                }
            }
        }
    }

    pub(crate) fn from_bytes(bytes: &[u8], location: &str) -> Result<Self> {
        let idx: Index = serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
            location: location.to_owned(),
            message: e.to_string(),
        })?;
        if idx.version > INDEX_VERSION {
            return Err(StateError::Corrupt {
                location: location.to_owned(),
                message: format!(
                    "index version {} is newer than this aib understands ({INDEX_VERSION})",
                    idx.version
                ),
            });
        }
        Ok(idx)
    }

    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v =
            serde_json::to_vec_pretty(self).map_err(|e| StateError::Internal(e.to_string()))?;
        v.push(b'\n');
        Ok(v)
    }
}
