//! Build logs of failed units: fetched from the staging resource group's storage account
//! ([`collect`]) and read for the failing customizer and known signatures ([`analyse`]).

pub mod analyse;
pub mod collect;

pub use analyse::{LogAnalysis, Signature, StepName, analyse};
pub use collect::{CollectedLog, collect_logs};
