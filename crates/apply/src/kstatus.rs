//! Health of an object by kstatus rules (the rules Flux's health checks use).
//!
//! [`compute`] looks at one live object and says whether it is `Current` (reconciled and
//! ready), `InProgress`, `Failed`, `Terminating`, with a human message.

use serde_json::Value;
use std::fmt;

/// The kstatus of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not yet in the desired state.
    InProgress,
    /// Failed; waiting longer will not help.
    Failed,
    /// Reconciled and ready.
    Current,
    /// Being deleted.
    Terminating,
    /// Absent from the cluster.
    NotFound,
    /// Could not be determined.
    Unknown,
}

impl Status {
    /// kstatus's spelling: `InProgress`, `Failed`, `Current`, `Terminating`, `NotFound`,
    /// `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn cond_is(obj: &Value, type_: &str, status: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c["status"] == status)
}

fn msg(c: &Value) -> String {
    c["message"].as_str().unwrap_or_default().to_owned()
}

fn in_progress(m: impl Into<String>) -> (Status, String) {
    (Status::InProgress, m.into())
}

fn current(m: impl Into<String>) -> (Status, String) {
    (Status::Current, m.into())
}

/// The status of a live object and a message saying why.
pub fn compute(obj: &Value) -> (Status, String) {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    if obj["metadata"]["deletionTimestamp"].is_string() {
        return (
            Status::Terminating,
            "Resource scheduled for deletion".into(),
        );
    }
    // Generic properties: the controller has seen the latest generation, and the
    // Reconciling / Stalled conditions.
    let generation = int(&obj["metadata"]["generation"]);
    let observed = int(&obj["status"]["observedGeneration"]);
    if let (Some(g), Some(o)) = (generation, observed)
        && g != o
    {
        return in_progress(format!(
            "{kind} generation is {g}, but latest observed generation is {o}"
        ));
    }
    if let Some(c) = condition(obj, "Reconciling")
        && c["status"] == "True"
    {
        return in_progress(msg(c));
    }
    if let Some(c) = condition(obj, "Stalled")
        && c["status"] == "True"
    {
        return (Status::Failed, msg(c));
    }
    let builtin = match (group, kind) {
        ("apps", "Deployment") => Some(deployment(obj)),
        ("apps", "StatefulSet") => Some(statefulset(obj)),
        ("apps", "DaemonSet") => Some(daemonset(obj)),
        ("apps", "ReplicaSet") => Some(replicaset(obj)),
        ("batch", "Job") => Some(job(obj)),
        ("", "Pod") => Some(pod(obj)),
        ("", "PersistentVolumeClaim") => Some(pvc(obj)),
        ("", "Service") => Some(service(obj)),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Some(crd(obj)),
        ("policy", "PodDisruptionBudget") => Some(pdb(obj)),
        _ => None,
    };
    if let Some(s) = builtin {
        return s;
    }
    generic(obj, group, generation, observed)
}

/// Custom resources: the `Ready` condition when there is one (Flux's kinds must have it,
/// at the latest generation).
fn generic(
    obj: &Value,
    group: &str,
    generation: Option<i64>,
    observed: Option<i64>,
) -> (Status, String) {
    let flux = group.ends_with(".toolkit.fluxcd.io");
    if flux && generation.is_some() && observed.is_none() {
        return in_progress("Waiting for the controller to observe the latest generation");
    }
    match condition(obj, "Ready") {
        Some(c) if c["status"] == "True" => current(msg(c)),
        Some(c) if c["status"] == "False" => {
            // A failed reconciliation the controller will not retry on its own is
            // reported Stalled (handled above); otherwise it is still progressing.
            in_progress(msg(c))
        }
        Some(c) => in_progress(msg(c)),
        None if flux => in_progress("Waiting for the Ready condition"),
        None => current("Resource is current"),
    }
}

fn replicas_spec(obj: &Value) -> i64 {
    int(&obj["spec"]["replicas"]).unwrap_or(1)
}

fn status_i(obj: &Value, f: &str) -> i64 {
    int(&obj["status"][f]).unwrap_or(0)
}

