//! Background controllers a cluster normally runs, reduced to what API clients observe:
//! garbage collection through owner references (background, foreground, orphan),
//! namespace and CRD cleanup on deletion, each namespace's `default` ServiceAccount,
//! aggregated ClusterRoles, tokens of `kubernetes.io/service-account-token` Secrets, and
//! (optionally) workload readiness: Deployments, StatefulSets, DaemonSets, ReplicaSets,
//! Jobs, Pods and PVCs get the status a healthy cluster would give them.

use crate::api::{Api, DeleteOpts, Sub, object_at};
use crate::builtin::CRD_CLEANUP_FINALIZER;
use crate::registry::ResourceType;
use crate::store::{self, Event, EventType, Obj};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::{broadcast::error::RecvError, watch};

const MANAGER: &str = "kube-controller-manager";

/// What the token controller signs Secret-held tokens with.
pub struct Tokens {
    /// The signer.
    pub auth: Arc<crate::auth::Authenticator>,
    /// The CA certificate (PEM) a token Secret carries as `ca.crt`.
    pub ca_pem: String,
}

/// Runs until shutdown.
pub async fn run(api: Arc<Api>, tokens: Arc<Tokens>, mut shutdown: watch::Receiver<bool>) {
    let mut live = match api.store.subscribe(api.store.published_rv()) {
        Ok(s) => s.live,
        Err(e) => {
            tracing::error!(error = %e, "controllers could not subscribe to events");
            return;
        }
    };
    resync(&api, &tokens).await;
    loop {
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(e) => handle(&api, &tokens, &e).await,
                Err(RecvError::Lagged(_)) => resync(&api, &tokens).await,
                Err(RecvError::Closed) => return,
            },
            _ = shutdown.changed() => return,
        }
    }
}

fn rt(api: &Api, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
    api.registry.read().lookup(group, version, plural)
}

