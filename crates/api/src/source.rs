//! `source.toolkit.fluxcd.io/v1`: GitRepository, OCIRepository, HelmRepository, HelmChart,
//! Bucket and ExternalArtifact.

use crate::artifact::Artifact;
use crate::condition::Condition;
use crate::duration::{Duration, INTERVAL_PATTERN, TIMEOUT_PATTERN};
use crate::meta::{
    AccessFrom, LocalObjectReference, NamespacedObjectKindReference, OidcIdentityMatch, SourceKind,
    VerificationProvider, is_false,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of the source kinds.
pub const GROUP: &str = "source.toolkit.fluxcd.io";

/// The default timeout of source operations.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn timeout_or_default(t: &Option<Duration>) -> std::time::Duration {
    t.as_ref().map_or(DEFAULT_TIMEOUT, Duration::get)
}

/// Implements [`Conditions`](crate::condition::Conditions) for a status type with a `conditions` field.
macro_rules! impl_conditions {
    ($($status:ty),*) => {$(
        impl $crate::condition::Conditions for $status {
            fn conditions(&self) -> &[$crate::condition::Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<$crate::condition::Condition> {
                &mut self.conditions
            }
        }
    )*};
}
pub(crate) use impl_conditions;

// ---------------------------------------------------------------------------------------
// GitRepository

crate::flux_kind! {
    /// A Git repository whose content at a reference becomes an artifact.
    kind GitRepository {
        group: "source.toolkit.fluxcd.io",
        version: "v1",
        plural: "gitrepositories",
        singular: "gitrepository",
        short_names: ["gitrepo"],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "GitRepository is the Schema for the gitrepositories API.",
        spec: GitRepositorySpec,
        status: GitRepositoryStatus,
        status_subresource: true,
        printer_columns: [
            {"URL", "string", ".spec.url"},
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a GitRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "serviceAccountName can only be set when provider is 'azure' or 'aws'",
     "rule": "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))"}
]))]
pub struct GitRepositorySpec {
    /// Patterns to exclude from the artifact (`.sourceignore`/gitignore syntax); replaces the
    /// default excludes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Other GitRepositories whose artifacts are copied into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<GitRepositoryInclude>,
    /// How often to check for updates.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// Authentication provider: `generic` (default), `aws`, `azure` or `github`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<GitProvider>,
    /// Secret with proxy settings (`address`, `username`, `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Initialise submodules after cloning.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recurse_submodules: bool,
    /// The reference to check out; the `master` branch when empty.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub reference: Option<GitRepositoryRef>,
    /// Secret with credentials: `username`/`password` or `bearerToken` for HTTPS,
    /// `identity`/`known_hosts` for SSH, `ca.crt` for a custom CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for the `azure` and `aws` providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Directories to check out; the whole tree when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sparse_checkout: Vec<String>,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Timeout of Git operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TIMEOUT_PATTERN), extend("default" = "60s"))]
    pub timeout: Option<Duration>,
    /// The repository URL: `http://`, `https://` or `ssh://`.
    #[schemars(regex(pattern = r"^(http|https|ssh)://.*$"))]
    pub url: String,
    /// Verify commit or tag signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<GitRepositoryVerification>,
}

impl GitRepositorySpec {
    /// The timeout, 60s when unset.
    pub fn timeout(&self) -> std::time::Duration {
        timeout_or_default(&self.timeout)
    }
}

/// Git authentication providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitProvider {
    /// Credentials from `secretRef`.
    #[default]
    Generic,
    /// AWS CodeCommit with workload identity.
    Aws,
    /// Azure DevOps with workload identity.
    Azure,
    /// A GitHub App.
    Github,
}

/// The Git reference to check out. Precedence: `commit`, `name`, `semver`, `tag`, `branch`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitRepositoryRef {
    /// Branch to check out; `master` when no field is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Commit SHA; with `branch`, the commit must be on that branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Any reference, e.g. `refs/pull/420/head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Semantic version range; the highest matching tag is checked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Tag to check out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Signature verification of a GitRepository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryVerification {
    /// What to verify: the HEAD commit, the tag, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "HEAD"))]
    pub mode: Option<GitVerificationMode>,
    /// Secret with trusted public keys: PGP keys under `*.asc`, SSH keys under `*.sshpub`.
    pub secret_ref: LocalObjectReference,
}

/// What a GitRepository verifies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GitVerificationMode {
    /// The HEAD commit (legacy spelling).
    #[serde(rename = "head")]
    LegacyHead,
    /// The HEAD commit.
    #[default]
    #[serde(rename = "HEAD")]
    Head,
    /// The tag object.
    Tag,
    /// The tag object and the commit it points to.
    TagAndHEAD,
}

