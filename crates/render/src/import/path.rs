//! JSON paths into the imported file, as notes and errors name them:
//! `resources[8].properties.template.resources.imageTemplate.properties.vmProfile`.

use std::fmt;

/// One step into a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path from the root of the imported file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    pub fn root() -> Self {
        Self::default()
    }

    /// This path and one key more.
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Step::Key(k.to_string()));
        p
    }

    /// This path and one index more.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Step::Index(i));
        p
    }

    /// This path followed by `rest`.
    pub fn join(&self, rest: &JsonPath) -> Self {
        let mut p = self.clone();
        p.0.extend(rest.0.iter().cloned());
        p
    }

    /// A path of these steps.
    pub fn join_steps(&self, steps: &[Step]) -> Self {
        let mut p = self.clone();
        p.0.extend(steps.iter().cloned());
        p
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// The first key, when the path starts with one.
    pub fn first_key(&self) -> Option<&str> {
        match self.0.first() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }
}

fn plain(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(the document)");
        }
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Step::Key(k) if plain(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Key(k) => write!(f, "[{}]", serde_json::Value::String(k.clone()))?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_a_jq_path() {
        let p = JsonPath::root()
            .key("resources")
            .index(8)
            .key("properties")
            .key("api-version")
            .key("a b");
        assert_eq!(
            p.to_string(),
            r#"resources[8].properties.api-version["a b"]"#
        );
        assert_eq!(JsonPath::root().to_string(), "(the document)");
    }
}
