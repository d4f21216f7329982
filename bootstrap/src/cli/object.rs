//! Reading Flux objects as JSON: conditions, suspension, generations, and the create-or-update
//! the `create` commands do.

use anyhow::Context;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::Value;

/// The condition of `type_` in `status.conditions`.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// `(status, reason, message)` of the Ready condition.
pub fn ready(obj: &Value) -> Option<(&str, &str, &str)> {
    condition(obj, "Ready").map(|c| {
        (
            c["status"].as_str().unwrap_or_default(),
            c["reason"].as_str().unwrap_or_default(),
            c["message"].as_str().unwrap_or_default(),
        )
    })
}

/// Whether `spec.suspend` is true.
pub fn suspended(obj: &Value) -> bool {
    obj["spec"]["suspend"].as_bool().unwrap_or(false)
}

/// `metadata.generation` (0 when absent).
pub fn generation(obj: &Value) -> i64 {
    obj["metadata"]["generation"].as_i64().unwrap_or(0)
}

/// `status.observedGeneration` (0 when absent).
pub fn observed_generation(obj: &Value) -> i64 {
    obj["status"]["observedGeneration"].as_i64().unwrap_or(0)
}

/// The object as JSON.
pub fn to_value(obj: &DynamicObject) -> anyhow::Result<Value> {
    serde_json::to_value(obj).context("encoding an object")
}

/// Creates `desired`, or replaces the existing object's labels and spec (Flux's `upsert`):
/// the rest of the live object, annotations and status included, stays. Returns the object
/// as the server stored it.
pub async fn upsert(api: &Api<DynamicObject>, desired: &Value) -> anyhow::Result<Value> {
    let name = desired["metadata"]["name"].as_str().unwrap_or_default();
    match api.get_opt(name).await? {
        None => {
            let obj: DynamicObject = serde_json::from_value(desired.clone())?;
            let created = api.create(&PostParams::default(), &obj).await?;
            to_value(&created)
        }
        Some(live) => {
            let mut live = to_value(&live)?;
            // Flux's upsert replaces the labels (none given: none kept) and the spec (and
            // the other top-level fields of kinds without one, like a Secret's data).
            match desired["metadata"].get("labels") {
                Some(l) if !l.is_null() => live["metadata"]["labels"] = l.clone(),
                _ => {
                    if let Some(m) = live["metadata"].as_object_mut() {
                        m.remove("labels");
                    }
                }
            }
            for (k, v) in desired.as_object().into_iter().flatten() {
                if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
                    live[k] = v.clone();
                }
            }
            let obj: DynamicObject = serde_json::from_value(live)?;
            let updated = api.replace(name, &PostParams::default(), &obj).await?;
            to_value(&updated)
        }
    }
}

/// A Kubernetes API error as client-go prints it (the server's message, e.g.
/// `gitrepositories.source.toolkit.fluxcd.io "x" not found`).
pub fn api_error(e: kube::Error) -> anyhow::Error {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => anyhow::anyhow!("{}", s.message),
        e => anyhow::anyhow!("{e}"),
    }
}

/// Reads one object, with client-go's error text when it is missing.
pub async fn get(api: &Api<DynamicObject>, name: &str) -> anyhow::Result<Value> {
    let obj = api.get(name).await.map_err(api_error)?;
    to_value(&obj)
}
