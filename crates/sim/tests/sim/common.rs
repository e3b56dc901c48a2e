use aib_sim::{Scenario, SimHandle};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const API_AIB: &str = "2025-10-01";
pub const API_GAL: &str = "2025-03-03";
pub const API_RES: &str = "2025-04-01";

pub struct T {
    pub sim: SimHandle,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn code(&self) -> String {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

pub async fn start(toml: &str) -> T {
    let scenario = Scenario::from_toml_str(toml).unwrap();
    let sim = aib_sim::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap();
    let base = sim.base_url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let token = get_token(&http, &base).await;
    T {
        sim,
        base,
        http,
        token,
    }
}

pub async fn get_token(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com"
        ))
        .header("X-IDENTITY-HEADER", "secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

pub fn rg_path(rg: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}")
}

pub fn it_path(rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}",
        rg_path(rg)
    )
}

pub fn with_api(path: &str, api: &str) -> String {
    if path.contains("api-version=") {
        path.to_string()
    } else if path.contains('?') {
        format!("{path}&api-version={api}")
    } else {
        format!("{path}?api-version={api}")
    }
}

impl T {
    pub async fn raw(&self, method: Method, url: &str, body: Option<&Value>, auth: bool) -> Resp {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{}", self.base, url)
        };
        let mut rb = self.http.request(method, &url);
        if auth {
            rb = rb.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }
    pub async fn get(&self, path: &str, api: &str) -> Resp {
        self.raw(Method::GET, &with_api(path, api), None, true)
            .await
    }
    pub async fn put(&self, path: &str, api: &str, body: &Value) -> Resp {
        self.raw(Method::PUT, &with_api(path, api), Some(body), true)
            .await
    }
    pub async fn post(&self, path: &str, api: &str) -> Resp {
        self.raw(Method::POST, &with_api(path, api), None, true)
            .await
    }
    pub async fn delete(&self, path: &str, api: &str) -> Resp {
        self.raw(Method::DELETE, &with_api(path, api), None, true)
            .await
    }
    pub async fn stats(&self) -> Value {
        self.raw(Method::GET, "/_sim/stats", None, false).await.body
    }

    /// Poll a GET until `pred` holds (max `secs`).
    pub async fn wait_for(
        &self,
        path: &str,
        api: &str,
        secs: f64,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs_f64(secs);
        loop {
            let r = self.get(path, api).await;
            if pred(&r.body) {
                return r.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting on {path}: last {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn wait_run_done(&self, rg: &str, name: &str) -> Value {
        self.wait_for(&it_path(rg, name), API_AIB, 10.0, |b| {
            matches!(
                b["properties"]["lastRunStatus"]["runState"].as_str(),
                Some("Succeeded" | "Failed" | "Canceled" | "PartiallySucceeded")
            )
        })
        .await
    }
}

/// A typical imageTemplate body.
pub fn template_body(customize: Value, distribute: Value) -> Value {
    json!({
        "location": "eastus2",
        "tags": {"owner": "test"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {
            format!("/subscriptions/{SUB}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"): {}
        }},
        "properties": {
            "buildTimeoutInMinutes": 120,
            "vmProfile": {"vmSize": "Standard_D4s_v5", "osDiskSizeGB": 128},
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
            "customize": customize,
            "distribute": distribute,
        }
    })
}

pub fn sig_distribute(
    gallery_rg: &str,
    gallery: &str,
    image: &str,
    version: Option<&str>,
    regions: &[&str],
) -> Value {
    let mut id = format!(
        "{}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}",
        rg_path(gallery_rg)
    );
    if let Some(v) = version {
        id.push_str(&format!("/versions/{v}"));
    }
    let tr: Vec<Value> = regions
        .iter()
        .map(|r| json!({"name": r, "replicaCount": 1, "storageAccountType": "Standard_LRS"}))
        .collect();
    json!([{"type": "SharedImage", "galleryImageId": id, "runOutputName": "sig", "targetRegions": tr, "artifactTags": {"aib": "test"}}])
}

pub fn shell(name: &str) -> Value {
    json!({"type": "Shell", "name": name, "inline": ["echo hi"]})
}

/// Shared Key signature for a GET/HEAD blob request.
pub fn shared_key_headers(
    account: &str,
    key_b64: &str,
    method: &str,
    url: &reqwest::Url,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let mut xms: Vec<(String, String)> = vec![
        ("x-ms-date".into(), date),
        ("x-ms-version".into(), "2021-10-04".into()),
    ];
    let mut range = String::new();
    for (k, v) in extra {
        if *k == "range" {
            range = v.to_string();
        } else {
            xms.push((k.to_string(), v.to_string()));
        }
    }
    xms.sort();
    let canon_headers: String = xms.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let mut q: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_lowercase(), v.to_string()))
        .collect();
    q.sort();
    let canon_q: String = q.iter().map(|(k, v)| format!("\n{k}:{v}")).collect();
    let sts = format!(
        "{method}\n\n\n\n\n\n\n\n\n\n\n{range}\n{canon_headers}/{account}{}{canon_q}",
        url.path()
    );
    let key = STANDARD.decode(key_b64).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(sts.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let mut out = xms;
    if !range.is_empty() {
        out.push(("range".into(), range));
    }
    out.push(("authorization".into(), format!("SharedKey {account}:{sig}")));
    out
}

/// Service SAS (sv=2020-12-06) for a blob or container.
pub fn service_sas(
    account: &str,
    key_b64: &str,
    container: &str,
    blob: Option<&str>,
    sp: &str,
    se: &str,
) -> String {
    let (sr, canon) = match blob {
        Some(b) => ("b", format!("/blob/{account}/{container}/{b}")),
        None => ("c", format!("/blob/{account}/{container}")),
    };
    let sv = "2020-12-06";
    let sts = format!("{sp}\n\n{se}\n{canon}\n\n\nhttps,http\n{sv}\n{sr}\n\n\n\n\n\n\n");
    let key = STANDARD.decode(key_b64).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(sts.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "sv={sv}&sr={sr}&sp={sp}&se={}&spr=https,http&sig={}",
        enc(se),
        enc(&sig)
    )
}
