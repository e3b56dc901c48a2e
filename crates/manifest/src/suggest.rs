//! "Did you mean" hints for unknown keys: the allowed keys at a path are read from the manifest's
//! own JSON Schema, so the hint can never drift from the types.

use serde_json::Value;

/// One step of a path into the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// What keys a table at some path may hold.
#[derive(Debug, PartialEq, Eq)]
pub enum TableShape {
    /// Only these keys.
    Closed(Vec<String>),
    /// Any key (free tables such as `tags`, or a path the schema does not describe).
    Open,
}

/// The shape of the table at `path`, read from the manifest's JSON Schema.
pub fn table_shape(schema: &Value, path: &[Segment]) -> TableShape {
    let empty = Value::Null;
    let defs = schema.get("$defs").unwrap_or(&empty);
    let mut current: Vec<&Value> = vec![schema];
    for seg in path {
        let mut next = Vec::new();
        for s in current.iter().flat_map(|s| expand(s, defs)) {
            match seg {
                Segment::Key(k) => {
                    if let Some(p) = s.get("properties").and_then(|p| p.get(k)) {
                        next.push(p);
                    } else if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object())
                    {
                        next.push(ap);
                    }
                }
                Segment::Index(_) => {
                    if let Some(items) = s.get("items") {
                        next.push(items);
                    }
                }
            }
        }
        current = next;
    }
    let objects: Vec<&Value> = current
        .iter()
        .flat_map(|s| expand(s, defs))
        .filter(|s| is_object_schema(s))
        .collect();
    if objects.is_empty() {
        return TableShape::Open;
    }
    let mut keys = Vec::new();
    for o in &objects {
        let closed = o.get("additionalProperties") == Some(&Value::Bool(false));
        if !closed {
            return TableShape::Open;
        }
        if let Some(props) = o.get("properties").and_then(Value::as_object) {
            keys.extend(props.keys().cloned());
        }
    }
    keys.sort();
    keys.dedup();
    TableShape::Closed(keys)
}

fn is_object_schema(s: &Value) -> bool {
    match s.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => s.get("properties").is_some(),
    }
}

/// A schema with `$ref`, `anyOf`, `oneOf` and `allOf` opened up into its alternatives.
fn expand<'a>(schema: &'a Value, defs: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let mut stack = vec![schema];
    let mut guard = 0;
    while let Some(s) = stack.pop() {
        guard += 1;
        if guard > 64 {
            break;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str)
            && let Some(name) = r.strip_prefix("#/$defs/")
            && let Some(d) = defs.get(name)
        {
            stack.push(d);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(alts) = s.get(key).and_then(Value::as_array) {
                stack.extend(alts.iter());
            }
        }
        out.push(s);
    }
    out
}

/// The closest allowed key to `unknown`, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(unknown: &str, candidates: &'a [String]) -> Option<&'a str> {
    let lower = unknown.to_ascii_lowercase().replace('-', "_");
    candidates
        .iter()
        .map(|c| {
            let score = if c.eq_ignore_ascii_case(&lower) {
                1.0
            } else {
                strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
            };
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let c = vec![
            "vm_size".to_string(),
            "location".to_string(),
            "os_disk_gb".to_string(),
        ];
        assert_eq!(did_you_mean("vmsize", &c), Some("vm_size"));
        assert_eq!(did_you_mean("locaton", &c), Some("location"));
        assert_eq!(did_you_mean("os-disk-gb", &c), Some("os_disk_gb"));
        assert_eq!(did_you_mean("zzz", &c), None);
    }
}
