//! # gitops-kustomize
//!
//! A kustomize engine in Rust (no kustomize binary): loads kustomizations, runs generators
//! and transformers, applies strategic-merge and JSON6902 patches, components and
//! replacements, and prints the same YAML stream as `kustomize build`. Also Flux's
//! additions: post-build variable substitution and SOPS decryption.
//!
//! Status: not implemented yet (tracked by the "Kustomize engine" issue). It exports nothing.
