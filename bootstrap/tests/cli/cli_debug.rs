//! `gitops debug kustomization|helmrelease`: Flux's `debug_kustomization_test.go` and
//! `debug_helmrelease_test.go` cases against the embedded API server.

use crate::common;

use common::{Env, allocate_namespace, assert_error, assert_output, golden};

#[tokio::test]
async fn debug_kustomization() {
    let env = Env::start().await;
    let ns = allocate_namespace("debug");
    let vars = [("fluxns", ns.as_str())];
    env.create_file("debug_kustomization/objects.yaml", &vars)
        .await;
    for (args, file) in [
        (
            "debug ks test --show-status --show-vars=false",
            "debug_kustomization/status.golden.yaml",
        ),
        (
            "debug ks test --show-vars --show-status=false",
            "debug_kustomization/vars.golden.env",
        ),
        (
            "debug ks test-from --show-vars --show-status=false",
            "debug_kustomization/vars-from.golden.env",
        ),
        (
            "debug ks test-with-history --show-history --show-status=false",
            "debug_kustomization/history.golden.yaml",
        ),
        (
            "debug ks test --show-history --show-status=false",
            "debug_kustomization/history-empty.golden.yaml",
        ),
    ] {
        let run = env.run(&format!("{args} -n={ns}")).await;
        assert_output(&run, &golden(file, &vars));
    }
    assert_error(
        &env.run(&format!("debug ks test --show-status --show-vars -n={ns}"))
            .await,
        "exactly one of --show-status, --show-vars, or --show-history must be set",
    );
    assert_error(
        &env.run(&format!("debug ks missing --show-status -n={ns}"))
            .await,
        "kustomizations.kustomize.toolkit.fluxcd.io \"missing\" not found",
    );
}

#[tokio::test]
async fn debug_helmrelease() {
    let env = Env::start().await;
    let ns = allocate_namespace("debug");
    let vars = [("fluxns", ns.as_str())];
    env.create_file("debug_helmrelease/objects.yaml", &vars)
        .await;
    for (args, file) in [
        (
            "debug helmrelease test-values-inline --show-status --show-values=false",
            "debug_helmrelease/status.golden.yaml",
        ),
        (
            "debug helmrelease test-values-inline --show-values --show-status=false",
            "debug_helmrelease/values-inline.golden.yaml",
        ),
        (
            "debug helmrelease test-values-from --show-values --show-status=false",
            "debug_helmrelease/values-from.golden.yaml",
        ),
        (
            "debug helmrelease test-with-history --show-history --show-status=false",
            "debug_helmrelease/history.golden.yaml",
        ),
        (
            "debug helmrelease test-values-inline --show-history --show-status=false",
            "debug_helmrelease/history-empty.golden.yaml",
        ),
    ] {
        let run = env.run(&format!("{args} -n={ns}")).await;
        assert_output(&run, &golden(file, &vars));
    }
    assert_error(
        &env.run(&format!("debug hr test-values-inline -n={ns}"))
            .await,
        "exactly one of --show-status, --show-values, or --show-history must be set",
    );
}
