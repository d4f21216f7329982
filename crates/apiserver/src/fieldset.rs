//! Field sets: which fields of an object a manager owns, in the `FieldsV1` format of
//! `metadata.managedFields` (`f:` fields, `k:` list items by key, `v:` set values, `.` for
//! a list item itself).

use crate::registry::ResourceType;
use crate::types::{ListKind, list_kind, map_is_atomic};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElem {
    /// A field of a map.
    Field(String),
    /// An item of an associative list, by its key fields (canonical JSON object).
    Key(String),
    /// An item of a set, by value (canonical JSON).
    Value(String),
    /// An item of a list by position.
    Index(usize),
}

impl PathElem {
    fn encode(&self) -> String {
        match self {
            PathElem::Field(f) => format!("f:{f}"),
            PathElem::Key(k) => format!("k:{k}"),
            PathElem::Value(v) => format!("v:{v}"),
            PathElem::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(s: &str) -> Option<PathElem> {
        let (tag, rest) = s.split_once(':')?;
        Some(match tag {
            "f" => PathElem::Field(rest.to_owned()),
            "k" => PathElem::Key(canonical_json(&serde_json::from_str(rest).ok()?)),
            "v" => PathElem::Value(canonical_json(&serde_json::from_str(rest).ok()?)),
            "i" => PathElem::Index(rest.parse().ok()?),
            _ => return None,
        })
    }
}

/// A path of [`PathElem`]s.
pub type Path = Vec<PathElem>;

/// Formats a path for conflict messages, as the real server does:
/// `.spec.containers[name="app"].image`.
pub fn display_path(path: &[PathElem]) -> String {
    let mut out = String::new();
    for p in path {
        match p {
            PathElem::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            PathElem::Key(k) => {
                let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            PathElem::Value(v) => out.push_str(&format!("[={v}]")),
            PathElem::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// JSON with object keys sorted, so equal values have equal text.
pub fn canonical_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

/// A set of owned fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// The node itself is owned (a leaf value, or a list item as a whole).
    pub member: bool,
    /// Owned descendants.
    pub children: BTreeMap<PathElem, FieldSet>,
}

impl FieldSet {
    fn leaf() -> Self {
        FieldSet {
            member: true,
            children: BTreeMap::new(),
        }
    }

    /// Whether nothing is owned.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Parses `fieldsV1`.
    pub fn from_v1(v: &Value) -> FieldSet {
        let mut fs = FieldSet::default();
        if let Value::Object(m) = v {
            if m.is_empty() {
                fs.member = true;
            }
            for (k, child) in m {
                if k == "." {
                    fs.member = true;
                } else if let Some(p) = PathElem::decode(k) {
                    fs.children.insert(p, FieldSet::from_v1(child));
                }
            }
        }
        fs
    }

    /// Serializes to `fieldsV1`.
    pub fn to_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, child) in &self.children {
            m.insert(k.encode(), child.to_v1());
        }
        Value::Object(m)
    }

    /// Union.
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, c) in &other.children {
            self.children.entry(k.clone()).or_default().union(c);
        }
    }

    /// Removes everything owned in `other`.
    pub fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (k, c) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.subtract(c);
                if mine.is_empty() {
                    self.children.remove(k);
                }
            }
        }
    }

    /// Whether the path (or anything under it) is owned.
    pub fn touches(&self, path: &[PathElem]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((p, rest)) => self.children.get(p).is_some_and(|c| c.touches(rest)),
        }
    }

    /// Whether exactly this path is owned as a member.
    pub fn has(&self, path: &[PathElem]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((p, rest)) => self.children.get(p).is_some_and(|c| c.has(rest)),
        }
    }

    /// Every owned member path.
    pub fn members(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.walk(prefix, out);
            prefix.pop();
        }
    }

    /// Adds a member path.
    pub fn insert(&mut self, path: &[PathElem]) {
        match path.split_first() {
            None => self.member = true,
            Some((p, rest)) => self.children.entry(p.clone()).or_default().insert(rest),
        }
    }
}

