use crate::common::{TestResult, UNIT, entry, event, sample_run};
use aib_state::{LockInfo, LockOptions, StateError, StateStore, current_host};
use std::path::Path;

async fn store(dir: &Path) -> Result<StateStore, StateError> {
    StateStore::open_local(dir.join(".aib")).await
}

#[tokio::test]
async fn run_round_trip_and_listing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    assert!(s.latest_run().await?.is_none());
    let a = sample_run(0);
    let mut b = sample_run(10);
    s.create_run(&a).await?;
    s.create_run(&b).await?;
    s.create_run(&a).await?; // a retried create of the same record is fine
    let mut clash = a.clone();
    clash.host = "another-host".into();
    assert!(matches!(
        s.create_run(&clash).await,
        Err(StateError::RunExists(_))
    ));
    assert_eq!(s.read_run(&a.run_id).await?, a);
    b.status = aib_state::RunStatus::Succeeded;
    b.finished = Some(b.started + chrono::Duration::minutes(5));
    s.write_run(&b).await?;
    assert_eq!(
        s.list_runs().await?,
        vec![b.run_id.clone(), a.run_id.clone()]
    );
    assert_eq!(s.latest_run().await?, Some(b.clone()));
    assert!(matches!(
        s.read_run("20200101T000000Z-000000").await,
        Err(StateError::RunNotFound(_))
    ));
    assert!(matches!(
        s.read_run("../../etc/passwd").await,
        Err(StateError::InvalidName { .. })
    ));
    // A crashed create (directory without run.json) and stray names are not runs.
    std::fs::create_dir_all(tmp.path().join(".aib/runs/20300101T000000Z-abcdef"))?;
    std::fs::create_dir_all(tmp.path().join(".aib/runs/not-a-run"))?;
    assert_eq!(s.list_runs().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn interrupted_write_leaves_old_record() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let a = sample_run(0);
    s.create_run(&a).await?;
    // A crash between writing the temp file and the rename leaves only a temp file.
    let dir = tmp.path().join(".aib/runs").join(&a.run_id);
    std::fs::write(
        dir.join(".run.json.tmp-deadbeef0000"),
        b"{\"version\": 1, \"run_",
    )?;
    std::fs::write(tmp.path().join(".aib/.index.json.tmp-deadbeef0000"), b"{")?;
    assert_eq!(s.read_run(&a.run_id).await?, a);
    assert_eq!(s.list_runs().await?, vec![a.run_id.clone()]);
    assert!(s.read_index().await?.units.is_empty());
    // No temp files are left behind by successful writes.
    s.write_run(&a).await?;
    let leftovers: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") && !n.contains("deadbeef"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn owner_only_permissions() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let a = sample_run(0);
    s.create_run(&a).await?;
    s.append_events(&a.run_id, &[event(&a.run_id, 1)]).await?;
    s.write_log(&a.run_id, UNIT, "customization.log", b"log")
        .await?;
    s.update_index(&[entry(UNIT, &a.run_id, 1)]).await?;
    let lock = s.lock(&a.run_id, "h").await?;
    let root = tmp.path().join(".aib");
    let run = root.join("runs").join(&a.run_id);
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    for f in [
        run.join("run.json"),
        run.join("events.ndjson"),
        run.join("logs/prod~ubuntu@release=2204,arch=x64+/customization.log"),
        root.join("index.json"),
        root.join("lock"),
    ] {
        assert_eq!(mode(&f)?, 0o600, "{}", f.display());
    }
    for d in [
        root.clone(),
        root.join("runs"),
        run.clone(),
        run.join("logs"),
    ] {
        assert_eq!(mode(&d)?, 0o700, "{}", d.display());
    }
    lock.release().await?;
    Ok(())
}

#[tokio::test]
async fn events_and_torn_last_line() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let a = sample_run(0);
    s.create_run(&a).await?;
    assert!(s.read_events(&a.run_id).await?.is_empty());
    let batch: Vec<_> = (0..3).map(|n| event(&a.run_id, n)).collect();
    s.append_events(&a.run_id, &batch).await?;
    s.append_events(&a.run_id, &[event(&a.run_id, 3)]).await?;
    let got = s.read_events(&a.run_id).await?;
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], batch[0]);
    assert_eq!(got[3].fields["n"], 3);
    // The on-disk line has ts, run_id, unit, stage, event and the fields flattened.
    let path = tmp
        .path()
        .join(".aib/runs")
        .join(&a.run_id)
        .join("events.ndjson");
    let text = std::fs::read_to_string(&path)?;
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or(""))?;
    for k in ["ts", "run_id", "unit", "stage", "event", "n"] {
        assert!(first.get(k).is_some(), "{k}");
    }
    // A crash mid-append leaves a torn last line: readers skip it...
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
        f.write_all(b"{\"ts\":\"2026-11-28T23:")?;
    }
    assert_eq!(s.read_events(&a.run_id).await?.len(), 4);
    // ...and the next append starts on a fresh line, so nothing else is lost.
    s.append_events(&a.run_id, &[event(&a.run_id, 4)]).await?;
    let got = s.read_events(&a.run_id).await?;
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].fields["n"], 4);
    assert!(matches!(
        s.read_events("20200101T000000Z-000000").await,
        Err(StateError::RunNotFound(_))
    ));
    Ok(())
}

