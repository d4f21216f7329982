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

/// Builds `dir` and checks it fails with kustomize's error: `<case>.expected-error.txt` holds
/// the message `kubectl kustomize` printed (after `error: `, paths relative to `tests/cases`);
/// ours must contain it.
fn check_error(case: &str, dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let want = std::fs::read_to_string(root.join(format!("{case}.expected-error.txt")))
        .expect("expected error is committed");
    let want = want.trim_end();
    match build_to_string(&root.join(dir), &BuildOptions::default()) {
        Ok(_) => panic!("{case}: build succeeded, kustomize fails with: {want}"),
        Err(e) => {
            let got = e.to_string().replace(&format!("{}/", root.display()), "");
            assert!(
                got.contains(want),
                "{case}: error differs from kubectl kustomize:\n ours: {got}\n want: {want}"
            );
        }
    }
}

#[test]
fn vars_fields_overlays_types_components_and_lookups() {
    check("vars/fields", "vars/fields");
    check("vars/overlay", "vars/overlay/overlay");
    check("vars/types", "vars/types/multi");
    check("vars/component", "vars/component/gen");
    check("vars/lookup", "vars/lookup");
}

#[test]
fn vars_errors() {
    for case in ["dup", "nomatch", "noapi", "badfield", "nonstrseq", "multi"] {
        check_error(
            &format!("vars/errors/{case}"),
            &format!("vars/errors/{case}"),
        );
    }
    check_error("vars/errors/dupbase", "vars/errors/dupbase/overlay");
}

#[test]
fn generator_options_inherited_merged_and_replaced() {
    for case in ["base", "merge", "replace", "nohash", "hashoff"] {
        check(
            &format!("generator-options/inherit-{case}"),
            &format!("generator-options/inherit/{case}"),
        );
    }
    for case in ["ov", "ov2", "ov3"] {
        check(
            &format!("generator-options/overlays-{case}"),
            &format!("generator-options/overlays/{case}"),
        );
    }
    check_error(
        "generator-options/overlays-create",
        "generator-options/overlays/create",
    );
}

#[test]
fn name_references_defaults_annotations_custom_configs_and_namespaces() {
    check("namereference/defaults", "namereference/defaults");
    check("namereference/custom-base", "namereference/custom/base");
    check("namereference/custom-overlay", "namereference/custom/ov");
    check("namereference/namespaces", "namereference/namespaces/top");
}

#[test]
fn namespace_values_blank_null_and_not_dns_labels() {
    // kustomize v5.7.1 takes any string (even one that is no DNS label) and treats a blank
    // or null namespace as absent
    for case in [
        "blank", "tilde", "upper", "under", "long", "dash", "ok63", "res", "space",
    ] {
        check(&format!("namespaces/{case}"), &format!("namespaces/{case}"));
    }
}

#[test]
fn kustomization_string_fields_reject_numbers_and_booleans() {
    check_error("namespaces/num", "namespaces/num");
    for case in ["bool", "prefix", "labels", "hex"] {
        check_error(
            &format!("namespaces/types/{case}"),
            &format!("namespaces/types/{case}"),
        );
    }
}

#[test]
fn marshal_unicode_escapes_nel_folding_and_floats() {
    check("marshal/unicode", "marshal/unicode");
}

#[test]
fn marshal_errors_control_characters_infinities_and_broken_keys() {
    for case in ["control", "inf", "nelkey"] {
        check_error(
            &format!("marshal/errors/{case}"),
            &format!("marshal/errors/{case}"),
        );
    }
}

#[test]
fn label_and_annotation_selectors_as_apimachinery_parses_them() {
    check("selectors/ok", "selectors/ok");
    for i in 1..=6 {
        check_error(
            &format!("selectors/errors/e{i}"),
            &format!("selectors/errors/e{i}"),
        );
    }
}

#[test]
fn strategic_merge_with_built_in_patch_metadata() {
    check("smp-builtin", "smp-builtin");
}
