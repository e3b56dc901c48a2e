//! `aib sim`: serves the local Azure simulator until Ctrl-C or SIGTERM. Its first line on
//! stdout is `listening on http://HOST:PORT`; with `--ca-file FILE` the certificate that
//! `https://HOST:PORT` is signed with is in FILE by then. With `--state-dir DIR` it starts
//! from the world saved in DIR and saves it back when stopped.

use std::io::Write;

use aib_sim::Scenario;

use crate::cli::SimArgs;
use crate::exit::Exit;
use crate::signals;

pub fn run(args: &SimArgs) -> Exit {
    let scenario = match &args.scenario {
        Some(path) => match Scenario::load(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Invalid;
            }
        },
        None => Scenario::default(),
    };
    let runtime = match crate::steps::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let (world, saved) = match &args.state_dir {
            Some(dir) => match open_world(dir).await {
                Ok((w, saved)) => (Some(w), saved),
                Err(exit) => return exit,
            },
            None => (None, None),
        };
        let handle = match aib_sim::start_from(args.listen, scenario, saved).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Invalid;
            }
        };
        if let Some(path) = &args.ca_file
            && let Err(e) = std::fs::write(path, handle.ca_pem())
        {
            eprintln!("error: cannot write {}: {e}", path.display());
            handle.shutdown().await;
            return Exit::Invalid;
        }
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "listening on {}", handle.base_url());
        let _ = stdout.flush();
        tracing::info!(
            "simulator ready; IDENTITY_ENDPOINT={}/msi/token, AZURE_AUTHORITY_HOST={} (with AIB_CA_FILE)",
            handle.base_url(),
            handle.https_base_url()
        );
        signals::shutdown_requested().await;
        let mut exit = Exit::Success;
        if let Some(w) = &world {
            match handle.save(w).await {
                Ok(()) => tracing::info!("world saved in {}", w.path().display()),
                Err(e) => {
                    eprintln!("error: the world was not saved: {e}");
                    exit = Exit::Io;
                }
            }
        }
        handle.shutdown().await;
        exit
    })
}

/// `--state-dir`: the folder, held, and the world saved in it.
async fn open_world(
    dir: &std::path::Path,
) -> Result<(aib_sim::WorldDir, Option<aib_sim::World>), Exit> {
    let fail = |e: aib_sim::WorldError| {
        eprintln!("error: {e}");
        match e {
            aib_sim::WorldError::InUse { .. } => Exit::Locked,
            _ => Exit::Invalid,
        }
    };
    let w = aib_sim::WorldDir::open(dir).await.map_err(fail)?;
    let saved = w.load().await.map_err(fail)?;
    Ok((w, saved))
}
