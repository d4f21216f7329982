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
//! | [`git_push`] | check out a commit's files, commit changes (optionally OpenPGP/SSH-signed) and push them over receive-pack, never forcing |
//! | [`oci`] | resolve tags, semver ranges and digests; pull a layer (extract or copy); push a directory as a Flux OCI artifact |
//! | [`helm`] | stream and parse repository indexes, select chart versions, download charts (HTTP or OCI), package charts with merged values files |
//! | [`bucket`] | list and download an S3-compatible bucket with a revision from keys and etags |
//! | [`archive`] | deterministic `tar.gz` writing, `sha256:` digests, safe extraction |
//! | [`ignore`] | Flux's default excludes, `.sourceignore` and `spec.ignore` |
//! | [`storage`] | `<root>/<kind>/<namespace>/<name>/<file>` storage, atomic writes, garbage collection |
//! | [`server`] | the artifact HTTP file server |
//! | [`fetch`] | for consumers (kustomize/helm controllers): download an artifact, verify its digest, extract it safely |
//! | [`generator`] | ArtifactGenerator composition (Flux source-watcher): copy operations over extracted sources, YAML merge, tarball extraction, content hash, path patterns |
//!
//! ## Revision strings (Flux v2 format)
//! Git: `main@sha1:<40 hex>`, `v1.2.3@sha1:…` (tags peeled to commits), `sha1:…`
//! (commit). OCI: `<tag>@sha256:<manifest digest>`, or `sha256:…` when pulled by digest.
//! Buckets and Helm indexes: `sha256:…`. Helm charts: the chart version.
//!
//! ## Pushing to Git
//! Image automation checks out a fetched commit, rewrites files, commits and pushes:
//! [`git_push`] does all of it in-process with gitoxide, no `git` binary at run time.
//! [`git_push::checkout`] writes a commit's files from the object database;
//! [`git_push::commit_changes`] edits the parent's tree with gix's tree editor and writes the
//! commit (author = committer, like Flux), optionally signed in the `gpgsig` header with an
//! OpenPGP key (rPGP) or an SSH key (`ssh-key`'s SSHSIG, namespace `git`); and
//! [`git_push::push`] is a small receive-pack client: gix-transport opens the connection
//! (the HTTP, SSH and file transports the fetch uses, with the same credentials, CA
//! certificates and `core.sshCommand`), the client reads the advertised references, checks
//! that every target is still where the caller built on (a moved branch is
//! [`git::GitError::RemoteMoved`], so the caller fetches and retries; it never forces),
//! sends the commands with `report-status` (plus `atomic`, `side-band-64k` and push
//! options when the server offers them), streams a pack of just the new objects, and maps
//! `ok`/`ng` answers to results.
//!
//! Why not git2/libgit2, or the `git` binary: one Git stack for fetch and push (the same
//! URL handling, authentication, TLS trust and SSH settings, and one set of errors), pure
//! Rust with no C library, OpenSSL or libssh2 to build (builds stay fast and static, the
//! image needs no `git`), and gitoxide already covers everything but the push protocol,
//! which is small: v0/v1 receive-pack, a pack of whole objects, a status report.
//!
//! ## TLS
//! HTTP clients use rustls with the `ring` provider; [`ensure_crypto_provider`] installs it
//! as the process default (idempotent, called by every network entry point).

#![warn(missing_docs)]

pub mod archive;
pub mod bucket;
pub mod fetch;
pub mod generator;
pub mod git;
pub mod git_push;
pub mod git_server;
pub mod helm;
pub mod ignore;
pub mod oci;
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
