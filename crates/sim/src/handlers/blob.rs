//! Blob service under `/blob/{account}/...`: List Blobs, Get Blob (with `Range` /
//! `x-ms-range`), Get Blob Properties (HEAD).
//!
//! Authentication is verified for real: Shared Key (`Authorization: SharedKey account:sig`,
//! HMAC-SHA256 over the Blob service canonical string, version 2015-02-21 and later rules) or a
//! SAS query: service SAS (`sr`, string-to-sign of version 2020-12-06 and later, and of
//! 2018-11-09..2020-10-02) or account SAS (`ss`/`srt`), with expiry (`se`) and permission
//! (`sp`: `r` to read, `l` to list) checks. Anything else is 403 `AuthenticationFailed`.

use crate::context::Ctx;
use crate::handlers::arm::storage::account_key;
use crate::model::blob::Blob;
use crate::state::State;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

const VERSION: &str = "2021-10-04";

/// A Blob service error (XML body, `x-ms-error-code`).
pub fn blob_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}\nRequestId:{}\nTime:{}</Message></Error>",
        xml_escape(message),
        uuid::Uuid::new_v4(),
        Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert("x-ms-error-code", v);
    }
    h.insert("x-ms-version", HeaderValue::from_static(VERSION));
    r
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn hmac_b64(key_b64: &str, msg: &str) -> Option<String> {
    let key = STANDARD.decode(key_b64).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg.as_bytes());
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

fn sig_matches(account: &str, string_to_sign: &str, sig: &str) -> bool {
    [1u8, 2]
        .iter()
        .any(|k| hmac_b64(&account_key(account, *k), string_to_sign).is_some_and(|s| s == sig))
}

fn hval<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// What a request wants to do (for SAS permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    List,
}

/// The parts of a blob request needed for auth.
#[derive(Debug)]
pub struct BlobReq<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The URI path as sent (percent-encoded), e.g. `/blob/acct/c/b`.
    pub raw_path: &'a str,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    pub account: &'a str,
    pub container: &'a str,
    pub blob: Option<&'a str>,
}

/// Verify Shared Key or SAS; `Err` is the 403 to send.
pub fn authorize(req: &BlobReq<'_>, access: Access) -> Result<(), Response> {
    let auth = hval(req.headers, "authorization");
    if let Some(rest) = auth.strip_prefix("SharedKey ") {
        return authorize_shared_key(req, rest);
    }
    if let Some(sig) = query_param(req, "sig") {
        return authorize_sas(req, sig, access);
    }
    Err(blob_error(
        StatusCode::FORBIDDEN,
        "AuthenticationFailed",
        "Server failed to authenticate the request. No Shared Key authorization header or SAS token was given.",
    ))
}

/// Blob's 403 `AuthenticationFailed`, saying why.
fn auth_failed(msg: &str) -> Result<(), Response> {
    Err(blob_error(
        StatusCode::FORBIDDEN,
        "AuthenticationFailed",
        &format!(
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. {msg}"
        ),
    ))
}

/// A query parameter of the request (the first of that name).
fn query_param<'a>(req: &'a BlobReq<'_>, k: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

/// `Authorization: SharedKey account:signature`, checked against every canonical form.
fn authorize_shared_key(req: &BlobReq<'_>, rest: &str) -> Result<(), Response> {
    let fail = auth_failed;
    let Some((acct, sig)) = rest.split_once(':') else {
        return fail("Malformed SharedKey header.");
    };
    if !acct.eq_ignore_ascii_case(req.account) {
        return fail("The account in the SharedKey header does not match the request.");
    }
    if hval(req.headers, "x-ms-date").is_empty() && hval(req.headers, "date").is_empty() {
        return fail("The x-ms-date header is missing.");
    }
    for candidate in shared_key_strings(req) {
        if sig_matches(req.account, &candidate, sig) {
            return Ok(());
        }
    }
    fail("The MAC signature found in the HTTP request is not the same as any computed signature.")
}

