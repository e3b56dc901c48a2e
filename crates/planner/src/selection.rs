//! Which units a command acts on: `--env NAME`, `--variant GLOB`, `--unit ID`, each repeatable.
//! A unit is selected when it matches every kind given (any value within a kind).

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The selection as given on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub environments: Vec<String>,
    /// Globs on variant names.
    pub variants: Vec<String>,
    /// Exact unit ids.
    pub units: Vec<String>,
}

impl Selection {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    pub fn is_all(&self) -> bool {
        self.environments.is_empty() && self.variants.is_empty() && self.units.is_empty()
    }

    pub(crate) fn compile(&self) -> Result<SelectionMatcher<'_>, Vec<String>> {
        let mut b = GlobSetBuilder::new();
        let mut errors = Vec::new();
        for g in &self.variants {
            match Glob::new(g) {
                Ok(glob) => {
                    b.add(glob);
                }
                Err(e) => errors.push(format!("bad `--variant` glob `{g}`: {}", e.kind())),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let variants = b.build().map_err(|e| vec![e.to_string()])?;
        Ok(SelectionMatcher {
            selection: self,
            variants,
        })
    }
}

pub(crate) struct SelectionMatcher<'a> {
    selection: &'a Selection,
    variants: GlobSet,
}

impl SelectionMatcher<'_> {
    pub(crate) fn matches(&self, env: &str, variant: &str, id: &str) -> bool {
        let s = self.selection;
        (s.environments.is_empty() || s.environments.iter().any(|e| e == env))
            && (s.variants.is_empty() || self.variants.is_match(variant))
            && (s.units.is_empty() || s.units.iter().any(|u| u == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_must_match() {
        let s = Selection {
            environments: vec!["dev".into(), "test".into()],
            variants: vec!["win*".into()],
            units: vec![],
        };
        let m = s.compile().unwrap_or_else(|_| unreachable!());
        assert!(m.matches("dev", "win11", "dev/win11"));
        assert!(!m.matches("prod", "win11", "prod/win11"));
        assert!(!m.matches("dev", "ubuntu", "dev/ubuntu"));
        let s = Selection {
            units: vec!["dev/ubuntu[release=2204]".into()],
            ..Selection::default()
        };
        let m = s.compile().unwrap_or_else(|_| unreachable!());
        assert!(m.matches("dev", "ubuntu", "dev/ubuntu[release=2204]"));
        assert!(!m.matches("dev", "ubuntu", "dev/ubuntu[release=2404]"));
        assert!(
            Selection {
                variants: vec!["[".into()],
                ..Selection::default()
            }
            .compile()
            .is_err()
        );
    }
}
