//! Pure parts of server-side apply: the Flux annotations, drift detection between a live
//! object and its dry-run result, and the `managedFields` takeover of kubectl managers.

use serde_json::{Map, Value, json};

/// `kustomize.toolkit.fluxcd.io/ssa`: how an object is applied.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// `kustomize.toolkit.fluxcd.io/force: enabled`: recreate on immutable field changes.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";
/// `kustomize.toolkit.fluxcd.io/prune: disabled`: never prune.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// `kustomize.toolkit.fluxcd.io/reconcile: disabled`: leave the object alone (as `ssa: Ignore`).
pub const RECONCILE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// kubectl's client-side apply annotation, removed on takeover.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The value of the `kustomize.toolkit.fluxcd.io/ssa` annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SsaMode {
    /// Apply and take over fields of kubectl managers (the default).
    #[default]
    Override,
    /// Apply, keeping fields other managers own (no takeover of kubectl edits).
    Merge,
    /// Create when missing, never update.
    IfNotPresent,
    /// Leave the object alone.
    Ignore,
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["annotations"][key].as_str()
}

/// The ssa mode an object's annotation asks for (case-insensitive; unknown values mean
/// `Override`). `kustomize.toolkit.fluxcd.io/reconcile: disabled` means `Ignore`.
pub fn ssa_mode(obj: &Value) -> SsaMode {
    if annotation(obj, RECONCILE_ANNOTATION).is_some_and(|v| v.eq_ignore_ascii_case("disabled")) {
        return SsaMode::Ignore;
    }
    match annotation(obj, SSA_ANNOTATION) {
        Some(v) if v.eq_ignore_ascii_case("merge") => SsaMode::Merge,
        Some(v) if v.eq_ignore_ascii_case("ifnotpresent") => SsaMode::IfNotPresent,
        Some(v) if v.eq_ignore_ascii_case("ignore") => SsaMode::Ignore,
        _ => SsaMode::Override,
    }
}

/// Whether `kustomize.toolkit.fluxcd.io/force: enabled` is set.
pub fn force_enabled(obj: &Value) -> bool {
    annotation(obj, FORCE_ANNOTATION).is_some_and(|v| v.eq_ignore_ascii_case("enabled"))
}

/// Whether the object must not be pruned: `kustomize.toolkit.fluxcd.io/prune: disabled`
/// or `kustomize.toolkit.fluxcd.io/reconcile: disabled`.
pub fn prune_disabled(obj: &Value) -> bool {
    [PRUNE_ANNOTATION, RECONCILE_ANNOTATION]
        .iter()
        .any(|k| annotation(obj, k).is_some_and(|v| v.eq_ignore_ascii_case("disabled")))
}

