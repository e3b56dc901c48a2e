//! A schedule's cron expression, parsed once when the manifest is read. The text is kept as
//! written (it is what the manifest, the JSON schema and messages show); the parse result is
//! what validation reports and what `aib schedule` evaluates.

use croner::parser::{CronParser, Seconds};

/// A cron expression (five fields, or six with seconds first) and what parsing it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    text: String,
    parsed: Result<croner::Cron, CronError>,
}

impl Cron {
    /// Parses `text`; a bad expression is kept with the reason, for validation to report.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let parsed = parse(&text);
        Self { text, parsed }
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed schedule, or why the expression is not one (which field is out of range).
    pub fn schedule(&self) -> Result<&croner::Cron, &CronError> {
        self.parsed.as_ref()
    }
}

/// Why a cron expression is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "has {0} fields; write five (minute hour day month weekday) or six (with seconds first)"
    )]
    FieldCount(usize),
    /// A field holds a number outside its range (named), or croner refused it (its words).
    #[error("{0}")]
    Field(String),
}

fn parse(cron: &str) -> Result<croner::Cron, CronError> {
    let fields = cron.split_whitespace().count();
    let seconds = match fields {
        5 => Seconds::Disallowed,
        6 => Seconds::Required,
        _ => return Err(CronError::FieldCount(fields)),
    };
    CronParser::builder()
        .seconds(seconds)
        .build()
        .parse(cron)
        .map_err(|e| CronError::Field(cron_field_problem(cron).unwrap_or_else(|| e.to_string())))
}

/// Names the cron field holding an out-of-range number, which croner's message does not.
fn cron_field_problem(cron: &str) -> Option<String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let names: &[(&str, u32, u32)] = &[
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    let offset = if fields.len() == 6 { 1 } else { 0 };
    if offset == 1
        && let Some(p) = out_of_range(fields[0], 0, 59)
    {
        return Some(format!("second field has {p}, outside 0-59"));
    }
    for (i, (name, lo, hi)) in names.iter().enumerate() {
        let field = fields.get(i + offset)?;
        if let Some(p) = out_of_range(field, *lo, *hi) {
            return Some(format!("{name} field has {p}, outside {lo}-{hi}"));
        }
    }
    None
}

fn out_of_range(field: &str, lo: u32, hi: u32) -> Option<u32> {
    // The number after `/` is a step and the one after `#` an occurrence, not a value.
    let values = field.split(',').flat_map(|part| {
        let part = part.split(['/', '#']).next().unwrap_or("");
        part.split('-')
            .filter_map(|n| n.parse::<u32>().ok())
            .collect::<Vec<_>>()
    });
    values.into_iter().find(|v| *v < lo || *v > hi)
}

crate::as_text::as_text!(Cron, Cron::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_five_and_six_fields_and_names_bad_ones() {
        assert!(Cron::new("0 3 * * *").schedule().is_ok());
        assert!(Cron::new("0 0 3 * * *").schedule().is_ok());
        let why = |c: &str| Cron::new(c).schedule().err().map(|e| e.to_string());
        assert_eq!(
            why("0 3 * *").as_deref(),
            Some(
                "has 4 fields; write five (minute hour day month weekday) or six (with seconds first)"
            )
        );
        assert_eq!(
            why("0 25 * * *").as_deref(),
            Some("hour field has 25, outside 0-23")
        );
        assert_eq!(Cron::new("0 3 * * *").as_str(), "0 3 * * *");
    }
}
