//! Benchmark (c): N HelmReleases of one small chart (a ConfigMap, a Deployment, a Service
//! and a ServiceAccount) from a HelmRepository served over HTTP, each with its own chart
//! template (so N HelmCharts too), installed and waited for by the helm controller (a
//! separate `gitops` process) with the source controller (another one) against the embedded
//! API server (a third). Prints the wall time from the first create to all Ready, and the
//! helm controller's peak RSS (VmHWM), with the source controller's for reference.
//!
//! Run through `tests/bench/helm_1000.sh`, or:
//! `cargo run -p gitops-tests --example bench_helm -- <path to gitops> [N] [concurrency]`.

use gitops_api::HelmRelease;
use gitops_tests::{bench, free_port};
use kube::api::{Api, ListParams};
use serde_json::json;
use std::time::{Duration, Instant};

const CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: small\nversion: 1.0.0\nappVersion: \"1.0\"\n",
    ),
    ("values.yaml", "message: hello\nreplicas: 1\n"),
    (
        "templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include \"small.labels\" . | nindent 4 }}\ndata:\n  message: {{ .Values.message | quote }}\n",
    ),
    (
        "templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include \"small.labels\" . | nindent 4 }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n      app: {{ .Release.Name }}\n  template:\n    metadata:\n      labels:\n        app: {{ .Release.Name }}\n    spec:\n      serviceAccountName: {{ .Release.Name }}\n      containers:\n      - name: app\n        image: nginx:1.27\n        ports:\n        - containerPort: 80\n",
    ),
    (
        "templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include \"small.labels\" . | nindent 4 }}\nspec:\n  selector:\n    app: {{ .Release.Name }}\n  ports:\n  - port: 80\n    targetPort: 80\n",
    ),
    (
        "templates/serviceaccount.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include \"small.labels\" . | nindent 4 }}\n",
    ),
    (
        "templates/_helpers.tpl",
        "{{- define \"small.labels\" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\napp.kubernetes.io/instance: {{ .Release.Name }}\nhelm.sh/chart: {{ printf \"%s-%s\" .Chart.Name .Chart.Version }}\n{{- end }}\n",
    ),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (gitops, n, more) = bench::args(1000);
    let concurrency: String = more.first().cloned().unwrap_or_else(|| "4".into());
    let tmp = tempfile::tempdir()?;
    let (_api, kubeconfig, client) = bench::start_api_server(&gitops, tmp.path()).await?;

    // The chart, packaged and indexed, served over HTTP.
    let server = gitops_tests::serve_chart(tmp.path(), CHART).await?;

    let storage_port = free_port();
    let mut source = bench::spawn_controller(
        &gitops,
        "source-controller",
        &kubeconfig,
        &[
            format!("--storage-path={}", tmp.path().join("storage").display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            "--concurrent=8".into(),
        ],
    )?;
    let mut helm = bench::spawn_controller(
        &gitops,
        "helm-controller",
        &kubeconfig,
        &[format!("--concurrent={concurrency}")],
    )?;
    let (source_pid, helm_pid) = (source.id(), helm.id());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let repos: Api<gitops_api::HelmRepository> = Api::namespaced(client.clone(), "default");
    bench::create_all(&repos, 1, |_| {
        serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "default"},
            "spec": {"url": server.url, "interval": "10m"},
        }))
        .expect("object")
    })
    .await;
    let api: Api<HelmRelease> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    bench::create_all(&api, n, |i| {
        serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": format!("app-{i}"), "namespace": "default"},
            "spec": {"interval": "10m",
                     "chart": {"spec": {"chart": "small", "version": "1.0.0",
                                        "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
                     "values": {"message": format!("release {i}")}},
        }))
        .expect("object")
    })
    .await;
    let created = started.elapsed();
    let ready = bench::wait_all(
        &api,
        n,
        started,
        Duration::from_secs(900),
        Duration::from_millis(250),
        |o| {
            o.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Ready"
                        && c.status == gitops_api::ConditionStatus::True
                        && c.reason == "InstallSucceeded"
                })
            })
        },
    )
    .await?;
    let wall = started.elapsed();
    let (helm_rss, source_rss) = (
        bench::peak_rss_kib(helm_pid),
        bench::peak_rss_kib(source_pid),
    );
    for c in [&mut helm, &mut source] {
        let _ = c.kill();
        let _ = c.wait();
    }
    // Every release is Helm's: a release Secret per HelmRelease.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "default");
    let records = secrets
        .list_metadata(&ListParams::default().labels("owner=helm,status=deployed"))
        .await?
        .items
        .len();
    println!(
        "objects:            {n} HelmReleases, {n} HelmCharts, 4 objects each (helm-controller --concurrent={concurrency})"
    );
    println!("created in:         {:.2} s", created.as_secs_f64());
    println!(
        "all Ready after:    {:.2} s ({ready}/{n} ready, {records} deployed release records)",
        wall.as_secs_f64()
    );
    bench::print_rss(helm_rss);
    if let Some(kib) = source_rss {
        println!("source-controller peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    anyhow::ensure!(ready == n, "only {ready} of {n} releases became ready");
    Ok(())
}
