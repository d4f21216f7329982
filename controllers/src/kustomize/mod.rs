//! The kustomize controller: reconciles `kustomize.toolkit.fluxcd.io/v1` Kustomizations as
//! Flux's kustomize-controller does. Per reconcile: get the source and its artifact, wait
//! for `dependsOn`, download and verify the artifact (cached per digest), build it with the
//! kustomize engine plus the Kustomization's overlays, substitute variables, decrypt SOPS
//! data, apply the objects with server-side apply (field manager `kustomize-controller`),
//! prune what left the inventory, check health, and write the status in Flux's format.
//!
//! The whole build happens before anything is applied, so a broken commit leaves the
//! cluster as it was. Start it with [`run`] (what `gitops controller kustomize-controller`
//! does).

pub(crate) mod build;

use crate::artifact;
use crate::cluster_access::{ClusterAccess, Target};

use crate::runtime::args::{ControllerArgs, WatchConfigsArgs, feature_gate, parse_duration};
use crate::runtime::events::{EventMetadata, EventRecorder, EventType};
use crate::runtime::object::object_ref;
use crate::runtime::reconcile::{
    self, ReconcileError, ReconcileResult, Reconciler, Requeue, RunOptions,
};
use crate::runtime::status::{ConditionSet, StatusWriter, record_reconcile};
use crate::runtime::telemetry::{self, Metrics, Readiness};
use gitops_api::condition::{Conditions, reasons, types};
use gitops_api::duration::format_go_duration;
use gitops_api::kustomize::{DeletionPolicy, KustomizationStatus, ValuesKind};
use gitops_api::meta::SourceKind;
use gitops_api::source::Source;
use gitops_api::{Artifact, Kustomization};
use gitops_apply::{
    Applier, ApplyOptions, ChangeSet, Inventory, ObjectRef, PruneOptions, WaitOptions,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The finalizer Flux's controllers put on their objects.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
/// The controller's name in events.
pub const CONTROLLER_NAME: &str = "kustomize-controller";
/// The server-side apply field manager: Flux's, so that objects applied by Flux keep their
/// owner when this controller takes over.
pub const FIELD_MANAGER: &str = "kustomize-controller";

/// Flags of `gitops controller kustomize-controller` (Flux's kustomize-controller flags).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "kustomize-controller")]
#[command(mut_arg("concurrent", |a| a.default_value("4")))]
pub struct KustomizeArgs {
    /// Flags shared by all controllers (`--concurrent` defaults to 4 here, as in Flux).
    #[command(flatten)]
    pub common: ControllerArgs,
    /// How long to wait before checking again when a dependency or the source artifact is
    /// not ready.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub requeue_dependency: Duration,
    /// Impersonation, remote-cluster and kubeconfig lockdown flags.
    #[command(flatten)]
    pub access: crate::cluster_access::AccessArgs,
    /// Refuse `sourceRef`s in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
    /// Refuse remote bases. Remote bases are never fetched by this engine; accepted for
    /// compatibility.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_remote_bases: bool,
    /// A Secret (in the controller's namespace) with age keys used for every Kustomization
    /// with `decryption`, in addition to its own `decryption.secretRef`.
    #[arg(long, default_value = "")]
    pub sops_age_secret: String,
    /// Accepted for compatibility (cloud KMS workload identity is not implemented).
    #[arg(long, default_value = "")]
    pub default_decryption_service_account: String,
    /// Percentage of jitter added to `interval`.
    #[arg(long, default_value_t = 5)]
    pub interval_jitter_percentage: u32,
    /// Kubernetes API requests per second (accepted; kube-rs does not rate-limit).
    #[arg(long, default_value_t = 50.0)]
    pub kube_api_qps: f32,
    /// Kubernetes API burst (accepted; kube-rs does not rate-limit).
    #[arg(long, default_value_t = 300)]
    pub kube_api_burst: u32,
    /// Feature gates, `Name=true,Other=false`: `DisableConfigWatchers` acts; Flux's other
    /// gates are accepted.
    #[arg(long, default_value = "")]
    pub feature_gates: String,
    /// ConfigMaps and Secrets whose changes reconcile the Kustomizations reading them.
    #[command(flatten)]
    pub watch_configs: WatchConfigsArgs,
    /// Largest number of downloaded artifacts kept on disk for reuse.
    #[arg(long, default_value_t = 16)]
    pub artifact_cache_size: usize,
}

/// Shared state of the reconciler.
struct Context {
    client: kube::Client,
    applier: Applier,
    events: EventRecorder,
    artifacts: artifact::ArtifactCache,
    args: KustomizeArgs,
    runtime_namespace: String,
    /// The clients Kustomizations apply with.
    access: ClusterAccess,
}

/// Flux's kustomize-controller feature gates (`--feature-gates`).
const FEATURE_GATES: &[&str] = &[
    "AdditiveCELDependencyCheck",
    "CacheSecretsAndConfigMaps",
    "CancelHealthCheckOnNewRevision",
    "DisableConfigWatchers",
    "DisableFailFastBehavior",
    "DisableStatusPollerCache",
    "ExternalArtifact",
    "GroupChangeLog",
    "StrictPostBuildSubstitutions",
];

/// The ConfigMaps and Secrets a Kustomization reads: `postBuild.substituteFrom`, the
/// decryption Secret and the kubeconfig.
fn config_refs(ks: &Kustomization) -> Vec<(ValuesKind, String)> {
    let mut refs: Vec<_> = ks
        .spec
        .post_build
        .iter()
        .flat_map(|p| p.substitute_from.iter())
        .map(|r| (r.kind, r.name.clone()))
        .collect();
    if let Some(r) = ks
        .spec
        .decryption
        .as_ref()
        .and_then(|d| d.secret_ref.as_ref())
    {
        refs.push((ValuesKind::Secret, r.name.clone()));
    }
    if let Some(k) = &ks.spec.kube_config {
        refs.extend(k.config_refs());
    }
    refs
}

/// Runs the kustomize controller until the process is stopped.
pub async fn run(args: KustomizeArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    let watch_configs = !feature_gate(
        &args.feature_gates,
        FEATURE_GATES,
        "DisableConfigWatchers",
        false,
    )
    .map_err(anyhow::Error::msg)?;
    let config = crate::runtime::client::config(args.common.kubeconfig.as_deref()).await?;
    let client = kube::Client::try_from(config.clone())
        .map_err(|e| anyhow::anyhow!("Kubernetes client: {e}"))?;
    let metrics = Metrics::default();
    let ready = Readiness::default();
    telemetry::serve_from_args(&args.common, &metrics, &ready).await?;
    let runtime_namespace =
        std::env::var("RUNTIME_NAMESPACE").unwrap_or_else(|_| "flux-system".into());
    let ctx = Arc::new(Context {
        events: EventRecorder::new(
            client.clone(),
            CONTROLLER_NAME,
            args.common.events_addr.clone(),
        ),
        client: client.clone(),
        applier: Applier::new(client.clone(), FIELD_MANAGER),
        access: ClusterAccess::new(client.clone(), config, args.access.clone()),
        artifacts: artifact::ArtifactCache::new(CONTROLLER_NAME, args.artifact_cache_size)?,
        runtime_namespace: runtime_namespace.clone(),
        args: args.clone(),
    });
    let opts = RunOptions::from_args(&args.common, args.interval_jitter_percentage)?;
    tracing::info!("starting kustomize-controller");
    let ns = opts.namespace.clone();
    let selector = if watch_configs {
        args.watch_configs.watch_configs_label_selector.clone()
    } else {
        String::new()
    };
    reconcile::run_with::<Kustomization, _>(
        client.clone(),
        Arc::new(KustomizeReconciler(ctx)),
        opts,
        metrics,
        ready,
        move |c| {
            let ns = ns.as_deref();
            let c = watch_source::<gitops_api::GitRepository>(
                c,
                client.clone(),
                ns,
                SourceKind::GitRepository,
            );
            let c = watch_source::<gitops_api::OCIRepository>(
                c,
                client.clone(),
                ns,
                SourceKind::OciRepository,
            );
            let c = watch_source::<gitops_api::Bucket>(c, client.clone(), ns, SourceKind::Bucket);
            let c = watch_source::<gitops_api::ExternalArtifact>(
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

/// Reconciles the Kustomizations using a source when its artifact revision changes. (Like
/// the runtime's `watch_sources`, but following cross-namespace `sourceRef`s.)
fn watch_source<S>(
    controller: Controller<Kustomization>,
    client: kube::Client,
    namespace: Option<&str>,
    kind: SourceKind,
) -> Controller<Kustomization>
where
    S: crate::runtime::reconcile::Watched + Source,
{
    // References may cross namespaces (unless --no-cross-namespace-refs, which the
    // reconcile enforces); a missing namespace is the Kustomization's own.
    crate::runtime::reconcile::watch_sources(
        controller,
        client,
        namespace,
        move |k: &Kustomization, s: &S| {
            let r = &k.spec.source_ref;
            r.kind == kind
                && r.name == s.name_any()
                && r.namespace.clone().or_else(|| k.namespace()) == s.namespace()
        },
    )
}

/// Reconciles the dependants of a Kustomization as soon as it becomes ready (Flux only
/// polls every `--requeue-dependency`; this keeps that as a fallback).
fn watch_dependencies(
    controller: Controller<Kustomization>,
    client: kube::Client,
    namespace: Option<&str>,
) -> Controller<Kustomization> {
    crate::runtime::reconcile::watch_related(
        controller,
        client,
        namespace,
        |dep: &Kustomization| {
            dep.status.as_ref().map(|s| {
                (
                    s.conditions.is_true(types::READY),
                    s.observed_generation,
                    s.last_applied_revision.clone(),
                )
            })
        },
        |k: &Kustomization, dep: &Kustomization| {
            let ready = dep
                .status
                .as_ref()
                .is_some_and(|s| s.conditions.is_true(types::READY));
            ready
                && k.spec.depends_on.iter().any(|d| {
                    d.name == dep.name_any()
                        && d.namespace.clone().or_else(|| k.namespace()) == dep.namespace()
                })
        },
    )
}

struct KustomizeReconciler(Arc<Context>);

impl Reconciler<Kustomization> for KustomizeReconciler {
    fn finalizer(&self) -> &str {
        FINALIZER
    }

    async fn reconcile(&self, obj: Arc<Kustomization>) -> ReconcileResult {
        let started = Instant::now();
        let api = Api::namespaced(self.0.client.clone(), &obj.namespace().unwrap_or_default());
        let mut run = Run {
            writer: Some(StatusWriter::new(api, obj.as_ref())),
            ..Run::default()
        };
        let result = reconcile(&self.0, &obj, &mut run).await;
        finish(&self.0, &obj, run, result, started).await
    }

    async fn finalize(&self, obj: Arc<Kustomization>) -> anyhow::Result<()> {
        finalize(&self.0, &obj).await
    }
}

/// What a reconcile found out, for the status.
#[derive(Default)]
struct Run {
    /// The source revision being applied.
    revision: Option<String>,
    /// Its origin revision (OCI artifacts built from Git).
    origin_revision: Option<String>,
    /// The new inventory, once applied.
    inventory: Option<Inventory>,
    /// The Healthy condition: `Some((status, reason, message))`; `None` removes it.
    healthy: Option<(bool, String, String)>,
    /// Whether a `Reconciling` condition was set for this run.
    progressing: Option<String>,
    /// Change-set lines of apply and prune.
    changes: Vec<String>,
    /// `sha256:<hex>` of the built objects, once built (the history key).
    checksum: Option<String>,
    /// The conditions as last written during this reconcile.
    conditions: Option<ConditionSet>,
    /// Writes the status (only what changed since it was read or last written).
    writer: Option<StatusWriter<Kustomization>>,
    /// The status as last written during this reconcile.
    status: Option<KustomizationStatus>,
}

impl Run {
    /// The status to build on: as last written in this reconcile, else as read.
    fn status_of(&mut self, k: &Kustomization) -> KustomizationStatus {
        self.status
            .take()
            .unwrap_or_else(|| k.status.clone().unwrap_or_default())
    }

    /// Writes an intermediate status (progress conditions); failures are only logged, the
    /// final write of the reconcile says how it ended.
    async fn write_progress(&mut self, status: KustomizationStatus) {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.write(&status).await
        {
            tracing::debug!(error = %e, "status update failed");
        }
        self.status = Some(status);
    }
}

/// A failed reconcile.
#[derive(Debug)]
struct Failure {
    reason: &'static str,
    message: String,
    /// When to try again; the retry interval when `None`.
    requeue: Option<Duration>,
    /// Whether this is worth a Warning event (dependency waits are not).
    warning: bool,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
            requeue: None,
            warning: true,
        }
    }
}

fn source_display(k: &Kustomization) -> (String, String, String) {
    let r = &k.spec.source_ref;
    let ns = r
        .namespace
        .clone()
        .unwrap_or_else(|| k.namespace().unwrap_or_default());
    (r.kind.as_str().to_owned(), ns, r.name.clone())
}

async fn get_artifact<S>(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> kube::Result<Option<Artifact>>
where
    S: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Source
        + Clone
        + std::fmt::Debug
        + DeserializeOwned,
{
    let api: Api<S> = Api::namespaced(client.clone(), ns);
    Ok(api.get(name).await?.artifact().cloned())
}

/// The source's artifact; `Err` with Flux's messages when it is missing.
async fn source_artifact(ctx: &Context, k: &Kustomization) -> Result<Artifact, Failure> {
    let (kind, ns, name) = source_display(k);
    let own_ns = k.namespace().unwrap_or_default();
    if ctx.args.no_cross_namespace_refs && ns != own_ns {
        return Err(Failure::new(
            "AccessDenied",
            format!(
                "cannot access {kind}/{ns}/{name}, cross-namespace references have been blocked"
            ),
        ));
    }
    let c = &ctx.client;
    let got = match k.spec.source_ref.kind {
        SourceKind::GitRepository => get_artifact::<gitops_api::GitRepository>(c, &ns, &name).await,
        SourceKind::OciRepository => get_artifact::<gitops_api::OCIRepository>(c, &ns, &name).await,
        SourceKind::Bucket => get_artifact::<gitops_api::Bucket>(c, &ns, &name).await,
        SourceKind::ExternalArtifact => {
            get_artifact::<gitops_api::ExternalArtifact>(c, &ns, &name).await
        }
        other => {
            return Err(Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("source kind '{}' is not supported", other.as_str()),
            ));
        }
    };
    let requeue = Some(ctx.args.requeue_dependency);
    match got {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(Failure {
            reason: reasons::ARTIFACT_FAILED,
            message: format!(
                "Source artifact not found, retrying in {}",
                format_go_duration(ctx.args.requeue_dependency)
            ),
            requeue,
            warning: false,
        }),
        Err(kube::Error::Api(e)) if e.code == 404 => Err(Failure {
            reason: reasons::ARTIFACT_FAILED,
            message: format!("Source '{kind}/{ns}/{name}' not found"),
            requeue,
            warning: true,
        }),
        Err(e) => Err(Failure {
            reason: reasons::ARTIFACT_FAILED,
            message: format!("failed to get source '{kind}/{ns}/{name}': {e}"),
            requeue: None,
            warning: true,
        }),
    }
}

/// Flux's dependency rule: each dependency is Ready at its current generation, and when it
/// uses the same source, has applied the same revision.
async fn check_dependencies(
    ctx: &Context,
    k: &Kustomization,
    revision: &str,
) -> Result<(), String> {
    let own_ns = k.namespace().unwrap_or_default();
    for d in &k.spec.depends_on {
        let ns = d.namespace.clone().unwrap_or_else(|| own_ns.clone());
        let api: Api<Kustomization> = Api::namespaced(ctx.client.clone(), &ns);
        let not_ready = || format!("dependency '{ns}/{}' is not ready", d.name);
        let dep = match api.get(&d.name).await {
            Ok(dep) => dep,
            Err(kube::Error::Api(e)) if e.code == 404 => {
                return Err(format!("dependency '{ns}/{}' not found", d.name));
            }
            Err(e) => return Err(format!("unable to get dependency '{ns}/{}': {e}", d.name)),
        };
        let Some(s) = &dep.status else {
            return Err(not_ready());
        };
        if s.conditions.is_empty() || dep.metadata.generation != s.observed_generation {
            return Err(not_ready());
        }
        if !s.conditions.is_true(types::READY) {
            return Err(not_ready());
        }
        let same_source = source_display(&dep) == source_display(k);
        if same_source && s.last_applied_revision.as_deref() != Some(revision) {
            return Err(not_ready());
        }
    }
    Ok(())
}

/// The applier: impersonating the ServiceAccount, and/or for a remote cluster. Appliers of
/// the controller's cluster share one discovery cache.
async fn applier_for(ctx: &Context, k: &Kustomization) -> Result<Applier, Failure> {
    let ns = k.namespace().unwrap_or_default();
    let target = ctx
        .access
        .target(
            &ns,
            k.spec.service_account_name.as_deref(),
            k.spec.kube_config.as_ref(),
        )
        .await
        .map_err(|m| Failure::new(reasons::RECONCILIATION_FAILED, m))?;
    Ok(match target {
        Target::Own => ctx.applier.clone(),
        // A remote cluster has its own kinds: its own discovery cache.
        Target::Client(c) if k.spec.kube_config.is_some() => Applier::new(c, FIELD_MANAGER),
        Target::Client(c) => ctx.applier.with_client(c),
    })
}

/// Post-build variables: `substituteFrom` in order, then `substitute` (which wins).
async fn load_variables(
    ctx: &Context,
    k: &Kustomization,
) -> Result<Option<BTreeMap<String, String>>, Failure> {
    let Some(pb) = &k.spec.post_build else {
        return Ok(None);
    };
    let ns = k.namespace().unwrap_or_default();
    post_build_variables(Some(&ctx.client), &ns, pb)
        .await
        .map(Some)
        .map_err(|m| Failure::new(reasons::BUILD_FAILED, m))
}

/// Post-build variables as Flux's `LoadVariables` reads them (what the controller
/// substitutes, `gitops build|diff kustomization` and `debug kustomization --show-vars`
/// use): the data of each `substituteFrom` ConfigMap and Secret in `namespace`, in order (a
/// missing optional one skipped; none read without a client, as `--dry-run` does), then
/// `substitute` over them; newlines are removed from every value. The error is Flux's
/// message.
pub async fn post_build_variables(
    client: Option<&kube::Client>,
    namespace: &str,
    pb: &gitops_api::kustomize::PostBuild,
) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for r in pb.substitute_from.iter().filter(|_| client.is_some()) {
        let Some(client) = client else { break };
        let kind = match r.kind {
            ValuesKind::ConfigMap => "ConfigMap",
            ValuesKind::Secret => "Secret",
        };
        let failed = |e: kube::Error| {
            let e = match e {
                kube::Error::Api(s) if !s.message.is_empty() => s.message,
                e => e.to_string(),
            };
            format!("substitute from '{kind}/{}' error: {e}", r.name)
        };
        let data: Vec<(String, String)> = match r.kind {
            ValuesKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
                match api.get(&r.name).await {
                    Ok(cm) => cm.data.unwrap_or_default().into_iter().collect(),
                    Err(kube::Error::Api(e)) if e.code == 404 && r.optional => continue,
                    Err(e) => return Err(failed(e)),
                }
            }
            ValuesKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
                match api.get(&r.name).await {
                    Ok(s) => s
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect(),
                    Err(kube::Error::Api(e)) if e.code == 404 && r.optional => continue,
                    Err(e) => return Err(failed(e)),
                }
            }
        };
        vars.extend(data.into_iter().map(|(k, v)| (k, v.replace('\n', ""))));
    }
    if let Some(s) = &pb.substitute {
        vars.extend(s.iter().map(|(k, v)| (k.clone(), v.replace('\n', ""))));
    }
    Ok(vars)
}