#[tokio::test]
async fn logs_and_index() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let a = sample_run(0);
    s.create_run(&a).await?;
    s.write_log(&a.run_id, UNIT, "customization.log", b"PACKER OUT\n")
        .await?;
    assert_eq!(
        s.read_log(&a.run_id, UNIT, "customization.log").await?,
        b"PACKER OUT\n"
    );
    let shown = s.log_path_display(&a.run_id, UNIT, "customization.log")?;
    assert!(Path::new(&shown).is_file(), "{shown}");
    assert!(shown.ends_with("logs/prod~ubuntu@release=2204,arch=x64+/customization.log"));
    assert!(matches!(
        s.read_log(&a.run_id, "dev/x", "customization.log").await,
        Err(StateError::LogNotFound { .. })
    ));
    assert!(s.write_log(&a.run_id, UNIT, "../evil", b"x").await.is_err());

    s.update_index(&[entry("dev/a", &a.run_id, 10), entry("dev/b", &a.run_id, 10)])
        .await?;
    // Older entries never roll the index back; newer ones replace.
    let idx = s
        .update_index(&[entry("dev/a", "older", 5), entry("dev/b", "newer", 20)])
        .await?;
    assert_eq!(idx.units["dev/a"].run_id, a.run_id);
    assert_eq!(idx.units["dev/b"].run_id, "newer");
    assert_eq!(s.read_index().await?, idx);
    Ok(())
}

#[tokio::test]
async fn lock_excludes_second_store() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s1 = store(tmp.path()).await?;
    let s2 = store(tmp.path()).await?;
    let l1 = s1.lock("20261128T233500Z-aaaaaa", "host-a").await?;
    assert_eq!(
        s2.lock_holder().await?.map(|h| h.run_id).as_deref(),
        Some("20261128T233500Z-aaaaaa")
    );
    let err = match s2.lock("20261128T233600Z-bbbbbb", "host-b").await {
        Err(e) => e,
        Ok(_) => return Err("second lock succeeded".into()),
    };
    assert_eq!(err.exit_code(), 4);
    let msg = err.to_string();
    assert!(
        msg.starts_with("state is locked by run 20261128T233500Z-aaaaaa on host host-a since "),
        "{msg}"
    );
    assert!(!l1.is_lost());
    l1.release().await?;
    assert!(s2.lock_holder().await?.is_none());
    let l2 = s2.lock("20261128T233600Z-bbbbbb", "host-b").await?;
    drop(l2); // best-effort release on drop
    assert!(!tmp.path().join(".aib/lock").exists());
    let l3 = s1.lock("20261128T233700Z-cccccc", "host-a").await?;
    l3.release().await?;
    Ok(())
}

#[tokio::test]
async fn stale_lock_is_reported_then_broken() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let dead = LockInfo {
        run_id: "20261128T000000Z-dddddd".into(),
        host: current_host(),
        pid: 999_999_999,
        since: chrono::Utc::now(),
    };
    std::fs::write(tmp.path().join(".aib/lock"), serde_json::to_vec(&dead)?)?;
    if !Path::new("/proc/self").exists() {
        return Ok(()); // cannot tell dead processes apart on this platform
    }
    let err = match s.lock("20261128T233500Z-aaaaaa", "h").await {
        Err(e) => e,
        Ok(_) => return Err("stale lock was taken silently".into()),
    };
    assert!(
        matches!(
            err,
            StateError::StaleLock {
                pid: 999_999_999,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("stale"), "{err}");
    assert_eq!(err.exit_code(), 4);
    assert!(s.lock_holder().await?.is_none());
    let lock = s
        .lock_with(
            "20261128T233500Z-aaaaaa",
            "h",
            LockOptions { break_stale: true },
        )
        .await?;
    lock.release().await?;
    // break_lock: stale always, live only with force.
    std::fs::write(tmp.path().join(".aib/lock"), serde_json::to_vec(&dead)?)?;
    assert_eq!(s.break_lock(false).await?.map(|h| h.pid), Some(999_999_999));
    let live = s.lock("20261128T233600Z-bbbbbb", "h").await?;
    assert!(s.break_lock(false).await.is_err());
    assert!(s.break_lock(true).await?.is_some());
    assert!(live.is_lost());
    assert!(matches!(
        live.release().await,
        Err(StateError::LockLost { .. })
    ));
    Ok(())
}

/// The holder's run id in a `Locked` error.
fn holder_of(e: &StateError) -> Option<&str> {
    match e {
        StateError::Locked { run_id, .. } => Some(run_id),
        _ => None,
    }
}

#[tokio::test]
async fn lock_waiting_takes_the_lock_once_the_holder_releases_it() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s1 = store(tmp.path()).await?;
    let s2 = store(tmp.path()).await?;
    let l1 = s1.lock("20261128T233500Z-aaaaaa", "host-a").await?;
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        l1.release().await
    });
    let mut told = Vec::new();
    let l2 = s2
        .lock_waiting(
            "20261128T233600Z-bbbbbb",
            "host-b",
            LockOptions::default(),
            std::time::Duration::from_secs(60),
            |e| told.push(holder_of(e).map(str::to_owned)),
        )
        .await?;
    release.await??;
    // Told once who it waits for, however many times it tried.
    assert_eq!(told, vec![Some("20261128T233500Z-aaaaaa".to_owned())]);
    assert_eq!(
        s1.lock_holder().await?.map(|h| h.run_id).as_deref(),
        Some("20261128T233600Z-bbbbbb")
    );
    l2.release().await?;
    Ok(())
}

