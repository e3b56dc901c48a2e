//! Secret references inside rendered settings.
//!
//! `{{ secrets.<name> }}` may be used in customizer strings and `parameters`. The planner never
//! sees secret values, so it renders each reference as a placeholder that names the secret and
//! the filters applied to it (`{{ secrets.pw | sh_quote }}`: only [`ALLOWED_FILTERS`], checked
//! by [`crate::secret_use`]); the executor turns placeholders into `securestring` parameters
//! of the deployment whose values are the filtered secret ([`apply_filters`]), and into `***`
//! everywhere else. The placeholder is what the input hash sees, so a unit's hash changes when
//! a different secret (or filter) is used, never when a secret's value changes.

/// Marks both ends of a placeholder (a control character no TOML string carries by accident).
const MARK: char = '\u{1}';
const PREFIX: &str = "aib-secret:";

/// The filters that may be applied to a secret: they act on its value when `build` resolves
/// it, so quoting meant to protect a script does protect it.
pub const ALLOWED_FILTERS: [&str; 3] = ["sh_quote", "ps_quote", "tojson"];

/// The placeholder a reference to secret `name` renders as.
pub fn placeholder(name: &str) -> String {
    format!("{MARK}{PREFIX}{name}{MARK}")
}

/// `s` (exactly one placeholder) with `filter` applied: the placeholder with the filter
/// recorded; `None` when `s` is not exactly one placeholder.
pub fn with_filter(s: &str, filter: &str) -> Option<String> {
    let body = s.strip_prefix(MARK)?.strip_suffix(MARK)?;
    if !body.starts_with(PREFIX) || body.contains(MARK) {
        return None;
    }
    Some(format!("{MARK}{body}|{filter}{MARK}"))
}

/// A placeholder's inside (`name|filter|filter`) split into the secret's name and its filters.
pub fn parse_use(body: &str) -> (&str, Vec<&str>) {
    let mut parts = body.split('|');
    let name = parts.next().unwrap_or("");
    (name, parts.collect())
}

/// `s` quoted for a POSIX shell (`'it'\''s'`); a NUL byte cannot be passed to a shell.
pub fn sh_quote(s: &str) -> Result<String, FilterError> {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .map_err(|_| FilterError::NulByte)
}

/// Why a filter could not be applied to a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("a value with a NUL byte cannot be quoted for a shell")]
    NulByte,
    #[error("filter `{0}` cannot be applied to a secret")]
    NotAllowed(String),
}

/// `s` as a PowerShell single-quoted string: every quote character PowerShell accepts
/// (`'` and the typographic ones) doubled, so nothing inside is expanded or ends the string.
pub fn ps_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// `s` as a JSON string, as minijinja's `tojson` writes it (`<`, `>`, `&`, `'` escaped too).
pub fn tojson(s: &str) -> String {
    let kw = minijinja::value::Kwargs::from_iter(std::iter::empty::<(&str, minijinja::Value)>());
    minijinja::filters::tojson(&minijinja::Value::from(s), None, kw)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| serde_json::Value::String(s.to_string()).to_string())
}

/// `value` with `filters` applied in order (the forms [`ALLOWED_FILTERS`] make).
pub fn apply_filters(value: &str, filters: &[&str]) -> Result<String, FilterError> {
    let mut v = value.to_string();
    for f in filters {
        v = match *f {
            "sh_quote" => sh_quote(&v)?,
            "ps_quote" => ps_quote(&v),
            "tojson" => tojson(&v),
            other => return Err(FilterError::NotAllowed(other.to_string())),
        };
    }
    Ok(v)
}

/// Whether `s` holds a placeholder.
pub fn has_placeholder(s: &str) -> bool {
    s.contains(MARK)
}

/// A piece of a string: text, or a placeholder's inside (`name|filter...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Secret(&'a str),
}

