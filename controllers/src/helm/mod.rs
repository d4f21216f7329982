//! The helm controller: reconciles `helm.toolkit.fluxcd.io/v2` HelmReleases as Flux's
//! helm-controller does. Per reconcile: the chart's source (a HelmChart made from
//! `spec.chart`, or `spec.chartRef` to an OCIRepository, HelmChart or ExternalArtifact) and
//! its artifact, `dependsOn`, the values (`valuesFrom` then `values`), the chart (downloaded
//! once per digest, verified, parsed once), then Flux's atomic release
//! ([`release::Request::run`]) over the release actions of `gitops-helm`, with release
//! records in Helm's Secret format so `helm` sees the same releases.
//!
//! Start it with [`run`] (what `gitops controller helm-controller` does).

mod cluster;
mod postrender;
mod release;
pub mod values;

use crate::artifact::ArtifactCache;
use crate::cluster_access::{ClusterAccess, Target};
use crate::runtime::args::{ControllerArgs, WatchConfigsArgs, feature_gate, parse_duration};
use crate::runtime::events::{EventMetadata, EventRecorder, EventType};
use crate::runtime::object::object_ref;
use crate::runtime::reconcile::{
    self, ReconcileError, ReconcileResult, Reconciler, Requeue, RunOptions,
};
use crate::runtime::status::{ConditionSet, StatusWriter, record_reconcile};
use crate::runtime::telemetry::{self, Metrics, Readiness};
use cluster::KubeCluster;
use gitops_api::condition::{Conditions, reasons, types};
use gitops_api::duration::format_go_duration;
use gitops_api::helm::HelmReleaseStatus;
use gitops_api::kustomize::ValuesKind;
use gitops_api::meta::SourceKind;
use gitops_api::source::Source;
use gitops_api::{Artifact, HelmChart, HelmRelease};
use gitops_apply::{Action, Applier, ApplyOptions};
use gitops_go::semver::Version;
use gitops_helm::Chart;
use gitops_helm::release::Actions;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The finalizer Flux's controllers put on their objects.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
/// The controller's name in events.
pub const CONTROLLER_NAME: &str = "helm-controller";
/// The field manager of everything it applies (Flux's, so it takes over Flux's objects).
pub const FIELD_MANAGER: &str = "helm-controller";

/// Flags of `gitops controller helm-controller` (Flux's helm-controller flags).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "helm-controller")]
#[command(mut_arg("concurrent", |a| a.default_value("4")))]
pub struct HelmArgs {
    /// Flags shared by all controllers (`--concurrent` defaults to 4 here, as in Flux).
    #[command(flatten)]
    pub common: ControllerArgs,
    /// How long to wait before checking again when a dependency or the chart is not ready.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub requeue_dependency: Duration,
    /// Impersonation, remote-cluster and kubeconfig lockdown flags.
    #[command(flatten)]
    pub access: crate::cluster_access::AccessArgs,
    /// Refuse references to sources in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
    /// Percentage of jitter added to `interval`.
    #[arg(long, default_value_t = 5)]
    pub interval_jitter_percentage: u32,
    /// Kubernetes API requests per second (accepted; kube-rs does not rate-limit).
    #[arg(long, default_value_t = 50.0)]
    pub kube_api_qps: f32,
    /// Kubernetes API burst (accepted; kube-rs does not rate-limit).
    #[arg(long, default_value_t = 300)]
    pub kube_api_burst: u32,
    /// Feature gates, `Name=true,Other=false`: `DisableConfigWatchers` and
    /// `DisableChartDigestTracking` act; Flux's other gates are accepted.
    #[arg(long, default_value = "")]
    pub feature_gates: String,
    /// ConfigMaps and Secrets whose changes reconcile the HelmReleases reading them.
    #[command(flatten)]
    pub watch_configs: WatchConfigsArgs,
    /// Largest number of downloaded charts kept on disk (and parsed in memory) for reuse.
    #[arg(long, default_value_t = 16)]
    pub artifact_cache_size: usize,
    /// Do not add the artifact digest to the chart version of OCI charts.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_chart_digest_tracking: bool,
}

struct Context {
    client: kube::Client,
    applier: Applier,
    events: EventRecorder,
    artifacts: ArtifactCache,
    /// Parsed charts by artifact digest, the most recently used last.
    charts: Mutex<Vec<(String, Arc<Chart>)>>,
    args: HelmArgs,
    /// The clients releases are installed with.
    access: ClusterAccess,
}

/// Flux's helm-controller feature gates (`--feature-gates`).
const FEATURE_GATES: &[&str] = &[
    "AdditiveCELDependencyCheck",
    "AdoptLegacyReleases",
    "AllowDNSLookups",
    "CacheSecretsAndConfigMaps",
    "CancelHealthCheckOnNewRevision",
    "CorrectDrift",
    "DefaultToRetryOnFailure",
    "DetectDrift",
    "DirectSourceFetch",
    "DisableChartDigestTracking",
    "DisableConfigWatchers",
    "ExternalArtifact",
    "OOMWatch",
    "UseHelm3Defaults",
];

