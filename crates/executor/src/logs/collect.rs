//! Fetching `packerlogs/<guid>/customization.log` (and `validation.log`): the template's
//! `exactStagingResourceGroup` → its storage account → the `packerlogs` container, read with the
//! account key (`listKeys`) or, when `listKeys` is refused or the account forbids Shared Key
//! (`allowSharedKeyAccess: false`, 403 `KeyBasedAuthenticationNotPermitted`), with an Entra
//! token for storage. When that is refused too, the error names the role aib's identity needs.

use aib_azure::blob::BlobClient;
use aib_azure::blob::list::BlobItem;
use aib_azure::types::StorageAccount;
use aib_azure::{ArmClient, ResourceGroupId};

/// Most bytes of one log kept: a longer log keeps its end (where the failure is), with a first
/// line saying how much was left out.
pub const LOG_CAP: u64 = 32 << 20;

/// A log file found in the staging account.
#[derive(Debug, Clone)]
pub struct CollectedLog {
    /// `customization.log` or `validation.log`.
    pub file: String,
    /// Blob name in `packerlogs`.
    pub blob: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Fetches the newest `customization.log` (and `validation.log`, when present) of a template
/// whose staging resource group is `staging_rg_id`. `Ok(vec![])` when there is none.
pub async fn collect_logs(
    arm: &ArmClient,
    staging_rg_id: &str,
) -> Result<Vec<CollectedLog>, String> {
    let group = ResourceGroupId::parse(staging_rg_id)
        .map_err(|_| format!("`{staging_rg_id}` is not a resource group id"))?;
    let rg = group.name();
    let accounts = arm
        .list_storage_accounts(&group)
        .await
        .map_err(|e| format!("listing storage accounts of {rg}: {e}"))?;
    let Some(account) = accounts.first() else {
        return Err(format!(
            "staging resource group {rg} has no storage account"
        ));
    };
    let Some((blob, items)) = list_packerlogs(arm, &group, account).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for file in ["customization.log", "validation.log"] {
        // The newest one (a template that ran several times has one folder per run).
        let newest = items
            .iter()
            .filter(|b| b.name.ends_with(&format!("/{file}")) || b.name == file)
            .max_by(|a, b| modified(a).cmp(&modified(b)).then(a.name.cmp(&b.name)));
        let Some(item) = newest else { continue };
        let tail = blob
            .download_tail(
                "packerlogs",
                &item.name,
                item.content_length.unwrap_or(0),
                LOG_CAP,
            )
            .await
            .map_err(|e| format!("downloading packerlogs/{}: {e}", item.name))?;
        let mut bytes = Vec::with_capacity(tail.bytes.len() + 128);
        if tail.skipped > 0 {
            bytes.extend_from_slice(
                format!(
                    "[aib: the first {} bytes of this {}-byte log are left out; aib keeps its last {} bytes]\n",
                    tail.skipped,
                    tail.skipped + tail.bytes.len() as u64,
                    LOG_CAP
                )
                .as_bytes(),
            );
        }
        bytes.extend_from_slice(&tail.bytes);
        out.push(CollectedLog {
            file: file.to_string(),
            blob: item.name.clone(),
            bytes,
        });
    }
    Ok(out)
}

/// The `packerlogs` listing and the client that could read it; `None` when the container does
/// not exist. Shared Key first (unless the account forbids it), then an Entra token.
async fn list_packerlogs(
    arm: &ArmClient,
    group: &ResourceGroupId,
    account: &StorageAccount,
) -> Result<Option<(BlobClient, Vec<BlobItem>)>, String> {
    let name = &account.name;
    let why_not_key = if account.properties.allow_shared_key_access == Some(false) {
        format!("{name} forbids Shared Key")
    } else {
        match arm.blob_client_for_account(group, account).await {
            Ok(client) => match client.list_blobs("packerlogs", None).await {
                Ok(items) => return Ok(Some((client, items))),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) if e.code() == Some("KeyBasedAuthenticationNotPermitted") => {
                    format!("{name} forbids Shared Key")
                }
                Err(e) => return Err(format!("listing packerlogs in {name}: {e}")),
            },
            Err(e) if e.is_auth() => {
                format!("listKeys of {name} was refused ({})", short_code(&e))
            }
            Err(e) => return Err(format!("keys of storage account {name}: {e}")),
        }
    };
    let client = arm
        .bearer_blob_client_for_account(account)
        .map_err(|e| format!("a token client for {name}: {e}"))?;
    match client.list_blobs("packerlogs", None).await {
        Ok(items) => Ok(Some((client, items))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) if e.is_auth() => Err(format!(
            "cannot read the build log: {why_not_key}, and aib's identity may not read it with a token ({}); give aib's identity the Storage Blob Data Reader role on the staging resource group {} (or on its storage account {name})",
            short_code(&e),
            group.name()
        )),
        Err(e) => Err(format!("listing packerlogs in {name} with a token: {e}")),
    }
}

fn short_code(e: &aib_azure::Error) -> String {
    match (e.status(), e.code()) {
        (Some(s), Some(c)) => format!("HTTP {s} {c}"),
        (Some(s), None) => format!("HTTP {s}"),
        _ => e.to_string(),
    }
}

fn modified(b: &aib_azure::blob::list::BlobItem) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    b.last_modified
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc2822(s).ok())
}
