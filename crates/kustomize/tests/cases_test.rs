//! Our own cases for scope the shared corpus does not cover. Each directory under
//! `tests/cases/` holds a kustomization; `<name>.expected.yaml` is what `kubectl kustomize`
//! (kustomize v5.7.1) printed for it.

use gitops_kustomize::{BuildOptions, build_to_string};
use std::path::Path;

fn check(case: &str, dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let want = std::fs::read_to_string(root.join(format!("{case}.expected.yaml")))
        .expect("expected output is committed");
    let got = build_to_string(&root.join(dir), &BuildOptions::default())
        .unwrap_or_else(|e| panic!("{case}: build failed: {e}"));
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{case}: output differs from kubectl kustomize at line {}:\n ours: {:?}\n want: {:?}",
            first + 1,
            got.lines().nth(first),
            want.lines().nth(first)
        );
    }
}

#[test]
fn components_labels_images_replicas() {
    check("components", "components/overlay");
}

#[test]
fn patches_with_selectors_directives_and_json6902() {
    check("patches", "patches");
}

#[test]
fn generators_files_envs_options_and_hashes() {
    check("generators", "generators");
}

#[test]
fn replacements_with_delimiters_and_create() {
    check("replacements", "replacements");
}

#[test]
fn rbac_name_references_and_namespaces() {
    check("rbac", "rbac");
}

#[test]
fn yaml_styles_anchors_numbers_and_quoting() {
    check("yamlstyles", "yamlstyles");
}

#[test]
fn scalar_quoting_folding_and_unicode() {
    check("scalars", "scalars");
}

#[test]
fn document_structure_keys_and_floats() {
    check("documents", "documents");
}

#[test]
fn custom_openapi_schema_merge_keys() {
    check("openapi", "openapi");
}

#[test]
fn crds_managed_by_label_sort_options_binary_data() {
    check("crds", "crds");
}

#[test]
fn workloads_vars_images_replicas_webhooks_and_renames() {
    check("workloads", "workloads");
}

#[test]
fn null_and_empty_metadata_maps() {
    check("empty-metadata", "empty-metadata");
}
