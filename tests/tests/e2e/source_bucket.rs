//! Bucket end to end against moto's S3-compatible server.

use gitops_api::Bucket;
use gitops_tests::{ChildGuard, Cluster, free_port, have, http_get, ready_of, sha256, wait_until};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn status(api: &Api<Bucket>, name: &str) -> Value {
    serde_json::to_value(api.get(name).await.expect("get")).unwrap()["status"].clone()
}

async fn put(base: &str, path: &str, body: &str) {
    use object_store::ObjectStoreExt;
    gitops_source::ensure_crypto_provider();
    let (bucket, key) = path.split_once('/').expect("bucket/key");
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(base)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_access_key_id("AKIAEXAMPLE")
        .with_secret_access_key("example-secret")
        .build()
        .expect("store");
    store
        .put(
            &object_store::path::Path::from(key),
            body.as_bytes().to_vec().into(),
        )
        .await
        .expect("PUT");
}

fn bucket(name: &str, endpoint: &str, bucket_name: &str, extra: Value) -> Bucket {
    let mut spec = json!({"endpoint": endpoint, "bucketName": bucket_name, "insecure": true,
                          "interval": "10m", "timeout": "20s", "secretRef": {"name": "s3"}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            spec[k] = v;
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_from_s3_compatible_server() {
    if !have("moto_server") {
        eprintln!("skipping: moto_server is not installed (pip install 'moto[server]')");
        return;
    }
    let port = free_port();
    let _moto = ChildGuard(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts"),
    );
    gitops_source::ensure_crypto_provider();
    let base = format!("http://127.0.0.1:{port}");
    wait_until(Duration::from_secs(30), || {
        let u = format!("{base}/");
        async move { reqwest::get(&u).await.ok().map(|_| ()) }
    })
    .await
    .expect("moto listens");
    let r = reqwest::Client::new()
        .put(format!("{base}/manifests"))
        .send()
        .await
        .expect("create bucket");
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    put(&base, "manifests/apps/app.yaml", "kind: ConfigMap\nv: 1\n").await;
    put(&base, "manifests/apps/logo.png", "png").await;
    put(&base, "manifests/other/skip.yaml", "kind: Secret\n").await;

    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), "default");
    let s: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s3", "namespace": "default"},
        "stringData": {"accesskey": "AKIAEXAMPLE", "secretkey": "example-secret"}}))
    .unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    let api: Api<Bucket> = Api::namespaced(cluster.client.clone(), "default");
    let endpoint = format!("127.0.0.1:{port}");
    api.create(
        &PostParams::default(),
        &bucket("apps", &endpoint, "manifests", json!({"prefix": "apps/"})),
    )
    .await
    .unwrap();

    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&api, "apps").await;
        ready_of(&s).is_some_and(|c| c.0 == "True").then_some(s)
    })
    .await
    .expect("Bucket ready");
    let a = s["artifact"].clone();
    let rev = a["revision"].as_str().unwrap().to_owned();
    assert!(rev.starts_with("sha256:") && rev.len() == 71, "{rev}");
    assert_eq!(
        a["path"],
        format!(
            "bucket/default/apps/{}.tar.gz",
            rev.trim_start_matches("sha256:")
        )
    );
    let bytes = http_get(a["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(sha256(&bytes), a["digest"].as_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    gitops_source::archive::extract_tar_gz(&bytes[..], dir.path(), Default::default()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("apps/app.yaml")).unwrap(),
        "kind: ConfigMap\nv: 1\n"
    );
    assert!(
        !dir.path().join("apps/logo.png").exists(),
        "default excludes apply"
    );
    assert!(!dir.path().join("other").exists(), "prefix applies");

    // A changed object: a new revision and artifact.
    put(&base, "manifests/apps/app.yaml", "kind: ConfigMap\nv: 2\n").await;
    api.patch(
        "apps",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
        ),
    )
    .await
    .unwrap();
    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&api, "apps").await;
        (s["artifact"]["revision"] != rev.as_str() && ready_of(&s).is_some_and(|c| c.0 == "True"))
            .then_some(s)
    })
    .await
    .expect("new revision");
    let bytes = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&bytes), s["artifact"]["digest"].as_str().unwrap());

    // A missing bucket.
    api.create(
        &PostParams::default(),
        &bucket("missing", &endpoint, "no-such-bucket", json!({})),
    )
    .await
    .unwrap();
    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&api, "missing").await;
        ready_of(&s).is_some_and(|c| c.0 == "False").then_some(s)
    })
    .await
    .expect("missing bucket fails");
    let (_, reason, message) = ready_of(&s).unwrap();
    assert_eq!(reason, "BucketOperationFailed");
    assert!(message.contains("no-such-bucket"), "{message}");
}
