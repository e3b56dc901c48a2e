//! Fetching `packerlogs/<guid>/customization.log` (and `validation.log`): the template's
//! `exactStagingResourceGroup` → its storage account → the `packerlogs` container, read with the
//! account key (`listKeys`) or, when `listKeys` is refused or the account forbids Shared Key
//! (`allowSharedKeyAccess: false`, 403 `KeyBasedAuthenticationNotPermitted`), with an Entra
//! token for storage. When that is refused too, the error names the role aib's identity needs.

use aib_azure::ArmClient;
use aib_azure::blob::BlobClient;
use aib_azure::blob::list::BlobItem;
use aib_azure::types::StorageAccount;

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

/// Splits `/subscriptions/{s}/resourceGroups/{rg}` into its parts.
pub fn parse_resource_group_id(id: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    let mut sub = None;
    let mut rg = None;
    let mut i = 0;
    while i + 1 < parts.len() {
        let k = parts[i].to_ascii_lowercase();
        if k == "subscriptions" {
            sub = Some(parts[i + 1].to_string());
        } else if k == "resourcegroups" {
            rg = Some(parts[i + 1].to_string());
        }
        i += 2;
    }
    Some((sub?, rg?))
}

/// Fetches the newest `customization.log` (and `validation.log`, when present) of a template
/// whose staging resource group is `staging_rg_id`. `Ok(vec![])` when there is none.
pub async fn collect_logs(
    arm: &ArmClient,
    staging_rg_id: &str,
) -> Result<Vec<CollectedLog>, String> {
    let (sub, rg) = parse_resource_group_id(staging_rg_id)
        .ok_or_else(|| format!("`{staging_rg_id}` is not a resource group id"))?;
    let accounts = arm
        .list_storage_accounts(&sub, &rg)
        .await
        .map_err(|e| format!("listing storage accounts of {rg}: {e}"))?;
    let Some(account) = accounts.first() else {
        return Err(format!(
            "staging resource group {rg} has no storage account"
        ));
    };
    let Some((blob, items)) = list_packerlogs(arm, &sub, &rg, account).await? else {
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
        let bytes = blob
            .download("packerlogs", &item.name)
            .await
            .map_err(|e| format!("downloading packerlogs/{}: {e}", item.name))?;
        out.push(CollectedLog {
            file: file.to_string(),
            blob: item.name.clone(),
            bytes: bytes.to_vec(),
        });
    }
    Ok(out)
}

/// The `packerlogs` listing and the client that could read it; `None` when the container does
/// not exist. Shared Key first (unless the account forbids it), then an Entra token.
async fn list_packerlogs(
    arm: &ArmClient,
    sub: &str,
    rg: &str,
    account: &StorageAccount,
) -> Result<Option<(BlobClient, Vec<BlobItem>)>, String> {
    let name = &account.name;
    let why_not_key = if account.properties.allow_shared_key_access == Some(false) {
        format!("{name} forbids Shared Key")
    } else {
        match arm.blob_client_for_account(sub, rg, account).await {
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
            "cannot read the build log: {why_not_key}, and aib's identity may not read it with a token ({}); give aib's identity the Storage Blob Data Reader role on the staging resource group {rg} (or on its storage account {name})",
            short_code(&e)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_ids() {
        assert_eq!(
            parse_resource_group_id("/subscriptions/s1/resourceGroups/IT_rg_x"),
            Some(("s1".into(), "IT_rg_x".into()))
        );
        assert_eq!(parse_resource_group_id("IT_rg"), None);
    }
}
