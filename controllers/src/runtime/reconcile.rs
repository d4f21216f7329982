//! The reconcile loop of one kind, on kube-runtime's `Controller`.
//!
//! [`run`] watches the kind (all namespaces or one), and calls a [`Reconciler`] when an
//! object's generation changes, when a reconcile is requested with
//! `reconcile.fluxcd.io/requestedAt`, on deletion, and when its requeue time comes:
//! `interval` plus up to 5% jitter after success, exponential backoff (1 s doubling to
//! 15 min) after a failure that may pass on retry. It adds the finalizer before the first
//! reconcile, calls [`Reconciler::finalize`] and removes the finalizer on deletion, skips
//! suspended objects, and records metrics.

use crate::runtime::telemetry::{Metrics, Readiness};
use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
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

/// What the runtime needs to know about an object of a reconciled kind.
pub trait Reconcilable:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// How often to reconcile.
    fn interval(&self) -> Duration;
    /// Whether reconciliation is suspended.
    fn suspended(&self) -> bool;
}

/// How a reconcile ended, which decides when the next one happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ready: next time at `interval` (with jitter).
    Ready,
    /// Failed, may pass on retry: exponential backoff.
    Retry,
    /// Failed until the object changes: next time at `interval`.
    Stalled,
}

/// A reconciler of one kind.
pub trait Reconciler<K: Reconcilable>: Send + Sync + 'static {
    /// The finalizer this controller owns, e.g. `finalizers.fluxcd.io`.
    fn finalizer(&self) -> &str;
    /// Brings the object towards its desired state and writes its status.
    fn reconcile(&self, obj: Arc<K>) -> impl Future<Output = Outcome> + Send;
    /// Cleans up after a deleted object (e.g. removes stored artifacts).
    fn finalize(&self, obj: Arc<K>) -> impl Future<Output = anyhow::Result<()>> + Send;
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

/// Checks a `--watch-label-selector` value (Kubernetes label selector syntax) and returns
/// it, `None` when empty; the error says what is wrong.
pub fn label_selector(s: &str) -> anyhow::Result<Option<String>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let key = |k: &str| {
        let k = k.trim();
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    };
    let mut depth = 0i32;
    let mut parts = vec![String::new()];
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(p) = parts.last_mut() {
            p.push(c);
        }
    }
    for p in &parts {
        let p = p.trim();
        let ok = if let Some((k, v)) = p
            .split_once("!=")
            .or_else(|| p.split_once("=="))
            .or_else(|| p.split_once('='))
        {
            key(k)
                && v.trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        } else if let Some((k, set)) = p.split_once(" notin ").or_else(|| p.split_once(" in ")) {
            let set = set.trim();
            key(k) && set.starts_with('(') && set.ends_with(')')
        } else if let Some(k) = p.strip_prefix('!') {
            key(k)
        } else {
            key(p)
        };
        if !ok || depth != 0 {
            anyhow::bail!("--watch-label-selector {s:?}: invalid requirement {p:?}");
        }
    }
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

/// `interval` plus a pseudo-random jitter of up to `percent`.
pub fn with_jitter(interval: Duration, percent: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let frac = f64::from(nanos % 1000) / 1000.0;
    interval + interval.mul_f64(frac * f64::from(percent) / 100.0)
}

/// The predicate that wakes the reconciler: generation, reconcile request, deletion.
fn trigger_hash<K: Resource>(obj: &K) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    gitops_api::annotations::requested_at(obj.meta()).hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    Some(h.finish())
}

struct Ctx<R> {
    reconciler: Arc<R>,
    client: kube::Client,
    failures: Mutex<HashMap<(String, String), u32>>,
    metrics: Metrics,
    opts: RunOptions,
}

async fn set_finalizers<K: Reconcilable>(
    api: &Api<K>,
    name: &str,
    finalizers: Vec<String>,
) -> Result<(), RuntimeError> {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": finalizers}})),
    )
    .await
    .map(|_| ())
    .map_err(|e| RuntimeError(format!("updating finalizers of {name}: {e}")))
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

    if obj.meta().deletion_timestamp.is_some() {
        if obj.finalizers().contains(&fin) {
            if let Err(e) = ctx.reconciler.finalize(obj.clone()).await {
                tracing::error!(kind, namespace = ns, name, error = %e, "finalizing failed");
                return Ok(Action::requeue(backoff(2)));
            }
            let rest: Vec<String> = obj
                .finalizers()
                .iter()
                .filter(|f| **f != fin)
                .cloned()
                .collect();
            set_finalizers(&api, &name, rest).await?;
        }
        ctx.metrics.forget(&kind, &ns, &name);
        ctx.failures.lock().remove(&key);
        return Ok(Action::await_change());
    }
    if !obj.finalizers().contains(&fin) {
        let mut all = obj.finalizers().to_vec();
        all.push(fin);
        set_finalizers(&api, &name, all).await?;
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
    let outcome = ctx.reconciler.reconcile(obj.clone()).await;
    let elapsed = started.elapsed();
    ctx.metrics.record(
        &kind,
        &ns,
        &name,
        elapsed.as_secs_f64(),
        outcome == Outcome::Ready,
    );
    let ready_status = if outcome == Outcome::Ready {
        "True"
    } else {
        "False"
    };
    ctx.metrics
        .record_ready(&kind, &ns, &name, ready_status, false);
    let interval = obj.interval().max(Duration::from_secs(1));
    Ok(match outcome {
        Outcome::Ready => {
            ctx.failures.lock().remove(&key);
            Action::requeue(with_jitter(interval, ctx.opts.jitter_percent))
        }
        Outcome::Stalled => {
            ctx.failures.lock().remove(&key);
            Action::requeue(with_jitter(interval, ctx.opts.jitter_percent))
        }
        Outcome::Retry => {
            let n = {
                let mut f = ctx.failures.lock();
                let n = f.entry(key).or_default();
                *n = n.saturating_add(1);
                *n
            };
            Action::requeue(backoff(n))
        }
    })
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
    let mut config = watcher::Config::default();
    if let Some(sel) = &opts.label_selector {
        config = config.labels(sel);
    }
    let stream = watcher(api, config)
        .default_backoff()
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
        .with_config(kube::runtime::controller::Config::default().concurrency(opts.concurrency));
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
    S: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + gitops_api::source::Source
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api: Api<S> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let store = controller.store();
    let revision = |s: &S| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.artifact().map(|a| (&a.revision, &a.digest)).hash(&mut h);
        Some(h.finish())
    };
    let trigger = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .predicate_filter(revision, Default::default());
    controller.watches_stream(trigger, move |source: S| {
        store
            .state()
            .into_iter()
            .filter(|k| uses(k, &source))
            .map(|k| kube::runtime::reflector::ObjectRef::from(k.as_ref()))
            .collect::<Vec<_>>()
    })
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
    fn jitter_stays_within_bounds() {
        let i = Duration::from_secs(600);
        for _ in 0..100 {
            let j = with_jitter(i, 5);
            assert!(j >= i && j <= i + Duration::from_secs(30), "{j:?}");
        }
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
