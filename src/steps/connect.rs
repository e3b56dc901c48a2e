//! Connecting: an ARM client for Azure (or `--arm-endpoint`), or `--simulate`'s in-process
//! simulator, on the clock the endpoint runs on.

use std::sync::Arc;

use aib_azure::{ArmClient, ArmConfig, Credential, Endpoints, TimeScale};
use aib_manifest::Manifest;

use super::simulate;
use crate::cli::GlobalArgs;
use crate::exit::Exit;

fn cloud_of(m: &Manifest) -> aib_azure::Cloud {
    use aib_manifest::Cloud as M;
    match m.file.azure.cloud.as_ref().map(|c| *c.get_ref()) {
        Some(M::Usgov) => aib_azure::Cloud::UsGov,
        Some(M::China) => aib_azure::Cloud::China,
        Some(M::Custom) => aib_azure::Cloud::Custom,
        _ => aib_azure::Cloud::Public,
    }
}

/// An ARM client: the in-process simulator, or Azure (or `--arm-endpoint`).
pub struct Connection {
    pub arm: ArmClient,
    /// `--simulate`'s simulator: stop it with [`Connection::close`] (which saves its world).
    pub sim: Option<simulate::Simulator>,
    /// What `--simulate` scripted.
    pub note: Option<String>,
    /// The clock the endpoint runs on (a simulator's is faster than Azure's).
    pub clock: TimeScale,
}

impl Connection {
    /// Stops `--simulate`'s simulator, saving the world it keeps.
    pub async fn close(self) {
        if let Some(sim) = self.sim {
            sim.stop().await;
        }
    }
}

/// Connects to Azure, or with `simulate` starts the in-process simulator in its world. A
/// custom ARM endpoint that is a simulator tells its clock (`GET /_sim/clock`), and every
/// wait and deadline of the client and the run follows it.
pub async fn connect(
    global: &GlobalArgs,
    manifest: &Manifest,
    simulate: Option<simulate::Use<'_>>,
) -> Result<Connection, Exit> {
    if let Some(usage) = simulate {
        return connect_simulator(usage).await;
    }
    let manifest_ep = manifest
        .file
        .azure
        .arm_endpoint
        .as_ref()
        .map(|e| e.get_ref().clone());
    let ep = global.arm_endpoint.clone().or(manifest_ep);
    let fail = |e: String| {
        eprintln!("error: {e}");
        Exit::Azure
    };
    let endpoints = Endpoints::resolve(cloud_of(manifest), ep.as_deref(), global.insecure)
        .map_err(|e| fail(e.to_string()))?;
    let clock = aib_azure::clock::probe(&endpoints).await;
    let cred = Credential::from_env(cloud_of(manifest)).map_err(|e| fail(e.to_string()))?;
    let arm = ArmClient::with_config(
        endpoints,
        Arc::new(cred),
        ArmConfig::default().on_clock(clock),
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok(Connection {
        arm,
        sim: None,
        note: None,
        clock,
    })
}

/// The in-process simulator of `--simulate`, with a managed-identity token from it.
pub async fn connect_simulator(usage: simulate::Use<'_>) -> Result<Connection, Exit> {
    let (sim, note) = simulate::start(usage).await?;
    let clock = TimeScale::from_minute_ms(simulate::SIMULATE_MINUTE_MS);
    let base = sim.handle.base_url();
    let arm = async {
        let cred = simulate::credential(&base).await?;
        let endpoints = Endpoints::custom(&base, true)?;
        let config = ArmConfig::default().on_clock(clock);
        Ok::<_, simulate::SimConnectError>(ArmClient::with_config(
            endpoints,
            Arc::new(cred),
            config,
        )?)
    }
    .await;
    match arm {
        Ok(arm) => Ok(Connection {
            arm,
            sim: Some(sim),
            note,
            clock,
        }),
        Err(e) => {
            eprintln!("error: {e}");
            sim.stop().await;
            Err(Exit::Azure)
        }
    }
}
