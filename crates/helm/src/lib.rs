//! # gitops-helm
//!
//! Helm charts in Rust: chart loading and dependencies, values coalescing, a Go
//! `text/template` engine with Sprig and Helm functions, rendering byte-identical to
//! `helm template`, and (later) releases stored in Helm's Secret format.
//!
//! Status: not implemented yet (tracked by the "Helm chart rendering" issue). It exports nothing.
