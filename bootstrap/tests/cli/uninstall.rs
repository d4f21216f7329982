//! `gitops uninstall` against the embedded API server: the installation goes, what the
//! controllers applied stays.

use crate::common;

use serde_json::{Value, json};

const INSTALL: &str = "install --components=source-controller,kustomize-controller";

/// A Kustomization with kustomize-controller's finalizer and a ConfigMap it "applied"
/// (labelled as kustomize-controller labels what it applies).
fn kustomization(ns: &str) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {
            "name": "apps",
            "namespace": ns,
            "finalizers": ["finalizers.fluxcd.io"],
        },
        "spec": {
            "interval": "10m",
            "path": "./apps",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        },
    })
}

fn applied_config_map(ns: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "app-config",
            "namespace": ns,
            "labels": {
                "kustomize.toolkit.fluxcd.io/name": "apps",
                "kustomize.toolkit.fluxcd.io/namespace": ns,
            },
        },
        "data": {"key": "value"},
    })
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "flux-system"}})
}

fn crd(name: &str) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name}})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn cluster_role(name: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}})
}

async fn installed(env: &common::Env) {
    let run = env.run(INSTALL).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let ns = "apps";
    env.namespace(ns).await;
    env.create(&kustomization(ns)).await;
    env.create(&applied_config_map(ns)).await;
}

/// Everything installed goes, in Flux's order and with Flux's lines; the Kustomization
/// loses its finalizer (so deleting its CRD removes it without a controller) and the
/// ConfigMap it applied stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_removes_the_installation_and_keeps_what_was_applied() {
    let env = common::Env::start().await;
    installed(&env).await;

    let run = env.run("uninstall --silent").await;
    assert_eq!(run.code, 0, "{}", run.output);
    let lines: Vec<&str> = run.output.lines().collect();
    let expected_head = [
        "► deleting components in flux-system namespace",
        "✔ Deployment/flux-system/kustomize-controller deleted ",
        "✔ Deployment/flux-system/source-controller deleted ",
        "✔ Service/flux-system/source-controller deleted ",
        "✔ NetworkPolicy/flux-system/allow-egress deleted ",
        "✔ NetworkPolicy/flux-system/allow-scraping deleted ",
        "✔ ServiceAccount/flux-system/kustomize-controller deleted ",
        "✔ ServiceAccount/flux-system/source-controller deleted ",
        "✔ ClusterRole/crd-controller-flux-system deleted ",
        "✔ ClusterRole/flux-edit-flux-system deleted ",
        "✔ ClusterRole/flux-view-flux-system deleted ",
        "✔ ClusterRoleBinding/cluster-reconciler-flux-system deleted ",
        "✔ ClusterRoleBinding/crd-controller-flux-system deleted ",
        "► deleting toolkit.fluxcd.io finalizers in all namespaces",
        "✔ Kustomization/apps/apps finalizers deleted ",
        "► deleting toolkit.fluxcd.io custom resource definitions",
    ];
    assert_eq!(
        lines[..expected_head.len()],
        expected_head,
        "{}",
        run.output
    );
    // The CRDs of the two controllers (the install labelled them), by name.
    let crd_lines = &lines[expected_head.len()..lines.len() - 2];
    assert_eq!(crd_lines.len(), 7, "{}", run.output);
    let mut sorted = crd_lines.to_vec();
    sorted.sort();
    assert_eq!(sorted, crd_lines, "{}", run.output);
    assert!(crd_lines.contains(
        &"✔ CustomResourceDefinition/kustomizations.kustomize.toolkit.fluxcd.io deleted "
    ));
    assert_eq!(
        lines[lines.len() - 2..],
        ["✔ Namespace/flux-system deleted ", "✔ uninstall finished"],
        "{}",
        run.output
    );

    for d in ["source-controller", "kustomize-controller"] {
        common::wait_gone(&env, &deployment(d)).await;
    }
    common::wait_gone(&env, &cluster_role("crd-controller-flux-system")).await;
    common::wait_gone(&env, &crd("kustomizations.kustomize.toolkit.fluxcd.io")).await;
    common::wait_gone(&env, &crd("gitrepositories.source.toolkit.fluxcd.io")).await;
    common::wait_gone(&env, &namespace("flux-system")).await;
    // Deleting the CRD deleted the Kustomization, finalizer and all: nothing was pruned.
    common::wait_gone(&env, &kustomization("apps")).await;
    let cm = env
        .get(&applied_config_map("apps"))
        .await
        .expect("the applied ConfigMap stays");
    assert_eq!(cm["data"]["key"], "value");
    assert!(env.get(&namespace("apps")).await.is_some());
    // CRDs the installation did not label (the image ones the harness created) stay.
    assert!(
        env.get(&crd("imagepolicies.image.toolkit.fluxcd.io"))
            .await
            .is_some()
    );
}

