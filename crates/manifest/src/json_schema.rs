//! JSON Schema of the manifest, generated from the types (checked in as
//! `schemas/aib-manifest.schema.json`).

use schemars::Schema;

use crate::model::ManifestFile;

/// The manifest's JSON Schema.
pub fn manifest_schema() -> Schema {
    let mut schema = schemars::schema_for!(ManifestFile);
    schema.insert(
        "$id".into(),
        "https://aib.dev/schemas/aib-manifest.schema.json".into(),
    );
    schema
}
