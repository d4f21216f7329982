//! `replacements`: copy a field of one object into fields of others.

use crate::error::{Error, Result};
use crate::resource::{Gvk, ResId, Resource};
use crate::transform::get_field;
use crate::yaml::Value;

struct IdSel {
    gvk: Gvk,
    name: String,
    namespace: String,
    labels: String,
    annotations: String,
}

fn id_sel(v: &Value) -> IdSel {
    let s = |k: &str| v.get(k).and_then(Value::scalar_string).unwrap_or_default();
    IdSel {
        gvk: Gvk {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
        },
        name: s("name"),
        namespace: s("namespace"),
        labels: s("labelSelector"),
        annotations: s("annotationSelector"),
    }
}

fn id_selected(id: &ResId, sel: &IdSel) -> bool {
    id.gvk.is_selected(&sel.gvk)
        && (sel.name.is_empty() || sel.name == id.name)
        && (sel.namespace.is_empty() || sel.namespace == id.namespace)
}

fn res_selected(r: &Resource, sel: &IdSel) -> Result<bool> {
    if !r.all_ids().iter().any(|id| id_selected(id, sel)) {
        return Ok(false);
    }
    if !sel.labels.is_empty() || !sel.annotations.is_empty() {
        let s = crate::kustomization::Selector {
            label_selector: sel.labels.clone(),
            annotation_selector: sel.annotations.clone(),
            ..Default::default()
        };
        let re = crate::transform::SelectorRegex::new(&s)?;
        return Ok(re.matches(r));
    }
    Ok(true)
}

fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c)
            }
            ']' => {
                depth -= 1;
                cur.push(c)
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Sets `value` at every node `path` reaches; returns how many were set.
fn set_path(
    node: &mut Value,
    path: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value),
) -> usize {
    let Some((seg, rest)) = path.split_first() else {
        f(node);
        return 1;
    };
    if seg == "*" {
        let mut n = 0;
        match node {
            Value::Seq(items) => {
                for it in items.iter_mut() {
                    n += set_path(it, rest, create, f);
                }
            }
            Value::Map(m) => {
                for (_, v) in m.iter_mut() {
                    n += set_path(v, rest, create, f);
                }
            }
            _ => {}
        }
        return n;
    }
    if seg.starts_with('[') && seg.ends_with(']') {
        let inner = &seg[1..seg.len() - 1];
        let Value::Seq(items) = node else { return 0 };
        if let Some((k, v)) = inner.split_once('=') {
            let mut n = 0;
            for it in items.iter_mut() {
                if it.get(k).and_then(Value::scalar_string).as_deref() == Some(v) {
                    n += set_path(it, rest, create, f);
                }
            }
            return n;
        }
        if let Ok(i) = inner.parse::<usize>()
            && let Some(it) = items.get_mut(i)
        {
            return set_path(it, rest, create, f);
        }
        return 0;
    }
    // `name[k=v]` shorthand
    if let Some(i) = seg.find('[')
        && seg.ends_with(']')
    {
        let mut p = vec![seg[..i].to_string(), seg[i..].to_string()];
        p.extend(rest.iter().cloned());
        return set_path(node, &p, create, f);
    }
    match node {
        Value::Seq(items) => {
            if let Ok(i) = seg.parse::<usize>()
                && let Some(it) = items.get_mut(i)
            {
                return set_path(it, rest, create, f);
            }
            0
        }
        Value::Map(m) => {
            if !m.contains_key(seg.as_str()) {
                if !create {
                    return 0;
                }
                m.insert(
                    seg.clone(),
                    if rest.is_empty() {
                        Value::Null
                    } else {
                        Value::map()
                    },
                );
            }
            match m.get_mut(seg.as_str()) {
                Some(v) => {
                    if v.is_null() && !rest.is_empty() && create {
                        *v = Value::map();
                    }
                    set_path(v, rest, create, f)
                }
                None => 0,
            }
        }
        Value::Null if create => {
            *node = Value::map();
            set_path(node, path, create, f)
        }
        _ => 0,
    }
}

