//! `helm.toolkit.fluxcd.io/v2`: HelmRelease.

use crate::condition::Condition;
use crate::duration::{Duration, INTERVAL_PATTERN};
use crate::kustomize::ValuesKind;
use crate::meta::{
    CommonMetadata, CustomHealthCheck, DependencyReference, IgnoreRule, Image, KubeConfigReference,
    LocalObjectReference, Patch, ResourceInventory, SourceKind, VerificationProvider, is_false,
};
use crate::schema::{DateTime, GoInt};
use crate::source::impl_conditions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group of HelmRelease.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";

crate::flux_kind! {
    /// Installs and upgrades a Helm chart as a release, with remediation, tests and drift
    /// detection.
    kind HelmRelease {
        group: "helm.toolkit.fluxcd.io",
        version: "v2",
        plural: "helmreleases",
        singular: "helmrelease",
        short_names: ["hr"],
        categories: ["all", "fluxcd", "fluxcd-appliers"],
        description: "HelmRelease is the Schema for the helmreleases API",
        spec: HelmReleaseSpec,
        status: HelmReleaseStatus,
        status_subresource: true,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a HelmRelease.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "either chart or chartRef must be set",
     "rule": "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))"}
]))]
pub struct HelmReleaseSpec {
    /// A chart template: the controller creates a HelmChart from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// A reference to a chart source: an OCIRepository, HelmChart or ExternalArtifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<ChartReference>,
    /// Labels and annotations added to every object of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// HelmReleases that must be ready first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Drift detection and correction of the release's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,
    /// Custom health checks as CEL expressions, per kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<CustomHealthCheck>,
    /// Install settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
    /// How often to reconcile.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// Release to a remote cluster with this kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Release revisions to keep; 5 when unset, unlimited when 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<GoInt>")]
    pub max_history: Option<i64>,
    /// Keep one Kubernetes client for the whole reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    /// Which manifests post-renderers see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_render_strategy: Option<PostRenderStrategy>,
    /// Post-renderers applied to the rendered manifests, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_renderers: Vec<PostRenderer>,
    /// Release name; `[targetNamespace-]name` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,
    /// Rollback settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Act as this ServiceAccount (impersonation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
    /// Namespace of the release's storage Secrets; `targetNamespace` or the HelmRelease's
    /// namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Namespace to install into; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Test settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Timeout of Helm actions; 5m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
    /// Uninstall settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,
    /// Upgrade settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    /// Values, merged over `valuesFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_fields")]
    pub values: Option<serde_json::Value>,
    /// ConfigMaps and Secrets with values, merged in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,
    /// How to wait for the release's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,
}

impl HelmReleaseSpec {
    /// The timeout of Helm actions, 5m when unset.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
            .as_ref()
            .map_or(std::time::Duration::from_secs(300), Duration::get)
    }
}

/// A template for the HelmChart the controller creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HelmChartTemplate {
    /// Labels and annotations of the HelmChart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<CommonMetadata>,
    /// The HelmChart's spec.
    pub spec: HelmChartTemplateSpec,
}

/// The spec of the HelmChart a HelmRelease creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name or path.
    #[schemars(length(min = 1, max = 2048))]
    pub chart: String,
    /// Do not fail when a values file is missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_values_files: bool,
    /// How often to check the source; the HelmRelease's interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Option<Duration>,
    /// When to package a new chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ChartVersion"))]
    pub reconcile_strategy: Option<crate::source::ReconcileStrategy>,
    /// The chart's source.
    pub source_ref: CrossNamespaceObjectReference,
    /// Values files in the chart to merge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Verify the chart's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<HelmChartTemplateVerification>,
    /// Chart version or semver range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
}

/// The source of a chart template, possibly in another namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket`.
    #[schemars(extend("enum" = ["HelmRepository", "GitRepository", "Bucket"]))]
    pub kind: SourceKind,
    /// Name of the source.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

impl Default for CrossNamespaceObjectReference {
    fn default() -> Self {
        CrossNamespaceObjectReference {
            api_version: None,
            kind: SourceKind::HelmRepository,
            name: String::new(),
            namespace: None,
        }
    }
}

/// A reference to a chart artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChartReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `HelmChart` or `ExternalArtifact`.
    #[schemars(extend("enum" = ["OCIRepository", "HelmChart", "ExternalArtifact"]))]
    pub kind: SourceKind,
    /// Name of the source.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Signature verification of a chart template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateVerification {
    /// `cosign` or `notation`.
    #[serde(default)]
    #[schemars(extend("default" = "cosign"))]
    pub provider: VerificationProvider,
    /// Secret with trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Drift detection settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftDetection {
    /// Fields to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
    /// `enabled` (correct drift), `warn` (report it) or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriftDetectionMode>,
}

