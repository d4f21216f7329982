//! What the web view knows of the cluster: the Flux objects of every kind it shows and the
//! Events about them, kept current by watches; each object summed up as a row of the
//! overview (state, reason, revision, time, suspension), the overview's order, and the
//! references between objects (sources and `dependsOn`) that the graph draws.

use crate::cli::{FluxKind, kinds, object};
use crate::cmd::ops;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// The kinds the web view shows, in the overview's order: sources, then what applies
/// them, then the image automation.
pub const KINDS: &[FluxKind] = &[
    kinds::GIT_REPOSITORY,
    kinds::OCI_REPOSITORY,
    kinds::HELM_REPOSITORY,
    kinds::HELM_CHART,
    kinds::BUCKET,
    kinds::EXTERNAL_ARTIFACT,
    kinds::KUSTOMIZATION,
    kinds::HELM_RELEASE,
    kinds::IMAGE_REPOSITORY,
    kinds::IMAGE_POLICY,
    kinds::IMAGE_UPDATE_AUTOMATION,
];

/// The shown kind whose plural (the first segment of object pages) is `plural`.
pub fn kind_by_plural(plural: &str) -> Option<FluxKind> {
    KINDS.iter().copied().find(|k| k.info.plural == plural)
}

/// The shown kind named `kind` (`Kustomization`).
pub fn kind_by_name(kind: &str) -> Option<FluxKind> {
    KINDS.iter().copied().find(|k| k.kind() == kind)
}

fn kind_index(kind: &FluxKind) -> usize {
    KINDS
        .iter()
        .position(|k| k.kind() == kind.kind())
        .unwrap_or(KINDS.len())
}

/// How an object is doing, worst first (the overview's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// `Ready=False`: the last reconciliation failed.
    Failed,
    /// Being reconciled, waiting for a dependency, or its status is about an older
    /// generation.
    Progressing,
    /// Not reconciled yet (no `Ready` condition).
    Unknown,
    /// `Ready=True` at the current generation.
    Ready,
}

impl State {
    /// The word shown for it.
    pub fn label(self) -> &'static str {
        match self {
            State::Failed => "Failed",
            State::Progressing => "Progressing",
            State::Unknown => "Unknown",
            State::Ready => "Ready",
        }
    }

    /// The CSS class of rows and badges in this state.
    pub fn class(self) -> &'static str {
        match self {
            State::Failed => "failed",
            State::Progressing => "progressing",
            State::Unknown => "unknown",
            State::Ready => "ready",
        }
    }
}

/// Whether a kind has no status of its own (an OCI HelmRepository is only a pointer).
fn is_static(kind: &FluxKind, obj: &Value) -> bool {
    kind.kind() == "HelmRepository" && obj["spec"]["type"] == "oci"
}

/// The state of an object from its `Ready` condition.
pub fn state(kind: &FluxKind, obj: &Value) -> State {
    if is_static(kind, obj) {
        return State::Ready;
    }
    let Some(ready) = object::condition(obj, "Ready") else {
        return State::Unknown;
    };
    let generation = object::generation(obj);
    let observed = ready["observedGeneration"]
        .as_i64()
        .unwrap_or_else(|| object::observed_generation(obj));
    let current = generation == 0 || observed == generation;
    match ready["status"].as_str() {
        Some("True") if current => State::Ready,
        Some("True") => State::Progressing,
        Some("False") => match ready["reason"].as_str() {
            Some("Progressing" | "DependencyNotReady") => State::Progressing,
            _ => State::Failed,
        },
        _ => State::Progressing,
    }
}

/// One object as the overview shows it.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Its kind.
    pub kind: FluxKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// How it is doing.
    pub state: State,
    /// The `Ready` condition's reason.
    pub reason: String,
    /// The `Ready` condition's message.
    pub message: String,
    /// The revision it applied or fetched (full).
    pub revision: String,
    /// When it was last reconciled, fetched, scanned or run.
    pub time: Option<jiff::Timestamp>,
    /// `spec.suspend`.
    pub suspended: bool,
}

