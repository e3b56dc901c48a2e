//! Storage accounts: list in a resource group, list keys, and a blob client for one.

use super::{ArmClient, api};
use crate::blob::{BlobAuth, BlobClient};
use crate::error::{Error, Result};
use crate::resource_id::{ResourceGroupId, ResourceId};
use crate::types::{StorageAccount, StorageAccountKeys};
use reqwest::Method;

impl ArmClient {
    /// Storage accounts of a resource group (e.g. the staging RG holding `packerlogs`).
    pub async fn list_storage_accounts(
        &self,
        group: &ResourceGroupId,
    ) -> Result<Vec<StorageAccount>> {
        let path = format!(
            "{}/providers/Microsoft.Storage/storageAccounts",
            group.path()
        );
        self.list_all(&path, api::STORAGE).await
    }

    /// POST `listKeys` (a read in effect; safe to repeat).
    pub async fn list_storage_account_keys(
        &self,
        account: &ResourceId,
    ) -> Result<StorageAccountKeys> {
        let path = format!("{}/listKeys", account.path());
        let url = self.url(&path, api::STORAGE)?;
        self.send_with(Method::POST, url, None, true).await?.json()
    }

    /// A Shared Key blob client for `account` (endpoint from the account's `primaryEndpoints.blob`,
    /// else the cloud's blob suffix), sharing this client's HTTP pool and retry policy.
    pub async fn blob_client_for_account(
        &self,
        group: &ResourceGroupId,
        account: &StorageAccount,
    ) -> Result<BlobClient> {
        let keys = self
            .list_storage_account_keys(&ResourceId::storage_account(group, &account.name))
            .await?;
        let key = keys.keys.first().ok_or_else(|| {
            Error::Config(format!("storage account {} returned no keys", account.name))
        })?;
        let auth = BlobAuth::shared_key(&account.name, &key.value)?;
        self.blob_client_with(account, auth)
    }

    /// A blob client for `account` that authenticates with this client's credential (an Entra
    /// token for storage): for accounts that forbid Shared Key, or when `listKeys` is refused.
    /// The identity needs a data role on the account (Storage Blob Data Reader to read).
    pub fn bearer_blob_client_for_account(&self, account: &StorageAccount) -> Result<BlobClient> {
        let auth = BlobAuth::Bearer(self.credential().clone());
        Ok(self
            .blob_client_with(account, auth)?
            .with_scope(&self.endpoints().storage_scope))
    }

    fn blob_client_with(&self, account: &StorageAccount, auth: BlobAuth) -> Result<BlobClient> {
        let endpoint = match account
            .properties
            .primary_endpoints
            .as_ref()
            .and_then(|e| e.blob.clone())
        {
            Some(e) => e,
            None => self.endpoints().blob_endpoint(&account.name)?.to_string(),
        };
        // Loopback http is accepted; otherwise follow the ARM endpoint's scheme.
        let insecure = self.endpoints().arm.scheme() == "http";
        BlobClient::with_transport(
            self.transport().clone(),
            &endpoint,
            auth,
            self.config().retry.clone(),
            insecure,
        )
    }
}
