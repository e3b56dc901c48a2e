//! Blob client against a real Azurite: Shared Key writes and listing with paging, Range
//! download, SAS auth, wrong key.

use crate::common::*;
use aib_azure::blob::sas::account_sas;
use aib_azure::{BlobAuth, BlobClient};
use aib_testkit::Azurite;
use base64::Engine;
use bytes::Bytes;

async fn azurite() -> TestResult<Azurite> {
    tokio::task::spawn_blocking(Azurite::start).await?
}

#[tokio::test]
async fn shared_key_put_list_paging_download() -> TestResult {
    let az = azurite().await?;
    let blob = BlobClient::new(
        &az.blob_endpoint,
        BlobAuth::shared_key(&az.account, &az.key)?,
        false,
    )?
    .with_retry(fast_retry());
    blob.create_container("packerlogs").await?;
    blob.create_container("packerlogs").await?; // already exists: fine
    let mut expected = Vec::new();
    for i in 0..5 {
        let name = format!("it-{i}/customization.log");
        blob.put_blob(
            "packerlogs",
            &name,
            Bytes::from(format!("log {i}\n")),
            "text/plain",
        )
        .await?;
        expected.push(name);
    }
    blob.put_blob(
        "packerlogs",
        "other.txt",
        Bytes::from_static(b"x"),
        "text/plain",
    )
    .await?;

    // Page size 2 forces NextMarker paging.
    let first = blob
        .list_blobs_page("packerlogs", None, None, Some(2))
        .await?;
    assert_eq!(first.blobs.len(), 2);
    assert!(first.next_marker.is_some());
    let all = blob
        .list_blobs_paged("packerlogs", Some("it-"), Some(2))
        .await?;
    let names: Vec<_> = all.iter().map(|b| b.name.clone()).collect();
    assert_eq!(names, expected);
    assert_eq!(all[0].content_length, Some(6));

    // A bigger blob with odd characters in its name.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    blob.put_blob(
        "packerlogs",
        "dir with space/big+1.bin",
        Bytes::from(big.clone()),
        "application/octet-stream",
    )
    .await?;
    let got = blob
        .download("packerlogs", "dir with space/big+1.bin")
        .await?;
    assert_eq!(got.len(), big.len());
    assert!(got.as_ref() == big.as_slice());

    // A log longer than its cap: only its end is read (a Range request), and said so; a
    // listed size older than the blob still ends at the real end.
    for listed in [300_000u64, 200_000] {
        let tail = blob
            .download_tail("packerlogs", "dir with space/big+1.bin", listed, 1000)
            .await?;
        assert_eq!(tail.skipped, 299_000, "listed {listed}");
        assert!(tail.bytes.as_ref() == &big[299_000..], "listed {listed}");
    }
    let whole = blob
        .download_tail("packerlogs", "dir with space/big+1.bin", 300_000, 1 << 20)
        .await?;
    assert_eq!((whole.skipped, whole.bytes.len()), (0, big.len()));

    let missing = blob.download("packerlogs", "nope.log").await;
    assert!(
        matches!(missing, Err(ref e) if e.is_not_found()),
        "{missing:?}"
    );
    Ok(())
}

#[tokio::test]
async fn sas_and_wrong_key() -> TestResult {
    let az = azurite().await?;
    let owner = BlobClient::new(
        &az.blob_endpoint,
        BlobAuth::shared_key(&az.account, &az.key)?,
        false,
    )?
    .with_retry(fast_retry());
    owner.create_container("logs").await?;
    owner
        .put_blob("logs", "a.log", Bytes::from_static(b"hello"), "text/plain")
        .await?;

    let key = base64::engine::general_purpose::STANDARD.decode(&az.key)?;
    let sas = account_sas(&az.account, &key, "rl", "2099-01-01T00:00:00Z");
    let reader = BlobClient::new(&az.blob_endpoint, BlobAuth::sas(&format!("?{sas}"))?, false)?
        .with_retry(fast_retry());
    let items = reader.list_blobs("logs", None).await?;
    assert_eq!(items.len(), 1);
    assert_eq!(reader.download("logs", "a.log").await?.as_ref(), b"hello");

    // A forged signature is refused, and the error does not leak it.
    let forged = sas.replace("sig=", "sig=AAAA");
    let bad_sas = BlobClient::new(&az.blob_endpoint, BlobAuth::sas(&forged)?, false)?
        .with_retry(fast_retry());
    let err = bad_sas.list_blobs("logs", None).await;
    match err {
        Err(e) => {
            assert!(e.is_auth(), "{e}");
            assert!(!e.to_string().contains("AAAA"), "{e}");
        }
        Ok(_) => return Err("forged SAS accepted".into()),
    }

    let wrong_key = base64::engine::general_purpose::STANDARD.encode(b"definitely not the key");
    let intruder = BlobClient::new(
        &az.blob_endpoint,
        BlobAuth::shared_key(&az.account, &wrong_key)?,
        false,
    )?
    .with_retry(fast_retry());
    let err = intruder.download("logs", "a.log").await;
    match err {
        Err(e) => {
            assert!(e.is_auth(), "{e}");
            assert_eq!(e.status(), Some(403));
        }
        Ok(_) => return Err("wrong key accepted".into()),
    }
    Ok(())
}

