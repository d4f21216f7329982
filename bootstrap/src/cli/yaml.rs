//! The YAML the `--export` flags and `gitops export` print: each object as Flux prints it
//! (Go's JSON encoding, then go-yaml v2 with sorted keys), after a `---` line.

use anyhow::Context;
use serde_json::Value;

/// One object as a YAML document, with the leading `---` line.
pub fn document(obj: &Value) -> anyhow::Result<String> {
    let mut out = String::from("---\n");
    gitops_go::yaml::marshal_into(&mut out, &node(obj)).context("converting an object to YAML")?;
    Ok(out)
}

/// A JSON value as the shared emitter's node.
pub fn node(v: &Value) -> gitops_go::yaml::Node<'_> {
    use gitops_go::yaml::Node;
    use std::borrow::Cow;
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Node::Int(i),
            (None, Some(u)) => Node::Uint(u),
            _ => Node::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Node::Str(Cow::Borrowed(s)),
        Value::Array(items) => Node::Seq(items.iter().map(node).collect()),
        Value::Object(m) => Node::Map(
            m.iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), node(v)))
                .collect(),
        ),
    }
}

/// Prints an object as Flux's `--export` does.
pub fn print(obj: &Value) -> anyhow::Result<()> {
    use std::io::Write;
    let text = document(obj)?;
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}
