//! aib-state
