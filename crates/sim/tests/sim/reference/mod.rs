//! Reference tests: the simulator against Azure's published material (REST examples and
//! Image Builder quickstarts), read from `AIB_REFERENCE_DIR` at test time.

mod conformance;
mod quickstarts;
mod recordings;