/// Runs the helm controller until the process is stopped.
pub async fn run(mut args: HelmArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    let gate = |name: &str| {
        feature_gate(&args.feature_gates, FEATURE_GATES, name, false).map_err(anyhow::Error::msg)
    };
    let watch_configs = !gate("DisableConfigWatchers")?;
    args.disable_chart_digest_tracking |= gate("DisableChartDigestTracking")?;
    let config = crate::runtime::client::config(args.common.kubeconfig.as_deref()).await?;
    let client = kube::Client::try_from(config.clone())
        .map_err(|e| anyhow::anyhow!("Kubernetes client: {e}"))?;
    let metrics = Metrics::default();
    let ready = Readiness::default();
    telemetry::serve_from_args(&args.common, &metrics, &ready).await?;
    let ctx = Arc::new(Context {
        events: EventRecorder::new(
            client.clone(),
            CONTROLLER_NAME,
            args.common.events_addr.clone(),
        ),
        client: client.clone(),
        applier: Applier::new(client.clone(), FIELD_MANAGER),
        access: ClusterAccess::new(client.clone(), config, args.access.clone()),
        artifacts: ArtifactCache::new(CONTROLLER_NAME, args.artifact_cache_size)?,
        charts: Mutex::new(Vec::new()),
        args: args.clone(),
    });
    let opts = RunOptions::from_args(&args.common, args.interval_jitter_percentage)?;
    tracing::info!("starting helm-controller");
    let ns = opts.namespace.clone();
    let selector = if watch_configs {
        args.watch_configs.watch_configs_label_selector.clone()
    } else {
        String::new()
    };
    reconcile::run_with::<HelmRelease, _>(
        client.clone(),
        Arc::new(HelmReconciler(ctx)),
        opts,
        metrics,
        ready,
        move |c| {
            let ns = ns.as_deref();
            let c = watch_chart_source::<HelmChart>(c, client.clone(), ns, SourceKind::HelmChart);
            let c = watch_chart_source::<gitops_api::OCIRepository>(
                c,
                client.clone(),
                ns,
                SourceKind::OciRepository,
            );
            let c = watch_chart_source::<gitops_api::ExternalArtifact>(
                c,
                client.clone(),
                ns,
                SourceKind::ExternalArtifact,
            );
            let c = reconcile::watch_configs(c, client.clone(), ns, &selector, config_refs);
            watch_dependencies(c, client.clone(), ns)
        },
    )
    .await;
    Ok(())
}

/// The ConfigMaps and Secrets a HelmRelease reads: `valuesFrom` and the kubeconfig.
fn config_refs(hr: &HelmRelease) -> Vec<(ValuesKind, String)> {
    let mut refs: Vec<_> = hr
        .spec
        .values_from
        .iter()
        .map(|v| (v.kind, v.name.clone()))
        .collect();
    if let Some(k) = &hr.spec.kube_config {
        refs.extend(k.config_refs());
    }
    refs
}

/// The chart source a HelmRelease uses: `(kind, namespace, name)`.
fn chart_source(hr: &HelmRelease) -> Option<(SourceKind, String, String)> {
    let own = hr.namespace().unwrap_or_default();
    if let Some(r) = &hr.spec.chart_ref {
        return Some((r.kind, r.namespace.clone().unwrap_or(own), r.name.clone()));
    }
    let t = hr.spec.chart.as_ref()?;
    let ns = t
        .spec
        .source_ref
        .namespace
        .clone()
        .unwrap_or_else(|| own.clone());
    Some((
        SourceKind::HelmChart,
        ns,
        format!("{own}-{}", hr.name_any()),
    ))
}

/// Reconciles the HelmReleases using a chart source when its artifact changes.
fn watch_chart_source<S>(
    controller: Controller<HelmRelease>,
    client: kube::Client,
    namespace: Option<&str>,
    kind: SourceKind,
) -> Controller<HelmRelease>
where
    S: crate::runtime::reconcile::Watched + Source,
{
    crate::runtime::reconcile::watch_sources(
        controller,
        client,
        namespace,
        move |hr: &HelmRelease, s: &S| {
            chart_source(hr).is_some_and(|(k, ns, name)| {
                k == kind && Some(ns) == s.namespace() && name == s.name_any()
            })
        },
    )
}

/// Reconciles the dependants of a HelmRelease as soon as it becomes ready.
fn watch_dependencies(
    controller: Controller<HelmRelease>,
    client: kube::Client,
    namespace: Option<&str>,
) -> Controller<HelmRelease> {
    crate::runtime::reconcile::watch_related(
        controller,
        client,
        namespace,
        |dep: &HelmRelease| {
            dep.status
                .as_ref()
                .map(|s| (s.conditions.is_true(types::READY), s.observed_generation))
        },
        |hr: &HelmRelease, dep: &HelmRelease| {
            dep.status
                .as_ref()
                .is_some_and(|s| s.conditions.is_true(types::READY))
                && hr.spec.depends_on.iter().any(|d| {
                    d.name == dep.name_any()
                        && d.namespace.clone().or_else(|| hr.namespace()) == dep.namespace()
                })
        },
    )
}

