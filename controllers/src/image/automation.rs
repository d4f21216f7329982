//! ImageUpdateAutomation reconciler: clone, set, commit, push — never forcing.
//!
//! The Git work runs on a blocking thread under the GitRepository's timeout: fetch the
//! checkout reference (or the push branch when it differs and exists, so the update lands
//! on top of it), check the commit out, rewrite the setter-marked fields, commit the
//! changed files (signed when asked) and push with the tip the commit was built on as the
//! expected old value. When the branch moved meanwhile (`RemoteMoved`/`PushRejected`), the
//! whole update is redone on the new tip, up to [`ATTEMPTS`] times; nothing is ever
//! force-pushed, so nothing in the repository is lost.

use super::{Done, FINALIZER, finish};
use crate::runtime::events::EventRecorder;
use crate::runtime::reconcile::{
    ReconcileError, ReconcileResult, Reconciler, blocking_with_timeout,
};
use gitops_api::condition::reasons;
use gitops_api::image::{ImageRef, ImageUpdateAutomationStatus, SigningKeyType};
use gitops_api::source::GitRepositoryRef;
use gitops_api::{GitRepository, ImagePolicy, ImageUpdateAutomation};
use gitops_image_updater::message::{self, AutomationRef, MessageError};
use gitops_image_updater::setters::{PolicyImage, Setters};
use gitops_source::git::{self, FetchOptions, FetchOutcome, GitAuth, GitError, GitReference};
use gitops_source::git_push::{self, CommitOptions, FileChange, PushOptions, RefUpdate, Signer};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How many times an update is redone on a branch that moved before the push fails.
pub const ATTEMPTS: usize = 3;
/// Flux's ready message.
const READY_MESSAGE: &str = "repository up-to-date";
/// Git's default branch when neither the automation nor the GitRepository names one.
const DEFAULT_BRANCH: &str = "master";

/// What the automation controller's reconciler shares.
pub(crate) struct AutomationContext {
    pub client: kube::Client,
    pub events: EventRecorder,
    pub no_cross_namespace_refs: bool,
}

pub(crate) struct AutomationReconciler(pub Arc<AutomationContext>);

impl Reconciler<ImageUpdateAutomation> for AutomationReconciler {
    fn finalizer(&self) -> &str {
        FINALIZER
    }

    async fn reconcile(&self, obj: Arc<ImageUpdateAutomation>) -> ReconcileResult {
        let ctx = &self.0;
        let mut status = obj.status.clone().unwrap_or_default();
        let result = reconcile(ctx, &obj, &mut status).await;
        finish(&ctx.client, &ctx.events, obj.as_ref(), status, result).await
    }

    async fn finalize(&self, _obj: Arc<ImageUpdateAutomation>) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The `(namespace, name)` of an automation's GitRepository.
pub(crate) fn source_key(a: &ImageUpdateAutomation) -> (String, String) {
    let r = &a.spec.source_ref;
    let ns = r
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| a.namespace().unwrap_or_default());
    (ns, r.name.clone())
}

/// A `metav1.LabelSelector` as a selector string for list calls; the error says which
/// requirement is wrong.
fn selector_string(sel: &gitops_api::image::LabelSelector) -> Result<String, String> {
    let mut parts = Vec::new();
    for (k, v) in sel.match_labels.iter().flatten() {
        parts.push(format!("{k}={v}"));
    }
    for e in &sel.match_expressions {
        let values = e.values.join(",");
        let part = match e.operator.as_str() {
            "In" | "NotIn" if e.values.is_empty() => {
                return Err(format!(
                    "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty (key {:?})",
                    e.key
                ));
            }
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" | "DoesNotExist" if !e.values.is_empty() => {
                return Err(format!(
                    "values: Invalid value: {:?}: values set must be empty for exists and does not exist (key {:?})",
                    e.values, e.key
                ));
            }
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        parts.push(part);
    }
    Ok(parts.join(","))
}

