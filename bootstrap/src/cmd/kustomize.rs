//! `gitops kustomize build DIR`.

use std::io::Write;
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
        /// Allow files outside the kustomization root (kustomize's LoadRestrictionsNone).
        #[arg(long = "load-restrictor", default_value = "LoadRestrictionsRootOnly")]
        load_restrictor: String,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Build {
            dir,
            load_restrictor,
        } => {
            let restrictor = match load_restrictor.as_str() {
                "LoadRestrictionsRootOnly" => gitops_kustomize::LoadRestrictor::RootOnly,
                "LoadRestrictionsNone" => gitops_kustomize::LoadRestrictor::None,
                other => anyhow::bail!("unknown load restrictor {other}"),
            };
            let opts = gitops_kustomize::BuildOptions {
                load_restrictor: restrictor,
                ..Default::default()
            };
            let out = gitops_kustomize::build_to_string(&dir, &opts)?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
