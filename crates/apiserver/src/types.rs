//! How lists and maps of an object merge: the list types and keys that strategic merge
//! patch and server-side apply need, from Kubernetes' own type metadata for built-in kinds
//! and from `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` /
//! `x-kubernetes-map-type` for custom resources.

use crate::registry::ResourceType;

/// How a list merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole (the default).
    Atomic,
    /// A set of scalars.
    Set,
    /// Items identified by key fields (`keys` for apply, `smp_key` for strategic merge).
    Map {
        /// `x-kubernetes-list-map-keys`.
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
fn pod_spec_prefix(rt: &ResourceType) -> Option<&'static [&'static str]> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

fn pod_spec_list(rest: &[&str]) -> Option<ListKind> {
    const CONTAINERS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
    match rest {
        [c] if CONTAINERS.contains(c) => Some(map(&["name"])),
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            Some(map(&["name"]))
        }
        ["hostAliases"] => Some(map(&["ip"])),
        ["topologySpreadConstraints"] => Some(map(&["topologyKey", "whenUnsatisfiable"])),
        [c, "ports"] if CONTAINERS.contains(c) => Some(map(&["containerPort", "protocol"])),
        [c, "env"] if CONTAINERS.contains(c) => Some(map(&["name"])),
        [c, "volumeMounts"] if CONTAINERS.contains(c) => Some(map(&["mountPath"])),
        [c, "volumeDevices"] if CONTAINERS.contains(c) => Some(map(&["devicePath"])),
        [c, "resizePolicy"] if CONTAINERS.contains(c) => Some(map(&["resourceName"])),
        _ => None,
    }
}

/// The list type at a path of field names.
pub fn list_kind(rt: &ResourceType, path: &[&str]) -> ListKind {
    if let Some(schema) = &rt.schema {
        if let ["metadata", ..] = path {
            return builtin_list_kind(rt, path);
        }
        return match schema.at(path) {
            Some(s) => match s.list_type.as_deref() {
                Some("set") => ListKind::Set,
                Some("map") if !s.list_map_keys.is_empty() => ListKind::Map {
                    keys: s.list_map_keys.clone(),
                    smp_key: s.list_map_keys[0].clone(),
                },
                _ => ListKind::Atomic,
            },
            None => ListKind::Atomic,
        };
    }
    builtin_list_kind(rt, path)
}

fn builtin_list_kind(rt: &ResourceType, path: &[&str]) -> ListKind {
    match path {
        ["metadata", "ownerReferences"] => return map(&["uid"]),
        ["metadata", "finalizers"] => return ListKind::Set,
        ["status", "conditions"] => return map(&["type"]),
        _ => {}
    }
    if let Some(prefix) = pod_spec_prefix(rt)
        && let Some(rest) = path.strip_prefix(prefix)
        && let Some(k) = pod_spec_list(rest)
    {
        return k;
    }
    match (rt.group.as_str(), rt.kind.as_str(), path) {
        ("", "Service", ["spec", "ports"]) => map(&["port", "protocol"]),
        ("admissionregistration.k8s.io", _, ["webhooks"]) => map(&["name"]),
        ("apiextensions.k8s.io", "CustomResourceDefinition", ["spec", "versions"]) => {
            map(&["name"])
        }
        _ => ListKind::Atomic,
    }
}

/// Whether the map (struct) at a path is replaced as a whole.
pub fn map_is_atomic(rt: &ResourceType, path: &[&str]) -> bool {
    if let Some(schema) = &rt.schema
        && !matches!(path, ["metadata", ..])
    {
        return schema
            .at(path)
            .is_some_and(|s| s.map_type.as_deref() == Some("atomic"));
    }
    if path == ["spec", "selector"] {
        return true;
    }
    if let Some(prefix) = pod_spec_prefix(rt)
        && let Some(rest) = path.strip_prefix(prefix)
    {
        return rest == ["nodeSelector"];
    }
    false
}

/// Whether strategic merge patch is available (not for custom resources).
pub fn supports_strategic_merge(rt: &ResourceType) -> bool {
    !rt.is_custom()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn builtin_merge_keys() {
        let r = Registry::new();
        let dep = r.lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(
            list_kind(&dep, &["spec", "template", "spec", "containers"]),
            map(&["name"])
        );
        assert_eq!(
            list_kind(&dep, &["spec", "template", "spec", "containers", "ports"]),
            map(&["containerPort", "protocol"])
        );
        assert_eq!(
            list_kind(&dep, &["spec", "template", "spec", "tolerations"]),
            ListKind::Atomic
        );
        assert!(map_is_atomic(&dep, &["spec", "selector"]));
        let svc = r.lookup("", "v1", "services").unwrap();
        assert_eq!(
            list_kind(&svc, &["spec", "ports"]),
            map(&["port", "protocol"])
        );
        assert_eq!(list_kind(&svc, &["metadata", "finalizers"]), ListKind::Set);
    }
}
