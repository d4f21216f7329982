//! Helm's release actions — install, upgrade, rollback, uninstall, test — with hooks, over
//! a [`Cluster`]. The records they write are Helm's (see [`super::storage`]), their
//! statuses and descriptions Helm's (`Install complete`, `Upgrade "x" failed: …`), so the
//! `helm` CLI reads, rolls back and uninstalls what they made, and they take over what
//! `helm` made.
//!
//! Resources are server-side applied ([`Cluster::apply`]); objects get Helm's ownership
//! metadata (`app.kubernetes.io/managed-by: Helm`, `meta.helm.sh/release-name`,
//! `meta.helm.sh/release-namespace`); objects that exist without it are adopted only with
//! `take_ownership`. Objects annotated `helm.sh/resource-policy: keep` survive upgrades
//! and uninstalls.

use super::cluster::{ApplyParams, Cluster, ClusterError, ObjectKey, Propagation};
use super::model::{ChartRecord, Hook, HookExecution, Release, Status, now};
use super::storage::{Storage, StorageError};
use crate::chart::Chart;
use crate::render::{HOOK_ANNOTATION, RenderOptions, render_chart, split_manifests};
use crate::values::Values;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// The label Helm puts on every object of a release.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The release-name annotation.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// The release-namespace annotation.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// `helm.sh/resource-policy`; `keep` spares an object on upgrade and uninstall.
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// A failed action: Helm's message, and the release record as it was left (failed,
/// superseded …) when one was written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ActionError {
    /// What went wrong, in Helm's words.
    pub message: String,
    /// The record the action wrote, if it got that far.
    pub release: Option<Box<Release>>,
}

impl ActionError {
    fn new(message: impl Into<String>) -> Self {
        ActionError {
            message: message.into(),
            release: None,
        }
    }

    fn with(message: impl Into<String>, rel: &Release) -> Self {
        ActionError {
            message: message.into(),
            release: Some(Box::new(rel.clone())),
        }
    }
}

impl From<StorageError> for ActionError {
    fn from(e: StorageError) -> Self {
        ActionError::new(e.to_string())
    }
}

impl From<ClusterError> for ActionError {
    fn from(e: ClusterError) -> Self {
        ActionError::new(e.to_string())
    }
}

/// Rewrites rendered manifests before they are applied (Helm's post-renderers; Flux's
/// kustomize post-renderers). Gets and returns a multi-document YAML stream.
pub trait PostRenderer: Sync {
    /// The rewritten manifests, or why not.
    fn run(&self, manifests: &str) -> Result<String, String>;
}

/// What to do with the chart's `crds/` (Flux's `crds` policies; Helm installs missing
/// CRDs and never upgrades them, which is `Create`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrdPolicy {
    /// Leave CRDs alone.
    Skip,
    /// Create the missing ones.
    #[default]
    Create,
    /// Create the missing ones and update the others.
    CreateReplace,
}

/// Waiting behaviour shared by the actions.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// How long each wait (resources, each hook) may take.
    pub timeout: Duration,
    /// Wait for resources to be ready.
    pub resources: bool,
    /// Wait for Jobs to complete too.
    pub jobs: bool,
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            timeout: Duration::from_secs(300),
            resources: true,
            jobs: true,
        }
    }
}

/// Options of [`Actions::install`].
#[derive(Default)]
pub struct InstallOptions<'a> {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Waiting.
    pub wait: Wait,
    /// Skip hooks.
    pub disable_hooks: bool,
    /// Create the release namespace when missing.
    pub create_namespace: bool,
    /// `crds/` policy.
    pub crds: CrdPolicy,
    /// Adopt existing objects that lack Helm's ownership metadata.
    pub take_ownership: bool,
    /// Reuse the name of an uninstalled or failed release.
    pub replace: bool,
    /// Uninstall on failure (`--atomic` / `--rollback-on-failure`).
    pub atomic: bool,
    /// Description instead of `Install complete`.
    pub description: Option<String>,
    /// Post-renderer of the manifests.
    pub post_renderer: Option<&'a dyn PostRenderer>,
    /// Post-render hooks too (each separately).
    pub post_render_hooks: bool,
    /// Custom storage labels.
    pub labels: BTreeMap<String, String>,
}

/// Options of [`Actions::upgrade`].
#[derive(Default)]
pub struct UpgradeOptions<'a> {
    /// Release name.
    pub name: String,
    /// Release namespace (of a new record; the current release's wins, as in Helm).
    pub namespace: String,
    /// Waiting.
    pub wait: Wait,
    /// Skip hooks.
    pub disable_hooks: bool,
    /// `crds/` policy.
    pub crds: CrdPolicy,
    /// Adopt existing objects that lack Helm's ownership metadata.
    pub take_ownership: bool,
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// Delete the objects this upgrade created when it fails.
    pub cleanup_on_fail: bool,
    /// Merge the new values over the current release's (`--reuse-values`).
    pub reuse_values: bool,
    /// Roll back on failure (`--atomic`).
    pub atomic: bool,
    /// Description instead of `Upgrade complete`.
    pub description: Option<String>,
    /// Post-renderer of the manifests.
    pub post_renderer: Option<&'a dyn PostRenderer>,
    /// Post-render hooks too (each separately).
    pub post_render_hooks: bool,
    /// Custom storage labels.
    pub labels: BTreeMap<String, String>,
}

/// Options of [`Actions::rollback`].
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Release name.
    pub name: String,
    /// Revision to go back to; 0: the one before the latest.
    pub version: i64,
    /// Waiting.
    pub wait: Wait,
    /// Skip hooks.
    pub disable_hooks: bool,
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// Delete the objects the rollback created when it fails.
    pub cleanup_on_fail: bool,
    /// Description instead of `Rollback to N`.
    pub description: Option<String>,
}

