//! HelmRepository and HelmChart reconcilers.

use super::{Context, Failure, Observed, Success, current_artifact, finish, key_of, secret_data};
use crate::runtime::reconcile::{ReconcileResult, Reconciler, Requeue};
use gitops_api::condition::reasons;
use gitops_api::meta::SourceKind;
use gitops_api::source::HelmChartStatus;
use gitops_api::source::{HelmRepositoryType, ReconcileStrategy};
use gitops_api::{Artifact, HelmChart, HelmRepository};
use gitops_source::helm::{self, HelmAuth, HelmError, Index};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use std::sync::Arc;

pub(crate) struct HelmRepositoryReconciler(pub Arc<Context>);
pub(crate) struct HelmChartReconciler(pub Arc<Context>);

fn helm_failure(e: HelmError, what: &str) -> Failure {
    let msg = format!("{what}: {e}");
    match e {
        HelmError::Authentication { .. } => Failure::fetch(reasons::AUTHENTICATION_FAILED, msg),
        HelmError::BadRange { .. } => Failure::stalled(reasons::CHART_PULL_FAILED, msg),
        _ => Failure::fetch(reasons::INDEXATION_FAILED, msg),
    }
}

async fn helm_auth(
    ctx: &Context,
    ns: &str,
    secret: Option<&str>,
) -> Result<Option<HelmAuth>, Failure> {
    let Some(name) = secret else { return Ok(None) };
    let d = secret_data(ctx, ns, name).await?;
    Ok(d.get("username").map(|u| HelmAuth {
        username: String::from_utf8_lossy(u).into_owned(),
        password: d
            .get("password")
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default(),
    }))
}

async fn helm_tls(
    ctx: &Context,
    ns: &str,
    secret: Option<&str>,
) -> Result<Option<helm::TlsMaterial>, Failure> {
    let Some(name) = secret else { return Ok(None) };
    Ok(Some(helm::TlsMaterial::from_secret_data(
        &secret_data(ctx, ns, name).await?,
    )))
}

impl Reconciler<HelmRepository> for HelmRepositoryReconciler {
    fn finalizer(&self) -> &str {
        super::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<HelmRepository>) -> ReconcileResult {
        let ctx = &self.0;
        if obj.spec.type_ == Some(HelmRepositoryType::Oci) {
            // OCI repositories have no index: charts are pulled by HelmCharts directly.
            use crate::runtime::object::HasStatus;
            let ns = obj.namespace().unwrap_or_default();
            let mut status = obj.status().cloned().unwrap_or_default();
            let mut conds =
                crate::runtime::status::ConditionSet::of(obj.status(), obj.meta().generation);
            conds.mark_ready(reasons::SUCCEEDED, "Helm repository is ready");
            status.conditions = conds.conditions;
            crate::runtime::status::record_reconcile(obj.as_ref(), &mut status, true);
            let api: Api<HelmRepository> = Api::namespaced(ctx.client.clone(), &ns);
            if let Err(e) = crate::runtime::status::write_status(&api, obj.as_ref(), &status).await
            {
                tracing::warn!(namespace = ns, name = obj.name_any(), error = %e, "status update failed");
            }
            return Ok(Requeue::Interval);
        }
        let timeout = obj.spec.timeout();
        let result = match tokio::time::timeout(timeout, reconcile_repo(ctx, &obj)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::fetch(
                reasons::INDEXATION_FAILED,
                format!(
                    "failed to fetch Helm repository index from '{}': timeout after {timeout:?}",
                    obj.spec.url
                ),
            )),
        };
        finish(ctx, obj.as_ref(), result).await
    }

    async fn finalize(&self, obj: Arc<HelmRepository>) -> anyhow::Result<()> {
        super::remove_artifacts(&self.0, obj.as_ref())
    }
}

