//! Small pieces of wording shared by the commands' output.

/// `1 unit`, `2 units`, `0 units`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `s` as one word for a POSIX shell: unchanged when it needs no quoting, else single-quoted.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(1, "unit", "units"), "1 unit");
        assert_eq!(count(0, "unit", "units"), "0 units");
        assert_eq!(count(5, "environment", "environments"), "5 environments");
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word(".aib/simulate"), ".aib/simulate");
        assert_eq!(shell_word("my dir/.aib"), "'my dir/.aib'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(
            shell_word("dev/ubuntu[release=2404]"),
            "'dev/ubuntu[release=2404]'"
        );
    }
}
