//! The API operations — get, list, create, update, patch, apply, delete — with Kubernetes'
//! semantics, independent of HTTP.

use crate::builtin;
use crate::error::{ApiError, ApiResult, Cause};
use crate::limits;
use crate::patch;
use crate::registry::{Registry, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::ssa::{self, Manager};
use crate::store::{self, Obj, Store, Tx};
use crate::types;
use crate::validation;
use base64::Engine;
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The server's state shared by all requests and background controllers.
pub struct Api {
    /// Served kinds.
    pub registry: RwLock<Registry>,
    /// Objects.
    pub store: Store,
    /// Simulate workload readiness.
    pub simulate: bool,
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    /// The object.
    Main,
    /// `/status`.
    Status,
    /// `/finalize` (namespaces).
    Finalize,
}

impl Sub {
    fn name(self) -> Option<&'static str> {
        match self {
            Sub::Main => None,
            Sub::Status => Some("status"),
            Sub::Finalize => Some("finalize"),
        }
    }
}

/// How strictly to treat unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them (the HTTP layer may warn).
    Warn,
    /// Refuse the request.
    Strict,
}

/// Options of a write.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    /// The field manager.
    pub manager: String,
    /// Do not persist.
    pub dry_run: bool,
    /// Server-side apply: take fields from other managers.
    pub force: bool,
    /// Unknown field handling.
    pub field_validation: FieldValidation,
    /// The requester, when RBAC applies to it: writes of roles and bindings are checked
    /// for escalation. `None` for the server's own writes and privileged users.
    pub user: Option<Arc<crate::auth::User>>,
}

/// Patch types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

/// Deletion options.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// `Background` (default), `Foreground` or `Orphan`.
    pub propagation: Option<String>,
    /// Precondition on the uid.
    pub uid: Option<String>,
    /// Precondition on the resource version.
    pub resource_version: Option<String>,
    /// Do not persist.
    pub dry_run: bool,
}

/// The result of a delete.
pub enum Deleted {
    /// The object is gone; its last state.
    Gone(Value),
    /// The object waits for finalizers; its current state.
    Pending(Value),
}

/// A list request.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Page size (0: all).
    pub limit: usize,
    /// Continue token of the previous page.
    pub continue_token: Option<String>,
}

/// A list page.
pub struct ListPage {
    /// Resource version of the list.
    pub rv: u64,
    /// The objects.
    pub items: Vec<Arc<Obj>>,
    /// Token for the next page.
    pub continue_token: Option<String>,
    /// Objects after this page.
    pub remaining: Option<usize>,
}

/// RFC 3339 UTC timestamp with second precision, as Kubernetes writes them.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn ns_key(ns: &str) -> String {
    store::key("/namespaces", "", ns)
}

/// The storage key of an object.
pub fn object_key(rt: &ResourceType, ns: Option<&str>, name: &str) -> String {
    store::key(
        &rt.storage(),
        if rt.namespaced { ns.unwrap_or("") } else { "" },
        name,
    )
}

/// An object as served for a type's version: stored objects of multi-version CRDs carry
/// the version they were written with.
pub fn for_version(rt: &ResourceType, obj: &Obj) -> Value {
    let mut v = obj.value.clone();
    if v["apiVersion"] != rt.api_version().as_str() {
        v["apiVersion"] = Value::String(rt.api_version());
    }
    v
}

