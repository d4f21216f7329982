//! Kubernetes API semantics through a kube-rs client: generation, status subresources,
//! finalizers and deletion timestamps, propagation policies, namespace and CRD deletion,
//! watches from old resource versions, and refusals (auth, size, malformed bodies, names).

use futures::{StreamExt, TryStreamExt};
use gitops_apiserver::{Config, Server, ServerHandle};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use std::time::Duration;

async fn setup() -> (tempfile::TempDir, ServerHandle, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new(dir.path())).await.unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    (dir, server, client)
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn apply() -> PatchParams {
    PatchParams::apply("test").force()
}

const CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "gadgets.example.com"},
  "spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
    "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "status": {"type": "object", "default": {"observedGeneration": -1},
                   "properties": {"observedGeneration": {"type": "integer"}, "ready": {"type": "boolean"}}}}}}}]}}"#;

fn gadgets(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    Api::namespaced_with(client.clone(), "default", &ar)
}

#[tokio::test]
async fn generation_status_and_crd_lifecycle() {
    let (_d, server, client) = setup().await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let crd = crds
        .create(&PostParams::default(), &serde_json::from_str(CRD).unwrap())
        .await
        .unwrap();
    let conds = crd.status.unwrap().conditions.unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );

    let g = gadgets(&client);
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"n": 1}, "status": {"ready": true}});
    let created = g.patch("g", &apply(), &Patch::Apply(&obj)).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    // Status written on the main resource is ignored; the schema default applies.
    assert_eq!(created.data["status"], json!({"observedGeneration": -1}));

    // Metadata changes do not bump generation, spec changes do.
    let labeled = g
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labeled.metadata.generation, Some(1));
    let changed = g
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"n": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));

    // The status subresource changes status only, and not generation.
    let status = g
        .patch_status(
            "g",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"ready": true, "observedGeneration": 2}, "spec": {"n": 99}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["ready"], true);
    assert_eq!(status.data["spec"]["n"], 2);
    assert_eq!(status.metadata.generation, Some(2));

    // Deleting the CRD deletes its objects (waiting for their finalizers), then the CRD.
    g.patch(
        "g",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/keep"]}})),
    )
    .await
    .unwrap();
    crds.delete("gadgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the object to be marked for deletion", || {
        let g = g.clone();
        async move {
            g.get("g")
                .await
                .map(|o| o.metadata.deletion_timestamp.is_some())
                .unwrap_or(false)
        }
    })
    .await;
    assert!(
        crds.get_opt("gadgets.example.com").await.unwrap().is_some(),
        "the CRD waits for its objects"
    );
    g.patch(
        "g",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually("the CRD to go", || {
        let crds = crds.clone();
        async move { crds.get_opt("gadgets.example.com").await.unwrap().is_none() }
    })
    .await;
    // Its kind is no longer served.
    let listed = g.list(&Default::default()).await;
    assert!(
        matches!(&listed, Err(kube::Error::Api(s)) if s.code == 404),
        "{listed:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn finalizers_and_propagation_policies() {
    let (_d, server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = |name: &str| {
        let cms = cms.clone();
        let name = name.to_owned();
        async move {
            cms.patch(
                &name,
                &apply(),
                &Patch::Apply(
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
                ),
            )
            .await
            .unwrap()
        }
    };
    let dependent = |name: &str, owner: &ConfigMap| {
        let cms = cms.clone();
        let name = name.to_owned();
        let uid = owner.metadata.uid.clone().unwrap();
        let owner_name = owner.metadata.name.clone().unwrap();
        async move {
            cms.patch(
                &name,
                &apply(),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner_name, "uid": uid, "blockOwnerDeletion": true}]}})),
            )
            .await
            .unwrap()
        }
    };
    let gone = |name: &'static str| {
        let cms = cms.clone();
        move || {
            let cms = cms.clone();
            async move { cms.get_opt(name).await.unwrap().is_none() }
        }
    };

    // A finalizer holds the object with a deletion timestamp until it is removed.
    let f = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "held", "finalizers": ["example.com/x"]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(f.metadata.deletion_timestamp.is_none());
    let r = cms.delete("held", &DeleteParams::default()).await.unwrap();
    assert!(r.is_left(), "deletion is pending, the object is returned");
    let held = cms.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    let err = cms
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/x", "example.com/y"]}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(s) if s.code == 422),
        "no new finalizers while deleting"
    );
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": []}})),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());

    // Background: the owner goes at once, the dependent follows.
    let o = owner("bg-owner").await;
    dependent("bg-dep", &o).await;
    cms.delete("bg-owner", &DeleteParams::background())
        .await
        .unwrap();
    eventually("background dependent deletion", gone("bg-dep")).await;

    // Foreground: the owner waits for its dependents.
    let o = owner("fg-owner").await;
    dependent("fg-dep", &o).await;
    cms.delete("fg-owner", &DeleteParams::foreground())
        .await
        .unwrap();
    eventually("foreground dependent deletion", gone("fg-dep")).await;
    eventually("the foreground owner to go", gone("fg-owner")).await;

    // Orphan: the dependent stays, without the owner reference.
    let o = owner("or-owner").await;
    dependent("or-dep", &o).await;
    cms.delete("or-owner", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually("the orphaning owner to go", gone("or-owner")).await;
    let dep = cms.get("or-dep").await.unwrap();
    assert!(dep.metadata.owner_references.unwrap_or_default().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn namespace_deletion_and_workload_simulation() {
    let (_d, server, client) = setup().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
    )
    .await
    .unwrap();
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "team");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    deps.patch("web", &apply(), &Patch::Apply(&d))
        .await
        .unwrap();
    eventually("the deployment to become available", || {
        let deps = deps.clone();
        async move {
            let d = deps.get("web").await.unwrap();
            let s = d.status.unwrap_or_default();
            s.observed_generation == d.metadata.generation
                && s.available_replicas == Some(3)
                && s.conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
        }
    })
    .await;
    // The namespace got its default ServiceAccount.
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), "team");
    eventually("the default service account", || {
        let sas = sas.clone();
        async move { sas.get_opt("default").await.unwrap().is_some() }
    })
    .await;

    nss.delete("team", &DeleteParams::default()).await.unwrap();
    eventually("the namespace and its contents to go", || {
        let nss = nss.clone();
        async move { nss.get_opt("team").await.unwrap().is_none() }
    })
    .await;
    assert!(deps.get_opt("web").await.unwrap().is_none());
    // New content in a missing namespace is refused.
    let err = deps
        .patch("web", &apply(), &Patch::Apply(&d))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(s) if s.code == 404 && s.message.contains("namespaces \"team\" not found"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn watch_from_a_resource_version_and_bookmarks() {
    let (_d, server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let a = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap(),
        )
        .await
        .unwrap();
    let rv = a.metadata.resource_version.unwrap();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    // Watching from the creation's version replays the later change.
    let mut stream = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match ev {
        WatchEvent::Modified(o) => assert_eq!(o.data.unwrap()["k"], "v"),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    // Bookmarks come while nothing happens.
    let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(ev, WatchEvent::Bookmark(_)), "{ev:?}");
    // A version older than the server keeps is answered with 410 Gone.
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn refusals_name_the_problem() {
    let (_d, server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Invalid names: 422 with the field.
    let err = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "Not_Valid"}})).unwrap(),
        )
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert!(
                s.message
                    .contains("metadata.name: Invalid value: \"Not_Valid\""),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    // Raw requests: malformed JSON, oversized bodies, unknown paths.
    let raw = |method: &str, path: &str, body: Vec<u8>, ct: &str| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", ct)
            .body(body)
            .unwrap()
    };
    let status_of = |r: Result<String, kube::Error>| match r {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("{e:?}"),
    };
    let r = client
        .request_text(raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b"{not json".to_vec(),
            "application/json",
        ))
        .await;
    assert_eq!(status_of(r), 400);
    let big = format!(
        "{{\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"k\":\"{}\"}}}}",
        "x".repeat(4 << 20)
    );
    let r = client
        .request_text(raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            big.into_bytes(),
            "application/json",
        ))
        .await;
    assert_eq!(status_of(r), 413);
    let r = client
        .request_text(raw(
            "GET",
            "/apis/nope.example.com/v1/things",
            Vec::new(),
            "application/json",
        ))
        .await;
    assert_eq!(status_of(r), 404);

    // Without the token: 401.
    let mut kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig()).unwrap();
    for u in &mut kc.auth_infos {
        if let Some(info) = u.auth_info.as_mut() {
            info.token = None;
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let anonymous = kube::Client::try_from(config).unwrap();
    let err = Api::<ConfigMap>::namespaced(anonymous, "default")
        .list(&Default::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 401),
        "{err:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn arbitrary_requests_never_break_the_server() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as PtConfig, TestRunner};
    let (_d, server, client) = setup().await;
    let segments = prop::sample::select(vec![
        "api",
        "apis",
        "v1",
        "namespaces",
        "default",
        "configmaps",
        "apps",
        "deployments",
        "status",
        "scale",
        "finalize",
        "watch",
        "x",
        "",
        "..",
        "%2F",
        "customresourcedefinitions",
        "apiextensions.k8s.io",
    ]);
    let strategy = (
        prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]),
        prop::collection::vec(segments, 0..7),
        prop::sample::select(vec![
            "",
            "watch=true&timeoutSeconds=1",
            "limit=1&continue=garbage",
            "labelSelector=a+in+(",
            "fieldSelector=spec.x=1",
            "dryRun=All",
            "fieldManager=x&force=true",
            "resourceVersion=999999&watch=1&timeoutSeconds=1",
            "propagationPolicy=Nope",
        ]),
        prop::sample::select(vec![
            "application/json",
            "application/yaml",
            "application/apply-patch+yaml",
            "application/merge-patch+json",
            "application/json-patch+json",
            "application/strategic-merge-patch+json",
            "application/vnd.kubernetes.protobuf",
        ]),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::sample::select(vec![
            "",
            "{}",
            "[]",
            "null",
            "{\"metadata\":\"x\"}",
            "{\"metadata\":{\"name\":\"fuzz\"},\"spec\":5}",
            "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}",
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"},\"spec\":[1]}",
        ]),
    );
    use proptest::strategy::ValueTree;
    let mut runner = TestRunner::new(PtConfig::default());
    for _ in 0..300 {
        let (method, segs, query, ct, noise, body) =
            strategy.new_tree(&mut runner).unwrap().current();
        let mut path = format!("/{}", segs.join("/"));
        if !query.is_empty() {
            path.push('?');
            path.push_str(query);
        }
        let mut bytes = body.as_bytes().to_vec();
        if body.is_empty() {
            bytes = noise;
        }
        let req = http::Request::builder()
            .method(method)
            .uri(&path)
            .header("content-type", ct)
            .body(bytes)
            .unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(5), client.request_text(req)).await;
    }
    // Still serving, and still consistent.
    let ns: Api<Namespace> = Api::all(client.clone());
    assert!(ns.get("default").await.is_ok());
    let r = client
        .request_text(
            http::Request::builder()
                .uri("/readyz")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r, "ok");
    server.shutdown().await;
}
