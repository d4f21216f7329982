//! The fault test, small: the API server and the source, kustomize and helm controllers
//! as `gitops` processes, each round one killed with SIGKILL at a random moment while
//! Kustomizations and HelmReleases reconcile; every round converges with nothing lost,
//! duplicated or wrongly pruned (see `gitops_tests::fault`; `tests/bench/fault.sh` runs it
//! at full size, 200 Kustomizations and 50 HelmReleases over 20 rounds).

use gitops_tests::fault::{FaultConfig, run};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_components_converge_without_loss() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    // Each component dies once, at a random moment (the seed replays a failure).
    eprintln!("fault test seed {seed}");
    let report = run(FaultConfig {
        gitops: env!("CARGO_BIN_EXE_gitops").into(),
        kustomizations: 12,
        helm_releases: 4,
        rounds: 4,
        seed,
        each_in_turn: true,
        interval: "20s".into(),
        converge_timeout: Duration::from_secs(180),
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    for line in &report.rounds {
        eprintln!("{line}");
    }
    assert_eq!(report.rounds.len(), 5);
}
