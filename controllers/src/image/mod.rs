//! The image controllers, as Flux's:
//!
//! - **image-reflector-controller** ([`run_reflector`]): `ImageRepository` scans a
//!   registry repository's tags on its interval into the tag database (redb, under
//!   `--storage-path`, so tags survive restarts); `ImagePolicy` picks the latest tag of a
//!   repository by its policy (and reflects its digest when asked), again whenever the
//!   repository's tags change.
//! - **image-automation-controller** ([`run_automation`]): `ImageUpdateAutomation` clones
//!   its GitRepository, rewrites the setter-marked fields under `spec.update.path` with the
//!   latest images of the selected policies, commits (optionally signed) and pushes, never
//!   forcing: when the branch moved meanwhile, the update is redone on the new tip.
//!
//! Both use `gitops-image-updater` for the work (registry, policies, setters, messages) and
//! `gitops-source` for Git; no `git` binary is involved.

mod automation;
mod policy;
mod repository;

use crate::runtime::args::{ControllerArgs, feature_gate, parse_duration};
use crate::runtime::events::{EventMetadata, EventRecorder, EventType};
use crate::runtime::object::{FluxStatus, HasStatus, object_ref};
use crate::runtime::reconcile::{
    self, Reconcilable, ReconcileError, ReconcileResult, Requeue, RunOptions,
};
use crate::runtime::status::{ConditionSet, record_reconcile, write_status};
use crate::runtime::telemetry::{self, Metrics, Readiness};
use gitops_api::condition::{ConditionStatus, Conditions, reasons, types};
use gitops_api::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
use kube::ResourceExt;
use kube::api::Api;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The finalizer Flux's image controllers put on their objects.
pub const FINALIZER: &str = "finalizers.fluxcd.io";
/// The reflector's name in events and logs.
pub const REFLECTOR_NAME: &str = "image-reflector-controller";
/// The automation controller's name in events and logs.
pub const AUTOMATION_NAME: &str = "image-automation-controller";

/// Feature gates Flux's image-reflector-controller knows (accepted, no effect here).
const REFLECTOR_GATES: &[&str] = &[
    "CacheSecretsAndConfigMaps",
    "FluxStorage",
    "ObjectLevelWorkloadIdentity",
];
/// Feature gates Flux's image-automation-controller knows. `GitForcePushBranch` is
/// refused when on: this controller never force-pushes (a push branch that exists is
/// updated on top of its tip instead).
const AUTOMATION_GATES: &[&str] = &[
    "GitForcePushBranch",
    "GitShallowClone",
    "GitAllBranchReferences",
    "GitSparseCheckout",
    "CacheSecretsAndConfigMaps",
    "ObjectLevelWorkloadIdentity",
];

/// Flags of `gitops controller image-reflector-controller`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "image-reflector-controller")]
#[command(mut_arg("concurrent", |a| a.default_value("4")))]
pub struct ReflectorArgs {
    /// Flags shared by all controllers.
    #[command(flatten)]
    pub common: ControllerArgs,
    /// Directory of the tag database.
    #[arg(long, default_value = "/data")]
    pub storage_path: PathBuf,
    /// How long an ImagePolicy waits for its repository's first scan before looking again.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub requeue_dependency: Duration,
    /// Refuse ImagePolicies referring to ImageRepositories in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
    /// Flux's Badger value log size; accepted for compatibility (the tag database is redb).
    #[arg(long, default_value_t = 1 << 28)]
    pub storage_value_log_file_size: i64,
    /// Flux's Badger garbage collection interval in minutes; accepted for compatibility.
    #[arg(long, default_value_t = 10)]
    pub gc_interval: u16,
    /// Feature gates, `Name=true,Other=false` (Flux's gates are accepted).
    #[arg(long, default_value = "")]
    pub feature_gates: String,
}