/// `--keep-namespace` keeps it; `--dry-run` changes nothing and says so on every line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_dry_run_and_keep_namespace() {
    let env = common::Env::start().await;
    installed(&env).await;

    let run = env.run("uninstall --dry-run").await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output
            .contains("✔ Deployment/flux-system/source-controller deleted (dry run)\n"),
        "{}",
        run.output
    );
    assert!(
        run.output
            .contains("✔ Kustomization/apps/apps finalizers deleted (dry run)\n"),
        "{}",
        run.output
    );
    assert!(
        run.output
            .ends_with("✔ Namespace/flux-system deleted (dry run)\n✔ uninstall finished\n"),
        "{}",
        run.output
    );
    for line in run.output.lines() {
        assert!(
            line.starts_with('►') || line.ends_with("(dry run)") || line == "✔ uninstall finished",
            "{line}"
        );
    }
    assert!(env.get(&deployment("source-controller")).await.is_some());
    let k = env.get(&kustomization("apps")).await.expect("kept");
    assert_eq!(k["metadata"]["finalizers"], json!(["finalizers.fluxcd.io"]));
    assert!(
        env.get(&crd("kustomizations.kustomize.toolkit.fluxcd.io"))
            .await
            .is_some()
    );

    let run = env.run("uninstall -s --keep-namespace").await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(!run.output.contains("Namespace/"), "{}", run.output);
    assert!(run.output.ends_with("✔ uninstall finished\n"));
    common::wait_gone(&env, &deployment("source-controller")).await;
    common::wait_gone(&env, &crd("kustomizations.kustomize.toolkit.fluxcd.io")).await;
    // Some time for a namespace deletion to show, had there been one.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ns = env.get(&namespace("flux-system")).await.expect("kept");
    assert!(ns["metadata"]["deletionTimestamp"].is_null());
    assert!(env.get(&applied_config_map("apps")).await.is_some());

    // Once more: nothing left to delete but the namespace, which is kept.
    let run = env.run("uninstall --silent --keep-namespace").await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.output,
        "► deleting components in flux-system namespace\n\
         ► deleting toolkit.fluxcd.io finalizers in all namespaces\n\
         ► deleting toolkit.fluxcd.io custom resource definitions\n\
         ✔ uninstall finished\n"
    );
}

/// Without `--silent` the command asks first; no answer (no terminal) is no.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_asks_before_deleting() {
    let env = common::Env::start().await;
    installed(&env).await;
    let kc = env.kubeconfig().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        common::gitops_with_input("uninstall", Some(&kc), Some("n\n"))
    })
    .await
    .unwrap();
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output.starts_with(
            "Are you sure you want to delete Flux and its custom resource definitions [y/N]: "
        ),
        "{}",
        run.output
    );
    assert!(run.output.ends_with("✗ aborting\n"), "{}", run.output);
    assert!(env.get(&deployment("source-controller")).await.is_some());

    let kc = env.kubeconfig().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        common::gitops_with_input("uninstall --keep-namespace", Some(&kc), Some("y\n"))
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.ends_with("✔ uninstall finished\n"),
        "{}",
        run.output
    );
    common::wait_gone(&env, &deployment("source-controller")).await;
}