impl Summary {
    /// Sums up `obj` of `kind`.
    pub fn of(kind: FluxKind, obj: &Value) -> Summary {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let (reason, message) = match object::ready(obj) {
            Some((_, r, m)) => (r.to_owned(), m.to_owned()),
            None if is_static(&kind, obj) => (String::new(), "Helm repository is Ready".into()),
            None => (String::new(), "waiting to be reconciled".into()),
        };
        Summary {
            kind,
            namespace: s(&obj["metadata"]["namespace"]),
            name: s(&obj["metadata"]["name"]),
            state: state(&kind, obj),
            reason,
            message,
            revision: revision(&kind, obj),
            time: last_time(obj),
            suspended: object::suspended(obj),
        }
    }

    /// The page of the object: `/<plural>/<namespace>/<name>`, each segment encoded.
    pub fn href(&self) -> String {
        super::html::object_href(&self.kind, &self.namespace, &self.name)
    }
}

/// The revision shown for an object: as `gitops get` shows it, and for the image kinds
/// the selected image, the scanned tag count or the last pushed commit.
pub fn revision(kind: &FluxKind, obj: &Value) -> String {
    let st = &obj["status"];
    match kind.kind() {
        "ImagePolicy" => {
            let r = &st["latestRef"];
            match (r["name"].as_str(), r["tag"].as_str()) {
                (Some(n), Some(t)) => format!("{n}:{t}"),
                _ => String::new(),
            }
        }
        "ImageRepository" => match st["lastScanResult"]["tagCount"].as_i64() {
            Some(n) => format!("{n} tags"),
            None => String::new(),
        },
        "ImageUpdateAutomation" => st["lastPushCommit"].as_str().unwrap_or_default().to_owned(),
        _ => crate::cmd::get::revision(kind, obj).to_owned(),
    }
}

/// The latest of the times an object records of its work: conditions' transitions, the
/// last reconciliation of its history, its artifact's update, the last scan or run, the
/// last handled reconcile request.
pub fn last_time(obj: &Value) -> Option<jiff::Timestamp> {
    let st = &obj["status"];
    let parse = |v: &Value| v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok());
    let mut times: Vec<jiff::Timestamp> = st["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| parse(&c["lastTransitionTime"]))
        .collect();
    for v in [
        &st["history"][0]["lastReconciled"],
        &st["artifact"]["lastUpdateTime"],
        &st["lastScanResult"]["scanTime"],
        &st["lastAutomationRunTime"],
        &st["lastHandledReconcileAt"],
    ] {
        times.extend(parse(v));
    }
    times.into_iter().max()
}

/// The overview's order: failing first, then progressing, unknown and ready; within each,
/// by kind (sources first), namespace and name.
pub fn overview_order(a: &Summary, b: &Summary) -> std::cmp::Ordering {
    a.state
        .cmp(&b.state)
        .then_with(|| kind_index(&a.kind).cmp(&kind_index(&b.kind)))
        .then_with(|| a.namespace.cmp(&b.namespace))
        .then_with(|| a.name.cmp(&b.name))
}