/// A SAS: expiry, start, the permission the access needs, and the signature over one of the
/// strings-to-sign of the service or account SAS versions.
fn authorize_sas(req: &BlobReq<'_>, sig: &str, access: Access) -> Result<(), Response> {
    let fail = auth_failed;
    let q = |k: &str| query_param(req, k);
    let Some(se) = q("se") else {
        return fail("Signed expiry (se) is missing.");
    };
    let Some(expiry) = parse_sas_time(se) else {
        return fail("Signed expiry (se) is malformed.");
    };
    if expiry <= Utc::now() {
        return fail(
            "Signed expiry time has to be after signed start time and the SAS must not be expired.",
        );
    }
    if let Some(st) = q("st").and_then(parse_sas_time)
        && st > Utc::now() + chrono::Duration::minutes(5)
    {
        return fail("Signed start time is in the future.");
    }
    let sp = q("sp").unwrap_or("");
    let need = match access {
        Access::Read => 'r',
        Access::List => 'l',
    };
    if !sp.contains(need) {
        return Err(blob_error(
            StatusCode::FORBIDDEN,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ));
    }
    let candidates = sas_strings_to_sign(req);
    if candidates.iter().any(|c| sig_matches(req.account, c, sig)) {
        return Ok(());
    }
    fail("Signature did not match.")
}

/// The strings-to-sign a SAS may have been signed over: account SAS (with and without
/// `ses`) or service SAS (2020-12-06 and later, and 2018-11-09 to 2020-10-02).
fn sas_strings_to_sign(req: &BlobReq<'_>) -> Vec<String> {
    let q = |k: &str| query_param(req, k);
    let g = |k: &str| q(k).unwrap_or("").to_string();
    let mut candidates = Vec::new();
    if q("ss").is_some() {
        let base = [
            req.account.to_string(),
            g("sp"),
            g("ss"),
            g("srt"),
            g("st"),
            g("se"),
            g("sip"),
            g("spr"),
            g("sv"),
        ];
        candidates.push(format!("{}\n{}\n", base.join("\n"), g("ses")));
        candidates.push(format!("{}\n", base.join("\n")));
    } else {
        let mut canon = format!("/blob/{}/{}", req.account, req.container);
        if g("sr") == "b"
            && let Some(b) = req.blob
        {
            canon.push('/');
            canon.push_str(b);
        }
        let head = [
            g("sp"),
            g("st"),
            g("se"),
            canon,
            g("si"),
            g("sip"),
            g("spr"),
            g("sv"),
            g("sr"),
        ];
        let tail = [g("rscc"), g("rscd"), g("rsce"), g("rscl"), g("rsct")];
        candidates.push(format!(
            "{}\n{}\n{}\n{}",
            head.join("\n"),
            g("sst"),
            g("ses"),
            tail.join("\n")
        ));
        candidates.push(format!(
            "{}\n{}\n{}",
            head.join("\n"),
            g("sst"),
            tail.join("\n")
        ));
    }
    candidates
}

