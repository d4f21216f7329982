//! ImageRepository reconciler: scans tags on the interval (or when the image, the exclusion
//! list or a reconcile request says so) into the tag database.

use super::{Done, FINALIZER, finish};
use crate::runtime::events::EventRecorder;
use crate::runtime::reconcile::{ReconcileError, ReconcileResult, Reconciler, Requeue};
use gitops_api::ImageRepository;
use gitops_api::condition::reasons;
use gitops_api::image::{ImageRepositoryStatus, ScanResult};
use gitops_api::source::CloudProvider;
use gitops_image_updater::registry::{
    ExclusionList, ImageError, ImageName, RegistryClient, TagScan, credentials,
};
use gitops_image_updater::store::TagStore;
use gitops_source::oci::OciAuth;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::ResourceExt;
use kube::api::Api;
use std::sync::Arc;
use std::time::Duration;

/// What the reflector's reconcilers share.
pub(crate) struct ReflectorContext {
    pub client: kube::Client,
    pub events: EventRecorder,
    pub store: Arc<TagStore>,
    /// The client for registries trusted through the system roots.
    pub registry: RegistryClient,
    pub requeue_dependency: Duration,
    pub no_cross_namespace_refs: bool,
}

pub(crate) struct RepositoryReconciler(pub Arc<ReflectorContext>);

impl Reconciler<ImageRepository> for RepositoryReconciler {
    fn finalizer(&self) -> &str {
        FINALIZER
    }

    async fn reconcile(&self, obj: Arc<ImageRepository>) -> ReconcileResult {
        let ctx = &self.0;
        let mut status = obj.status.clone().unwrap_or_default();
        let result = reconcile(ctx, &obj, &mut status).await;
        finish(&ctx.client, &ctx.events, obj.as_ref(), status, result).await
    }

    async fn finalize(&self, obj: Arc<ImageRepository>) -> anyhow::Result<()> {
        // The tags are kept by canonical name, which other repositories may share: they go
        // only when no other ImageRepository scans the same image.
        let Some(name) = obj
            .status
            .as_ref()
            .and_then(|s| s.canonical_image_name.clone())
        else {
            return Ok(());
        };
        let api: Api<ImageRepository> = Api::all(self.0.client.clone());
        let others = api.list(&Default::default()).await?;
        let shared = others.items.iter().any(|o| {
            o.uid() != obj.uid()
                && o.status
                    .as_ref()
                    .and_then(|s| s.canonical_image_name.as_deref())
                    == Some(name.as_str())
        });
        if !shared {
            let store = self.0.store.clone();
            tokio::task::spawn_blocking(move || store.delete(&name)).await??;
        }
        Ok(())
    }
}

/// The registry client and credentials for an image, from an ImageRepository's
/// `secretRef`, `serviceAccountName` (its image pull secrets), `certSecretRef` and
/// `proxySecretRef`.
pub(crate) struct Access {
    pub registry: RegistryClient,
    pub auth: Option<OciAuth>,
}

