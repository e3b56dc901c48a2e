//! `--state PATH|azblob://ACCOUNT/CONTAINER[/PREFIX]`.

use crate::error::{Result, StateError};
use std::fmt;
use std::path::{Path, PathBuf};

/// Name of the default state directory beside the manifest.
pub const DEFAULT_DIR: &str = ".aib";

/// The folder of a state that holds its shards: `<state>/shards/<key>` is a state of its own
/// (its own runs, index and lock), which readers of `<state>` see too.
pub const SHARDS_DIR: &str = "shards";

/// Whether `key` can name a shard: 1-100 of `a-z`, `0-9`, `-`, `_`, `.`, not starting with a
/// dot.
pub fn is_shard_key(key: &str) -> bool {
    (1..=100).contains(&key.len())
        && !key.starts_with('.')
        && key.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A local directory.
    Local(PathBuf),
    /// A blob container (and optional prefix inside it).
    Blob(BlobLocation),
}

/// `azblob://ACCOUNT/CONTAINER[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLocation {
    /// Storage account name.
    pub account: String,
    /// Container name.
    pub container: String,
    /// Prefix inside the container, without leading or trailing `/` (empty for none).
    pub prefix: String,
}

impl BlobLocation {
    /// The full blob name of `rel` under the prefix.
    pub fn blob_name(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }
}

impl fmt::Display for BlobLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "azblob://{}/{}", self.account, self.container)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Local(p) => write!(f, "{}", p.display()),
            StateLocation::Blob(b) => b.fmt(f),
        }
    }
}

impl StateLocation {
    /// The location of this state's shard `key` (`<state>/shards/<key>`).
    pub fn shard(&self, key: &str) -> StateLocation {
        match self {
            StateLocation::Local(p) => StateLocation::Local(p.join(SHARDS_DIR).join(key)),
            StateLocation::Blob(b) => StateLocation::Blob(BlobLocation {
                prefix: b.blob_name(&format!("{SHARDS_DIR}/{key}")),
                ..b.clone()
            }),
        }
    }

    /// When this location is a shard (`<root>/shards/<key>`), its root and key.
    pub fn shard_of(&self) -> Option<(StateLocation, String)> {
        match self {
            StateLocation::Local(p) => {
                let key = p.file_name()?.to_str()?.to_owned();
                let dir = p.parent()?;
                let root = dir.parent()?;
                let root = if root.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    root
                };
                (dir.file_name()? == SHARDS_DIR && is_shard_key(&key))
                    .then(|| (StateLocation::Local(root.to_path_buf()), key))
            }
            StateLocation::Blob(b) => {
                let (rest, key) = b.prefix.rsplit_once('/')?;
                let root = match rest.rsplit_once('/') {
                    Some((root, SHARDS_DIR)) => root,
                    None if rest == SHARDS_DIR => "",
                    _ => return None,
                };
                is_shard_key(key).then(|| {
                    (
                        StateLocation::Blob(BlobLocation {
                            prefix: root.to_owned(),
                            ..b.clone()
                        }),
                        key.to_owned(),
                    )
                })
            }
        }
    }

    /// Parse `--state`; `None` means `<manifest_dir>/.aib`. A relative `PATH` is kept as given
    /// (relative to the working directory, like any CLI path).
    pub fn parse(arg: Option<&str>, manifest_dir: &Path) -> Result<StateLocation> {
        let Some(arg) = arg else {
            return Ok(StateLocation::Local(manifest_dir.join(DEFAULT_DIR)));
        };
        let bad = |reason: &str| StateError::InvalidLocation {
            arg: arg.to_owned(),
            reason: reason.to_owned(),
        };
        if arg.trim().is_empty() {
            return Err(bad("empty path"));
        }
        if let Some(rest) = strip_prefix_ci(arg, "azblob://") {
            return parse_blob(arg, rest).map(StateLocation::Blob);
        }
        if let Some((scheme, _)) = arg.split_once("://")
            && !scheme.is_empty()
            && scheme
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+')
        {
            return Err(bad(&format!(
                "unsupported scheme {scheme}://; use a directory or azblob://ACCOUNT/CONTAINER[/PREFIX]"
            )));
        }
        Ok(StateLocation::Local(PathBuf::from(arg)))
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `--state` `arg` refused for `reason`.
fn invalid(arg: &str, reason: impl Into<String>) -> StateError {
    StateError::InvalidLocation {
        arg: arg.to_owned(),
        reason: reason.into(),
    }
}

/// `azblob://` `rest` of `--state` `arg`.
fn parse_blob(arg: &str, rest: &str) -> Result<BlobLocation> {
    if rest.contains(['?', '#']) {
        return Err(invalid(
            arg,
            "a query or fragment is not allowed (pass a SAS token in AZURE_STORAGE_SAS_TOKEN)",
        ));
    }
    let rest = rest.trim_end_matches('/');
    let mut parts = rest.splitn(3, '/');
    let account = parts.next().unwrap_or_default();
    let container = parts.next().unwrap_or_default();
    let prefix = parts.next().unwrap_or_default();
    if account.is_empty() || container.is_empty() {
        return Err(invalid(arg, "expected azblob://ACCOUNT/CONTAINER[/PREFIX]"));
    }
    let account_ok = (3..=24).contains(&account.len())
        && account
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !account_ok {
        return Err(invalid(
            arg,
            format!("storage account name {account:?} must be 3-24 lowercase letters and digits"),
        ));
    }
    let container_ok = (3..=63).contains(&container.len())
        && container
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !container.starts_with('-')
        && !container.ends_with('-')
        && !container.contains("--");
    if !container_ok {
        return Err(invalid(
            arg,
            format!(
                "container name {container:?} must be 3-63 lowercase letters, digits and single hyphens"
            ),
        ));
    }
    if !prefix.is_empty()
        && prefix
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(invalid(
            arg,
            format!("prefix {prefix:?} has an empty, '.' or '..' segment"),
        ));
    }
    Ok(BlobLocation {
        account: account.to_owned(),
        container: container.to_owned(),
        prefix: prefix.to_owned(),
    })
}
