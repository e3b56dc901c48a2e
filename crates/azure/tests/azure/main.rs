//! Integration tests of aib-azure: real HTTP against the in-process simulator (aib-sim) and
//! against Azurite. One binary; submodules per area.

mod blob_azurite;
mod blob_resume;
mod blob_sim;
mod common;
mod hostile_peer;
#[cfg(feature = "reference-tests")]
mod reference;
mod request_paths;
mod sim_arm;
mod sim_clock;
mod sim_faults;
mod sim_limits;
mod sim_paging;
