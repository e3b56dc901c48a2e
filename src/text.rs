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

/// How long something took, for a TIME column: `4m05s`, `1h02m`. For a simulated run
/// (`scale`: Azure minutes per real minute) the Azure time it stands for, marked `~` as it is
/// scaled from real time: `~40s`, `~31m`, `~1h05m`.
pub fn elapsed(real: chrono::Duration, scale: Option<f64>) -> String {
    let ms = real.num_milliseconds().max(0) as f64;
    match scale.filter(|k| k.is_finite() && *k > 0.0) {
        Some(k) => {
            let s = (ms * k / 1000.0).round() as u64;
            let m = (s + 30) / 60;
            if s < 60 {
                format!("~{s}s")
            } else if m < 60 {
                format!("~{m}m")
            } else {
                format!("~{}h{:02}m", m / 60, m % 60)
            }
        }
        None => {
            let s = (ms / 1000.0) as u64;
            if s >= 3600 {
                format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
            } else {
                format!("{}m{:02}s", s / 60, s % 60)
            }
        }
    }
}

/// What a `~` in a TIME column means, for a run simulated at `scale` Azure minutes per real
/// minute.
pub fn azure_time_note(scale: f64) -> String {
    let ms = if scale > 0.0 { 60_000.0 / scale } else { 0.0 };
    format!("~ Azure time of a simulated run (one Azure minute took {ms:.0} ms)")
}

/// A time shown to people: UTC to the second (`2026-11-29T03:00:00Z`).
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_real_or_marked_azure_time() {
        let d = chrono::Duration::milliseconds;
        assert_eq!(elapsed(d(245_900), None), "4m05s");
        assert_eq!(elapsed(d(3_725_000), None), "1h02m");
        assert_eq!(elapsed(d(-5), None), "0m00s");
        // --simulate: 20 ms an Azure minute, 3000 Azure minutes a real one.
        assert_eq!(elapsed(d(620), Some(3000.0)), "~31m");
        assert_eq!(elapsed(d(13), Some(3000.0)), "~39s");
        assert_eq!(elapsed(d(1_300), Some(3000.0)), "~1h05m");
        assert_eq!(elapsed(d(1_199), Some(3000.0)), "~1h00m");
        assert_eq!(elapsed(d(620), Some(f64::NAN)), "0m00s");
        assert_eq!(
            azure_time_note(3000.0),
            "~ Azure time of a simulated run (one Azure minute took 20 ms)"
        );
    }

    #[test]
    fn times_shown_to_people_stop_at_the_second() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-29T03:00:07.123456789+01:00")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(when(t), "2026-11-29T02:00:07Z");
    }

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