/// Another GitRepository's artifact copied into this one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// Path in the included artifact to copy from; its root when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// The GitRepository to include.
    pub repository: LocalObjectReference,
    /// Path to copy to; the included repository's name when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

/// Observed state of a GitRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct GitRepositoryStatus {
    /// The last stored artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions: Ready, Reconciling, Stalled, ArtifactInStorage, FetchFailed …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The artifacts of the last successful includes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_artifacts: Vec<Artifact>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The ignore patterns used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The includes used for the current artifact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_include: Vec<GitRepositoryInclude>,
    /// The submodule setting used for the current artifact.
    #[serde(default, skip_serializing_if = "is_false")]
    pub observed_recurse_submodules: bool,
    /// The sparse checkout directories used for the current artifact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_sparse_checkout: Vec<String>,
    /// The verification mode last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_verification_mode: Option<String>,
}

// ---------------------------------------------------------------------------------------
// OCIRepository

crate::flux_kind! {
    /// An OCI artifact whose content becomes an artifact.
    kind OCIRepository {
        group: "source.toolkit.fluxcd.io",
        version: "v1",
        plural: "ocirepositories",
        singular: "ocirepository",
        short_names: ["ocirepo"],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "OCIRepository is the Schema for the ocirepositories API",
        spec: OCIRepositorySpec,
        status: OCIRepositoryStatus,
        status_subresource: true,
        printer_columns: [
            {"URL", "string", ".spec.url"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
            {"Age", "date", ".metadata.creationTimestamp"},
        ],
    }
}

/// Cloud providers for registry authentication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    /// Credentials from `secretRef`, or anonymous.
    #[default]
    Generic,
    /// AWS.
    Aws,
    /// Azure.
    Azure,
    /// Google Cloud.
    Gcp,
}

/// Desired state of an OCIRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositorySpec {
    /// Secret with a client certificate and CA (`tls.crt`, `tls.key`, `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Patterns to exclude from the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Allow plain HTTP registries.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// How often to check for updates.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// Which layer to use and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<OCILayerSelector>,
    /// Authentication provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
    /// Secret with proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// The tag, semver range or digest to pull; `latest` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
    pub reference: Option<OCIRepositoryRef>,
    /// Secret of type `kubernetes.io/dockerconfigjson` with registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount whose image pull secrets are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Timeout of remote operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TIMEOUT_PATTERN), extend("default" = "60s"))]
    pub timeout: Option<Duration>,
    /// The artifact's address, `oci://<host>/<org>/<repo>`.
    #[schemars(regex(pattern = r"^oci://.*$"))]
    pub url: String,
    /// Verify the artifact's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
}

impl OCIRepositorySpec {
    /// The timeout, 60s when unset.
    pub fn timeout(&self) -> std::time::Duration {
        timeout_or_default(&self.timeout)
    }
}

/// The OCI reference to pull. Precedence: `digest`, `semver`, `tag`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryRef {
    /// Image digest, `sha256:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Semantic version range; the highest matching tag is pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Regular expression that tags must match before the semver range applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver_filter: Option<String>,
    /// Tag to pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Selects a layer of an OCI artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCILayerSelector {
    /// Media type of the layer; the first layer when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// `extract` (default: the layer is a tarball to unpack) or `copy` (store as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<LayerOperation>,
}

/// What to do with the selected layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LayerOperation {
    /// Unpack the layer's tarball.
    #[default]
    Extract,
    /// Store the layer as is.
    Copy,
}

/// Signature verification of an OCI artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryVerification {
    /// Identities keyless signatures must match.
    #[serde(
        default,
        rename = "matchOIDCIdentity",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_oidc_identity: Vec<OidcIdentityMatch>,
    /// `cosign` or `notation`.
    #[schemars(extend("default" = "cosign"))]
    #[serde(default)]
    pub provider: VerificationProvider,
    /// Secret with trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with a Sigstore trusted root for private instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_secret_ref: Option<LocalObjectReference>,
}

/// Observed state of an OCIRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct OCIRepositoryStatus {
    /// The last stored artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The ignore patterns used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The layer selector used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_layer_selector: Option<OCILayerSelector>,
    /// The download link of the last artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

// ---------------------------------------------------------------------------------------
// HelmRepository

