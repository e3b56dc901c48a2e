//! The aib planner: expands a manifest into units (environment × variant × matrix row),
//! layers and renders their settings, links them into a sealed dependency graph, hashes their
//! inputs and names their image templates. Pure and synchronous: no network, no clock.

pub mod canonical;
pub mod ci;
mod error;
mod file_digests;
pub mod graph;
pub mod input_hash;
pub mod layering;
pub mod limits;
pub mod matrix;
pub mod naming;
pub mod output;
mod plan;
pub mod resolved;
pub mod schedule;
pub mod secret_ref;
pub mod secret_use;
pub mod selection;
pub mod templating;
mod unit;

pub use error::PlanError;
pub use input_hash::InputHash;
pub use naming::Date;
pub use output::json::{PlanJson, UnitJson, plan_schema};
pub use plan::{Plan, PlanOptions, plan};
pub use resolved::{
    LocalFile, ResolvedCustomizer, ResolvedScript, ResolvedSettings, ResolvedSource, ResolvedStep,
    TemplateRef, VersionPolicy,
};
pub use selection::Selection;
pub use unit::{Action, Unit, UnitId};
