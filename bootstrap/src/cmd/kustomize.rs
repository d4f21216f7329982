//! `gitops kustomize build DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Build a kustomization directory and print the YAML stream.
    Build {
        /// The kustomization root.
        dir: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Build { dir } => {
            anyhow::bail!(
                "kustomize build {}: the kustomize engine is not implemented yet",
                dir.display()
            )
        }
    }
}
