//! The customization.log analyser (provisioner markers, failing step, excerpt, known
//! signatures) on arbitrary logs.
#![no_main]

use aib_executor::logs::analyse::{StepName, analyse, message_signature, signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let log = String::from_utf8_lossy(data);
    let steps = [
        StepName {
            name: "install".to_string(),
            packer_type: "shell".to_string(),
        },
        StepName {
            name: "updates".to_string(),
            packer_type: "windows-update".to_string(),
        },
        StepName {
            name: "restart".to_string(),
            packer_type: "windows-restart".to_string(),
        },
    ];
    let _ = analyse(&log, &steps);
    let _ = analyse(&log, &[]);
    let _ = signature(&log, Some("powershell"));
    let _ = signature(&log, None);
    let _ = message_signature(&log);
});