/// Builds [`Access`] for `repo`'s image; errors are `AuthenticationFailed` (retried: a
/// missing Secret may appear) or stalls for settings this controller does not support.
pub(crate) async fn access(
    ctx: &ReflectorContext,
    repo: &ImageRepository,
    image: &ImageName,
) -> Result<Access, ReconcileError> {
    let spec = &repo.spec;
    let ns = repo.namespace().unwrap_or_default();
    if let Some(p) = spec.provider.filter(|p| *p != CloudProvider::Generic) {
        return Err(ReconcileError::terminal(
            reasons::AUTHENTICATION_FAILED,
            format!(
                "spec.provider '{}' is not supported by this image-reflector-controller: only 'generic' (credentials from spec.secretRef and spec.serviceAccountName)",
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ));
    }
    let auth_failed = |m: String| {
        ReconcileError::retriable(
            reasons::AUTHENTICATION_FAILED,
            format!("failed to configure authentication options: {m}"),
        )
    };
    let mut pull_secrets = Vec::new();
    if let Some(s) = &spec.secret_ref {
        let data = crate::runtime::object::secret_data(&ctx.client, &ns, &s.name)
            .await
            .map_err(auth_failed)?;
        if !data.contains_key(".dockerconfigjson") && !data.contains_key(".dockercfg") {
            return Err(auth_failed(format!(
                "secret '{ns}/{}' has no '.dockerconfigjson' key (type kubernetes.io/dockerconfigjson expected)",
                s.name
            )));
        }
        pull_secrets.push(data);
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &ns);
        let account = api
            .get(sa)
            .await
            .map_err(|e| auth_failed(format!("failed to get service account '{ns}/{sa}': {e}")))?;
        for r in account.image_pull_secrets.unwrap_or_default() {
            // A listed pull secret that does not exist is skipped, as the kubelet does.
            if let Ok(data) = crate::runtime::object::secret_data(&ctx.client, &ns, &r.name).await {
                pull_secrets.push(data);
            }
        }
    }
    let registry = match &spec.cert_secret_ref {
        None => ctx.registry.clone(),
        Some(c) => {
            let data = crate::runtime::object::secret_data(&ctx.client, &ns, &c.name)
                .await
                .map_err(auth_failed)?;
            if data.contains_key("tls.crt") || data.contains_key("tls.key") {
                return Err(ReconcileError::terminal(
                    reasons::AUTHENTICATION_FAILED,
                    format!(
                        "spec.certSecretRef '{}': client certificates (tls.crt/tls.key) are not supported by this image-reflector-controller (ca.crt is)",
                        c.name
                    ),
                ));
            }
            let ca = data.get("ca.crt").ok_or_else(|| {
                auth_failed(format!("secret '{ns}/{}' has no 'ca.crt' key", c.name))
            })?;
            RegistryClient::new(Some(ca))
        }
    };
    let registry = match &spec.proxy_secret_ref {
        None => registry,
        Some(p) => {
            let data = crate::runtime::object::secret_data(&ctx.client, &ns, &p.name)
                .await
                .map_err(auth_failed)?;
            let url =
                crate::runtime::object::proxy_url(&data, &ns, &p.name).map_err(auth_failed)?;
            registry
                .with_proxy(&url)
                .map_err(|e| auth_failed(e.to_string()))?
        }
    };
    Ok(Access {
        registry,
        auth: credentials(image, &pull_secrets),
    })
}

/// Flux's `GetTimeout`: `spec.timeout`, else the interval, at least a second.
pub(crate) fn timeout(repo: &ImageRepository) -> Duration {
    repo.spec
        .timeout
        .as_ref()
        .map_or(repo.spec.interval.get(), |t| t.get())
        .max(Duration::from_secs(1))
}

/// Why a scan is due, in Flux's words; `None` when it is not yet.
fn scan_reason(
    repo: &ImageRepository,
    canonical: &str,
    exclusion: &ExclusionList,
    tags_stored: bool,
    since_last: Option<Duration>,
) -> Option<&'static str> {
    let status = repo.status.as_ref();
    let Some(last) = status.and_then(|s| s.last_scan_result.as_ref()) else {
        return Some("first scan");
    };
    if gitops_api::annotations::pending_reconcile_request(
        &repo.metadata,
        status.and_then(|s| s.last_handled_reconcile_at.as_deref()),
    )
    .is_some()
    {
        return Some("reconcile requested");
    }
    if status.and_then(|s| s.canonical_image_name.as_deref()) != Some(canonical) {
        return Some("new image name");
    }
    let observed = status
        .map(|s| s.observed_exclusion_list.as_slice())
        .unwrap_or_default();
    let same_list = observed.len() == exclusion.patterns().len()
        && exclusion.patterns().iter().all(|p| observed.contains(p));
    if !same_list {
        return Some("updated exclusion list");
    }
    if !tags_stored && last.tag_count > 0 {
        return Some("no tags in database");
    }
    match since_last {
        Some(d) if d + Duration::from_secs(1) <= repo.spec.interval.get() => None,
        _ => Some("triggered by interval"),
    }
}

