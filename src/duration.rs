//! Durations on the command line: `90s`, `45m`, `2h`, `1h30m`, `1d`.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write e.g. 90m or 2h")]
    Empty,
    #[error("`{0}` is not a duration; write e.g. 90m or 2h")]
    NotADuration(String),
    #[error("`{0}` is too long")]
    TooLong(String),
    #[error("`{text}` has no unit; write e.g. {number}m")]
    NoUnit { text: String, number: String },
    #[error("the duration must be longer than 0")]
    Zero,
}

/// Parses a duration of one or more `<number><unit>` parts (units `s`, `m`, `h`, `d`).
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(DurationError::NotADuration(s.into())),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| DurationError::NotADuration(s.into()))?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| DurationError::TooLong(s.into()))?;
    }
    if !number.is_empty() {
        return Err(DurationError::NoUnit {
            text: s.into(),
            number,
        });
    }
    if total == 0 {
        return Err(DurationError::Zero);
    }
    Ok(Duration::from_secs(total))
}

/// A duration the way [`parse`] reads them, to the second: `45s`, `30m`, `1h30m`, `0s`.
pub fn format(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_parsed() {
        for s in ["45s", "30m", "1h30m", "2h", "1h0m5s"] {
            let d = parse(s).expect("parses");
            assert_eq!(parse(&format(d)), Ok(d), "{s}");
        }
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::ZERO), "0s");
    }

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "2", "h", "2x", "0m", "99999999999999999999d", "-1h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn says_why_a_text_is_not_a_duration() {
        let why = |s: &str| parse(s).expect_err(s).to_string();
        assert_eq!(why(" "), "empty duration; write e.g. 90m or 2h");
        assert_eq!(why("2x"), "`2x` is not a duration; write e.g. 90m or 2h");
        assert_eq!(why("90"), "`90` has no unit; write e.g. 90m");
        assert_eq!(why("0m"), "the duration must be longer than 0");
        assert_eq!(
            why("99999999999999999d"),
            "`99999999999999999d` is too long"
        );
    }
}
