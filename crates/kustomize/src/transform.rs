//! The built-in transformers: namespace, name prefix/suffix, labels, annotations, images,
//! replicas, patches (strategic merge and JSON6902), name references, vars and replacements.

use crate::config::{FieldSpec, NameBackRef};
use crate::error::{Error, Result};
use crate::fieldspec::{self, CreateKind};
use crate::jsonpatch;
use crate::kustomization::{Image, Selector};
use crate::resource::{Gvk, ResId, Resource};
use crate::smp;
use crate::yaml::{Mapping, Value};
use gitops_go::selector::{Dialect, Selector as LabelSelector};
use regex::Regex;

fn obj_err(r: &Resource, e: Error) -> Error {
    match e {
        // field spec errors name their object already
        Error::Build(m) if m.starts_with("considering field '") => Error::Build(m),
        Error::Build(m) => Error::Object {
            object: r.cur_id().to_string(),
            message: m,
        },
        other => other,
    }
}

fn apply_fs(
    r: &mut Resource,
    specs: &[FieldSpec],
    create: CreateKind,
    set: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    let gvk = r.gvk();
    for fs in specs {
        if !gvk.is_selected(&fs.gvk) {
            continue;
        }
        let res = fieldspec::apply(&mut r.obj, fs, create, set);
        if let Err(e) = res {
            return Err(obj_err(r, e));
        }
    }
    Ok(())
}

/// Adds string entries to the maps at the field specs (labels, annotations, selectors).
pub fn add_map_entries(
    resources: &mut [Resource],
    pairs: &[(String, String)],
    specs: &[FieldSpec],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        apply_fs(r, specs, CreateKind::Map, &mut |node| match node {
            Value::Map(m) => {
                for (k, v) in pairs {
                    m.insert(k.clone(), Value::String(v.clone()));
                }
                Ok(())
            }
            _ => Err(Error::msg("expected a mapping to add entries to")),
        })?;
    }
    Ok(())
}

/// The namespace transformer.
pub fn set_namespace(
    resources: &mut [Resource],
    ns: &str,
    specs: &[FieldSpec],
    unset_only: bool,
    subjects_mode: &str,
) -> Result<()> {
    if ns.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        if r.obj.as_map().is_none_or(|m| m.is_empty()) {
            continue;
        }
        r.store_previous_id();
        let gvk = r.gvk();
        if !gvk.is_cluster_scoped() {
            let cur = r.namespace().to_string();
            if !unset_only || cur.is_empty() {
                r.set_namespace(ns);
            }
        }
        if (gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding")
            && let Some(Value::Seq(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects.iter_mut() {
                let Value::Map(m) = s else { continue };
                let hit = match subjects_mode {
                    "none" => false,
                    "allServiceAccounts" => {
                        m.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    }
                    _ => m.get("name").and_then(Value::as_str) == Some("default"),
                };
                if hit {
                    m.insert("namespace".into(), Value::String(ns.into()));
                }
            }
        }
        let others: Vec<FieldSpec> = specs
            .iter()
            .filter(|f| f.path != "metadata/namespace")
            .cloned()
            .collect();
        apply_fs(r, &others, CreateKind::Scalar, &mut |node| {
            if unset_only && node.as_str().is_some_and(|s| !s.is_empty()) {
                return Ok(());
            }
            if node.is_scalar() {
                *node = Value::String(ns.into());
                Ok(())
            } else {
                Err(Error::msg("namespace field specs must target scalar nodes"))
            }
        })?;
    }
    // id conflicts
    let mut seen = std::collections::HashSet::new();
    for r in resources.iter() {
        let id = r.cur_id();
        let key = (
            id.gvk.clone(),
            id.name.clone(),
            id.effective_namespace().to_string(),
        );
        if !seen.insert(key) {
            return Err(Error::msg(format!(
                "namespace transformation produces ID conflict: {id}"
            )));
        }
    }
    Ok(())
}

fn prefix_skipped(id: &ResId) -> bool {
    let g = &id.gvk;
    g.kind == "CustomResourceDefinition"
        || (g.kind == "APIService" && g.group == "apiregistration.k8s.io")
        || g.kind == "Namespace"
}

/// The prefix transformer (`is_suffix == false`) or the suffix transformer.
pub fn add_prefix_suffix(
    resources: &mut [Resource],
    value: &str,
    is_suffix: bool,
    specs: &[FieldSpec],
) -> Result<()> {
    let (prefix, suffix) = if is_suffix { ("", value) } else { (value, "") };
    for r in resources.iter_mut() {
        let org = r.org_id();
        if prefix_skipped(&org) {
            continue;
        }
        for fs in specs {
            if !org.gvk.is_selected(&fs.gvk) {
                continue;
            }
            if fs.path == "metadata/name" {
                if is_suffix {
                    r.suffixes.push(value.to_string());
                } else {
                    r.prefixes.push(value.to_string());
                }
                if !value.is_empty() {
                    r.store_previous_id();
                }
            }
            let res = fieldspec::apply(&mut r.obj, fs, CreateKind::None, &mut |node| {
                if let Some(s) = node.scalar_string() {
                    *node = Value::String(format!("{prefix}{s}{suffix}"));
                }
                Ok(())
            });
            if let Err(e) = res {
                return Err(obj_err(r, e));
            }
        }
    }
    Ok(())
}

fn image_matches(re: &Regex, value: &str) -> bool {
    re.is_match(value)
}

/// Splits an image reference into name, tag and digest.
pub fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let id = search.find('@');
    let ic = search.find(':');
    match (ic, id) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (ic, Some(d)) if ic.is_none_or(|c| d < c) => {
            let d = d + slash;
            (
                image[..d].to_string(),
                String::new(),
                image[d + 1..].to_string(),
            )
        }
        (Some(c), Some(d)) => {
            let (c, d) = (c + slash, d + slash);
            (
                image[..c].to_string(),
                image[c + 1..d].to_string(),
                image[d + 1..].to_string(),
            )
        }
        (Some(c), None) => {
            let c = c + slash;
            (
                image[..c].to_string(),
                image[c + 1..].to_string(),
                String::new(),
            )
        }
        _ => (image.to_string(), String::new(), String::new()),
    }
}