struct HelmReconciler(Arc<Context>);

impl Reconciler<HelmRelease> for HelmReconciler {
    fn finalizer(&self) -> &str {
        FINALIZER
    }

    async fn reconcile(&self, obj: Arc<HelmRelease>) -> ReconcileResult {
        let started = Instant::now();
        let api = Api::namespaced(self.0.client.clone(), &obj.namespace().unwrap_or_default());
        let mut writer = StatusWriter::new(api, obj.as_ref());
        let mut status = obj.status.clone().unwrap_or_default();
        let mut conds = ConditionSet::of(obj.status.as_ref(), obj.metadata.generation);
        let result = reconcile(&self.0, &obj, &mut status, &mut conds, &mut writer).await;
        finish(&self.0, &obj, status, conds, writer, result, started).await
    }

    async fn finalize(&self, obj: Arc<HelmRelease>) -> anyhow::Result<()> {
        finalize(&self.0, &obj).await
    }
}

/// A reconcile that stopped before (or instead of) the release.
#[derive(Debug)]
struct Failure {
    reason: &'static str,
    message: String,
    requeue: Option<Duration>,
    warning: bool,
    stalled: bool,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
            requeue: None,
            warning: true,
            stalled: false,
        }
    }

    fn waiting(reason: &'static str, message: impl Into<String>, after: Duration) -> Self {
        Failure {
            requeue: Some(after),
            warning: false,
            ..Failure::new(reason, message)
        }
    }
}

/// How a reconcile ended.
enum Ended {
    Released(release::Outcome),
    Failed(Failure),
}

/// The release name: `spec.releaseName`, else `[targetNamespace-]name`, shortened to 53
/// characters with a hash as Flux does.
fn release_name(hr: &HelmRelease) -> String {
    let name = match (&hr.spec.release_name, &hr.spec.target_namespace) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, Some(t)) if !t.is_empty() => format!("{t}-{}", hr.name_any()),
        _ => hr.name_any(),
    };
    shorten_name(&name)
}

/// Flux's `ShortenName`: names longer than 53 characters keep 40 and get a dash and the
/// first 12 hex digits of their sha256.
fn shorten_name(name: &str) -> String {
    use sha2::Digest;
    if name.len() <= 53 {
        return name.to_owned();
    }
    let sum = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    let cut = name.char_indices().nth(40).map_or(name.len(), |(i, _)| i);
    format!("{}-{}", &name[..cut], &sum[..12])
}

fn target(hr: &HelmRelease) -> release::Target {
    let own = hr.namespace().unwrap_or_default();
    release::Target {
        name: release_name(hr),
        namespace: hr
            .spec
            .target_namespace
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| own.clone()),
        storage_namespace: hr
            .spec
            .storage_namespace
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or(own),
    }
}

/// Creates or updates the HelmChart of `spec.chart`.
async fn reconcile_chart_template(ctx: &Context, hr: &HelmRelease) -> Result<(), Failure> {
    let Some(t) = &hr.spec.chart else {
        return Ok(());
    };
    let Some((_, ns, name)) = chart_source(hr) else {
        return Ok(());
    };
    let own = hr.namespace().unwrap_or_default();
    if ctx.args.no_cross_namespace_refs && ns != own {
        return Err(Failure {
            stalled: true,
            ..Failure::new(
                "AccessDenied",
                format!(
                    "cannot access {}/{ns}/{}, cross-namespace references have been blocked",
                    t.spec.source_ref.kind.as_str(),
                    t.spec.source_ref.name
                ),
            )
        });
    }
    let meta = t.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(
        gitops_api::annotations::HELM_NAME_LABEL.into(),
        hr.name_any(),
    );
    labels.insert(
        gitops_api::annotations::HELM_NAMESPACE_LABEL.into(),
        own.clone(),
    );
    let mut spec = json!({
        "chart": t.spec.chart,
        "version": t.spec.version.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| "*".into()),
        "sourceRef": {"kind": t.spec.source_ref.kind.as_str(), "name": t.spec.source_ref.name},
        "interval": t.spec.interval.as_ref().unwrap_or(&hr.spec.interval),
        "reconcileStrategy": t.spec.reconcile_strategy.map_or(Value::String("ChartVersion".into()), |s| serde_json::to_value(s).unwrap_or_default()),
    });
    if let Some(v) = &t.spec.source_ref.api_version {
        spec["sourceRef"]["apiVersion"] = json!(v);
    }
    if !t.spec.values_files.is_empty() {
        spec["valuesFiles"] = json!(t.spec.values_files);
    }
    if t.spec.ignore_missing_values_files {
        spec["ignoreMissingValuesFiles"] = json!(true);
    }
    if let Some(v) = &t.spec.verify {
        spec["verify"] = serde_json::to_value(v).unwrap_or_default();
    }
    let mut obj = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": spec,
    });
    if let Some(a) = meta.annotations {
        obj["metadata"]["annotations"] = json!(a);
    }
    ctx.applier
        .apply(vec![obj], &ApplyOptions::default())
        .await
        .map_err(|e| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("failed to run server-side apply: {e}"),
            )
        })?;
    Ok(())
}

