//! Manifest loader, then the planner (matrix expansion with include/exclude, layering,
//! templating, graph, hashing, names) and every plan output, on arbitrary text.
#![no_main]

use std::path::Path;

use aib_planner::{Date, PlanOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(manifest) = aib_manifest::Manifest::from_str(
        Path::new("fuzz.toml"),
        Path::new("/nonexistent-aib-fuzz"),
        text.to_string(),
    ) else {
        return;
    };
    let options = PlanOptions {
        today: Date::new(2026, 11, 29),
        ..PlanOptions::default()
    };
    if let Ok(plan) = aib_planner::plan(&manifest, &options) {
        let _ = plan.render_json();
        let _ = plan.render_text();
        let _ = plan.render_dot();
        let _ = plan.render_mermaid();
        let _ = aib_planner::ci::github_matrix(
            &manifest.file,
            &plan,
            aib_planner::ci::ShardBy::Unit,
        );
    }
});
