//! aib's shared vocabulary: the typed names the planner, executor and state pass between them
//! (a unit's id, the stages of a unit), so that none of them splits or compares strings.
//! A leaf crate: it depends on nothing of aib's.

mod stage;
mod unit_id;

pub use stage::{Stage, UnknownStage};
pub use unit_id::UnitId;
