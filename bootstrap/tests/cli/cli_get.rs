//! `gitops get …`: Flux's `get_test.go` cases against the embedded API server, plus `-A`,
//! `--no-header`, `get all` and `--watch`.

use crate::common;

use common::{Env, allocate_namespace, assert_error, assert_output, golden};

#[tokio::test]
async fn get_cases() {
    let env = Env::start().await;

    // Test_GetCmd
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    env.create_file("get/objects.yaml", &vars).await;
    for (args, file) in [
        ("", "get/get.golden"),
        (
            "-l sharding.fluxcd.io/key=shard1",
            "get/get_label_one.golden",
        ),
        (
            "-l \"sharding.fluxcd.io/key notin (shard1, shard2)\"",
            "get/get_label_two.golden",
        ),
    ] {
        let run = env.run(&format!("get sources git {args} -n {ns}")).await;
        assert_output(&run, &golden(file, &[]));
    }

    // Test_GetCmdErrors
    assert_error(
        &env.run(&format!("get kustomization non-existent-resource -n {ns}"))
            .await,
        &format!("Kustomization object 'non-existent-resource' not found in \"{ns}\" namespace"),
    );
    assert_error(
        &env.run(&format!("get helmrelease -n {ns}")).await,
        &format!("no HelmRelease objects found in \"{ns}\" namespace"),
    );
    assert_error(
        &env.run(&format!("get sources git --status-selector Ready -n {ns}"))
            .await,
        "expected status selector in type=status or type!=status format, but found: Ready",
    );

    // Test_GetCmdSuccess
    for args in [
        format!("get sources git -n {ns}"),
        "get --help".to_owned(),
        "get sources git -A".to_owned(),
    ] {
        let run = env.run(&args).await;
        assert_eq!(run.code, 0, "{args}: {}", run.output);
    }
    let run = env.run("get sources git -A --no-header").await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains(&format!(
            "{ns}\tpodinfo       \tmain@sha1:696f056d\tFalse\tTrue\t"
        )),
        "{}",
        run.output
    );
    assert!(!run.output.contains("NAMESPACE"), "{}", run.output);

    // `stats`: the three GitRepositories run; a suspended one counts apart.
    let run = env
        .run(&format!("suspend source git podinfo-shard2 -n {ns}"))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    let run = env.run(&format!("stats -n {ns}")).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let lines: Vec<&str> = run.output.lines().collect();
    assert_eq!(
        lines[0],
        "RECONCILERS          \tRUNNING\tFAILING\tSUSPENDED\tSTORAGE "
    );
    assert_eq!(
        lines[1],
        "GitRepository        \t2      \t0      \t1        \t-      \t"
    );
    assert_eq!(lines.len(), 14);
    let run = env
        .run(&format!(
            "resume source git podinfo-shard2 --wait=false -n {ns}"
        ))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);

    // Test_GetCmdStatusSelector
    let ns2 = allocate_namespace("flux-system");
    let vars2 = [("fluxns", ns2.as_str())];
    env.create_file("get/status_objects.yaml", &vars2).await;
    for (args, file) in [
        (
            "--status-selector Ready=True",
            "get/get_status_ready_true.golden",
        ),
        (
            "--status-selector Ready=False",
            "get/get_status_ready_false.golden",
        ),
        (
            "--status-selector Ready!=True",
            "get/get_status_ready_not_true.golden",
        ),
    ] {
        let run = env.run(&format!("get sources git {args} -n {ns2}")).await;
        assert_output(&run, &golden(file, &[]));
    }
    // Test_GetAllCmdStatusSelectorNoMatches
    let run = env
        .run(&format!("get all --status-selector foo=bar -n {ns2}"))
        .await;
    assert_output(&run, "");

    // `stats`: the three GitRepositories run; a suspended one counts apart.
    let run = env
        .run(&format!("suspend source git podinfo-shard2 -n {ns}"))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    let run = env.run(&format!("stats -n {ns}")).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let lines: Vec<&str> = run.output.lines().collect();
    assert_eq!(
        lines[0],
        "RECONCILERS          \tRUNNING\tFAILING\tSUSPENDED\tSTORAGE "
    );
    assert_eq!(
        lines[1],
        "GitRepository        \t2      \t0      \t1        \t-      \t"
    );
    assert_eq!(lines.len(), 14);
    let run = env
        .run(&format!(
            "resume source git podinfo-shard2 --wait=false -n {ns}"
        ))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);

    // Test_GetCmdStatusSelectorSyntheticReady
    let ns3 = allocate_namespace("flux-system");
    env.create_file("get/notification_objects.yaml", &[("fluxns", ns3.as_str())])
        .await;
    for command in ["get alerts", "get alert-providers", "get all"] {
        let unfiltered = env.run(&format!("{command} -n {ns3}")).await;
        assert_eq!(unfiltered.code, 0, "{}", unfiltered.output);
        assert!(!unfiltered.output.is_empty(), "{command}");
        let filtered = env
            .run(&format!("{command} --status-selector Ready=True -n {ns3}"))
            .await;
        assert_eq!(filtered.output, unfiltered.output, "{command}");
    }

    // Test_GetAllCmdStatusSelectorKustomizationOnly{Matches,NoMatch}
    let ns4 = allocate_namespace("flux-system");
    env.create_file("get/kustomization_only.yaml", &[("fluxns", ns4.as_str())])
        .await;
    let unfiltered = env.run(&format!("get all -n {ns4}")).await;
    assert_eq!(
        unfiltered.output,
        "NAME                 \tREVISION          \tSUSPENDED\tREADY\tMESSAGE                              \n\
         kustomization/podinfo\tmain@sha1:696f056d\tFalse    \tTrue \tApplied revision: main@sha1:696f056d\t\n\n"
    );
    let filtered = env
        .run(&format!("get all --status-selector Ready=True -n {ns4}"))
        .await;
    assert_eq!(filtered.output, unfiltered.output);
    let empty = allocate_namespace("empty");
    env.namespace(&empty).await;
    let empty_out = env.run(&format!("get all -n {empty}")).await;
    let filtered = env
        .run(&format!("get all --status-selector Ready=False -n {ns4}"))
        .await;
    assert_eq!(filtered.output, empty_out.output);
    assert_eq!(filtered.output, "");

    // `--watch` on `all` is refused.
    assert_error(
        &env.run(&format!("get all --watch -n {ns4}")).await,
        "expected a single resource type, but found all",
    );
    // `--watch` prints the table, then the changes, until the timeout.
    let watch = {
        let kc = env.kubeconfig().to_path_buf();
        let ns4 = ns4.clone();
        tokio::task::spawn_blocking(move || {
            common::gitops(&format!("get ks --watch --timeout=3s -n {ns4}"), Some(&kc))
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let ks = serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "podinfo", "namespace": ns4}});
    let status = env.get(&ks).await.unwrap()["status"].clone();
    let mut status = status;
    status["conditions"][0]["status"] = "False".into();
    status["conditions"][0]["message"] = "broken".into();
    env.set_status(&ks, status).await;
    let run = watch.await.unwrap();
    assert_eq!(
        run.error().as_deref(),
        Some("timed out waiting for the condition")
    );
    assert!(
        run.output.starts_with(
            "NAME   \tREVISION          \tSUSPENDED\tREADY\tMESSAGE                              \n\
             podinfo\tmain@sha1:696f056d\tFalse    \tTrue \tApplied revision: main@sha1:696f056d\t\n\
             podinfo\tmain@sha1:696f056d\tFalse\tFalse\tbroken\t\n"
        ),
        "{}",
        run.output
    );
}

