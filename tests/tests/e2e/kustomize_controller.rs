//! Kustomization end to end: a Git repository served by `git http-backend`, the embedded API
//! server, the source controller and the kustomize controller, all real.

use gitops_api::Kustomization;
use gitops_tests::{
    Cluster, GitHttpServer, age_keygen, git, have, ready_of, sops_encrypt_secret, wait_until,
};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

struct Env {
    cluster: Cluster,
    work: PathBuf,
    bare: PathBuf,
    _git: GitHttpServer,
    _t: tempfile::TempDir,
}

fn cm(name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n{data}"
    )
}

impl Env {
    /// A repository with `files` committed on `main`, the cluster, both controllers and a
    /// GitRepository `repo` in `default`; `None` (skip) without git.
    async fn start(files: &[(&str, &str)]) -> Option<(Env, String)> {
        Self::start_with(files, &[]).await
    }

    /// Like [`Env::start`] with extra kustomize-controller flags.
    async fn start_with(files: &[(&str, &str)], flags: &[&str]) -> Option<(Env, String)> {
        if !have("git") {
            eprintln!("skipping: git is not installed");
            return None;
        }
        let t = tempfile::tempdir().unwrap();
        let (root, work) = (t.path().join("srv"), t.path().join("work"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        git(&root, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
        git(&work, &["init", "-q", "-b", "main"]);
        let http = GitHttpServer::start(&root, None).await;
        let mut cluster = Cluster::start().await;
        cluster.start_source_controller().await;
        let mut all = vec!["--requeue-dependency=1s"];
        all.extend_from_slice(flags);
        cluster.start_kustomize_controller_with(&all);
        let env = Env {
            cluster,
            work,
            bare: root.join("repo.git"),
            _git: http,
            _t: t,
        };
        let sha = env.commit(
            &files
                .iter()
                .map(|(p, c)| (*p, Some(*c)))
                .collect::<Vec<_>>(),
            "initial",
        );
        let repo: gitops_api::GitRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "repo", "namespace": "default"},
            "spec": {"url": format!("{}/repo.git", env._git.url), "interval": "10m",
                     "ref": {"branch": "main"}, "timeout": "20s"},
        }))
        .unwrap();
        Api::<gitops_api::GitRepository>::namespaced(env.cluster.client.clone(), "default")
            .create(&PostParams::default(), &repo)
            .await
            .expect("GitRepository");
        Some((env, sha))
    }

    fn client(&self) -> kube::Client {
        self.cluster.client.clone()
    }

    /// Writes (`Some`) or deletes (`None`) files, commits and pushes; returns the commit.
    fn commit(&self, files: &[(&str, Option<&str>)], msg: &str) -> String {
        for (p, content) in files {
            let path = self.work.join(p);
            match content {
                Some(c) => {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, c).unwrap();
                }
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", msg]);
        git(
            &self.work,
            &["push", "-q", &self.bare.display().to_string(), "main"],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Asks the source controller to fetch now.
    async fn refresh_source(&self) {
        request_reconcile::<gitops_api::GitRepository>(&self.client(), "repo").await;
    }

    async fn create_ks(&self, name: &str, spec: Value) {
        let mut full = json!({
            "interval": "10m", "retryInterval": "1s", "timeout": "30s", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
        });
        for (k, v) in spec.as_object().unwrap() {
            full[k] = v.clone();
        }
        let k: Kustomization = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "default"},
            "spec": full,
        }))
        .unwrap();
        self.ks_api()
            .create(&PostParams::default(), &k)
            .await
            .expect("Kustomization");
    }

    fn ks_api(&self) -> Api<Kustomization> {
        Api::namespaced(self.client(), "default")
    }

    async fn status(&self, name: &str) -> Value {
        let k = self.ks_api().get(name).await.expect("get Kustomization");
        serde_json::to_value(&k).unwrap()["status"].clone()
    }

    /// Waits until `name` applied commit `sha` and is Ready.
    async fn wait_applied(&self, name: &str, sha: &str) -> Value {
        let rev = format!("main@sha1:{sha}");
        let last = std::sync::Mutex::new(Value::Null);
        let got = wait_until(WAIT, || {
            let rev = rev.clone();
            let last = &last;
            async move {
                let s = self.status(name).await;
                *last.lock().unwrap() = s.clone();
                (s["lastAppliedRevision"] == rev.as_str()
                    && ready_of(&s).is_some_and(|c| c.0 == "True"))
                .then_some(s)
            }
        })
        .await;
        got.unwrap_or_else(|| {
            panic!(
                "{name} never applied {rev}; last status: {:#}",
                last.lock().unwrap()
            )
        })
    }

    /// Waits until `name` is Ready=False with `reason`.
    async fn wait_failed(&self, name: &str, reason: &str) -> (Value, String) {
        let last = std::sync::Mutex::new(Value::Null);
        let got = wait_until(WAIT, || {
            let last = &last;
            async move {
                let s = self.status(name).await;
                *last.lock().unwrap() = s.clone();
                let c = ready_of(&s)?;
                (c.0 == "False" && c.1 == reason).then_some((s, c.2))
            }
        })
        .await;
        got.unwrap_or_else(|| {
            panic!(
                "{name} never failed with {reason}; last status: {:#}",
                last.lock().unwrap()
            )
        })
    }

    async fn configmap(&self, ns: &str, name: &str) -> Option<ConfigMap> {
        Api::<ConfigMap>::namespaced(self.client(), ns)
            .get_opt(name)
            .await
            .expect("get ConfigMap")
    }
}

