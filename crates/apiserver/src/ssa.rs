//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! Every write records which fields its manager set: `Update` entries for create, update
//! and patch (the manager takes the fields it changed from everyone else), `Apply` entries
//! for server-side apply (the manager owns exactly the fields of its last applied
//! configuration). Apply merges the configuration into the live object by the kind's list
//! semantics, refuses to change fields other managers own unless forced, and removes
//! fields the manager stopped applying when nobody else owns them.

use crate::error::{ApiError, ApiResult};
use crate::fieldset::{
    FieldSet, PathElem, Scope, canonical_json, changed, display_path, fields_of, for_each_member,
    remove_all,
};
use crate::registry::ResourceType;
use crate::types::{ListKind, list_kind, map_is_atomic};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};

/// Who is writing.
#[derive(Debug, Clone)]
pub struct Manager<'a> {
    /// Field manager name.
    pub name: &'a str,
    /// `status` for the status subresource.
    pub subresource: Option<&'a str>,
    /// API version of the request.
    pub api_version: &'a str,
    /// Timestamp of the write.
    pub time: &'a str,
}

impl Manager<'_> {
    fn scope(&self) -> Scope {
        if self.subresource == Some("status") {
            Scope::Status
        } else {
            Scope::Main
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    subresource: Option<String>,
    api_version: String,
    time: Option<String>,
    set: FieldSet,
}

impl Entry {
    fn is(&self, name: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == name
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_value(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.set.to_v1(),
        });
        if let Some(t) = &self.time {
            v["time"] = json!(t);
        }
        if let Some(s) = &self.subresource {
            v["subresource"] = json!(s);
        }
        v
    }
}

fn entries_of(obj: Option<&Value>) -> Vec<Entry> {
    let Some(list) = obj.and_then(|o| o["metadata"]["managedFields"].as_array()) else {
        return Vec::new();
    };
    list.iter()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_owned(),
            operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
            subresource: e["subresource"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
            time: e["time"].as_str().map(str::to_owned),
            set: FieldSet::from_v1(&e["fieldsV1"]),
        })
        .collect()
}

fn store_entries(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(Entry::to_value)
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Records a create, update or patch: the manager owns what it changed, others lose it.
///
/// Like Kubernetes, `managedFields` a client writes (non-empty, in an update or patch) are
/// the starting point instead of the stored ones — that is how tools move ownership (Flux
/// takes kubectl's fields over this way) — and `[{}]` clears them.
pub fn track_update(rt: &ResourceType, old: Option<&Value>, new: &mut Value, mgr: &Manager) {
    let scope = mgr.scope();
    let provided = new["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    let mut entries = if provided {
        entries_of(Some(new))
    } else {
        entries_of(old)
    };
    let new_fs = fields_of(rt, new, scope);
    let changed_fs = changed(&new_fs, old, new);
    let mut removed = old.map(|o| fields_of(rt, o, scope)).unwrap_or_default();
    removed.subtract(&new_fs);
    for e in &mut entries {
        e.set.subtract(&removed);
        if !e.is(mgr.name, "Update", mgr.subresource) {
            e.set.subtract(&changed_fs);
        }
    }
    if !changed_fs.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(mgr.name, "Update", mgr.subresource))
        {
            Some(e) => {
                e.set.union(&changed_fs);
                e.time = Some(mgr.time.to_owned());
                e.api_version = mgr.api_version.to_owned();
            }
            None => entries.push(Entry {
                manager: mgr.name.to_owned(),
                operation: "Update".into(),
                subresource: mgr.subresource.map(str::to_owned),
                api_version: mgr.api_version.to_owned(),
                time: Some(mgr.time.to_owned()),
                set: changed_fs,
            }),
        }
    }
    store_entries(new, entries);
}

