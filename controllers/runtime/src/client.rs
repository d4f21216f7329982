//! The Kubernetes client of a controller.

use std::path::Path;

/// A client from a kubeconfig file, or from the in-cluster environment (service account
/// token and `KUBERNETES_SERVICE_HOST`) when `kubeconfig` is `None`.
pub async fn client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = config(kubeconfig).await?;
    kube::Client::try_from(config).map_err(|e| anyhow::anyhow!("Kubernetes client: {e}"))
}

/// How long a request may wait for the server's next bytes. kube sets no limit, so a
/// server that stopped answering mid-request held a reconcile until the reconcile's own
/// guard (the fault test saw a Kustomization wait 70 s after an API server restart).
/// Watches are unaffected: the runtime's end within [`crate::reconcile::watch_config`]'s
/// 30 s (the controllers open no other watches).
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The client configuration [`client`] uses (for controllers that derive other clients
/// from it, e.g. impersonating ones).
pub async fn config(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Config> {
    crate::ensure_crypto_provider();
    let mut config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| anyhow::anyhow!("reading kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| anyhow::anyhow!("kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::incluster().map_err(|e| {
            anyhow::anyhow!("in-cluster configuration: {e} (pass --kubeconfig outside a cluster)")
        })?,
    };
    with_timeouts(&mut config);
    Ok(config)
}

/// Gives a client configuration the controllers' request timeout ([`READ_TIMEOUT`]),
/// counted from each request rather than from when its pooled connection went idle. For
/// every long-lived client of the workspace (the CLI's `gitops ui` too); its watches must
/// end sooner than that ([`crate::reconcile::watch_config`]).
pub fn with_timeouts(config: &mut kube::Config) {
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
}
