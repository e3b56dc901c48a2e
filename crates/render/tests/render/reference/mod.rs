//! Reference tests: rendering and aib's model of the Image Builder API against Azure's published
//! material (the official ARM schema of Microsoft.VirtualMachineImages and its examples), read
//! from `AIB_REFERENCE_DIR` at test time. `aib import`'s round trip over the quickstarts and
//! real-world templates runs the binary: `tests/cli/reference/import.rs`.

mod api_model;
mod schema;
