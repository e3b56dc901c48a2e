//! Settings layering: built-in defaults < `[defaults]` < `[environments.E]` < `[variants.V]` <
//! `[variants.V.environments.E]` < matrix `include` values < `--set key=value`; plus turning
//! matrix values and `--set` arguments into layers.

use aib_manifest::{
    CleanupPolicy, Merge, SETTING_KEYS, Settings, Spanned, VariantEnvironments, did_you_mean,
};
use serde::Deserialize;
use serde::de::value::{Error as DeError, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

/// The built-in defaults, the lowest layer.
pub fn builtin_defaults() -> Settings {
    Settings {
        template: Some(Spanned::detached("builtin:image-template".to_string())),
        version: Some(Spanned::detached("date".to_string())),
        cleanup: Some(Spanned::detached(CleanupPolicy::OnSuccess)),
        build_timeout_minutes: Some(Spanned::detached(240)),
        replicate_to: Some(Spanned::detached(vec![Spanned::detached(
            "{{ location }}".to_string(),
        )])),
        exclude_from_latest: Some(Spanned::detached(false)),
        ..Settings::default()
    }
}

/// Layers up to `[variants.V.environments.E]` for one environment and variant.
pub fn base_layers(
    file: &aib_manifest::ManifestFile,
    env: &aib_manifest::Environment,
    env_name: &str,
    variant: &aib_manifest::Variant,
) -> Settings {
    let mut s = builtin_defaults();
    s.merge(&file.defaults);
    s.merge(&env.settings());
    s.merge(&variant.settings());
    if let Some(VariantEnvironments::Overrides(map)) = &variant.environments
        && let Some(layer) = map.get(env_name)
    {
        s.merge(layer);
    }
    s
}

/// The keys of a matrix row that name settings, as a layer (`None` when there are none).
pub fn matrix_layer(row: &aib_manifest::MatrixRow) -> Option<Result<Settings, DeError>> {
    let obj: Map<String, Value> = row
        .iter()
        .filter(|(k, _)| SETTING_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if obj.is_empty() {
        return None;
    }
    Some(settings_from_json(&Value::Object(obj)))
}

/// A bad `--set` argument: `(argument, message, help)`.
pub type SetError = (String, String, Option<String>);

/// Parses `--set` arguments (`key=value`, dotted keys into tables) into one layer.
/// Errors are `(argument, message, help)`.
pub fn set_layer(args: &[String]) -> Result<Option<Settings>, Vec<SetError>> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut root = Map::new();
    let mut errors = Vec::new();
    for arg in args {
        let Some((key, raw)) = arg.split_once('=') else {
            errors.push((
                arg.clone(),
                format!("`--set {arg}` is not `key=value`"),
                Some("write e.g. `--set vm_size=Standard_D8s_v5` or `--set tags.owner=me`".into()),
            ));
            continue;
        };
        let path: Vec<&str> = key.trim().split('.').map(str::trim).collect();
        let top = path.first().copied().unwrap_or("");
        if !SETTING_KEYS.contains(&top) || path.iter().any(|p| p.is_empty()) {
            let keys: Vec<String> = SETTING_KEYS.iter().map(|k| k.to_string()).collect();
            let help = did_you_mean(top, &keys).map(|b| format!("did you mean `{b}`?"));
            errors.push((
                arg.clone(),
                format!("`--set {arg}`: unknown setting `{top}`"),
                help.or_else(|| Some(format!("settings are: {}", SETTING_KEYS.join(", ")))),
            ));
            continue;
        }
        if let Err((bad, candidates)) = check_path(&path) {
            let help = did_you_mean(&bad, &candidates).map(|b| format!("did you mean `{b}`?"));
            errors.push((
                arg.clone(),
                format!("`--set {arg}`: unknown key `{bad}`"),
                help.or_else(|| Some(format!("keys here: {}", candidates.join(", ")))),
            ));
            continue;
        }
        let value = parse_value(raw.trim());
        if let Err(msg) = insert_path(&mut root, &path, value) {
            errors.push((arg.clone(), format!("`--set {arg}`: {msg}"), None));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match settings_from_json(&Value::Object(root)) {
        Ok(s) => Ok(Some(s)),
        Err(e) => Err(vec![(
            args.join(" "),
            format!("`--set`: invalid value: {e}"),
            None,
        )]),
    }
}

/// Checks a dotted key against the settings' JSON Schema; `Err((unknown key, allowed keys))`.
fn check_path(path: &[&str]) -> Result<(), (String, Vec<String>)> {
    let schema = serde_json::to_value(schemars::schema_for!(Settings)).unwrap_or_default();
    let defs = schema.get("$defs").cloned().unwrap_or_default();
    let mut cur = schema;
    for seg in path {
        let Some(obj) = object_schema(&cur, &defs) else {
            return Ok(()); // not a table with known keys (free tables, scalars)
        };
        let props = obj.get("properties").and_then(Value::as_object);
        match props.and_then(|p| p.get(*seg)) {
            Some(next) => cur = next.clone(),
            None => {
                if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
                    let keys = props
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default();
                    return Err((seg.to_string(), keys));
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The object schema behind `$ref` / `anyOf` / `oneOf`, when there is one.
fn object_schema(s: &Value, defs: &Value) -> Option<Value> {
    let mut stack = vec![s.clone()];
    let mut guard = 0;
    while let Some(s) = stack.pop() {
        guard += 1;
        if guard > 32 {
            break;
        }
        if s.get("properties").is_some() {
            return Some(s);
        }
        if let Some(name) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            && let Some(d) = defs.get(name)
        {
            stack.push(d.clone());
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(alts) = s.get(key).and_then(Value::as_array) {
                stack.extend(alts.iter().cloned());
            }
        }
    }
    None
}

/// A `--set` value: a TOML value when it parses as one, else the text as a string.
fn parse_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    toml::from_str::<toml::Table>(&doc)
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Why a `--set` value cannot go where its key says.
#[derive(Debug, thiserror::Error)]
enum PathError {
    #[error("empty key")]
    Empty,
    #[error("`{0}` is set to a value and used as a table")]
    ValueAsTable(String),
}

fn insert_path(
    root: &mut Map<String, Value>,
    path: &[&str],
    value: Value,
) -> Result<(), PathError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(PathError::Empty);
    };
    let mut cur = root;
    for p in parents {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        cur = match entry {
            Value::Object(m) => m,
            _ => return Err(PathError::ValueAsTable(p.to_string())),
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// Deserializes settings from JSON; every span is empty (the values are not in the file).
pub fn settings_from_json(v: &Value) -> Result<Settings, DeError> {
    Settings::deserialize(JsonDe::Value(v))
}

/// A deserializer over a JSON value that also speaks the `Spanned` protocol (with empty spans),
/// so manifest types deserialize from values that never were TOML text.
#[derive(Clone, Copy)]
enum JsonDe<'a> {
    Value(&'a Value),
    Key(&'a str),
}

impl<'de, 'a> IntoDeserializer<'de, DeError> for JsonDe<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de, 'a> de::Deserializer<'de> for JsonDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let v = match self {
            JsonDe::Key(k) => return visitor.visit_str(k),
            JsonDe::Value(v) => v,
        };
        match v {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(a) => visitor.visit_seq(SeqDeserializer::new(a.iter().map(JsonDe::Value))),
            Value::Object(o) => visitor.visit_map(MapDeserializer::new(
                o.iter().map(|(k, v)| (JsonDe::Key(k), JsonDe::Value(v))),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            JsonDe::Value(Value::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if serde_spanned::de::is_spanned(name) {
            return visitor.visit_map(serde_spanned::de::SpannedDeserializer::new(self, 0..0));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self {
            JsonDe::Key(k) => visitor.visit_enum(k.into_deserializer()),
            JsonDe::Value(Value::String(s)) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::custom("expected a string")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_settings_have_empty_spans() {
        let s = settings_from_json(&json!({
            "vm_size": "x",
            "os_disk_gb": 64,
            "gallery": {"name": "g"},
            "tags": {"a": "b"},
            "cleanup": "never",
            "customize": [{"type": "shell", "inline": ["echo"]}],
            "source": {"variant": "base", "matrix": {"a": 1}},
        }))
        .expect("valid");
        assert_eq!(s.vm_size.as_deref().map(String::as_str), Some("x"));
        assert_eq!(s.vm_size.as_ref().map(|v| v.span()), Some(0..0));
        assert_eq!(s.os_disk_gb.as_deref().copied(), Some(64));
        assert_eq!(s.cleanup.as_deref().copied(), Some(CleanupPolicy::Never));
        assert_eq!(s.tags.get("a").map(|v| v.as_str()), Some("b"));
        assert!(settings_from_json(&json!({"os_disk_gb": "big"})).is_err());
    }

    #[test]
    fn set_parses_dotted_keys_and_values() {
        let s = set_layer(&[
            "tags.owner=me".into(),
            "gallery.name=gal".into(),
            "os_disk_gb=256".into(),
            "replicate_to=[\"a\", \"b\"]".into(),
            "vm_size=Standard_D8s_v5".into(),
        ])
        .expect("ok")
        .expect("some");
        assert_eq!(s.tags.get("owner").map(|v| v.as_str()), Some("me"));
        assert_eq!(
            s.gallery
                .as_ref()
                .and_then(|g| g.name.as_deref())
                .map(String::as_str),
            Some("gal")
        );
        assert_eq!(s.os_disk_gb.as_deref().copied(), Some(256));
        assert_eq!(s.replicate_to.as_ref().map(|r| r.len()), Some(2));
        assert_eq!(
            s.vm_size.as_deref().map(String::as_str),
            Some("Standard_D8s_v5")
        );
    }

    #[test]
    fn set_unknown_key_suggests() {
        let errs = set_layer(&["vmsize=x".into()]).err().unwrap_or_default();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].2.as_deref(), Some("did you mean `vm_size`?"));
        assert!(set_layer(&["novalue".into()]).is_err());
        let errs = set_layer(&["gallery.nme=x".into()])
            .err()
            .unwrap_or_default();
        assert_eq!(errs[0].2.as_deref(), Some("did you mean `name`?"));
        assert!(set_layer(&["tags.anything=x".into()]).is_ok());
        assert!(set_layer(&["os_disk_gb=abc".into()]).is_err());
    }
}
