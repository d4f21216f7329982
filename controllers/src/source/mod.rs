//! The source controller: reconciles GitRepository, OCIRepository, HelmRepository,
//! HelmChart and Bucket objects into artifacts in its storage, served over HTTP, and
//! published in each object's `status.artifact` exactly as Flux's source-controller does.
//! (ExternalArtifact objects are written by their producers; consumers read them like any
//! source, so there is nothing to reconcile here.)
//!
//! Start it with [`run`] (what `gitops controller source-controller` does).

mod bucket;
mod git;
mod helm;
mod oci;

use crate::runtime::args::{ControllerArgs, bind_addr};
use crate::runtime::events::{EventMetadata, EventRecorder, EventType};
use crate::runtime::object::{FluxStatus, HasStatus, SourceStatus, object_ref};
use crate::runtime::reconcile::{
    self, Reconcilable, ReconcileError, ReconcileResult, Requeue, RunOptions,
};
use crate::runtime::status::{ConditionSet, record_reconcile, write_status};
use crate::runtime::telemetry::{self, Metrics, Readiness};
use gitops_api::Artifact;
use gitops_api::condition::{Conditions, reasons, types};
use gitops_source::{ObjectKey, Storage};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The finalizer Flux's controllers put on their objects.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
/// The controller's name in events and field managers.
pub const CONTROLLER_NAME: &str = "source-controller";

/// Flags of `gitops controller source-controller`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "source-controller")]
pub struct SourceArgs {
    /// Flags shared by all controllers.
    #[command(flatten)]
    pub common: ControllerArgs,
    /// Directory of the artifact storage.
    #[arg(long, default_value = "/data")]
    pub storage_path: PathBuf,
    /// Address the artifact file server listens on.
    #[arg(long, default_value = ":9090")]
    pub storage_addr: String,
    /// Address advertised in artifact URLs (`host:port`); the listen address when empty.
    #[arg(long, default_value = "")]
    pub storage_adv_addr: String,
    /// Artifacts kept per object by garbage collection.
    #[arg(long, default_value_t = 2)]
    pub artifact_retention_records: usize,
    /// Largest artifact (and OCI layer, bucket object) in bytes.
    #[arg(long, default_value_t = 512 << 20)]
    pub max_artifact_size: u64,
    /// The max allowed size in bytes of a Helm repository index file.
    #[arg(long, default_value_t = 50 << 20)]
    pub helm_index_max_size: u64,
    /// The max allowed size in bytes of a Helm chart file.
    #[arg(long, default_value_t = 10 << 20)]
    pub helm_chart_max_size: u64,
    /// The max allowed size in bytes of a file in a Helm chart.
    #[arg(long, default_value_t = 5 << 20)]
    pub helm_chart_file_max_size: u64,
}

/// Size limits of Helm repository indexes and charts (Flux's `--helm-*-max-size` flags).
#[derive(Debug, Clone, Copy)]
pub struct HelmLimits {
    /// Largest repository index in bytes.
    pub index: u64,
    /// Largest chart archive in bytes.
    pub chart: u64,
    /// Largest file in a chart in bytes.
    pub chart_file: u64,
}

/// Shared state of the reconcilers.
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// The artifact storage.
    pub storage: Storage,
    /// Event recorder.
    pub events: EventRecorder,
    /// Files kept per object.
    pub retention: usize,
    /// Size limit of artifacts and downloads.
    pub max_size: u64,
    /// Size limits of Helm indexes and charts.
    pub helm: HelmLimits,
    /// Registry clients (plain HTTP and HTTPS).
    pub registries: (gitops_source::oci::Registry, gitops_source::oci::Registry),
    /// Parsed Helm repository indexes by artifact digest.
    pub index_cache: IndexCache,
}

/// Parsed Helm repository indexes, by the digest of the stored index, so that HelmCharts
/// of one repository do not parse a large index again and again. Keeps the latest few.
#[derive(Default)]
pub struct IndexCache {
    entries: tokio::sync::Mutex<Vec<(String, Arc<gitops_source::helm::Index>)>>,
}

impl IndexCache {
    const KEEP: usize = 8;