/// The reference to check out: `spec.git.checkout.ref`, else the GitRepository's.
fn checkout_ref(a: &ImageUpdateAutomation, repo: &GitRepository) -> Option<GitRepositoryRef> {
    a.spec
        .git
        .as_ref()
        .and_then(|g| g.checkout.as_ref())
        .map(|c| c.reference.clone())
        .or_else(|| repo.spec.reference.clone())
}

/// Everything the Git work needs, owned, for the blocking thread.
struct GitJob {
    url: String,
    auth: GitAuth,
    checkout: GitReference,
    push_branch: String,
    switch_branch: bool,
    refspec: Option<(String, String)>,
    push_options: Vec<String>,
    last_observed: Option<String>,
    update_path: String,
    policies: Vec<PolicyImage>,
    automation: AutomationRef,
    template: Option<String>,
    template_values: BTreeMap<String, String>,
    author_name: String,
    author_email: String,
    signer: Option<Signer>,
    interrupt: Arc<AtomicBool>,
}

/// What the Git work did.
enum GitOutcome {
    /// The remote still has the revision last worked on, and nothing else changed.
    Unchanged,
    /// Nothing to change at this revision.
    UpToDate { revision: String },
    /// A commit was pushed.
    Pushed {
        commit: String,
        base_revision: String,
        message: String,
        attempts: usize,
    },
}

/// A failure of the Git work: Flux's reason, the message, and whether it needs a change
/// to the objects.
struct GitFailure {
    reason: &'static str,
    message: String,
    terminal: bool,
}

impl GitFailure {
    fn git(prefix: &str, e: GitError) -> Self {
        GitFailure {
            reason: reasons::GIT_OPERATION_FAILED,
            message: format!("{prefix}: {e}"),
            terminal: false,
        }
    }
}

fn fetch_opts(job: &GitJob, reference: GitReference) -> FetchOptions {
    let mut o = FetchOptions::new(&job.url, reference);
    o.auth = job.auth.clone();
    o.interrupt = job.interrupt.clone();
    o
}

/// The tip to build on, fetched into a new repository under `dir`: the push branch when it
/// differs from the checkout reference and exists (the update goes on top of it), else the
/// checkout reference. `None` when the remote still has `last` and nothing is to be done.
fn fetch_base(
    job: &GitJob,
    dir: &std::path::Path,
    last: Option<&str>,
) -> Result<Option<(git::FetchedRepo, bool)>, GitFailure> {
    let checkout_failed = |e| GitFailure::git("failed to checkout source", e);
    if job.switch_branch {
        match git::fetch(
            &fetch_opts(job, GitReference::Branch(job.push_branch.clone())),
            &dir.join("push-branch"),
            None,
        ) {
            Ok(FetchOutcome::Fetched(r)) => return Ok(Some((*r, true))),
            Ok(FetchOutcome::Unchanged(_)) => {}
            Err(GitError::RefNotFound { .. }) => {}
            Err(e) => return Err(checkout_failed(e)),
        }
    }
    match git::fetch(
        &fetch_opts(job, job.checkout.clone()),
        &dir.join("checkout"),
        last,
    ) {
        Ok(FetchOutcome::Fetched(r)) => Ok(Some((*r, !job.switch_branch))),
        Ok(FetchOutcome::Unchanged(_)) => Ok(None),
        Err(e) => Err(checkout_failed(e)),
    }
}

