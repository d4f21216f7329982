//! Benchmark: N Kustomizations (Flux's mean-time-to-production benchmark shape), each
//! applying a Deployment, a ServiceAccount, a Service and an Ingress built from one
//! GitRepository with its own `namePrefix`, reconciled to Ready by the kustomize
//! controller (a separate `gitops` process) against the embedded API server (another
//! `gitops` process), with the source controller (a third) serving the artifact. Prints the
//! wall time from the first create to all Ready, and the kustomize controller's peak RSS
//! (VmHWM).
//!
//! Run through `tests/bench/kustomize_1000.sh`, or:
//! `cargo run -p gitops-tests --example bench_kustomize -- <path to gitops> [N] [concurrency]`.

use gitops_api::Kustomization;
use gitops_tests::{ChildGuard, GitHttpServer, bench, free_port, git, wait_until};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::time::{Duration, Instant};

const APP: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: podinfo
  namespace: default
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: default
  labels:
    app: podinfo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      serviceAccountName: podinfo
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.7.0
          ports:
            - name: http
              containerPort: 9898
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
---
apiVersion: v1
kind: Service
metadata:
  name: podinfo
  namespace: default
spec:
  selector:
    app: podinfo
  ports:
    - name: http
      port: 9898
      targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: podinfo
  namespace: default
spec:
  rules:
    - host: podinfo.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: podinfo
                port:
                  name: http
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (gitops, n, more) = bench::args(1000);
    let concurrency: String = more.first().cloned().unwrap_or_else(|| "4".into());
    gitops_source::ensure_crypto_provider();
    let tmp = tempfile::tempdir()?;

    // the API server
    let (_api, kubeconfig, client) = bench::start_api_server(&gitops, tmp.path()).await?;

    // the Git repository
    let (root, work) = (tmp.path().join("srv"), tmp.path().join("work"));
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(work.join("app"))?;
    git(&root, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("app/podinfo.yaml"), APP)?;
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "podinfo"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &root.join("repo.git").display().to_string(),
            "main",
        ],
    );
    let sha = git(&work, &["rev-parse", "HEAD"]);
    let revision = format!("main@sha1:{sha}");
    let http = GitHttpServer::start(&root, None).await;

    // the source controller and its artifact
    let storage_port = free_port();
    let _source = ChildGuard(bench::spawn_controller(
        &gitops,
        "source-controller",
        &kubeconfig,
        &[
            format!("--storage-path={}", tmp.path().join("storage").display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
        ],
    )?);
    let repo: gitops_api::GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "podinfo", "namespace": "default"},
        "spec": {"url": format!("{}/repo.git", http.url), "interval": "1h", "ref": {"branch": "main"}},
    }))?;
    let repos: Api<gitops_api::GitRepository> = Api::namespaced(client.clone(), "default");
    repos.create(&PostParams::default(), &repo).await?;
    wait_until(Duration::from_secs(60), || {
        let repos = repos.clone();
        let revision = revision.clone();
        async move {
            let r = repos.get("podinfo").await.ok()?;
            (r.status?.artifact?.revision == revision).then_some(())
        }
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("the GitRepository never got an artifact"))?;

    // the kustomize controller, measured
    let mut controller = bench::spawn_controller(
        &gitops,
        "kustomize-controller",
        &kubeconfig,
        &[format!("--concurrent={concurrency}")],
    )?;
    let pid = controller.id();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    bench::create_all(&api, n, |i| {
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": format!("podinfo-{i}"), "namespace": "default"},
            "spec": {
                "interval": "1h", "prune": true, "path": "./app",
                "namePrefix": format!("p{i}-"), "timeout": "5m",
                "sourceRef": {"kind": "GitRepository", "name": "podinfo"},
            },
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
                s.last_applied_revision.as_deref() == Some(revision.as_str())
                    && s.conditions.iter().any(|c| {
                        c.type_ == "Ready" && c.status == gitops_api::ConditionStatus::True
                    })
            })
        },
    )
    .await?;
    let wall = started.elapsed();
    let rss = bench::peak_rss_kib(pid);
    // the objects really are there
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    let applied = deployments
        .list(&ListParams::default().labels("kustomize.toolkit.fluxcd.io/namespace=default"))
        .await?
        .items
        .len();
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(client.clone(), "default");
    let applied_services = services
        .list(&ListParams::default().labels("kustomize.toolkit.fluxcd.io/namespace=default"))
        .await?
        .items
        .len();
    let _ = controller.kill();
    let _ = controller.wait();
    println!(
        "Kustomizations:     {n} × (Deployment, ServiceAccount, Service, Ingress), controller --concurrent={concurrency}"
    );
    println!("created in:         {:.2} s", created.as_secs_f64());
    println!(
        "all Ready after:    {:.2} s ({ready}/{n} ready)",
        wall.as_secs_f64()
    );
    println!("applied:            {applied} Deployments, {applied_services} Services");
    bench::print_rss(rss);
    anyhow::ensure!(
        ready == n,
        "only {ready} of {n} Kustomizations became ready"
    );
    Ok(())
}
