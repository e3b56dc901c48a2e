//! Platform image versions:
//! `GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/publishers/{pub}/artifacttypes/vmimage/offers/{offer}/skus/{sku}/versions`
//! → `[{"location","name","id"}]`. Every publisher/offer/sku has the scenario's
//! `platform_image_version`; `POST /_sim/publish {"image":"Pub:Offer:Sku","version":"x.y.z"}`
//! adds newer ones (in every location).

use super::parse_version;
use crate::context::Ctx;
use crate::response::{arm_error, json};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

fn key(p: &str, o: &str, s: &str) -> String {
    format!("{p}:{o}:{s}").to_ascii_lowercase()
}

fn versions(ctx: &Ctx, st: &State, p: &str, o: &str, s: &str) -> Vec<String> {
    let mut v = vec![ctx.scenario.platform_image_version.clone()];
    if let Some(extra) = st.published.get(&key(p, o, s)) {
        for e in extra {
            if !v.contains(e) {
                v.push(e.clone());
            }
        }
    }
    v.sort_by_key(|x| parse_version(x).unwrap_or_default());
    v
}

/// The newest version of an image.
pub fn latest(ctx: &Ctx, st: &State, p: &str, o: &str, s: &str, _loc: &str) -> String {
    versions(ctx, st, p, o, s)
        .pop()
        .unwrap_or_else(|| ctx.scenario.platform_image_version.clone())
}

/// List versions.
pub fn list(ctx: &Ctx, st: &State, sub: &str, loc: &str, p: &str, o: &str, s: &str) -> Response {
    let value: Vec<Value> = versions(ctx, st, p, o, s)
        .into_iter()
        .map(|v| {
            json!({
                "location": loc,
                "name": v,
                "id": format!("/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{loc}/Publishers/{p}/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions/{v}"),
            })
        })
        .collect();
    json(StatusCode::OK, &Value::Array(value))
}

/// `POST /_sim/publish`
pub fn publish(st: &mut State, body: &[u8]) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "body must be JSON {\"image\":\"Publisher:Offer:Sku\",\"version\":\"x.y.z\"}",
        );
    };
    let image = v.get("image").and_then(Value::as_str).unwrap_or("");
    let version = v.get("version").and_then(Value::as_str).unwrap_or("");
    let parts: Vec<&str> = image.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) || parse_version(version).is_none() {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "expected {\"image\":\"Publisher:Offer:Sku\",\"version\":\"x.y.z\"}",
        );
    }
    let list = st
        .published
        .entry(key(parts[0], parts[1], parts[2]))
        .or_default();
    if !list.iter().any(|x| x == version) {
        list.push(version.to_string());
    }
    json(StatusCode::OK, &json!({"image": image, "version": version}))
}
