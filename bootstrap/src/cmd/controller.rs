//! `gitops controller <name>`: runs one controller.

use clap::Parser;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The controller to run, e.g. `source-controller` or `source`.
    name: String,
    /// Further flags for the controller.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let canonical = gitops_controllers::CONTROLLERS
        .iter()
        .find(|c| **c == args.name || c.strip_suffix("-controller") == Some(args.name.as_str()));
    let Some(canonical) = canonical else {
        anyhow::bail!(
            "unknown controller {:?}; known: {}",
            args.name,
            gitops_controllers::CONTROLLERS.join(", ")
        );
    };
    match *canonical {
        "source-controller" => {
            let parsed = gitops_controllers::source::SourceArgs::try_parse_from(
                std::iter::once(canonical.to_string()).chain(args.rest),
            )?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(gitops_controllers::source::run(parsed))?;
            Ok(ExitCode::SUCCESS)
        }
        "kustomize-controller" => {
            let parsed = match gitops_controllers::kustomize::KustomizeArgs::try_parse_from(
                std::iter::once(canonical.to_string()).chain(args.rest),
            ) {
                Ok(p) => p,
                Err(e)
                    if matches!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayHelp
                            | clap::error::ErrorKind::DisplayVersion
                    ) =>
                {
                    e.print()?;
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(gitops_controllers::kustomize::run(parsed))?;
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("controller {other}: not implemented yet"),
    }
}
