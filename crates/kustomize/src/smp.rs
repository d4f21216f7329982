//! Strategic merge patches, with the list merge keys of the built-in Kubernetes types and
//! the `$patch: delete|replace`, `$retainKeys` and `$deleteFromPrimitiveList` directives.
//! Lists of unknown types merge by the first "associative" key their elements carry
//! (`mountPath`, `devicePath`, `ip`, `type`, `topologyKey`, `name`, `containerPort`), as
//! kustomize does; other lists are replaced.

use crate::yaml::{Mapping, Value};
use gitops_go::patchmeta::ListKind;

/// Where a merge is in a built-in kind: the kind and the field path from its root, looked
/// up in Kubernetes' patch metadata ([`gitops_go::patchmeta`]).
#[derive(Clone, Debug)]
struct Builtin<'a> {
    group: &'a str,
    kind: &'a str,
    path: Vec<String>,
}

impl<'a> Builtin<'a> {
    fn child(&self, field: &str) -> Builtin<'a> {
        let mut path = self.path.clone();
        path.push(field.to_owned());
        Builtin { path, ..*self }
    }

    fn list(&self, field: &str) -> Option<ListKind> {
        let mut path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        path.push(field);
        gitops_go::patchmeta::list_kind(self.group, self.kind, &path)
    }
}

/// A custom OpenAPI schema (`openapi: {path: …}`); when set, it replaces the built-in
/// knowledge of list merge keys, as in kustomize.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    defs: Mapping,
}

impl Schema {
    /// Reads the `definitions` of an OpenAPI document.
    pub fn from_value(doc: &Value) -> Schema {
        Schema {
            defs: doc
                .get("definitions")
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => match self.defs.get(r.trim_start_matches("#/definitions/")) {
                    Some(d) => v = d,
                    None => break,
                },
                None => break,
            }
        }
        v
    }

    fn for_gvk(&self, api_version: &str, kind: &str) -> Option<&Value> {
        let gvk = crate::resource::Gvk::from_api_version(api_version, kind);
        self.defs.values().find(|d| {
            d.get("x-kubernetes-group-version-kind")
                .and_then(Value::as_seq)
                .is_some_and(|l| {
                    l.iter().any(|g| {
                        g.get_str(&["kind"]) == Some(kind)
                            && g.get_str(&["group"]).unwrap_or("") == gvk.group
                            && g.get_str(&["version"]).unwrap_or("") == gvk.version
                    })
                })
        })
    }
}

/// Where the merge is in the schema: built-in types, a custom schema node, a custom
/// resource without a schema (whose lists kustomize replaces), or nowhere known (lists of
/// maps merge by their first associative key).
#[derive(Clone)]
enum Cur<'a> {
    B(Builtin<'a>),
    C(&'a Schema, &'a Value),
    Opaque,
    N,
}

impl<'a> Cur<'a> {
    fn prop(&self, field: &str) -> Option<&'a Value> {
        match *self {
            Cur::C(s, v) => s.resolve(v).get("properties").and_then(|p| p.get(field)),
            _ => None,
        }
    }

    /// The schema of a field's value; for arrays, of its elements.
    fn child(&self, field: &str) -> Cur<'a> {
        match self {
            Cur::B(b) => Cur::B(b.child(field)),
            Cur::C(s, _) => match self.prop(field) {
                Some(p) => {
                    let s = *s;
                    let p = s.resolve(p);
                    match p.get("items") {
                        Some(items) if p.get_str(&["type"]) == Some("array") => {
                            Cur::C(s, s.resolve(items))
                        }
                        _ => Cur::C(s, p),
                    }
                }
                None => Cur::N,
            },
            Cur::Opaque => Cur::Opaque,
            Cur::N => Cur::N,
        }
    }

    fn list_key(&self, field: &str) -> Option<String> {
        match self {
            Cur::B(b) => match b.list(field) {
                Some(ListKind::Map { smp_key, .. }) => Some(smp_key),
                _ => None,
            },
            Cur::C(..) => {
                let p = self.prop(field)?;
                let merge = p
                    .get_str(&["x-kubernetes-patch-strategy"])
                    .is_some_and(|s| s.split(',').any(|x| x == "merge"));
                if merge {
                    p.get_str(&["x-kubernetes-patch-merge-key"])
                        .map(str::to_string)
                } else {
                    None
                }
            }
            Cur::Opaque | Cur::N => None,
        }
    }

    fn list_is_atomic(&self, field: &str) -> bool {
        match self {
            Cur::B(b) => b.list(field) == Some(ListKind::Atomic),
            Cur::Opaque => true,
            _ => false,
        }
    }

    /// A list of scalars merged as a set (`patchStrategy: merge` without a key).
    fn list_is_set(&self, field: &str) -> bool {
        matches!(self, Cur::B(b) if b.list(field) == Some(ListKind::Set))
    }
}