async fn get_source<S>(client: &kube::Client, ns: &str, name: &str) -> kube::Result<S>
where
    S: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned,
{
    Api::<S>::namespaced(client.clone(), ns).get(name).await
}

/// Flux's `isReady` of a source: its generation observed, not stalled, with an artifact.
fn source_ready<S>(s: &S, kind: &str) -> Result<Artifact, String>
where
    S: Source + Resource<DynamicType = ()> + crate::runtime::object::HasStatus,
{
    let ns = s.meta().namespace.clone().unwrap_or_default();
    let name = s.meta().name.clone().unwrap_or_default();
    let conds = s
        .status()
        .map(|st| crate::runtime::object::FluxStatus::conditions(st).clone())
        .unwrap_or_default();
    let observed = s
        .status()
        .and_then(|st| serde_json::to_value(st).ok())
        .and_then(|v| v["observedGeneration"].as_i64());
    if observed != s.meta().generation {
        let msg = match conds.get_condition(types::READY) {
            Some(c) if c.status == gitops_api::ConditionStatus::False => c.message.clone(),
            _ => "latest generation of object has not been reconciled".into(),
        };
        return Err(format!("{kind} '{ns}/{name}' is not ready: {msg}"));
    }
    if let Some(c) = conds
        .get_condition(types::STALLED)
        .filter(|c| c.status == gitops_api::ConditionStatus::True)
    {
        return Err(format!("{kind} '{ns}/{name}' is not ready: {}", c.message));
    }
    s.artifact()
        .cloned()
        .ok_or_else(|| format!("{kind} '{ns}/{name}' is not ready: does not have an artifact"))
}

/// The artifact of the chart source, or why there is none.
async fn chart_artifact(
    ctx: &Context,
    hr: &HelmRelease,
) -> Result<(SourceKind, Artifact), Failure> {
    let Some((kind, ns, name)) = chart_source(hr) else {
        return Err(Failure {
            stalled: true,
            ..Failure::new(reasons::ARTIFACT_FAILED, "invalid Chart reference")
        });
    };
    let own = hr.namespace().unwrap_or_default();
    if ctx.args.no_cross_namespace_refs && ns != own && hr.spec.chart_ref.is_some() {
        return Err(Failure {
            stalled: true,
            ..Failure::new(
                "AccessDenied",
                format!(
                    "cannot access {}/{ns}/{name}, cross-namespace references have been blocked",
                    kind.as_str()
                ),
            )
        });
    }
    let c = &ctx.client;
    let got = match kind {
        SourceKind::HelmChart => get_source::<HelmChart>(c, &ns, &name)
            .await
            .map(|s| source_ready(&s, "HelmChart")),
        SourceKind::OciRepository => get_source::<gitops_api::OCIRepository>(c, &ns, &name)
            .await
            .map(|s| source_ready(&s, "OCIRepository")),
        SourceKind::ExternalArtifact => get_source::<gitops_api::ExternalArtifact>(c, &ns, &name)
            .await
            .map(|s| {
                s.artifact().cloned().ok_or_else(|| {
                    format!(
                        "ExternalArtifact '{ns}/{name}' is not ready: does not have an artifact"
                    )
                })
            }),
        other => {
            return Err(Failure {
                stalled: true,
                ..Failure::new(
                    reasons::ARTIFACT_FAILED,
                    format!("unsupported chart source kind '{}'", other.as_str()),
                )
            });
        }
    };
    match got {
        Ok(Ok(a)) => Ok((kind, a)),
        Ok(Err(msg)) => Err(Failure::waiting(
            "SourceNotReady",
            msg,
            ctx.args.requeue_dependency,
        )),
        Err(e) => Err(Failure {
            requeue: Some(ctx.args.requeue_dependency),
            ..Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("could not get Source object: {e}"),
            )
        }),
    }
}

/// Flux's dependency rule: each dependency Ready at its current generation.
async fn check_dependencies(ctx: &Context, hr: &HelmRelease) -> Result<(), String> {
    let own = hr.namespace().unwrap_or_default();
    for d in &hr.spec.depends_on {
        let ns = d.namespace.clone().unwrap_or_else(|| own.clone());
        let api: Api<HelmRelease> = Api::namespaced(ctx.client.clone(), &ns);
        let dep = match api.get(&d.name).await {
            Ok(dep) => dep,
            Err(kube::Error::Api(e)) if e.code == 404 => {
                return Err(format!(
                    "unable to get '{ns}/{}' dependency: helmreleases.helm.toolkit.fluxcd.io \"{}\" not found",
                    d.name, d.name
                ));
            }
            Err(e) => return Err(format!("unable to get '{ns}/{}' dependency: {e}", d.name)),
        };
        let ready = dep.status.as_ref().is_some_and(|s| {
            s.observed_generation == dep.metadata.generation && s.conditions.is_true(types::READY)
        });
        if !ready {
            return Err(format!("dependency '{ns}/{}' is not ready", d.name));
        }
    }
    Ok(())
}