/// Options of [`Actions::uninstall`].
#[derive(Debug, Clone, Default)]
pub struct UninstallOptions {
    /// Release name.
    pub name: String,
    /// Wait for the objects to be gone (`timeout` from `wait`).
    pub wait: Wait,
    /// Skip hooks.
    pub disable_hooks: bool,
    /// Keep the records (status `uninstalled`).
    pub keep_history: bool,
    /// How dependants are deleted.
    pub propagation: Propagation,
    /// Description instead of `Uninstallation complete`.
    pub description: Option<String>,
}

/// Options of [`Actions::test`].
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Release name.
    pub name: String,
    /// How long each test may take.
    pub timeout: Duration,
    /// Test hooks to run (empty: all) …
    pub include: Vec<String>,
    /// … and to skip.
    pub exclude: Vec<String>,
}

/// The release actions against one cluster and one storage namespace.
pub struct Actions<'c, C: Cluster> {
    /// The cluster.
    pub cluster: &'c C,
    /// Where records live.
    pub storage: Storage<'c, C>,
    /// `.Capabilities.KubeVersion` (`v1.35.0`).
    pub kube_version: String,
    /// Extra `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
}

/// Helm's release name rule: a DNS-1123 subdomain of at most 53 characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 53 {
        return Err(format!(
            "release name \"{name}\": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"
        ));
    }
    let ok = name.split('.').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    });
    if !ok {
        return Err(format!(
            "release name \"{name}\": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"
        ));
    }
    Ok(())
}

/// The manifests of a render as Helm records them (`---\n# Source: …\n…\n` per document).
fn manifest_text(manifests: &[crate::render::Manifest]) -> String {
    let mut s = String::new();
    for m in manifests {
        s.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content));
    }
    s
}

/// Integral numbers as integers: Helm's YAML reading (like Go's `interface{}` JSON) makes
/// every number a float, while Kubernetes decodes manifests with integers kept (`port: 80`
/// must not go out as `80.0`).
fn integers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && !n.is_i64()
                && !n.is_u64()
                && f.fract() == 0.0
                && f.abs() < 9.007_199_254_740_992e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integers),
        Value::Object(m) => m.values_mut().for_each(integers),
        _ => {}
    }
}

