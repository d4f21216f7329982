//! Walking a field spec's path through an object, as kustomize's `fieldspec.Filter` does:
//! sequences met on the way are entered element by element, missing fields are created
//! only when the spec says so.

use crate::config::FieldSpec;
use crate::error::{Error, Result};
use crate::yaml::Value;

/// What to create at the end of the path when the field is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKind {
    /// Never create.
    None,
    /// Create an empty string.
    Scalar,
    /// Create an empty mapping.
    Map,
}

/// Applies `set` to every node the field spec's path reaches in `obj`.
pub fn apply(
    obj: &mut Value,
    fs: &FieldSpec,
    create: CreateKind,
    set: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    let segs = fs.segments();
    let create = if fs.create { create } else { CreateKind::None };
    walk(obj, &segs, create, set).map_err(|e| match e {
        // kustomize's wording, naming the object by its current id
        Error::Build(m) => {
            let id = crate::resource::ResId {
                gvk: crate::resource::Gvk::from_api_version(
                    obj.get_str(&["apiVersion"]).unwrap_or(""),
                    obj.get_str(&["kind"]).unwrap_or(""),
                ),
                name: obj.get_str(&["metadata", "name"]).unwrap_or("").into(),
                namespace: obj.get_str(&["metadata", "namespace"]).unwrap_or("").into(),
            };
            Error::msg(format!(
                "considering field '{}' of object {id}: {m}",
                fs.path
            ))
        }
        other => other,
    })
}

fn walk(
    node: &mut Value,
    path: &[String],
    create: CreateKind,
    set: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if path.is_empty() {
        return set(node);
    }
    match node {
        Value::Null => Ok(()),
        Value::Seq(items) => {
            for it in items.iter_mut() {
                walk(it, path, create, set).map_err(|e| match e {
                    Error::Build(m) => Error::msg(format!(
                        "visit traversal on path: [{}]: {m}",
                        path.join(" ")
                    )),
                    other => other,
                })?;
            }
            Ok(())
        }
        Value::Map(m) => {
            let seg = &path[0];
            let (name, is_seq) = match seg.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (seg.as_str(), false),
            };
            if name.is_empty() {
                return Err(Error::msg("cannot set or create an empty field name"));
            }
            let last = path.len() == 1;
            let kind = if create == CreateKind::None || is_seq {
                None
            } else if last {
                Some(create)
            } else {
                Some(CreateKind::Map)
            };
            if !m.contains_key(name) {
                match kind {
                    None => return Ok(()),
                    Some(CreateKind::Scalar) => {
                        m.insert(name.to_string(), Value::String(String::new()));
                    }
                    Some(_) => {
                        m.insert(name.to_string(), Value::map());
                    }
                }
            }
            let Some(field) = m.get_mut(name) else {
                return Ok(());
            };
            if field.is_null() {
                match kind {
                    Some(CreateKind::Map) => *field = Value::map(),
                    Some(CreateKind::Scalar) => *field = Value::String(String::new()),
                    _ => {
                        if is_seq {
                            return Ok(());
                        }
                    }
                }
            }
            walk(field, &path[1..], create, set)
        }
        _ => Err(Error::msg(format!(
            "expected sequence or mapping node at '{}'",
            path.join("/")
        ))),
    }
}
