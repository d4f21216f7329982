//! Logs, Prometheus metrics and health endpoints.

use hyper::{Request, StatusCode};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Installs the global `tracing` subscriber: `json` (one object per line, as Flux's
/// controllers log) or `console`, at `level` (`RUST_LOG` overrides).
pub fn init_logging(level: &str, encoding: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},kube=warn,hyper=warn,reqwest=warn,gix=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if encoding == "console" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    };
}

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Controller metrics in Prometheus' text format:
/// `gotk_reconcile_duration_seconds{kind,name,namespace}` (histogram, as Flux names it),
/// `gitops_reconcile_total{kind,result}`, `gotk_reconcile_condition{kind,name,namespace,type,status}`
/// and `gotk_suspend_status{kind,name,namespace}`.
#[derive(Default, Clone)]
pub struct Metrics {
    inner: Arc<Mutex<MetricsInner>>,
}

#[derive(Default)]
struct MetricsInner {
    durations: BTreeMap<(String, String, String), Series>,
    totals: BTreeMap<(String, String), u64>,
    conditions: BTreeMap<(String, String, String), (String, String)>,
    suspended: BTreeMap<(String, String, String), bool>,
}

impl Metrics {
    /// Records one reconcile of an object.
    pub fn record(&self, kind: &str, namespace: &str, name: &str, seconds: f64, ok: bool) {
        let mut m = self.inner.lock();
        let s = m
            .durations
            .entry((kind.into(), namespace.into(), name.into()))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                s.buckets[i] += 1;
            }
        }
        *m.totals
            .entry((kind.into(), if ok { "success" } else { "error" }.into()))
            .or_default() += 1;
    }

    /// Records the Ready condition of an object.
    pub fn record_ready(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        status: &str,
        suspended: bool,
    ) {
        let mut m = self.inner.lock();
        let key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
        m.conditions
            .insert(key.clone(), ("Ready".into(), status.into()));
        m.suspended.insert(key, suspended);
    }

    /// Forgets a deleted object.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        let mut m = self.inner.lock();
        let key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
        m.durations.remove(&key);
        m.conditions.remove(&key);
        m.suspended.remove(&key);
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let m = self.inner.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP gotk_reconcile_duration_seconds The duration in seconds of a gotk resource reconciliation."
        );
        let _ = writeln!(out, "# TYPE gotk_reconcile_duration_seconds histogram");
        for ((k, ns, n), s) in &m.durations {
            let l = format!("kind=\"{k}\",name=\"{n}\",namespace=\"{ns}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "gotk_reconcile_duration_seconds_bucket{{{l},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "gotk_reconcile_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "gotk_reconcile_duration_seconds_sum{{{l}}} {}", s.sum);
            let _ = writeln!(
                out,
                "gotk_reconcile_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP gitops_reconcile_total Reconciliations by kind and result."
        );
        let _ = writeln!(out, "# TYPE gitops_reconcile_total counter");
        for ((k, r), v) in &m.totals {
            let _ = writeln!(
                out,
                "gitops_reconcile_total{{kind=\"{k}\",result=\"{r}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP gotk_reconcile_condition The current condition status of a GitOps Toolkit resource reconciliation."
        );
        let _ = writeln!(out, "# TYPE gotk_reconcile_condition gauge");
        for ((k, ns, n), (t, st)) in &m.conditions {
            for s in ["True", "False", "Unknown"] {
                let v = u8::from(s == st);
                let _ = writeln!(
                    out,
                    "gotk_reconcile_condition{{kind=\"{k}\",name=\"{n}\",namespace=\"{ns}\",status=\"{s}\",type=\"{t}\"}} {v}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP gotk_suspend_status The current suspend status of a GitOps Toolkit resource."
        );
        let _ = writeln!(out, "# TYPE gotk_suspend_status gauge");
        for ((k, ns, n), s) in &m.suspended {
            let _ = writeln!(
                out,
                "gotk_suspend_status{{kind=\"{k}\",name=\"{n}\",namespace=\"{ns}\"}} {}",
                u8::from(*s)
            );
        }
        out
    }
}

/// Whether the controller is ready (its watches started).
#[derive(Default, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the controller ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether it is.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Serves `/metrics` (when `metrics` is given) and `/healthz`, `/readyz` on `addr`.
pub async fn serve(
    addr: SocketAddr,
    metrics: Option<Metrics>,
    ready: Readiness,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    crate::http::serve(listener, move |req: Request<hyper::body::Incoming>| {
        let (status, body) = match (req.uri().path(), &metrics) {
            ("/metrics", Some(m)) => (StatusCode::OK, m.render()),
            ("/healthz", _) => (StatusCode::OK, "ok".to_owned()),
            ("/readyz", _) if ready.is_ready() => (StatusCode::OK, "ok".to_owned()),
            ("/readyz", _) => (StatusCode::SERVICE_UNAVAILABLE, "not ready".to_owned()),
            _ => (StatusCode::NOT_FOUND, "not found".to_owned()),
        };
        std::future::ready(crate::http::text(status, body))
    });
    Ok(())
}

/// Serves metrics on `--metrics-addr` and probes on `--health-addr` (each unless empty or
/// `0`), as every controller does at start-up.
pub async fn serve_from_args(
    args: &crate::args::ControllerArgs,
    metrics: &Metrics,
    ready: &Readiness,
) -> anyhow::Result<()> {
    use crate::args::bind_addr;
    if let Some(a) = bind_addr(&args.metrics_addr) {
        serve(a, Some(metrics.clone()), ready.clone())
            .await
            .map_err(|e| anyhow::anyhow!("metrics server on {a}: {e}"))?;
    }
    if let Some(a) = bind_addr(&args.health_addr) {
        serve(a, None, ready.clone())
            .await
            .map_err(|e| anyhow::anyhow!("health server on {a}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_prometheus_text() {
        let m = Metrics::default();
        m.record("GitRepository", "ns", "app", 0.2, true);
        m.record("GitRepository", "ns", "app", 3.0, false);
        m.record_ready("GitRepository", "ns", "app", "False", false);
        let out = m.render();
        assert!(out.contains("gotk_reconcile_duration_seconds_count{kind=\"GitRepository\",name=\"app\",namespace=\"ns\"} 2"));
        assert!(out.contains("gotk_reconcile_duration_seconds_bucket{kind=\"GitRepository\",name=\"app\",namespace=\"ns\",le=\"0.25\"} 1"));
        assert!(out.contains("gitops_reconcile_total{kind=\"GitRepository\",result=\"error\"} 1"));
        assert!(out.contains("gotk_reconcile_condition{kind=\"GitRepository\",name=\"app\",namespace=\"ns\",status=\"False\",type=\"Ready\"} 1"));
        m.forget("GitRepository", "ns", "app");
        assert!(!m.render().contains("name=\"app\""));
    }
}