fn run_git(job: &GitJob) -> Result<GitOutcome, GitFailure> {
    let io = |e: std::io::Error| GitFailure {
        reason: reasons::GIT_OPERATION_FAILED,
        message: format!("failed to checkout source: {e}"),
        terminal: false,
    };
    let setters = Setters::new(&job.policies);
    for attempt in 1..=ATTEMPTS {
        let work = tempfile::tempdir().map_err(io)?;
        // Only the first attempt may stop early: a retry follows a branch that moved.
        let last = if attempt == 1 {
            job.last_observed.as_deref()
        } else {
            None
        };
        let Some((repo, on_push_branch)) = fetch_base(job, &work.path().join("git"), last)? else {
            return Ok(GitOutcome::Unchanged);
        };
        let tree = work.path().join("tree");
        git_push::checkout(&repo.dir, &repo.commit, &tree)
            .map_err(|e| GitFailure::git("failed to checkout source", e))?;
        let report = setters
            .update_dir(&tree, &job.update_path)
            .map_err(|e| GitFailure {
                reason: reasons::UPDATE_FAILED,
                message: format!("failed to apply policies: {e}"),
                terminal: false,
            })?;
        for p in &report.problem_files {
            tracing::info!(url = %job.url, file = p.path, "skipping a file that is not YAML: {}", p.error.message);
        }
        if report.files.is_empty() {
            return Ok(GitOutcome::UpToDate {
                revision: repo.revision,
            });
        }
        let mut changes = Vec::with_capacity(report.files.len());
        for file in report.files.keys() {
            let rel = report.repo_path(file);
            let content = std::fs::read(tree.join(&rel)).map_err(io)?;
            changes.push(FileChange::write(rel, content));
        }
        let message = message::render(
            job.template.as_deref(),
            &job.automation,
            &report,
            &job.template_values,
        )
        .map_err(|e| GitFailure {
            reason: match e {
                MessageError::RemovedField(_) => reasons::REMOVED_TEMPLATE_FIELD,
                _ => reasons::GIT_OPERATION_FAILED,
            },
            message: match &e {
                MessageError::RemovedField(_) => e.to_string(),
                _ => format!("failed to update source: {e}"),
            },
            // A template is fixed by changing the object, not by retrying.
            terminal: true,
        })?;
        let mut opts = CommitOptions::new(&job.author_name, &job.author_email, &message);
        opts.signing = job.signer.clone();
        let update_failed = |e| GitFailure::git("failed to update source", e);
        let Some(commit) = git_push::commit_changes(&repo.dir, &repo.commit, &changes, &opts)
            .map_err(update_failed)?
        else {
            return Ok(GitOutcome::UpToDate {
                revision: repo.revision,
            });
        };
        let mut push = PushOptions::new(&job.url);
        push.auth = job.auth.clone();
        push.interrupt = job.interrupt.clone();
        push.push_options = job.push_options.clone();
        let expected = on_push_branch.then(|| repo.commit.clone());
        push.updates
            .push(RefUpdate::new(&commit, &job.push_branch, expected));
        if let Some((_, dst)) = &job.refspec {
            let current = match git::resolve(
                &fetch_opts(job, GitReference::Name(dst.clone())),
                &work.path().join("resolve"),
            ) {
                Ok((_, c)) => Some(c),
                Err(GitError::RefNotFound { .. }) => None,
                Err(e) => return Err(update_failed(e)),
            };
            push.updates.push(RefUpdate::new(&commit, dst, current));
        }
        match git_push::push(&repo.dir, &push) {
            Ok(_) => {
                return Ok(GitOutcome::Pushed {
                    commit,
                    base_revision: repo.revision,
                    message,
                    attempts: attempt,
                });
            }
            Err(e @ (GitError::RemoteMoved { .. } | GitError::PushRejected { .. }))
                if attempt < ATTEMPTS =>
            {
                tracing::info!(
                    url = %job.url, branch = job.push_branch, attempt,
                    "the branch moved while updating, redoing the update on its new tip: {e}"
                );
            }
            Err(e) => return Err(update_failed(e)),
        }
    }
    Err(GitFailure {
        reason: reasons::GIT_OPERATION_FAILED,
        message: "failed to update source: the branch kept moving".into(),
        terminal: false,
    })
}

