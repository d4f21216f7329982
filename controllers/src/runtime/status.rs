//! Flux's condition bookkeeping and status patches.
//!
//! The summary rules (kstatus-compatible, as Flux's controllers apply them):
//! - success: `Ready=True` with the success reason and message; `Reconciling` and `Stalled`
//!   removed;
//! - failure that may pass on retry: the failing condition (e.g. `FetchFailed=True`),
//!   `Ready=False` with its reason and message, `Reconciling=True` with reason
//!   `ProgressingWithRetry`;
//! - failure that needs a change to the object: `Stalled=True` and `Ready=False` with the
//!   same reason and message, `Reconciling` removed.

use gitops_api::Condition;
use gitops_api::condition::{ConditionStatus, Conditions, reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The current time for conditions (whole seconds, as the API server stores it).
pub fn now() -> Time {
    let t = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// Conditions being updated for one reconcile of an object at a generation.
#[derive(Debug, Clone)]
pub struct ConditionSet {
    /// The conditions.
    pub conditions: Vec<Condition>,
    /// The object's `metadata.generation`.
    pub generation: Option<i64>,
}

impl ConditionSet {
    /// Starts from the conditions of a status (a JSON object with `conditions`).
    pub fn from_status(status: Option<&Value>, generation: Option<i64>) -> Self {
        let conditions = status
            .and_then(|s| s.get("conditions"))
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        ConditionSet {
            conditions,
            generation,
        }
    }

    /// Sets a condition (keeping its transition time when the status did not change).
    pub fn set(&mut self, type_: &str, status: bool, reason: &str, message: &str) {
        self.conditions.set_condition(
            type_,
            ConditionStatus::from(status),
            reason,
            message,
            self.generation,
            now(),
        );
    }

    /// Removes a condition.
    pub fn remove(&mut self, type_: &str) {
        self.conditions.remove_condition(type_);
    }

    /// `Reconciling=True` (work in progress) with `Ready=Unknown` when Ready is absent.
    pub fn mark_reconciling(&mut self, message: &str) {
        self.set(types::RECONCILING, true, reasons::PROGRESSING, message);
        if self.conditions.get_condition(types::READY).is_none() {
            self.conditions.set_condition(
                types::READY,
                ConditionStatus::Unknown,
                reasons::PROGRESSING,
                message,
                self.generation,
                now(),
            );
        }
    }

    /// Success: `Ready=True`; `Reconciling` and `Stalled` removed.
    pub fn mark_ready(&mut self, reason: &str, message: &str) {
        self.set(types::READY, true, reason, message);
        self.remove(types::RECONCILING);
        self.remove(types::STALLED);
    }

    /// A failure recorded in `condition` (e.g. `FetchFailed`) and summarised in Ready.
    /// `stalled` failures need a change to the object; the others are retried.
    pub fn mark_failure(
        &mut self,
        condition: Option<&str>,
        reason: &str,
        message: &str,
        stalled: bool,
    ) {
        if let Some(c) = condition {
            self.set(c, true, reason, message);
        }
        self.set(types::READY, false, reason, message);
        if stalled {
            self.set(types::STALLED, true, reason, message);
            self.remove(types::RECONCILING);
        } else {
            self.remove(types::STALLED);
            self.set(
                types::RECONCILING,
                true,
                reasons::PROGRESSING_WITH_RETRY,
                &format!("retrying: {message}"),
            );
        }
    }

    /// The `Ready` status as `True`/`False`/`Unknown`.
    pub fn ready_status(&self) -> &'static str {
        self.conditions
            .get_condition(types::READY)
            .map_or("Unknown", |c| c.status.as_str())
    }
}

/// Patches `.status` of an object with a JSON merge patch of `status` (a JSON object).
pub async fn patch_status<K>(api: &Api<K>, name: &str, status: Value) -> kube::Result<K>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_then_success_follows_flux_rules() {
        let mut c = ConditionSet::from_status(None, Some(3));
        c.mark_reconciling("building artifact");
        assert_eq!(c.ready_status(), "Unknown");
        c.mark_failure(
            Some(types::FETCH_FAILED),
            reasons::GIT_OPERATION_FAILED,
            "branch 'x' not found",
            false,
        );
        assert_eq!(c.ready_status(), "False");
        let r = c.conditions.get_condition(types::RECONCILING).unwrap();
        assert_eq!(r.reason, reasons::PROGRESSING_WITH_RETRY);
        assert!(c.conditions.get_condition(types::STALLED).is_none());
        c.mark_failure(
            Some(types::FETCH_FAILED),
            reasons::URL_INVALID,
            "bad URL",
            true,
        );
        assert!(c.conditions.is_true(types::STALLED));
        assert!(c.conditions.get_condition(types::RECONCILING).is_none());
        c.mark_ready(
            reasons::SUCCEEDED,
            "stored artifact for revision 'main@sha1:x'",
        );
        assert_eq!(c.ready_status(), "True");
        assert!(c.conditions.get_condition(types::STALLED).is_none());
        assert_eq!(
            c.conditions
                .get_condition(types::READY)
                .unwrap()
                .observed_generation,
            Some(3)
        );
        let status = serde_json::json!({"conditions": c.conditions});
        let again = ConditionSet::from_status(Some(&status), Some(4));
        assert_eq!(again.conditions.len(), c.conditions.len());
    }
}
