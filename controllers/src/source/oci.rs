//! OCIRepository reconciler.

use super::{Context, Failure, Observed, Success, current_artifact, finish, key_of, secret_data};
use crate::runtime::reconcile::{ReconcileResult, Reconciler};
use gitops_api::OCIRepository;
use gitops_api::condition::reasons;
use gitops_api::source::LayerOperation;
use gitops_source::oci::{OciAuth, OciError, OciReference, parse_url};
use kube::ResourceExt;
use std::sync::Arc;

pub(crate) struct OciReconciler(pub Arc<Context>);

impl Reconciler<OCIRepository> for OciReconciler {
    fn finalizer(&self) -> &str {
        super::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<OCIRepository>) -> ReconcileResult {
        let timeout = obj.spec.timeout();
        let result = match tokio::time::timeout(timeout, reconcile(&self.0, &obj)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::fetch(
                reasons::OCI_PULL_FAILED,
                format!(
                    "failed to pull artifact from '{}': timeout after {timeout:?}",
                    obj.spec.url
                ),
            )),
        };
        finish(&self.0, obj.as_ref(), result).await
    }

    async fn finalize(&self, obj: Arc<OCIRepository>) -> anyhow::Result<()> {
        super::remove_artifacts(&self.0, obj.as_ref())
    }
}

pub(crate) fn oci_failure(e: OciError, what: &str) -> Failure {
    let msg = format!("{what}: {e}");
    match e {
        OciError::InvalidUrl { .. } => Failure::stalled(reasons::URL_INVALID, msg),
        OciError::BadRange(_) => Failure::stalled(reasons::OCI_PULL_FAILED, msg),
        OciError::Authentication { .. } => Failure::fetch(reasons::AUTHENTICATION_FAILED, msg),
        OciError::LayerNotFound { .. }
        | OciError::TooLarge { .. }
        | OciError::DigestMismatch { .. } => {
            Failure::build(reasons::OCI_LAYER_OPERATION_FAILED, msg)
        }
        _ => Failure::fetch(reasons::OCI_PULL_FAILED, msg),
    }
}