/// The age identities of `decryption.secretRef` (and `--sops-age-secret`).
async fn load_age_keys(ctx: &Context, k: &Kustomization) -> Result<Option<String>, Failure> {
    let Some(dec) = &k.spec.decryption else {
        return Ok(None);
    };
    let ns = k.namespace().unwrap_or_default();
    let mut refs = Vec::new();
    if let Some(s) = &dec.secret_ref {
        refs.push((ns.clone(), s.name.clone()));
    }
    if !ctx.args.sops_age_secret.is_empty() {
        refs.push((
            ctx.runtime_namespace.clone(),
            ctx.args.sops_age_secret.clone(),
        ));
    }
    let mut keys = String::new();
    for (ns, name) in refs {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        let secret = api.get(&name).await.map_err(|e| {
            Failure::new(
                reasons::BUILD_FAILED,
                format!("cannot get decryption Secret '{ns}/{name}': {e}"),
            )
        })?;
        for (key, v) in secret.data.unwrap_or_default() {
            if key.ends_with(".agekey") {
                keys.push_str(&String::from_utf8_lossy(&v.0));
                keys.push('\n');
            }
        }
    }
    Ok(Some(keys))
}

/// The lines of a change set worth reporting (created, configured, deleted).
fn change_lines(cs: &ChangeSet) -> Vec<String> {
    let t = cs.event_text();
    if t.is_empty() {
        Vec::new()
    } else {
        t.lines().map(str::to_owned).collect()
    }
}

