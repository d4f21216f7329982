//! Reference and helper types shared by several kinds (Flux's `meta` and `kustomize`
//! API packages).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reference to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}

impl LocalObjectReference {
    /// A reference to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        LocalObjectReference { name: name.into() }
    }
}

/// A reference to a key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyReference {
    /// Key of the Secret's data; a kind-specific default applies when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Name of the Secret.
    pub name: String,
}

/// A reference to an object, optionally in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespacedObjectReference {
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the referrer's namespace when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference to an object of some kind, optionally in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectKindReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the referrer's namespace when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A dependency on another object of the same kind that must be ready first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Name of the dependency.
    pub name: String,
    /// Namespace of the dependency; the dependent's namespace when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A CEL expression over the dependency that must be true for it to count as ready,
    /// in addition to its Ready condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

/// Where to find a kubeconfig for a remote cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified", "rule": "has(self.configMapRef) || has(self.secretRef)"},
    {"message": "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified", "rule": "!has(self.configMapRef) || !has(self.secretRef)"},
]))]
pub struct KubeConfigReference {
    /// A ConfigMap with a provider-based kubeconfig (no secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectReference>,
    /// A Secret holding the kubeconfig under `value` or `value.yaml`, or under `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
}

impl KubeConfigReference {
    /// The ConfigMap or Secret it names (in the referring object's namespace).
    pub fn config_refs(&self) -> Vec<(crate::kustomize::ValuesKind, String)> {
        use crate::kustomize::ValuesKind;
        let cm = self
            .config_map_ref
            .iter()
            .map(|r| (ValuesKind::ConfigMap, r.name.clone()));
        let secret = self
            .secret_ref
            .iter()
            .map(|r| (ValuesKind::Secret, r.name.clone()));
        cm.chain(secret).collect()
    }
}

/// Labels and annotations added to every object a controller applies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommonMetadata {
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Selects objects by group, version, kind, name and namespace (regular expressions) and
/// by label and annotation selectors, as kustomize's patch targets do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Annotation selector, e.g. `a=b,c!=d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// API group (regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind (regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Label selector, e.g. `app=web,tier in (front)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Name (regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace (regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// API version (regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A strategic merge or JSON6902 patch with an optional target selector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Patch {
    /// The patch: a strategic merge patch or a JSON6902 list of operations, in YAML or JSON.
    pub patch: String,
    /// The objects to patch; a strategic merge patch names its own target when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// An image override, as in kustomize's `images`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Digest to use instead of the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The image name to match.
    pub name: String,
    /// Replacement name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
}

/// JSON pointers to ignore when detecting drift, for the selected objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IgnoreRule {
    /// JSON pointers (RFC 6901) of the fields to ignore.
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// A health check written as CEL expressions for a kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// API version of the objects to check.
    pub api_version: String,
    /// Expression that is true when the object is healthy.
    pub current: String,
    /// Expression that is true when the object has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Expression that is true while the object is progressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// Kind of the objects to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The objects a Kustomization or HelmRelease applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceInventory {
    /// One entry per object.
    pub entries: Vec<ResourceRef>,
}

/// An inventory entry: `{id: "<namespace>_<name>_<group>_<kind>", v: "<version>"}`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct ResourceRef {
    /// `<namespace>_<name>_<group>_<kind>`, namespace and group empty where they do not apply.
    pub id: String,
    /// The object's API version, e.g. `v1`.
    pub v: String,
}

impl ResourceRef {
    /// The entry for an object.
    pub fn new(namespace: &str, name: &str, group: &str, kind: &str, version: &str) -> Self {
        ResourceRef {
            id: format!("{namespace}_{name}_{group}_{kind}"),
            v: version.to_owned(),
        }
    }

    /// Splits the id into namespace, name, group and kind. Names cannot contain `_`, so the
    /// split is unambiguous for ids this crate writes.
    pub fn parts(&self) -> Option<ObjectId<'_>> {
        let mut it = self.id.splitn(4, '_');
        let namespace = it.next()?;
        let name = it.next()?;
        let group = it.next()?;
        let kind = it.next()?;
        if name.is_empty() || kind.is_empty() {
            return None;
        }
        Some(ObjectId {
            namespace,
            name,
            group,
            kind,
        })
    }
}

/// The parts of an inventory id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectId<'a> {
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// API group; empty for the core group.
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
}

/// Namespaces allowed to reference an object (`accessFrom`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessFrom {
    /// Namespaces whose labels match one of these selectors have access.
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// A namespace label selector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Labels the namespace must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// An OIDC identity a keyless signature must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OidcIdentityMatch {
    /// Regular expression for the OIDC issuer.
    pub issuer: String,
    /// Regular expression for the certificate subject.
    pub subject: String,
}

/// Signature verification providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerificationProvider {
    /// Sigstore cosign.
    #[default]
    Cosign,
    /// Notary project notation.
    Notation,
}

