//! Putting the controllers on a cluster, as `flux install` does: server-side apply of the
//! installation manifests (CRDs and Namespaces first, waiting for the CRDs to be
//! established before anything of their kinds is applied), then waiting until every
//! controller Deployment is ready.
//!
//! [`install`] prints Flux's lines as it goes:
//!
//! ```text
//! ► installing components in flux-system namespace
//! CustomResourceDefinition/alerts.notification.toolkit.fluxcd.io created
//! …
//! Deployment/flux-system/source-controller created
//! ◎ verifying installation
//! ✔ helm-controller: deployment ready
//! …
//! ```
//!
//! [`apply`] and [`verify`] are its two halves, for callers that word their progress
//! differently (`bootstrap` says `✔ installed components` and checks health later).

use crate::cli::log;
use anyhow::anyhow;
use gitops_apply::kstatus::Status;
use gitops_apply::{Applier, ApplyError, ApplyOptions, ChangeSet, ObjectRef, WaitOptions};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The field manager of the installation's objects: Flux's CLI applies as `flux`, so an
/// installation made by either tool is updated by the other without conflicts.
pub const FIELD_MANAGER: &str = "flux";

/// Flux waits at most a minute for the CRDs and Namespaces of the first stage.
const DEFINITIONS_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the Deployments are polled while verifying.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Applies `manifests` (the output of [`crate::install::manifests`]) to the cluster and
/// waits until every Deployment among them is ready, at most `timeout`; prints Flux's
/// progress lines on stderr (the change set, then one line per Deployment). Fails with
/// `install failed: <why>` when the apply fails and `install failed` when a Deployment is
/// not ready in time (the lines above say which).
pub async fn install(
    client: &kube::Client,
    manifests: &[Value],
    namespace: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    log::action(format!("installing components in {namespace} namespace"));
    let changes = apply(client, manifests, timeout)
        .await
        .map_err(|e| anyhow!("install failed: {e}"))?;
    // `flux install` prints the change set as is, one object a line.
    eprintln!("{}", changes.lines().join("\n"));
    log::waiting("verifying installation");
    verify(client, &deployments(manifests)?, timeout)
        .await
        .map_err(|_| anyhow!("install failed"))
}

/// Server-side applies `manifests` as [`FIELD_MANAGER`], in stages (CRDs and Namespaces,
/// then the rest), waiting for new CRDs to be established in between (at most a minute,
/// or `timeout` if shorter). Unchanged objects are not written. Prints nothing.
pub async fn apply(
    client: &kube::Client,
    manifests: &[Value],
    timeout: Duration,
) -> Result<ChangeSet, ApplyError> {
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let opts = ApplyOptions {
        wait_crds_timeout: timeout.min(DEFINITIONS_TIMEOUT),
        ..ApplyOptions::default()
    };
    applier.apply(manifests.to_vec(), &opts).await
}

/// The Deployments among `manifests`.
pub fn deployments(manifests: &[Value]) -> anyhow::Result<Vec<ObjectRef>> {
    manifests
        .iter()
        .filter(|m| m["kind"] == "Deployment" && m["apiVersion"] == "apps/v1")
        .map(|m| ObjectRef::from_object(m).map_err(anyhow::Error::from))
        .collect()
}

/// Polls `objects` until all are ready (kstatus `Current`) or `timeout` passes, then prints
/// one line per object, sorted by name, as Flux's status checker does:
/// `✔ <name>: deployment ready`, `✗ <name>: deployment not found` or
/// `✗ <name>: deployment not ready`. Fails when any is not ready.
pub async fn verify(
    client: &kube::Client,
    objects: &[ObjectRef],
    timeout: Duration,
) -> anyhow::Result<()> {
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    let opts = WaitOptions {
        timeout,
        interval: POLL_INTERVAL,
        // Flux's checker waits for all to be current, whatever happens on the way.
        fail_fast: false,
        custom: Vec::new(),
    };
    let not_ready: HashMap<ObjectRef, Status> = match applier.wait(objects, &opts).await {
        Ok(()) => HashMap::new(),
        Err(ApplyError::WaitTimeout(list) | ApplyError::WaitFailed(list)) => {
            list.into_iter().map(|n| (n.object, n.status)).collect()
        }
        Err(e) => return Err(e.into()),
    };
    let mut sorted: Vec<&ObjectRef> = objects.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for r in sorted {
        let kind = r.kind.to_lowercase();
        match not_ready.get(r) {
            None => log::success(format!("{}: {kind} ready", r.name)),
            Some(Status::NotFound) => log::failure(format!("{}: {kind} not found", r.name)),
            Some(_) => log::failure(format!("{}: {kind} not ready", r.name)),
        }
    }
    if not_ready.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("timed out waiting for all resources to be ready")
    }
}

/// What the labels of the GitRepository CRD say about an installation on the cluster
/// (Flux's `fluxClusterInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The CRDs carry the labels kustomize-controller puts on what it applies: the
    /// installation was bootstrapped and is reconciled from Git.
    pub bootstrapped: bool,
    /// `app.kubernetes.io/managed-by` (empty when absent: Flux's CLI sets none).
    pub managed_by: String,
    /// `app.kubernetes.io/part-of`.
    pub part_of: String,
    /// `app.kubernetes.io/version`.
    pub version: String,
}

/// Reads the installation's labels from the GitRepository CRD; `None` when there is no
/// such CRD (nothing installed).
pub async fn cluster_info(client: &kube::Client) -> anyhow::Result<Option<ClusterInfo>> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    let name = format!("gitrepositories.{}", gitops_api::source::GROUP);
    let crd = match crds.get_opt(&name).await {
        Ok(Some(crd)) => crd,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(anyhow!(
                "cluster info unavailable: {:#}",
                crate::cli::object::api_error(e)
            ));
        }
    };
    let labels = crd.metadata.labels.unwrap_or_default();
    let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
    Ok(Some(ClusterInfo {
        bootstrapped: labels.contains_key(gitops_api::annotations::KUSTOMIZE_NAMESPACE_LABEL),
        managed_by: label("app.kubernetes.io/managed-by"),
        part_of: label("app.kubernetes.io/part-of"),
        version: label("app.kubernetes.io/version"),
    }))
}

impl ClusterInfo {
    /// Whether the installation was made by this tool or Flux's CLI (rather than, say,
    /// Helm), so installing over it or removing it needs no extra confirmation.
    pub fn managed_by_flux(&self) -> bool {
        matches!(self.managed_by.as_str(), "" | "flux" | "gitops")
    }

    /// Asks before installing over an installation another tool manages (Flux's
    /// `confirmFluxInstallOverride`); `Ok` right away when it is ours. Fails with
    /// `aborting` when the answer is no.
    pub fn confirm_override(&self) -> anyhow::Result<()> {
        if self.managed_by_flux() {
            return Ok(());
        }
        eprintln!(
            "Flux {} has been installed on this cluster with {}!",
            self.version, self.managed_by
        );
        crate::cli::prompt::confirm(&format!(
            "Are you sure you want to override the {} installation? Y/N",
            self.managed_by
        ))
    }
}
