//! Well-known annotations and labels, and the reconcile-request protocol.
//!
//! `flux reconcile` (and `gitops reconcile`) set `reconcile.fluxcd.io/requestedAt` to a
//! new value; the controller reconciles at once and echoes the value in
//! `status.lastHandledReconcileAt`. HelmRelease also knows `forceAt` (force an upgrade) and
//! `resetAt` (reset the failure counters), which only count together with `requestedAt`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Asks for an immediate reconciliation; any new value counts.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// HelmRelease: force a one-off upgrade (with the same value in `requestedAt`).
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
/// HelmRelease: reset the failure counters (with the same value in `requestedAt`).
pub const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";
/// `disabled` on an applied object: the Kustomization stops updating it.
pub const RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// `disabled` on an applied object: never pruned.
pub const PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
/// `Override` / `Merge` / `IfNotPresent` / `Ignore`: server-side apply policy of an object.
pub const SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// `enabled` on an applied object: recreate it when an immutable field changes.
pub const FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
/// `disabled` on an object: post-build substitution leaves it alone.
pub const SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// The value that turns the annotations above off.
pub const DISABLED: &str = "disabled";
/// The value that turns `kustomize.toolkit.fluxcd.io/force` on.
pub const ENABLED: &str = "enabled";

/// Label naming the Kustomization that applied an object.
pub const KUSTOMIZE_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// Label naming the namespace of the Kustomization that applied an object.
pub const KUSTOMIZE_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// Label naming the HelmRelease that applied an object.
pub const HELM_NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// Label naming the namespace of the HelmRelease that applied an object.
pub const HELM_NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The value of `reconcile.fluxcd.io/requestedAt`, if set.
pub fn requested_at(meta: &ObjectMeta) -> Option<&str> {
    annotation(meta, REQUESTED_AT)
}

/// A reconcile request that `status.lastHandledReconcileAt` has not yet acknowledged.
pub fn pending_reconcile_request<'a>(
    meta: &'a ObjectMeta,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    requested_at(meta).filter(|v| Some(*v) != last_handled)
}

/// A pending `forceAt` request: set, equal to `requestedAt`, and not yet handled.
pub fn pending_force_request<'a>(
    meta: &'a ObjectMeta,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    paired_request(meta, FORCE_AT, last_handled)
}

/// A pending `resetAt` request: set, equal to `requestedAt`, and not yet handled.
pub fn pending_reset_request<'a>(
    meta: &'a ObjectMeta,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    paired_request(meta, RESET_AT, last_handled)
}

fn paired_request<'a>(
    meta: &'a ObjectMeta,
    key: &str,
    last_handled: Option<&str>,
) -> Option<&'a str> {
    let v = annotation(meta, key)?;
    (requested_at(meta) == Some(v) && Some(v) != last_handled).then_some(v)
}

/// Whether an annotation is set to `disabled`.
pub fn is_disabled(meta: &ObjectMeta, key: &str) -> bool {
    annotation(meta, key) == Some(DISABLED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(pairs: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            annotations: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn reconcile_requests() {
        let m = meta(&[(REQUESTED_AT, "2024-01-01T00:00:00Z")]);
        assert_eq!(
            pending_reconcile_request(&m, None),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            pending_reconcile_request(&m, Some("2024-01-01T00:00:00Z")),
            None
        );
        assert_eq!(
            pending_reconcile_request(&ObjectMeta::default(), None),
            None
        );
    }

    #[test]
    fn force_and_reset_need_matching_requested_at() {
        let m = meta(&[(REQUESTED_AT, "a"), (FORCE_AT, "a"), (RESET_AT, "b")]);
        assert_eq!(pending_force_request(&m, None), Some("a"));
        assert_eq!(pending_force_request(&m, Some("a")), None);
        assert_eq!(pending_reset_request(&m, None), None);
    }

    #[test]
    fn disabled() {
        assert!(is_disabled(&meta(&[(PRUNE, "disabled")]), PRUNE));
        assert!(!is_disabled(&meta(&[(PRUNE, "enabled")]), PRUNE));
    }
}