/// Applies replacements in order.
pub fn apply(resources: &mut [Resource], reps: &[Value]) -> Result<()> {
    for rep in reps {
        let src = rep
            .get("source")
            .ok_or_else(|| Error::msg("replacement has no source"))?;
        let sel = id_sel(src);
        let mut hits = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            if res_selected(r, &sel)? {
                hits.push(i);
            }
        }
        if hits.len() > 1 {
            return Err(Error::msg(format!(
                "multiple matches for replacement source selector {}/{}",
                sel.gvk.kind, sel.name
            )));
        }
        let Some(&si) = hits.first() else {
            return Err(Error::msg(format!(
                "nothing selected by replacement source {}/{}",
                sel.gvk.kind, sel.name
            )));
        };
        let fp = src
            .get("fieldPath")
            .and_then(Value::as_str)
            .unwrap_or("metadata.name");
        let mut value = get_field(&resources[si].obj, fp).ok_or_else(|| {
            Error::msg(format!(
                "fieldPath `{fp}` is missing for replacement source {}",
                resources[si].cur_id()
            ))
        })?;
        if let Some(opts) = src.get("options")
            && let Some(d) = opts.get("delimiter").and_then(Value::as_str)
        {
            let idx = match opts.get("index") {
                Some(Value::Int(i)) => *i,
                _ => 0,
            };
            let s = value.scalar_string().unwrap_or_default();
            let parts: Vec<&str> = s.split(d).collect();
            if idx < 0 || idx as usize >= parts.len() {
                return Err(Error::msg(format!(
                    "options.index {idx} is out of bounds for value {s}"
                )));
            }
            value = Value::String(parts[idx as usize].to_string());
        }
        let targets = rep
            .get("targets")
            .and_then(Value::as_seq)
            .cloned()
            .unwrap_or_default();
        for t in &targets {
            let Some(select) = t.get("select") else {
                return Err(Error::msg("replacement target has no select"));
            };
            let sel = id_sel(select);
            let rejects: Vec<IdSel> = t
                .get("reject")
                .and_then(Value::as_seq)
                .map(|s| s.iter().map(id_sel).collect())
                .unwrap_or_default();
            let opts = t.get("options");
            let create = opts
                .and_then(|o| o.get("create"))
                .is_some_and(|c| matches!(c, Value::Bool(true)));
            let delim = opts
                .and_then(|o| o.get("delimiter"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let index = match opts.and_then(|o| o.get("index")) {
                Some(Value::Int(i)) => *i,
                _ => 0,
            };
            let paths: Vec<String> = t
                .get("fieldPaths")
                .and_then(Value::as_seq)
                .map(|s| s.iter().filter_map(Value::scalar_string).collect())
                .unwrap_or_else(|| vec!["metadata.name".into()]);
            for r in resources.iter_mut() {
                if !res_selected(r, &sel)? {
                    continue;
                }
                let mut rejected = false;
                for rj in &rejects {
                    if res_selected(r, rj)? {
                        rejected = true;
                    }
                }
                if rejected {
                    continue;
                }
                for p in &paths {
                    let segs = split_path(p);
                    let mut setter = |n: &mut Value| match &delim {
                        Some(d) => {
                            let cur = n.scalar_string().unwrap_or_default();
                            let mut parts: Vec<String> =
                                cur.split(d.as_str()).map(str::to_string).collect();
                            let v = value.scalar_string().unwrap_or_default();
                            if index < 0 {
                                parts.insert(0, v);
                            } else if index as usize >= parts.len() {
                                parts.push(v);
                            } else {
                                parts[index as usize] = v;
                            }
                            *n = Value::String(parts.join(d));
                        }
                        None => *n = value.clone(),
                    };
                    let n = set_path(&mut r.obj, &segs, create, &mut setter);
                    if n == 0 && !create {
                        return Err(Error::msg(format!(
                            "unable to find field \"{p}\" in replacement target {}",
                            r.cur_id()
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}
