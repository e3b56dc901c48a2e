//! The tick workflows `aib ci` writes, as text: a change to how they are built shows here.

use aib_planner::ci::{WorkflowOptions, azure_tick_pipeline, github_tick_workflow};
use chrono::{TimeZone, Utc};

use crate::fixture::{Fixture, SMALL, options};

fn workflow_options(state: Option<&str>) -> WorkflowOptions {
    WorkflowOptions {
        manifest_path: "images/aib.toml".into(),
        state: state.map(str::to_owned),
        install: "cargo install --locked aib".into(),
        within: "2h".into(),
        service_connection: "aib-images".into(),
        branch: "main".into(),
        now: Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap(),
    }
}

#[test]
fn github_tick_workflow_text() {
    let f = Fixture::new(SMALL);
    let plan = f.plan(&options()).expect("plan");
    let w = github_tick_workflow(&plan, &workflow_options(None), 15).expect("workflow");
    insta::assert_snapshot!(w.text);
    assert_eq!(w.warnings.len(), 1, "{:?}", w.warnings);
}

#[test]
fn azure_tick_pipeline_text() {
    let f = Fixture::new(SMALL);
    let plan = f.plan(&options()).expect("plan");
    let opts = workflow_options(Some("azblob://acct/aib/avd"));
    let w = azure_tick_pipeline(&plan, &opts, 30).expect("pipeline");
    insta::assert_snapshot!(w.text);
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
}
