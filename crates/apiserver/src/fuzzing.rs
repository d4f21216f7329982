//! Entry points for the fuzz targets (`fuzz/fuzz_targets/apiserver_request.rs`) into the
//! request decoding this crate keeps private: request bodies (JSON, YAML, protobuf), the
//! three patch types and server-side apply with the limits of [`crate::limits`], and label
//! and field selectors.
//!
//! **For fuzzing only**: hidden from the documentation, not part of the crate's API, and
//! free to change with the fuzz targets. Nothing here is used by the server.
//!
//! Bodies, type checks, patch limits and the store-free admission steps go through the
//! server's own functions (`http::parse_body`, `api::check_type`,
//! `api::check_patch_result`, `api::schema_and_validation`); only the status handling of
//! `Api::admit` (which needs a store transaction) is repeated here.
#![doc(hidden)]

use crate::api::PatchType;
use crate::registry::{Registry, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::ssa::{self, Manager};
use crate::{builtin, limits, patch, types};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

/// Decodes a request body as `http::parse_body` does for a `Content-Type` (JSON, YAML,
/// Kubernetes protobuf; YAML sent as JSON; empty and unknown bodies refused). For
/// fuzzing only.
pub fn decode_body(bytes: &[u8], content_type: &str) -> Result<Value, String> {
    crate::http::parse_body(bytes, content_type).map_err(|e| e.to_string())
}

/// The kinds [`apply_patch`] patches: the built-in kinds, then the kinds of one custom
/// resource definition whose schema has list-map, set and atomic-map fields, defaults and
/// a selectable field. For fuzzing only.
pub fn resource_types() -> &'static [Arc<ResourceType>] {
    static TYPES: OnceLock<Vec<Arc<ResourceType>>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut all = Registry::new().all().to_vec();
        let crd = json!({
            "metadata": {"name": "widgets.fuzz.example.com"},
            "spec": {
                "group": "fuzz.example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "subresources": {"status": {}, "scale": {}},
                    "selectableFields": [{"jsonPath": ".spec.color"}],
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "color": {"type": "string", "default": "blue", "maxLength": 16},
                                    "replicas": {"type": "integer", "minimum": 0},
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                                        "items": {"type": "object", "properties": {
                                            "port": {"type": "integer"},
                                            "protocol": {"type": "string", "default": "TCP"},
                                            "name": {"type": "string"}
                                        }}
                                    },
                                    "tags": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "set",
                                        "items": {"type": "string"}
                                    },
                                    "selector": {
                                        "type": "object",
                                        "x-kubernetes-map-type": "atomic",
                                        "additionalProperties": {"type": "string"}
                                    },
                                    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                    "choice": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true}
                                }
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                        }
                    }}
                }]
            }
        });
        let custom = builtin::crd_types(&crd).expect("the fuzzing CRD is valid");
        all.extend(custom.into_iter().map(Arc::new));
        all
    })
}

/// A patch type, as the `Content-Type` of a PATCH request selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`.
    Apply,
}

/// What [`apply_patch`] made.
#[derive(Debug)]
pub struct Patched {
    /// The object as it would be stored (before the server's defaults and bookkeeping).
    pub object: Value,
    /// For JSON patches: the size of the result's compact JSON encoding as the patch
    /// tracked it while it applied (it must equal the real encoding's length).
    pub tracked_bytes: Option<usize>,
}