fn deployment(obj: &Value) -> (Status, String) {
    if obj["status"]["observedGeneration"].is_null() {
        return in_progress("Deployment has not been observed by its controller yet");
    }
    let mut progressing = false;
    let mut available = false;
    if let Some(conds) = obj["status"]["conditions"].as_array() {
        for c in conds {
            match c["type"].as_str() {
                Some("Progressing") => {
                    if c["reason"] == "ProgressDeadlineExceeded" {
                        return (Status::Failed, "Progress deadline exceeded".into());
                    }
                    if c["status"] == "True" && c["reason"] == "NewReplicaSetAvailable" {
                        progressing = true;
                    }
                }
                Some("Available") if c["status"] == "True" => available = true,
                _ => {}
            }
        }
    }
    let spec = replicas_spec(obj);
    let replicas = status_i(obj, "replicas");
    let updated = status_i(obj, "updatedReplicas");
    let ready = status_i(obj, "readyReplicas");
    let avail = status_i(obj, "availableReplicas");
    if spec > replicas {
        return in_progress(format!("Replicas: {replicas}/{spec}"));
    }
    if spec > updated {
        return in_progress(format!("Updated: {updated}/{spec}"));
    }
    if replicas > spec {
        return in_progress(format!("Pending termination: {}", replicas - spec));
    }
    if updated > avail {
        return in_progress(format!("Available: {avail}/{updated}"));
    }
    if spec > ready {
        return in_progress(format!("Ready: {ready}/{spec}"));
    }
    if !progressing {
        return in_progress("ReplicaSet not Available");
    }
    if !available {
        return in_progress("Deployment not Available");
    }
    current(format!("Deployment is available. Replicas: {replicas}"))
}