/// Which part of an object a field set covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The main resource: everything but `status` (when the kind has a status
    /// subresource) and server-managed metadata.
    Main,
    /// Only `status`.
    Status,
}

/// Metadata fields that managers can own.
const TRACKED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// The field set of an object (or applied configuration): every leaf value, list item and
/// set value, with the list semantics of its kind.
pub fn fields_of(rt: &ResourceType, obj: &Value, scope: Scope) -> FieldSet {
    let mut fs = FieldSet::default();
    let Value::Object(m) = obj else {
        return fs;
    };
    for (k, v) in m {
        let include = match (scope, k.as_str()) {
            (_, "apiVersion" | "kind") => false,
            (Scope::Status, key) => key == "status",
            (Scope::Main, "status") => !rt.status,
            (Scope::Main, _) => true,
        };
        if !include {
            continue;
        }
        if k == "metadata" {
            let Value::Object(meta) = v else { continue };
            let mut mfs = FieldSet::default();
            for (mk, mv) in meta {
                if TRACKED_METADATA.contains(&mk.as_str()) {
                    mfs.children.insert(
                        PathElem::Field(mk.clone()),
                        member_of(rt, mv, &mut vec!["metadata".into(), mk.clone()]),
                    );
                }
            }
            if !mfs.is_empty() {
                fs.children.insert(PathElem::Field("metadata".into()), mfs);
            }
            continue;
        }
        fs.children.insert(
            PathElem::Field(k.clone()),
            member_of(rt, v, &mut vec![k.clone()]),
        );
    }
    fs
}

fn member_of(rt: &ResourceType, v: &Value, path: &mut Vec<String>) -> FieldSet {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match v {
        Value::Object(m) if !m.is_empty() && !map_is_atomic(rt, &names) => {
            let mut fs = FieldSet::default();
            for (k, child) in m {
                path.push(k.clone());
                fs.children
                    .insert(PathElem::Field(k.clone()), member_of(rt, child, path));
                path.pop();
            }
            fs
        }
        Value::Array(items) if !items.is_empty() => match list_kind(rt, &names) {
            ListKind::Atomic => FieldSet::leaf(),
            ListKind::Set => {
                let mut fs = FieldSet::default();
                for item in items {
                    fs.children
                        .insert(PathElem::Value(canonical_json(item)), FieldSet::leaf());
                }
                fs
            }
            ListKind::Map { keys, .. } => {
                let mut fs = FieldSet::default();
                for item in items {
                    let Some(key) = item_key(item, &keys) else {
                        // Items without their key fields cannot be tracked one by one.
                        return FieldSet::leaf();
                    };
                    let mut item_fs = FieldSet::default();
                    if let Value::Object(im) = item {
                        for (k, child) in im {
                            path.push(k.clone());
                            item_fs
                                .children
                                .insert(PathElem::Field(k.clone()), member_of(rt, child, path));
                            path.pop();
                        }
                    }
                    item_fs.member = true;
                    fs.children.insert(PathElem::Key(key), item_fs);
                }
                fs
            }
        },
        _ => FieldSet::leaf(),
    }
}

/// The canonical key of an associative list item: its key fields that are present, or
/// `None` when it has none of them. A missing `protocol` key counts as its Kubernetes
/// default `TCP` (the server defaults list keys of applied configurations, so a port
/// applied without a protocol is the stored `TCP` port, not a second item).
pub fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let Value::Object(m) = item else {
        return None;
    };
    let mut k = Map::new();
    for name in keys {
        if let Some(v) = m.get(name) {
            k.insert(name.clone(), v.clone());
        }
    }
    if !k.is_empty() && keys.iter().any(|n| n == "protocol") && !k.contains_key("protocol") {
        k.insert("protocol".into(), Value::String("TCP".into()));
    }
    if k.is_empty() {
        None
    } else {
        Some(canonical_json(&Value::Object(k)))
    }
}

