//! The [`Applier`]: staged server-side apply, prune and wait against a cluster.

use crate::changeset::{Action, ChangeSet};
use crate::discovery::{DiscoveryCache, Resource};
use crate::error::{ApplyError, NotReady, code, describe};
use crate::kstatus::{self, Status};
use crate::object::{ObjectRef, Stage, apply_order, stage_of};
use crate::ssa::{self, SsaMode};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{DeleteParams, GetParams, Patch, PatchParams, PropagationPolicy};
use kube::core::Request;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod object_diff;
pub use object_diff::{DiffError, DiffOptions, ObjectDiff};

/// Options of [`Applier::apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Recreate objects whose immutable fields changed (as if every object had
    /// `kustomize.toolkit.fluxcd.io/force: enabled`).
    pub force: bool,
    /// Only classify (server-side dry runs); write nothing.
    pub dry_run: bool,
    /// How long to wait for CRDs and Namespaces of the first stage to be ready, and for
    /// objects being recreated to be gone.
    pub wait_crds_timeout: Duration,
    /// How many objects are dry-run or applied at once.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            force: false,
            dry_run: false,
            wait_crds_timeout: Duration::from_secs(60),
            concurrency: 4,
        }
    }
}

/// Options of [`Applier::prune`].
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Labels the live object must carry to be deleted (Flux's
    /// `kustomize.toolkit.fluxcd.io/name` and `…/namespace`); objects showing another
    /// owner are skipped. Empty: no check.
    pub owner_labels: BTreeMap<String, String>,
    /// Wait until deleted objects are gone.
    pub wait: bool,
    /// How long to wait when `wait` is set.
    pub timeout: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            owner_labels: BTreeMap::new(),
            wait: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Options of [`Applier::wait`].
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Time between polls.
    pub interval: Duration,
    /// Stop as soon as an object is `Failed`.
    pub fail_fast: bool,
    /// Custom health checks (CEL) for the kinds they name.
    pub custom: Vec<kstatus::CustomCheck>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(300),
            interval: Duration::from_secs(2),
            fail_fast: true,
            custom: Vec::new(),
        }
    }
}

/// Applies object sets with one field manager. Cheap to clone; clones share the
/// discovery cache.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
    manager: Arc<str>,
    discovery: Arc<DiscoveryCache>,
    /// Cleared when the server ignored a write of `metadata.managedFields`, so the
    /// takeover of kubectl fields is not retried on every apply.
    managed_fields_writable: Arc<AtomicBool>,
    /// (group, kind) applied in their own stage after the class kinds.
    custom_stage: Arc<[(String, String)]>,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("field_manager", &self.manager)
            .finish_non_exhaustive()
    }
}

/// What to do with one object after its dry run.
enum Plan {
    Skip,
    Unchanged,
    /// Apply; the takeover patch goes first when present.
    Write {
        action: Action,
        takeover: Option<Value>,
        /// Drifted fields, when asked for.
        fields: Vec<String>,
    },
    /// Delete, wait until gone, create.
    Recreate,
    /// Dry run of an object whose CRD is in the same set but not on the cluster yet.
    WouldCreate,
}

/// What the whole set brings that the cluster may not have yet (for dry runs).
struct SetContext {
    /// (group, kind) of the CRDs in the set.
    crd_kinds: HashSet<(String, String)>,
    /// Namespaces in the set.
    namespaces: HashSet<String>,
    /// Whether to report drifted fields.
    want_fields: bool,
}

/// How one object differs from the cluster (see [`Applier::diff`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The object.
    pub object: ObjectRef,
    /// What applying it would do.
    pub action: Action,
    /// For `configured`: the top-level fields (and `metadata.labels.<key>`,
    /// `metadata.annotations.<key>`, …) that would change.
    pub fields: Vec<String>,
}

/// Fails on the second occurrence of an object in a set.
fn check_duplicates(refs: &[ObjectRef]) -> Result<(), ApplyError> {
    let mut seen: std::collections::HashMap<(&str, &str, &str, &str), usize> =
        std::collections::HashMap::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let key = (
            r.group.as_str(),
            r.kind.as_str(),
            r.namespace.as_str(),
            r.name.as_str(),
        );
        if let Some(first) = seen.insert(key, i) {
            return Err(ApplyError::InvalidObject {
                index: Some(i),
                reason: format!("{r} duplicates the object at index {first}"),
            });
        }
    }
    Ok(())
}

