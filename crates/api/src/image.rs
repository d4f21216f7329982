//! `image.toolkit.fluxcd.io/v1`: ImageRepository, ImagePolicy and ImageUpdateAutomation.

use crate::condition::Condition;
use crate::duration::{Duration, INTERVAL_PATTERN, TIMEOUT_PATTERN};
use crate::meta::{AccessFrom, LocalObjectReference, NamespacedObjectReference, is_false};
use crate::schema::{DateTime, GoInt};
use crate::source::{CloudProvider, GitRepositoryRef, impl_conditions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group of the image kinds.
pub const GROUP: &str = "image.toolkit.fluxcd.io";

/// Tags excluded from scans unless `exclusionList` says otherwise: cosign signatures.
pub const DEFAULT_EXCLUSION_LIST: [&str; 1] = [r"^.*\.sig$"];

crate::flux_kind! {
    /// An image repository whose tags are scanned.
    kind ImageRepository {
        group: "image.toolkit.fluxcd.io",
        version: "v1",
        plural: "imagerepositories",
        singular: "imagerepository",
        short_names: ["imgrepo", "imagerepo"],
        categories: ["all", "fluxcd", "fluxcd-images"],
        description: "ImageRepository is the Schema for the imagerepositories API",
        spec: ImageRepositorySpec,
        status: ImageRepositoryStatus,
        status_subresource: true,
        printer_columns: [
            {"Image", "string", ".spec.image"},
            {"Tags", "string", ".status.lastScanResult.tagCount"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
            {"Last scan", "string", ".status.lastScanResult.scanTime", 1},
            {"Age", "date", ".metadata.creationTimestamp"},
        ],
    }
}

/// Desired state of an ImageRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositorySpec {
    /// Namespaces whose ImagePolicies may use this repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,
    /// Secret with a client certificate and CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Regular expressions of tags to skip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 25), extend("default" = DEFAULT_EXCLUSION_LIST))]
    pub exclusion_list: Vec<String>,
    /// The image, e.g. `ghcr.io/stefanprodan/podinfo`.
    pub image: String,
    /// Allow plain HTTP registries.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// How often to scan.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// Authentication provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
    /// Secret with proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret of type `kubernetes.io/dockerconfigjson` with registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount whose image pull secrets are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub service_account_name: Option<String>,
    /// Stop scanning.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Timeout of a scan; `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TIMEOUT_PATTERN))]
    pub timeout: Option<Duration>,
}

/// Observed state of an ImageRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ImageRepositoryStatus {
    /// The image name as the registry sees it, e.g. `index.docker.io/library/alpine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_image_name: Option<String>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The outcome of the last scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scan_result: Option<ScanResult>,
    /// The exclusion list used in the last scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_exclusion_list: Vec<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The outcome of a tag scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// The most recent tags (up to 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_tags: Vec<String>,
    /// Digest of the tag list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// When the scan ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime>")]
    pub scan_time: Option<Time>,
    /// Number of tags found.
    #[schemars(with = "GoInt")]
    pub tag_count: i64,
}

crate::flux_kind! {
    /// Picks the latest image tag of an ImageRepository by a policy.
    kind ImagePolicy {
        group: "image.toolkit.fluxcd.io",
        version: "v1",
        plural: "imagepolicies",
        singular: "imagepolicy",
        short_names: ["imgpol", "imagepol"],
        categories: ["all", "fluxcd", "fluxcd-images"],
        description: "ImagePolicy is the Schema for the imagepolicies API",
        spec: ImagePolicySpec,
        status: ImagePolicyStatus,
        status_subresource: true,
        printer_columns: [
            {"Image", "string", ".status.latestRef.name"},
            {"Tag", "string", ".status.latestRef.tag"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
            {"Age", "date", ".metadata.creationTimestamp"},
        ],
    }
}

/// Desired state of an ImagePolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'",
     "rule": "!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')"},
    {"message": "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
     "rule": "has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'"},
]))]
pub struct ImagePolicySpec {
    /// Whether to look up the digest of the selected tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Never"))]
    pub digest_reflection_policy: Option<DigestReflectionPolicy>,
    /// Filter (and transform) tags before the policy applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<TagFilter>,
    /// The ImageRepository whose tags are considered.
    pub image_repository_ref: NamespacedObjectReference,
    /// How often to look up the digest (with `digestReflectionPolicy: Always`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Option<Duration>,
    /// How to order tags.
    pub policy: ImagePolicyChoice,
    /// Stop reconciling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// When an ImagePolicy looks up digests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DigestReflectionPolicy {
    /// On every interval.
    Always,
    /// When the tag changes.
    IfNotPresent,
    /// Never.
    #[default]
    Never,
}

/// Filters tags by a regular expression, optionally replacing them with `extract`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TagFilter {
    /// Replacement with `$name` references to the pattern's groups, used for ordering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<String>,
    /// Regular expression tags must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// One of the ordering policies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImagePolicyChoice {
    /// Alphabetical order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphabetical: Option<OrderPolicy>,
    /// Numerical order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical: Option<OrderPolicy>,
    /// Highest version in a semver range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<SemVerPolicy>,
}

