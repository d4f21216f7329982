//! `source.extensions.fluxcd.io/v1beta1`: the ArtifactGenerator of Flux's source-watcher,
//! which composes ExternalArtifacts from the artifacts of other sources (copy operations
//! with globs, `@alias` paths, merge and extract strategies) or splits one source into
//! several.

use crate::condition::Condition;
use crate::source::impl_conditions;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The label naming the generator on the ExternalArtifacts it writes (`<namespace>/<name>`
/// is kept in the annotation-free form `<name>`, as source-watcher does).
pub const GENERATOR_LABEL: &str = "source.extensions.fluxcd.io/generator";
/// The annotation that disables reconciliation (`disabled`, case-insensitive).
pub const RECONCILE_ANNOTATION: &str = "source.extensions.fluxcd.io/reconcile";
/// The annotation of an ExternalArtifact recording the `originRevision`.
pub const ORIGIN_REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";
/// The finalizer of ArtifactGenerators.
pub const FINALIZER: &str = "source.extensions.fluxcd.io/finalizer";

crate::flux_kind! {
    /// Composes ExternalArtifacts from other sources' artifacts (Flux source-watcher).
    kind ArtifactGenerator {
        group: "source.extensions.fluxcd.io",
        version: "v1beta1",
        plural: "artifactgenerators",
        singular: "artifactgenerator",
        short_names: ["ag"],
        categories: ["all", "fluxcd", "fluxcd-sources"],
        description: "ArtifactGenerator is the Schema for the artifactgenerators API.",
        spec: ArtifactGeneratorSpec,
        status: ArtifactGeneratorStatus,
        status_subresource: true,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

impl ArtifactGenerator {
    /// Whether `source.extensions.fluxcd.io/reconcile: disabled` suspends it.
    pub fn is_disabled(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(RECONCILE_ANNOTATION))
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    }
}

/// Desired state of an ArtifactGenerator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "artifact names must be valid Kubernetes object names when pathPattern is not set",
     "rule": "has(self.pathPattern) && size(self.pathPattern) > 0 || self.artifacts.all(a, a.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))"}
]))]
pub struct ArtifactGeneratorSpec {
    /// Labels and annotations added to every generated ExternalArtifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// The sources the artifacts are made from.
    #[schemars(length(min = 1, max = 1000))]
    pub sources: Vec<SourceReference>,
    /// `@<alias>/<pattern>`: one set of artifacts per directory of the source matching
    /// the pattern, its `{captures}` usable in the artifacts' fields.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(max = 1024),
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$")
    )]
    pub path_pattern: String,
    /// The ExternalArtifacts to generate.
    #[serde(rename = "artifacts")]
    #[schemars(length(min = 1, max = 1000))]
    pub output_artifacts: Vec<OutputArtifact>,
}

/// Labels and annotations for the generated objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonMetadata {
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A source of the generator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceReference {
    /// The name copy operations use (`@alias/...`).
    #[schemars(length(max = 63), regex(pattern = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"))]
    pub alias: String,
    /// The source's name.
    #[schemars(length(max = 253), regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: String,
    /// The source's namespace (the generator's when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: String,
    /// The source's kind.
    #[schemars(extend("enum" = ["Bucket", "GitRepository", "OCIRepository", "HelmChart", "ExternalArtifact"]))]
    pub kind: String,
}

/// One generated ExternalArtifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifact {
    /// The ExternalArtifact's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// `@alias`: the artifact takes that source's revision (else `latest@<digest>`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(max = 64),
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$")
    )]
    pub revision: String,
    /// `@alias`: that source's revision recorded as the artifact's origin revision.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(max = 64),
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$")
    )]
    pub origin_revision: String,
    /// The copy operations, applied in order.
    #[schemars(length(min = 1))]
    pub copy: Vec<CopyOperation>,
}

/// One copy operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyOperation {
    /// `@<alias>/<glob-pattern>`.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$")
    )]
    pub from: String,
    /// `@artifact/<path>`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^@(artifact)/(.*)$"))]
    pub to: String,
    /// Glob patterns of files not to copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub exclude: Vec<String>,
    /// `Overwrite` (default), `Merge` (YAML) or `Extract` (tarballs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(extend("enum" = ["Overwrite", "Merge", "Extract"]))]
    pub strategy: String,
}

/// Observed state of an ArtifactGenerator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generated ExternalArtifacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<ExternalArtifactReference>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// A digest of the sources' revisions the artifacts were last made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sources_digest: Option<String>,
    /// Not in source-watcher's schema (its status has no `observedGeneration`): kept in
    /// memory for the controller runtime, never written.
    #[serde(skip)]
    #[schemars(skip)]
    pub observed_generation: Option<i64>,
}

/// A generated ExternalArtifact in the inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactReference {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The artifact's digest.
    pub digest: String,
    /// The artifact's file name.
    pub filename: String,
}

impl_conditions!(ArtifactGeneratorStatus);
