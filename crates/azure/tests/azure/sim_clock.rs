//! The client and the simulator agree on what Azure serves and on time: the two api-version
//! tables (one in each crate; they share no code) list the same versions per type, and a
//! client pointed at a simulator reads its clock.

use super::common::*;
use aib_azure::clock::{TimeScale, probe};
use aib_azure::{Endpoints, api_versions};

#[test]
fn the_client_and_the_simulator_serve_the_same_api_versions() {
    let client: Vec<&str> = api_versions::known_types().collect();
    let sim: Vec<&str> = aib_sim::api_versions::known_types().collect();
    assert_eq!(client, sim, "the two tables know different resource types");
    for t in client {
        assert_eq!(
            api_versions::served(t),
            aib_sim::api_versions::served(t),
            "{t}"
        );
        let pinned = api_versions::current(t).unwrap_or_default();
        assert!(aib_sim::api_versions::is_served(t, pinned), "{t} {pinned}");
    }
}

#[tokio::test]
async fn a_client_reads_the_simulators_clock() -> TestResult {
    let sim = start_sim("minute_ms = 7").await?;
    let e = Endpoints::custom(&sim.base_url(), false)?;
    assert_eq!(probe(&e).await, TimeScale::from_minute_ms(7));
    sim.shutdown().await;
    let sim = start_sim("minute_ms = 7\nclock_minute_ms = 60").await?;
    let e = Endpoints::custom(&sim.base_url(), false)?;
    assert_eq!(probe(&e).await, TimeScale::from_minute_ms(60));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_endpoint_without_a_clock_runs_on_azure_time() -> TestResult {
    // Something listening that is not a simulator: answers 404 to everything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
    });
    let e = Endpoints::custom(&format!("http://{addr}"), false)?;
    assert_eq!(probe(&e).await, TimeScale::REAL);
    // Nobody listening at all.
    drop(server);
    let e = Endpoints::custom("http://127.0.0.1:9", false)?;
    assert_eq!(probe(&e).await, TimeScale::REAL);
    Ok(())
}
