//! Flux's condition bookkeeping and the status writer.
//!
//! [`write_status`] takes the typed status a reconcile computed, compares it with the one
//! the object was read with, and patches only the difference (nothing when they are
//! equal), so a quiet reconcile costs no write and no watch event.
//!
//! The summary rules (kstatus-compatible, as Flux's controllers apply them):
//! - success: `Ready=True` with the success reason and message; `Reconciling` and `Stalled`
//!   removed;
//! - failure that may pass on retry: the failing condition (e.g. `FetchFailed=True`),
//!   `Ready=False` with its reason and message, `Reconciling=True` with reason
//!   `ProgressingWithRetry`;
//! - failure that needs a change to the object: `Stalled=True` and `Ready=False` with the
//!   same reason and message, `Reconciling` removed.

use crate::object::{FluxStatus, HasStatus};
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
    /// Starts from the conditions of a typed status (none when absent).
    pub fn of<S: FluxStatus>(status: Option<&S>, generation: Option<i64>) -> Self {
        ConditionSet {
            conditions: status.map(|s| s.conditions().clone()).unwrap_or_default(),
            generation,
        }
    }

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

/// The JSON merge patch (RFC 7386) that turns `old` into `new`: changed members, `null`
/// for removed ones; `None` when they are equal.
pub fn merge_patch(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = serde_json::Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => {
                        if let Some(p) = merge_patch(ov, nv) {
                            patch.insert(k.clone(), p);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Some(Value::Object(patch))
        }
        // a `null` in a merge patch means removal: an object replaces a scalar whole
        _ => Some(new.clone()),
    }
}

/// Why a status could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The status does not serialize (a bug in its type, never written half-done).
    #[error("status of {name} does not serialize: {source}")]
    Serialize {
        /// The object.
        name: String,
        /// The error.
        source: serde_json::Error,
    },
    /// The API server refused the patch.
    #[error("status update of {name} failed: {source}")]
    Api {
        /// The object.
        name: String,
        /// The error.
        source: kube::Error,
    },
}

/// Records what every reconcile records in a status: the reconcile request it handled
/// (`lastHandledReconcileAt`), and `observedGeneration` when the result is final for the
/// object's generation (success, or a failure that needs a change to the object).
pub fn record_reconcile<K: HasStatus>(obj: &K, status: &mut K::Status, final_for_generation: bool) {
    let pending = gitops_api::annotations::pending_reconcile_request(
        obj.meta(),
        status.last_handled_reconcile_at(),
    )
    .map(str::to_owned);
    if let Some(req) = pending {
        *status.last_handled_reconcile_at_mut() = Some(req);
    }
    if final_for_generation {
        *status.observed_generation_mut() = obj.meta().generation;
    }
}

/// Writes the status of one object during one reconcile: each [`StatusWriter::write`]
/// patches only the difference from what the object had when it was read or from the last
/// status written, and nothing at all when there is none.
pub struct StatusWriter<K: HasStatus> {
    api: Api<K>,
    name: String,
    /// The status as the server has it (as far as this writer knows).
    last: Value,
}

impl<K> StatusWriter<K>
where
    K: HasStatus + Clone + DeserializeOwned + std::fmt::Debug,
{
    /// A writer for `obj` (as read) through `api`.
    pub fn new(api: Api<K>, obj: &K) -> Self {
        StatusWriter {
            api,
            name: obj.meta().name.clone().unwrap_or_default(),
            last: obj
                .status()
                .and_then(|s| serde_json::to_value(s).ok())
                .unwrap_or(Value::Null),
        }
    }

    /// Writes `new` when it differs from the last known status; returns whether it wrote.
    pub async fn write(&mut self, new: &K::Status) -> Result<bool, StatusError> {
        let new_v = serde_json::to_value(new).map_err(|source| StatusError::Serialize {
            name: self.name.clone(),
            source,
        })?;
        let Some(diff) = merge_patch(&self.last, &new_v) else {
            return Ok(false);
        };
        self.api
            .patch_status(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": diff })),
            )
            .await
            .map_err(|source| StatusError::Api {
                name: self.name.clone(),
                source,
            })?;
        self.last = new_v;
        Ok(true)
    }
}

/// Writes `new` as the status of `obj` when it differs from the status `obj` was read
/// with (see [`StatusWriter`]). Returns whether anything was written.
pub async fn write_status<K>(api: &Api<K>, obj: &K, new: &K::Status) -> Result<bool, StatusError>
where
    K: HasStatus + Clone + DeserializeOwned + std::fmt::Debug,
{
    StatusWriter::new(api.clone(), obj).write(new).await
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