fn find_item(items: &[Value], elem: &PathElem) -> Option<usize> {
    match elem {
        PathElem::Key(k) => {
            let wanted: Map<String, Value> = serde_json::from_str(k).ok()?;
            let names: Vec<String> = wanted.keys().cloned().collect();
            items
                .iter()
                .position(|it| item_key(it, &names).as_deref() == Some(k.as_str()))
        }
        PathElem::Value(v) => items.iter().position(|it| canonical_json(it) == *v),
        PathElem::Index(i) => (*i < items.len()).then_some(*i),
        PathElem::Field(_) => None,
    }
}

/// The value at a path.
pub fn get_at<'a>(v: &'a Value, path: &[PathElem]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = match (p, cur) {
            (PathElem::Field(f), Value::Object(m)) => m.get(f)?,
            (_, Value::Array(items)) => &items[find_item(items, p)?],
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at a path; returns whether something was removed.
pub fn remove_at(v: &mut Value, path: &[PathElem]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut cur = v;
    for p in parent_path {
        cur = match (p, cur) {
            (PathElem::Field(f), Value::Object(m)) => match m.get_mut(f) {
                Some(c) => c,
                None => return false,
            },
            (_, Value::Array(items)) => match find_item(items, p) {
                Some(i) => &mut items[i],
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (PathElem::Field(f), Value::Object(m)) => m.remove(f).is_some(),
        (_, Value::Array(items)) => match find_item(items, last) {
            Some(i) => {
                items.remove(i);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The members of `new` whose value differs from `old` (or is absent there).
pub fn changed(new_fs: &FieldSet, old: Option<&Value>, new: &Value) -> FieldSet {
    let mut out = FieldSet::default();
    for path in new_fs.members() {
        let differs = match old {
            None => true,
            Some(o) => {
                let (a, b) = (get_at(o, &path), get_at(new, &path));
                if new_fs.has(&path) && !path.is_empty() && is_item(&path) {
                    // A list item as a whole changes only when it appears.
                    a.is_none()
                } else {
                    a != b
                }
            }
        };
        if differs {
            out.insert(&path);
        }
    }
    out
}

fn is_item(path: &[PathElem]) -> bool {
    matches!(path.last(), Some(PathElem::Key(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn fields_of_a_deployment_match_kubernetes_format() {
        let r = Registry::new();
        let dep = r.lookup("apps", "v1", "deployments").unwrap();
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "uid": "x"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]}}},
            "status": {"replicas": 2}
        });
        let fs = fields_of(&dep, &obj, Scope::Main);
        assert_eq!(
            fs.to_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        // Kubernetes keys the port with its defaulted protocol.
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}}
                }
            })
        );
        assert_eq!(FieldSet::from_v1(&fs.to_v1()), fs);
        let status = fields_of(&dep, &obj, Scope::Status);
        assert_eq!(status.to_v1(), json!({"f:status": {"f:replicas": {}}}));
    }

    #[test]
    fn paths_get_remove_and_display() {
        let v = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}, "metadata": {"finalizers": ["f1", "f2"]}});
        let p = vec![
            PathElem::Field("spec".into()),
            PathElem::Field("containers".into()),
            PathElem::Key(canonical_json(&json!({"name": "a"}))),
            PathElem::Field("image".into()),
        ];
        assert_eq!(get_at(&v, &p), Some(&json!("x")));
        assert_eq!(display_path(&p), ".spec.containers[name=\"a\"].image");
        let mut v2 = v.clone();
        assert!(remove_at(&mut v2, &p[..3]));
        assert_eq!(v2["spec"]["containers"], json!([{"name": "b"}]));
        let f = vec![
            PathElem::Field("metadata".into()),
            PathElem::Field("finalizers".into()),
            PathElem::Value("\"f1\"".into()),
        ];
        assert!(remove_at(&mut v2, &f));
        assert_eq!(v2["metadata"]["finalizers"], json!(["f2"]));
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::from_v1(&json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}}));
        let b = FieldSet::from_v1(&json!({"f:b": {"f:c": {}}}));
        a.subtract(&b);
        assert_eq!(a.to_v1(), json!({"f:a": {}, "f:b": {"f:d": {}}}));
        a.union(&b);
        assert_eq!(a.to_v1(), json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}}));
    }
}