#[tokio::test]
async fn lock_waiting_gives_up_naming_the_holder_and_zero_waits_not_at_all() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s1 = store(tmp.path()).await?;
    let s2 = store(tmp.path()).await?;
    let l1 = s1.lock("20261128T233500Z-aaaaaa", "host-a").await?;
    let mut told = 0;
    let err = match s2
        .lock_waiting(
            "20261128T233600Z-bbbbbb",
            "host-b",
            LockOptions::default(),
            std::time::Duration::from_millis(600),
            |_| told += 1,
        )
        .await
    {
        Err(e) => e,
        Ok(_) => return Err("took a held lock".into()),
    };
    assert_eq!(holder_of(&err), Some("20261128T233500Z-aaaaaa"), "{err}");
    assert_eq!(err.exit_code(), 4);
    assert_eq!(told, 1);
    let mut told = 0;
    let err = match s2
        .lock_waiting(
            "20261128T233600Z-bbbbbb",
            "host-b",
            LockOptions::default(),
            std::time::Duration::ZERO,
            |_| told += 1,
        )
        .await
    {
        Err(e) => e,
        Ok(_) => return Err("took a held lock".into()),
    };
    assert!(err.is_locked(), "{err}");
    assert_eq!(told, 0, "no wait, no waiting message");
    l1.release().await?;
    Ok(())
}

