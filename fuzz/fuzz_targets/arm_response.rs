//! ARM response parsing: error bodies (status, code, message, request ids), long-running
//! operation handles and status bodies, Retry-After headers, run states, on arbitrary input.
//!
//! Input layout: byte 0 picks the status, then `header: value` lines up to an empty line, then
//! the body.
#![no_main]

use std::time::SystemTime;

use aib_azure::arm::api_error;
use aib_azure::lro::{OperationHandle, PollKind, interpret, parse_run_state, parse_status};
use aib_azure::retry::parse_retry_after;
use aib_azure::transport::Response;
use libfuzzer_sys::fuzz_target;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

const STATUSES: [u16; 12] = [200, 201, 202, 204, 400, 401, 403, 404, 409, 429, 500, 503];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let status = STATUSES[usize::from(first) % STATUSES.len()];
    let split = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(rest.len());
    let (head, body) = rest.split_at(split);
    let body = body.get(2..).unwrap_or_default();
    let mut headers = HeaderMap::new();
    for line in String::from_utf8_lossy(head).lines() {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            ) {
                headers.append(k, v);
            }
        }
    }
    let resp = Response {
        status,
        headers: headers.clone(),
        body: bytes::Bytes::copy_from_slice(body),
        url: "https://management.azure.com/subscriptions/s/resourceGroups/rg".to_string(),
    };
    let _ = api_error(&Method::PUT, &resp, "client-request-id").to_string();
    let _ = interpret(PollKind::AsyncOperation, &resp);
    let _ = interpret(PollKind::Location, &resp);
    for method in [Method::PUT, Method::POST, Method::DELETE] {
        let json = serde_json::from_slice::<serde_json::Value>(body).ok();
        let _ = OperationHandle::from_parts(&method, status, &headers, json.as_ref(), &resp.url, None);
    }
    let _ = parse_retry_after(&headers, SystemTime::now());
    let text = String::from_utf8_lossy(body);
    let _ = parse_status(&text);
    let _ = parse_run_state(&text);
});