const ASSOCIATIVE_KEYS: [&str; 7] = [
    "mountPath",
    "devicePath",
    "ip",
    "type",
    "topologyKey",
    "name",
    "containerPort",
];

fn directive(m: &Mapping) -> Option<&str> {
    m.get("$patch").and_then(Value::as_str)
}

fn strip_directives(m: &Mapping) -> Mapping {
    m.iter()
        .filter(|(k, _)| !k.starts_with('$') || *k == "$retainKeys")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Applies a strategic merge patch to an object (`None` when the patch deletes the whole
/// object), with a custom OpenAPI schema, when given, replacing the built-in merge keys.
pub fn apply_with_schema(
    dest: &Value,
    patch: &Value,
    kind: &str,
    schema: Option<&Schema>,
) -> Option<Value> {
    let api = dest.get_str(&["apiVersion"]).unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
    let cur = match schema {
        None if gitops_go::patchmeta::is_builtin_group(group) => Cur::B(Builtin {
            group,
            kind,
            path: Vec::new(),
        }),
        None => Cur::Opaque,
        Some(s) => match s.for_gvk(api, kind) {
            Some(d) => Cur::C(s, d),
            None => Cur::N,
        },
    };
    merge(Some(dest), patch, &cur)
}

/// Merges `patch` into `dest`; `None` means "clear this field".
fn merge(dest: Option<&Value>, patch: &Value, ty: &Cur) -> Option<Value> {
    match patch {
        Value::Null => None,
        Value::Map(pm) => {
            match directive(pm) {
                Some("delete") => return None,
                Some("replace") => return Some(Value::Map(clean_map(&strip_directives(pm), ty))),
                _ => {}
            }
            let mut out: Mapping = match dest {
                Some(Value::Map(dm)) => dm.clone(),
                _ => Mapping::new(),
            };
            // kustomize (kyaml) does not implement `$retainKeys`: it is merged as an
            // ordinary field and nothing is dropped; we do the same to stay identical.
            for (k, pv) in pm {
                if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                    if let (Some(Value::Seq(items)), Value::Seq(del)) = (out.get_mut(field), pv) {
                        items.retain(|i| !del.contains(i));
                    }
                    continue;
                }
                if k.starts_with('$') && k != "$retainKeys" {
                    continue;
                }
                let cty = ty.child(k);
                let merged = match pv {
                    Value::Seq(ps) => merge_list(out.get(k), ps, ty, k, &cty),
                    _ => merge(out.get(k), pv, &cty),
                };
                match merged {
                    Some(v) => {
                        out.insert(k.clone(), v);
                    }
                    None => {
                        out.shift_remove(k);
                    }
                }
            }
            Some(Value::Map(out))
        }
        Value::Seq(ps) => merge_list(dest, ps, &Cur::N, "", &Cur::N),
        scalar => Some(scalar.clone()),
    }
}

/// A patch value applied to nothing: directives are dropped, deletions vanish.
fn clean(v: &Value, ty: &Cur) -> Option<Value> {
    merge(None, v, ty)
}

fn clean_map(m: &Mapping, ty: &Cur) -> Mapping {
    let mut out = Mapping::new();
    for (k, v) in m {
        if k.starts_with('$') && k != "$retainKeys" {
            continue;
        }
        let c = match v {
            Value::Null => Some(Value::Null),
            _ => clean(v, &ty.child(k)),
        };
        if let Some(c) = c {
            out.insert(k.clone(), c);
        }
    }
    out
}

fn elem_key(items: &[&Value]) -> Option<&'static str> {
    for it in items {
        if let Value::Map(m) = it {
            for k in ASSOCIATIVE_KEYS {
                if m.contains_key(k) {
                    return Some(k);
                }
            }
            // kustomize looks at the first non-null element only
            return None;
        }
    }
    None
}

