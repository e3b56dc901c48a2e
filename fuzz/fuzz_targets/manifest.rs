//! The manifest loader (TOML → typed, validated manifest) on arbitrary text: errors, never a
//! panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = aib_manifest::Manifest::from_str(
            Path::new("fuzz.toml"),
            Path::new("/nonexistent-aib-fuzz"),
            text.to_string(),
        );
    }
});
