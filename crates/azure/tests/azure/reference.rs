//! Reference tests (Azure's REST examples, read from `AIB_REFERENCE_DIR`).
//!
//! Every example response in the reference: LRO headers, status values and bodies parse.

use crate::common::TestResult;
use aib_azure::lro::{FinalStateVia, OperationHandle, PollKind, parse_status};
use aib_azure::types::{Deployment, GalleryImageVersion, ImageTemplate, Page, RunOutput};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

fn fixtures(dir: &str) -> TestResult<Vec<(String, serde_json::Value)>> {
    let root = aib_testkit::reference_path(match dir {
        "imagebuilder" => "azure-reference/imagebuilder/2025-10-01/examples",
        "gallery" => "azure-reference/compute-gallery/2025-03-03/examples",
        _ => "azure-reference/resources/2026-09-01/examples",
    });
    let mut out = Vec::new();
    for e in std::fs::read_dir(&root)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            out.push((name, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn method_for(file: &str, op: &str) -> Method {
    let f = format!("{file} {op}").to_ascii_lowercase();
    if f.contains("delete") {
        Method::DELETE
    } else if f.contains("update") {
        Method::PATCH
    } else if f.contains("create") || f.contains("put") {
        Method::PUT
    } else if f.contains("run")
        || f.contains("cancel")
        || f.contains("post")
        || f.contains("validate")
        || f.contains("whatif")
    {
        Method::POST
    } else {
        Method::GET
    }
}

#[test]
fn lro_headers_of_every_example() -> TestResult {
    let mut checked = 0;
    for dir in ["imagebuilder", "gallery", "resources"] {
        for (file, ex) in fixtures(dir)? {
            let op = ex["operationId"].as_str().unwrap_or("");
            let method = method_for(&file, op);
            let Some(responses) = ex["responses"].as_object() else {
                continue;
            };
            for (code, resp) in responses {
                let status: u16 = code.parse()?;
                let mut headers = HeaderMap::new();
                if let Some(h) = resp["headers"].as_object() {
                    for (k, v) in h {
                        let v = v
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string());
                        headers.insert(
                            HeaderName::from_bytes(k.as_bytes())?,
                            HeaderValue::from_str(&v)?,
                        );
                    }
                }
                let body = resp.get("body");
                let handle = OperationHandle::from_parts(
                    &method,
                    status,
                    &headers,
                    body,
                    "https://management.azure.com/res",
                    None,
                );
                let has_async = headers.contains_key("azure-asyncoperation");
                let has_location = headers.contains_key("location");
                match &handle {
                    Some(h) if has_async => {
                        assert_eq!(h.kind, PollKind::AsyncOperation, "{file} {code}")
                    }
                    Some(h) if has_location => {
                        assert_eq!(h.kind, PollKind::Location, "{file} {code}");
                        assert_eq!(h.final_state_via, FinalStateVia::Location);
                    }
                    Some(h) => assert_eq!(h.kind, PollKind::ProvisioningState, "{file} {code}"),
                    None => assert!(
                        !(has_async || (has_location && status == 202)),
                        "{file} {code}: headers not turned into a handle"
                    ),
                }
                if let Some(ps) = body
                    .and_then(|b| b.pointer("/properties/provisioningState"))
                    .and_then(|v| v.as_str())
                {
                    let st = parse_status(ps);
                    let terminal = ["succeeded", "failed", "canceled"]
                        .contains(&ps.to_ascii_lowercase().as_str());
                    assert_eq!(st.is_terminal(), terminal, "{file}: {ps}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} responses checked");
    Ok(())
}

#[test]
fn bodies_decode_into_wire_types() -> TestResult {
    for (file, ex) in fixtures("imagebuilder")? {
        let Some(body) = ex.pointer("/responses/200/body") else {
            continue;
        };
        if file.contains("Trigger") || file.starts_with("Operations") {
            continue;
        }
        if file.starts_with("List") && file.contains("RunOutputs") {
            let p: Page<RunOutput> = serde_json::from_value(body.clone())?;
            assert!(!p.value.is_empty(), "{file}");
        } else if file.starts_with("List") {
            let p: Page<ImageTemplate> = serde_json::from_value(body.clone())?;
            assert!(!p.value.is_empty(), "{file}");
        } else if file.contains("RunOutput") {
            let r: RunOutput = serde_json::from_value(body.clone())?;
            assert!(
                r.properties.artifact_id.is_some() || r.properties.artifact_uri.is_some(),
                "{file}"
            );
        } else {
            let t: ImageTemplate = serde_json::from_value(body.clone())?;
            assert!(t.name.is_some(), "{file}");
        }
    }
    for (file, ex) in fixtures("gallery")? {
        let Some(body) = ex.pointer("/responses/200/body") else {
            continue;
        };
        if file.starts_with("GalleryImageVersion_List") {
            let p: Page<GalleryImageVersion> = serde_json::from_value(body.clone())?;
            assert!(!p.value.is_empty());
        } else if file.starts_with("GalleryImageVersion_Get_WithReplicationStatus") {
            let v: GalleryImageVersion = serde_json::from_value(body.clone())?;
            let rs = v
                .properties
                .replication_status
                .clone()
                .ok_or("no replicationStatus")?;
            assert!(!rs.summary.is_empty());
            // Display-form region names compare equal to short names.
            let regions: Vec<String> = rs
                .summary
                .iter()
                .map(|s| s.region.replace(' ', "").to_lowercase())
                .collect();
            assert!(v.regions_not_replicated(&regions).len() <= regions.len());
        } else if file.starts_with("GalleryImageVersion") {
            let _: GalleryImageVersion = serde_json::from_value(body.clone())?;
        }
    }
    for (file, ex) in fixtures("resources")? {
        for code in ["200", "201"] {
            if let Some(body) = ex.pointer(&format!("/responses/{code}/body"))
                && file.starts_with("PutDeployment")
            {
                let d: Deployment = serde_json::from_value(body.clone())?;
                assert!(d.properties.provisioning_state.is_some(), "{file}");
            }
        }
    }
    Ok(())
}

/// The List Blobs responses in the reference (a first page with a continuation marker, the last
/// page, an empty listing) parse into names, sizes and markers.
#[test]
fn list_blobs_responses_parse() -> TestResult {
    use aib_azure::blob::list::parse_list_blobs;
    let dir = aib_testkit::reference_path("azure-reference/misc/blob-storage/list-blobs-xml");
    let first = parse_list_blobs(&std::fs::read(dir.join("list_objects_1.xml"))?)?;
    assert_eq!(first.blobs.len(), 2);
    assert!(first.next_marker.is_some(), "the first page continues");
    assert!(first.blobs.iter().all(|b| b.content_length.is_some()));
    let last = parse_list_blobs(&std::fs::read(dir.join("list_objects_2.xml"))?)?;
    assert!(!last.blobs.is_empty());
    assert_eq!(last.next_marker, None);
    let empty = parse_list_blobs(&std::fs::read(dir.join("list_objects_empty.xml"))?)?;
    assert!(empty.blobs.is_empty());
    assert_eq!(empty.next_marker, None);
    Ok(())
}
