//! Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic
//! merge patch with list merge keys and `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList` and `$setElementOrder` directives.

use crate::registry::ResourceType;
use crate::types::{ListKind, list_kind};
use serde_json::{Map, Value};

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, pv) in p {
                    if pv.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), pv);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// RFC 6902. Errors name the failing operation.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Array(ops) = patch else {
        return Err("a JSON patch must be a list of operations".into());
    };
    for (i, op) in ops.iter().enumerate() {
        apply_op(target, op).map_err(|e| format!("operation {i}: {e}"))?;
    }
    Ok(())
}

fn apply_op(target: &mut Value, op: &Value) -> Result<(), String> {
    let name = op["op"].as_str().ok_or("missing \"op\"")?;
    let path = op["path"].as_str().ok_or("missing \"path\"")?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| format!("{name} needs a \"value\""))
    };
    match name {
        "add" => add(target, path, value()?),
        "remove" => remove(target, path).map(|_| ()),
        "replace" => {
            let v = value()?;
            let slot = pointer_mut(target, path)?;
            *slot = v;
            Ok(())
        }
        "move" => {
            let from = op["from"].as_str().ok_or("move needs \"from\"")?;
            if path.starts_with(&format!("{from}/")) {
                return Err(format!("cannot move {from} into its own child {path}"));
            }
            let v = remove(target, from)?;
            add(target, path, v)
        }
        "copy" => {
            let from = op["from"].as_str().ok_or("copy needs \"from\"")?;
            let v = target
                .pointer(from)
                .cloned()
                .ok_or_else(|| format!("{from}: no such path"))?;
            add(target, path, v)
        }
        "test" => {
            let want = value()?;
            match target.pointer(path) {
                Some(v) if *v == want => Ok(()),
                Some(v) => Err(format!("test failed: {path} is {v}, not {want}")),
                None => Err(format!("test failed: {path}: no such path")),
            }
        }
        other => Err(format!("unknown operation {other:?}")),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    if path.is_empty() {
        return Err("the root cannot be the target here".into());
    }
    if !path.starts_with('/') {
        return Err(format!("{path:?} is not a JSON pointer"));
    }
    let idx = path.rfind('/').unwrap_or(0);
    Ok((path[..idx].to_owned(), unescape(&path[idx + 1..])))
}

fn pointer_mut<'a>(target: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    if path.is_empty() {
        return Ok(target);
    }
    target
        .pointer_mut(path)
        .ok_or_else(|| format!("{path}: no such path"))
}

fn add(target: &mut Value, path: &str, v: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = v;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match pointer_mut(target, &parent)? {
        Value::Object(m) => {
            m.insert(last, v);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("{path}: {last:?} is not an index"))?;
            if i > a.len() {
                return Err(format!("{path}: index {i} is out of bounds"));
            }
            a.insert(i, v);
            Ok(())
        }
        _ => Err(format!("{parent}: not an object or list")),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    match pointer_mut(target, &parent)? {
        Value::Object(m) => m
            .remove(&last)
            .ok_or_else(|| format!("{path}: no such path")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("{path}: {last:?} is not an index"))?;
            if i >= a.len() {
                return Err(format!("{path}: index {i} is out of bounds"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("{parent}: not an object or list")),
    }
}

/// Strategic merge patch of a built-in kind.
pub fn strategic_merge(rt: &ResourceType, target: &mut Value, patch: &Value) -> Result<(), String> {
    smp(rt, target, patch, &mut Vec::new())
}

fn smp(
    rt: &ResourceType,
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = strip_directives(&Value::Object(clean));
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown $patch directive {other:?}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return Ok(());
    };
    if let Some(retain) = p.get("$retainKeys") {
        let keep: Vec<&str> = retain
            .as_array()
            .ok_or("$retainKeys must be a list")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, pv) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let drop = pv
                .as_array()
                .ok_or("$deleteFromPrimitiveList needs a list")?;
            if let Some(Value::Array(items)) = t.get_mut(field) {
                items.retain(|i| !drop.contains(i));
            }
            continue;
        }
        if pv.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match pv {
            Value::Object(_) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                smp(rt, slot, pv, path)?;
                if slot.is_null() {
                    t.remove(k);
                }
            }
            Value::Array(items) => {
                let kind = list_kind(rt, &names);
                let existing = t.remove(k).unwrap_or(Value::Array(Vec::new()));
                let merged = merge_list(rt, existing, items, &kind, path)?;
                t.insert(k.clone(), merged);
            }
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
        path.pop();
    }
    for (k, order) in p
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("$setElementOrder/").map(|f| (f, v)))
    {
        path.push(k.to_owned());
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        if let (Some(Value::Array(items)), Some(order)) = (t.get_mut(k), order.as_array()) {
            let key = match list_kind(rt, &names) {
                ListKind::Map { smp_key, .. } => Some(smp_key),
                _ => None,
            };
            reorder(items, order, key.as_deref());
        }
        path.pop();
    }
    Ok(())
}

