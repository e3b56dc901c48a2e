//! Fetching `packerlogs/<guid>/customization.log` (and `validation.log`): the template's
//! `exactStagingResourceGroup` → its storage account → listKeys → the `packerlogs` container.

use aib_azure::ArmClient;

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
    let blob = arm
        .blob_client_for_account(&sub, &rg, account)
        .await
        .map_err(|e| format!("keys of storage account {}: {e}", account.name))?;
    let items = match blob.list_blobs("packerlogs", None).await {
        Ok(items) => items,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(format!("listing packerlogs in {}: {e}", account.name)),
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
