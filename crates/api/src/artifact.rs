//! The `Artifact` a source publishes in its status.

use crate::revision::{Digest, Revision, RevisionError};
use crate::schema::DateTime;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The output of a source reconciliation: a file in the controller's storage, served over
/// HTTP at `url`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Digest of the file, `<algorithm>:<checksum>`.
    #[schemars(regex(pattern = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"))]
    pub digest: String,
    /// When the artifact last changed.
    #[schemars(with = "DateTime")]
    pub last_update_time: Time,
    /// Upstream metadata, e.g. OCI annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Path of the file relative to the storage root, `<kind>/<namespace>/<name>/<file>`.
    pub path: String,
    /// Source revision, e.g. `main@sha1:<hex>`, `sha256:<hex>` or a chart version.
    pub revision: String,
    /// Size of the file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// HTTP address of the file.
    pub url: String,
}

impl Artifact {
    /// The parsed digest.
    pub fn parsed_digest(&self) -> Result<Digest, RevisionError> {
        Digest::parse(&self.digest)
    }

    /// The parsed revision (for Git, OCI and Bucket sources; HelmChart revisions are chart
    /// versions and do not parse).
    pub fn parsed_revision(&self) -> Result<Revision, RevisionError> {
        Revision::parse(&self.revision)
    }

    /// Whether this artifact has the same revision and digest as another.
    pub fn same_content(&self, other: &Artifact) -> bool {
        self.revision == other.revision && self.digest == other.digest
    }
}
