//! Our generated CRDs against Flux's own: names, scope, subresources, printer columns and
//! every schema property with its type, format, enum, pattern, default, bounds, required
//! list and Kubernetes extensions. Descriptions are ours and not compared.

use crate::common;

use serde_json::Value;

fn strip_descriptions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("description");
            if let Some(Value::Array(req)) = m.get_mut("required") {
                req.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            for (k, child) in m.iter_mut() {
                // `default` and `enum` hold data, not schemas.
                if k != "default" && k != "enum" && k != "x-kubernetes-validations" {
                    strip_descriptions(child);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: missing (Flux has {wv})")),
                }
            }
            for k in g.keys() {
                if !w.contains_key(k) {
                    out.push(format!("{path}.{k}: not in Flux's CRD (ours has {})", g[k]));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        // The apiextensions types hold bounds as floats: 0 and 0.0 are the same bound.
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => {}
        _ if want != got => out.push(format!("{path}: Flux has {want}, ours has {got}")),
        _ => {}
    }
}

#[test]
fn generated_crds_match_flux() {
    let Some(dir) = common::shared("reference/flux-crds") else {
        return;
    };
    let ours: Vec<Value> = gitops_api::all_crds()
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 14, "Flux has 14 CRDs");
    let mut problems = Vec::new();
    let mut compared = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut flux = common::yaml_docs(&text).unwrap().remove(0);
        let name = flux["metadata"]["name"].as_str().unwrap().to_owned();
        let Some(mine) = ours.iter().find(|c| c["metadata"]["name"] == name.as_str()) else {
            problems.push(format!("{name}: no generated CRD"));
            continue;
        };
        let mut mine = mine.clone();
        strip_descriptions(&mut flux["spec"]);
        strip_descriptions(&mut mine["spec"]);
        let mut out = Vec::new();
        diff(&name, &flux["spec"], &mine["spec"], &mut out);
        problems.extend(out);
        compared += 1;
    }
    assert!(
        problems.is_empty(),
        "{} difference(s) from Flux's CRDs:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(compared, 14);
    // The 14 Flux kinds and source-watcher's ArtifactGenerator (whose CRD ships with
    // source-watcher, not in the reference set).
    assert_eq!(
        ours.len(),
        15,
        "we generate the 14 Flux kinds and ArtifactGenerator"
    );
}
