//! `gitops install`: the installation manifests.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Print the manifests instead of applying them.
    #[arg(long)]
    export: bool,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("install: not implemented yet")
}