fn merge_list(
    rt: &ResourceType,
    existing: Value,
    patch: &[Value],
    kind: &ListKind,
    path: &mut Vec<String>,
) -> Result<Value, String> {
    let mut items = match existing {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    // `[{"$patch": "replace"}, ...]` replaces the whole list.
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(Value::Array(
            patch
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ));
    }
    match kind {
        ListKind::Map { smp_key, .. } => {
            for pi in patch {
                let Some(kv) = pi.get(smp_key) else {
                    return Err(format!(
                        "{}: item without merge key {smp_key:?}: {pi}",
                        path.join(".")
                    ));
                };
                let pos = items.iter().position(|i| i.get(smp_key) == Some(kv));
                if pi.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = pos {
                        items.remove(i);
                    }
                    continue;
                }
                match pos {
                    Some(i) => smp(rt, &mut items[i], pi, path)?,
                    None => items.push(strip_directives(pi)),
                }
            }
            Ok(Value::Array(items))
        }
        ListKind::Set => {
            for pi in patch {
                if !items.contains(pi) {
                    items.push(pi.clone());
                }
            }
            Ok(Value::Array(items))
        }
        ListKind::Atomic => Ok(Value::Array(patch.iter().map(strip_directives).collect())),
    }
}

fn reorder(items: &mut [Value], order: &[Value], key: Option<&str>) {
    let rank = |v: &Value| -> usize {
        let id = match key {
            Some(k) => v.get(k),
            None => Some(v),
        };
        order
            .iter()
            .position(|o| match key {
                Some(k) => o.get(k) == id,
                None => Some(o) == id,
            })
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(rank);
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut t, &json!({"list": [1, 2]}));
        merge_patch(&mut t, &json!({"list": [3]}));
        assert_eq!(t["list"], json!([3]));
    }

    #[test]
    fn json_patch_rfc6902() {
        let mut t = json!({"a": {"b": [1, 2]}, "x": 1});
        json_patch(
            &mut t,
            &json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "remove", "path": "/x"},
                {"op": "replace", "path": "/a/c~1d", "value": 5},
                {"op": "copy", "from": "/a/b", "path": "/copy"},
                {"op": "move", "from": "/copy", "path": "/moved"},
                {"op": "test", "path": "/moved/3", "value": 3}
            ]),
        )
        .unwrap_err(); // replace of a missing path fails
        let mut t = json!({"a": {"b": [1, 2]}, "x": 1});
        json_patch(
            &mut t,
            &json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "remove", "path": "/x"},
                {"op": "add", "path": "/a/c~1d", "value": 5},
                {"op": "copy", "from": "/a/b", "path": "/copy"},
                {"op": "move", "from": "/copy", "path": "/moved"},
                {"op": "test", "path": "/moved/3", "value": 3}
            ]),
        )
        .unwrap();
        assert_eq!(
            t,
            json!({"a": {"b": [0, 1, 2, 3], "c/d": 5}, "moved": [0, 1, 2, 3]})
        );
        let err = json_patch(
            &mut t,
            &json!([{"op": "test", "path": "/a/c~1d", "value": 6}]),
        )
        .unwrap_err();
        assert!(err.starts_with("operation 0: test failed"), "{err}");
    }

    #[test]
    fn strategic_merge_uses_merge_keys_and_directives() {
        let rt = Registry::new().lookup("apps", "v1", "deployments").unwrap();
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]},
            {"name": "b", "image": "y"}
        ], "tolerations": [{"key": "k"}]}}}, "metadata": {"finalizers": ["f1"]}});
        let patch = json!({
            "metadata": {"finalizers": ["f2"]},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "a", "image": "x2", "env": [{"name": "F", "value": "2"}]},
                    {"name": "b", "$patch": "delete"},
                    {"name": "c", "image": "z"}
                ],
                "tolerations": [{"key": "t"}]
            }}}
        });
        strategic_merge(&rt, &mut d, &patch).unwrap();
        assert_eq!(
            d,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "x2", "env": [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}]},
                {"name": "c", "image": "z"}
            ], "tolerations": [{"key": "t"}]}}}, "metadata": {"finalizers": ["f1", "f2"]}})
        );
        let mut s = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        strategic_merge(
            &rt,
            &mut s,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        )
        .unwrap();
        assert_eq!(s, json!({"spec": {"strategy": {"type": "Recreate"}}}));
        let mut r =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        strategic_merge(&rt, &mut r, &json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "z"}]}}}})).unwrap();
        assert_eq!(
            r["spec"]["template"]["spec"]["containers"],
            json!([{"name": "z"}])
        );
    }
}
