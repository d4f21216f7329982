//! Field sets: which fields of an object a manager owns, in the `FieldsV1` format of
//! `metadata.managedFields` (`f:` fields, `k:` list items by key, `v:` set values, `.` for
//! a list item itself).

use crate::registry::ResourceType;
use crate::types::{ListKind, list_kind, map_is_atomic};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

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

#[cfg(test)]
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

/// The value at a path (one lookup from the root; the reference for the walks).
#[cfg(test)]
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
#[cfg(test)]
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
///
/// One walk of the field set over both values, finding list items through an index per
/// list, so the cost is proportional to the sizes of the objects (not to their product,
/// as looking every member path up from the root would be).
pub fn changed(new_fs: &FieldSet, old: Option<&Value>, new: &Value) -> FieldSet {
    let mut out = FieldSet::default();
    match old {
        None => {
            for path in new_fs.members() {
                out.insert(&path);
            }
        }
        Some(o) => changed_in(new_fs, None, Some(o), Some(new), &mut out),
    }
    out
}

fn changed_in(
    fs: &FieldSet,
    elem: Option<&PathElem>,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut FieldSet,
) {
    if fs.member {
        let differs = if matches!(elem, Some(PathElem::Key(_))) {
            // A list item as a whole changes only when it appears.
            old.is_none()
        } else {
            old != new
        };
        if differs {
            out.member = true;
        }
    }
    if fs.children.is_empty() {
        return;
    }
    let mut old_items = ListIndex::default();
    let mut new_items = ListIndex::default();
    for (e, child) in &fs.children {
        let mut sub = FieldSet::default();
        let o = old_items.child(old, e);
        let n = new_items.child(new, e);
        changed_in(child, Some(e), o, n, &mut sub);
        if !sub.is_empty() {
            out.children.insert(e.clone(), sub);
        }
    }
}

/// What [`for_each_member`] calls: a member path and the values at it.
pub type MemberVisitor<'f, 'a> = dyn FnMut(&[PathElem], Option<&'a Value>, Option<&'a Value>) + 'f;

/// Calls `f` for every member path of `fs` with the values at it in `a` and `b`, in one
/// walk that finds list items through an index per list.
pub fn for_each_member<'a>(
    fs: &FieldSet,
    a: Option<&'a Value>,
    b: Option<&'a Value>,
    f: &mut MemberVisitor<'_, 'a>,
) {
    fn go<'a>(
        fs: &FieldSet,
        prefix: &mut Path,
        a: Option<&'a Value>,
        b: Option<&'a Value>,
        f: &mut MemberVisitor<'_, 'a>,
    ) {
        if fs.member {
            f(prefix, a, b);
        }
        if fs.children.is_empty() {
            return;
        }
        let (mut ia, mut ib) = (ListIndex::default(), ListIndex::default());
        for (e, child) in &fs.children {
            let (ca, cb) = (ia.child(a, e), ib.child(b, e));
            prefix.push(e.clone());
            go(child, prefix, ca, cb, f);
            prefix.pop();
        }
    }
    go(fs, &mut Vec::new(), a, b, f);
}

