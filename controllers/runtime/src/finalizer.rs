//! Finalizers added and removed safely under concurrent writers.
//!
//! A merge patch of `metadata.finalizers` from a cached copy replaces the whole list, so
//! when another controller added its own finalizer in between, that entry is lost. Here the
//! change is a JSON patch that first `test`s the list it was computed from: if anyone
//! changed it meanwhile, the API server refuses the patch (422) and nothing is lost; the
//! caller reads the object again and retries.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Why a finalizer could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum FinalizerError {
    /// The list changed since it was read (another writer): read again and retry.
    #[error("finalizers of {name} changed concurrently")]
    Conflict {
        /// The object.
        name: String,
    },
    /// The API server refused the patch for another reason.
    #[error("updating finalizers of {name}: {source}")]
    Api {
        /// The object.
        name: String,
        /// The error.
        source: kube::Error,
    },
}

/// The JSON patch that turns the object's finalizers `current` into `wanted`, guarded by a
/// `test`: of the list itself when there is one, of `resourceVersion` when there is none
/// (JSON patch cannot test that a path is absent).
pub fn finalizers_patch(current: &[String], wanted: &[String], resource_version: &str) -> Value {
    if current.is_empty() {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "add", "path": "/metadata/finalizers", "value": wanted},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "replace", "path": "/metadata/finalizers", "value": wanted},
        ])
    }
}

async fn patch<K>(api: &Api<K>, obj: &K, wanted: Vec<String>) -> Result<(), FinalizerError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let name = obj.name_any();
    let rv = obj.meta().resource_version.clone().unwrap_or_default();
    let body = finalizers_patch(obj.finalizers(), &wanted, &rv);
    let patch: json_patch::Patch =
        serde_json::from_value(body).map_err(|e| FinalizerError::Api {
            name: name.clone(),
            source: kube::Error::SerdeError(e),
        })?;
    match api
        .patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
    {
        Ok(_) => Ok(()),
        // a failed `test` is 422 (Invalid); a stale resource version 409
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => {
            Err(FinalizerError::Conflict { name })
        }
        Err(source) => Err(FinalizerError::Api { name, source }),
    }
}

/// Adds `finalizer` to `obj` unless it is there.
pub async fn add<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), FinalizerError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if obj.finalizers().iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let mut wanted = obj.finalizers().to_vec();
    wanted.push(finalizer.to_owned());
    patch(api, obj, wanted).await
}

/// Removes `finalizer` from `obj` when it is there, keeping every other entry.
pub async fn remove<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), FinalizerError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if !obj.finalizers().iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let wanted = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    patch(api, obj, wanted).await
}
