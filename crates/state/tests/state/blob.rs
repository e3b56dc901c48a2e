//! The blob backend on a real Azurite (one instance; scenarios run concurrently on separate
//! prefixes so the binary stays fast).

use crate::common::{TestResult, UNIT, entry, event, sample_run};
use aib_azure::BlobAuth;
use aib_state::{BlobConfig, BlobLocation, LeaseTiming, StateError, StateStore};
use aib_testkit::Azurite;
use std::time::Duration;

struct Env {
    endpoint: String,
    account: String,
    key: String,
}

impl Env {
    async fn store(
        &self,
        container: &str,
        prefix: &str,
        lease: LeaseTiming,
    ) -> Result<StateStore, StateError> {
        let loc = BlobLocation {
            account: self.account.clone(),
            container: container.into(),
            prefix: prefix.into(),
        };
        let auth =
            BlobAuth::shared_key(&self.account, &self.key).map_err(|e| StateError::Azure {
                op: "key".into(),
                source: Box::new(e),
            })?;
        StateStore::open_blob(
            &loc,
            BlobConfig {
                endpoint: self.endpoint.clone(),
                auth,
                lease,
                insecure: false,
            },
        )
        .await
    }
}

fn fast() -> LeaseTiming {
    LeaseTiming {
        duration_s: 15,
        renew_every: Duration::from_secs(3),
    }
}

fn ctx(what: &'static str, r: TestResult) -> TestResult {
    r.map_err(|e| format!("{what}: {e}").into())
}

type TestResultT<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blob_backend_on_azurite() -> TestResult {
    let az = Azurite::start().map_err(|e| format!("azurite: {e}"))?;
    let env = Env {
        endpoint: az.blob_endpoint.clone(),
        account: az.account.clone(),
        key: az.key.clone(),
    };
    let (a, b, c, d, e, f, g) = tokio::join!(
        round_trips(&env),
        lock_exclusion(&env),
        lease_renewal(&env),
        concurrent_index(&env),
        concurrent_events(&env),
        sas_auth(&env),
        dead_holder(&env),
    );
    ctx("shards", shards(&env).await)?;
    ctx("round trips", a)?;
    ctx("lock exclusion", b)?;
    ctx("lease renewal", c)?;
    ctx("concurrent index", d)?;
    ctx("concurrent events", e)?;
    ctx("SAS auth", f)?;
    ctx("dead holder", g)?;
    drop(az);
    Ok(())
}

async fn round_trips(env: &Env) -> TestResult {
    let s = env.store("aib-state", "team/a", fast()).await?;
    // A second store on the same (now existing) container is fine.
    let other = env.store("aib-state", "team/b", fast()).await?;
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
    b.status = aib_state::RunStatus::Failed;
    s.write_run(&b).await?;
    assert_eq!(
        s.list_runs().await?,
        vec![b.run_id.clone(), a.run_id.clone()]
    );
    assert_eq!(s.latest_run().await?, Some(b.clone()));
    assert!(other.list_runs().await?.is_empty(), "prefixes are separate");
    assert!(matches!(
        s.read_run("20200101T000000Z-000000").await,
        Err(StateError::RunNotFound(_))
    ));

    assert!(s.read_events(&a.run_id).await?.is_empty());
    s.append_events(&a.run_id, &[event(&a.run_id, 0), event(&a.run_id, 1)])
        .await?;
    s.append_events(&a.run_id, &[event(&a.run_id, 2)]).await?;
    // A fresh store (another process) continues the chunk sequence.
    let s2 = env.store("aib-state", "team/a", fast()).await?;
    s2.append_events(&a.run_id, &[event(&a.run_id, 3)]).await?;
    let got = s.read_events(&a.run_id).await?;
    let ns: Vec<_> = got.iter().map(|e| e.fields["n"].clone()).collect();
    assert_eq!(ns, vec![0, 1, 2, 3]);
    assert_eq!(got[0].unit.as_deref(), Some(UNIT));

    s.write_log(&a.run_id, UNIT, "customization.log", b"PACKER\n")
        .await?;
    assert_eq!(
        s2.read_log(&a.run_id, UNIT, "customization.log").await?,
        b"PACKER\n"
    );
    assert!(matches!(
        s.read_log(&a.run_id, "dev/none", "customization.log").await,
        Err(StateError::LogNotFound { .. })
    ));
    let shown = s.log_path_display(&a.run_id, UNIT, "customization.log")?;
    assert_eq!(
        shown,
        format!(
            "azblob://{}/aib-state/team/a/runs/{}/logs/prod~ubuntu@release=2204,arch=x64+/customization.log",
            env.account, a.run_id
        )
    );

    assert!(s.read_index().await?.units.is_empty());
    s.update_index(&[entry("dev/a", &a.run_id, 10)]).await?;
    let idx = s
        .update_index(&[entry("dev/a", "older", 5), entry("dev/b", "x", 1)])
        .await?;
    assert_eq!(idx.units["dev/a"].run_id, a.run_id);
    assert_eq!(s2.read_index().await?, idx);
    // Nothing secret in the Debug output of the store or its config.
    let dbg = format!("{s:?}");
    assert!(!dbg.contains(&env.key), "key leaked in Debug");
    Ok(())
}

