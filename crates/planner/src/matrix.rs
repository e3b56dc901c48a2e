//! Matrix expansion with GitHub Actions `strategy.matrix` semantics: cartesian product of the
//! axes in declared order, `exclude` first, then every `include` entry extends the combinations
//! it does not contradict, or becomes a combination of its own.

use aib_manifest::{Matrix, MatrixRow};
use serde_json::Value;

/// One expanded combination.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpandedRow {
    /// Every key of the combination: axes first (declared order), then keys added by `include`.
    pub values: MatrixRow,
    /// The keys that name the row in its unit id: the declared axes for rows of the product,
    /// the entry's own keys for rows an `include` entry added.
    pub id_keys: Vec<String>,
}

impl ExpandedRow {
    /// `axis=value,axis=value` (empty for a unit without matrix).
    pub fn id_suffix(&self) -> String {
        let mut s = String::new();
        for (i, k) in self.id_keys.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(k);
            s.push('=');
            if let Some(v) = self.values.get(k) {
                s.push_str(&plain(v));
            }
        }
        s
    }
}

/// A matrix value as a plain string (`2204`, `true`, `ubuntu`).
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Values compare as their plain strings, so `2204` and `"2204"` are the same value (they
/// also give the same unit id).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        _ => plain(a) == plain(b),
    }
}

/// Expands a manifest matrix (no matrix: one empty row).
pub fn expand_matrix(matrix: Option<&Matrix>) -> Vec<ExpandedRow> {
    let Some(m) = matrix.filter(|m| !m.is_empty()) else {
        return vec![ExpandedRow {
            values: MatrixRow::new(),
            id_keys: Vec::new(),
        }];
    };
    let axes: Vec<(String, Vec<Value>)> = m
        .axes()
        .into_iter()
        .map(|(k, v)| (k.get_ref().clone(), v.to_vec()))
        .collect();
    let rows = expand(&axes, &m.include(), &m.exclude());
    if rows.is_empty() {
        // Everything excluded: the variant builds nothing.
        return Vec::new();
    }
    rows
}

