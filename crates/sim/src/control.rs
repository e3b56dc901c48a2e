//! `POST /_sim/control`: faults and holds a test switches on at a moment of its choosing, so it
//! can act (e.g. kill the client) at an exact point instead of sleeping.
//!
//! Body (every key optional):
//! ```json
//! { "hold": ["imageTemplates.run"], "release": ["imageTemplates.run"], "cut_blob_bodies": 3 }
//! ```
//! - `hold`: requests of these operations (the names of [`crate::stats`]) are handled — they
//!   take effect — and then their answers are held back until the operation is released. The
//!   number of answers being held is `held` in `/_sim/stats`. A test waits until `held` grows,
//!   kills the client, and so gets "the request reached Azure, the client never heard back".
//! - `release`: stop holding these operations (held answers are sent; `"*"` releases all).
//! - `cut_blob_bodies`: the next N Blob GETs that answer 200/206 send their headers and half of
//!   their body, then break the connection (a reset in the middle of a download, every time,
//!   where `[faults] reset_mid_body` only does it at random).
//!
//! The answer is the control state after the change: `{ "hold": [...], "cut_blob_bodies": n }`.

use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What `/_sim/control` has switched on.
#[derive(Debug)]
pub struct Control {
    /// Operations whose answers are held; a watch so held requests wake on release.
    pub hold: tokio::sync::watch::Sender<BTreeSet<String>>,
    /// Blob GETs left to cut mid-body.
    pub cut_blob_bodies: std::sync::atomic::AtomicU64,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            hold: tokio::sync::watch::Sender::new(BTreeSet::new()),
            cut_blob_bodies: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

/// A `/_sim/control` request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlRequest {
    pub hold: Vec<String>,
    pub release: Vec<String>,
    pub cut_blob_bodies: Option<u64>,
}

impl Control {
    /// Apply a request; returns the state after it.
    pub fn apply(&self, req: ControlRequest) -> Value {
        self.hold.send_modify(|h| {
            for op in &req.release {
                if op == "*" {
                    h.clear();
                } else {
                    h.remove(op);
                }
            }
            h.extend(req.hold.iter().cloned());
        });
        if let Some(n) = req.cut_blob_bodies {
            self.cut_blob_bodies
                .store(n, std::sync::atomic::Ordering::SeqCst);
        }
        self.describe()
    }

    pub fn describe(&self) -> Value {
        json!({
            "hold": self.hold.borrow().iter().collect::<Vec<_>>(),
            "cut_blob_bodies": self.cut_blob_bodies.load(std::sync::atomic::Ordering::SeqCst),
        })
    }

    /// Whether answers of `op` are held now.
    pub fn holds(&self, op: &str) -> bool {
        self.hold.borrow().contains(op)
    }

    /// Wait until `op` is no longer held.
    pub async fn released(&self, op: &str) {
        let mut rx = self.hold.subscribe();
        let _ = rx.wait_for(|h| !h.contains(op)).await;
    }

    /// Take one mid-body cut if any are left.
    pub fn take_cut(&self) -> bool {
        self.cut_blob_bodies
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_release_and_cuts() {
        let c = Control::default();
        let req: ControlRequest = serde_json::from_str(
            r#"{"hold":["imageTemplates.run","deployments.put"],"cut_blob_bodies":2}"#,
        )
        .expect("parse");
        let v = c.apply(req);
        assert_eq!(v["hold"], json!(["deployments.put", "imageTemplates.run"]));
        assert!(c.holds("imageTemplates.run"));
        assert!(c.take_cut());
        assert!(c.take_cut());
        assert!(!c.take_cut());
        c.apply(ControlRequest {
            release: vec!["imageTemplates.run".into()],
            ..Default::default()
        });
        assert!(!c.holds("imageTemplates.run"));
        assert!(c.holds("deployments.put"));
        c.apply(ControlRequest {
            release: vec!["*".into()],
            ..Default::default()
        });
        assert!(!c.holds("deployments.put"));
    }

    #[tokio::test]
    async fn a_held_request_waits_for_its_release() {
        let c = std::sync::Arc::new(Control::default());
        c.apply(ControlRequest {
            hold: vec!["x".into()],
            ..Default::default()
        });
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.released("x").await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        c.apply(ControlRequest {
            release: vec!["x".into()],
            ..Default::default()
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("released in time")
            .expect("task");
    }
}
