//! The merge metadata of Kubernetes' built-in types, as their Go struct tags declare it
//! (`patchStrategy`/`patchMergeKey` for strategic merge patch, `+listType`/`+listMapKey`
//! and `+structType` for server-side apply). Both the API server (patching, applying) and
//! kustomize (strategic merge patches) read it here.
//!
//! Paths are field names from the object's root; list items add no segment
//! (`spec.template.spec.containers.ports` is the ports of any container).
//!
//! The two strategic merge *walks* over this metadata stay apart on purpose, because the Go
//! programs they match differ: kustomize's (`gitops_kustomize`'s `smp`) is kyaml's `merge2`
//! (lists of unknown types merged by the first associative key their items carry, `$retainKeys`
//! merged as an ordinary field, kyaml's key order), the API server's
//! (`gitops_apiserver::patch::strategic_merge`) is apimachinery's `strategicpatch` (unknown
//! types replaced, `$retainKeys` and `$setElementOrder` honoured, Kubernetes' order). What
//! merges by which key is decided here, once.

/// How a list merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars (merged as a union).
    Set,
    /// Items identified by key fields (`keys` for apply, `smp_key` for strategic merge).
    Map {
        /// `+listMapKey`s.
        keys: Vec<String>,
        /// `patchMergeKey`.
        smp_key: String,
    },
}

fn map(keys: &[&str]) -> ListKind {
    ListKind::Map {
        keys: keys.iter().map(|k| k.to_string()).collect(),
        smp_key: keys[0].to_owned(),
    }
}

/// Where the pod spec sits in a built-in kind.
fn pod_spec_prefix(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

const CONTAINERS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn pod_spec_list(rest: &[&str]) -> Option<ListKind> {
    match rest {
        [c] if CONTAINERS.contains(c) => Some(map(&["name"])),
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            Some(map(&["name"]))
        }
        ["hostAliases"] => Some(map(&["ip"])),
        ["topologySpreadConstraints"] => Some(map(&["topologyKey", "whenUnsatisfiable"])),
        ["tolerations"] => Some(ListKind::Atomic),
        [c, "ports"] if CONTAINERS.contains(c) => Some(map(&["containerPort", "protocol"])),
        [c, "env"] if CONTAINERS.contains(c) => Some(map(&["name"])),
        [c, "volumeMounts"] if CONTAINERS.contains(c) => Some(map(&["mountPath"])),
        [c, "volumeDevices"] if CONTAINERS.contains(c) => Some(map(&["devicePath"])),
        [c, "resizePolicy"] if CONTAINERS.contains(c) => Some(map(&["resourceName"])),
        [c, "args" | "command" | "envFrom"] if CONTAINERS.contains(c) => Some(ListKind::Atomic),
        _ => None,
    }
}

/// The list at `path` of a built-in kind (`group` empty for the core group), or `None` when
/// these tables do not know it (custom resources, fields not listed here).
pub fn list_kind(group: &str, kind: &str, path: &[&str]) -> Option<ListKind> {
    match path {
        ["metadata", "ownerReferences"] => return Some(map(&["uid"])),
        ["metadata", "finalizers"] => return Some(ListKind::Set),
        ["status", "conditions"] => return Some(map(&["type"])),
        _ => {}
    }
    if let Some(prefix) = pod_spec_prefix(group, kind)
        && let Some(rest) = path.strip_prefix(prefix)
        && let Some(k) = pod_spec_list(rest)
    {
        return Some(k);
    }
    match (group, kind, path) {
        ("", "Service", ["spec", "ports"]) => Some(map(&["port", "protocol"])),
        ("", "Service", ["spec", "externalIPs" | "ipFamilies" | "clusterIPs"]) => {
            Some(ListKind::Atomic)
        }
        ("admissionregistration.k8s.io", _, ["webhooks"]) => Some(map(&["name"])),
        ("apiextensions.k8s.io", "CustomResourceDefinition", ["spec", "versions"]) => {
            Some(map(&["name"]))
        }
        _ => None,
    }
}

/// Whether `group` is one of Kubernetes' own API groups (whose types have built-in patch
/// metadata), as opposed to a custom resource's.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "extensions"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "certificates.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "events.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
            | "internal.apiserver.k8s.io"
            | "networking.k8s.io"
            | "node.k8s.io"
            | "rbac.authorization.k8s.io"
            | "resource.k8s.io"
            | "scheduling.k8s.io"
            | "storage.k8s.io"
            | "storagemigration.k8s.io"
            | "authentication.k8s.io"
            | "authorization.k8s.io"
    )
}

/// Whether the map (struct) at `path` of a built-in kind is replaced as a whole.
pub fn map_is_atomic(group: &str, kind: &str, path: &[&str]) -> bool {
    if path == ["spec", "selector"] {
        return true;
    }
    if let Some(prefix) = pod_spec_prefix(group, kind)
        && let Some(rest) = path.strip_prefix(prefix)
    {
        return rest == ["nodeSelector"];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_lists() {
        let k = |g, kind, p: &str| list_kind(g, kind, &p.split('.').collect::<Vec<_>>());
        assert_eq!(
            k("apps", "Deployment", "spec.template.spec.containers.ports"),
            Some(map(&["containerPort", "protocol"]))
        );
        assert_eq!(
            k(
                "batch",
                "CronJob",
                "spec.jobTemplate.spec.template.spec.volumes"
            ),
            Some(map(&["name"]))
        );
        assert_eq!(
            k("", "ConfigMap", "metadata.finalizers"),
            Some(ListKind::Set)
        );
        assert_eq!(k("", "Pod", "spec.tolerations"), Some(ListKind::Atomic));
        assert_eq!(
            k("example.com", "Deployment", "spec.template.spec.containers"),
            None
        );
        assert!(map_is_atomic(
            "apps",
            "Deployment",
            &["spec", "template", "spec", "nodeSelector"]
        ));
    }
}
