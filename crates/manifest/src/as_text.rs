//! Values parsed when the manifest is read but written, read and described as the text they
//! came from (a cron expression, a secret reference): the JSON schema and serialized form stay
//! a plain string.

/// Implements `Deserialize` (through `$new(String)`), `Serialize` (the `text` field) and
/// `JsonSchema` (a string's) for `$ty`.
macro_rules! as_text {
    ($ty:ty, $new:path) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(deserializer).map($new)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&self.text, serializer)
            }
        }

        impl schemars::JsonSchema for $ty {
            fn inline_schema() -> bool {
                <String as schemars::JsonSchema>::inline_schema()
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <String as schemars::JsonSchema>::schema_name()
            }
            fn schema_id() -> std::borrow::Cow<'static, str> {
                <String as schemars::JsonSchema>::schema_id()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <String as schemars::JsonSchema>::json_schema(generator)
            }
        }
    };
}
pub(crate) use as_text;
