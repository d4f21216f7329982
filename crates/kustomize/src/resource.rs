//! Resources and their identities.

use crate::yaml::{Mapping, Value};
use std::fmt;

/// Group, version and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Gvk {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// Splits an `apiVersion` into group and version.
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk {
            group,
            version,
            kind: kind.to_string(),
        }
    }

    /// The `apiVersion` text.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether this GVK is selected by `sel` (empty parts of `sel` match anything).
    pub fn is_selected(&self, sel: &Gvk) -> bool {
        (sel.group.is_empty() || sel.group == self.group)
            && (sel.version.is_empty() || sel.version == self.version)
            && (sel.kind.is_empty() || sel.kind == self.kind)
    }

    /// kustomize's `Gvk.String()` (`~G_v1_ConfigMap`).
    pub fn sort_string(&self) -> String {
        let g = if self.group.is_empty() {
            "~G"
        } else {
            &self.group
        };
        let v = if self.version.is_empty() {
            "~V"
        } else {
            &self.version
        };
        let k = if self.kind.is_empty() {
            "~K"
        } else {
            &self.kind
        };
        format!("{g}_{v}_{k}")
    }

    /// Whether kustomize's built-in schema knows this kind as cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.group, &self.version, &self.kind)
    }
}

/// The cluster-scoped kinds of kustomize's built-in OpenAPI schema, by apiVersion.
fn is_cluster_scoped(group: &str, version: &str, kind: &str) -> bool {
    let gv = (group, version);
    match kind {
        "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus" => gv == ("", "v1"),
        "ClusterRole" | "ClusterRoleBinding" => {
            group == "rbac.authorization.k8s.io" && matches!(version, "v1" | "v1beta1" | "v1alpha1")
        }
        "CustomResourceDefinition" => {
            group == "apiextensions.k8s.io" && matches!(version, "v1" | "v1beta1")
        }
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
            group == "admissionregistration.k8s.io" && matches!(version, "v1" | "v1beta1")
        }
        "APIService" => group == "apiregistration.k8s.io" && matches!(version, "v1" | "v1beta1"),
        "StorageClass" | "VolumeAttachment" | "CSIDriver" | "CSINode" => {
            group == "storage.k8s.io" && matches!(version, "v1" | "v1beta1" | "v1alpha1")
        }
        "PriorityClass" => {
            group == "scheduling.k8s.io" && matches!(version, "v1" | "v1beta1" | "v1alpha1")
        }
        "PodSecurityPolicy" => group == "policy" && version == "v1beta1",
        "CertificateSigningRequest" => {
            group == "certificates.k8s.io" && matches!(version, "v1" | "v1beta1")
        }
        "IngressClass" => group == "networking.k8s.io" && matches!(version, "v1" | "v1beta1"),
        "RuntimeClass" => {
            group == "node.k8s.io" && matches!(version, "v1" | "v1beta1" | "v1alpha1")
        }
        "FlowSchema" | "PriorityLevelConfiguration" => {
            group == "flowcontrol.apiserver.k8s.io" && matches!(version, "v1beta1" | "v1alpha1")
        }
        "TokenReview" => group == "authentication.k8s.io" && matches!(version, "v1" | "v1beta1"),
        "SelfSubjectAccessReview" | "SelfSubjectRulesReview" | "SubjectAccessReview" => {
            group == "authorization.k8s.io" && matches!(version, "v1" | "v1beta1")
        }
        "StorageVersion" => group == "internal.apiserver.k8s.io" && version == "v1alpha1",
        _ => false,
    }
}

/// A resource identity: GVK, name and namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResId {
    /// Group, version, kind.
    pub gvk: Gvk,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (may be empty).
    pub namespace: String,
}

impl ResId {
    /// The namespace with `""` read as `default` for namespaced kinds.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            ""
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// Namespaces equal, with `""` and `default` the same.
    pub fn ns_equals(&self, o: &ResId) -> bool {
        self.effective_namespace() == o.effective_namespace()
    }

    /// kustomize's `ResId.Equals`.
    pub fn equals(&self, o: &ResId) -> bool {
        self.ns_equals(o) && self.gvk == o.gvk && self.name == o.name
    }

    /// Equal ignoring namespace.
    pub fn gvkn_equals(&self, o: &ResId) -> bool {
        self.gvk == o.gvk && self.name == o.name
    }

    /// kustomize's legacy sort key (`gvk|namespace|name`).
    pub fn legacy_sort_string(&self) -> String {
        let ns = if self.namespace.is_empty() {
            "~X"
        } else {
            &self.namespace
        };
        let nm = if self.name.is_empty() {
            "~N"
        } else {
            &self.name
        };
        format!("{}|{}|{}", self.gvk.sort_string(), ns, nm)
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.gvk;
        let ns = if self.namespace.is_empty() {
            "[noNs]"
        } else {
            &self.namespace
        };
        if g.group.is_empty() {
            write!(f, "{}.{}.[noGrp]/{}.{}", g.kind, g.version, self.name, ns)
        } else {
            write!(
                f,
                "{}.{}.{}/{}.{}",
                g.kind, g.version, g.group, self.name, ns
            )
        }
    }
}

/// How a generated resource combines with an existing one of the same id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behavior {
    /// Not set (acts as `create`).
    #[default]
    Unspecified,
    /// Must not exist yet.
    Create,
    /// Replaces the existing one.
    Replace,
    /// Merges its data into the existing one.
    Merge,
}