crate::flux_kind! {
    /// A Helm chart repository (an HTTP index or an OCI registry).
    kind HelmRepository {
        group: "source.toolkit.fluxcd.io",
        version: "v1",
        plural: "helmrepositories",
        singular: "helmrepository",
        short_names: ["helmrepo"],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "HelmRepository is the Schema for the helmrepositories API.",
        spec: HelmRepositorySpec,
        status: HelmRepositoryStatus,
        status_subresource: true,
        printer_columns: [
            {"URL", "string", ".spec.url"},
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a HelmRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// Namespaces allowed to use this repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,
    /// Secret with a client certificate and CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Allow plain HTTP for OCI repositories.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// How often to fetch the index (HTTP repositories only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Option<Duration>,
    /// Send the credentials to chart URLs on other hosts too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pass_credentials: bool,
    /// Authentication provider (OCI repositories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
    /// Secret with `username`/`password` (or a docker config for OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Timeout of index downloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TIMEOUT_PATTERN))]
    pub timeout: Option<Duration>,
    /// `default` (HTTP index) or `oci`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub type_: Option<HelmRepositoryType>,
    /// The repository URL: `http(s)://` for an index, `oci://` for a registry.
    #[schemars(regex(pattern = r"^(http|https|oci)://.*$"))]
    pub url: String,
}

impl HelmRepositorySpec {
    /// The timeout, 60s when unset.
    pub fn timeout(&self) -> std::time::Duration {
        timeout_or_default(&self.timeout)
    }
}

/// The type of a HelmRepository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HelmRepositoryType {
    /// An HTTP(S) repository with an `index.yaml`.
    #[default]
    Default,
    /// An OCI registry.
    Oci,
}

/// Observed state of a HelmRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct HelmRepositoryStatus {
    /// The last stored index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The download link of the last index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

// ---------------------------------------------------------------------------------------
// HelmChart

crate::flux_kind! {
    /// A Helm chart fetched from a HelmRepository, or packaged from a GitRepository or Bucket.
    kind HelmChart {
        group: "source.toolkit.fluxcd.io",
        version: "v1",
        plural: "helmcharts",
        singular: "helmchart",
        short_names: ["hc"],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "HelmChart is the Schema for the helmcharts API.",
        spec: HelmChartSpec,
        status: HelmChartStatus,
        status_subresource: true,
        printer_columns: [
            {"Chart", "string", ".spec.chart"},
            {"Version", "string", ".spec.version"},
            {"Source Kind", "string", ".spec.sourceRef.kind"},
            {"Source Name", "string", ".spec.sourceRef.name"},
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a HelmChart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'",
     "rule": "!has(self.verify) || self.sourceRef.kind == 'HelmRepository'"}
]))]
pub struct HelmChartSpec {
    /// Chart name (HelmRepository) or path to the chart directory (GitRepository, Bucket).
    pub chart: String,
    /// Do not fail when a file of `valuesFiles` is missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_values_files: bool,
    /// How often to check the source for updates.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// When to package a new artifact: on a new chart version, or on every source revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ChartVersion"))]
    pub reconcile_strategy: Option<ReconcileStrategy>,
    /// The source of the chart.
    pub source_ref: LocalHelmChartSourceReference,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Values files in the chart, merged in order and packaged as the chart's values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Verify the chart's signature (OCI HelmRepositories only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIChartVerification>,
    /// Chart version or semver range; `*` (the latest) when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
}

impl HelmChartSpec {
    /// The version constraint, `*` when unset.
    pub fn version(&self) -> &str {
        self.version
            .as_deref()
            .filter(|v| !v.is_empty())
            .unwrap_or("*")
    }
}

/// When a HelmChart produces a new artifact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReconcileStrategy {
    /// When the chart version changes.
    #[default]
    ChartVersion,
    /// When the source revision changes.
    Revision,
}

/// The source of a HelmChart, in its namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalHelmChartSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket`.
    #[schemars(extend("enum" = ["HelmRepository", "GitRepository", "Bucket"]))]
    pub kind: SourceKind,
    /// Name of the source.
    pub name: String,
}

impl Default for LocalHelmChartSourceReference {
    fn default() -> Self {
        LocalHelmChartSourceReference {
            api_version: None,
            kind: SourceKind::HelmRepository,
            name: String::new(),
        }
    }
}

/// Signature verification of an OCI chart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIChartVerification {
    /// Identities keyless signatures must match.
    #[serde(
        default,
        rename = "matchOIDCIdentity",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_oidc_identity: Vec<OidcIdentityMatch>,
    /// `cosign` or `notation`.
    #[schemars(extend("default" = "cosign"))]
    #[serde(default)]
    pub provider: VerificationProvider,
    /// Secret with trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Observed state of a HelmChart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct HelmChartStatus {
    /// The last packaged chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The chart name last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_chart_name: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The source revision last used to package the chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_artifact_revision: Option<String>,
    /// The values files last used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_values_files: Vec<String>,
    /// The download link of the last chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Bucket