fn parse_sas_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%SZ"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Candidate Shared Key strings-to-sign (path with and without the `/blob/{account}` prefix).
fn shared_key_strings(req: &BlobReq<'_>) -> Vec<String> {
    let h = req.headers;
    let cl = hval(h, "content-length");
    let cl = if cl == "0" { "" } else { cl };
    let std_headers = [
        hval(h, "content-encoding"),
        hval(h, "content-language"),
        cl,
        hval(h, "content-md5"),
        hval(h, "content-type"),
        hval(h, "date"),
        hval(h, "if-modified-since"),
        hval(h, "if-match"),
        hval(h, "if-none-match"),
        hval(h, "if-unmodified-since"),
        hval(h, "range"),
    ];
    let mut xms: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in h.iter() {
        let name = k.as_str().to_ascii_lowercase();
        if name.starts_with("x-ms-") {
            let v = v
                .to_str()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            xms.entry(name)
                .and_modify(|e| {
                    e.push(',');
                    e.push_str(&v);
                })
                .or_insert(v);
        }
    }
    let canon_headers: String = xms.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in req.query {
        params
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.clone());
    }
    let canon_query: String = params
        .iter_mut()
        .map(|(k, vs)| {
            vs.sort();
            format!("\n{k}:{}", vs.join(","))
        })
        .collect();
    let prefix = format!("/blob/{}", req.account);
    let short = req.raw_path.strip_prefix(&prefix).unwrap_or(req.raw_path);
    let mut paths = vec![req.raw_path.to_string(), short.to_string()];
    if let Ok(decoded) = percent_encoding::percent_decode_str(short).decode_utf8() {
        paths.push(decoded.to_string());
    }
    paths.dedup();
    paths
        .into_iter()
        .map(|p| {
            format!(
                "{}\n{}\n{}/{}{}{}",
                req.method.as_str(),
                std_headers.join("\n"),
                canon_headers,
                req.account,
                p,
                canon_query
            )
        })
        .collect()
}

fn container_exists(st: &State, account: &str, container: &str) -> bool {
    st.blobs
        .contains_key(&(account.to_string(), container.to_string()))
        || (container == "packerlogs"
            && st.templates.values().any(|t| t.storage_account == account))
}

/// `GET {account}/{container}?restype=container&comp=list[&prefix&marker&maxresults]`
pub fn list(
    ctx: &Ctx,
    st: &State,
    account: &str,
    container: &str,
    query: &[(String, String)],
) -> Response {
    if !container_exists(st, account, container) {
        return blob_error(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            "The specified container does not exist.",
        );
    }
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let prefix = q("prefix").unwrap_or("");
    let marker = q("marker").unwrap_or("");
    let max: usize = q("maxresults")
        .and_then(|m| m.parse().ok())
        .filter(|m| *m > 0)
        .unwrap_or(5000)
        .min(5000);
    let empty = BTreeMap::new();
    let blobs = st
        .blobs
        .get(&(account.to_string(), container.to_string()))
        .unwrap_or(&empty);
    let mut items = blobs
        .iter()
        .filter(|(n, _)| n.starts_with(prefix) && n.as_str() >= marker);
    let page: Vec<(&String, &Blob)> = items.by_ref().take(max).collect();
    let next = items.next().map(|(n, _)| n.clone());
    let mut x = String::from("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    x.push_str(&format!(
        "<EnumerationResults ServiceEndpoint=\"{}\" ContainerName=\"{}\">",
        xml_escape(&format!("{}/blob/{}/", ctx.base_url, account)),
        xml_escape(container)
    ));
    if !prefix.is_empty() {
        x.push_str(&format!("<Prefix>{}</Prefix>", xml_escape(prefix)));
    }
    if !marker.is_empty() {
        x.push_str(&format!("<Marker>{}</Marker>", xml_escape(marker)));
    }
    if q("maxresults").is_some() {
        x.push_str(&format!("<MaxResults>{max}</MaxResults>"));
    }
    if page.is_empty() {
        x.push_str("<Blobs />");
    } else {
        x.push_str("<Blobs>");
        for (name, b) in page {
            let lm = httpdate::fmt_http_date(b.modified.into());
            x.push_str(&format!(
                "<Blob><Name>{}</Name><Properties><Creation-Time>{lm}</Creation-Time><Last-Modified>{lm}</Last-Modified><Etag>{}</Etag><Content-Length>{}</Content-Length><Content-Type>application/octet-stream</Content-Type><Content-Encoding /><Content-Language /><Content-CRC64 /><Content-MD5 /><Cache-Control /><Content-Disposition /><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties><Metadata /></Blob>",
                xml_escape(name),
                xml_escape(b.etag.trim_matches('"')),
                b.data.len()
            ));
        }
        x.push_str("</Blobs>");
    }
    match next {
        Some(n) => x.push_str(&format!("<NextMarker>{}</NextMarker>", xml_escape(&n))),
        None => x.push_str("<NextMarker />"),
    }
    x.push_str("</EnumerationResults>");
    let mut r = Response::new(Body::from(x));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r.headers_mut()
        .insert("x-ms-version", HeaderValue::from_static(VERSION));
    r
}