async fn request_reconcile<K>(client: &kube::Client, name: &str) -> String
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let value = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    Api::<K>::namespaced(client.clone(), "default")
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": value,
            }}})),
        )
        .await
        .expect("annotate");
    value
}

fn data_of(c: &ConfigMap, key: &str) -> Option<String> {
    c.data.as_ref()?.get(key).cloned()
}

fn is_sha1_revision(s: &str) -> bool {
    s.strip_prefix("main@sha1:")
        .is_some_and(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn events_of(client: &kube::Client, name: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Kustomization")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applies_updates_prunes_reverts_drift_and_deletes() {
    let Some((env, c1)) = Env::start(&[
        ("deploy/app/app.yaml", &cm("app", "  a: \"1\"\n")),
        ("deploy/app/extra.yaml", &cm("extra", "  b: \"1\"\n")),
    ])
    .await
    else {
        return;
    };
    env.create_ks("app", json!({"path": "./deploy/app"})).await;

    // a commit is applied; status exactly as Flux writes it
    let s = env.wait_applied("app", &c1).await;
    let rev = s["lastAppliedRevision"].as_str().unwrap();
    assert!(is_sha1_revision(rev), "{rev}");
    assert_eq!(s["lastAttemptedRevision"], rev);
    let ready = ready_of(&s).unwrap();
    assert_eq!(ready.1, "ReconciliationSucceeded");
    assert_eq!(ready.2, format!("Applied revision: {rev}"));
    let k = env.ks_api().get("app").await.unwrap();
    assert_eq!(s["observedGeneration"], json!(k.metadata.generation));
    let h = &s["history"][0];
    assert!(h["digest"].as_str().unwrap().starts_with("sha256:"), "{h}");
    assert_eq!(h["metadata"]["revision"], rev);
    assert_eq!(h["lastReconciledStatus"], "ReconciliationSucceeded");
    assert_eq!(h["totalReconciliations"], 1);
    assert!(
        k.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"finalizers.fluxcd.io".to_string())
    );
    let conditions = s["conditions"].as_array().unwrap();
    assert!(
        !conditions
            .iter()
            .any(|c| c["type"] == "Reconciling" || c["type"] == "Stalled"),
        "{conditions:?}"
    );
    let mut ids: Vec<(String, String)> = s["inventory"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["v"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("default_app__ConfigMap".to_string(), "v1".to_string()),
            ("default_extra__ConfigMap".to_string(), "v1".to_string()),
        ]
    );
    let app = env.configmap("default", "app").await.expect("applied");
    assert_eq!(data_of(&app, "a").as_deref(), Some("1"));
    let labels = app.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("app")
    );
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some("default")
    );
    let managers: Vec<String> = app
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kustomize-controller".to_string()),
        "{managers:?}"
    );
    // the change set went out as an event
    let client = env.client();
    let evs = wait_until(WAIT, || {
        let client = client.clone();
        async move {
            let evs = events_of(&client, "app").await;
            evs.iter()
                .any(|e| {
                    e.message
                        .as_deref()
                        .is_some_and(|m| m.contains("ConfigMap/default/app created"))
                })
                .then_some(evs)
        }
    })
    .await;
    assert!(evs.is_some(), "no change-set event");

    // a change is updated, a deleted file is pruned
    let c2 = env.commit(
        &[
            ("deploy/app/app.yaml", Some(&cm("app", "  a: \"2\"\n"))),
            ("deploy/app/extra.yaml", None),
        ],
        "update",
    );
    env.refresh_source().await;
    let s = env.wait_applied("app", &c2).await;
    assert_eq!(
        data_of(&env.configmap("default", "app").await.unwrap(), "a").as_deref(),
        Some("2")
    );
    assert!(
        env.configmap("default", "extra").await.is_none(),
        "extra was not pruned"
    );
    assert_eq!(s["inventory"]["entries"].as_array().unwrap().len(), 1);

    // a manual change is reverted on the next reconcile, which a request triggers at once
    // (the interval is 10m)
    Api::<ConfigMap>::namespaced(env.client(), "default")
        .patch(
            "app",
            &PatchParams {
                field_manager: Some("someone".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"a": "manual"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        data_of(&env.configmap("default", "app").await.unwrap(), "a").as_deref(),
        Some("manual")
    );
    let requested = request_reconcile::<Kustomization>(&env.client(), "app").await;
    let handled = wait_until(WAIT, || {
        let requested = requested.clone();
        let env = &env;
        async move {
            let s = env.status("app").await;
            (s["lastHandledReconcileAt"] == requested.as_str()).then_some(())
        }
    })
    .await;
    assert!(handled.is_some(), "reconcile request not handled");
    let reverted = wait_until(WAIT, || async {
        let c = env.configmap("default", "app").await?;
        (data_of(&c, "a").as_deref() == Some("2")).then_some(())
    })
    .await;
    assert!(reverted.is_some(), "drift was not reverted");

    // deletion with prune removes the objects, then the finalizer goes
    env.ks_api()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_until(WAIT, || async {
        let k = env.ks_api().get_opt("app").await.ok()?;
        let cm = env.configmap("default", "app").await;
        (k.is_none() && cm.is_none()).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "objects or Kustomization left after deletion"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_yaml_fails_with_file_and_line_and_keeps_the_cluster() {
    let Some((env, c1)) = Env::start(&[("deploy/app.yaml", &cm("app", "  a: \"1\"\n"))]).await
    else {
        return;
    };
    env.create_ks("app", json!({"path": "./deploy"})).await;
    env.wait_applied("app", &c1).await;
    let c2 = env.commit(
        &[
            ("deploy/app.yaml", Some(&cm("app", "  a: \"2\"\n"))),
            (
                "deploy/broken.yaml",
                Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\ndata: {}\n"),
            ),
        ],
        "broken",
    );
    env.refresh_source().await;
    let (s, msg) = env.wait_failed("app", "BuildFailed").await;
    assert!(msg.contains("deploy/broken.yaml"), "{msg}");
    assert!(msg.contains("line "), "{msg}");
    assert!(!msg.contains("/tmp/"), "temporary paths leak: {msg}");
    assert_eq!(s["lastAttemptedRevision"], format!("main@sha1:{c2}"));
    assert_eq!(s["lastAppliedRevision"], format!("main@sha1:{c1}"));
    let reconciling = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Reconciling")
        .cloned();
    assert_eq!(
        reconciling.as_ref().map(|c| c["reason"].clone()),
        Some(json!("ProgressingWithRetry")),
        "{s:#}"
    );
    // nothing of the broken revision was applied
    assert_eq!(
        data_of(&env.configmap("default", "app").await.unwrap(), "a").as_deref(),
        Some("1")
    );
    assert_eq!(s["inventory"]["entries"].as_array().unwrap().len(), 1);
    // a Warning event names the failure
    let evs = events_of(&env.client(), "app").await;
    assert!(
        evs.iter()
            .any(|e| e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("BuildFailed")),
        "{evs:?}"
    );
    // fixing the commit recovers (retryInterval 1s)
    let c3 = env.commit(&[("deploy/broken.yaml", None)], "fix");
    env.refresh_source().await;
    env.wait_applied("app", &c3).await;
    assert_eq!(
        data_of(&env.configmap("default", "app").await.unwrap(), "a").as_deref(),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn depends_on_orders_kustomizations() {
    let Some((env, c1)) = Env::start(&[
        ("infra/infra.yaml", &cm("infra", "  x: \"1\"\n")),
        ("apps/apps.yaml", &cm("apps", "  y: \"1\"\n")),
    ])
    .await
    else {
        return;
    };
    env.create_ks(
        "apps",
        json!({"path": "./apps", "dependsOn": [{"name": "infra"}]}),
    )
    .await;
    let (_, msg) = env.wait_failed("apps", "DependencyNotReady").await;
    assert!(msg.contains("default/infra"), "{msg}");
    assert!(env.configmap("default", "apps").await.is_none());
    env.create_ks("infra", json!({"path": "./infra"})).await;
    let infra = env.wait_applied("infra", &c1).await;
    let apps = env.wait_applied("apps", &c1).await;
    let ready_time = |s: &Value| {
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()["lastTransitionTime"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(ready_time(&apps) >= ready_time(&infra));
    assert!(env.configmap("default", "apps").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sops_encrypted_secret_lands_decrypted() {
    let Some((identity, recipient)) = age_keygen() else {
        eprintln!("skipping: age is not installed (apt-get install age)");
        return;
    };
    let Some(encrypted) =
        sops_encrypt_secret("db", "default", &[("password", "s3cr3t-value")], &recipient)
    else {
        eprintln!("skipping: age could not encrypt");
        return;
    };
    assert!(!encrypted.contains("s3cr3t-value"));
    let Some((env, c1)) = Env::start(&[("secrets/db.yaml", &encrypted)]).await else {
        return;
    };
    let keys: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": "default"},
        "stringData": {"identity.agekey": identity},
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &keys)
        .await
        .unwrap();
    env.create_ks(
        "secrets",
        json!({"path": "./secrets", "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}),
    )
    .await;
    env.wait_applied("secrets", &c1).await;
    let s = Api::<Secret>::namespaced(env.client(), "default")
        .get("db")
        .await
        .unwrap();
    let data = s.data.unwrap_or_default();
    let value = data
        .get("password")
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .or_else(|| s.string_data.unwrap_or_default().get("password").cloned());
    assert_eq!(value.as_deref(), Some("s3cr3t-value"));

    // the wrong key: BuildFailed, and neither key material nor the value in the message
    let (other, _) = age_keygen().unwrap();
    let wrong: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "wrong-age", "namespace": "default"},
        "stringData": {"identity.agekey": other},
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &wrong)
        .await
        .unwrap();
    env.create_ks(
        "wrong",
        json!({"path": "./secrets", "decryption": {"provider": "sops", "secretRef": {"name": "wrong-age"}}}),
    )
    .await;
    let (_, msg) = env.wait_failed("wrong", "BuildFailed").await;
    assert!(msg.contains("decryption failed"), "{msg}");
    assert!(
        !msg.contains("AGE-SECRET-KEY") && !msg.contains("s3cr3t"),
        "{msg}"
    );
    // and without decryption settings the encrypted Secret is not applied as is
    let missing = env.status("wrong").await;
    assert!(missing.get("inventory").is_none() || missing["inventory"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_source_is_reported() {
    let Some((env, _)) = Env::start(&[("deploy/app.yaml", &cm("app", "  a: \"1\"\n"))]).await
    else {
        return;
    };
    env.create_ks(
        "orphan",
        json!({"path": "./deploy", "sourceRef": {"kind": "GitRepository", "name": "nope"}}),
    )
    .await;
    let (s, msg) = env.wait_failed("orphan", "ArtifactFailed").await;
    assert_eq!(msg, "Source 'GitRepository/default/nope' not found");
    assert!(s.get("lastAppliedRevision").is_none() || s["lastAppliedRevision"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_build_substitution_target_namespace_and_name_prefix() {
    let Some((env, c1)) = Env::start(&[
        (
            "app/settings.yaml",
            &cm("settings", "  cluster: ${cluster_name}\n  region: ${region}\n  size: ${size:=small}\n"),
        ),
        (
            "app/raw.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  text: ${cluster_name}\n",
        ),
    ])
    .await
    else {
        return;
    };
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"},
    }))
    .unwrap();
    Api::<Namespace>::all(env.client())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let vars: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-vars", "namespace": "default",
                     "labels": {"reconcile.fluxcd.io/watch": "Enabled"}},
        "data": {"cluster_name": "prod", "region": "from-configmap"},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &vars)
        .await
        .unwrap();
    env.create_ks(
        "team",
        json!({
            "path": "./app", "targetNamespace": "team-a", "namePrefix": "p-",
            "commonMetadata": {"labels": {"team": "a"}},
            "postBuild": {
                "substitute": {"region": "eu-1"},
                "substituteFrom": [
                    {"kind": "ConfigMap", "name": "cluster-vars"},
                    {"kind": "Secret", "name": "absent", "optional": true},
                ],
            },
        }),
    )
    .await;
    let s = env.wait_applied("team", &c1).await;
    let settings = env
        .configmap("team-a", "p-settings")
        .await
        .expect("p-settings in team-a");
    assert_eq!(data_of(&settings, "cluster").as_deref(), Some("prod"));
    assert_eq!(data_of(&settings, "region").as_deref(), Some("eu-1"));
    assert_eq!(data_of(&settings, "size").as_deref(), Some("small"));
    assert_eq!(
        settings
            .metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("a")
    );
    let raw = env.configmap("team-a", "p-raw").await.expect("p-raw");
    assert_eq!(data_of(&raw, "text").as_deref(), Some("${cluster_name}"));
    let ids: Vec<&str> = s["inventory"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"team-a_p-settings__ConfigMap"), "{ids:?}");
    assert!(env.configmap("default", "settings").await.is_none());

    // the variables ConfigMap carries the watch label: changing it re-applies at once,
    // long before the 10m interval
    Api::<ConfigMap>::namespaced(env.client(), "default")
        .patch(
            "cluster-vars",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"cluster_name": "staging"}})),
        )
        .await
        .unwrap();
    wait_until(WAIT, || async {
        let cm = env.configmap("team-a", "p-settings").await?;
        (data_of(&cm, "cluster").as_deref() == Some("staging")).then_some(())
    })
    .await
    .expect("the watched ConfigMap's change was applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspend_stops_and_resume_restarts() {
    let Some((env, c1)) = Env::start(&[("deploy/app.yaml", &cm("app", "  a: \"1\"\n"))]).await
    else {
        return;
    };
    env.create_ks("app", json!({"path": "./deploy"})).await;
    env.wait_applied("app", &c1).await;
    let suspend = |on: bool| {
        let api = env.ks_api();
        async move {
            api.patch(
                "app",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"suspend": on}})),
            )
            .await
            .unwrap();
        }
    };
    suspend(true).await;
    let c2 = env.commit(
        &[("deploy/app.yaml", Some(&cm("app", "  a: \"2\"\n")))],
        "change",
    );
    env.refresh_source().await;
    // the source has the new revision, the suspended Kustomization does not apply it
    let client = env.client();
    wait_until(WAIT, || {
        let client = client.clone();
        let c2 = c2.clone();
        async move {
            let r = Api::<gitops_api::GitRepository>::namespaced(client, "default")
                .get("repo")
                .await
                .ok()?;
            (r.status?.artifact?.revision == format!("main@sha1:{c2}")).then_some(())
        }
    })
    .await
    .expect("source fetched the new commit");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.status("app").await["lastAppliedRevision"],
        format!("main@sha1:{c1}")
    );
    assert_eq!(
        data_of(&env.configmap("default", "app").await.unwrap(), "a").as_deref(),
        Some("1")
    );
    suspend(false).await;
    env.wait_applied("app", &c2).await;
    assert_eq!(
        data_of(&env.configmap("default", "app").await.unwrap(), "a").as_deref(),
        Some("2")
    );
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_and_health_checks_set_healthy() {
    let Some((env, c1)) = Env::start(&[("web/deploy.yaml", DEPLOYMENT)]).await else {
        return;
    };
    env.create_ks("web", json!({"path": "./web", "wait": true}))
        .await;
    let s = env.wait_applied("web", &c1).await;
    let healthy = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Healthy")
        .cloned()
        .unwrap_or_else(|| panic!("no Healthy condition: {s:#}"));
    assert_eq!(healthy["status"], "True");
    assert_eq!(healthy["reason"], "Succeeded");
    assert!(
        healthy["message"]
            .as_str()
            .unwrap()
            .starts_with("Health check passed in "),
        "{healthy}"
    );
    // a health check on an object that never shows up fails after the timeout
    env.create_ks(
        "checks",
        json!({"path": "./web", "timeout": "3s", "healthChecks": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "missing", "namespace": "default"},
        ]}),
    )
    .await;
    let (s, msg) = env.wait_failed("checks", "HealthCheckFailed").await;
    assert!(msg.contains("health check failed after"), "{msg}");
    assert_eq!(s["lastAttemptedRevision"], format!("main@sha1:{c1}"));
    assert!(s.get("lastAppliedRevision").is_none() || s["lastAppliedRevision"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn patches_images_components_remote_kubeconfig_and_orphan() {
    let component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - extra.yaml\n";
    let Some((env, c1)) = Env::start(&[
        ("app/deploy.yaml", DEPLOYMENT),
        ("components/extra/kustomization.yaml", component),
        (
            "components/extra/extra.yaml",
            &cm("from-component", "  c: \"1\"\n"),
        ),
    ])
    .await
    else {
        return;
    };
    env.create_ks(
        "web",
        json!({
            "path": "./app",
            "patches": [{
                "patch": "- op: replace\n  path: /spec/replicas\n  value: 3\n",
                "target": {"kind": "Deployment", "name": "web"},
            }],
            "images": [{"name": "nginx", "newTag": "1.28"}],
            "components": ["../components/extra"],
        }),
    )
    .await;
    env.wait_applied("web", &c1).await;
    let d = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client(), "default")
        .get("web")
        .await
        .unwrap();
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(3));
    let image = spec.template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.28"));
    assert!(env.configmap("default", "from-component").await.is_some());

    // a "remote" cluster from a kubeconfig Secret (here: the same cluster), and
    // deletionPolicy Orphan leaving the objects when the Kustomization goes
    let kubeconfig = std::fs::read_to_string(&env.cluster.kubeconfig).unwrap();
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "remote-kubeconfig", "namespace": "default"},
        "stringData": {"value": kubeconfig},
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    env.create_ks(
        "remote",
        json!({
            "path": "./components/extra", "namePrefix": "remote-",
            "deletionPolicy": "Orphan",
            "kubeConfig": {"secretRef": {"name": "remote-kubeconfig"}},
        }),
    )
    .await;
    // a Component is not a kustomization to build on its own: Flux fails on it too
    let (_, msg) = env.wait_failed("remote", "BuildFailed").await;
    assert!(!msg.is_empty());
    env.ks_api()
        .patch(
            "remote",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"path": "./app", "patches": null, "components": null}})),
        )
        .await
        .unwrap();
    env.wait_applied("remote", &c1).await;
    let remote = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client(), "default")
        .get("remote-web")
        .await
        .unwrap();
    assert_eq!(
        remote
            .metadata
            .labels
            .unwrap_or_default()
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("remote")
    );
    env.ks_api()
        .delete("remote", &DeleteParams::default())
        .await
        .unwrap();
    let gone = wait_until(WAIT, || async {
        env.ks_api()
            .get_opt("remote")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "Kustomization not deleted");
    assert!(
        Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client(), "default")
            .get_opt("remote-web")
            .await
            .unwrap()
            .is_some(),
        "deletionPolicy Orphan must leave the objects"
    );
}

