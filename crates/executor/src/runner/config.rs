//! The tunables of a run ([`ExecutorConfig`]), below both the runner and the stages that read
//! them.

use std::collections::HashMap;
use std::time::Duration;

use aib_manifest::Manifest;

/// Tunables of a run.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Most units building at once (`--max-parallel`).
    pub max_parallel: usize,
    /// Environment → most of its units building at once (`max_parallel`).
    pub env_max_parallel: HashMap<String, usize>,
    /// Stop starting new units after the first failure.
    pub fail_fast: bool,
    /// Progress polling interval until the server gives one (Azure time, not scaled).
    pub default_poll_interval: Duration,
    /// Never poll faster than this (real time).
    pub min_poll_interval: Duration,
    /// Real seconds per Azure second (1.0 against Azure; the simulator's `minute_ms / 60000`).
    pub time_scale: f64,
    /// `--force`: an existing template whose last run succeeded is run again instead of
    /// having its result verified.
    pub force: bool,
    /// `--detach`: do what can be done now and leave running builds to a later `aib resume`
    /// (a started build is not followed; the run ends `detached` while units remain).
    pub detach: bool,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            max_parallel: 20,
            env_max_parallel: HashMap::new(),
            fail_fast: false,
            default_poll_interval: aib_azure::arm::DEFAULT_POLL_INTERVAL,
            min_poll_interval: Duration::from_millis(5),
            time_scale: 1.0,
            force: false,
            detach: false,
        }
    }
}

impl ExecutorConfig {
    /// Azure minutes per real minute when the run follows a simulator's clock (recorded as
    /// the run's `time_scale`); `None` on Azure's own clock.
    pub fn simulated_scale(&self) -> Option<f64> {
        (self.time_scale.is_finite() && self.time_scale > 0.0 && self.time_scale != 1.0)
            .then(|| 1.0 / self.time_scale)
    }

    /// The caps of a manifest: the overall one (`[pipeline] max_parallel`, default 20) unless
    /// `cli` (`--max-parallel`) gives one, and each environment's.
    pub fn with_caps(mut self, manifest: &Manifest, cli: Option<usize>) -> Self {
        self.max_parallel = cli.unwrap_or(manifest.file.max_parallel() as usize).max(1);
        self.with_manifest_limits(manifest)
    }

    /// The per-environment limits of a manifest.
    pub fn with_manifest_limits(mut self, manifest: &Manifest) -> Self {
        for (name, env) in &manifest.file.environments {
            if let Some(mp) = &env.max_parallel {
                self.env_max_parallel
                    .insert(name.get_ref().clone(), (*mp.get_ref()).max(1) as usize);
            }
        }
        self
    }
}