async fn lock_exclusion(env: &Env) -> TestResult {
    let s1 = env.store("locks", "x", fast()).await?;
    let s2 = env.store("locks", "x", fast()).await?;
    let l1 = s1.lock("20261128T233500Z-aaaaaa", "host-a").await?;
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
    assert_eq!(
        s2.lock_holder().await?.map(|h| h.host).as_deref(),
        Some("host-a")
    );
    assert!(s2.break_lock(false).await.is_err());
    l1.release().await?;
    assert!(s2.lock_holder().await?.is_none());
    let l2 = s2.lock("20261128T233600Z-bbbbbb", "host-b").await?;
    // Dropping releases best-effort (spawned), so a new lock follows quickly.
    drop(l2);
    let mut got = None;
    for _ in 0..50 {
        match s1.lock("20261128T233700Z-cccccc", "host-a").await {
            Ok(l) => {
                got = Some(l);
                break;
            }
            Err(e) if e.is_locked() => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(e.into()),
        }
    }
    let l3 = got.ok_or("lock not released on drop")?;
    // A forced break takes it away; the holder then learns on release.
    assert_eq!(
        s2.break_lock(true).await?.map(|h| h.run_id).as_deref(),
        Some("20261128T233700Z-cccccc")
    );
    // The renewal task notices within one renewal interval (3 s here).
    for _ in 0..60 {
        if l3.is_lost() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(l3.is_lost(), "renewal did not notice the broken lease");
    assert!(matches!(
        l3.release().await,
        Err(StateError::LockLost { .. })
    ));
    Ok(())
}

/// Shards under `<prefix>/shards/<key>` are found with one delimited listing, and their
/// indexes make one family index.
async fn shards(env: &Env) -> TestResult {
    let root = env.store("aib-state", "fleet", fast()).await?;
    assert!(root.shard_keys().await?.is_empty());
    let a = env
        .store("aib-state", "fleet/shards/comp-a", fast())
        .await?;
    let b = env
        .store("aib-state", "fleet/shards/comp-b", fast())
        .await?;
    // Another state whose prefix merely starts alike is not a shard.
    let other = env
        .store("aib-state", "fleet2/shards/comp-z", fast())
        .await?;
    let run = sample_run(0);
    a.create_run(&run).await?;
    a.append_events(&run.run_id, &[event(&run.run_id, 0)])
        .await?;
    b.update_index(&[entry("dev/a", "run-new", 9)]).await?;
    a.update_index(&[entry("dev/a", "run-old", 5), entry("dev/b", "x", 1)])
        .await?;
    other.update_index(&[entry("dev/a", "other", 99)]).await?;
    assert_eq!(root.shard_keys().await?, ["comp-a", "comp-b"]);
    let found = root.with_shards().await?;
    assert_eq!(found.len(), 3);
    assert_eq!(found[1].1.read_run(&run.run_id).await?, run);
    assert_eq!(
        found[1].1.location().to_string(),
        format!("azblob://{}/aib-state/fleet/shards/comp-a", env.account)
    );
    for s in [&root, &a] {
        let idx = s.read_family_index().await?;
        assert_eq!(idx.units["dev/a"].run_id, "run-new");
        assert_eq!(idx.units.len(), 2);
    }
    Ok(())
}

/// A run whose process died holding the lease: `running` while the lease lasts, `interrupted`
/// once it expired; a contender waiting with `lock_waiting` gets the lock then.
async fn dead_holder(env: &Env) -> TestResult {
    use aib_state::{LockInfo, LockOptions, RunStatus};
    let s = env.store("locks", "dead", fast()).await?;
    let mut rec = sample_run(0);
    rec.status = RunStatus::Running;
    s.create_run(&rec).await?;
    // What the dead process left: the lock blob naming it, leased for 15 s, never renewed.
    let client = aib_azure::BlobClient::new(
        &env.endpoint,
        BlobAuth::shared_key(&env.account, &env.key)?,
        false,
    )?;
    let info = LockInfo::new(&rec.run_id, "host-dead");
    client
        .put_blob(
            "locks",
            "dead/lock",
            bytes::Bytes::from(serde_json::to_vec(&info)?),
            "application/json",
        )
        .await?;
    client
        .acquire_lease("locks", "dead/lock", Some(15), None)
        .await?;
    let holder = s.lock_holder().await?;
    assert_eq!(holder.as_ref().map(|h| h.host.as_str()), Some("host-dead"));
    assert_eq!(rec.status_given_lock(holder.as_ref()), RunStatus::Running);
    // A second run waits (saying so once) and gets the lock when the lease expires.
    let mut told = Vec::new();
    let lock = s
        .lock_waiting(
            "20261128T233600Z-bbbbbb",
            "host-b",
            LockOptions::default(),
            Duration::from_secs(45),
            |e| told.push(e.to_string()),
        )
        .await?;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("host-dead"), "{told:?}");
    let holder = s.lock_holder().await?;
    assert_eq!(
        rec.status_given_lock(holder.as_ref()),
        RunStatus::Interrupted
    );
    lock.release().await?;
    assert_eq!(
        rec.status_given_lock(s.lock_holder().await?.as_ref()),
        RunStatus::Interrupted
    );
    Ok(())
}

