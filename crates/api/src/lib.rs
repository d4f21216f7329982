//! # gitops-api
//!
//! Flux v2 compatible custom resource types (work in progress).