/// Reads the signing key of `spec.git.commit.signingKey`, as Flux: `git.asc` (and
/// `passphrase`) for OpenPGP, `identity` (and `password`) for SSH.
async fn signer(
    ctx: &AutomationContext,
    ns: &str,
    key: &gitops_api::image::SigningKey,
) -> Result<Signer, ReconcileError> {
    let name = &key.secret_ref.name;
    let failed = |m: String| {
        ReconcileError::retriable(
            reasons::SOURCE_MANAGER_FAILED,
            format!("failed configuring source manager: {m}"),
        )
    };
    let data = crate::runtime::object::secret_data(&ctx.client, ns, name)
        .await
        .map_err(|e| failed(format!("could not find signing key secret '{name}': {e}")))?;
    let text = |k: &str| {
        data.get(k)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(match key.type_.unwrap_or_default() {
        SigningKeyType::Gpg => Signer::OpenPgp {
            armored_key: data.get("git.asc").cloned().ok_or_else(|| {
                failed(format!(
                    "signing key secret '{name}' does not contain a 'git.asc' key"
                ))
            })?,
            passphrase: text("passphrase"),
            key_id: None,
        },
        SigningKeyType::Ssh => Signer::Ssh {
            private_key: data.get("identity").cloned().ok_or_else(|| {
                failed(format!(
                    "signing key secret '{name}' does not contain an 'identity' key"
                ))
            })?,
            passphrase: text("password"),
        },
    })
}

/// Flux's `PushResult.Summary()`.
fn push_summary(commit: &str, branch: &str, refspec: Option<&str>, message: &str) -> String {
    let short = &commit[..commit.len().min(7)];
    let mut s = format!("pushed commit '{short}' to branch '{branch}'");
    if let Some(r) = refspec {
        s.push_str(&format!(" and refspecs '{r}'"));
    }
    if !message.is_empty() {
        s.push('\n');
        s.push_str(message);
    }
    s
}

async fn reconcile(
    ctx: &AutomationContext,
    obj: &ImageUpdateAutomation,
    status: &mut ImageUpdateAutomationStatus,
) -> Result<Done, ReconcileError> {
    let spec = &obj.spec;
    let ns = obj.namespace().unwrap_or_default();
    status.last_automation_run_time = Some(crate::runtime::status::now());

    // The policies, and what they pick.
    let selector = match &spec.policy_selector {
        Some(sel) => selector_string(sel).map_err(|e| {
            ReconcileError::terminal(
                reasons::INVALID_POLICY_SELECTOR,
                format!("failed to parse policy selector: {e}"),
            )
        })?,
        None => String::new(),
    };
    let api: Api<ImagePolicy> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| match &e {
            // The API server refuses a selector it cannot read.
            kube::Error::Api(a) if a.code == 400 => ReconcileError::terminal(
                reasons::INVALID_POLICY_SELECTOR,
                format!("failed to parse policy selector: {}", a.message),
            ),
            _ => {
                ReconcileError::retriable(reasons::FAILURE, format!("failed to list policies: {e}"))
            }
        })?;
    let mut observed: BTreeMap<String, ImageRef> = BTreeMap::new();
    let mut policies = Vec::new();
    for p in &listed.items {
        let Some(latest) = p.status.as_ref().and_then(|s| s.latest_ref.as_ref()) else {
            continue;
        };
        observed.insert(p.name_any(), latest.clone());
        policies.push(PolicyImage {
            namespace: ns.clone(),
            name: p.name_any(),
            image: latest.name.clone(),
            tag: latest.tag.clone(),
            digest: latest.digest.clone().filter(|d| !d.is_empty()),
        });
    }

    // The source.
    let invalid = |m: String| {
        ReconcileError::terminal(
            reasons::INVALID_SOURCE_CONFIGURATION,
            format!("{m}: invalid source configuration"),
        )
    };
    let Some(git_spec) = &spec.git else {
        return Err(invalid(
            "source kind 'GitRepository' necessitates field .spec.git".into(),
        ));
    };
    let (src_ns, src_name) = source_key(obj);
    if ctx.no_cross_namespace_refs && src_ns != ns {
        return Err(ReconcileError::terminal(
            reasons::ACCESS_DENIED,
            format!(
                "can't access 'GitRepository/{src_ns}/{src_name}', cross-namespace references have been blocked"
            ),
        ));
    }
    let manager_failed = |m: String| {
        ReconcileError::retriable(
            reasons::SOURCE_MANAGER_FAILED,
            format!("failed configuring source manager: {m}"),
        )
    };
    let repos: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &src_ns);
    let repo = match repos.get_opt(&src_name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(manager_failed(format!(
                "referenced git repository does not exist: gitrepositories.source.toolkit.fluxcd.io \"{src_name}\" not found"
            )));
        }
        Err(e) => {
            return Err(manager_failed(format!(
                "failed to get referenced git repository: {e}"
            )));
        }
    };
    if repo
        .spec
        .provider
        .is_some_and(|p| p != gitops_api::source::GitProvider::Generic)
    {
        return Err(invalid(format!(
            "GitRepository '{src_ns}/{src_name}': spec.provider is not supported by this image-automation-controller (only 'generic')"
        )));
    }
    if repo.spec.proxy_secret_ref.is_some() {
        return Err(invalid(format!(
            "GitRepository '{src_ns}/{src_name}': spec.proxySecretRef is not supported by this image-automation-controller"
        )));
    }
    let checkout = checkout_ref(obj, &repo);
    let checkout_branch = checkout
        .as_ref()
        .and_then(|r| r.branch.clone())
        .filter(|b| !b.is_empty());
    let push = git_spec.push.as_ref();
    let push_branch = match push.and_then(|p| p.branch.clone()).filter(|b| !b.is_empty()) {
        Some(b) => b,
        None => checkout_branch.clone().ok_or_else(|| {
            invalid("push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref".into())
        })?,
    };
    // As Flux: the push goes elsewhere than the checked-out branch — another branch, or a
    // branch at all when a tag or commit is checked out.
    let switch_branch = match &checkout {
        Some(_) => checkout_branch.as_deref() != Some(push_branch.as_str()),
        None => push_branch != DEFAULT_BRANCH,
    };
    let refspec = match push
        .and_then(|p| p.refspec.clone())
        .filter(|r| !r.is_empty())
    {
        None => None,
        Some(r) => {
            let (src, dst) = r.trim_start_matches('+').split_once(':').ok_or_else(|| {
                invalid(format!(
                    "spec.git.push.refspec {r:?} is not '<source>:<destination>'"
                ))
            })?;
            if r.starts_with('+') {
                return Err(invalid(format!(
                    "spec.git.push.refspec {r:?}: forced refspecs ('+') are not supported, pushes never force"
                )));
            }
            let ours = [
                "HEAD".to_string(),
                push_branch.clone(),
                format!("refs/heads/{push_branch}"),
            ];
            if !ours.contains(&src.to_string()) || dst.is_empty() {
                return Err(invalid(format!(
                    "spec.git.push.refspec {r:?}: the source must be the pushed commit (HEAD or branch '{push_branch}') and the destination a reference"
                )));
            }
            Some((src.to_owned(), dst.to_owned()))
        }
    };
    let auth = match &repo.spec.secret_ref {
        Some(s) => GitAuth::from_secret_data(
            &crate::runtime::object::secret_data(&ctx.client, &src_ns, &s.name)
                .await
                .map_err(|e| {
                    manager_failed(format!(
                        "failed to get auth secret '{src_ns}/{}': {e}",
                        s.name
                    ))
                })?,
        ),
        None => GitAuth::default(),
    };
    let signer = match &git_spec.commit.signing_key {
        Some(k) => Some(signer(ctx, &ns, k).await?),
        None => None,
    };
    let update_path = spec
        .update
        .as_ref()
        .and_then(|u| u.path.clone())
        .unwrap_or_default();
    let policies_changed = status.observed_policies.as_ref() != Some(&observed);
    // The clone is skipped only when nothing could give a different result: same remote
    // tip (checked by the fetch), same picks, same spec, no reconcile request.
    let spec_changed = obj.metadata.generation != status.observed_generation;
    let requested = gitops_api::annotations::pending_reconcile_request(
        &obj.metadata,
        status.last_handled_reconcile_at.as_deref(),
    )
    .is_some();
    let sync_needed =
        policies_changed || spec_changed || requested || switch_branch || refspec.is_some();
    let timeout = repo
        .spec
        .timeout
        .as_ref()
        .map_or(Duration::from_secs(60), |t| t.get());
    let interrupt = Arc::new(AtomicBool::new(false));
    let job = GitJob {
        url: repo.spec.url.clone(),
        auth,
        checkout: GitReference::from_spec(checkout.as_ref()),
        push_branch: push_branch.clone(),
        switch_branch,
        refspec: refspec.clone(),
        push_options: push
            .and_then(|p| p.options.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
            .collect(),
        last_observed: (!sync_needed)
            .then(|| status.observed_source_revision.clone())
            .flatten(),
        update_path,
        policies,
        automation: AutomationRef {
            namespace: ns.clone(),
            name: obj.name_any(),
        },
        template: git_spec.commit.message_template.clone(),
        template_values: git_spec
            .commit
            .message_template_values
            .clone()
            .unwrap_or_default(),
        author_name: git_spec.commit.author.name.clone().unwrap_or_default(),
        author_email: git_spec.commit.author.email.clone(),
        signer,
        interrupt: interrupt.clone(),
    };
    // Each attempt gets the GitRepository's timeout.
    let total = timeout * ATTEMPTS as u32;
    let outcome =
        blocking_with_timeout(total, interrupt, move || run_git(&job))
            .await
            .ok_or_else(|| {
                ReconcileError::retriable(
                    reasons::GIT_OPERATION_FAILED,
                    format!(
                        "failed to update source: timeout after {} ({ATTEMPTS} attempts of the GitRepository's timeout)",
                        gitops_api::duration::format_go_duration(total)
                    ),
                )
            })?
            .map_err(|f| {
                if f.terminal {
                    ReconcileError::terminal(f.reason, f.message)
                } else {
                    ReconcileError::retriable(f.reason, f.message)
                }
            })?;
    match outcome {
        GitOutcome::Unchanged => {
            status.observed_policies = Some(observed);
            Ok(Done::ready(READY_MESSAGE))
        }
        GitOutcome::UpToDate { revision } => {
            status.observed_source_revision = Some(revision);
            status.observed_policies = Some(observed);
            Ok(Done::ready(READY_MESSAGE))
        }
        GitOutcome::Pushed {
            commit,
            base_revision,
            message,
            attempts,
        } => {
            status.observed_source_revision = Some(if switch_branch {
                base_revision
            } else {
                format!("{push_branch}@sha1:{commit}")
            });
            status.observed_policies = Some(observed);
            status.last_push_time = Some(crate::runtime::status::now());
            let spec_refspec = push.and_then(|p| p.refspec.clone());
            let summary = push_summary(&commit, &push_branch, spec_refspec.as_deref(), &message);
            if attempts > 1 {
                tracing::info!(namespace = ns, name = %obj.name_any(), attempts, "pushed after the branch moved");
            }
            status.last_push_commit = Some(commit);
            Ok(Done {
                event: Some(summary),
                ..Done::ready(READY_MESSAGE)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_api::image::{LabelSelector, LabelSelectorRequirement};

    #[test]
    fn selectors_become_list_selectors() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: vec!["a".into(), "b".into()],
                },
                LabelSelectorRequirement {
                    key: "legacy".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ],
        };
        assert_eq!(
            selector_string(&sel).unwrap(),
            "app=web,tier in (a,b),!legacy"
        );
        let bad = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Near".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(selector_string(&bad).unwrap_err().contains("Near"));
    }

    #[test]
    fn summaries_are_fluxs() {
        assert_eq!(
            push_summary("0123456789abcdef", "main", None, "Update image"),
            "pushed commit '0123456' to branch 'main'\nUpdate image"
        );
        assert_eq!(
            push_summary(
                "0123456789",
                "auto",
                Some("refs/heads/auto:refs/heads/review"),
                ""
            ),
            "pushed commit '0123456' to branch 'auto' and refspecs 'refs/heads/auto:refs/heads/review'"
        );
    }
}
