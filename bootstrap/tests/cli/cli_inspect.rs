//! `gitops tree`, `trace` and `events`: Flux's `tree_kustomization_test.go`,
//! `trace_test.go` and `events_test.go` cases against the embedded API server.

use crate::common;

use common::{Env, allocate_namespace, assert_error, assert_output, golden};
use serde_json::json;
use std::collections::BTreeSet;

/// Go's `time.Time.String()` of a UTC timestamp in the test's time zone (the harness runs
/// the binary with the machine's zone; both sides format the same instant the same way).
fn local(ts: &str) -> String {
    let t: jiff::Timestamp = ts.parse().unwrap();
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S %z %Z")
        .to_string()
}

#[tokio::test]
async fn tree_cases() {
    let env = Env::start().await;
    for (args, golden_file) in [
        ("tree kustomization flux-system", "tree/tree.golden"),
        (
            "tree kustomization flux-system --compact",
            "tree/tree-compact.golden",
        ),
        ("tree kustomization empty", "tree/tree-empty.golden"),
    ] {
        let ns = allocate_namespace("flux-system");
        let vars = [("fluxns", ns.as_str())];
        env.create_file("tree/kustomizations.yaml", &vars).await;
        let run = env.run(&format!("{args} -n={ns}")).await;
        assert_output(&run, &golden(golden_file, &vars));
    }
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    env.create_file("tree/kustomizations.yaml", &vars).await;
    let run = env
        .run(&format!(
            "tree kustomization flux-system --compact -o json -n={ns}"
        ))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    let v: serde_json::Value = serde_json::from_str(&run.output).unwrap();
    assert_eq!(v["resource"]["Name"], "flux-system");
    assert_eq!(v["resource"]["GroupKind"]["Kind"], "Kustomization");
    assert_eq!(
        v["resources"][0]["resources"][0]["resource"]["Namespace"],
        "cert-manager"
    );
    assert_error(
        &env.run(&format!("tree kustomization -n={ns}")).await,
        "kustomization name is required",
    );
    assert_error(
        &env.run(&format!("tree kustomization missing -n={ns}"))
            .await,
        "kustomizations.kustomize.toolkit.fluxcd.io \"missing\" not found",
    );
}