async fn reconcile_repo(
    ctx: &Context,
    obj: &HelmRepository,
) -> Result<Success<gitops_api::source::HelmRepositoryStatus>, Failure> {
    let spec = &obj.spec;
    let ns = obj.namespace().unwrap_or_default();
    if !(spec.url.starts_with("http://") || spec.url.starts_with("https://")) {
        return Err(Failure::stalled(
            reasons::URL_INVALID,
            format!("invalid Helm repository URL {:?}", spec.url),
        ));
    }
    let auth = helm_auth(ctx, &ns, spec.secret_ref.as_ref().map(|s| s.name.as_str())).await?;
    let tls = helm_tls(
        ctx,
        &ns,
        spec.cert_secret_ref.as_ref().map(|s| s.name.as_str()),
    )
    .await?;
    let work = tempfile::tempdir().map_err(|e| Failure::storage(e.to_string()))?;
    let file = work.path().join("index.yaml");
    let url = helm::index_url(&spec.url);
    let (digest, _) = helm::download(&url, auth.as_ref(), tls.as_ref(), ctx.helm.index, &file)
        .await
        .map_err(|e| helm_failure(e, "failed to fetch Helm repository index"))?;
    let extra = Observed::default();
    if let Some(a) = current_artifact(ctx, obj).filter(|a| a.revision == digest) {
        return Ok(Success {
            ready_message: format!("stored artifact: revision '{digest}'"),
            event_message: String::new(),
            artifact: a,
            new: false,
            extra,
        });
    }
    // Parse once to validate (and count) before serving it.
    let path = file.clone();
    let origin = url.clone();
    let idx = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path).map_err(|e| HelmError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Index::parse(std::io::BufReader::new(f), &origin)
    })
    .await
    .map_err(|e| Failure::storage(e.to_string()))?
    .map_err(|e| helm_failure(e, "failed to load Helm repository index"))?;
    let hex = digest.trim_start_matches("sha256:");
    let stored = ctx
        .storage
        .store_file(&key_of(obj), &format!("index-{hex}.yaml"), &file)
        .map_err(|e| Failure::storage(e.to_string()))?;
    let artifact = stored.to_api(&digest, None);
    let charts = idx.entries.len();
    Ok(Success {
        ready_message: format!("stored artifact: revision '{digest}'"),
        event_message: format!(
            "stored fetched index of size {} from '{}' ({charts} charts)",
            stored.size, spec.url
        ),
        artifact,
        new: true,
        extra,
    })
}

impl Reconciler<HelmChart> for HelmChartReconciler {
    fn finalizer(&self) -> &str {
        super::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<HelmChart>) -> ReconcileResult {
        let result = match tokio::time::timeout(
            std::time::Duration::from_secs(120),
            reconcile_chart(&self.0, &obj),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Failure::fetch(
                reasons::CHART_PULL_FAILED,
                "timeout building the chart",
            )),
        };
        finish(&self.0, obj.as_ref(), result).await
    }

    async fn finalize(&self, obj: Arc<HelmChart>) -> anyhow::Result<()> {
        super::remove_artifacts(&self.0, obj.as_ref())
    }
}

fn unavailable(m: String) -> Failure {
    Failure {
        condition: Some(gitops_api::condition::types::FETCH_FAILED),
        reason: "SourceUnavailable",
        message: m,
        stalled: false,
    }
}

async fn source_artifact<K>(ctx: &Context, ns: &str, name: &str) -> Result<Artifact, Failure>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + gitops_api::source::Source
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let o = api.get(name).await.map_err(|e| {
        unavailable(format!(
            "failed to get source {} '{ns}/{name}': {e}",
            K::kind(&())
        ))
    })?;
    o.artifact()
        .cloned()
        .filter(|a| ctx.storage.exists(&a.path))
        .ok_or_else(|| {
            unavailable(format!(
                "{} '{ns}/{name}' has no artifact yet",
                K::kind(&())
            ))
        })
}