/// The chart of an artifact: downloaded and verified once per digest, parsed once.
async fn load_chart(ctx: &Context, artifact: &Artifact) -> Result<Arc<Chart>, String> {
    if let Some(c) = {
        let mut charts = ctx.charts.lock();
        charts
            .iter()
            .position(|(d, _)| *d == artifact.digest)
            .map(|i| {
                let e = charts.remove(i);
                let c = e.1.clone();
                charts.push(e);
                c
            })
    } {
        return Ok(c);
    }
    let archive = ctx
        .artifacts
        .archive(&artifact.url, &artifact.digest)
        .await?;
    let chart =
        tokio::task::spawn_blocking(move || Chart::load(archive.path()).map_err(|e| e.to_string()))
            .await
            .map_err(|e| format!("loading chart: {e}"))??;
    let chart = Arc::new(chart);
    let mut charts = ctx.charts.lock();
    charts.push((artifact.digest.clone(), chart.clone()));
    let keep = ctx.args.artifact_cache_size.max(1);
    while charts.len() > keep {
        charts.remove(0);
    }
    Ok(chart)
}

/// Flux's chart digest tracking: OCI charts get `+<12 hex of the digest>` in their version,
/// so a re-pushed tag is a new chart version. Returns the revision digest.
fn track_digest(
    chart: &mut Chart,
    kind: SourceKind,
    artifact: &Artifact,
) -> Result<Option<String>, String> {
    let tracked = kind == SourceKind::OciRepository
        || (kind == SourceKind::ExternalArtifact && artifact.revision.contains(':'));
    if !tracked {
        return Ok(None);
    }
    let version = Version::parse(&chart.metadata.version)
        .map_err(|_| format!("invalid chart version {}", chart.metadata.version))?;
    let rev = &artifact.revision;
    let digest = match rev.split_once('@') {
        Some((tag, d)) => {
            if let Ok(tv) = Version::parse(&tag.replace('_', "+"))
                && tv != version
            {
                return Err(format!(
                    "artifact revision {tag} does not match chart version {}",
                    chart.metadata.version
                ));
            }
            d.to_owned()
        }
        None => rev.clone(),
    };
    let sha = digest
        .split_once(':')
        .map(|(_, s)| s)
        .and_then(|s| s.get(..12))
        .ok_or_else(|| format!("invalid artifact revision {rev}"))?;
    let v = version.with_metadata(sha).map_err(|e| e.to_string())?;
    chart.metadata.version = v.to_string();
    Ok(Some(digest))
}

/// The client for the release: impersonating the ServiceAccount, and/or for a remote
/// cluster (`spec.kubeConfig`).
async fn cluster_for(ctx: &Context, hr: &HelmRelease) -> Result<KubeCluster, Failure> {
    let ns = hr.namespace().unwrap_or_default();
    let target = ctx
        .access
        .target(
            &ns,
            hr.spec.service_account_name.as_deref(),
            hr.spec.kube_config.as_ref(),
        )
        .await
        .map_err(|m| Failure::new(reasons::INIT_FAILED, m))?;
    let applier = match target {
        Target::Own => ctx.applier.clone(),
        // A remote cluster has its own kinds: its own discovery cache.
        Target::Client(c) if hr.spec.kube_config.is_some() => Applier::new(c, FIELD_MANAGER),
        Target::Client(c) => ctx.applier.with_client(c),
    };
    Ok(KubeCluster { applier })
}

/// The release objects as they would be applied, minus those excluded from drift
/// detection, with ignored fields taken from the live objects.
async fn desired_for_drift(
    req: &release::Request<'_>,
    rel: &gitops_helm::release::Release,
) -> Result<Vec<Value>, String> {
    drift_objects(
        &req.cluster.applier,
        &req.target.storage_namespace,
        req.hr,
        rel,
    )
    .await
}

