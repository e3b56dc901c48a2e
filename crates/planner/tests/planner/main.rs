//! Integration tests of the planner: one binary, one module per concern.

mod ci;
mod customizers;
mod errors;
mod fixture;
mod graph;
mod hash;
mod layering;
mod outputs;
mod props;
mod shards;
