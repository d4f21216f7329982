//! Every Flux object in `../shared/reference/flux-manifests` (a Flux repository and the
//! Flux CLI's exported manifests) reads into our types and writes back without losing or
//! changing a field.

use crate::common;

use gitops_api::FluxObject;
use serde_json::Value;
use std::path::Path;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(&format!("{path}.{k}"), wv, gv, out),
                    None => out.push(format!("{path}.{k}: lost")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}.{k}: added"));
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        _ if want != got => out.push(format!("{path}: {want} became {got}")),
        _ => {}
    }
}

/// The paths of required properties the document lacks, per a Flux CRD's schema.
fn missing_required(schema: &Value, doc: &Value, path: &str, out: &mut Vec<String>) {
    if let (Some(props), Value::Object(obj)) = (schema.get("properties"), doc) {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                out.push(format!("{path}.{r}"));
            }
        }
        for (k, v) in obj {
            if let Some(s) = props.get(k) {
                missing_required(s, v, &format!("{path}.{k}"), out);
            }
        }
    }
    if let (Some(items), Value::Array(arr)) = (schema.get("items"), doc) {
        for (i, v) in arr.iter().enumerate() {
            missing_required(items, v, &format!("{path}[{i}]"), out);
        }
    }
}

/// Flux's CRD schema (openAPIV3Schema) for an apiVersion and kind.
fn flux_schema(crds: &Path, api_version: &str, kind: &str) -> Option<Value> {
    for e in std::fs::read_dir(crds).ok()? {
        let text = std::fs::read_to_string(e.ok()?.path()).ok()?;
        let crd = common::yaml_docs(&text).ok()?.remove(0);
        let spec = &crd["spec"];
        if spec["names"]["kind"] == kind {
            for v in spec["versions"].as_array()? {
                if format!("{}/{}", spec["group"].as_str()?, v["name"].as_str()?) == api_version {
                    return Some(v["schema"]["openAPIV3Schema"].clone());
                }
            }
        }
    }
    None
}

