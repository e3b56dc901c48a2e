//! List Blobs XML (`EnumerationResults`), tolerant of a UTF-8 BOM and empty elements.

use crate::error::{Error, Result};
use serde::Deserialize;

/// One blob of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobItem {
    /// Blob name.
    pub name: String,
    /// Size in bytes.
    pub content_length: Option<u64>,
    /// `Last-Modified` (RFC 1123).
    pub last_modified: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
    /// `BlockBlob`, `AppendBlob`, `PageBlob`.
    pub blob_type: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPage {
    /// Blobs on this page.
    pub blobs: Vec<BlobItem>,
    /// Marker for the next page; `None` when complete (an empty `<NextMarker />`).
    pub next_marker: Option<String>,
}

#[derive(Deserialize)]
struct EnumerationResults {
    #[serde(rename = "Blobs", default)]
    blobs: Option<BlobsXml>,
    #[serde(rename = "NextMarker", default)]
    next_marker: Option<String>,
}

#[derive(Deserialize, Default)]
struct BlobsXml {
    #[serde(rename = "Blob", default)]
    blob: Vec<BlobXml>,
}

#[derive(Deserialize)]
struct BlobXml {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Properties", default)]
    properties: Option<PropertiesXml>,
}

#[derive(Deserialize, Default)]
struct PropertiesXml {
    #[serde(rename = "Content-Length", default)]
    content_length: Option<String>,
    #[serde(rename = "Last-Modified", default)]
    last_modified: Option<String>,
    #[serde(rename = "Etag", default)]
    etag: Option<String>,
    #[serde(rename = "Content-Type", default)]
    content_type: Option<String>,
    #[serde(rename = "BlobType", default)]
    blob_type: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Parse one List Blobs response body.
pub fn parse_list_blobs(body: &[u8]) -> Result<BlobPage> {
    let text = std::str::from_utf8(body).map_err(|e| Error::Decode {
        url: String::new(),
        message: format!("listing is not UTF-8: {e}"),
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let r: EnumerationResults = quick_xml::de::from_str(text).map_err(|e| Error::Decode {
        url: String::new(),
        message: format!("bad List Blobs XML: {e}"),
    })?;
    let blobs = r
        .blobs
        .unwrap_or_default()
        .blob
        .into_iter()
        .map(|b| {
            let p = b.properties.unwrap_or_default();
            BlobItem {
                name: b.name,
                content_length: non_empty(p.content_length).and_then(|v| v.parse().ok()),
                last_modified: non_empty(p.last_modified),
                etag: non_empty(p.etag),
                content_type: non_empty(p.content_type),
                blob_type: non_empty(p.blob_type),
            }
        })
        .collect();
    Ok(BlobPage {
        blobs,
        next_marker: non_empty(r.next_marker),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: &[u8] = include_bytes!("../../tests/fixtures/blob/list_objects_1.xml");
    const P2: &[u8] = include_bytes!("../../tests/fixtures/blob/list_objects_2.xml");
    const EMPTY: &[u8] = include_bytes!("../../tests/fixtures/blob/list_objects_empty.xml");

    #[test]
    fn fixtures_start_with_bom() {
        assert!(P1.starts_with(&[0xEF, 0xBB, 0xBF]));
    }

    #[test]
    fn first_page() -> Result<()> {
        let p = parse_list_blobs(P1)?;
        let names: Vec<_> = p.blobs.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["object1.txt", "object2.txt"]);
        assert_eq!(p.blobs[0].content_length, Some(0));
        assert_eq!(p.blobs[1].content_length, Some(1_048_576));
        assert_eq!(p.blobs[0].etag.as_deref(), Some("0x8CFB877BB56A6FB"));
        assert_eq!(p.blobs[0].blob_type.as_deref(), Some("BlockBlob"));
        assert_eq!(
            p.next_marker.as_deref(),
            Some(
                "2!76!MDAwMDExIXNvbWUxMTcudHh0ITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--"
            )
        );
        Ok(())
    }

    #[test]
    fn second_page_is_last() -> Result<()> {
        let p = parse_list_blobs(P2)?;
        let names: Vec<_> = p.blobs.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["object3.txt", "object4.txt"]);
        assert_eq!(p.next_marker, None);
        Ok(())
    }

    #[test]
    fn empty_listing() -> Result<()> {
        let p = parse_list_blobs(EMPTY)?;
        assert!(p.blobs.is_empty());
        assert_eq!(p.next_marker, None);
        Ok(())
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_list_blobs(b"<nope").is_err());
    }
}