    /// The index stored at `path` with `digest`, parsed once.
    pub async fn get_or_load(
        &self,
        digest: &str,
        path: &std::path::Path,
        origin: &str,
    ) -> Result<Arc<gitops_source::helm::Index>, gitops_source::helm::HelmError> {
        let mut entries = self.entries.lock().await;
        if let Some(pos) = entries.iter().position(|(d, _)| d == digest) {
            let hit = entries.remove(pos);
            let idx = hit.1.clone();
            entries.push(hit);
            return Ok(idx);
        }
        let (path, origin) = (path.to_owned(), origin.to_owned());
        let idx = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&path).map_err(|e| gitops_source::helm::HelmError::Io {
                path: path.display().to_string(),
                source: e,
            })?;
            gitops_source::helm::Index::parse(std::io::BufReader::new(f), &origin)
        })
        .await
        .map_err(|e| gitops_source::helm::HelmError::Io {
            path: String::new(),
            source: std::io::Error::other(e.to_string()),
        })??;
        let idx = Arc::new(idx);
        entries.push((digest.to_owned(), idx.clone()));
        if entries.len() > Self::KEEP {
            entries.remove(0);
        }
        Ok(idx)
    }
}

impl Context {
    fn registry(&self, insecure: bool) -> &gitops_source::oci::Registry {
        if insecure {
            &self.registries.0
        } else {
            &self.registries.1
        }
    }
}