/// What to do about drift.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftDetectionMode {
    /// Correct it.
    Enabled,
    /// Report it.
    Warn,
    /// Ignore it.
    #[default]
    Disabled,
}

/// Install settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// What to do with the chart's CRDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Create the target namespace.
    #[serde(default, skip_serializing_if = "is_false")]
    pub create_namespace: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Do not validate against the OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "is_false"
    )]
    pub disable_open_api_validation: bool,
    /// Do not validate values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Do not adopt existing objects.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_take_ownership: bool,
    /// Do not wait for objects to become ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Remediation of failed installs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Reuse the name of a deleted release still in history.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replace: bool,
    /// Apply with server-side apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
    /// Deprecated: use `crds: Skip`.
    #[serde(default, rename = "skipCRDs", skip_serializing_if = "is_false")]
    pub skip_crds: bool,
    /// Retry strategy after a failed install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<InstallStrategy>,
    /// Timeout of the install; the HelmRelease's timeout when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
}

/// Remediation of failed installs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Treat failed tests as successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure when retries are exhausted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// Retries before giving up; negative for unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<GoInt>")]
    pub retries: Option<i64>,
}

/// Retry strategy after a failed install.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": ".retryInterval cannot be set when .name is 'RemediateOnFailure'",
     "rule": "!has(self.retryInterval) || self.name != 'RemediateOnFailure'"}
]))]
pub struct InstallStrategy {
    /// `RemediateOnFailure` or `RetryOnFailure`.
    pub name: ActionStrategyName,
    /// Interval between retries (`RetryOnFailure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub retry_interval: Option<Duration>,
}

/// Retry strategy after a failed upgrade.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": ".retryInterval can only be set when .name is 'RetryOnFailure'",
     "rule": "!has(self.retryInterval) || self.name == 'RetryOnFailure'"}
]))]
pub struct UpgradeStrategy {
    /// `RemediateOnFailure` or `RetryOnFailure`.
    pub name: ActionStrategyName,
    /// Interval between retries (`RetryOnFailure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub retry_interval: Option<Duration>,
}

/// How failed installs and upgrades are handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ActionStrategyName {
    /// Remediate (rollback or uninstall) per the remediation settings.
    #[default]
    RemediateOnFailure,
    /// Retry after `retryInterval`.
    RetryOnFailure,
}

/// What to do with a chart's CRDs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CrdsPolicy {
    /// Leave them.
    Skip,
    /// Create new ones, leave existing ones.
    #[default]
    Create,
    /// Create new ones and replace existing ones.
    CreateReplace,
}

/// Upgrade settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// What to do when the chart's name changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_name_change_strategy: Option<ChartNameChangeStrategy>,
    /// Delete objects created by a failed upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// What to do with the chart's CRDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Do not validate against the OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "is_false"
    )]
    pub disable_open_api_validation: bool,
    /// Do not validate values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Do not adopt existing objects.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_take_ownership: bool,
    /// Do not wait for objects to become ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Replace objects instead of patching them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Keep the values of the last release and merge the new ones over them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_values: bool,
    /// Remediation of failed upgrades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Server-side apply: `enabled`, `disabled` or `auto` (as the release was installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
    /// Retry strategy after a failed upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpgradeStrategy>,
    /// Timeout of the upgrade; the HelmRelease's timeout when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
}

/// What to do when a release's chart name changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChartNameChangeStrategy {
    /// Upgrade the release in place.
    #[default]
    InPlaceUpdate,
    /// Uninstall and install again.
    Reinstall,
}

/// Server-side apply for upgrades and rollbacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerSideApplyMode {
    /// Always.
    Enabled,
    /// Never.
    Disabled,
    /// As the release was installed.
    #[default]
    Auto,
}

/// Remediation of failed upgrades.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Treat failed tests as successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure when retries are exhausted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// Retries before giving up; negative for unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<GoInt>")]
    pub retries: Option<i64>,
    /// `rollback` (default) or `uninstall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

/// How a failed upgrade is remediated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStrategy {
    /// Roll back to the last successful release.
    #[default]
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// Test settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Run the chart's tests after installs and upgrades.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable: bool,
    /// Tests to include or exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<TestFilter>,
    /// Treat failed tests as successful.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_failures: bool,
    /// Timeout of the tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
}

/// A test to run or skip.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestFilter {
    /// Skip this test instead of selecting it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclude: bool,
    /// Name of the test.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Rollback settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Delete objects created by a failed rollback.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Do not wait for objects to become ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Replace objects instead of patching them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Restart pods.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recreate: bool,
    /// Server-side apply mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
    /// Timeout of the rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
}