#[test]
fn flux_manifests_round_trip() {
    let Some(dir) = common::shared("reference/flux-manifests") else {
        return;
    };
    let mut all = Vec::new();
    files(&dir, &mut all);
    let mut problems = Vec::new();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    let mut patches = 0;
    for file in &all {
        let raw = std::fs::read_to_string(file).unwrap();
        // The CLI's golden files are Go templates of the namespace; render them.
        let text = raw
            .replace("{{ .fluxns }}", "flux-system")
            .replace("{{ .ns }}", "default");
        let Ok(docs) = common::yaml_docs(&text) else {
            // Not YAML: CLI output transcripts (`success.golden`, tables).
            continue;
        };
        for (i, doc) in docs.into_iter().enumerate() {
            let here = format!("{}#{i}", file.strip_prefix(&dir).unwrap().display());
            match FluxObject::from_value(doc.clone()) {
                Ok(Some(obj)) => {
                    *kinds.entry(obj.info().kind).or_default() += 1;
                    let back = obj.to_value().unwrap();
                    let mut out = Vec::new();
                    diff(&here, &doc, &back, &mut out);
                    problems.extend(out);
                }
                Ok(None) => {}
                Err(e) => {
                    // A document without a property Flux's CRD requires is not an object
                    // but a patch (kustomize strategic merge); the API server would refuse
                    // it too. Anything else is a failure.
                    let crds = dir.join("../flux-crds");
                    let av = doc["apiVersion"].as_str().unwrap_or_default();
                    let kind = doc["kind"].as_str().unwrap_or_default();
                    let mut missing = Vec::new();
                    if let Some(schema) = flux_schema(&crds, av, kind) {
                        missing_required(&schema, &doc, "", &mut missing);
                    }
                    let field = e.to_string();
                    if missing.is_empty()
                        || !missing
                            .iter()
                            .any(|m| field.contains(m.rsplit('.').next().unwrap()))
                    {
                        problems.push(format!("{here}: {e}"));
                    } else {
                        patches += 1;
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("round-tripped: {kinds:?}; partial documents (patches) refused: {patches}");
    let total: usize = kinds.values().sum();
    assert!(
        total >= 40,
        "expected the reference manifests to hold at least 40 Flux objects, found {total}"
    );
}

#[test]
fn unknown_kinds_are_not_flux_objects_and_wrong_shapes_name_the_field() {
    let v: Value = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"});
    assert!(FluxObject::from_value(v).unwrap().is_none());
    let bad = serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "x"}, "spec": {"url": "https://example.com/x", "interval": "5 minutes"}
    });
    let err = FluxObject::from_value(bad).unwrap_err().to_string();
    assert!(
        err.contains(r#"time: unknown unit " minutes" in duration "5 minutes""#),
        "{err}"
    );
}

/// A value for every property of a Flux schema: enums take their last value, durations and
/// times valid samples, free-form JSON a nested structure.
fn maximal(schema: &Value, name: &str) -> Value {
    if let Some(Value::Array(e)) = schema.get("enum") {
        return e.last().cloned().unwrap();
    }
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("properties").is_none()
    {
        return serde_json::json!({"replicaCount": 2, "image": {"tag": "v1"}, "list": [1, "x", null, true]});
    }
    match schema.get("type").and_then(Value::as_str).unwrap_or("") {
        "object" => {
            let mut m = serde_json::Map::new();
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (k, s) in props {
                    m.insert(k.clone(), maximal(s, k));
                }
            }
            if let Some(ap) = schema.get("additionalProperties") {
                m.insert("some-key".into(), maximal(ap, name));
            }
            Value::Object(m)
        }
        "array" => Value::Array(vec![maximal(&schema["items"], name)]),
        "integer" => Value::from(3),
        "boolean" => Value::Bool(true),
        "string" if schema.get("format").and_then(Value::as_str) == Some("date-time") => {
            Value::from("2024-05-06T07:08:09Z")
        }
        "string" => {
            let lower = name.to_lowercase();
            if lower.contains("interval") || lower.contains("timeout") || lower.contains("duration")
            {
                Value::from("1m30s")
            } else if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                Value::from(match p {
                    p if p.starts_with("^(http|https|ssh)")
                        || p.starts_with("^(http|https)")
                        || p.starts_with("^https?") =>
                    {
                        "https://example.com/x"
                    }
                    p if p.starts_with("^(http|https|oci)") || p.starts_with("^oci") => {
                        "oci://example.com/x"
                    }
                    p if p.starts_with("^[a-z0-9]+(?:") => {
                        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    }
                    _ => "Sample_value",
                })
            } else {
                Value::from(format!("{name}-value"))
            }
        }
        other => panic!("unexpected schema type {other:?} at {name}"),
    }
}

#[test]
fn every_field_of_every_kind_round_trips() {
    let Some(crds) = common::shared("reference/flux-crds") else {
        return;
    };
    let mut problems = Vec::new();
    let mut n = 0;
    for info in gitops_api::KINDS {
        let av = info.api_version();
        // source-watcher's CRD is not in the reference set of Flux's CRDs.
        if info.kind == "ArtifactGenerator" {
            continue;
        }
        let schema =
            flux_schema(&crds, &av, info.kind).expect("Flux has a CRD for each of our kinds");
        let mut doc = maximal(&schema, "");
        doc["apiVersion"] = Value::from(av.clone());
        doc["kind"] = Value::from(info.kind);
        doc["metadata"] =
            serde_json::json!({"name": "max", "namespace": "default", "labels": {"a": "b"}});
        match FluxObject::from_value(doc.clone()) {
            Ok(Some(obj)) => {
                let back = obj.to_value().unwrap();
                diff(info.kind, &doc, &back, &mut problems);
                n += 1;
            }
            Ok(None) => problems.push(format!("{}: not recognised", info.kind)),
            Err(e) => problems.push(format!("{}: {e}", info.kind)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(n, 14);
}
