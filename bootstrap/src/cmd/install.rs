//! `gitops install`: the installation manifests.

use crate::install::{DEFAULT_REGISTRY, InstallOptions, default_components};
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Print the manifests to stdout instead of applying them.
    #[arg(long)]
    export: bool,
    /// Namespace of the controllers.
    #[arg(long, short = 'n', default_value = "flux-system")]
    namespace: String,
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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut components = args.components;
    components.extend(args.components_extra);
    let opts = InstallOptions {
        namespace: args.namespace,
        components,
        registry: args.registry,
        version: args.version,
        network_policy: args.network_policy,
        cluster_domain: args.cluster_domain,
        log_level: args.log_level,
        watch_all_namespaces: args.watch_all_namespaces,
    };
    let yaml = crate::install::render(&opts)?;
    if !args.export {
        anyhow::bail!(
            "applying to a cluster is not available yet; run `gitops install --export | kubectl apply --server-side -f -`"
        );
    }
    match std::io::stdout().write_all(yaml.as_bytes()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
