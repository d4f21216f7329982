//! # gitops-source
//!
//! Fetching desired state: Git repositories (gix), OCI artifacts (oci-client), Helm
//! repository indexes and charts, and S3-compatible buckets, packaged into deterministic
//! `tar.gz` artifacts with `sha256:` digests, plus the artifact storage and its HTTP file
//! server.
//!
//! Status: not implemented yet (tracked by the "Sources and the source-controller" issue).
//! The crate exists so the workspace has the layout of `DESIGN.md`; it exports nothing.
