//! ARM's paging of list answers: one page of items, a `nextLink` with a skip token to the next.

use crate::response::{arm_error, json};
use axum::http::StatusCode;
use axum::response::Response;

/// The request a list answer is paged for.
#[derive(Debug)]
pub struct ListReq<'a> {
    pub base_url: &'a str,
    /// The request path as received (still percent-encoded).
    pub raw_path: &'a str,
    pub pairs: &'a [(String, String)],
    pub page_size: usize,
}

/// The query keys a skip token may come in (`$skiptoken` as ARM and Compute send it,
/// `skip-token` as in the AIB examples).
const SKIP_KEYS: [&str; 3] = ["$skiptoken", "$skipToken", "skip-token"];

impl ListReq<'_> {
    /// One page of `items` as `{value, nextLink}`: `nextLink` is the absolute URL of the next
    /// page (same path, same query including `api-version`, plus `$skiptoken`), absent on the
    /// last page, as ARM pages lists.
    pub fn page(&self, items: Result<Vec<serde_json::Value>, Response>) -> Response {
        let items = match items {
            Ok(v) => v,
            Err(r) => return r,
        };
        let skip = match self
            .pairs
            .iter()
            .find(|(k, _)| SKIP_KEYS.contains(&k.as_str()))
        {
            None => 0,
            Some((_, v)) => match decode_skip(v) {
                Some(n) => n,
                None => {
                    return arm_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidSkipToken",
                        format!("The skip token '{v}' is invalid."),
                    );
                }
            },
        };
        let total = items.len();
        let end = skip.saturating_add(self.page_size).min(total);
        let value: Vec<serde_json::Value> = items
            .into_iter()
            .skip(skip)
            .take(end.saturating_sub(skip))
            .collect();
        let mut body = serde_json::json!({ "value": value });
        if end < total {
            body["nextLink"] = serde_json::Value::String(self.next_link(end));
        }
        json(StatusCode::OK, &body)
    }

    fn next_link(&self, skip: usize) -> String {
        let mut link = format!("{}{}?", self.base_url, self.raw_path);
        for (k, v) in self.pairs {
            if SKIP_KEYS.contains(&k.as_str()) {
                continue;
            }
            link.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
            link.push('=');
            link.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
            link.push('&');
        }
        link.push_str("$skiptoken=");
        link.push_str(&encode_skip(skip));
        link
    }
}

/// Skip tokens are `offset-<n>`; a bare number (the AIB examples' `skip-token=2`) is accepted.
fn encode_skip(n: usize) -> String {
    format!("offset-{n}")
}

fn decode_skip(s: &str) -> Option<usize> {
    s.strip_prefix("offset-")
        .or(Some(s))
        .and_then(|n| n.parse().ok())
}
