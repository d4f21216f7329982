//! `crds`: OpenAPI definitions of custom types, in kustomize's format (type name →
//! `{Schema, Dependencies}`). kustomize reads property extensions from
//! definitions that look like Kubernetes types (they have `kind`, `apiVersion` and
//! `metadata` properties), following `$ref`s:
//! `x-kubernetes-object-ref-api-version` + `x-kubernetes-object-ref-kind` (name references,
//! to `<property>/<x-kubernetes-object-ref-name-key or name>`), `x-kubernetes-label-selector`
//! (labels), `x-kubernetes-annotation` (annotations), `x-kubernetes-identity` (name prefix).

use crate::config::{FieldSpec, NameBackRef, TransformerConfig};
use crate::resource::Gvk;
use crate::yaml::{Mapping, Value};

fn fs(gvk: &Gvk, path: &[String]) -> FieldSpec {
    FieldSpec {
        gvk: gvk.clone(),
        path: path.join("/"),
        create: false,
    }
}

fn load(
    tc: &mut TransformerConfig,
    gvk: &Gvk,
    defs: &Mapping,
    name: &str,
    path: &[String],
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let Some(def) = defs.get(name) else { return };
    let Some(Value::Map(props)) = def.get("properties") else {
        return;
    };
    for (prop, p) in props {
        let mut here = path.to_vec();
        here.push(prop.clone());
        let ext = |k: &str| p.get(k).and_then(Value::as_str);
        if ext("x-kubernetes-label-selector").is_some() {
            tc.common_labels.push(fs(gvk, &here));
        }
        if ext("x-kubernetes-annotation").is_some() {
            tc.common_annotations.push(fs(gvk, &here));
        }
        if ext("x-kubernetes-identity").is_some() {
            tc.name_prefix.push(fs(gvk, &here));
        }
        if let (Some(version), Some(kind)) = (
            ext("x-kubernetes-object-ref-api-version"),
            ext("x-kubernetes-object-ref-kind"),
        ) {
            let key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut np = here.clone();
            np.push(key.to_string());
            let target = Gvk {
                group: String::new(),
                version: version.to_string(),
                kind: kind.to_string(),
            };
            let spec = fs(gvk, &np);
            match tc.name_reference.iter_mut().find(|n| n.gvk == target) {
                Some(n) => n.field_specs.push(spec),
                None => tc.name_reference.push(NameBackRef {
                    gvk: target,
                    field_specs: vec![spec],
                }),
            }
        }
        if let Some(r) = ext("$ref") {
            let target = r.trim_start_matches("#/definitions/");
            load(tc, gvk, defs, target, &here, depth + 1);
        }
    }
}

/// The transformer configuration declared by an OpenAPI definitions document.
pub fn config_from_crd_schema(doc: &Value) -> TransformerConfig {
    let mut tc = TransformerConfig::default();
    // kustomize's format: a map of type names to `{Schema: …, Dependencies: …}`
    let defs: Mapping = match doc {
        Value::Map(m) => m
            .iter()
            .filter_map(|(k, v)| v.get("Schema").map(|s| (k.clone(), s.clone())))
            .collect(),
        _ => return tc,
    };
    let defs = &defs;
    for (name, def) in defs {
        let Some(Value::Map(props)) = def.get("properties") else {
            continue;
        };
        if !(props.contains_key("kind")
            && props.contains_key("apiVersion")
            && props.contains_key("metadata"))
        {
            continue;
        }
        let gvk = Gvk {
            kind: name.rsplit('.').next().unwrap_or(name).to_string(),
            ..Default::default()
        };
        load(&mut tc, &gvk, defs, name, &[], 0);
    }
    tc
}
