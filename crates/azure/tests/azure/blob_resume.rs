//! Download resume after a connection drop, against a minimal raw-TCP HTTP server that cuts
//! the body short (no simulator fault needed, so the Range/If-Match sequence is exact).

use crate::common::*;
use aib_azure::{BlobAuth, BlobClient};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LEN: usize = 1000;

fn body() -> Vec<u8> {
    (0..LEN).map(|i| (i % 256) as u8).collect()
}

/// Serves one blob; the first `cut_first` responses send only `keep_fifths`/5 of the body, then close.
async fn flaky_server(
    cut_first: usize,
    keep_fifths: usize,
) -> TestResult<(String, Arc<Mutex<Vec<String>>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut served = 0usize;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let req = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            let header = |name: &str| {
                req.lines().find_map(|l| {
                    l.strip_prefix(&format!("{name}:"))
                        .map(|v| v.trim().to_owned())
                })
            };
            let range_start: usize = header("range")
                .and_then(|r| {
                    r.strip_prefix("bytes=")
                        .and_then(|r| r.strip_suffix('-'))
                        .and_then(|n| n.parse().ok())
                })
                .unwrap_or(0);
            if let Ok(mut l) = log.lock() {
                l.push(format!(
                    "range={} if-match={}",
                    header("range").unwrap_or_default(),
                    header("if-match").unwrap_or_default()
                ));
            }
            let data = body();
            let part = &data[range_start..];
            let head = if range_start == 0 {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {LEN}\r\nETag: \"0x8D1\"\r\nConnection: close\r\n\r\n"
                )
            } else {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {range_start}-{}/{LEN}\r\nETag: \"0x8D1\"\r\nConnection: close\r\n\r\n",
                    part.len(),
                    LEN - 1
                )
            };
            let _ = sock.write_all(head.as_bytes()).await;
            let send = if served < cut_first {
                part.len() * keep_fifths / 5
            } else {
                part.len()
            };
            let _ = sock.write_all(&part[..send]).await;
            let _ = sock.flush().await;
            served += 1;
            drop(sock);
        }
    });
    Ok((format!("http://127.0.0.1:{}/acct", addr.port()), seen))
}

#[tokio::test]
async fn resumes_with_range_and_if_match() -> TestResult {
    let (endpoint, seen) = flaky_server(2, 2).await?;
    let blob =
        BlobClient::new(&endpoint, BlobAuth::sas("sv=1&sig=x")?, false)?.with_retry(fast_retry());
    let got = blob.download("c", "log.txt").await?;
    assert_eq!(got.as_ref(), body().as_slice());
    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    // 0..400 cut, 400..640 cut, then 640..1000.
    assert_eq!(
        seen,
        vec![
            "range= if-match=".to_owned(),
            "range=bytes=400- if-match=\"0x8d1\"".to_owned(),
            "range=bytes=640- if-match=\"0x8d1\"".to_owned(),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn gives_up_when_every_attempt_is_cut() -> TestResult {
    let (endpoint, _) = flaky_server(usize::MAX, 0).await?;
    let mut retry = fast_retry();
    retry.max_attempts = 3;
    let blob = BlobClient::new(&endpoint, BlobAuth::sas("sv=1&sig=x")?, false)?.with_retry(retry);
    let err = blob.download("c", "log.txt").await;
    // No attempt makes progress: give up with an explicit incomplete-download error.
    match err {
        Ok(_) => return Err("short data accepted".into()),
        Err(e) => assert!(
            matches!(
                e,
                aib_azure::Error::Incomplete {
                    expected: 1000,
                    actual: 0,
                    ..
                }
            ),
            "{e}"
        ),
    }
    Ok(())
}
