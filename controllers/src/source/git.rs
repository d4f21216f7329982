//! GitRepository reconciler.

use super::{Context, Failure, Observed, Success, current_artifact, finish, key_of, secret_data};
use crate::runtime::reconcile::{ReconcileResult, Reconciler, blocking_with_timeout};
use gitops_api::condition::reasons;
use gitops_api::source::GitRepositoryStatus;
use gitops_api::{Artifact, GitRepository};
use gitops_source::git::{
    self, ArchiveOptions, FetchOptions, FetchOutcome, GitAuth, GitError, GitReference,
};
use kube::ResourceExt;
use kube::api::Api;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub(crate) struct GitReconciler(pub Arc<Context>);

impl Reconciler<GitRepository> for GitReconciler {
    fn finalizer(&self) -> &str {
        super::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<GitRepository>) -> ReconcileResult {
        let result = reconcile(&self.0, &obj).await;
        finish(&self.0, obj.as_ref(), result).await
    }

    async fn finalize(&self, obj: Arc<GitRepository>) -> anyhow::Result<()> {
        super::remove_artifacts(&self.0, obj.as_ref())
    }
}

fn git_failure(e: GitError) -> Failure {
    let msg = format!("failed to checkout and determine revision: {e}");
    match e {
        GitError::InvalidUrl { .. } => Failure::stalled(reasons::URL_INVALID, msg),
        GitError::BadRange { .. } => Failure::stalled(reasons::GIT_OPERATION_FAILED, msg),
        GitError::Authentication { .. } => Failure::fetch(reasons::AUTHENTICATION_FAILED, msg),
        GitError::Archive(_) | GitError::Io { .. } => Failure::storage(msg),
        GitError::TooLarge { .. } => Failure::storage(format!("failed to archive repository: {e}")),
        _ => Failure::fetch(reasons::GIT_OPERATION_FAILED, msg),
    }
}

/// An included repository's artifact, resolved for this reconcile.
struct Include {
    artifact: Artifact,
    from: String,
    to: String,
}

async fn includes(ctx: &Context, obj: &GitRepository) -> Result<Vec<Include>, Failure> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &ns);
    let mut out = Vec::new();
    for inc in &obj.spec.include {
        let name = &inc.repository.name;
        let unavailable = |m: String| Failure {
            condition: Some(gitops_api::condition::types::INCLUDE_UNAVAILABLE),
            reason: "NoArtifact",
            message: m,
            stalled: false,
        };
        let other = api.get(name).await.map_err(|e| {
            unavailable(format!("could not get resource for include '{name}': {e}"))
        })?;
        let artifact = other
            .status
            .and_then(|s| s.artifact)
            .filter(|a| ctx.storage.exists(&a.path))
            .ok_or_else(|| unavailable(format!("no artifact available for include '{name}'")))?;
        out.push(Include {
            artifact,
            from: inc.from_path.clone().unwrap_or_default(),
            to: inc
                .to_path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| name.clone()),
        });
    }
    Ok(out)
}

