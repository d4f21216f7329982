//! `Applier::diff_object` (Flux's `ResourceManager.Diff`) against the embedded API server.

use gitops_apply::{Action, Applier, ApplyOptions, DiffError, DiffOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;

async fn cluster() -> (
    tempfile::TempDir,
    gitops_apiserver::ServerHandle,
    kube::Client,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = gitops_apiserver::Server::start(gitops_apiserver::Config::new(dir.path()))
        .await
        .unwrap();
    let kc = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    (dir, server, kube::Client::try_from(config).unwrap())
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "default"}, "data": data})
}

#[tokio::test]
async fn created_unchanged_configured_skipped_and_errors() {
    let (_dir, server, client) = cluster().await;
    let a = Applier::new(client, "kustomize-controller");
    let opts = DiffOptions::default();

    let d = a
        .diff_object(&cm("a", json!({"k": "1"})), &opts)
        .await
        .unwrap();
    assert_eq!(d.action, Action::Created);
    assert_eq!(d.object.to_string(), "ConfigMap/default/a");
    assert!(d.live.is_none() && d.merged.is_none());

    a.apply(vec![cm("a", json!({"k": "1"}))], &ApplyOptions::default())
        .await
        .unwrap();
    let d = a
        .diff_object(&cm("a", json!({"k": "1"})), &opts)
        .await
        .unwrap();
    assert_eq!(d.action, Action::Unchanged);

    let d = a
        .diff_object(&cm("a", json!({"k": "2"})), &opts)
        .await
        .unwrap();
    assert_eq!(d.action, Action::Configured);
    let (live, merged) = (d.live.unwrap(), d.merged.unwrap());
    assert_eq!(live["data"]["k"], "1");
    assert_eq!(merged["data"]["k"], "2");
    assert!(live["metadata"].get("managedFields").is_none());
    // a dry run keeps the stored resource version
    assert_eq!(
        live["metadata"]["resourceVersion"],
        merged["metadata"]["resourceVersion"]
    );

    // ignored paths neither count nor show
    let ignore = DiffOptions {
        ignore_paths: vec!["/data/k".into()],
        ..DiffOptions::default()
    };
    let d = a
        .diff_object(&cm("a", json!({"k": "2"})), &ignore)
        .await
        .unwrap();
    assert_eq!(d.action, Action::Unchanged);

    // exclusions skip
    let mut excluded = cm("a", json!({"k": "3"}));
    excluded["metadata"]["annotations"] =
        json!({"kustomize.toolkit.fluxcd.io/reconcile": "disabled"});
    let skip = DiffOptions {
        exclusions: BTreeMap::from([(
            "kustomize.toolkit.fluxcd.io/reconcile".to_owned(),
            "disabled".to_owned(),
        )]),
        ..DiffOptions::default()
    };
    assert_eq!(
        a.diff_object(&excluded, &skip).await.unwrap().action,
        Action::Skipped
    );

    // Secret values never show
    let secret = |v: &str| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "namespace": "default"},
               "data": {"same": "eA==", "changed": v}})
    };
    a.apply(vec![secret("YQ==")], &ApplyOptions::default())
        .await
        .unwrap();
    let d = a.diff_object(&secret("Yg=="), &opts).await.unwrap();
    assert_eq!(d.action, Action::Configured);
    assert_eq!(
        d.live.unwrap()["data"],
        json!({"changed": "*** (before)", "same": "***"})
    );
    assert_eq!(
        d.merged.unwrap()["data"],
        json!({"changed": "*** (after)", "same": "***"})
    );

    // a namespace that does not exist, as Flux words it
    let mut lost = cm("b", json!({}));
    lost["metadata"]["namespace"] = json!("nowhere");
    let e = a.diff_object(&lost, &opts).await.unwrap_err();
    assert!(matches!(e, DiffError::NotFound { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "ConfigMap/nowhere/b not found: namespaces \"nowhere\" not found"
    );
    server.shutdown().await;
}
