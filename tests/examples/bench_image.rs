//! Benchmark: an image repository with N tags (10,000 by default) in a local
//! docker-registry, scanned and its policies computed.
//!
//! 1. In process, with the library (`gitops-image-updater`): listing the tags over the
//!    registry API (following its pages), filtering and ordering them, storing them in the
//!    tag database, and each policy's pick (semver range, numerical with a `filterTags`
//!    extract, alphabetical).
//! 2. With the controller (a separate `gitops controller image-reflector-controller`
//!    process against the embedded API server): from creating the ImageRepository and three
//!    ImagePolicies to all four Ready, and the controller's peak RSS.
//!
//! Run through `tests/bench/image.sh`, or:
//! `cargo run --release -p gitops-tests --example bench_image -- <path to gitops> [N]`.

use gitops_api::{ImagePolicy, ImageRepository};
use gitops_image_updater::policy::Selector;
use gitops_image_updater::registry::{ExclusionList, ImageName, RegistryClient, TagScan};
use gitops_image_updater::store::TagStore;
use gitops_tests::{DockerRegistry, bench};
use kube::api::Api;
use serde_json::json;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The policies the benchmark computes: (name, spec.policy, spec.filterTags).
fn policies() -> Vec<(&'static str, serde_json::Value, Option<serde_json::Value>)> {
    vec![
        (
            "semver",
            json!({"semver": {"range": ">=1.0.0 <2.0.0-0"}}),
            None,
        ),
        (
            "numerical",
            json!({"numerical": {"order": "asc"}}),
            Some(json!({"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)$", "extract": "$ts"})),
        ),
        (
            "alphabetical",
            json!({"alphabetical": {"order": "asc"}}),
            None,
        ),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (gitops, n, _) = bench::args(10_000);
    gitops_source::ensure_crypto_provider();
    let Some(reg) = DockerRegistry::start().await else {
        anyhow::bail!("docker-registry is not installed (apt-get install docker-registry)");
    };
    // Versions, CI build tags (`main-<sha>-<timestamp>`) and signatures, as a busy
    // repository has.
    let tags: Vec<String> = (0..n)
        .map(|i| match i % 4 {
            0 | 1 => format!("{}.{}.{}", i % 3, (i / 3) % 50, i / 150),
            2 => format!("main-{:07x}-{}", i * 7919, 1_700_000_000 + i),
            _ => format!("sha256-{:064x}.sig", i),
        })
        .collect();
    let t = Instant::now();
    reg.push_tags("bench/app", &tags, None).await;
    println!(
        "registry: {} tags pushed in {:.1} s",
        tags.len(),
        t.elapsed().as_secs_f64()
    );

    // 1. The library.
    let tmp = tempfile::tempdir()?;
    let image = ImageName::parse(&format!("{}/bench/app", reg.host), false)?;
    let client = RegistryClient::default();
    let mut best = Duration::MAX;
    let mut listed = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        listed = client.list_tags(&image, None).await?;
        best = best.min(t.elapsed());
    }
    println!(
        "list {} tags from the registry: {} (best of 3)",
        listed.len(),
        ms(best)
    );
    let t = Instant::now();
    let scan = TagScan::new(listed, &ExclusionList::new(&[])?);
    let filter_time = t.elapsed();
    let store = TagStore::open(&tmp.path().join("tags.redb"))?;
    let t = Instant::now();
    let revision = store.set_tags(&image.canonical(), &scan.tags)?;
    let store_time = t.elapsed();
    let t = Instant::now();
    let read = store.tags(&image.canonical())?;
    let read_time = t.elapsed();
    println!(
        "exclusion list and ordering: {}; store {} tags: {}; read them back: {} (revision {revision})",
        ms(filter_time),
        read.len(),
        ms(store_time),
        ms(read_time)
    );
    for (name, policy, filter) in policies() {
        let choice = serde_json::from_value(policy)?;
        let filter: Option<gitops_api::image::TagFilter> =
            filter.map(serde_json::from_value).transpose()?;
        let t = Instant::now();
        let selector = Selector::from_spec(&choice, filter.as_ref())?;
        let latest = selector.latest(&read)?;
        println!("policy {name}: {latest} in {}", ms(t.elapsed()));
    }

    // 2. The controller.
    let (_api, kubeconfig, kube_client) = bench::start_api_server(&gitops, tmp.path()).await?;
    let mut controller = bench::spawn_controller(
        &gitops,
        "image-reflector-controller",
        &kubeconfig,
        &[format!(
            "--storage-path={}",
            tmp.path().join("reflector").display()
        )],
    )?;
    let pid = controller.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let repos: Api<ImageRepository> = Api::namespaced(kube_client.clone(), "default");
    let pols: Api<ImagePolicy> = Api::namespaced(kube_client.clone(), "default");
    let started = Instant::now();
    bench::create_all(&repos, 1, |_| {
        serde_json::from_value(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {"image": format!("{}/bench/app", reg.host), "interval": "1h"},
        }))
        .expect("object")
    })
    .await;
    let specs = policies();
    bench::create_all(&pols, specs.len(), |i| {
        let (name, policy, filter) = &specs[i];
        let mut spec = json!({"imageRepositoryRef": {"name": "app"}, "policy": policy});
        if let Some(f) = filter {
            spec["filterTags"] = f.clone();
        }
        serde_json::from_value(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec,
        }))
        .expect("object")
    })
    .await;
    let limit = Duration::from_secs(120);
    let poll = Duration::from_millis(10);
    let ready = |conds: Option<&Vec<gitops_api::Condition>>| {
        conds.is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Ready" && c.status.as_str() == "True")
        })
    };
    let repo_ready = bench::wait_all(&repos, 1, started, limit, poll, |r| {
        ready(r.status.as_ref().map(|s| &s.conditions))
    })
    .await?;
    let repo_time = started.elapsed();
    let pol_ready = bench::wait_all(&pols, specs.len(), started, limit, poll, |p| {
        ready(p.status.as_ref().map(|s| &s.conditions))
    })
    .await?;
    let all_time = started.elapsed();
    println!(
        "controller: ImageRepository Ready ({repo_ready}/1) in {}, the {} ImagePolicies Ready ({pol_ready}/{}) in {}",
        ms(repo_time),
        specs.len(),
        specs.len(),
        ms(all_time)
    );
    for p in pols.list(&Default::default()).await?.items {
        let latest = p.status.and_then(|s| s.latest_ref).map(|r| r.tag);
        println!(
            "  {}: {}",
            p.metadata.name.unwrap_or_default(),
            latest.unwrap_or_default()
        );
    }
    bench::print_rss(bench::peak_rss_kib(pid));
    let _ = controller.kill();
    let _ = controller.wait();
    Ok(())
}