/// GitHub's algorithm on plain data.
pub fn expand(
    axes: &[(String, Vec<Value>)],
    include: &[MatrixRow],
    exclude: &[MatrixRow],
) -> Vec<ExpandedRow> {
    let axis_names: Vec<String> = axes.iter().map(|(k, _)| k.clone()).collect();
    let mut rows: Vec<MatrixRow> = Vec::new();
    if !axes.is_empty() && axes.iter().all(|(_, v)| !v.is_empty()) {
        rows.push(MatrixRow::new());
        for (name, values) in axes {
            let mut next = Vec::with_capacity(rows.len() * values.len());
            for row in &rows {
                for v in values {
                    let mut r = row.clone();
                    r.insert(name.clone(), v.clone());
                    next.push(r);
                }
            }
            rows = next;
        }
    }
    rows.retain(|row| {
        !exclude.iter().any(|ex| {
            !ex.is_empty()
                && ex
                    .iter()
                    .all(|(k, v)| row.get(k).is_some_and(|rv| same_value(rv, v)))
        })
    });
    let mut extra: Vec<ExpandedRow> = Vec::new();
    for entry in include {
        let mut added = false;
        for row in rows.iter_mut() {
            let contradicts = entry.iter().any(|(k, v)| {
                axis_names.contains(k) && row.get(k).is_some_and(|rv| !same_value(rv, v))
            });
            if !contradicts {
                for (k, v) in entry {
                    row.insert(k.clone(), v.clone());
                }
                added = true;
            }
        }
        if !added {
            extra.push(ExpandedRow {
                values: entry.clone(),
                id_keys: entry.keys().cloned().collect(),
            });
        }
    }
    let mut out: Vec<ExpandedRow> = rows
        .into_iter()
        .map(|values| ExpandedRow {
            values,
            id_keys: axis_names.clone(),
        })
        .collect();
    out.extend(extra);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> MatrixRow {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn axes(v: Value) -> Vec<(String, Vec<Value>)> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_array().cloned().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn values(rows: &[ExpandedRow]) -> Vec<Value> {
        rows.iter()
            .map(|r| Value::Object(r.values.clone().into_iter().collect()))
            .collect()
    }

    // GitHub docs, "Expanding or adding matrix configurations".
    #[test]
    fn github_expanding_or_adding() {
        let rows = expand(
            &axes(json!({"fruit": ["apple", "pear"], "animal": ["cat", "dog"]})),
            &[
                row(json!({"color": "green"})),
                row(json!({"color": "pink", "animal": "cat"})),
                row(json!({"fruit": "apple", "shape": "circle"})),
                row(json!({"fruit": "banana"})),
                row(json!({"fruit": "banana", "animal": "cat"})),
            ],
            &[],
        );
        assert_eq!(
            values(&rows),
            vec![
                json!({"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"}),
                json!({"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"}),
                json!({"fruit": "pear", "animal": "cat", "color": "pink"}),
                json!({"fruit": "pear", "animal": "dog", "color": "green"}),
                json!({"fruit": "banana"}),
                json!({"fruit": "banana", "animal": "cat"}),
            ]
        );
        assert_eq!(rows[0].id_suffix(), "fruit=apple,animal=cat");
        assert_eq!(rows[4].id_suffix(), "fruit=banana");
        assert_eq!(rows[5].id_suffix(), "fruit=banana,animal=cat");
    }

    // GitHub docs, "Example: Expanding configurations" (os/node + npm).
    #[test]
    fn github_expanding_configurations() {
        let rows = expand(
            &axes(json!({"os": ["windows-latest", "ubuntu-latest"], "node": [14, 16]})),
            &[row(json!({"os": "windows-latest", "node": 16, "npm": 6}))],
            &[],
        );
        assert_eq!(
            values(&rows),
            vec![
                json!({"os": "windows-latest", "node": 14}),
                json!({"os": "windows-latest", "node": 16, "npm": 6}),
                json!({"os": "ubuntu-latest", "node": 14}),
                json!({"os": "ubuntu-latest", "node": 16}),
            ]
        );
    }

    // GitHub docs, "Example: Adding configurations".
    #[test]
    fn github_adding_configurations() {
        let rows = expand(
            &axes(
                json!({"os": ["windows-latest", "ubuntu-latest", "macos-latest"], "version": [10, 12, 14]}),
            ),
            &[row(json!({"os": "windows-latest", "version": 17}))],
            &[],
        );
        assert_eq!(rows.len(), 10);
        assert_eq!(
            values(&rows)[9],
            json!({"os": "windows-latest", "version": 17})
        );
        assert_eq!(rows[9].id_suffix(), "os=windows-latest,version=17");
    }

    // GitHub docs, the include-only matrix.
    #[test]
    fn github_include_only() {
        let rows = expand(
            &[],
            &[
                row(json!({"site": "production", "datacenter": "site-a"})),
                row(json!({"site": "staging", "datacenter": "site-b"})),
            ],
            &[],
        );
        assert_eq!(
            values(&rows),
            vec![
                json!({"site": "production", "datacenter": "site-a"}),
                json!({"site": "staging", "datacenter": "site-b"}),
            ]
        );
        assert_eq!(rows[1].id_suffix(), "site=staging,datacenter=site-b");
    }

    // GitHub docs, "Excluding matrix configurations": 12 - 1 - 2 = 9 jobs.
    #[test]
    fn github_excluding() {
        let rows = expand(
            &axes(
                json!({"os": ["macos-latest", "windows-latest"], "version": [12, 14, 16], "environment": ["staging", "production"]}),
            ),
            &[],
            &[
                row(json!({"os": "macos-latest", "version": 12, "environment": "production"})),
                row(json!({"os": "windows-latest", "version": 16})),
            ],
        );
        assert_eq!(rows.len(), 9);
        let v = values(&rows);
        assert!(
            !v.contains(&json!({"os": "macos-latest", "version": 12, "environment": "production"}))
        );
        assert!(
            !v.iter()
                .any(|r| r["os"] == "windows-latest" && r["version"] == 16)
        );
        assert_eq!(
            rows[0].id_suffix(),
            "os=macos-latest,version=12,environment=staging"
        );
    }

    #[test]
    fn exclude_before_include_and_added_values_overwritten() {
        let rows = expand(
            &axes(json!({"a": [1, 2]})),
            &[
                row(json!({"x": "first"})),
                row(json!({"a": 1, "x": "second"})),
            ],
            &[row(json!({"a": 2}))],
        );
        assert_eq!(values(&rows), vec![json!({"a": 1, "x": "second"})]);
    }

    #[test]
    fn no_matrix_is_one_row() {
        let rows = expand_matrix(None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id_suffix(), "");
    }
}
