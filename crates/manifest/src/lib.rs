//! aib-manifest
