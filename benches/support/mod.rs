//! Shared by the benchmarks that drive the in-process simulator.

use std::sync::Arc;

use aib_azure::{ArmClient, ArmConfig, Credential, Endpoints};

/// An ARM client for the simulator at `base`, with a token from its managed-identity endpoint,
/// on the simulator's clock (`GET /_sim/clock`, as `aib build` reads it): the client's buckets,
/// backoff and budget run on compressed Azure time, the simulator's hints are waited as given.
pub async fn sim_client(base: &str, t: &aib_azure::transport::Transport) -> ArmClient {
    let tok: serde_json::Value = t
        .client()
        .get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com/"
        ))
        .header("X-IDENTITY-HEADER", "bench")
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let cred = Credential::from_static_token(
        tok["access_token"].as_str().unwrap_or_default(),
        tok["expires_on"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    );
    let endpoints = Endpoints::custom(base, true).expect("endpoints");
    let clock = aib_azure::clock::probe(&endpoints).await;
    ArmClient::with_config(
        endpoints,
        Arc::new(cred),
        ArmConfig::default().on_clock(clock),
    )
    .expect("client")
}

/// `aib sim` as a child process (so the benchmark process measures only the orchestrator's CPU
/// and memory), killed on drop.
#[allow(dead_code)]
pub struct ChildSim {
    child: std::process::Child,
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

#[allow(dead_code)]
impl ChildSim {
    /// Starts `aib sim` with the scenario `toml` (written to `dir/scenario.toml`).
    pub fn start(dir: &std::path::Path, toml: &str) -> Self {
        use std::io::BufRead;
        let path = dir.join("scenario.toml");
        std::fs::write(&path, toml).expect("write scenario");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aib"))
            .args(["sim", "--listen", "127.0.0.1:0", "--scenario"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn aib sim");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .trim_end_matches('/')
            .to_string();
        Self { child, url }
    }

    /// CPU seconds (user + system) the simulator process used so far.
    pub fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for ChildSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a `/proc/.../stat` file, in seconds (100 clock ticks per second).
#[allow(dead_code)]
pub fn proc_cpu_seconds(stat: &str) -> f64 {
    std::fs::read_to_string(stat)
        .ok()
        .and_then(|s| {
            let rest = s.rsplit(')').next()?.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let u: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((u + st) / 100.0)
        })
        .unwrap_or(0.0)
}

/// The simulator's `/_sim/stats`.
#[allow(dead_code)] // not every bench reads stats
pub async fn sim_stats(base: &str, t: &aib_azure::transport::Transport) -> serde_json::Value {
    t.client()
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

/// ARM requests in a stats document: every operation but Blob and the token endpoint.
#[allow(dead_code)] // not every bench reads stats
pub fn arm_requests(stats: &serde_json::Value) -> u64 {
    stats["requests"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("blob.") && k.as_str() != "token")
        .filter_map(|(_, v)| v.as_u64())
        .sum()
}
