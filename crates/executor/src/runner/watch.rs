//! Build progress for a whole resource group at once: one imageTemplates *list* per resource
//! group per polling interval, shared by every unit building there, instead of one GET per
//! unit. The interval is the server's polling hint (Retry-After of the run operation); units
//! subscribe to a `watch` channel and the poller stops when the last one leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aib_azure::types::{ImageTemplate, LastRunStatus};
use aib_azure::{ArmClient, ResourceGroupId};
use tokio::sync::watch;

use crate::sync::lock;

/// What one list said about one template.
#[derive(Debug, Clone, Default)]
pub struct TemplateStatus {
    pub provisioning_state: Option<String>,
    pub provisioning_error: Option<String>,
    pub last_run: Option<LastRunStatus>,
    pub staging_rg: Option<String>,
}

impl From<ImageTemplate> for TemplateStatus {
    fn from(t: ImageTemplate) -> Self {
        let p = t.properties;
        TemplateStatus {
            provisioning_state: p.provisioning_state,
            provisioning_error: p.provisioning_error.map(|e| {
                format!(
                    "{}{}",
                    e.provisioning_error_code
                        .map(|c| format!("{c}: "))
                        .unwrap_or_default(),
                    e.message.unwrap_or_default()
                )
            }),
            last_run: p.last_run_status,
            staging_rg: p.exact_staging_resource_group,
        }
    }
}

/// One list of a resource group.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases with every list.
    pub seq: u64,
    /// Template name (lowercase) → status.
    pub templates: HashMap<String, TemplateStatus>,
    /// The list failed (after the client's retries).
    pub error: Option<String>,
    /// The failure was authentication or configuration.
    pub fatal: bool,
}

struct Entry {
    tx: watch::Sender<Arc<Snapshot>>,
    interval: Arc<Mutex<Option<Duration>>>,
}

/// The pollers of a run, one per resource group with units building.
pub struct Watchers {
    arm: ArmClient,
    default_interval: Duration,
    min_interval: Duration,
    /// Keyed by group, compared as ARM compares names (case-insensitively).
    entries: Mutex<HashMap<ResourceGroupId, Entry>>,
    /// The server's hint per resource group, kept when its poller stops (its last unit left)
    /// so the next one starts at the server's pace instead of the default.
    hints: Mutex<HashMap<ResourceGroupId, Duration>>,
    lists: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers").finish_non_exhaustive()
    }
}

impl Watchers {
    /// `default_interval` (real time) is used until a unit reports the server's hint.
    pub fn new(arm: ArmClient, default_interval: Duration, min_interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            arm,
            default_interval,
            min_interval,
            entries: Mutex::new(HashMap::new()),
            hints: Mutex::new(HashMap::new()),
            lists: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many lists were made so far.
    pub fn lists(&self) -> u64 {
        self.lists.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the poller of that resource group already knows the server's hint.
    pub fn has_hint(&self, group: &ResourceGroupId) -> bool {
        lock(&self.hints).contains_key(group)
    }

    /// Follow a resource group; `hint` is the server's polling interval in real time (as
    /// [`aib_azure::RetryPolicy::server_wait`] waits it), if this caller learnt it. Without
    /// one, the interval is the last hint seen for that group, else the default.
    pub fn subscribe(
        self: &Arc<Self>,
        group: &ResourceGroupId,
        hint: Option<Duration>,
    ) -> watch::Receiver<Arc<Snapshot>> {
        let key = group.clone();
        let hint = {
            let mut hints = lock(&self.hints);
            if let Some(h) = hint {
                let e = hints.entry(key.clone()).or_insert(h);
                *e = (*e).min(h);
            }
            hints.get(&key).copied()
        };
        let mut entries = lock(&self.entries);
        if let Some(e) = entries.get(&key) {
            if let Some(h) = hint {
                let mut i = lock(&e.interval);
                *i = Some(i.map_or(h, |cur| cur.min(h)));
            }
            return e.tx.subscribe();
        }
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        let interval = Arc::new(Mutex::new(hint));
        entries.insert(
            key.clone(),
            Entry {
                tx: tx.clone(),
                interval: interval.clone(),
            },
        );
        drop(entries);
        let me = self.clone();
        tokio::spawn(async move { me.poll(key, tx, interval).await });
        rx
    }

    async fn poll(
        self: Arc<Self>,
        group: ResourceGroupId,
        tx: watch::Sender<Arc<Snapshot>>,
        interval: Arc<Mutex<Option<Duration>>>,
    ) {
        let mut seq = 0u64;
        // Lists start one interval apart (not one interval after the previous list ended), so
        // a slow list does not stretch every unit's view of its build.
        let mut began = tokio::time::Instant::now();
        loop {
            let wait = lock(&interval)
                .unwrap_or(self.default_interval)
                .max(self.min_interval);
            tokio::time::sleep_until(began + wait).await;
            began = tokio::time::Instant::now();
            {
                let mut entries = lock(&self.entries);
                if tx.receiver_count() == 0 {
                    entries.remove(&group);
                    return;
                }
            }
            self.lists
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            seq += 1;
            let snap = match self.arm.list_image_templates(&group).await {
                Ok(list) => Snapshot {
                    seq,
                    templates: list
                        .into_iter()
                        .filter_map(|t| Some((t.name.clone()?.to_ascii_lowercase(), t.into())))
                        .collect(),
                    error: None,
                    fatal: false,
                },
                Err(e) => Snapshot {
                    seq,
                    templates: HashMap::new(),
                    fatal: e.is_auth_or_config(),
                    error: Some(e.to_string()),
                },
            };
            tx.send_replace(Arc::new(snap));
        }
    }
}
