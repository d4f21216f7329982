//! Runs the shared conformance corpus (`../shared/conformance/helm` from the workspace root)
//! through the library and checks the byte-identical pass count does not regress.

use std::path::{Path, PathBuf};

use gitops_helm::{TemplateRequest, helm_template};

/// Byte-identical cases out of 124 when this floor was recorded.
const FLOOR: usize = 124;

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/helm");
    p.is_dir().then_some(p)
}

struct Case {
    name: String,
    dir: PathBuf,
    chart: PathBuf,
    release: String,
    namespace: String,
    values: Option<PathBuf>,
}

fn cases(root: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .collect();
    names.sort_by_key(|e| e.file_name());
    for c in names {
        let mut vs: Vec<_> = std::fs::read_dir(c.path().join("variants"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .collect();
        vs.sort_by_key(|e| e.file_name());
        for v in vs {
            let dir = v.path();
            let Ok(args) = std::fs::read_to_string(dir.join("args")) else {
                continue;
            };
            let mut it = args.split_whitespace();
            let (Some(rel), Some(ns)) = (it.next(), it.next()) else {
                continue;
            };
            let vf = dir.join("values.yaml");
            let values = std::fs::metadata(&vf)
                .ok()
                .filter(|m| m.len() > 0)
                .map(|_| vf.clone());
            out.push(Case {
                name: format!(
                    "{}/{}",
                    c.file_name().to_string_lossy(),
                    v.file_name().to_string_lossy()
                ),
                chart: c.path().join("chart"),
                dir,
                release: rel.into(),
                namespace: ns.into(),
                values,
            });
        }
    }
    out
}

fn passes(c: &Case) -> bool {
    let req = TemplateRequest {
        name: c.release.clone(),
        chart: c.chart.clone(),
        namespace: c.namespace.clone(),
        value_files: c.values.iter().cloned().collect(),
        ..Default::default()
    };
    let res = helm_template(&req);
    let Ok(expected) = std::fs::read_to_string(c.dir.join("expected.yaml")) else {
        return res.is_err();
    };
    let Ok(out) = res.map(|o| o.stdout) else {
        return false;
    };
    let random: Vec<usize> = std::fs::read_to_string(c.dir.join("random-lines"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if random.is_empty() {
        return out == expected;
    }
    let (o, e): (Vec<&str>, Vec<&str>) =
        (out.split('\n').collect(), expected.split('\n').collect());
    o.len() == e.len()
        && o.iter()
            .zip(&e)
            .enumerate()
            .all(|(i, (a, b))| random.contains(&(i + 1)) || a == b)
}

#[test]
fn corpus_pass_count_does_not_regress() {
    let Some(root) = corpus() else {
        println!("conformance corpus not found next to the workspace; skipping");
        return;
    };
    let all = cases(&root);
    let half = all.len() / 2;
    let (a, b) = all.split_at(half);
    let failed: Vec<String> = std::thread::scope(|s| {
        let h = s.spawn(|| {
            a.iter()
                .filter(|c| !passes(c))
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        });
        let mut f: Vec<String> = b
            .iter()
            .filter(|c| !passes(c))
            .map(|c| c.name.clone())
            .collect();
        f.extend(h.join().unwrap_or_default());
        f
    });
    let passed = all.len() - failed.len();
    println!(
        "helm corpus: {passed}/{} byte-identical; failing: {failed:?}",
        all.len()
    );
    assert!(
        passed >= FLOOR,
        "pass count {passed} fell below the floor {FLOOR}; failing: {failed:?}"
    );
}
