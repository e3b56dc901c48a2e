//! Durations on the command line: `90s`, `45m`, `2h`, `1h30m`, `1d`.

use std::time::Duration;

/// Parses a duration of one or more `<number><unit>` parts (units `s`, `m`, `h`, `d`).
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration; write e.g. 90m or 2h".to_string());
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
            _ => return Err(format!("`{s}` is not a duration; write e.g. 90m or 2h")),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a duration; write e.g. 90m or 2h"))?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}` is too long"))?;
    }
    if !number.is_empty() {
        return Err(format!("`{s}` has no unit; write e.g. {number}m"));
    }
    if total == 0 {
        return Err("the duration must be longer than 0".to_string());
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
}
