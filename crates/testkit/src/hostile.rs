//! A hostile HTTP peer for tests: a real TCP server (threads, no async runtime of its own)
//! that answers each request the way a test script says: a redirect, nothing at all, an
//! endless body. It records every request it got, so a test can prove what was (not) sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the peer read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the peer answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A status, headers and a body (`Content-Length` and `Connection: close` are added).
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request and never answer; the connection stays open until the peer is dropped.
    Silent,
    /// `200` with a JSON-looking body of `len` bytes, announced in `Content-Length` when
    /// `announce`, else sent chunked, streamed until the client stops reading.
    Huge { len: u64, announce: bool },
}

impl Answer {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &str) -> Self {
        Answer::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Answer::Respond {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Script = dyn Fn(&SeenRequest) -> Answer + Send + Sync;

/// The peer; stops serving when dropped.
pub struct HostilePeer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl std::fmt::Debug for HostilePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostilePeer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HostilePeer {
    /// Listens on a free loopback port and answers every request with `script`.
    pub fn start(
        script: impl Fn(&SeenRequest) -> Answer + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        {
            let (seen, stop, held) = (seen.clone(), stop.clone(), held.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, held, script) = (seen.clone(), held.clone(), script.clone());
                    let stop = stop.clone();
                    std::thread::spawn(move || serve(conn, &script, &seen, &held, &stop));
                }
            });
        }
        Ok(Self {
            addr,
            seen,
            stop,
            held,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        match self.seen.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Ok(mut held) = self.held.lock() {
            for s in held.drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

fn read_request(conn: &TcpStream) -> Option<SeenRequest> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(SeenRequest {
        method,
        target,
        headers,
        body,
    })
}

fn serve(
    mut conn: TcpStream,
    script: &Arc<Script>,
    seen: &Mutex<Vec<SeenRequest>>,
    held: &Mutex<Vec<TcpStream>>,
    stop: &AtomicBool,
) {
    let Some(req) = read_request(&conn) else {
        return;
    };
    let answer = script(&req);
    if let Ok(mut s) = seen.lock() {
        s.push(req);
    }
    match answer {
        Answer::Respond {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\n");
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            ));
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
        Answer::Silent => {
            if let (Ok(mut h), Ok(c)) = (held.lock(), conn.try_clone()) {
                h.push(c);
            }
        }
        Answer::Huge { len, announce } => {
            let head = if announce {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_string()
            };
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b' '; 64 << 10];
            let mut sent = 0u64;
            while sent < len && !stop.load(Ordering::SeqCst) {
                let n = (len - sent).min(chunk.len() as u64) as usize;
                let ok = if announce {
                    conn.write_all(&chunk[..n])
                } else {
                    conn.write_all(format!("{n:x}\r\n").as_bytes())
                        .and_then(|()| conn.write_all(&chunk[..n]))
                        .and_then(|()| conn.write_all(b"\r\n"))
                };
                if ok.is_err() {
                    return;
                }
                sent += n as u64;
            }
            if !announce {
                let _ = conn.write_all(b"0\r\n\r\n");
            }
        }
    }
}
