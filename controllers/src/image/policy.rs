//! ImagePolicy reconciler: the latest tag of the referred repository's scanned tags by the
//! policy, its digest when `digestReflectionPolicy` asks, and the previous pick.

use super::repository::{ReflectorContext, access, timeout};
use super::{Done, FINALIZER, finish};
use crate::runtime::reconcile::{ReconcileError, ReconcileResult, Reconciler};
use gitops_api::condition::reasons;
use gitops_api::image::{DigestReflectionPolicy, ImagePolicyStatus, ImageRef};
use gitops_api::{ImagePolicy, ImageRepository};
use gitops_image_updater::policy::Selector;
use gitops_image_updater::registry::ImageName;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use std::sync::Arc;

pub(crate) struct PolicyReconciler(pub Arc<ReflectorContext>);

impl Reconciler<ImagePolicy> for PolicyReconciler {
    fn finalizer(&self) -> &str {
        FINALIZER
    }

    async fn reconcile(&self, obj: Arc<ImagePolicy>) -> ReconcileResult {
        let ctx = &self.0;
        let mut status = obj.status.clone().unwrap_or_default();
        let result = reconcile(ctx, &obj, &mut status).await;
        finish(&ctx.client, &ctx.events, obj.as_ref(), status, result).await
    }

    async fn finalize(&self, _obj: Arc<ImagePolicy>) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The `(namespace, name)` of the ImageRepository a policy refers to.
pub(crate) fn repository_key(p: &ImagePolicy) -> (String, String) {
    let r = &p.spec.image_repository_ref;
    let ns = r
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| p.namespace().unwrap_or_default());
    (ns, r.name.clone())
}

/// Flux's ACL (`accessFrom`): a repository in another namespace is usable only when one of
/// its namespace selectors matches the policy's namespace labels.
async fn check_access(
    ctx: &ReflectorContext,
    policy_ns: &str,
    repo: &ImageRepository,
) -> Result<(), String> {
    let (ns, name) = (repo.namespace().unwrap_or_default(), repo.name_any());
    if ns == policy_ns {
        return Ok(());
    }
    let Some(acl) = &repo.spec.access_from else {
        return Err(format!(
            "'{ns}/{name}' can't be accessed due to missing ACL labels on 'accessFrom'"
        ));
    };
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let labels = api
        .get(policy_ns)
        .await
        .map_err(|e| format!("unable to get namespace '{policy_ns}': {e}"))?
        .metadata
        .labels
        .unwrap_or_default();
    let allowed = acl.namespace_selectors.iter().any(|s| {
        s.match_labels
            .as_ref()
            .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
    });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "'{ns}/{name}' can't be accessed due to ACL labels mismatch on namespace '{policy_ns}'"
        ))
    }
}

/// Flux's ready message: the pick, its digest, and what it was before.
fn ready_message(status: &ImagePolicyStatus) -> String {
    let Some(latest) = &status.latest_ref else {
        return String::new();
    };
    let mut msg = format!(
        "Latest image tag for {} resolved to {}",
        latest.name, latest.tag
    );
    if let Some(d) = latest.digest.as_deref().filter(|d| !d.is_empty()) {
        msg.push_str(&format!(" with digest {d}"));
    }
    if let Some(prev) = status
        .observed_previous_ref
        .as_ref()
        .filter(|p| *p != latest)
    {
        msg.push_str(&format!(" (previously {}:{}", prev.name, prev.tag));
        if let Some(d) = prev.digest.as_deref().filter(|d| !d.is_empty()) {
            msg.push_str(&format!("@{d}"));
        }
        msg.push(')');
    }
    msg
}

