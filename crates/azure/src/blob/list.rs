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
    /// With a `delimiter`: the names that stand for every blob below them (`BlobPrefix`,
    /// ending with the delimiter).
    pub prefixes: Vec<String>,
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

/// `<Blobs>` holds `<Blob>` and, with a delimiter, `<BlobPrefix>` elements in name order,
/// interleaved.
#[derive(Deserialize, Default)]
struct BlobsXml {
    #[serde(rename = "$value", default)]
    entries: Vec<EntryXml>,
}

#[derive(Deserialize)]
enum EntryXml {
    Blob(BlobXml),
    BlobPrefix(PrefixXml),
}

#[derive(Deserialize)]
struct PrefixXml {
    #[serde(rename = "Name")]
    name: String,
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
    let mut blobs = Vec::new();
    let mut prefixes = Vec::new();
    for entry in r.blobs.unwrap_or_default().entries {
        match entry {
            EntryXml::BlobPrefix(p) => prefixes.push(p.name),
            EntryXml::Blob(b) => {
                let p = b.properties.unwrap_or_default();
                blobs.push(BlobItem {
                    name: b.name,
                    content_length: non_empty(p.content_length).and_then(|v| v.parse().ok()),
                    last_modified: non_empty(p.last_modified),
                    etag: non_empty(p.etag),
                    content_type: non_empty(p.content_type),
                    blob_type: non_empty(p.blob_type),
                });
            }
        }
    }
    Ok(BlobPage {
        blobs,
        prefixes,
        next_marker: non_empty(r.next_marker),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A first page as the Blob service writes it (a BOM, two blobs, a continuation marker).
    const P1: &[u8] = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>
<EnumerationResults ServiceEndpoint=\"https://stage1.blob.core.windows.net/\" ContainerName=\"packerlogs\">
  <MaxResults>2</MaxResults>
  <Blobs>
    <Blob>
      <Name>run-1/customization.log</Name>
      <Properties>
        <Last-Modified>Mon, 30 Nov 2026 10:00:00 GMT</Last-Modified>
        <Etag>0x8DD0000000000A1</Etag>
        <Content-Length>0</Content-Length>
        <Content-Type>text/plain</Content-Type>
        <Content-Encoding />
        <BlobType>BlockBlob</BlobType>
      </Properties>
      <Metadata><origin>packer</origin></Metadata>
    </Blob>
    <Blob>
      <Name>run-2/customization.log</Name>
      <Properties>
        <Content-Length>2097152</Content-Length>
        <Etag>0x8DD0000000000B2</Etag>
        <BlobType>AppendBlob</BlobType>
      </Properties>
    </Blob>
  </Blobs>
  <NextMarker>2!44!cnVuLTMvY3VzdG9taXphdGlvbi5sb2c-</NextMarker>
</EnumerationResults>"
        .as_bytes();
    /// The last page: an empty `NextMarker` element.
    const P2: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>
<EnumerationResults ContainerName=\"packerlogs\"><Marker>2!44!cnVuLTMvY3VzdG9taXphdGlvbi5sb2c-</Marker>
<Blobs><Blob><Name>run-3/customization.log</Name><Properties><Content-Length>17</Content-Length></Properties></Blob></Blobs>
<NextMarker /></EnumerationResults>";
    const EMPTY: &[u8] =
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults><Blobs /><NextMarker /></EnumerationResults>";

    /// With `delimiter=/`: prefixes and blobs interleaved in name order.
    const WITH_PREFIXES: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>
<EnumerationResults ContainerName=\"aib\"><Prefix>fleet/shards/</Prefix><Delimiter>/</Delimiter>
<Blobs><BlobPrefix><Name>fleet/shards/a-1/</Name></BlobPrefix><Blob><Name>fleet/shards/b.txt</Name><Properties><Content-Length>3</Content-Length></Properties></Blob><BlobPrefix><Name>fleet/shards/c-2/</Name></BlobPrefix></Blobs>
<NextMarker /></EnumerationResults>";

    #[test]
    fn prefixes_between_blobs() -> Result<()> {
        let p = parse_list_blobs(WITH_PREFIXES)?;
        assert_eq!(p.prefixes, ["fleet/shards/a-1/", "fleet/shards/c-2/"]);
        assert_eq!(p.blobs.len(), 1);
        assert_eq!(p.blobs[0].name, "fleet/shards/b.txt");
        assert_eq!(p.next_marker, None);
        Ok(())
    }

    #[test]
    fn first_page() -> Result<()> {
        assert!(P1.starts_with(&[0xEF, 0xBB, 0xBF]));
        let p = parse_list_blobs(P1)?;
        let names: Vec<_> = p.blobs.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            ["run-1/customization.log", "run-2/customization.log"]
        );
        assert_eq!(p.blobs[0].content_length, Some(0));
        assert_eq!(p.blobs[1].content_length, Some(2_097_152));
        assert_eq!(p.blobs[0].etag.as_deref(), Some("0x8DD0000000000A1"));
        assert_eq!(p.blobs[0].blob_type.as_deref(), Some("BlockBlob"));
        assert_eq!(p.blobs[1].blob_type.as_deref(), Some("AppendBlob"));
        assert_eq!(
            p.next_marker.as_deref(),
            Some("2!44!cnVuLTMvY3VzdG9taXphdGlvbi5sb2c-")
        );
        Ok(())
    }

    #[test]
    fn second_page_is_last() -> Result<()> {
        let p = parse_list_blobs(P2)?;
        let names: Vec<_> = p.blobs.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["run-3/customization.log"]);
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