/// `get artifact generators`: Flux's columns, `Suspended` from the
/// `source.extensions.fluxcd.io/reconcile: disabled` annotation; `tree artifact generator`:
/// the inventory as Flux draws it.
#[tokio::test]
async fn get_artifact_generators() {
    let env = Env::start().await;
    let ns = allocate_namespace("generators");
    env.namespace(&ns).await;
    for (name, annotations) in [
        ("apps", serde_json::json!({})),
        (
            "infra",
            serde_json::json!({"source.extensions.fluxcd.io/reconcile": "Disabled"}),
        ),
    ] {
        let obj = serde_json::json!({
            "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {
                "sources": [{"alias": "repo", "kind": "GitRepository", "name": "repo"}],
                "artifacts": [{"name": name, "copy": [{"from": "@repo/**", "to": "@artifact/"}]}],
            },
        });
        env.create(&obj).await;
        env.set_status(
            &obj,
            serde_json::json!({
                "conditions": [{
                    "type": "Ready", "status": "True", "reason": "Succeeded",
                    "message": "reconciliation succeeded, generated 1 artifact(s)",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }],
                "inventory": [
                    {"name": format!("{name}-one"), "namespace": ns, "digest": "sha256:1", "filename": "1.tar.gz"},
                    {"name": format!("{name}-two"), "namespace": ns, "digest": "sha256:2", "filename": "2.tar.gz"},
                ],
            }),
        )
        .await;
    }
    let run = env.run(&format!("get artifact generators -n {ns}")).await;
    assert_output(
        &run,
        "NAME \tSUSPENDED\tREADY\tMESSAGE                                           
apps \tFalse    \tTrue \treconciliation succeeded, generated 1 artifact(s)\t
infra\tTrue     \tTrue \treconciliation succeeded, generated 1 artifact(s)\t
",
    );
    let run = env
        .run(&format!("tree artifact generator apps -n {ns}"))
        .await;
    assert_output(
        &run,
        &format!(
            "ArtifactGenerator/{ns}/apps\n├── ExternalArtifact/{ns}/apps-one\n└── ExternalArtifact/{ns}/apps-two\n\n"
        ),
    );
    let run = env
        .run(&format!("export artifact generator apps -n {ns}"))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.output,
        format!(
            "---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata:
  name: apps
  namespace: {ns}
spec:
  artifacts:
  - copy:
    - from: '@repo/**'
      to: '@artifact/'
    name: apps
  sources:
  - alias: repo
    kind: GitRepository
    name: repo
"
        )
    );
}