#[tokio::test]
async fn lock_waiting_does_not_wait_for_a_stale_lock() -> TestResult {
    if !Path::new("/proc/self").exists() {
        return Ok(()); // cannot tell dead processes apart on this platform
    }
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let dead = LockInfo {
        run_id: "20261128T000000Z-dddddd".into(),
        host: current_host(),
        pid: 999_999_999,
        since: chrono::Utc::now(),
    };
    std::fs::write(tmp.path().join(".aib/lock"), serde_json::to_vec(&dead)?)?;
    // The wait is an hour: a stale lock must come back at once for the caller to take over.
    let r = s
        .lock_waiting(
            "20261128T233500Z-aaaaaa",
            "h",
            LockOptions::default(),
            std::time::Duration::from_secs(3600),
            |e| panic!("waited for a stale lock: {e}"),
        )
        .await;
    assert!(matches!(r, Err(StateError::StaleLock { .. })), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn a_running_run_whose_process_died_is_shown_interrupted() -> TestResult {
    use aib_state::RunStatus;
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let mut rec = sample_run(0);
    rec.status = RunStatus::Running;
    s.create_run(&rec).await?;
    // Its own process holds the lock: running.
    let lock = s.lock(&rec.run_id, &current_host()).await?;
    let holder = s.lock_holder().await?;
    assert_eq!(rec.status_given_lock(holder.as_ref()), RunStatus::Running);
    lock.release().await?;
    // The lock left by its dead process (same host, pid gone) counts as free.
    if Path::new("/proc/self").exists() {
        let dead = LockInfo {
            run_id: rec.run_id.clone(),
            host: current_host(),
            pid: 999_999_999,
            since: chrono::Utc::now(),
        };
        std::fs::write(tmp.path().join(".aib/lock"), serde_json::to_vec(&dead)?)?;
        let holder = s.lock_holder().await?;
        assert!(holder.is_none());
        assert_eq!(
            rec.status_given_lock(holder.as_ref()),
            RunStatus::Interrupted
        );
        std::fs::remove_file(tmp.path().join(".aib/lock"))?;
    }
    // No lock at all, or another run's: interrupted.
    assert_eq!(rec.status_given_lock(None), RunStatus::Interrupted);
    let other = s.lock("20261128T233600Z-bbbbbb", "h").await?;
    let holder = s.lock_holder().await?;
    assert_eq!(
        rec.status_given_lock(holder.as_ref()),
        RunStatus::Interrupted
    );
    other.release().await?;
    // A finished run is shown as recorded whoever holds the lock.
    rec.status = RunStatus::Failed;
    assert_eq!(rec.status_given_lock(None), RunStatus::Failed);
    Ok(())
}

#[tokio::test]
async fn shards_are_found_and_share_one_family_index() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = store(tmp.path()).await?;
    assert!(root.shard_keys().await?.is_empty());
    // Shards are states of their own under `shards/<key>`.
    let a = StateStore::open_local(tmp.path().join(".aib/shards/comp-a")).await?;
    let b = StateStore::open_local(tmp.path().join(".aib/shards/comp-b")).await?;
    std::fs::create_dir_all(tmp.path().join(".aib/shards/.hidden"))?;
    std::fs::write(tmp.path().join(".aib/shards/notes.txt"), "x")?;
    assert_eq!(root.shard_keys().await?, ["comp-a", "comp-b"]);
    let run_a = sample_run(0);
    a.create_run(&run_a).await?;
    let found = root.with_shards().await?;
    assert_eq!(
        found.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        [None, Some("comp-a".to_owned()), Some("comp-b".to_owned())]
    );
    assert_eq!(found[1].1.read_run(&run_a.run_id).await?, run_a);
    assert!(found[2].1.list_runs().await?.is_empty());
    // A shard knows its root; each keeps its own lock.
    assert_eq!(a.shard_root().map(|r| r.location()), Some(root.location()));
    let la = a.lock("20261128T233500Z-aaaaaa", "h").await?;
    let lb = b.lock("20261128T233600Z-bbbbbb", "h").await?;
    assert!(root.lock_holder().await?.is_none());
    la.release().await?;
    lb.release().await?;
    // The family index: the newest build of each unit, wherever it was recorded, read from
    // the root or from any shard.
    a.update_index(&[entry("dev/a", "run-a-old", 5), entry("dev/b", "run-b", 7)])
        .await?;
    b.update_index(&[entry("dev/a", "run-a-new", 9)]).await?;
    root.update_index(&[entry("dev/c", "run-c", 1)]).await?;
    for s in [&root, &a, &b] {
        let idx = s.read_family_index().await?;
        assert_eq!(idx.units.len(), 3);
        assert_eq!(idx.units["dev/a"].run_id, "run-a-new");
        assert_eq!(idx.units["dev/b"].run_id, "run-b");
    }
    // Each state's own index is untouched.
    assert_eq!(a.read_index().await?.units["dev/a"].run_id, "run-a-old");
    Ok(())
}

#[tokio::test]
async fn event_sink_batches() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = store(tmp.path()).await?;
    let a = sample_run(0);
    s.create_run(&a).await?;
    let sink = aib_state::EventSink::spawn(
        s.clone(),
        &a.run_id,
        100,
        std::time::Duration::from_secs(3600),
    );
    for n in 0..10 {
        sink.send(event(&a.run_id, n));
    }
    assert!(
        s.read_events(&a.run_id).await?.is_empty(),
        "batched, not written yet"
    );
    sink.flush().await?;
    assert_eq!(s.read_events(&a.run_id).await?.len(), 10);
    // max_batch triggers a write by itself; close writes the rest.
    let sink2 = aib_state::EventSink::spawn(
        s.clone(),
        &a.run_id,
        5,
        std::time::Duration::from_secs(3600),
    );
    for n in 10..17 {
        sink2.send(event(&a.run_id, n));
    }
    sink.close().await?;
    sink2.close().await?;
    let got = s.read_events(&a.run_id).await?;
    assert_eq!(got.len(), 17);
    // Interval flush.
    let sink3 = aib_state::EventSink::spawn(
        s.clone(),
        &a.run_id,
        100,
        std::time::Duration::from_millis(50),
    );
    sink3.send(event(&a.run_id, 17));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(s.read_events(&a.run_id).await?.len(), 18);
    sink3.close().await?;
    Ok(())
}

#[tokio::test]
async fn open_default_location() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let loc = aib_state::StateLocation::parse(None, tmp.path())?;
    let s = aib_state::open(&loc, None).await?;
    assert_eq!(
        s.location(),
        aib_state::StateLocation::Local(tmp.path().join(".aib"))
    );
    assert!(tmp.path().join(".aib/runs").is_dir());
    Ok(())
}
