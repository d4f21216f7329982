//! Flux's additions to kustomize, as library functions the kustomize-controller calls:
//! post-build variable substitution, SOPS decryption, and generating a kustomization for
//! directories that have none.

pub mod generate;
pub mod ignore;
pub mod sops;
pub mod substitute;

pub use generate::{
    Manifest, Overlays, ensure_kustomization, flux_manifest, generated_kustomization,
};
pub use ignore::{IgnoreRule, IgnoreRules};
pub use sops::{AgeKeys, decrypt_resources};
pub use substitute::{substitute, substitute_str};
