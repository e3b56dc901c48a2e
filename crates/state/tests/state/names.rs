use aib_state::{StateLocation, decode_unit_id, encode_unit_id, new_run_id, record::is_run_id};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

#[test]
fn unit_id_encoding_table() {
    let cases = [
        ("dev/win11-avd", "dev~win11-avd"),
        (
            "prod/ubuntu[release=2204,arch=x64]",
            "prod~ubuntu@release=2204,arch=x64+",
        ),
        ("a b/c%d~e@f+g", "a%20b~c%25d%7Ee%40f%2Bg"),
        ("../x", "%2E.~x"),
        (".", "%2E"),
    ];
    for (id, enc) in cases {
        assert_eq!(encode_unit_id(id), enc, "{id}");
        assert_eq!(decode_unit_id(enc).ok().as_deref(), Some(id), "{enc}");
    }
    assert!(decode_unit_id("bad%2").is_err());
    assert!(decode_unit_id("bad%zz").is_err());
}

proptest! {
    #[test]
    fn unit_id_encoding_round_trips(id in "\\PC{1,40}") {
        let enc = encode_unit_id(&id);
        prop_assert!(enc.bytes().all(|c| c.is_ascii_alphanumeric() || b"._=,-~@+%".contains(&c)));
        prop_assert!(!enc.starts_with('.'));
        prop_assert!(!enc.contains('/'));
        prop_assert_eq!(decode_unit_id(&enc).ok(), Some(id));
    }

    #[test]
    fn unit_like_ids_round_trip(env in "[a-z0-9-]{1,8}", var in "[a-z0-9-]{1,12}", ax in "[a-z]{1,5}", v in "[a-z0-9_.]{1,6}") {
        let id = format!("{env}/{var}[{ax}={v},{ax}2={v}]");
        prop_assert_eq!(decode_unit_id(&encode_unit_id(&id)).ok(), Some(id));
    }
}

#[test]
fn run_ids_sort_by_time() {
    let t1 = chrono::Utc::now();
    let t2 = t1 + chrono::Duration::seconds(1);
    let (a, b) = (new_run_id(t1), new_run_id(t2));
    assert!(is_run_id(&a), "{a}");
    assert!(a < b);
    assert!(!is_run_id("../../etc"));
    assert!(!is_run_id("20261128T233500Z-ABCDEF"));
}

#[test]
fn shard_locations_and_their_roots() -> Result<(), aib_state::StateError> {
    let dir = Path::new("/m");
    let root = StateLocation::parse(Some("/srv/state"), dir)?;
    let shard = root.shard("dev-base-1a2b3c4d");
    assert_eq!(
        shard,
        StateLocation::Local(PathBuf::from("/srv/state/shards/dev-base-1a2b3c4d"))
    );
    assert_eq!(
        shard.shard_of(),
        Some((root.clone(), "dev-base-1a2b3c4d".into()))
    );
    assert_eq!(root.shard_of(), None);
    // Relative and blob forms, with and without a prefix.
    let rel = StateLocation::parse(Some("shards/x"), dir)?;
    assert_eq!(
        rel.shard_of(),
        Some((StateLocation::Local(PathBuf::from(".")), "x".into()))
    );
    for (root, shard) in [
        (
            "azblob://acct1/aib/fleet",
            "azblob://acct1/aib/fleet/shards/k-1",
        ),
        ("azblob://acct1/aib", "azblob://acct1/aib/shards/k-1"),
    ] {
        let r = StateLocation::parse(Some(root), dir)?;
        let s = r.shard("k-1");
        assert_eq!(s.to_string(), shard);
        assert_eq!(StateLocation::parse(Some(shard), dir)?, s);
        assert_eq!(s.shard_of(), Some((r, "k-1".into())));
    }
    // Not shards: no `shards/` folder, or a name that cannot be a key.
    for not in [
        "azblob://acct1/aib/fleet/k-1",
        "azblob://acct1/aib/shards/Bad",
        "/a/shards/.x",
    ] {
        assert_eq!(
            StateLocation::parse(Some(not), dir)?.shard_of(),
            None,
            "{not}"
        );
    }
    assert!(aib_state::is_shard_key("bin-007"));
    assert!(!aib_state::is_shard_key(""));
    assert!(!aib_state::is_shard_key("a/b"));
    Ok(())
}

#[test]
fn state_locations() -> Result<(), aib_state::StateError> {
    let dir = Path::new("/m");
    assert_eq!(
        StateLocation::parse(None, dir)?,
        StateLocation::Local(PathBuf::from("/m/.aib"))
    );
    assert_eq!(
        StateLocation::parse(Some("state"), dir)?,
        StateLocation::Local(PathBuf::from("state"))
    );
    let StateLocation::Blob(b) =
        StateLocation::parse(Some("azblob://acct1/aib-state/team/a/"), dir)?
    else {
        panic!("expected blob");
    };
    assert_eq!(
        (b.account.as_str(), b.container.as_str(), b.prefix.as_str()),
        ("acct1", "aib-state", "team/a")
    );
    assert_eq!(b.to_string(), "azblob://acct1/aib-state/team/a");
    let StateLocation::Blob(b) = StateLocation::parse(Some("AZBLOB://acct1/state"), dir)? else {
        panic!("expected blob");
    };
    assert_eq!(b.prefix, "");
    for bad in [
        "azblob://",
        "azblob://acct",
        "azblob://Acct/c1c",
        "azblob://acct/ab",
        "azblob://acct/a--b",
        "azblob://acct/state/a//b",
        "azblob://acct/state/../x",
        "azblob://acct/state?sig=SECRET",
        "s3://bucket/x",
        "",
    ] {
        let e = StateLocation::parse(Some(bad), dir);
        assert!(e.is_err(), "{bad} should fail");
        if let Err(e) = e {
            assert_eq!(e.exit_code(), 2);
            assert!(!e.to_string().contains("SECRET") || bad.contains("SECRET"));
        }
    }
    Ok(())
}