/// `obj[path...]` as a mutable map, turning whatever is in the way (including a non-object
/// root) into empty objects. Never panics on malformed input.
pub fn object_at<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let mut cur = v;
    for seg in path {
        let Value::Object(m) = cur else {
            unreachable!("made an object above")
        };
        let next = m
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        cur = next;
    }
    match cur {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

fn meta_mut(v: &mut Value) -> &mut Map<String, Value> {
    object_at(v, &["metadata"])
}

fn finalizers(v: &Value) -> Vec<String> {
    v["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn is_deleting(v: &Value) -> bool {
    v["metadata"]["deletionTimestamp"].is_string()
}

/// Whether an object waiting for deletion may now go: no finalizers left (and for
/// namespaces no `spec.finalizers`).
fn deletion_complete(rt: &ResourceType, v: &Value) -> bool {
    is_deleting(v)
        && finalizers(v).is_empty()
        && !(rt.group.is_empty()
            && rt.plural == "namespaces"
            && v["spec"]["finalizers"]
                .as_array()
                .is_some_and(|a| !a.is_empty()))
}

impl Api {
    /// A new API over a store.
    pub fn new(store: Store, simulate: bool) -> Api {
        let api = Api {
            registry: RwLock::new(Registry::new()),
            store,
            simulate,
        };
        // Serve the kinds of the CRDs already stored.
        let (_, crds) = api.store.list(&store::prefix(
            "apiextensions.k8s.io/customresourcedefinitions",
            None,
        ));
        for (_, crd) in crds {
            if let Ok(types) = builtin::crd_types(&crd.value) {
                let name = crd.value["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                api.registry.write().set_crd_types(&name, types);
            }
        }
        api
    }

    /// The type at a URL's group, version and resource.
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.registry.read().lookup(group, version, plural)
    }

    /// GET one object.
    pub fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        let obj = self
            .store
            .get(&object_key(rt, ns, name))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        Ok(for_version(rt, &obj))
    }

    /// LIST objects.
    pub fn list(&self, rt: &ResourceType, ns: Option<&str>, q: &ListQuery) -> ApiResult<ListPage> {
        let prefix = store::prefix(&rt.storage(), if rt.namespaced { ns } else { None });
        let (mut rv, all) = self.store.list(&prefix);
        let start = match &q.continue_token {
            Some(t) => {
                let (token_rv, key) = decode_continue(t)?;
                rv = token_rv;
                Some(key)
            }
            None => None,
        };
        let mut items: Vec<Arc<Obj>> = Vec::new();
        let mut last = String::new();
        let mut next = None;
        let mut remaining = 0usize;
        for (key, obj) in all {
            if start.as_ref().is_some_and(|s| key.as_str() <= s.as_str()) {
                continue;
            }
            if !q.labels.matches(&obj.value) || !q.fields.matches(&obj.value) {
                continue;
            }
            if q.limit > 0 && items.len() == q.limit {
                if next.is_none() {
                    next = Some(encode_continue(rv, &last));
                }
                remaining += 1;
                continue;
            }
            last = key;
            items.push(obj);
        }
        Ok(ListPage {
            rv,
            items,
            continue_token: next,
            remaining: (remaining > 0).then_some(remaining),
        })
    }

    /// POST: create an object.
    pub async fn create(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        mut body: Value,
        ctx: &WriteCtx,
    ) -> ApiResult<Value> {
        check_type(rt, &body)?;
        let meta = meta_mut(&mut body);
        if rt.namespaced {
            match (
                meta.get("namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty()),
                ns,
            ) {
                (Some(a), Some(b)) if a != b => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    if let Some(ns) = ns {
                        meta.insert("namespace".into(), json!(ns));
                    }
                }
            }
        }
        if meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        {
            let name = format!("{prefix}{}", random_suffix());
            meta.insert("name".into(), json!(name));
        }
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let time = now();
        let mgr = Manager {
            name: &ctx.manager,
            subresource: None,
            api_version: &rt.api_version(),
            time: &time,
        };
        let rt = rt.clone();
        let (out, commit) = self.write(ctx.dry_run, |tx| {
            let key = object_key(&rt, ns, &name);
            if name.is_empty() {
                // Validation reports the missing name.
            } else if tx.get(&key).is_some() {
                return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
            }
            self.check_namespace(tx, &rt, ns, &name)?;
            let mut new = self.admit(tx, &rt, ns, None, body, Sub::Main, ctx)?;
            ssa::track_update(&rt, None, &mut new, &mgr);
            self.store_object(tx, &rt, &key, new, ctx.dry_run)
        })?;
        commit.wait().await?;
        Ok(out)
    }

    /// PUT: replace an object (or its status).
    pub async fn replace(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        body: Value,
        sub: Sub,
        ctx: &WriteCtx,
    ) -> ApiResult<Value> {
        check_type(rt, &body)?;
        if let Some(n) = body["metadata"]["name"].as_str()
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let time = now();
        let mgr = Manager {
            name: &ctx.manager,
            subresource: sub.name(),
            api_version: &rt.api_version(),
            time: &time,
        };
        let rt = rt.clone();
        let (out, commit) = self.write(ctx.dry_run, |tx| {
            let key = object_key(&rt, ns, name);
            let old = tx
                .get(&key)
                .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
            check_rv(&rt, name, &body, &old)?;
            let mut new = self.admit(tx, &rt, ns, Some(&old.value), body, sub, ctx)?;
            ssa::track_update(&rt, Some(&old.value), &mut new, &mgr);
            self.store_object(tx, &rt, &key, new, ctx.dry_run)
        })?;
        commit.wait().await?;
        Ok(out)
    }

    /// PATCH (including server-side apply). Returns the object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        ptype: PatchType,
        body: &Value,
        sub: Sub,
        ctx: &WriteCtx,
    ) -> ApiResult<(Value, bool)> {
        if ptype == PatchType::Strategic && !types::supports_strategic_merge(rt) {
            return Err(ApiError::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let time = now();
        let api_version = rt.api_version();
        let mgr = Manager {
            name: &ctx.manager,
            subresource: sub.name(),
            api_version: &api_version,
            time: &time,
        };
        let rt = rt.clone();
        let (out, commit) = self.write(ctx.dry_run, |tx| {
            let key = object_key(&rt, ns, name);
            let old = tx.get(&key);
            if ptype == PatchType::Apply {
                check_type(&rt, body)?;
                if body["metadata"]["name"].as_str() != Some(name) {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({}) does not match the name on the URL ({name})",
                        body["metadata"]["name"].as_str().unwrap_or("")
                    )));
                }
                let mut config = body.clone();
                if rt.namespaced
                    && let Some(ns) = ns
                {
                    match config["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()) {
                        Some(n) if n != ns => {
                            return Err(ApiError::bad_request(
                                "the namespace of the provided object does not match the namespace sent on the request",
                            ));
                        }
                        _ => {
                            meta_mut(&mut config).insert("namespace".into(), json!(ns));
                        }
                    }
                }
                if let Some(o) = &old {
                    check_rv(&rt, name, &config, o)?;
                } else {
                    if sub != Sub::Main {
                        return Err(ApiError::not_found(&rt.group, &rt.plural, name));
                    }
                    self.check_namespace(tx, &rt, ns, name)?;
                }
                let merged = ssa::apply(&rt, old.as_ref().map(|o| &o.value), &config, &mgr, ctx.force, name)?;
                let new = self.admit(tx, &rt, ns, old.as_ref().map(|o| &o.value), merged, sub, ctx)?;
                let created = old.is_none();
                return Ok((self.store_object(tx, &rt, &key, new, ctx.dry_run)?, created));
            }
            let old = old.ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
            let mut patched = old.value.clone();
            match ptype {
                PatchType::Merge => patch::merge_patch(&mut patched, body),
                PatchType::Json => {
                    patch::json_patch(
                        &mut patched,
                        body,
                        old.json.len(),
                        &patch::JsonPatchLimits::default(),
                    )
                    .map_err(|e| json_patch_error(&rt, name, e))?;
                }
                PatchType::Strategic => patch::strategic_merge(&rt, &mut patched, body)
                    .map_err(ApiError::bad_request)?,
                PatchType::Apply => unreachable!("handled above"),
            }
            // Merge patches grow the object by at most the body, JSON patches are bounded
            // while they apply; either way the result must fit in an object.
            check_patch_result(&patched)?;
            if !patched.is_object() {
                return Err(ApiError::bad_request("the patch made the object something other than an object"));
            }
            // A patch carrying a resourceVersion is a precondition.
            if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
                && rv != old.rv.to_string()
            {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                ));
            }
            meta_mut(&mut patched).remove("resourceVersion");
            let mut new = self.admit(tx, &rt, ns, Some(&old.value), patched, sub, ctx)?;
            ssa::track_update(&rt, Some(&old.value), &mut new, &mgr);
            Ok((self.store_object(tx, &rt, &key, new, ctx.dry_run)?, false))
        })?;
        commit.wait().await?;
        Ok(out)
    }

    /// DELETE one object.
    pub async fn delete(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOpts,
    ) -> ApiResult<Deleted> {
        let rt = rt.clone();
        let (out, commit) =
            self.write(opts.dry_run, |tx| self.delete_in(tx, &rt, ns, name, opts))?;
        commit.wait().await?;
        Ok(out)
    }

    pub(crate) fn delete_in(
        &self,
        tx: &mut Tx,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOpts,
    ) -> ApiResult<Deleted> {
        let key = object_key(rt, ns, name);
        let old = tx
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        if let Some(uid) = &opts.uid
            && old.uid() != uid
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old.uid()
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && *rv != old.rv.to_string()
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in meta: {}",
                    old.rv
                ),
            ));
        }
        let mut v = old.value.clone();
        let mut fins = finalizers(&v);
        match opts.propagation.as_deref() {
            None | Some("Background") => {}
            Some("Foreground") => {
                if !fins.iter().any(|f| f == "foregroundDeletion") {
                    fins.push("foregroundDeletion".into());
                }
            }
            Some("Orphan") => {
                if !fins.iter().any(|f| f == "orphan") {
                    fins.push("orphan".into());
                }
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "DeleteOptions.PropagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                )));
            }
        }
        let is_namespace = rt.group.is_empty() && rt.plural == "namespaces";
        let spec_fins = is_namespace
            && v["spec"]["finalizers"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
        if fins.is_empty() && !spec_fins {
            if opts.dry_run {
                return Ok(Deleted::Gone(for_version(rt, &old)));
            }
            let last = tx
                .delete(&key)
                .map(|o| for_version(rt, &o))
                .unwrap_or(Value::Null);
            return Ok(Deleted::Gone(last));
        }
        if is_deleting(&v) && fins == finalizers(&old.value) {
            return Ok(Deleted::Pending(for_version(rt, &old)));
        }
        let meta = meta_mut(&mut v);
        meta.entry("deletionTimestamp")
            .or_insert_with(|| json!(now()));
        meta.entry("deletionGracePeriodSeconds").or_insert(json!(0));
        meta.insert("finalizers".into(), json!(fins));
        if is_namespace {
            object_at(&mut v, &["status"]).insert("phase".into(), json!("Terminating"));
        }
        if opts.dry_run {
            return Ok(Deleted::Pending(v));
        }
        let obj = tx.put(&key, v);
        Ok(Deleted::Pending(for_version(rt, &obj)))
    }

    /// Runs a write transaction, or a dry run that changes nothing.
    fn write<T>(
        &self,
        dry_run: bool,
        f: impl FnOnce(&mut Tx) -> ApiResult<T>,
    ) -> ApiResult<(T, store::Commit)> {
        if dry_run {
            // Run against the store but discard: an error-free closure's changes are
            // thrown away by returning an error sentinel.
            let mut result = None;
            let r: ApiResult<((), store::Commit)> = self.store.write(|tx| {
                result = Some(f(tx)?);
                Err(ApiError::internal("dry run"))
            });
            return match (result, r) {
                (Some(v), _) => Ok((v, store::Commit::none())),
                (None, Err(e)) => Err(e),
                (None, Ok(_)) => Err(ApiError::internal("dry run produced nothing")),
            };
        }
        self.store.write(f)
    }

    /// Stores a new version of an object, deleting it instead when it was waiting for
    /// deletion and has no finalizers left.
    ///
    /// Refuses (413) an object larger than [`limits::MAX_OBJECT_BYTES`] of JSON, and (400)
    /// one nesting deeper than [`limits::MAX_NESTING`], whichever way it was built.
    fn store_object(
        &self,
        tx: &mut Tx,
        rt: &ResourceType,
        key: &str,
        new: Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        if deletion_complete(rt, &new) {
            if dry_run {
                return Ok(new);
            }
            let out = tx.delete(key).map(|o| for_version(rt, &o)).unwrap_or(new);
            self.sync_kinds(rt, &out, true);
            return Ok(out);
        }
        // Writing what is already stored is a no-op: same resource version, no event.
        if let Some(old) = tx.get(key)
            && unchanged(&old.value, &new)
        {
            return Ok(for_version(rt, &old));
        }
        check_object_limits(&new)?;
        if dry_run {
            // Like Kubernetes' dry-run storage: an update keeps the stored resource version,
            // a create has none (clients tell a dry-run create by it, as Flux's diff does).
            let mut v = new;
            match tx.get(key) {
                Some(old) => {
                    let rv = for_version(rt, &old)["metadata"]["resourceVersion"].clone();
                    meta_mut(&mut v).insert("resourceVersion".into(), rv);
                }
                None => {
                    meta_mut(&mut v).remove("resourceVersion");
                }
            }
            return Ok(v);
        }
        let obj = tx.put(key, new);
        self.sync_kinds(rt, &obj.value, false);
        Ok(for_version(rt, &obj))
    }

    /// Serves (or stops serving) the kinds of a CRD as it is stored or removed. Runs in
    /// the write transaction, so clients never see the CRD and its kinds disagree.
    fn sync_kinds(&self, rt: &ResourceType, crd: &Value, removed: bool) {
        if !(rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions") {
            return;
        }
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let types = if removed {
            Vec::new()
        } else {
            match builtin::crd_types(crd) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(crd = name, error = ?e, "cannot serve a CRD");
                    return;
                }
            }
        };
        self.registry.write().set_crd_types(name, types);
    }

    fn check_namespace(
        &self,
        tx: &Tx,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<()> {
        if !rt.namespaced {
            return Ok(());
        }
        let Some(ns) = ns else {
            return Err(ApiError::bad_request(
                "the namespace of the object is required",
            ));
        };
        let Some(n) = tx.get(&ns_key(ns)) else {
            return Err(ApiError::not_found("", "namespaces", ns));
        };
        if is_deleting(&n.value) {
            return Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                rt.plural
            )));
        }
        Ok(())
    }

    /// Completes and checks an object before it is stored: server-managed metadata,
    /// subresource rules, defaults, pruning and validation.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        tx: &Tx,
        rt: &ResourceType,
        ns: Option<&str>,
        old: Option<&Value>,
        mut new: Value,
        sub: Sub,
        ctx: &WriteCtx,
    ) -> ApiResult<Value> {
        if !new.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        let root = object_at(&mut new, &[]);
        root.insert("apiVersion".into(), json!(rt.api_version()));
        root.insert("kind".into(), json!(rt.kind));
        let name = new["metadata"]["name"].as_str().unwrap_or("").to_owned();
        match (sub, old) {
            (Sub::Status, Some(o)) => {
                let status = new.get("status").cloned();
                let mut merged = o.clone();
                let root = object_at(&mut merged, &[]);
                match status {
                    Some(s) => {
                        root.insert("status".into(), s);
                    }
                    None => {
                        root.remove("status");
                    }
                }
                new = merged;
            }
            (Sub::Finalize, Some(o)) => {
                let fins = new["spec"]["finalizers"].clone();
                let mut merged = o.clone();
                object_at(&mut merged, &["spec"]).insert("finalizers".into(), fins);
                new = merged;
            }
            (Sub::Main, old) if rt.status => {
                let prior = old.and_then(|o| o.get("status").cloned());
                let m = object_at(&mut new, &[]);
                match prior {
                    Some(s) => {
                        m.insert("status".into(), s);
                    }
                    None => {
                        m.remove("status");
                    }
                }
            }
            _ => {}
        }
        let meta = meta_mut(&mut new);
        meta.remove("resourceVersion");
        meta.remove("selfLink");
        // ObjectMeta's maps and lists are `omitempty` in Kubernetes: an empty one is not
        // stored or served (`annotations: {}` reads back as no annotations).
        for k in ["labels", "annotations", "finalizers", "ownerReferences"] {
            let empty = match meta.get(k) {
                Some(Value::Null) => true,
                Some(Value::Object(m)) => m.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if empty {
                meta.remove(k);
            }
        }
        if !rt.namespaced {
            meta.remove("namespace");
        } else if let Some(ns) = ns {
            match meta
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                Some(n) if n != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(ns));
                }
            }
        }
        match old {
            Some(o) => {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                ] {
                    match o["metadata"].get(k) {
                        Some(v) => {
                            meta.insert(k.into(), v.clone());
                        }
                        None => {
                            meta.remove(k);
                        }
                    }
                }
            }
            None => {
                meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
                meta.insert("creationTimestamp".into(), json!(now()));
                meta.remove("deletionTimestamp");
                meta.remove("deletionGracePeriodSeconds");
                if rt.generation {
                    meta.insert("generation".into(), json!(1));
                } else {
                    meta.remove("generation");
                }
            }
        }
        builtin::defaults(self, tx, rt, old, &mut new)?;
        let mut causes = schema_and_validation(
            rt,
            old,
            &mut new,
            ctx.field_validation == FieldValidation::Strict,
        )?;
        if let Some(o) = old
            && is_deleting(o)
        {
            let before = finalizers(o);
            if finalizers(&new).iter().any(|f| !before.contains(f)) {
                causes.push(Cause::forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted",
                ));
            }
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, causes));
        }
        if let Some(user) = &ctx.user
            && rt.group == crate::auth::RBAC_GROUP
            && sub == Sub::Main
        {
            crate::auth::check_escalation(tx, user, &rt.plural, ns.unwrap_or(""), old, &new)?;
        }
        if rt.generation
            && let Some(o) = old
            && spec_changed(o, &new)
        {
            let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        Ok(new)
    }

    /// Updates an object through a function, as an internal controller (no precondition).
    pub async fn update_with(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        sub: Sub,
        manager: &str,
        f: impl FnOnce(&mut Value) -> bool,
    ) -> ApiResult<Option<Value>> {
        let ctx = WriteCtx {
            manager: manager.into(),
            dry_run: false,
            force: false,
            field_validation: FieldValidation::Ignore,
            user: None,
        };
        let time = now();
        let api_version = rt.api_version();
        let mgr = Manager {
            name: manager,
            subresource: sub.name(),
            api_version: &api_version,
            time: &time,
        };
        let rt = rt.clone();
        let (out, commit) = self.store.write(|tx| {
            let key = object_key(&rt, ns, name);
            let Some(old) = tx.get(&key) else {
                return Ok(None);
            };
            let mut v = old.value.clone();
            if !f(&mut v) {
                return Ok(None);
            }
            let mut new = self.admit(tx, &rt, ns, Some(&old.value), v, sub, &ctx)?;
            ssa::track_update(&rt, Some(&old.value), &mut new, &mgr);
            Ok(Some(self.store_object(tx, &rt, &key, new, false)?))
        })?;
        commit.wait().await?;
        Ok(out)
    }
}

