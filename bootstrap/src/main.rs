//! The `gitops` command: install, bootstrap and drive the GitOps controllers, and run the
//! engines (`kustomize build`, `helm template`) on their own.

mod cmd;
mod install;
mod logging;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gitops",
    version,
    about = "GitOps toolkit: Flux-compatible controllers and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded cluster with every controller, reconciling a repository.
    Dev(cmd::dev::Args),
    /// Print or apply the installation manifests (CRDs, RBAC, controller Deployments).
    Install(cmd::install::Args),
    /// Run the embedded Kubernetes API server.
    Apiserver(cmd::apiserver::Args),
    /// Run one controller (as the installation's Deployments do).
    Controller(cmd::controller::Args),
    /// Kustomize engine: `gitops kustomize build DIR`.
    Kustomize(cmd::kustomize::Args),
    /// Helm engine: `gitops helm template NAME CHART ...`.
    Helm(cmd::helm::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => cmd::dev::run(args),
        Command::Install(args) => cmd::install::run(args),
        Command::Apiserver(args) => cmd::apiserver::run(args),
        Command::Controller(args) => cmd::controller::run(args),
        Command::Kustomize(args) => cmd::kustomize::run(args),
        Command::Helm(args) => cmd::helm::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