struct Planned {
    index: usize,
    object: ObjectRef,
    resource: Option<Resource>,
    plan: Plan,
}

fn ns_opt(r: &ObjectRef) -> Option<&str> {
    (!r.namespace.is_empty()).then_some(r.namespace.as_str())
}

fn is_immutable(err: &kube::Error) -> bool {
    let kube::Error::Api(s) = err else {
        return false;
    };
    let m = &s.message;
    (s.code == 422 || s.code == 409)
        && (m.contains("immutable")
            || (s.code == 422
                && (m.contains("spec.selector")
                    || m.contains("spec.clusterIP")
                    || m.contains("spec.template"))))
}

impl Applier {
    /// An applier writing as `field_manager`.
    pub fn new(client: kube::Client, field_manager: impl Into<String>) -> Applier {
        Applier {
            client,
            manager: Arc::from(field_manager.into()),
            discovery: Arc::new(DiscoveryCache::default()),
            managed_fields_writable: Arc::new(AtomicBool::new(true)),
            custom_stage: Arc::from(Vec::new()),
        }
    }

    /// The same applier with another client (impersonation). Shares the discovery cache,
    /// so use it for the same cluster; for another cluster, use [`Applier::new`].
    pub fn with_client(&self, client: kube::Client) -> Applier {
        Applier {
            client,
            manager: self.manager.clone(),
            discovery: self.discovery.clone(),
            managed_fields_writable: self.managed_fields_writable.clone(),
            custom_stage: self.custom_stage.clone(),
        }
    }

    /// Applies these kinds, as `(group, kind)` (empty group for core), in a stage of
    /// their own after CRDs, Namespaces and class kinds and before everything else, as
    /// Flux's `--custom-apply-stage-kinds`.
    pub fn with_custom_stage_kinds(
        mut self,
        kinds: impl IntoIterator<Item = (String, String)>,
    ) -> Applier {
        self.custom_stage = kinds.into_iter().collect::<Vec<_>>().into();
        self
    }

    fn stage(&self, r: &ObjectRef) -> Stage {
        let s = stage_of(&r.kind);
        if s == Stage::Resources
            && self
                .custom_stage
                .iter()
                .any(|(g, k)| *g == r.group && *k == r.kind)
        {
            return Stage::Custom;
        }
        s
    }

