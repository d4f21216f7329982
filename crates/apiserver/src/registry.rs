//! The kinds the server serves: built-in Kubernetes kinds and those of established CRDs, and
//! the discovery documents describing them.

use crate::schema::Schema;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A `kubectl get` column of a custom resource.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// JSONPath (without the leading `.`-relative prefix handling).
    pub json_path: String,
    /// 0 for the default view, 1 for wide.
    pub priority: i64,
    /// Description.
    pub description: String,
}

/// A served resource: one group/version/kind.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group; empty for core.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name (URL segment).
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Namespace-scoped.
    pub namespaced: bool,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Has a `/status` subresource.
    pub status: bool,
    /// Has a `/scale` subresource (`replicas` in `spec.replicas`).
    pub scale: bool,
    /// `metadata.generation` is maintained.
    pub generation: bool,
    /// Structural schema (custom resources).
    pub schema: Option<Arc<Schema>>,
    /// Printer columns (custom resources).
    pub columns: Vec<PrinterColumn>,
    /// Extra field selector paths (custom resources' `selectableFields`).
    pub selectable_fields: Vec<String>,
    /// The CRD defining this kind, if any.
    pub crd: Option<String>,
}

impl ResourceType {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Storage identity shared by all versions: `group/plural`.
    pub fn storage(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// Whether this is a custom resource.
    pub fn is_custom(&self) -> bool {
        self.crd.is_some()
    }

    /// Whether this is a review kind: only `create`, answered and never stored.
    pub fn is_review(&self) -> bool {
        self.crd.is_none()
            && matches!(
                self.group.as_str(),
                "authorization.k8s.io" | "authentication.k8s.io"
            )
    }

    /// The verbs discovery lists for the kind.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.is_review() {
            &["create"]
        } else {
            &VERBS
        }
    }
}

/// Built-in resource table: group, version, kind, plural, namespaced, short names,
/// categories, status, scale, generation.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [&'static str],
    bool,
    bool,
    bool,
);

const BUILTINS: &[Builtin] = &[
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        &[],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        &["cm"],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Secret",
        "secrets",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Service",
        "services",
        true,
        &["svc"],
        &["all"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Endpoints",
        "endpoints",
        true,
        &["ep"],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Pod",
        "pods",
        true,
        &["po"],
        &["all"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "PodTemplate",
        "podtemplates",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
        &["rc"],
        &["all"],
        true,
        true,
        true,
    ),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        &[],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
        &[],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "LimitRange",
        "limitranges",
        true,
        &["limits"],
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
        &[],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Node",
        "nodes",
        false,
        &["no"],
        &[],
        true,
        false,
        false,
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        &["all"],
        true,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        &["all"],
        true,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        &["all"],
        true,
        false,
        true,
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        &["all"],
        true,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "batch",
        "v1",
        "Job",
        "jobs",
        true,
        &[],
        &["all"],
        true,
        false,
        true,
    ),
    (
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        &["all"],
        true,
        false,
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
        &[],
        true,
        false,
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        &[],
        false,
        false,
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        false,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        &["api-extensions"],
        true,
        false,
        true,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        &[],
        false,
        false,
        false,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        &[],
        true,
        false,
        true,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        &["all"],
        true,
        false,
        true,
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
        &[],
        false,
        false,
        false,
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
        &[],
        false,
        false,
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
        &["api-extensions"],
        false,
        false,
        true,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
        &["api-extensions"],
        false,
        false,
        true,
    ),
    (
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
        &[],
        false,
        false,
        false,
    ),
];

