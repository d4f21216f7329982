//! Helm's `secrets` storage driver: one Secret per revision, named
//! `sh.helm.release.v1.<name>.v<version>`, type `helm.sh/release.v1`, labelled
//! `owner=helm`, `name`, `status`, `version` (and `createdAt` / `modifiedAt`), holding the
//! record as base64 of gzip (best compression) of its JSON under `data.release`.

use super::cluster::{Cluster, ClusterError, ObjectKey, Propagation};
use super::model::{Release, Status};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// The Secret type of release records.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// Labels the driver sets itself (not the release's own labels).
pub const SYSTEM_LABELS: &[&str] = &[
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// Decoded records larger than this are refused (a record is a chart plus its manifests;
/// Secrets are at most 1 MiB, so this only guards against gzip bombs).
const MAX_DECODED: u64 = 64 << 20;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No record of that release (Helm: `release: not found`).
    #[error("release: not found")]
    NotFound,
    /// The record exists already (Helm: `release: already exists`).
    #[error("release: already exists")]
    Exists,
    /// A record could not be decoded.
    #[error("decoding release {key}: {reason}")]
    Decode {
        /// The Secret's name.
        key: String,
        /// Why.
        reason: String,
    },
    /// The cluster failed.
    #[error("{0}")]
    Cluster(#[from] ClusterError),
}

/// The Secret name of a revision.
pub fn key(name: &str, version: i64) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// base64(gzip(JSON)) of a record, as Helm's `encodeRelease`.
pub fn encode(rel: &Release) -> String {
    let json = serde_json::to_vec(rel).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = gz.write_all(&json);
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes a record as Helm's `decodeRelease` (gzip when the magic says so).
pub fn decode(data: &[u8]) -> Result<Release, String> {
    let b = base64::engine::general_purpose::STANDARD
        .decode(data.trim_ascii())
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let json = if b.len() > 3 && b[..3] == [0x1f, 0x8b, 0x08] {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&b[..])
            .take(MAX_DECODED + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip: {e}"))?;
        if out.len() as u64 > MAX_DECODED {
            return Err(format!("record larger than {MAX_DECODED} bytes"));
        }
        out
    } else {
        b
    };
    serde_json::from_slice(&json).map_err(|e| format!("invalid JSON: {e}"))
}

/// The Secret holding a record. `created`: a new record (`createdAt`), else an update
/// (`modifiedAt`), as Helm labels them.
pub fn to_secret(rel: &Release, namespace: &str, created: bool) -> Value {
    let mut labels: BTreeMap<String, String> = rel
        .labels
        .iter()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let now = jiff::Timestamp::now().as_second().to_string();
    labels.insert(if created { "createdAt" } else { "modifiedAt" }.into(), now);
    labels.insert("name".into(), rel.name.clone());
    labels.insert("owner".into(), "helm".into());
    labels.insert("status".into(), rel.info.status.as_str().into());
    labels.insert("version".into(), rel.version.to_string());
    // the Secret's data is base64 again on the wire
    let data = base64::engine::general_purpose::STANDARD.encode(encode(rel));
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": key(&rel.name, rel.version), "namespace": namespace, "labels": labels},
        "type": SECRET_TYPE,
        "data": {"release": data},
    })
}

/// The record in a Secret, with its non-system labels.
pub fn from_secret(secret: &Value) -> Result<Release, StorageError> {
    let name = secret["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let bad = |reason: String| StorageError::Decode {
        key: name.clone(),
        reason,
    };
    let wire = secret["data"]["release"]
        .as_str()
        .ok_or_else(|| bad("no data.release".into()))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(wire)
        .map_err(|e| bad(format!("illegal base64 data: {e}")))?;
    let mut rel = decode(&raw).map_err(bad)?;
    if let Some(labels) = secret["metadata"]["labels"].as_object() {
        rel.labels = labels
            .iter()
            .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
    }
    Ok(rel)
}

/// The records of one storage namespace.
pub struct Storage<'c, C: Cluster> {
    cluster: &'c C,
    namespace: String,
    /// Most revisions kept per release (0: no limit), as `helm --history-max`.
    pub max_history: usize,
}

impl<'c, C: Cluster> Storage<'c, C> {
    /// The storage in `namespace`.
    pub fn new(cluster: &'c C, namespace: impl Into<String>) -> Self {
        Storage {
            cluster,
            namespace: namespace.into(),
            max_history: 0,
        }
    }

    /// Its namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// One revision.
    pub async fn get(&self, name: &str, version: i64) -> Result<Release, StorageError> {
        let k = ObjectKey::secret(&self.namespace, &key(name, version));
        match self.cluster.get(&k).await? {
            Some(s) => from_secret(&s),
            None => Err(StorageError::NotFound),
        }
    }