/// Server-side apply of `config` over `live` (absent for a create). Returns the merged
/// object with its new `managedFields`, or a 409 listing the fields other managers own.
pub fn apply(
    rt: &ResourceType,
    live: Option<&Value>,
    config: &Value,
    mgr: &Manager,
    force: bool,
    name: &str,
) -> ApiResult<Value> {
    let scope = mgr.scope();
    let mut config = config.clone();
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    match scope {
        Scope::Main if rt.status => {
            if let Some(m) = config.as_object_mut() {
                m.remove("status");
            }
        }
        Scope::Status => {
            // Only status counts for the status subresource.
            if let Value::Object(m) = &mut config {
                m.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                });
                if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                    meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace"));
                }
            }
        }
        Scope::Main => {}
    }
    let config_fs = fields_of(rt, &config, scope);
    let mut entries = entries_of(live);
    let old_fs = entries
        .iter()
        .find(|e| e.is(mgr.name, "Apply", mgr.subresource))
        .map(|e| e.set.clone())
        .unwrap_or_default();

    let mut merged = match live {
        Some(l) => {
            let mut conflicts: Vec<(String, Vec<PathElem>)> = Vec::new();
            // One walk over both values (list items found through indexes).
            for_each_member(&config_fs, Some(l), Some(&config), &mut |path, lv, cv| {
                if matches!(path.last(), Some(PathElem::Key(_))) || lv.is_none() || lv == cv {
                    return;
                }
                for e in &entries {
                    if !e.is(mgr.name, "Apply", mgr.subresource) && e.set.has(path) {
                        conflicts.push((e.manager.clone(), path.to_vec()));
                    }
                }
            });
            if !conflicts.is_empty() {
                if !force {
                    let list: Vec<(String, String)> = conflicts
                        .iter()
                        .map(|(m, p)| (m.clone(), display_path(p)))
                        .collect();
                    return Err(ApiError::apply_conflicts(
                        &rt.group, &rt.plural, name, &list,
                    ));
                }
                let mut taken = FieldSet::default();
                for (_, p) in &conflicts {
                    taken.insert(p);
                }
                for e in &mut entries {
                    if !e.is(mgr.name, "Apply", mgr.subresource) {
                        e.set.subtract(&taken);
                    }
                }
            }
            merge(rt, l, &config, &mut Vec::new())
        }
        None => config.clone(),
    };

    // Fields this manager applied before but not now go, unless someone else owns them.
    let mut stale = old_fs;
    stale.subtract(&config_fs);
    // Parents (list items) before their fields: an item nobody else touches goes whole.
    let gone: Vec<Vec<PathElem>> = stale
        .members()
        .into_iter()
        .filter(|path| {
            !entries
                .iter()
                .any(|e| !e.is(mgr.name, "Apply", mgr.subresource) && e.set.touches(path))
        })
        .collect();
    remove_all(&mut merged, &gone);

    let mine = Entry {
        manager: mgr.name.to_owned(),
        operation: "Apply".into(),
        subresource: mgr.subresource.map(str::to_owned),
        api_version: mgr.api_version.to_owned(),
        time: Some(mgr.time.to_owned()),
        set: config_fs,
    };
    // Keep the entry where it was, so an unchanged apply changes nothing.
    match entries
        .iter_mut()
        .find(|e| e.is(mgr.name, "Apply", mgr.subresource))
    {
        Some(e) => *e = mine,
        None => entries.push(mine),
    }
    // Managers keep only fields that still exist (each entry within its own scope).
    let present = fields_of(rt, &merged, scope);
    for e in entries
        .iter_mut()
        .filter(|e| e.subresource.as_deref() == mgr.subresource)
    {
        let mut gone = e.set.clone();
        gone.subtract(&present);
        e.set.subtract(&gone);
    }
    store_entries(&mut merged, entries);
    Ok(merged)
}

