//! aib-azure
