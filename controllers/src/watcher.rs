//! The source-watcher (Flux's `source-watcher` component): reconciles ArtifactGenerators.
//! Each generator's sources (GitRepositories, OCIRepositories, Buckets, HelmCharts and
//! ExternalArtifacts) are fetched from their controllers' storage, the copy operations of
//! each output artifact staged with [`gitops_source::generator`], the result archived into
//! this controller's own storage (served over HTTP like the source-controller's) and
//! published as an ExternalArtifact that Kustomizations and HelmReleases consume like any
//! source. A new source revision regenerates only the artifacts whose content changed;
//! artifacts no longer generated are deleted with their files.
//!
//! Start it with [`run`] (what `gitops controller source-watcher` does).

use crate::artifact::ArtifactCache;
use crate::runtime::args::ControllerArgs;
use crate::runtime::events::{EventMetadata, EventRecorder, EventType};
use crate::runtime::object::object_ref;
use crate::runtime::reconcile::{self, ReconcileError, ReconcileResult, Reconciler, Requeue};
use crate::runtime::status::{ConditionSet, record_reconcile, write_status};
use crate::runtime::telemetry::{self, Metrics, Readiness};
use gitops_api::condition::{reasons, types};
use gitops_api::extensions::{
    ArtifactGenerator, ArtifactGeneratorStatus, ExternalArtifactReference, GENERATOR_LABEL,
    ORIGIN_REVISION_ANNOTATION, OutputArtifact,
};
use gitops_api::source::Source;
use gitops_api::{Artifact, ExternalArtifact};
use gitops_source::generator::{self, CopyOperation, Strategy};
use gitops_source::{ObjectKey, Storage};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The controller's name in events, labels and field managers.
pub const CONTROLLER_NAME: &str = "source-watcher";

/// Flags of `gitops controller source-watcher`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "source-watcher")]
pub struct WatcherArgs {
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
    /// Artifacts kept per ExternalArtifact by garbage collection.
    #[arg(long, default_value_t = 2)]
    pub artifact_retention_records: usize,
    /// Refuse sources in other namespaces than the generator's.
    #[arg(long)]
    pub no_cross_namespace_refs: bool,
}

/// Shared state of the reconciler.
struct Context {
    client: kube::Client,
    storage: Storage,
    events: EventRecorder,
    sources: ArtifactCache,
    retention: usize,
    no_cross_namespace_refs: bool,
}

/// Runs the source-watcher until the process is stopped.
pub async fn run(args: WatcherArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    let client = crate::runtime::client::client(args.common.kubeconfig.as_deref()).await?;
    let storage = crate::source::serve_storage(
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
        sources: ArtifactCache::new(CONTROLLER_NAME, 16)?,
        retention: args.artifact_retention_records.max(1),
        no_cross_namespace_refs: args.no_cross_namespace_refs,
    });
    let opts = reconcile::RunOptions::from_args(&args.common, 5)?;
    tracing::info!("starting source-watcher");
    let ns = opts.namespace.clone();
    reconcile::run_with::<ArtifactGenerator, _>(
        client.clone(),
        Arc::new(GeneratorReconciler(ctx)),
        opts,
        metrics,
        ready,
        move |c| {
            let ns = ns.as_deref();
            let c =
                reconcile::watch_sources(c, client.clone(), ns, uses::<gitops_api::GitRepository>);
            let c =
                reconcile::watch_sources(c, client.clone(), ns, uses::<gitops_api::OCIRepository>);
            let c = reconcile::watch_sources(c, client.clone(), ns, uses::<gitops_api::Bucket>);
            let c = reconcile::watch_sources(c, client.clone(), ns, uses::<gitops_api::HelmChart>);
            reconcile::watch_sources(c, client.clone(), ns, uses::<ExternalArtifact>)
        },
    )
    .await;
    Ok(())
}

/// Whether generator `g` reads source `s` of kind `S`.
fn uses<S: Resource<DynamicType = ()>>(g: &ArtifactGenerator, s: &S) -> bool {
    let kind = S::kind(&());
    let g_ns = g.namespace().unwrap_or_default();
    g.spec.sources.iter().any(|r| {
        r.kind == kind
            && r.name == s.name_any()
            && (if r.namespace.is_empty() {
                &g_ns
            } else {
                &r.namespace
            }) == &s.namespace().unwrap_or_default()
    })
}

struct GeneratorReconciler(Arc<Context>);

