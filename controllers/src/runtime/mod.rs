//! Shared controller plumbing, in small pieces the source, kustomize and helm controllers
//! compose (in the spirit of kube-runtime, which it builds on):
//!
//! - [`args::ControllerArgs`]: the flags every controller accepts (`--kubeconfig`,
//!   `--metrics-addr`, `--health-addr`, `--log-level`, …), as `gitops install` writes them;
//! - [`client::client`]: a Kubernetes client from `--kubeconfig` or the in-cluster config;
//! - [`telemetry`]: JSON (or console) logs, Prometheus metrics, `/healthz` and `/readyz`;
//! - [`reconcile::run`]: a reconcile loop per kind — watch, requeue at `interval` with
//!   jitter, exponential backoff on failure, `suspend`, reconcile requests
//!   (`reconcile.fluxcd.io/requestedAt`), finalizers and deletion;
//! - [`status`]: Flux's condition bookkeeping (`Ready`, `Reconciling`, `Stalled` …) and
//!   status patches;
//! - [`events::EventRecorder`]: Kubernetes Events (core/v1) and forwarding to the
//!   notification controller (`--events-addr`).

pub mod args;
pub mod client;
pub mod events;
pub mod reconcile;
pub mod status;
pub mod telemetry;
