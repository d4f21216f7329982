//! [`Applier::diff_object`]: what applying one object would change, with the live and
//! merged objects to show the change, as Flux's `ssa.ResourceManager.Diff` (what
//! `flux diff kustomization` prints) reports it.

use super::{Applier, is_immutable, remove_pointer};
use crate::changeset::Action;
use crate::error::{ApplyError, code, describe};
use crate::object::ObjectRef;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Options of [`Applier::diff_object`] (Flux's `ssa.DiffOptions`).
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Labels or annotations (key, value; values compared case-insensitively) that make
    /// an object skipped, on the desired or the live object (Flux:
    /// `kustomize.toolkit.fluxcd.io/reconcile: disabled`, `…/ssa: ignore`).
    pub exclusions: BTreeMap<String, String>,
    /// Labels or annotations of the desired object that make an existing object skipped
    /// (Flux: `kustomize.toolkit.fluxcd.io/ssa: ifnotpresent`).
    pub if_not_present: BTreeMap<String, String>,
    /// Report an immutable field change as a recreation (`created`) rather than an error.
    pub force: bool,
    /// Labels or annotations that allow recreating on immutable field changes (Flux:
    /// `kustomize.toolkit.fluxcd.io/force: enabled`).
    pub force_selector: BTreeMap<String, String>,
    /// JSON pointers (RFC 6901) that neither count as drift nor show in the objects
    /// returned (Flux's drift ignore rules selected for this object).
    pub ignore_paths: Vec<String>,
}

/// The outcome of [`Applier::diff_object`].
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDiff {
    /// The object, as Flux names it in change sets (from the live object when skipped).
    pub object: ObjectRef,
    /// `created`, `configured` (drifted), `unchanged` or `skipped`.
    pub action: Action,
    /// For `configured`: the live object and the result of the server-side dry run,
    /// without `metadata.managedFields` and the ignored fields; Secret `data` values are
    /// masked (`***`, or `*** (before)` / `*** (after)` where they differ).
    pub live: Option<Value>,
    /// See `live`.
    pub merged: Option<Value>,
}