fn owner_labels(k: &Kustomization) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            gitops_api::annotations::KUSTOMIZE_NAME_LABEL.to_owned(),
            k.name_any(),
        ),
        (
            gitops_api::annotations::KUSTOMIZE_NAMESPACE_LABEL.to_owned(),
            k.namespace().unwrap_or_default(),
        ),
    ])
}

fn old_inventory(k: &Kustomization) -> Option<Inventory> {
    let inv = k.status.as_ref()?.inventory.as_ref()?;
    serde_json::from_value(serde_json::to_value(inv).ok()?).ok()
}

/// The health-check targets named in `spec.healthChecks`.
fn health_check_refs(k: &Kustomization, applied: &[Value]) -> Vec<ObjectRef> {
    let own_ns = k.namespace().unwrap_or_default();
    k.spec
        .health_checks
        .iter()
        .filter_map(|h| {
            let ns = h.namespace.clone().unwrap_or_else(|| own_ns.clone());
            let api_version = h.api_version.clone().or_else(|| {
                applied
                    .iter()
                    .find(|o| {
                        o["kind"] == h.kind.as_str() && o["metadata"]["name"] == h.name.as_str()
                    })
                    .and_then(|o| o["apiVersion"].as_str().map(str::to_owned))
            })?;
            ObjectRef::from_object(&serde_json::json!({
                "apiVersion": api_version, "kind": h.kind,
                "metadata": {"name": h.name, "namespace": ns},
            }))
            .ok()
        })
        .collect()
}