    /// Every revision of a release, oldest first. Records that do not decode are skipped
    /// (with their names returned second), as Helm's list skips them.
    pub async fn history(&self, name: &str) -> Result<(Vec<Release>, Vec<String>), StorageError> {
        let secrets = self
            .cluster
            .list(
                "v1",
                "Secret",
                &self.namespace,
                &format!("owner=helm,name={name}"),
            )
            .await?;
        let mut out = Vec::with_capacity(secrets.len());
        let mut broken = Vec::new();
        for s in &secrets {
            match from_secret(s) {
                Ok(r) if r.name == name => out.push(r),
                Ok(_) => {}
                Err(e) => broken.push(e.to_string()),
            }
        }
        out.sort_by_key(|r| r.version);
        Ok((out, broken))
    }

    /// The latest revision (Helm's `Last`).
    pub async fn last(&self, name: &str) -> Result<Release, StorageError> {
        self.history(name)
            .await?
            .0
            .pop()
            .ok_or(StorageError::NotFound)
    }

    /// The latest `deployed` revision.
    pub async fn deployed(&self, name: &str) -> Result<Option<Release>, StorageError> {
        Ok(self
            .history(name)
            .await?
            .0
            .into_iter()
            .rev()
            .find(|r| r.info.status == Status::Deployed))
    }

    /// Stores a new revision, first pruning the oldest beyond `max_history` (never the
    /// last deployed one), as Helm's `Storage.Create`.
    pub async fn create(&self, rel: &Release) -> Result<(), StorageError> {
        if self.max_history > 0 {
            self.prune(&rel.name, self.max_history - 1).await?;
        }
        match self
            .cluster
            .create(&to_secret(rel, &self.namespace, true))
            .await
        {
            Ok(()) => Ok(()),
            Err(ClusterError::AlreadyExists(_)) => Err(StorageError::Exists),
            Err(e) => Err(e.into()),
        }
    }

    /// Rewrites a revision (its status changed).
    pub async fn update(&self, rel: &Release) -> Result<(), StorageError> {
        match self
            .cluster
            .update(&to_secret(rel, &self.namespace, false))
            .await
        {
            Ok(()) => Ok(()),
            Err(ClusterError::NotFound(_)) => Err(StorageError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a revision.
    pub async fn delete(&self, name: &str, version: i64) -> Result<(), StorageError> {
        let k = ObjectKey::secret(&self.namespace, &key(name, version));
        self.cluster.delete(&k, Propagation::Background).await?;
        Ok(())
    }

    /// Deletes the oldest revisions until at most `keep` remain, sparing the last deployed
    /// one (Helm's `removeLeastRecent`).
    async fn prune(&self, name: &str, keep: usize) -> Result<(), StorageError> {
        let (h, _) = self.history(name).await?;
        if h.len() <= keep {
            return Ok(());
        }
        let last_deployed = h
            .iter()
            .rev()
            .find(|r| r.info.status == Status::Deployed)
            .map(|r| r.version);
        let mut remaining = h.len();
        for r in &h {
            if remaining <= keep {
                break;
            }
            if Some(r.version) == last_deployed {
                continue;
            }
            self.delete(name, r.version).await?;
            remaining -= 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_secrets() {
        let mut rel = Release {
            name: "demo".into(),
            namespace: "apps".into(),
            version: 3,
            manifest: "---\n# Source: c/templates/cm.yaml\nkind: ConfigMap\n".into(),
            ..Release::default()
        };
        rel.info.status = Status::Deployed;
        rel.info.first_deployed = Some("2026-01-02T03:04:05.123456789Z".into());
        rel.labels.insert("team".into(), "a".into());
        let s = to_secret(&rel, "store", true);
        assert_eq!(s["metadata"]["name"], "sh.helm.release.v1.demo.v3");
        assert_eq!(s["metadata"]["labels"]["status"], "deployed");
        assert_eq!(s["metadata"]["labels"]["owner"], "helm");
        assert_eq!(s["metadata"]["labels"]["team"], "a");
        assert!(s["metadata"]["labels"]["createdAt"].is_string());
        assert_eq!(s["type"], SECRET_TYPE);
        let back = from_secret(&s).unwrap();
        assert_eq!(back, rel);
        // the JSON keeps Helm's omitempty rules: no chart, no hooks, no zero times
        let json: Value = serde_json::to_value(&rel).unwrap();
        assert!(json.get("chart").is_none() && json.get("hooks").is_none());
        assert!(json["info"].get("last_deployed").is_none());
        assert_eq!(json["info"]["status"], "deployed");
    }

    #[test]
    fn decode_refuses_garbage_and_reads_plain_json() {
        let plain = base64::engine::general_purpose::STANDARD
            .encode(br#"{"name":"x","version":1,"info":{"status":"failed","first_deployed":""}}"#);
        let r = decode(plain.as_bytes()).unwrap();
        assert_eq!(
            (r.name.as_str(), r.version, r.info.status),
            ("x", 1, Status::Failed)
        );
        assert!(r.info.first_deployed.is_none());
        assert!(decode(b"!!!").unwrap_err().contains("base64"));
        let not_json = base64::engine::general_purpose::STANDARD.encode(b"nope");
        assert!(decode(not_json.as_bytes()).unwrap_err().contains("JSON"));
    }
}