/// Opens the artifact storage at `path` and serves it over HTTP on `addr`
/// (`--storage-addr`), its URLs advertised at `adv` (`--storage-adv-addr`; the listen
/// address when empty): the storage of the source-controller and the source-watcher.
pub(crate) async fn serve_storage(
    path: &std::path::Path,
    addr: &str,
    adv: &str,
) -> anyhow::Result<Storage> {
    let listen =
        bind_addr(addr).ok_or_else(|| anyhow::anyhow!("invalid --storage-addr {addr:?}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("artifact server on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let adv = if adv.is_empty() {
        local.to_string()
    } else {
        adv.to_owned()
    };
    let storage = Storage::new(path, &adv)?;
    tracing::info!(path = %path.display(), addr = %local, advertised = adv, "artifact server listening");
    tokio::spawn(gitops_source::server::serve(
        path.to_owned(),
        listener,
        std::future::pending(),
    ));
    Ok(storage)
}

/// Runs the source controller until the process is stopped.
pub async fn run(args: SourceArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    let client = crate::runtime::client::client(args.common.kubeconfig.as_deref()).await?;
    let storage = serve_storage(
        &args.storage_path,
        &args.storage_addr,
        &args.storage_adv_addr,
    )
    .await?;
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
        storage,
        retention: args.artifact_retention_records.max(1),
        max_size: args.max_artifact_size,
        helm: HelmLimits {
            index: args.helm_index_max_size,
            chart: args.helm_chart_max_size,
            chart_file: args.helm_chart_file_max_size,
        },
        registries: (
            gitops_source::oci::Registry::new(true),
            gitops_source::oci::Registry::new(false),
        ),
        index_cache: IndexCache::default(),
    });
    let opts = RunOptions::from_args(&args.common, 5)?;
    tracing::info!("starting source-controller");
    tokio::join!(
        reconcile::run_with::<gitops_api::GitRepository, _>(
            client.clone(),
            Arc::new(git::GitReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone(),
            |c| reconcile::watch_sources(
                c,
                client.clone(),
                opts.namespace.as_deref(),
                |g: &gitops_api::GitRepository, s: &gitops_api::GitRepository| g.namespace()
                    == s.namespace()
                    && g.spec
                        .include
                        .iter()
                        .any(|i| i.repository.name == s.name_any())
            )
        ),
        reconcile::run::<gitops_api::OCIRepository, _>(
            client.clone(),
            Arc::new(oci::OciReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone()
        ),
        reconcile::run::<gitops_api::HelmRepository, _>(
            client.clone(),
            Arc::new(helm::HelmRepositoryReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone()
        ),
        reconcile::run_with::<gitops_api::HelmChart, _>(
            client.clone(),
            Arc::new(helm::HelmChartReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone(),
            |c| {
                let ns = opts.namespace.as_deref();
                let c = reconcile::watch_sources(
                    c,
                    client.clone(),
                    ns,
                    |h: &gitops_api::HelmChart, s: &gitops_api::HelmRepository| {
                        h.namespace() == s.namespace()
                            && h.spec.source_ref.kind
                                == gitops_api::meta::SourceKind::HelmRepository
                            && h.spec.source_ref.name == s.name_any()
                    },
                );
                let c = reconcile::watch_sources(
                    c,
                    client.clone(),
                    ns,
                    |h: &gitops_api::HelmChart, s: &gitops_api::GitRepository| {
                        h.namespace() == s.namespace()
                            && h.spec.source_ref.kind == gitops_api::meta::SourceKind::GitRepository
                            && h.spec.source_ref.name == s.name_any()
                    },
                );
                reconcile::watch_sources(
                    c,
                    client.clone(),
                    ns,
                    |h: &gitops_api::HelmChart, s: &gitops_api::Bucket| {
                        h.namespace() == s.namespace()
                            && h.spec.source_ref.kind == gitops_api::meta::SourceKind::Bucket
                            && h.spec.source_ref.name == s.name_any()
                    },
                )
            }
        ),
        reconcile::run::<gitops_api::Bucket, _>(
            client.clone(),
            Arc::new(bucket::BucketReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone()
        ),
    );
    Ok(())
}

/// Status fields a reconcile observed (`observedIgnore`, …), set on the typed status when
/// the reconcile succeeds.
pub(crate) struct Observed<S>(Vec<Change<S>>);

/// One change to a status.
type Change<S> = Box<dyn FnOnce(&mut S) + Send>;

impl<S> Default for Observed<S> {
    fn default() -> Self {
        Observed(Vec::new())
    }
}

impl<S> Observed<S> {
    /// Adds a change to make.
    pub fn set(&mut self, f: impl FnOnce(&mut S) + Send + 'static) {
        self.0.push(Box::new(f));
    }

    fn apply(self, status: &mut S) {
        for f in self.0 {
            f(status);
        }
    }
}

/// A reconcile that produced (or kept) an artifact.
pub(crate) struct Success<S> {
    pub artifact: Artifact,
    /// Whether the artifact is new (an event is emitted).
    pub new: bool,
    /// The message of the `NewArtifact` event.
    pub event_message: String,
    /// `Ready`'s message.
    pub ready_message: String,
    /// Further status fields (`observedIgnore`, …).
    pub extra: Observed<S>,
}

/// A failed reconcile.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The condition that records the failure (`FetchFailed`, `BuildFailed`, …).
    pub condition: Option<&'static str>,
    /// Flux's reason.
    pub reason: &'static str,
    /// What failed and where.
    pub message: String,
    /// Needs a change to the object to pass.
    pub stalled: bool,
}

impl From<Failure> for ReconcileError {
    fn from(f: Failure) -> Self {
        let e = if f.stalled {
            ReconcileError::terminal(f.reason, f.message)
        } else {
            ReconcileError::retriable(f.reason, f.message)
        };
        match f.condition {
            Some(c) => e.in_condition(c),
            None => e,
        }
    }
}

impl Failure {
    pub fn fetch(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            condition: Some(types::FETCH_FAILED),
            reason,
            message: message.into(),
            stalled: false,
        }
    }
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            condition: Some(types::FETCH_FAILED),
            reason,
            message: message.into(),
            stalled: true,
        }
    }
    pub fn storage(message: impl Into<String>) -> Self {
        Failure {
            condition: Some(types::STORAGE_OPERATION_FAILED),
            reason: "ArchiveOperationFailed",
            message: message.into(),
            stalled: false,
        }
    }
    pub fn build(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            condition: Some(types::BUILD_FAILED),
            reason,
            message: message.into(),
            stalled: false,
        }
    }
}

/// A setting this controller does not implement: the object stalls with a message that
/// names it, rather than being reconciled as if the setting were absent.
pub(crate) fn unsupported(field: &str, what: &str) -> Failure {
    Failure {
        condition: None,
        reason: reasons::VERIFICATION_ERROR,
        message: format!("{field} is not supported by this source-controller: {what}"),
        stalled: true,
    }
}

/// The object's storage key.
pub(crate) fn key_of<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectKey {
    ObjectKey::new(
        &K::kind(&()),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    )
}