/// A kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The kind (`Kustomization`).
    pub kind: &'static str,
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl Key {
    /// The key of `kind` `namespace/name`.
    pub fn new(kind: &FluxKind, namespace: &str, name: &str) -> Key {
        Key {
            kind: kind.kind(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// What an edge of the graph stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The object reconciles from (or scans for) the other.
    Source,
    /// The object waits for the other (`spec.dependsOn`).
    DependsOn,
}

/// The objects `obj` refers to: its source (as `gitops reconcile --with-source` finds it,
/// the image policy's repository, the automation's Git repository) and its `dependsOn`.
pub fn references(kind: &FluxKind, obj: &Value) -> Vec<(Relation, Key)> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    let ns_or = |r: &Value| {
        r["namespace"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(ns)
            .to_owned()
    };
    match kind.kind() {
        // Any source kind, ExternalArtifact included (which `reconcile --with-source`
        // does not take).
        "Kustomization" => {
            let r = &obj["spec"]["sourceRef"];
            if let (Some(k), Some(name)) = (
                r["kind"].as_str().and_then(kind_by_name),
                r["name"].as_str().filter(|n| !n.is_empty()),
            ) {
                out.push((Relation::Source, Key::new(&k, &ns_or(r), name)));
            }
        }
        "HelmRelease" | "HelmChart" => {
            if let Ok((k, name, src_ns)) = ops::source_of(kind, obj, ns)
                && !name.is_empty()
            {
                out.push((Relation::Source, Key::new(&k, &src_ns, &name)));
            }
        }
        "ImagePolicy" => {
            let r = &obj["spec"]["imageRepositoryRef"];
            if let Some(name) = r["name"].as_str() {
                out.push((
                    Relation::Source,
                    Key::new(&kinds::IMAGE_REPOSITORY, &ns_or(r), name),
                ));
            }
        }
        "ImageUpdateAutomation" => {
            let r = &obj["spec"]["sourceRef"];
            let k = r["kind"]
                .as_str()
                .and_then(kind_by_name)
                .unwrap_or(kinds::GIT_REPOSITORY);
            if let Some(name) = r["name"].as_str() {
                out.push((Relation::Source, Key::new(&k, &ns_or(r), name)));
            }
        }
        _ => {}
    }
    if matches!(kind.kind(), "Kustomization" | "HelmRelease") {
        for d in obj["spec"]["dependsOn"].as_array().into_iter().flatten() {
            if let Some(name) = d["name"].as_str() {
                out.push((Relation::DependsOn, Key::new(kind, &ns_or(d), name)));
            }
        }
    }
    out
}

/// The source of a Kustomization, HelmRelease, HelmChart, image policy or automation.
pub fn source(kind: &FluxKind, obj: &Value) -> Option<Key> {
    references(kind, obj)
        .into_iter()
        .find_map(|(rel, key)| (rel == Relation::Source).then_some(key))
}

/// What is wrong with the watch of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The cluster does not serve the kind at all (its CRD is not installed).
    NotServed,
    /// This identity may not list the kind in all namespaces: it is watched in this
    /// namespace only (`--namespace`).
    Scoped(String),
    /// The watch fails.
    Failed,
}

/// A problem the watch of one kind reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The kind.
    pub kind: &'static str,
    /// What is wrong.
    pub problem: Problem,
    /// The cluster's words, for failures.
    pub message: String,
}

type Objects = BTreeMap<(String, String), Arc<Value>>;

/// The Flux objects and their Events, kept current by watches.
pub struct Store {
    objects: Vec<RwLock<Objects>>,
    notices: RwLock<BTreeMap<&'static str, Notice>>,
    events: RwLock<HashMap<String, Event>>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// An empty store; [`Store::watch`] fills it.
    pub fn new() -> Arc<Store> {
        Arc::new(Store {
            objects: KINDS.iter().map(|_| RwLock::new(BTreeMap::new())).collect(),
            notices: RwLock::new(BTreeMap::new()),
            events: RwLock::new(HashMap::new()),
            generation: tokio::sync::watch::channel(0).0,
        })
    }

    /// Watches every kind and the Events with `client`, in all namespaces, or in
    /// `namespace` for the kinds this identity may not list in all of them; until the
    /// returned tasks are aborted.
    pub fn watch(
        self: &Arc<Store>,
        client: &kube::Client,
        namespace: &str,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks: Vec<_> = KINDS
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                tokio::spawn(self.clone().watch_kind(
                    i,
                    *kind,
                    client.clone(),
                    namespace.to_owned(),
                ))
            })
            .collect();
        tasks.push(tokio::spawn(
            self.clone()
                .watch_events(client.clone(), namespace.to_owned()),
        ));
        tasks
    }

    /// A receiver that sees a new number after every change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn changed(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    fn lock_objects(&self, i: usize) -> std::sync::RwLockWriteGuard<'_, Objects> {
        self.objects[i]
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_notice(&self, kind: &'static str, notice: Option<Notice>) {
        let mut n = self
            .notices
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = match notice {
            Some(notice) => n.insert(kind, notice.clone()).as_ref() != Some(&notice),
            None => n.remove(kind).is_some(),
        };
        drop(n);
        if changed {
            self.changed();
        }
    }

    /// Watches what `api` gives for a scope (`None`: all namespaces) and hands every event
    /// to `apply`. When the identity may not list all namespaces (403), watches
    /// `namespace` instead, says so with a notice, and tries all namespaces again every
    /// [`WIDEN_EVERY`] (rights may be granted meanwhile).
    async fn watch_scoped<K>(
        &self,
        label: &'static str,
        namespace: &str,
        api: impl Fn(Option<&str>) -> Api<K>,
        mut apply: impl FnMut(&Store, watcher::Event<K>),
    ) where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let mut scoped = false;
        loop {
            // the controllers' watch settings: ended and resumed by the server every 30 s,
            // within the client's request timeout
            let mut stream = watcher::watcher(
                api(scoped.then_some(namespace)),
                gitops_controllers::runtime::reconcile::watch_config(),
            )
            .default_backoff()
            .boxed();
            let start = tokio::time::Instant::now() + WIDEN_EVERY;
            let mut widen = tokio::time::interval_at(start, WIDEN_EVERY);
            loop {
                tokio::select! {
                    event = stream.next() => match event {
                        // A watcher's stream does not end; should it, start again.
                        None => break,
                        Some(Ok(e)) => {
                            let notice = scoped.then(|| Notice {
                                kind: label,
                                problem: Problem::Scoped(namespace.to_owned()),
                                message: String::new(),
                            });
                            self.set_notice(label, notice);
                            apply(self, e);
                        }
                        Some(Err(e)) if !scoped && forbidden(&e) => {
                            scoped = true;
                            self.set_notice(
                                label,
                                Some(Notice {
                                    kind: label,
                                    problem: Problem::Scoped(namespace.to_owned()),
                                    message: String::new(),
                                }),
                            );
                            break;
                        }
                        Some(Err(e)) => {
                            let problem = if not_served(&e) {
                                Problem::NotServed
                            } else {
                                Problem::Failed
                            };
                            self.set_notice(
                                label,
                                Some(Notice {
                                    kind: label,
                                    problem,
                                    message: watch_error(&e),
                                }),
                            );
                        }
                    },
                    _ = widen.tick(), if scoped => {
                        if may_list_and_watch(&api(None)).await {
                            scoped = false;
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn watch_kind(
        self: Arc<Store>,
        i: usize,
        kind: FluxKind,
        client: kube::Client,
        namespace: String,
    ) {
        let mut fresh: Option<Objects> = None;
        let key = |o: &DynamicObject| {
            (
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
            )
        };
        let value = |o: &DynamicObject| -> Option<Arc<Value>> {
            let mut v = serde_json::to_value(o).ok()?;
            if let Some(m) = v["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            Some(Arc::new(v))
        };
        let apply = |store: &Store, e: watcher::Event<DynamicObject>| match e {
            watcher::Event::Init => fresh = Some(BTreeMap::new()),
            watcher::Event::InitApply(o) => {
                if let (Some(f), Some(v)) = (fresh.as_mut(), value(&o)) {
                    f.insert(key(&o), v);
                }
            }
            watcher::Event::InitDone => {
                if let Some(f) = fresh.take() {
                    *store.lock_objects(i) = f;
                    store.changed();
                }
            }
            watcher::Event::Apply(o) => {
                if let Some(v) = value(&o) {
                    store.lock_objects(i).insert(key(&o), v);
                    store.changed();
                }
            }
            watcher::Event::Delete(o) => {
                store.lock_objects(i).remove(&key(&o));
                store.changed();
            }
        };
        self.watch_scoped(kind.kind(), &namespace, |ns| kind.api(&client, ns), apply)
            .await;
    }

    async fn watch_events(self: Arc<Store>, client: kube::Client, namespace: String) {
        let keep = |e: &Event| {
            e.involved_object
                .kind
                .as_deref()
                .is_some_and(|k| kind_by_name(k).is_some())
        };
        let uid = |e: &Event| e.metadata.uid.clone().unwrap_or_default();
        let mut fresh: Option<HashMap<String, Event>> = None;
        let apply = |store: &Store, event: watcher::Event<Event>| {
            let events = || {
                store
                    .events
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            match event {
                watcher::Event::Init => fresh = Some(HashMap::new()),
                watcher::Event::InitApply(e) => {
                    if let Some(f) = fresh.as_mut().filter(|_| keep(&e)) {
                        f.insert(uid(&e), e);
                    }
                }
                watcher::Event::InitDone => {
                    if let Some(f) = fresh.take() {
                        *events() = f;
                        store.changed();
                    }
                }
                watcher::Event::Apply(e) if keep(&e) => {
                    events().insert(uid(&e), e);
                    store.changed();
                }
                watcher::Event::Delete(e) if keep(&e) => {
                    events().remove(&uid(&e));
                    store.changed();
                }
                _ => {}
            }
        };
        self.watch_scoped(
            "Event",
            &namespace,
            |ns| match ns {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            },
            apply,
        )
        .await;
    }

    /// Every object of every kind, with its kind.
    pub fn all(&self) -> Vec<(FluxKind, Arc<Value>)> {
        let mut out = Vec::new();
        for (i, kind) in KINDS.iter().enumerate() {
            let objects = self.objects[i]
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            out.extend(objects.values().map(|v| (*kind, v.clone())));
        }
        out
    }

    /// The object `namespace/name` of `kind`, if the watch has seen it.
    pub fn get(&self, kind: &FluxKind, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let i = kind_index(kind);
        let objects = self.objects.get(i)?.read().ok()?;
        objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The overview's rows, in its order.
    pub fn summaries(&self) -> Vec<Summary> {
        let mut rows: Vec<Summary> = self.all().iter().map(|(k, v)| Summary::of(*k, v)).collect();
        rows.sort_by(overview_order);
        rows
    }

    /// The watch errors, by kind.
    pub fn notices(&self) -> Vec<Notice> {
        self.notices
            .read()
            .map(|n| n.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Puts an object in, as a watch would.
    #[cfg(test)]
    pub fn insert_for_test(&self, kind: &FluxKind, obj: Value) {
        let key = (
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        self.lock_objects(kind_index(kind))
            .insert(key, Arc::new(obj));
        self.changed();
    }

    /// The Events about `kind` `namespace/name`, oldest first.
    pub fn events_for(&self, kind: &FluxKind, namespace: &str, name: &str) -> Vec<Event> {
        let Ok(events) = self.events.read() else {
            return Vec::new();
        };
        let mut out: Vec<Event> = events
            .values()
            .filter(|e| {
                let o = &e.involved_object;
                o.kind.as_deref() == Some(kind.kind())
                    && o.name.as_deref() == Some(name)
                    && o.namespace.as_deref().unwrap_or_default() == namespace
            })
            .cloned()
            .collect();
        out.sort_by_key(crate::cmd::events::event_time);
        out
    }
}

/// How often a watch narrowed to one namespace tries all namespaces again.
pub const WIDEN_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// Whether `api` may be listed and watched (a list of one, a watch ended at once).
async fn may_list_and_watch<K>(api: &Api<K>) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Ok(list) = api.list(&ListParams::default().limit(1)).await else {
        return false;
    };
    let version = list.metadata.resource_version.unwrap_or_default();
    api.watch(&WatchParams::default().timeout(1), &version)
        .await
        .is_ok()
}

/// The HTTP status code of a failed list or watch.
fn code_of(e: &watcher::Error) -> Option<u16> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        _ => None,
    }
}

/// Whether the identity may not list or watch (403).
fn forbidden(e: &watcher::Error) -> bool {
    code_of(e) == Some(403)
}

/// Whether the cluster does not serve the kind (404 on the list).
fn not_served(e: &watcher::Error) -> bool {
    !matches!(e, watcher::Error::WatchFailed(_)) && code_of(e) == Some(404)
}

/// A watch error without the noise of its wrapping.
fn watch_error(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => format!("{:#}", object::api_error(clone_error(k))),
        other => other.to_string(),
    }
}

/// kube's errors are not `Clone`; the API status is what matters.
fn clone_error(e: &kube::Error) -> kube::Error {
    match e {
        kube::Error::Api(s) => kube::Error::Api(s.clone()),
        other => kube::Error::Service(other.to_string().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, ready: Option<(&str, &str)>) -> (FluxKind, Value) {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "flux-system", "generation": 1},
            "spec": {},
            "status": {"observedGeneration": 1},
        });
        if let Some((status, reason)) = ready {
            v["status"]["conditions"] = json!([{
                "type": "Ready", "status": status, "reason": reason, "message": "m",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
            }]);
        }
        (kind_by_name(kind).unwrap(), v)
    }

    #[test]
    fn states_come_from_the_ready_condition() {
        let (k, v) = obj(
            "Kustomization",
            "a",
            Some(("True", "ReconciliationSucceeded")),
        );
        assert_eq!(state(&k, &v), State::Ready);
        let (k, v) = obj("Kustomization", "a", Some(("False", "BuildFailed")));
        assert_eq!(state(&k, &v), State::Failed);
        let (k, v) = obj("Kustomization", "a", Some(("False", "DependencyNotReady")));
        assert_eq!(state(&k, &v), State::Progressing);
        let (k, v) = obj("Kustomization", "a", Some(("Unknown", "Progressing")));
        assert_eq!(state(&k, &v), State::Progressing);
        let (k, v) = obj("Kustomization", "a", None);
        assert_eq!(state(&k, &v), State::Unknown);
        // Ready, but about an older generation.
        let (k, mut v) = obj(
            "Kustomization",
            "a",
            Some(("True", "ReconciliationSucceeded")),
        );
        v["metadata"]["generation"] = json!(2);
        assert_eq!(state(&k, &v), State::Progressing);
        let (k, mut v) = obj("HelmRepository", "oci", None);
        v["spec"]["type"] = json!("oci");
        assert_eq!(state(&k, &v), State::Ready);
    }

    #[test]
    fn the_overview_puts_failures_first() {
        let rows = [
            obj("Kustomization", "b-ready", Some(("True", "ok"))),
            obj("GitRepository", "z-ready", Some(("True", "ok"))),
            obj("Kustomization", "a-ready", Some(("True", "ok"))),
            obj("HelmRelease", "waiting", None),
            obj("Kustomization", "failing", Some(("False", "BuildFailed"))),
            obj(
                "GitRepository",
                "fetching",
                Some(("Unknown", "Progressing")),
            ),
            obj("ImagePolicy", "failing-too", Some(("False", "Failed"))),
        ];
        let mut summaries: Vec<Summary> = rows.iter().map(|(k, v)| Summary::of(*k, v)).collect();
        summaries.sort_by(overview_order);
        let names: Vec<&str> = summaries.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "failing",
                "failing-too",
                "fetching",
                "waiting",
                "z-ready",
                "a-ready",
                "b-ready"
            ]
        );
        assert_eq!(summaries[0].reason, "BuildFailed");
        assert_eq!(
            summaries[0].time.map(|t| t.to_string()).as_deref(),
            Some("2026-01-02T03:04:05Z")
        );
    }

    #[test]
    fn references_follow_sources_and_dependencies() {
        let v = json!({
            "metadata": {"name": "apps", "namespace": "team"},
            "spec": {
                "sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "flux-system"},
                "dependsOn": [{"name": "infra"}],
            },
        });
        let refs = references(&kinds::KUSTOMIZATION, &v);
        assert_eq!(
            source(&kinds::KUSTOMIZATION, &v),
            Some(Key::new(&kinds::GIT_REPOSITORY, "flux-system", "repo"))
        );
        assert_eq!(
            refs,
            [
                (
                    Relation::Source,
                    Key::new(&kinds::GIT_REPOSITORY, "flux-system", "repo")
                ),
                (
                    Relation::DependsOn,
                    Key::new(&kinds::KUSTOMIZATION, "team", "infra")
                ),
            ]
        );
    }
}