fn parse_range(spec: &str, len: u64) -> Option<Option<(u64, u64)>> {
    let Some(r) = spec.trim().strip_prefix("bytes=") else {
        return Some(None);
    };
    let (a, b) = r.split_once('-')?;
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return None;
        }
        return Some(Some((len.saturating_sub(n), len - 1)));
    }
    let start: u64 = a.parse().ok()?;
    if start >= len {
        return None;
    }
    let end = if b.is_empty() {
        len - 1
    } else {
        b.parse::<u64>().ok()?.min(len - 1)
    };
    if end < start {
        return None;
    }
    Some(Some((start, end)))
}

/// GET / HEAD a blob.
pub fn get(
    st: &State,
    account: &str,
    container: &str,
    name: &str,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    let b = match find_blob(st, account, container, name) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let len = b.data.len() as u64;
    let range = match requested_range(headers, len) {
        Ok(range) => range,
        Err(r) => return r,
    };
    let (status, data) = match range {
        Some((s, e)) => (
            StatusCode::PARTIAL_CONTENT,
            b.data.slice(s as usize..=e as usize),
        ),
        None => (StatusCode::OK, b.data.clone()),
    };
    let n = data.len();
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::from(data)
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    insert_blob_headers(h, b, range, len);
    r
}

/// The blob, or Blob's 404 for its container or itself.
fn find_blob<'a>(
    st: &'a State,
    account: &str,
    container: &str,
    name: &str,
) -> Result<&'a Blob, Response> {
    if !container_exists(st, account, container) {
        return Err(blob_error(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            "The specified container does not exist.",
        ));
    }
    st.blobs
        .get(&(account.to_string(), container.to_string()))
        .and_then(|m| m.get(name))
        .ok_or_else(|| {
            blob_error(
                StatusCode::NOT_FOUND,
                "BlobNotFound",
                "The specified blob does not exist.",
            )
        })
}

/// The inclusive byte range `x-ms-range` (else `Range`) asks for in a blob of `len` bytes
/// (`None`: all of it), or Blob's 416 with the blob's size.
fn requested_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, Response> {
    let range_hdr = headers
        .get("x-ms-range")
        .or_else(|| headers.get("range"))
        .and_then(|v| v.to_str().ok());
    let Some(spec) = range_hdr else {
        return Ok(None);
    };
    parse_range(spec, len).ok_or_else(|| {
        let mut r = blob_error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidRange",
            "The range specified is invalid for the current size of the resource.",
        );
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        r
    })
}

/// The headers describing the blob (after the content's length, type and accepted ranges):
/// its etag and dates, the range sent of its `len` bytes, and the service's fixed ones.
fn insert_blob_headers(h: &mut HeaderMap, b: &Blob, range: Option<(u64, u64)>, len: u64) {
    let lm = httpdate::fmt_http_date(b.modified.into());
    if let Ok(v) = HeaderValue::from_str(&b.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&lm) {
        h.insert(header::LAST_MODIFIED, v.clone());
        h.insert("x-ms-creation-time", v);
    }
    if let Some((s, e)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {s}-{e}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    h.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    h.insert("x-ms-version", HeaderValue::from_static(VERSION));
    h.insert("x-ms-lease-status", HeaderValue::from_static("unlocked"));
    h.insert("x-ms-lease-state", HeaderValue::from_static("available"));
    h.insert("x-ms-server-encrypted", HeaderValue::from_static("true"));
}
