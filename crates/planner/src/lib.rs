//! aib-planner