/// Removes the values at `paths`. All paths are found first (through list indexes), then
/// removed deepest and last first, so positions found stay right: the cost is
/// proportional to the object and the paths, not to their product. A path under another
/// removed path goes with it.
pub fn remove_all(v: &mut Value, paths: &[Path]) {
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Step {
        Field(String),
        Index(usize),
    }
    fn walk<'v>(mut cur: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
        for step in steps {
            cur = match (step, cur) {
                (Step::Field(f), Value::Object(m)) => m.get_mut(f)?,
                (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }
    let mut found: Vec<Vec<Step>> = Vec::new();
    {
        let mut indexes: HashMap<*const Value, ListIndex> = HashMap::new();
        for path in paths {
            let mut steps = Vec::with_capacity(path.len());
            let mut cur: &Value = v;
            let mut ok = !path.is_empty();
            for elem in path {
                let next = match (elem, cur) {
                    (PathElem::Field(f), Value::Object(m)) => m.get_key_value(f).map(|(k, c)| {
                        steps.push(Step::Field(k.clone()));
                        c
                    }),
                    (_, Value::Array(items)) => {
                        let index = indexes.entry(cur as *const Value).or_default();
                        index.position(items, elem).map(|i| {
                            steps.push(Step::Index(i));
                            &items[i]
                        })
                    }
                    _ => None,
                };
                match next {
                    Some(n) => cur = n,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                found.push(steps);
            }
        }
    }
    found.sort_unstable_by(|a, b| b.cmp(a));
    found.dedup();
    for steps in found {
        let Some((last, parents)) = steps.split_last() else {
            continue;
        };
        let Some(cur) = walk(v, parents) else {
            continue;
        };
        match (last, cur) {
            (Step::Field(f), Value::Object(m)) => {
                m.remove(f);
            }
            (Step::Index(i), Value::Array(items)) if *i < items.len() => {
                items.remove(*i);
            }
            _ => {}
        }
    }
}

/// Positions of a list's items by key (for each set of key fields asked for) and by value,
/// built on first use; the first matching item counts.
#[derive(Default)]
struct ListIndex {
    by_key: HashMap<Vec<String>, HashMap<String, usize>>,
    by_value: Option<HashMap<String, usize>>,
}

impl ListIndex {
    fn child<'a>(&mut self, v: Option<&'a Value>, elem: &PathElem) -> Option<&'a Value> {
        match (elem, v?) {
            (PathElem::Field(f), Value::Object(m)) => m.get(f),
            (_, Value::Array(items)) => self.position(items, elem).and_then(|i| items.get(i)),
            _ => None,
        }
    }

    fn position(&mut self, items: &[Value], elem: &PathElem) -> Option<usize> {
        match elem {
            PathElem::Index(i) => (*i < items.len()).then_some(*i),
            PathElem::Key(k) => {
                let names: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                    .ok()?
                    .keys()
                    .cloned()
                    .collect();
                let index = self.by_key.entry(names).or_insert_with_key(|names| {
                    let mut index = HashMap::new();
                    for (i, item) in items.iter().enumerate() {
                        if let Some(key) = item_key(item, names) {
                            index.entry(key).or_insert(i);
                        }
                    }
                    index
                });
                index.get(k).copied()
            }
            PathElem::Value(want) => {
                let index = self.by_value.get_or_insert_with(|| {
                    let mut index = HashMap::new();
                    for (i, item) in items.iter().enumerate() {
                        index.entry(canonical_json(item)).or_insert(i);
                    }
                    index
                });
                index.get(want).copied()
            }
            PathElem::Field(_) => None,
        }
    }
}

#[cfg(test)]
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

    /// `changed` as defined: every member path looked up from the root.
    fn changed_by_paths(new_fs: &FieldSet, old: &Value, new: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        for path in new_fs.members() {
            let (a, b) = (get_at(old, &path), get_at(new, &path));
            let differs = if !path.is_empty() && is_item(&path) {
                a.is_none()
            } else {
                a != b
            };
            if differs {
                out.insert(&path);
            }
        }
        out
    }

    #[test]
    fn changed_fields_of_updates() {
        let r = Registry::new();
        let dep = r.lookup("apps", "v1", "deployments").unwrap();
        let old = json!({
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80}]},
                {"name": "side", "image": "busybox"}
            ]}}}
        });
        let new = json!({
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "x"}, "finalizers": ["b", "c"]},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "side", "image": "busybox:2"},
                {"name": "app", "image": "nginx", "env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}]}
            ]}}}
        });
        let fs = fields_of(&dep, &new, Scope::Main);
        let got = changed(&fs, Some(&old), &new);
        assert_eq!(got, changed_by_paths(&fs, &old, &new));
        assert!(got.has(&[
            PathElem::Field("spec".into()),
            PathElem::Field("replicas".into())
        ]));
        assert!(!got.has(&[
            PathElem::Field("metadata".into()),
            PathElem::Field("labels".into()),
            PathElem::Field("app".into())
        ]));
        assert_eq!(changed(&fs, Some(&new), &new), FieldSet::default());
        assert_eq!(
            changed(&fs, None, &new),
            changed_by_paths(&fs, &json!({}), &new)
        );
    }

    #[test]
    fn changed_fields_of_long_lists_are_found_through_indexes() {
        let r = Registry::new();
        let dep = r.lookup("apps", "v1", "deployments").unwrap();
        let n = 20_000;
        let env = |v: &str| -> Value {
            (0..n)
                .map(|i| json!({"name": format!("E{i}"), "value": v}))
                .collect()
        };
        let obj = |v: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": env(v)}]}}}});
        let (old, new) = (obj("1"), obj("2"));
        let fs = fields_of(&dep, &new, Scope::Main);
        let got = changed(&fs, Some(&old), &new);
        assert_eq!(got.members().len(), n);
    }

    #[test]
    fn remove_all_is_remove_at_for_each() {
        let v = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "env": [{"name": "E"}, {"name": "F"}]},
            {"name": "b", "image": "y"},
            {"name": "c"}
        ]}, "metadata": {"finalizers": ["f1", "f2", "f3"], "labels": {"l": "1", "m": "2"}}});
        let key = |n: &str| PathElem::Key(canonical_json(&json!({"name": n})));
        let f = |n: &str| PathElem::Field(n.into());
        let paths = vec![
            vec![f("spec"), f("containers"), key("a"), f("env"), key("F")],
            vec![f("spec"), f("containers"), key("b")],
            vec![f("spec"), f("containers"), key("b"), f("image")],
            vec![f("spec"), f("containers"), key("c"), f("missing")],
            vec![f("spec"), f("containers"), key("zz")],
            vec![
                f("metadata"),
                f("finalizers"),
                PathElem::Value("\"f1\"".into()),
            ],
            vec![
                f("metadata"),
                f("finalizers"),
                PathElem::Value("\"f3\"".into()),
            ],
            vec![f("metadata"), f("labels"), f("l")],
        ];
        let mut one_by_one = v.clone();
        let mut sorted = paths.clone();
        sorted.sort_by_key(Vec::len);
        for p in &sorted {
            remove_at(&mut one_by_one, p);
        }
        let mut all = v.clone();
        remove_all(&mut all, &paths);
        assert_eq!(all, one_by_one);
        assert_eq!(
            all,
            json!({"spec": {"containers": [
                {"name": "a", "image": "x", "env": [{"name": "E"}]},
                {"name": "c"}
            ]}, "metadata": {"finalizers": ["f2"], "labels": {"m": "2"}}})
        );
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
