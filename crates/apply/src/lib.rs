//! # gitops-apply
//!
//! The apply engine shared by the controllers: server-side apply of object sets in stages,
//! Flux-format inventory, prune, kstatus health assessment, drift detection and diff.
//!
//! Status: not implemented yet (tracked by the "Apply engine, kustomize-controller and
//! `gitops dev`" issue). It exports nothing.
