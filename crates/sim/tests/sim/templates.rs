use crate::common::*;
use serde_json::{Value, json};

pub(crate) fn dep_path(rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Resources/deployments/{name}",
        rg_path(rg)
    )
}

pub(crate) async fn deploy(t: &T, rg: &str, name: &str, template: &Value, params: Value) -> Resp {
    t.put(
        &dep_path(rg, name),
        API_RES,
        &json!({"properties": {"mode": "Incremental", "template": template, "parameters": params}}),
    )
    .await
}

#[tokio::test]
async fn expression_language() {
    let t = start("minute_ms = 1\ndeploy_minutes = 1\ndefault_location = \"eastus2\"").await;
    let tpl = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "name": {"type": "string"},
            "count": {"type": "int", "defaultValue": 3},
            "tags": {"type": "object", "defaultValue": {"a": {"b": "deep"}}},
            "list": {"type": "array", "defaultValue": ["x", "y"]},
            "secret": {"type": "securestring", "defaultValue": "hidden"},
            "kind": {"type": "string", "defaultValue": "Linux", "allowedValues": ["Linux", "Windows"]}
        },
        "variables": {
            "prefix": "[toLower(concat('IMG-', parameters('name')))]",
            "full": "[format('{0}-{1}-{2}', variables('prefix'), parameters('count'), resourceGroup().location)]"
        },
        "resources": [],
        "outputs": {
            "full": {"type": "string", "value": "[variables('full')]"},
            "rgName": {"type": "string", "value": "[resourceGroup().name]"},
            "rgId": {"type": "string", "value": "[resourceGroup().id]"},
            "sub": {"type": "string", "value": "[subscription().subscriptionId]"},
            "subId": {"type": "string", "value": "[subscription().id]"},
            "rid": {"type": "string", "value": "[resourceId('Microsoft.Compute/galleries/images', 'gal', parameters('name'))]"},
            "rid2": {"type": "string", "value": "[resourceId('other-rg', 'Microsoft.ManagedIdentity/userAssignedIdentities', 'id1')]"},
            "str": {"type": "string", "value": "[string(parameters('count'))]"},
            "u1": {"type": "string", "value": "[uniqueString(resourceGroup().id)]"},
            "u2": {"type": "string", "value": "[uniqueString(resourceGroup().id)]"},
            "deep": {"type": "string", "value": "[parameters('tags').a.b]"},
            "idx": {"type": "string", "value": "[parameters('list')[1]]"},
            "esc": {"type": "string", "value": "[[not an expression]"},
            "quote": {"type": "string", "value": "[concat('it''s ', toUpper('x'))]"},
            "cond": {"type": "string", "value": "[if(equals(parameters('kind'), 'Linux'), 'lin', 'win')]"},
            "arr": {"type": "array", "value": "[concat(parameters('list'), createArray('z'))]"}
        }
    });
    let r = deploy(&t, "rg-e", "e1", &tpl, json!({"name": {"value": "Ubuntu"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.body["properties"]["parameters"]["secret"]
            .get("value")
            .is_none()
    );
    let d = t
        .wait_for(&dep_path("rg-e", "e1"), API_RES, 5.0, |b| {
            b["properties"]["provisioningState"] == "Succeeded"
        })
        .await;
    let o = &d["properties"]["outputs"];
    let v = |k: &str| o[k]["value"].clone();
    assert_eq!(v("full"), "img-ubuntu-3-eastus2");
    assert_eq!(v("rgName"), "rg-e");
    assert_eq!(
        v("rgId"),
        format!("/subscriptions/{SUB}/resourceGroups/rg-e").as_str()
    );
    assert_eq!(v("sub"), SUB);
    assert_eq!(v("subId"), format!("/subscriptions/{SUB}").as_str());
    assert_eq!(v("rid"), format!("/subscriptions/{SUB}/resourceGroups/rg-e/providers/Microsoft.Compute/galleries/gal/images/Ubuntu").as_str());
    assert_eq!(v("rid2"), format!("/subscriptions/{SUB}/resourceGroups/other-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1").as_str());
    assert_eq!(v("str"), "3");
    assert_eq!(v("u1").as_str().unwrap().len(), 13);
    assert_eq!(v("u1"), v("u2"));
    assert_eq!(v("deep"), "deep");
    assert_eq!(v("idx"), "y");
    assert_eq!(v("esc"), "[not an expression]");
    assert_eq!(v("quote"), "it's X");
    assert_eq!(v("cond"), "lin");
    assert_eq!(v("arr"), json!(["x", "y", "z"]));
    assert_eq!(o["full"]["type"], "String");

    // errors -> 400 InvalidTemplate
    let bad = |out: &str| json!({"parameters": {"p": {"type": "string", "defaultValue": "x"}}, "resources": [], "outputs": {"o": {"type": "string", "value": out}}});
    for (i, expr) in [
        "[noSuchFunction('a')]",
        "[parameters('missing')]",
        "[concat('a',]",
        "[variables('nope')]",
    ]
    .iter()
    .enumerate()
    {
        let r = deploy(&t, "rg-e", &format!("bad{i}"), &bad(expr), json!({})).await;
        assert_eq!(r.status, 400, "{expr}: {}", r.text);
        assert_eq!(r.code(), "InvalidTemplate", "{expr}");
    }
    let r = deploy(
        &t,
        "rg-e",
        "bad-fn",
        &bad("[noSuchFunction('a')]"),
        json!({}),
    )
    .await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("noSuchFunction")
    );
    // parameter type check, missing parameter, unknown parameter, allowedValues
    let r = deploy(&t, "rg-e", "bt", &tpl, json!({"name": {"value": 5}})).await;
    assert_eq!(r.code(), "InvalidTemplate");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Expected 'String")
    );
    let r = deploy(&t, "rg-e", "bm", &tpl, json!({})).await;
    assert_eq!(r.code(), "InvalidTemplate");
    let r = deploy(
        &t,
        "rg-e",
        "bu",
        &tpl,
        json!({"name": {"value": "a"}, "extra": {"value": 1}}),
    )
    .await;
    assert_eq!(r.code(), "InvalidTemplate");
    let r = deploy(
        &t,
        "rg-e",
        "ba",
        &tpl,
        json!({"name": {"value": "a"}, "kind": {"value": "Mac"}}),
    )
    .await;
    assert_eq!(r.code(), "InvalidTemplate");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deployment_update_conflict_fails_deployment() {
    let t = start("minute_ms = 1\ndeploy_minutes = 2\ncreate_minutes = 0").await;
    let mk = |vm: &str| {
        let mut body = template_body(
            json!([shell("a")]),
            sig_distribute("rg-d", "g", "i", None, &["eastus2"]),
        );
        body["properties"]["vmProfile"]["vmSize"] = json!(vm);
        body["type"] = json!("Microsoft.VirtualMachineImages/imageTemplates");
        body["apiVersion"] = json!("2024-02-01");
        body["name"] = json!("same-name");
        json!({"resources": [body]})
    };
    assert_eq!(
        deploy(&t, "rg-d", "d1", &mk("Standard_D2s_v5"), json!({}))
            .await
            .status,
        201
    );
    let d = t
        .wait_for(&dep_path("rg-d", "d1"), API_RES, 5.0, |b| {
            b["properties"]["provisioningState"] == "Succeeded"
        })
        .await;
    assert_eq!(
        d["properties"]["outputResources"][0]["id"],
        it_path("rg-d", "same-name").as_str()
    );
    // same deployment name while running -> 409? (finished, so allowed); different body -> Failed
    let r = deploy(&t, "rg-d", "d2", &mk("Standard_D8s_v5"), json!({})).await;
    assert_eq!(r.status, 201);
    let aso = r.header("azure-asyncoperation").unwrap();
    let s = t
        .wait_for(&aso, API_RES, 5.0, |b| b["status"] != "Running")
        .await;
    assert_eq!(s["status"], "Failed");
    let d = t.get(&dep_path("rg-d", "d2"), API_RES).await.body;
    let e = &d["properties"]["error"];
    assert_eq!(e["code"], "DeploymentFailed");
    assert_eq!(e["details"][0]["code"], "Conflict");
    assert!(
        e["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Update/Upgrade of image templates is currently not supported")
    );
    let ops = t
        .get(&format!("{}/operations", dep_path("rg-d", "d2")), API_RES)
        .await;
    assert_eq!(ops.body["value"][0]["properties"]["statusCode"], "Conflict");
    t.sim.shutdown().await;
}
