//! [`EventSink`]: batches events in the background so the executor can emit one event at a
//! time while the store sees few writes (one blob chunk per batch on Azure Blob).

use crate::StateStore;
use crate::error::{Result, StateError};
use crate::record::Event;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Events kept in memory while the store keeps failing; older ones are dropped beyond this.
const MAX_PENDING: usize = 10_000;

enum Cmd {
    Event(Event),
    Flush(oneshot::Sender<Result<()>>),
}

/// Write `buf` as one batch; on failure keep it (bounded) for the next attempt.
async fn write_batch(store: &StateStore, run_id: &str, buf: &mut Vec<Event>) -> Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let r = store.append_events(run_id, buf).await;
    if r.is_ok() {
        buf.clear();
    } else if buf.len() > MAX_PENDING {
        let n = buf.len() - MAX_PENDING;
        buf.drain(..n);
        tracing::error!(
            dropped = n,
            "state store unavailable; dropped the oldest events"
        );
    }
    r
}

/// A background batcher for one run's events.
#[derive(Debug)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Cmd>,
    task: JoinHandle<Result<()>>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Event(e) => write!(f, "Event({})", e.event),
            Cmd::Flush(_) => write!(f, "Flush"),
        }
    }
}

impl EventSink {
    /// Start a sink writing `run_id`'s events every `interval` or `max_batch` events.
    pub fn spawn(store: StateStore, run_id: &str, max_batch: usize, interval: Duration) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Cmd>();
        let run_id = run_id.to_owned();
        let max_batch = max_batch.max(1);
        let task = tokio::spawn(async move {
            let mut buf: Vec<Event> = Vec::new();
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let reply: Option<oneshot::Sender<Result<()>>> = tokio::select! {
                    cmd = rx.recv() => match cmd {
                        Some(Cmd::Event(e)) => {
                            buf.push(e);
                            if buf.len() < max_batch {
                                continue;
                            }
                            None
                        }
                        Some(Cmd::Flush(reply)) => Some(reply),
                        None => return write_batch(&store, &run_id, &mut buf).await,
                    },
                    _ = tick.tick() => {
                        if buf.is_empty() {
                            continue;
                        }
                        None
                    }
                };
                let r = write_batch(&store, &run_id, &mut buf).await;
                if let Err(e) = &r {
                    tracing::warn!(error = %e, pending = buf.len(), "writing events; will retry");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(r);
                }
            }
        });
        Self { tx, task }
    }

    /// Queue one event (never blocks).
    pub fn send(&self, event: Event) {
        if self.tx.send(Cmd::Event(event)).is_err() {
            tracing::warn!("event sink closed; event dropped");
        }
    }

    /// Write everything queued so far.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Flush(tx))
            .map_err(|_| StateError::Internal("event sink closed".into()))?;
        rx.await
            .map_err(|_| StateError::Internal("event sink stopped".into()))?
    }

    /// Write everything queued and stop.
    pub async fn close(self) -> Result<()> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| StateError::Internal(format!("event sink failed: {e}")))?
    }
}