/// Whether a new version equals the stored one, apart from the resource version and the
/// times in `managedFields`.
fn unchanged(old: &Value, new: &Value) -> bool {
    fn comparable(v: &Value) -> Value {
        let mut c = v.clone();
        if let Some(meta) = c.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
                for e in entries.iter_mut().filter_map(Value::as_object_mut) {
                    e.remove("time");
                }
            }
        }
        c
    }
    comparable(old) == comparable(new)
}

/// `spec` (everything but metadata and status) differs.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    strip(old) != strip(new)
}

fn find_removed(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => find_removed(bv, av, &p, out),
                    None if !bv.is_null() => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                find_removed(bv, av, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The error of a JSON patch that cannot be applied: 413 for the size limits (as the
/// real server answers too many operations), 400 for a body that is not a patch, 422
/// otherwise.
fn json_patch_error(rt: &ResourceType, name: &str, e: patch::PatchError) -> ApiError {
    use patch::{OpError, PatchError};
    match &e {
        PatchError::NotAList => ApiError::bad_request(e.to_string()),
        PatchError::TooManyOperations { .. }
        | PatchError::Op {
            error: OpError::TooLarge { .. },
            ..
        } => ApiError::entity_too_large(e),
        PatchError::Op { .. } => ApiError::invalid(
            &rt.group,
            &rt.kind,
            name,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: String::new(),
                message: e.to_string(),
            }],
        ),
    }
}

/// Refuses a patched object that could not be stored (checked before the object is
/// completed, so nothing more is spent on it).
pub(crate) fn check_patch_result(v: &Value) -> ApiResult<()> {
    match limits::measure(v, limits::MAX_OBJECT_BYTES, limits::MAX_NESTING) {
        Ok(_) => Ok(()),
        Err(limits::Over::Bytes) => Err(ApiError::entity_too_large(format!(
            "the patch result is too large: limit is {}",
            limits::MAX_OBJECT_BYTES
        ))),
        Err(limits::Over::Depth) => Err(ApiError::unprocessable(format!(
            "the patch result would nest deeper than {} levels",
            limits::MAX_NESTING
        ))),
    }
}

/// Refuses an object that could not be stored: larger than [`limits::MAX_OBJECT_BYTES`]
/// (where etcd would refuse the real server's write) or deeper than
/// [`limits::MAX_NESTING`].
fn check_object_limits(v: &Value) -> ApiResult<()> {
    match limits::measure(v, limits::MAX_OBJECT_BYTES, limits::MAX_NESTING) {
        Ok(_) => Ok(()),
        Err(limits::Over::Bytes) => Err(ApiError::entity_too_large(format!(
            "etcdserver: request is too large (the object would be more than {} bytes)",
            limits::MAX_OBJECT_BYTES
        ))),
        Err(limits::Over::Depth) => Err(ApiError::bad_request(format!(
            "the object nests deeper than {} levels",
            limits::MAX_NESTING
        ))),
    }
}

/// Go's name of a JSON value's type, as in its decoding errors.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Built-in kinds decode into typed objects, so metadata fields that must be strings but
/// are not (`name: y` in YAML is a boolean, as for the real server's YAML reader) are a
/// decoding error, worded as the real server's: `ConfigMap in version "v1" cannot be
/// handled as a ConfigMap: json: cannot unmarshal bool into Go struct field
/// ObjectMeta.metadata.name of type string`.
fn check_metadata_types(rt: &ResourceType, body: &Value) -> ApiResult<()> {
    if rt.is_custom() {
        return Ok(());
    }
    let Some(meta) = body.get("metadata").and_then(Value::as_object) else {
        return Ok(());
    };
    let refuse = |field: &str, v: &Value| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {t} into Go struct field ObjectMeta.metadata.{field} of type string",
            kind = rt.kind,
            version = rt.version,
            t = json_type(v),
        ))
    };
    for field in [
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
    ] {
        if let Some(v) = meta.get(field)
            && !v.is_string()
            && !v.is_null()
        {
            return Err(refuse(field, v));
        }
    }
    for field in ["labels", "annotations"] {
        match meta.get(field) {
            Some(Value::Object(m)) => {
                if let Some(v) = m.values().find(|v| !v.is_string() && !v.is_null()) {
                    return Err(refuse(field, v));
                }
            }
            Some(Value::Null) | None => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal {t} into Go struct field ObjectMeta.metadata.{field} of type map[string]string",
                    kind = rt.kind,
                    version = rt.version,
                    t = json_type(other),
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_type(rt: &ResourceType, body: &Value) -> ApiResult<()> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    if body
        .get("metadata")
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        return Err(ApiError::bad_request("metadata must be an object"));
    }
    if let Some(kind) = body["kind"].as_str()
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            rt.kind
        )));
    }
    if let Some(av) = body["apiVersion"].as_str() {
        let (g, _) = crate::registry::split_api_version(av);
        if g != rt.group {
            return Err(ApiError::bad_request(format!(
                "the API version of the object ({av}) does not match the resource ({})",
                rt.api_version()
            )));
        }
    }
    check_metadata_types(rt, body)
}