/// Parses a manifest stream into objects (`List`s flattened; empty documents skipped).
pub fn parse_objects(manifest: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in split_manifests(manifest) {
        let source = doc
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .unwrap_or("manifest")
            .to_owned();
        let docs = crate::yaml::parse_all(&doc).map_err(|e| format!("{source}: {e}"))?;
        for mut v in docs {
            integers(&mut v);
            match v {
                Value::Null => {}
                Value::Object(_)
                    if v["kind"].as_str().is_some_and(|k| k.ends_with("List"))
                        && v["items"].is_array() =>
                {
                    out.extend(v["items"].as_array().cloned().unwrap_or_default());
                }
                Value::Object(_) => {
                    if v["kind"].as_str().unwrap_or_default().is_empty()
                        || v["apiVersion"].as_str().unwrap_or_default().is_empty()
                    {
                        return Err(format!(
                            "{source}: unable to decode: Object 'Kind' is missing or 'apiVersion' is missing"
                        ));
                    }
                    out.push(v);
                }
                other => {
                    return Err(format!(
                        "{source}: expected an object, got {}",
                        crate::yaml::json_type_name(&other)
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn annotation<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj["metadata"]["annotations"][key].as_str()
}

fn keep_policy(obj: &Value) -> bool {
    annotation(obj, RESOURCE_POLICY_ANNOTATION).is_some_and(|p| p.trim() == "keep")
}

/// Adds Helm's ownership label and annotations.
fn set_owner_metadata(obj: &mut Value, name: &str, namespace: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels[MANAGED_BY_LABEL] = json!("Helm");
    let ann = meta.entry("annotations").or_insert_with(|| json!({}));
    if !ann.is_object() {
        *ann = json!({});
    }
    ann[RELEASE_NAME_ANNOTATION] = json!(name);
    ann[RELEASE_NAMESPACE_ANNOTATION] = json!(namespace);
}

/// Helm's ownership check of a live object.
fn check_ownership(
    live: &Value,
    key: &ObjectKey,
    name: &str,
    namespace: &str,
) -> Result<(), String> {
    let mut errs = Vec::new();
    if live["metadata"]["labels"][MANAGED_BY_LABEL].as_str() != Some("Helm") {
        errs.push(format!(
            "missing key \"{MANAGED_BY_LABEL}\": must be set to \"Helm\""
        ));
    }
    match annotation(live, RELEASE_NAME_ANNOTATION) {
        None => errs.push(format!(
            "missing key \"{RELEASE_NAME_ANNOTATION}\": must be set to \"{name}\""
        )),
        Some(v) if v != name => errs.push(format!(
            "key \"{RELEASE_NAME_ANNOTATION}\" must equal \"{name}\": current value is \"{v}\""
        )),
        _ => {}
    }
    match annotation(live, RELEASE_NAMESPACE_ANNOTATION) {
        None => errs.push(format!(
            "missing key \"{RELEASE_NAMESPACE_ANNOTATION}\": must be set to \"{namespace}\""
        )),
        Some(v) if v != namespace => errs.push(format!(
            "key \"{RELEASE_NAMESPACE_ANNOTATION}\" must equal \"{namespace}\": current value is \"{v}\""
        )),
        _ => {}
    }
    if errs.is_empty() {
        return Ok(());
    }
    let ns = if key.namespace.is_empty() {
        String::new()
    } else {
        format!(" in namespace \"{}\"", key.namespace)
    };
    Err(format!(
        "{} \"{}\"{ns} exists and cannot be imported into the current release: invalid ownership metadata; {}",
        key.kind,
        key.name,
        errs.join("; ")
    ))
}

fn uninstall_rank(kind: &str) -> usize {
    // the reverse of the install order; unknown kinds go first
    match crate::render::INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => crate::render::INSTALL_ORDER.len() - i,
        None => 0,
    }
}

/// Objects of a record, with namespaces defaulted (for deletes: kinds the cluster does not
/// serve any more are dropped).
struct Built {
    objects: Vec<Value>,
    keys: Vec<ObjectKey>,
}

impl<'c, C: Cluster> Actions<'c, C> {
    /// Actions in this storage namespace.
    pub fn new(cluster: &'c C, storage_namespace: &str) -> Self {
        Actions {
            cluster,
            storage: Storage::new(cluster, storage_namespace),
            kube_version: RenderOptions::default().kube_version,
            api_versions: Vec::new(),
        }
    }

    /// Sets namespaces on namespaced objects without one; fails on kinds the cluster does
    /// not serve (unless a CRD of the same set defines them, or `lenient`, which drops
    /// them: deleting what cannot exist).
    async fn build(
        &self,
        mut objects: Vec<Value>,
        namespace: &str,
        lenient: bool,
    ) -> Result<Built, String> {
        // kinds defined by CRDs of the set: (group, kind) -> namespaced
        let mut crd_scope: HashMap<(String, String), bool> = HashMap::new();
        for o in &objects {
            if o["kind"] == "CustomResourceDefinition" {
                let group = o["spec"]["group"].as_str().unwrap_or_default().to_owned();
                let kind = o["spec"]["names"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                crd_scope.insert((group, kind), o["spec"]["scope"] != "Cluster");
            }
        }
        let mut cache: HashMap<(String, String), Option<bool>> = HashMap::new();
        let mut keep = Vec::with_capacity(objects.len());
        for o in objects.iter_mut() {
            let api_version = o["apiVersion"].as_str().unwrap_or_default().to_owned();
            let kind = o["kind"].as_str().unwrap_or_default().to_owned();
            let ck = (api_version.clone(), kind.clone());
            let scope = match cache.get(&ck) {
                Some(s) => *s,
                None => {
                    let s = self
                        .cluster
                        .namespaced(&api_version, &kind)
                        .await
                        .map_err(|e| e.to_string())?;
                    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
                    let s = s.or_else(|| crd_scope.get(&(group.to_owned(), kind.clone())).copied());
                    cache.insert(ck, s);
                    s
                }
            };
            match scope {
                Some(true) => {
                    if o["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .is_empty()
                    {
                        o["metadata"]["namespace"] = json!(namespace);
                    }
                    keep.push(true);
                }
                Some(false) => {
                    if let Some(m) = o["metadata"].as_object_mut() {
                        m.remove("namespace");
                    }
                    keep.push(true);
                }
                None if lenient => keep.push(false),
                None => {
                    return Err(format!(
                        "resource mapping not found for name: \"{}\" namespace: \"{}\" from \"\": no matches for kind \"{kind}\" in version \"{api_version}\"\nensure CRDs are installed first",
                        o["metadata"]["name"].as_str().unwrap_or_default(),
                        o["metadata"]["namespace"].as_str().unwrap_or_default(),
                    ));
                }
            }
        }
        let mut i = 0;
        objects.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let keys = objects.iter().map(ObjectKey::of).collect();
        Ok(Built { objects, keys })
    }

    /// The objects of a release as its actions apply them: namespaces defaulted (kinds the
    /// cluster does not serve left out), Helm's ownership metadata set. For drift detection
    /// and correction.
    pub async fn objects(&self, rel: &Release) -> Result<Vec<Value>, String> {
        let objects = parse_objects(&rel.manifest)?;
        let mut built = self.build(objects, &rel.namespace, true).await?;
        for o in &mut built.objects {
            set_owner_metadata(o, &rel.name, &rel.namespace);
        }
        Ok(built.objects)
    }

    /// The objects Flux lists in a HelmRelease's `status.inventory` for a release: the
    /// manifest's objects that are not hooks, namespaces defaulted (kinds the cluster does
    /// not serve left out), then the CRDs in the `crds/` directories of `chart`.
    pub async fn inventory(
        &self,
        rel: &Release,
        chart: Option<&Chart>,
    ) -> Result<Vec<Value>, String> {
        let objects: Vec<Value> = parse_objects(&rel.manifest)?
            .into_iter()
            .filter(|o| o["metadata"]["annotations"].get(HOOK_ANNOTATION).is_none())
            .collect();
        let mut objects = self.build(objects, &rel.namespace, true).await?.objects;
        for (name, data) in chart.map(Chart::crds).unwrap_or_default() {
            let data = data
                .bytes()
                .map_err(|e| format!("failed to parse CRD {name}: {e}"))?;
            let text = String::from_utf8_lossy(data);
            objects.extend(
                parse_objects(&text).map_err(|e| format!("failed to parse CRD {name}: {e}"))?,
            );
        }
        Ok(objects)
    }

    /// The chart's `crds/` per policy, then waits for them to be established.
    async fn install_crds(
        &self,
        rendered: &crate::Rendered,
        policy: CrdPolicy,
        wait: &Wait,
    ) -> Result<(), String> {
        if policy == CrdPolicy::Skip || rendered.crds.is_empty() {
            return Ok(());
        }
        let mut objects = Vec::new();
        for (name, data) in &rendered.crds {
            let data = data
                .bytes()
                .map_err(|e| format!("failed to install CRD {name}: {e}"))?;
            let text = String::from_utf8_lossy(data);
            let objs =
                parse_objects(&text).map_err(|e| format!("failed to install CRD {name}: {e}"))?;
            objects.extend(objs);
        }
        let mut todo = Vec::new();
        for o in objects {
            let key = ObjectKey::of(&o);
            let exists = self
                .cluster
                .get(&key)
                .await
                .map_err(|e| e.to_string())?
                .is_some();
            if !exists || policy == CrdPolicy::CreateReplace {
                todo.push(o);
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let keys: Vec<ObjectKey> = todo.iter().map(ObjectKey::of).collect();
        self.cluster
            .apply(todo, &ApplyParams::default())
            .await
            .map_err(|e| format!("failed to install CRD: {e}"))?;
        self.cluster
            .wait_ready(&keys, wait.timeout, false)
            .await
            .map_err(|e| format!("failed to install CRD: {e}"))
    }

    async fn record(&self, rel: &Release) {
        // as Helm's recordRelease: a failed write is logged, not fatal
        if let Err(e) = self.storage.update(rel).await {
            tracing::warn!(
                release = rel.name,
                version = rel.version,
                "failed to update release: {e}"
            );
        }
    }

    /// Runs the hooks of `event` in weight order (Helm's `execHook`): deletes an old copy
    /// per `before-hook-creation` (the default policy), creates each hook, waits for it
    /// (Jobs to complete, Pods to succeed), records its last run; then deletes hooks per
    /// `hook-succeeded` / `hook-failed`.
    async fn exec_hooks(
        &self,
        rel: &mut Release,
        event: &str,
        timeout: Duration,
        skip: &(dyn Fn(&Hook) -> bool + Sync),
    ) -> Result<(), String> {
        let order: Vec<usize> = rel
            .hooks_for(event)
            .into_iter()
            .filter(|&i| !skip(&rel.hooks[i]))
            .collect();
        let mut done = Vec::new();
        for &i in &order {
            if rel.hooks[i].delete_policies.is_empty() {
                rel.hooks[i].delete_policies = vec!["before-hook-creation".into()];
            }
            let h = rel.hooks[i].clone();
            if h.has_policy("before-hook-creation") {
                self.delete_hook(&h, &rel.namespace, timeout).await?;
            }
            let objects = parse_objects(&h.manifest).map_err(|e| {
                format!(
                    "unable to build kubernetes object for {event} hook {}: {e}",
                    h.path
                )
            })?;
            let built = self
                .build(objects, &rel.namespace, false)
                .await
                .map_err(|e| {
                    format!(
                        "unable to build kubernetes object for {event} hook {}: {e}",
                        h.path
                    )
                })?;
            rel.hooks[i].last_run = HookExecution {
                started_at: Some(now()),
                completed_at: None,
                phase: "Running".into(),
            };
            self.record(rel).await;
            if let Err(e) = self
                .cluster
                .apply(built.objects, &ApplyParams::default())
                .await
            {
                rel.hooks[i].last_run.completed_at = Some(now());
                rel.hooks[i].last_run.phase = "Failed".into();
                return Err(format!("warning: Hook {event} {} failed: {e}", h.path));
            }
            let res = self.cluster.wait_ready(&built.keys, timeout, true).await;
            rel.hooks[i].last_run.completed_at = Some(now());
            if let Err(e) = res {
                rel.hooks[i].last_run.phase = "Failed".into();
                if h.has_policy("hook-failed") {
                    let _ = self.delete_hook(&h, &rel.namespace, timeout).await;
                }
                for &j in &done {
                    let d: &Hook = &rel.hooks[j];
                    if d.has_policy("hook-succeeded") {
                        let _ = self.delete_hook(&d.clone(), &rel.namespace, timeout).await;
                    }
                }
                return Err(format!("warning: Hook {event} {} failed: {e}", h.path));
            }
            rel.hooks[i].last_run.phase = "Succeeded".into();
            done.push(i);
        }
        for &i in done.iter().rev() {
            let h = rel.hooks[i].clone();
            if h.has_policy("hook-succeeded") {
                self.delete_hook(&h, &rel.namespace, timeout).await?;
            }
        }
        Ok(())
    }

    async fn delete_hook(
        &self,
        h: &Hook,
        namespace: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        if h.kind == "CustomResourceDefinition" {
            return Ok(());
        }
        let objects = parse_objects(&h.manifest).map_err(|e| {
            format!(
                "unable to build kubernetes object for deleting hook {}: {e}",
                h.path
            )
        })?;
        let built = self.build(objects, namespace, true).await?;
        let mut gone = Vec::new();
        for k in &built.keys {
            if self
                .cluster
                .delete(k, Propagation::Background)
                .await
                .map_err(|e| e.to_string())?
            {
                gone.push(k.clone());
            }
        }
        if !gone.is_empty() {
            self.cluster
                .wait_deleted(&gone, timeout)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Renders the chart for a revision: CRDs aside, manifests (post-rendered), hooks.
    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        chart: &Chart,
        values: &Values,
        name: &str,
        namespace: &str,
        revision: i64,
        is_upgrade: bool,
        post: Option<&dyn PostRenderer>,
        post_hooks: bool,
    ) -> Result<(crate::Rendered, String, Vec<Hook>), String> {
        let opts = RenderOptions {
            name: name.into(),
            namespace: namespace.into(),
            revision,
            is_upgrade,
            kube_version: self.kube_version.clone(),
            api_versions: self.api_versions.clone(),
            include_crds: false,
            skip_tests: false,
            disable_hooks: false,
            one_shot: false,
        };
        let rendered = render_chart(chart, values, &opts).map_err(|e| e.to_string())?;
        let mut manifest = manifest_text(&rendered.manifests);
        let mut hooks: Vec<Hook> = rendered.hooks.iter().map(Hook::from).collect();
        if let Some(p) = post {
            manifest = p
                .run(&manifest)
                .map_err(|e| format!("error while running post render on files: {e}"))?;
            if post_hooks {
                for h in &mut hooks {
                    h.manifest = p
                        .run(&h.manifest)
                        .map_err(|e| format!("error while running post render on files: {e}"))?
                        .trim_start_matches("---\n")
                        .trim_end()
                        .to_owned();
                }
            }
        }
        Ok((rendered, manifest, hooks))
    }

    /// Checks the objects against the cluster: those that exist must be this release's
    /// (or be adopted); returns the keys of those that do not exist yet.
    async fn check_existing(
        &self,
        built: &Built,
        name: &str,
        namespace: &str,
        take: bool,
        owned: &HashSet<ObjectKey>,
    ) -> Result<HashSet<ObjectKey>, String> {
        let mut created = HashSet::new();
        for k in &built.keys {
            match self.cluster.get(k).await.map_err(|e| e.to_string())? {
                None => {
                    created.insert(k.clone());
                }
                Some(live) => {
                    if !take && !owned.contains(k) {
                        check_ownership(&live, k, name, namespace)?;
                    }
                }
            }
        }
        Ok(created)
    }

    /// Installs a chart as revision 1 (or the next revision, when `replace` reuses the name
    /// of an uninstalled or failed release).
    pub async fn install(
        &self,
        chart: &Chart,
        values: &Values,
        o: &InstallOptions<'_>,
    ) -> Result<Release, ActionError> {
        validate_name(&o.name)
            .map_err(|e| ActionError::new(format!("release name check failed: {e}")))?;
        let (history, _) = self.storage.history(&o.name).await?;
        let last = history.last();
        if let Some(last) = last {
            let st = last.info.status;
            if !(o.replace && (st == Status::Uninstalled || st == Status::Failed)) {
                return Err(ActionError::new("cannot reuse a name that is still in use"));
            }
        }
        let version = last.map_or(1, |l| l.version + 1);
        let (rendered, manifest, hooks) = self
            .render(
                chart,
                values,
                &o.name,
                &o.namespace,
                version,
                false,
                o.post_renderer,
                o.post_render_hooks,
            )
            .map_err(ActionError::new)?;
        self.install_crds(&rendered, o.crds, &o.wait)
            .await
            .map_err(|e| ActionError::new(format!("failed to install CRDs: {e}")))?;
        let ts = now();
        let mut rel = Release {
            name: o.name.clone(),
            namespace: o.namespace.clone(),
            version,
            chart: Some(ChartRecord::of(chart).map_err(|e| ActionError::new(e.to_string()))?),
            config: values.clone(),
            manifest,
            hooks,
            apply_method: "ssa".into(),
            labels: o.labels.clone(),
            ..Release::default()
        };
        rel.info.first_deployed = Some(ts.clone());
        rel.info.last_deployed = Some(ts);
        rel.info.status = Status::PendingInstall;
        rel.info.description = "Initial install underway".into();
        rel.info.notes = rendered.notes.clone();
        let objects = parse_objects(&rel.manifest).map_err(|e| {
            ActionError::new(format!(
                "unable to build kubernetes objects from release manifest: {e}"
            ))
        })?;
        if o.create_namespace {
            let ns =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": o.namespace}});
            if self.cluster.get(&ObjectKey::of(&ns)).await?.is_none() {
                self.cluster
                    .apply(vec![ns], &ApplyParams::default())
                    .await
                    .map_err(|e| ActionError::new(format!("failed to create namespace: {e}")))?;
            }
        }
        let mut built = self
            .build(objects, &o.namespace, false)
            .await
            .map_err(|e| {
                ActionError::new(format!(
                    "unable to build kubernetes objects from release manifest: {e}"
                ))
            })?;
        self.check_existing(
            &built,
            &o.name,
            &o.namespace,
            o.take_ownership,
            &HashSet::new(),
        )
        .await
        .map_err(|e| ActionError::new(format!("Unable to continue with install: {e}")))?;
        for obj in &mut built.objects {
            set_owner_metadata(obj, &o.name, &o.namespace);
        }
        if let Some(prev) = last {
            // replacing: the old record is superseded
            let mut prev = prev.clone();
            prev.info.status = Status::Superseded;
            prev.info.description = "superseded by new release".into();
            self.record(&prev).await;
        }
        self.storage.create(&rel).await?;
        match self.perform_install(&mut rel, built, o).await {
            Ok(()) => {
                rel.info.status = Status::Deployed;
                rel.info.description = o
                    .description
                    .clone()
                    .unwrap_or_else(|| "Install complete".into());
                self.record(&rel).await;
                Ok(rel)
            }
            Err(e) => {
                rel.info.status = Status::Failed;
                rel.info.description = format!("Release \"{}\" failed: {e}", o.name);
                self.record(&rel).await;
                if o.atomic {
                    let un = UninstallOptions {
                        name: o.name.clone(),
                        wait: o.wait,
                        disable_hooks: o.disable_hooks,
                        ..UninstallOptions::default()
                    };
                    if let Err(ue) = Box::pin(self.uninstall(&un)).await {
                        return Err(ActionError::with(
                            format!(
                                "an error occurred while uninstalling the release. original install error: {e}: {ue}"
                            ),
                            &rel,
                        ));
                    }
                    return Err(ActionError::with(
                        format!(
                            "release {} failed, and has been uninstalled due to rollback-on-failure being set: {e}",
                            o.name
                        ),
                        &rel,
                    ));
                }
                Err(ActionError::with(e, &rel))
            }
        }
    }

    async fn perform_install(
        &self,
        rel: &mut Release,
        built: Built,
        o: &InstallOptions<'_>,
    ) -> Result<(), String> {
        let no_skip = |_: &Hook| false;
        if !o.disable_hooks {
            self.exec_hooks(rel, "pre-install", o.wait.timeout, &no_skip)
                .await
                .map_err(|e| format!("failed pre-install: {e}"))?;
        }
        let keys = built.keys.clone();
        self.cluster
            .apply(built.objects, &ApplyParams::default())
            .await
            .map_err(|e| e.to_string())?;
        if o.wait.resources {
            self.cluster
                .wait_ready(&keys, o.wait.timeout, o.wait.jobs)
                .await
                .map_err(|e| e.to_string())?;
        }
        if !o.disable_hooks {
            self.exec_hooks(rel, "post-install", o.wait.timeout, &no_skip)
                .await
                .map_err(|e| format!("failed post-install: {e}"))?;
        }
        Ok(())
    }

    /// Deletes objects of `old` that `new` lacks, unless kept (`helm.sh/resource-policy:
    /// keep` on the live object).
    async fn delete_stale(&self, old: &Built, new: &HashSet<ObjectKey>) -> Result<(), String> {
        let mut stale: Vec<&ObjectKey> = old.keys.iter().filter(|k| !new.contains(*k)).collect();
        stale.sort_by_key(|k| uninstall_rank(&k.kind));
        for k in stale {
            let Some(live) = self.cluster.get(k).await.map_err(|e| e.to_string())? else {
                continue;
            };
            if keep_policy(&live) {
                continue;
            }
            self.cluster
                .delete(k, Propagation::Background)
                .await
                .map_err(|e| format!("failed to delete {k}: {e}"))?;
        }
        Ok(())
    }

    /// Upgrades a release to a chart and values: a new revision, the previous one
    /// superseded; on failure the new revision is `failed` (and, with `atomic`, rolled back).
    pub async fn upgrade(
        &self,
        chart: &Chart,
        values: &Values,
        o: &UpgradeOptions<'_>,
    ) -> Result<Release, ActionError> {
        validate_name(&o.name)
            .map_err(|_| ActionError::new(format!("release name is invalid: {}", o.name)))?;
        let (history, _) = self.storage.history(&o.name).await?;
        let Some(last) = history.last().cloned() else {
            return Err(ActionError::new(format!(
                "\"{}\" has no deployed releases",
                o.name
            )));
        };
        if last.info.status.is_pending() {
            return Err(ActionError::new(
                "another operation (install/upgrade/rollback) is in progress",
            ));
        }
        let current = if last.info.status == Status::Deployed {
            last.clone()
        } else {
            match history
                .iter()
                .rev()
                .find(|r| r.info.status == Status::Deployed)
            {
                Some(r) => r.clone(),
                None if matches!(last.info.status, Status::Failed | Status::Superseded) => {
                    last.clone()
                }
                None => {
                    return Err(ActionError::new(format!(
                        "\"{}\" has no deployed releases",
                        o.name
                    )));
                }
            }
        };
        let values = if o.reuse_values {
            crate::values::merge_maps(&current.config, values)
        } else {
            values.clone()
        };
        let namespace = if current.namespace.is_empty() {
            o.namespace.clone()
        } else {
            current.namespace.clone()
        };
        let version = last.version + 1;
        let (rendered, manifest, hooks) = self
            .render(
                chart,
                &values,
                &o.name,
                &namespace,
                version,
                true,
                o.post_renderer,
                o.post_render_hooks,
            )
            .map_err(ActionError::new)?;
        self.install_crds(&rendered, o.crds, &o.wait)
            .await
            .map_err(|e| {
                ActionError::new(format!("failed to apply CustomResourceDefinitions: {e}"))
            })?;
        let mut rel = Release {
            name: o.name.clone(),
            namespace: namespace.clone(),
            version,
            chart: Some(ChartRecord::of(chart).map_err(|e| ActionError::new(e.to_string()))?),
            config: values,
            manifest,
            hooks,
            apply_method: "ssa".into(),
            labels: if o.labels.is_empty() {
                current.labels.clone()
            } else {
                o.labels.clone()
            },
            ..Release::default()
        };
        rel.info.first_deployed = current.info.first_deployed.clone();
        rel.info.last_deployed = Some(now());
        rel.info.status = Status::PendingUpgrade;
        rel.info.description = "Preparing upgrade".into();
        rel.info.notes = rendered.notes.clone();
        let old_objects = parse_objects(&current.manifest).map_err(|e| {
            ActionError::new(format!(
                "unable to build kubernetes objects from current release manifest: {e}"
            ))
        })?;
        let old = self
            .build(old_objects, &namespace, true)
            .await
            .map_err(|e| {
                ActionError::new(format!(
                    "unable to build kubernetes objects from current release manifest: {e}"
                ))
            })?;
        let new_objects = parse_objects(&rel.manifest).map_err(|e| {
            ActionError::new(format!(
                "unable to build kubernetes objects from new release manifest: {e}"
            ))
        })?;
        let mut built = self
            .build(new_objects, &namespace, false)
            .await
            .map_err(|e| {
                ActionError::new(format!(
                    "unable to build kubernetes objects from new release manifest: {e}"
                ))
            })?;
        let owned: HashSet<ObjectKey> = old.keys.iter().cloned().collect();
        let created = self
            .check_existing(&built, &o.name, &namespace, o.take_ownership, &owned)
            .await
            .map_err(|e| ActionError::new(format!("Unable to continue with update: {e}")))?;
        for obj in &mut built.objects {
            set_owner_metadata(obj, &o.name, &namespace);
        }
        self.storage.create(&rel).await?;
        let res = self.perform_upgrade(&mut rel, &old, built, o).await;
        match res {
            Ok(()) => {
                let mut cur = current.clone();
                cur.info.status = Status::Superseded;
                cur.info.description = "superseded by new release".into();
                self.record(&cur).await;
                // a failed latest revision (upgrading out of it) is left as it is, as Helm
                rel.info.status = Status::Deployed;
                rel.info.description = o
                    .description
                    .clone()
                    .unwrap_or_else(|| "Upgrade complete".into());
                self.record(&rel).await;
                Ok(rel)
            }
            Err(e) => {
                rel.info.status = Status::Failed;
                rel.info.description = format!("Upgrade \"{}\" failed: {e}", o.name);
                self.record(&rel).await;
                let mut message = e.clone();
                if o.cleanup_on_fail && !created.is_empty() {
                    for k in &created {
                        if let Err(de) = self.cluster.delete(k, Propagation::Background).await {
                            message = format!("{e}: unable to cleanup resources: {de}");
                        }
                    }
                }
                if o.atomic {
                    let rb = RollbackOptions {
                        name: o.name.clone(),
                        version: current.version,
                        wait: o.wait,
                        disable_hooks: o.disable_hooks,
                        force: o.force,
                        cleanup_on_fail: o.cleanup_on_fail,
                        description: None,
                    };
                    return match Box::pin(self.rollback(&rb)).await {
                        Ok(_) => Err(ActionError::with(
                            format!(
                                "release {} failed, and has been rolled back due to rollback-on-failure being set: {message}",
                                o.name
                            ),
                            &rel,
                        )),
                        Err(re) => Err(ActionError::with(
                            format!(
                                "an error occurred while rolling back the release. original upgrade error: {message}: {re}"
                            ),
                            &rel,
                        )),
                    };
                }
                Err(ActionError::with(message, &rel))
            }
        }
    }

    async fn perform_upgrade(
        &self,
        rel: &mut Release,
        old: &Built,
        built: Built,
        o: &UpgradeOptions<'_>,
    ) -> Result<(), String> {
        let no_skip = |_: &Hook| false;
        if !o.disable_hooks {
            self.exec_hooks(rel, "pre-upgrade", o.wait.timeout, &no_skip)
                .await
                .map_err(|e| format!("pre-upgrade hooks failed: {e}"))?;
        }
        let keys = built.keys.clone();
        self.cluster
            .apply(
                built.objects,
                &ApplyParams {
                    force_replace: o.force,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let new: HashSet<ObjectKey> = keys.iter().cloned().collect();
        self.delete_stale(old, &new).await?;
        if o.wait.resources {
            self.cluster
                .wait_ready(&keys, o.wait.timeout, o.wait.jobs)
                .await
                .map_err(|e| e.to_string())?;
        }
        if !o.disable_hooks {
            self.exec_hooks(rel, "post-upgrade", o.wait.timeout, &no_skip)
                .await
                .map_err(|e| format!("post-upgrade hooks failed: {e}"))?;
        }
        Ok(())
    }

    /// Rolls a release back to an earlier revision: a new revision with that revision's
    /// chart, values, manifest and hooks.
    pub async fn rollback(&self, o: &RollbackOptions) -> Result<Release, ActionError> {
        validate_name(&o.name).map_err(|_| {
            ActionError::new(format!(
                "prepareRollback: Release name is invalid: {}",
                o.name
            ))
        })?;
        let (history, _) = self.storage.history(&o.name).await?;
        let Some(current) = history.last().cloned() else {
            return Err(ActionError::new("release: not found"));
        };
        if current.info.status.is_pending() {
            return Err(ActionError::new(
                "another operation (install/upgrade/rollback) is in progress",
            ));
        }
        let target_version = if o.version == 0 {
            current.version - 1
        } else {
            o.version
        };
        let Some(previous) = history
            .iter()
            .find(|r| r.version == target_version)
            .cloned()
        else {
            return Err(ActionError::new(format!(
                "release has no {target_version} version"
            )));
        };
        let namespace = current.namespace.clone();
        let mut rel = Release {
            name: o.name.clone(),
            namespace: namespace.clone(),
            version: current.version + 1,
            chart: previous.chart.clone(),
            config: previous.config.clone(),
            manifest: previous.manifest.clone(),
            hooks: previous.hooks.clone(),
            apply_method: "ssa".into(),
            labels: previous.labels.clone(),
            ..Release::default()
        };
        rel.info.first_deployed = current.info.first_deployed.clone();
        rel.info.last_deployed = Some(now());
        rel.info.status = Status::PendingRollback;
        rel.info.notes = previous.info.notes.clone();
        rel.info.rollback_revision = target_version;
        rel.info.description = o
            .description
            .clone()
            .unwrap_or_else(|| format!("Rollback to {target_version}"));
        let old_objects = parse_objects(&current.manifest).map_err(|e| {
            ActionError::new(format!(
                "unable to build kubernetes objects from current release manifest: {e}"
            ))
        })?;
        let old = self
            .build(old_objects, &namespace, true)
            .await
            .map_err(|e| {
                ActionError::new(format!(
                    "unable to build kubernetes objects from current release manifest: {e}"
                ))
            })?;
        let new_objects = parse_objects(&rel.manifest).map_err(|e| {
            ActionError::new(format!(
                "unable to build kubernetes objects from new release manifest: {e}"
            ))
        })?;
        let mut built = self
            .build(new_objects, &namespace, false)
            .await
            .map_err(|e| {
                ActionError::new(format!(
                    "unable to build kubernetes objects from new release manifest: {e}"
                ))
            })?;
        let mut created = HashSet::new();
        for k in &built.keys {
            if self.cluster.get(k).await?.is_none() {
                created.insert(k.clone());
            }
        }
        for obj in &mut built.objects {
            set_owner_metadata(obj, &o.name, &namespace);
        }
        self.storage.create(&rel).await?;
        let no_skip = |_: &Hook| false;
        let result: Result<(), String> = async {
            if !o.disable_hooks {
                self.exec_hooks(&mut rel, "pre-rollback", o.wait.timeout, &no_skip)
                    .await?;
            }
            let keys = built.keys.clone();
            self.cluster
                .apply(
                    built.objects,
                    &ApplyParams {
                        force_replace: o.force,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            let new: HashSet<ObjectKey> = keys.iter().cloned().collect();
            self.delete_stale(&old, &new).await?;
            if o.wait.resources {
                self.cluster
                    .wait_ready(&keys, o.wait.timeout, o.wait.jobs)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if !o.disable_hooks {
                self.exec_hooks(&mut rel, "post-rollback", o.wait.timeout, &no_skip)
                    .await?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                for r in history.iter().filter(|r| r.info.status == Status::Deployed) {
                    let mut r = r.clone();
                    r.info.status = Status::Superseded;
                    r.info.description = "superseded by new release".into();
                    self.record(&r).await;
                }
                rel.info.status = Status::Deployed;
                self.record(&rel).await;
                Ok(rel)
            }
            Err(e) => {
                rel.info.status = Status::Failed;
                rel.info.description = format!("Rollback \"{}\" failed: {e}", o.name);
                self.record(&rel).await;
                if o.cleanup_on_fail {
                    for k in &created {
                        let _ = self.cluster.delete(k, Propagation::Background).await;
                    }
                }
                Err(ActionError::with(
                    format!("release {} failed: {e}", o.name),
                    &rel,
                ))
            }
        }
    }

    /// Uninstalls a release: pre-delete hooks, its objects (in reverse install order,
    /// sparing `keep`), post-delete hooks, then its records (or, with `keep_history`, the
    /// last one marked `uninstalled`).
    pub async fn uninstall(&self, o: &UninstallOptions) -> Result<Option<Release>, ActionError> {
        validate_name(&o.name).map_err(|_| {
            ActionError::new(format!("uninstall: Release name is invalid: {}", o.name))
        })?;
        let (history, _) = self.storage.history(&o.name).await?;
        let Some(mut rel) = history.last().cloned() else {
            return Err(ActionError::new(format!(
                "uninstall: Release not loaded: {}: release: not found",
                o.name
            )));
        };
        if rel.info.status == Status::Uninstalled {
            if !o.keep_history {
                for r in &history {
                    self.storage.delete(&r.name, r.version).await.map_err(|e| {
                        ActionError::new(format!("uninstall: Failed to purge the release: {e}"))
                    })?;
                }
                return Ok(None);
            }
            return Err(ActionError::new(format!(
                "the release named \"{}\" is already deleted",
                o.name
            )));
        }
        rel.info.status = Status::Uninstalling;
        rel.info.deleted = Some(now());
        rel.info.description = "Deletion in progress (or silently failed)".into();
        self.record(&rel).await;
        let no_skip = |_: &Hook| false;
        if !o.disable_hooks {
            self.exec_hooks(&mut rel, "pre-delete", o.wait.timeout, &no_skip)
                .await
                .map_err(|e| ActionError::with(e, &rel))?;
        }
        let mut errs = Vec::new();
        let objects = match parse_objects(&rel.manifest) {
            Ok(o) => o,
            Err(e) => {
                errs.push(format!(
                    "corrupted release record. You must manually delete the resources: {e}"
                ));
                Vec::new()
            }
        };
        let objects: Vec<Value> = objects.into_iter().filter(|o| !keep_policy(o)).collect();
        let built = self
            .build(objects, &rel.namespace, true)
            .await
            .map_err(|e| {
                ActionError::with(
                    format!("unable to build kubernetes objects for delete: {e}"),
                    &rel,
                )
            })?;
        let mut order: Vec<&ObjectKey> = built.keys.iter().collect();
        order.sort_by_key(|k| uninstall_rank(&k.kind));
        let mut deleted = Vec::new();
        for k in order {
            match self.cluster.get(k).await {
                Ok(Some(live)) if keep_policy(&live) => continue,
                Ok(None) => continue,
                _ => {}
            }
            match self.cluster.delete(k, o.propagation).await {
                Ok(true) => deleted.push(k.clone()),
                Ok(false) => {}
                Err(e) => errs.push(format!("failed to delete {k}: {e}")),
            }
        }
        if o.wait.resources
            && !deleted.is_empty()
            && let Err(e) = self.cluster.wait_deleted(&deleted, o.wait.timeout).await
        {
            errs.push(e.to_string());
        }
        if !o.disable_hooks
            && let Err(e) = self
                .exec_hooks(&mut rel, "post-delete", o.wait.timeout, &no_skip)
                .await
        {
            errs.push(e);
        }
        rel.info.status = Status::Uninstalled;
        rel.info.description = o
            .description
            .clone()
            .unwrap_or_else(|| "Uninstallation complete".into());
        if o.keep_history {
            self.record(&rel).await;
        } else {
            for r in &history {
                if let Err(e) = self.storage.delete(&r.name, r.version).await {
                    errs.push(format!("uninstall: Failed to purge the release: {e}"));
                }
            }
        }
        if !errs.is_empty() {
            return Err(ActionError::with(
                format!(
                    "uninstallation completed with {} error(s): {}",
                    errs.len(),
                    errs.join("; ")
                ),
                &rel,
            ));
        }
        Ok(Some(rel))
    }

    /// Runs the test hooks of the latest revision and records their results in it.
    pub async fn test(&self, o: &TestOptions) -> Result<Release, ActionError> {
        let mut rel = self.storage.last(&o.name).await.map_err(|e| match e {
            StorageError::NotFound => ActionError::new(format!("release: not found: {}", o.name)),
            e => e.into(),
        })?;
        let include = o.include.clone();
        let exclude = o.exclude.clone();
        let skip = move |h: &Hook| {
            exclude.contains(&h.name) || (!include.is_empty() && !include.contains(&h.name))
        };
        let res = self.exec_hooks(&mut rel, "test", o.timeout, &skip).await;
        self.record(&rel).await;
        match res {
            Ok(()) => Ok(rel),
            Err(e) => Err(ActionError::with(e, &rel)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_with_integers_and_lists_flattened() {
        let objs = parse_objects(
            "---\n# Source: c/templates/s.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n    weight: 0.5\n---\n# Source: c/templates/l.yaml\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n",
        )
        .unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            serde_json::to_string(&objs[0]["spec"]["ports"][0]["port"]).unwrap(),
            "80"
        );
        assert_eq!(objs[0]["spec"]["ports"][0]["weight"], 0.5);
        assert_eq!(objs[1]["kind"], "ConfigMap");
        let err =
            parse_objects("---\n# Source: c/templates/x.yaml\nmetadata: {name: x}\n").unwrap_err();
        assert!(
            err.starts_with("c/templates/x.yaml: unable to decode"),
            "{err}"
        );
    }

    #[test]
    fn ownership_errors_name_the_object_and_the_keys() {
        let live =
            json!({"metadata": {"labels": {}, "annotations": {RELEASE_NAME_ANNOTATION: "other"}}});
        let key = ObjectKey {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "apps".into(),
            name: "cfg".into(),
        };
        let e = check_ownership(&live, &key, "demo", "apps").unwrap_err();
        assert!(e.starts_with("ConfigMap \"cfg\" in namespace \"apps\" exists and cannot be imported into the current release: invalid ownership metadata;"), "{e}");
        assert!(
            e.contains(
                "key \"meta.helm.sh/release-name\" must equal \"demo\": current value is \"other\""
            ),
            "{e}"
        );
        assert!(validate_name("Bad_Name").is_err());
        assert!(validate_name(&"a".repeat(54)).is_err());
        assert!(validate_name("good.name-1").is_ok());
    }
}
