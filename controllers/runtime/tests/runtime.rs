//! The runtime against the embedded API server: the status writer writes only changes, and
//! finalizer updates from stale copies fail instead of losing another writer's entry.

use gitops_api::GitRepository;
use gitops_runtime::finalizer::{self, FinalizerError};
use gitops_runtime::status::{StatusWriter, write_status};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

struct Server {
    _server: gitops_apiserver::ServerHandle,
    client: kube::Client,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    gitops_runtime::ensure_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        gitops_apiserver::Server::start(gitops_apiserver::Config::new(dir.path().join("api")))
            .await
            .expect("API server starts");
    let client = gitops_runtime::client::client(Some(server.kubeconfig_path()))
        .await
        .expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in gitops_api::all_crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD");
    }
    Server {
        _server: server,
        client,
        _dir: dir,
    }
}

async fn repo(api: &Api<GitRepository>, name: &str) -> GitRepository {
    let r: GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"url": "https://example.com/x.git", "interval": "10m"},
    }))
    .expect("object");
    api.create(&PostParams::default(), &r)
        .await
        .expect("created")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_writer_writes_only_changes() {
    let s = server().await;
    let api: Api<GitRepository> = Api::namespaced(s.client.clone(), "default");
    let obj = repo(&api, "a").await;
    let mut status = obj.status.clone().unwrap_or_default();
    status.observed_ignore = Some("*.md".into());
    status.observed_generation = Some(1);
    let mut w = StatusWriter::new(api.clone(), &obj);
    assert!(w.write(&status).await.expect("written"));
    let after_first = api.get("a").await.expect("get");
    assert_eq!(after_first.status.as_ref(), Some(&status));
    // the same status again: no request, no new resource version
    assert!(!w.write(&status).await.expect("no-op"));
    assert!(
        !write_status(&api, &after_first, &status)
            .await
            .expect("no-op")
    );
    let rv = api.get("a").await.expect("get").resource_version();
    assert_eq!(rv, after_first.resource_version());
    // a removed field is removed on the server (merge patch null), others stay
    status.observed_ignore = None;
    assert!(w.write(&status).await.expect("written"));
    let got = api.get("a").await.expect("get").status.expect("status");
    assert_eq!(got.observed_ignore, None);
    assert_eq!(got.observed_generation, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizer_race_loses_nothing() {
    let s = server().await;
    let api: Api<GitRepository> = Api::namespaced(s.client.clone(), "default");
    let obj = repo(&api, "b").await;
    // two controllers read the same object (no finalizers yet) and add their own
    let (first, second) = (obj.clone(), obj.clone());
    finalizer::add(&api, &first, "one.example.com")
        .await
        .expect("first add");
    let e = finalizer::add(&api, &second, "two.example.com")
        .await
        .expect_err("a stale copy cannot overwrite the list");
    assert!(matches!(e, FinalizerError::Conflict { .. }), "{e}");
    // the second writer reads again and succeeds, keeping the first one's entry
    let fresh = api.get("b").await.expect("get");
    finalizer::add(&api, &fresh, "two.example.com")
        .await
        .expect("second add");
    let now = api.get("b").await.expect("get");
    assert_eq!(now.finalizers(), ["one.example.com", "two.example.com"]);
    // removing from a stale copy (it lacks the second entry) fails too
    let e = finalizer::remove(&api, &fresh, "one.example.com")
        .await
        .expect_err("stale copy");
    assert!(matches!(e, FinalizerError::Conflict { .. }), "{e}");
    finalizer::remove(&api, &now, "one.example.com")
        .await
        .expect("remove");
    assert_eq!(
        api.get("b").await.expect("get").finalizers(),
        ["two.example.com"]
    );
    // adding what is there, or removing what is not, sends nothing
    let cur = api.get("b").await.expect("get");
    finalizer::add(&api, &cur, "two.example.com")
        .await
        .expect("no-op");
    finalizer::remove(&api, &cur, "one.example.com")
        .await
        .expect("no-op");
    assert_eq!(
        api.get("b").await.expect("get").resource_version(),
        cur.resource_version()
    );
}
