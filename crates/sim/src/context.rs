//! What every request handler gets: the immutable context of a simulator ([`Ctx`]) and the
//! simulator itself ([`Sim`]: the context plus its state behind short-lived locks).

use crate::clock::Clock;
use crate::faults::FaultRng;
use crate::model::federated::Federated;
use crate::scenario::{OutcomeRule, Scenario};
use crate::state::State;
use crate::stats::Stats;
use globset::{GlobMatcher, GlobSet};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

pub use crate::sync::lock;

/// Immutable context shared by all requests.
#[derive(Debug)]
pub struct Ctx {
    pub scenario: Scenario,
    pub clock: Clock,
    pub base_url: String,
    /// `https://HOST:PORT`: the same port over TLS (see [`crate::tls`]).
    pub https_base_url: String,
    pub missing: GlobSet,
    pub outcomes: Vec<(GlobMatcher, OutcomeRule)>,
    /// Deployments whose imageTemplate was refused with AIB's "Update/Upgrade of image
    /// templates is currently not supported" conflict (served as `update_conflicts` in
    /// `/_sim/stats`).
    pub update_conflicts: std::sync::atomic::AtomicU64,
}

impl Ctx {
    /// Whether the scenario says this resource id does not exist.
    pub fn is_missing(&self, id: &str) -> bool {
        !self.missing.is_empty() && self.missing.is_match(id)
    }

    /// The outcome rule for a template of this name and tags (default: succeed).
    pub fn outcome_for(&self, template: &str, tags: &serde_json::Value) -> OutcomeRule {
        for (m, rule) in &self.outcomes {
            if m.is_match(template) && rule.matches_tags(tags) {
                return rule.clone();
            }
        }
        OutcomeRule::default()
    }
}

/// The simulator: context plus state behind short-lived locks (never held across await).
#[derive(Debug)]
pub struct Sim {
    pub ctx: Ctx,
    pub state: Mutex<State>,
    pub stats: Mutex<Stats>,
    pub faults: Mutex<FaultRng>,
    /// Issued tokens: token -> (expiry, principal).
    pub tokens: Mutex<HashMap<String, (SystemTime, String)>>,
    pub limits: Mutex<crate::ratelimit::RateLimits>,
    /// Holds and cuts switched on through `POST /_sim/control`.
    pub control: crate::control::Control,
    /// CI jobs and the OIDC assertions issued to them (see [`crate::handlers::federated`]).
    pub federated: Federated,
}
