//! The reconcile loop of one kind, on kube-runtime's `Controller`.
//!
//! [`run`] watches the kind (all namespaces or one), and calls a [`Reconciler`] when an
//! object's generation changes, when a reconcile is requested with
//! `reconcile.fluxcd.io/requestedAt`, on deletion, and when its requeue time comes, which
//! the reconcile's [`ReconcileResult`] decides ([`next_reconcile`]): `interval` with Flux's
//! jitter when done or stalled, the delay it asks for, `spec.retryInterval` or exponential
//! backoff (1 s doubling to 15 min) after a failure that may pass. It adds the finalizer
//! before the first reconcile, calls [`Reconciler::finalize`] and removes the finalizer on
//! deletion (both with guarded JSON patches, see [`crate::finalizer`]), skips suspended
//! objects, and records metrics.

use crate::telemetry::{Metrics, Readiness};
use futures::StreamExt;
use gitops_api::kustomize::ValuesKind;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A namespaced kind the runtime can watch and cache (any of the Flux kinds, or another).
pub trait Watched:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<T> Watched for T where
    T: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// What the runtime needs to know about an object of a reconciled kind.
pub trait Reconcilable: Watched + Serialize {
    /// How often to reconcile.
    fn interval(&self) -> Duration;
    /// Whether reconciliation is suspended.
    fn suspended(&self) -> bool;
    /// How long to wait after a failure that may pass (`spec.retryInterval`); `None` for
    /// kinds without one (they back off exponentially).
    fn retry_interval(&self) -> Option<Duration> {
        None
    }
}

/// Where a successful reconcile leaves the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Done: next time at `interval` (with jitter).
    Interval,
    /// Not done yet (waiting for something): again after this delay.
    After(Duration),
}

/// How a failed reconcile is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Needs a change to the object (`Stalled`): next time at `interval`.
    Terminal,
    /// May pass on retry: after the object's retry interval when it has one
    /// ([`Reconcilable::retry_interval`]), else exponential backoff.
    Backoff,
    /// May pass on retry: after this delay.
    After(Duration),
}

/// A failed reconcile: the condition that records it, Flux's reason, what failed, and how
/// to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ReconcileError {
    /// The condition that records the failure besides `Ready` (`FetchFailed` …), if any.
    pub condition: Option<&'static str>,
    /// The reason of the `Ready=False` condition.
    pub reason: &'static str,
    /// What failed and where.
    pub message: String,
    /// When to try again.
    pub retry: Retry,
}

impl ReconcileError {
    /// A failure that may pass on retry.
    pub fn retriable(reason: &'static str, message: impl Into<String>) -> Self {
        ReconcileError {
            condition: None,
            reason,
            message: message.into(),
            retry: Retry::Backoff,
        }
    }

    /// A failure that needs a change to the object.
    pub fn terminal(reason: &'static str, message: impl Into<String>) -> Self {
        ReconcileError {
            retry: Retry::Terminal,
            ..Self::retriable(reason, message)
        }
    }

    /// The same failure, recorded in `condition` too.
    pub fn in_condition(mut self, condition: &'static str) -> Self {
        self.condition = Some(condition);
        self
    }

    /// The same failure, retried after `delay`.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry = Retry::After(delay);
        self
    }

    /// Whether it needs a change to the object (`Stalled`).
    pub fn is_terminal(&self) -> bool {
        self.retry == Retry::Terminal
    }
}

/// What a reconcile returns.
pub type ReconcileResult = Result<Requeue, ReconcileError>;

/// A reconciler of one kind.
pub trait Reconciler<K: Reconcilable>: Send + Sync + 'static {
    /// The finalizer this controller owns, e.g. `finalizers.fluxcd.io`.
    fn finalizer(&self) -> &str;
    /// Brings the object towards its desired state and writes its status.
    fn reconcile(&self, obj: Arc<K>) -> impl Future<Output = ReconcileResult> + Send;
    /// Cleans up after a deleted object (e.g. removes stored artifacts).
    fn finalize(&self, obj: Arc<K>) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// When to reconcile again after `result`: `interval` with up to `jitter_percent` of
