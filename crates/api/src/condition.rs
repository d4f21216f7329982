//! Status conditions (`metav1.Condition`) and the condition types and reasons Flux uses.
//!
//! Flux's conditions are kstatus-compatible: `Ready` summarises the object, `Reconciling`
//! (True while work is in progress) and `Stalled` (True when progress stopped on an error
//! that needs a change to resolve) have "abnormal-true" polarity and are removed when they
//! no longer hold.

use crate::schema::DateTime;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One aspect of an object's observed state, as in Kubernetes' `metav1.Condition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Last time the condition changed status.
    #[schemars(with = "DateTime")]
    pub last_transition_time: Time,
    /// Human-readable details of the last transition; may be empty.
    #[schemars(length(max = 32768))]
    pub message: String,
    /// The `.metadata.generation` the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// CamelCase reason for the last transition; never empty.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// The condition type, CamelCase or `foo.example.com/CamelCase`.
    #[schemars(
        length(max = 316),
        regex(
            pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
        )
    )]
    #[serde(rename = "type")]
    pub type_: String,
}

/// `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// It is not known whether the condition holds.
    Unknown,
}

impl ConditionStatus {
    /// `"True"`, `"False"` or `"Unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

/// Condition types shared by all kinds.
pub mod types {
    /// The object is ready: summarises the other conditions.
    pub const READY: &str = "Ready";
    /// The controller is working on the object (kstatus: in progress).
    pub const RECONCILING: &str = "Reconciling";
    /// Progress stopped on an error that needs a change to resolve (kstatus: failed).
    pub const STALLED: &str = "Stalled";
    /// The applied objects are healthy (Kustomization).
    pub const HEALTHY: &str = "Healthy";
    /// The source's artifact is stored and served (sources).
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// The stored artifact does not match the desired state yet (sources).
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// Fetching from the upstream source failed (sources).
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Building the artifact failed (HelmChart, OCIRepository, Bucket).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// The source's signature was verified (sources).
    pub const SOURCE_VERIFIED: &str = "SourceVerified";
    /// An included source's artifact is not available (GitRepository).
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
    /// Writing to the artifact storage failed (sources).
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// The Helm release was installed or upgraded (HelmRelease).
    pub const RELEASED: &str = "Released";
    /// The release's tests passed (HelmRelease).
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// The release was remediated after a failure (HelmRelease).
    pub const REMEDIATED: &str = "Remediated";
}

/// Condition reasons Flux's controllers write.
pub mod reasons {
    /// The reconciliation succeeded.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The reconciliation failed.
    pub const FAILED: &str = "Failed";
    /// Work is in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Work is in progress after a failed attempt.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The object references something invalid or missing.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// Kustomization/HelmRelease: applied successfully.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// Kustomization/HelmRelease: apply failed.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// Kustomization: objects did not become healthy in time.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Kustomization: the source artifact could not be fetched or verified.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Kustomization: the kustomize build failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Kustomization: pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Sources: the URL is not valid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Sources: authentication with the upstream failed.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Sources: verification failed.
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// Sources: a Git operation succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// Sources: a Git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Sources: packaging the artifact failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// Sources: the stored artifact is already up to date.
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// Sources: a new revision was detected.
    pub const NEW_REVISION: &str = "NewRevision";
    /// OCIRepository: pulling the artifact failed.
    pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// OCIRepository: a layer operation failed.
    pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// Bucket: a bucket operation succeeded.
    pub const BUCKET_OPERATION_SUCCEEDED: &str = "BucketOperationSucceeded";
    /// Bucket: a bucket operation failed.
    pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
    /// HelmRepository: fetching the index failed.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// HelmRepository: the index was fetched.
    pub const INDEXATION_SUCCEEDED: &str = "IndexationSucceeded";
    /// HelmChart: pulling the chart failed.
    pub const CHART_PULL_FAILED: &str = "ChartPullFailed";
    /// HelmChart: the chart was pulled.
    pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
    /// HelmChart: packaging the chart failed.
    pub const CHART_PACKAGE_FAILED: &str = "ChartPackageFailed";
    /// HelmChart: the chart was packaged.
    pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
    /// HelmRelease: install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// HelmRelease: install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// HelmRelease: upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// HelmRelease: upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// HelmRelease: tests succeeded.
    pub const TEST_SUCCEEDED: &str = "TestSucceeded";
    /// HelmRelease: tests failed.
    pub const TEST_FAILED: &str = "TestFailed";
    /// HelmRelease: rollback succeeded.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// HelmRelease: rollback failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// HelmRelease: uninstall succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// HelmRelease: uninstall failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// HelmRelease: initialising the Helm action failed.
    pub const INIT_FAILED: &str = "InitFailed";
    /// A cross-namespace reference is not allowed (`--no-cross-namespace-refs`,
    /// `accessFrom`).
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// A failure without a more specific reason (`metav1.StatusFailure`).
    pub const FAILURE: &str = "Failure";
    /// ImageRepository/ImagePolicy: `spec.image` is not an image name.
    pub const IMAGE_URL_INVALID: &str = "ImageURLInvalid";
    /// ImageRepository: listing tags failed.
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// ImagePolicy: `digestReflectionPolicy: Always` without `interval`.
    pub const INTERVAL_NOT_CONFIGURED: &str = "IntervalNotConfigured";
    /// ImagePolicy: the policy or tag filter is invalid.
    pub const INVALID_POLICY: &str = "InvalidPolicy";
    /// ImageUpdateAutomation: the source reference or `spec.git` is invalid.
    pub const INVALID_SOURCE_CONFIGURATION: &str = "InvalidSourceConfiguration";
    /// ImageUpdateAutomation: reading the source's settings failed.
    pub const SOURCE_MANAGER_FAILED: &str = "SourceManagerFailed";
    /// ImageUpdateAutomation: `spec.policySelector` is not a label selector.
    pub const INVALID_POLICY_SELECTOR: &str = "InvalidPolicySelector";
    /// ImageUpdateAutomation: rewriting files failed.
    pub const UPDATE_FAILED: &str = "UpdateFailed";
    /// ImageUpdateAutomation: the message template uses a removed field.
    pub const REMOVED_TEMPLATE_FIELD: &str = "RemovedTemplateField";
}

/// Reading and updating a list of conditions with Kubernetes' rules: one condition per
/// type, and `lastTransitionTime` only moves when the status changes.
pub trait Conditions {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The conditions, mutably.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;