async fn reconcile(
    ctx: &ReflectorContext,
    obj: &ImagePolicy,
    status: &mut ImagePolicyStatus,
) -> Result<Done, ReconcileError> {
    let spec = &obj.spec;
    let reflect = spec.digest_reflection_policy.unwrap_or_default();
    if reflect == DigestReflectionPolicy::Always && spec.interval.is_none() {
        return Err(ReconcileError::terminal(
            reasons::INTERVAL_NOT_CONFIGURED,
            "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
        ));
    }
    let policy_ns = obj.namespace().unwrap_or_default();
    let (repo_ns, repo_name) = repository_key(obj);
    let failed_get = |reason: &'static str, m: String| {
        ReconcileError::retriable(
            reason,
            format!("failed to get the referred ImageRepository: {m}"),
        )
    };
    if ctx.no_cross_namespace_refs && repo_ns != policy_ns {
        return Err(failed_get(
            reasons::ACCESS_DENIED,
            format!(
                "cannot access 'ImageRepository/{repo_ns}/{repo_name}', cross-namespace references have been blocked"
            ),
        ));
    }
    let api: Api<ImageRepository> = Api::namespaced(ctx.client.clone(), &repo_ns);
    let repo = match api.get_opt(&repo_name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(failed_get(
                reasons::DEPENDENCY_NOT_READY,
                format!("referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io \"{repo_name}\" not found"),
            )
            .retry_after(ctx.requeue_dependency));
        }
        Err(e) => return Err(failed_get(reasons::FAILURE, e.to_string())),
    };
    check_access(ctx, &policy_ns, &repo)
        .await
        .map_err(|m| failed_get(reasons::ACCESS_DENIED, format!("access denied: {m}")))?;
    let image = ImageName::parse(&repo.spec.image, repo.spec.insecure)
        .map_err(|e| ReconcileError::terminal(reasons::IMAGE_URL_INVALID, e.to_string()))?;
    let selector = Selector::from_spec(&spec.policy, spec.filter_tags.as_ref()).map_err(|e| {
        let msg = if matches!(
            e,
            gitops_image_updater::policy::PolicyError::InvalidPattern { .. }
        ) {
            format!("failed to filter tags: {e}")
        } else {
            format!("invalid policy: {e}")
        };
        ReconcileError::terminal(reasons::INVALID_POLICY, msg)
    })?;
    let canonical = repo
        .status
        .as_ref()
        .and_then(|s| s.canonical_image_name.clone())
        .unwrap_or_else(|| image.canonical());
    let store = ctx.store.clone();
    let tags = tokio::task::spawn_blocking(move || store.tags(&canonical))
        .await
        .map_err(|e| ReconcileError::retriable(reasons::FAILURE, e.to_string()))?
        .map_err(|e| {
            ReconcileError::retriable(
                reasons::FAILURE,
                format!("failed to read tags from database: {e}"),
            )
        })?;
    if tags.is_empty() {
        return Err(ReconcileError::retriable(
            reasons::DEPENDENCY_NOT_READY,
            format!(
                "retrying in {} error: no tags in database",
                gitops_api::duration::format_go_duration(ctx.requeue_dependency)
            ),
        )
        .retry_after(ctx.requeue_dependency));
    }
    let latest = tokio::task::spawn_blocking(move || selector.latest(&tags))
        .await
        .map_err(|e| ReconcileError::retriable(reasons::FAILURE, e.to_string()))?
        .map_err(|e| ReconcileError::retriable(reasons::FAILURE, e.to_string()))?;
    let mut latest_ref = ImageRef {
        name: repo.spec.image.clone(),
        tag: latest.clone(),
        digest: None,
    };
    let fetch = match reflect {
        DigestReflectionPolicy::Never => false,
        DigestReflectionPolicy::Always => true,
        DigestReflectionPolicy::IfNotPresent => match &status.latest_ref {
            Some(l)
                if l.name == latest_ref.name
                    && l.tag == latest_ref.tag
                    && l.digest.as_deref().is_some_and(|d| !d.is_empty()) =>
            {
                latest_ref.digest = l.digest.clone();
                false
            }
            _ => true,
        },
    };
    if fetch {
        let access = access(ctx, &repo, &image).await?;
        let digest = tokio::time::timeout(
            timeout(&repo),
            access
                .registry
                .digest(&image, &latest, access.auth.as_ref()),
        )
        .await
        .map_err(|_| format!("timeout after {:?}", timeout(&repo)))
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| {
            ReconcileError::retriable(
                reasons::FAILURE,
                format!(
                    "failed fetching digest of {}:{latest}: failed fetching descriptor for \"{}:{latest}\": {e}",
                    repo.spec.image,
                    image.canonical()
                ),
            )
        })?;
        latest_ref.digest = Some(digest);
    }
    if status.latest_ref.as_ref() != Some(&latest_ref) {
        status.observed_previous_ref = status.latest_ref.take();
        status.latest_ref = Some(latest_ref);
    }
    Ok(Done::ready(ready_message(status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, tag: &str, digest: Option<&str>) -> ImageRef {
        ImageRef {
            name: name.into(),
            tag: tag.into(),
            digest: digest.map(str::to_owned),
        }
    }

    #[test]
    fn ready_messages_are_fluxs() {
        let mut s = ImagePolicyStatus {
            latest_ref: Some(r("ghcr.io/app", "1.2.4", None)),
            ..Default::default()
        };
        assert_eq!(
            ready_message(&s),
            "Latest image tag for ghcr.io/app resolved to 1.2.4"
        );
        s.observed_previous_ref = Some(r("ghcr.io/app", "1.2.3", Some("sha256:aa")));
        s.latest_ref = Some(r("ghcr.io/app", "1.2.4", Some("sha256:bb")));
        assert_eq!(
            ready_message(&s),
            "Latest image tag for ghcr.io/app resolved to 1.2.4 with digest sha256:bb (previously ghcr.io/app:1.2.3@sha256:aa)"
        );
    }
}