#[test]
fn report_json_superset() -> Result<(), serde_json::Error> {
    let rec = crate::common::sample_run(0);
    let v = serde_json::to_value(&rec)?;
    for k in [
        "run_id", "started", "finished", "units", "version", "trigger", "status",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    let u = &v["units"][0];
    for k in ["id", "status", "stages", "image_version_id", "failure"] {
        assert!(u.get(k).is_some(), "{k}");
    }
    for k in ["stage", "message", "customizer", "log_excerpt", "log_path"] {
        assert!(u["failure"].get(k).is_some(), "{k}");
    }
    for k in ["name", "status", "started", "finished"] {
        assert!(u["stages"][0].get(k).is_some(), "{k}");
    }
    assert_eq!(v["started"], "2026-11-28T23:35:00.000Z");
    assert_eq!(
        v["trigger"],
        serde_json::json!({"kind": "schedule", "name": "nightly"})
    );
    assert_eq!(v["status"], "running");
    assert_eq!(u["status"], "failed");
    let back: aib_state::RunRecord = serde_json::from_value(v)?;
    assert_eq!(back, rec);
    Ok(())
}

/// A failure as records have always stored it (`"stage": "<name>"`) reads as the typed stage
/// and is written back by the same name; a name that is no stage's is refused, not guessed.
#[test]
fn failure_stage_is_read_and_written_by_name() -> Result<(), serde_json::Error> {
    let old = |stage: &str| {
        serde_json::json!({"stage": stage, "message": "m", "customizer": null,
            "log_excerpt": null, "log_path": null})
    };
    for stage in aib_state::Stage::ALL {
        let f: aib_state::Failure = serde_json::from_value(old(stage.as_str()))?;
        assert_eq!(f.stage, stage);
        assert_eq!(serde_json::to_value(&f)?, old(stage.as_str()));
    }
    assert!(serde_json::from_value::<aib_state::Failure>(old("Build")).is_err());
    Ok(())
}

#[test]
fn blob_config_debug_hides_secrets() -> Result<(), aib_azure::Error> {
    let cfg = aib_state::BlobConfig {
        endpoint: "https://acct.blob.core.windows.net".into(),
        auth: aib_azure::BlobAuth::sas("?sv=2021&sig=TOPSECRETSIG")?,
        lease: aib_state::LeaseTiming::default(),
        insecure: false,
    };
    assert!(!format!("{cfg:?}").contains("TOPSECRETSIG"));
    let cfg = aib_state::BlobConfig {
        auth: aib_azure::BlobAuth::shared_key("acct", "c2VjcmV0a2V5")?,
        ..cfg
    };
    let dbg = format!("{cfg:?}");
    assert!(
        !dbg.contains("c2VjcmV0a2V5") && !dbg.contains("secretkey"),
        "{dbg}"
    );
    Ok(())
}

#[test]
fn lease_timing_is_clamped() {
    use std::time::Duration;
    let t = aib_state::LeaseTiming {
        duration_s: 5,
        renew_every: Duration::from_secs(30),
    }
    .normalized();
    assert_eq!(t.duration_s, 15);
    assert_eq!(t.renew_every, Duration::from_secs(5));
    let d = aib_state::LeaseTiming::default();
    assert_eq!((d.duration_s, d.renew_every), (60, Duration::from_secs(20)));
}

/// Lines as `events.ndjson` has always held them read as typed run events (optional fields
/// absent or null); a line of an event this aib does not know is kept as it was, untyped,
/// and the lines around it still read.
#[test]
fn event_lines_read_typed_and_unknown_ones_kept() {
    use aib_state::{Failure, RunEvent, Stage, StageStatus, UnitStatus};
    let lines = [
        r#"{"ts":"2026-11-28T23:35:00.000Z","run_id":"r","unit":"dev/app","stage":"build","event":"stage.finished","status":"failed","message":"boom"}"#,
        r#"{"ts":"2026-11-28T23:35:00Z","run_id":"r","unit":"dev/app","stage":"build","event":"build.progress","run_state":"Running"}"#,
        r#"{"ts":"2026-11-28T23:35:00.000Z","run_id":"r","unit":null,"stage":null,"event":"future.thing","n":3}"#,
        r#"{"ts":"2026-11-28T23:35:00.000Z","run_id":"r","unit":"dev/app","stage":null,"event":"unit.finished","status":"failed","failure":{"stage":"deploy","message":"m","customizer":null,"log_excerpt":null,"log_path":null}}"#,
    ]
    .join("\n");
    let events = aib_state::record::events_from_ndjson(lines.as_bytes(), "t");
    let typed: Vec<Option<RunEvent>> = events.iter().map(|e| e.run_event()).collect();
    let unit = || aib_vocab::UnitId::from("dev/app");
    assert_eq!(
        typed,
        [
            Some(RunEvent::StageFinished {
                unit: unit(),
                stage: Stage::Build,
                status: StageStatus::Failed,
                message: Some("boom".into()),
            }),
            Some(RunEvent::BuildProgress {
                unit: unit(),
                run_state: "Running".into(),
                sub_state: None,
            }),
            None,
            Some(RunEvent::UnitFinished {
                unit: unit(),
                status: UnitStatus::Failed,
                reason: None,
                image_version_id: None,
                failure: Some(Failure::new(Stage::Deploy, "m")),
            }),
        ]
    );
    assert_eq!(events[2].event, "future.thing");
    assert_eq!(events[2].fields["n"], 3);
}
