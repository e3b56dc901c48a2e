//! Shared Key authorization for the Blob service (version 2015-02-21 and later).
//!
//! StringToSign = VERB \n Content-Encoding \n Content-Language \n Content-Length (empty if 0)
//! \n Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match
//! \n If-Unmodified-Since \n Range \n CanonicalizedHeaders CanonicalizedResource

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use std::collections::BTreeMap;
use url::Url;

fn h<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `x-ms-*` headers, lowercased, sorted, `name:value\n` each.
pub fn canonicalized_headers(headers: &HeaderMap) -> String {
    let mut xms: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let n = name.as_str().to_ascii_lowercase();
        if n.starts_with("x-ms-") {
            let v = value.to_str().unwrap_or("").trim().to_owned();
            // Collapse runs of whitespace as the spec asks (outside quotes; close enough here).
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            xms.entry(n)
                .and_modify(|e| {
                    e.push(',');
                    e.push_str(&v);
                })
                .or_insert(v);
        }
    }
    xms.into_iter().map(|(k, v)| format!("{k}:{v}\n")).collect()
}

/// `/{account}{encoded path}` then `\nname:v1,v2` per query parameter, names lowercased
/// and sorted, values decoded and sorted.
pub fn canonicalized_resource(account: &str, url: &Url) -> String {
    let mut s = format!("/{account}{}", url.path());
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        params
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.into_owned());
    }
    for (k, mut vs) in params {
        vs.sort();
        s.push('\n');
        s.push_str(&k);
        s.push(':');
        s.push_str(&vs.join(","));
    }
    s
}

/// The full string to sign.
pub fn string_to_sign(method: &str, url: &Url, headers: &HeaderMap, account: &str) -> String {
    let content_length = match h(headers, "content-length") {
        "0" => "",
        other => other,
    };
    let mut s = String::new();
    for part in [
        method,
        h(headers, "content-encoding"),
        h(headers, "content-language"),
        content_length,
        h(headers, "content-md5"),
        h(headers, "content-type"),
        h(headers, "date"),
        h(headers, "if-modified-since"),
        h(headers, "if-match"),
        h(headers, "if-none-match"),
        h(headers, "if-unmodified-since"),
        h(headers, "range"),
    ] {
        s.push_str(part);
        s.push('\n');
    }
    s.push_str(&canonicalized_headers(headers));
    s.push_str(&canonicalized_resource(account, url));
    s
}

/// base64(HMAC-SHA256(key, string_to_sign)).
pub fn sign(key: &[u8], string_to_sign: &str) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for Hmac<Sha256>.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `Authorization` header value: `SharedKey {account}:{signature}`.
pub fn authorization(
    account: &str,
    key: &[u8],
    method: &str,
    url: &Url,
    headers: &HeaderMap,
) -> String {
    let sts = string_to_sign(method, url, headers, account);
    format!("SharedKey {account}:{}", sign(key, &sts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn url(s: &str) -> Url {
        match Url::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{e}"),
        }
    }

    // Examples from "Authorize with Shared Key" (learn.microsoft.com/rest/api/storageservices).
    #[test]
    fn documented_canonicalized_resources() {
        assert_eq!(
            canonicalized_resource(
                "myaccount",
                &url(
                    "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata"
                )
            ),
            "/myaccount/mycontainer\ncomp:metadata\nrestype:container"
        );
        assert_eq!(
            canonicalized_resource(
                "myaccount",
                &url(
                    "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list&include=snapshots&include=metadata&include=uncommittedblobs"
                )
            ),
            "/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots,uncommittedblobs\nrestype:container"
        );
        assert_eq!(
            canonicalized_resource(
                "myaccount",
                &url("https://myaccount-secondary.blob.core.windows.net/mycontainer/myblob")
            ),
            "/myaccount/mycontainer/myblob"
        );
    }

    #[test]
    fn documented_string_to_sign() {
        // Emulator/path-style: the account appears twice.
        let u = url(
            "http://127.0.0.1:10000/myaccount/mycontainer?restype=container&comp=metadata&timeout=20",
        );
        let mut hm = HeaderMap::new();
        hm.insert(
            "x-ms-date",
            HeaderValue::from_static("Sun, 11 Oct 2009 21:49:13 GMT"),
        );
        hm.insert("x-ms-version", HeaderValue::from_static("2009-09-19"));
        let expected = "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-version:2009-09-19\n/myaccount/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20";
        assert_eq!(string_to_sign("GET", &u, &hm, "myaccount"), expected);
    }

    #[test]
    fn zero_content_length_is_empty_and_signature_is_stable() {
        let u = url("https://a.blob.core.windows.net/c/b");
        let mut hm = HeaderMap::new();
        hm.insert("content-length", HeaderValue::from_static("0"));
        hm.insert("range", HeaderValue::from_static("bytes=5-"));
        let sts = string_to_sign("PUT", &u, &hm, "a");
        assert!(
            sts.starts_with("PUT\n\n\n\n\n\n\n\n\n\n\nbytes=5-\n/a/c/b"),
            "{sts:?}"
        );
        // HMAC-SHA256 of a known input with a known key (RFC 4231 test case 2 style).
        assert_eq!(
            sign(b"Jefe", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }
}
