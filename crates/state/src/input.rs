//! Where a run keeps its inputs (the manifest and the files it reads, for `aib resume`):
//! `runs/<run_id>/inputs/<sha256>`, each file named by the SHA-256 of its bytes.

use crate::error::{Result, StateError};

/// The folder of a run's inputs, under the run's folder.
pub const INPUTS_DIR: &str = "inputs";

/// An input's name is the lower-case hex SHA-256 of its bytes: nothing else is stored there,
/// so no name can reach outside the folder.
pub fn check_input_name(name: &str) -> Result<()> {
    let ok = name.len() == 64 && name.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidName {
            what: "input name",
            value: name.chars().take(80).collect(),
            reason: "an input is named by the lower-case hex SHA-256 of its bytes".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sha256_names() {
        assert!(check_input_name(&"ab".repeat(32)).is_ok());
        for bad in [
            "",
            "../x",
            &"AB".repeat(32),
            &"ab".repeat(33),
            &"g".repeat(64),
        ] {
            assert!(check_input_name(bad).is_err(), "{bad}");
        }
    }
}