fn new_image(img: &Image, value: &str) -> String {
    let (mut name, mut tag, mut digest) = split_image(value);
    if !img.new_name.is_empty() {
        name = img.new_name.clone();
    }
    if !img.new_tag.is_empty() && !img.digest.is_empty() {
        tag = img.new_tag.clone();
        digest = img.digest.clone();
    } else if !img.new_tag.is_empty() {
        tag = img.new_tag.clone();
        digest.clear();
    } else if !img.digest.is_empty() {
        tag.clear();
        digest = img.digest.clone();
    }
    if !img.tag_suffix.is_empty() {
        tag.push_str(&img.tag_suffix);
    }
    let mut out = name;
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(&digest);
    }
    out
}

fn update_images_anywhere(v: &mut Value, img: &Image, re: &Regex) {
    match v {
        Value::Map(m) => {
            for key in ["containers", "initContainers"] {
                if let Some(Value::Seq(cs)) = m.get_mut(key) {
                    for c in cs.iter_mut() {
                        if let Some(Value::String(s)) = c.get_mut("image")
                            && image_matches(re, s)
                        {
                            *s = new_image(img, s);
                        }
                    }
                }
            }
            for (_, child) in m.iter_mut() {
                update_images_anywhere(child, img, re);
            }
        }
        Value::Seq(s) => {
            for child in s.iter_mut() {
                update_images_anywhere(child, img, re);
            }
        }
        _ => {}
    }
}