async fn reconcile(
    ctx: &ReflectorContext,
    repo: &ImageRepository,
    status: &mut ImageRepositoryStatus,
) -> Result<Done, ReconcileError> {
    let spec = &repo.spec;
    let image = ImageName::parse(&spec.image, spec.insecure)
        .map_err(|e| ReconcileError::terminal(reasons::IMAGE_URL_INVALID, e.to_string()))?;
    let exclusion = ExclusionList::new(&spec.exclusion_list).map_err(|e| {
        ReconcileError::terminal(reasons::READ_OPERATION_FAILED, format!("scan failed: {e}"))
    })?;
    let canonical = image.canonical();
    let store = ctx.store.clone();
    let name = canonical.clone();
    let stored = tokio::task::spawn_blocking(move || store.has_tags(&name))
        .await
        .map_err(|e| ReconcileError::retriable(reasons::FAILURE, e.to_string()))?
        .map_err(|e| ReconcileError::retriable(reasons::FAILURE, e.to_string()))?;
    let last_scan = status
        .last_scan_result
        .as_ref()
        .and_then(|s| s.scan_time.as_ref())
        .map(|t| t.0);
    let since_last = last_scan.and_then(|t| {
        let d = jiff::Timestamp::now().duration_since(t);
        Duration::try_from(d).ok()
    });
    let interval = spec.interval.get().max(Duration::from_secs(1));
    let requeue = match scan_reason(repo, &canonical, &exclusion, stored, since_last) {
        Some(why) => {
            tracing::debug!(namespace = %repo.namespace().unwrap_or_default(), name = %repo.name_any(), "scanning: {why}");
            let access = access(ctx, repo, &image).await?;
            let listed = tokio::time::timeout(
                timeout(repo),
                access.registry.list_tags(&image, access.auth.as_ref()),
            )
            .await
            .map_err(|_| {
                ImageError::Registry(format!(
                    "listing tags of {canonical}: timeout after {:?}",
                    timeout(repo)
                ))
            })
            .and_then(|r| r)
            .map_err(|e| {
                ReconcileError::retriable(
                    reasons::READ_OPERATION_FAILED,
                    format!("scan failed: {e}"),
                )
            })?;
            let scan = TagScan::new(listed, &exclusion);
            let store = ctx.store.clone();
            let (key, tags) = (canonical.clone(), scan.tags.clone());
            let revision = tokio::task::spawn_blocking(move || store.set_tags(&key, &tags))
                .await
                .map_err(|e| ReconcileError::retriable(reasons::FAILURE, e.to_string()))?
                .map_err(|e| {
                    ReconcileError::retriable(
                        reasons::READ_OPERATION_FAILED,
                        format!("scan failed: failed to set tags for {canonical:?}: {e}"),
                    )
                })?;
            status.last_scan_result = Some(ScanResult {
                latest_tags: scan.latest_tags,
                revision: Some(revision),
                scan_time: Some(crate::runtime::status::now()),
                tag_count: scan.tags.len() as i64,
            });
            Requeue::Interval
        }
        None => Requeue::After(
            interval
                .saturating_sub(since_last.unwrap_or_default())
                .max(Duration::from_secs(1)),
        ),
    };
    status.canonical_image_name = Some(canonical);
    status.observed_exclusion_list = exclusion.patterns().to_vec();
    let last = status.last_scan_result.clone().unwrap_or_default();
    Ok(Done {
        requeue,
        ..Done::ready(format!(
            "successful scan: found {} tags with checksum {}",
            last.tag_count,
            last.revision.unwrap_or_default()
        ))
    })
}
