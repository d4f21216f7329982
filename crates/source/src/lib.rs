//! # gitops-source
//!
//! Fetching desired state — Git repositories, OCI artifacts, Helm repositories and charts,
//! S3-compatible buckets — and packaging it into deterministic, verified artifacts, plus the
//! artifact storage and its HTTP file server. It knows nothing about controllers: functions
//! take inputs (URLs, references, credentials read from Secrets by the caller) and return
//! values or typed errors that say what failed and where, never with secrets in them.
//!
//! | module | what |
//! |---|---|
//! | [`git`] | fetch a branch, tag, semver range, ref name or commit with gitoxide (shallow where possible) and archive the tree straight from the object database |
//! | [`oci`] | resolve tags, semver ranges and digests; pull a layer (extract or copy); push a directory as a Flux OCI artifact |
//! | [`helm`] | stream and parse repository indexes, select chart versions, download charts (HTTP or OCI), package charts with merged values files |
//! | [`bucket`] | list and download an S3-compatible bucket with a revision from keys and etags |
//! | [`archive`] | deterministic `tar.gz` writing, `sha256:` digests, safe extraction |
//! | [`ignore`] | Flux's default excludes, `.sourceignore` and `spec.ignore` |
//! | [`storage`] | `<root>/<kind>/<namespace>/<name>/<file>` storage, atomic writes, garbage collection |
//! | [`server`] | the artifact HTTP file server |
//! | [`fetch`] | for consumers (kustomize/helm controllers): download an artifact, verify its digest, extract it safely |
//! | [`semver_range`] | Masterminds-compatible semver ranges |
//!
//! ## Revision strings (Flux v2 format)
//! Git: `main@sha1:<40 hex>`, `v1.2.3@sha1:…` (tags peeled to commits), `sha1:…`
//! (commit). OCI: `<tag>@sha256:<manifest digest>`, or `sha256:…` when pulled by digest.
//! Buckets and Helm indexes: `sha256:…`. Helm charts: the chart version.
//!
//! ## Pushing to Git
//! gitoxide fetches but does not push. Image automation (a later issue) will create
//! commits with gix in the fetched repository and push them by running the `git` binary
//! (`git push` against the same URL, with credentials passed through a credential helper
//! on standard input and SSH settings through `GIT_SSH_COMMAND`), the same split Flux's
//! go-git/libgit2 history ended at: reliable, protocol-complete pushing with no new Rust
//! dependency.
//!
//! ## TLS
//! HTTP clients use rustls with the `ring` provider; [`ensure_crypto_provider`] installs it
//! as the process default (idempotent, called by every network entry point).

#![warn(missing_docs)]

pub mod archive;
pub mod bucket;
pub mod fetch;
pub mod git;
pub mod git_server;
pub mod helm;
pub mod ignore;
pub mod oci;
pub mod semver_range;
pub mod server;
pub mod storage;

pub use archive::{ArchiveError, ArchiveInfo, ExtractLimits};
pub use storage::{ObjectKey, Storage, StoredArtifact};

/// Installs rustls' `ring` crypto provider as the process default if none is installed.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
