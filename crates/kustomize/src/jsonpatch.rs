//! RFC 6902 JSON patches (add, remove, replace, move, copy, test) on [`Value`]s.

use crate::error::{Error, Result};
use crate::yaml::Value;

/// One patch operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    pub op: String,
    /// Target JSON pointer.
    pub path: String,
    /// Source pointer for `move` / `copy`.
    pub from: String,
    /// Value for `add`, `replace`, `test`.
    pub value: Option<Value>,
}

/// Reads a list of operations from its YAML/JSON value.
pub fn parse_operations(v: &Value) -> Result<Vec<Operation>> {
    let Value::Seq(items) = v else {
        return Err(Error::msg("a JSON patch must be a list of operations"));
    };
    let mut ops = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let Some(m) = it.as_map() else {
            return Err(Error::msg(format!(
                "JSON patch operation {i} is not a mapping"
            )));
        };
        let s = |k: &str| m.get(k).and_then(Value::scalar_string).unwrap_or_default();
        let op = s("op");
        if op.is_empty() {
            return Err(Error::msg(format!("JSON patch operation {i} has no 'op'")));
        }
        ops.push(Operation {
            op,
            path: s("path"),
            from: s("from"),
            value: m.get("value").cloned(),
        });
    }
    Ok(ops)
}

fn pointer_tokens(p: &str) -> Result<Vec<String>> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(Error::msg(format!("invalid JSON pointer '{p}'")));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get_mut<'a>(root: &'a mut Value, toks: &[String], full: &str) -> Result<&'a mut Value> {
    let mut cur = root;
    for t in toks {
        cur = match cur {
            Value::Map(m) => m
                .get_mut(t.as_str())
                .ok_or_else(|| Error::msg(format!("path '{full}': missing key '{t}'")))?,
            Value::Seq(s) => {
                let i: usize = t
                    .parse()
                    .map_err(|_| Error::msg(format!("path '{full}': invalid index '{t}'")))?;
                let len = s.len();
                s.get_mut(i).ok_or_else(|| {
                    Error::msg(format!(
                        "path '{full}': index {i} out of range (length {len})"
                    ))
                })?
            }
            _ => {
                return Err(Error::msg(format!(
                    "path '{full}': cannot descend into a scalar at '{t}'"
                )));
            }
        };
    }
    Ok(cur)
}

fn add(root: &mut Value, path: &str, value: Value) -> Result<()> {
    let toks = pointer_tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        *root = value;
        return Ok(());
    };
    let p = get_mut(root, parent, path)?;
    match p {
        Value::Map(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Seq(s) => {
            if last == "-" {
                s.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| Error::msg(format!("path '{path}': invalid index '{last}'")))?;
            if i > s.len() {
                return Err(Error::msg(format!(
                    "path '{path}': index {i} out of range (length {})",
                    s.len()
                )));
            }
            s.insert(i, value);
            Ok(())
        }
        _ => Err(Error::msg(format!(
            "path '{path}': parent is not a container"
        ))),
    }
}

fn remove(root: &mut Value, path: &str) -> Result<Value> {
    let toks = pointer_tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        return Err(Error::msg("cannot remove the document root"));
    };
    let p = get_mut(root, parent, path)?;
    match p {
        Value::Map(m) => m
            .shift_remove(last.as_str())
            .ok_or_else(|| Error::msg(format!("path '{path}': missing key '{last}'"))),
        Value::Seq(s) => {
            let i: usize = last
                .parse()
                .map_err(|_| Error::msg(format!("path '{path}': invalid index '{last}'")))?;
            if i >= s.len() {
                return Err(Error::msg(format!(
                    "path '{path}': index {i} out of range (length {})",
                    s.len()
                )));
            }
            Ok(s.remove(i))
        }
        _ => Err(Error::msg(format!(
            "path '{path}': parent is not a container"
        ))),
    }
}

/// Applies operations in order.
pub fn apply(root: &mut Value, ops: &[Operation]) -> Result<()> {
    for op in ops {
        match op.op.as_str() {
            "add" => add(root, &op.path, op.value.clone().unwrap_or(Value::Null))?,
            "remove" => {
                remove(root, &op.path)?;
            }
            "replace" => {
                let toks = pointer_tokens(&op.path)?;
                let target = get_mut(root, &toks, &op.path).map_err(|e| {
                    Error::msg(format!(
                        "replace operation does not apply: doc is missing path: {}: {e}",
                        op.path
                    ))
                })?;
                *target = op.value.clone().unwrap_or(Value::Null);
            }
            "move" => {
                let v = remove(root, &op.from)?;
                add(root, &op.path, v)?;
            }
            "copy" => {
                let toks = pointer_tokens(&op.from)?;
                let v = get_mut(root, &toks, &op.from)?.clone();
                add(root, &op.path, v)?;
            }
            "test" => {
                let toks = pointer_tokens(&op.path)?;
                let v = get_mut(root, &toks, &op.path)?;
                let want = op.value.clone().unwrap_or(Value::Null);
                if !values_equal(v, &want) {
                    return Err(Error::msg(format!("testing value {} failed", op.path)));
                }
            }
            other => return Err(Error::msg(format!("unexpected JSON patch op '{other}'"))),
        }
    }
    Ok(())
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => *x as f64 == *y,
        _ => a == b,
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
                "- {op: add, path: /a/b/-, value: 3}\n- {op: replace, path: /c, value: y}\n- {op: remove, path: /a/b/0}\n- {op: copy, from: /c, path: /d}\n- {op: move, from: /d, path: /e~1f}\n- {op: test, path: /c, value: y}\n",
            )
            .unwrap(),
        )
        .unwrap();
        apply(&mut doc, &ops).unwrap();
        assert_eq!(doc, parse_one("a: {b: [2, 3]}\nc: y\ne/f: y\n").unwrap());
    }

    #[test]
    fn replace_missing_path_fails() {
        let mut doc = parse_one("a: 1\n").unwrap();
        let ops =
            parse_operations(&parse_one("- {op: replace, path: /b, value: 2}").unwrap()).unwrap();
        assert!(apply(&mut doc, &ops).is_err());
    }
}
