//! aib-sim
