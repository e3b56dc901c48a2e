//! Response helpers: JSON bodies, ARM error bodies, retry hints.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// A marker extension: close the connection instead of answering.
#[derive(Debug, Clone, Copy)]
pub struct ResetConnection;

/// JSON response.
pub fn json(status: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// Empty response.
pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// ARM error body `{"error":{"code","message"}}`.
pub fn arm_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// ARM error with a full error object.
pub fn arm_error_obj(status: StatusCode, error: Value) -> Response {
    json(status, &json!({ "error": error }))
}

/// Set a header (ignores invalid values).
pub fn set_header(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// Add `retry-after-ms` and `Retry-After` (whole seconds rounded up).
pub fn set_retry_after(r: &mut Response, ms: u64) {
    set_header(r, "retry-after-ms", &ms.to_string());
    set_header(r, "Retry-After", &ms.div_ceil(1000).max(1).to_string());
}

/// 404 ResourceNotFound as ARM words it.
pub fn not_found(rtype: &str, name: &str, rg: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource '{rtype}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

/// 404 ResourceGroupNotFound.
pub fn rg_not_found(rg: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceGroupNotFound",
        format!("Resource group '{rg}' could not be found."),
    )
}