/// jitter either way when done or stalled, the asked-for delay, or for failures that may
/// pass the object's `retry_interval`, else exponential backoff after `failures`
/// consecutive failures (this one included).
pub fn next_reconcile(
    result: &ReconcileResult,
    interval: Duration,
    retry_interval: Option<Duration>,
    failures: u32,
    jitter_percent: u32,
) -> Duration {
    let interval = interval.max(Duration::from_secs(1));
    match result {
        Ok(Requeue::Interval) => with_jitter(interval, jitter_percent),
        Ok(Requeue::After(d)) => *d,
        Err(e) => match e.retry {
            Retry::Terminal => with_jitter(interval, jitter_percent),
            Retry::After(d) => d,
            Retry::Backoff => retry_interval.unwrap_or_else(|| backoff(failures)),
        },
    }
}

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Largest jitter added to `interval`, in percent.
    pub jitter_percent: u32,
    /// Only objects matching this label selector (`--watch-label-selector`).
    pub label_selector: Option<String>,
}

impl RunOptions {
    /// The options the shared controller flags give: every namespace or only the
    /// installation's (`RUNTIME_NAMESPACE`, `flux-system` when unset), `--concurrent`,
    /// `--watch-label-selector`, and `jitter_percent` of jitter on intervals.
    pub fn from_args(
        common: &crate::args::ControllerArgs,
        jitter_percent: u32,
    ) -> anyhow::Result<RunOptions> {
        Ok(RunOptions {
            namespace: if common.watch_all_namespaces {
                None
            } else {
                Some(std::env::var("RUNTIME_NAMESPACE").unwrap_or_else(|_| "flux-system".into()))
            },
            concurrency: common.concurrent.max(1),
            jitter_percent,
            label_selector: label_selector(&common.watch_label_selector)?,
        })
    }
}

/// Checks a `--watch-label-selector` value with the API server's selector parser
/// ([`gitops_go::selector`]) and returns it, `None` when empty; the error is the parser's.
pub fn label_selector(s: &str) -> anyhow::Result<Option<String>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    gitops_go::selector::Selector::parse(s)
        .map_err(|e| anyhow::anyhow!("--watch-label-selector {s:?}: {e}"))?;
    Ok(Some(s.to_owned()))
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            namespace: None,
            label_selector: None,
            concurrency: 8,
            jitter_percent: 5,
        }
    }
}

/// The error of a reconcile that could not even write its own bookkeeping (finalizers).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(String);

/// The backoff after `failures` consecutive failures: 1 s doubling, at most 15 min.
pub fn backoff(failures: u32) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(10);
    Duration::from_secs(secs.min(900))
}

/// `interval` with a random jitter of up to `percent` of it either way, as Flux's
/// `--interval-jitter-percentage` (`percent` is capped at 99).
pub fn with_jitter(interval: Duration, percent: u32) -> Duration {
    let p = f64::from(percent.min(99)) / 100.0;
    if p == 0.0 {
        return interval;
    }
    let f: f64 = rand::random_range(-p..=p);
    interval.mul_f64(1.0 + f)
}

/// The predicate that wakes the reconciler: generation, reconcile request, deletion.
fn trigger_hash<K: Resource>(obj: &K) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    gitops_api::annotations::requested_at(obj.meta()).hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    Some(h.finish())
}

/// The backoff of the runtime's watches: 200 ms doubling to at most 5 s, with jitter,
/// back to the start as soon as the watch delivers again. kube's default (800 ms to 30 s,
/// reset only after two quiet minutes) kept a controller deaf for half a minute or more
/// after its API server restarted a few times in a row, and a 410 during the recovery
/// waited a whole step more.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
    seed: u64,
}

impl WatchBackoff {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(5);
}