fn merge_list(
    dest: Option<&Value>,
    patch: &[Value],
    parent: &Cur,
    field: &str,
    elem_ty: &Cur,
) -> Option<Value> {
    // `- $patch: replace` anywhere in the patch list replaces the list
    let replace = patch.iter().any(|p| {
        p.as_map()
            .is_some_and(|m| directive(m) == Some("replace") && m.len() == 1)
    });
    if replace {
        let items = patch
            .iter()
            .filter(|p| {
                !p.as_map()
                    .is_some_and(|m| directive(m) == Some("replace") && m.len() == 1)
            })
            .filter_map(|p| clean(p, elem_ty))
            .collect();
        return Some(Value::Seq(items));
    }
    let dest_items: &[Value] = match dest {
        Some(Value::Seq(d)) => d,
        _ => &[],
    };
    if parent.list_is_set(field) {
        // a set: the patch's items, then the destination's the patch does not hold
        let mut out: Vec<Value> = Vec::new();
        for v in patch.iter().chain(dest_items) {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return Some(Value::Seq(out));
    }
    let key = if parent.list_is_atomic(field) {
        None
    } else if let Some(k) = parent.list_key(field) {
        Some(k)
    } else {
        let mut all: Vec<&Value> = dest_items.iter().collect();
        all.extend(patch.iter());
        // kustomize checks the destination first, then the patch
        let dk = elem_key(&dest_items.iter().collect::<Vec<_>>());
        let pk = elem_key(&patch.iter().collect::<Vec<_>>());
        match (dk, pk) {
            (Some(a), _) => Some(a.to_string()),
            (None, Some(b)) => Some(b.to_string()),
            _ => elem_key(&all).map(str::to_string),
        }
    };
    let Some(key) = key else {
        // replace the list (elements cleaned of directives)
        let items = patch.iter().filter_map(|p| clean(p, elem_ty)).collect();
        return Some(Value::Seq(items));
    };
    let key = key.as_str();
    // kustomize's order: the patch's elements first (merged with their counterparts),
    // then the destination's elements the patch did not mention
    let key_of = |v: &Value| v.as_map().and_then(|m| m.get(key)).cloned();
    let mut out: Vec<Value> = Vec::new();
    let mut mentioned: Vec<Value> = Vec::new();
    for p in patch {
        let Value::Map(pm) = p else {
            if !out.contains(p) {
                out.push(p.clone());
            }
            continue;
        };
        let kv = pm.get(key).cloned();
        let existing = kv
            .as_ref()
            .and_then(|kv| dest_items.iter().find(|d| key_of(d).as_ref() == Some(kv)));
        if let Some(kv) = &kv {
            mentioned.push(kv.clone());
        }
        if directive(pm) == Some("delete") {
            continue;
        }
        let merged = match existing {
            Some(d) => merge(Some(d), p, elem_ty),
            None => clean(p, elem_ty),
        };
        if let Some(v) = merged {
            if let Some(kv) = &kv
                && let Some(pos) = out.iter().position(|o| key_of(o).as_ref() == Some(kv))
            {
                out[pos] = v;
            } else {
                out.push(v);
            }
        }
    }
    for d in dest_items {
        match key_of(d) {
            Some(k) if mentioned.contains(&k) => {}
            _ => out.push(d.clone()),
        }
    }
    Some(Value::Seq(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_one;

    fn smp(dest: &str, patch: &str, kind: &str) -> Option<Value> {
        apply_with_schema(
            &parse_one(dest).unwrap(),
            &parse_one(patch).unwrap(),
            kind,
            None,
        )
    }

    #[test]
    fn merges_containers_by_name_and_env_by_name() {
        // the patch's order first, then the rest of the destination
        let out = smp(
            "spec: {template: {spec: {containers: [{name: a, image: x, env: [{name: A, value: '1'}]}, {name: b, image: y}]}}}",
            "spec: {template: {spec: {containers: [{name: a, env: [{name: B, value: '2'}]}, {name: c, image: z}]}}}",
            "Deployment",
        )
        .unwrap();
        let want = parse_one(
            "spec: {template: {spec: {containers: [{name: a, image: x, env: [{name: B, value: '2'}, {name: A, value: '1'}]}, {name: c, image: z}, {name: b, image: y}]}}}",
        )
        .unwrap();
        assert_eq!(out, want);
    }

    #[test]
    fn delete_and_replace_directives() {
        let out = smp(
            "spec: {template: {spec: {containers: [{name: a}, {name: b}], volumes: [{name: v}]}}}\nmetadata: {labels: {x: '1', y: '2'}}",
            "spec: {template: {spec: {containers: [{name: a, $patch: delete}], volumes: [{$patch: replace}, {name: w}]}}}\nmetadata: {labels: {$patch: replace, z: '3'}}",
            "Deployment",
        )
        .unwrap();
        let want = parse_one(
            "spec: {template: {spec: {containers: [{name: b}], volumes: [{name: w}]}}}\nmetadata: {labels: {z: '3'}}",
        )
        .unwrap();
        assert_eq!(out, want);
        assert!(smp("a: 1", "$patch: delete", "Foo").is_none());
    }

    #[test]
    fn null_removes_and_retain_keys_is_kept_like_kustomize() {
        let out = smp(
            "spec: {strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}, x: 1}",
            "spec: {strategy: {$retainKeys: [type], type: Recreate}, x: null}",
            "Deployment",
        )
        .unwrap();
        assert_eq!(
            out,
            parse_one("spec: {strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}, $retainKeys: [type]}}").unwrap()
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let out = smp(
            "spec: {ports: [{name: http, port: 80}]}",
            "spec: {ports: [{name: https, port: 443}]}",
            "Service",
        )
        .unwrap();
        assert_eq!(
            out,
            parse_one("spec: {ports: [{name: https, port: 443}, {name: http, port: 80}]}").unwrap()
        );
    }
}