/// Merges an applied configuration into a live value by the kind's list and map semantics.
fn merge(rt: &ResourceType, live: &Value, config: &Value, path: &mut Vec<String>) -> Value {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !map_is_atomic(rt, &names) => {
            let mut out = l.clone();
            for (k, cv) in c {
                if cv.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match l.get(k) {
                    Some(lv) => {
                        path.push(k.clone());
                        let m = merge(rt, lv, cv, path);
                        path.pop();
                        m
                    }
                    None => cv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match list_kind(rt, &names) {
            ListKind::Atomic => config.clone(),
            // Items are matched through hash indexes, so a merge costs time in proportion
            // to the sizes of the lists.
            ListKind::Set => {
                let mut out = l.clone();
                let mut seen: HashSet<String> = l.iter().map(canonical_json).collect();
                for item in c {
                    if seen.insert(canonical_json(item)) {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            ListKind::Map { keys, .. } => {
                let key_of = |v: &Value| crate::fieldset::item_key(v, &keys);
                let mut by_key: HashMap<String, VecDeque<usize>> = HashMap::new();
                for (i, li) in l.iter().enumerate() {
                    if let Some(k) = key_of(li) {
                        by_key.entry(k).or_default().push_back(i);
                    }
                }
                let mut used = vec![false; l.len()];
                let mut out = Vec::with_capacity(l.len().max(c.len()));
                for ci in c {
                    let found = key_of(ci)
                        .and_then(|ck| by_key.get_mut(&ck))
                        .and_then(VecDeque::pop_front);
                    match found.and_then(|i| l.get(i).map(|li| (i, li))) {
                        Some((i, li)) => {
                            used[i] = true;
                            out.push(merge(rt, li, ci, path));
                        }
                        None => out.push(ci.clone()),
                    }
                }
                for (i, li) in l.iter().enumerate() {
                    if !used[i] {
                        out.push(li.clone());
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

/// The managers and their field sets, for tests.
#[cfg(test)]
pub fn owners(obj: &Value) -> serde_json::Map<String, Value> {
    entries_of(Some(obj))
        .into_iter()
        .map(|e| (format!("{}/{}", e.manager, e.operation), e.set.to_v1()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn mgr(name: &str) -> Manager<'_> {
        Manager {
            name,
            subresource: None,
            api_version: "v1",
            time: "2024-01-01T00:00:00Z",
        }
    }

    fn cm() -> std::sync::Arc<ResourceType> {
        Registry::new().lookup("", "v1", "configmaps").unwrap()
    }

    #[test]
    fn apply_owns_and_removes_fields() {
        let rt = cm();
        let c1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let live = apply(&rt, None, &c1, &mgr("kubectl"), false, "c").unwrap();
        assert_eq!(
            owners(&live)["kubectl/Apply"],
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        );
        // Stop applying b: it goes.
        let c2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let live = apply(&rt, Some(&live), &c2, &mgr("kubectl"), false, "c").unwrap();
        assert_eq!(live["data"], json!({"a": "1"}));
    }

    #[test]
    fn conflicts_unless_forced_and_shared_ownership_keeps_fields() {
        let rt = cm();
        let c1 = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let live = apply(&rt, None, &c1, &mgr("one"), false, "c").unwrap();
        // Same value: no conflict, shared ownership.
        let live = apply(&rt, Some(&live), &c1, &mgr("two"), false, "c").unwrap();
        // A different value conflicts.
        let c2 = json!({"metadata": {"name": "c"}, "data": {"a": "2"}});
        let err = apply(&rt, Some(&live), &c2, &mgr("two"), false, "c").unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains("conflict with \"one\": .data.a"),
            "{}",
            err.message
        );
        let forced = apply(&rt, Some(&live), &c2, &mgr("two"), true, "c").unwrap();
        assert_eq!(forced["data"]["a"], "2");
        assert!(
            !owners(&forced).contains_key("one/Apply"),
            "one lost its only field"
        );
        // "one" stops applying a: "two" still owns it, so it stays.
        let live = apply(
            &rt,
            Some(&live),
            &json!({"metadata": {"name": "c"}}),
            &mgr("one"),
            false,
            "c",
        )
        .unwrap();
        assert_eq!(live["data"]["a"], "1");
    }

    #[test]
    fn updates_take_ownership() {
        let rt = cm();
        let c1 = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let live = apply(&rt, None, &c1, &mgr("applier"), false, "c").unwrap();
        let mut updated = live.clone();
        updated["data"]["a"] = json!("9");
        track_update(&rt, Some(&live), &mut updated, &mgr("editor"));
        let o = owners(&updated);
        assert_eq!(o["editor/Update"], json!({"f:data": {"f:a": {}}}));
        assert!(!o.contains_key("applier/Apply"));
        // Now the applier conflicts with the editor.
        assert_eq!(
            apply(&rt, Some(&updated), &c1, &mgr("applier"), false, "c")
                .unwrap_err()
                .code,
            409
        );
    }

    #[test]
    fn written_managed_fields_replace_the_stored_ones() {
        let rt = cm();
        let base = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let mut live = base.clone();
        track_update(&rt, None, &mut live, &mgr("kubectl-client-side-apply"));
        assert!(owners(&live).contains_key("kubectl-client-side-apply/Update"));
        // A client moves the fields to its own Apply entry.
        let mut moved = live.clone();
        let mut entry = live["metadata"]["managedFields"][0].clone();
        entry["manager"] = json!("flux");
        entry["operation"] = json!("Apply");
        moved["metadata"]["managedFields"] = json!([entry]);
        track_update(&rt, Some(&live), &mut moved, &mgr("flux"));
        let o = owners(&moved);
        assert!(!o.contains_key("kubectl-client-side-apply/Update"), "{o:?}");
        assert!(o.contains_key("flux/Apply"), "{o:?}");
        // Omitted managedFields keep the stored ones; [{}] clears them.
        let mut same = moved.clone();
        same["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        track_update(&rt, Some(&moved), &mut same, &mgr("x"));
        assert_eq!(owners(&same), o);
        let mut cleared = moved.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        track_update(&rt, Some(&moved), &mut cleared, &mgr("x"));
        assert!(cleared["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn ports_applied_without_protocol_are_the_stored_tcp_ports() {
        let rt = Registry::new().lookup("", "v1", "services").unwrap();
        let config =
            json!({"metadata": {"name": "s"}, "spec": {"ports": [{"name": "http", "port": 80}]}});
        let mut live = apply(&rt, None, &config, &mgr("one"), false, "s").unwrap();
        // The server defaults the stored object.
        live["spec"]["ports"][0]["protocol"] = json!("TCP");
        let again = apply(&rt, Some(&live), &config, &mgr("one"), false, "s").unwrap();
        assert_eq!(
            again["spec"]["ports"].as_array().unwrap().len(),
            1,
            "{again}"
        );
        assert_eq!(again["spec"]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn associative_lists_merge_by_key() {
        let rt = Registry::new().lookup("apps", "v1", "deployments").unwrap();
        let base = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let live = apply(&rt, None, &base, &mgr("one"), false, "d").unwrap();
        let sidecar = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y"}]}}}});
        let live = apply(&rt, Some(&live), &sidecar, &mgr("two"), false, "d").unwrap();
        let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["b", "a"]);
        // "one" drops its container; "two"'s stays.
        let empty =
            json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": []}}}});
        let live = apply(&rt, Some(&live), &empty, &mgr("one"), false, "d").unwrap();
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "y"}])
        );
    }
}
