//! HTTP serving: binding, per-connection kill switch (for `reset` faults), shutdown.

use crate::clock::Clock;
use crate::context::{Ctx, Sim, lock};
use crate::faults::FaultRng;
use crate::response::ResetConnection;
use crate::scenario::{OutcomeRule, Scenario};
use crate::state::State as SimState;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::Request;
use axum::response::Response;
use axum::serve::Listener;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Errors from starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    base_url: String,
    https_base_url: String,
    ca_pem: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT` (`127.0.0.1` when bound to an unspecified address). This is the ARM
    /// endpoint; the token endpoint is `{base_url}/msi/token`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `https://HOST:PORT`: the same endpoints over TLS, with a certificate signed by
    /// [`SimHandle::ca_pem`]. Entra's token endpoint (`{https_base_url}/{tenant}/oauth2/v2.0/token`,
    /// i.e. `AZURE_AUTHORITY_HOST={https_base_url}`) and the CI OIDC endpoints are used this way.
    pub fn https_base_url(&self) -> String {
        self.https_base_url.clone()
    }

    /// The PEM certificate of the simulator's throwaway certificate authority, for a client's
    /// extra trust anchors.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Saves the world into `dir` (see [`crate::persist`]); the simulator keeps serving.
    pub async fn save(
        &self,
        dir: &crate::persist::WorldDir,
    ) -> Result<(), crate::persist::WorldError> {
        self.saver().save(dir).await
    }

    /// What saves this simulator's world from elsewhere (a signal handler), while it runs.
    pub fn saver(&self) -> WorldSaver {
        WorldSaver {
            sim: self.sim.clone(),
        }
    }

    /// How often `rule` (an `[[outcome]]` with `times`) gave its result so far in this world.
    pub fn outcome_runs(&self, rule: &OutcomeRule) -> u32 {
        lock(&self.sim.state)
            .outcome_runs
            .get(&rule.key())
            .copied()
            .unwrap_or(0)
    }

    /// Stop serving (waits up to one second for open connections, then aborts them).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// Saves a running simulator's world ([`SimHandle::saver`]).
#[derive(Debug, Clone)]
pub struct WorldSaver {
    sim: Arc<Sim>,
}

impl WorldSaver {
    /// Saves the world into `dir` (see [`crate::persist`]).
    pub async fn save(
        &self,
        dir: &crate::persist::WorldDir,
    ) -> Result<(), crate::persist::WorldError> {
        let text =
            crate::persist::snapshot(&self.sim).map_err(|e| crate::persist::WorldError::Io {
                path: dir.path().display().to_string(),
                source: std::io::Error::other(e),
            })?;
        crate::persist::write(dir, text).await
    }
}

/// Bind `listen` (port 0 picks a free port), spawn the server on the current runtime and
/// return at once.
pub async fn start(listen: SocketAddr, scenario: Scenario) -> Result<SimHandle, SimError> {
    start_from(listen, scenario, None).await
}

/// [`start`] in a saved world (`None`: a new one); see [`crate::persist`].
pub async fn start_from(
    listen: SocketAddr,
    scenario: Scenario,
    world: Option<crate::persist::World>,
) -> Result<SimHandle, SimError> {
    scenario.validate()?;
    let (tcp, addr) = bind(listen).await?;
    let host = reachable_host(addr);
    let base_url = format!("http://{host}");
    let https_base_url = format!("https://{host}");
    let tls = crate::tls::SimTls::new(&addr.ip().to_string())?;
    let ctx = new_ctx(&scenario, world.as_ref(), base_url, https_base_url.clone());
    let state = world.map_or_else(SimState::default, |w| w.state);
    let sim = Arc::new(Sim {
        ctx,
        state: Mutex::new(state),
        stats: Mutex::new(Stats::default()),
        faults: Mutex::new(FaultRng::new(scenario.faults.seed)),
        tokens: Mutex::new(HashMap::new()),
        limits: Mutex::new(crate::ratelimit::RateLimits::default()),
        control: crate::control::Control::default(),
        federated: crate::model::federated::Federated::default(),
    });
    let sim_base = sim.ctx.base_url.clone();
    let header_timeout = Duration::from_millis(scenario.header_read_timeout_ms.max(1));
    let app = Router::new().fallback(handle).with_state(sim.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let listener = SimListener::spawn(tcp, tls.clone());
    let task = tokio::spawn(serve(listener, app, rx, header_timeout));
    Ok(SimHandle {
        sim,
        addr,
        base_url: sim_base,
        https_base_url,
        ca_pem: tls.ca_pem().to_string(),
        shutdown: Some(tx),
        task,
    })
}

/// The listening socket on `listen` and the address it got.
async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), SimError> {
    let bind_error = |source| SimError::Bind {
        addr: listen,
        source,
    };
    let tcp = TcpListener::bind(listen).await.map_err(bind_error)?;
    let addr = tcp.local_addr().map_err(bind_error)?;
    Ok((tcp, addr))
}

/// `HOST:PORT` a client reaches `addr` at: the loopback address when bound to an unspecified
/// one.
fn reachable_host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        a => a.to_string(),
    }
}