/// The steps of admission that need no store: a custom resource's schema pruning (unknown
/// fields refused when `strict`) and defaults, then the metadata, schema and built-in
/// validations, whose causes are returned.
pub(crate) fn schema_and_validation(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    strict: bool,
) -> ApiResult<Vec<Cause>> {
    if let Some(schema) = &rt.schema {
        // apiVersion, kind and metadata are the server's, not the schema's.
        let kept: Vec<(&str, Value)> = ["apiVersion", "kind", "metadata"]
            .into_iter()
            .filter_map(|k| {
                new.as_object_mut()
                    .and_then(|m| m.remove(k))
                    .map(|v| (k, v))
            })
            .collect();
        let before = strict.then(|| new.clone());
        schema.prune(new);
        if let Some(before) = before {
            let mut unknown = Vec::new();
            find_removed(&before, new, "", &mut unknown);
            if !unknown.is_empty() {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{}\"", f.trim_start_matches('.')))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )));
            }
        }
        schema.apply_defaults(new);
        let root = object_at(new, &[]);
        for (k, v) in kept {
            root.insert(k.to_owned(), v);
        }
    }
    let mut causes = Vec::new();
    validation::validate_metadata(rt, new, &mut causes);
    if let Some(schema) = &rt.schema {
        schema.validate_root(new, &mut causes);
    }
    builtin::validate(rt, old, new, &mut causes);
    Ok(causes)
}

fn check_rv(rt: &ResourceType, name: &str, body: &Value, old: &Obj) -> ApiResult<()> {
    match body["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && rv != old.rv.to_string() => Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )),
        _ => Ok(()),
    }
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn encode_continue(rv: u64, key: &str) -> String {
    let raw = json!({"rv": rv, "start": key}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    let bad = || ApiError::bad_request("invalid continue token");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((
        v["rv"].as_u64().ok_or_else(bad)?,
        v["start"].as_str().ok_or_else(bad)?.to_owned(),
    ))
}
