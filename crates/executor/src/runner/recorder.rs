//! The one owner of the run record: applies every event to it, appends the events to
//! `events.ndjson` in batches, rewrites `run.json` when it changed, and forwards the events
//! to the reporter.

use std::time::Duration;

use aib_state::{RunRecord, StageRecord, StageStatus, StateStore, UnitRecord, UnitStatus};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::events::{BuildEvent, Stage, Stamped};

/// How often pending events and record changes are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// A started build's operation URL is written at most this long after the previous write:
/// soon enough that a crash rarely loses it (and `--retry-failed` finds the running build in
/// Azure anyway), without rewriting `run.json` once per unit when a fleet starts together.
pub const URGENT_GAP: Duration = Duration::from_millis(50);

/// Applies one event to a record.
pub fn apply(rec: &mut RunRecord, ev: &Stamped) {
    use BuildEvent::*;
    match &ev.event {
        UnitPrepared {
            unit,
            template_name,
            deployment_name,
            resource_group,
            subscription,
            input_hash,
            source_version,
            image_version,
        } => {
            if let Some(u) = rec.unit_mut(unit) {
                u.image_version = image_version.clone();
                u.template_name = template_name.clone();
                u.deployment_name = deployment_name.clone();
                u.resource_group = resource_group.clone();
                u.subscription = subscription.clone();
                u.input_hash = input_hash.clone();
                u.source_version = source_version.clone();
            }
        }
        StageStarted { unit, stage } => {
            if let Some(u) = rec.unit_mut(unit) {
                stage_started(u, *stage, ev.ts);
            }
        }
        StageFinished {
            unit,
            stage,
            status,
            message,
        } => {
            if let Some(u) = rec.unit_mut(unit) {
                stage_finished(u, *stage, *status, message.as_ref(), ev.ts);
            }
        }
        RunOperation { unit, url } => {
            if let Some(u) = rec.unit_mut(unit) {
                u.run_operation = Some(url.clone());
            }
        }
        UnitFinished {
            unit,
            status,
            reason,
            image_version_id,
            failure,
        } => {
            if let Some(u) = rec.unit_mut(unit) {
                u.status = *status;
                u.reason = reason.clone();
                if image_version_id.is_some() {
                    u.image_version_id = image_version_id.clone();
                }
                u.failure = failure.clone();
            }
        }
        RunFinished { status } => {
            rec.status = *status;
            // A detached run has not finished: it waits for `aib resume`.
            rec.finished = (*status != aib_state::RunStatus::Detached).then_some(ev.ts);
        }
        RunStarted { .. }
        | BuildProgress { .. }
        | LogCollected { .. }
        | Message { .. }
        | Interrupted => {}
    }
}

/// A unit's stage started (a resumed run takes up a stage an earlier process left running).
fn stage_started(u: &mut UnitRecord, stage: Stage, ts: DateTime<Utc>) {
    u.status = UnitStatus::Running;
    if u.stages
        .last()
        .is_some_and(|s| s.name == stage.as_str() && s.status == StageStatus::Running)
    {
        return;
    }
    u.stages.push(StageRecord {
        name: stage.as_str().to_string(),
        status: StageStatus::Running,
        started: Some(ts),
        finished: None,
    });
}

/// A unit's stage finished (one never seen starting is recorded as both).
fn stage_finished(
    u: &mut UnitRecord,
    stage: Stage,
    status: StageStatus,
    message: Option<&String>,
    ts: DateTime<Utc>,
) {
    // A verified version is the unit's before its cleanup ends: the record then tells a
    // resumed run that the units built from it may start.
    if stage == Stage::Verify && status == StageStatus::Succeeded {
        u.image_version_id = message.cloned().or(u.image_version_id.take());
    }
    match u.stages.iter_mut().rev().find(|s| s.name == stage.as_str()) {
        Some(s) => {
            s.status = status;
            s.finished = Some(ts);
        }
        None => u.stages.push(StageRecord {
            name: stage.as_str().to_string(),
            status,
            started: Some(ts),
            finished: Some(ts),
        }),
    }
}

/// Whether an event changes `run.json`.
fn changes_record(ev: &BuildEvent) -> bool {
    !matches!(
        ev,
        BuildEvent::BuildProgress { .. }
            | BuildEvent::Message { .. }
            | BuildEvent::RunStarted { .. }
    )
}

/// Runs until every sender is dropped; returns the final record and the state write errors.
/// Every event is redacted first, so no secret value Azure sent back reaches the record,
/// `events.ndjson` or the reporter.
pub async fn record(
    mut rec: RunRecord,
    store: StateStore,
    mut rx: mpsc::UnboundedReceiver<Stamped>,
    forward: Option<mpsc::UnboundedSender<Stamped>>,
    redactor: crate::redact::Redactor,
) -> (RunRecord, Vec<String>) {
    let run_id = rec.run_id.clone();
    let mut pending: Vec<aib_state::Event> = Vec::new();
    let mut dirty = false;
    let mut errors: Vec<String> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When a coalesced urgent write is due.
    let mut soon: Option<tokio::time::Instant> = None;
    let mut last_flush = tokio::time::Instant::now() - URGENT_GAP;
    loop {
        let mut closed = false;
        let mut now_please = false;
        let mut due = false;
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(mut ev) => {
                    crate::events::redact(&mut ev.event, &redactor);
                    apply(&mut rec, &ev);
                    dirty |= changes_record(&ev.event);
                    match ev.event {
                        BuildEvent::Interrupted | BuildEvent::RunFinished { .. } => now_please = true,
                        BuildEvent::RunOperation { .. } => {
                            let at = last_flush + URGENT_GAP;
                            soon = Some(soon.map_or(at, |s| s.min(at)));
                        }
                        _ => {}
                    }
                    pending.push(ev.to_state_event(&run_id));
                    if let Some(f) = &forward {
                        let _ = f.send(ev);
                    }
                }
                None => closed = true,
            },
            _ = tick.tick() => due = true,
            _ = tokio::time::sleep_until(soon.unwrap_or_else(tokio::time::Instant::now)), if soon.is_some() => due = true,
        }
        if !due && soon.is_some_and(|s| s <= tokio::time::Instant::now()) {
            due = true;
        }
        if closed || now_please || due || pending.len() >= 500 {
            flush(&store, &rec, &mut pending, &mut dirty, &mut errors).await;
            last_flush = tokio::time::Instant::now();
            soon = None;
        }
        if closed {
            return (rec, errors);
        }
    }
}

async fn flush(
    store: &StateStore,
    rec: &RunRecord,
    pending: &mut Vec<aib_state::Event>,
    dirty: &mut bool,
    errors: &mut Vec<String>,
) {
    if !pending.is_empty() {
        if let Err(e) = store.append_events(&rec.run_id, pending).await {
            errors.push(format!("writing events: {e}"));
        }
        pending.clear();
    }
    if *dirty {
        if let Err(e) = store.write_run(rec).await {
            errors.push(format!("writing the run record: {e}"));
        }
        *dirty = false;
    }
}
