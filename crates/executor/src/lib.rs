//! aib-executor