    /// The field manager.
    pub fn field_manager(&self) -> &str {
        &self.manager
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Where `kind` of `api_version` is served (plural, scope); `None` when the cluster does
    /// not serve it. Answers come from the applier's discovery cache.
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resource>, ApplyError> {
        self.discovery
            .resolve(&self.client, api_version, kind)
            .await
            .map_err(|e| ApplyError::Discovery {
                api_version: api_version.to_owned(),
                message: e.to_string(),
            })
    }

    async fn resource(&self, r: &ObjectRef) -> Result<Option<Resource>, ApplyError> {
        let api_version = r.api_version();
        self.discovery
            .resolve(&self.client, &api_version, &r.kind)
            .await
            .map_err(|e| ApplyError::Discovery {
                api_version,
                message: e.to_string(),
            })
    }

    /// Like [`Applier::resource`], but when the version is no longer served, the kind at
    /// another version of its group (the preferred one first): objects recorded before a
    /// CRD version was removed can still be pruned and checked.
    async fn resource_any_version(&self, r: &ObjectRef) -> Result<Option<Resource>, ApplyError> {
        if let Some(res) = self.resource(r).await? {
            return Ok(Some(res));
        }
        if r.group.is_empty() {
            return Ok(None);
        }
        let Ok(req) = Request::new("/apis").get(&r.group, &GetParams::default()) else {
            return Ok(None);
        };
        let group: Value = match self.client.request(req).await {
            Ok(g) => g,
            Err(e) if code(&e) == Some(404) => return Ok(None),
            Err(e) => {
                return Err(ApplyError::Discovery {
                    api_version: r.group.clone(),
                    message: e.to_string(),
                });
            }
        };
        let preferred = group["preferredVersion"]["version"].as_str();
        let others = group["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["version"].as_str());
        for v in preferred.into_iter().chain(others) {
            if v == r.version {
                continue;
            }
            let api_version = format!("{}/{v}", r.group);
            if let Some(res) = self
                .discovery
                .resolve(&self.client, &api_version, &r.kind)
                .await
                .map_err(|e| ApplyError::Discovery {
                    api_version: api_version.clone(),
                    message: e.to_string(),
                })?
            {
                return Ok(Some(res));
            }
        }
        Ok(None)
    }

    async fn get(&self, res: &Resource, r: &ObjectRef) -> Result<Option<Value>, kube::Error> {
        let req = Request::new(res.path(ns_opt(r)))
            .get(&r.name, &GetParams::default())
            .map_err(kube::Error::BuildRequest)?;
        match self.client.request::<Value>(req).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if code(&e) == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn server_apply(
        &self,
        res: &Resource,
        r: &ObjectRef,
        obj: &Value,
        dry_run: bool,
    ) -> Result<Value, kube::Error> {
        let pp = PatchParams {
            dry_run,
            force: true,
            field_manager: Some(self.manager.to_string()),
            field_validation: None,
        };
        let req = Request::new(res.path(ns_opt(r)))
            .patch(&r.name, &pp, &Patch::Apply(obj))
            .map_err(kube::Error::BuildRequest)?;
        self.client.request::<Value>(req).await
    }

    async fn merge_patch(
        &self,
        res: &Resource,
        r: &ObjectRef,
        patch: &Value,
    ) -> Result<Value, kube::Error> {
        let pp = PatchParams {
            field_manager: Some(self.manager.to_string()),
            ..Default::default()
        };
        let req = Request::new(res.path(ns_opt(r)))
            .patch(&r.name, &pp, &Patch::Merge(patch))
            .map_err(kube::Error::BuildRequest)?;
        self.client.request::<Value>(req).await
    }

    /// Deletes with background propagation; `false` when it was already gone.
    async fn delete(&self, res: &Resource, r: &ObjectRef) -> Result<bool, kube::Error> {
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        let req = Request::new(res.path(ns_opt(r)))
            .delete(&r.name, &dp)
            .map_err(kube::Error::BuildRequest)?;
        match self.client.request::<Value>(req).await {
            Ok(_) => Ok(true),
            Err(e) if code(&e) == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Polls until the object is gone; `false` on timeout.
    async fn wait_gone(
        &self,
        res: &Resource,
        r: &ObjectRef,
        timeout: Duration,
    ) -> Result<bool, kube::Error> {
        let deadline = deadline_after(timeout);
        let mut pause = Duration::from_millis(50);
        loop {
            if self.get(res, r).await?.is_none() {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Applies `objects` with server-side apply in stages: CRDs and Namespaces
    /// first (then waits for them to be ready and refreshes discovery), then
    /// `*Class` kinds, then custom stage kinds, then the rest. Each object is dry-run first and only written when
    /// the result differs from the live object. With `dry_run`, nothing is written.
    ///
    /// The change set lists every object, stage by stage, in Flux's kind order.
    pub async fn apply(
        &self,
        objects: Vec<Value>,
        opts: &ApplyOptions,
    ) -> Result<ChangeSet, ApplyError> {
        Ok(self.run(objects, opts, false).await?.0)
    }

    /// What applying `objects` would change, object by object, with the names of the
    /// fields that differ (never their values, so Secrets do not leak): a dry run of
    /// [`Applier::apply`] (whatever `opts.dry_run` says).
    pub async fn diff(
        &self,
        objects: Vec<Value>,
        opts: &ApplyOptions,
    ) -> Result<Vec<Drift>, ApplyError> {
        let opts = ApplyOptions {
            dry_run: true,
            ..opts.clone()
        };
        let (changes, fields) = self.run(objects, &opts, true).await?;
        Ok(changes
            .entries
            .into_iter()
            .zip(fields)
            .map(|(e, fields)| Drift {
                object: e.object,
                action: e.action,
                fields,
            })
            .collect())
    }

    /// Applies (or dry-runs) the set; with `want_fields`, also the drifted fields of each
    /// entry (dry runs only).
    async fn run(
        &self,
        objects: Vec<Value>,
        opts: &ApplyOptions,
        want_fields: bool,
    ) -> Result<(ChangeSet, Vec<Vec<String>>), ApplyError> {
        let refs: Vec<ObjectRef> = objects
            .iter()
            .enumerate()
            .map(|(i, o)| ObjectRef::from_object_at(o, Some(i)))
            .collect::<Result<_, _>>()?;
        check_duplicates(&refs)?;
        let mut order: Vec<usize> = (0..objects.len()).collect();
        order.sort_by(|&a, &b| {
            self.stage(&refs[a])
                .cmp(&self.stage(&refs[b]))
                .then_with(|| apply_order(&refs[a], &refs[b]))
        });
        // Kinds the set's CRDs define: a dry run can classify their objects before the
        // CRD exists.
        let set = SetContext {
            crd_kinds: objects
                .iter()
                .zip(&refs)
                .filter(|(_, r)| r.kind == "CustomResourceDefinition")
                .filter_map(|(o, _)| {
                    Some((
                        o["spec"]["group"].as_str()?.to_owned(),
                        o["spec"]["names"]["kind"].as_str()?.to_owned(),
                    ))
                })
                .collect(),
            namespaces: refs
                .iter()
                .filter(|r| r.kind == "Namespace" && r.group.is_empty())
                .map(|r| r.name.clone())
                .collect(),
            want_fields,
        };

        let mut changes = ChangeSet::new();
        let mut fields = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let stage = self.stage(&refs[order[start]]);
            let end = order[start..]
                .iter()
                .position(|&i| self.stage(&refs[i]) != stage)
                .map_or(order.len(), |p| start + p);
            let (stage_changes, stage_fields) = self
                .apply_stage(&objects, &refs, &order[start..end], opts, &set)
                .await?;
            fields.extend(stage_fields);
            if stage == Stage::Definitions && !opts.dry_run {
                self.after_definitions(&objects, &order[start..end], &stage_changes, opts)
                    .await?;
            }
            changes.append(stage_changes);
            start = end;
        }
        Ok((changes, fields))
    }

    /// Waits for changed CRDs and Namespaces to be ready and refreshes discovery for the
    /// groups the CRDs serve.
    async fn after_definitions(
        &self,
        objects: &[Value],
        idxs: &[usize],
        changes: &ChangeSet,
        opts: &ApplyOptions,
    ) -> Result<(), ApplyError> {
        // The stage's entries are in `idxs` order.
        let mut wait_for = Vec::new();
        for (&i, entry) in idxs.iter().zip(&changes.entries) {
            if !matches!(entry.action, Action::Created | Action::Configured) {
                continue;
            }
            if entry.object.kind == "CustomResourceDefinition"
                && let (Some(group), Some(versions)) = (
                    objects[i]["spec"]["group"].as_str(),
                    objects[i]["spec"]["versions"].as_array(),
                )
            {
                for v in versions.iter().filter_map(|v| v["name"].as_str()) {
                    self.discovery.invalidate(&format!("{group}/{v}"));
                }
            }
            if matches!(
                entry.object.kind.as_str(),
                "CustomResourceDefinition" | "Namespace"
            ) {
                wait_for.push(entry.object.clone());
            }
        }
        if !wait_for.is_empty() {
            self.wait(
                &wait_for,
                &WaitOptions {
                    timeout: opts.wait_crds_timeout,
                    interval: Duration::from_millis(200),
                    fail_fast: true,
                    custom: Vec::new(),
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn apply_stage(
        &self,
        objects: &[Value],
        refs: &[ObjectRef],
        idxs: &[usize],
        opts: &ApplyOptions,
        set: &SetContext,
    ) -> Result<(ChangeSet, Vec<Vec<String>>), ApplyError> {
        let conc = opts.concurrency.max(1);
        let plans: Vec<Planned> = stream::iter(idxs.iter().copied())
            .map(|i| self.plan(&objects[i], &refs[i], i, opts, set))
            .buffered(conc)
            .try_collect()
            .await?;
        let mut changes = ChangeSet::new();
        if opts.dry_run {
            let mut all_fields = Vec::with_capacity(plans.len());
            for p in plans {
                let (action, fields) = match p.plan {
                    Plan::Skip => (Action::Skipped, Vec::new()),
                    Plan::Unchanged => (Action::Unchanged, Vec::new()),
                    Plan::Write { action, fields, .. } => (action, fields),
                    Plan::Recreate | Plan::WouldCreate => (Action::Created, Vec::new()),
                };
                changes.add(p.object, action);
                all_fields.push(fields);
            }
            return Ok((changes, all_fields));
        }
        let actions: Vec<(ObjectRef, Action)> = stream::iter(plans)
            .map(|p| self.execute(&objects[p.index], p, opts))
            .buffered(conc)
            .try_collect()
            .await?;
        for (object, action) in actions {
            changes.add(object, action);
        }
        Ok((changes, Vec::new()))
    }

    async fn plan(
        &self,
        obj: &Value,
        r: &ObjectRef,
        index: usize,
        opts: &ApplyOptions,
        set: &SetContext,
    ) -> Result<Planned, ApplyError> {
        let mut r = r.clone();
        let Some(res) = self.resource(&r).await? else {
            if opts.dry_run && set.crd_kinds.contains(&(r.group.clone(), r.kind.clone())) {
                return Ok(Planned {
                    index,
                    object: r,
                    resource: None,
                    plan: Plan::WouldCreate,
                });
            }
            return Err(ApplyError::UnknownKind {
                kind: r.kind.clone(),
                api_version: r.api_version(),
                object: r.into(),
            });
        };
        if !res.namespaced {
            r.namespace.clear();
        } else if r.namespace.is_empty() {
            return Err(ApplyError::NamespaceNotSpecified { object: r.into() });
        }
        let planned = |r: ObjectRef, res: Resource, plan: Plan| Planned {
            index,
            object: r,
            resource: Some(res),
            plan,
        };
        let mode = ssa::ssa_mode(obj);
        if mode == SsaMode::Ignore {
            return Ok(planned(r, res, Plan::Skip));
        }
        // The live object and the dry run, at once unless the dry run may be needless.
        let (live, dry) = if mode == SsaMode::IfNotPresent {
            let live = self.get(&res, &r).await;
            if matches!(live, Ok(Some(_))) {
                return Ok(planned(r, res, Plan::Skip));
            }
            (live, self.server_apply(&res, &r, obj, true).await)
        } else {
            tokio::join!(self.get(&res, &r), self.server_apply(&res, &r, obj, true))
        };
        let live = match live {
            Ok(l) => l,
            Err(e) => {
                let (_, message) = describe(&e, &r);
                return Err(ApplyError::Query {
                    object: r.into(),
                    message,
                });
            }
        };
        if live
            .as_ref()
            .is_some_and(|l| ssa::ssa_mode(l) == SsaMode::Ignore)
        {
            return Ok(planned(r, res, Plan::Skip));
        }
        match dry {
            Ok(dry) => {
                let Some(live) = live else {
                    return Ok(planned(
                        r,
                        res,
                        Plan::Write {
                            action: Action::Created,
                            takeover: None,
                            fields: Vec::new(),
                        },
                    ));
                };
                let takeover = if mode == SsaMode::Merge {
                    None
                } else {
                    ssa::takeover_patch(
                        &live,
                        &self.manager,
                        self.managed_fields_writable.load(Ordering::Relaxed),
                    )
                };
                let plan = if takeover.is_some() || ssa::has_drifted(&live, &dry) {
                    let mut fields = Vec::new();
                    if set.want_fields {
                        fields = ssa::drifted_fields(&live, &dry);
                        if takeover.is_some() {
                            fields.push("metadata.managedFields".into());
                        }
                    }
                    Plan::Write {
                        action: Action::Configured,
                        takeover,
                        fields,
                    }
                } else {
                    Plan::Unchanged
                };
                Ok(planned(r, res, plan))
            }
            Err(e) => {
                let (reason, message) = describe(&e, &r);
                // A dry run in a namespace the same set creates.
                if opts.dry_run
                    && live.is_none()
                    && code(&e) == Some(404)
                    && set.namespaces.contains(&r.namespace)
                {
                    return Ok(planned(r, res, Plan::WouldCreate));
                }
                if code(&e) == Some(404) && !message.starts_with("namespaces ") {
                    // The kind may have gone from this version: look it up afresh next time.
                    self.discovery.invalidate(&r.api_version());
                }
                if live.is_some() && is_immutable(&e) {
                    if opts.force || ssa::force_enabled(obj) {
                        return Ok(planned(r, res, Plan::Recreate));
                    }
                    return Err(ApplyError::Immutable {
                        object: r.into(),
                        reason,
                        message,
                    });
                }
                Err(ApplyError::DryRun {
                    object: r.into(),
                    reason,
                    message,
                })
            }
        }
    }

    async fn execute(
        &self,
        obj: &Value,
        p: Planned,
        opts: &ApplyOptions,
    ) -> Result<(ObjectRef, Action), ApplyError> {
        let r = p.object;
        let (plan, res) = match (p.plan, p.resource) {
            (Plan::Skip, _) => return Ok((r, Action::Skipped)),
            (Plan::Unchanged, _) => return Ok((r, Action::Unchanged)),
            (Plan::WouldCreate, _) | (_, None) => return Ok((r, Action::Created)),
            (plan, Some(res)) => (plan, res),
        };
        let action = if let Plan::Write {
            action, takeover, ..
        } = plan
        {
            if let Some(patch) = takeover {
                match self.merge_patch(&res, &r, &patch).await {
                    Ok(after) => {
                        if patch["metadata"].get("managedFields").is_some()
                            && ssa::has_foreign_managers(&after, &self.manager)
                            && self.managed_fields_writable.swap(false, Ordering::Relaxed)
                        {
                            tracing::warn!(
                                object = %r,
                                "the API server ignores writes of metadata.managedFields; \
                                 fields edited with kubectl will not be taken over"
                            );
                        }
                    }
                    Err(e) => {
                        let (_, message) = describe(&e, &r);
                        return Err(ApplyError::Cleanup {
                            object: r.into(),
                            message,
                        });
                    }
                }
            }
            action
        } else {
            tracing::info!(object = %r, "recreating to change immutable fields");
            if let Err(e) = self.delete(&res, &r).await {
                let (_, message) = describe(&e, &r);
                return Err(ApplyError::Delete {
                    object: r.into(),
                    message,
                });
            }
            match self.wait_gone(&res, &r, opts.wait_crds_timeout).await {
                Ok(true) => {}
                Ok(false) => return Err(ApplyError::TerminationTimeout(vec![r])),
                Err(e) => {
                    let (_, message) = describe(&e, &r);
                    return Err(ApplyError::Query {
                        object: r.into(),
                        message,
                    });
                }
            }
            Action::Created
        };
        if let Err(e) = self.server_apply(&res, &r, obj, false).await {
            let (_, message) = describe(&e, &r);
            return Err(ApplyError::Apply {
                object: r.into(),
                message,
            });
        }
        Ok((r, action))
    }

    /// Deletes stale objects (those of an old inventory the new one lacks), namespaced
    /// kinds first, CRDs and Namespaces last, with background propagation. Skips objects
    /// annotated `kustomize.toolkit.fluxcd.io/prune: disabled` (or `…/reconcile: disabled`),
    /// objects already gone,
    /// kinds no longer served, and objects whose labels name another owner than
    /// `owner_labels`.
    pub async fn prune(
        &self,
        stale: &[ObjectRef],
        opts: &PruneOptions,
    ) -> Result<ChangeSet, ApplyError> {
        let mut order: Vec<&ObjectRef> = stale.iter().collect();
        order.sort_by(|a, b| {
            self.stage(a)
                .cmp(&self.stage(b))
                .then_with(|| apply_order(a, b))
        });
        order.reverse();
        let mut changes = ChangeSet::new();
        let mut deleted: Vec<(Resource, ObjectRef)> = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let stage = self.stage(order[start]);
            let end = order[start..]
                .iter()
                .position(|r| self.stage(r) != stage)
                .map_or(order.len(), |p| start + p);
            let results: Vec<(ObjectRef, Action, Option<Resource>)> =
                // futures built first: a closure over `&ObjectRef` inside the stream
                // makes the future not provably `Send` (rustc's higher-ranked lifetimes)
                stream::iter(
                    order[start..end]
                        .iter()
                        .map(|r| self.prune_one(r, opts))
                        .collect::<Vec<_>>(),
                )
                .buffered(4)
                    .try_collect()
                    .await?;
            for (r, action, res) in results {
                if let (Action::Deleted, Some(res)) = (action, res) {
                    deleted.push((res, r.clone()));
                }
                changes.add(r, action);
            }
            start = end;
        }
        if opts.wait && !deleted.is_empty() {
            let deadline = deadline_after(opts.timeout);
            let mut left = Vec::new();
            for (res, r) in &deleted {
                let remaining = deadline.saturating_duration_since(Instant::now());
                match self.wait_gone(res, r, remaining).await {
                    Ok(true) => {}
                    Ok(false) => left.push(r.clone()),
                    Err(e) => {
                        let (_, message) = describe(&e, r);
                        return Err(ApplyError::Query {
                            object: r.clone().into(),
                            message,
                        });
                    }
                }
            }
            if !left.is_empty() {
                return Err(ApplyError::TerminationTimeout(left));
            }
        }
        Ok(changes)
    }

    async fn prune_one(
        &self,
        r: &ObjectRef,
        opts: &PruneOptions,
    ) -> Result<(ObjectRef, Action, Option<Resource>), ApplyError> {
        let mut r = r.clone();
        let Some(res) = self.resource_any_version(&r).await? else {
            return Ok((r, Action::Skipped, None));
        };
        if !res.namespaced {
            r.namespace.clear();
        }
        let live = match self.get(&res, &r).await {
            Ok(Some(l)) => l,
            Ok(None) => return Ok((r, Action::Skipped, None)),
            Err(e) => {
                let (_, message) = describe(&e, &r);
                return Err(ApplyError::Query {
                    object: r.into(),
                    message,
                });
            }
        };
        if ssa::prune_disabled(&live) {
            return Ok((r, Action::Skipped, None));
        }
        let labels = &live["metadata"]["labels"];
        if opts
            .owner_labels
            .iter()
            .any(|(k, v)| labels[k.as_str()].as_str() != Some(v.as_str()))
        {
            return Ok((r, Action::Skipped, None));
        }
        if live["metadata"]["deletionTimestamp"].is_string() {
            return Ok((r, Action::Deleted, Some(res)));
        }
        match self.delete(&res, &r).await {
            Ok(true) => Ok((r, Action::Deleted, Some(res))),
            Ok(false) => Ok((r, Action::Skipped, None)),
            Err(e) => {
                let (_, message) = describe(&e, &r);
                Err(ApplyError::Delete {
                    object: r.into(),
                    message,
                })
            }
        }
    }

    /// Drift ignore rules (Flux's `spec.ignore`): for each object that already exists, the
    /// values at `paths[i]` (JSON pointers, RFC 6901) are replaced by the live ones —
    /// removed when the live object has none — so those fields are neither reported as
    /// drift nor overwritten, while everything else is reconciled. New objects keep
    /// their values.
    pub async fn keep_live_fields(
        &self,
        objects: &mut [Value],
        paths: &[Vec<String>],
    ) -> Result<(), ApplyError> {
        let work: Vec<(usize, ObjectRef)> = objects
            .iter()
            .enumerate()
            .filter(|(i, _)| paths.get(*i).is_some_and(|p| !p.is_empty()))
            .map(|(i, o)| ObjectRef::from_object(o).map(|r| (i, r)))
            .collect::<Result<_, _>>()?;
        let lives: Vec<(usize, Option<Value>)> =
            stream::iter(work.into_iter().map(|(i, r)| async move {
                let Some(res) = self.resource(&r).await? else {
                    return Ok::<_, ApplyError>((i, None));
                };
                let mut r = r;
                if !res.namespaced {
                    r.namespace.clear();
                }
                match self.get(&res, &r).await {
                    Ok(live) => Ok((i, live)),
                    Err(e) => {
                        let (_, message) = describe(&e, &r);
                        Err(ApplyError::Query {
                            object: r.into(),
                            message,
                        })
                    }
                }
            }))
            .buffered(8)
            .try_collect()
            .await?;
        for (i, live) in lives {
            let Some(live) = live else { continue };
            for pointer in &paths[i] {
                match live.pointer(pointer) {
                    Some(v) => set_pointer(&mut objects[i], pointer, v.clone()),
                    None => remove_pointer(&mut objects[i], pointer),
                }
            }
        }
        Ok(())
    }

    /// The kstatus of one object on the cluster.
    pub async fn status(&self, r: &ObjectRef) -> (Status, String) {
        self.status_with(r, &[]).await
    }

    /// The status of one object on the cluster, by `custom` checks for the kinds they
    /// name and kstatus rules for the rest.
    pub async fn status_with(
        &self,
        r: &ObjectRef,
        custom: &[kstatus::CustomCheck],
    ) -> (Status, String) {
        let res = match self.resource_any_version(r).await {
            Ok(Some(res)) => res,
            Ok(None) => {
                return (
                    Status::NotFound,
                    format!("kind {} not served in {}", r.kind, r.api_version()),
                );
            }
            Err(e) => return (Status::Unknown, e.to_string()),
        };
        let mut r = r.clone();
        if !res.namespaced {
            r.namespace.clear();
        }
        match self.get(&res, &r).await {
            Ok(Some(live)) => kstatus::compute_with(&live, custom),
            Ok(None) => (Status::NotFound, "Resource not found".into()),
            Err(e) => (Status::Unknown, describe(&e, &r).1),
        }
    }

    /// Polls `objects` until all are `Current`. Fails with the objects not ready and
    /// their status on timeout (`timeout waiting for: [...]`), or as soon as one is
    /// `Failed` when `fail_fast` is set.
    pub async fn wait(&self, objects: &[ObjectRef], opts: &WaitOptions) -> Result<(), ApplyError> {
        let deadline = deadline_after(opts.timeout);
        let mut pending: Vec<&ObjectRef> = objects.iter().collect();
        loop {
            let statuses: Vec<(Status, String)> = stream::iter(
                pending
                    .iter()
                    .map(|r| self.status_with(r, &opts.custom))
                    .collect::<Vec<_>>(),
            )
            .buffered(8)
            .collect()
            .await;
            let mut not_ready = Vec::new();
            let mut still = Vec::new();
            for (r, (status, message)) in pending.iter().copied().zip(statuses) {
                if status != Status::Current {
                    still.push(r);
                    not_ready.push(NotReady {
                        object: r.clone(),
                        status,
                        message,
                    });
                }
            }
            if not_ready.is_empty() {
                return Ok(());
            }
            if opts.fail_fast && not_ready.iter().any(|n| n.status == Status::Failed) {
                return Err(ApplyError::WaitFailed(
                    not_ready
                        .into_iter()
                        .filter(|n| n.status == Status::Failed)
                        .collect(),
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ApplyError::WaitTimeout(not_ready));
            }
            pending = still;
            tokio::time::sleep(
                opts.interval
                    .max(Duration::from_millis(10))
                    .min(deadline - now),
            )
            .await;
        }
    }
}

/// The reference tokens of a JSON pointer (`~1` is `/`, `~0` is `~`).
fn pointer_tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Sets the value at a JSON pointer, creating missing objects on the way; an array index
/// that does not exist (or a scalar in the way) leaves the document as it is.
fn set_pointer(doc: &mut Value, pointer: &str, value: Value) {
    let tokens = pointer_tokens(pointer);
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut cur = doc;
    for t in parents {
        cur = match cur {
            Value::Object(m) => m
                .entry(t.clone())
                .or_insert_with(|| Value::Object(Default::default())),
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match cur {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

/// Removes the value at a JSON pointer, if there is one.
fn remove_pointer(doc: &mut Value, pointer: &str) {
    let tokens = pointer_tokens(pointer);
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut cur = doc;
    for t in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(t) {
                Some(v) => v,
                None => return,
            },
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match cur {
        Value::Object(m) => {
            m.remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Now plus `timeout`, saturating (a year) instead of overflowing.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

#[cfg(test)]
mod pointer_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_set_and_remove() {
        let mut d = json!({"spec": {"replicas": 2, "template": {"metadata": {"annotations": {"a/b": "1"}}}},
                           "list": [1, 2, 3]});
        set_pointer(&mut d, "/spec/replicas", json!(5));
        assert_eq!(d["spec"]["replicas"], 5);
        set_pointer(&mut d, "/metadata/annotations/x~1y", json!("v"));
        assert_eq!(d["metadata"]["annotations"]["x/y"], "v");
        set_pointer(&mut d, "/list/1", json!(9));
        assert_eq!(d["list"], json!([1, 9, 3]));
        set_pointer(&mut d, "/list/7", json!(9)); // no such index: unchanged
        assert_eq!(d["list"], json!([1, 9, 3]));
        set_pointer(&mut d, "/spec/replicas/deeper", json!(1)); // scalar in the way
        assert_eq!(d["spec"]["replicas"], 5);
        remove_pointer(&mut d, "/spec/template/metadata/annotations/a~1b");
        assert_eq!(d["spec"]["template"]["metadata"]["annotations"], json!({}));
        remove_pointer(&mut d, "/list/0");
        assert_eq!(d["list"], json!([9, 3]));
        remove_pointer(&mut d, "/nothing/here");
        set_pointer(&mut d, "", json!(1)); // the root is never replaced
        assert!(d.is_object());
    }
}
