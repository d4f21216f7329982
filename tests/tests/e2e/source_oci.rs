//! OCIRepository end to end: Debian's docker-registry, artifacts pushed with our OCI client,
//! the embedded API server, the source controller.

use gitops_api::OCIRepository;
use gitops_source::ignore::IgnoreRules;
use gitops_source::oci::Registry;
use gitops_tests::{Cluster, DockerRegistry, http_get, ready_of, sha256, wait_until};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

async fn status(api: &Api<OCIRepository>, name: &str) -> Value {
    serde_json::to_value(api.get(name).await.expect("get")).unwrap()["status"].clone()
}

async fn wait_for(api: &Api<OCIRepository>, name: &str, f: impl Fn(&Value) -> bool) -> Value {
    wait_until(Duration::from_secs(60), || async {
        let s = status(api, name).await;
        f(&s).then_some(s)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "{name}: condition not reached; status: {}",
            futures_status(api, name)
        )
    })
}

fn futures_status(_api: &Api<OCIRepository>, name: &str) -> String {
    format!("(see controller logs for {name})")
}

fn ocirepo(name: &str, url: &str, r: Value, extra: Value) -> OCIRepository {
    let mut spec =
        json!({"url": url, "interval": "10m", "insecure": true, "ref": r, "timeout": "20s"});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            spec[k] = v;
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocirepository_tag_semver_digest_and_failures() {
    let Some(reg) = DockerRegistry::start().await else {
        eprintln!("skipping: docker-registry is not installed (apt-get install docker-registry)");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    std::fs::create_dir_all(content.join("deploy")).unwrap();
    std::fs::write(content.join("deploy/app.yaml"), "kind: ConfigMap\nv: 1\n").unwrap();
    let url = format!("oci://{}/org/manifests", reg.host);
    let client = Registry::new(true);
    let rules = IgnoreRules::flux_defaults();
    let v1 = client
        .push_dir(
            &url,
            "1.0.0",
            &content,
            &rules,
            "https://git.example/app",
            "main@sha1:1111111111111111111111111111111111111111",
            None,
        )
        .await
        .unwrap();
    assert!(v1.revision.starts_with("1.0.0@sha256:"), "{}", v1.revision);

    let mut cluster = Cluster::start().await;
    let adv = cluster
        .start_source_controller_with(&["--max-artifact-size=1048576"])
        .await;
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &ocirepo("bytag", &url, json!({"tag": "1.0.0"}), json!({})),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &ocirepo("bysemver", &url, json!({"semver": ">=1.0.0"}), json!({})),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &ocirepo("bydigest", &url, json!({"digest": v1.digest}), json!({})),
    )
    .await
    .unwrap();

    let ready = |rev: String| {
        move |s: &Value| {
            s["artifact"]["revision"] == rev.as_str() && ready_of(s).is_some_and(|c| c.0 == "True")
        }
    };
    let s = wait_for(&api, "bytag", ready(v1.revision.clone())).await;
    let a = &s["artifact"];
    let hex = v1.digest.trim_start_matches("sha256:");
    assert_eq!(
        a["path"],
        format!("ocirepository/default/bytag/{hex}.tar.gz")
    );
    assert_eq!(
        a["url"],
        format!("http://{adv}/ocirepository/default/bytag/{hex}.tar.gz")
    );
    assert_eq!(s["url"], a["url"]);
    let bytes = http_get(a["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(sha256(&bytes), a["digest"].as_str().unwrap());
    assert_eq!(
        a["metadata"]["org.opencontainers.image.source"],
        "https://git.example/app"
    );
    assert_eq!(
        ready_of(&s).unwrap().2,
        format!("stored artifact for digest '{}'", v1.revision)
    );
    wait_for(&api, "bysemver", ready(v1.revision.clone())).await;
    wait_for(&api, "bydigest", ready(v1.digest.clone())).await;

    // A new tag in range: the semver object moves to it on the next reconcile.
    std::fs::write(content.join("deploy/app.yaml"), "kind: ConfigMap\nv: 2\n").unwrap();
    let v2 = client
        .push_dir(
            &url,
            "1.1.0",
            &content,
            &rules,
            "https://git.example/app",
            "main@sha1:2222222222222222222222222222222222222222",
            None,
        )
        .await
        .unwrap();
    assert_ne!(v1.digest, v2.digest);
    api.patch(
        "bysemver",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "r1"}}}),
        ),
    )
    .await
    .unwrap();
    let s = wait_for(&api, "bysemver", ready(v2.revision.clone())).await;
    let bytes = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&bytes), s["artifact"]["digest"].as_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    gitops_source::fetch::fetch_artifact(
        s["artifact"]["url"].as_str().unwrap(),
        s["artifact"]["digest"].as_str().unwrap(),
        dir.path(),
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("deploy/app.yaml")).unwrap(),
        "kind: ConfigMap\nv: 2\n"
    );

    // Layer copy: the stored file is the layer itself.
    api.create(&PostParams::default(), &ocirepo("copy", &url, json!({"tag": "1.1.0"}), json!({"layerSelector": {"mediaType": gitops_source::oci::FLUX_CONTENT_MEDIA_TYPE, "operation": "copy"}})))
        .await
        .unwrap();
    let s = wait_for(&api, "copy", ready(v2.revision.clone())).await;
    assert!(s["artifact"]["path"].as_str().unwrap().ends_with(".tgz"));

    // Bad input keeps the previous artifact and says what and where.
    let good = status(&api, "bysemver").await["artifact"].clone();
    api.patch(
        "bysemver",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ref": {"semver": ">=5.0.0"}}})),
    )
    .await
    .unwrap();
    let s = wait_for(&api, "bysemver", |s| {
        ready_of(s).is_some_and(|c| c.0 == "False")
    })
    .await;
    let (_, reason, message) = ready_of(&s).unwrap();
    assert_eq!(reason, "OCIArtifactPullFailed");
    assert!(
        message.contains(">=5.0.0") && message.contains(&url),
        "{message}"
    );
    assert_eq!(s["artifact"], good);
    assert!(http_get(good["url"].as_str().unwrap()).await.is_some());

    api.create(
        &PostParams::default(),
        &ocirepo("missing", &url, json!({"tag": "9.9.9"}), json!({})),
    )
    .await
    .unwrap();
    let s = wait_for(&api, "missing", |s| {
        ready_of(s).is_some_and(|c| c.0 == "False")
    })
    .await;
    assert!(
        ready_of(&s).unwrap().2.contains("9.9.9"),
        "{:?}",
        ready_of(&s)
    );

    let port = gitops_tests::free_port();
    api.create(
        &PostParams::default(),
        &ocirepo(
            "down",
            &format!("oci://127.0.0.1:{port}/x"),
            json!({"tag": "1"}),
            json!({}),
        ),
    )
    .await
    .unwrap();
    let s = wait_for(&api, "down", |s| {
        ready_of(s).is_some_and(|c| c.0 == "False")
    })
    .await;
    assert_eq!(ready_of(&s).unwrap().1, "OCIArtifactPullFailed");

    // A corrupt archive, and a layer over the size limit (1 MiB here).
    client
        .push_layer(
            &url,
            "corrupt",
            b"this is not gzip".to_vec(),
            gitops_source::oci::FLUX_CONTENT_MEDIA_TYPE,
            b"{}".to_vec(),
            gitops_source::oci::FLUX_CONFIG_MEDIA_TYPE,
            None,
        )
        .await
        .unwrap();
    let big: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    client
        .push_layer(
            &url,
            "big",
            big,
            gitops_source::oci::FLUX_CONTENT_MEDIA_TYPE,
            b"{}".to_vec(),
            gitops_source::oci::FLUX_CONFIG_MEDIA_TYPE,
            None,
        )
        .await
        .unwrap();
    for (name, want) in [
        ("corrupt", "corrupt archive"),
        ("big", "larger than 1048576 bytes"),
    ] {
        api.create(
            &PostParams::default(),
            &ocirepo(name, &url, json!({"tag": name}), json!({})),
        )
        .await
        .unwrap();
        let s = wait_for(&api, name, |s| ready_of(s).is_some_and(|c| c.0 == "False")).await;
        let (_, reason, message) = ready_of(&s).unwrap();
        assert_eq!(reason, "OCIArtifactLayerOperationFailed", "{message}");
        assert!(
            message.contains(want) && message.contains(&url),
            "{message}"
        );
    }
    api.create(
        &PostParams::default(),
        &ocirepo(
            "badlayer",
            &url,
            json!({"tag": "1.0.0"}),
            json!({"layerSelector": {"mediaType": "application/x-nothing"}}),
        ),
    )
    .await
    .unwrap();
    let s = wait_for(&api, "badlayer", |s| {
        ready_of(s).is_some_and(|c| c.0 == "False")
    })
    .await;
    let (_, reason, message) = ready_of(&s).unwrap();
    assert_eq!(reason, "OCIArtifactLayerOperationFailed");
    assert!(message.contains("application/x-nothing"), "{message}");
}