crate::flux_kind! {
    /// An S3-compatible bucket whose objects become an artifact.
    kind Bucket {
        group: "source.toolkit.fluxcd.io",
        version: "v1",
        plural: "buckets",
        singular: "bucket",
        short_names: [],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "Bucket is the Schema for the buckets API.",
        spec: BucketSpec,
        status: BucketStatus,
        status_subresource: true,
        printer_columns: [
            {"Endpoint", "string", ".spec.endpoint"},
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a Bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "STS configuration is only supported for the 'aws' and 'generic' Bucket providers", "rule": "self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)"},
    {"message": "'aws' is the only supported STS provider for the 'aws' Bucket provider", "rule": "self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'"},
    {"message": "'ldap' is the only supported STS provider for the 'generic' Bucket provider", "rule": "self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'"},
    {"message": "spec.sts.secretRef is not required for the 'aws' STS provider", "rule": "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)"},
    {"message": "spec.sts.certSecretRef is not required for the 'aws' STS provider", "rule": "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)"},
    {"message": "ServiceAccountName is not supported for the 'generic' Bucket provider", "rule": "self.provider != 'generic' || !has(self.serviceAccountName)"},
    {"message": "cannot set both .spec.secretRef and .spec.serviceAccountName", "rule": "!has(self.secretRef) || !has(self.serviceAccountName)"},
]))]
pub struct BucketSpec {
    /// Name of the bucket.
    pub bucket_name: String,
    /// Secret with a client certificate and CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// The object storage endpoint, e.g. `s3.amazonaws.com` or `minio.example:9000`.
    pub endpoint: String,
    /// Patterns to exclude from the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Use plain HTTP.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// How often to check for updates.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// Only objects whose keys start with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Storage provider: `generic` (S3 API), `aws`, `gcp` or `azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<BucketProvider>,
    /// Secret with proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Bucket region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secret with `accesskey`/`secretkey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for workload identity (not for `generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Security token service for temporary credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<BucketSTSSpec>,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Timeout of fetch operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TIMEOUT_PATTERN), extend("default" = "60s"))]
    pub timeout: Option<Duration>,
}

impl BucketSpec {
    /// The timeout, 60s when unset.
    pub fn timeout(&self) -> std::time::Duration {
        timeout_or_default(&self.timeout)
    }
}

/// Object storage providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BucketProvider {
    /// Any S3-compatible service.
    #[default]
    Generic,
    /// Amazon S3.
    Aws,
    /// Google Cloud Storage.
    Gcp,
    /// Azure Blob Storage.
    Azure,
}

/// A security token service for a Bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketSTSSpec {
    /// Secret with a client certificate and CA for the STS endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// The STS endpoint.
    #[schemars(regex(pattern = r"^(http|https)://.*$"))]
    pub endpoint: String,
    /// `aws` or `ldap`.
    pub provider: StsProvider,
    /// Secret with LDAP credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Security token service providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StsProvider {
    /// AWS STS.
    #[default]
    Aws,
    /// LDAP (MinIO).
    Ldap,
}

/// Observed state of a Bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct BucketStatus {
    /// The last stored artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The ignore patterns used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The download link of the last artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

// ---------------------------------------------------------------------------------------
// ExternalArtifact

crate::flux_kind! {
    /// An artifact produced by a controller outside Flux (or by an ArtifactGenerator), that
    /// Kustomizations and HelmReleases can consume like any source.
    kind ExternalArtifact {
        group: "source.toolkit.fluxcd.io",
        version: "v1",
        plural: "externalartifacts",
        singular: "externalartifact",
        short_names: ["ea"],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "ExternalArtifact is the Schema for the external artifacts API",
        spec: ExternalArtifactSpec,
        status: ExternalArtifactStatus,
        status_subresource: true,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
            {"Source", "string", ".spec.sourceRef.name"},
        ],
    }
}

/// Desired state of an ExternalArtifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactSpec {
    /// The object that produces the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<NamespacedObjectKindReference>,
}

/// Observed state of an ExternalArtifact, written by its producer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactStatus {
    /// The artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl_conditions!(
    GitRepositoryStatus,
    OCIRepositoryStatus,
    HelmRepositoryStatus,
    HelmChartStatus,
    BucketStatus,
    ExternalArtifactStatus
);

/// What every source kind offers its consumers.
pub trait Source {
    /// The artifact, when one is stored.
    fn artifact(&self) -> Option<&Artifact>;
}

macro_rules! impl_source {
    ($($kind:ty),*) => {$(
        impl Source for $kind {
            fn artifact(&self) -> Option<&Artifact> {
                self.status.as_ref()?.artifact.as_ref()
            }
        }
    )*};
}
impl_source!(
    GitRepository,
    OCIRepository,
    HelmRepository,
    HelmChart,
    Bucket,
    ExternalArtifact
);
