//! kube-rs clients against the embedded server: CRUD, patches, server-side apply,
//! watchers (with and without streaming lists) and a `Controller` reconciling.

use futures::{StreamExt, TryStreamExt};
use gitops_apiserver::{Config, Server};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{Controller, controller::Action};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn client(server: &gitops_apiserver::ServerHandle) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "data": {"key": value}
    }))
    .unwrap()
}

#[tokio::test]
async fn crud_patch_apply_and_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new(dir.path())).await.unwrap();
    let client = client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = api
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap();
    let rv1 = created.metadata.resource_version.clone().unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let err = api
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"));

    // Optimistic concurrency: a stale resourceVersion is a 409 Conflict.
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some([("key".to_string(), "2".to_string())].into());
    api.replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.data = Some([("key".to_string(), "3".to_string())].into());
    let err = api
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"));

    // Merge patch and JSON patch.
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"other": "x"}})),
    )
    .await
    .unwrap();
    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    json!([{"op": "replace", "path": "/data/key", "value": "4"}]),
                )
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["key"], "4");
    assert_ne!(patched.metadata.resource_version.unwrap(), rv1);

    // Server-side apply with two managers: conflict unless forced.
    let ssa = |m: &str| PatchParams::apply(m);
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "one"}});
    api.patch("b", &ssa("first"), &Patch::Apply(&cfg))
        .await
        .unwrap();
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "two"}});
    let err = api
        .patch("b", &ssa("second"), &Patch::Apply(&other))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message.contains("conflict with \"first\"")),
        "{err:?}"
    );
    let forced = api
        .patch("b", &ssa("second").force(), &Patch::Apply(&other))
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["k"], "two");
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["second"]);

    // Label selectors, field selectors and pagination.
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("page-{i}"), "v"))
            .await
            .unwrap();
    }
    let page = api
        .list(&ListParams::default().labels("app=demo").limit(2))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("a continue token");
    let rest = api
        .list(
            &ListParams::default()
                .labels("app=demo")
                .continue_token(&token),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len() + rest.items.len(), 6);
    let one = api
        .list(&ListParams::default().fields("metadata.name=page-3"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);

    // Dry run changes nothing.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&dry, &cm("ghost", "x")).await.unwrap();
    assert!(api.get_opt("ghost").await.unwrap().is_none());

    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("a").await.unwrap().is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn watchers_see_changes_with_and_without_streaming_lists() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new(dir.path())).await.unwrap();
    let client = client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("before", "1"))
        .await
        .unwrap();

    for streaming in [false, true] {
        let cfg = if streaming {
            watcher::Config::default()
                .streaming_lists()
                .labels("app=demo")
        } else {
            watcher::Config::default().labels("app=demo")
        };
        let mut stream = watcher::watcher(api.clone(), cfg).boxed();
        let mut seen_init = false;
        while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            match ev {
                Event::InitApply(o) => {
                    assert_eq!(o.metadata.name.as_deref(), Some("before"));
                    seen_init = true;
                }
                Event::InitDone => break,
                _ => {}
            }
        }
        assert!(seen_init, "streaming={streaming}: initial object listed");
        let name = format!("after-{streaming}");
        api.create(&PostParams::default(), &cm(&name, "1"))
            .await
            .unwrap();
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Event::Apply(o) = ev
                && o.metadata.name.as_deref() == Some(name.as_str())
            {
                break;
            }
        }
        api.delete(&name, &DeleteParams::default()).await.unwrap();
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Event::Delete(o) = ev
                && o.metadata.name.as_deref() == Some(name.as_str())
            {
                break;
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_controller_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new(dir.path())).await.unwrap();
    let client = client(&server).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    // For every Namespace, the controller writes a ConfigMap in `default` naming it.
    let ctx = Arc::new(client.clone());
    let controller = Controller::new(namespaces.clone(), watcher::Config::default())
        .owns(cms.clone(), watcher::Config::default())
        .run(
            |ns: Arc<Namespace>, ctx: Arc<kube::Client>| async move {
                let name = ns.metadata.name.clone().unwrap_or_default();
                let api: Api<ConfigMap> = Api::namespaced((*ctx).clone(), "default");
                let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": format!("seen-{name}")}, "data": {"namespace": name}});
                api.patch(&format!("seen-{name}"), &PatchParams::apply("test-controller").force(), &Patch::Apply(&cfg))
                    .await?;
                Ok::<_, kube::Error>(Action::await_change())
            },
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            ctx,
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap(),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(c) = cms.get_opt("seen-team-a").await.unwrap() {
            assert_eq!(c.data.unwrap()["namespace"], "team-a");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "controller did not reconcile"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Pre-existing namespaces were reconciled too.
    assert!(cms.get_opt("seen-default").await.unwrap().is_some());
    handle.abort();
    server.shutdown().await;
}

/// ObjectMeta's maps and lists are `omitempty` in Kubernetes: empty ones are not stored,
/// so they read back absent (what Go clients and `flux export` see).
#[tokio::test]
async fn empty_metadata_maps_and_lists_read_back_absent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new(dir.path())).await.unwrap();
    let client = client(&server).await;
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client,
        "default",
        &kube::api::ApiResource::erase::<ConfigMap>(&()),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "empty", "labels": {}, "annotations": {}, "finalizers": []},
        "data": {"key": "v"}
    }))
    .unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
    let got = serde_json::to_value(api.get("empty").await.unwrap()).unwrap();
    for k in ["labels", "annotations", "finalizers"] {
        assert!(got["metadata"].get(k).is_none(), "{k}: {got}");
    }
    // A patch that empties a map removes it too.
    api.patch(
        "empty",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "empty",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": null}}})),
    )
    .await
    .unwrap();
    let got = serde_json::to_value(api.get("empty").await.unwrap()).unwrap();
    assert!(got["metadata"].get("labels").is_none(), "{got}");
}
