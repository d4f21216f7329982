//! The release actions' [`Cluster`] over the shared apply engine: server-side apply, kstatus
//! waits and discovery from [`Applier`], plain reads and writes (release Secrets, hooks)
//! through the same client.

use gitops_apply::{Applier, ApplyError, ApplyOptions, ObjectRef, WaitOptions};
use gitops_helm::release::{ApplyParams, Cluster, ClusterError, ObjectKey, Propagation};
use kube::api::{DeleteParams, GetParams, ListParams, PostParams, PropagationPolicy};
use kube::core::Request;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A cluster seen through an applier (its client, field manager and discovery cache).
pub(crate) struct KubeCluster {
    pub applier: Applier,
}

fn other(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Other(e.to_string())
}

fn api_error(e: kube::Error, what: &str) -> ClusterError {
    match &e {
        kube::Error::Api(s) if s.code == 404 => {
            ClusterError::NotFound(format!("{what}: {}", s.message))
        }
        kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists" => {
            ClusterError::AlreadyExists(format!("{what}: {}", s.message))
        }
        kube::Error::Api(s) if s.code == 409 => {
            ClusterError::Conflict(format!("{what}: {}", s.message))
        }
        _ => ClusterError::Other(format!("{what}: {e}")),
    }
}

fn apply_error(e: ApplyError) -> ClusterError {
    match e {
        ApplyError::WaitTimeout(_) => ClusterError::Timeout(e.to_string()),
        e => ClusterError::Other(e.to_string()),
    }
}

fn object_ref(k: &ObjectKey) -> Result<ObjectRef, ClusterError> {
    ObjectRef::from_object(&serde_json::json!({
        "apiVersion": k.api_version, "kind": k.kind,
        "metadata": {"name": k.name, "namespace": k.namespace},
    }))
    .map_err(other)
}

impl KubeCluster {
    /// The collection path of a kind in a namespace; `None` when the kind is not served.
    async fn path(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<Option<String>, ClusterError> {
        let Some(res) = self
            .applier
            .resolve(api_version, kind)
            .await
            .map_err(other)?
        else {
            return Ok(None);
        };
        let ns = (!namespace.is_empty()).then_some(namespace);
        Ok(Some(res.path(ns)))
    }

    async fn path_of(&self, obj: &Value) -> Result<String, ClusterError> {
        let k = ObjectKey::of(obj);
        self.path(&k.api_version, &k.kind, &k.namespace)
            .await?
            .ok_or_else(|| {
                ClusterError::NotFound(format!(
                    "no matches for kind \"{}\" in version \"{}\"",
                    k.kind, k.api_version
                ))
            })
    }
}

impl Cluster for KubeCluster {
    async fn namespaced(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<bool>, ClusterError> {
        Ok(self
            .applier
            .resolve(api_version, kind)
            .await
            .map_err(other)?
            .map(|r| r.namespaced))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let Some(path) = self
            .path(&key.api_version, &key.kind, &key.namespace)
            .await?
        else {
            return Ok(None);
        };
        let req = Request::new(path)
            .get(&key.name, &GetParams::default())
            .map_err(other)?;
        match self.applier.client().request::<Value>(req).await {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(api_error(e, &format!("get {key}"))),
        }
    }

    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let Some(path) = self.path(api_version, kind, namespace).await? else {
            return Ok(Vec::new());
        };
        let req = Request::new(path)
            .list(&ListParams::default().labels(label_selector))
            .map_err(other)?;
        let list: Value = self
            .applier
            .client()
            .request(req)
            .await
            .map_err(|e| api_error(e, &format!("list {kind} in {namespace}")))?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    async fn create(&self, obj: &Value) -> Result<(), ClusterError> {
        let path = self.path_of(obj).await?;
        let body = serde_json::to_vec(obj).map_err(other)?;
        let req = Request::new(path)
            .create(&PostParams::default(), body)
            .map_err(other)?;
        self.applier
            .client()
            .request::<Value>(req)
            .await
            .map(|_| ())
            .map_err(|e| api_error(e, &format!("create {}", ObjectKey::of(obj))))
    }

    async fn update(&self, obj: &Value) -> Result<(), ClusterError> {
        let path = self.path_of(obj).await?;
        let key = ObjectKey::of(obj);
        let body = serde_json::to_vec(obj).map_err(other)?;
        let req = Request::new(path)
            .replace(&key.name, &PostParams::default(), body)
            .map_err(other)?;
        self.applier
            .client()
            .request::<Value>(req)
            .await
            .map(|_| ())
            .map_err(|e| api_error(e, &format!("update {key}")))
    }

    async fn delete(
        &self,
        key: &ObjectKey,
        propagation: Propagation,
    ) -> Result<bool, ClusterError> {
        let Some(path) = self
            .path(&key.api_version, &key.kind, &key.namespace)
            .await?
        else {
            return Ok(false);
        };
        let dp = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        let req = Request::new(path).delete(&key.name, &dp).map_err(other)?;
        match self.applier.client().request::<Value>(req).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(api_error(e, &format!("delete {key}"))),
        }
    }

    async fn apply(&self, objects: Vec<Value>, params: &ApplyParams) -> Result<(), ClusterError> {
        if objects.is_empty() {
            return Ok(());
        }
        self.applier
            .apply(
                objects,
                &ApplyOptions {
                    force: params.force_replace,
                    dry_run: false,
                    wait_crds_timeout: Duration::from_secs(60),
                    concurrency: 4,
                },
            )
            .await
            .map(|_| ())
            .map_err(apply_error)
    }

    async fn wait_ready(
        &self,
        objects: &[ObjectKey],
        timeout: Duration,
        jobs: bool,
    ) -> Result<(), ClusterError> {
        let refs = objects
            .iter()
            .filter(|k| jobs || !(k.kind == "Job" && k.api_version.starts_with("batch/")))
            .map(object_ref)
            .collect::<Result<Vec<_>, _>>()?;
        if refs.is_empty() {
            return Ok(());
        }
        self.applier
            .wait(
                &refs,
                &WaitOptions {
                    timeout,
                    interval: Duration::from_millis(500),
                    fail_fast: true,
                    custom: Vec::new(),
                },
            )
            .await
            .map_err(apply_error)
    }

    async fn wait_deleted(
        &self,
        objects: &[ObjectKey],
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<&ObjectKey> = objects.iter().collect();
        loop {
            let mut still = Vec::new();
            for k in pending {
                if self.get(k).await?.is_some() {
                    still.push(k);
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let names: Vec<String> = still.iter().map(|k| k.to_string()).collect();
                return Err(ClusterError::Timeout(format!(
                    "timed out waiting for the deletion of: [{}]",
                    names.join(", ")
                )));
            }
            pending = still;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
