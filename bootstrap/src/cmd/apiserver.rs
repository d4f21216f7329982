//! `gitops apiserver --state DIR [--listen ADDR]`: the embedded Kubernetes API server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the database, TLS files, token and kubeconfig.
    #[arg(long, default_value = ".gitops-dev")]
    state: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Do not simulate workload readiness (Deployments, Jobs … keep the status clients give them).
    #[arg(long)]
    no_simulation: bool,
    /// Fsync every write before acknowledging it (survives power loss; slower). By default
    /// writes are acknowledged once in the write-ahead log and fsynced within 100 ms.
    #[arg(long)]
    fsync_every_write: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::logging::init(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut config = gitops_apiserver::Config::new(&args.state);
        config.listen = args.listen;
        config.simulate_workloads = !args.no_simulation;
        config.durability = if args.fsync_every_write {
            gitops_apiserver::Durability::Fsync
        } else {
            gitops_apiserver::Durability::Os
        };
        let server = gitops_apiserver::Server::start(config).await?;
        eprintln!(
            "API server listening on {}; kubeconfig: {}",
            server.url(),
            server.kubeconfig_path().display()
        );
        server.run_until_signal().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