async fn create_in(client: &kube::Client, ns: &str, name: &str, spec: Value) -> Api<Kustomization> {
    let k: Kustomization = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }))
    .unwrap();
    let api: Api<Kustomization> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &k)
        .await
        .expect("Kustomization");
    api
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_namespace_source_follows_new_revisions() {
    let Some((env, c1)) = Env::start(&[("deploy/app.yaml", &cm("app", "  a: \"1\"\n"))]).await
    else {
        return;
    };
    create_namespace(&env.client(), "apps").await;
    let api = create_in(
        &env.client(),
        "apps",
        "app",
        json!({"interval": "10m", "prune": true, "path": "./deploy", "targetNamespace": "apps",
               "sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "default"}}),
    )
    .await;
    let applied = |sha: String| {
        let api = api.clone();
        async move {
            wait_until(WAIT, || {
                let api = api.clone();
                let rev = format!("main@sha1:{sha}");
                async move {
                    let s =
                        serde_json::to_value(api.get("app").await.ok()?).ok()?["status"].clone();
                    (s["lastAppliedRevision"] == rev.as_str()).then_some(())
                }
            })
            .await
        }
    };
    assert!(
        applied(c1).await.is_some(),
        "cross-namespace source not applied"
    );
    let cm1 = env.configmap("apps", "app").await.expect("in apps");
    assert_eq!(
        cm1.metadata
            .labels
            .unwrap_or_default()
            .get("kustomize.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some("apps")
    );
    // a new revision of the source in another namespace triggers the Kustomization (its
    // interval is 10m)
    let c2 = env.commit(
        &[("deploy/app.yaml", Some(&cm("app", "  a: \"2\"\n")))],
        "two",
    );
    env.refresh_source().await;
    assert!(
        applied(c2).await.is_some(),
        "new source revision not applied"
    );
    assert_eq!(
        data_of(&env.configmap("apps", "app").await.unwrap(), "a").as_deref(),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_namespace_refs_can_be_blocked() {
    let Some((env, _)) = Env::start_with(
        &[("deploy/app.yaml", &cm("app", "  a: \"1\"\n"))],
        &["--no-cross-namespace-refs=true"],
    )
    .await
    else {
        return;
    };
    create_namespace(&env.client(), "apps").await;
    let api = create_in(
        &env.client(),
        "apps",
        "app",
        json!({"interval": "10m", "prune": true, "path": "./deploy",
               "sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "default"}}),
    )
    .await;
    let got = wait_until(WAIT, || {
        let api = api.clone();
        async move {
            let s = serde_json::to_value(api.get("app").await.ok()?).ok()?["status"].clone();
            let c = ready_of(&s)?;
            (c.0 == "False" && c.1 == "AccessDenied").then_some(c.2)
        }
    })
    .await
    .expect("AccessDenied");
    assert!(
        got.contains("cross-namespace references have been blocked"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oci_repository_source_with_origin_revision() {
    let Some(reg) = gitops_tests::DockerRegistry::start().await else {
        eprintln!("skipping: docker-registry is not installed (apt-get install docker-registry)");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    std::fs::create_dir_all(content.join("deploy")).unwrap();
    std::fs::write(
        content.join("deploy/app.yaml"),
        cm("from-oci", "  a: \"1\"\n"),
    )
    .unwrap();
    let url = format!("oci://{}/org/manifests", reg.host);
    let origin = "main@sha1:1111111111111111111111111111111111111111";
    let pushed = gitops_source::oci::Registry::new(true)
        .push_dir(
            &url,
            "1.0.0",
            &content,
            &gitops_source::ignore::IgnoreRules::flux_defaults(),
            "https://git.example/app",
            origin,
            None,
        )
        .await
        .unwrap();
    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    cluster.start_kustomize_controller();
    let repo: gitops_api::OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "manifests", "namespace": "default"},
        "spec": {"url": url, "interval": "10m", "insecure": true, "ref": {"tag": "1.0.0"}},
    }))
    .unwrap();
    Api::<gitops_api::OCIRepository>::namespaced(cluster.client.clone(), "default")
        .create(&PostParams::default(), &repo)
        .await
        .unwrap();
    let api = create_in(
        &cluster.client,
        "default",
        "oci",
        json!({"interval": "10m", "prune": true, "path": "./deploy",
               "sourceRef": {"kind": "OCIRepository", "name": "manifests"}}),
    )
    .await;
    let s = wait_until(WAIT, || {
        let api = api.clone();
        let rev = pushed.revision.clone();
        async move {
            let s = serde_json::to_value(api.get("oci").await.ok()?).ok()?["status"].clone();
            (s["lastAppliedRevision"] == rev.as_str()).then_some(s)
        }
    })
    .await
    .expect("OCI artifact applied");
    assert!(
        s["lastAppliedRevision"]
            .as_str()
            .unwrap()
            .starts_with("1.0.0@sha256:")
    );
    assert_eq!(s["lastAppliedOriginRevision"], origin);
    assert!(
        Api::<ConfigMap>::namespaced(cluster.client.clone(), "default")
            .get_opt("from-oci")
            .await
            .unwrap()
            .is_some()
    );
}

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
";

const WIDGET: &str = "apiVersion: example.com/v1
kind: Widget
metadata:
  name: gadget
  namespace: default
spec:
  size: 3
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_check_exprs_decide_custom_resources_health() {
    let Some((env, c1)) = Env::start(&[
        ("widgets/crd.yaml", WIDGET_CRD),
        ("widgets/widget.yaml", WIDGET),
    ])
    .await
    else {
        return;
    };
    let current = "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')";
    env.create_ks(
        "widgets",
        json!({"path": "./widgets", "wait": true, "timeout": "60s", "healthCheckExprs": [{
            "apiVersion": "example.com/v1", "kind": "Widget", "current": current,
            "failed": "status.conditions.exists(c, c.type == 'Ready' && c.status == 'False')",
        }]}),
    )
    .await;
    // Applied, but not healthy until the widget reports Ready.
    let ar = kube::api::ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<kube::api::DynamicObject> = Api::namespaced_with(env.client(), "default", &ar);
    let found = wait_until(WAIT, || async { widgets.get("gadget").await.ok() }).await;
    assert!(found.is_some(), "the widget is applied");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = env.status("widgets").await;
    assert_ne!(
        ready_of(&s).map(|c| c.0),
        Some("True".to_string()),
        "ready before the widget is: {s:#}"
    );
    widgets
        .patch_status(
            "gadget",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "Built", "message": "done",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})),
        )
        .await
        .unwrap();
    let s = env.wait_applied("widgets", &c1).await;
    let healthy = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Healthy")
        .cloned()
        .unwrap();
    assert_eq!(healthy["status"], "True", "{s:#}");

    // An expression that does not compile fails the reconcile before anything is applied.
    env.create_ks(
        "bad-expr",
        json!({"path": "./widgets", "namePrefix": "bad-", "wait": true,
               "healthCheckExprs": [{"apiVersion": "example.com/v1", "kind": "Widget", "current": "status.("}]}),
    )
    .await;
    let (_, msg) = env.wait_failed("bad-expr", "HealthCheckFailed").await;
    assert!(msg.contains("'current'") && msg.contains("Widget"), "{msg}");
    assert!(widgets.get("bad-gadget").await.is_err(), "nothing applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignore_rules_leave_fields_to_other_controllers() {
    let Some((env, c1)) = Env::start(&[("web/deploy.yaml", DEPLOYMENT)]).await else {
        return;
    };
    env.create_ks(
        "web",
        json!({"path": "./web", "ignore": [
            {"paths": ["/spec/replicas"], "target": {"kind": "Deployment", "name": "we.*"}},
            {"paths": ["/metadata/annotations/not-there"]},
        ]}),
    )
    .await;
    env.wait_applied("web", &c1).await;
    let deployments =
        Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(env.client(), "default");
    let d = deployments.get("web").await.unwrap();
    assert_eq!(
        d.spec.unwrap().replicas,
        Some(1),
        "created with Git's value"
    );
    // An autoscaler scales it, and someone changes the image by hand.
    deployments
        .patch(
            "web",
            &PatchParams::apply("hpa").force(),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:hacked"}]}}}})),
        )
        .await
        .unwrap();
    let requested = request_reconcile::<Kustomization>(&env.client(), "web").await;
    wait_until(WAIT, || async {
        let s = env.status("web").await;
        (s["lastHandledReconcileAt"] == requested.as_str()
            && ready_of(&s).is_some_and(|c| c.0 == "True"))
        .then_some(())
    })
    .await
    .expect("reconciled on request");
    let spec = deployments.get("web").await.unwrap().spec.unwrap();
    assert_eq!(
        spec.replicas,
        Some(5),
        "the ignored field keeps the autoscaler's value"
    );
    assert_eq!(
        spec.template.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx:1.27"),
        "other drift is corrected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_label_selector_shards_kustomizations() {
    let Some((env, c1)) = Env::start_with(
        &[("app/cm.yaml", &cm("sharded", "  a: \"1\"\n"))],
        &["--watch-label-selector=sharding.fluxcd.io/key=shard1"],
    )
    .await
    else {
        return;
    };
    env.create_ks("mine", json!({"path": "./app", "namePrefix": "mine-"}))
        .await;
    env.create_ks("other", json!({"path": "./app", "namePrefix": "other-"}))
        .await;
    env.ks_api()
        .patch(
            "mine",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"sharding.fluxcd.io/key": "shard1"}}})),
        )
        .await
        .unwrap();
    env.wait_applied("mine", &c1).await;
    assert!(env.configmap("default", "mine-sharded").await.is_some());
    // The other shard's Kustomization is not this controller's.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = env.status("other").await;
    assert!(
        ready_of(&s).is_none(),
        "reconciled outside the shard: {s:#}"
    );
    assert!(env.configmap("default", "other-sharded").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_namespaces_name_the_field() {
    let Some((env, c1)) = Env::start(&[
        ("deploy/app.yaml", &cm("app", "  a: \"1\"\n")),
        (
            "bad/app.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: Bad_NS\n",
        ),
    ])
    .await
    else {
        return;
    };
    env.create_ks(
        "target",
        json!({"path": "./deploy", "targetNamespace": "Bad_NS"}),
    )
    .await;
    let (s, msg) = env.wait_failed("target", "BuildFailed").await;
    assert_eq!(
        msg,
        format!(
            "spec.targetNamespace: Invalid value: \"Bad_NS\": {}",
            gitops_api::meta::DNS1123_LABEL_MESSAGE
        )
    );
    assert_eq!(s["lastAttemptedRevision"], format!("main@sha1:{c1}"));
    // a manifest with such a namespace is named with its field
    env.create_ks("manifest", json!({"path": "./bad"})).await;
    let last = std::sync::Mutex::new(Value::Null);
    let env = &env;
    let msg = wait_until(WAIT, || {
        let last = &last;
        async move {
            let s = env.status("manifest").await;
            *last.lock().unwrap() = s.clone();
            let c = ready_of(&s)?;
            (c.0 == "False").then_some(c.2)
        }
    })
    .await
    .unwrap_or_else(|| panic!("never failed: {:#}", last.lock().unwrap()));
    assert!(
        msg.contains("ConfigMap/app: metadata.namespace: Invalid value: \"Bad_NS\""),
        "{msg}"
    );
    assert!(!msg.contains("uri"), "{msg}");
}