async fn lease_renewal(env: &Env) -> TestResult {
    let s1 = env.store("locks", "renew", fast()).await?;
    let s2 = env.store("locks", "renew", fast()).await?;
    let l1 = s1.lock("20261128T233500Z-aaaaaa", "host-a").await?;
    // Past the 15 s lease: only renewal keeps it.
    tokio::time::sleep(Duration::from_secs(17)).await;
    assert!(!l1.is_lost());
    assert!(
        s2.lock("20261128T233600Z-bbbbbb", "host-b")
            .await
            .is_err_and(|e| e.is_locked())
    );
    l1.release().await?;
    s2.lock("20261128T233600Z-bbbbbb", "host-b")
        .await?
        .release()
        .await?;
    Ok(())
}

async fn concurrent_index(env: &Env) -> TestResult {
    let stores = futures_stores(env, "index", 4).await?;
    let mut tasks = Vec::new();
    for (w, s) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                s.update_index(&[entry(&format!("dev/u{w}-{i}"), "r", 1)])
                    .await?;
            }
            Ok::<_, StateError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let s = env.store("aib-state", "index", fast()).await?;
    let idx = s.read_index().await?;
    assert_eq!(idx.units.len(), 20, "lost updates: {:?}", idx.units.keys());
    Ok(())
}

async fn concurrent_events(env: &Env) -> TestResult {
    let stores = futures_stores(env, "events", 3).await?;
    let run = sample_run(0);
    stores[0].create_run(&run).await?;
    let mut tasks = Vec::new();
    for (w, s) in stores.into_iter().enumerate() {
        let id = run.run_id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..4 {
                s.append_events(&id, &[event(&id, w * 10 + i)]).await?;
            }
            Ok::<_, StateError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let s = env.store("aib-state", "events", fast()).await?;
    assert_eq!(s.read_events(&run.run_id).await?.len(), 12);
    Ok(())
}

async fn futures_stores(env: &Env, prefix: &str, n: usize) -> TestResultT<Vec<StateStore>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(env.store("aib-state", prefix, fast()).await?);
    }
    Ok(v)
}

async fn sas_auth(env: &Env) -> TestResult {
    let BlobAuth::SharedKey { key, .. } = BlobAuth::shared_key(&env.account, &env.key)? else {
        return Err("not a shared key".into());
    };
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let token = aib_azure::blob::sas::account_sas(&env.account, &key, "rwdlac", &expiry);
    let loc = BlobLocation {
        account: env.account.clone(),
        container: "sas-state".into(),
        prefix: String::new(),
    };
    let s = StateStore::open_blob(
        &loc,
        BlobConfig {
            endpoint: env.endpoint.clone(),
            auth: BlobAuth::sas(&token)?,
            lease: fast(),
            insecure: false,
        },
    )
    .await?;
    let a = sample_run(0);
    s.create_run(&a).await?;
    assert_eq!(s.read_run(&a.run_id).await?, a);
    assert_eq!(s.list_runs().await?, vec![a.run_id.clone()]);
    let lock = s.lock(&a.run_id, "h").await?;
    lock.release().await?;
    // No secret in errors: a wrong run id path still shows no signature.
    let err = s.read_log(&a.run_id, "dev/x", "customization.log").await;
    assert!(err.is_err_and(|e| !e.to_string().contains("sig=")));
    Ok(())
}
