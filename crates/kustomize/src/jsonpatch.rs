//! JSON 6902 patches on [`Value`]s: [`gitops_go::jsonpatch`] (the one RFC 6902
//! implementation, shared with the API server) over kustomize's document model, unmetered.

use crate::error::{Error, Result};
use crate::yaml::{Mapping, Value};
use gitops_go::jsonpatch::{self as core, DocMap, Node, NodeMut, Unmetered};

/// A JSON patch, checked to be a list of operations that each name their `op`.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch(Value);

/// Reads a JSON patch from its YAML/JSON value (errors before any target is looked at).
pub fn parse_operations(v: &Value) -> Result<Patch> {
    let Value::Seq(items) = v else {
        return Err(Error::msg("a JSON patch must be a list of operations"));
    };
    for (i, it) in items.iter().enumerate() {
        let Some(m) = it.as_map() else {
            return Err(Error::msg(format!(
                "JSON patch operation {i} is not a mapping"
            )));
        };
        if m.get("op")
            .and_then(Value::scalar_string)
            .is_none_or(|s| s.is_empty())
        {
            return Err(Error::msg(format!("JSON patch operation {i} has no 'op'")));
        }
    }
    Ok(Patch(v.clone()))
}

/// Applies the patch's operations in order.
pub fn apply(root: &mut Value, patch: &Patch) -> Result<()> {
    core::apply(root, &patch.0, &mut Unmetered).map_err(|e| Error::msg(e.to_string()))
}

impl DocMap<Value> for Mapping {
    fn get(&self, key: &str) -> Option<&Value> {
        Mapping::get(self, key)
    }
    fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        Mapping::get_mut(self, key)
    }
    fn insert(&mut self, key: String, value: Value) {
        Mapping::insert(self, key, value);
    }
    fn remove(&mut self, key: &str) -> Option<Value> {
        self.shift_remove(key)
    }
    fn len(&self) -> usize {
        Mapping::len(self)
    }
}

impl core::Doc for Value {
    type Map = Mapping;
    fn node(&self) -> Node<'_, Self> {
        match self {
            Value::Map(m) => Node::Map(m),
            Value::Seq(s) => Node::List(s),
            _ => Node::Other,
        }
    }
    fn node_mut(&mut self) -> NodeMut<'_, Self> {
        match self {
            Value::Map(m) => NodeMut::Map(m),
            Value::Seq(s) => NodeMut::List(s),
            _ => NodeMut::Other,
        }
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn null() -> Self {
        Value::Null
    }
    /// JSON equality, numbers by value (the patch is compared as Go's JSON decodes it).
    fn same(&self, other: &Self) -> bool {
        let num = |v: &Value| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Uint(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        match (self, other) {
            (Value::Seq(a), Value::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| x.same(y)))
            }
            _ => match (num(self), num(other)) {
                (Some(a), Some(b)) => a == b,
                _ => self == other,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_one;

    #[test]
    fn applies_operations() {
        let mut doc = parse_one("a: {b: [1, 2]}\nc: x\n").unwrap();
        let ops = parse_operations(
            &parse_one(
                "- {op: add, path: /a/b/-, value: 3}\n- {op: replace, path: /c, value: y}\n- {op: remove, path: /a/b/0}\n- {op: copy, from: /c, path: /d}\n- {op: move, from: /d, path: /e~1f}\n- {op: test, path: /c, value: y}\n- {op: test, path: /a/b/0, value: 2.0}\n",
            )
            .unwrap(),
        )
        .unwrap();
        apply(&mut doc, &ops).unwrap();
        assert_eq!(doc, parse_one("a: {b: [2, 3]}\nc: y\ne/f: y\n").unwrap());
    }

    #[test]
    fn failures_are_clear() {
        let mut doc = parse_one("a: 1\n").unwrap();
        let ops =
            parse_operations(&parse_one("- {op: replace, path: /b, value: 2}").unwrap()).unwrap();
        assert_eq!(
            apply(&mut doc, &ops).unwrap_err().to_string(),
            "operation 0: replace operation does not apply: doc is missing path: /b"
        );
        assert!(parse_operations(&parse_one("{op: add}").unwrap()).is_err());
        assert!(parse_operations(&parse_one("- {path: /a}").unwrap()).is_err());
    }
}