fn rt_of(api: &Api, obj: &Value) -> Option<Arc<ResourceType>> {
    api.registry.read().by_kind(
        obj["apiVersion"].as_str().unwrap_or_default(),
        obj["kind"].as_str().unwrap_or_default(),
    )
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn ns_of(o: &Value) -> Option<&str> {
    o["metadata"]["namespace"].as_str()
}

fn deleting(o: &Value) -> bool {
    o["metadata"]["deletionTimestamp"].is_string()
}

fn has_finalizer(o: &Value, f: &str) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

async fn resync(api: &Arc<Api>, tokens: &Tokens) {
    aggregate_cluster_roles(api).await;
    let (_, all) = api.store.list("");
    for (_, obj) in all {
        examine(api, &obj).await;
        fill_token_secret(api, tokens, &obj.value).await;
    }
}

async fn handle(api: &Arc<Api>, tokens: &Tokens, e: &Event) {
    if e.obj.value["kind"] == "ClusterRole"
        && e.obj.value["apiVersion"] == "rbac.authorization.k8s.io/v1"
    {
        aggregate_cluster_roles(api).await;
    }
    if e.type_ != EventType::Deleted {
        fill_token_secret(api, tokens, &e.obj.value).await;
    }
    if e.type_ == EventType::Deleted {
        collect_dependents(api, e.obj.uid()).await;
        // Owners waiting in foreground deletion may now go.
        for owner in owner_uids(&e.obj.value) {
            if let Some((_, o)) = api.store.by_uid(&owner) {
                examine(api, &o).await;
            }
        }
        if let Some(ns) = ns_of(&e.obj.value)
            && let Some(n) = api.store.get(&store::key("/namespaces", "", ns))
            && deleting(&n.value)
        {
            finish_namespace(api, &n.value).await;
        }
        if let Some(crd_name) = crd_of(api, &e.obj.value)
            && let Some(crd) = api.store.get(&store::key(
                "apiextensions.k8s.io/customresourcedefinitions",
                "",
                &crd_name,
            ))
            && deleting(&crd.value)
        {
            finish_crd(api, &crd.value).await;
        }
        return;
    }
    examine(api, &e.obj).await;
}

fn crd_of(api: &Api, obj: &Value) -> Option<String> {
    rt_of(api, obj).and_then(|t| t.crd.clone())
}

fn owner_uids(v: &Value) -> Vec<String> {
    v["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["uid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Looks at one live object and does what its state asks for.
async fn examine(api: &Arc<Api>, obj: &Obj) {
    let v = &obj.value;
    let kind = v["kind"].as_str().unwrap_or_default();
    let group = v["apiVersion"].as_str().unwrap_or_default();
    if deleting(v) {
        if has_finalizer(v, "orphan") {
            orphan_dependents(api, v).await;
        }
        if has_finalizer(v, "foregroundDeletion") {
            foreground(api, v).await;
        }
        if group == "v1" && kind == "Namespace" {
            finish_namespace(api, v).await;
        }
        if group == "apiextensions.k8s.io/v1"
            && kind == "CustomResourceDefinition"
            && has_finalizer(v, CRD_CLEANUP_FINALIZER)
        {
            finish_crd(api, v).await;
        }
        return;
    }
    if group == "v1" && kind == "Namespace" {
        ensure_default_service_account(api, name_of(v)).await;
    }
    if api.simulate {
        simulate(api, v).await;
    }
}

async fn delete_quietly(
    api: &Arc<Api>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    propagation: &str,
) {
    let opts = DeleteOpts {
        propagation: Some(propagation.into()),
        ..Default::default()
    };
    if let Err(e) = api.delete(rt, ns, name, &opts).await
        && e.code != 404
    {
        tracing::warn!(error = %e, name, "garbage collection could not delete an object");
    }
}

/// Deletes the dependents of a removed owner whose owners are all gone.
async fn collect_dependents(api: &Arc<Api>, owner_uid: &str) {
    if owner_uid.is_empty() {
        return;
    }
    for key in api.store.dependents(owner_uid) {
        let Some(dep) = api.store.get(&key) else {
            continue;
        };
        let alive = owner_uids(&dep.value)
            .iter()
            .any(|u| api.store.by_uid(u).is_some());
        if alive || deleting(&dep.value) {
            continue;
        }
        if let Some(t) = rt_of(api, &dep.value) {
            delete_quietly(
                api,
                &t,
                ns_of(&dep.value),
                name_of(&dep.value),
                "Background",
            )
            .await;
        }
    }
}

async fn remove_finalizer(api: &Arc<Api>, v: &Value, finalizer: &str) {
    let Some(t) = rt_of(api, v) else { return };
    let f = finalizer.to_owned();
    let r = api
        .update_with(&t, ns_of(v), name_of(v), Sub::Main, MANAGER, move |o| {
            let Some(list) = o["metadata"]["finalizers"].as_array() else {
                return false;
            };
            let kept: Vec<Value> = list.iter().filter(|x| **x != f.as_str()).cloned().collect();
            if kept.len() == list.len() {
                return false;
            }
            object_at(o, &["metadata"]).insert("finalizers".into(), Value::Array(kept));
            true
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, finalizer, "could not remove a finalizer");
    }
}

async fn foreground(api: &Arc<Api>, owner: &Value) {
    let uid = owner["metadata"]["uid"].as_str().unwrap_or_default();
    let deps = api.store.dependents(uid);
    if deps.is_empty() {
        remove_finalizer(api, owner, "foregroundDeletion").await;
        return;
    }
    for key in deps {
        let Some(dep) = api.store.get(&key) else {
            continue;
        };
        if deleting(&dep.value) {
            continue;
        }
        if let Some(t) = rt_of(api, &dep.value) {
            delete_quietly(
                api,
                &t,
                ns_of(&dep.value),
                name_of(&dep.value),
                "Foreground",
            )
            .await;
        }
    }
}

async fn orphan_dependents(api: &Arc<Api>, owner: &Value) {
    let uid = owner["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for key in api.store.dependents(&uid) {
        let Some(dep) = api.store.get(&key) else {
            continue;
        };
        let Some(t) = rt_of(api, &dep.value) else {
            continue;
        };
        let u = uid.clone();
        let r = api
            .update_with(
                &t,
                ns_of(&dep.value),
                name_of(&dep.value),
                Sub::Main,
                MANAGER,
                move |o| {
                    let Some(refs) = o["metadata"]["ownerReferences"].as_array() else {
                        return false;
                    };
                    let kept: Vec<Value> = refs
                        .iter()
                        .filter(|r| r["uid"] != u.as_str())
                        .cloned()
                        .collect();
                    let meta = object_at(o, &["metadata"]);
                    if kept.is_empty() {
                        meta.remove("ownerReferences");
                    } else {
                        meta.insert("ownerReferences".into(), Value::Array(kept));
                    }
                    true
                },
            )
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not orphan a dependent");
        }
    }
    remove_finalizer(api, owner, "orphan").await;
}

/// Deletes the contents of a terminating namespace; once empty, clears its finalizers so
/// it goes.
async fn finish_namespace(api: &Arc<Api>, ns: &Value) {
    let name = name_of(ns).to_owned();
    let storages: BTreeSet<String> = api
        .registry
        .read()
        .all()
        .iter()
        .filter(|t| t.namespaced)
        .map(|t| t.storage())
        .collect();
    let mut remaining = 0;
    for storage in storages {
        let (_, items) = api.store.list(&store::prefix(&storage, Some(&name)));
        for (_, obj) in items {
            remaining += 1;
            if deleting(&obj.value) {
                continue;
            }
            if let Some(t) = rt_of(api, &obj.value) {
                delete_quietly(api, &t, Some(&name), name_of(&obj.value), "Background").await;
            }
        }
    }
    if remaining > 0 {
        // Deleted objects come back here through their DELETED events.
        let still = api
            .registry
            .read()
            .all()
            .iter()
            .filter(|t| t.namespaced)
            .any(|t| {
                !api.store
                    .list(&store::prefix(&t.storage(), Some(&name)))
                    .1
                    .is_empty()
            });
        if still {
            return;
        }
    }
    let Some(t) = rt(api, "", "v1", "namespaces") else {
        return;
    };
    let r = api
        .update_with(&t, None, &name, Sub::Finalize, MANAGER, |o| {
            if o["spec"]["finalizers"]
                .as_array()
                .is_none_or(|a| a.is_empty())
            {
                return false;
            }
            object_at(o, &["spec"]).insert("finalizers".into(), json!([]));
            true
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, namespace = name, "could not finalize a namespace");
    }
}

/// Deletes the objects of a CRD being deleted; once none are left, lets the CRD go.
async fn finish_crd(api: &Arc<Api>, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
    let storage = format!("{group}/{plural}");
    let (_, items) = api.store.list(&store::prefix(&storage, None));
    if items.is_empty() {
        remove_finalizer(api, crd, CRD_CLEANUP_FINALIZER).await;
        return;
    }
    for (_, obj) in items {
        if deleting(&obj.value) {
            continue;
        }
        if let Some(t) = rt_of(api, &obj.value) {
            delete_quietly(
                api,
                &t,
                ns_of(&obj.value),
                name_of(&obj.value),
                "Background",
            )
            .await;
        }
    }
}

/// Gives every aggregated ClusterRole the rules of the ClusterRoles it selects. Returns
/// whether a role changed (its update is an event that runs this again, so chains of
/// aggregated roles settle).
pub async fn aggregate_cluster_roles(api: &Arc<Api>) -> bool {
    let Some(t) = rt(api, crate::auth::RBAC_GROUP, "v1", "clusterroles") else {
        return false;
    };
    let (_, roles) = api.store.list(&store::prefix(&t.storage(), None));
    let mut changed = false;
    for (_, role) in roles {
        let Some(rules) = crate::auth::aggregated_rules(&api.store, &role.value) else {
            continue;
        };
        let current = role.value["rules"].as_array().cloned().unwrap_or_default();
        if current == rules {
            continue;
        }
        let name = name_of(&role.value).to_owned();
        match api
            .update_with(
                &t,
                None,
                &name,
                Sub::Main,
                "clusterrole-aggregation-controller",
                |o| {
                    o["rules"] = Value::Array(rules);
                    true
                },
            )
            .await
        {
            Ok(_) => changed = true,
            Err(e) => tracing::warn!(error = %e, role = %name, "could not aggregate a ClusterRole"),
        }
    }
    changed
}

/// Fills a `kubernetes.io/service-account-token` Secret with a token of its service
/// account, the CA certificate and the namespace, as the token controller does.
async fn fill_token_secret(api: &Arc<Api>, tokens: &Tokens, v: &Value) {
    if v["apiVersion"] != "v1"
        || v["kind"] != "Secret"
        || v["type"] != "kubernetes.io/service-account-token"
        || !v["data"]["token"].is_null()
        || deleting(v)
    {
        return;
    }
    let (Some(ns), name) = (ns_of(v), name_of(v)) else {
        return;
    };
    let Some(sa_name) = v["metadata"]["annotations"]["kubernetes.io/service-account.name"].as_str()
    else {
        return;
    };
    let Some(sa) = api.store.get(&store::key("/serviceaccounts", ns, sa_name)) else {
        return;
    };
    let Some(t) = rt(api, "", "v1", "secrets") else {
        return;
    };
    let uid = sa.uid().to_owned();
    let token = tokens.auth.issue_legacy(ns, sa_name, &uid, name);
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    let result = api
        .update_with(&t, Some(ns), name, Sub::Main, MANAGER, |o| {
            if !o["data"]["token"].is_null() {
                return false;
            }
            object_at(o, &["metadata", "annotations"])
                .insert("kubernetes.io/service-account.uid".into(), json!(uid));
            let data = object_at(o, &["data"]);
            data.insert("token".into(), json!(b64(&token)));
            data.insert("ca.crt".into(), json!(b64(&tokens.ca_pem)));
            data.insert("namespace".into(), json!(b64(ns)));
            true
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, namespace = ns, secret = name, "could not fill a service account token Secret");
    }
}

async fn ensure_default_service_account(api: &Arc<Api>, ns: &str) {
    let Some(t) = rt(api, "", "v1", "serviceaccounts") else {
        return;
    };
    if api
        .store
        .get(&store::key(&t.storage(), ns, "default"))
        .is_some()
    {
        return;
    }
    let ctx = crate::api::WriteCtx {
        manager: MANAGER.into(),
        dry_run: false,
        force: false,
        field_validation: crate::api::FieldValidation::Ignore,
        user: None,
    };
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
    if let Err(e) = api.create(&t, Some(ns), sa, &ctx).await
        && e.code != 409
        && e.code != 403
        && e.code != 404
    {
        tracing::warn!(error = %e, namespace = ns, "could not create the default ServiceAccount");
    }
}

fn short_hash(v: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    crate::fieldset::canonical_json(v).hash(&mut h);
    format!("{:x}", h.finish()).chars().take(10).collect()
}

fn replicas(v: &Value) -> i64 {
    v["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// Annotation choosing a simulated outcome other than success: `failed` or `pending`.
pub const SIMULATE_ANNOTATION: &str = "apiserver.gitops.dev/simulate";

/// The status of a workload that failed (`simulate: failed`), for the kinds that can fail.
fn failed_status(v: &Value) -> Option<Value> {
    let now = crate::api::now();
    let generation = v["metadata"]["generation"].clone();
    Some(match (v["apiVersion"].as_str()?, v["kind"].as_str()?) {
        ("batch/v1", "Job") => json!({
            "startTime": v["status"]["startTime"].as_str().unwrap_or(&now), "failed": 1, "ready": 0, "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
            ],
        }),
        ("v1", "Pod") => {
            json!({"phase": "Failed", "startTime": now, "reason": "Error", "message": "simulated failure"})
        }
        ("apps/v1", "Deployment") => json!({"observedGeneration": generation, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": format!("ReplicaSet \"{}\" has timed out progressing.", name_of(v)),
             "lastUpdateTime": now, "lastTransitionTime": now},
        ]}),
        _ => return None,
    })
}