async fn reconcile(
    ctx: &Context,
    obj: &GitRepository,
) -> Result<Success<GitRepositoryStatus>, Failure> {
    let spec = &obj.spec;
    let ns = obj.namespace().unwrap_or_default();
    if !(spec.url.starts_with("http://")
        || spec.url.starts_with("https://")
        || spec.url.starts_with("ssh://")
        || spec.url.starts_with("git://")
        || spec.url.starts_with("file://"))
    {
        return Err(Failure::stalled(
            reasons::URL_INVALID,
            format!(
                "invalid URL {:?}: scheme must be http, https or ssh",
                spec.url
            ),
        ));
    }
    if spec.verify.is_some() {
        return Err(super::unsupported(
            "spec.verify",
            "commit and tag signatures are not verified",
        ));
    }
    if spec
        .provider
        .is_some_and(|p| p != gitops_api::source::GitProvider::Generic)
    {
        return Err(super::unsupported(
            "spec.provider",
            "only 'generic' (credentials from spec.secretRef)",
        ));
    }
    if spec.proxy_secret_ref.is_some() {
        return Err(super::unsupported("spec.proxySecretRef", "Git proxies"));
    }
    let mut opts = FetchOptions::new(&spec.url, GitReference::from_spec(spec.reference.as_ref()));
    if let Some(s) = &spec.secret_ref {
        opts.auth = GitAuth::from_secret_data(&secret_data(ctx, &ns, &s.name).await?);
    }
    let incs = includes(ctx, obj).await?;
    let current = current_artifact(ctx, obj);
    // The artifact is reused only when everything that shaped it is unchanged.
    let status = obj.status.clone().unwrap_or_default();
    let included_now: Vec<&str> = incs.iter().map(|i| i.artifact.revision.as_str()).collect();
    let included_before: Vec<&str> = status
        .included_artifacts
        .iter()
        .map(|a| a.revision.as_str())
        .collect();
    let same_shape = status.observed_ignore == spec.ignore
        && status.observed_recurse_submodules == spec.recurse_submodules
        && status.observed_sparse_checkout == spec.sparse_checkout
        && included_now == included_before
        && status.observed_include == spec.include;
    let last = current
        .as_ref()
        .filter(|_| same_shape)
        .map(|a| a.revision.clone());

    let work =
        tempfile::tempdir().map_err(|e| Failure::storage(format!("temporary directory: {e}")))?;
    let interrupt = Arc::new(AtomicBool::new(false));
    opts.interrupt = interrupt.clone();
    // a pack can hold a huge blob in a few bytes: never inflate more than an artifact may hold
    opts.max_object_size = Some(ctx.max_size);
    let archive_opts = ArchiveOptions {
        ignore: spec.ignore.clone(),
        sparse_checkout: spec.sparse_checkout.clone(),
        recurse_submodules: spec.recurse_submodules,
        max_size: Some(ctx.max_size),
    };
    let storage = ctx.storage.clone();
    let key = key_of(obj);
    let work_path = work.path().to_owned();
    let inc_files: Vec<(std::path::PathBuf, String, String)> = incs
        .iter()
        .filter_map(|i| {
            Some((
                storage.local_path(&i.artifact.path)?,
                i.from.clone(),
                i.to.clone(),
            ))
        })
        .collect();
    let max = ctx.max_size;
    let job =
        move || -> Result<Option<(String, String, gitops_source::StoredArtifact)>, Failure> {
            let repo = match git::fetch(&opts, &work_path.join("repo"), last.as_deref())
                .map_err(git_failure)?
            {
                FetchOutcome::Unchanged(_) => return Ok(None),
                FetchOutcome::Fetched(r) => r,
            };
            let file = format!("{}.tar.gz", repo.commit);
            let stored = if inc_files.is_empty() {
                storage
                    .store_with(&key, &file, |w| {
                        repo.archive(&archive_opts, w).map(|_| ()).map_err(|e| {
                            gitops_source::storage::StorageError::Io {
                                path: file.clone(),
                                source: std::io::Error::other(e.to_string()),
                            }
                        })
                    })
                    .map_err(|e| Failure::storage(format!("failed to archive repository: {e}")))?
                    .0
            } else {
                // Materialise the tree, copy the includes in, archive the result.
                let tree = work_path.join("tree");
                let staged = work_path.join("tree.tar.gz");
                let out = std::fs::File::create(&staged)
                    .map_err(|e| Failure::storage(format!("failed to stage repository: {e}")))?;
                let (out, _) = repo
                    .archive(&archive_opts, std::io::BufWriter::new(out))
                    .map_err(git_failure)?;
                out.into_inner()
                    .map_err(|e| Failure::storage(format!("failed to stage repository: {e}")))?;
                let limits = gitops_source::ExtractLimits {
                    max_bytes: max,
                    ..Default::default()
                };
                let input = std::fs::File::open(&staged)
                    .map_err(|e| Failure::storage(format!("failed to stage repository: {e}")))?;
                gitops_source::archive::extract_tar_gz(
                    std::io::BufReader::new(input),
                    &tree,
                    limits,
                )
                .map_err(|e| Failure::storage(format!("failed to stage repository: {e}")))?;
                for (path, from, to) in &inc_files {
                    let staged = work_path.join(format!("inc-{}", to.replace('/', "_")));
                    let f = std::fs::File::open(path).map_err(|e| {
                        Failure::storage(format!("include {}: {e}", path.display()))
                    })?;
                    gitops_source::archive::extract_tar_gz(
                        std::io::BufReader::new(f),
                        &staged,
                        limits,
                    )
                    .map_err(|e| Failure::storage(format!("include {to}: {e}")))?;
                    let src = staged.join(
                        gitops_source::archive::safe_relative_path(from)
                            .map_err(|e| Failure::storage(e.to_string()))?,
                    );
                    let dst = tree.join(
                        gitops_source::archive::safe_relative_path(to)
                            .map_err(|e| Failure::storage(e.to_string()))?,
                    );
                    let _ = std::fs::remove_dir_all(&dst);
                    copy_dir(&src, &dst)
                        .map_err(|e| Failure::storage(format!("copying include {to}: {e}")))?;
                }
                storage
                    .archive_dir(
                        &key,
                        &file,
                        &tree,
                        &gitops_source::ignore::IgnoreRules::none(),
                    )
                    .map_err(|e| Failure::storage(format!("failed to archive repository: {e}")))?
                    .0
            };
            Ok(Some((repo.revision.clone(), repo.message.clone(), stored)))
        };
    let timeout = spec.timeout();
    let out = blocking_with_timeout(timeout, interrupt, job).await.ok_or_else(|| {
        Failure::fetch(
            reasons::GIT_OPERATION_FAILED,
            format!("failed to checkout and determine revision: timeout after {timeout:?} fetching {}", spec.url),
        )
    })??;
    let mut extra = Observed::default();
    let (ignore, recurse, sparse, include) = (
        spec.ignore.clone(),
        spec.recurse_submodules,
        spec.sparse_checkout.clone(),
        spec.include.clone(),
    );
    let included: Vec<Artifact> = incs.iter().map(|i| i.artifact.clone()).collect();
    extra.set(move |s: &mut GitRepositoryStatus| {
        s.observed_ignore = ignore;
        s.observed_recurse_submodules = recurse;
        s.observed_sparse_checkout = sparse;
        s.observed_include = include;
        s.included_artifacts = included;
    });
    match out {
        None => {
            let a = current.ok_or_else(|| Failure::storage("artifact disappeared from storage"))?;
            Ok(Success {
                ready_message: format!("stored artifact for revision '{}'", a.revision),
                event_message: String::new(),
                artifact: a,
                new: false,
                extra,
            })
        }
        Some((revision, message, stored)) => {
            let artifact = stored.to_api(&revision, None);
            Ok(Success {
                ready_message: format!("stored artifact for revision '{revision}'"),
                event_message: format!("stored artifact for commit '{message}'"),
                artifact,
                new: true,
                extra,
            })
        }
    }
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let t = e.file_type()?;
        let to = dst.join(e.file_name());
        if t.is_dir() {
            copy_dir(&e.path(), &to)?;
        } else if t.is_file() {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}
