//! aib-state tests: local backend, blob backend on Azurite, names and locations.

mod blob;
mod common;
mod local;
mod names;