fn map_or_empty(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// Whether applying would change the live object: labels, annotations, finalizers,
/// owner references, and every top-level field but `metadata` and `status` are compared
/// with the dry-run result.
pub fn has_drifted(live: &Value, dry_run: &Value) -> bool {
    for key in ["labels", "annotations"] {
        if map_or_empty(&live["metadata"][key]) != map_or_empty(&dry_run["metadata"][key]) {
            return true;
        }
    }
    for key in ["finalizers", "ownerReferences"] {
        if list_or_empty(&live["metadata"][key]) != list_or_empty(&dry_run["metadata"][key]) {
            return true;
        }
    }
    let (Some(l), Some(d)) = (live.as_object(), dry_run.as_object()) else {
        return live != dry_run;
    };
    let skip = |k: &str| matches!(k, "metadata" | "status");
    for (k, dv) in d {
        if skip(k) {
            continue;
        }
        if l.get(k) != Some(dv) {
            return true;
        }
    }
    l.keys().any(|k| !skip(k) && !d.contains_key(k))
}

fn list_or_empty(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The top-level fields (and labels/annotations) that differ between live and dry-run,
/// for drift reports. Values are never included, so Secrets do not leak.
pub fn drifted_fields(live: &Value, dry_run: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["labels", "annotations"] {
        let (l, d) = (
            map_or_empty(&live["metadata"][key]),
            map_or_empty(&dry_run["metadata"][key]),
        );
        for (k, v) in d {
            if l.get(k) != Some(v) {
                out.push(format!("metadata.{key}.{k}"));
            }
        }
        for k in l.keys() {
            if !d.contains_key(k) {
                out.push(format!("metadata.{key}.{k}"));
            }
        }
    }
    for key in ["finalizers", "ownerReferences"] {
        if list_or_empty(&live["metadata"][key]) != list_or_empty(&dry_run["metadata"][key]) {
            out.push(format!("metadata.{key}"));
        }
    }
    if let (Some(l), Some(d)) = (live.as_object(), dry_run.as_object()) {
        let skip = |k: &str| matches!(k, "metadata" | "status");
        for (k, v) in d {
            if !skip(k) && l.get(k) != Some(v) {
                out.push(k.clone());
            }
        }
        for k in l.keys() {
            if !skip(k) && !d.contains_key(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

/// Whether a managedFields entry belongs to a manager Flux takes fields over from:
/// kubectl (`kubectl`, `kubectl-client-side-apply`, `kubectl-edit`, … by Apply or
/// Update), `before-first-apply` (Update), and our own manager by Update.
fn taken_over(entry: &Value, manager: &str) -> bool {
    if entry["subresource"].as_str().is_some_and(|s| !s.is_empty()) {
        return false;
    }
    let name = entry["manager"].as_str().unwrap_or_default();
    let op = entry["operation"].as_str().unwrap_or_default();
    (name.starts_with("kubectl") && (op == "Update" || op == "Apply"))
        || (name == "before-first-apply" && op == "Update")
        || (name == manager && op == "Update")
}

fn union(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => union(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) if slot.is_null() => *slot = v.clone(),
        _ => {}
    }
}

/// Whether managedFields entries of kubectl managers remain (see [`takeover_patch`]).
pub fn has_foreign_managers(live: &Value, manager: &str) -> bool {
    live["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|es| es.iter().any(|e| taken_over(e, manager)))
}

/// The merge patch that moves the fields of kubectl managers to `manager`'s Apply entry
/// and drops kubectl's last-applied annotation, so the next apply owns (and may remove)
/// them. `None` when there is nothing to take over. With `managed_fields` false (servers
/// that ignore `managedFields` in writes), only the annotation is dropped.
pub fn takeover_patch(live: &Value, manager: &str, managed_fields: bool) -> Option<Value> {
    let has_last_applied = annotation(live, LAST_APPLIED_ANNOTATION).is_some();
    let entries = live["metadata"]["managedFields"].as_array();
    let takes = managed_fields && has_foreign_managers(live, manager);
    if !takes && !has_last_applied {
        return None;
    }
    let mut meta = Map::new();
    if takes && let Some(entries) = entries {
        let mut fields = Value::Null;
        let mut kept = Vec::with_capacity(entries.len());
        let mut own: Option<usize> = None;
        for e in entries {
            if taken_over(e, manager) {
                union(&mut fields, &e["fieldsV1"]);
            } else {
                if e["manager"] == manager
                    && e["operation"] == "Apply"
                    && e["subresource"].as_str().is_none_or(str::is_empty)
                {
                    own = Some(kept.len());
                }
                kept.push(e.clone());
            }
        }
        match own {
            Some(i) => union(&mut kept[i]["fieldsV1"], &fields),
            None => kept.push(json!({
                "manager": manager,
                "operation": "Apply",
                "apiVersion": live["apiVersion"],
                "fieldsType": "FieldsV1",
                "fieldsV1": if fields.is_null() { json!({}) } else { fields },
            })),
        }
        meta.insert("managedFields".into(), Value::Array(kept));
    }
    if has_last_applied {
        meta.insert(
            "annotations".into(),
            json!({ LAST_APPLIED_ANNOTATION: null }),
        );
    }
    if let Some(rv) = live["metadata"]["resourceVersion"].as_str() {
        meta.insert("resourceVersion".into(), json!(rv));
    }
    Some(json!({ "metadata": meta }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let o = |v: &str| json!({"metadata": {"annotations": {SSA_ANNOTATION: v}}});
        assert_eq!(ssa_mode(&json!({})), SsaMode::Override);
        assert_eq!(ssa_mode(&o("Merge")), SsaMode::Merge);
        assert_eq!(ssa_mode(&o("IfNotPresent")), SsaMode::IfNotPresent);
        assert_eq!(ssa_mode(&o("ignore")), SsaMode::Ignore);
        assert_eq!(ssa_mode(&o("Override")), SsaMode::Override);
        assert_eq!(
            ssa_mode(&json!({"metadata": {"annotations": {RECONCILE_ANNOTATION: "disabled"}}})),
            SsaMode::Ignore
        );
        assert!(force_enabled(
            &json!({"metadata": {"annotations": {FORCE_ANNOTATION: "enabled"}}})
        ));
        assert!(!force_enabled(&json!({"metadata": {}})));
        assert!(prune_disabled(
            &json!({"metadata": {"annotations": {PRUNE_ANNOTATION: "disabled"}}})
        ));
    }

    #[test]
    fn drift() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": "5", "labels": {"a": "1"}, "managedFields": []},
            "data": {"k": "v"}});
        let mut dry = live.clone();
        dry["metadata"]["resourceVersion"] = json!("6");
        dry["metadata"]["managedFields"] = json!([{"manager": "x"}]);
        assert!(!has_drifted(&live, &dry));
        dry["data"]["k"] = json!("w");
        assert!(has_drifted(&live, &dry));
        assert_eq!(drifted_fields(&live, &dry), ["data"]);
        let mut dry = live.clone();
        dry["metadata"]["labels"] = json!({});
        assert!(has_drifted(&live, &dry));
        assert_eq!(drifted_fields(&live, &dry), ["metadata.labels.a"]);
        let mut dry = live.clone();
        dry.as_object_mut().unwrap().remove("data");
        assert!(has_drifted(&live, &dry));
        let mut dry = live.clone();
        dry["status"] = json!({"x": 1});
        assert!(!has_drifted(&live, &dry));
        let mut dry = live.clone();
        dry["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
        assert!(has_drifted(&live, &dry));
        assert_eq!(drifted_fields(&live, &dry), ["metadata.finalizers"]);
    }

    #[test]
    fn takeover() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "resourceVersion": "7",
          "annotations": {LAST_APPLIED_ANNOTATION: "{}"},
          "managedFields": [
            {"manager": "gitops", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:paused": {}}}},
            {"manager": "kubectl-client-side-apply", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:x": {}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}},
            {"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
          ]}});
        let p = takeover_patch(&live, "gitops", true).unwrap();
        let mf = p["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 3);
        assert_eq!(mf[0]["manager"], "gitops");
        assert_eq!(
            mf[0]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}, "f:paused": {}}, "f:metadata": {"f:labels": {"f:x": {}}}})
        );
        assert_eq!(
            p["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
            Value::Null
        );
        assert!(
            p["metadata"]["annotations"]
                .as_object()
                .unwrap()
                .contains_key(LAST_APPLIED_ANNOTATION)
        );
        assert_eq!(p["metadata"]["resourceVersion"], "7");

        // A new Apply entry when we own nothing yet.
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "managedFields": [
            {"manager": "kubectl-client-side-apply", "operation": "Update", "fieldsV1": {"f:data": {"f:a": {}}}}]}});
        let p = takeover_patch(&live, "gitops", true).unwrap();
        assert_eq!(
            p["metadata"]["managedFields"],
            json!([{"manager": "gitops", "operation": "Apply",
            "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}])
        );

        // Nothing to do.
        let live =
            json!({"metadata": {"managedFields": [{"manager": "gitops", "operation": "Apply"}]}});
        assert!(takeover_patch(&live, "gitops", true).is_none());
    }
}