impl Behavior {
    /// Parses `create`, `replace`, `merge` (empty = unspecified).
    pub fn parse(s: &str) -> Option<Behavior> {
        match s {
            "" => Some(Behavior::Unspecified),
            "create" => Some(Behavior::Create),
            "replace" => Some(Behavior::Replace),
            "merge" => Some(Behavior::Merge),
            _ => None,
        }
    }
}

/// One object of the build with the bookkeeping kustomize keeps in internal annotations.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The object.
    pub obj: Value,
    /// Earlier (kind, name, namespace) of this object, oldest first.
    pub prev: Vec<(String, String, String)>,
    /// Name prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// A generator asked for a content hash suffix.
    pub needs_hash: bool,
    /// Generator behavior.
    pub behavior: Behavior,
    /// Where it came from (`config.kubernetes.io/origin`), when tracked.
    pub origin: Option<Mapping>,
    /// Transformers that touched it (`alpha.config.kubernetes.io/transformations`).
    pub transformations: Vec<Mapping>,
    /// Ids of resources that refer to it by name.
    pub ref_by: Vec<ResId>,
    /// Names of vars that this resource's fields refer to.
    pub ref_var_names: Vec<String>,
}

impl Resource {
    /// Wraps an object.
    pub fn new(obj: Value) -> Resource {
        Resource {
            obj,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Unspecified,
            origin: None,
            transformations: Vec::new(),
            ref_by: Vec::new(),
            ref_var_names: Vec::new(),
        }
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.obj.get_str(&["apiVersion"]).unwrap_or("")
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.obj.get_str(&["kind"]).unwrap_or("")
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.obj.get_str(&["metadata", "name"]).unwrap_or("")
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        self.obj.get_str(&["metadata", "namespace"]).unwrap_or("")
    }

    /// The current GVK.
    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    /// The current id.
    pub fn cur_id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    /// All earlier ids (same apiVersion, earlier kind/name/namespace).
    pub fn prev_ids(&self) -> Vec<ResId> {
        let gvk = self.gvk();
        self.prev
            .iter()
            .map(|(k, n, ns)| ResId {
                gvk: Gvk {
                    group: gvk.group.clone(),
                    version: gvk.version.clone(),
                    kind: k.clone(),
                },
                name: n.clone(),
                namespace: ns.clone(),
            })
            .collect()
    }

    /// The original id: the first earlier id, or the current one.
    pub fn org_id(&self) -> ResId {
        self.prev_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.cur_id())
    }

    /// Earlier ids followed by the current one.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut v = self.prev_ids();
        v.push(self.cur_id());
        v
    }

    /// Records the current id as an earlier one (before a rename).
    pub fn store_previous_id(&mut self) {
        let e = (
            self.kind().to_string(),
            self.name().to_string(),
            self.namespace().to_string(),
        );
        self.prev.push(e);
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        self.obj.set_str(&["metadata", "name"], name);
    }

    /// Sets `metadata.namespace`.
    pub fn set_namespace(&mut self, ns: &str) {
        self.obj.set_str(&["metadata", "namespace"], ns);
    }

    /// The string map at `metadata.<field>` (labels or annotations).
    pub fn string_map(&self, field: &str) -> Vec<(String, String)> {
        match self.obj.get_path(&["metadata", field]) {
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.scalar_string().unwrap_or_default()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// One annotation.
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.obj
            .get_path(&["metadata", "annotations", key])
            .and_then(Value::scalar_string)
    }

    /// Removes one annotation (and an emptied annotations map).
    pub fn remove_annotation(&mut self, key: &str) {
        if let Some(Value::Map(meta)) = self.obj.get_mut("metadata") {
            let mut empty = false;
            if let Some(Value::Map(a)) = meta.get_mut("annotations") {
                a.shift_remove(key);
                empty = a.is_empty();
            }
            if empty {
                meta.shift_remove("annotations");
            }
        }
    }

    /// Sets one annotation.
    pub fn set_annotation(&mut self, key: &str, value: &str) {
        let a = self.obj.ensure_path(&["metadata", "annotations"]);
        if !matches!(a, Value::Map(_)) {
            *a = Value::map();
        }
        if let Value::Map(m) = a {
            m.insert(key.to_string(), Value::String(value.to_string()));
        }
    }

    /// Whether the object equals `other` after the prefixes/suffixes comparison kustomize
    /// uses to pick between name-reference candidates.
    pub fn prefixes_suffixes_equal(&self, o: &Resource, allow_empty: bool) -> bool {
        if allow_empty {
            let pe = self.prefixes.is_empty() || o.prefixes.is_empty();
            let se = self.suffixes.is_empty() || o.suffixes.is_empty();
            (pe || same_ending(&self.prefixes, &o.prefixes))
                && (se || same_ending(&self.suffixes, &o.suffixes))
        } else {
            same_ending(&self.prefixes, &o.prefixes) && same_ending(&self.suffixes, &o.suffixes)
        }
    }
}

fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() > b.len() { (b, a) } else { (a, b) };
    let diff = long.len() - short.len();
    if short.is_empty() {
        return diff == 0;
    }
    (0..short.len()).all(|i| long[i + diff] == short[i])
}
