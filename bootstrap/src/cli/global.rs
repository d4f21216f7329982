//! The flags every Flux-style command takes (`--kubeconfig`, `--context`, `-n`, `--timeout`,
//! `--verbose`) and the cluster client built from them.

use std::path::PathBuf;
use std::time::Duration;

/// Global flags, as the `flux` CLI defines them.
#[derive(clap::Args, Clone, Debug)]
pub struct Global {
    /// Path to the kubeconfig file (default: `$KUBECONFIG` or `~/.kube/config`).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace scope for this operation.
    #[arg(
        long,
        short = 'n',
        global = true,
        default_value = "flux-system",
        env = "FLUX_SYSTEM_NAMESPACE"
    )]
    pub namespace: String,
    /// Timeout for this operation.
    #[arg(long, global = true, default_value = "5m0s", value_parser = go_duration)]
    pub timeout: Duration,
    /// Print generated objects.
    #[arg(long, global = true)]
    pub verbose: bool,
}

impl Global {
    /// Flux's checks before any command runs: the namespace must be a DNS label.
    pub fn check(&self) -> anyhow::Result<()> {
        if !is_dns1123_label(&self.namespace) {
            anyhow::bail!("namespace must be a valid DNS label: {:?}", self.namespace);
        }
        Ok(())
    }

    /// A client for the cluster the kubeconfig (and `--context`) names.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        kube::Client::try_from(self.config().await?)
            .map_err(|e| anyhow::anyhow!("Kubernetes client initialization failed: {e}"))
    }

    /// A client for a long-running command (`gitops ui`): its requests time out as the
    /// controllers' do (a server that stops answering fails a request instead of holding it
    /// forever), so its watches must end sooner (the runtime's `watch_config`). One-shot
    /// commands and `--watch` streams, which may stay quiet for long, use [`Global::client`].
    pub async fn long_running_client(&self) -> anyhow::Result<kube::Client> {
        let mut config = self.config().await?;
        gitops_controllers::runtime::client::with_timeouts(&mut config);
        kube::Client::try_from(config)
            .map_err(|e| anyhow::anyhow!("Kubernetes client initialization failed: {e}"))
    }

    /// The client configuration of the kubeconfig (and `--context`).
    async fn config(&self) -> anyhow::Result<kube::Config> {
        gitops_source::ensure_crypto_provider();
        let options = kube::config::KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        match &self.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| anyhow::anyhow!("reading kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kc, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        }
        .map_err(|e| anyhow::anyhow!("Kubernetes client initialization failed: {e}"))
    }
}

/// Runs a command's async body on a small runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// A Go duration flag value (`time.ParseDuration`), with Go's error text.
pub fn go_duration(text: &str) -> Result<Duration, String> {
    gitops_api::duration::parse_go_duration(text)
        .map_err(|_| format!("time: invalid duration {text:?}"))
}

/// Formats a duration as Go's `time.Duration.String()` (`1m0s`).
pub fn format_duration(d: Duration) -> String {
    gitops_api::duration::format_go_duration(d)
}

/// Whether `s` is a DNS-1123 label (lowercase alphanumerics and `-`, at most 63 characters).
pub fn is_dns1123_label(s: &str) -> bool {
    gitops_api::meta::is_dns1123_label(s)
}
