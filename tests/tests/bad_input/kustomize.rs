//! Hostile kustomizations: each fails with an error that names the file, line or field, and
//! none costs more than a bounded amount of memory (measured by the allocator, not timed).

use gitops_kustomize::{BuildOptions, build_to_string};
use std::path::{Path, PathBuf};

use crate::ALLOC;

/// What a hostile build may cost at most (the alias bombs below expand to ~100 MB, and
/// several GiB in our earlier reader).
const CAP: usize = 256 << 20;
const BOUND: usize = 32 << 20;

fn seed(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/yaml")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Writes `files` into a fresh directory and builds `dir` in it (RootOnly), measuring the
/// build's peak heap.
fn build(files: &[(&str, &str)], dir: &str) -> (Result<String, String>, usize, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    let root = tmp.path().canonicalize().expect("canonical");
    let (out, peak) = ALLOC.measure(CAP, || {
        build_to_string(&root.join(dir), &BuildOptions::default()).map_err(|e| e.to_string())
    });
    drop(tmp);
    (out, peak, root)
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";

#[test]
fn alias_bomb_in_a_resource_is_refused() {
    let bomb = seed("alias-bomb-7-configmap.yaml");
    let (out, peak, root) = build(
        &[
            ("kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("cm.yaml", &bomb),
        ],
        "",
    );
    let err = out.expect_err("an alias bomb is refused");
    assert_eq!(
        err,
        format!(
            "{}: invalid YAML at line 9, column 22: document contains excessive aliasing",
            root.join("cm.yaml").display()
        )
    );
    eprintln!("peak heap: {peak} bytes");
    assert!(peak < BOUND, "peak heap {peak} bytes");
}

#[test]
fn alias_bomb_in_the_kustomization_is_refused() {
    let bomb = seed("alias-bomb-9.yaml");
    let k = format!(
        "resources:\n- cm.yaml\nx:\n  {}",
        bomb.replace('\n', "\n  ")
    );
    let (out, peak, root) = build(&[("kustomization.yaml", &k), ("cm.yaml", CM)], "");
    let err = out.expect_err("an alias bomb is refused");
    assert!(
        err.starts_with(&format!(
            "{}: invalid YAML at line 7,",
            root.join("kustomization.yaml").display()
        )) && err.ends_with("document contains excessive aliasing"),
        "{err}"
    );
    eprintln!("peak heap: {peak} bytes");
    assert!(peak < BOUND, "peak heap {peak} bytes");
}

#[test]
fn ordinary_anchors_still_build() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l {app: x}\n  annotations: *l\n";
    let (out, peak, _) = build(
        &[
            ("kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("cm.yaml", cm),
        ],
        "",
    );
    let out = out.expect("builds");
    assert!(out.contains("annotations:\n    app: x\n"), "{out}");
    assert!(peak < BOUND);
}

#[test]
fn duplicate_keys_in_a_resource_are_an_error_as_in_kustomize() {
    let dup = seed("duplicate-key.yaml");
    let (out, _, root) = build(
        &[
            ("kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("cm.yaml", &dup),
        ],
        "",
    );
    // kustomize: `line 5: mapping key "metadata" already defined at line 3`
    assert_eq!(
        out.expect_err("refused"),
        format!(
            "{}: invalid YAML at line 5, column 1: mapping key \"metadata\" already defined at line 3",
            root.join("cm.yaml").display()
        )
    );
}

#[test]
fn duplicate_keys_elsewhere_read_as_kustomize_reads_them() {
    // kustomization.yaml (go-yaml v2): the last wins; a patch (kyaml nodes): the first wins
    let k = "resources:\n- cm.yaml\nnamePrefix: x-\nnamePrefix: y-\npatches:\n- path: p.yaml\n";
    let p = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"1\"\ndata:\n  j: \"2\"\n";
    let (out, _, _) = build(
        &[("kustomization.yaml", k), ("cm.yaml", CM), ("p.yaml", p)],
        "",
    );
    assert_eq!(
        out.expect("builds"),
        "apiVersion: v1\ndata:\n  k: \"1\"\nkind: ConfigMap\nmetadata:\n  name: y-a\n"
    );
}

#[test]
fn files_outside_the_root_name_the_kustomization_and_field() {
    let cases = [
        (
            "resources:\n- ../cm.yaml\n",
            "accumulating resources from '../cm.yaml'",
        ),
        (
            "resources:\n- cm.yaml\npatches:\n- path: ../cm.yaml\n",
            "patches: '../cm.yaml'",
        ),
        (
            "resources:\n- cm.yaml\npatchesStrategicMerge:\n- ../cm.yaml\n",
            "patchesStrategicMerge: '../cm.yaml'",
        ),
        (
            "resources:\n- cm.yaml\npatchesJson6902:\n- path: ../cm.yaml\n  target: {kind: ConfigMap, name: a}\n",
            "patchesJson6902: '../cm.yaml'",
        ),
        (
            "configMapGenerator:\n- name: x\n  files:\n  - ../cm.yaml\n",
            "configMapGenerator 'x': files: '../cm.yaml'",
        ),
        (
            "configMapGenerator:\n- name: x\n  envs:\n  - ../cm.yaml\n",
            "configMapGenerator 'x': envs: '../cm.yaml'",
        ),
        (
            "secretGenerator:\n- name: s\n  files:\n  - k=../cm.yaml\n",
            "secretGenerator 's': files: '../cm.yaml'",
        ),
        (
            "resources:\n- cm.yaml\nconfigurations:\n- ../cm.yaml\n",
            "configurations: '../cm.yaml'",
        ),
        (
            "resources:\n- cm.yaml\ncrds:\n- ../cm.yaml\n",
            "crds: '../cm.yaml'",
        ),
        (
            "resources:\n- cm.yaml\ntransformers:\n- ../cm.yaml\n",
            "transformers: '../cm.yaml'",
        ),
        ("generators:\n- ../cm.yaml\n", "generators: '../cm.yaml'"),
    ];
    for (k, field) in cases {
        let (out, _, root) = build(
            &[
                ("cm.yaml", CM),
                ("app/kustomization.yaml", k),
                ("app/cm.yaml", CM),
            ],
            "app",
        );
        assert_eq!(
            out.expect_err(k),
            format!(
                "{}: {field}: security; file '{}' is not in or below '{}'",
                root.join("app/kustomization.yaml").display(),
                root.join("cm.yaml").display(),
                root.join("app").display()
            ),
            "{k}"
        );
    }
}

/// Map keys on which go-yaml's key order has a cycle (`"1" < "01" < "0a" < "1"`, found by the
/// `kustomize_yaml` and `helm_values` fuzz targets: the key sort panicked) are printed, in a
/// short map and a long one; so are the fuzzers' own inputs, or they fail with an error.
#[test]
fn keys_in_a_cycle_of_the_key_order_are_printed() {
    let cms = seed("key-order-cycle.yaml");
    let (out, peak, _) = build(
        &[
            ("kustomization.yaml", "resources:\n- cms.yaml\n"),
            ("cms.yaml", &cms),
        ],
        "",
    );
    let out = out.expect("the ConfigMaps build");
    for key in ["\"1\": v", "\"01\": v", "0a: v", "x0a: v", "c10: v"] {
        assert!(out.contains(key), "{key} missing from\n{out}");
    }
    assert!(peak < BOUND, "peak heap {peak} bytes");
    for found in [
        "found-kustomize-yaml-key-order.yaml",
        "found-helm-values-key-order.yaml",
    ] {
        let text = seed(found);
        let (docs, peak) = ALLOC.measure(CAP, || {
            gitops_kustomize::yaml::parse_documents(&text).map(|docs| {
                docs.iter()
                    .filter(|d| gitops_kustomize::yaml::to_yaml(&d.value).is_ok())
                    .count()
            })
        });
        eprintln!("{found}: {docs:?}");
        assert!(peak < BOUND, "{found}: peak heap {peak} bytes");
    }
}