/// One registry client serves objects with different credentials on the same host: each
/// call uses its own credentials (oci-client alone would keep the first ones it saw for the
/// host, lending one tenant's credentials — or anonymity — to every other).
#[tokio::test]
async fn one_client_keeps_credentials_apart() {
    let Some(reg) = DockerRegistry::start_with_auth("ci", "s3cret").await else {
        return;
    };
    reg.push_tags("team/app", &["1.0.0".into()], Some(("ci", "s3cret")))
        .await;
    let url = format!("oci://{}/team/app", reg.host);
    let auth = |p: &str| gitops_source::oci::OciAuth {
        username: "ci".into(),
        password: p.into(),
    };
    let client = Registry::new(true);
    assert!(client.list_tags(&url, Some(&auth("wrong"))).await.is_err());
    assert_eq!(
        client.list_tags(&url, Some(&auth("s3cret"))).await.unwrap(),
        ["1.0.0"]
    );
    let anonymous = client.list_tags(&url, None).await;
    assert!(
        matches!(
            anonymous,
            Err(gitops_source::oci::OciError::Authentication { .. })
        ),
        "anonymous calls must not borrow the credentials of earlier ones: {anonymous:?}"
    );
    assert!(client.list_tags(&url, Some(&auth("wrong"))).await.is_err());
}