/// The image transformer.
pub fn set_images(resources: &mut [Resource], images: &[Image], specs: &[FieldSpec]) -> Result<()> {
    for img in images {
        if img.name.is_empty() {
            return Err(Error::msg("image name is empty in 'images'"));
        }
        let re = Regex::new(&format!("^{}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$", img.name))
            .map_err(|e| Error::msg(format!("invalid image name '{}': {e}", img.name)))?;
        for r in resources.iter_mut() {
            update_images_anywhere(&mut r.obj, img, &re);
            apply_fs(r, specs, CreateKind::None, &mut |node| {
                if let Value::String(s) = node
                    && image_matches(&re, s)
                {
                    *s = new_image(img, s);
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// The replica count transformer.
pub fn set_replicas(
    resources: &mut [Resource],
    name: &str,
    count: i64,
    specs: &[FieldSpec],
) -> Result<()> {
    let mut found = false;
    for fs in specs {
        for r in resources.iter_mut() {
            let hit = r
                .all_ids()
                .iter()
                .any(|id| id.name == name && id.gvk.is_selected(&fs.gvk));
            if !hit {
                continue;
            }
            found = true;
            if !r.gvk().is_selected(&fs.gvk) {
                continue;
            }
            let res = fieldspec::apply(&mut r.obj, fs, CreateKind::Scalar, &mut |node| {
                *node = Value::Int(count);
                Ok(())
            });
            if let Err(e) = res {
                return Err(obj_err(r, e));
            }
        }
    }
    if !found {
        let gvks: Vec<String> = specs.iter().map(|f| f.gvk.sort_string()).collect();
        return Err(Error::msg(format!(
            "resource with name {name} does not match a config with the following GVK [{}]",
            gvks.join(" ")
        )));
    }
    Ok(())
}

/// A compiled target selector.
pub struct SelectorRegex {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

fn anchored(p: &str) -> Result<Option<Regex>> {
    if p.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{p})$"))
        .map(Some)
        .map_err(|e| Error::msg(format!("invalid selector regex '{p}': {e}")))
}

/// Parses a label (or annotation) selector as kustomize does, with its error texts.
fn parse_label_selector(s: &str) -> Result<LabelSelector> {
    LabelSelector::parse_with(s, Dialect::Kustomize).map_err(|e| Error::msg(e.to_string()))
}

fn labels_match(sel: &LabelSelector, labels: &[(String, String)]) -> bool {
    sel.matches(|k| {
        labels
            .iter()
            .find(|(lk, _)| lk == k)
            .map(|(_, v)| v.as_str())
    })
}

impl SelectorRegex {
    /// Compiles a selector.
    pub fn new(s: &Selector) -> Result<SelectorRegex> {
        Ok(SelectorRegex {
            group: anchored(&s.group)?,
            version: anchored(&s.version)?,
            kind: anchored(&s.kind)?,
            name: anchored(&s.name)?,
            namespace: anchored(&s.namespace)?,
            labels: parse_label_selector(&s.label_selector)?,
            annotations: parse_label_selector(&s.annotation_selector)?,
        })
    }

    /// Whether the resource is selected (original or current name/namespace).
    pub fn matches(&self, r: &Resource) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        let m = |re: &Option<Regex>, s: &str| re.as_ref().is_none_or(|re| re.is_match(s));
        if self.namespace.is_some()
            && !m(&self.namespace, org.effective_namespace())
            && !m(&self.namespace, cur.effective_namespace())
        {
            return false;
        }
        if self.name.is_some() && !m(&self.name, &org.name) && !m(&self.name, &cur.name) {
            return false;
        }
        let g = &cur.gvk;
        if !m(&self.group, &g.group) || !m(&self.version, &g.version) || !m(&self.kind, &g.kind) {
            return false;
        }
        if !self.labels.is_empty() && !labels_match(&self.labels, &r.string_map("labels")) {
            return false;
        }
        if !self.annotations.is_empty()
            && !labels_match(&self.annotations, &r.string_map("annotations"))
        {
            return false;
        }
        true
    }
}

/// Indices of the resources a selector picks.
pub fn select(resources: &[Resource], s: &Selector) -> Result<Vec<usize>> {
    let re = SelectorRegex::new(s)?;
    Ok(resources
        .iter()
        .enumerate()
        .filter(|(_, r)| re.matches(r))
        .map(|(i, _)| i)
        .collect())
}

/// The id a patch document names.
pub fn patch_id(patch: &Value) -> ResId {
    let api = patch.get_str(&["apiVersion"]).unwrap_or("");
    let kind = patch.get_str(&["kind"]).unwrap_or("");
    ResId {
        gvk: Gvk::from_api_version(api, kind),
        name: patch.get_str(&["metadata", "name"]).unwrap_or("").into(),
        namespace: patch
            .get_str(&["metadata", "namespace"])
            .unwrap_or("")
            .into(),
    }
}

/// Finds exactly one resource having `id` as current or earlier id.
pub fn get_by_id(resources: &[Resource], id: &ResId) -> Result<usize> {
    let hits: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.all_ids().iter().any(|x| x.equals(id)))
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        1 => Ok(hits[0]),
        0 => Err(Error::msg(format!(
            "no matches for Id {id}; failed to find unique target for patch {id}"
        ))),
        _ => Err(Error::msg(format!(
            "multiple matches for Id {id}; failed to find unique target for patch {id}"
        ))),
    }
}

/// Applies a strategic merge patch to the resources at `targets` (deleting emptied ones).
pub fn apply_smp(
    resources: &mut Vec<Resource>,
    targets: &[usize],
    patch: &Value,
    allow_name_change: bool,
    allow_kind_change: bool,
    schema: Option<&smp::Schema>,
) -> Result<()> {
    let mut deleted = Vec::new();
    for &i in targets {
        let r = &mut resources[i];
        let (n, ns, k) = (
            r.name().to_string(),
            r.namespace().to_string(),
            r.kind().to_string(),
        );
        if allow_name_change || allow_kind_change {
            r.store_previous_id();
        }
        let mut p = patch.clone();
        if let Value::Map(pm) = &mut p {
            // the patch takes the target's group/version
            pm.insert(
                "apiVersion".into(),
                Value::String(r.api_version().to_string()),
            );
        }
        match smp::apply_with_schema(&r.obj, &p, &k, schema) {
            None => deleted.push(i),
            Some(v) => {
                if v.as_map().is_none_or(|m| m.is_empty()) {
                    deleted.push(i);
                    continue;
                }
                r.obj = v;
                if !allow_kind_change {
                    r.obj.set_str(&["kind"], &k);
                }
                if !allow_name_change {
                    r.set_name(&n);
                }
                if ns.is_empty() {
                    if let Some(Value::Map(meta)) = r.obj.get_mut("metadata") {
                        meta.shift_remove("namespace");
                    }
                } else {
                    r.set_namespace(&ns);
                }
            }
        }
    }
    deleted.sort_unstable();
    for i in deleted.into_iter().rev() {
        resources.remove(i);
    }
    Ok(())
}

/// Applies JSON6902 operations to the resources at `targets`.
pub fn apply_json6902(
    resources: &mut [Resource],
    targets: &[usize],
    ops: &jsonpatch::Patch,
    store_prev: bool,
) -> Result<()> {
    for &i in targets {
        let r = &mut resources[i];
        if store_prev {
            r.store_previous_id();
        }
        let mut obj = r.obj.clone();
        // kustomize patches the object with its internal bookkeeping annotations on it
        // (stripped on output), so `metadata.annotations` always exists for a patch: an
        // `add` under it works on an object without annotations.
        let added = match obj.get_mut("metadata").and_then(Value::as_map_mut) {
            Some(meta) if !meta.contains_key("annotations") => {
                meta.insert("annotations".into(), Value::map());
                true
            }
            _ => false,
        };
        if let Err(e) = jsonpatch::apply(&mut obj, ops) {
            return Err(obj_err(r, e));
        }
        if added
            && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_map_mut)
            && meta
                .get("annotations")
                .and_then(Value::as_map)
                .is_some_and(|m| m.is_empty())
        {
            meta.shift_remove("annotations");
        }
        r.obj = obj;
    }
    Ok(())
}

#[derive(Clone)]
struct Cand {
    prev: Vec<ResId>,
    cur: ResId,
    kind: String,
    name: String,
    namespace: String,
    idx: usize,
}

fn ns_for_rolebinding(r: &Resource) -> Vec<String> {
    let k = r.kind();
    if k != "RoleBinding" && k != "ClusterRoleBinding" {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(Value::Seq(subjects)) = r.obj.get("subjects") {
        for s in subjects {
            if s.get_str(&["kind"]) == Some("ServiceAccount")
                && let Some(ns) = s.get_str(&["namespace"])
            {
                out.push(ns.to_string());
            }
        }
    }
    out
}

/// Updates references to renamed objects (kustomize's name reference transformer).
pub fn fix_name_references(resources: &mut [Resource], backrefs: &[NameBackRef]) -> Result<()> {
    let snapshot: Vec<Cand> = resources
        .iter()
        .enumerate()
        .map(|(idx, r)| Cand {
            prev: r.prev_ids(),
            cur: r.cur_id(),
            kind: r.kind().to_string(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            idx,
        })
        .collect();
    let ctx_snapshot: Vec<(Vec<String>, Vec<String>)> = resources
        .iter()
        .map(|r| (r.prefixes.clone(), r.suffixes.clone()))
        .collect();
    let mut by_prev_name: std::collections::HashMap<&str, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, c) in snapshot.iter().enumerate() {
        let mut seen: Vec<&str> = Vec::new();
        for id in &c.prev {
            if !seen.contains(&id.name.as_str()) {
                seen.push(&id.name);
                by_prev_name.entry(&id.name).or_default().push(i);
            }
        }
    }
    let mut ref_by: Vec<(usize, ResId)> = Vec::new();
    for ri in 0..resources.len() {
        let referrer_id = resources[ri].cur_id();
        let referrer_gvk = referrer_id.gvk.clone();
        // candidates this referrer may refer to
        let rb_ns = ns_for_rolebinding(&resources[ri]);
        let could_ref = |c: &Cand| {
            referrer_gvk.is_cluster_scoped()
                || c.cur.gvk.is_cluster_scoped()
                || c.cur.ns_equals(&referrer_id)
                || rb_ns.contains(&c.namespace)
        };
        let by_name = |name: &str| -> Vec<&Cand> {
            by_prev_name
                .get(name)
                .map(|v| {
                    v.iter()
                        .map(|&i| &snapshot[i])
                        .filter(|c| could_ref(c))
                        .collect()
                })
                .unwrap_or_default()
        };
        let role_ref_gvk = resources[ri].obj.get("roleRef").map(|rr| Gvk {
            group: rr.get_str(&["apiGroup"]).unwrap_or("").to_string(),
            version: String::new(),
            kind: rr.get_str(&["kind"]).unwrap_or("").to_string(),
        });
        let (my_pre, my_suf) = ctx_snapshot[ri].clone();
        for nb in backrefs {
            for fs in &nb.field_specs {
                if !referrer_gvk.is_selected(&fs.gvk) {
                    continue;
                }
                let is_role_ref = fs.path.ends_with("roleRef/name");
                let select = |old: &str, pool: &[&Cand], with_ns: bool| -> Result<Option<usize>> {
                    let mut c: Vec<&Cand> = pool
                        .iter()
                        .copied()
                        .filter(|c| c.prev.iter().any(|id| id.name == old))
                        .filter(|c| c.prev.iter().any(|id| id.gvk.is_selected(&nb.gvk)))
                        .collect();
                    if is_role_ref && let Some(g) = &role_ref_gvk {
                        c.retain(|c| c.prev.iter().any(|id| id.gvk.is_selected(g)));
                    }
                    if !referrer_gvk.is_cluster_scoped() {
                        c.retain(|c| {
                            c.cur.gvk.is_cluster_scoped()
                                || c.kind == "ServiceAccount"
                                || referrer_id.ns_equals(&c.cur)
                        });
                    }
                    if c.len() == 1 {
                        return Ok(Some(c[0].idx));
                    }
                    let ps = |c: &&Cand, allow_empty: bool| {
                        let (p, s) = &ctx_snapshot[c.idx];
                        let mut a = Resource::new(Value::Null);
                        a.prefixes = p.clone();
                        a.suffixes = s.clone();
                        let mut b = Resource::new(Value::Null);
                        b.prefixes = my_pre.clone();
                        b.suffixes = my_suf.clone();
                        a.prefixes_suffixes_equal(&b, allow_empty)
                    };
                    c.retain(|x| ps(x, true));
                    if c.len() == 1 {
                        return Ok(Some(c[0].idx));
                    }
                    c.retain(|x| ps(x, false));
                    if c.len() == 1 {
                        return Ok(Some(c[0].idx));
                    }
                    if c.is_empty() {
                        return Ok(None);
                    }
                    let same = c.iter().all(|x| {
                        x.name == c[0].name && (!with_ns || x.namespace == c[0].namespace)
                    });
                    if same {
                        return Ok(Some(c[0].idx));
                    }
                    let ids: Vec<String> = c.iter().map(|x| x.cur.to_string()).collect();
                    Err(Error::msg(format!(
                        "found multiple possible referrals: [{}]",
                        ids.join(" ")
                    )))
                };
                let mut set = |node: &mut Value| -> Result<()> {
                    let mut set_one = |n: &mut Value| -> Result<()> {
                        match n {
                            Value::String(old) => {
                                if let Some(i) = select(old, &by_name(old), false)? {
                                    ref_by.push((i, referrer_id.clone()));
                                    if snapshot[i].name != *old {
                                        *old = snapshot[i].name.clone();
                                    }
                                }
                                Ok(())
                            }
                            Value::Map(m) => {
                                let Some(old) = m.get("name").and_then(Value::as_str) else {
                                    return Ok(());
                                };
                                let old = old.to_string();
                                let pool: Vec<&Cand> =
                                    match m.get("namespace").and_then(Value::as_str) {
                                        None => by_name(&old),
                                        Some(ns) => {
                                            let cands = snapshot.iter().filter(|c| could_ref(c));
                                            let by_org: Vec<&Cand> = cands
                                                .clone()
                                                .filter(|c| {
                                                    let org = c.prev.first().unwrap_or(&c.cur);
                                                    org.effective_namespace() == ns
                                                })
                                                .collect();
                                            if !by_org.is_empty() {
                                                by_org
                                            } else {
                                                cands
                                                    .filter(|c| c.cur.effective_namespace() == ns)
                                                    .collect()
                                            }
                                        }
                                    };
                                if let Some(i) = select(&old, &pool, true)? {
                                    ref_by.push((i, referrer_id.clone()));
                                    let c = &snapshot[i];
                                    if c.name == old && c.namespace.is_empty() {
                                        return Ok(());
                                    }
                                    m.insert("name".into(), Value::String(c.name.clone()));
                                    if !c.namespace.is_empty() {
                                        m.insert(
                                            "namespace".into(),
                                            Value::String(c.namespace.clone()),
                                        );
                                    }
                                }
                                Ok(())
                            }
                            _ => Ok(()),
                        }
                    };
                    match node {
                        Value::Seq(items) => {
                            for it in items.iter_mut() {
                                set_one(it)?;
                            }
                            Ok(())
                        }
                        other => set_one(other),
                    }
                };
                let res = fieldspec::apply(&mut resources[ri].obj, fs, CreateKind::None, &mut set);
                if let Err(e) = res {
                    return Err(obj_err(&resources[ri], e));
                }
            }
        }
    }
    for (i, id) in ref_by {
        resources[i].ref_by.push(id);
    }
    Ok(())
}

/// Reads a value by a kustomize field path (`spec.ports[0].port`, `a.b[name=x].c`).
pub fn get_field(obj: &Value, path: &str) -> Option<Value> {
    let mut cur = obj;
    for seg in split_dotted(path) {
        let (name, idx) = match seg.find('[') {
            Some(i) if seg.ends_with(']') => (&seg[..i], Some(&seg[i + 1..seg.len() - 1])),
            _ => (seg.as_str(), None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        if let Some(ix) = idx {
            let items = cur.as_seq()?;
            if let Some((k, v)) = ix.split_once('=') {
                cur = items
                    .iter()
                    .find(|it| it.get(k).and_then(Value::scalar_string).as_deref() == Some(v))?;
            } else {
                cur = items.get(ix.parse::<usize>().ok()?)?;
            }
        }
    }
    Some(cur.clone())
}

fn split_dotted(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// kustomize's `$(VAR)` expansion. An input that is exactly one reference keeps the
/// variable's type.
pub fn expand_vars(input: &str, lookup: &mut dyn FnMut(&str) -> Option<Value>) -> Value {
    let b = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let rb = rest.as_bytes();
            let advance;
            match rb[0] {
                b'$' => {
                    out.push('$');
                    advance = 1;
                }
                b'(' => {
                    if let Some(close) = rest.find(')') {
                        let name = &rest[1..close];
                        match lookup(name) {
                            Some(v) => {
                                if input.len() == name.len() + 3 {
                                    return v;
                                }
                                out.push_str(
                                    &v.scalar_string()
                                        .unwrap_or_else(|| crate::yaml::to_go_json(&v)),
                                );
                            }
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        advance = close + 1;
                    } else {
                        out.push_str("$(");
                        advance = 1;
                    }
                }
                _ => {
                    let ch = rest.chars().next().unwrap_or(' ');
                    out.push('$');
                    out.push(ch);
                    advance = ch.len_utf8();
                }
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    Value::String(out)
}

/// Splits a var's field path as kustomize's `SmarterPathSplitter` then
/// `convertSliceIndex` do: `.` separates (`\\.` escapes it), a part starting with `[`
/// runs to its `]` (kept with brackets when it holds `=`, else unwrapped), and `name[3]`
/// becomes `name`, `3`.
fn var_path_parts(path: &str) -> Vec<String> {
    let mut split: Vec<String> = Vec::new();
    let mut raw: Vec<&str> = path.split('.').collect();
    if raw.len() > 1 && raw[0].is_empty() {
        raw.remove(0);
    }
    for p in raw {
        match split.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(p);
            }
            _ => split.push(p.to_string()),
        }
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let elem = &split[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < split.len() - 1 {
                i += 1;
                bracketed.push(split[i].clone());
                if split[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                parts.push(joined);
            } else {
                parts.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            parts.push(elem.clone());
        }
        i += 1;
    }
    let mut out = Vec::new();
    for p in parts {
        if let Some(open) = p.strip_suffix(']').and_then(|q| q.rfind('['))
            && !p[open + 1..p.len() - 1].is_empty()
            && p[open + 1..p.len() - 1].bytes().all(|b| b.is_ascii_digit())
        {
            if open > 0 {
                out.push(p[..open].to_string());
            }
            out.push(p[open + 1..p.len() - 1].to_string());
            continue;
        }
        out.push(p);
    }
    out
}

/// The value a var reads (kustomize's `GetFieldValue`): numbers index sequences (`-` is the
/// last item), `[k=v]` picks the item whose `k` is `v`, other parts are mapping keys.
pub fn var_field_value(obj: &Value, path: &str) -> Option<Value> {
    let mut cur = obj;
    for part in var_path_parts(path) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if let Ok(i) = part.parse::<i64>() {
            let items = cur.as_seq()?;
            cur = items.get(usize::try_from(i).ok()?)?;
        } else if part == "-" {
            cur = cur.as_seq()?.last()?;
        } else if part == "*" {
            return None;
        } else if let Some(inner) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']'))
            && let Some((k, v)) = inner.split_once('=')
        {
            let items = cur.as_seq()?;
            cur = items.iter().find(|it| {
                if k.is_empty() {
                    it.scalar_string().as_deref() == Some(v)
                } else {
                    it.get(k).and_then(Value::scalar_string).as_deref() == Some(v)
                }
            })?;
        } else {
            cur = cur.as_map()?.get(part)?;
        }
    }
    Some(cur.clone())
}

/// Replaces `$(VAR)` in the var-reference fields of every resource (kustomize's legacy
/// `vars`): values are read after name references are fixed, vars in name order; only
/// strings, numbers and booleans replace (a mapping or list value leaves `$(VAR)` as is).
pub fn resolve_vars(
    resources: &mut [Resource],
    vars: &[crate::kustomization::Var],
    specs: &[FieldSpec],
) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&crate::kustomization::Var> = vars.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut values: std::collections::HashMap<String, Option<Value>> =
        std::collections::HashMap::with_capacity(sorted.len());
    for v in sorted {
        let Some(r) = resources.iter().find(|r| r.ref_var_names.contains(&v.name)) else {
            return Err(Error::msg(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                v.display()
            )));
        };
        let val = var_field_value(&r.obj, &v.field_path).ok_or_else(|| {
            Error::msg(format!(
                "field specified in var '{}' not found in corresponding resource",
                v.display()
            ))
        })?;
        let val = match val {
            Value::Map(_) | Value::Seq(_) => None,
            Value::Null => Some(Value::String(String::new())),
            other => Some(other),
        };
        values.insert(v.name.clone(), val);
    }
    let mut lookup = |name: &str| values.get(name).cloned().flatten();
    for r in resources.iter_mut() {
        apply_fs(r, specs, CreateKind::None, &mut |node| {
            match node {
                Value::String(s) => {
                    *node = expand_vars(s, &mut lookup);
                }
                Value::Map(m) => {
                    for (_, v) in m.iter_mut() {
                        if let Value::String(s) = v {
                            *v = expand_vars(s, &mut lookup);
                        }
                    }
                }
                Value::Seq(items) => {
                    for v in items.iter_mut() {
                        match v {
                            Value::String(s) => *v = expand_vars(s, &mut lookup),
                            _ => return Err(Error::msg("invalid value type expect a string")),
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Appends a transformation record (buildMetadata: transformerAnnotations).
pub fn record_transformation(resources: &mut [Resource], configured_in: &str, kind: &str) {
    for r in resources.iter_mut() {
        let mut m = Mapping::new();
        m.insert("configuredIn".into(), Value::String(configured_in.into()));
        m.insert("kind".into(), Value::String(kind.into()));
        r.transformations.push(m);
    }
}