#[tokio::test]
async fn conditional_writes_and_leases() -> TestResult {
    use aib_azure::blob::Conditions;
    let az = azurite().await?;
    let blob = BlobClient::new(
        &az.blob_endpoint,
        BlobAuth::shared_key(&az.account, &az.key)?,
        false,
    )?
    .with_retry(fast_retry());
    blob.create_container("state").await?;
    assert_eq!(blob.blob_properties("state", "lock").await?, None);

    // Create-only succeeds once.
    let etag = blob
        .put_blob_with(
            "state",
            "run.json",
            Bytes::from_static(b"{}"),
            "application/json",
            &Conditions::create_only(),
        )
        .await?
        .ok_or("no etag")?;
    let again = blob
        .put_blob_with(
            "state",
            "run.json",
            Bytes::from_static(b"{}"),
            "application/json",
            &Conditions::create_only(),
        )
        .await;
    assert!(
        matches!(again, Err(ref e) if e.is_conflict() || e.is_precondition_failed()),
        "{again:?}"
    );
    // Replace only the version we read.
    let etag2 = blob
        .put_blob_with(
            "state",
            "run.json",
            Bytes::from_static(b"{\"v\":2}"),
            "application/json",
            &Conditions::if_match(&etag),
        )
        .await?
        .ok_or("no etag")?;
    let stale = blob
        .put_blob_with(
            "state",
            "run.json",
            Bytes::from_static(b"{\"v\":3}"),
            "application/json",
            &Conditions::if_match(&etag),
        )
        .await;
    assert!(
        matches!(stale, Err(ref e) if e.is_precondition_failed()),
        "{stale:?}"
    );
    let props = blob
        .blob_properties("state", "run.json")
        .await?
        .ok_or("missing")?;
    assert_eq!(props.etag.as_deref(), Some(etag2.as_str()));
    assert_eq!(props.content_length, Some(7));

    // Lease as a run lock.
    blob.put_blob("state", "lock", Bytes::new(), "text/plain")
        .await?;
    let lease = blob.acquire_lease("state", "lock", Some(15), None).await?;
    let other = blob.acquire_lease("state", "lock", Some(15), None).await;
    assert!(matches!(other, Err(ref e) if e.is_conflict()), "{other:?}");
    // Same proposed id again (a retried acquire) is accepted.
    assert_eq!(
        blob.acquire_lease("state", "lock", Some(15), Some(&lease))
            .await?,
        lease
    );
    blob.renew_lease("state", "lock", &lease).await?;
    let p = blob
        .blob_properties("state", "lock")
        .await?
        .ok_or("missing")?;
    assert_eq!(p.lease_state.as_deref(), Some("leased"));
    // Writes need the lease.
    let no_lease = blob
        .put_blob("state", "lock", Bytes::from_static(b"x"), "text/plain")
        .await;
    assert!(no_lease.is_err());
    let with_lease = Conditions {
        lease_id: Some(lease.clone()),
        ..Conditions::default()
    };
    blob.put_blob_with(
        "state",
        "lock",
        Bytes::from_static(b"x"),
        "text/plain",
        &with_lease,
    )
    .await?;
    blob.release_lease("state", "lock", &lease).await?;
    let l2 = blob.acquire_lease("state", "lock", None, None).await?;
    blob.break_lease("state", "lock", None).await?;
    let _ = l2;
    blob.delete_blob("state", "run.json", &Conditions::default())
        .await?;
    blob.delete_blob("state", "run.json", &Conditions::default())
        .await?;
    assert_eq!(blob.blob_properties("state", "run.json").await?, None);
    Ok(())
}