/// What drift detection compares with the cluster for the release `rel` of `hr`: the
/// objects of its manifest as they would be applied (namespaces defaulted, Helm's owner
/// metadata), minus those excluded from drift detection, with the fields
/// `spec.driftDetection.ignore` names taken from the live objects (read with `applier`).
/// Public so `gitops ui` shows a HelmRelease's drift by the controller's own rules.
pub async fn drift_objects(
    applier: &Applier,
    storage_namespace: &str,
    hr: &HelmRelease,
    rel: &gitops_helm::release::Release,
) -> Result<Vec<Value>, String> {
    let cluster = KubeCluster {
        applier: applier.clone(),
    };
    let actions = Actions::new(&cluster, storage_namespace);
    let mut objects = actions.objects(rel).await?;
    objects.retain(|o| {
        o["metadata"]["annotations"]["helm.toolkit.fluxcd.io/driftDetection"] != "disabled"
            && o["metadata"]["annotations"][gitops_api::annotations::RECONCILE] != "disabled"
    });
    let rules = hr
        .spec
        .drift_detection
        .as_ref()
        .map(|d| d.ignore.clone())
        .unwrap_or_default();
    let ignored =
        crate::kustomize::build::ignored_paths(&rules, &objects).map_err(|e| e.message)?;
    if !ignored.is_empty() {
        applier
            .keep_live_fields(&mut objects, &ignored)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(objects)
}

/// How the cluster differs from the release, one line per object (`Kind/ns/name
/// removed`, `Kind/ns/name changed (fields)`); empty when it does not.
async fn drift(
    req: &release::Request<'_>,
    rel: &gitops_helm::release::Release,
) -> Result<Vec<String>, String> {
    let objects = desired_for_drift(req, rel).await?;
    let drifts = req
        .cluster
        .applier
        .diff(objects, &ApplyOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(drifts
        .iter()
        .filter_map(|d| match d.action {
            Action::Created => Some(format!("{} removed", d.object)),
            Action::Configured => Some(format!("{} changed ({})", d.object, d.fields.join(", "))),
            _ => None,
        })
        .collect())
}

/// Re-applies the release objects that drifted; the lines of what was corrected.
async fn correct_drift(
    req: &release::Request<'_>,
    rel: &gitops_helm::release::Release,
) -> Result<Vec<String>, String> {
    let objects = desired_for_drift(req, rel).await?;
    let opts = ApplyOptions {
        force: req.hr.spec.upgrade.as_ref().is_some_and(|u| u.force),
        ..ApplyOptions::default()
    };
    let cs = req
        .cluster
        .applier
        .apply(objects, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let t = cs.event_text();
    Ok(t.lines().map(str::to_owned).collect())
}

async fn reconcile(
    ctx: &Context,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    conds: &mut ConditionSet,
    writer: &mut StatusWriter<HelmRelease>,
) -> Ended {
    match prepare_and_release(ctx, hr, status, conds, writer).await {
        Ok(o) => Ended::Released(o),
        Err(f) => Ended::Failed(f),
    }
}

async fn prepare_and_release(
    ctx: &Context,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    conds: &mut ConditionSet,
    writer: &mut StatusWriter<HelmRelease>,
) -> Result<release::Outcome, Failure> {
    // fields that end up in request paths, checked where the user wrote them
    for (field, v) in [
        ("spec.targetNamespace", &hr.spec.target_namespace),
        ("spec.storageNamespace", &hr.spec.storage_namespace),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            gitops_api::meta::validate_dns1123_label(field, v).map_err(|m| Failure {
                stalled: true,
                ..Failure::new(reasons::INIT_FAILED, m)
            })?;
        }
    }
    if let Some(name) = &hr.spec.release_name {
        gitops_helm::release::actions::validate_name(&shorten_name(name)).map_err(|m| Failure {
            stalled: true,
            ..Failure::new(reasons::INIT_FAILED, format!("spec.releaseName: {m}"))
        })?;
    }
    reconcile_chart_template(ctx, hr).await?;
    if hr.spec.chart.is_some()
        && let Some((_, ns, name)) = chart_source(hr)
    {
        status.helm_chart = Some(format!("{ns}/{name}"));
    }
    let (kind, artifact) = chart_artifact(ctx, hr).await?;
    if let Err(msg) = check_dependencies(ctx, hr).await {
        return Err(Failure::waiting(
            reasons::DEPENDENCY_NOT_READY,
            format!(
                "dependencies do not meet ready condition ({msg}): retrying in {}",
                format_go_duration(ctx.args.requeue_dependency)
            ),
            ctx.args.requeue_dependency,
        ));
    }
    let values = values::compose(&ctx.client, hr)
        .await
        .map_err(|m| Failure::new("ValuesError", m))?;
    let loaded = load_chart(ctx, &artifact).await.map_err(|m| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!("Could not load chart: {m}"),
        )
    })?;
    let mut chart = (*loaded).clone();
    let oci_digest = if ctx.args.disable_chart_digest_tracking {
        None
    } else {
        track_digest(&mut chart, kind, &artifact)
            .map_err(|m| Failure::new("ChartMutateError", m))?
    };
    let cluster = cluster_for(ctx, hr).await?;
    let target = target(hr);
    let config_digest = values::digest(&values);

    // a changed release target: the old release goes first (Flux's uninstall on
    // storage namespace, release namespace, release name or chart name change)
    if let (Some(old_storage), Some(cur)) = (
        status.storage_namespace.clone(),
        status.history.first().cloned(),
    ) {
        let changed = old_storage != target.storage_namespace
            || cur.namespace != target.namespace
            || cur.name != target.name
            || cur.chart_name != chart.metadata.name;
        if changed {
            tracing::info!(
                namespace = hr.namespace().unwrap_or_default(),
                name = hr.name_any(),
                "release target configuration changed: running uninstall for current release"
            );
            let opts = release::uninstall_options(hr, &cur.name, hr.spec.timeout());
            let actions = Actions::new(&cluster, &old_storage);
            match actions.uninstall(&opts).await {
                Ok(_) => {}
                Err(e) if e.message.contains("not found") => {}
                Err(e) => {
                    return Err(Failure::new(
                        reasons::UNINSTALL_FAILED,
                        format!(
                            "Helm uninstall failed for release {}/{}: {}",
                            cur.namespace, cur.name, e.message
                        ),
                    ));
                }
            }
            status.history.clear();
            status.storage_namespace = None;
        }
    }
    status.storage_namespace = Some(target.storage_namespace.clone());

    // failure counters restart when what is released changes (or on a reset request)
    let reset = gitops_api::annotations::pending_reset_request(
        hr.meta(),
        status.last_handled_reset_at.as_deref(),
    )
    .map(str::to_owned);
    let changed = status.last_attempted_generation != hr.metadata.generation
        || status.last_attempted_revision.as_deref() != Some(chart.metadata.version.as_str())
        || status.last_attempted_config_digest.as_deref() != Some(config_digest.as_str());
    if reset.is_some() || changed {
        status.failures = None;
        status.install_failures = None;
        status.upgrade_failures = None;
    }
    if let Some(r) = reset {
        status.last_handled_reset_at = Some(r);
    }
    status.last_attempted_revision = Some(chart.metadata.version.clone());
    status.last_attempted_revision_digest = oci_digest.clone();
    status.last_attempted_config_digest = Some(config_digest.clone());
    status.last_attempted_values_checksum = None;
    status.last_attempted_generation = hr.metadata.generation;
    let force = gitops_api::annotations::pending_force_request(
        hr.meta(),
        status.last_handled_force_at.as_deref(),
    )
    .map(str::to_owned);

    let post = postrender::PostRender::new(
        hr.spec.post_renderers.clone(),
        hr.spec.common_metadata.as_ref(),
        &hr.name_any(),
        &hr.namespace().unwrap_or_default(),
    );
    let mut req = release::Request {
        hr,
        status: std::mem::take(status),
        conds: conds.clone(),
        chart: &chart,
        values: &values,
        config_digest,
        oci_digest,
        target,
        cluster: &cluster,
        post: Some(post),
        force_requested: force.is_some(),
        events: Vec::new(),
        writer: Some(writer),
    };
    let outcome = req.run().await;
    if let Some(f) = force {
        req.status.last_handled_force_at = Some(f);
    }
    let events = std::mem::take(&mut req.events);
    *status = std::mem::take(&mut req.status);
    *conds = req.conds.clone();
    let oref = object_ref(hr);
    let revision = chart.metadata.version.clone();
    let token = status
        .last_attempted_config_digest
        .clone()
        .unwrap_or_default();
    for (t, reason, msg) in events {
        let meta = EventMetadata::revision(Some(&revision))
            .with(gitops_api::event::META_TOKEN, &token)
            .with_object_annotations(hr.annotations());
        ctx.events.publish_with(&oref, t, reason, &msg, meta).await;
    }
    Ok(outcome)
}