impl Default for WatchBackoff {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(1)
            | 1;
        WatchBackoff {
            next: Self::FIRST,
            seed,
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // xorshift for the jitter: up to a quarter of the step either way
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let step = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        let quarter = step.as_millis() as u64 / 4;
        let jitter = if quarter == 0 {
            0
        } else {
            self.seed % (2 * quarter)
        };
        Some(step - Duration::from_millis(quarter) + Duration::from_millis(jitter))
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// The back-off of the controller's merged trigger stream: none. kube's `Controller`
/// applies its own (client-go's 0.8–30 s, growing) to the merge of all its watches, so one
/// watch's error (say a 410 after an API server restart) paused every other watch, the
/// object's own included, for up to a minute. Each watch stream here carries its own
/// [`WatchBackoff`] instead, so an error delays only the watch that failed.
struct MergedNoBackoff;

impl Iterator for MergedNoBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for MergedNoBackoff {
    fn reset(&mut self) {}
}

/// How long a watch may stay silent before it is taken for dead and started again. The
/// API server sends a bookmark at least every few seconds, so a live watch is never
/// silent this long; a connection the server no longer serves (after it restarted) would
/// otherwise hold a watch for kube's default of 290 s.
const WATCH_IDLE_SECONDS: u32 = 30;

/// The watch configuration of the runtime's watches.
pub fn watch_config() -> watcher::Config {
    watcher::Config::default().timeout(WATCH_IDLE_SECONDS)
}

struct Ctx<R> {
    reconciler: Arc<R>,
    client: kube::Client,
    failures: Mutex<HashMap<(String, String), u32>>,
    metrics: Metrics,
    opts: RunOptions,
}

async fn reconcile_one<K, R>(obj: Arc<K>, ctx: Arc<Ctx<R>>) -> Result<Action, RuntimeError>
where
    K: Reconcilable,
    R: Reconciler<K>,
{
    let kind = K::kind(&()).to_string();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let fin = ctx.reconciler.finalizer().to_owned();
    let key = (ns.clone(), name.clone());
    // The object as the API server has it now, not as the watch cache last saw it: a
    // cache behind (a watch recovering from a restart of the server) would reconcile an
    // old generation and prune from an old inventory.
    let obj = match api.get_opt(&name).await {
        Ok(Some(live)) => Arc::new(live),
        Ok(None) => {
            ctx.metrics.forget(&kind, &ns, &name);
            ctx.failures.lock().remove(&key);
            return Ok(Action::await_change());
        }
        Err(e) => return Err(RuntimeError(format!("reading {kind} {ns}/{name}: {e}"))),
    };

    if obj.meta().deletion_timestamp.is_some() {
        if obj.finalizers().contains(&fin) {
            if let Err(e) = ctx.reconciler.finalize(obj.clone()).await {
                tracing::error!(kind, namespace = ns, name, error = %e, "finalizing failed");
                return Ok(Action::requeue(backoff(2)));
            }
            // a concurrent change to the list fails the patch; the watch brings the new
            // object and the removal is tried again
            crate::finalizer::remove(&api, obj.as_ref(), &fin)
                .await
                .map_err(|e| RuntimeError(e.to_string()))?;
        }
        ctx.metrics.forget(&kind, &ns, &name);
        ctx.failures.lock().remove(&key);
        return Ok(Action::await_change());
    }
    if !obj.finalizers().contains(&fin) {
        crate::finalizer::add(&api, obj.as_ref(), &fin)
            .await
            .map_err(|e| RuntimeError(e.to_string()))?;
    }
    if obj.suspended() {
        tracing::info!(
            kind,
            namespace = ns,
            name,
            "reconciliation is suspended for this object"
        );
        ctx.metrics.record_ready(&kind, &ns, &name, "Unknown", true);
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let result = ctx.reconciler.reconcile(obj.clone()).await;
    let elapsed = started.elapsed();
    let ok = matches!(result, Ok(Requeue::Interval));
    ctx.metrics
        .record(&kind, &ns, &name, elapsed.as_secs_f64(), ok);
    let ready_status = match &result {
        Ok(Requeue::Interval) => "True",
        Ok(Requeue::After(_)) => "Unknown",
        Err(_) => "False",
    };
    ctx.metrics
        .record_ready(&kind, &ns, &name, ready_status, false);
    let failures = {
        let mut f = ctx.failures.lock();
        match &result {
            Err(e) if !e.is_terminal() => {
                let n = f.entry(key).or_default();
                *n = n.saturating_add(1);
                *n
            }
            _ => {
                f.remove(&key);
                0
            }
        }
    };
    Ok(Action::requeue(next_reconcile(
        &result,
        obj.interval(),
        obj.retry_interval(),
        failures,
        ctx.opts.jitter_percent,
    )))
}

/// Runs the reconcile loop of kind `K` until the watch ends (it does not, normally).
pub async fn run<K, R>(
    client: kube::Client,
    reconciler: Arc<R>,
    opts: RunOptions,
    metrics: Metrics,
    ready: Readiness,
) where
    K: Reconcilable,
    R: Reconciler<K>,
{
    run_with(client, reconciler, opts, metrics, ready, |c| c).await
}

/// Like [`run`], with `customize` adding triggers to the controller, e.g.
/// [`watch_sources`] so that objects reconcile when a source they use gets a new artifact.
pub async fn run_with<K, R>(
    client: kube::Client,
    reconciler: Arc<R>,
    opts: RunOptions,
    metrics: Metrics,
    ready: Readiness,
    customize: impl FnOnce(Controller<K>) -> Controller<K>,
) where
    K: Reconcilable,
    R: Reconciler<K>,
{
    let api: Api<K> = match &opts.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (reader, writer) = reflector::store();
    let mut config = watch_config();
    if let Some(sel) = &opts.label_selector {
        config = config.labels(sel);
    }
    let stream = watcher(api, config)
        .backoff(WatchBackoff::default())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(trigger_hash::<K>, Default::default());
    let ctx = Arc::new(Ctx {
        reconciler,
        client,
        failures: Mutex::new(HashMap::new()),
        metrics,
        opts: opts.clone(),
    });
    ready.set_ready();
    let controller = Controller::for_stream(stream, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(opts.concurrency))
        .trigger_backoff(MergedNoBackoff);
    customize(controller)
        .run(
            reconcile_one::<K, R>,
            |_obj, _err, _ctx| Action::requeue(backoff(3)),
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
}

/// Adds a trigger: when an object of kind `S` (a source) gets a new `status.artifact`
/// revision, the objects of kind `K` for which `uses(k, s)` holds are reconciled (`uses`
/// decides about namespaces too: references may cross them).
pub fn watch_sources<K, S>(
    controller: Controller<K>,
    client: kube::Client,
    namespace: Option<&str>,
    uses: impl Fn(&K, &S) -> bool + Send + Sync + 'static,
) -> Controller<K>
where
    K: Reconcilable,
    S: Watched + gitops_api::source::Source,
{
    watch_related(
        controller,
        client,
        namespace,
        |s: &S| s.artifact().map(|a| (a.revision.clone(), a.digest.clone())),
        uses,
    )
}

/// Adds a trigger: whenever `key(s)` of an object of kind `S` changes, the objects of kind
/// `K` for which `related(k, s)` holds are reconciled. [`watch_sources`] is this with the
/// artifact revision as the key; a controller may watch other kinds the same way (e.g.
/// its own kind's readiness for `dependsOn`).
pub fn watch_related<K, S, T>(
    controller: Controller<K>,
    client: kube::Client,
    namespace: Option<&str>,
    key: impl Fn(&S) -> T + Send + Sync + 'static,
    related: impl Fn(&K, &S) -> bool + Send + Sync + 'static,
) -> Controller<K>
where
    K: Reconcilable,
    S: Watched,
    T: Hash,
{
    let api: Api<S> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let store = controller.store();
    let hashed = move |s: &S| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key(s).hash(&mut h);
        Some(h.finish())
    };
    let trigger = watcher(api, watch_config())
        .backoff(WatchBackoff::default())
        .applied_objects()
        .predicate_filter(hashed, Default::default());
    controller.watches_stream(trigger, move |other: S| {
        store
            .state()
            .into_iter()
            .filter(|k| related(k, &other))
            .map(|k| kube::runtime::reflector::ObjectRef::from(k.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// Flux's configuration watch (`--watch-configs-label-selector`): when a ConfigMap or
/// Secret matching `selector` is created, changes its data or is deleted, the objects of
/// kind `K` in its namespace for which `refers(k)` lists it are reconciled at once instead
/// of at their next interval. `refers` gives the `(kind, name)` of the ConfigMaps and
/// Secrets an object reads, in its own namespace. An empty selector adds nothing.
pub fn watch_configs<K>(
    controller: Controller<K>,
    client: kube::Client,
    namespace: Option<&str>,
    selector: &str,
    refers: impl Fn(&K) -> Vec<(ValuesKind, String)> + Send + Sync + Clone + 'static,
) -> Controller<K>
where
    K: Reconcilable,
{
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    if selector.trim().is_empty() {
        return controller;
    }
    let c = watch_config_kind::<K, ConfigMap>(
        controller,
        client.clone(),
        namespace,
        selector,
        ValuesKind::ConfigMap,
        |cm| data_hash(&(&cm.data, &cm.binary_data)),
        refers.clone(),
    );
    watch_config_kind::<K, Secret>(
        c,
        client,
        namespace,
        selector,
        ValuesKind::Secret,
        |s| data_hash(&(&s.data, &s.type_)),
        refers,
    )
}

fn data_hash<T: Serialize>(v: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(v).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// The trigger of [`watch_configs`] for one kind: an object whose data hash is new (created
/// or changed while watching) or that was deleted. The first listing only records the hashes:
/// every object is reconciled when the controller starts anyway.
fn watch_config_kind<K, S>(
    controller: Controller<K>,
    client: kube::Client,
    namespace: Option<&str>,
    selector: &str,
    kind: ValuesKind,
    hash: fn(&S) -> u64,
    refers: impl Fn(&K) -> Vec<(ValuesKind, String)> + Send + Sync + 'static,
) -> Controller<K>
where
    K: Reconcilable,
    S: Watched,
{
    let api: Api<S> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    let mut listed = false;
    let trigger = watcher(api, watch_config().labels(selector))
        .backoff(WatchBackoff::default())
        .filter_map(move |event| {
            let key = |o: &S| (o.namespace().unwrap_or_default(), o.name_any());
            let out = match event {
                Err(e) => Some(Err(e)),
                Ok(watcher::Event::Init) => None,
                Ok(watcher::Event::InitDone) => {
                    listed = true;
                    None
                }
                Ok(watcher::Event::InitApply(o)) => {
                    let h = hash(&o);
                    let before = seen.insert(key(&o), h);
                    (listed && before != Some(h)).then_some(Ok(o))
                }
                Ok(watcher::Event::Apply(o)) => {
                    let h = hash(&o);
                    (seen.insert(key(&o), h) != Some(h)).then_some(Ok(o))
                }
                Ok(watcher::Event::Delete(o)) => {
                    seen.remove(&key(&o));
                    Some(Ok(o))
                }
            };
            std::future::ready(out)
        });
    let store = controller.store();
    controller.watches_stream(trigger, move |other: S| {
        let (ns, name) = (other.namespace(), other.name_any());
        store
            .state()
            .into_iter()
            .filter(|k| {
                k.namespace() == ns && refers(k).iter().any(|(kd, n)| *kd == kind && *n == name)
            })
            .map(|k| kube::runtime::reflector::ObjectRef::from(k.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// Runs blocking work with a timeout; on timeout, sets `interrupt` so the work stops.
pub async fn blocking_with_timeout<T: Send + 'static>(
    timeout: Duration,
    interrupt: Arc<std::sync::atomic::AtomicBool>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let handle = tokio::task::spawn_blocking(f);
    match tokio::time::timeout(timeout, handle).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(_)) => None,
        Err(_) => {
            interrupt.store(true, std::sync::atomic::Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_are_checked() {
        assert_eq!(label_selector("").unwrap(), None);
        for ok in [
            "shard=a",
            "app.kubernetes.io/part-of==x,!legacy",
            "tier in (front, back),env notin (dev)",
            "sharding.fluxcd.io/key",
            "a!=b",
        ] {
            assert_eq!(label_selector(ok).unwrap().as_deref(), Some(ok), "{ok}");
        }
        for bad in ["a=b=c", "tier in front", "=x", "a b", "a in (x"] {
            let e = label_selector(bad).unwrap_err().to_string();
            assert!(e.contains("--watch-label-selector"), "{bad}: {e}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(40), Duration::from_secs(900));
    }

    #[test]
    fn jitter_stays_within_bounds_either_way() {
        let i = Duration::from_secs(600);
        let (mut below, mut above) = (false, false);
        for _ in 0..200 {
            let j = with_jitter(i, 5);
            assert!(
                j >= i - Duration::from_secs(30) && j <= i + Duration::from_secs(30),
                "{j:?}"
            );
            below |= j < i;
            above |= j > i;
        }
        assert!(below && above, "jitter goes both ways");
        assert_eq!(with_jitter(i, 0), i);
    }

    #[test]
    fn requeue_decisions() {
        let interval = Duration::from_secs(600);
        let near = |d: Duration| d >= Duration::from_secs(570) && d <= Duration::from_secs(630);
        // done: the interval, jittered
        assert!(near(next_reconcile(
            &Ok(Requeue::Interval),
            interval,
            None,
            0,
            5
        )));
        // waiting: exactly the delay asked for
        let wait = Ok(Requeue::After(Duration::from_secs(30)));
        assert_eq!(
            next_reconcile(&wait, interval, None, 0, 5),
            Duration::from_secs(30)
        );
        // terminal: back at the interval, never a tight loop
        let stalled = Err(ReconcileError::terminal("InvalidURL", "bad"));
        assert!(near(next_reconcile(
            &stalled,
            interval,
            Some(Duration::from_secs(1)),
            9,
            5
        )));
        // retriable: spec.retryInterval when the kind has one, else backoff
        let retry = Err(ReconcileError::retriable("BuildFailed", "x"));
        assert_eq!(
            next_reconcile(&retry, interval, Some(Duration::from_secs(7)), 3, 5),
            Duration::from_secs(7)
        );
        assert_eq!(
            next_reconcile(&retry, interval, None, 3, 5),
            Duration::from_secs(4)
        );
        // an explicit delay wins over both
        let after = Err(ReconcileError::retriable("DependencyNotReady", "x")
            .retry_after(Duration::from_secs(2)));
        assert_eq!(
            next_reconcile(&after, interval, Some(Duration::from_secs(7)), 1, 5),
            Duration::from_secs(2)
        );
        // a zero interval is never a busy loop
        assert!(
            next_reconcile(&Ok(Requeue::Interval), Duration::ZERO, None, 0, 0)
                >= Duration::from_secs(1)
        );
    }

    #[test]
    fn triggers_on_generation_request_and_deletion_only() {
        let mut o: gitops_api::GitRepository = serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "a", "namespace": "ns", "generation": 1},
            "spec": {"url": "https://x", "interval": "1m"},
        }))
        .unwrap();
        let h0 = trigger_hash(&o);
        o.status = Some(Default::default());
        o.metadata.resource_version = Some("9".into());
        assert_eq!(
            trigger_hash(&o),
            h0,
            "status and resource version do not trigger"
        );
        o.metadata.annotations = Some(
            [(
                gitops_api::annotations::REQUESTED_AT.to_string(),
                "now".to_string(),
            )]
            .into(),
        );
        let h1 = trigger_hash(&o);
        assert_ne!(h1, h0);
        o.metadata.generation = Some(2);
        assert_ne!(trigger_hash(&o), h1);
    }
}
