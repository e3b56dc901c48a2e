//! `[variants.V.matrix]`: axes (arrays of values) plus GitHub Actions style `include` and
//! `exclude` lists. Expansion lives in the planner; this module holds the shape and its checks.

use std::ops::Range;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Spanned;

/// One combination of matrix values, axes in declared order.
pub type MatrixRow = IndexMap<String, Value>;

/// A variant's matrix as written: every key but `include` and `exclude` is an axis.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(with = "MatrixSchema")]
pub struct Matrix {
    entries: IndexMap<Spanned<String>, Spanned<Value>>,
}

/// The JSON Schema shape of a matrix (documentation only).
#[allow(dead_code)]
#[derive(JsonSchema)]
struct MatrixSchema {
    /// Combinations to extend (when they match existing ones) or add.
    include: Option<Vec<IndexMap<String, Value>>>,
    /// Combinations to remove: every combination matching all keys of an entry.
    exclude: Option<Vec<IndexMap<String, Value>>>,
    /// Axes: each an array of values.
    #[serde(flatten)]
    axes: IndexMap<String, Vec<Value>>,
}

impl Matrix {
    /// Axes in declared order: `(name, values)`. Keys whose value is not an array are skipped
    /// here and reported by [`Matrix::problems`].
    pub fn axes(&self) -> Vec<(&Spanned<String>, &[Value])> {
        self.entries
            .iter()
            .filter(|(k, _)| !is_special(k))
            .filter_map(|(k, v)| v.as_array().map(|a| (k, a.as_slice())))
            .collect()
    }

    /// The `include` entries (valid tables only).
    pub fn include(&self) -> Vec<MatrixRow> {
        self.rows("include")
    }

    /// The `exclude` entries (valid tables only).
    pub fn exclude(&self) -> Vec<MatrixRow> {
        self.rows("exclude")
    }

    /// Span of a key, for error messages.
    pub fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.entries.get_key_value(key).map(|(k, _)| k.span())
    }

    /// Span of the whole `include` / `exclude` / axis value.
    pub fn value_span(&self, key: &str) -> Option<Range<usize>> {
        self.entries.get(key).map(|v| v.span())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn rows(&self, key: &str) -> Vec<MatrixRow> {
        let Some(v) = self.entries.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| item.as_object())
            .map(|obj| obj.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .collect()
    }

    /// Shape problems: `(span, message)` for axes that are not arrays, empty axes,
    /// `include`/`exclude` that are not arrays of tables, and exclude keys that name no axis.
    pub fn problems(&self) -> Vec<(Range<usize>, String)> {
        let mut out = Vec::new();
        let axis_names: Vec<&str> = self
            .entries
            .keys()
            .filter(|k| !is_special(k))
            .map(|k| k.as_str())
            .collect();
        for (k, v) in &self.entries {
            match k.as_str() {
                "include" | "exclude" => match v.as_array() {
                    Some(items) => {
                        for item in items {
                            match item.as_object() {
                                None => out.push((
                                    v.span(),
                                    format!(
                                        "every `{}` entry must be a table of axis = value",
                                        k.as_str()
                                    ),
                                )),
                                Some(obj) if k.as_str() == "exclude" => {
                                    for key in obj.keys() {
                                        if !axis_names.contains(&key.as_str()) {
                                            out.push((
                                                v.span(),
                                                format!("`exclude` names `{key}`, which is not an axis of this matrix"),
                                            ));
                                        }
                                    }
                                }
                                Some(obj) if obj.is_empty() => out.push((
                                    v.span(),
                                    "an `include` entry must set at least one key".to_string(),
                                )),
                                Some(_) => {}
                            }
                        }
                    }
                    None => out.push((
                        v.span(),
                        format!("`{}` must be an array of tables", k.as_str()),
                    )),
                },
                _ => match v.as_array() {
                    None => out.push((
                        v.span(),
                        format!("matrix axis `{}` must be an array of values", k.as_str()),
                    )),
                    Some(a) if a.is_empty() => out.push((
                        v.span(),
                        format!("matrix axis `{}` has no values", k.as_str()),
                    )),
                    Some(a) => {
                        if a.iter()
                            .any(|x| x.is_array() || x.is_object() || x.is_null())
                        {
                            out.push((
                                v.span(),
                                format!("values of matrix axis `{}` must be strings, numbers or booleans", k.as_str()),
                            ));
                        }
                    }
                },
            }
        }
        out
    }
}

fn is_special(k: &str) -> bool {
    k == "include" || k == "exclude"
}