/// `sha256:<hex>` of the objects to apply.
fn checksum(objects: &[Value]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for o in objects {
        h.update(serde_json::to_vec(o).unwrap_or_default());
        h.update(b"\n---\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Flux's `status.history`: reconciliations grouped by the checksum of the applied set,
/// the latest first, at most 5.
fn upsert_history(
    old: &[gitops_api::kustomize::Snapshot],
    digest: &str,
    duration: Duration,
    status: &str,
    revision: Option<&str>,
) -> Vec<gitops_api::kustomize::Snapshot> {
    const MAX: usize = 5;
    let now = crate::runtime::status::now();
    let mut h: Vec<_> = old.to_vec();
    let metadata = revision.map(|r| BTreeMap::from([("revision".to_owned(), r.to_owned())]));
    let duration = gitops_api::Duration::from(Duration::from_millis(duration.as_millis() as u64));
    let snap = match h.iter().position(|s| s.digest == digest) {
        Some(i) => {
            let mut s = h.remove(i);
            s.last_reconciled = now;
            s.last_reconciled_duration = duration;
            s.last_reconciled_status = status.to_owned();
            s.total_reconciliations += 1;
            if metadata.is_some() {
                s.metadata = metadata;
            }
            s
        }
        None => gitops_api::kustomize::Snapshot {
            digest: digest.to_owned(),
            first_reconciled: now.clone(),
            last_reconciled: now,
            last_reconciled_duration: duration,
            last_reconciled_status: status.to_owned(),
            metadata,
            total_reconciliations: 1,
        },
    };
    h.insert(0, snap);
    h.truncate(MAX);
    h
}

/// Writes the in-progress conditions when there is new work (a new generation, revision
/// or reconcile request): `Ready=Unknown` and `Reconciling=True`, as Flux does.
async fn mark_progressing(k: &Kustomization, revision: &str, run: &mut Run) {
    let old = k.status.as_ref();
    let last_applied = old.and_then(|s| s.last_applied_revision.as_deref());
    let observed = old.and_then(|s| s.observed_generation);
    let last_handled = old.and_then(|s| s.last_handled_reconcile_at.as_deref());
    let requested =
        gitops_api::annotations::pending_reconcile_request(k.meta(), last_handled).is_some();
    let ready_true = k
        .status
        .as_ref()
        .is_some_and(|s| s.conditions.is_true(types::READY));
    if last_applied == Some(revision)
        && observed == k.metadata.generation
        && !requested
        && ready_true
    {
        return;
    }
    let msg = format!(
        "Fetching manifests for revision {revision} with a timeout of {}",
        format_go_duration(k.spec.timeout())
    );
    let mut conds = ConditionSet::of(k.status.as_ref(), k.metadata.generation);
    // Ready is Unknown while in progress
    conds.conditions.set_condition(
        types::READY,
        gitops_api::ConditionStatus::Unknown,
        reasons::PROGRESSING,
        "Reconciliation in progress",
        k.metadata.generation,
        crate::runtime::status::now(),
    );
    conds.set(types::RECONCILING, true, reasons::PROGRESSING, &msg);
    run.progressing = Some(msg);
    let mut status = run.status_of(k);
    status.conditions = conds.conditions.clone();
    status.last_attempted_revision = Some(revision.to_owned());
    run.write_progress(status).await;
    run.conditions = Some(conds);
}

/// `Healthy=Unknown` while health checks run, as Flux writes it.
async fn mark_health_progressing(k: &Kustomization, revision: &str, run: &mut Run) {
    let mut conds = run
        .conditions
        .take()
        .unwrap_or_else(|| ConditionSet::of(k.status.as_ref(), k.metadata.generation));
    conds.conditions.set_condition(
        types::HEALTHY,
        gitops_api::ConditionStatus::Unknown,
        reasons::PROGRESSING,
        &format!(
            "Running health checks for revision {revision} with a timeout of {}",
            format_go_duration(k.spec.timeout())
        ),
        k.metadata.generation,
        crate::runtime::status::now(),
    );
    let mut status = run.status_of(k);
    status.conditions = conds.conditions.clone();
    run.write_progress(status).await;
    run.conditions = Some(conds);
}

async fn reconcile(ctx: &Context, k: &Kustomization, run: &mut Run) -> Result<(), Failure> {
    let artifact = source_artifact(ctx, k).await?;
    let revision = artifact.revision.clone();
    run.revision = Some(revision.clone());
    run.origin_revision = artifact
        .metadata
        .as_ref()
        .and_then(|m| m.get("org.opencontainers.image.revision").cloned());
    if let Err(msg) = check_dependencies(ctx, k, &revision).await {
        return Err(Failure {
            reason: reasons::DEPENDENCY_NOT_READY,
            message: msg,
            requeue: Some(ctx.args.requeue_dependency),
            warning: false,
        });
    }
    mark_progressing(k, &revision, run).await;
    // apply and health checks each have `timeout`; this guards the whole attempt
    let timeout = k.spec.timeout();
    let guard = timeout * 2 + Duration::from_secs(10);
    match tokio::time::timeout(guard, apply_revision(ctx, k, &artifact, run)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            reasons::RECONCILIATION_FAILED,
            format!(
                "reconciliation timed out after {}",
                format_go_duration(guard)
            ),
        )),
    }
}

async fn apply_revision(
    ctx: &Context,
    k: &Kustomization,
    artifact: &Artifact,
    run: &mut Run,
) -> Result<(), Failure> {
    let ns = k.namespace().unwrap_or_default();
    let name = k.name_any();
    // fields that end up in request paths, checked where the user wrote them
    if let Some(target) = &k.spec.target_namespace {
        gitops_api::meta::validate_dns1123_label("spec.targetNamespace", target)
            .map_err(|m| Failure::new(reasons::BUILD_FAILED, m))?;
    }
    // custom health checks compile before anything is applied
    let custom_checks = k
        .spec
        .health_check_exprs
        .iter()
        .map(|c| {
            gitops_apply::kstatus::CustomCheck::new(
                &c.api_version,
                c.kind.as_deref().unwrap_or_default(),
                &c.current,
                c.in_progress.as_deref(),
                c.failed.as_deref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| Failure::new(reasons::HEALTH_CHECK_FAILED, m))?;
    // everything the build needs from the cluster, before the build
    let vars = load_variables(ctx, k).await?;
    let age_keys = load_age_keys(ctx, k).await?;
    let tmp = tempfile::Builder::new()
        .prefix("kustomization-")
        .tempdir()
        .map_err(|e| Failure::new(reasons::ARTIFACT_FAILED, format!("tmp dir error: {e}")))?;
    let root: PathBuf = tmp.path().to_path_buf();
    ctx.artifacts
        .link_into(&artifact.url, &artifact.digest, &root)
        .await
        .map_err(|m| Failure::new(reasons::ARTIFACT_FAILED, m))?;
    let input = build::BuildInput {
        root,
        spec: k.spec.clone(),
        name: name.clone(),
        namespace: ns.clone(),
        vars,
        age_keys,
    };
    let objects = tokio::task::spawn_blocking(move || {
        let r = build::build(&input);
        drop(tmp);
        r
    })
    .await
    .map_err(|e| Failure::new(reasons::BUILD_FAILED, format!("build panicked: {e}")))?
    .map_err(|e| Failure::new(e.reason, e.message))?;
    run.checksum = Some(checksum(&objects));
    let ignored = build::ignored_paths(&k.spec.ignore, &objects)
        .map_err(|e| Failure::new(e.reason, e.message))?;

    // apply
    let applier = applier_for(ctx, k).await?;
    let mut objects = objects;
    if !ignored.is_empty() {
        applier
            .keep_live_fields(&mut objects, &ignored)
            .await
            .map_err(|e| Failure::new(reasons::RECONCILIATION_FAILED, e.to_string()))?;
    }
    let timeout = k.spec.timeout();
    let cs = applier
        .apply(
            objects.clone(),
            &ApplyOptions {
                force: k.spec.force,
                dry_run: false,
                wait_crds_timeout: timeout,
                concurrency: 4,
            },
        )
        .await
        .map_err(|e| Failure::new(reasons::RECONCILIATION_FAILED, e.to_string()))?;
    run.changes.extend(change_lines(&cs));
    let inventory = Inventory::from_change_set(&cs);
    run.inventory = Some(inventory.clone());

    // prune
    if k.spec.prune
        && let Some(old) = old_inventory(k)
    {
        let stale = old.stale(&inventory);
        if !stale.is_empty() {
            let pruned = applier
                .prune(
                    &stale,
                    &PruneOptions {
                        owner_labels: owner_labels(k),
                        wait: false,
                        timeout,
                    },
                )
                .await
                .map_err(|e| Failure::new(reasons::PRUNE_FAILED, e.to_string()))?;
            run.changes.extend(change_lines(&pruned));
        }
    }

    // health
    let targets = if k.spec.wait {
        inventory.refs().unwrap_or_default()
    } else {
        health_check_refs(k, &objects)
    };
    if !k.spec.wait && k.spec.health_checks.is_empty() {
        run.healthy = None;
        return Ok(());
    }
    mark_health_progressing(k, &artifact.revision, run).await;
    let started = Instant::now();
    match applier
        .wait(
            &targets,
            &WaitOptions {
                timeout,
                interval: Duration::from_secs(1),
                fail_fast: true,
                custom: custom_checks,
            },
        )
        .await
    {
        Ok(()) => {
            run.healthy = Some((
                true,
                reasons::SUCCEEDED.to_owned(),
                format!(
                    "Health check passed in {}",
                    format_go_duration(Duration::from_millis(started.elapsed().as_millis() as u64))
                ),
            ));
            Ok(())
        }
        Err(e) => {
            let msg = format!(
                "health check failed after {}: {e}",
                format_go_duration(Duration::from_millis(started.elapsed().as_millis() as u64))
            );
            run.healthy = Some((false, reasons::HEALTH_CHECK_FAILED.to_owned(), msg.clone()));
            Err(Failure::new(reasons::HEALTH_CHECK_FAILED, msg))
        }
    }
}

/// Writes the status, emits events, and schedules the next reconcile.
async fn finish(
    ctx: &Context,
    k: &Kustomization,
    run: Run,
    result: Result<(), Failure>,
    started: Instant,
) -> ReconcileResult {
    let ns = k.namespace().unwrap_or_default();
    let name = k.name_any();
    let generation = k.metadata.generation;
    let mut run = run;
    let mut conds = run
        .conditions
        .take()
        .unwrap_or_else(|| ConditionSet::of(k.status.as_ref(), generation));
    let old_applied = k
        .status
        .as_ref()
        .and_then(|s| s.last_applied_revision.clone());
    let mut status = run.status_of(k);
    let old_ready = k
        .status
        .as_ref()
        .and_then(|s| s.conditions.get_condition(types::READY).cloned());
    if let Some(rev) = &run.revision {
        status.last_attempted_revision = Some(rev.clone());
    }
    if let Some(inv) = &run.inventory {
        status.inventory = Some(gitops_api::meta::ResourceInventory {
            entries: inv
                .entries
                .iter()
                .map(|e| gitops_api::meta::ResourceRef {
                    id: e.id.clone(),
                    v: e.version.clone(),
                })
                .collect(),
        });
    }
    match &run.healthy {
        Some((ok, reason, msg)) => conds.set(types::HEALTHY, *ok, reason, msg),
        None => conds.remove(types::HEALTHY),
    }
    let oref = object_ref(k);
    let revision = run.revision.as_deref();
    let new_revision = old_applied.as_deref() != revision;
    let meta = || {
        EventMetadata::revision(revision)
            .with(
                gitops_api::event::META_ORIGIN_REVISION,
                run.origin_revision.as_deref().unwrap_or_default(),
            )
            .with_object_annotations(k.annotations())
    };
    if !run.changes.is_empty() {
        ctx.events
            .publish_with(
                &oref,
                EventType::Normal,
                reasons::PROGRESSING,
                &run.changes.join("\n"),
                meta(),
            )
            .await;
    }
    let outcome = match result {
        Ok(()) => {
            let rev = revision.unwrap_or_default();
            let msg = format!("Applied revision: {rev}");
            conds.mark_ready(reasons::RECONCILIATION_SUCCEEDED, &msg);
            status.last_applied_revision = Some(rev.to_owned());
            if let Some(o) = &run.origin_revision {
                status.last_applied_origin_revision = Some(o.clone());
            }
            tracing::info!(
                namespace = ns,
                name,
                revision = rev,
                changes = run.changes.len(),
                "{msg}"
            );
            let recovered = old_ready
                .as_ref()
                .is_some_and(|c| c.status == gitops_api::ConditionStatus::False);
            if new_revision || recovered || !run.changes.is_empty() {
                let next = format_go_duration(k.spec.interval.get());
                ctx.events
                    .publish_with(
                        &oref,
                        EventType::Normal,
                        reasons::RECONCILIATION_SUCCEEDED,
                        &format!(
                            "Reconciliation finished in {}, next run in {next}",
                            format_go_duration(Duration::from_millis(
                                started.elapsed().as_millis() as u64
                            ))
                        ),
                        meta().commit_status_update(),
                    )
                    .await;
            }
            Ok(Requeue::Interval)
        }
        Err(f) => {
            conds.set(types::READY, false, f.reason, &f.message);
            conds.remove(types::STALLED);
            // as Flux: the Reconciling condition of this attempt stays, its reason
            // turned to ProgressingWithRetry
            if let Some(msg) = &run.progressing {
                conds.set(
                    types::RECONCILING,
                    true,
                    reasons::PROGRESSING_WITH_RETRY,
                    msg,
                );
            } else if let Some(rc) = conds
                .conditions
                .iter_mut()
                .find(|c| c.type_ == types::RECONCILING)
            {
                rc.reason = reasons::PROGRESSING_WITH_RETRY.to_owned();
            }
            if f.warning {
                tracing::error!(namespace = ns, name, reason = f.reason, "{}", f.message);
            } else {
                tracing::info!(namespace = ns, name, reason = f.reason, "{}", f.message);
            }
            let repeated = old_ready
                .as_ref()
                .is_some_and(|c| c.message == f.message && c.reason == f.reason);
            if !repeated {
                let type_ = if f.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                };
                ctx.events
                    .publish_with(&oref, type_, f.reason, &f.message, meta())
                    .await;
            }
            // retried after `requeue` when the failure names one (dependencies, source
            // artifacts), else after spec.retryInterval (the runtime asks the object)
            let e = ReconcileError::retriable(f.reason, f.message);
            Err(match f.requeue {
                Some(d) => e.retry_after(d),
                None => e,
            })
        }
    };
    if let Some(sum) = &run.checksum {
        let ready_reason = conds
            .conditions
            .get_condition(types::READY)
            .map(|c| c.reason.clone())
            .unwrap_or_default();
        let old_history = k
            .status
            .as_ref()
            .map(|s| s.history.as_slice())
            .unwrap_or_default();
        let history = upsert_history(
            old_history,
            sum,
            started.elapsed(),
            &ready_reason,
            run.revision.as_deref(),
        );
        status.history = history;
    }
    status.conditions = conds.conditions;
    record_reconcile(k, &mut status, outcome.is_ok());
    let writer = match run.writer.as_mut() {
        Some(w) => w,
        None => {
            return Err(ReconcileError::retriable(
                "StatusUpdateFailed",
                "no status writer",
            ));
        }
    };
    if let Err(e) = writer.write(&status).await {
        tracing::warn!(namespace = ns, name, error = %e, "status update failed");
        return Err(ReconcileError::retriable(
            "StatusUpdateFailed",
            e.to_string(),
        ));
    }
    outcome
}

/// Garbage collection on deletion, following `deletionPolicy`.
async fn finalize(ctx: &Context, k: &Kustomization) -> anyhow::Result<()> {
    let ns = k.namespace().unwrap_or_default();
    let name = k.name_any();
    if k.spec.suspend {
        tracing::info!(namespace = ns, name, "suspended: objects are left in place");
        return Ok(());
    }
    let policy = k.spec.deletion_policy.unwrap_or_default();
    let delete = match policy {
        DeletionPolicy::MirrorPrune => k.spec.prune,
        DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
        DeletionPolicy::Orphan => false,
    };
    let Some(inv) = old_inventory(k) else {
        return Ok(());
    };
    if !delete || inv.entries.is_empty() {
        return Ok(());
    }
    let applier = match applier_for(ctx, k).await {
        Ok(a) => a,
        Err(f) => {
            // Flux skips garbage collection when it cannot reach the cluster any more
            tracing::warn!(
                namespace = ns,
                name,
                "skipping garbage collection: {}",
                f.message
            );
            return Ok(());
        }
    };
    let cs = applier
        .prune(
            &inv.refs().unwrap_or_default(),
            &PruneOptions {
                owner_labels: owner_labels(k),
                wait: policy == DeletionPolicy::WaitForTermination,
                timeout: k.spec.timeout(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("garbage collection failed: {e}"))?;
    let lines = change_lines(&cs);
    if !lines.is_empty() {
        let revision = k
            .status
            .as_ref()
            .and_then(|s| s.last_applied_revision.clone());
        ctx.events
            .publish(
                &object_ref(k),
                EventType::Normal,
                "Progressing",
                &lines.join("\n"),
                revision.as_deref(),
            )
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn history_groups_by_digest_latest_first() {
        let h = upsert_history(
            &[],
            "sha256:a",
            Duration::from_millis(1500),
            "ReconciliationSucceeded",
            Some("main@sha1:1"),
        );
        let h = upsert_history(
            &h,
            "sha256:b",
            Duration::from_secs(1),
            "HealthCheckFailed",
            Some("main@sha1:2"),
        );
        let h = upsert_history(
            &h,
            "sha256:a",
            Duration::from_secs(2),
            "ReconciliationSucceeded",
            Some("main@sha1:3"),
        );
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].digest, "sha256:a");
        assert_eq!(h[0].total_reconciliations, 2);
        assert_eq!(h[0].last_reconciled_duration.as_str(), "2s");
        assert_eq!(h[0].metadata.as_ref().unwrap()["revision"], "main@sha1:3");
        assert_eq!(h[1].last_reconciled_status, "HealthCheckFailed");
        let mut h = h;
        for i in 0..10 {
            h = upsert_history(&h, &format!("sha256:{i}"), Duration::ZERO, "x", None);
        }
        assert_eq!(h.len(), 5);
        assert_eq!(h[0].digest, "sha256:9");
    }

    #[test]
    fn flags_parse_with_flux_defaults() {
        let a = KustomizeArgs::parse_from(["kustomize-controller"]);
        assert_eq!(a.common.concurrent, 4);
        assert_eq!(a.requeue_dependency, Duration::from_secs(30));
        assert!(!a.no_cross_namespace_refs);
        let a = KustomizeArgs::parse_from([
            "kustomize-controller",
            "--concurrent=10",
            "--requeue-dependency=5s",
            "--no-cross-namespace-refs=true",
            "--default-service-account=flux",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
        ]);
        assert_eq!(a.common.concurrent, 10);
        assert_eq!(a.requeue_dependency, Duration::from_secs(5));
        assert!(a.no_cross_namespace_refs);
        assert_eq!(a.access.default_service_account, "flux");
    }
}
