//! # gitops-runtime
//!
//! The controller runtime every gitops reconciler is built on (as kube-runtime sits beside
//! kube-client): small pieces a controller composes, none of them specific to one kind.
//!
//! - [`args::ControllerArgs`]: the flags every controller accepts (`--kubeconfig`,
//!   `--metrics-addr`, `--health-addr`, `--log-level`, …), as `gitops install` writes them;
//! - [`client::client`]: a Kubernetes client from `--kubeconfig` or the in-cluster config;
//! - [`telemetry`]: JSON (or console) logs, Prometheus metrics, `/healthz` and `/readyz`;
//! - [`reconcile::run`]: a reconcile loop per kind — watch, typed results
//!   ([`reconcile::ReconcileResult`]: ready until the interval, requeue after a delay, or an
//!   error that is terminal or retried), Flux's interval jitter, exponential backoff,
//!   `suspend`, reconcile requests (`reconcile.fluxcd.io/requestedAt`), deletion;
//! - [`finalizer`]: finalizers added and removed with JSON patches that test the list first,
//!   so a concurrent writer makes the patch fail instead of losing its entry;
//! - [`status`]: Flux's condition bookkeeping (`Ready`, `Reconciling`, `Stalled` …) and one
//!   status writer over the typed status structs that writes only what changed;
//! - [`object`]: what the runtime knows of a kind's status ([`object::HasStatus`]) and
//!   object references for events;
//! - [`events::EventRecorder`]: Kubernetes Events (core/v1) and forwarding to the
//!   notification controller (`--events-addr`);
//! - [`http`]: the small HTTP server behind probes, metrics and webhook endpoints.

#![warn(missing_docs)]

pub mod args;
pub mod client;
pub mod events;
pub mod finalizer;
pub mod http;
pub mod object;
pub mod reconcile;
pub mod status;
pub mod telemetry;

/// Installs rustls' ring provider as the process default once (clients need one).
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