/// `s` cut into text and placeholders, in order (empty texts left out).
pub fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut text_start = 0usize;
    let mut pos = 0usize;
    while let Some(start) = rest.find(MARK) {
        let after = &rest[start + MARK.len_utf8()..];
        let found = after
            .strip_prefix(PREFIX)
            .and_then(|body| body.find(MARK).map(|end| &body[..end]));
        match found {
            Some(body) => {
                let text = &s[text_start..pos + start];
                if !text.is_empty() {
                    out.push(Piece::Text(text));
                }
                out.push(Piece::Secret(body));
                let consumed = start + 2 * MARK.len_utf8() + PREFIX.len() + body.len();
                pos += consumed;
                text_start = pos;
                rest = &rest[consumed..];
            }
            None => {
                // A lone mark that is not ours: part of the text.
                let skip = start + MARK.len_utf8();
                pos += skip;
                rest = &rest[skip..];
            }
        }
    }
    if text_start < s.len() {
        out.push(Piece::Text(&s[text_start..]));
    }
    out
}

/// `s` with every placeholder replaced by `value(name)`; the first error stops it.
pub fn substitute<E>(
    s: &str,
    mut value: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(MARK) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARK.len_utf8()..];
        let Some(body) = after.strip_prefix(PREFIX) else {
            // A lone mark that is not ours: keep it.
            out.push(MARK);
            rest = after;
            continue;
        };
        match body.find(MARK) {
            Some(end) => {
                out.push_str(&value(&body[..end])?);
                rest = &body[end + MARK.len_utf8()..];
            }
            None => {
                out.push(MARK);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_every_placeholder() {
        let s = format!("user:{} pass:{}!", placeholder("u"), placeholder("p"));
        assert!(has_placeholder(&s));
        let out: Result<String, ()> = substitute(&s, |n| Ok(format!("<{n}>")));
        assert_eq!(out, Ok("user:<u> pass:<p>!".to_string()));
    }

    #[test]
    fn leaves_foreign_marks_and_plain_text() {
        let out: Result<String, ()> = substitute("a\u{1}b", |_| Ok("x".into()));
        assert_eq!(out, Ok("a\u{1}b".to_string()));
        let out: Result<String, ()> = substitute("plain", |_| Ok("x".into()));
        assert_eq!(out, Ok("plain".to_string()));
        let out: Result<String, ()> = substitute("\u{1}aib-secret:open", |_| Ok("x".into()));
        assert_eq!(out, Ok("\u{1}aib-secret:open".to_string()));
    }

    #[test]
    fn filters_are_recorded_in_the_placeholder_and_applied_to_values() {
        let p = placeholder("pw");
        let q = with_filter(&p, "sh_quote").unwrap_or_default();
        let out: Result<String, ()> = substitute(&format!("x {q}"), |b| Ok(b.to_string()));
        assert_eq!(out, Ok("x pw|sh_quote".to_string()));
        assert_eq!(
            parse_use("pw|sh_quote|tojson"),
            ("pw", vec!["sh_quote", "tojson"])
        );
        assert_eq!(with_filter("plain", "sh_quote"), None);
        assert_eq!(with_filter(&format!("{p}{p}"), "sh_quote"), None);
        assert_eq!(apply_filters("it's", &["sh_quote"]), Ok("\"it's\"".into()));
        assert_eq!(apply_filters("a b", &["sh_quote"]), Ok("'a b'".into()));
        assert_eq!(apply_filters("it's", &["ps_quote"]), Ok("'it''s'".into()));
        assert_eq!(
            apply_filters("a\u{2019}b", &["ps_quote"]),
            Ok("'a\u{2019}\u{2019}b'".into())
        );
        assert_eq!(
            apply_filters("<\"x\">", &["tojson"]),
            Ok("\"\\u003c\\\"x\\\"\\u003e\"".into())
        );
        assert!(apply_filters("a\0b", &["sh_quote"]).is_err());
        assert!(apply_filters("a", &["upper"]).is_err());
    }

    #[test]
    fn strings_cut_into_text_and_placeholders() {
        let s = format!("a{}b\u{1}c{}", placeholder("x"), placeholder("y"));
        assert_eq!(
            pieces(&s),
            vec![
                Piece::Text("a"),
                Piece::Secret("x"),
                Piece::Text("b\u{1}c"),
                Piece::Secret("y"),
            ]
        );
        assert_eq!(pieces("plain"), vec![Piece::Text("plain")]);
        assert_eq!(pieces(&placeholder("z")), vec![Piece::Secret("z")]);
    }

    #[test]
    fn an_error_stops_substitution() {
        let s = placeholder("missing");
        let out: Result<String, String> = substitute(&s, |n| Err(n.to_string()));
        assert_eq!(out, Err("missing".to_string()));
    }
}