/// `spec.proxySecretRef`: pulls go through the proxy named by the Secret (with its
/// credentials); the artifact is the same as without.
#[tokio::test]
async fn ocirepository_through_a_proxy() {
    let Some(reg) = DockerRegistry::start().await else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("app.yaml"), "kind: ConfigMap\n").unwrap();
    let url = format!("oci://{}/org/proxied", reg.host);
    Registry::new(true)
        .push_dir(
            &url,
            "1.0.0",
            &content,
            &IgnoreRules::flux_defaults(),
            "https://git.example/app",
            "main@sha1:1111111111111111111111111111111111111111",
            None,
        )
        .await
        .unwrap();
    let proxy = gitops_tests::HttpProxy::start(Some(("squid", "pw"))).await;
    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "proxy", "namespace": "default"},
        "stringData": {"address": proxy.url.clone(), "username": "squid", "password": "pw"},
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(cluster.client.clone(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let api: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &ocirepo(
            "proxied",
            &url,
            json!({"tag": "1.0.0"}),
            json!({"proxySecretRef": {"name": "proxy"}}),
        ),
    )
    .await
    .unwrap();
    let s = wait_for(&api, "proxied", |s| {
        ready_of(s).is_some_and(|r| r.0 == "True")
    })
    .await;
    assert!(
        s["artifact"]["revision"]
            .as_str()
            .unwrap()
            .starts_with("1.0.0@sha256:")
    );
    assert!(
        proxy.forwarded() >= 2,
        "manifest and layer went through the proxy"
    );
}
