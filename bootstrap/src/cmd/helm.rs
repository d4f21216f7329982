//! `gitops helm template NAME CHART ...`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Render a chart's templates locally and print them.
    Template {
        /// Release name.
        name: String,
        /// Chart directory or archive.
        chart: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Template { name, chart } => anyhow::bail!(
            "helm template {name} {}: the helm engine is not implemented yet",
            chart.display()
        ),
    }
}