fn statefulset(obj: &Value) -> (Status, String) {
    if obj["status"]["observedGeneration"].is_null() {
        return in_progress("StatefulSet has not been observed by its controller yet");
    }
    if obj["spec"]["updateStrategy"]["type"] == "OnDelete" {
        return current("StatefulSet is using the onDelete update strategy");
    }
    let spec = replicas_spec(obj);
    let replicas = status_i(obj, "replicas");
    let ready = status_i(obj, "readyReplicas");
    let current_r = status_i(obj, "currentReplicas");
    let updated = status_i(obj, "updatedReplicas");
    if spec > replicas {
        return in_progress(format!("Replicas: {replicas}/{spec}"));
    }
    if spec > ready {
        return in_progress(format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return in_progress(format!("Pending termination: {}", replicas - spec));
    }
    if let Some(partition) = int(&obj["spec"]["updateStrategy"]["rollingUpdate"]["partition"]) {
        let expected = (spec - partition).max(0);
        if updated < expected {
            return in_progress(format!("updated: {updated}/{expected}"));
        }
        return current(format!("Partition rollout complete. updated: {updated}"));
    }
    if spec > current_r {
        return in_progress(format!("current: {current_r}/{spec}"));
    }
    let cur_rev = obj["status"]["currentRevision"]
        .as_str()
        .unwrap_or_default();
    let upd_rev = obj["status"]["updateRevision"].as_str().unwrap_or_default();
    if cur_rev != upd_rev {
        return in_progress(format!(
            "Waiting for updated revision {upd_rev} to match current {cur_rev}"
        ));
    }
    current(format!(
        "All replicas scheduled as expected. Replicas: {replicas}"
    ))
}

fn daemonset(obj: &Value) -> (Status, String) {
    if obj["status"]["observedGeneration"].is_null() {
        return in_progress("DaemonSet has not been observed by its controller yet");
    }
    let Some(desired) = int(&obj["status"]["desiredNumberScheduled"]) else {
        return in_progress("Missing .status.desiredNumberScheduled");
    };
    let scheduled = status_i(obj, "currentNumberScheduled");
    let updated = status_i(obj, "updatedNumberScheduled");
    let available = status_i(obj, "numberAvailable");
    let ready = status_i(obj, "numberReady");
    if desired > scheduled {
        return in_progress(format!("Current: {scheduled}/{desired}"));
    }
    if desired > updated {
        return in_progress(format!("Updated: {updated}/{desired}"));
    }
    if desired > available {
        return in_progress(format!("Available: {available}/{desired}"));
    }
    if desired > ready {
        return in_progress(format!("Ready: {ready}/{desired}"));
    }
    current(format!(
        "All replicas scheduled as expected. Replicas: {desired}"
    ))
}

fn replicaset(obj: &Value) -> (Status, String) {
    if obj["status"]["observedGeneration"].is_null() {
        return in_progress("ReplicaSet has not been observed by its controller yet");
    }
    if cond_is(obj, "ReplicaFailure", "True") {
        return in_progress("Replica Failure condition. Check Pods");
    }
    let spec = replicas_spec(obj);
    let replicas = status_i(obj, "replicas");
    let labeled = status_i(obj, "fullyLabeledReplicas");
    let available = status_i(obj, "availableReplicas");
    let ready = status_i(obj, "readyReplicas");
    if spec > labeled {
        return in_progress(format!("Labelled: {labeled}/{spec}"));
    }
    if spec > available {
        return in_progress(format!("Available: {available}/{spec}"));
    }
    if spec > ready {
        return in_progress(format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return in_progress(format!("Pending termination: {}", replicas - spec));
    }
    current(format!("ReplicaSet is available. Replicas: {replicas}"))
}

fn job(obj: &Value) -> (Status, String) {
    let parallelism = int(&obj["spec"]["parallelism"]).unwrap_or(1);
    let completions = int(&obj["spec"]["completions"]).unwrap_or(parallelism);
    let succeeded = status_i(obj, "succeeded");
    let failed = status_i(obj, "failed");
    let active = status_i(obj, "active");
    if let Some(conds) = obj["status"]["conditions"].as_array() {
        for c in conds {
            if c["status"] != "True" {
                continue;
            }
            match c["type"].as_str() {
                Some("Complete") => {
                    return current(format!(
                        "Job Completed. succeeded: {succeeded}/{completions}"
                    ));
                }
                Some("Failed") => {
                    let m = msg(c);
                    return (
                        Status::Failed,
                        if m.is_empty() {
                            format!("Job Failed. failed: {failed}/{completions}")
                        } else {
                            format!("Job Failed. failed: {failed}/{completions}: {m}")
                        },
                    );
                }
                _ => {}
            }
        }
    }
    if obj["status"]["startTime"].is_null() {
        return in_progress("Job not started");
    }
    in_progress(format!(
        "Job in progress. success:{succeeded}, active: {active}, failed: {failed}"
    ))
}

fn pod(obj: &Value) -> (Status, String) {
    let phase = obj["status"]["phase"].as_str().unwrap_or_default();
    match phase {
        "Succeeded" => return current("Pod has completed successfully"),
        "Failed" => {
            return (
                Status::Failed,
                "Pod has completed, but not successfully".into(),
            );
        }
        _ => {}
    }
    for list in ["initContainerStatuses", "containerStatuses"] {
        if let Some(cs) = obj["status"][list].as_array() {
            for c in cs {
                let reason = c["state"]["waiting"]["reason"].as_str().unwrap_or_default();
                if matches!(
                    reason,
                    "CrashLoopBackOff"
                        | "ImagePullBackOff"
                        | "ErrImagePull"
                        | "CreateContainerConfigError"
                ) {
                    return (
                        Status::Failed,
                        format!(
                            "Pod container {} is in {reason}",
                            c["name"].as_str().unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }
    if phase == "Running" && cond_is(obj, "Ready", "True") {
        return current("Pod is Ready");
    }
    if phase == "Running" {
        return in_progress("Pod is running but is not Ready");
    }
    if phase.is_empty() {
        return in_progress("Pod has not been scheduled");
    }
    in_progress(format!("Pod is in the {phase} phase"))
}

fn pvc(obj: &Value) -> (Status, String) {
    let phase = obj["status"]["phase"].as_str().unwrap_or_default();
    if phase == "Bound" {
        current("PVC is Bound")
    } else {
        in_progress(format!("PVC is not Bound. phase: {phase}"))
    }
}

fn service(obj: &Value) -> (Status, String) {
    if obj["spec"]["type"] == "LoadBalancer" {
        if obj["spec"]["clusterIP"].as_str().is_none_or(str::is_empty) {
            return in_progress("ClusterIP not set");
        }
        if obj["status"]["loadBalancer"]["ingress"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            return in_progress("LoadBalancer has no ingress yet");
        }
    }
    current("Service is ready")
}

fn crd(obj: &Value) -> (Status, String) {
    if let Some(c) = condition(obj, "NamesAccepted")
        && c["status"] == "False"
    {
        return (
            Status::Failed,
            format!("CRD names not accepted: {}", msg(c)),
        );
    }
    if cond_is(obj, "Established", "True") {
        return current("CRD is established");
    }
    in_progress("CRD is not established")
}

fn pdb(obj: &Value) -> (Status, String) {
    if obj["status"]["observedGeneration"].is_null() {
        return in_progress("PodDisruptionBudget has not been observed by its controller yet");
    }
    current("Budget is current")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(status: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "app", "namespace": "default", "generation": 2},
               "spec": {"replicas": 2}, "status": status})
    }

    fn ok_conds() -> Value {
        json!([
            {"type": "Available", "status": "True"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        ])
    }

    #[test]
    fn deployments() {
        let s = compute(&deploy(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
            "readyReplicas": 2, "availableReplicas": 2, "conditions": ok_conds()}),
        ));
        assert_eq!(
            s,
            (
                Status::Current,
                "Deployment is available. Replicas: 2".into()
            )
        );
        let s = compute(&deploy(json!({"observedGeneration": 1, "replicas": 2})));
        assert_eq!(s.0, Status::InProgress);
        assert!(s.1.contains("generation is 2"), "{}", s.1);
        let s = compute(&deploy(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
            "readyReplicas": 2, "availableReplicas": 1, "conditions": ok_conds()}),
        ));
        assert_eq!(s, (Status::InProgress, "Available: 1/2".into()));
        let s = compute(&deploy(json!({"observedGeneration": 2, "replicas": 1})));
        assert_eq!(s, (Status::InProgress, "Replicas: 1/2".into()));
        let s = compute(&deploy(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
            "readyReplicas": 2, "availableReplicas": 2,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        ));
        assert_eq!(s, (Status::Failed, "Progress deadline exceeded".into()));
        let s = compute(&deploy(
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2,
            "readyReplicas": 2, "availableReplicas": 2, "conditions": ok_conds()}),
        ));
        assert_eq!(s, (Status::InProgress, "Pending termination: 1".into()));
        let s = compute(&deploy(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
            "readyReplicas": 2, "availableReplicas": 2,
            "conditions": [{"type": "Available", "status": "True"}]}),
        ));
        assert_eq!(s, (Status::InProgress, "ReplicaSet not Available".into()));
        assert_eq!(compute(&deploy(Value::Null)).0, Status::InProgress);
        let mut d = deploy(Value::Null);
        d["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert_eq!(compute(&d).0, Status::Terminating);
    }

    #[test]
    fn statefulsets() {
        let ss = |status: Value, strategy: Value| {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "generation": 1},
                   "spec": {"replicas": 2, "updateStrategy": strategy}, "status": status})
        };
        let good = json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "currentReplicas": 2,
            "updatedReplicas": 2, "currentRevision": "r1", "updateRevision": "r1"});
        assert_eq!(compute(&ss(good.clone(), json!({}))).0, Status::Current);
        let mut rev = good.clone();
        rev["updateRevision"] = json!("r2");
        assert_eq!(compute(&ss(rev.clone(), json!({}))).0, Status::InProgress);
        assert_eq!(
            compute(&ss(rev, json!({"type": "OnDelete"}))).0,
            Status::Current
        );
        let mut part = good.clone();
        part["updatedReplicas"] = json!(0);
        let s = compute(&ss(part, json!({"rollingUpdate": {"partition": 1}})));
        assert_eq!(s, (Status::InProgress, "updated: 0/1".into()));
        let mut notready = good;
        notready["readyReplicas"] = json!(1);
        assert_eq!(
            compute(&ss(notready, json!({}))),
            (Status::InProgress, "Ready: 1/2".into())
        );
    }

    #[test]
    fn daemonsets_and_replicasets() {
        let ds = |status: Value| json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "generation": 1}, "status": status});
        assert_eq!(compute(&ds(json!({"observedGeneration": 1, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1}))).0, Status::Current);
        assert_eq!(
            compute(&ds(
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
            "updatedNumberScheduled": 2, "numberAvailable": 1, "numberReady": 1})
            )),
            (Status::InProgress, "Available: 1/2".into())
        );
        assert_eq!(
            compute(&ds(json!({"observedGeneration": 1}))).0,
            Status::InProgress
        );
        let rs = |status: Value| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r", "generation": 1}, "spec": {"replicas": 1}, "status": status});
        assert_eq!(
            compute(&rs(
                json!({"observedGeneration": 1, "replicas": 1, "fullyLabeledReplicas": 1,
            "availableReplicas": 1, "readyReplicas": 1})
            ))
            .0,
            Status::Current
        );
        assert_eq!(
            compute(&rs(
                json!({"observedGeneration": 1, "replicas": 1, "fullyLabeledReplicas": 1,
            "availableReplicas": 0, "readyReplicas": 0})
            )),
            (Status::InProgress, "Available: 0/1".into())
        );
        assert_eq!(compute(&rs(json!({"observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "True"}]}))).0,
            Status::InProgress);
    }

    #[test]
    fn jobs() {
        let job = |status: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}, "status": status});
        assert_eq!(
            compute(&job(json!({}))),
            (Status::InProgress, "Job not started".into())
        );
        assert_eq!(
            compute(&job(json!({"startTime": "x", "active": 1}))).0,
            Status::InProgress
        );
        assert_eq!(
            compute(&job(json!({"startTime": "x", "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}]}))),
            (Status::Current, "Job Completed. succeeded: 1/1".into())
        );
        let s = compute(&job(json!({"startTime": "x", "failed": 3,
            "conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]})));
        assert_eq!(s.0, Status::Failed);
        assert!(s.1.contains("failed: 3/1"), "{}", s.1);
    }

    #[test]
    fn pods_pvcs_services() {
        let pod = |status: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": status});
        assert_eq!(
            compute(&pod(
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
            ))
            .0,
            Status::Current
        );
        assert_eq!(
            compute(&pod(json!({"phase": "Running"}))).0,
            Status::InProgress
        );
        assert_eq!(
            compute(&pod(json!({"phase": "Pending"}))),
            (Status::InProgress, "Pod is in the Pending phase".into())
        );
        assert_eq!(
            compute(&pod(json!({"phase": "Succeeded"}))).0,
            Status::Current
        );
        assert_eq!(compute(&pod(json!({"phase": "Failed"}))).0, Status::Failed);
        assert_eq!(
            compute(&pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})))
            .0,
            Status::Failed
        );
        let pvc = |phase: &str| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "status": {"phase": phase}});
        assert_eq!(compute(&pvc("Bound")).0, Status::Current);
        assert_eq!(
            compute(&pvc("Pending")),
            (
                Status::InProgress,
                "PVC is not Bound. phase: Pending".into()
            )
        );
        let svc = |spec: Value, status: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec, "status": status});
        assert_eq!(
            compute(&svc(
                json!({"type": "ClusterIP", "clusterIP": "10.0.0.1"}),
                json!({})
            ))
            .0,
            Status::Current
        );
        assert_eq!(
            compute(&svc(
                json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"}),
                json!({"loadBalancer": {}})
            ))
            .0,
            Status::InProgress
        );
        assert_eq!(
            compute(&svc(
                json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"}),
                json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
            ))
            .0,
            Status::Current
        );
    }

    #[test]
    fn crds_and_custom_resources() {
        let crd = |conds: Value| {
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "w.example.com"}, "status": {"conditions": conds}})
        };
        assert_eq!(
            compute(&crd(json!([{"type": "Established", "status": "True"}]))).0,
            Status::Current
        );
        assert_eq!(compute(&crd(json!([]))).0, Status::InProgress);
        assert_eq!(
            compute(&crd(
                json!([{"type": "NamesAccepted", "status": "False", "message": "clash"}])
            ))
            .0,
            Status::Failed
        );

        // Objects without status are current.
        assert_eq!(
            compute(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})).0,
            Status::Current
        );
        let cr = |generation: i64, status: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "generation": generation}, "status": status});
        assert_eq!(
            compute(&cr(
                1,
                json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "message": "ok"}]})
            )),
            (Status::Current, "ok".into())
        );
        assert_eq!(
            compute(&cr(
                1,
                json!({"conditions": [{"type": "Ready", "status": "False", "message": "not yet"}]})
            )),
            (Status::InProgress, "not yet".into())
        );
        assert_eq!(
            compute(&cr(
                1,
                json!({"conditions": [{"type": "Reconciling", "status": "True", "message": "working"}]})
            )),
            (Status::InProgress, "working".into())
        );
        assert_eq!(
            compute(&cr(
                1,
                json!({"conditions": [{"type": "Stalled", "status": "True", "message": "broken"}]})
            )),
            (Status::Failed, "broken".into())
        );
        assert_eq!(compute(&cr(2, json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}))).0,
            Status::InProgress);
        // Flux kinds need Ready at the observed generation.
        let flux = |status: Value| {
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "g", "generation": 1}, "status": status})
        };
        assert_eq!(compute(&flux(json!({}))).0, Status::InProgress);
        assert_eq!(
            compute(&flux(json!({"observedGeneration": 1}))).0,
            Status::InProgress
        );
        assert_eq!(compute(&flux(json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}))).0,
            Status::Current);
    }
}