/// The kinds objects may refer to as their source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SourceKind {
    /// `GitRepository`.
    GitRepository,
    /// `OCIRepository`.
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// `HelmRepository`.
    HelmRepository,
    /// `HelmChart`.
    HelmChart,
    /// `Bucket`.
    Bucket,
    /// `ExternalArtifact`.
    ExternalArtifact,
}

impl SourceKind {
    /// The kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::GitRepository => "GitRepository",
            SourceKind::OciRepository => "OCIRepository",
            SourceKind::HelmRepository => "HelmRepository",
            SourceKind::HelmChart => "HelmChart",
            SourceKind::Bucket => "Bucket",
            SourceKind::ExternalArtifact => "ExternalArtifact",
        }
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kinds whose objects Flux's notification API can refer to (Alert event sources,
/// Receiver resources).
pub const NOTIFICATION_OBJECT_KINDS: [&str; 12] = [
    "Bucket",
    "GitRepository",
    "Kustomization",
    "HelmRelease",
    "HelmChart",
    "HelmRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "OCIRepository",
    "ArtifactGenerator",
    "ExternalArtifact",
];

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For Go fields of a struct type (`metav1.Time`) tagged `omitempty`, which Go still
/// encodes, as `null`: absent normally, `null` inside [`crate::duration::go_encoded`].
pub(crate) fn none_unless_go<T>(v: &Option<T>) -> bool {
    v.is_none() && !crate::duration::is_go_encoding()
}

/// For Go `string` fields tagged `omitempty`: absent and empty both stay out of the output.
pub(crate) fn is_none_or_empty(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_ids() {
        let r = ResourceRef::new("apps", "web", "apps", "Deployment", "v1");
        assert_eq!(r.id, "apps_web_apps_Deployment");
        let p = r.parts().unwrap();
        assert_eq!(
            (p.namespace, p.name, p.group, p.kind),
            ("apps", "web", "apps", "Deployment")
        );
        let ns = ResourceRef::new("", "apps", "", "Namespace", "v1");
        assert_eq!(ns.id, "_apps__Namespace");
        let p = ns.parts().unwrap();
        assert_eq!(
            (p.namespace, p.name, p.group, p.kind),
            ("", "apps", "", "Namespace")
        );
        assert!(
            ResourceRef {
                id: "garbage".into(),
                v: "v1".into()
            }
            .parts()
            .is_none()
        );
        assert!(
            ResourceRef {
                id: "a__b_".into(),
                v: "v1".into()
            }
            .parts()
            .is_none()
        );
    }
}

/// Kubernetes' explanation of a value that is not a DNS-1123 label (namespace names,
/// among others).
pub const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Checks that `value` of `field` is a DNS-1123 label, as Kubernetes requires of namespace
/// names; the error is worded as the API server's (`<field>: Invalid value: "<value>": …`).
pub fn validate_dns1123_label(field: &str, value: &str) -> Result<(), String> {
    let invalid = |why: &str| Err(format!("{field}: Invalid value: {value:?}: {why}"));
    if value.len() > 63 {
        return invalid("must be no more than 63 characters");
    }
    if is_dns1123_label(value) {
        Ok(())
    } else {
        invalid(DNS1123_LABEL_MESSAGE)
    }
}

/// Whether `value` is a DNS-1123 label: 1 to 63 lowercase letters, digits and `-`, starting
/// and ending with a letter or digit.
pub fn is_dns1123_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// Whether `value` is a DNS-1123 subdomain (what most object names must be): at most 253
/// characters, dot-separated DNS-1123 labels.
pub fn is_dns1123_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_dns1123_label)
}

/// Checks that `value` of `field` can be an object name in a request path, as every
/// Kubernetes name must (not `.` or `..`, no `/` or `%`), worded as the API server's.
pub fn validate_path_segment(field: &str, value: &str) -> Result<(), String> {
    let invalid = |why: String| Err(format!("{field}: Invalid value: {value:?}: {why}"));
    if value == "." || value == ".." {
        return invalid(format!("may not be '{value}'"));
    }
    for bad in ["/", "%"] {
        if value.contains(bad) {
            return invalid(format!("may not contain '{bad}'"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        assert!(validate_dns1123_label("f", "apps-1").is_ok());
        for bad in ["", "Bad_NS", "-a", "a-", "a.b", &"a".repeat(64)] {
            let e = validate_dns1123_label("spec.targetNamespace", bad).unwrap_err();
            assert!(
                e.starts_with("spec.targetNamespace: Invalid value: \""),
                "{e}"
            );
        }
        assert!(
            validate_dns1123_label("f", &"a".repeat(64))
                .unwrap_err()
                .ends_with("must be no more than 63 characters")
        );
    }

    #[test]
    fn path_segments() {
        assert!(validate_path_segment("metadata.name", "system:admin").is_ok());
        for bad in [".", "..", "a/b", "a%2f"] {
            assert!(
                validate_path_segment("metadata.name", bad).is_err(),
                "{bad}"
            );
        }
    }
}
