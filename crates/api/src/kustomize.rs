//! `kustomize.toolkit.fluxcd.io/v1`: Kustomization.

use crate::condition::Condition;
use crate::duration::{Duration, INTERVAL_PATTERN};
use crate::meta::{
    CommonMetadata, CustomHealthCheck, DependencyReference, IgnoreRule, Image, KubeConfigReference,
    LocalObjectReference, NamespacedObjectKindReference, Patch, ResourceInventory, SourceKind,
    is_false,
};
use crate::schema::DateTime;
use crate::source::impl_conditions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group of Kustomization.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";

crate::flux_kind! {
    /// Builds a path of a source artifact with kustomize and applies the result.
    kind Kustomization {
        group: "kustomize.toolkit.fluxcd.io",
        version: "v1",
        plural: "kustomizations",
        singular: "kustomization",
        short_names: ["ks"],
        categories: ["all", "fluxcd", "fluxcd-appliers"],
        description: "Kustomization is the Schema for the kustomizations API.",
        spec: KustomizationSpec,
        status: KustomizationStatus,
        status_subresource: true,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a Kustomization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// kustomize build metadata to add: `originAnnotations`, `transformerAnnotations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_metadata: Vec<BuildMetadata>,
    /// Labels and annotations added to every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// kustomize components (paths relative to `path`) to include.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Decrypt SOPS-encrypted files and Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// What happens to the applied objects when the Kustomization is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Kustomizations that must be ready before this one is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Recreate objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(extend("default" = false))]
    pub force: bool,
    /// Custom health checks as CEL expressions, per kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<CustomHealthCheck>,
    /// Objects whose health is checked after applying.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<NamespacedObjectKindReference>,
    /// Fields to ignore when detecting drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
    /// Do not fail when a component in `components` is missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_components: bool,
    /// Image overrides, as kustomize's `images`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// How often to reconcile.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// Apply to a remote cluster with this kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Prefix added to the names of all objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_prefix: Option<String>,
    /// Suffix added to the names of all objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_suffix: Option<String>,
    /// Patches applied to the built objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// Path in the artifact to build; the root when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Variable substitution after the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// Delete objects that are no longer in the build.
    pub prune: bool,
    /// Retry interval after a failure; `interval` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub retry_interval: Option<Duration>,
    /// Apply as this ServiceAccount (impersonation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// The source of the artifact.
    pub source_ref: CrossNamespaceSourceReference,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Namespace set on all namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Timeout of validation, apply and health checks; `interval` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
    /// Wait for all applied objects to become ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub wait: bool,
}

impl KustomizationSpec {
    /// The timeout: `timeout`, else `interval`.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout.as_ref().unwrap_or(&self.interval).get()
    }

    /// The interval after a failure: `retryInterval`, else `interval`.
    pub fn retry_interval(&self) -> std::time::Duration {
        self.retry_interval.as_ref().unwrap_or(&self.interval).get()
    }
}

/// kustomize `buildMetadata` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BuildMetadata {
    /// `config.kubernetes.io/origin` annotations naming the file each object came from.
    OriginAnnotations,
    /// Annotations naming the transformers that changed each object.
    TransformerAnnotations,
}

/// The source of a Kustomization, possibly in another namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `GitRepository`, `Bucket` or `ExternalArtifact`.
    #[schemars(extend("enum" = ["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"]))]
    pub kind: SourceKind,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; the Kustomization's namespace when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Default for CrossNamespaceSourceReference {
    fn default() -> Self {
        CrossNamespaceSourceReference {
            api_version: None,
            kind: SourceKind::GitRepository,
            name: String::new(),
            namespace: None,
        }
    }
}

/// SOPS decryption settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// The only provider is `sops`.
    pub provider: DecryptionProvider,
    /// Secret with the decryption keys (`*.agekey`, `*.asc`, cloud KMS credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for cloud KMS workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

/// Decryption providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecryptionProvider {
    /// Mozilla SOPS.
    #[default]
    Sops,
}

/// What deleting a Kustomization does to its objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete them when `prune` is true (the default).
    #[default]
    MirrorPrune,
    /// Delete them.
    Delete,
    /// Delete them and wait until they are gone.
    WaitForTermination,
    /// Leave them.
    Orphan,
}

/// Post-build variable substitution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// Variables, `${name}` → value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<BTreeMap<String, String>>,
    /// ConfigMaps and Secrets whose data are variables, later ones winning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitute_from: Vec<SubstituteReference>,
    /// When to substitute: only with variables defined (`WithVariables`) or `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_strategy: Option<SubstituteStrategy>,
}

/// When post-build substitution runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SubstituteStrategy {
    /// Only when `substitute` or `substituteFrom` define variables.
    #[default]
    WithVariables,
    /// Always (so `${var:=default}` works without variables).
    Always,
}

/// A ConfigMap or Secret holding substitution variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubstituteReference {
    /// `Secret` or `ConfigMap`.
    pub kind: ValuesKind,
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Skip it when missing.
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(extend("default" = false))]
    pub optional: bool,
}

/// The kinds that can hold values or variables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ValuesKind {
    /// A Secret.
    Secret,
    /// A ConfigMap.
    #[default]
    ConfigMap,
}

/// Observed state of a Kustomization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct KustomizationStatus {
    /// Conditions: Ready, Reconciling, Stalled, Healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Recent reconciliations, grouped by the digest of the applied set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Snapshot>,
    /// The applied objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// The origin revision of the last applied artifact (from its metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_origin_revision: Option<String>,
    /// The source revision last applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The source revision last attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A history entry: reconciliations that applied the same set of objects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Digest of the applied objects.
    pub digest: String,
    /// First reconciliation with this digest.
    #[schemars(with = "DateTime")]
    pub first_reconciled: Time,
    /// Last reconciliation with this digest.
    #[schemars(with = "DateTime")]
    pub last_reconciled: Time,
    /// How long the last reconciliation took.
    pub last_reconciled_duration: Duration,
    /// Outcome of the last reconciliation.
    pub last_reconciled_status: String,
    /// Extra data, e.g. the source revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// How many reconciliations applied this digest.
    pub total_reconciliations: i64,
}

impl_conditions!(KustomizationStatus);
