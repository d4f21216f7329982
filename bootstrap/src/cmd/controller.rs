//! `gitops controller <name>`: runs one controller.

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
    let Some(info) = gitops_controllers::controller(&args.name) else {
        anyhow::bail!(
            "unknown controller {:?}; known: {}",
            args.name,
            gitops_controllers::CONTROLLERS
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let Some(start) = info.start else {
        anyhow::bail!("controller {}: not implemented yet", info.name);
    };
    let argv = std::iter::once(info.name.to_string())
        .chain(args.rest)
        .collect();
    let controller = match start(argv) {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
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
    rt.block_on(controller)?;
    Ok(ExitCode::SUCCESS)
}