/// All served kinds.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// The built-in kinds.
    pub fn new() -> Self {
        let types = BUILTINS
            .iter()
            .map(
                |&(
                    group,
                    version,
                    kind,
                    plural,
                    namespaced,
                    short,
                    cats,
                    status,
                    scale,
                    generation,
                )| {
                    Arc::new(ResourceType {
                        group: group.into(),
                        version: version.into(),
                        kind: kind.into(),
                        plural: plural.into(),
                        singular: kind.to_lowercase(),
                        namespaced,
                        short_names: short.iter().map(|s| s.to_string()).collect(),
                        categories: cats.iter().map(|s| s.to_string()).collect(),
                        status,
                        scale,
                        generation,
                        schema: None,
                        columns: Vec::new(),
                        selectable_fields: Vec::new(),
                        crd: None,
                    })
                },
            )
            .collect();
        Registry { types }
    }

    /// The type served at `group/version/plural`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type of an `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
    }

    /// All types.
    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// Replaces the types defined by a CRD (none to remove it).
    pub fn set_crd_types(&mut self, crd: &str, types: Vec<ResourceType>) {
        self.types.retain(|t| t.crd.as_deref() != Some(crd));
        self.types.extend(types.into_iter().map(Arc::new));
    }

    /// Groups with their versions, in discovery order (core excluded): built-in groups
    /// first as registered, then CRD groups sorted.
    fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        for (_, vs) in &mut out {
            vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }

    /// `GET /api`.
    pub fn api_versions(&self, server_address: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        })
    }

    /// `GET /apis`.
    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .map(|(g, vs)| group_doc(&g, &vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /apis/<group>`.
    pub fn api_group(&self, group: &str) -> Option<Value> {
        self.groups()
            .into_iter()
            .find(|(g, _)| g == group)
            .map(|(g, vs)| {
                let mut d = group_doc(&g, &vs);
                d["kind"] = json!("APIGroup");
                d["apiVersion"] = json!("v1");
                d
            })
    }

    /// `GET /api/v1` or `/apis/<group>/<version>`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let types: Vec<&Arc<ResourceType>> = self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .collect();
        if types.is_empty() {
            return None;
        }
        let mut resources = Vec::new();
        for t in types {
            let mut r = json!({
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": t.verbs(),
            });
            if !t.short_names.is_empty() {
                r["shortNames"] = json!(t.short_names);
            }
            if !t.categories.is_empty() {
                r["categories"] = json!(t.categories);
            }
            resources.push(r);
            if t.status {
                resources.push(json!({
                    "name": format!("{}/status", t.plural),
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": ["get", "patch", "update"],
                }));
            }
            if t.group.is_empty() && t.plural == "serviceaccounts" {
                resources.push(json!({
                    "name": "serviceaccounts/token",
                    "singularName": "",
                    "namespaced": true,
                    "group": "authentication.k8s.io",
                    "version": "v1",
                    "kind": "TokenRequest",
                    "verbs": ["create"],
                }));
            }
            if t.scale {
                resources.push(json!({
                    "name": format!("{}/scale", t.plural),
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }));
            }
        }
        let gv = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        )
    }

    /// Aggregated discovery (`apidiscovery.k8s.io/v2`) for `/api` (core) or `/apis`.
    pub fn aggregated(&self, core: bool) -> Value {
        let mut groups: BTreeMap<usize, (String, Vec<String>)> = BTreeMap::new();
        if core {
            groups.insert(0, (String::new(), vec!["v1".into()]));
        } else {
            for (i, g) in self.groups().into_iter().enumerate() {
                groups.insert(i, g);
            }
        }
        let items: Vec<Value> = groups
            .into_values()
            .map(|(group, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self
                            .types
                            .iter()
                            .filter(|t| t.group == group && t.version == *v)
                            .map(|t| {
                                let response_kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
                                let mut subresources = Vec::new();
                                if t.status {
                                    subresources.push(json!({
                                        "subresource": "status",
                                        "responseKind": response_kind,
                                        "verbs": ["get", "patch", "update"],
                                    }));
                                }
                                if t.group.is_empty() && t.plural == "serviceaccounts" {
                                    subresources.push(json!({
                                        "subresource": "token",
                                        "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
                                        "verbs": ["create"],
                                    }));
                                }
                                if t.scale {
                                    subresources.push(json!({
                                        "subresource": "scale",
                                        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                                        "verbs": ["get", "patch", "update"],
                                    }));
                                }
                                let mut r = json!({
                                    "resource": t.plural,
                                    "responseKind": response_kind,
                                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                    "singularResource": t.singular,
                                    "verbs": t.verbs(),
                                });
                                if !t.short_names.is_empty() {
                                    r["shortNames"] = json!(t.short_names);
                                }
                                if !t.categories.is_empty() {
                                    r["categories"] = json!(t.categories);
                                }
                                if !subresources.is_empty() {
                                    r["subresources"] = Value::Array(subresources);
                                }
                                r
                            })
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                json!({"metadata": {"name": group}, "versions": versions})
            })
            .collect();
        json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
    }
}

/// The verbs of every stored kind.
pub const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn group_doc(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": {"groupVersion": format!("{group}/{}", versions[0]), "version": versions[0]},
    })
}

/// Splits `group/version` (or `v1` for core).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first, then others.
pub fn version_priority(v: &str) -> (u8, u64, u8, u64) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0, 0);
    };
    let major_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(major) = rest[..major_len].parse::<u64>() else {
        return (0, 0, 0, 0);
    };
    let tail = &rest[major_len..];
    if tail.is_empty() {
        return (3, major, 0, 0);
    }
    for (prefix, rank) in [("beta", 2u8), ("alpha", 1u8)] {
        if let Some(n) = tail.strip_prefix(prefix)
            && let Ok(minor) = n.parse::<u64>()
        {
            return (rank, major, 0, minor);
        }
    }
    (0, 0, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1beta1", "v1", "v2alpha1", "v2", "foo", "v1beta2"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "foo"]);
    }

    #[test]
    fn discovery_lists_builtins() {
        let r = Registry::new();
        let core = r.resource_list("", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"configmaps"));
        assert!(names.contains(&"namespaces/status"));
        assert_eq!(
            r.lookup("apps", "v1", "deployments").unwrap().kind,
            "Deployment"
        );
        assert_eq!(
            r.by_kind("apps/v1", "Deployment").unwrap().plural,
            "deployments"
        );
        let groups = r.api_group_list();
        assert!(
            groups["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == "apps")
        );
    }
}