    /// The condition of a type, if present.
    fn get_condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions().iter().find(|c| c.type_ == type_)
    }

    /// Whether the condition of a type is present with status True.
    fn is_true(&self, type_: &str) -> bool {
        self.get_condition(type_)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }

    /// Whether the condition of a type is present with status False.
    fn is_false(&self, type_: &str) -> bool {
        self.get_condition(type_)
            .is_some_and(|c| c.status == ConditionStatus::False)
    }

    /// Whether `Ready` is True and was set for `generation`.
    fn is_ready_at(&self, generation: Option<i64>) -> bool {
        self.get_condition(types::READY).is_some_and(|c| {
            c.status == ConditionStatus::True
                && (generation.is_none() || c.observed_generation == generation)
        })
    }

    /// Sets a condition, keeping `lastTransitionTime` when the status did not change.
    /// `now` is the transition time to use when it did.
    fn set_condition(
        &mut self,
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: &str,
        generation: Option<i64>,
        now: Time,
    ) {
        let conds = self.conditions_mut();
        let message = truncate_message(message);
        match conds.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = now;
                }
                c.status = status;
                c.reason = reason.to_owned();
                c.message = message;
                c.observed_generation = generation;
            }
            None => conds.push(Condition {
                last_transition_time: now,
                message,
                observed_generation: generation,
                reason: reason.to_owned(),
                status,
                type_: type_.to_owned(),
            }),
        }
    }

    /// Removes the condition of a type.
    fn remove_condition(&mut self, type_: &str) {
        self.conditions_mut().retain(|c| c.type_ != type_);
    }
}

impl Conditions for Vec<Condition> {
    fn conditions(&self) -> &[Condition] {
        self
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        self
    }
}

/// The API server refuses condition messages over 32768 bytes; cut at a char boundary.
fn truncate_message(message: &str) -> String {
    const MAX: usize = 32768;
    if message.len() <= MAX {
        return message.to_owned();
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).unwrap())
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut c: Vec<Condition> = Vec::new();
        c.set_condition(
            types::READY,
            ConditionStatus::False,
            reasons::PROGRESSING,
            "working",
            Some(1),
            t(10),
        );
        c.set_condition(
            types::READY,
            ConditionStatus::False,
            reasons::FAILED,
            "broke",
            Some(2),
            t(20),
        );
        let r = c.get_condition(types::READY).unwrap();
        assert_eq!(r.last_transition_time, t(10));
        assert_eq!(r.reason, "Failed");
        assert_eq!(r.observed_generation, Some(2));
        c.set_condition(
            types::READY,
            ConditionStatus::True,
            reasons::SUCCEEDED,
            "ok",
            Some(2),
            t(30),
        );
        assert_eq!(
            c.get_condition(types::READY).unwrap().last_transition_time,
            t(30)
        );
        assert!(c.is_ready_at(Some(2)));
        assert!(!c.is_ready_at(Some(3)));
        assert_eq!(c.len(), 1);
        c.remove_condition(types::READY);
        assert!(c.is_empty());
    }

    #[test]
    fn serialises_like_kubernetes() {
        let mut c: Vec<Condition> = Vec::new();
        c.set_condition(
            types::READY,
            true.into(),
            reasons::SUCCEEDED,
            "stored artifact",
            Some(1),
            t(0),
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{
                "lastTransitionTime": "1970-01-01T00:00:00Z",
                "message": "stored artifact",
                "observedGeneration": 1,
                "reason": "Succeeded",
                "status": "True",
                "type": "Ready"
            }])
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(20000);
        let cut = truncate_message(&long);
        assert!(cut.len() <= 32768);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