/// Flags of `gitops controller image-automation-controller`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "image-automation-controller")]
#[command(mut_arg("concurrent", |a| a.default_value("4")))]
pub struct AutomationArgs {
    /// Flags shared by all controllers.
    #[command(flatten)]
    pub common: ControllerArgs,
    /// Refuse ImageUpdateAutomations referring to GitRepositories in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
    /// Feature gates, `Name=true,Other=false` (Flux's gates are accepted;
    /// `GitForcePushBranch=true` is refused: pushes never force).
    #[arg(long, default_value = "")]
    pub feature_gates: String,
}

/// Runs the image-reflector-controller until the process is stopped.
pub async fn run_reflector(args: ReflectorArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    feature_gate(&args.feature_gates, REFLECTOR_GATES, "", false).map_err(anyhow::Error::msg)?;
    let client = crate::runtime::client::client(args.common.kubeconfig.as_deref()).await?;
    let db_path = args.storage_path.join("tags.redb");
    let store =
        tokio::task::spawn_blocking(move || gitops_image_updater::store::TagStore::open(&db_path))
            .await??;
    let metrics = Metrics::default();
    let ready = Readiness::default();
    telemetry::serve_from_args(&args.common, &metrics, &ready).await?;
    let ctx = Arc::new(repository::ReflectorContext {
        events: EventRecorder::new(
            client.clone(),
            REFLECTOR_NAME,
            args.common.events_addr.clone(),
        ),
        client: client.clone(),
        store: Arc::new(store),
        registry: gitops_image_updater::registry::RegistryClient::default(),
        requeue_dependency: args.requeue_dependency,
        no_cross_namespace_refs: args.no_cross_namespace_refs,
    });
    let opts = RunOptions::from_args(&args.common, 5)?;
    tracing::info!(path = %args.storage_path.display(), "starting image-reflector-controller");
    let ns = opts.namespace.clone();
    tokio::join!(
        reconcile::run::<ImageRepository, _>(
            client.clone(),
            Arc::new(repository::RepositoryReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone(),
        ),
        reconcile::run_with::<ImagePolicy, _>(
            client.clone(),
            Arc::new(policy::PolicyReconciler(ctx.clone())),
            opts.clone(),
            metrics.clone(),
            ready.clone(),
            |c| reconcile::watch_related(
                c,
                client.clone(),
                ns.as_deref(),
                |r: &ImageRepository| r
                    .status
                    .as_ref()
                    .and_then(|s| s.last_scan_result.as_ref())
                    .and_then(|s| s.revision.clone()),
                |p: &ImagePolicy, r: &ImageRepository| policy::repository_key(p)
                    == (r.namespace().unwrap_or_default(), r.name_any()),
            ),
        ),
    );
    Ok(())
}

/// Runs the image-automation-controller until the process is stopped.
pub async fn run_automation(args: AutomationArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    if feature_gate(
        &args.feature_gates,
        AUTOMATION_GATES,
        "GitForcePushBranch",
        false,
    )
    .map_err(anyhow::Error::msg)?
    {
        anyhow::bail!(
            "--feature-gates: GitForcePushBranch=true is not supported: this controller never force-pushes"
        );
    }
    let client = crate::runtime::client::client(args.common.kubeconfig.as_deref()).await?;
    let metrics = Metrics::default();
    let ready = Readiness::default();
    telemetry::serve_from_args(&args.common, &metrics, &ready).await?;
    let ctx = Arc::new(automation::AutomationContext {
        events: EventRecorder::new(
            client.clone(),
            AUTOMATION_NAME,
            args.common.events_addr.clone(),
        ),
        client: client.clone(),
        no_cross_namespace_refs: args.no_cross_namespace_refs,
    });
    let opts = RunOptions::from_args(&args.common, 5)?;
    tracing::info!("starting image-automation-controller");
    let ns = opts.namespace.clone();
    reconcile::run_with::<ImageUpdateAutomation, _>(
        client.clone(),
        Arc::new(automation::AutomationReconciler(ctx)),
        opts,
        metrics,
        ready,
        move |c| {
            // A policy's new latest image, or a change to the GitRepository's settings.
            let c = reconcile::watch_related(
                c,
                client.clone(),
                ns.as_deref(),
                |p: &ImagePolicy| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.latest_ref.clone())
                        .map(|r| (r.name, r.tag, r.digest))
                },
                |a: &ImageUpdateAutomation, p: &ImagePolicy| a.namespace() == p.namespace(),
            );
            reconcile::watch_related(
                c,
                client.clone(),
                ns.as_deref(),
                |g: &gitops_api::GitRepository| g.metadata.generation,
                |a: &ImageUpdateAutomation, g: &gitops_api::GitRepository| {
                    automation::source_key(a) == (g.namespace().unwrap_or_default(), g.name_any())
                },
            )
        },
    )
    .await;
    Ok(())
}

