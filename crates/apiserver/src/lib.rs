//! # gitops-apiserver
//!
//! An embedded Kubernetes API server: discovery, CRUD, list/watch, server-side apply,
//! patches, CRDs, finalizers and garbage collection, persisted to one file. The local
//! cluster of `gitops dev` and a test bed for controllers.
//!
//! Status: not implemented yet (tracked by the "Embedded Kubernetes API server" issue).
//! It exports nothing.
