//! Benchmark (b): N OCIRepositories pointing at a local docker-registry, reconciled to Ready
//! by the source controller (a separate `gitops` process) against the embedded API server
//! (another `gitops` process). Prints the wall time from the first create to all Ready, and
//! the controller's peak RSS (VmHWM).
//!
//! Run through `tests/bench/oci_1000.sh`, or:
//! `cargo run -p gitops-tests --example bench_oci -- <path to gitops> [N] [concurrency]`.

use gitops_api::OCIRepository;
use gitops_tests::{DockerRegistry, bench, free_port};
use kube::api::Api;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (gitops, n, more) = bench::args(1000);
    let concurrency: String = more.first().cloned().unwrap_or_else(|| "8".into());
    gitops_source::ensure_crypto_provider();
    let Some(reg) = DockerRegistry::start().await else {
        anyhow::bail!("docker-registry is not installed (apt-get install docker-registry)");
    };
    let tmp = tempfile::tempdir()?;
    let (_api, kubeconfig, client) = bench::start_api_server(&gitops, tmp.path()).await?;

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
    let mut controller = bench::spawn_controller(
        &gitops,
        "source-controller",
        &kubeconfig,
        &[
            format!("--storage-path={}", tmp.path().join("storage").display()),
            format!("--storage-addr=127.0.0.1:{storage_port}"),
            format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            format!("--concurrent={concurrency}"),
        ],
    )?;
    let pid = controller.id();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let api: Api<OCIRepository> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    bench::create_all(&api, n, |i| {
        serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": format!("app-{i}"), "namespace": "default"},
            "spec": {"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "1.0.0"}},
        }))
        .expect("object")
    })
    .await;
    let created = started.elapsed();
    let ready = bench::wait_all(
        &api,
        n,
        started,
        Duration::from_secs(600),
        Duration::from_millis(200),
        |o| {
            o.status.as_ref().is_some_and(|s| {
                s.artifact
                    .as_ref()
                    .is_some_and(|a| a.revision == pushed.revision)
                    && s.conditions.iter().any(|c| {
                        c.type_ == "Ready" && c.status == gitops_api::ConditionStatus::True
                    })
            })
        },
    )
    .await?;
    let wall = started.elapsed();
    let rss = bench::peak_rss_kib(pid);
    let _ = controller.kill();
    let _ = controller.wait();
    println!("objects:            {n} (controller --concurrent={concurrency})");
    println!("created in:         {:.2} s", created.as_secs_f64());
    println!(
        "all Ready after:    {:.2} s ({ready}/{n} ready)",
        wall.as_secs_f64()
    );
    bench::print_rss(rss);
    anyhow::ensure!(ready == n, "only {ready} of {n} objects became ready");
    Ok(())
}
