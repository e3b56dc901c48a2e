//! Generic resources used in preflight, and storage accounts.

use serde::{Deserialize, Serialize};

/// Any ARM resource (id, name, type, location, tags, raw properties).
pub type GenericResource = super::ArmResource<Option<serde_json::Value>>;

/// A storage account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccount {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Account name.
    #[serde(default)]
    pub name: String,
    /// Location.
    #[serde(default)]
    pub location: Option<String>,
    /// Properties.
    #[serde(default)]
    pub properties: StorageAccountProperties,
}

/// Storage account properties (subset).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccountProperties {
    /// Endpoints (`blob` is the one we use).
    #[serde(default)]
    pub primary_endpoints: Option<StorageEndpoints>,
    /// Provisioning state.
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// `false` when the account forbids Shared Key (and key-signed SAS): only Entra tokens.
    #[serde(default)]
    pub allow_shared_key_access: Option<bool>,
}

/// Service endpoints of a storage account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StorageEndpoints {
    /// Blob endpoint URL.
    #[serde(default)]
    pub blob: Option<String>,
}

/// `listKeys` answer. `Debug` hides the key values.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StorageAccountKeys {
    /// Keys.
    #[serde(default)]
    pub keys: Vec<StorageAccountKey>,
}

/// One account key.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccountKey {
    /// `key1` / `key2`.
    #[serde(default)]
    pub key_name: String,
    /// The base64 key.
    #[serde(default)]
    pub value: String,
    /// `Full` / `Read`.
    #[serde(default)]
    pub permissions: Option<String>,
}

impl std::fmt::Debug for StorageAccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter()).finish()
    }
}

impl std::fmt::Debug for StorageAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAccountKey")
            .field("key_name", &self.key_name)
            .field("value", &"<redacted>")
            .finish()
    }
}
