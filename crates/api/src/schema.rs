//! OpenAPI v3 schema generation for CRDs: schemars output turned into the structural
//! schemas Kubernetes requires, and marker types for the Go types whose schema differs
//! from their Rust representation.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Schema of `metav1.Time`: an RFC 3339 string.
pub struct DateTime;

impl JsonSchema for DateTime {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "DateTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// Schema of Go's `int`: an integer without a format.
pub struct GoInt;

impl JsonSchema for GoInt {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "GoInt".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer" })
    }
}

/// Schema of `apiextensionsv1.JSON`: any value, kept as is.
pub fn preserve_unknown_fields(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// The structural schema of a type, ready for a CRD.
pub fn structural_schema_for<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    // Required properties are exactly those always serialized (no `skip_serializing_if`),
    // which is how Go's `omitempty` and controller-gen's `required` relate too.
    settings.contract = schemars::generate::Contract::Serialize;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    normalize(&mut value);
    value
}

/// Rewrites a schemars schema into the structural form Kubernetes accepts: no `$schema`,
/// `title`, `nullable` or definitions; optional values unwrapped from `anyOf`/`oneOf` with
/// `null`; documented enums (`oneOf` of constants) flattened into one `enum`.
pub fn normalize(value: &mut Value) {
    let Value::Object(obj) = value else {
        return;
    };
    for key in [
        "$schema",
        "title",
        "nullable",
        "$defs",
        "definitions",
        "components",
    ] {
        obj.remove(key);
    }
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }
    // Range attributes produce floats; Kubernetes writes integral bounds as integers.
    for key in ["minimum", "maximum"] {
        if let Some(f) = obj.get(key).and_then(Value::as_f64)
            && f.fract() == 0.0
            && obj[key].is_f64()
        {
            obj.insert(key.into(), Value::from(f as i64));
        }
    }
    if let Some(Value::Array(types)) = obj.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if non_null.len() == 1 {
            obj.insert("type".into(), non_null[0].clone());
        }
    }
    if let Some(c) = obj.remove("const") {
        obj.insert("enum".into(), Value::Array(vec![c]));
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
        if obj.get("type").is_none()
            && obj["enum"]
                .as_array()
                .is_some_and(|v| v.iter().all(Value::is_string))
        {
            obj.insert("type".into(), "string".into());
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = obj.remove(key) {
            let mut branches: Vec<Value> = branches
                .into_iter()
                .filter(|b| !is_null_schema(b))
                .collect();
            for b in &mut branches {
                normalize(b);
            }
            if !branches.is_empty() && branches.iter().all(is_string_enum) {
                let values: Vec<Value> = branches
                    .iter()
                    .flat_map(|b| b["enum"].as_array().cloned().unwrap_or_default())
                    .collect();
                obj.insert("type".into(), "string".into());
                // A field may narrow a shared enum type with its own `enum`.
                obj.entry("enum").or_insert(Value::Array(values));
            } else if branches.len() == 1 {
                if let Some(Value::Object(inner)) = branches.pop() {
                    merge_under(obj, inner);
                }
            } else if !branches.is_empty() {
                obj.insert(key.into(), Value::Array(branches));
            }
        }
    }
    if let Some(Value::Array(all)) = obj.remove("allOf") {
        for b in all {
            if let Value::Object(mut inner) = b {
                normalize_map(&mut inner);
                merge_under(obj, inner);
            }
        }
    }
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for v in props.values_mut() {
            normalize(v);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = obj.get_mut(key) {
            normalize(v);
        }
    }
}

fn normalize_map(map: &mut Map<String, Value>) {
    let mut v = Value::Object(std::mem::take(map));
    normalize(&mut v);
    if let Value::Object(m) = v {
        *map = m;
    }
}

/// Adds the keys of `inner` that `outer` does not set (the outer schema's description and
/// default win, as they belong to the field).
fn merge_under(outer: &mut Map<String, Value>, inner: Map<String, Value>) {
    for (k, v) in inner {
        outer.entry(k).or_insert(v);
    }
}

fn is_null_schema(v: &Value) -> bool {
    match v {
        Value::Object(o) => {
            o.get("type").and_then(Value::as_str) == Some("null")
                || o.get("const") == Some(&Value::Null)
                || o.get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().all(Value::is_null))
        }
        _ => false,
    }
}

fn is_string_enum(v: &Value) -> bool {
    v.get("enum")
        .and_then(Value::as_array)
        .is_some_and(|e| e.iter().all(Value::is_string))
        && v.get("properties").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    /// A documented enum.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        /// First.
        Fast,
        /// Second.
        Slow,
    }

    /// Inner doc.
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Inner {
        /// Name doc.
        name: String,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct Outer {
        /// Mode doc.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("default" = "fast"))]
        mode: Option<Mode>,
        /// Field doc.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inner: Option<Inner>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        list: Vec<Inner>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<GoInt>")]
        count: Option<i64>,
    }

    #[test]
    fn structural_output() {
        let s = structural_schema_for::<Outer>();
        assert_eq!(
            s,
            json!({
                "type": "object",
                "properties": {
                    "mode": {"description": "Mode doc.", "type": "string", "enum": ["fast", "slow"], "default": "fast"},
                    "inner": {
                        "description": "Field doc.",
                        "type": "object",
                        "properties": {"name": {"description": "Name doc.", "type": "string"}},
                        "required": ["name"]
                    },
                    "list": {
                        "type": "array",
                        "items": {
                            "description": "Inner doc.",
                            "type": "object",
                            "properties": {"name": {"description": "Name doc.", "type": "string"}},
                            "required": ["name"]
                        }
                    },
                    "count": {"type": "integer"}
                }
            })
        );
    }
}
