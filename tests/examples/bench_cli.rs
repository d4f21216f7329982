//! Benchmark: the `gitops` CLI against N (1,000 by default) Kustomizations and
//! GitRepositories with status on the embedded API server (a separate `gitops apiserver`
//! process): wall time of each command as a user runs it (a new process per run, median of
//! 5) and peak RSS, from `create … --export` (no cluster) to `get all -A` over 2N objects.
//!
//! Run through `tests/bench/cli.sh`, or:
//! `cargo run --release -p gitops-tests --example bench_cli -- <path to gitops> [N]`.

use gitops_tests::bench;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median_run(
    gitops: &str,
    kubeconfig: &std::path::Path,
    args: &[&str],
) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let status = Command::new(gitops)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        times.push(started.elapsed());
        anyhow::ensure!(status.success(), "gitops {args:?} failed");
    }
    times.sort();
    Ok(times[2])
}

/// Peak RSS of one run, from GNU time (`/usr/bin/time -f %M`) when it is installed.
fn peak_rss_kib(gitops: &str, kubeconfig: &std::path::Path, args: &[&str]) -> Option<u64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", gitops])
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (gitops, n, _) = bench::args(1_000);
    let dir = tempfile::tempdir()?;
    let (_server, kubeconfig, client) = bench::start_api_server(&gitops, dir.path()).await?;
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    ns.create(
        &Default::default(),
        &serde_json::from_value(json!({"metadata": {"name": "flux-system"}}))?,
    )
    .await?;
    let rev = "main@sha1:696f056df216eea4f9401adbee0ff744d4df390f";
    let started = Instant::now();
    for (kind, plural, group) in [
        (
            "GitRepository",
            "gitrepositories",
            "source.toolkit.fluxcd.io",
        ),
        (
            "Kustomization",
            "kustomizations",
            "kustomize.toolkit.fluxcd.io",
        ),
    ] {
        let ar = kube::api::ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "flux-system", &ar);
        let spec = if kind == "GitRepository" {
            json!({"url": "https://example.com/repo", "interval": "5m", "ref": {"branch": "main"}})
        } else {
            json!({"interval": "5m", "path": "./", "prune": true,
                   "sourceRef": {"kind": "GitRepository", "name": "app-0"}})
        };
        bench::create_all(&api, n, |i| {
            serde_json::from_value(json!({
                "apiVersion": format!("{group}/v1"), "kind": kind,
                "metadata": {"name": format!("app-{i}"), "namespace": "flux-system"},
                "spec": spec,
            }))
            .expect("object")
        })
        .await;
        for i in 0..n {
            let status = json!({"status": {
                "observedGeneration": 1,
                "lastAppliedRevision": rev,
                "artifact": {"revision": rev, "path": "p", "url": "http://x/p",
                             "digest": "sha256:0000", "lastUpdateTime": "2026-01-01T00:00:00Z", "size": 1024},
                "inventory": {"entries": (0..10).map(|j| json!({"id": format!("flux-system_cm-{i}-{j}__ConfigMap"), "v": "v1"})).collect::<Vec<_>>()},
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                "message": format!("Applied revision: {rev}"),
                                "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]
            }});
            api.patch_status(
                &format!("app-{i}"),
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await?;
        }
    }
    println!(
        "set-up: {n} GitRepositories and {n} Kustomizations with status in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("version --client", vec!["version", "--client"]),
        (
            "create source git --export",
            vec![
                "create",
                "source",
                "git",
                "app",
                "--url=https://example.com/repo",
                "--branch=main",
                "--export",
            ],
        ),
        (
            "get kustomization app-1",
            vec!["get", "kustomization", "app-1"],
        ),
        ("get kustomizations -A", vec!["get", "kustomizations", "-A"]),
        ("get all -A", vec!["get", "all", "-A"]),
        (
            "export kustomization --all",
            vec!["export", "kustomization", "--all"],
        ),
        (
            "tree kustomization app-1",
            vec!["tree", "kustomization", "app-1"],
        ),
        ("stats -A", vec!["stats", "-A"]),
    ];
    for (name, args) in cases {
        let t = median_run(&gitops, &kubeconfig, &args)?;
        let rss = peak_rss_kib(&gitops, &kubeconfig, &args)
            .map(|k| format!("{:>6.1} MiB", k as f64 / 1024.0))
            .unwrap_or_default();
        println!("{name:<32} {:>8.1} ms {rss}", t.as_secs_f64() * 1000.0);
    }
    Ok(())
}
