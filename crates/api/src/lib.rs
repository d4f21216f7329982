//! # gitops-api
//!
//! The Kubernetes API of gitops, compatible with Flux v2.9: Rust types for every custom
//! resource (spec and status, with the same JSON field names, defaults, enums and
//! validation as Flux's CRDs), the CRDs generated from those types, and the vocabulary
//! shared by controllers and tools:
//!
//! - [`condition`]: `Ready`/`Reconciling`/`Stalled`/`Healthy` conditions and Flux's reasons;
//! - [`artifact::Artifact`] and [`revision`]: revision strings (`main@sha1:…`, `sha256:…`)
//!   and digests, parsed and formatted;
//! - [`annotations`]: `reconcile.fluxcd.io/requestedAt` and the other well-known keys;
//! - [`duration::Duration`]: Go durations as written in `interval` and `timeout`.
//!
//! | group/version | kinds |
//! |---|---|
//! | `source.toolkit.fluxcd.io/v1` | [`GitRepository`], [`OCIRepository`], [`HelmRepository`], [`HelmChart`], [`Bucket`], [`ExternalArtifact`] |
//! | `kustomize.toolkit.fluxcd.io/v1` | [`Kustomization`] |
//! | `helm.toolkit.fluxcd.io/v2` | [`HelmRelease`] |
//! | `image.toolkit.fluxcd.io/v1` | [`ImageRepository`], [`ImagePolicy`], [`ImageUpdateAutomation`] |
//! | `notification.toolkit.fluxcd.io/v1beta3` | [`Provider`], [`Alert`] |
//! | `notification.toolkit.fluxcd.io/v1` | [`Receiver`] |
//! | `source.extensions.fluxcd.io/v1beta1` | [`ArtifactGenerator`] |
//!
//! The types implement `k8s_openapi::Resource` (and so `kube::Resource`), so they work
//! with `kube::Api` directly.
//!
//! ```
//! use gitops_api::{FluxKind, GitRepository, Revision, source::GitRepositorySpec};
//!
//! let repo = GitRepository::new("podinfo", GitRepositorySpec {
//!     url: "https://github.com/stefanprodan/podinfo".into(),
//!     interval: "5m".parse()?,
//!     ..Default::default()
//! });
//! assert_eq!(repo.spec.timeout().as_secs(), 60);
//! let yaml = serde_json::to_value(&repo)?;
//! assert_eq!(yaml["apiVersion"], "source.toolkit.fluxcd.io/v1");
//!
//! let crd = GitRepository::crd();
//! assert_eq!(crd.metadata.name.as_deref(), Some("gitrepositories.source.toolkit.fluxcd.io"));
//!
//! let rev: Revision = "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738".parse()?;
//! assert_eq!(rev.short(), "main@sha1:5394cb7f");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod annotations;
pub mod artifact;
pub mod condition;
pub mod crd;
pub mod duration;
pub mod event;
pub mod extensions;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod revision;
pub mod schema;
pub mod source;

pub use artifact::Artifact;
pub use condition::{Condition, ConditionStatus, Conditions};
pub use crd::{FluxKind, KindInfo};
pub use duration::Duration;
pub use extensions::ArtifactGenerator;
pub use helm::HelmRelease;
pub use image::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
pub use kustomize::Kustomization;
pub use notification::{Alert, Provider, Receiver};
pub use revision::{Digest, Revision, RevisionError};
pub use source::{
    Bucket, ExternalArtifact, GitRepository, HelmChart, HelmRepository, OCIRepository,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

macro_rules! flux_objects {
    ($($kind:ident),* $(,)?) => {
        /// An object of any Flux kind.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum FluxObject {
            $(
            #[doc = concat!("A ", stringify!($kind), ".")]
            $kind($kind),
            )*
        }

        impl FluxObject {
            /// Reads an object of one of the Flux kinds from a JSON value. Returns `Ok(None)`
            /// when `apiVersion`/`kind` are not those of a Flux kind, and an error naming the
            /// kind and field when the object does not fit its kind's type.
            pub fn from_value(value: serde_json::Value) -> Result<Option<Self>, serde_json::Error> {
                let api_version = value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default();
                let kind = value.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
                $(
                if kind == stringify!($kind)
                    && api_version == <$kind as k8s_openapi::Resource>::API_VERSION
                {
                    return serde_json::from_value(value).map(|o| Some(FluxObject::$kind(o)));
                }
                )*
                Ok(None)
            }

            /// The object as a JSON value.
            pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
                match self {
                    $(FluxObject::$kind(o) => serde_json::to_value(o),)*
                }
            }

            /// The kind's static facts.
            pub fn info(&self) -> &'static KindInfo {
                match self {
                    $(FluxObject::$kind(_) => &<$kind as FluxKind>::INFO,)*
                }
            }
        }

        /// Static facts of every Flux kind.
        pub const KINDS: &[KindInfo] = &[$(<$kind as FluxKind>::INFO),*];

        /// The CRDs of every kind, sorted by name.
        pub fn all_crds() -> Vec<CustomResourceDefinition> {
            let mut crds = vec![$($kind::crd()),*];
            crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            crds
        }
    };
}

flux_objects!(
    GitRepository,
    OCIRepository,
    HelmRepository,
    HelmChart,
    Bucket,
    ExternalArtifact,
    Kustomization,
    HelmRelease,
    ImageRepository,
    ImagePolicy,
    ImageUpdateAutomation,
    Provider,
    Alert,
    Receiver,
    ArtifactGenerator,
);