async fn reconcile_chart(
    ctx: &Context,
    obj: &HelmChart,
) -> Result<Success<HelmChartStatus>, Failure> {
    let spec = &obj.spec;
    if spec.verify.is_some() {
        return Err(super::unsupported(
            "spec.verify",
            "chart signatures are not verified",
        ));
    }
    let ns = obj.namespace().unwrap_or_default();
    let current = current_artifact(ctx, obj);
    let status = obj.status.clone().unwrap_or_default();
    let same_values = status.observed_values_files == spec.values_files
        && status.observed_chart_name.as_deref() == Some(spec.chart.as_str());
    let mut extra = Observed::default();
    let (chart, values) = (spec.chart.clone(), spec.values_files.clone());
    extra.set(move |s: &mut HelmChartStatus| {
        s.observed_chart_name = Some(chart);
        s.observed_values_files = values;
    });
    let key = key_of(obj);
    let work = tempfile::tempdir().map_err(|e| Failure::storage(e.to_string()))?;
    match spec.source_ref.kind {
        SourceKind::HelmRepository => {
            let repo_api: Api<HelmRepository> = Api::namespaced(ctx.client.clone(), &ns);
            let repo = repo_api.get(&spec.source_ref.name).await.map_err(|e| {
                unavailable(format!(
                    "failed to get HelmRepository '{ns}/{}': {e}",
                    spec.source_ref.name
                ))
            })?;
            if repo.spec.type_ == Some(HelmRepositoryType::Oci) {
                return pull_oci_chart(
                    ctx,
                    obj,
                    &repo,
                    current,
                    same_values,
                    &key,
                    work.path(),
                    extra,
                )
                .await;
            }
            let index_artifact = repo
                .status
                .as_ref()
                .and_then(|s| s.artifact.clone())
                .filter(|a| ctx.storage.exists(&a.path))
                .ok_or_else(|| {
                    unavailable(format!(
                        "HelmRepository '{ns}/{}' has no index yet",
                        spec.source_ref.name
                    ))
                })?;
            let path = ctx
                .storage
                .local_path(&index_artifact.path)
                .ok_or_else(|| unavailable("bad index path".into()))?;
            let idx = ctx
                .index_cache
                .get_or_load(&index_artifact.digest, &path, &repo.spec.url)
                .await
                .map_err(|e| helm_failure(e, "failed to load index"))?;
            let cv = idx
                .select(&spec.chart, spec.version())
                .map_err(|e| Failure {
                    condition: Some(gitops_api::condition::types::FETCH_FAILED),
                    reason: reasons::CHART_PULL_FAILED,
                    message: format!("invalid chart reference: {e}"),
                    stalled: false,
                })?;
            if let Some(a) = current
                .clone()
                .filter(|a| same_values && a.revision == cv.version)
            {
                return Ok(Success {
                    ready_message: format!(
                        "pulled '{}' chart with version '{}'",
                        spec.chart, a.revision
                    ),
                    event_message: String::new(),
                    artifact: a,
                    new: false,
                    extra,
                });
            }
            let url = helm::chart_url(
                &repo.spec.url,
                cv.urls.first().map(String::as_str).unwrap_or_default(),
            );
            let auth = helm_auth(
                ctx,
                &ns,
                repo.spec.secret_ref.as_ref().map(|s| s.name.as_str()),
            )
            .await?;
            let tls = helm_tls(
                ctx,
                &ns,
                repo.spec.cert_secret_ref.as_ref().map(|s| s.name.as_str()),
            )
            .await?;
            let same_host = |u: &str| u.split('/').nth(2) == repo.spec.url.split('/').nth(2);
            let auth = auth.filter(|_| repo.spec.pass_credentials || same_host(&url));
            let tgz = work.path().join("chart.tgz");
            let (digest, _) =
                helm::download(&url, auth.as_ref(), tls.as_ref(), ctx.helm.chart, &tgz)
                    .await
                    .map_err(|e| Failure {
                        condition: Some(gitops_api::condition::types::FETCH_FAILED),
                        reason: reasons::CHART_PULL_FAILED,
                        message: format!("chart pull error: {e}"),
                        stalled: false,
                    })?;
            if let Some(want) = cv.digest.as_deref().filter(|d| !d.is_empty())
                && digest.trim_start_matches("sha256:") != want
            {
                return Err(Failure::build(
                    reasons::CHART_PULL_FAILED,
                    format!("chart {url}: digest mismatch, index says {want}, got {digest}"),
                ));
            }
            store_pulled_chart(ctx, spec, &key, work.path(), &tgz, &cv.version, &url, extra)
        }
        SourceKind::GitRepository | SourceKind::Bucket => {
            let src = if spec.source_ref.kind == SourceKind::GitRepository {
                source_artifact::<gitops_api::GitRepository>(ctx, &ns, &spec.source_ref.name)
                    .await?
            } else {
                source_artifact::<gitops_api::Bucket>(ctx, &ns, &spec.source_ref.name).await?
            };
            let rev = src.revision.clone();
            extra.set(move |s: &mut HelmChartStatus| {
                s.observed_source_artifact_revision = Some(rev)
            });
            if let Some(a) = current.clone().filter(|_| {
                same_values
                    && status.observed_source_artifact_revision.as_deref()
                        == Some(src.revision.as_str())
            }) {
                return Ok(Success {
                    ready_message: format!(
                        "packaged '{}' chart with version '{}'",
                        spec.chart, a.revision
                    ),
                    event_message: String::new(),
                    artifact: a,
                    new: false,
                    extra,
                });
            }
            let path = ctx
                .storage
                .local_path(&src.path)
                .ok_or_else(|| unavailable("bad source path".into()))?;
            let dir = work.path().join("src");
            let f = std::fs::File::open(&path).map_err(|e| Failure::storage(e.to_string()))?;
            gitops_source::archive::extract_tar_gz(
                std::io::BufReader::new(f),
                &dir,
                gitops_source::ExtractLimits {
                    max_bytes: ctx.max_size,
                    ..Default::default()
                },
            )
            .map_err(|e| Failure::storage(e.to_string()))?;
            let rel = gitops_source::archive::safe_relative_path(&spec.chart).map_err(|e| {
                Failure::stalled(
                    reasons::CHART_PACKAGE_FAILED,
                    format!("chart path {:?}: {e}", spec.chart),
                )
            })?;
            let chart_dir = dir.join(rel);
            let version_override = if spec.reconcile_strategy == Some(ReconcileStrategy::Revision) {
                let meta: Option<helm::ChartMetadata> =
                    std::fs::read_to_string(chart_dir.join("Chart.yaml"))
                        .ok()
                        .and_then(|t| serde_saphyr::from_str(&t).ok());
                let short: String = src
                    .revision
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(12)
                    .collect();
                meta.map(|m| format!("{}+{short}", m.version))
            } else {
                None
            };
            let (bytes, meta) = helm::package_chart(
                &chart_dir,
                &dir,
                &spec.values_files,
                spec.ignore_missing_values_files,
                version_override.as_deref(),
                ctx.helm.chart_file,
            )
            .map_err(|e| {
                Failure::build(
                    reasons::CHART_PACKAGE_FAILED,
                    format!(
                        "failed to package chart {:?} from {}: {e}",
                        spec.chart, src.revision
                    ),
                )
            })?;
            let stored = ctx
                .storage
                .store_bytes(&key, &format!("{}-{}.tgz", meta.name, meta.version), &bytes)
                .map_err(|e| Failure::storage(e.to_string()))?;
            Ok(Success {
                ready_message: format!(
                    "packaged '{}' chart with version '{}'",
                    meta.name, meta.version
                ),
                event_message: format!(
                    "packaged '{}' chart with version '{}'",
                    meta.name, meta.version
                ),
                artifact: stored.to_api(&meta.version, None),
                new: true,
                extra,
            })
        }
        other => Err(Failure::stalled(
            reasons::CHART_PULL_FAILED,
            format!("unsupported source kind {other:?}"),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn store_pulled_chart(
    ctx: &Context,
    spec: &gitops_api::source::HelmChartSpec,
    key: &gitops_source::ObjectKey,
    work: &std::path::Path,
    tgz: &std::path::Path,
    version: &str,
    url: &str,
    extra: Observed<HelmChartStatus>,
) -> Result<Success<HelmChartStatus>, Failure> {
    let file = format!("{}-{}.tgz", spec.chart, version);
    // a chart's files are bounded as Helm bounds them, whether or not it is repackaged
    let limits = gitops_source::ExtractLimits {
        max_bytes: ctx.max_size,
        max_file_bytes: ctx.helm.chart_file,
        ..Default::default()
    };
    let invalid = |e: gitops_source::ArchiveError| {
        Failure::build(reasons::CHART_PACKAGE_FAILED, format!("chart {url}: {e}"))
    };
    let stored = if spec.values_files.is_empty() {
        let f = std::fs::File::open(tgz).map_err(|e| Failure::storage(e.to_string()))?;
        gitops_source::archive::check_tar_gz(std::io::BufReader::new(f), limits)
            .map_err(invalid)?;
        ctx.storage
            .store_file(key, &file, tgz)
            .map_err(|e| Failure::storage(e.to_string()))?
    } else {
        let dir = work.join("x");
        let f = std::fs::File::open(tgz).map_err(|e| Failure::storage(e.to_string()))?;
        gitops_source::archive::extract_tar_gz(std::io::BufReader::new(f), &dir, limits)
            .map_err(invalid)?;
        let chart_dir = dir.join(&spec.chart);
        let (bytes, _) = helm::package_chart(
            &chart_dir,
            &chart_dir,
            &spec.values_files,
            spec.ignore_missing_values_files,
            None,
            ctx.helm.chart_file,
        )
        .map_err(|e| Failure::build(reasons::CHART_PACKAGE_FAILED, e.to_string()))?;
        ctx.storage
            .store_bytes(key, &file, &bytes)
            .map_err(|e| Failure::storage(e.to_string()))?
    };
    Ok(Success {
        ready_message: format!("pulled '{}' chart with version '{}'", spec.chart, version),
        event_message: format!("pulled '{}' chart with version '{}'", spec.chart, version),
        artifact: stored.to_api(version, None),
        new: true,
        extra,
    })
}

/// A chart from an OCI HelmRepository: `<repository url>/<chart>:<version>` (Helm writes
/// `+` in versions as `_` in tags).
#[allow(clippy::too_many_arguments)]
async fn pull_oci_chart(
    ctx: &Context,
    obj: &HelmChart,
    repo: &HelmRepository,
    current: Option<Artifact>,
    same_values: bool,
    key: &gitops_source::ObjectKey,
    work: &std::path::Path,
    extra: Observed<HelmChartStatus>,
) -> Result<Success<HelmChartStatus>, Failure> {
    use gitops_source::oci::{OciAuth, OciReference, parse_url};
    let spec = &obj.spec;
    let ns = obj.namespace().unwrap_or_default();
    let url = format!("{}/{}", repo.spec.url.trim_end_matches('/'), spec.chart);
    let (host, _) = parse_url(&url).map_err(|e| super::oci::oci_failure(e, "invalid chart URL"))?;
    let auth = match &repo.spec.secret_ref {
        Some(s) => OciAuth::from_secret_data(&secret_data(ctx, &ns, &s.name).await?, &host),
        None => None,
    };
    let constraint = spec.version();
    // Flux's shortcut: a version (`version.ParseVersion`) is a tag, anything else a range.
    let exact = gitops_go::semver::Version::parse_flux(constraint).is_ok();
    let reference = if exact {
        OciReference::Tag(constraint.replace('+', "_"))
    } else {
        OciReference::Semver {
            range: constraint.to_owned(),
            filter: None,
        }
    };
    let registry = ctx.registry(repo.spec.insecure);
    let pull_failed = |e: gitops_source::oci::OciError| Failure {
        condition: Some(gitops_api::condition::types::FETCH_FAILED),
        reason: reasons::CHART_PULL_FAILED,
        message: format!("chart pull error: {e}"),
        stalled: false,
    };
    let resolved = registry
        .resolve(&url, &reference, auth.as_ref())
        .await
        .map_err(pull_failed)?;
    let version = resolved.tag.clone().unwrap_or_default().replace('_', "+");
    if let Some(a) = current.filter(|a| same_values && a.revision == version) {
        return Ok(Success {
            ready_message: format!(
                "pulled '{}' chart with version '{}'",
                spec.chart, a.revision
            ),
            event_message: String::new(),
            artifact: a,
            new: false,
            extra,
        });
    }
    let tgz = work.join("chart.tgz");
    registry
        .pull_layer(
            &url,
            &resolved,
            auth.as_ref(),
            Some(gitops_source::oci::HELM_CHART_CONTENT_MEDIA_TYPE),
            ctx.helm.chart,
            &tgz,
        )
        .await
        .map_err(pull_failed)?;
    store_pulled_chart(ctx, spec, key, work, &tgz, &version, &url, extra)
}