/// A failure: its reason, message and whether it needs a change to the object.
struct Failure {
    reason: &'static str,
    message: String,
    stalled: bool,
}

impl Failure {
    fn retry(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
            stalled: false,
        }
    }
    fn stalled(reason: &'static str, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
            stalled: true,
        }
    }
}

const VALIDATION_FAILED: &str = "ValidationFailed";
const ACCESS_DENIED: &str = "AccessDenied";
const SOURCE_FETCH_FAILED: &str = "SourceFetchFailed";

/// What a source offers: its artifact.
#[derive(Clone)]
struct Observed {
    artifact: Artifact,
}

impl Reconciler<ArtifactGenerator> for GeneratorReconciler {
    fn finalizer(&self) -> &str {
        gitops_api::extensions::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<ArtifactGenerator>) -> ReconcileResult {
        let ctx = &self.0;
        let result = generate(ctx, &obj).await;
        finish(ctx, &obj, result).await
    }

    async fn finalize(&self, obj: Arc<ArtifactGenerator>) -> anyhow::Result<()> {
        let inventory = obj
            .status
            .as_ref()
            .map(|s| s.inventory.clone())
            .unwrap_or_default();
        delete_artifacts(&self.0, &inventory).await
    }
}

/// Deletes ExternalArtifacts no longer generated, and their stored files.
async fn delete_artifacts(ctx: &Context, refs: &[ExternalArtifactReference]) -> anyhow::Result<()> {
    for r in refs {
        let api: Api<ExternalArtifact> = Api::namespaced(ctx.client.clone(), &r.namespace);
        match api.delete(&r.name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => anyhow::bail!("deleting ExternalArtifact {}/{}: {e}", r.namespace, r.name),
        }
        ctx.storage
            .remove_all(&ObjectKey::new("ExternalArtifact", &r.namespace, &r.name))
            .map_err(|e| {
                anyhow::anyhow!("removing artifacts of {}/{}: {e}", r.namespace, r.name)
            })?;
    }
    Ok(())
}

/// The sources' artifacts by alias; a source without an artifact fails the reconcile
/// (retried: it may become ready).
async fn observe_sources(
    ctx: &Context,
    obj: &ArtifactGenerator,
) -> Result<BTreeMap<String, Observed>, Failure> {
    let ns = obj.namespace().unwrap_or_default();
    let mut out = BTreeMap::new();
    for src in &obj.spec.sources {
        let src_ns = if src.namespace.is_empty() {
            ns.clone()
        } else {
            src.namespace.clone()
        };
        if ctx.no_cross_namespace_refs && src_ns != ns {
            return Err(Failure::stalled(
                ACCESS_DENIED,
                format!(
                    "cross-namespace references are not allowed: source '{}' ({}/{}/{})",
                    src.alias, src.kind, src_ns, src.name
                ),
            ));
        }
        let artifact = match src.kind.as_str() {
            "GitRepository" => {
                artifact_of::<gitops_api::GitRepository>(ctx, &src_ns, &src.name).await
            }
            "OCIRepository" => {
                artifact_of::<gitops_api::OCIRepository>(ctx, &src_ns, &src.name).await
            }
            "Bucket" => artifact_of::<gitops_api::Bucket>(ctx, &src_ns, &src.name).await,
            "HelmChart" => artifact_of::<gitops_api::HelmChart>(ctx, &src_ns, &src.name).await,
            "ExternalArtifact" => artifact_of::<ExternalArtifact>(ctx, &src_ns, &src.name).await,
            other => {
                return Err(Failure::stalled(
                    VALIDATION_FAILED,
                    format!("source '{}' has an unsupported kind '{other}'", src.alias),
                ));
            }
        };
        let artifact = artifact.map_err(|m| {
            Failure::retry(
                SOURCE_FETCH_FAILED,
                format!(
                    "failed to get source '{}' ({}/{}/{}): {m}",
                    src.alias, src.kind, src_ns, src.name
                ),
            )
        })?;
        out.insert(src.alias.clone(), Observed { artifact });
    }
    Ok(out)
}

