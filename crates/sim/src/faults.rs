//! Fault injection: seeded random 429 / 500 / 503 / connection resets / latency, throttle
//! storms, outages and scripted operation-status errors. `/_sim/*` is never faulted; the token
//! endpoints only with `[faults] token = true`.
//! Faults are decided before the request is handled; 429 and 500/503 answers mean the request
//! had no effect. Half of the plain resets happen *after* the request took effect (the answer is
//! lost), so clients meet the ambiguous case; mid-body resets also happen after handling.

use crate::response::{ResetConnection, arm_error, set_retry_after};
use crate::scenario::Faults;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The fault decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Throttle,
    ServerError(u16),
    /// Close the connection without answering; `true` = after the request took effect.
    Reset(bool),
    ResetMidBody,
}

/// Seeded RNG for fault decisions.
#[derive(Debug)]
pub struct FaultRng {
    rng: StdRng,
}

impl FaultRng {
    pub fn new(seed: u64) -> FaultRng {
        FaultRng {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Decide the fault for one request at `real_ms` since start.
    pub fn roll(&mut self, f: &Faults, real_ms: u64) -> Fault {
        if f.throttle_storm
            .iter()
            .any(|s| real_ms >= s.start_ms && real_ms < s.start_ms.saturating_add(s.duration_ms))
        {
            return Fault::Throttle;
        }
        if f.outage
            .iter()
            .any(|s| real_ms >= s.start_ms && real_ms < s.start_ms.saturating_add(s.duration_ms))
        {
            return Fault::ServerError(503);
        }
        if f.throttle + f.server_error + f.reset <= 0.0 {
            return Fault::None;
        }
        let r: f64 = self.rng.random();
        if r < f.throttle {
            Fault::Throttle
        } else if r < f.throttle + f.server_error {
            if self.rng.random::<bool>() {
                Fault::ServerError(500)
            } else {
                Fault::ServerError(503)
            }
        } else if r < f.throttle + f.server_error + f.reset {
            if self.rng.random::<f64>() < f.reset_mid_body {
                Fault::ResetMidBody
            } else {
                Fault::Reset(self.rng.random::<bool>())
            }
        } else {
            Fault::None
        }
    }
}

/// 429 as ARM sends it.
pub fn throttle_response(retry_ms: u64, write: bool) -> Response {
    let kind = if write { "writes" } else { "reads" };
    let mut r = arm_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        format!(
            "Number of {kind} requests for subscription exceeded the limit. Please try again after {} seconds.",
            retry_ms.div_ceil(1000).max(1)
        ),
    );
    set_retry_after(&mut r, retry_ms);
    r
}

/// 500 / 503.
pub fn server_error_response(status: u16, retry_ms: u64) -> Response {
    if status == 503 {
        let mut r = arm_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The server is currently unable to handle the request. Please retry.",
        );
        set_retry_after(&mut r, retry_ms);
        r
    } else {
        arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Encountered internal server error. Diagnostic information: timestamp '', subscription id '', tracking id '', request correlation id ''.",
        )
    }
}

/// A response that makes the server close the connection without answering.
pub fn reset_response() -> Response {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(ResetConnection);
    r
}

/// Turn a full response into one that sends its headers and half of its body, then breaks
/// the connection (the announced Content-Length is the full length).
pub async fn break_mid_body(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let full_len = bytes.len().max(2);
    let half = bytes.slice(..bytes.len() / 2);
    let stream = futures::stream::unfold(0u8, move |step| {
        let half = half.clone();
        async move {
            match step {
                0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                1 => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "simulated reset mid-body",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    Response::from_parts(parts, Body::from_stream(stream))
}
