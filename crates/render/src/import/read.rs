//! Reading a template file: JSON as ARM reads it, with `//` and `/* */` comments (through the
//! `jsonc-parser` crate) and an optional UTF-8 byte order mark; nothing else that JSON does not
//! allow (no trailing commas, no single quotes). Size and nesting are bounded.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::error::{JsonTextError, ReadError};

/// The largest template file read (the largest real template seen, the AVD accelerator's, is
/// 0.6 MiB).
pub const MAX_TEMPLATE_BYTES: u64 = 32 * 1024 * 1024;

/// Reads a file of at most [`MAX_TEMPLATE_BYTES`].
pub fn read_bounded(path: &Path) -> Result<String, ReadError> {
    let f = std::fs::File::open(path)?;
    let mut text = String::new();
    f.take(MAX_TEMPLATE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_TEMPLATE_BYTES {
        return Err(ReadError::TooLarge {
            limit_mib: MAX_TEMPLATE_BYTES / (1024 * 1024),
        });
    }
    Ok(text)
}

/// Parses JSON that may hold comments. Plain JSON goes through serde_json (its messages), JSON
/// with comments through jsonc-parser.
pub fn parse(text: &str) -> Result<Value, JsonTextError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let plain = match serde_json::from_str::<Value>(text) {
        Ok(v) => return Ok(v),
        Err(e) => JsonTextError {
            line: e.line(),
            column: e.column(),
            message: serde_message(&e),
        },
    };
    if !(text.contains("//") || text.contains("/*")) {
        return Err(plain);
    }
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    jsonc_parser::parse_to_serde_value::<Value>(text, &options).map_err(|e| JsonTextError {
        line: e.line_display(),
        column: e.column_display(),
        message: e.kind().to_string(),
    })
}

/// Whether the text has comments (so they are lost when it is written back).
pub fn has_comments(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() && parse(text).is_ok()
}

/// serde_json's message without its ` at line L column C` suffix.
fn serde_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_read_as_arm_reads_them() {
        let v = parse(
            "\u{feff}{ // the template\n  \"a\": /* inline */ 1,\n  \"b\": \"http://x//y\" }",
        )
        .expect("parses");
        assert_eq!(v, serde_json::json!({ "a": 1, "b": "http://x//y" }));
        assert!(has_comments("{ /* c */ }"));
        assert!(!has_comments("{ \"u\": \"http://x\" }"));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("{\n  \"a\": 1,\n}").expect_err("trailing comma");
        assert_eq!(e.line, 3);
        let e = parse("{ // c\n  \"a\": 1,\n}").expect_err("trailing comma with comments");
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "Trailing commas are not allowed")
        );
        let e = parse("{ /* open").expect_err("unterminated");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("// c\n{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).is_err());
    }
}