/// A custom health check for one kind: CEL expressions over the object (Flux's
/// `healthCheckExprs`). The object's top-level fields are the expressions' variables
/// (`status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')`).
///
/// Evaluation, as Flux's: an object whose `status.observedGeneration` lags
/// `metadata.generation` is `InProgress`; then `inProgress`, `failed` and `current` are
/// tried in that order and the first that is true decides; when none is, or an expression
/// cannot be evaluated (a field not there yet), the object is `InProgress`.
#[derive(Clone)]
pub struct CustomCheck {
    api_version: String,
    kind: String,
    exprs: Vec<(Status, String, std::sync::Arc<cel::Program>)>,
}

impl fmt::Debug for CustomCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomCheck")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field(
                "exprs",
                &self
                    .exprs
                    .iter()
                    .map(|(s, e, _)| (s, e))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CustomCheck {
    /// Compiles the expressions for objects of `api_version` and `kind`; the error names
    /// the expression that does not compile.
    pub fn new(
        api_version: &str,
        kind: &str,
        current: &str,
        in_progress: Option<&str>,
        failed: Option<&str>,
    ) -> Result<CustomCheck, String> {
        let mut exprs = Vec::new();
        for (status, field, source) in [
            (Status::InProgress, "inProgress", in_progress),
            (Status::Failed, "failed", failed),
            (Status::Current, "current", Some(current)),
        ] {
            let Some(source) = source.filter(|s| !s.trim().is_empty()) else {
                if status == Status::Current {
                    return Err(format!(
                        "healthCheckExprs for {api_version} {kind}: 'current' is required"
                    ));
                }
                continue;
            };
            let program = cel::Program::compile(source).map_err(|e| {
                format!(
                    "healthCheckExprs for {api_version} {kind}: invalid '{field}' expression {source:?}: {}",
                    e.to_string().lines().next().unwrap_or_default()
                )
            })?;
            exprs.push((status, source.to_owned(), std::sync::Arc::new(program)));
        }
        Ok(CustomCheck {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            exprs,
        })
    }

    /// Whether the check is for this object's kind.
    pub fn applies_to(&self, obj: &Value) -> bool {
        obj["apiVersion"] == self.api_version.as_str() && obj["kind"] == self.kind.as_str()
    }

    /// The status of an object by the expressions.
    pub fn evaluate(&self, obj: &Value) -> (Status, String) {
        let generation = obj["metadata"]["generation"].as_i64();
        let observed = obj["status"]["observedGeneration"].as_i64();
        if let (Some(g), Some(o)) = (generation, observed)
            && o != g
        {
            return in_progress(format!(
                "observed generation {o} is not the current generation {g}"
            ));
        }
        let mut ctx = cel::Context::default();
        if let Value::Object(fields) = obj {
            for (k, v) in fields {
                match cel::to_value(v) {
                    Ok(v) => ctx.add_variable_from_value(k.as_str(), v),
                    Err(e) => return (Status::Unknown, format!("field {k}: {e}")),
                }
            }
        }
        for (status, source, program) in &self.exprs {
            match program.execute(&ctx) {
                Ok(cel::Value::Bool(true)) => {
                    let what = match status {
                        Status::Current => "healthy",
                        Status::Failed => "failed",
                        _ => "in progress",
                    };
                    return (*status, format!("{what} by expression {source:?}"));
                }
                Ok(cel::Value::Bool(false)) => {}
                Ok(other) => {
                    return in_progress(format!(
                        "expression {source:?} gave {other:?}, not a boolean"
                    ));
                }
                Err(e) => {
                    return in_progress(format!(
                        "expression {source:?} cannot be evaluated yet: {e}"
                    ));
                }
            }
        }
        in_progress("no health check expression is true yet")
    }
}

