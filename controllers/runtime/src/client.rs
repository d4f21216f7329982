//! The Kubernetes client of a controller.

use std::path::Path;

/// A client from a kubeconfig file, or from the in-cluster environment (service account
/// token and `KUBERNETES_SERVICE_HOST`) when `kubeconfig` is `None`.
pub async fn client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = config(kubeconfig).await?;
    kube::Client::try_from(config).map_err(|e| anyhow::anyhow!("Kubernetes client: {e}"))
}

/// The client configuration [`client`] uses (for controllers that derive other clients
/// from it, e.g. impersonating ones).
pub async fn config(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Config> {
    crate::ensure_crypto_provider();
    Ok(match kubeconfig {
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
    })
}
