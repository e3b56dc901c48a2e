//! `aib sim`: serves the local Azure simulator until Ctrl-C or SIGTERM. Its first line on
//! stdout is `listening on http://HOST:PORT`; with `--ca-file FILE` the certificate that
//! `https://HOST:PORT` is signed with is in FILE by then.

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
    let runtime = match super::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let handle = match aib_sim::start(args.listen, scenario).await {
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
        handle.shutdown().await;
        Exit::Success
    })
}
