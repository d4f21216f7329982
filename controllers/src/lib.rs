//! # gitops-controllers
//!
//! The reconcilers: source, kustomize, helm, image-reflector, image-automation,
//! notification and source-watcher. Each runs as its own process (`gitops controller
//! <name>`) and talks to the others only through the Kubernetes API and artifact URLs.
//!
//! - [`runtime`]: the controller runtime ([`gitops_runtime`], a crate of its own) every
//!   controller is built on;
//! - [`source`]: the source controller (GitRepository, OCIRepository, HelmRepository,
//!   HelmChart, Bucket);
//! - [`kustomize`]: the kustomize controller (Kustomization);
//! - [`helm`]: the helm controller (HelmRelease);
//! - [`notification`]: the notification controller (events to Alerts and Providers,
//!   Receivers);
//! - [`image`]: the image-reflector controller (ImageRepository, ImagePolicy) and the
//!   image-automation controller (ImageUpdateAutomation);
//! - [`watcher`]: the source-watcher (ArtifactGenerator into ExternalArtifacts).
//!
//! [`CONTROLLERS`] is the one registry of controllers: `gitops install` (components and
//! their CRDs), `gitops controller NAME` and `gitops dev` all read it.

#![warn(missing_docs)]

mod artifact;
pub mod cluster_access;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod notification;
mod redact;
pub mod source;
pub mod watcher;

/// The controller runtime ([`gitops_runtime`]), under the name the controllers use.
pub use gitops_runtime as runtime;

/// How a controller starts: from its command line (`argv[0]` is its name), a future that
/// runs it until the process stops; a parse error (including `--help`) as clap reports it.
pub type Start =
    fn(Vec<String>) -> Result<futures::future::BoxFuture<'static, anyhow::Result<()>>, clap::Error>;

/// One controller of the installation: what `gitops install`, `gitops controller` and
/// `gitops dev` need to know of it, declared once.
pub struct ControllerInfo {
    /// The component (Deployment) name, e.g. `source-controller`.
    pub name: &'static str,
    /// Part of a default installation (otherwise only with `--components-extra`).
    pub default: bool,
    /// The kinds it reconciles (their CRDs come with it).
    pub kinds: &'static [&'static gitops_api::KindInfo],
    /// How to start it; `None` for controllers not built yet (installable, not runnable).
    pub start: Option<Start>,
}

impl ControllerInfo {
    /// Whether `name` names this controller (`source-controller` or `source`).
    pub fn is(&self, name: &str) -> bool {
        self.name == name || self.name.strip_suffix("-controller") == Some(name)
    }
}

fn start_with<A: clap::Parser + Send + 'static, F>(
    argv: Vec<String>,
    run: fn(A) -> F,
) -> Result<futures::future::BoxFuture<'static, anyhow::Result<()>>, clap::Error>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let args = A::try_parse_from(argv)?;
    Ok(Box::pin(run(args)))
}

use gitops_api::FluxKind;

/// The controllers of a full installation, in the order Flux lists its components.
pub static CONTROLLERS: &[ControllerInfo] = &[
    ControllerInfo {
        name: "source-controller",
        default: true,
        kinds: &[
            &gitops_api::GitRepository::INFO,
            &gitops_api::OCIRepository::INFO,
            &gitops_api::HelmRepository::INFO,
            &gitops_api::HelmChart::INFO,
            &gitops_api::Bucket::INFO,
            &gitops_api::ExternalArtifact::INFO,
        ],
        start: Some(|argv| start_with(argv, source::run)),
    },
    ControllerInfo {
        name: "kustomize-controller",
        default: true,
        kinds: &[&gitops_api::Kustomization::INFO],
        start: Some(|argv| start_with(argv, kustomize::run)),
    },
    ControllerInfo {
        name: "helm-controller",
        default: true,
        kinds: &[&gitops_api::HelmRelease::INFO],
        start: Some(|argv| start_with(argv, helm::run)),
    },
    ControllerInfo {
        name: "notification-controller",
        default: true,
        kinds: &[
            &gitops_api::Provider::INFO,
            &gitops_api::Alert::INFO,
            &gitops_api::Receiver::INFO,
        ],
        start: Some(|argv| start_with(argv, notification::run)),
    },
    ControllerInfo {
        name: "image-reflector-controller",
        default: false,
        kinds: &[
            &gitops_api::ImageRepository::INFO,
            &gitops_api::ImagePolicy::INFO,
        ],
        start: Some(|argv| start_with(argv, image::run_reflector)),
    },
    ControllerInfo {
        name: "image-automation-controller",
        default: false,
        kinds: &[&gitops_api::ImageUpdateAutomation::INFO],
        start: Some(|argv| start_with(argv, image::run_automation)),
    },
    ControllerInfo {
        name: "source-watcher",
        default: false,
        kinds: &[&gitops_api::ArtifactGenerator::INFO],
        start: Some(|argv| start_with(argv, watcher::run)),
    },
];

/// The controller `name` names (`source-controller` or `source`).
pub fn controller(name: &str) -> Option<&'static ControllerInfo> {
    CONTROLLERS.iter().find(|c| c.is(name))
}
