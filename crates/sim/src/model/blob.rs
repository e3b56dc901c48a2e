//! A stored blob.

use bytes::Bytes;
use chrono::{DateTime, Utc};

/// A stored blob.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Blob {
    #[serde(with = "crate::model::serde_with::base64_bytes")]
    pub data: Bytes,
    pub modified: DateTime<Utc>,
    pub etag: String,
}

impl Blob {
    pub fn new(data: Vec<u8>, modified: DateTime<Utc>) -> Blob {
        let etag = format!("\"0x{:015X}\"", rand::random::<u64>() >> 4);
        Blob {
            data: Bytes::from(data),
            modified,
            etag,
        }
    }
}