/// An ordering direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPolicy {
    /// `asc` (the last is latest, default) or `desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "asc"))]
    pub order: Option<SortOrder>,
}

/// Sort orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// A semver range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SemVerPolicy {
    /// The range, e.g. `>=1.0.0 <2.0.0`.
    pub range: String,
}

/// Observed state of an ImagePolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ImagePolicyStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The selected image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ref: Option<ImageRef>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The previously selected image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_previous_ref: Option<ImageRef>,
}

/// An image reference: name, tag and optional digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageRef {
    /// Digest of the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Image name.
    pub name: String,
    /// Tag.
    pub tag: String,
}

crate::flux_kind! {
    /// Writes the images selected by ImagePolicies into files of a Git repository and pushes
    /// the commit.
    kind ImageUpdateAutomation {
        group: "image.toolkit.fluxcd.io",
        version: "v1",
        plural: "imageupdateautomations",
        singular: "imageupdateautomation",
        short_names: ["iua", "imgupd", "imgauto"],
        categories: ["all", "fluxcd", "fluxcd-images"],
        description: "ImageUpdateAutomation is the Schema for the imageupdateautomations API",
        spec: ImageUpdateAutomationSpec,
        status: ImageUpdateAutomationStatus,
        status_subresource: true,
        printer_columns: [
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
            {"Last run", "string", ".status.lastAutomationRunTime", 1},
            {"Age", "date", ".metadata.creationTimestamp"},
        ],
    }
}

/// Desired state of an ImageUpdateAutomation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    /// Checkout, commit and push settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSpec>,
    /// How often to run.
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Duration,
    /// ImagePolicies to use; all in the namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_selector: Option<LabelSelector>,
    /// The GitRepository to update.
    pub source_ref: AutomationSourceReference,
    /// Stop running.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// How to update files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"strategy": "Setters"}))]
    pub update: Option<UpdateStrategy>,
}

/// The Git repository an automation updates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutomationSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Always `GitRepository`.
    #[serde(default)]
    #[schemars(extend("default" = "GitRepository"))]
    pub kind: AutomationSourceKind,
    /// Name of the GitRepository.
    pub name: String,
    /// Namespace of the GitRepository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The kinds an automation can update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AutomationSourceKind {
    /// A GitRepository.
    #[default]
    GitRepository,
}

/// Checkout, commit and push settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitSpec {
    /// The reference to check out; the GitRepository's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<GitCheckoutSpec>,
    /// How to write commits.
    pub commit: CommitSpec,
    /// Where to push; the checked-out branch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushSpec>,
}

/// The reference to check out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitCheckoutSpec {
    /// The Git reference.
    #[serde(rename = "ref")]
    pub reference: GitRepositoryRef,
}

/// How to write commits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    /// Commit author.
    pub author: CommitUser,
    /// Go template of the commit message (a Go `string` with `omitempty`).
    #[serde(default, skip_serializing_if = "crate::meta::is_none_or_empty")]
    pub message_template: Option<String>,
    /// Extra values for the message template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_values: Option<BTreeMap<String, String>>,
    /// Key to sign commits with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SigningKey>,
}

/// A commit author.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommitUser {
    /// Email.
    pub email: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A commit signing key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// Secret with the key (`git.asc` for GPG, `identity` for SSH) and optional passphrase.
    pub secret_ref: LocalObjectReference,
    /// `gpg` (default) or `ssh`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<SigningKeyType>,
}

/// Signing key types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningKeyType {
    /// OpenPGP.
    #[default]
    Gpg,
    /// SSH.
    Ssh,
}

/// Where to push.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PushSpec {
    /// Branch to push to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Push options (`git push -o`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
    /// Refspec to push, e.g. `refs/heads/main:refs/heads/auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refspec: Option<String>,
}

/// How files are updated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateStrategy {
    /// Path in the repository to update; the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `Setters`: rewrite fields marked with `$imagepolicy` comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Setters"))]
    pub strategy: Option<UpdateStrategyName>,
}

/// Update strategies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UpdateStrategyName {
    /// Setter markers.
    #[default]
    Setters,
}

/// A Kubernetes label selector (`metav1.LabelSelector`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-map-type" = "atomic"))]
pub struct LabelSelector {
    /// Requirements, ANDed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub match_expressions: Vec<LabelSelectorRequirement>,
    /// Labels that must match exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// A label selector requirement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub values: Vec<String>,
}

/// Observed state of an ImageUpdateAutomation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ImageUpdateAutomationStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When the automation last ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime>")]
    pub last_automation_run_time: Option<Time>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The last commit pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_commit: Option<String>,
    /// When the last commit was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DateTime>")]
    pub last_push_time: Option<Time>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The policies used in the last run and their selected images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_policies: Option<BTreeMap<String, ImageRef>>,
    /// The source revision of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_revision: Option<String>,
}

impl_conditions!(
    ImageRepositoryStatus,
    ImagePolicyStatus,
    ImageUpdateAutomationStatus
);
