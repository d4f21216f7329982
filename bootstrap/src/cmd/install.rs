//! `gitops install`: the installation manifests, printed (`--export`) or applied to the
//! cluster as `flux install` applies them.

use crate::cli::{Global, components, log};
use crate::install::{DEFAULT_REGISTRY, InstallOptions, default_components};
use anyhow::anyhow;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Write the install manifests to stdout and exit.
    #[arg(long)]
    export: bool,
    /// Controllers to install (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = default_components().into_iter().map(str::to_owned))]
    components: Vec<String>,
    /// Extra controllers: image-reflector-controller, image-automation-controller.
    #[arg(long, value_delimiter = ',')]
    components_extra: Vec<String>,
    /// Registry of the gitops image.
    #[arg(long, default_value = DEFAULT_REGISTRY)]
    registry: String,
    /// Image tag to install.
    #[arg(long, default_value = concat!("v", env!("CARGO_PKG_VERSION")))]
    version: String,
    /// Add network policies that restrict traffic to the controllers.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    network_policy: bool,
    /// Cluster domain used in the controllers' service addresses.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Log level of the controllers.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Watch objects in every namespace, not only the installation's.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    watch_all_namespaces: bool,
    /// Override an existing installation managed by a different tool such as Helm.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    global: Global,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut components = args.components;
    components.extend(args.components_extra);
    let opts = InstallOptions {
        namespace: args.global.namespace.clone(),
        components,
        registry: args.registry,
        version: args.version,
        network_policy: args.network_policy,
        cluster_domain: args.cluster_domain,
        log_level: args.log_level,
        watch_all_namespaces: args.watch_all_namespaces,
    };
    if args.export {
        let yaml = crate::install::render(&opts)?;
        return match std::io::stdout().write_all(yaml.as_bytes()) {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(ExitCode::SUCCESS),
        };
    }

    log::generate("generating manifests");
    let manifests = crate::install::manifests(&opts)?;
    if args.global.verbose {
        let yaml = crate::install::render(&opts)?;
        std::io::stdout().write_all(yaml.as_bytes())?;
    }
    log::success("manifests build completed");
    let global = &args.global;
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        if let Some(info) = components::cluster_info(&client).await? {
            if info.bootstrapped {
                anyhow::bail!(
                    "this cluster has already been bootstrapped with Flux {}! Please use 'gitops bootstrap' to upgrade",
                    info.version
                );
            }
            if !args.force {
                info.confirm_override()
                    .map_err(|_| anyhow!("installation cancelled"))?;
            }
        }
        components::install(&client, &manifests, &opts.namespace, global.timeout).await?;
        log::success("install finished");
        Ok(ExitCode::SUCCESS)
    })
}