#[tokio::test]
async fn trace_cases() {
    let env = Env::start().await;
    assert_error(
        &env.run("trace").await,
        "either `<resource>/<name>` or `<resource> <name>` is required as an argument",
    );
    let cases = [
        (
            "trace podinfo --kind deployment --api-version=apps/v1",
            "trace/deployment.yaml",
            "trace/deployment.golden",
            vec![
                ("helmReleaseLastReconcile", "2021-07-16T15:42:20Z"),
                ("helmChartLastReconcile", "2021-07-16T15:32:09Z"),
                ("helmRepositoryLastReconcile", "2021-07-11T00:25:46Z"),
            ],
        ),
        (
            "trace podinfo --kind HelmRelease --api-version=helm.toolkit.fluxcd.io/v2",
            "trace/helmrelease.yaml",
            "trace/helmrelease.golden",
            vec![
                ("kustomizationLastReconcile", "2021-08-01T04:52:56Z"),
                ("gitRepositoryLastReconcile", "2021-07-20T00:48:16Z"),
            ],
        ),
        (
            "trace podinfo --kind HelmRelease --api-version=helm.toolkit.fluxcd.io/v2",
            "trace/helmrelease-oci.yaml",
            "trace/helmrelease-oci.golden",
            vec![
                ("kustomizationLastReconcile", "2021-08-01T04:52:56Z"),
                ("ociRepositoryLastReconcile", "2021-07-20T00:48:16Z"),
            ],
        ),
        (
            "trace podinfo --kind deployment --api-version=apps/v1",
            "trace/deployment-hr-ocirepo.yaml",
            "trace/deployment-hr-ocirepo.golden",
            vec![
                ("helmReleaseLastReconcile", "2021-07-16T15:42:20Z"),
                ("ociRepositoryLastReconcile", "2021-07-20T00:48:16Z"),
            ],
        ),
    ];
    for (args, objects, golden_file, times) in cases {
        let ns = allocate_namespace("podinfo");
        let fluxns = allocate_namespace("flux-system");
        let locals: Vec<(String, String)> = times
            .iter()
            .map(|(k, t)| (k.to_string(), local(t)))
            .collect();
        let mut vars: Vec<(&str, &str)> = vec![("ns", ns.as_str()), ("fluxns", fluxns.as_str())];
        vars.extend(locals.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        env.create_file(objects, &vars).await;
        let run = env.run(&format!("{args} -n={ns}")).await;
        assert_output(&run, &golden(golden_file, &vars));
        // kubectl-style arguments find the same object through discovery, under the kind
        // the server gives.
        if args.contains("--kind deployment") {
            let expected =
                golden(golden_file, &vars).replace("deployment/podinfo", "Deployment/podinfo");
            for dynamic in ["trace deployment/podinfo", "trace deployments podinfo"] {
                let run = env.run(&format!("{dynamic} -n={ns}")).await;
                assert_output(&run, &expected);
            }
        }
    }
    // An object no Flux controller manages.
    let ns = allocate_namespace("plain");
    env.namespace(&ns).await;
    env.create(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": ns}}))
        .await;
    let run = env.run(&format!("trace configmap cm -n={ns}")).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains(&format!(
            "failed to trace ConfigMap/cm in namespace {ns}: object not managed by Flux"
        )),
        "{}",
        run.output
    );
}

/// The rows of a `gitops events` table, without padding.
fn rows(output: &str) -> BTreeSet<Vec<String>> {
    output
        .lines()
        .skip(1)
        .map(|l| {
            l.trim_end_matches('\t')
                .split('\t')
                .map(|c| c.trim_end().to_owned())
                .collect()
        })
        .collect()
}

fn set(rows: &[&[&str]]) -> BTreeSet<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn events_cases() {
    let env = Env::start().await;
    env.namespace("flux-system").await;
    let text = golden("events/objects.yaml", &[]);
    let mut objects = Vec::new();
    for doc in gitops_kustomize::yaml::parse_documents(&text).unwrap() {
        if doc.value.is_null() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&gitops_kustomize::yaml::to_go_json(&doc.value)).unwrap();
        if v["kind"] == "Namespace" {
            continue;
        }
        env.create(&v).await;
        objects.push(v);
    }
    // Flux's createEvent: an info and an error event for every object.
    for obj in &objects {
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap();
        for (t, msg, reason) in [
            ("info", "Info Message", "Info Reason"),
            ("error", "Error Message", "Error Reason"),
        ] {
            env.create(&json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"namespace": ns, "name": format!("{ns}{ns}{kind}{t}").to_lowercase()},
                "reason": reason, "message": msg, "type": t,
                "involvedObject": {"kind": kind, "namespace": ns, "name": obj["metadata"]["name"]},
            }))
            .await;
        }
    }
    let all = env.run("events -A").await;
    assert_eq!(all.code, 0, "{}", all.output);
    let u = "<unknown>";
    assert_eq!(
        rows(&all.output),
        set(&[
            &[
                "default",
                u,
                "error",
                "Error Reason",
                "HelmRelease/podinfo",
                "Error Message"
            ],
            &[
                "default",
                u,
                "info",
                "Info Reason",
                "HelmRelease/podinfo",
                "Info Message"
            ],
            &[
                "default",
                u,
                "error",
                "Error Reason",
                "ImagePolicy/podinfo",
                "Error Message"
            ],
            &[
                "default",
                u,
                "info",
                "Info Reason",
                "ImagePolicy/podinfo",
                "Info Message"
            ],
            &[
                "default",
                u,
                "error",
                "Error Reason",
                "Kustomization/podinfo",
                "Error Message"
            ],
            &[
                "default",
                u,
                "info",
                "Info Reason",
                "Kustomization/podinfo",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "Alert/webapp",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "Alert/webapp",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "GitRepository/flux-system",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "GitRepository/flux-system",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "HelmChart/default-podinfo",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "HelmChart/default-podinfo",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "HelmRepository/podinfo",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "HelmRepository/podinfo",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "Kustomization/flux-system",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "Kustomization/flux-system",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "Provider/slack",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "Provider/slack",
                "Info Message"
            ],
        ])
    );
    assert!(
        all.output
            .starts_with("NAMESPACE  \tLAST SEEN\tTYPE \tREASON      \tOBJECT"),
        "{}",
        all.output
    );

    let default = env.run("events -n default").await;
    assert_eq!(
        rows(&default.output),
        set(&[
            &[
                u,
                "error",
                "Error Reason",
                "HelmRelease/podinfo",
                "Error Message"
            ],
            &[
                u,
                "info",
                "Info Reason",
                "HelmRelease/podinfo",
                "Info Message"
            ],
            &[
                u,
                "error",
                "Error Reason",
                "ImagePolicy/podinfo",
                "Error Message"
            ],
            &[
                u,
                "info",
                "Info Reason",
                "ImagePolicy/podinfo",
                "Info Message"
            ],
            &[
                u,
                "error",
                "Error Reason",
                "Kustomization/podinfo",
                "Error Message"
            ],
            &[
                u,
                "info",
                "Info Reason",
                "Kustomization/podinfo",
                "Info Message"
            ],
        ])
    );
    let ks = env
        .run("events --for Kustomization/podinfo -n default")
        .await;
    assert_eq!(
        rows(&ks.output),
        set(&[
            &[
                "default",
                u,
                "error",
                "Error Reason",
                "Kustomization/podinfo",
                "Error Message"
            ],
            &[
                "default",
                u,
                "info",
                "Info Reason",
                "Kustomization/podinfo",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "GitRepository/flux-system",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "GitRepository/flux-system",
                "Info Message"
            ],
        ])
    );
    let all_ks = env.run("events --for kustomization -A").await;
    assert_eq!(
        rows(&all_ks.output),
        set(&[
            &[
                "default",
                u,
                "error",
                "Error Reason",
                "Kustomization/podinfo",
                "Error Message"
            ],
            &[
                "default",
                u,
                "info",
                "Info Reason",
                "Kustomization/podinfo",
                "Info Message"
            ],
            &[
                "flux-system",
                u,
                "error",
                "Error Reason",
                "Kustomization/flux-system",
                "Error Message"
            ],
            &[
                "flux-system",
                u,
                "info",
                "Info Reason",
                "Kustomization/flux-system",
                "Info Message"
            ],
        ])
    );
    for selector in ["HelmRelease/podinfo", "helmrelease/podinfo"] {
        let hr = env
            .run(&format!("events --for {selector} -n default"))
            .await;
        assert_eq!(
            rows(&hr.output),
            set(&[
                &[
                    "default",
                    u,
                    "error",
                    "Error Reason",
                    "HelmRelease/podinfo",
                    "Error Message"
                ],
                &[
                    "default",
                    u,
                    "info",
                    "Info Reason",
                    "HelmRelease/podinfo",
                    "Info Message"
                ],
                &[
                    "flux-system",
                    u,
                    "error",
                    "Error Reason",
                    "HelmRepository/podinfo",
                    "Error Message"
                ],
                &[
                    "flux-system",
                    u,
                    "info",
                    "Info Reason",
                    "HelmRepository/podinfo",
                    "Info Message"
                ],
                &[
                    "flux-system",
                    u,
                    "error",
                    "Error Reason",
                    "HelmChart/default-podinfo",
                    "Error Message"
                ],
                &[
                    "flux-system",
                    u,
                    "info",
                    "Info Reason",
                    "HelmChart/default-podinfo",
                    "Info Message"
                ],
            ]),
            "{selector}"
        );
    }
    // Alert → its Provider (same namespace, no namespace column); ImagePolicy → repository.
    let alert = env.run("events --for Alert/webapp -n flux-system").await;
    assert_eq!(rows(&alert.output).len(), 4, "{}", alert.output);
    let policy = env.run("events --for imagepolicy/podinfo -n default").await;
    // Its ImageRepository (acr-podinfo) lives in flux-system: the namespace column shows.
    assert!(policy.output.starts_with("NAMESPACE"), "{}", policy.output);
    assert_eq!(rows(&policy.output).len(), 2, "{}", policy.output);
    // Errors.
    assert_error(
        &env.run("events --for Namespace/flux-system").await,
        "'Namespace' is not a recognized Flux kind",
    );
    assert_error(
        &env.run("events --types Bogus").await,
        "type 'Bogus' not supported. Supported types are Normal, Warning",
    );
    let empty = allocate_namespace("empty");
    env.namespace(&empty).await;
    let run = env.run(&format!("events -n {empty}")).await;
    assert_eq!(run.code, 0);
    assert_eq!(
        run.output,
        format!("✗ No events found in {empty} namespace.\n")
    );
}
