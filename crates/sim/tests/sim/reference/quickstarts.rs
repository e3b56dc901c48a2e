//! Every ARM deployment template among Image Builder's quickstarts deploys on the simulator,
//! placeholders filled the way a user fills them; a template without the identity that current
//! API versions require fails the way Azure fails it.

use crate::common::*;
use crate::templates::{dep_path, deploy};
use serde_json::{Value, json};

#[tokio::test]
async fn quickstart_templates_deploy() {
    let t = start("minute_ms = 1\ndeploy_minutes = 2").await;
    let mut n = 0;
    for path in aib_testkit::reference_files("azure-reference/quickstart-templates", ".json") {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Fill the quickstarts' <placeholders> the way a user would before deploying.
        let mut filled = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find('<') {
            filled.push_str(&rest[..i]);
            match rest[i..].find('>') {
                Some(j)
                    if rest[i + 1..i + j]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    filled.push_str(&rest[i + 1..i + j]);
                    rest = &rest[i + j + 1..];
                }
                _ => {
                    filled.push('<');
                    rest = &rest[i + 1..];
                }
            }
        }
        filled.push_str(rest);
        let tpl: Value = serde_json::from_str(&filled).unwrap();
        if !tpl["$schema"]
            .as_str()
            .unwrap_or("")
            .contains("deploymentTemplate")
        {
            continue;
        }
        n += 1;
        let file = path.file_stem().unwrap().to_string_lossy().to_string();
        let itname = format!("qs-{n}");
        let mut params = serde_json::Map::new();
        for (k, def) in tpl["parameters"].as_object().unwrap() {
            let lk = k.to_lowercase();
            let v = match def["type"]
                .as_str()
                .unwrap_or("string")
                .to_lowercase()
                .as_str()
            {
                "int" => json!(1),
                "bool" => json!(true),
                _ if lk.contains("location") => json!("westus2"),
                _ if lk == "imagetemplatename" => json!(itname),
                _ if lk == "api-version" => json!("2022-07-01"),
                _ if lk.contains("resgroupid") => json!(format!(
                    "{}/providers/Microsoft.Compute/images/",
                    rg_path("rg-qs")
                )),
                _ => json!(format!("value-{k}")),
            };
            params.insert(k.clone(), json!({"value": v}));
        }
        let r = deploy(&t, "rg-qs", &file, &tpl, Value::Object(params)).await;
        assert_eq!(r.status, 201, "{file}: {}", r.text);
        let d = t
            .wait_for(&dep_path("rg-qs", &file), API_RES, 5.0, |b| {
                b["properties"]["provisioningState"] != "Running"
                    && b["properties"]["provisioningState"] != "Accepted"
            })
            .await;
        let has_identity = tpl["resources"][0].get("identity").is_some();
        if has_identity {
            assert_eq!(
                d["properties"]["provisioningState"], "Succeeded",
                "{file}: {d}"
            );
            let g = t.get(&it_path("rg-qs", &itname), API_AIB).await;
            assert_eq!(g.status, 200, "{file}");
            assert_eq!(g.body["location"], "westus2");
            assert!(g.body["properties"]["customize"].is_array());
        } else {
            // current API versions require identity: the resource fails, like in Azure
            assert_eq!(d["properties"]["provisioningState"], "Failed", "{file}");
            assert_eq!(d["properties"]["error"]["code"], "DeploymentFailed");
            assert!(
                d["properties"]["error"]["details"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("identity")
            );
        }
        if file == "devOpsEnvTemplate" {
            // concat with parameters evaluated inside arrays
            let ops = t
                .get(&format!("{}/operations", dep_path("rg-qs", &file)), API_RES)
                .await;
            assert_eq!(
                ops.body["value"][0]["properties"]["provisioningState"],
                "Failed"
            );
        }
    }
    assert!(n >= 5, "only {n} quickstart deployment templates");
    t.sim.shutdown().await;
}
