//! Waiting for Flux objects: ready at their latest generation (Flux's `isObjectReady`), or
//! done with a reconcile request.

use super::object::{condition, generation, observed_generation};
use gitops_apply::kstatus::{Status, compute};
use kube::api::{Api, DynamicObject};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How often the commands look at the object (Flux polls every 2 s; the API server answers
/// a get in well under a millisecond).
pub const POLL: Duration = Duration::from_millis(200);

/// Whether a Flux object is ready at its current generation: `Ok(true)` ready, `Ok(false)`
/// not yet, `Err` when it failed (Stalled, or kstatus says Failed) with the reason.
pub fn is_ready(obj: &Value) -> Result<bool, String> {
    if observed_generation(obj) < 1 {
        return Ok(false);
    }
    let Some(ready) = condition(obj, "Ready") else {
        return Ok(false);
    };
    let cond_gen = ready["observedGeneration"].as_i64().unwrap_or(0);
    if cond_gen != 0 && cond_gen != generation(obj) {
        return Ok(false);
    }
    if cond_gen == 0 && observed_generation(obj) != generation(obj) {
        return Ok(false);
    }
    match compute(obj) {
        (Status::Current, _) => Ok(true),
        (Status::InProgress, _) => Ok(false),
        (_, message) => Err(message),
    }
}

/// Polls until `check` gives `Some`, an error, or the timeout passes ("context deadline
/// exceeded", as Flux says).
pub async fn poll<T>(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
    mut check: impl FnMut(&Value) -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let obj = api.get(name).await?;
        let obj = super::object::to_value(&obj)?;
        if let Some(t) = check(&obj)? {
            return Ok(t);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("context deadline exceeded");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the object is ready at its latest generation and returns it.
pub async fn until_ready(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<Value> {
    until_ready_as(api, name, timeout, Readiness::Dynamic).await
}

/// How a command decides an applied object is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Flux's `isObjectReadyConditionFunc`: Ready at the latest generation ([`is_ready`]).
    Dynamic,
    /// Flux's `isStaticObjectReadyConditionFunc`, for objects without status of their own
    /// (an OCI HelmRepository, an Alert, a Provider): [`is_static_ready`].
    Static,
}

/// Flux's static readiness (`kstatus.Compute` of an object whose kind has no rules of its
/// own): Terminating and Stalled fail, an unobserved generation, `Reconciling` or a false
/// `Ready` are in progress, anything else (no status at all included) is current.
pub fn is_static_ready(obj: &Value) -> Result<bool, String> {
    if obj["metadata"]["deletionTimestamp"].is_string() {
        return Err("Resource scheduled for deletion".into());
    }
    if let Some(observed) = obj["status"]["observedGeneration"].as_i64()
        && observed != generation(obj)
    {
        return Ok(false);
    }
    let true_cond = |t: &str| condition(obj, t).filter(|c| c["status"] == "True");
    if true_cond("Reconciling").is_some() {
        return Ok(false);
    }
    if let Some(c) = true_cond("Stalled") {
        return Err(c["message"].as_str().unwrap_or_default().to_owned());
    }
    match condition(obj, "Ready") {
        Some(c) if c["status"] == "False" => Ok(false),
        _ => Ok(true),
    }
}

/// Waits until the object is ready as `readiness` says and returns it.
pub async fn until_ready_as(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
    readiness: Readiness,
) -> anyhow::Result<Value> {
    poll(api, name, timeout, |obj| {
        let r = match readiness {
            Readiness::Dynamic => is_ready(obj),
            Readiness::Static => is_static_ready(obj),
        };
        match r {
            Ok(true) => Ok(Some(obj.clone())),
            Ok(false) => Ok(None),
            Err(message) => Err(anyhow::anyhow!("{message}")),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn static_readiness() {
        assert_eq!(
            is_static_ready(&json!({"metadata": {"generation": 1}})),
            Ok(true)
        );
        assert_eq!(
            is_static_ready(
                &json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 1}})
            ),
            Ok(false)
        );
        assert_eq!(
            is_static_ready(&json!({"status": {"conditions": [
                {"type": "Stalled", "status": "True", "message": "broken"}
            ]}})),
            Err("broken".into())
        );
    }
}
