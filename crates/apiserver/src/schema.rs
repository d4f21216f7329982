//! Structural schemas of custom resources: pruning of unknown fields, defaulting and
//! OpenAPI validation, as the real API server does for CRDs with `openAPIV3Schema`.

use crate::error::Cause;
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A parsed OpenAPI v3 schema node.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// `type`.
    pub type_: Option<String>,
    /// `properties`.
    pub properties: BTreeMap<String, Schema>,
    /// `additionalProperties` as a schema (for maps).
    pub additional: Option<Box<Schema>>,
    /// `additionalProperties: true` / `false` when not a schema.
    pub additional_allowed: Option<bool>,
    /// `items`.
    pub items: Option<Box<Schema>>,
    /// `required`.
    pub required: Vec<String>,
    /// `default`.
    pub default: Option<Value>,
    /// `enum`.
    pub enum_: Option<Vec<Value>>,
    /// `pattern`.
    pub pattern: Option<(String, Regex)>,
    /// `minimum`, `maximum` and their exclusivity.
    pub minimum: Option<f64>,
    /// Exclusive minimum.
    pub exclusive_minimum: bool,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// Exclusive maximum.
    pub exclusive_maximum: bool,
    /// `minLength` (in characters).
    pub min_length: Option<u64>,
    /// `maxLength` (in characters).
    pub max_length: Option<u64>,
    /// `minItems`.
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `minProperties`.
    pub min_properties: Option<u64>,
    /// `maxProperties`.
    pub max_properties: Option<u64>,
    /// `nullable`.
    pub nullable: bool,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown: bool,
    /// `x-kubernetes-embedded-resource`.
    pub embedded_resource: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `x-kubernetes-list-type`: `atomic` (default), `set` or `map`.
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`: `granular` (default) or `atomic`.
    pub map_type: Option<String>,
    /// `anyOf`/`oneOf`/`allOf` branches (validation only).
    pub any_of: Vec<Schema>,
    /// `oneOf`.
    pub one_of: Vec<Schema>,
    /// `allOf`.
    pub all_of: Vec<Schema>,
}

impl Schema {
    /// Parses a schema, reporting invalid regular expressions and malformed keywords with
    /// their path.
    pub fn parse(v: &Value, path: &str) -> Result<Schema, Cause> {
        let Value::Object(m) = v else {
            return Err(Cause::invalid(path, v, "must be an object"));
        };
        let mut s = Schema {
            type_: m.get("type").and_then(Value::as_str).map(str::to_owned),
            default: m.get("default").cloned(),
            enum_: m.get("enum").and_then(Value::as_array).cloned(),
            minimum: m.get("minimum").and_then(Value::as_f64),
            exclusive_minimum: m
                .get("exclusiveMinimum")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            maximum: m.get("maximum").and_then(Value::as_f64),
            exclusive_maximum: m
                .get("exclusiveMaximum")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            min_length: m.get("minLength").and_then(Value::as_u64),
            max_length: m.get("maxLength").and_then(Value::as_u64),
            min_items: m.get("minItems").and_then(Value::as_u64),
            max_items: m.get("maxItems").and_then(Value::as_u64),
            min_properties: m.get("minProperties").and_then(Value::as_u64),
            max_properties: m.get("maxProperties").and_then(Value::as_u64),
            nullable: m.get("nullable").and_then(Value::as_bool).unwrap_or(false),
            preserve_unknown: m
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            embedded_resource: m
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            int_or_string: m
                .get("x-kubernetes-int-or-string")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            list_type: m
                .get("x-kubernetes-list-type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            list_map_keys: m
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            map_type: m
                .get("x-kubernetes-map-type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            required: m
                .get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            ..Default::default()
        };
        if let Some(p) = m.get("pattern").and_then(Value::as_str) {
            let re = Regex::new(p).map_err(|e| {
                Cause::invalid(
                    format!("{path}.pattern"),
                    &Value::from(p),
                    format!("not a valid regular expression: {e}"),
                )
            })?;
            s.pattern = Some((p.to_owned(), re));
        }
        if let Some(Value::Object(props)) = m.get("properties") {
            for (k, pv) in props {
                s.properties.insert(
                    k.clone(),
                    Schema::parse(pv, &format!("{path}.properties[{k}]"))?,
                );
            }
        }
        match m.get("additionalProperties") {
            Some(Value::Bool(b)) => s.additional_allowed = Some(*b),
            Some(ap @ Value::Object(_)) => {
                s.additional = Some(Box::new(Schema::parse(
                    ap,
                    &format!("{path}.additionalProperties"),
                )?))
            }
            _ => {}
        }
        if let Some(items) = m.get("items") {
            s.items = Some(Box::new(Schema::parse(items, &format!("{path}.items"))?));
        }
        for (key, dst) in [
            ("anyOf", &mut s.any_of),
            ("oneOf", &mut s.one_of),
            ("allOf", &mut s.all_of),
        ] {
            if let Some(Value::Array(branches)) = m.get(key) {
                for (i, b) in branches.iter().enumerate() {
                    dst.push(Schema::parse(b, &format!("{path}.{key}[{i}]"))?);
                }
            }
        }
        Ok(s)
    }

    /// The schema at a path of field names (list items are entered through `items`).
    pub fn at(&self, path: &[&str]) -> Option<&Schema> {
        let mut cur = self;
        for seg in path {
            cur = match cur.type_.as_deref() {
                Some("array") => cur.items.as_deref()?.field(seg)?,
                _ => cur.field(seg)?,
            };
        }
        Some(cur)
    }

    fn field(&self, name: &str) -> Option<&Schema> {
        self.properties.get(name).or(self.additional.as_deref())
    }

    /// Removes fields the schema does not declare (except under
    /// `x-kubernetes-preserve-unknown-fields`), and `null`s of non-nullable fields.
    pub fn prune(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                let keep_unknown = self.preserve_unknown || self.additional_allowed == Some(true);
                m.retain(|k, child| {
                    let sub = self.properties.get(k).or(self.additional.as_deref());
                    match sub {
                        Some(s) => !child.is_null() || s.nullable,
                        None => {
                            // apiVersion, kind and metadata of embedded objects are always kept.
                            keep_unknown
                                || (self.embedded_resource
                                    && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                        }
                    }
                });
                for (k, child) in m.iter_mut() {
                    if let Some(s) = self.properties.get(k).or(self.additional.as_deref()) {
                        s.prune(child);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for i in items.iter_mut() {
                        s.prune(i);
                    }
                }
            }
            _ => {}
        }
    }

    /// Fills in `default`s of missing properties, recursively.
    pub fn apply_defaults(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, s) in &self.properties {
                    if !m.contains_key(k)
                        && let Some(d) = &s.default
                    {
                        m.insert(k.clone(), d.clone());
                    }
                }
                for (k, child) in m.iter_mut() {
                    if let Some(s) = self.properties.get(k).or(self.additional.as_deref()) {
                        s.apply_defaults(child);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for i in items.iter_mut() {
                        s.apply_defaults(i);
                    }
                }
            }
            _ => {}
        }
    }

    /// Validates a value, collecting every problem with its field path.
    pub fn validate(&self, v: &Value, path: &str, out: &mut Vec<Cause>) {
        if v.is_null() {
            if !self.nullable && self.type_.is_some() {
                out.push(Cause::invalid(
                    path,
                    v,
                    format!(
                        "{path} in body must be of type {}",
                        self.type_.as_deref().unwrap_or("object")
                    ),
                ));
            }
            return;
        }
        if !self.type_matches(v) {
            let want = self.type_.as_deref().unwrap_or("int-or-string");
            out.push(Cause::invalid(
                path,
                v,
                format!(
                    "{path} in body must be of type {want}: \"{}\"",
                    json_type(v)
                ),
            ));
            return;
        }
        if let Some(allowed) = &self.enum_
            && !allowed.contains(v)
        {
            out.push(Cause::not_supported(path, v, allowed));
        }
        match v {
            Value::String(s) => {
                let n = s.chars().count() as u64;
                if let Some(max) = self.max_length
                    && n > max
                {
                    out.push(Cause {
                        reason: "FieldValueTooLong",
                        field: path.to_owned(),
                        message: format!("Too long: may not be more than {max} bytes"),
                    });
                }
                if let Some(min) = self.min_length
                    && n < min
                {
                    out.push(Cause::invalid(
                        path,
                        v,
                        format!("{path} in body should be at least {min} chars long"),
                    ));
                }
                if let Some((p, re)) = &self.pattern
                    && !re.is_match(s)
                {
                    out.push(Cause::invalid(
                        path,
                        v,
                        format!("{path} in body should match '{p}'"),
                    ));
                }
            }
            Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    if let Some(min) = self.minimum
                        && (x < min || (self.exclusive_minimum && x == min))
                    {
                        out.push(Cause::invalid(
                            path,
                            v,
                            format!("{path} in body should be greater than or equal to {min}"),
                        ));
                    }
                    if let Some(max) = self.maximum
                        && (x > max || (self.exclusive_maximum && x == max))
                    {
                        out.push(Cause::invalid(
                            path,
                            v,
                            format!("{path} in body should be less than or equal to {max}"),
                        ));
                    }
                }
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if let Some(max) = self.max_items
                    && n > max
                {
                    out.push(Cause {
                        reason: "FieldValueTooMany",
                        field: path.to_owned(),
                        message: format!("Too many: {n}: must have at most {max} items"),
                    });
                }
                if let Some(min) = self.min_items
                    && n < min
                {
                    out.push(Cause::invalid(
                        path,
                        v,
                        format!("{path} in body should have at least {min} items"),
                    ));
                }
                if let Some(s) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        s.validate(item, &format!("{path}[{i}]"), out);
                    }
                }
                self.validate_list_uniqueness(items, path, out);
            }
            Value::Object(m) => {
                for r in &self.required {
                    if !m.contains_key(r) {
                        out.push(Cause::required(join(path, r)));
                    }
                }
                let n = m.len() as u64;
                if let Some(max) = self.max_properties
                    && n > max
                {
                    out.push(Cause::invalid(
                        path,
                        v,
                        format!("{path} in body should have at most {max} properties"),
                    ));
                }
                if let Some(min) = self.min_properties
                    && n < min
                {
                    out.push(Cause::invalid(
                        path,
                        v,
                        format!("{path} in body should have at least {min} properties"),
                    ));
                }
                for (k, child) in m {
                    if let Some(s) = self.properties.get(k).or(self.additional.as_deref()) {
                        s.validate(child, &join(path, k), out);
                    }
                }
            }
            _ => {}
        }
        for s in &self.all_of {
            s.validate(v, path, out);
        }
        if !self.any_of.is_empty() && !self.any_of.iter().any(|s| s.accepts(v, path)) {
            out.push(Cause::invalid(
                path,
                v,
                format!("{path} in body must match at least one schema in anyOf"),
            ));
        }
        if !self.one_of.is_empty() && self.one_of.iter().filter(|s| s.accepts(v, path)).count() != 1
        {
            out.push(Cause::invalid(
                path,
                v,
                format!("{path} in body must match exactly one schema in oneOf"),
            ));
        }
    }

    /// Validates an object against a root schema, leaving `apiVersion`, `kind` and
    /// `metadata` to the server's own checks.
    pub fn validate_root(&self, obj: &Value, out: &mut Vec<Cause>) {
        const SERVER: [&str; 3] = ["apiVersion", "kind", "metadata"];
        let Value::Object(m) = obj else {
            out.push(Cause::invalid("", obj, "must be an object"));
            return;
        };
        for r in &self.required {
            if !SERVER.contains(&r.as_str()) && !m.contains_key(r) {
                out.push(Cause::required(r.clone()));
            }
        }
        for (k, child) in m {
            if SERVER.contains(&k.as_str()) {
                continue;
            }
            if let Some(s) = self.properties.get(k).or(self.additional.as_deref()) {
                s.validate(child, k, out);
            }
        }
    }

    fn accepts(&self, v: &Value, path: &str) -> bool {
        let mut tmp = Vec::new();
        self.validate(v, path, &mut tmp);
        tmp.is_empty()
    }

    fn validate_list_uniqueness(&self, items: &[Value], path: &str, out: &mut Vec<Cause>) {
        match self.list_type.as_deref() {
            Some("set") => {
                for (i, a) in items.iter().enumerate() {
                    if items[..i].contains(a) {
                        out.push(Cause {
                            reason: "FieldValueDuplicate",
                            field: format!("{path}[{i}]"),
                            message: format!("Duplicate value: {a}"),
                        });
                    }
                }
            }
            Some("map") => {
                let keys: Vec<Vec<Option<&Value>>> = items
                    .iter()
                    .map(|it| self.list_map_keys.iter().map(|k| it.get(k)).collect())
                    .collect();
                for (i, k) in keys.iter().enumerate() {
                    if keys[..i].contains(k) {
                        let shown: Map<String, Value> = self
                            .list_map_keys
                            .iter()
                            .zip(k)
                            .map(|(n, v)| (n.clone(), v.cloned().unwrap_or(Value::Null)))
                            .collect();
                        out.push(Cause {
                            reason: "FieldValueDuplicate",
                            field: format!("{path}[{i}]"),
                            message: format!("Duplicate value: {}", Value::Object(shown)),
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn type_matches(&self, v: &Value) -> bool {
        if self.int_or_string {
            return v.is_string() || v.is_i64() || v.is_u64();
        }
        match self.type_.as_deref() {
            None => true,
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("boolean") => v.is_boolean(),
            Some("integer") => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            Some("number") => v.is_number(),
            Some(_) => true,
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_owned()
    } else {
        format!("{path}.{k}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::parse(
            &json!({
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["url"],
                        "properties": {
                            "url": {"type": "string", "pattern": "^https://"},
                            "timeout": {"type": "string", "default": "60s"},
                            "mode": {"type": "string", "enum": ["a", "b"]},
                            "n": {"type": "integer", "minimum": 0, "maximum": 5},
                            "values": {"x-kubernetes-preserve-unknown-fields": true},
                            "list": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                                     "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "string", "default": "x"}}}}
                        }
                    },
                    "status": {"type": "object", "default": {"observedGeneration": -1}, "properties": {"observedGeneration": {"type": "integer"}}}
                }
            }),
            "",
        )
        .unwrap()
    }

    #[test]
    fn prunes_defaults_and_validates() {
        let s = schema();
        let mut obj = json!({
            "spec": {"url": "https://x", "unknown": 1, "values": {"free": {"form": true}}, "list": [{"name": "a", "junk": 1}]},
            "extra": true
        });
        s.prune(&mut obj);
        s.apply_defaults(&mut obj);
        assert_eq!(
            obj,
            json!({
                "spec": {"url": "https://x", "timeout": "60s", "values": {"free": {"form": true}}, "list": [{"name": "a", "v": "x"}]},
                "status": {"observedGeneration": -1}
            })
        );
        let mut causes = Vec::new();
        s.validate(&obj, "", &mut causes);
        assert!(causes.is_empty(), "{causes:?}");

        let bad = json!({"spec": {"url": "http://x", "mode": "c", "n": 9, "list": [{"name": "a"}, {"name": "a"}]}});
        let mut causes = Vec::new();
        s.validate(&bad, "", &mut causes);
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["spec.url", "spec.mode", "spec.n", "spec.list[1]"],
            "{causes:?}"
        );
        let mut causes = Vec::new();
        s.validate(&json!({"spec": {"n": "x"}}), "", &mut causes);
        assert_eq!(causes[0].field, "spec.url");
        assert!(causes[1].message.contains("must be of type integer"));
    }

    #[test]
    fn invalid_patterns_are_reported() {
        let e =
            Schema::parse(&json!({"type": "string", "pattern": "(unclosed"}), "spec").unwrap_err();
        assert_eq!(e.field, "spec.pattern");
    }
}