async fn artifact_of<S>(ctx: &Context, ns: &str, name: &str) -> Result<Artifact, String>
where
    S: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Source
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<S> = Api::namespaced(ctx.client.clone(), ns);
    match api.get_opt(name).await {
        Ok(Some(s)) => s
            .artifact()
            .cloned()
            .ok_or_else(|| "the source has no artifact yet".to_owned()),
        Ok(None) => Err("not found".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Flux's digest of the observed sources (`observedSourcesDigest`).
fn sources_digest(sources: &BTreeMap<String, Observed>) -> String {
    let mut parts: Vec<String> = sources
        .iter()
        .map(|(alias, o)| {
            format!(
                "{alias}=[digest={},revision={},url={}]",
                o.artifact.digest, o.artifact.revision, o.artifact.url
            )
        })
        .collect();
    parts.sort();
    format!("sha256:{}", hex::encode(Sha256::digest(parts.join("|"))))
}

/// Checks what the API server's schema cannot: aliases unique and known, artifact names
/// unique, strategies known.
fn validate(obj: &ArtifactGenerator) -> Result<(), Failure> {
    let invalid = |m: String| Failure::stalled(VALIDATION_FAILED, m);
    let mut aliases = std::collections::BTreeSet::new();
    for s in &obj.spec.sources {
        if !aliases.insert(s.alias.as_str()) {
            return Err(invalid(format!("duplicate source alias '{}'", s.alias)));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for a in &obj.spec.output_artifacts {
        if !names.insert(a.name.as_str()) {
            return Err(invalid(format!("duplicate artifact name '{}'", a.name)));
        }
        for (field, v) in [
            ("revision", &a.revision),
            ("originRevision", &a.origin_revision),
        ] {
            if let Some(alias) = v.strip_prefix('@')
                && !aliases.contains(alias)
            {
                return Err(invalid(format!(
                    "artifact '{}' {field} references unknown source alias '{alias}'",
                    a.name
                )));
            }
        }
        for op in &a.copy {
            strategy(&op.strategy).map_err(&invalid)?;
            // Placeholders are checked once rendered (path patterns).
            if !obj.spec.path_pattern.is_empty() {
                continue;
            }
            let alias = op
                .from
                .strip_prefix('@')
                .and_then(|f| f.split('/').next())
                .unwrap_or_default();
            if !aliases.contains(alias) {
                return Err(invalid(format!(
                    "artifact '{}' copy from '{}' references unknown source alias '{alias}'",
                    a.name, op.from
                )));
            }
        }
    }
    if let Some(alias) = obj
        .spec
        .path_pattern
        .strip_prefix('@')
        .and_then(|p| p.split('/').next())
        && !obj.spec.path_pattern.is_empty()
        && !aliases.contains(alias)
    {
        return Err(invalid(format!(
            "pathPattern '{}' references unknown source alias '{alias}'",
            obj.spec.path_pattern
        )));
    }
    Ok(())
}

fn strategy(s: &str) -> Result<Strategy, String> {
    match s {
        "" | "Overwrite" => Ok(Strategy::Overwrite),
        "Merge" => Ok(Strategy::Merge),
        "Extract" => Ok(Strategy::Extract),
        other => Err(format!("unknown copy strategy '{other}'")),
    }
}

/// Whether the generator's artifacts are as the sources make them: same sources, the
/// generation handled, every ExternalArtifact present with its stored file.
async fn up_to_date(ctx: &Context, obj: &ArtifactGenerator, digest: &str) -> bool {
    let Some(status) = &obj.status else {
        return false;
    };
    let generation_handled = status.conditions.iter().any(|c| {
        c.type_ == types::READY
            && c.status == gitops_api::ConditionStatus::True
            && c.observed_generation == obj.metadata.generation
    });
    if status.observed_sources_digest.as_deref() != Some(digest) || !generation_handled {
        return false;
    }
    for r in &status.inventory {
        let api: Api<ExternalArtifact> = Api::namespaced(ctx.client.clone(), &r.namespace);
        let Ok(Some(ea)) = api.get_opt(&r.name).await else {
            return false;
        };
        match ea.artifact() {
            Some(a) if a.digest == r.digest && ctx.storage.verify(a) => {}
            _ => return false,
        }
    }
    true
}

/// One artifact to build: the spec with placeholders rendered, and the labels of the
/// path pattern's captures.
struct Request {
    artifact: OutputArtifact,
    labels: BTreeMap<String, String>,
}

/// The artifacts to build: the spec's, or with a path pattern one set per matched
/// directory.
fn requests(
    obj: &ArtifactGenerator,
    dirs: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Request>, Failure> {
    let pattern = &obj.spec.path_pattern;
    if pattern.is_empty() {
        return Ok(obj
            .spec
            .output_artifacts
            .iter()
            .map(|a| Request {
                artifact: a.clone(),
                labels: BTreeMap::new(),
            })
            .collect());
    }
    let build = |m: String| Failure::stalled(reasons::BUILD_FAILED, m);
    let rest = pattern.strip_prefix('@').unwrap_or(pattern);
    let (alias, sub) = rest.split_once('/').unwrap_or((rest, ""));
    let root = dirs.get(alias).ok_or_else(|| {
        build(format!(
            "pathPattern '{pattern}' references unknown source alias '{alias}'"
        ))
    })?;
    let matches = generator::match_path_pattern(root, sub)
        .map_err(|e| build(format!("failed to expand path pattern: {e}")))?;
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for captures in matches {
        let lower: BTreeMap<String, String> = captures
            .iter()
            .map(|(k, v)| (k.clone(), v.to_ascii_lowercase()))
            .collect();
        for a in &obj.spec.output_artifacts {
            let render = |t: &str, lowercase: bool| {
                generator::render_template(t, &captures, lowercase)
                    .map_err(|e| build(format!("failed to expand path pattern: {e}")))
            };
            let name = render(&a.name, true)?;
            if !gitops_api::meta::is_dns1123_subdomain(&name) {
                return Err(build(format!(
                    "failed to expand path pattern: artifact name '{name}' (from '{}') is not a valid Kubernetes object name",
                    a.name
                )));
            }
            if let Some(prev) = seen.insert(name.clone(), captures.clone()) {
                return Err(build(format!(
                    "failed to expand path pattern: artifact name '{name}' is generated twice (captures {prev:?} and {captures:?})"
                )));
            }
            let mut artifact = a.clone();
            artifact.name = name;
            for op in &mut artifact.copy {
                op.from = render(&op.from, false)?;
                op.to = render(&op.to, false)?;
            }
            out.push(Request {
                artifact,
                labels: lower.clone(),
            });
        }
    }
    Ok(out)
}

/// A successful reconcile: the inventory and the sources digest.
struct Generated {
    inventory: Vec<ExternalArtifactReference>,
    digest: String,
    /// Nothing was rebuilt.
    unchanged: bool,
}

async fn generate(ctx: &Context, obj: &ArtifactGenerator) -> Result<Generated, Failure> {
    let ns = obj.namespace().unwrap_or_default();
    validate(obj)?;
    let sources = observe_sources(ctx, obj).await?;
    let digest = sources_digest(&sources);
    let old_inventory = obj
        .status
        .as_ref()
        .map(|s| s.inventory.clone())
        .unwrap_or_default();
    if up_to_date(ctx, obj, &digest).await {
        return Ok(Generated {
            inventory: old_inventory,
            digest,
            unchanged: true,
        });
    }
    // Fetch every source into <work>/<alias>.
    let work = tempfile::Builder::new()
        .prefix("source-watcher")
        .tempdir()
        .map_err(|e| Failure::retry(reasons::BUILD_FAILED, format!("workspace: {e}")))?;
    let mut dirs = BTreeMap::new();
    for (alias, o) in &sources {
        let dir = work.path().join("sources").join(alias);
        ctx.sources
            .fetch_into(&o.artifact.url, &o.artifact.digest, &dir)
            .await
            .map_err(|m| {
                Failure::retry(
                    SOURCE_FETCH_FAILED,
                    format!("fetch sources failed: source '{alias}': {m}"),
                )
            })?;
        dirs.insert(alias.clone(), dir);
    }
    let reqs = requests(obj, &dirs)?;
    let mut inventory = Vec::new();
    for req in reqs {
        let name = req.artifact.name.clone();
        let artifact = build(ctx, &ns, &req.artifact, &dirs, work.path(), &sources)
            .await
            .map_err(|m| {
                Failure::retry(reasons::BUILD_FAILED, format!("{name} build failed: {m}"))
            })?;
        let r = publish(ctx, obj, &req, artifact).await.map_err(|m| {
            Failure::retry(
                "ReconciliationFailed",
                format!("{name} reconcile failed: {m}"),
            )
        })?;
        inventory.push(r);
    }
    let orphans: Vec<ExternalArtifactReference> = old_inventory
        .iter()
        .filter(|o| {
            !inventory
                .iter()
                .any(|n| n.name == o.name && n.namespace == o.namespace)
        })
        .cloned()
        .collect();
    delete_artifacts(ctx, &orphans)
        .await
        .map_err(|e| Failure::retry("ReconciliationFailed", format!("{e:#}")))?;
    for r in &inventory {
        let key = ObjectKey::new("ExternalArtifact", &r.namespace, &r.name);
        if let Err(e) = ctx.storage.gc(&key, ctx.retention, Some(&r.filename)) {
            tracing::warn!(namespace = r.namespace, name = r.name, error = %e, "garbage collection failed");
        }
    }
    Ok(Generated {
        inventory,
        digest,
        unchanged: false,
    })
}

/// Stages and stores one artifact; its storage record and revision.
async fn build(
    ctx: &Context,
    ns: &str,
    spec: &OutputArtifact,
    dirs: &BTreeMap<String, PathBuf>,
    work: &std::path::Path,
    sources: &BTreeMap<String, Observed>,
) -> Result<Artifact, String> {
    let ops: Vec<CopyOperation> = spec
        .copy
        .iter()
        .map(|op| {
            Ok(CopyOperation {
                from: op.from.clone(),
                to: op.to.clone(),
                exclude: op.exclude.clone(),
                strategy: strategy(&op.strategy)?,
            })
        })
        .collect::<Result<_, String>>()?;
    let staging = work.join("artifacts").join(&spec.name);
    let storage = ctx.storage.clone();
    let (dirs, name, ns_owned) = (dirs.clone(), spec.name.clone(), ns.to_owned());
    let stored = tokio::task::spawn_blocking(
        move || -> Result<gitops_source::storage::StoredArtifact, String> {
            generator::apply_copy_operations(&ops, &dirs, &staging).map_err(|e| e.to_string())?;
            let hash = generator::dir_hash(&staging, &name).map_err(|e| e.to_string())?;
            let key = ObjectKey::new("ExternalArtifact", &ns_owned, &name);
            let (stored, _) = storage
                // As source-watcher archives: Flux's default excludes (VCS files, images,
                // archives) apply.
                .archive_dir(
                    &key,
                    &format!("{hash}.tar.gz"),
                    &staging,
                    &gitops_source::ignore::IgnoreRules::flux_defaults(),
                )
                .map_err(|e| e.to_string())?;
            Ok(stored)
        },
    )
    .await
    .map_err(|e| e.to_string())??;
    let mut revision = format!("latest@{}", stored.digest);
    if let Some(alias) = spec.revision.strip_prefix('@')
        && let Some(o) = sources.get(alias)
    {
        revision = o.artifact.revision.clone();
    }
    let mut metadata = None;
    if let Some(alias) = spec.origin_revision.strip_prefix('@')
        && let Some(o) = sources.get(alias)
    {
        let origin = o
            .artifact
            .metadata
            .as_ref()
            .and_then(|m| m.get(ORIGIN_REVISION_ANNOTATION))
            .cloned()
            .unwrap_or_else(|| o.artifact.revision.clone());
        metadata = Some(BTreeMap::from([(
            ORIGIN_REVISION_ANNOTATION.to_owned(),
            origin,
        )]));
    }
    Ok(stored.to_api(revision, metadata))
}

/// Writes the ExternalArtifact (server-side apply) and its status.
async fn publish(
    ctx: &Context,
    obj: &ArtifactGenerator,
    req: &Request,
    artifact: Artifact,
) -> Result<ExternalArtifactReference, String> {
    let ns = obj.namespace().unwrap_or_default();
    let name = &req.artifact.name;
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    if let Some(cm) = &obj.spec.common_metadata {
        labels.extend(cm.labels.clone());
        annotations.extend(cm.annotations.clone());
    }
    labels.extend(req.labels.clone());
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        CONTROLLER_NAME.to_owned(),
    );
    labels.insert(GENERATOR_LABEL.to_owned(), obj.uid().unwrap_or_default());
    let mut metadata = json!({"name": name, "namespace": ns, "labels": labels});
    if !annotations.is_empty() {
        metadata["annotations"] = json!(annotations);
    }
    let ea = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "ExternalArtifact",
        "metadata": metadata,
        "spec": {"sourceRef": {
            "apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator",
            "name": obj.name_any(),
            "namespace": ns,
        }},
    });
    let api: Api<ExternalArtifact> = Api::namespaced(ctx.client.clone(), &ns);
    let params = PatchParams::apply(CONTROLLER_NAME).force();
    let applied = api
        .patch(name, &params, &Patch::Apply(&ea))
        .await
        .map_err(|e| format!("failed to apply ExternalArtifact: {e}"))?;
    // The same artifact is left as it is (its time too): nothing changes for consumers.
    let old = applied.artifact().cloned();
    let status = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "ExternalArtifact",
        "metadata": {"name": name, "namespace": ns},
        "status": {
            "artifact": artifact,
            "conditions": [{
                "type": types::READY,
                "status": "True",
                "observedGeneration": applied.metadata.generation.unwrap_or(1),
                "lastTransitionTime": crate::runtime::status::now(),
                "reason": reasons::SUCCEEDED,
                "message": "Artifact is ready",
            }],
        },
    });
    let same = old.as_ref().is_some_and(|o| {
        o.digest == artifact.digest
            && o.revision == artifact.revision
            && o.metadata == artifact.metadata
    });
    if !same {
        api.patch_status(name, &params, &Patch::Apply(&status))
            .await
            .map_err(|e| format!("failed to patch ExternalArtifact status: {e}"))?;
        let msg = format!(
            "ExternalArtifact/{ns}/{name} reconciled with revision {}",
            artifact.revision
        );
        tracing::info!(namespace = ns, name, "{msg}");
    }
    Ok(ExternalArtifactReference {
        name: name.clone(),
        namespace: ns,
        digest: artifact.digest.clone(),
        filename: artifact
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Writes the generator's status and events for a reconcile result.
async fn finish(
    ctx: &Context,
    obj: &ArtifactGenerator,
    result: Result<Generated, Failure>,
) -> ReconcileResult {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let old: ArtifactGeneratorStatus = obj.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut conds = ConditionSet::of(obj.status.as_ref(), obj.metadata.generation);
    let oref = object_ref(obj);
    let outcome: ReconcileResult = match result {
        Ok(g) => {
            let changed: Vec<String> = g
                .inventory
                .iter()
                .filter(|r| {
                    !old.inventory.iter().any(|o| {
                        o.name == r.name && o.namespace == r.namespace && o.digest == r.digest
                    })
                })
                .map(|r| format!("{}/{} ({})", r.namespace, r.name, r.digest))
                .collect();
            let msg = if g.unchanged {
                format!(
                    "No drift detected, {} artifact(s) up to date",
                    g.inventory.len()
                )
            } else {
                format!(
                    "reconciliation succeeded, generated {} artifact(s)",
                    g.inventory.len()
                )
            };
            if !g.unchanged || conds.ready_status() != "True" {
                conds.mark_ready(
                    reasons::SUCCEEDED,
                    &format!(
                        "reconciliation succeeded, generated {} artifact(s)",
                        g.inventory.len()
                    ),
                );
            }
            tracing::info!(namespace = ns, name, "{msg}");
            if !changed.is_empty() {
                let msg = format!("external artifacts reconciled: {}", changed.join("\n"));
                ctx.events
                    .publish_with(
                        &oref,
                        EventType::Normal,
                        types::READY,
                        &msg,
                        EventMetadata::default().with_object_annotations(obj.annotations()),
                    )
                    .await;
            }
            status.inventory = g.inventory;
            status.observed_sources_digest = Some(g.digest);
            Ok(Requeue::Interval)
        }
        Err(f) => {
            let repeated = old
                .conditions
                .iter()
                .any(|c| c.type_ == types::READY && c.message == f.message);
            conds.mark_failure(None, f.reason, &f.message, f.stalled);
            tracing::error!(namespace = ns, name, reason = f.reason, "{}", f.message);
            if !repeated {
                ctx.events
                    .publish_with(
                        &oref,
                        EventType::Warning,
                        f.reason,
                        &f.message,
                        EventMetadata::default().with_object_annotations(obj.annotations()),
                    )
                    .await;
            }
            Err(if f.stalled {
                ReconcileError::terminal(f.reason, f.message)
            } else {
                ReconcileError::retriable(f.reason, f.message)
            })
        }
    };
    let final_for_generation = match &outcome {
        Ok(_) => true,
        Err(e) => e.is_terminal(),
    };
    status.conditions = conds.conditions;
    record_reconcile(obj, &mut status, final_for_generation);
    let api: Api<ArtifactGenerator> = Api::namespaced(ctx.client.clone(), &ns);
    if let Err(e) = write_status(&api, obj, &status).await {
        tracing::warn!(namespace = ns, name, error = %e, "status update failed");
        return Err(ReconcileError::retriable(
            "StatusUpdateFailed",
            e.to_string(),
        ));
    }
    outcome
}
