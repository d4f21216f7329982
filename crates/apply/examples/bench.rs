//! Applies N object sets of 4 objects (like N Kustomizations) against the embedded API
//! server, twice: the first pass creates everything, the second finds it unchanged.
//! The API server runs in a child process, so the peak RSS printed is the applier's.
//!
//! `cargo run --release -p gitops-apply --example bench -- [sets] [workers]`

use gitops_apply::{Applier, ApplyOptions};
use serde_json::{Value, json};
use std::time::Instant;

fn set(i: usize) -> Vec<Value> {
    let ns = format!("bench-{}", i % 20);
    let name = format!("app-{i}");
    let labels = json!({"kustomize.toolkit.fluxcd.io/name": name, "kustomize.toolkit.fluxcd.io/namespace": "flux-system"});
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns, "labels": labels}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels},
               "data": {"config.yaml": "key: value\n".repeat(20)}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": {"serviceAccountName": name,
                                              "containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}}}}),
    ]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn pass(applier: &Applier, sets: usize, workers: usize) -> (std::time::Duration, usize) {
    use futures::StreamExt;
    let start = Instant::now();
    let opts = ApplyOptions::default();
    let changed: usize = futures::stream::iter(0..sets)
        .map(|i| {
            let a = applier.clone();
            let opts = opts.clone();
            async move {
                match a.apply(set(i), &opts).await {
                    Ok(cs) => cs
                        .entries
                        .iter()
                        .filter(|e| e.action != gitops_apply::Action::Unchanged)
                        .count(),
                    Err(e) => {
                        eprintln!("set {i}: {e}");
                        0
                    }
                }
            }
        })
        .buffer_unordered(workers)
        .fold(0, |a, b| async move { a + b })
        .await;
    (start.elapsed(), changed)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--serve") {
        let dir = args.nth(1).expect("state directory");
        let server = gitops_apiserver::Server::start(gitops_apiserver::Config::new(dir))
            .await
            .expect("API server");
        // Serve until the parent closes our stdin.
        let mut buf = String::new();
        let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut buf)).await;
        server.shutdown().await;
        return;
    }
    let sets: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--serve")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("API server process");
    let kubeconfig = dir.path().join("kubeconfig");
    while !kubeconfig.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("client config");
    let client = kube::Client::try_from(config).expect("client");
    let applier = Applier::new(client, "kustomize-controller");
    let namespaces: Vec<Value> = (0..20)
        .map(|i| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("bench-{i}")}}))
        .collect();
    applier
        .apply(namespaces, &ApplyOptions::default())
        .await
        .expect("namespaces");
    let (t1, c1) = pass(&applier, sets, workers).await;
    println!("first pass:  {sets} sets x 4 objects in {t1:.2?} ({c1} created/configured)");
    let (t2, c2) = pass(&applier, sets, workers).await;
    println!("second pass: {sets} sets x 4 objects in {t2:.2?} ({c2} created/configured)");
    println!("peak RSS of the applier process: {:.1} MiB", peak_rss_mib());
    drop(child.stdin.take());
    let _ = child.wait();
}
