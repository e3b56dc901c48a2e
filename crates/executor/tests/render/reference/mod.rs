//! Reference tests: rendering and import against Azure's published material (the official ARM
//! schema of Microsoft.VirtualMachineImages and Image Builder's quickstart templates), read from
//! `AIB_REFERENCE_DIR` at test time.

mod quickstarts;
mod schema;
