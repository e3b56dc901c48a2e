//! Build logs of failed units: fetched from the staging resource group's storage account
//! ([`collect`]) and read for where and why the build failed, the failing step and known
//! signatures ([`analyse`], over [`packer`]'s reading of both log formats).

pub mod analyse;
pub mod collect;
pub mod packer;

pub use analyse::{Cause, LogAnalysis, Phase, Signature, StepName, StepNames, analyse};
pub use collect::{CollectedLog, collect_logs};