/// Writes the status, logs, and schedules the next reconcile.
async fn finish(
    ctx: &Context,
    hr: &HelmRelease,
    mut status: HelmReleaseStatus,
    mut conds: ConditionSet,
    mut writer: StatusWriter<HelmRelease>,
    ended: Ended,
    started: Instant,
) -> ReconcileResult {
    let ns = hr.namespace().unwrap_or_default();
    let name = hr.name_any();
    let old_ready = hr
        .status
        .as_ref()
        .and_then(|s| s.conditions.get_condition(types::READY).cloned());
    let outcome: ReconcileResult = match ended {
        Ended::Released(release::Outcome::Done) => {
            conds.remove(types::RECONCILING);
            if conds.conditions.is_true(types::READY) {
                conds.remove(types::STALLED);
            }
            tracing::info!(
                namespace = ns,
                name,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "release reconciled"
            );
            Ok(Requeue::Interval)
        }
        Ended::Released(release::Outcome::Stalled) => {
            conds.remove(types::RECONCILING);
            let msg = conds
                .conditions
                .get_condition(types::STALLED)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            tracing::error!(namespace = ns, name, "{msg}");
            Err(ReconcileError::terminal("RetriesExceeded", msg))
        }
        Ended::Released(release::Outcome::Requeue) => Err(ReconcileError::retriable(
            "MustRequeue",
            "remediation done, continuing",
        )
        .retry_after(Duration::from_secs(1))),
        Ended::Released(release::Outcome::RetryAfter(d)) => Err(ReconcileError::retriable(
            "RetryAfterInterval",
            "retrying the failed action",
        )
        .retry_after(d)),
        Ended::Released(release::Outcome::Error(e)) => {
            tracing::error!(namespace = ns, name, "{e}");
            Err(ReconcileError::retriable(reasons::RECONCILIATION_FAILED, e))
        }
        Ended::Failed(f) => {
            conds.set(types::READY, false, f.reason, &f.message);
            if f.stalled {
                conds.set(types::STALLED, true, f.reason, &f.message);
                conds.remove(types::RECONCILING);
            } else {
                conds.remove(types::STALLED);
            }
            if f.warning {
                tracing::error!(namespace = ns, name, reason = f.reason, "{}", f.message);
            } else {
                tracing::info!(namespace = ns, name, reason = f.reason, "{}", f.message);
            }
            let repeated = old_ready
                .as_ref()
                .is_some_and(|c| c.message == f.message && c.reason == f.reason);
            if !repeated && f.warning {
                ctx.events
                    .publish(
                        &object_ref(hr),
                        EventType::Warning,
                        f.reason,
                        &f.message,
                        None,
                    )
                    .await;
            }
            let e = if f.stalled {
                ReconcileError::terminal(f.reason, f.message)
            } else {
                ReconcileError::retriable(f.reason, f.message)
            };
            Err(match f.requeue {
                Some(d) => e.retry_after(d),
                None => e,
            })
        }
    };
    status.conditions = conds.conditions;
    let final_for_generation = match &outcome {
        Ok(_) => true,
        Err(e) => e.is_terminal(),
    };
    // the release ran for this generation (whatever its outcome): observed
    let attempted = status.last_attempted_generation == hr.metadata.generation;
    record_reconcile(hr, &mut status, final_for_generation || attempted);
    if let Err(e) = writer.write(&status).await {
        tracing::warn!(namespace = ns, name, error = %e, "status update failed");
        return Err(ReconcileError::retriable(
            "StatusUpdateFailed",
            e.to_string(),
        ));
    }
    outcome
}

