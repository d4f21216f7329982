//! # gitops-kustomize
//!
//! A kustomize engine in Rust (no kustomize binary). [`build`] turns a kustomization
//! directory into the same objects, in the same order and printed byte for byte the same, as
//! `kustomize build` v5.7.1: resources, bases and components, generators with content
//! hashes, namespace / prefix / suffix / labels / annotations / images / replicas,
//! strategic-merge and JSON6902 patches, name references, vars and replacements.
//!
//! ```no_run
//! use gitops_kustomize::{build_to_string, BuildOptions};
//! let yaml = build_to_string(std::path::Path::new("deploy/prod"), &BuildOptions::default())?;
//! print!("{yaml}");
//! # Ok::<(), gitops_kustomize::Error>(())
//! ```
//!
//! Helm charts (`helmCharts`) are rendered by a [`ChartRenderer`] the caller provides in
//! [`BuildOptions`]. Flux's additions live in [`flux`]: post-build substitution, SOPS
//! decryption and generating a kustomization for plain directories.
//!
//! A Flux-style build (what the kustomize-controller does):
//!
//! ```no_run
//! use gitops_kustomize::{build, flux, to_yaml_stream, BuildOptions, LoadRestrictor};
//! use std::collections::BTreeMap;
//! # fn main() -> Result<(), gitops_kustomize::Error> {
//! let dir = std::path::Path::new("/tmp/artifact/apps/prod");
//! flux::ensure_kustomization(dir)?; // plain directories get a generated kustomization
//! let opts = BuildOptions {
//!     load_restrictor: LoadRestrictor::RootOnly,
//!     sandbox: Some("/tmp/artifact".into()), // nothing outside the artifact is read
//!     chart_renderer: None,
//! };
//! let mut objects = build(dir, &opts)?;
//! let keys = flux::AgeKeys::parse("AGE-SECRET-KEY-1...")?;
//! flux::decrypt_resources(&mut objects, &keys)?; // SOPS-encrypted Secrets
//! let vars = BTreeMap::from([("cluster".to_string(), "prod".to_string())]);
//! flux::substitute(&mut objects, &vars, false)?; // postBuild.substitute
//! print!("{}", to_yaml_stream(&objects)?);
//! # Ok(()) }
//! ```
//!
//! The YAML layer ([`yaml`]) parses with granit-parser and prints like kustomize (JSON round
//! trip and go-yaml v2: sorted keys, quoting and folding rules, through
//! [`gitops_go::yaml::marshal`]). Everything else (loading, generators, transformers, patches,
//! name references) is internal: [`build`] is the engine's interface.

#![warn(missing_docs)]

mod build;
mod config;
mod crds;
mod error;
mod fieldspec;
pub mod flux;
mod generators;
mod helm;
mod jsonpatch;
mod kustomization;
mod loader;
mod replacements;
mod resource;
mod smp;
mod transform;
pub mod yaml;

pub use build::{BuildOptions, build, build_to_string, build_with_kustomization, to_yaml_stream};
pub use error::{Error, Result};
pub use helm::{ChartRenderer, ChartRequest};
pub use kustomization::Selector;
pub use loader::LoadRestrictor;
pub use resource::{ResId, Resource};
