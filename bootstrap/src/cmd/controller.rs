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
    let known = gitops_controllers::CONTROLLERS
        .iter()
        .any(|c| *c == args.name || c.strip_suffix("-controller") == Some(args.name.as_str()));
    if !known {
        anyhow::bail!(
            "unknown controller {:?}; known: {}",
            args.name,
            gitops_controllers::CONTROLLERS.join(", ")
        );
    }
    anyhow::bail!("controller {}: not implemented yet", args.name)
}
