//! Bucket reconciler (`generic` S3-compatible provider).

use super::{Context, Failure, Observed, Success, current_artifact, finish, key_of, secret_data};
use crate::runtime::reconcile::{ReconcileResult, Reconciler};
use gitops_api::Bucket;
use gitops_api::condition::reasons;
use gitops_api::source::BucketProvider;
use gitops_source::bucket::{self, BucketError, BucketOptions};
use kube::ResourceExt;

use std::sync::Arc;

pub(crate) struct BucketReconciler(pub Arc<Context>);

impl Reconciler<Bucket> for BucketReconciler {
    fn finalizer(&self) -> &str {
        super::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<Bucket>) -> ReconcileResult {
        let timeout = obj.spec.timeout();
        let result = match tokio::time::timeout(timeout, reconcile(&self.0, &obj)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::fetch(
                reasons::BUCKET_OPERATION_FAILED,
                format!(
                    "bucket '{}' at {}: timeout after {timeout:?}",
                    obj.spec.bucket_name, obj.spec.endpoint
                ),
            )),
        };
        finish(&self.0, obj.as_ref(), result).await
    }

    async fn finalize(&self, obj: Arc<Bucket>) -> anyhow::Result<()> {
        super::remove_artifacts(&self.0, obj.as_ref())
    }
}

fn bucket_failure(e: BucketError) -> Failure {
    let msg = e.to_string();
    match e {
        BucketError::Invalid(_) => Failure::stalled(reasons::BUCKET_OPERATION_FAILED, msg),
        BucketError::Authentication { .. } => Failure::fetch(reasons::AUTHENTICATION_FAILED, msg),
        BucketError::Io { .. } => Failure::storage(msg),
        _ => Failure::fetch(reasons::BUCKET_OPERATION_FAILED, msg),
    }
}

async fn reconcile(
    ctx: &Context,
    obj: &Bucket,
) -> Result<Success<gitops_api::source::BucketStatus>, Failure> {
    let spec = &obj.spec;
    let ns = obj.namespace().unwrap_or_default();
    let provider = spec.provider.unwrap_or_default();
    if provider != BucketProvider::Generic && provider != BucketProvider::Aws {
        return Err(Failure::stalled(
            reasons::BUCKET_OPERATION_FAILED,
            format!("provider {provider:?} is not supported; use 'generic' (S3 API)"),
        ));
    }
    let mut opts = BucketOptions {
        endpoint: spec.endpoint.clone(),
        bucket: spec.bucket_name.clone(),
        region: spec.region.clone(),
        insecure: spec.insecure,
        prefix: spec.prefix.clone(),
        timeout: spec.timeout(),
        ..Default::default()
    };
    if let Some(s) = &spec.secret_ref {
        opts = opts.with_secret_data(&secret_data(ctx, &ns, &s.name).await?);
    }
    if let Some(c) = &spec.cert_secret_ref {
        let data = secret_data(ctx, &ns, &c.name).await?;
        if data.contains_key("tls.key") {
            return Err(super::unsupported(
                "spec.certSecretRef tls.crt/tls.key",
                "client certificates for buckets (ca.crt is supported)",
            ));
        }
        opts.ca_pem = data.get("ca.crt").cloned();
    }
    if spec.sts.is_some() {
        return Err(super::unsupported(
            "spec.sts",
            "temporary credentials from a security token service",
        ));
    }
    if spec.proxy_secret_ref.is_some() {
        return Err(super::unsupported("spec.proxySecretRef", "bucket proxies"));
    }
    let b = bucket::Bucket::new(opts).map_err(bucket_failure)?;
    let index = b
        .index(spec.ignore.as_deref())
        .await
        .map_err(bucket_failure)?;
    let revision = index.revision();
    let mut extra = Observed::default();
    let ignore = spec.ignore.clone();
    extra.set(move |s: &mut gitops_api::source::BucketStatus| s.observed_ignore = ignore);
    if let Some(a) = current_artifact(ctx, obj).filter(|a| a.revision == revision) {
        return Ok(Success {
            ready_message: format!("stored artifact: revision '{revision}'"),
            event_message: String::new(),
            artifact: a,
            new: false,
            extra,
        });
    }
    let work = tempfile::tempdir().map_err(|e| Failure::storage(e.to_string()))?;
    let dir = work.path().join("content");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::storage(e.to_string()))?;
    b.download(&index, &dir, ctx.max_size)
        .await
        .map_err(bucket_failure)?;
    let hex = revision.trim_start_matches("sha256:").to_owned();
    let storage = ctx.storage.clone();
    let key = key_of(obj);
    let stored = tokio::task::spawn_blocking(move || {
        storage.archive_dir(
            &key,
            &format!("{hex}.tar.gz"),
            &dir,
            &gitops_source::ignore::IgnoreRules::none(),
        )
    })
    .await
    .map_err(|e| Failure::storage(e.to_string()))?
    .map_err(|e| Failure::storage(format!("failed to archive bucket content: {e}")))?
    .0;
    let n = index.objects.len();
    Ok(Success {
        ready_message: format!("stored artifact: revision '{revision}'"),
        event_message: format!(
            "stored artifact with {n} fetched files from '{}'",
            spec.bucket_name
        ),
        artifact: stored.to_api(&revision, None),
        new: true,
        extra,
    })
}