/// Like [`compute`], with custom checks taking over for the kinds they name (a deleted
/// object is still `Terminating`).
pub fn compute_with(obj: &Value, checks: &[CustomCheck]) -> (Status, String) {
    if obj["metadata"]["deletionTimestamp"].is_string() {
        return compute(obj);
    }
    match checks.iter().find(|c| c.applies_to(obj)) {
        Some(c) => c.evaluate(obj),
        None => compute(obj),
    }
}

#[cfg(test)]
mod custom_tests {
    use super::*;
    use serde_json::json;

    fn check() -> CustomCheck {
        CustomCheck::new(
            "example.com/v1",
            "Widget",
            "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
            Some("has(status.phase) && status.phase == 'Provisioning'"),
            Some("status.conditions.exists(c, c.type == 'Ready' && c.status == 'False' && c.reason == 'Broken')"),
        )
        .unwrap()
    }

    fn widget(status: serde_json::Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "w", "generation": 2}, "status": status})
    }

    #[test]
    fn expressions_decide_in_flux_order() {
        let c = check();
        let ready = widget(json!({"observedGeneration": 2,
            "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(c.evaluate(&ready).0, Status::Current);
        let broken = widget(json!({"observedGeneration": 2,
            "conditions": [{"type": "Ready", "status": "False", "reason": "Broken"}]}));
        assert_eq!(c.evaluate(&broken).0, Status::Failed);
        // inProgress is tried first.
        let provisioning = widget(json!({"observedGeneration": 2, "phase": "Provisioning",
            "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(c.evaluate(&provisioning).0, Status::InProgress);
        // An older generation's status is in progress whatever it says.
        let stale = widget(json!({"observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True"}]}));
        let (s, m) = c.evaluate(&stale);
        assert_eq!(s, Status::InProgress);
        assert!(m.contains("generation"), "{m}");
        // Fields not there yet: in progress, not failed.
        let empty = widget(json!({}));
        assert_eq!(c.evaluate(&empty).0, Status::InProgress);
        let no_status =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        assert_eq!(c.evaluate(&no_status).0, Status::InProgress);
    }

    #[test]
    fn custom_checks_only_take_over_their_kind() {
        let checks = [check()];
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(compute_with(&cm, &checks).0, Status::Current);
        let other =
            json!({"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}});
        assert_eq!(compute_with(&other, &checks), compute(&other));
        let deleting = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(compute_with(&deleting, &checks).0, Status::Terminating);
    }

    #[test]
    fn bad_expressions_are_named() {
        let err = CustomCheck::new("example.com/v1", "Widget", "status.(", None, None).unwrap_err();
        assert!(err.contains("'current'") && err.contains("Widget"), "{err}");
        let err =
            CustomCheck::new("example.com/v1", "Widget", "true", None, Some("&&")).unwrap_err();
        assert!(err.contains("'failed'"), "{err}");
        let err = CustomCheck::new("example.com/v1", "Widget", " ", None, None).unwrap_err();
        assert!(err.contains("required"), "{err}");
        // A non-boolean result is not health.
        let c = CustomCheck::new("example.com/v1", "Widget", "'yes'", None, None).unwrap();
        assert_eq!(c.evaluate(&widget(json!({}))).0, Status::InProgress);
    }
}
