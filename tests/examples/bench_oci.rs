//! Benchmark (b): N OCIRepositories pointing at a local docker-registry, reconciled to Ready
//! by the source controller (a separate `gitops` process) against the embedded API server
//! (another `gitops` process). Prints the wall time from the first create to all Ready, and
//! the controller's peak RSS (VmHWM).
//!
//! Run through `tests/bench/oci_1000.sh`, or:
//! `cargo run -p gitops-tests --example bench_oci -- <path to gitops> [N] [concurrency]`.

use futures::StreamExt;
use gitops_api::OCIRepository;
use gitops_tests::{ChildGuard, DockerRegistry, free_port, wait_until};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let gitops = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/gitops".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let concurrency: String = args.get(3).cloned().unwrap_or_else(|| "8".into());
    gitops_source::ensure_crypto_provider();
    let Some(reg) = DockerRegistry::start().await else {
        anyhow::bail!("docker-registry is not installed (apt-get install docker-registry)");
    };
    let tmp = tempfile::tempdir()?;
    let state = tmp.path().join("api");
    let api_port = free_port();
    let _api = ChildGuard(
        Command::new(&gitops)
            .args([
                "apiserver",
                "--state",
                &state.display().to_string(),
                "--listen",
                &format!("127.0.0.1:{api_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let kubeconfig = state.join("kubeconfig");
    wait_until(Duration::from_secs(30), || {
        let k = kubeconfig.clone();
        async move {
            let ok = k.exists()
                && tokio::net::TcpStream::connect(("127.0.0.1", api_port))
                    .await
                    .is_ok();
            ok.then_some(())
        }
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("API server did not start"))?;
    let client = gitops_controllers::runtime::client::client(Some(&kubeconfig)).await?;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for crd in gitops_api::all_crds() {
        crds.create(&PostParams::default(), &crd).await?;
    }

    // One artifact in the registry.
    let content = tmp.path().join("content");
    std::fs::create_dir_all(content.join("deploy"))?;
    for i in 0..20 {
        std::fs::write(
            content.join(format!("deploy/cm-{i}.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n"),
        )?;
    }
    let url = format!("oci://{}/bench/manifests", reg.host);
    let pushed = gitops_source::oci::Registry::new(true)
        .push_dir(
            &url,
            "1.0.0",
            &content,
            &gitops_source::ignore::IgnoreRules::flux_defaults(),
            "bench",
            "main@sha1:0000000000000000000000000000000000000000",
            None,
        )
        .await?;

    let storage_port = free_port();
    let mut controller = Command::new(&gitops)
        .args([
            "controller",
            "source-controller",
            &format!("--kubeconfig={}", kubeconfig.display()),
            &format!("--storage-path={}", tmp.path().join("storage").display()),
            &format!("--storage-addr=127.0.0.1:{storage_port}"),
            &format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            "--metrics-addr=0",
            "--health-addr=0",
            "--log-level=error",
            &format!("--concurrent={concurrency}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = controller.id();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let api: Api<OCIRepository> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let url = url.clone();
            async move {
                let o: OCIRepository = serde_json::from_value(json!({
                    "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                    "metadata": {"name": format!("app-{i}"), "namespace": "default"},
                    "spec": {"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "1.0.0"}},
                }))
                .expect("object");
                api.create(&PostParams::default(), &o).await.map(|_| ())
            }
        })
        .buffer_unordered(16)
        .for_each(|r| async move {
            if let Err(e) = r {
                eprintln!("create failed: {e}");
            }
        })
        .await;
    let created = started.elapsed();
    let mut ready = 0;
    while started.elapsed() < Duration::from_secs(600) {
        let list = api.list(&ListParams::default()).await?;
        ready = list
            .items
            .iter()
            .filter(|o| {
                o.status.as_ref().is_some_and(|s| {
                    s.artifact
                        .as_ref()
                        .is_some_and(|a| a.revision == pushed.revision)
                        && s.conditions.iter().any(|c| {
                            c.type_ == "Ready" && c.status == gitops_api::ConditionStatus::True
                        })
                })
            })
            .count();
        if ready == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed();
    let rss = peak_rss_kib(pid);
    let _ = controller.kill();
    let _ = controller.wait();
    println!("objects:            {n} (controller --concurrent={concurrency})");
    println!("created in:         {:.2} s", created.as_secs_f64());
    println!(
        "all Ready after:    {:.2} s ({ready}/{n} ready)",
        wall.as_secs_f64()
    );
    match rss {
        Some(kib) => println!("controller peak RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("controller peak RSS: unavailable"),
    }
    anyhow::ensure!(ready == n, "only {ready} of {n} objects became ready");
    Ok(())
}
