//! Responses have the reference examples' shapes: every key of the example (recursively) is
//! present with the same JSON type, and status codes / LRO headers match.

use crate::common::*;
use serde_json::{Value, json};

/// Objects whose keys are data, not schema.
const MAPS: &[&str] = &[
    "tags",
    "artifactTags",
    "userAssignedIdentities",
    "parameters",
    "outputs",
];
/// Optional keys the examples show but the simulator does not produce (see module docs).
const IGNORE: &[&str] = &["nextLink", "encryption", "templateLink"];

/// An example of the REST specs: `imagebuilder/X.json`, `compute-gallery/X.json` or
/// `resources/X.json`.
fn load(rel: &str) -> Value {
    let (dir, file) = rel.split_once('/').unwrap();
    let folder = match dir {
        "imagebuilder" => "imagebuilder/2025-10-01/examples",
        "compute-gallery" => "compute-gallery/2025-03-03/examples",
        _ => "resources/2026-09-01/examples",
    };
    let path = aib_testkit::reference_path(format!("azure-reference/{folder}/{file}"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn shape(ex: &Value, ac: &Value, path: &str, errs: &mut Vec<String>) {
    match (ex, ac) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                if IGNORE.contains(&k.as_str()) {
                    continue;
                }
                let p = format!("{path}.{k}");
                match a.get(k) {
                    None => errs.push(format!("missing {p}")),
                    Some(av) if MAPS.contains(&k.as_str()) => {
                        if !av.is_object() {
                            errs.push(format!("{p} is not an object"));
                        } else if let (Some(e1), Some(a1)) = (
                            ev.as_object().and_then(|m| m.values().next()),
                            av.as_object().and_then(|m| m.values().next()),
                        ) && k == "userAssignedIdentities"
                        {
                            shape(e1, a1, &format!("{p}.*"), errs);
                        }
                    }
                    Some(av) => shape(ev, av, &p, errs),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() == a.len() {
                for (i, (x, y)) in e.iter().zip(a).enumerate() {
                    shape(x, y, &format!("{path}[{i}]"), errs);
                }
            } else if let (Some(x), Some(y)) = (e.first(), a.first()) {
                shape(x, y, &format!("{path}[0]"), errs);
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, _) => {}
        (e, a) => errs.push(format!("{path}: example {} vs actual {}", kind(e), kind(a))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn assert_shape(name: &str, ex: &Value, ac: &Value) {
    let mut errs = Vec::new();
    shape(ex, ac, "$", &mut errs);
    assert!(errs.is_empty(), "{name}: {errs:#?}\nactual: {ac:#}");
}

/// A response body as a request body (drop read-only parts).
fn as_request(v: &Value) -> Value {
    let mut b = v.clone();
    let o = b.as_object_mut().unwrap();
    for k in ["id", "name", "type"] {
        o.remove(k);
    }
    b
}

#[tokio::test]
async fn imagebuilder_examples() {
    let t =
        start("minute_ms = 1\nbuild_minutes = 10\ncreate_minutes = 0\ndelete_minutes = 5").await;
    for f in ["CreateImageTemplateLinux", "CreateImageTemplateWindows"] {
        let ex = load(&format!("imagebuilder/{f}.json"));
        let p = &ex["parameters"];
        let rg = format!("{}-{f}", p["resourceGroupName"].as_str().unwrap());
        let path = it_path(&rg, p["imageTemplateName"].as_str().unwrap());
        let r = t
            .put(&path, p["api-version"].as_str().unwrap(), &p["parameters"])
            .await;
        assert_eq!(r.status, 201, "{f}: {}", r.text);
        assert!(
            r.header("azure-asyncoperation")
                .unwrap()
                .starts_with("http")
        );
        assert_shape(f, &ex["responses"]["201"]["body"], &r.body);
        let r = t.put(&path, API_AIB, &p["parameters"]).await;
        assert_eq!(r.status, 200, "{f}: {}", r.text);
        assert_shape(f, &ex["responses"]["200"]["body"], &r.body);
    }
    // PATCH examples (tags, vmProfile, identity removal) on a copy of the Linux template
    for f in [
        "UpdateImageTemplateTags",
        "UpdateImageTemplateVmProfile",
        "UpdateImageTemplateToRemoveIdentities",
    ] {
        let ex = load(&format!("imagebuilder/{f}.json"));
        let path = it_path(&format!("rg-{f}"), "myImageTemplate");
        let linux = load("imagebuilder/CreateImageTemplateLinux.json");
        assert_eq!(
            t.put(&path, API_AIB, &linux["parameters"]["parameters"])
                .await
                .status,
            201
        );
        let r = t
            .raw(
                reqwest::Method::PATCH,
                &with_api(&path, API_AIB),
                Some(&ex["parameters"]["parameters"]),
                true,
            )
            .await;
        assert_eq!(r.status, 200, "{f}: {}", r.text);
        let mut expected = ex["responses"]["200"]["body"].clone();
        if f == "UpdateImageTemplateToRemoveIdentities" {
            assert_eq!(r.body["identity"]["type"], "None");
        } else {
            // our template keeps the identity it was created with; compare the rest
            expected.as_object_mut().unwrap().remove("identity");
        }
        assert_shape(f, &expected, &r.body);
    }
    // Get
    let ex = load("imagebuilder/GetImageTemplate.json");
    let r = t
        .get(
            &it_path(
                "myResourceGroup-CreateImageTemplateLinux",
                "myImageTemplate",
            ),
            API_AIB,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_shape("GetImageTemplate", &ex["responses"]["200"]["body"], &r.body);

    // Lists: create the example's templates, then list
    for (f, rg, by_sub) in [
        ("ListImageTemplatesByRg", "rg-list", false),
        ("ListImageTemplates", "rg-list-sub", true),
    ] {
        let ex = load(&format!("imagebuilder/{f}.json"));
        let t = start("minute_ms = 1\ncreate_minutes = 0").await;
        for v in ex["responses"]["200"]["body"]["value"].as_array().unwrap() {
            let r = t
                .put(
                    &it_path(rg, v["name"].as_str().unwrap()),
                    API_AIB,
                    &as_request(v),
                )
                .await;
            assert_eq!(r.status, 201, "{f}: {}", r.text);
        }
        let path = if by_sub {
            format!("/subscriptions/{SUB}/providers/Microsoft.VirtualMachineImages/imageTemplates")
        } else {
            format!(
                "{}/providers/Microsoft.VirtualMachineImages/imageTemplates",
                rg_path(rg)
            )
        };
        let r = t.get(&path, API_AIB).await;
        assert_eq!(r.status, 200);
        assert_shape(f, &ex["responses"]["200"]["body"], &r.body);
        t.sim.shutdown().await;
    }

    // Run outputs (ManagedImage + SharedImage), run, cancel, delete
    let rg = "myResourceGroup";
    let mut body = template_body(
        json!([shell("a")]),
        sig_distribute(rg, "Gallery1", "SharedImageOutput", None, &["westus"]),
    );
    body["properties"]["distribute"][0]["runOutputName"] = json!("mySharedImageOutput");
    let managed = json!({"type": "ManagedImage", "imageId": format!("{}/providers/Microsoft.Compute/images/output_managed_image", rg_path("rg1")), "location": "eastus2", "runOutputName": "myManagedImageOutput"});
    body["properties"]["distribute"]
        .as_array_mut()
        .unwrap()
        .insert(0, managed);
    let tp = it_path(rg, "myImageTemplate");
    assert_eq!(t.put(&tp, API_AIB, &body).await.status, 201);
    let ex = load("imagebuilder/RunImageTemplate.json");
    let r = t.post(&format!("{tp}/run"), API_AIB).await;
    assert!(ex["responses"]["202"]["headers"]["Azure-AsyncOperation"].is_string());
    assert_eq!(r.status, 202);
    assert!(
        r.header("azure-asyncoperation")
            .unwrap()
            .contains("/providers/Microsoft.VirtualMachineImages/locations/")
    );
    t.wait_run_done(rg, "myImageTemplate").await;
    let ex = load("imagebuilder/ListRunOutputs.json");
    let r = t.get(&format!("{tp}/runOutputs"), API_AIB).await;
    assert_shape("ListRunOutputs", &ex["responses"]["200"]["body"], &r.body);
    let ex = load("imagebuilder/GetRunOutput.json");
    let r = t
        .get(&format!("{tp}/runOutputs/myManagedImageOutput"), API_AIB)
        .await;
    assert_eq!(r.status, 200);
    assert_shape("GetRunOutput", &ex["responses"]["200"]["body"], &r.body);
    // The spec allows 200, 204 or 202 with an operation; recorded Azure answers 204 without
    // one (Stop-AzImageBuilderTemplate, entry 1), and the recording wins.
    let ex = load("imagebuilder/CancelImageBuild.json");
    assert!(ex["responses"]["204"].is_object());
    t.post(&format!("{tp}/run"), API_AIB).await;
    let r = t.post(&format!("{tp}/cancel"), API_AIB).await;
    assert_eq!(r.status, 204);
    assert!(r.header("azure-asyncoperation").is_none());
    t.wait_run_done(rg, "myImageTemplate").await;
    let ex = load("imagebuilder/DeleteImageTemplate.json");
    assert!(ex["responses"]["202"]["headers"]["Location"].is_string());
    let r = t.delete(&tp, API_AIB).await;
    assert_eq!(r.status, 202);
    assert!(r.header("location").unwrap().contains("/operations/"));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn compute_gallery_examples() {
    let t = start("minute_ms = 1\nbuild_minutes = 10\ncreate_minutes = 0").await;
    let rg = "myResourceGroup";
    let body = template_body(
        json!([shell("a")]),
        sig_distribute(
            rg,
            "myGalleryName",
            "myGalleryImageName",
            Some("1.0.0"),
            &["West US", "East US"],
        ),
    );
    assert_eq!(t.put(&it_path(rg, "g"), API_AIB, &body).await.status, 201);
    t.post(&format!("{}/run", it_path(rg, "g")), API_AIB).await;
    let b = t.wait_run_done(rg, "g").await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Succeeded");
    let img = format!(
        "{}/providers/Microsoft.Compute/galleries/myGalleryName/images/myGalleryImageName",
        rg_path(rg)
    );
    let ex = load("compute-gallery/GalleryImageVersion_Get.json");
    let r = t
        .get(
            &format!("{img}/versions/1.0.0"),
            ex["parameters"]["version"].as_str().unwrap(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_shape(
        "GalleryImageVersion_Get",
        &ex["responses"]["200"]["body"],
        &r.body,
    );
    assert!(r.body["properties"].get("replicationStatus").is_none());
    let ex = load("compute-gallery/GalleryImageVersion_Get_WithReplicationStatus.json");
    let r = t
        .get(
            &format!("{img}/versions/1.0.0?$expand=ReplicationStatus"),
            API_GAL,
        )
        .await;
    assert_shape(
        "GalleryImageVersion_Get_WithReplicationStatus",
        &ex["responses"]["200"]["body"],
        &r.body,
    );
    assert_eq!(
        r.body["properties"]["publishingProfile"]["targetRegions"][0]["name"],
        "West US"
    );
    let ex = load("compute-gallery/GalleryImageVersion_ListByGalleryImage.json");
    let r = t.get(&format!("{img}/versions"), API_GAL).await;
    assert_shape(
        "GalleryImageVersion_ListByGalleryImage",
        &ex["responses"]["200"]["body"],
        &r.body,
    );
    let ex = load("compute-gallery/GalleryImage_Get.json");
    let r = t.get(&img, API_GAL).await;
    assert_shape("GalleryImage_Get", &ex["responses"]["200"]["body"], &r.body);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deployment_examples() {
    let t = start("minute_ms = 1\ndeploy_minutes = 3").await;
    let ex = load("resources/PutDeploymentResourceGroup.json");
    let p = &ex["parameters"];
    // The example links its template; the simulator needs it inline.
    let template = json!({"resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "my-storage-account", "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {}}]});
    let path = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Resources/deployments/{}",
        p["subscriptionId"].as_str().unwrap(),
        p["resourceGroupName"].as_str().unwrap(),
        p["deploymentName"].as_str().unwrap()
    );
    let r = t
        .put(
            &path,
            p["api-version"].as_str().unwrap(),
            &json!({"properties": {"mode": "Incremental", "template": template, "parameters": {}}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_shape(
        "PutDeploymentResourceGroup 201",
        &ex["responses"]["201"]["body"],
        &r.body,
    );
    let r = t
        .wait_for(&path, API_RES, 5.0, |b| {
            b["properties"]["provisioningState"] == "Succeeded"
        })
        .await;
    assert_shape(
        "PutDeploymentResourceGroup 200",
        &ex["responses"]["200"]["body"],
        &r,
    );
    // the linked form is refused with a clear error
    let r = t
        .put(
            &path.replace("my-deployment", "linked"),
            API_RES,
            &p["parameters"],
        )
        .await;
    assert_eq!(r.status, 400);
    // the created generic resource can be read back
    let r = t.get(&format!("/subscriptions/{}/resourceGroups/my-resource-group/providers/Microsoft.Storage/storageAccounts/my-storage-account", p["subscriptionId"].as_str().unwrap()), "2023-05-01").await;
    assert_eq!(r.status, 200);
    t.sim.shutdown().await;
}
