//! What an object page reads from the cluster beyond the watched Flux objects: the
//! inventory tree with each object's health (through `gitops tree`'s walk), an object's
//! live YAML with Secrets masked, a Kustomization's diff against its source (the
//! source's artifact built and dry-run applied as `gitops diff kustomization` does), and a
//! HelmRelease's drift from its current release (the stored manifest dry-run applied as
//! helm-controller's drift detection does). CPU-heavy and blocking parts (builds, YAML,
//! reports, the temporary directory) run on the runtime's blocking threads.

use super::model::{self, Store};
use crate::cli::{FluxKind, kinds, object};
use crate::cmd::ksbuild;
use crate::cmd::tree::{self, ObjMetadata, Tree};
use anyhow::{Context as _, anyhow, bail};
use futures::StreamExt as _;
use gitops_apply::kstatus::Status;
use gitops_apply::{Action, Applier};
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// How one object of a tree is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    /// The word shown (`Current`, `InProgress`, `Ready`, `Failed`, …).
    pub label: String,
    /// The CSS class (`ready`, `progressing`, `failed`, `unknown`).
    pub class: &'static str,
    /// Why, when there is something to say.
    pub message: String,
}

/// An object of an inventory tree, with its health and what it applied.
#[derive(Clone, Debug)]
pub struct Node {
    /// The object.
    pub meta: ObjMetadata,
    /// Its health.
    pub health: Health,
    /// What it applied (nested Kustomizations) or released (HelmReleases).
    pub children: Vec<Node>,
}

/// The inventory tree of a Kustomization or HelmRelease: `gitops tree`'s walk, with the
/// health of every object (the watched state of Flux objects, kstatus for the others).
/// `None` for kinds without an inventory.
pub async fn inventory(
    client: &kube::Client,
    store: &Store,
    kind: &FluxKind,
    obj: &Value,
) -> anyhow::Result<Option<Node>> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let tree = match kind.kind() {
        "Kustomization" => tree::kustomization_tree(client, obj, false).await?,
        "HelmRelease" => tree::helm_release_tree(client, ns, name).await?,
        _ => return Ok(None),
    };
    let mut flat = Vec::new();
    flatten(&tree, &mut flat);
    let applier = Applier::new(client.clone(), "gitops-ui");
    let healths: Vec<Health> = futures::stream::iter(flat)
        .map(|m| {
            let applier = applier.clone();
            async move { health(&applier, store, &m).await }
        })
        .buffered(8)
        .collect()
        .await;
    let mut healths = healths.into_iter();
    Ok(Some(attach(tree, &mut healths)))
}

fn flatten(t: &Tree, out: &mut Vec<ObjMetadata>) {
    out.push(t.resource.clone());
    for c in &t.resources {
        flatten(c, out);
    }
}

fn attach(t: Tree, healths: &mut impl Iterator<Item = Health>) -> Node {
    let health = healths.next().unwrap_or(Health {
        label: "Unknown".into(),
        class: "unknown",
        message: String::new(),
    });
    Node {
        meta: t.resource,
        health,
        children: t
            .resources
            .into_iter()
            .map(|c| attach(c, healths))
            .collect(),
    }
}

async fn health(applier: &Applier, store: &Store, m: &ObjMetadata) -> Health {
    if let Some(kind) = model::kind_by_name(&m.group_kind.kind)
        && kind.info.group == m.group_kind.group
        && let Some(obj) = store.get(&kind, &m.namespace, &m.name)
    {
        let s = model::Summary::of(kind, &obj);
        return Health {
            label: s.state.label().into(),
            class: s.state.class(),
            message: if s.state == model::State::Ready {
                String::new()
            } else {
                s.message
            },
        };
    }
    let (status, message) = applier.status(&m.object_ref()).await;
    let class = match status {
        Status::Current => "ready",
        Status::InProgress | Status::Terminating => "progressing",
        Status::Failed | Status::NotFound => "failed",
        Status::Unknown => "unknown",
    };
    Health {
        label: status.as_str().into(),
        class,
        message: if status == Status::Current {
            String::new()
        } else {
            message
        },
    }
}