/// Uninstalls the release on deletion (unless suspended), as Flux's finalizer.
async fn finalize(ctx: &Context, hr: &HelmRelease) -> anyhow::Result<()> {
    let ns = hr.namespace().unwrap_or_default();
    let name = hr.name_any();
    if hr.spec.suspend {
        tracing::info!(
            namespace = ns,
            name,
            "suspended: the release is left in place"
        );
        return Ok(());
    }
    // the HelmChart made from the template goes too
    if hr.spec.chart.is_some()
        && let Some((_, cns, cname)) = chart_source(hr)
    {
        let api: Api<HelmChart> = Api::namespaced(ctx.client.clone(), &cns);
        match api.delete(&cname, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => anyhow::bail!("failed to delete HelmChart '{cns}/{cname}': {e}"),
        }
    }
    let Some(st) = &hr.status else { return Ok(()) };
    let Some(storage) = st.storage_namespace.clone() else {
        return Ok(());
    };
    let Some(cur) = st.history.first() else {
        return Ok(());
    };
    let cluster = match cluster_for(ctx, hr).await {
        Ok(c) => c,
        Err(f) => {
            tracing::warn!(
                namespace = ns,
                name,
                "skipping Helm uninstall: {}",
                f.message
            );
            return Ok(());
        }
    };
    let timeout = hr
        .spec
        .uninstall
        .as_ref()
        .and_then(|u| u.timeout.as_ref())
        .map_or_else(|| hr.spec.timeout(), |d| d.get());
    let opts = release::uninstall_options(hr, &cur.name, timeout);
    let actions = Actions::new(&cluster, &storage);
    let oref = object_ref(hr);
    match actions.uninstall(&opts).await {
        Ok(_) => {
            let msg = format!(
                "Helm uninstall succeeded for release {}/{}.v{} with chart {}@{}",
                cur.namespace, cur.name, cur.version, cur.chart_name, cur.chart_version
            );
            ctx.events
                .publish(
                    &oref,
                    EventType::Normal,
                    reasons::UNINSTALL_SUCCEEDED,
                    &msg,
                    Some(&cur.chart_version),
                )
                .await;
            Ok(())
        }
        Err(e) if e.message.contains("not found") => Ok(()),
        Err(e) => {
            let msg = format!(
                "Helm uninstall failed for release {}/{}.v{} with chart {}@{}: {}",
                cur.namespace, cur.name, cur.version, cur.chart_name, cur.chart_version, e.message
            );
            ctx.events
                .publish(
                    &oref,
                    EventType::Warning,
                    reasons::UNINSTALL_FAILED,
                    &msg,
                    Some(&cur.chart_version),
                )
                .await;
            anyhow::bail!(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn long_release_names_are_shortened_as_flux_does() {
        assert_eq!(shorten_name("short"), "short");
        let long = "a".repeat(60);
        let s = shorten_name(&long);
        assert_eq!(s.len(), 53);
        assert!(s.starts_with(&"a".repeat(40)));
        assert_eq!(&s[40..41], "-");
    }

    #[test]
    fn flags_parse_with_flux_defaults() {
        let a = HelmArgs::try_parse_from(["helm-controller"]).unwrap();
        assert_eq!(a.requeue_dependency, Duration::from_secs(5));
        assert_eq!(a.common.concurrent, 4);
    }
}
