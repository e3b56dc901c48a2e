//! aib's shared vocabulary: the typed names the planner, executor and state pass between them
//! (a unit's id, the stages of a unit, the statuses, and the run events that `events.ndjson`
//! holds), so that none of them splits or compares strings.
//! A leaf crate: it depends on nothing of aib's.

mod event;
mod stage;
mod status;
mod unit_id;

pub use event::{Level, RunEvent};
pub use stage::{Stage, UnknownStage};
pub use status::{Failure, RunStatus, StageStatus, UnitStatus};
pub use unit_id::UnitId;
