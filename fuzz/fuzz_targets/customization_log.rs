//! The customization.log analyser (both log formats: steps, the failing one, phase, cause,
//! excerpt, known signatures) on arbitrary logs.
#![no_main]

use aib_executor::logs::analyse::{StepName, StepNames, analyse, message_signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let log = String::from_utf8_lossy(data);
    let step = |name: &str, packer_type: &str| StepName {
        name: name.to_string(),
        packer_type: packer_type.to_string(),
    };
    let names = StepNames {
        customize: vec![
            step("install", "shell"),
            step("updates", "windows-update"),
            step("restart", "windows-restart"),
        ],
        validate: vec![step("check", "shell")],
        validation_log: false,
    };
    let _ = analyse(&log, &names);
    let _ = analyse(&log, &StepNames::default());
    let _ = analyse(
        &log,
        &StepNames {
            validation_log: true,
            ..names
        },
    );
    let _ = message_signature(&log);
});
