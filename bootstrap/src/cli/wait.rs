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
    poll(api, name, timeout, |obj| match is_ready(obj) {
        Ok(true) => Ok(Some(obj.clone())),
        Ok(false) => Ok(None),
        Err(message) => Err(anyhow::anyhow!("{message}")),
    })
    .await
}

/// Whether an object without conditions of its own (an OCI HelmRepository, an Alert, a
/// Provider) is ready: kstatus alone decides.
pub fn is_static_ready(obj: &Value) -> Result<bool, String> {
    // kstatus calls a Flux object without conditions in progress (its controller has not
    // looked yet); a kind whose controller writes none is ready once it exists.
    if obj["status"]["conditions"]
        .as_array()
        .is_none_or(|c| c.is_empty())
    {
        return Ok(true);
    }
    match compute(obj) {
        (Status::Current, _) => Ok(true),
        (Status::InProgress, _) => Ok(false),
        (_, message) => Err(message),
    }
}

/// Waits for readiness, by kstatus alone when `static_` (see [`is_static_ready`]).
pub async fn until_ready_as(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
    static_: bool,
) -> anyhow::Result<Value> {
    poll(api, name, timeout, |obj| {
        let r = if static_ {
            is_static_ready(obj)
        } else {
            is_ready(obj)
        };
        match r {
            Ok(true) => Ok(Some(obj.clone())),
            Ok(false) => Ok(None),
            Err(message) => Err(anyhow::anyhow!("{message}")),
        }
    })
    .await
}
