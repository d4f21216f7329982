//! The apply engine against the embedded API server.

use gitops_apply::{
    Action, Applier, ApplyError, ApplyOptions, Inventory, ObjectRef, PruneOptions, WaitOptions,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Cluster {
    _dir: tempfile::TempDir,
    server: Option<gitops_apiserver::ServerHandle>,
    client: kube::Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            // Shut down in the background of the test runtime if it is still there.
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(s.shutdown());
            }
        }
    }
}

async fn cluster_with(simulate: bool) -> Cluster {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config = gitops_apiserver::Config::new(dir.path());
    config.simulate_workloads = simulate;
    let server = gitops_apiserver::Server::start(config).await.unwrap();
    let kc = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Cluster {
        _dir: dir,
        server: Some(server),
        client,
    }
}

async fn cluster() -> Cluster {
    cluster_with(true).await
}

fn applier(c: &Cluster) -> Applier {
    Applier::new(c.client.clone(), "gitops-test")
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "default"}, "data": data})
}

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]
        }
    })
}

fn deployment(name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}
        }
    })
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        wait_crds_timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

fn r(kind_path: &str) -> String {
    kind_path.to_owned()
}

#[tokio::test]
async fn staged_apply_of_crd_namespace_and_custom_resource() {
    let c = cluster().await;
    let a = applier(&c);
    let objects = vec![
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "w1", "namespace": "apps"}, "spec": {"size": 3}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cfg", "namespace": "apps"}, "data": {"a": "1"}}),
        crd(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
    ];

    // A dry run on an empty cluster classifies everything as created and writes nothing,
    // even the custom resource whose CRD is not there yet.
    let dry = a
        .apply(
            objects.clone(),
            &ApplyOptions {
                dry_run: true,
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        dry.lines(),
        [
            "CustomResourceDefinition/widgets.example.com created",
            "Namespace/apps created",
            "ConfigMap/apps/cfg created",
            "Widget/apps/w1 created",
        ]
    );
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    assert!(nss.get_opt("apps").await.unwrap().is_none());

    let cs = a.apply(objects.clone(), &opts()).await.unwrap();
    assert_eq!(
        cs.lines(),
        [
            "CustomResourceDefinition/widgets.example.com created",
            "Namespace/apps created",
            "ConfigMap/apps/cfg created",
            "Widget/apps/w1 created",
        ]
    );
    let inv = Inventory::from_change_set(&cs);
    let ids: Vec<&str> = inv.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
            "_apps__Namespace",
            "apps_cfg__ConfigMap",
            "apps_w1_example.com_Widget",
        ]
    );
    assert_eq!(serde_json::to_value(&inv).unwrap()["entries"][3]["v"], "v1");

    // Applying again changes nothing.
    let again = a.apply(objects.clone(), &opts()).await.unwrap();
    assert!(
        again.entries.iter().all(|e| e.action == Action::Unchanged),
        "{:?}",
        again.lines()
    );
    assert!(!again.has_changes());
    assert_eq!(again.event_text(), "");

    // The custom resource is healthy (no status: current).
    a.wait(
        &inv.refs().unwrap(),
        &WaitOptions {
            timeout: Duration::from_secs(10),
            interval: Duration::from_millis(100),
            fail_fast: true,
            custom: Vec::new(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn created_configured_unchanged_without_writes() {
    let c = cluster().await;
    let a = applier(&c);
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");

    let cs = a
        .apply(vec![cm("one", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/one created"]);
    let rv = cms.get("one").await.unwrap().metadata.resource_version;

    let cs = a
        .apply(vec![cm("one", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/one unchanged"]);
    assert_eq!(cms.get("one").await.unwrap().metadata.resource_version, rv);

    let cs = a
        .apply(vec![cm("one", json!({"k": "2"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/one configured"]);
    assert_eq!(cs.event_text(), "ConfigMap/default/one configured");
    let live = cms.get("one").await.unwrap();
    assert_ne!(live.metadata.resource_version, rv);
    assert_eq!(live.data.unwrap()["k"], "2");

    // A dry run classifies without writing.
    let rv = cms.get("one").await.unwrap().metadata.resource_version;
    let cs = a
        .apply(
            vec![cm("one", json!({"k": "3"})), cm("two", json!({}))],
            &ApplyOptions {
                dry_run: true,
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        cs.to_map(),
        BTreeMap::from([
            (r("ConfigMap/default/one"), Action::Configured),
            (r("ConfigMap/default/two"), Action::Created)
        ])
    );
    assert_eq!(cms.get("one").await.unwrap().metadata.resource_version, rv);
    assert!(cms.get_opt("two").await.unwrap().is_none());

    // Dropping a field we own is drift too.
    let cs = a.apply(vec![cm("one", json!({}))], &opts()).await.unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/one configured"]);
    assert!(
        cms.get("one")
            .await
            .unwrap()
            .data
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn drift_is_reverted() {
    let c = cluster().await;
    let a = applier(&c);
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    a.apply(vec![cm("drift", json!({"k": "desired"}))], &opts())
        .await
        .unwrap();
    cms.patch(
        "drift",
        &PatchParams {
            field_manager: Some("someone-else".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"data": {"k": "changed"}})),
    )
    .await
    .unwrap();
    let cs = a
        .apply(vec![cm("drift", json!({"k": "desired"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/drift configured"]);
    assert_eq!(
        cms.get("drift").await.unwrap().data.unwrap()["k"],
        "desired"
    );
}

fn annotated(mut obj: Value, key: &str, value: &str) -> Value {
    obj["metadata"]["annotations"] = json!({ key: value });
    obj
}

#[tokio::test]
async fn ssa_annotations() {
    let c = cluster().await;
    let a = applier(&c);
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let ssa = "kustomize.toolkit.fluxcd.io/ssa";

    // Ignore: never created.
    let cs = a
        .apply(
            vec![annotated(cm("ignored", json!({})), ssa, "Ignore")],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/ignored skipped"]);
    assert!(cms.get_opt("ignored").await.unwrap().is_none());

    // Ignore on the live object: left alone.
    a.apply(vec![cm("live-ignored", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    cms.patch(
        "live-ignored",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {ssa: "Ignore"}}})),
    )
    .await
    .unwrap();
    let cs = a
        .apply(vec![cm("live-ignored", json!({"k": "2"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/live-ignored skipped"]);
    assert_eq!(
        cms.get("live-ignored").await.unwrap().data.unwrap()["k"],
        "1"
    );

    // IfNotPresent: created once, never updated.
    let cs = a
        .apply(
            vec![annotated(
                cm("once", json!({"k": "1"})),
                ssa,
                "IfNotPresent",
            )],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/once created"]);
    let cs = a
        .apply(
            vec![annotated(
                cm("once", json!({"k": "2"})),
                ssa,
                "IfNotPresent",
            )],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/once skipped"]);
    assert_eq!(cms.get("once").await.unwrap().data.unwrap()["k"], "1");

    // Merge: fields kubectl added stay.
    a.apply(
        vec![annotated(cm("merged", json!({"k": "1"})), ssa, "Merge")],
        &opts(),
    )
    .await
    .unwrap();
    cms.patch(
        "merged",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"data": {"extra": "kept"}})),
    )
    .await
    .unwrap();
    let cs = a
        .apply(
            vec![annotated(cm("merged", json!({"k": "1"})), ssa, "Merge")],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/merged unchanged"]);
    assert_eq!(
        cms.get("merged").await.unwrap().data.unwrap()["extra"],
        "kept"
    );

    // Override (default): kubectl's client-side apply leftovers are taken over: the
    // last-applied annotation goes and the object is reported configured.
    cms.create(
        &Default::default(),
        &serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "taken", "namespace": "default", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"k\":\"1\"}}"}},
            "data": {"k": "1"}}))
        .unwrap(),
    )
    .await
    .unwrap();
    let cs = a
        .apply(
            vec![annotated(cm("taken", json!({"k": "1"})), ssa, "Override")],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/taken configured"]);
    let live = cms.get("taken").await.unwrap();
    assert!(
        !live
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("kubectl.kubernetes.io/last-applied-configuration")
    );
    let cs = a
        .apply(
            vec![annotated(cm("taken", json!({"k": "1"})), ssa, "Override")],
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/taken unchanged"]);
}

#[tokio::test]
async fn immutable_fields_need_force() {
    let c = cluster().await;
    let a = applier(&c);
    let deps: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    a.apply(vec![deployment("app", "a")], &opts())
        .await
        .unwrap();
    let uid = deps.get("app").await.unwrap().metadata.uid;

    let err = a
        .apply(vec![deployment("app", "b")], &opts())
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::Immutable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("Deployment/default/app dry-run failed (Invalid): "),
        "{text}"
    );
    assert!(text.contains("immutable"), "{text}");
    assert_eq!(deps.get("app").await.unwrap().metadata.uid, uid);

    // The force annotation recreates it.
    let forced = annotated(
        deployment("app", "b"),
        "kustomize.toolkit.fluxcd.io/force",
        "enabled",
    );
    let cs = a.apply(vec![forced], &opts()).await.unwrap();
    assert_eq!(cs.lines(), ["Deployment/default/app created"]);
    let live = deps.get("app").await.unwrap();
    assert_ne!(live.metadata.uid, uid);
    let selector = live.spec.unwrap().selector.match_labels.unwrap();
    assert_eq!(selector["app"], "b");

    // So does the force option.
    let cs = a
        .apply(
            vec![deployment("app", "c")],
            &ApplyOptions {
                force: true,
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["Deployment/default/app created"]);
}

fn owned(mut obj: Value, owner: &str) -> Value {
    obj["metadata"]["labels"] = json!({
        "kustomize.toolkit.fluxcd.io/name": owner,
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    });
    obj
}

#[tokio::test]
async fn prune_respects_annotations_and_owners() {
    let c = cluster().await;
    let a = applier(&c);
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let objects = vec![
        owned(cm("stale", json!({})), "app"),
        annotated(
            owned(cm("keep", json!({})), "app"),
            "kustomize.toolkit.fluxcd.io/prune",
            "disabled",
        ),
        owned(cm("other-owner", json!({})), "someone"),
        owned(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}}),
            "app",
        ),
        owned(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inside", "namespace": "old"}}),
            "app",
        ),
    ];
    let cs = a.apply(objects, &opts()).await.unwrap();
    let old = Inventory::from_change_set(&cs);
    let mut stale = old.stale(&Inventory::default());
    stale.push(ObjectRef::new(
        "",
        "v1",
        "ConfigMap",
        "default",
        "never-existed",
    ));

    let prune = PruneOptions {
        owner_labels: BTreeMap::from([
            ("kustomize.toolkit.fluxcd.io/name".into(), "app".into()),
            (
                "kustomize.toolkit.fluxcd.io/namespace".into(),
                "flux-system".into(),
            ),
        ]),
        wait: true,
        timeout: Duration::from_secs(20),
    };
    let cs = a.prune(&stale, &prune).await.unwrap();
    assert_eq!(
        cs.lines(),
        [
            "ConfigMap/old/inside deleted",
            "ConfigMap/default/stale deleted",
            "ConfigMap/default/other-owner skipped",
            "ConfigMap/default/never-existed skipped",
            "ConfigMap/default/keep skipped",
            "Namespace/old deleted",
        ]
    );
    assert!(cms.get_opt("stale").await.unwrap().is_none());
    assert!(cms.get_opt("keep").await.unwrap().is_some());
    assert!(cms.get_opt("other-owner").await.unwrap().is_some());
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    assert!(nss.get_opt("old").await.unwrap().is_none());
}

#[tokio::test]
async fn wait_times_out_and_fails_fast() {
    let c = cluster_with(false).await;
    let a = applier(&c);
    a.apply(vec![deployment("app", "a")], &opts())
        .await
        .unwrap();
    let app = ObjectRef::new("apps", "v1", "Deployment", "default", "app");
    let err = a
        .wait(
            std::slice::from_ref(&app),
            &WaitOptions {
                timeout: Duration::from_millis(500),
                interval: Duration::from_millis(100),
                fail_fast: true,
                custom: Vec::new(),
            },
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("timeout waiting for: [Deployment/default/app status: 'InProgress'"),
        "{text}"
    );

    // A rollout past its deadline is Failed: the wait stops at once.
    let deps: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    deps.patch_status(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"app-1\" has timed out progressing."}]}})),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let err = a
        .wait(
            std::slice::from_ref(&app),
            &WaitOptions {
                timeout: Duration::from_secs(60),
                interval: Duration::from_millis(100),
                fail_fast: true,
                custom: Vec::new(),
            },
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(matches!(err, ApplyError::WaitFailed(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "failed early due to stalled resources: [Deployment/default/app status: 'Failed': Progress deadline exceeded]"
    );

    // Missing objects are reported NotFound.
    let err = a
        .wait(
            &[ObjectRef::new("", "v1", "ConfigMap", "default", "nope")],
            &WaitOptions {
                timeout: Duration::from_millis(200),
                interval: Duration::from_millis(100),
                fail_fast: true,
                custom: Vec::new(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "timeout waiting for: [ConfigMap/default/nope status: 'NotFound': Resource not found]"
    );
}

#[tokio::test]
async fn simulated_rollout_becomes_current() {
    let c = cluster().await;
    let a = applier(&c);
    a.apply(vec![deployment("web", "web")], &opts())
        .await
        .unwrap();
    a.wait(
        &[ObjectRef::new("apps", "v1", "Deployment", "default", "web")],
        &WaitOptions {
            timeout: Duration::from_secs(20),
            interval: Duration::from_millis(100),
            fail_fast: true,
            custom: Vec::new(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_objects_are_named() {
    let c = cluster().await;
    let a = applier(&c);
    let err = a
        .apply(
            vec![
                cm("fine", json!({})),
                json!({"apiVersion": "v1", "metadata": {"name": "x"}}),
            ],
            &opts(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "object at index 1: missing kind (name x)");

    let err = a
        .apply(
            vec![json!({"apiVersion": "example.com/v9", "kind": "Gadget", "metadata": {"name": "g", "namespace": "default"}})],
            &opts(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Gadget/default/g failed to resolve: no matches for kind \"Gadget\" in version \"example.com/v9\""
    );

    let err = a
        .apply(
            vec![json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nons"}})],
            &opts(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "ConfigMap/nons namespace not specified");

    let err = a
        .apply(
            vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "broken", "namespace": "default"}, "spec": {"replicas": 1}})],
            &opts(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("Deployment/default/broken dry-run failed (Invalid): "),
        "{text}"
    );

    // Secret values do not leak into errors.
    let err = a
        .apply(
            vec![json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "default"}, "type": "Opaque",
                "data": {"bad key!": "c2VjcmV0LXZhbHVl"}})],
            &opts(),
        )
        .await;
    if let Err(e) = err {
        let text = e.to_string();
        assert!(!text.contains("c2VjcmV0LXZhbHVl"), "{text}");
        assert!(!text.contains("secret-value"), "{text}");
    }
}

async fn kubectl_edited(c: &Cluster, a: &Applier) -> Api<ConfigMap> {
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    a.apply(vec![cm("edited", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    cms.patch(
        "edited",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"data": {"extra": "added by hand"}})),
    )
    .await
    .unwrap();
    cms
}

/// Override takes kubectl's fields over: they are removed when the set does not have
/// them. Needs an API server that honours `metadata.managedFields` in writes (Kubernetes
/// does; the embedded server keeps the previous entries).
#[tokio::test]
async fn override_takes_over_kubectl_edits() {
    let c = cluster().await;
    let a = applier(&c);
    let cms = kubectl_edited(&c, &a).await;
    let cs = a
        .apply(vec![cm("edited", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/edited configured"]);
    let live = cms.get("edited").await.unwrap();
    let managers: Vec<String> = live
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        !managers.iter().any(|m| m == "kubectl-edit"),
        "{managers:?}"
    );
    assert!(!live.data.unwrap_or_default().contains_key("extra"));
}

/// On a server that ignores managedFields writes, the takeover is tried once and the
/// object is not reported configured on every apply after that.
#[tokio::test]
async fn takeover_is_not_retried_when_the_server_ignores_it() {
    let c = cluster().await;
    let a = applier(&c);
    kubectl_edited(&c, &a).await;
    let cs = a
        .apply(vec![cm("edited", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/edited configured"]);
    let cs = a
        .apply(vec![cm("edited", json!({"k": "1"}))], &opts())
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["ConfigMap/default/edited unchanged"]);
}

async fn reapply_is_unchanged(service_port: Value) {
    let c = cluster().await;
    let a = applier(&c);
    let objects = vec![
        deployment("web", "web"),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"selector": {"app": "web"}, "ports": [service_port]}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "default"}}),
    ];
    a.apply(objects.clone(), &opts()).await.unwrap();
    // Let the simulated rollout write its status first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cs = a.apply(objects, &opts()).await.unwrap();
    assert_eq!(
        cs.lines(),
        [
            "ServiceAccount/default/web unchanged",
            "Service/default/web unchanged",
            "Deployment/default/web unchanged"
        ]
    );
}

#[tokio::test]
async fn workloads_and_services_are_unchanged_on_reapply() {
    reapply_is_unchanged(json!({"port": 80, "targetPort": 8080, "protocol": "TCP"})).await;
}

/// Service ports are keyed by port and protocol; an applied port without `protocol`
/// must match the live port whose protocol was defaulted to TCP.
#[tokio::test]
async fn services_without_protocol_are_unchanged_on_reapply() {
    reapply_is_unchanged(json!({"port": 80, "targetPort": 8080})).await;
}

#[tokio::test]
async fn secrets_with_string_data_are_unchanged_on_reapply() {
    let c = cluster().await;
    let a = applier(&c);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "creds", "namespace": "default"},
        "stringData": {"password": "hunter2"}});
    let cs = a.apply(vec![secret.clone()], &opts()).await.unwrap();
    assert_eq!(cs.lines(), ["Secret/default/creds created"]);
    let cs = a.apply(vec![secret.clone()], &opts()).await.unwrap();
    assert_eq!(cs.lines(), ["Secret/default/creds unchanged"]);
    let mut changed = secret;
    changed["stringData"]["password"] = json!("correct horse");
    let cs = a.apply(vec![changed], &opts()).await.unwrap();
    assert_eq!(cs.lines(), ["Secret/default/creds configured"]);
}

#[tokio::test]
async fn diff_names_fields_without_values() {
    let c = cluster().await;
    let a = applier(&c);
    a.apply(
        vec![
            cm("same", json!({"k": "1"})),
            cm("changing", json!({"k": "1"})),
        ],
        &opts(),
    )
    .await
    .unwrap();
    let mut labelled = cm("changing", json!({"k": "2"}));
    labelled["metadata"]["labels"] = json!({"team": "a"});
    let drift = a
        .diff(
            vec![
                cm("same", json!({"k": "1"})),
                labelled,
                cm("new", json!({})),
            ],
            &opts(),
        )
        .await
        .unwrap();
    let summary: Vec<(String, Action, Vec<String>)> = drift
        .into_iter()
        .map(|d| (d.object.to_string(), d.action, d.fields))
        .collect();
    assert_eq!(
        summary,
        [
            (
                r("ConfigMap/default/changing"),
                Action::Configured,
                vec![r("metadata.labels.team"), r("data")]
            ),
            (r("ConfigMap/default/new"), Action::Created, vec![]),
            (r("ConfigMap/default/same"), Action::Unchanged, vec![]),
        ]
    );
    // Nothing was written.
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    assert!(cms.get_opt("new").await.unwrap().is_none());
}

#[tokio::test]
async fn duplicates_are_rejected() {
    let c = cluster().await;
    let a = applier(&c);
    let err = a
        .apply(
            vec![
                cm("twice", json!({})),
                cm("other", json!({})),
                cm("twice", json!({})),
            ],
            &opts(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "object at index 2: ConfigMap/default/twice duplicates the object at index 0"
    );
}

#[tokio::test]
async fn new_crd_versions_resolve_after_stage_one() {
    let c = cluster().await;
    let a = applier(&c);
    let widget = |version: &str| {
        json!({"apiVersion": format!("example.com/{version}"), "kind": "Widget",
               "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 1}})
    };
    a.apply(vec![crd(), widget("v1")], &opts()).await.unwrap();
    let mut crd2 = crd();
    let mut v2 = crd2["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    crd2["spec"]["versions"].as_array_mut().unwrap().push(v2);
    let cs = a.apply(vec![crd2, widget("v2")], &opts()).await.unwrap();
    assert_eq!(
        cs.lines(),
        [
            "CustomResourceDefinition/widgets.example.com configured",
            "Widget/default/w unchanged"
        ]
    );
    assert_eq!(cs.entries[1].object.version, "v2");
}

#[tokio::test]
async fn job_template_changes_recreate_only_when_forced() {
    let c = cluster().await;
    let a = applier(&c);
    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "default"},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                   "containers": [{"name": "m", "image": image}]}}}})
    };
    a.apply(vec![job("tool:1")], &opts()).await.unwrap();
    let err = a.apply(vec![job("tool:2")], &opts()).await.unwrap_err();
    assert!(matches!(err, ApplyError::Immutable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("Job/default/migrate dry-run failed (Invalid)")
    );
    let forced = ApplyOptions {
        force: true,
        ..opts()
    };
    let cs = a.apply(vec![job("tool:2")], &forced).await.unwrap();
    assert_eq!(cs.lines(), ["Job/default/migrate created"]);
    // A dry run with force does not delete anything.
    let cs = a
        .apply(
            vec![job("tool:3")],
            &ApplyOptions {
                dry_run: true,
                ..forced
            },
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["Job/default/migrate created"]);
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(c.client.clone(), "default");
    let live = jobs.get("migrate").await.unwrap();
    let image = live.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("tool:2"));
}

#[tokio::test]
async fn custom_stage_kinds_go_before_the_rest() {
    let c = cluster().await;
    let a = applier(&c).with_custom_stage_kinds([(String::new(), "ConfigMap".to_owned())]);
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "default"}}),
        cm("first", json!({})),
    ];
    let cs = a.apply(objects.clone(), &opts()).await.unwrap();
    assert_eq!(
        cs.lines(),
        [
            "ConfigMap/default/first created",
            "ServiceAccount/default/sa created"
        ]
    );
    // Without the custom stage, Flux's kind order puts ServiceAccounts first.
    let cs = applier(&c).apply(objects, &opts()).await.unwrap();
    assert_eq!(
        cs.lines(),
        [
            "ServiceAccount/default/sa unchanged",
            "ConfigMap/default/first unchanged"
        ]
    );
}

#[tokio::test]
async fn prune_and_wait_find_kinds_at_another_version() {
    let c = cluster().await;
    let a = applier(&c);
    a.apply(
        vec![
            crd(),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "w", "namespace": "default"}}),
        ],
        &opts(),
    )
    .await
    .unwrap();
    // Recorded at a version the CRD no longer serves.
    let old = ObjectRef::new("example.com", "v1alpha1", "Widget", "default", "w");
    a.wait(
        std::slice::from_ref(&old),
        &WaitOptions {
            timeout: Duration::from_secs(5),
            interval: Duration::from_millis(100),
            fail_fast: true,
            custom: Vec::new(),
        },
    )
    .await
    .unwrap();
    let cs = a
        .prune(
            &[old],
            &PruneOptions {
                wait: true,
                timeout: Duration::from_secs(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["Widget/default/w deleted"]);
    // A kind no cluster serves is skipped.
    let cs = a
        .prune(
            &[ObjectRef::new(
                "nowhere.example.com",
                "v1",
                "Ghost",
                "default",
                "g",
            )],
            &PruneOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(cs.lines(), ["Ghost/default/g skipped"]);
}
