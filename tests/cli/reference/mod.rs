//! Reference tests of the `aib` binary: commands run on public material (real templates people
//! published, Image Builder's quickstarts), read from `AIB_REFERENCE_DIR` at test time.

mod import;
