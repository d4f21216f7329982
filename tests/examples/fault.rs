//! The fault test at full size: `gitops` processes (API server, source, kustomize and helm
//! controllers) killed with SIGKILL at random moments while Kustomizations and
//! HelmReleases reconcile; every round must converge with nothing lost, duplicated or
//! wrongly pruned, and right inventories (see `gitops_tests::fault`).
//!
//! Run through `tests/bench/fault.sh`, or:
//! `cargo run -p gitops-tests --example fault -- <path to gitops> [KUSTOMIZATIONS] [HELMRELEASES] [ROUNDS] [SEED]`
//! (`FAULT_EACH_IN_TURN=1` kills the four processes in turn instead of at random).

use gitops_tests::fault::{FaultConfig, run};
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let gitops = args
        .next()
        .unwrap_or_else(|| "target/release/gitops".into());
    let mut num = |default: u64| args.next().and_then(|s| s.parse().ok()).unwrap_or(default);
    let kustomizations = num(200) as usize;
    let helm_releases = num(50) as usize;
    let rounds = num(20) as usize;
    let seed = num(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64);
    println!(
        "fault test: {kustomizations} Kustomizations, {helm_releases} HelmReleases, {rounds} rounds, seed {seed}"
    );
    let report = run(FaultConfig {
        gitops: gitops.into(),
        kustomizations,
        helm_releases,
        rounds,
        seed,
        each_in_turn: std::env::var_os("FAULT_EACH_IN_TURN").is_some(),
        interval: "1m".into(),
        converge_timeout: Duration::from_secs(300),
    })
    .await;
    match report {
        Ok(r) => {
            for line in r.rounds {
                println!("{line}");
            }
            println!("all {rounds} rounds converged and verified");
            Ok(())
        }
        Err(e) => {
            eprintln!("fault test failed: {e:#}");
            std::process::exit(1);
        }
    }
}
