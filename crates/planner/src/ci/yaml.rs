//! Just enough YAML writing for generated workflows: every scalar the user controls is written
//! single-quoted, so no manifest value can change the document's structure.

/// A single-quoted YAML scalar (`'` doubled).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A YAML comment line body: newlines cannot end the comment early.
pub fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A flow sequence of quoted scalars: `['a', 'b']`.
pub fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", inner.join(", "))
}

/// A job or stage id from an environment name: letters, digits, `_` and `-`, starting with a
/// letter or `_` (both GitHub and Azure Pipelines accept that).
pub fn id(prefix: &str, name: &str) -> String {
    let body: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_single_quotes() {
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(list(&["a".into(), "b: c".into()]), "['a', 'b: c']");
        assert_eq!(comment("a\nb"), "a b");
        assert_eq!(id("build", "prod-eu.1"), "build_prod_eu_1");
    }
}
