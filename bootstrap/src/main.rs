//! The `gitops` command: install, bootstrap and drive the GitOps controllers, and run the
//! engines (`kustomize build`, `helm template`) on their own.

mod cli;
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

// Parsed once per run: the size of the biggest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the embedded cluster with every controller, reconciling a repository.
    Dev(cmd::dev::Args),
    /// Print or apply the installation manifests (CRDs, RBAC, controller Deployments).
    Install(cmd::install::Args),
    /// Uninstall Flux and its custom resource definitions.
    Uninstall(cmd::uninstall::Args),
    /// Run the embedded Kubernetes API server.
    Apiserver(cmd::apiserver::Args),
    /// Run one controller (as the installation's Deployments do).
    Controller(cmd::controller::Args),
    #[command(flatten)]
    Engine(EngineCommand),
    /// Create or update sources and resources.
    Create(cmd::create::Args),
    /// Get the resources and their status.
    Get(cmd::get::Args),
    /// Suspend resources.
    Suspend(cmd::ops::SuspendArgs),
    /// Resume suspended resources.
    Resume(cmd::ops::ResumeArgs),
    /// Reconcile sources and resources.
    Reconcile(cmd::ops::ReconcileArgs),
    /// Delete sources and resources.
    Delete(cmd::ops::DeleteArgs),
    /// Export resources in YAML format.
    Export(cmd::export::Args),
    /// Print the resources reconciled by Flux.
    Tree(cmd::tree::Args),
    /// Trace in-cluster objects throughout the GitOps delivery pipeline.
    Trace(cmd::trace::Args),
    /// Display Kubernetes events for Flux resources.
    Events(cmd::events::Args),
    /// Print the client and server-side components version information.
    Version(cmd::version::Args),
    /// Generates completion scripts for various shells.
    Completion(cmd::completion::Args),
    /// Envsubst substitutes the values of environment variables.
    Envsubst(cmd::envsubst::Args),
    /// Check requirements and installation.
    Check(cmd::check::Args),
    /// Build a flux object locally.
    Build(cmd::build::Args),
    /// Diff a flux resource.
    Diff(cmd::diff::Args),
    /// Stats of Flux reconciles.
    Stats(cmd::stats::Args),
    /// Display formatted logs for Flux components.
    Logs(cmd::logs::Args),
    /// Debug a flux resource.
    Debug(cmd::debug::Args),
    /// Serve a live web view of the Flux objects (overview, objects, graph, actions).
    Ui(cmd::ui::Args),
    /// Deploy Flux on a cluster the GitOps way.
    Bootstrap(cmd::bootstrap::Args),
}

/// The engine commands alone. They run once per render, often thousands of times from
/// scripts and pipelines, so they are parsed without building the whole command tree (which
/// costs more than a small render).
#[derive(Parser)]
#[command(
    name = "gitops",
    version,
    about = "GitOps toolkit: Flux-compatible controllers and tools"
)]
struct EngineCli {
    #[command(subcommand)]
    command: EngineCommand,
}

/// The engine commands, also part of [`Command`] (flattened there, in their place).
#[derive(Subcommand)]
enum EngineCommand {
    /// Kustomize engine: `gitops kustomize build DIR`.
    Kustomize(cmd::kustomize::Args),
    /// Helm engine: `gitops helm template NAME CHART ...`.
    Helm(cmd::helm::Args),
}

impl EngineCommand {
    fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            EngineCommand::Kustomize(args) => cmd::kustomize::run(args),
            EngineCommand::Helm(args) => cmd::helm::run(args),
        }
    }
}

/// Parses `argv` with `command` (built once), as Flux's CLI reads it.
fn parse<T: clap::FromArgMatches>(
    mut command: clap::Command,
    argv: Vec<std::ffi::OsString>,
) -> Result<(T, clap::Command), ExitCode> {
    let argv = cli::argv::normalize(&command, argv);
    let parsed = command
        .try_get_matches_from_mut(argv)
        .and_then(|m| T::from_arg_matches(&m));
    match parsed {
        Ok(v) => Ok((v, command)),
        Err(err) => {
            let err = err.format(&mut command);
            match cli::errors::cobra_message(&err) {
                Some(msg) => {
                    cli::log::failure(msg);
                    Err(ExitCode::FAILURE)
                }
                None => err.exit(),
            }
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if matches!(
        argv.get(1).and_then(|a| a.to_str()),
        Some("helm" | "kustomize")
    ) {
        malloc_for_engines();
        let command = <EngineCli as clap::CommandFactory>::command();
        let engine = match parse::<EngineCli>(command, argv) {
            Ok((cli, _)) => cli,
            Err(code) => return code,
        };
        return finish(engine.command.run());
    }
    let command = <Cli as clap::CommandFactory>::command();
    let (cli, command) = match parse::<Cli>(command, argv) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    finish(match cli.command {
        Command::Dev(args) => cmd::dev::run(args),
        Command::Install(args) => cmd::install::run(args),
        Command::Uninstall(args) => cmd::uninstall::run(args),
        Command::Apiserver(args) => cmd::apiserver::run(args),
        Command::Controller(args) => cmd::controller::run(args),
        Command::Engine(engine) => engine.run(),
        Command::Create(args) => cmd::create::run(args),
        Command::Get(args) => cmd::get::run(args),
        Command::Suspend(args) => cmd::ops::suspend(args),
        Command::Resume(args) => cmd::ops::resume(args),
        Command::Reconcile(args) => cmd::ops::reconcile(args),
        Command::Delete(args) => cmd::ops::delete(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Tree(args) => cmd::tree::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Events(args) => cmd::events::run(args),
        Command::Version(args) => cmd::version::run(args),
        Command::Completion(args) => cmd::completion::run(args, command),
        Command::Envsubst(args) => cmd::envsubst::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Build(args) => cmd::build::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Stats(args) => cmd::stats::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Debug(args) => cmd::debug::run(args),
        Command::Ui(args) => cmd::ui::run(args),
        Command::Bootstrap(args) => cmd::bootstrap::run(args),
    })
}

/// Engine commands parse templates and render on threads of their own, each with a glibc
/// malloc arena, which grows its heap a page or two per `mprotect` call by default: several
/// hundred calls in one render, each taking the address-space lock the other threads' page
/// faults need. A 16 MiB pad makes each heap start writable for that much (its pages are
/// still only touched as used): a dozen calls, a tenth less CPU for a render.
fn malloc_for_engines() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc allocator parameters; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

/// The exit code of a command's result, its error reported as Flux reports errors.
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            cli::log::failure(format!("{err:#}"));
            ExitCode::FAILURE
        }
    }
}
