//! Flux's event format (`event.toolkit.fluxcd.io/v1beta1` `Event`): what every controller
//! posts to the notification controller's event endpoint, and what alerts are made of.

use k8s_openapi::api::core::v1::ObjectReference;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group of events; metadata keys under `event.toolkit.fluxcd.io/` come from the
/// involved object's annotations.
pub const GROUP: &str = "event.toolkit.fluxcd.io";

/// `metadata` key (after the object's group) of the source revision.
pub const META_REVISION: &str = "revision";
/// `metadata` key of the origin revision (of an OCI artifact's source).
pub const META_ORIGIN_REVISION: &str = "originRevision";
/// `metadata` key of the artifact digest (dropped by the event server).
pub const META_DIGEST: &str = "digest";
/// `metadata` key of the deprecated artifact checksum (dropped by the event server).
pub const META_CHECKSUM: &str = "checksum";
/// `metadata` key of a token identifying the event's payload (for rate limiting; never
/// forwarded to providers).
pub const META_TOKEN: &str = "token";
/// `metadata` key of a Git commit hash.
pub const META_COMMIT: &str = "commit";
/// `metadata` key marking a commit status update (value [`META_COMMIT_STATUS_UPDATE`]).
pub const META_COMMIT_STATUS: &str = "commit_status";
/// The value of [`META_COMMIT_STATUS`] for a commit status update.
pub const META_COMMIT_STATUS_UPDATE: &str = "update";
/// `metadata` key of a change request (pull request) identifier.
pub const META_CHANGE_REQUEST: &str = "change_request";

/// `trace`, `info` or `error`.
pub const SEVERITY_TRACE: &str = "trace";
/// An informational event (Kubernetes `Normal`).
pub const SEVERITY_INFO: &str = "info";
/// An error event (Kubernetes `Warning`).
pub const SEVERITY_ERROR: &str = "error";

/// A report of something a controller did or failed to do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `trace`, `info` or `error`.
    pub severity: String,
    /// When it was recorded (RFC 3339).
    pub timestamp: String,
    /// What happened, for people.
    pub message: String,
    /// Why, for machines (`ReconciliationSucceeded`, `HealthCheckFailed` …).
    pub reason: String,
    /// Keys such as `kustomize.toolkit.fluxcd.io/revision`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The controller that sent it (`kustomize-controller`).
    pub reporting_controller: String,
    /// Its instance (the host name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}

impl Event {
    /// The API group of the involved object (`kustomize.toolkit.fluxcd.io`), empty for core.
    pub fn object_group(&self) -> &str {
        self.involved_object
            .api_version
            .as_deref()
            .and_then(|v| v.split_once('/').map(|(g, _)| g))
            .unwrap_or("")
    }

    /// A metadata value under the involved object's group (`<group>/<key>`).
    pub fn object_meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(&format!("{}/{key}", self.object_group()))
            .map(String::as_str)
    }

    /// The revision the event is about: `commit`, else `originRevision`, else `revision`
    /// (keys without a group, as providers see them after the event server's processing).
    pub fn revision(&self) -> Option<&str> {
        [META_COMMIT, META_ORIGIN_REVISION, META_REVISION]
            .iter()
            .find_map(|k| self.metadata.get(*k))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_fluxs_json() {
        let json = serde_json::json!({
            "involvedObject": {"kind": "Kustomization", "namespace": "flux-system",
                               "name": "apps", "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
            "severity": "error", "timestamp": "2026-12-04T10:00:00Z",
            "message": "Health check failed", "reason": "HealthCheckFailed",
            "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc"},
            "reportingController": "kustomize-controller",
        });
        let e: Event = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(e.object_group(), "kustomize.toolkit.fluxcd.io");
        assert_eq!(e.object_meta("revision"), Some("main@sha1:abc"));
        assert_eq!(serde_json::to_value(&e).unwrap(), json);
    }
}
