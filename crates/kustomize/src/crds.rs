//! `crds`: OpenAPI definitions of custom types whose properties declare
//! `x-kubernetes-object-ref-kind`, which become name references.

use crate::config::{FieldSpec, NameBackRef, TransformerConfig};
use crate::resource::Gvk;
use crate::yaml::Value;

fn walk(
    defs: &crate::yaml::Mapping,
    def: &Value,
    path: &str,
    referrer: &Gvk,
    out: &mut TransformerConfig,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    let Some(Value::Map(props)) = def.get("properties") else {
        return;
    };
    for (name, p) in props {
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}/{name}")
        };
        if let Some(kind) = p.get_str(&["x-kubernetes-object-ref-kind"]) {
            let api = p
                .get_str(&["x-kubernetes-object-ref-api-version"])
                .unwrap_or("");
            let gvk = Gvk::from_api_version(api, kind);
            let fs = FieldSpec {
                gvk: referrer.clone(),
                path: here.clone(),
                create: false,
            };
            if let Some(e) = out.name_reference.iter_mut().find(|e| e.gvk == gvk) {
                e.field_specs.push(fs);
            } else {
                out.name_reference.push(NameBackRef {
                    gvk,
                    field_specs: vec![fs],
                });
            }
        }
        if let Some(r) = p.get_str(&["$ref"]) {
            let key = r.trim_start_matches("#/definitions/");
            if let Some(d) = defs.get(key) {
                walk(defs, d, &here, referrer, out, depth + 1);
            }
        } else {
            walk(defs, p, &here, referrer, out, depth + 1);
        }
    }
}

/// The name-reference configuration declared by an OpenAPI definitions document.
pub fn config_from_crd_schema(doc: &Value) -> TransformerConfig {
    let mut out = TransformerConfig::default();
    let Some(Value::Map(defs)) = doc.get("definitions") else {
        return out;
    };
    for (_, d) in defs {
        let Some(Value::Seq(gvks)) = d.get("x-kubernetes-group-version-kind") else {
            continue;
        };
        for g in gvks {
            let s = |k: &str| g.get(k).and_then(Value::scalar_string).unwrap_or_default();
            let referrer = Gvk {
                group: s("group"),
                version: s("version"),
                kind: s("kind"),
            };
            walk(defs, d, "", &referrer, &mut out, 0);
        }
    }
    out
}