/// Why [`Applier::diff_object`] failed, with the texts of Flux's `DryRunErr`.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The dry run found no such namespace (or kind at that path).
    #[error("{object} not found: {message}")]
    NotFound {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's message.
        message: String,
    },
    /// A namespaced object without a namespace.
    #[error("{object} namespace not specified: {message}")]
    NamespaceNotSpecified {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's message.
        message: String,
    },
    /// The server refused the dry run.
    #[error("{object} dry-run failed{}: {message}", if .reason.is_empty() { String::new() } else { format!(" ({})", .reason) })]
    DryRun {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's reason (`Invalid`, …; empty when it gave none).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// Anything else (an invalid object, discovery).
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Whether a label or annotation of `obj` has one of the `selector`'s values (Flux's
/// `AnyInMetadata`: non-empty values, compared case-insensitively).
fn any_in_metadata(obj: &Value, selector: &BTreeMap<String, String>) -> bool {
    let meta = &obj["metadata"];
    selector.iter().any(|(k, v)| {
        ["labels", "annotations"].iter().any(|field| {
            meta[field][k]
                .as_str()
                .is_some_and(|s| !s.is_empty() && s.eq_ignore_ascii_case(v))
        })
    })
}

/// Flux's `ChangeSetEntry` subject of an object as it is (`Kind/` when it has no name).
fn subject(obj: &Value, fallback: &ObjectRef) -> ObjectRef {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    ObjectRef {
        group: fallback.group.clone(),
        version: fallback.version.clone(),
        kind: fallback.kind.clone(),
        namespace: s(&obj["metadata"]["namespace"]),
        name: s(&obj["metadata"]["name"]),
    }
}

fn map_or_empty(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Flux's `hasDrifted`: labels, annotations, then everything but `metadata` and `status`.
fn has_drifted(live: &Value, dry: &Value) -> bool {
    for key in ["labels", "annotations"] {
        if map_or_empty(&live["metadata"][key]) != map_or_empty(&dry["metadata"][key]) {
            return true;
        }
    }
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = map_or_empty(v);
        m.remove("metadata");
        m.remove("status");
        m
    };
    strip(live) != strip(dry)
}

/// Masks the `data` values of a Secret pair as Flux's `SanitizeUnstructuredData` does.
fn sanitize_secret_data(live: &mut Value, merged: &mut Value) {
    let old = live["data"].as_object().cloned();
    let new = merged["data"].as_object().cloned();
    let mut old_out = old.clone().unwrap_or_default();
    let mut new_out = new.clone().unwrap_or_default();
    if let Some(o) = &old {
        for (k, v) in o {
            match new.as_ref().and_then(|n| n.get(k)) {
                Some(nv) if nv != v => {
                    old_out.insert(k.clone(), "*** (before)".into());
                    new_out.insert(k.clone(), "*** (after)".into());
                }
                Some(_) => {
                    new_out.insert(k.clone(), "***".into());
                    old_out.insert(k.clone(), "***".into());
                }
                None => {
                    old_out.insert(k.clone(), "***".into());
                }
            }
        }
    }
    if let Some(n) = &new {
        for k in n.keys() {
            if old.as_ref().is_none_or(|o| !o.contains_key(k)) {
                new_out.insert(k.clone(), "***".into());
            }
        }
    }
    if old.is_some() {
        live["data"] = Value::Object(old_out);
    }
    if new.is_some() {
        merged["data"] = Value::Object(new_out);
    }
}

fn remove_managed_fields(v: &mut Value) {
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
}

impl Applier {
    /// What applying `object` (server-side, with this applier's field manager) would
    /// change, one object at a time and without any staging, as Flux's
    /// `ResourceManager.Diff`: `skipped` for excluded objects, `created` when the dry run
    /// creates it, `configured` when labels, annotations or anything but `metadata` and
    /// `status` would change (with both objects to show how), `unchanged` otherwise.
    /// Nothing is written.
    pub async fn diff_object(
        &self,
        object: &Value,
        opts: &DiffOptions,
    ) -> Result<ObjectDiff, DiffError> {
        let mut object = object.clone();
        remove_ca_bundle(&mut object);
        let mut r = ObjectRef::from_object(&object)?;
        let res = self.resource(&r).await?;
        if res.as_ref().is_some_and(|res| !res.namespaced) {
            r.namespace.clear();
        }
        // the live object; like Flux, a failed read counts as none
        let live = match &res {
            Some(res) if !res.namespaced || !r.namespace.is_empty() => {
                self.get(res, &r).await.ok().flatten()
            }
            _ => None,
        };
        let exists = live
            .as_ref()
            .is_some_and(|l| l["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
        let live_or_empty = live.clone().unwrap_or(Value::Null);
        if any_in_metadata(&object, &opts.exclusions)
            || any_in_metadata(&live_or_empty, &opts.exclusions)
            || (exists && any_in_metadata(&object, &opts.if_not_present))
        {
            return Ok(ObjectDiff {
                object: subject(&live_or_empty, &r),
                action: Action::Skipped,
                live: None,
                merged: None,
            });
        }
        let Some(res) = res else {
            return Err(DiffError::DryRun {
                object: r.clone().into(),
                reason: String::new(),
                message: format!(
                    "no matches for kind \"{}\" in version \"{}\"",
                    r.kind,
                    r.api_version()
                ),
            });
        };
        if res.namespaced && r.namespace.is_empty() {
            return Err(DiffError::NamespaceNotSpecified {
                object: r.into(),
                message: "the server could not find the requested resource".into(),
            });
        }
        let dry = match self.server_apply(&res, &r, &object, true).await {
            Ok(d) => d,
            Err(e) => {
                let forced = opts.force
                    || any_in_metadata(&object, &opts.force_selector)
                    || any_in_metadata(&live_or_empty, &opts.force_selector);
                if is_immutable(&e) && forced {
                    return Ok(ObjectDiff {
                        object: r,
                        action: Action::Created,
                        live: None,
                        merged: None,
                    });
                }
                let (_, message) = describe(&e, &r);
                if code(&e) == Some(404) {
                    return Err(DiffError::NotFound {
                        object: r.into(),
                        message,
                    });
                }
                let reason = match &e {
                    kube::Error::Api(s) => s.reason.clone(),
                    _ => String::new(),
                };
                return Err(DiffError::DryRun {
                    object: r.into(),
                    reason,
                    message,
                });
            }
        };
        let Some(mut live) = live.filter(|_| exists) else {
            return Ok(ObjectDiff {
                object: r,
                action: Action::Created,
                live: None,
                merged: None,
            });
        };
        if dry["metadata"]["resourceVersion"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            return Ok(ObjectDiff {
                object: r,
                action: Action::Created,
                live: None,
                merged: None,
            });
        }
        let mut dry = dry;
        let drifted = if opts.ignore_paths.is_empty() {
            has_drifted(&live, &dry)
        } else {
            let (mut l, mut d) = (live.clone(), dry.clone());
            for p in &opts.ignore_paths {
                remove_pointer(&mut l, p);
                remove_pointer(&mut d, p);
            }
            has_drifted(&l, &d)
        };
        if !drifted {
            return Ok(ObjectDiff {
                object: r,
                action: Action::Unchanged,
                live: None,
                merged: None,
            });
        }
        remove_managed_fields(&mut live);
        remove_managed_fields(&mut dry);
        for p in &opts.ignore_paths {
            remove_pointer(&mut live, p);
            remove_pointer(&mut dry, p);
        }
        if r.kind == "Secret" && r.group.is_empty() {
            sanitize_secret_data(&mut live, &mut dry);
        }
        Ok(ObjectDiff {
            object: r,
            action: Action::Configured,
            live: Some(live),
            merged: Some(dry),
        })
    }
}

/// Flux's `RemoveCABundleFromCRD`: a CRD's conversion webhook `caBundle` is left to the
/// cluster (cert-manager and the like inject it).
fn remove_ca_bundle(obj: &mut Value) {
    if obj["kind"] != "CustomResourceDefinition" {
        return;
    }
    if let Some(cc) = obj
        .pointer_mut("/spec/conversion/webhook/clientConfig")
        .and_then(Value::as_object_mut)
    {
        cc.remove("caBundle");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_data_is_masked_like_flux() {
        let mut live = json!({"data": {"a": "1", "b": "2", "gone": "x"}});
        let mut merged = json!({"data": {"a": "1", "b": "3", "new": "y"}});
        sanitize_secret_data(&mut live, &mut merged);
        assert_eq!(
            live,
            json!({"data": {"a": "***", "b": "*** (before)", "gone": "***"}})
        );
        assert_eq!(
            merged,
            json!({"data": {"a": "***", "b": "*** (after)", "new": "***"}})
        );
    }

    #[test]
    fn drift_compares_metadata_maps_and_the_rest() {
        let a = json!({"metadata": {"labels": {"x": "1"}, "uid": "u"}, "spec": {"a": 1}, "status": {"s": 1}});
        let mut b = a.clone();
        b["status"]["s"] = json!(2);
        b["metadata"]["uid"] = json!("v");
        assert!(!has_drifted(&a, &b));
        b["metadata"]["labels"]["x"] = json!("2");
        assert!(has_drifted(&a, &b));
        let mut c = a.clone();
        c["spec"]["a"] = json!(2);
        assert!(has_drifted(&a, &c));
    }

    #[test]
    fn metadata_selectors_ignore_case_of_values() {
        let o = json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/reconcile": "Disabled"}}});
        let sel: BTreeMap<String, String> = [(
            "kustomize.toolkit.fluxcd.io/reconcile".into(),
            "disabled".into(),
        )]
        .into();
        assert!(any_in_metadata(&o, &sel));
        assert!(!any_in_metadata(&json!({}), &sel));
    }
}