/// A successful reconcile of an image kind.
pub(crate) struct Done {
    /// `Ready`'s message.
    ready_message: String,
    /// A Normal event to emit whatever the previous state (a push), else the ready message
    /// is announced when it changes or the object becomes ready.
    event: Option<String>,
    /// When to come back.
    requeue: Requeue,
}

impl Done {
    fn ready(message: impl Into<String>) -> Self {
        Done {
            ready_message: message.into(),
            event: None,
            requeue: Requeue::Interval,
        }
    }
}

/// Writes the status of an image kind for a reconcile's outcome — Flux's summary
/// conditions, `observedGeneration` and `lastHandledReconcileAt` — and emits Flux's
/// events: Normal when the object becomes ready, when its ready message changes or for
/// an explicit event (a push); Warning when a failure is new.
pub(crate) async fn finish<K>(
    client: &kube::Client,
    events: &EventRecorder,
    obj: &K,
    mut status: K::Status,
    result: Result<Done, ReconcileError>,
) -> ReconcileResult
where
    K: Reconcilable + HasStatus,
{
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let kind = K::kind(&()).to_string();
    let mut conds = ConditionSet::of(obj.status(), obj.meta().generation);
    let old_ready = conds.conditions.get_condition(types::READY).cloned();
    let was_ready = old_ready
        .as_ref()
        .is_some_and(|c| c.status == ConditionStatus::True);
    let oref = object_ref(obj);
    let meta = || EventMetadata::default().with_object_annotations(obj.annotations());
    let outcome = match result {
        Ok(done) => {
            conds.mark_ready(reasons::SUCCEEDED, &done.ready_message);
            let changed = old_ready
                .as_ref()
                .is_none_or(|c| c.message != done.ready_message);
            let message = match done.event {
                Some(e) => Some(e),
                None if !was_ready || changed => Some(done.ready_message.clone()),
                None => None,
            };
            match message {
                Some(m) => {
                    tracing::info!(kind, namespace = ns, name, "{m}");
                    events
                        .publish_with(&oref, EventType::Normal, reasons::SUCCEEDED, &m, meta())
                        .await;
                }
                None => tracing::debug!(kind, namespace = ns, name, "{}", done.ready_message),
            }
            Ok(done.requeue)
        }
        Err(e) => {
            conds.mark_failure(e.condition, e.reason, &e.message, e.is_terminal());
            tracing::error!(
                kind,
                namespace = ns,
                name,
                reason = e.reason,
                "{}",
                e.message
            );
            let repeated = old_ready
                .as_ref()
                .is_some_and(|c| c.reason == e.reason && c.message == e.message);
            if !repeated {
                events
                    .publish_with(&oref, EventType::Warning, e.reason, &e.message, meta())
                    .await;
            }
            Err(e)
        }
    };
    let final_for_generation = match &outcome {
        Ok(_) => true,
        Err(e) => e.is_terminal(),
    };
    *status.conditions_mut() = conds.conditions;
    record_reconcile(obj, &mut status, final_for_generation);
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    if let Err(e) = write_status(&api, obj, &status).await {
        tracing::warn!(kind, namespace = ns, name, error = %e, "status update failed");
        return Err(ReconcileError::retriable(
            "StatusUpdateFailed",
            e.to_string(),
        ));
    }
    outcome
}