/// What stands in for a Secret's values.
const MASKED: &str = "***";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `obj` without its managed fields, and, for a Secret, with every value of `data` and
/// `stringData` (and kubectl's last-applied copy of them) masked.
pub fn masked(mut obj: Value) -> Value {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    mask_secret(&mut obj, &["data", "stringData"]);
    obj
}

/// The live object `kind` `namespace/name` of `api_version` as YAML, Secrets masked.
pub async fn live_yaml(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    if api_version.is_empty() || kind.is_empty() || name.is_empty() {
        bail!("apiVersion, kind and name are required");
    }
    let applier = Applier::new(client.clone(), "gitops-ui");
    let Some(res) = applier
        .resolve(api_version, kind)
        .await
        .map_err(|e| anyhow!("{e}"))?
    else {
        bail!("the cluster does not serve {kind} in {api_version}");
    };
    let ar = ApiResource {
        group: res.group.clone(),
        version: res.version.clone(),
        api_version: api_version.to_owned(),
        kind: res.kind.clone(),
        plural: res.plural.clone(),
    };
    let api: Api<DynamicObject> = if res.namespaced {
        if namespace.is_empty() {
            bail!("{kind} objects live in namespaces: the namespace is required");
        }
        Api::namespaced_with(client.clone(), namespace, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    let Some(obj) = api.get_opt(name).await.map_err(object::api_error)? else {
        return Ok(None);
    };
    let v = object::to_value(&obj)?;
    Ok(Some(blocking(move || masked_yaml(v)).await?))
}

/// One object of a diff.
#[derive(Clone, Debug)]
pub struct DiffEntry {
    /// `Kind/namespace/name`.
    pub object: String,
    /// `created`, `drifted`, `unchanged`, `skipped` or `deleted`.
    pub action: &'static str,
    /// The field-by-field report of a drifted object, the YAML of one to be created.
    pub detail: String,
}

/// What a diff compared the cluster with.
#[derive(Clone, Debug, PartialEq)]
pub enum Basis {
    /// A Kustomization's objects built from its source's artifact at this revision.
    Built {
        /// The artifact's revision.
        revision: String,
    },
    /// A HelmRelease's objects from its current release record.
    Release {
        /// `<release name>.v<version>`.
        release: String,
        /// Its Helm status (`deployed`, `failed`, …).
        status: String,
        /// `<chart>@<version>`.
        chart: String,
        /// Whether helm-controller's drift detection is on (`enabled` or `warn`); when
        /// off, the controller neither reports nor corrects what the diff shows.
        detection: String,
    },
}

/// A Kustomization's or HelmRelease's objects compared with what the cluster has.
#[derive(Clone, Debug)]
pub struct DiffReport {
    /// What the objects came from.
    pub basis: Basis,
    /// Object by object, in build (or manifest) order, then what would be pruned.
    pub entries: Vec<DiffEntry>,
    /// Objects the dry run refused.
    pub errors: Vec<String>,
}

/// `obj` as YAML, Secrets masked.
fn masked_yaml(obj: Value) -> anyhow::Result<String> {
    Ok(crate::cli::yaml::document(&masked(obj))?
        .trim_start_matches("---\n")
        .to_owned())
}

/// The values of a Secret's `stringData` (which a dry run may echo) and kubectl's
/// last-applied copy masked; `data` is masked by the dry run itself, keeping which values
/// differ (`*** (before)`, `*** (after)`).
fn mask_drift_side(obj: &mut Value) {
    mask_secret(obj, &["stringData"]);
}

/// When `obj` is a Secret: every value of its `fields` and kubectl's last-applied copy of
/// it masked.
fn mask_secret(obj: &mut Value, fields: &[&str]) {
    if obj["kind"] != "Secret" || obj["apiVersion"] != "v1" {
        return;
    }
    for field in fields {
        if let Some(m) = obj.get_mut(*field).and_then(Value::as_object_mut) {
            for v in m.values_mut() {
                *v = json!(MASKED);
            }
        }
    }
    if let Some(a) = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
        && a.contains_key(LAST_APPLIED)
    {
        a.insert(LAST_APPLIED.into(), json!(MASKED));
    }
}

/// One object's dry run as a diff entry: `created` with the object's YAML, `drifted`
/// with the field-by-field report (`gitops diff`'s), `skipped` or `unchanged`; Secret
/// values masked. Runs on a blocking thread (YAML and reports of large objects).
fn entry(built: Value, change: gitops_apply::ObjectDiff) -> anyhow::Result<DiffEntry> {
    let (action, detail) = match change.action {
        Action::Created => ("created", masked_yaml(built)?),
        Action::Configured => (
            "drifted",
            match (change.live, change.merged) {
                (Some(mut live), Some(mut merged)) => {
                    mask_drift_side(&mut live);
                    mask_drift_side(&mut merged);
                    ksbuild::dyff::report(&live, &merged, 100)
                }
                _ => String::new(),
            },
        ),
        Action::Skipped => ("skipped", String::new()),
        _ => ("unchanged", String::new()),
    };
    Ok(DiffEntry {
        object: change.object.to_string(),
        action,
        detail,
    })
}

/// Runs CPU-heavy or blocking work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow!("internal error: {e}"))?
}

/// The diff of the Kustomization `ks`: its source's artifact downloaded (directly, or
/// through the API server's service proxy when the URL is cluster-internal), verified and
/// extracted into a temporary directory; built there, reading nothing outside it; each
/// object dry-run applied (`gitops diff kustomization`'s mechanism); Secrets masked. The
/// build, the reports and the clean-up run on blocking threads.
pub async fn diff_kustomization(client: &kube::Client, ks: &Value) -> anyhow::Result<DiffReport> {
    let ns = ks["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = ks["metadata"]["name"].as_str().unwrap_or_default();
    if ks["spec"]["kubeConfig"].is_object() {
        bail!("this Kustomization applies to a remote cluster: its diff is not supported");
    }
    let Some(source) = model::source(&kinds::KUSTOMIZATION, ks) else {
        bail!("spec.sourceRef does not name a source kind");
    };
    let src_kind = model::kind_by_name(source.kind).unwrap_or(kinds::GIT_REPOSITORY);
    let (src_ns, src_name) = (source.namespace, source.name);
    let src = object::get(&src_kind.api(client, Some(&src_ns)), &src_name)
        .await
        .with_context(|| format!("reading its source {}/{src_ns}/{src_name}", src_kind.kind()))?;
    let artifact = &src["status"]["artifact"];
    let (Some(url), Some(digest)) = (artifact["url"].as_str(), artifact["digest"].as_str()) else {
        bail!(
            "its source {}/{src_ns}/{src_name} has no artifact yet",
            src_kind.kind()
        );
    };
    let revision = artifact["revision"].as_str().unwrap_or_default().to_owned();
    let dir = blocking(|| {
        Ok(tempfile::Builder::new()
            .prefix("gitops-ui-diff")
            .tempdir()?)
    })
    .await?;
    let result = diff_in(client, ks, ns, name, url, digest, revision, dir.path()).await;
    // Removing the extracted artifact is file system work too.
    let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn diff_in(
    client: &kube::Client,
    ks: &Value,
    ns: &str,
    name: &str,
    url: &str,
    digest: &str,
    revision: String,
    dir: &Path,
) -> anyhow::Result<DiffReport> {
    let root = dir.join("artifact");
    download(client, url, digest, &root).await?;
    let spec_path = ks["spec"]["path"].as_str().unwrap_or_default().to_owned();
    let path = ksbuild::clean_path(&root.join(spec_path.trim_start_matches('/')));
    let is_dir = {
        let path = path.clone();
        blocking(move || Ok(path.is_dir())).await?
    };
    if !path.starts_with(&root) || !is_dir {
        bail!("spec.path {spec_path:?} is not a directory of the artifact at {revision}");
    }
    let opts = ksbuild::Options {
        name: name.to_owned(),
        namespace: ns.to_owned(),
        path,
        single: true,
        ..Default::default()
    };
    let mut builder = ksbuild::Builder::new(opts, Some(client.clone()))?.sandboxed(root);
    let (k, results) = ksbuild::dry_run(&mut builder).await?;
    let (mut report, applied) = blocking(move || {
        let mut report = DiffReport {
            basis: Basis::Built { revision },
            entries: Vec::new(),
            errors: Vec::new(),
        };
        let mut applied = Vec::new();
        for r in results {
            match r.outcome {
                Ok(change) => {
                    applied.push(change.object.clone());
                    report.entries.push(entry(r.built, change)?);
                }
                Err(e) => report.errors.push(e),
            }
        }
        Ok((report, applied))
    })
    .await?;
    if report.errors.is_empty() {
        for r in ksbuild::stale(&k, &applied)? {
            report.entries.push(DiffEntry {
                object: r.to_string(),
                action: "deleted",
                detail: String::new(),
            });
        }
    }
    Ok(report)
}

/// The drift of the HelmRelease `hr`: the objects of its current release as
/// helm-controller's drift detection takes them (its stored manifest, what Helm last
/// applied, through [`gitops_controllers::helm::drift_objects`]), each dry-run applied
/// with helm-controller's field manager against the live objects; Secrets masked.
pub async fn diff_helm_release(client: &kube::Client, hr: &Value) -> anyhow::Result<DiffReport> {
    if hr["spec"]["kubeConfig"].is_object() {
        bail!("this HelmRelease releases to a remote cluster: its diff is not supported");
    }
    let typed: gitops_api::HelmRelease =
        serde_json::from_value(hr.clone()).map_err(|e| anyhow!("reading the HelmRelease: {e}"))?;
    let Some(release) = tree::helm_release_record(client, hr).await? else {
        bail!("nothing released yet: the HelmRelease has no current release in its history");
    };
    let storage_ns = hr["status"]["storageNamespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let chart = release
        .chart
        .as_ref()
        .map(|c| {
            let s = |k: &str| {
                c.metadata
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            format!("{}@{}", s("name"), s("version"))
        })
        .unwrap_or_default();
    let detection = hr["spec"]["driftDetection"]["mode"]
        .as_str()
        .unwrap_or("disabled")
        .to_owned();
    let status = serde_json::to_value(release.info.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let basis = Basis::Release {
        release: format!("{}.v{}", release.name, release.version),
        status,
        chart,
        detection,
    };
    let applier = Applier::new(client.clone(), gitops_controllers::helm::FIELD_MANAGER);
    let objects = gitops_controllers::helm::drift_objects(&applier, &storage_ns, &typed, &release)
        .await
        .map_err(|e| anyhow!("reading the release's objects: {e}"))?;
    let opts = gitops_apply::DiffOptions::default();
    let results: Vec<(Value, Result<gitops_apply::ObjectDiff, String>)> =
        futures::stream::iter(objects)
            .map(|obj| {
                let (applier, opts) = (&applier, &opts);
                async move {
                    let outcome = applier
                        .diff_object(&obj, opts)
                        .await
                        .map_err(|e| e.to_string());
                    (obj, outcome)
                }
            })
            .buffered(4)
            .collect()
            .await;
    blocking(move || {
        let mut report = DiffReport {
            basis,
            entries: Vec::new(),
            errors: Vec::new(),
        };
        for (built, outcome) in results {
            match outcome {
                Ok(change) => report.entries.push(entry(built, change)?),
                Err(e) => report.errors.push(e),
            }
        }
        Ok(report)
    })
    .await
}

/// Where a cluster-internal artifact URL points: (service, namespace).
fn cluster_service(url: &reqwest::Url) -> Option<(String, String)> {
    let host = url.host_str()?.trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    (labels.len() >= 3 && labels[2] == "svc").then(|| (labels[0].to_owned(), labels[1].to_owned()))
}

/// The most an artifact may weigh here.
const MAX_ARTIFACT: u64 = 512 << 20;

async fn download(
    client: &kube::Client,
    url: &str,
    digest: &str,
    dest: &Path,
) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow!("artifact URL {url:?}: {e}"))?;
    let limits = gitops_source::archive::ExtractLimits {
        max_bytes: MAX_ARTIFACT,
        ..Default::default()
    };
    let Some((service, namespace)) = cluster_service(&parsed) else {
        tokio::time::timeout(
            Duration::from_secs(120),
            gitops_source::fetch::fetch_artifact(url, digest, dest, limits),
        )
        .await
        .map_err(|_| anyhow!("downloading {url}: timed out"))??;
        return Ok(());
    };
    // From outside the cluster, its service names do not resolve: ask the API server.
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = format!(
        "/api/v1/namespaces/{namespace}/services/http:{service}:{port}/proxy{}",
        parsed.path()
    );
    let req = hyper::http::Request::get(&path).body(Vec::new())?;
    let mut body = client
        .request_stream(req)
        .await
        .map_err(|e| anyhow!("downloading {url} through the API server: {e}"))?;
    use futures::AsyncReadExt as _;
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = body.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if (bytes.len() + n) as u64 > MAX_ARTIFACT {
            bail!("artifact {url} exceeds {MAX_ARTIFACT} bytes");
        }
        hasher.update(&buf[..n]);
        bytes.extend_from_slice(&buf[..n]);
    }
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if actual != digest {
        bail!("artifact {url}: digest mismatch, expected {digest}, got {actual}");
    }
    let dest = dest.to_owned();
    tokio::task::spawn_blocking(move || {
        gitops_source::archive::extract_tar_gz(std::io::Cursor::new(bytes), &dest, limits)
    })
    .await
    .map_err(|e| anyhow!("extracting {url}: {e}"))?
    .map_err(|e| anyhow!("extracting {url}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let s = masked(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "managedFields": [{}], "annotations": {LAST_APPLIED: "{\"data\":{\"k\":\"c2VjcmV0\"}}"}},
            "data": {"k": "c2VjcmV0"}, "stringData": {"p": "secret"},
        }));
        assert_eq!(s["data"]["k"], MASKED);
        assert_eq!(s["stringData"]["p"], MASKED);
        assert_eq!(s["metadata"]["annotations"][LAST_APPLIED], MASKED);
        assert!(s["metadata"]["managedFields"].is_null());
        assert!(!s.to_string().contains("c2VjcmV0"));
        let cm = masked(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}));
        assert_eq!(cm["data"]["k"], "v");
        // Nothing is added to what the object does not have.
        let bare = masked(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}));
        assert_eq!(
            bare,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
        );
    }

    #[test]
    fn drift_reports_mask_secrets() {
        let mut live = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {LAST_APPLIED: "{\"stringData\":{\"p\":\"hunter2\"}}"}},
            "data": {"p": "*** (before)"},
        });
        let mut merged = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"p": "*** (after)"}, "stringData": {"p": "hunter2"},
        });
        mask_drift_side(&mut live);
        mask_drift_side(&mut merged);
        assert_eq!(live["data"]["p"], "*** (before)");
        assert_eq!(merged["data"]["p"], "*** (after)");
        assert_eq!(merged["stringData"]["p"], MASKED);
        assert_eq!(live["metadata"]["annotations"][LAST_APPLIED], MASKED);
        let change = gitops_apply::ObjectDiff {
            object: gitops_apply::ObjectRef::from_object(&live).unwrap(),
            action: Action::Configured,
            live: Some(live.clone()),
            merged: Some(merged.clone()),
        };
        let e = entry(merged.clone(), change).unwrap();
        assert_eq!(e.action, "drifted");
        assert!(!e.detail.contains("hunter2"), "{}", e.detail);
        // Created: the object's YAML, values masked.
        let created = gitops_apply::ObjectDiff {
            object: gitops_apply::ObjectRef::from_object(&live).unwrap(),
            action: Action::Created,
            live: None,
            merged: None,
        };
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                            "data": {"p": "aHVudGVyMg=="}});
        let e = entry(secret, created).unwrap();
        assert_eq!(e.action, "created");
        assert!(e.detail.contains("p: '***'"), "{}", e.detail);
        assert!(!e.detail.contains("aHVudGVyMg"), "{}", e.detail);
        // Other kinds are left alone.
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "stringData": {"a": "b"}});
        mask_drift_side(&mut cm);
        assert_eq!(cm["stringData"]["a"], "b");
    }

    #[test]
    fn cluster_urls_go_through_the_api_server() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            cluster_service(&u(
                "http://source-controller.flux-system.svc.cluster.local./gitrepository/a/b/c.tar.gz"
            )),
            Some(("source-controller".into(), "flux-system".into()))
        );
        assert_eq!(cluster_service(&u("http://127.0.0.1:9090/x.tar.gz")), None);
        assert_eq!(cluster_service(&u("http://example.com/x")), None);
    }
}
