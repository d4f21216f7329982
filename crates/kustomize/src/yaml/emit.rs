//! Prints values exactly as kustomize does (`sigs.k8s.io/yaml.Marshal` of each resource, see
//! [`gitops_go::yaml::marshal`]), and as Go's `encoding/json` encodes them.

use super::value::Value;
use gitops_go::yaml::{MarshalError, Node};
use std::borrow::Cow;

/// The value as the shared emitter's node, borrowing its strings.
pub fn to_node(v: &Value) -> Node<'_> {
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i) => Node::Int(*i),
        Value::Uint(u) => Node::Uint(*u),
        Value::Float(f) => Node::Float(*f),
        Value::String(s) => Node::Str(Cow::Borrowed(s)),
        Value::Seq(items) => Node::Seq(items.iter().map(to_node).collect()),
        Value::Map(m) => Node::Map(
            m.iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), to_node(v)))
                .collect(),
        ),
    }
}

/// Appends one document, printed like kustomize prints a resource, to `out`.
pub fn emit_into(out: &mut String, v: &Value) -> Result<(), MarshalError> {
    gitops_go::yaml::marshal_into(out, &to_node(v))
}

/// Prints one document like kustomize prints a resource.
pub fn to_yaml(v: &Value) -> Result<String, MarshalError> {
    gitops_go::yaml::marshal(&to_node(v))
}

/// Encodes a value as Go's `encoding/json` does (`json.Marshal` of the decoded object:
/// map keys sorted bytewise, `<`, `>`, `&`, U+2028 and U+2029 escaped).
pub fn to_go_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

/// A JSON rendering used where a collection must become text.
pub fn to_flow_json(v: &Value) -> String {
    to_go_json(v)
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&go_json_float(*f)),
        Value::String(s) => write_json_string(out, s),
        Value::Seq(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, it);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, &m[k]);
            }
            out.push('}');
        }
    }
}

/// Go's JSON number text for a float64 (`null` for what Go refuses to encode).
fn go_json_float(f: f64) -> String {
    if f.is_finite() {
        gitops_go::num::json_float(f)
    } else {
        "null".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_one;

    #[test]
    fn emits_like_go_yaml_v2() {
        let v = parse_one(
            "b: {x: [1, '2', {y: n}]}\na: \"multi\\nline\\n\"\nc: ''\nd: ': x'\ne: []\nf: \"x\\ty\"\n",
        )
        .unwrap();
        assert_eq!(
            to_yaml(&v).unwrap(),
            "a: |\n  multi\n  line\nb:\n  x:\n  - 1\n  - \"2\"\n  - \"y\": \"n\"\nc: \"\"\nd: ': x'\ne: []\nf: \"x\\ty\"\n"
        );
    }
}
