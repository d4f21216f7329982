//! Object identity: [`ObjectRef`], Flux's inventory ids and the apply order of kinds.

use crate::ApplyError;
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// Identifies one Kubernetes object: group, version, kind, namespace (empty when
/// cluster-scoped) and name.
///
/// `Display` prints it as Flux does in messages: `Kind/namespace/name`, or `Kind/name`
/// for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectRef {
    /// API group, empty for the core group.
    pub group: String,
    /// API version within the group (`v1`, `v1beta2`, …).
    pub version: String,
    /// Kind (`Deployment`).
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Inventory fields are separated by `_`; RBAC names may hold `:`, written as `__`.
const SEPARATOR: char = '_';
const COLON: &str = "__";

fn is_rbac(group: &str, kind: &str) -> bool {
    group == "rbac.authorization.k8s.io"
        && matches!(
            kind,
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
        )
}

impl ObjectRef {
    /// A reference from its parts.
    pub fn new(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ObjectRef {
        ObjectRef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The reference of a manifest. Fails, saying what is missing, when `apiVersion`,
    /// `kind` or `metadata.name` is absent or not a non-empty string.
    pub fn from_object(obj: &Value) -> Result<ObjectRef, ApplyError> {
        Self::from_object_at(obj, None)
    }

    pub(crate) fn from_object_at(
        obj: &Value,
        index: Option<usize>,
    ) -> Result<ObjectRef, ApplyError> {
        let invalid = |reason: String| ApplyError::InvalidObject { index, reason };
        if !obj.is_object() {
            return Err(invalid("not a mapping".into()));
        }
        let str_field = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let kind = str_field(&obj["kind"]);
        let name = str_field(&obj["metadata"]["name"]);
        let api_version = str_field(&obj["apiVersion"]);
        let mut missing = Vec::new();
        if api_version.is_none() {
            missing.push("apiVersion");
        }
        if kind.is_none() {
            missing.push("kind");
        }
        if name.is_none() {
            missing.push("metadata.name");
        }
        if !missing.is_empty() {
            let what = match (&kind, &name) {
                (Some(k), Some(n)) => format!(" ({k}/{n})"),
                (Some(k), None) => format!(" (kind {k})"),
                (None, Some(n)) => format!(" (name {n})"),
                (None, None) => String::new(),
            };
            return Err(invalid(format!("missing {}{what}", missing.join(", "))));
        }
        let (Some(api_version), Some(kind), Some(name)) = (api_version, kind, name) else {
            return Err(invalid("missing fields".into()));
        };
        let (group, version) = split_api_version(&api_version);
        if version.is_empty() || api_version.matches('/').count() > 1 {
            return Err(invalid(format!(
                "{kind}/{name}: malformed apiVersion {api_version:?}"
            )));
        }
        let namespace = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // what goes into request paths must be a valid path segment: say so by field
        // rather than failing later on the URL
        gitops_api::meta::validate_path_segment("metadata.name", &name)
            .and_then(|()| match namespace.as_str() {
                "" => Ok(()),
                ns => gitops_api::meta::validate_dns1123_label("metadata.namespace", ns),
            })
            .map_err(|e| invalid(format!("{kind}/{name}: {e}")))?;
        Ok(ObjectRef {
            group: group.to_owned(),
            version: version.to_owned(),
            kind,
            namespace,
            name,
        })
    }

    /// `apiVersion` as written in manifests: `v1` for core, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Flux's inventory id: `<namespace>_<name>_<group>_<Kind>`; `:` in RBAC names is
    /// written as `__`.
    pub fn inventory_id(&self) -> String {
        let name = if is_rbac(&self.group, &self.kind) {
            self.name.replace(':', COLON)
        } else {
            self.name.clone()
        };
        format!(
            "{}{SEPARATOR}{name}{SEPARATOR}{}{SEPARATOR}{}",
            self.namespace, self.group, self.kind
        )
    }

    /// Parses a Flux inventory id and its version (`v`) back into a reference.
    pub fn parse_inventory_id(id: &str, v: &str) -> Result<ObjectRef, ApplyError> {
        let bad = |reason: &str| ApplyError::InventoryId {
            id: id.to_owned(),
            reason: reason.to_owned(),
        };
        let (namespace, rest) = id
            .split_once(SEPARATOR)
            .ok_or_else(|| bad("expected <namespace>_<name>_<group>_<kind>"))?;
        let (rest, kind) = rest
            .rsplit_once(SEPARATOR)
            .ok_or_else(|| bad("expected <namespace>_<name>_<group>_<kind>"))?;
        let (name, group) = rest
            .rsplit_once(SEPARATOR)
            .ok_or_else(|| bad("expected <namespace>_<name>_<group>_<kind>"))?;
        let name = name.replace(COLON, ":");
        if name.contains(SEPARATOR) {
            return Err(bad("too many fields"));
        }
        if name.is_empty() || kind.is_empty() {
            return Err(bad("empty name or kind"));
        }
        Ok(ObjectRef {
            group: group.to_owned(),
            version: v.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name,
        })
    }

    /// Whether two references name the same object, whatever the version.
    pub fn same_object(&self, other: &ObjectRef) -> bool {
        self.group == other.group
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// `("apps", "v1")` from `apps/v1`, `("", "v1")` from `v1`.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Apply stages, as Flux's `ApplyAllStaged`: cluster definitions first, then class
/// kinds, then everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// CustomResourceDefinitions and Namespaces.
    Definitions,
    /// `*Class` kinds (StorageClass, IngressClass, PriorityClass, …).
    Classes,
    /// Kinds configured with [`crate::Applier::with_custom_stage_kinds`].
    Custom,
    /// Everything else.
    Resources,
}

pub(crate) fn stage_of(kind: &str) -> Stage {
    match kind {
        "CustomResourceDefinition" | "Namespace" => Stage::Definitions,
        k if k.ends_with("Class") => Stage::Classes,
        _ => Stage::Resources,
    }
}

/// The kinds Flux applies first, in order; unknown kinds come after them, webhooks last.
const FIRST: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "PriorityClass",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_rank(kind: &str) -> usize {
    if let Some(i) = FIRST.iter().position(|k| *k == kind) {
        return i;
    }
    if let Some(i) = LAST.iter().position(|k| *k == kind) {
        return FIRST.len() + 1 + i;
    }
    FIRST.len()
}

/// Flux's apply order: by kind rank (then kind name), namespace, name.
pub(crate) fn apply_order(a: &ObjectRef, b: &ObjectRef) -> Ordering {
    if a.kind != b.kind {
        return kind_rank(&a.kind)
            .cmp(&kind_rank(&b.kind))
            .then_with(|| a.kind.cmp(&b.kind));
    }
    a.namespace
        .cmp(&b.namespace)
        .then_with(|| a.name.cmp(&b.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inventory_ids_round_trip() {
        let cases = [
            (
                ObjectRef::new("apps", "v1", "Deployment", "default", "app"),
                "default_app_apps_Deployment",
            ),
            (
                ObjectRef::new("", "v1", "ConfigMap", "flux-system", "cfg"),
                "flux-system_cfg__ConfigMap",
            ),
            (
                ObjectRef::new("", "v1", "Namespace", "", "apps"),
                "_apps__Namespace",
            ),
            (
                ObjectRef::new(
                    "apiextensions.k8s.io",
                    "v1",
                    "CustomResourceDefinition",
                    "",
                    "widgets.example.com",
                ),
                "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
            ),
            (
                ObjectRef::new(
                    "rbac.authorization.k8s.io",
                    "v1",
                    "ClusterRole",
                    "",
                    "system:controller:foo",
                ),
                "_system__controller__foo_rbac.authorization.k8s.io_ClusterRole",
            ),
        ];
        for (r, id) in cases {
            assert_eq!(r.inventory_id(), id);
            let back = ObjectRef::parse_inventory_id(id, &r.version).unwrap();
            assert_eq!(back, r);
        }
    }

    proptest::proptest! {
        #[test]
        fn inventory_ids_round_trip_for_any_names(
            ns in "([a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?)?",
            name in "[a-z0-9]([-.a-z0-9:]{0,20}[a-z0-9])?",
            group in "([a-z]{1,8}(\\.[a-z]{1,8}){0,2})?",
            kind in "[A-Z][A-Za-z]{0,12}",
            rbac in proptest::bool::ANY,
        ) {
            let (group, kind, name) = if rbac {
                ("rbac.authorization.k8s.io".to_owned(), "ClusterRole".to_owned(), name)
            } else {
                // Only RBAC names may hold ':'.
                (group, kind, name.replace(':', "-"))
            };
            let r = ObjectRef::new(group, "v1", kind, ns, name);
            let back = ObjectRef::parse_inventory_id(&r.inventory_id(), "v1").unwrap();
            proptest::prop_assert_eq!(back, r);
        }
    }

    #[test]
    fn bad_inventory_ids() {
        for id in ["", "abc", "a_b", "ns_a_b_c_apps_Deployment", "ns__apps_"] {
            let e = ObjectRef::parse_inventory_id(id, "v1").unwrap_err();
            assert!(e.to_string().contains(id), "{e}");
        }
    }

    #[test]
    fn display_like_flux() {
        assert_eq!(
            ObjectRef::new("apps", "v1", "Deployment", "default", "app").to_string(),
            "Deployment/default/app"
        );
        assert_eq!(
            ObjectRef::new("", "v1", "Namespace", "", "apps").to_string(),
            "Namespace/apps"
        );
    }

    #[test]
    fn from_object_names_what_is_missing() {
        let r = ObjectRef::from_object(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "namespace": "default"}}))
        .unwrap();
        assert_eq!(
            r,
            ObjectRef::new("apps", "v1", "Deployment", "default", "app")
        );
        assert_eq!(r.api_version(), "apps/v1");
        let e = ObjectRef::from_object(&json!({"kind": "ConfigMap", "metadata": {"name": "x"}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("apiVersion") && e.contains("ConfigMap/x"), "{e}");
        let e = ObjectRef::from_object(&json!({"apiVersion": "v1", "metadata": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kind, metadata.name"), "{e}");
        let e = ObjectRef::from_object(&json!("text"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a mapping"), "{e}");
        let e = ObjectRef::from_object(
            &json!({"apiVersion": "a/b/c", "kind": "K", "metadata": {"name": "n"}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("malformed apiVersion"), "{e}");
    }

    #[test]
    fn order_and_stages() {
        let mut refs = [
            ObjectRef::new("apps", "v1", "Deployment", "b", "x"),
            ObjectRef::new(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
                "",
                "w",
            ),
            ObjectRef::new("example.com", "v1", "Widget", "a", "w"),
            ObjectRef::new("apps", "v1", "Deployment", "a", "y"),
            ObjectRef::new("", "v1", "Namespace", "", "a"),
            ObjectRef::new(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "",
                "c",
            ),
        ];
        refs.sort_by(apply_order);
        let kinds: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition/c",
                "Namespace/a",
                "Deployment/a/y",
                "Deployment/b/x",
                "Widget/a/w",
                "ValidatingWebhookConfiguration/w"
            ]
        );
        assert_eq!(stage_of("Namespace"), Stage::Definitions);
        assert_eq!(stage_of("IngressClass"), Stage::Classes);
        assert_eq!(stage_of("Deployment"), Stage::Resources);
    }
}
