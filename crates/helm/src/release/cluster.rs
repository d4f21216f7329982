//! What the release actions need from a cluster, as a trait the caller implements (the
//! helm-controller does it with `gitops-apply`; an embedding program may use any client).
//! Objects are Kubernetes JSON (`serde_json::Value`).

use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// Identifies an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of an object (its `apiVersion`, `kind`, `metadata.namespace`, `.name`).
    pub fn of(obj: &Value) -> ObjectKey {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        ObjectKey {
            api_version: s(&obj["apiVersion"]),
            kind: s(&obj["kind"]),
            namespace: s(&obj["metadata"]["namespace"]),
            name: s(&obj["metadata"]["name"]),
        }
    }

    /// A core/v1 Secret.
    pub fn secret(namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    /// `Kind/namespace/name` (or `Kind/name`), as Flux prints objects.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// A failed cluster call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The object exists already (create).
    #[error("{0}")]
    AlreadyExists(String),
    /// The object or its kind does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A write lost a race (update with a stale resourceVersion).
    #[error("{0}")]
    Conflict(String),
    /// Waiting gave up.
    #[error("{0}")]
    Timeout(String),
    /// Anything else, as the server or client said it.
    #[error("{0}")]
    Other(String),
}

/// How deleted objects' dependants go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// In the background (Helm's default).
    #[default]
    Background,
    /// Before the owner.
    Foreground,
    /// Left behind.
    Orphan,
}

/// Options of [`Cluster::apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyParams {
    /// Delete and recreate objects whose immutable fields changed (Helm's `--force`).
    pub force_replace: bool,
}

/// A cluster the release actions run against.
pub trait Cluster: Sync {
    /// Whether a kind is namespaced; `None` when the cluster does not serve it.
    fn namespaced(
        &self,
        api_version: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Option<bool>, ClusterError>> + Send;

    /// Reads an object; `None` when absent.
    fn get(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Option<Value>, ClusterError>> + Send;

    /// Lists the objects of a kind in a namespace matching a label selector (`a=b,c=d`).
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        label_selector: &str,
    ) -> impl Future<Output = Result<Vec<Value>, ClusterError>> + Send;

    /// Creates an object ([`ClusterError::AlreadyExists`] when it exists).
    fn create(&self, obj: &Value) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Replaces an object (no `resourceVersion`: unconditional).
    fn update(&self, obj: &Value) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Deletes an object; `false` when it was not there.
    fn delete(
        &self,
        key: &ObjectKey,
        propagation: Propagation,
    ) -> impl Future<Output = Result<bool, ClusterError>> + Send;

    /// Server-side applies objects (forcing conflicts, as Flux does), CRDs and Namespaces
    /// first. Every object has its namespace set when its kind is namespaced.
    fn apply(
        &self,
        objects: Vec<Value>,
        params: &ApplyParams,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Waits until the objects are ready (kstatus: `Current`); Jobs until complete when
    /// `jobs`; fails early when one fails.
    fn wait_ready(
        &self,
        objects: &[ObjectKey],
        timeout: Duration,
        jobs: bool,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Waits until the objects are gone.
    fn wait_deleted(
        &self,
        objects: &[ObjectKey],
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;
}
