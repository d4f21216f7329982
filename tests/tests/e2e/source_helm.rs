//! HelmRepository and HelmChart end to end: charts from `../shared/conformance/helm/*/chart`
//! packaged by our code, served by a static HTTP server.

use gitops_api::{HelmChart, HelmRepository};
use gitops_tests::{Cluster, StaticServer, http_get, ready_of, sha256, wait_until};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

fn conformance_chart() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/helm");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("chart")))
        .collect();
    dirs.sort();
    // A chart without dependencies to vendor.
    dirs.into_iter().find(|d| {
        std::fs::read_to_string(d.join("Chart.yaml")).is_ok_and(|t| !t.contains("dependencies:"))
    })
}

async fn status<K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize>(
    api: &Api<K>,
    name: &str,
) -> Value {
    serde_json::to_value(api.get(name).await.expect("get")).unwrap()["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmrepository_and_helmchart() {
    let Some(chart) = conformance_chart() else {
        eprintln!("skipping: ../shared/conformance/helm is absent");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let repo_dir = t.path().join("repo");
    std::fs::create_dir_all(&repo_dir).unwrap();
    let (bytes, meta) =
        gitops_source::helm::package_chart(&chart, &chart, &[], false, None, u64::MAX).unwrap();
    let file = format!("{}-{}.tgz", meta.name, meta.version);
    std::fs::write(repo_dir.join(&file), &bytes).unwrap();
    let digest = sha256(&bytes).trim_start_matches("sha256:").to_owned();
    std::fs::write(
        repo_dir.join("index.yaml"),
        gitops_source::helm::write_index(&[(
            meta.name.clone(),
            meta.version.clone(),
            file.clone(),
            digest,
        )]),
    )
    .unwrap();
    std::fs::create_dir_all(repo_dir.join("broken")).unwrap();
    std::fs::write(repo_dir.join("broken/index.yaml"), "{{{ this is : not yaml").unwrap();
    let server = StaticServer::start(&repo_dir).await;

    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), "default");
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), "default");
    for (name, url) in [
        ("charts", server.url.clone()),
        ("broken", format!("{}/broken", server.url)),
    ] {
        let r: HelmRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"url": url, "interval": "10m"},
        }))
        .unwrap();
        repos.create(&PostParams::default(), &r).await.unwrap();
    }
    let index_bytes = std::fs::read(repo_dir.join("index.yaml")).unwrap();
    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&repos, "charts").await;
        ready_of(&s).is_some_and(|c| c.0 == "True").then_some(s)
    })
    .await
    .expect("HelmRepository ready");
    assert_eq!(s["artifact"]["revision"], sha256(&index_bytes));
    let served = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&served), s["artifact"]["digest"].as_str().unwrap());

    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&repos, "broken").await;
        ready_of(&s).is_some_and(|c| c.0 == "False").then_some(s)
    })
    .await
    .expect("broken HelmRepository fails");
    let (_, reason, message) = ready_of(&s).unwrap();
    assert_eq!(reason, "IndexationFailed");
    assert!(message.contains("/broken/index.yaml"), "{message}");

    let c: HelmChart = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"chart": meta.name, "version": "*", "interval": "10m",
                 "sourceRef": {"kind": "HelmRepository", "name": "charts"}},
    }))
    .unwrap();
    charts.create(&PostParams::default(), &c).await.unwrap();
    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&charts, "app").await;
        ready_of(&s).is_some_and(|c| c.0 == "True").then_some(s)
    })
    .await
    .expect("HelmChart ready");
    assert_eq!(s["artifact"]["revision"], meta.version.as_str());
    assert_eq!(
        s["artifact"]["path"],
        format!("helmchart/default/app/{file}")
    );
    let served = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(served, bytes);
    assert_eq!(sha256(&served), s["artifact"]["digest"].as_str().unwrap());

    let c: HelmChart = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "nover", "namespace": "default"},
        "spec": {"chart": meta.name, "version": ">=999.0.0", "interval": "10m",
                 "sourceRef": {"kind": "HelmRepository", "name": "charts"}},
    }))
    .unwrap();
    charts.create(&PostParams::default(), &c).await.unwrap();
    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&charts, "nover").await;
        ready_of(&s).is_some_and(|c| c.0 == "False").then_some(s)
    })
    .await
    .expect("HelmChart without a matching version fails");
    let (_, reason, message) = ready_of(&s).unwrap();
    assert_eq!(reason, "ChartPullFailed");
    assert!(message.contains(">=999.0.0"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmchart_from_oci_repository_and_from_git() {
    let Some(chart) = conformance_chart() else {
        eprintln!("skipping: ../shared/conformance/helm is absent");
        return;
    };
    let Some(reg) = gitops_tests::DockerRegistry::start().await else {
        eprintln!("skipping: docker-registry is not installed");
        return;
    };
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let (bytes, meta) =
        gitops_source::helm::package_chart(&chart, &chart, &[], false, None, u64::MAX).unwrap();
    let registry = gitops_source::oci::Registry::new(true);
    let base = format!("oci://{}/charts", reg.host);
    let chart_url = format!("{base}/{}", meta.name);
    let config = serde_json::to_vec(
        &json!({"name": meta.name, "version": meta.version, "apiVersion": "v2"}),
    )
    .unwrap();
    registry
        .push_layer(
            &chart_url,
            &meta.version,
            bytes.clone(),
            gitops_source::oci::HELM_CHART_CONTENT_MEDIA_TYPE,
            config.clone(),
            gitops_source::oci::HELM_CHART_CONFIG_MEDIA_TYPE,
            None,
        )
        .await
        .unwrap();
    registry
        .push_layer(
            &chart_url,
            "0.0.1",
            bytes.clone(),
            gitops_source::oci::HELM_CHART_CONTENT_MEDIA_TYPE,
            config,
            gitops_source::oci::HELM_CHART_CONFIG_MEDIA_TYPE,
            None,
        )
        .await
        .unwrap();

    // A Git repository holding the chart and an extra values file.
    let t = tempfile::tempdir().unwrap();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    gitops_tests::git(&root, &["init", "-q", "--bare", "-b", "main", "charts.git"]);
    gitops_tests::git(t.path(), &["init", "-q", "-b", "main", "work"]);
    gitops_tests::copy_tree(&chart, &work.join("chart"));
    std::fs::write(
        work.join("prod-values.yaml"),
        "gitopsTestMarker: from-git\n",
    )
    .unwrap();
    gitops_tests::commit_and_push(&work, &root.join("charts.git"), "chart");
    let http = gitops_tests::GitHttpServer::start(&root, None).await;

    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let client = cluster.client.clone();
    let create = |v: Value| {
        let client = client.clone();
        async move {
            let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
                client,
                "default",
                &kube::api::ApiResource::from_gvk_with_plural(
                    &kube::api::GroupVersionKind::gvk(
                        "source.toolkit.fluxcd.io",
                        "v1",
                        v["kind"].as_str().unwrap(),
                    ),
                    &format!("{}s", v["kind"].as_str().unwrap().to_lowercase())
                        .replace("ys", "ies")
                        .replace("repositorys", "repositories"),
                ),
            );
            api.create(&PostParams::default(), &serde_json::from_value(v).unwrap())
                .await
                .unwrap();
        }
    };
    create(
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "oci", "namespace": "default"},
        "spec": {"url": base, "type": "oci", "insecure": true, "interval": "10m"}}),
    )
    .await;
    create(
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "fromoci", "namespace": "default"},
        "spec": {"chart": meta.name, "version": "*", "interval": "10m",
                 "sourceRef": {"kind": "HelmRepository", "name": "oci"}}}),
    )
    .await;
    create(json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "charts", "namespace": "default"},
        "spec": {"url": format!("{}/charts.git", http.url), "interval": "10m", "ref": {"branch": "main"}}})).await;
    create(json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "fromgit", "namespace": "default"},
        "spec": {"chart": "./chart", "interval": "10m", "valuesFiles": ["chart/values.yaml", "prod-values.yaml"],
                 "sourceRef": {"kind": "GitRepository", "name": "charts"}}})).await;

    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), "default");
    let ready = |name: &'static str| {
        let charts = charts.clone();
        async move {
            wait_until(Duration::from_secs(60), || async {
                let s = status(&charts, name).await;
                ready_of(&s).is_some_and(|c| c.0 == "True").then_some(s)
            })
            .await
            .unwrap_or_else(|| panic!("{name} never became ready"))
        }
    };
    let s = ready("fromoci").await;
    let want = if gitops_go::semver::Version::parse(&meta.version)
        .is_ok_and(|v| v > gitops_go::semver::Version::new(0, 0, 1))
    {
        meta.version.clone()
    } else {
        "0.0.1".to_string()
    };
    assert_eq!(s["artifact"]["revision"], want.as_str());
    let served = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(served, bytes);

    let s = ready("fromgit").await;
    assert_eq!(s["artifact"]["revision"], meta.version.as_str());
    assert!(
        s["observedSourceArtifactRevision"]
            .as_str()
            .unwrap()
            .starts_with("main@sha1:")
    );
    let served = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&served), s["artifact"]["digest"].as_str().unwrap());
    let out = tempfile::tempdir().unwrap();
    gitops_source::archive::extract_tar_gz(&served[..], out.path(), Default::default()).unwrap();
    let values = std::fs::read_to_string(out.path().join(&meta.name).join("values.yaml")).unwrap();
    assert!(values.contains("gitopsTestMarker: from-git"), "{values}");
}
