//! `gitops install`: the installation manifests, printed (`--export`) or applied to the
//! cluster as `flux install` applies them.

use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::{Global, components, log};
use crate::install::{DEFAULT_REGISTRY, InstallOptions, default_components};
use anyhow::anyhow;
use std::io::Write;
use std::process::ExitCode;

/// The flags that shape an installation, as Flux's `install` and `bootstrap` share them
/// (global so that they also follow `bootstrap`'s subcommands).
#[derive(clap::Args, Clone)]
pub struct InstallFlags {
    /// Toolkit version, e.g. 'v0.1.0'.
    #[arg(long, short = 'v', global = true, default_value = concat!("v", env!("CARGO_PKG_VERSION")))]
    pub version: String,
    /// List of components to install (default: the default controllers).
    #[arg(long, global = true, value_parser = string_slice)]
    components: Vec<StringSlice>,
    /// List of components in addition to those supplied or defaulted, accepts values such
    /// as 'image-reflector-controller,image-automation-controller'.
    #[arg(long, global = true, value_parser = string_slice)]
    components_extra: Vec<StringSlice>,
    /// Container registry where the toolkit images are published.
    #[arg(long, global = true, default_value = DEFAULT_REGISTRY)]
    registry: String,
    /// Container registry credentials in the format 'user:password', requires
    /// --image-pull-secret to be set.
    #[arg(long, global = true, default_value = "")]
    registry_creds: String,
    /// Kubernetes secret name used for pulling the toolkit images from a private registry.
    #[arg(long, global = true, default_value = "")]
    image_pull_secret: String,
    /// If true the controllers will watch for custom resources in all namespaces.
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set)]
    watch_all_namespaces: bool,
    /// Setting this to true will deploy network policies.
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set)]
    network_policy: bool,
    /// Log level of the controllers.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Internal cluster domain.
    #[arg(long, global = true, default_value = "cluster.local")]
    cluster_domain: String,
    /// List of toleration keys used to schedule the components pods onto nodes with
    /// matching taints.
    #[arg(long, global = true, value_parser = string_slice)]
    toleration_keys: Vec<StringSlice>,
    /// Override an existing Flux installation if it's managed by a different tool such as
    /// Helm.
    #[arg(long, global = true)]
    pub force: bool,
}

impl InstallFlags {
    /// The installation the flags describe in `namespace`, checked as Flux checks them.
    pub fn options(&self, namespace: &str) -> anyhow::Result<InstallOptions> {
        if !self.registry_creds.is_empty() {
            if self.image_pull_secret.is_empty() {
                anyhow::bail!("--registry-creds requires --image-pull-secret to be set");
            }
            if self.registry_creds.split(':').count() != 2 {
                anyhow::bail!("invalid --registry-creds format, expected 'user:password'");
            }
        }
        let mut components = flatten(self.components.clone());
        if components.is_empty() {
            components = default_components()
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        components.extend(flatten(self.components_extra.clone()));
        Ok(InstallOptions {
            namespace: namespace.to_owned(),
            components,
            registry: self.registry.clone(),
            version: self.version.clone(),
            network_policy: self.network_policy,
            cluster_domain: self.cluster_domain.clone(),
            log_level: self.log_level.clone(),
            watch_all_namespaces: self.watch_all_namespaces,
            toleration_keys: flatten(self.toleration_keys.clone()),
            image_pull_secret: self.image_pull_secret.clone(),
        })
    }

    /// Creates or updates the image pull Secret from `--registry-creds` (Flux's
    /// `reconcileImagePullSecret`): a `.dockerconfigjson` for the registry.
    pub async fn reconcile_pull_secret(
        &self,
        client: &kube::Client,
        namespace: &str,
    ) -> anyhow::Result<()> {
        let Some((user, password)) = self.registry_creds.split_once(':') else {
            return Ok(());
        };
        if self.image_pull_secret.is_empty() {
            return Ok(());
        }
        let meta = crate::cli::sourcesecret::SecretMeta {
            name: self.image_pull_secret.clone(),
            namespace: namespace.to_owned(),
            ..Default::default()
        };
        let secret = crate::cli::sourcesecret::oci(&meta, &self.registry, user, password)?;
        crate::cmd::create::secret::upsert_secret(client, &secret)
            .await
            .map_err(|e| anyhow::anyhow!("failed to reconcile image pull secret: {e:#}"))?;
        log::success(format!(
            "reconciled image pull secret {}",
            self.image_pull_secret
        ));
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Write the install manifests to stdout and exit.
    #[arg(long)]
    export: bool,
    #[command(flatten)]
    install: InstallFlags,
    #[command(flatten)]
    global: Global,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = args.install.options(&args.global.namespace)?;
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
            if !args.install.force {
                info.confirm_override()
                    .map_err(|_| anyhow!("installation cancelled"))?;
            }
        }
        components::install(&client, &manifests, &opts.namespace, global.timeout).await?;
        args.install
            .reconcile_pull_secret(&client, &opts.namespace)
            .await?;
        log::success("install finished");
        Ok(ExitCode::SUCCESS)
    })
}