/// Uninstall settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// How dependents are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "background"))]
    pub deletion_propagation: Option<DeletionPropagation>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Do not wait for objects to be deleted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Keep the release history.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_history: bool,
    /// Timeout of the uninstall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub timeout: Option<Duration>,
}

/// Deletion propagation of an uninstall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPropagation {
    /// Delete dependents in the background.
    #[default]
    Background,
    /// Delete dependents first.
    Foreground,
    /// Leave dependents.
    Orphan,
}

/// A ConfigMap or Secret key holding values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `Secret` or `ConfigMap`.
    pub kind: ValuesKind,
    /// Use the value as a literal at `targetPath` instead of parsing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<bool>,
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Skip it when missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Where to put the value (Helm `--set` path syntax); the values root when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 250),
        regex(pattern = r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$")
    )]
    pub target_path: Option<String>,
    /// Key in the object's data; `values.yaml` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), regex(pattern = r"^[\-._a-zA-Z0-9]+$"))]
    pub values_key: Option<String>,
}

/// A post-renderer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostRenderer {
    /// kustomize patches and images applied to the rendered manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizePostRenderer>,
}

/// kustomize post-rendering.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KustomizePostRenderer {
    /// Image overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Patches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
}

/// Which manifests post-renderers see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostRenderStrategy {
    /// The manifests without hooks.
    #[default]
    Nohooks,
    /// Manifests and hooks together.
    Combined,
    /// Manifests and hooks separately.
    Separate,
}

/// How to wait for a release's objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaitStrategy {
    /// `poller` (kstatus) or `legacy` (Helm's own).
    pub name: WaitStrategyName,
}

/// Wait implementations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitStrategyName {
    /// kstatus polling.
    #[default]
    Poller,
    /// Helm's legacy wait.
    Legacy,
}

/// Observed state of a HelmRelease.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct HelmReleaseStatus {
    /// Conditions: Ready, Reconciling, Stalled, Released, TestSuccess, Remediated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i64>,
    /// `<namespace>/<name>` of the HelmChart created from the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart: Option<String>,
    /// Release history, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HelmSnapshot>,
    /// Install failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failures: Option<i64>,
    /// The objects of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// Digest of the last attempted configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_config_digest: Option<String>,
    /// The generation last attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_generation: Option<i64>,
    /// The last attempted action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action: Option<ReleaseAction>,
    /// How long the last action took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action_duration: Option<Duration>,
    /// The chart version last attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The chart artifact digest last attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision_digest: Option<String>,
    /// Deprecated checksum of the last attempted values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_values_checksum: Option<String>,
    /// The last handled `reconcile.fluxcd.io/forceAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_force_at: Option<String>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The last handled `reconcile.fluxcd.io/resetAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reset_at: Option<String>,
    /// Deprecated: revision of the last release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<GoInt>")]
    pub last_release_revision: Option<i64>,
    /// Digest of the common metadata last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_common_metadata_digest: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the post-renderers last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_post_renderers_digest: Option<String>,
    /// Namespace of the release storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// Upgrade failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failures: Option<i64>,
}

/// Helm actions a HelmRelease attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseAction {
    /// Install.
    Install,
    /// Upgrade.
    Upgrade,
}

/// A release revision in the HelmRelease's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmSnapshot {
    /// The action that produced the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// API version of the snapshot format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The chart's appVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// The chart's name.
    pub chart_name: String,
    /// The chart's version.
    pub chart_version: String,
    /// Digest of the values.
    pub config_digest: String,
    /// When the release was deleted (a Go `metav1.Time`: `null` in Go's encoding when unset).
    #[serde(default, skip_serializing_if = "crate::meta::none_unless_go")]
    #[schemars(with = "Option<DateTime>")]
    pub deleted: Option<Time>,
    /// Digest of the release.
    pub digest: String,
    /// When the release was first deployed.
    #[schemars(with = "DateTime")]
    pub first_deployed: Time,
    /// When the release was last deployed.
    #[schemars(with = "DateTime")]
    pub last_deployed: Time,
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Digest of the OCI chart artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
    /// Helm's release status, e.g. `deployed`.
    pub status: String,
    /// Test hooks and their outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hooks: Option<BTreeMap<String, TestHookStatus>>,
    /// Release revision.
    #[schemars(with = "GoInt")]
    pub version: i64,
}

/// The outcome of a test hook.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestHookStatus {
    /// When it completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime>")]
    pub last_completed: Option<Time>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime>")]
    pub last_started: Option<Time>,
    /// Its phase, e.g. `Succeeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

impl_conditions!(HelmReleaseStatus);
