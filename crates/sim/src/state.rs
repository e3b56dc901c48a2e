//! All mutable simulator state, behind one lock held only for short, await-free sections.

use crate::arm::deployments::Deployment;
use crate::arm::gallery::GalleryVersion;
use crate::arm::image_templates::{self, ImageTemplate};
use crate::arm::operations::Operation;
use crate::blob::Blob;
use crate::server::Ctx;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Simulator state. Map keys are lower-cased resource ids.
#[derive(Debug, Default)]
pub struct State {
    pub deployments: BTreeMap<String, Deployment>,
    pub templates: BTreeMap<String, ImageTemplate>,
    pub operations: HashMap<String, Operation>,
    /// image definition id (lower) -> versions
    pub versions: BTreeMap<String, Vec<GalleryVersion>>,
    /// "publisher:offer:sku" (lower) -> versions published through `/_sim/publish`
    pub published: HashMap<String, Vec<String>>,
    /// (account, container) -> blob name -> blob
    pub blobs: BTreeMap<(String, String), BTreeMap<String, Blob>>,
    /// Other resources created by deployments: id (lower) -> resource body
    pub generic: BTreeMap<String, Value>,
    /// subscription -> (reads, writes, last refill)
    pub ratelimits: HashMap<String, (f64, f64, Option<Instant>)>,
}

impl State {
    /// Bring every time-driven resource up to `now` (simulated minutes).
    pub fn tick(&mut self, ctx: &Ctx, now: f64) {
        image_templates::tick(ctx, self, now);
    }

    /// ARM's subscription token buckets: reads 250 burst / 25 per s, writes 200 / 10 per s.
    /// Returns the remaining count after this request (never throttles by itself).
    pub fn take_ratelimit(&mut self, sub: &str, write: bool) -> u64 {
        let e = self
            .ratelimits
            .entry(sub.to_ascii_lowercase())
            .or_insert((250.0, 200.0, None));
        let now = Instant::now();
        if let Some(last) = e.2 {
            let dt = now.duration_since(last).as_secs_f64();
            e.0 = (e.0 + dt * 25.0).min(250.0);
            e.1 = (e.1 + dt * 10.0).min(200.0);
        }
        e.2 = Some(now);
        let slot = if write { &mut e.1 } else { &mut e.0 };
        *slot = (*slot - 1.0).max(0.0);
        slot.floor() as u64
    }
}
