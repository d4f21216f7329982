//! How lists and maps of an object merge: the list types and keys that strategic merge
//! patch and server-side apply need, from Kubernetes' own type metadata for built-in kinds
//! ([`gitops_go::patchmeta`]) and from `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` /
//! `x-kubernetes-map-type` for custom resources.

use crate::registry::ResourceType;

pub use gitops_go::patchmeta::ListKind;

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
    gitops_go::patchmeta::list_kind(&rt.group, &rt.kind, path).unwrap_or(ListKind::Atomic)
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
    gitops_go::patchmeta::map_is_atomic(&rt.group, &rt.kind, path)
}

/// Whether strategic merge patch is available (not for custom resources).
pub fn supports_strategic_merge(rt: &ResourceType) -> bool {
    !rt.is_custom()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn map(keys: &[&str]) -> ListKind {
        ListKind::Map {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            smp_key: keys[0].to_owned(),
        }
    }

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
