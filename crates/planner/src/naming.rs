//! Image template names: `<pipeline>-<variant>-<env>-<hash8>`, sanitised to AIB's rule
//! `^[A-Za-z0-9-_.]{1,64}$`; and the image version preview.

/// Longest name AIB accepts.
pub const MAX_NAME_LEN: usize = 64;

/// The template name of a unit.
pub fn template_name(pipeline: &str, variant: &str, env: &str, hash8: &str) -> String {
    let suffix = sanitize(hash8);
    let prefix = sanitize(&format!("{pipeline}-{variant}-{env}"));
    let room = MAX_NAME_LEN.saturating_sub(suffix.len() + 1);
    let mut prefix: String = prefix.chars().take(room).collect();
    while prefix.ends_with('-') {
        prefix.pop();
    }
    if prefix.is_empty() {
        return suffix;
    }
    format!("{prefix}-{suffix}")
}

/// Replaces characters outside `[A-Za-z0-9-_.]` with `-` and collapses runs of `-`.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Whether a name satisfies AIB's rule.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// A calendar date (UTC), passed in so planning never reads the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    pub fn new(year: i32, month: u32, day: u32) -> Self {
        Self { year, month, day }
    }

    /// `YYYY.MDD` as in `date` versions (5 January 2026 → `2026.105`).
    pub fn version_prefix(&self) -> String {
        format!("{}.{}{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Default for Date {
    fn default() -> Self {
        Self::new(2026, 1, 1)
    }
}

/// Whether a rendered version preview looks like `Major.Minor.Patch` (`*` stands for the
/// run's sequence number).
pub fn is_version_preview(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| *p == "*" || (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            template_name("avd", "win11", "dev", "0123abcd"),
            "avd-win11-dev-0123abcd"
        );
        assert_eq!(
            template_name("avd", "a b//c", "dev", "0123abcd"),
            "avd-a-b-c-dev-0123abcd"
        );
        assert!(is_valid_name(&template_name("p", "v~!", "e", "deadbeef")));
    }

    #[test]
    fn long_names_keep_the_hash() {
        let v = "v".repeat(100);
        let n = template_name("pipe", &v, "prod", "0123abcd");
        assert_eq!(n.len(), 64);
        assert!(n.ends_with("-0123abcd"));
        assert!(is_valid_name(&n));
        let n = template_name("pipe", &format!("{}-x", "v".repeat(53)), "prod", "0123abcd");
        assert!(n.ends_with("-0123abcd") && !n.contains("--"));
        assert!(is_valid_name(&n));
    }

    #[test]
    fn date_versions() {
        assert_eq!(Date::new(2026, 1, 5).version_prefix(), "2026.105");
        assert_eq!(Date::new(2026, 12, 31).version_prefix(), "2026.1231");
        assert!(is_version_preview("1.2.*"));
        assert!(!is_version_preview("1.2"));
        assert!(!is_version_preview("1.x.3"));
    }
}
