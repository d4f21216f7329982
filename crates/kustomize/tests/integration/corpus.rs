//! Runs the shared kustomize conformance corpus (`../shared/conformance/kustomize` from the
//! workspace root) through the library and checks the byte-identical pass count does not
//! fall below the recorded floor.

use gitops_kustomize::{BuildOptions, build_to_string};
use std::path::PathBuf;

/// Cases passing when the floor was last raised (95 of 95).
const FLOOR: usize = 95;

#[test]
fn conformance_corpus_does_not_regress() {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kustomize");
    let Ok(entries) = std::fs::read_dir(&root) else {
        println!("skipping: no corpus at {}", root.display());
        return;
    };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let (mut passed, mut failed) = (0, Vec::new());
    for case in &names {
        let Ok(run) = std::fs::read_to_string(case.join("run")) else {
            continue;
        };
        let dir = case.join("input").join(run.trim());
        let got = build_to_string(&dir, &BuildOptions::default());
        let ok = match std::fs::read(case.join("expected.yaml")) {
            Ok(want) => got.as_ref().is_ok_and(|g| g.as_bytes() == want.as_slice()),
            Err(_) => got.is_err(),
        };
        if ok {
            passed += 1;
        } else {
            failed.push(
                case.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    println!(
        "corpus: {passed} passed, {} failed: {failed:?}",
        failed.len()
    );
    assert!(
        passed >= FLOOR,
        "conformance fell below the floor: {passed} < {FLOOR}; failing: {failed:?}"
    );
}