/// The status a healthy cluster would report, or `None` when the kind is not simulated.
fn desired_status(v: &Value) -> Option<Value> {
    match v["metadata"]["annotations"][SIMULATE_ANNOTATION].as_str() {
        Some("pending") => return None,
        Some("failed") => return failed_status(v),
        _ => {}
    }
    let generation = v["metadata"]["generation"].clone();
    let name = name_of(v);
    let now = crate::api::now();
    let cond = |t: &str, reason: &str, message: String| {
        json!({"type": t, "status": "True", "reason": reason, "message": message,
               "lastUpdateTime": now, "lastTransitionTime": now})
    };
    let set_counts = |s: &mut Value, fields: &[&str], n: i64| {
        for f in fields {
            if n > 0 {
                s[*f] = json!(n);
            }
        }
    };
    Some(match (v["apiVersion"].as_str()?, v["kind"].as_str()?) {
        ("apps/v1", "Deployment") => {
            let n = replicas(v);
            let mut s = json!({"observedGeneration": generation, "conditions": [
                cond("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.".into()),
                cond("Progressing", "NewReplicaSetAvailable",
                     format!("ReplicaSet \"{name}-{}\" has successfully progressed.", short_hash(&v["spec"]["template"]))),
            ]});
            set_counts(
                &mut s,
                &[
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                ],
                n,
            );
            s
        }
        ("apps/v1", "StatefulSet") => {
            let n = replicas(v);
            let rev = format!("{name}-{}", short_hash(&v["spec"]["template"]));
            let mut s = json!({"observedGeneration": generation, "currentRevision": rev, "updateRevision": rev, "collisionCount": 0});
            s["replicas"] = json!(n);
            set_counts(
                &mut s,
                &[
                    "readyReplicas",
                    "currentReplicas",
                    "updatedReplicas",
                    "availableReplicas",
                ],
                n,
            );
            s
        }
        ("apps/v1", "DaemonSet") => json!({
            "observedGeneration": generation, "currentNumberScheduled": 1, "desiredNumberScheduled": 1,
            "numberAvailable": 1, "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1,
        }),
        ("apps/v1", "ReplicaSet") => {
            let n = replicas(v);
            let mut s = json!({"observedGeneration": generation, "replicas": n});
            set_counts(
                &mut s,
                &["readyReplicas", "availableReplicas", "fullyLabeledReplicas"],
                n,
            );
            s
        }
        ("batch/v1", "Job") => {
            if v["spec"]["suspend"] == true {
                return None;
            }
            let start = v["status"]["startTime"].as_str().unwrap_or(&now).to_owned();
            let jc = |t: &str, reason: &str, message: &str| {
                json!({"type": t, "status": "True", "reason": reason, "message": message,
                       "lastProbeTime": now, "lastTransitionTime": now})
            };
            json!({
                "startTime": start, "completionTime": now,
                "succeeded": v["spec"]["completions"].as_i64().unwrap_or(1),
                "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
                "conditions": [
                    jc("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    jc("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ],
            })
        }
        ("v1", "PersistentVolumeClaim") => json!({
            "phase": "Bound",
            "accessModes": v["spec"]["accessModes"],
            "capacity": {"storage": v["spec"]["resources"]["requests"]["storage"]},
        }),
        ("v1", "Pod") => {
            let pc = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
            let statuses: Vec<Value> = v["spec"]["containers"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                                         "restartCount": 0, "state": {"running": {"startedAt": now}}}))
                        .collect()
                })
                .unwrap_or_default();
            json!({"phase": "Running", "startTime": now, "podIP": "10.244.0.10", "hostIP": "127.0.0.1",
                   "conditions": [pc("PodReadyToStartContainers"), pc("Initialized"), pc("Ready"), pc("ContainersReady"), pc("PodScheduled")],
                   "containerStatuses": statuses})
        }
        _ => return None,
    })
}

/// Status compared without timestamps, so simulated updates happen only on real changes.
fn without_times(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "lastUpdateTime"
                            | "lastTransitionTime"
                            | "lastProbeTime"
                            | "startTime"
                            | "completionTime"
                            | "startedAt"
                    )
                })
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

async fn simulate(api: &Arc<Api>, v: &Value) {
    let Some(desired) = desired_status(v) else {
        return;
    };
    if without_times(&v["status"]) == without_times(&desired) {
        return;
    }
    // A finished Job stays finished.
    if v["kind"] == "Job" && v["status"]["completionTime"].is_string() {
        return;
    }
    let Some(t) = rt_of(api, v) else { return };
    let r = api
        .update_with(&t, ns_of(v), name_of(v), Sub::Status, MANAGER, move |o| {
            if without_times(&o["status"]) == without_times(&desired) {
                return false;
            }
            object_at(o, &[]).insert("status".into(), desired);
            true
        })
        .await;
    if let Err(e) = r {
        tracing::debug!(error = %e, "simulated status update failed");
    }
}
