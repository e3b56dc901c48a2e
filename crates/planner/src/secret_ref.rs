//! Secret references inside rendered settings.
//!
//! `{{ secrets.<name> }}` may be used in customizer strings and `parameters`. The planner never
//! sees secret values, so it renders each reference as a placeholder that names the secret;
//! the executor's renderer replaces placeholders with the value only in what it sends to Azure
//! and with `***` everywhere else. The placeholder is what the input hash sees, so a unit's
//! hash changes when a different secret is referenced, never when a secret's value changes.

/// Marks both ends of a placeholder (a control character no TOML string carries by accident).
const MARK: char = '\u{1}';
const PREFIX: &str = "aib-secret:";

/// The placeholder a reference to secret `name` renders as.
pub fn placeholder(name: &str) -> String {
    format!("{MARK}{PREFIX}{name}{MARK}")
}

/// Whether `s` holds a placeholder.
pub fn has_placeholder(s: &str) -> bool {
    s.contains(MARK)
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
    fn an_error_stops_substitution() {
        let s = placeholder("missing");
        let out: Result<String, String> = substitute(&s, |n| Err(n.to_string()));
        assert_eq!(out, Err("missing".to_string()));
    }
}
