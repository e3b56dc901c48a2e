//! The simulator against hostile clients.

use crate::common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Attack: slowloris. A client that opens a connection and sends half a request line (or
/// nothing) held it for ever; now the connection is closed after `header_read_timeout_ms`.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let t = start("header_read_timeout_ms = 200\n").await;
    let addr = t.sim.addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /_sim/stats HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // No more bytes: the server must close the connection by itself. The bound here only
    // keeps a broken server from hanging the suite.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was never closed");
    // The same server still answers a client that sends its request.
    let r = t
        .http
        .get(format!("{}/_sim/stats", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Attack: methods nobody serves (`TRACE`, made-up ones) are answered 405 with `Allow`, not
/// routed like a GET or a 404.
#[tokio::test]
async fn unknown_methods_are_405() {
    let t = start("").await;
    for m in ["TRACE", "BREW", "CONNECTX"] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = t
            .http
            .request(method, format!("{}/_sim/stats", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{m}");
        let allow = r
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "MethodNotAllowed");
    }
}