/// The context of a simulator of `scenario` at these URLs: its globs compiled and its clock
/// new, or resumed where `world` was saved.
fn new_ctx(
    scenario: &Scenario,
    world: Option<&crate::persist::World>,
    base_url: String,
    https_base_url: String,
) -> Ctx {
    let missing = missing_globs(&scenario.missing);
    let outcomes = scenario
        .outcome
        .iter()
        .filter_map(|r| {
            GlobBuilder::new(&r.template)
                .build()
                .ok()
                .map(|g| (g.compile_matcher(), r.clone()))
        })
        .collect();
    let clock = match world {
        Some(w) => Clock::resume(
            scenario.minute_ms,
            w.resume_minutes(chrono::Utc::now()),
            w.start_utc(),
        ),
        None => Clock::new(scenario.minute_ms),
    };
    Ctx {
        clock,
        base_url,
        https_base_url,
        missing,
        outcomes,
        scenario: scenario.clone(),
        update_conflicts: std::sync::atomic::AtomicU64::new(0),
    }
}

/// The scenario's `missing` globs as one set, matched case-insensitively and across `/`
/// (a glob that does not compile is left out).
fn missing_globs(globs: &[String]) -> GlobSet {
    let mut missing = GlobSetBuilder::new();
    for g in globs {
        if let Ok(glob) = GlobBuilder::new(g)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
        {
            missing.add(glob);
        }
    }
    missing.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Accepts connections until `shutdown`, serving each with hyper (HTTP/1.1 and HTTP/2) and a
/// header-read timeout; on shutdown, open connections finish their requests.
async fn serve(
    mut listener: SimListener,
    app: Router,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
    header_timeout: Duration,
) {
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (io, info) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let mut app = app.clone();
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(info.clone()));
                async move { tower_service::Service::call(&mut app, req).await }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::trace!("connection ended: {e}");
                    }
                    return;
                }
                _ = closing.changed() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
        // Reap finished connections so the set does not grow with every one ever served.
        while connections.try_join_next().is_some() {}
    }
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

async fn handle(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request<Body>,
) -> Response {
    let resp = crate::router::handle(sim, req).await;
    if resp.extensions().get::<ResetConnection>().is_some() {
        conn.kill.store(true, Ordering::SeqCst);
    }
    resp
}

/// Per-connection info: the peer and a kill switch.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub kill: Arc<AtomicBool>,
}

/// How long a new connection may take to send its first byte and finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections handed to the server, plain or over TLS. A background task accepts TCP
/// connections and sorts each out in its own task (first byte, TLS handshake), so a slow or
/// silent client never holds up the others; it stops once the listener is dropped.
#[derive(Debug)]
pub struct SimListener {
    addr: SocketAddr,
    rx: tokio::sync::mpsc::Receiver<(KillableStream, ConnInfo)>,
}

impl SimListener {
    fn spawn(tcp: TcpListener, tls: crate::tls::SimTls) -> Self {
        let addr = tcp
            .local_addr()
            .unwrap_or_else(|_| ([127, 0, 0, 1], 0).into());
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = tx.closed() => return,
                    r = tcp.accept() => r,
                };
                let (s, remote) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!("accept error: {e}");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                };
                let _ = s.set_nodelay(true);
                let (tx, tls) = (tx.clone(), tls.clone());
                tokio::spawn(async move {
                    let io = match tokio::time::timeout(HANDSHAKE_TIMEOUT, open(s, &tls)).await {
                        Ok(Ok(io)) => io,
                        Ok(Err(e)) => {
                            tracing::debug!(%remote, "connection dropped before a request: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%remote, "no request or TLS handshake in time");
                            return;
                        }
                    };
                    let kill = Arc::new(AtomicBool::new(false));
                    let stream = KillableStream {
                        inner: io,
                        kill: kill.clone(),
                    };
                    let _ = tx.send((stream, ConnInfo { remote, kill })).await;
                });
            }
        });
        Self { addr, rx }
    }
}

/// Plain HTTP, or TLS when the client's first byte starts a handshake.
async fn open(s: TcpStream, tls: &crate::tls::SimTls) -> io::Result<Io> {
    let mut first = [0u8; 1];
    let n = s.peek(&mut first).await?;
    if n == 1 && first[0] == crate::tls::HANDSHAKE_RECORD {
        let stream = tls.acceptor().accept(s).await?;
        Ok(Io::Tls(Box::new(stream)))
    } else {
        Ok(Io::Plain(s))
    }
}

impl Listener for SimListener {
    type Io = KillableStream;
    type Addr = ConnInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task is gone (it only ends when this listener is dropped).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnInfo {
            remote: self.addr,
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A connection's byte stream.
#[derive(Debug)]
pub enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// A connection that fails every write once its kill switch is set, so hyper drops it
/// without sending anything more.
#[derive(Debug)]
pub struct KillableStream {
    inner: Io,
    kill: Arc<AtomicBool>,
}

fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "simulated connection reset")
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
