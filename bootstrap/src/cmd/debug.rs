//! `gitops debug kustomization|helmrelease NAME`: a Kustomization's status, final
//! post-build variables or history; a HelmRelease's status, final values or history, as
//! `flux debug` prints them.

use crate::cli::{Global, kinds, object};
use std::io::Write;
use std::process::ExitCode;

/// `gitops debug`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Debug a Flux Kustomization.
    #[command(visible_alias = "ks")]
    Kustomization(KsArgs),
    /// Debug a Flux HelmRelease.
    #[command(visible_alias = "hr")]
    Helmrelease(HrArgs),
}

#[derive(clap::Args)]
struct KsArgs {
    /// Kustomization name.
    name: Option<String>,
    /// Print the status of the Flux Kustomization.
    #[arg(long)]
    show_status: bool,
    /// Print the final vars of the Flux Kustomization in dot env format.
    #[arg(long)]
    show_vars: bool,
    /// Print the reconciliation history of the Flux Kustomization.
    #[arg(long)]
    show_history: bool,
}

#[derive(clap::Args)]
struct HrArgs {
    /// HelmRelease name.
    name: Option<String>,
    /// Print the status of the Flux HelmRelease.
    #[arg(long)]
    show_status: bool,
    /// Print the final values of the Flux HelmRelease.
    #[arg(long)]
    show_values: bool,
    /// Print the reconciliation history of the Flux HelmRelease.
    #[arg(long)]
    show_history: bool,
}

/// YAML of a value without the document marker (`[]` for an empty list, `{}` for an empty
/// map), as go-yaml prints a bare value.
fn bare_yaml(v: &serde_json::Value) -> anyhow::Result<String> {
    let doc = crate::cli::yaml::document(v)?;
    Ok(doc.trim_start_matches("---\n").to_owned())
}

/// The object through its Rust type (unknown fields dropped, durations as Go writes them).
fn typed(live: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    crate::cmd::export::typed_value(live)
}

/// Runs `gitops debug`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = &args.global;
    let mut out = String::new();
    match args.command {
        Command::Kustomization(a) => {
            let Some(name) = a.name else {
                anyhow::bail!("name is required");
            };
            if [a.show_status, a.show_vars, a.show_history]
                .iter()
                .filter(|b| **b)
                .count()
                != 1
            {
                anyhow::bail!(
                    "exactly one of --show-status, --show-vars, or --show-history must be set"
                );
            }
            crate::cli::global::block_on(async {
                let client = global.client().await?;
                let api = kinds::KUSTOMIZATION.api(&client, Some(&global.namespace));
                let live = object::get(&api, &name).await?;
                let ks = typed(&live)?;
                if a.show_status {
                    out.push_str("# Status documentation: https://fluxcd.io/flux/components/kustomize/kustomizations/#kustomization-status\n");
                    out.push_str(&bare_yaml(&ks["status"])?);
                } else if a.show_vars {
                    let k: gitops_api::Kustomization = serde_json::from_value(live)?;
                    let Some(pb) = &k.spec.post_build else {
                        anyhow::bail!("no post build substitutions found");
                    };
                    let vars = gitops_controllers::kustomize::post_build_variables(
                        Some(&client),
                        &global.namespace,
                        pb,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    for (k, v) in vars {
                        out.push_str(&format!("{k}={v}\n"));
                    }
                } else {
                    out.push_str("# History documentation: https://fluxcd.io/flux/components/kustomize/kustomizations/#history\n");
                    let history = ks["status"].get("history").cloned();
                    out.push_str(&bare_yaml(&history.unwrap_or(serde_json::json!([])))?);
                }
                Ok(())
            })?;
        }
        Command::Helmrelease(a) => {
            let Some(name) = a.name else {
                anyhow::bail!("name is required");
            };
            if [a.show_status, a.show_values, a.show_history]
                .iter()
                .filter(|b| **b)
                .count()
                != 1
            {
                anyhow::bail!(
                    "exactly one of --show-status, --show-values, or --show-history must be set"
                );
            }
            crate::cli::global::block_on(async {
                let client = global.client().await?;
                let api = kinds::HELM_RELEASE.api(&client, Some(&global.namespace));
                let live = object::get(&api, &name).await?;
                let hr = typed(&live)?;
                if a.show_status {
                    out.push_str("# Status documentation: https://fluxcd.io/flux/components/helm/helmreleases/#helmrelease-status\n");
                    out.push_str(&bare_yaml(&hr["status"])?);
                } else if a.show_values {
                    let h: gitops_api::HelmRelease = serde_json::from_value(live)?;
                    let values = gitops_controllers::helm::values::compose(&client, &h)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    out.push_str(&bare_yaml(&serde_json::Value::Object(values))?);
                } else {
                    out.push_str("# History documentation: https://fluxcd.io/flux/components/helm/helmreleases/#history\n");
                    let history = hr["status"].get("history").cloned();
                    out.push_str(&bare_yaml(&history.unwrap_or(serde_json::json!([])))?);
                }
                Ok(())
            })?;
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
