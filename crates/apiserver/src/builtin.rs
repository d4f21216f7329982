//! Behaviour of built-in kinds that the real API server implements in their registries:
//! defaults (namespace finalizers, service cluster IPs, secret `stringData`, replicas),
//! immutable fields, and CustomResourceDefinitions (validation, status, served kinds).

use crate::api::{Api, object_at};
use crate::error::{ApiResult, Cause};
use crate::registry::{PrinterColumn, ResourceType};
use crate::schema::Schema;
use crate::store::{self, Tx};
use crate::validation::is_dns_subdomain;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;

/// The finalizer the API server puts on CRDs so their objects are removed first.
pub const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Applies server-side defaults to a built-in kind.
pub fn defaults(
    api: &Api,
    tx: &Tx,
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
) -> ApiResult<()> {
    let _ = api;
    if rt.is_custom() {
        return Ok(());
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => {
            let name = new["metadata"]["name"].clone();
            object_at(new, &["metadata", "labels"])
                .insert("kubernetes.io/metadata.name".into(), name);
            if old.is_none() && new["spec"]["finalizers"].is_null() {
                object_at(new, &["spec"]).insert("finalizers".into(), json!(["kubernetes"]));
            }
            let deleting = new["metadata"]["deletionTimestamp"].is_string();
            object_at(new, &["status"]).insert(
                "phase".into(),
                json!(if deleting { "Terminating" } else { "Active" }),
            );
        }
        ("", "configmaps") => canonical_base64(new, "binaryData"),
        ("", "secrets") => {
            canonical_base64(new, "data");
            if let Some(Value::Object(sd)) =
                new.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                let data = object_at(new, &["data"]);
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or_default();
                    data.insert(
                        k,
                        json!(base64::engine::general_purpose::STANDARD.encode(s)),
                    );
                }
            }
            if new["type"].is_null() {
                object_at(new, &[]).insert("type".into(), json!("Opaque"));
            }
        }
        ("", "services") => service_defaults(tx, old, new),
        ("apps", "deployments" | "replicasets" | "statefulsets")
        | ("", "replicationcontrollers")
            if new["spec"].is_object() && new["spec"]["replicas"].is_null() =>
        {
            object_at(new, &["spec"]).insert("replicas".into(), json!(1));
        }
        ("batch", "jobs") if new["spec"].is_object() => {
            let spec = object_at(new, &["spec"]);
            spec.entry("parallelism").or_insert(json!(1));
            spec.entry("backoffLimit").or_insert(json!(6));
            if !spec.contains_key("completions")
                && spec.get("completionMode").and_then(Value::as_str) != Some("Indexed")
            {
                spec.insert("completions".into(), json!(1));
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => crd_defaults(old, new),
        (RBAC_GROUP, "rolebindings" | "clusterrolebindings") => {
            // rbac/v1's SetDefaults_Subject: users and groups are in the RBAC group
            if let Some(subjects) = new["subjects"].as_array_mut() {
                for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
                    if s.get("apiGroup").is_none_or(|g| g == "")
                        && matches!(
                            s.get("kind").and_then(Value::as_str),
                            Some("User" | "Group")
                        )
                    {
                        s.insert("apiGroup".into(), json!(RBAC_GROUP));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Kubernetes' validation of Roles, ClusterRoles and their bindings (the rules' required
/// parts, non-resource URLs only cluster-wide and never mixed with resources, the
/// aggregation rule's selectors, a binding's `roleRef` and subjects, `roleRef` immutable).
fn validate_rbac(plural: &str, old: Option<&Value>, new: &Value, out: &mut Vec<Cause>) {
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    match plural {
        "roles" | "clusterroles" => {
            let namespaced = plural == "roles";
            for (i, rule) in new["rules"].as_array().into_iter().flatten().enumerate() {
                let at = |f: &str| format!("rules[{i}].{f}");
                if len(&rule["verbs"]) == 0 {
                    out.push(Cause::required_because(
                        at("verbs"),
                        "verbs must contain at least one value",
                    ));
                }
                if len(&rule["nonResourceURLs"]) > 0 {
                    let urls = &rule["nonResourceURLs"];
                    if namespaced {
                        out.push(Cause::invalid(
                            at("nonResourceURLs"),
                            urls,
                            "namespaced rules cannot apply to non-resource URLs",
                        ));
                    }
                    if len(&rule["apiGroups"]) > 0
                        || len(&rule["resources"]) > 0
                        || len(&rule["resourceNames"]) > 0
                    {
                        out.push(Cause::invalid(
                            at("nonResourceURLs"),
                            urls,
                            "rules cannot apply to both regular resources and non-resource URLs",
                        ));
                    }
                    continue;
                }
                if len(&rule["apiGroups"]) == 0 {
                    out.push(Cause::required_because(
                        at("apiGroups"),
                        "resource rules must supply at least one api group",
                    ));
                }
                if len(&rule["resources"]) == 0 {
                    out.push(Cause::required_because(
                        at("resources"),
                        "resource rules must supply at least one resource",
                    ));
                }
            }
            let agg = &new["aggregationRule"];
            if !namespaced && agg.is_object() {
                let selectors = &agg["clusterRoleSelectors"];
                if len(selectors) == 0 {
                    out.push(Cause::required_because(
                        "aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil",
                    ));
                }
                for (i, sel) in selectors.as_array().into_iter().flatten().enumerate() {
                    if let Err(e) = crate::auth::rbac::structured_selector(sel) {
                        out.push(Cause::invalid(
                            format!("aggregationRule.clusterRoleSelectors[{i}]"),
                            sel,
                            e,
                        ));
                    }
                }
            }
        }
        _ => {
            let namespaced = plural == "rolebindings";
            let role_ref = &new["roleRef"];
            if role_ref["apiGroup"] != RBAC_GROUP {
                out.push(Cause::not_supported(
                    "roleRef.apiGroup",
                    &role_ref["apiGroup"],
                    &[json!(RBAC_GROUP)],
                ));
            }
            let kinds: &[Value] = if namespaced {
                &[json!("Role"), json!("ClusterRole")]
            } else {
                &[json!("ClusterRole")]
            };
            if !kinds.contains(&role_ref["kind"]) {
                out.push(Cause::not_supported(
                    "roleRef.kind",
                    &role_ref["kind"],
                    kinds,
                ));
            }
            match role_ref["name"].as_str().unwrap_or_default() {
                "" => out.push(Cause::required("roleRef.name")),
                name => {
                    for msg in crate::validation::path_segment_problems(name) {
                        out.push(Cause::invalid("roleRef.name", &role_ref["name"], msg));
                    }
                }
            }
            for (i, s) in new["subjects"].as_array().into_iter().flatten().enumerate() {
                let at = |f: &str| format!("subjects[{i}].{f}");
                let name = s["name"].as_str().unwrap_or_default();
                if name.is_empty() {
                    out.push(Cause::required(at("name")));
                }
                let group = s["apiGroup"].as_str().unwrap_or_default();
                match s["kind"].as_str() {
                    Some("ServiceAccount") => {
                        if !name.is_empty() && !is_dns_subdomain(name) {
                            out.push(Cause::invalid(
                                at("name"),
                                &s["name"],
                                crate::validation::SUBDOMAIN_MSG,
                            ));
                        }
                        if !group.is_empty() {
                            out.push(Cause::not_supported(
                                at("apiGroup"),
                                &s["apiGroup"],
                                &[json!("")],
                            ));
                        }
                        if !namespaced && s["namespace"].as_str().unwrap_or_default().is_empty() {
                            out.push(Cause::required(at("namespace")));
                        }
                    }
                    Some("User" | "Group") => {
                        if group != RBAC_GROUP {
                            out.push(Cause::not_supported(
                                at("apiGroup"),
                                &s["apiGroup"],
                                &[json!(RBAC_GROUP)],
                            ));
                        }
                    }
                    _ => out.push(Cause::not_supported(
                        at("kind"),
                        &s["kind"],
                        &[json!("ServiceAccount"), json!("User"), json!("Group")],
                    )),
                }
            }
            if let Some(o) = old
                && o["roleRef"] != new["roleRef"]
            {
                out.push(Cause::invalid(
                    "roleRef",
                    &new["roleRef"],
                    "cannot change roleRef",
                ));
            }
        }
    }
}

fn service_defaults(tx: &Tx, old: Option<&Value>, new: &mut Value) {
    if !new["spec"].is_object() {
        return;
    }
    let type_ = new["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_owned();
    let spec = object_at(new, &["spec"]);
    spec.insert("type".into(), json!(type_));
    spec.entry("sessionAffinity").or_insert(json!("None"));
    if type_ != "ExternalName" {
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_owned(),
            _ => old
                .and_then(|o| o["spec"]["clusterIP"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| allocate_cluster_ip(tx)),
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
        spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
        spec.entry("internalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert(json!("TCP"));
            if !p.contains_key("targetPort")
                && let Some(port) = p.get("port").cloned()
            {
                p.insert("targetPort".into(), port);
            }
        }
    }
}

/// A free address in 10.96.0.0/12 (the default service range).
fn allocate_cluster_ip(tx: &Tx) -> String {
    let used: std::collections::HashSet<String> = tx
        .keys(&store::prefix("/services", None))
        .iter()
        .filter_map(|k| tx.get(k))
        .filter_map(|o| o.value["spec"]["clusterIP"].as_str().map(str::to_owned))
        .collect();
    loop {
        let n: u32 = rand::random_range(1..(1 << 20) - 1);
        let ip = format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff);
        if !used.contains(&ip) {
            return ip;
        }
    }
}

fn crd_defaults(old: Option<&Value>, new: &mut Value) {
    if old.is_none() {
        let meta = object_at(new, &["metadata"]);
        let fins = meta.entry("finalizers").or_insert(json!([]));
        if let Value::Array(f) = fins
            && !f.iter().any(|x| x == CRD_CLEANUP_FINALIZER)
        {
            f.push(json!(CRD_CLEANUP_FINALIZER));
        }
    }
    let kind = new["spec"]["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if new["spec"]["names"].is_object() {
        let names = object_at(new, &["spec", "names"]);
        names
            .entry("listKind")
            .or_insert(json!(format!("{kind}List")));
        names
            .entry("singular")
            .or_insert(json!(kind.to_lowercase()));
    }
    let now = crate::api::now();
    let storage: Vec<Value> = new["spec"]["versions"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == true)
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    let deleting = new["metadata"]["deletionTimestamp"].is_string();
    let transition = |t: &str| -> String {
        old.and_then(|o| o["status"]["conditions"].as_array())
            .and_then(|cs| cs.iter().find(|c| c["type"] == t))
            .and_then(|c| c["lastTransitionTime"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| now.clone())
    };
    let mut conditions = vec![
        json!({"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
               "message": "no conflicts found", "lastTransitionTime": transition("NamesAccepted")}),
        json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
               "message": "the initial names have been accepted", "lastTransitionTime": transition("Established")}),
    ];
    if deleting {
        conditions.push(json!({"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress", "lastTransitionTime": transition("Terminating")}));
    }
    let mut stored: Vec<Value> = old
        .and_then(|o| o["status"]["storedVersions"].as_array().cloned())
        .unwrap_or_default();
    for s in storage {
        if !stored.contains(&s) {
            stored.push(s);
        }
    }
    let accepted = new["spec"]["names"].clone();
    let status = object_at(new, &["status"]);
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("acceptedNames".into(), accepted);
    status.insert("storedVersions".into(), Value::Array(stored));
}

/// Kind-specific validation: immutable fields and the shape of CRDs and Secrets.
pub fn validate(rt: &ResourceType, old: Option<&Value>, new: &Value, out: &mut Vec<Cause>) {
    if rt.is_custom() {
        return;
    }
    let immutable = |out: &mut Vec<Cause>, path: &[&str]| {
        if let Some(o) = old {
            let (a, b) = (dig(o, path), dig(new, path));
            if a != b {
                out.push(Cause::invalid(
                    path.join("."),
                    b.unwrap_or(&Value::Null),
                    "field is immutable",
                ));
            }
        }
    };
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("apps", "deployments" | "replicasets" | "daemonsets" | "statefulsets") => {
            if new["spec"].is_object() {
                if new["spec"]["selector"].is_null() {
                    out.push(Cause::required("spec.selector"));
                } else if let (Some(sel), Some(labels)) = (
                    new["spec"]["selector"]["matchLabels"].as_object(),
                    new["spec"]["template"]["metadata"]["labels"].as_object(),
                ) && sel.iter().any(|(k, v)| labels.get(k) != Some(v))
                {
                    out.push(Cause::invalid(
                        "spec.template.metadata.labels",
                        &Value::Object(labels.clone()),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            immutable(out, &["spec", "selector"]);
            if rt.plural == "statefulsets" {
                immutable(out, &["spec", "serviceName"]);
                immutable(out, &["spec", "volumeClaimTemplates"]);
                immutable(out, &["spec", "podManagementPolicy"]);
            }
        }
        ("batch", "jobs") => {
            immutable(out, &["spec", "selector"]);
            immutable(out, &["spec", "template"]);
            immutable(out, &["spec", "completions"]);
        }
        ("", "services") => {
            if let Some(o) = old {
                let (a, b) = (
                    o["spec"]["clusterIP"].as_str(),
                    new["spec"]["clusterIP"].as_str(),
                );
                if a.is_some() && b.is_some() && a != b {
                    out.push(Cause::invalid(
                        "spec.clusterIP",
                        &new["spec"]["clusterIP"],
                        "field is immutable",
                    ));
                }
            }
        }
        ("", "persistentvolumeclaims") => {
            immutable(out, &["spec", "accessModes"]);
            immutable(out, &["spec", "storageClassName"]);
            immutable(out, &["spec", "volumeName"]);
        }
        ("", "configmaps" | "secrets") => {
            if let Some(o) = old
                && o["immutable"] == true
            {
                for f in ["data", "binaryData", "stringData"] {
                    if o[f] != new[f] {
                        out.push(Cause::forbidden(
                            f,
                            "field is immutable when `immutable` is set",
                        ));
                    }
                }
                immutable(out, &["immutable"]);
            }
            if rt.plural == "secrets" {
                immutable(out, &["type"]);
                if let Some(data) = new["data"].as_object() {
                    for (k, v) in data {
                        let ok = v.as_str().is_some_and(|s| {
                            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
                        });
                        if !ok {
                            out.push(Cause::invalid(
                                format!("data[{k}]"),
                                v,
                                "must be base64-encoded",
                            ));
                        }
                    }
                }
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => validate_crd(old, new, out),
        (RBAC_GROUP, plural) => validate_rbac(plural, old, new, out),
        _ => {}
    }
}

/// Base64 values as the API server stores them: Go's decoder ignores line breaks (kyaml
/// breaks generated values into lines of 70), and what is stored is re-encoded.
fn canonical_base64(obj: &mut Value, field: &str) {
    use base64::Engine as _;
    let Some(map) = obj[field].as_object_mut() else {
        return;
    };
    for v in map.values_mut() {
        if let Some(s) = v.as_str().filter(|s| s.contains(['\n', '\r'])) {
            let joined: String = s.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&joined) {
                *v = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
        }
    }
}

fn dig<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn validate_crd(old: Option<&Value>, crd: &Value, out: &mut Vec<Cause>) {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if group.is_empty() {
        out.push(Cause::required("spec.group"));
    } else if !group.contains('.') || !is_dns_subdomain(group) {
        out.push(Cause::invalid(
            "spec.group",
            &spec["group"],
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        out.push(Cause::required("spec.names.plural"));
    }
    if spec["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        out.push(Cause::required("spec.names.kind"));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        out.push(Cause::invalid(
            "metadata.name",
            &crd["metadata"]["name"],
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match spec["scope"].as_str() {
        Some("Namespaced" | "Cluster") => {}
        _ => out.push(Cause::not_supported(
            "spec.scope",
            &spec["scope"],
            &[json!("Cluster"), json!("Namespaced")],
        )),
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        out.push(Cause::required("spec.versions"));
    }
    let storage = versions.iter().filter(|v| v["storage"] == true).count();
    if !versions.is_empty() && storage != 1 {
        out.push(Cause::invalid(
            "spec.versions",
            &Value::from(storage),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v["name"].as_str().unwrap_or_default().is_empty() {
            out.push(Cause::required(format!("spec.versions[{i}].name")));
        }
        match v.pointer("/schema/openAPIV3Schema") {
            Some(s) => {
                if let Err(c) =
                    Schema::parse(s, &format!("spec.versions[{i}].schema.openAPIV3Schema"))
                {
                    out.push(c);
                }
            }
            None => out.push(Cause::required(format!(
                "spec.versions[{i}].schema.openAPIV3Schema"
            ))),
        }
    }
    if let Some(o) = old {
        for path in [["spec", "group"], ["spec", "scope"]] {
            if dig(o, &path) != dig(crd, &path) {
                out.push(Cause::invalid(
                    path.join("."),
                    dig(crd, &path).unwrap_or(&Value::Null),
                    "field is immutable",
                ));
            }
        }
    }
}

/// The kinds a CRD serves: one per served version.
pub fn crd_types(crd: &Value) -> Result<Vec<ResourceType>, Cause> {
    let spec = &crd["spec"];
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"] != true {
            continue;
        }
        let version = v["name"].as_str().unwrap_or_default();
        let schema = match v.pointer("/schema/openAPIV3Schema") {
            Some(s) => Some(Arc::new(Schema::parse(s, "openAPIV3Schema")?)),
            None => None,
        };
        let columns = v["additionalPrinterColumns"]
            .as_array()
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: c["name"].as_str().unwrap_or_default().into(),
                        type_: c["type"].as_str().unwrap_or("string").into(),
                        json_path: c["jsonPath"].as_str().unwrap_or_default().into(),
                        priority: c["priority"].as_i64().unwrap_or(0),
                        description: c["description"].as_str().unwrap_or_default().into(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let kind = names["kind"].as_str().unwrap_or_default();
        out.push(ResourceType {
            group: spec["group"].as_str().unwrap_or_default().into(),
            version: version.into(),
            kind: kind.into(),
            plural: names["plural"].as_str().unwrap_or_default().into(),
            singular: names["singular"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| kind.to_lowercase()),
            namespaced: spec["scope"] == "Namespaced",
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status: v.pointer("/subresources/status").is_some(),
            scale: v.pointer("/subresources/scale").is_some(),
            generation: true,
            schema,
            columns,
            selectable_fields: v["selectableFields"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x["jsonPath"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            crd: Some(name.to_owned()),
        });
    }
    Ok(out)
}

/// Objects every cluster starts with: the standard namespaces and priority classes.
pub fn initial_objects() -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        out.push((
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}),
        ));
    }
    for (name, value) in [
        ("system-cluster-critical", 2_000_000_000),
        ("system-node-critical", 2_000_001_000),
    ] {
        out.push((
            "priorityclasses",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                   "value": value, "preemptionPolicy": "PreemptLowerPriority",
                   "description": "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."}),
        ));
    }
    out
}

#[cfg(test)]
mod base64_tests {
    use super::*;

    #[test]
    fn line_broken_base64_is_stored_canonical() {
        let mut s = json!({"data": {"a": "aGVsbG8g\nd29ybGQ=\n", "b": "eA=="}});
        canonical_base64(&mut s, "data");
        assert_eq!(s, json!({"data": {"a": "aGVsbG8gd29ybGQ=", "b": "eA=="}}));
        let mut bad = json!({"data": {"a": "!!\n"}});
        canonical_base64(&mut bad, "data");
        assert_eq!(bad, json!({"data": {"a": "!!\n"}}));
    }
}
