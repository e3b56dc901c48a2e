//! The CI jobs the simulator handed out and the OIDC assertions it issued (workload identity
//! federation; the endpoints are in `handlers::federated`).

use crate::sync::lock;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Audiences Entra accepts for federated credentials (public cloud, US Government, China).
pub const EXCHANGE_AUDIENCES: [&str; 3] = [
    "api://AzureADTokenExchange",
    "api://AzureADTokenExchangeUSGov",
    "api://AzureADTokenExchangeChina",
];

pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const GITHUB_REPOSITORY: &str = "aib-sim/fleet";
pub const PIPELINES_ISSUER: &str =
    "https://vstoken.dev.azure.com/00000000-0000-0000-0000-0000000a1b5a";
/// At most this many live job tokens and issued assertions are remembered (oldest dropped).
pub const MAX_REMEMBERED: usize = 100_000;

/// Job tokens handed out and assertions issued, with the key that signs them.
#[derive(Debug)]
pub struct Federated {
    key: [u8; 32],
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: HashSet<String>,
    /// jti → expiry.
    issued: HashMap<String, DateTime<Utc>>,
}

impl Default for Federated {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        Self {
            key,
            inner: Mutex::new(Inner::default()),
        }
    }
}

pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rng().fill(&mut b[..]);
    hex::encode(b)
}

impl Federated {
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail here.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// A signed JWT with `claims` plus `jti`, `iat`, `nbf` and `exp`.
    pub fn issue(&self, mut claims: Value, lifetime: Duration) -> String {
        let now = Utc::now();
        let exp = now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::zero());
        let jti = uuid::Uuid::new_v4().to_string();
        claims["jti"] = json!(jti);
        claims["iat"] = json!(now.timestamp());
        claims["nbf"] = json!(now.timestamp());
        claims["exp"] = json!(exp.timestamp());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"aib-sim"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(self.sign(signed.as_bytes()));
        let mut inner = lock(&self.inner);
        if inner.issued.len() >= MAX_REMEMBERED {
            let now = Utc::now();
            inner.issued.retain(|_, e| *e > now);
        }
        inner.issued.insert(jti, exp);
        format!("{signed}.{sig}")
    }

    pub fn new_job(&self) -> String {
        let token = format!("simjob.{}", random_hex(24));
        let mut inner = lock(&self.inner);
        if inner.jobs.len() >= MAX_REMEMBERED {
            inner.jobs.clear();
        }
        inner.jobs.insert(token.clone());
        token
    }

    pub fn is_job(&self, headers: &HeaderMap) -> bool {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or("");
        !token.is_empty() && lock(&self.inner).jobs.contains(token)
    }

    /// The claims of an assertion this simulator signed; `Err` says why not.
    pub fn verify(&self, assertion: &str) -> Result<Value, Refusal> {
        let parts: Vec<&str> = assertion.split('.').collect();
        let [header, body, sig] = parts.as_slice() else {
            return Err(Refusal::Malformed);
        };
        let claims: Value = URL_SAFE_NO_PAD
            .decode(body.trim_end_matches('='))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(Value::is_object)
            .ok_or(Refusal::Malformed)?;
        let expected = URL_SAFE_NO_PAD.encode(self.sign(format!("{header}.{body}").as_bytes()));
        let jti = claims["jti"].as_str().unwrap_or_default();
        let known = lock(&self.inner).issued.contains_key(jti);
        if expected != *sig || !known {
            return Err(Refusal::NoMatch(claims));
        }
        let aud = claims["aud"].as_str().unwrap_or_default();
        if !EXCHANGE_AUDIENCES.contains(&aud) {
            return Err(Refusal::NoMatch(claims));
        }
        Ok(claims)
    }
}

/// Why Entra refuses an assertion.
pub enum Refusal {
    Malformed,
    NoMatch(Value),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_assertions_verify_and_others_do_not() {
        let f = Federated::default();
        let good = f.issue(
            json!({"aud": EXCHANGE_AUDIENCES[0], "iss": GITHUB_ISSUER, "sub": "s"}),
            Duration::from_secs(60),
        );
        assert!(f.verify(&good).is_ok());
        // Signed by another simulator: no matching record.
        let other = Federated::default();
        let foreign = other.issue(
            json!({"aud": EXCHANGE_AUDIENCES[0], "iss": GITHUB_ISSUER, "sub": "s"}),
            Duration::from_secs(60),
        );
        assert!(matches!(f.verify(&foreign), Err(Refusal::NoMatch(_))));
        // A changed claim breaks the signature.
        let parts: Vec<&str> = good.split('.').collect();
        let forged_body = URL_SAFE_NO_PAD.encode(
            json!({"aud": EXCHANGE_AUDIENCES[0], "sub": "admin", "jti": "x", "exp": i64::MAX})
                .to_string(),
        );
        let forged = format!("{}.{forged_body}.{}", parts[0], parts[2]);
        assert!(matches!(f.verify(&forged), Err(Refusal::NoMatch(_))));
        // GitHub's default audience is not one Entra exchanges.
        let wrong_aud = f.issue(
            json!({"aud": "https://github.com/x"}),
            Duration::from_secs(60),
        );
        assert!(matches!(f.verify(&wrong_aud), Err(Refusal::NoMatch(_))));
        for junk in ["", "abc", "a.b", "a.b.c.d", "a.!!!.c"] {
            assert!(matches!(f.verify(junk), Err(Refusal::Malformed)), "{junk}");
        }
    }
}
