//! Flux's additions to kustomize, as library functions the kustomize-controller calls:
//! post-build variable substitution, SOPS decryption, and generating a kustomization for
//! directories that have none.

pub mod generate;
pub mod sops;
pub mod substitute;

pub use generate::{ensure_kustomization, generated_kustomization};
pub use sops::{AgeKeys, decrypt_resources};
pub use substitute::{substitute, substitute_str};