async fn reconcile(
    ctx: &Context,
    obj: &OCIRepository,
) -> Result<Success<gitops_api::source::OCIRepositoryStatus>, Failure> {
    let spec = &obj.spec;
    let ns = obj.namespace().unwrap_or_default();
    if spec.verify.is_some() {
        return Err(super::unsupported(
            "spec.verify",
            "cosign and notation signatures are not verified",
        ));
    }
    if spec
        .provider
        .is_some_and(|p| p != gitops_api::source::CloudProvider::Generic)
    {
        return Err(super::unsupported(
            "spec.provider",
            "only 'generic' (credentials from spec.secretRef)",
        ));
    }
    let (host, _) = parse_url(&spec.url).map_err(|e| oci_failure(e, "invalid URL"))?;
    let auth = match &spec.secret_ref {
        Some(s) => OciAuth::from_secret_data(&secret_data(ctx, &ns, &s.name).await?, &host),
        None => None,
    };
    let custom;
    let registry = match &spec.cert_secret_ref {
        Some(c) => {
            let data = secret_data(ctx, &ns, &c.name).await?;
            if data.contains_key("tls.key") {
                return Err(super::unsupported(
                    "spec.certSecretRef tls.crt/tls.key",
                    "client certificates for registries (ca.crt is supported)",
                ));
            }
            custom = gitops_source::oci::Registry::with_ca(
                spec.insecure,
                data.get("ca.crt").map(Vec::as_slice),
            );
            &custom
        }
        None => ctx.registry(spec.insecure),
    };
    let proxied;
    let registry = match &spec.proxy_secret_ref {
        None => registry,
        Some(p) => {
            let data = secret_data(ctx, &ns, &p.name).await?;
            let url = crate::runtime::object::proxy_url(&data, &ns, &p.name)
                .map_err(|m| Failure::fetch(reasons::AUTHENTICATION_FAILED, m))?;
            proxied = registry
                .clone()
                .with_proxy(&url)
                .map_err(|e| oci_failure(e, "invalid proxy"))?;
            &proxied
        }
    };
    let reference = OciReference::from_spec(spec.reference.as_ref());
    let resolved = registry
        .resolve(&spec.url, &reference, auth.as_ref())
        .await
        .map_err(|e| {
            oci_failure(
                e,
                &format!("failed to determine artifact digest from '{}'", spec.url),
            )
        })?;
    let selector = spec.layer_selector.clone();
    let status = obj.status.clone().unwrap_or_default();
    let same_shape =
        status.observed_ignore == spec.ignore && status.observed_layer_selector == selector;
    let mut extra = Observed::default();
    let (ignore, observed_selector) = (spec.ignore.clone(), selector.clone());
    extra.set(move |s: &mut gitops_api::source::OCIRepositoryStatus| {
        s.observed_ignore = ignore;
        s.observed_layer_selector = observed_selector;
    });
    if let Some(a) =
        current_artifact(ctx, obj).filter(|a| same_shape && a.revision == resolved.revision)
    {
        return Ok(Success {
            ready_message: format!("stored artifact for digest '{}'", a.revision),
            event_message: String::new(),
            artifact: a,
            new: false,
            extra,
        });
    }
    let work =
        tempfile::tempdir().map_err(|e| Failure::storage(format!("temporary directory: {e}")))?;
    let blob = work.path().join("layer");
    let media_type = selector
        .as_ref()
        .and_then(|s| s.media_type.clone())
        .filter(|m| !m.is_empty());
    let layer = registry
        .pull_layer(
            &spec.url,
            &resolved,
            auth.as_ref(),
            media_type.as_deref(),
            ctx.max_size,
            &blob,
        )
        .await
        .map_err(|e| oci_failure(e, &format!("failed to pull artifact from '{}'", spec.url)))?;
    let operation = selector
        .as_ref()
        .and_then(|s| s.operation)
        .unwrap_or_default();
    let hex = resolved
        .digest
        .split_once(':')
        .map_or(resolved.digest.as_str(), |(_, h)| h)
        .to_owned();
    let key = key_of(obj);
    let storage = ctx.storage.clone();
    let ignore = spec.ignore.clone();
    let max = ctx.max_size;
    let work_path = work.path().to_owned();
    let url = spec.url.clone();
    let stored =
        tokio::task::spawn_blocking(move || -> Result<gitops_source::StoredArtifact, Failure> {
            match operation {
                LayerOperation::Copy => storage
                    .store_file(&key, &format!("{hex}.tgz"), &blob)
                    .map_err(|e| Failure::storage(format!("failed to store layer: {e}"))),
                LayerOperation::Extract => {
                    let dir = work_path.join("content");
                    let f =
                        std::fs::File::open(&blob).map_err(|e| Failure::storage(e.to_string()))?;
                    gitops_source::archive::extract_tar_gz(
                        std::io::BufReader::new(f),
                        &dir,
                        gitops_source::ExtractLimits {
                            max_bytes: max,
                            ..Default::default()
                        },
                    )
                    .map_err(|e| {
                        Failure::build(
                            reasons::OCI_LAYER_OPERATION_FAILED,
                            format!("failed to extract layer of '{url}': {e}"),
                        )
                    })?;
                    let mut rules = gitops_source::ignore::IgnoreRules::flux_defaults();
                    if let Ok(text) =
                        std::fs::read_to_string(dir.join(gitops_source::ignore::SOURCEIGNORE))
                    {
                        rules.add("", &text, ".sourceignore").map_err(|e| {
                            Failure::build(reasons::OCI_LAYER_OPERATION_FAILED, e.to_string())
                        })?;
                    }
                    if let Some(ig) = &ignore {
                        rules.add("", ig, "spec.ignore").map_err(|e| {
                            Failure::stalled(reasons::OCI_LAYER_OPERATION_FAILED, e.to_string())
                        })?;
                    }
                    storage
                        .archive_dir(&key, &format!("{hex}.tar.gz"), &dir, &rules)
                        .map(|(a, _)| a)
                        .map_err(|e| Failure::storage(format!("failed to archive artifact: {e}")))
                }
            }
        })
        .await
        .map_err(|e| Failure::storage(e.to_string()))??;
    let metadata = (!layer.annotations.is_empty()).then(|| layer.annotations.clone());
    let artifact = stored.to_api(&resolved.revision, metadata);
    Ok(Success {
        ready_message: format!("stored artifact for digest '{}'", resolved.revision),
        event_message: format!(
            "stored artifact with revision '{}' from '{}'",
            resolved.revision, spec.url
        ),
        artifact,
        new: true,
        extra,
    })
}
