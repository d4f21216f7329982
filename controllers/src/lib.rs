//! # gitops-controllers
//!
//! The reconcilers: source, kustomize, helm, image-reflector, image-automation and
//! notification. Each runs as its own process (`gitops controller <name>`) and talks to the
//! others only through the Kubernetes API and artifact URLs.
//!
//! - [`runtime`]: the plumbing every controller shares (client, reconcile loop, conditions,
//!   events, metrics, logs);
//! - [`source`]: the source controller (GitRepository, OCIRepository, HelmRepository,
//!   HelmChart, Bucket);
//! - [`kustomize`]: the kustomize controller (Kustomization).
//!
//! [`CONTROLLERS`] names the controllers the installation deploys so that `gitops install`
//! and `gitops controller` agree on them.

#![warn(missing_docs)]

pub mod kustomize;
pub mod source;

/// The controller runtime ([`gitops_runtime`]), under the name the controllers use.
pub use gitops_runtime as runtime;

/// The controllers of a full installation, in the order Flux lists its components.
pub const CONTROLLERS: &[&str] = &[
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
];