/// Runs a PATCH request's body through what `Api::patch` does with it, without a store:
/// the body decoded as the request's (JSON, or YAML for apply), the patch applied to
/// `stored` (the stored object, JSON) of the kind `resource_types()[kind_index %
/// len]` within the server's limits, the result checked against the object limits, and
/// the store-free admission steps (schema pruning, defaults and validation, metadata and
/// built-in validation) and the managed fields update. Stored objects that a server could
/// not hold (not an object, over the limits, without a name) are refused first. An error
/// is a refused request; never a panic. For fuzzing only.
pub fn apply_patch(
    kind: PatchKind,
    kind_index: usize,
    stored: &[u8],
    body: &[u8],
) -> Result<Patched, String> {
    let types = resource_types();
    let rt = &types[kind_index % types.len()];
    let old: Value = serde_json::from_slice(stored).map_err(|e| format!("stored: {e}"))?;
    if !old.is_object() {
        return Err("stored: not an object".into());
    }
    let old_size = limits::measure(&old, limits::MAX_OBJECT_BYTES, limits::MAX_NESTING)
        .map_err(|e| format!("stored: over the object limits ({e:?})"))?;
    let Some(name) = old["metadata"]["name"].as_str().map(str::to_owned) else {
        return Err("stored: no name".into());
    };
    let ptype = match kind {
        PatchKind::Json => PatchType::Json,
        PatchKind::Merge => PatchType::Merge,
        PatchKind::Strategic => PatchType::Strategic,
        PatchKind::Apply => PatchType::Apply,
    };
    let body = crate::http::parse_body(
        body,
        if ptype == PatchType::Apply {
            "application/yaml"
        } else {
            "application/json"
        },
    )
    .map_err(|e| e.to_string())?;
    if ptype == PatchType::Strategic && !types::supports_strategic_merge(rt) {
        return Err("415: strategic merge patch of a custom resource".into());
    }
    let api_version = rt.api_version();
    let mgr = Manager {
        name: "fuzz",
        subresource: None,
        api_version: &api_version,
        time: "2024-01-01T00:00:00Z",
    };
    let mut tracked_bytes = None;
    let mut new = if ptype == PatchType::Apply {
        crate::api::check_type(rt, &body).map_err(|e| e.to_string())?;
        if body["metadata"]["name"].as_str() != Some(name.as_str()) {
            return Err("400: the name of the object does not match the URL".into());
        }
        ssa::apply(rt, Some(&old), &body, &mgr, false, &name).map_err(|e| e.to_string())?
    } else {
        let mut patched = old.clone();
        match ptype {
            PatchType::Merge => patch::merge_patch(&mut patched, &body),
            PatchType::Json => {
                let size = patch::json_patch(
                    &mut patched,
                    &body,
                    old_size.bytes,
                    &patch::JsonPatchLimits::default(),
                )
                .map_err(|e| e.to_string())?;
                tracked_bytes = Some(size);
            }
            PatchType::Strategic => patch::strategic_merge(rt, &mut patched, &body)?,
            PatchType::Apply => unreachable!("handled above"),
        }
        crate::api::check_patch_result(&patched).map_err(|e| e.to_string())?;
        if !patched.is_object() {
            return Err("400: the patch made the object something other than an object".into());
        }
        patched
    };
    let object = new.clone();
    admit(rt, &old, &mut new);
    if ptype != PatchType::Apply {
        ssa::track_update(rt, Some(&old), &mut new, &mgr);
    }
    Ok(Patched {
        object,
        tracked_bytes,
    })
}

/// The steps of `Api::admit` that need no store: status kept from the stored object,
/// schema pruning and defaults for custom resources, and the validations.
fn admit(rt: &ResourceType, old: &Value, new: &mut Value) {
    if let Some(m) = new.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
        if rt.status {
            match old.get("status") {
                Some(s) => m.insert("status".into(), s.clone()),
                None => m.remove("status"),
            };
        }
    }
    // Refusals are what the fuzzer looks past; panics are what it looks for.
    let _ = crate::api::schema_and_validation(rt, Some(old), new, false);
}

/// Parses a label selector and a field selector (for the kind `resource_types()[kind_index
/// % len]`) as the `labelSelector` and `fieldSelector` query parameters of a list, and
/// matches them against `object`. For fuzzing only.
pub fn selectors(
    label: &str,
    field: &str,
    kind_index: usize,
    object: &Value,
) -> Result<bool, String> {
    let types = resource_types();
    let rt = &types[kind_index % types.len()];
    let labels = LabelSelector::parse(label).map_err(|e| e.to_string())?;
    let fields = FieldSelector::parse(field, rt).map_err(|e| e.to_string())?;
    Ok(labels.matches(object) && fields.matches(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_reach_the_decoders() {
        let v = decode_body(b"a: yes\n", "application/yaml").unwrap();
        assert_eq!(v, json!({"a": true}));
        assert!(decode_body(b"  ", "application/json").is_err());
        let dep = resource_types()
            .iter()
            .position(|t| t.kind == "Deployment")
            .unwrap();
        let stored = br#"{"metadata":{"name":"web"},"spec":{"replicas":1}}"#;
        let p = apply_patch(
            PatchKind::Json,
            dep,
            stored,
            br#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
        )
        .unwrap();
        assert_eq!(p.object["spec"]["replicas"], 3);
        assert_eq!(
            p.tracked_bytes,
            Some(serde_json::to_vec(&p.object).unwrap().len())
        );
        let widget = resource_types()
            .iter()
            .position(|t| t.kind == "Widget")
            .unwrap();
        assert!(apply_patch(PatchKind::Strategic, widget, stored, b"{}").is_err());
        let obj = json!({"metadata": {"name": "web", "labels": {"app": "web"}}});
        assert_eq!(
            selectors("app=web", "metadata.name=web", dep, &obj),
            Ok(true)
        );
        assert!(selectors("app=web", "spec.color=red", dep, &obj).is_err());
        assert_eq!(selectors("", "spec.color=red", widget, &obj), Ok(false));
    }
}