/// The stored artifact of the object's status, if its file is still in storage.
pub(crate) fn current_artifact<K>(ctx: &Context, obj: &K) -> Option<Artifact>
where
    K: HasStatus,
    K::Status: SourceStatus,
{
    let a = obj.status()?.artifact()?;
    ctx.storage.exists(&a.path).then(|| a.clone())
}

/// Reads a Secret's data in the object's namespace.
pub(crate) async fn secret_data(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    crate::runtime::object::secret_data(&ctx.client, namespace, name)
        .await
        .map_err(|m| Failure::fetch(reasons::AUTHENTICATION_FAILED, m))
}

/// Writes the status for a reconcile result (through the runtime's status writer, which
/// writes only what changed), emits events, garbage-collects old artifacts, and returns the
/// typed result that tells the runtime when to come back.
pub(crate) async fn finish<K>(
    ctx: &Context,
    obj: &K,
    result: Result<Success<K::Status>, Failure>,
) -> ReconcileResult
where
    K: Reconcilable + HasStatus,
    K::Status: SourceStatus,
{
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let generation = obj.meta().generation;
    let mut status = obj.status().cloned().unwrap_or_default();
    let mut conds = ConditionSet::of(obj.status(), generation);
    let old_ready_msg = conds
        .conditions
        .get_condition(types::READY)
        .map(|c| c.message.clone());
    let oref = object_ref(obj);
    let outcome: ReconcileResult = match result {
        Ok(s) => {
            conds.set(
                types::ARTIFACT_IN_STORAGE,
                true,
                reasons::SUCCEEDED,
                &s.ready_message,
            );
            for t in [
                types::FETCH_FAILED,
                types::BUILD_FAILED,
                types::STORAGE_OPERATION_FAILED,
                types::ARTIFACT_OUTDATED,
            ] {
                conds.remove(t);
            }
            conds.mark_ready(reasons::SUCCEEDED, &s.ready_message);
            status.set_artifact(s.artifact.clone());
            s.extra.apply(&mut status);
            if s.new {
                tracing::info!(kind = %K::kind(&()), namespace = ns, name, revision = s.artifact.revision, "{}", s.event_message);
                let meta = EventMetadata::revision(Some(&s.artifact.revision))
                    .with(gitops_api::event::META_DIGEST, &s.artifact.digest)
                    .with_object_annotations(obj.annotations());
                ctx.events
                    .publish_with(
                        &oref,
                        EventType::Normal,
                        "NewArtifact",
                        &s.event_message,
                        meta,
                    )
                    .await;
                let file = s
                    .artifact
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if let Err(e) = ctx.storage.gc(&key_of(obj), ctx.retention, Some(&file)) {
                    tracing::warn!(namespace = ns, name, error = %e, "garbage collection failed");
                }
            }
            Ok(Requeue::Interval)
        }
        Err(f) => {
            conds.mark_failure(f.condition, f.reason, &f.message, f.stalled);
            // The previous artifact stays: its file is still served and the status keeps
            // it (and its ArtifactInStorage condition) untouched.
            tracing::error!(kind = %K::kind(&()), namespace = ns, name, reason = f.reason, "{}", f.message);
            if old_ready_msg.as_deref() != Some(f.message.as_str()) {
                let meta = EventMetadata::default().with_object_annotations(obj.annotations());
                ctx.events
                    .publish_with(&oref, EventType::Warning, f.reason, &f.message, meta)
                    .await;
            }
            Err(f.into())
        }
    };
    let final_for_generation = match &outcome {
        Ok(_) => true,
        Err(e) => e.is_terminal(),
    };
    *status.conditions_mut() = conds.conditions;
    record_reconcile(obj, &mut status, final_for_generation);
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    if let Err(e) = write_status(&api, obj, &status).await {
        tracing::warn!(namespace = ns, name, error = %e, "status update failed");
        return Err(ReconcileError::retriable(
            "StatusUpdateFailed",
            e.to_string(),
        ));
    }
    outcome
}

/// Removes the object's stored artifacts (finalizer).
pub(crate) fn remove_artifacts<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
) -> anyhow::Result<()> {
    ctx.storage
        .remove_all(&key_of(obj))
        .map_err(|e| anyhow::anyhow!("removing artifacts: {e}"))
}
