//! HelmRelease end to end: charts packaged and indexed by the real `helm` and served over
//! HTTP (a HelmRepository), the embedded API server, the source controller and the helm
//! controller, all real; the real `helm` reads, rolls back and uninstalls what the
//! controller released, and the controller takes over what `helm` installed.

use gitops_api::HelmRelease;
use gitops_tests::{Cluster, HelmCli, StaticServer, ready_of, wait_until};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The test chart at `version`: a ConfigMap (from `message`), a Deployment, a Service and a
/// ServiceAccount; a pre-upgrade Job that fails when `failUpgrade`; a test Job that fails
/// when `failTest`; a Deployment that never becomes ready when `hang`.
fn write_chart(dir: &Path, version: &str) -> PathBuf {
    let c = dir.join(format!("src-{version}/demo"));
    std::fs::create_dir_all(c.join("templates/tests")).unwrap();
    std::fs::write(
        c.join("Chart.yaml"),
        format!("apiVersion: v2\nname: demo\nversion: {version}\nappVersion: \"1.0\"\n"),
    )
    .unwrap();
    std::fs::write(
        c.join("values.yaml"),
        "message: hello\nreplicas: 1\nfailUpgrade: false\nfailTest: false\nhang: false\n",
    )
    .unwrap();
    std::fs::write(
        c.join("templates/configmap.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-config\ndata:\n  message: {{{{ .Values.message | quote }}}}\n  chart: {version}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        c.join("templates/deployment.yaml"),
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  {{- if .Values.hang }}
  annotations:
    apiserver.gitops.dev/simulate: pending
  {{- end }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
      - name: app
        image: nginx:1.27
"#,
    )
    .unwrap();
    std::fs::write(
        c.join("templates/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector: {app: {{ .Release.Name }}}\n  ports:\n  - port: 80\n",
    )
    .unwrap();
    std::fs::write(
        c.join("templates/serviceaccount.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n",
    )
    .unwrap();
    let job = |name: &str, hook: &str, flag: &str| {
        format!(
            r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{{{ .Release.Name }}}}-{name}
  annotations:
    helm.sh/hook: {hook}
    helm.sh/hook-delete-policy: before-hook-creation
    {{{{- if .Values.{flag} }}}}
    apiserver.gitops.dev/simulate: failed
    {{{{- end }}}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox
        command: ["true"]
"#
        )
    };
    std::fs::write(
        c.join("templates/pre-upgrade.yaml"),
        job("pre-upgrade", "pre-upgrade", "failUpgrade"),
    )
    .unwrap();
    std::fs::write(
        c.join("templates/tests/test.yaml"),
        job("test", "test", "failTest"),
    )
    .unwrap();
    c
}

struct Env {
    cluster: Cluster,
    helm: HelmCli,
    repo_dir: PathBuf,
    _repo: StaticServer,
    _t: tempfile::TempDir,
}

impl Env {
    /// Charts 0.1.0 and 0.2.0 in a Helm repository over HTTP, the cluster, the source and
    /// helm controllers, and a HelmRepository `charts`; `None` (skip) without helm.
    async fn start() -> Option<Env> {
        let t = tempfile::tempdir().unwrap();
        let mut cluster = Cluster::start().await;
        let helm = HelmCli::new(&cluster.kubeconfig)?;
        let repo_dir = t.path().join("repo");
        std::fs::create_dir_all(&repo_dir).unwrap();
        for v in ["0.1.0", "0.2.0"] {
            let c = write_chart(t.path(), v);
            helm.ok(&[
                "package",
                c.to_str().unwrap(),
                "-d",
                repo_dir.to_str().unwrap(),
            ]);
        }
        let server = StaticServer::start(&repo_dir).await;
        helm.ok(&[
            "repo",
            "index",
            repo_dir.to_str().unwrap(),
            "--url",
            &server.url,
        ]);
        cluster.start_source_controller().await;
        cluster.start_helm_controller_with(&["--requeue-dependency=1s"]);
        let hr: gitops_api::HelmRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "default"},
            "spec": {"url": server.url, "interval": "10m"},
        }))
        .unwrap();
        Api::<gitops_api::HelmRepository>::namespaced(cluster.client.clone(), "default")
            .create(&PostParams::default(), &hr)
            .await
            .expect("HelmRepository");
        Some(Env {
            cluster,
            helm,
            repo_dir,
            _repo: server,
            _t: t,
        })
    }

    fn api(&self) -> Api<HelmRelease> {
        Api::namespaced(self.cluster.client.clone(), "default")
    }

    async fn create(&self, name: &str, spec: Value) {
        let hr: HelmRelease = serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }))
        .unwrap();
        self.api()
            .create(&PostParams::default(), &hr)
            .await
            .expect("HelmRelease");
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.api()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch HelmRelease");
    }

    async fn status(&self, name: &str) -> Value {
        let hr = self.api().get(name).await.expect("get HelmRelease");
        serde_json::to_value(hr.status).unwrap_or_default()
    }

    /// Waits until `Ready` has `status` (and `reason` when given) at the latest generation.
    async fn wait_ready(&self, name: &str, status: &str, reason: Option<&str>) -> Value {
        let got = wait_until(WAIT, || async {
            let hr = self.api().get(name).await.ok()?;
            let st = serde_json::to_value(&hr.status).ok()?;
            let (s, r, _) = ready_of(&st)?;
            let ready = st["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Ready")?
                .clone();
            let current = ready["observedGeneration"].as_i64() == hr.metadata.generation;
            (current && s == status && reason.is_none_or(|want| want == r)).then_some(st)
        })
        .await;
        match got {
            Some(st) => st,
            None => panic!(
                "{name} never got Ready={status} {reason:?}: {:#}",
                self.status(name).await
            ),
        }
    }

    async fn config(&self, name: &str) -> Option<ConfigMap> {
        Api::<ConfigMap>::namespaced(self.cluster.client.clone(), "default")
            .get_opt(&format!("{name}-config"))
            .await
            .unwrap()
    }

    fn history(&self, release: &str) -> Vec<Value> {
        let out = self
            .helm
            .ok(&["history", release, "-n", "default", "-o", "json"]);
        serde_json::from_str(&out).expect("helm history JSON")
    }
}

/// The release's status, the events, its ConfigMap and whether its Service exists.
fn futures_status(env: &Env, name: &str) -> Value {
    let api = env.api();
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let hr = api.get(name).await.unwrap();
                let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(
                    env.cluster.client.clone(),
                    "default",
                )
                .list(&ListParams::default())
                .await
                .unwrap();
                let ev: Vec<String> = events
                    .items
                    .iter()
                    .map(|e| format!("{:?}: {:?}", e.reason, e.message))
                    .collect();
                let cm = Api::<ConfigMap>::namespaced(env.cluster.client.clone(), "default")
                    .get_opt(&format!("{name}-config"))
                    .await
                    .unwrap();
                let svc = Api::<k8s_openapi::api::core::v1::Service>::namespaced(
                    env.cluster.client.clone(),
                    "default",
                )
                .get_opt(name)
                .await
                .unwrap();
                json!({"status": hr.status, "events": ev, "cm": cm, "svc": svc.is_some()})
            })
        })
        .join()
        .unwrap()
    })
}

fn chart_spec(version: &str) -> Value {
    json!({"spec": {"chart": "demo", "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_repository_release_lifecycle() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.create(
        "demo",
        json!({
            "interval": "10m", "timeout": "20s",
            "chart": chart_spec("0.1.0"),
            "values": {"message": "first"},
            "upgrade": {"remediation": {"retries": 1}},
            "driftDetection": {"mode": "enabled"},
        }),
    )
    .await;
    let st = env
        .wait_ready("demo", "True", Some("InstallSucceeded"))
        .await;
    assert_eq!(st["history"][0]["version"], 1);
    assert_eq!(st["history"][0]["chartVersion"], "0.1.0");
    assert_eq!(st["history"][0]["status"], "deployed");
    assert_eq!(st["storageNamespace"], "default");
    assert_eq!(st["helmChart"], "default/default-demo");
    // Flux's inventory: the release's objects in Helm's install order, hooks left out
    let ids: Vec<&str> = st["inventory"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "default_demo__ServiceAccount",
            "default_demo-config__ConfigMap",
            "default_demo__Service",
            "default_demo_apps_Deployment"
        ],
        "{st:#}"
    );
    assert_eq!(st["inventory"]["entries"][3]["v"], "v1");
    let cm = env.config("demo").await.expect("ConfigMap installed");
    assert_eq!(cm.data.unwrap()["message"], "first");
    let labels = cm.metadata.labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(labels["helm.toolkit.fluxcd.io/name"], "demo");
    // the real helm reads the release
    let list: Vec<Value> =
        serde_json::from_str(&env.helm.ok(&["list", "-n", "default", "-o", "json"])).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    let values = env
        .helm
        .ok(&["get", "values", "demo", "-n", "default", "-o", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&values).unwrap(),
        json!({"message": "first"})
    );
    let manifest = env.helm.ok(&["get", "manifest", "demo", "-n", "default"]);
    assert!(
        manifest.contains("# Source: demo/templates/configmap.yaml"),
        "{manifest}"
    );
    let status = env.helm.ok(&["status", "demo", "-n", "default"]);
    assert!(status.contains("STATUS: deployed"), "{status}");

    // upgrade: values
    env.patch("demo", json!({"spec": {"values": {"message": "second"}}}))
        .await;
    let st = env
        .wait_ready("demo", "True", Some("UpgradeSucceeded"))
        .await;
    assert_eq!(st["history"][0]["version"], 2);
    assert_eq!(
        env.config("demo").await.unwrap().data.unwrap()["message"],
        "second"
    );
    // upgrade: chart version
    env.patch("demo", json!({"spec": {"chart": chart_spec("0.2.0")}}))
        .await;
    let st = wait_until(WAIT, || async {
        let st = env.status("demo").await;
        (st["history"][0]["chartVersion"] == "0.2.0"
            && ready_of(&st).is_some_and(|r| r.0 == "True"))
        .then_some(st)
    })
    .await
    .expect("upgraded to 0.2.0");
    assert_eq!(st["history"][0]["version"], 3);
    assert_eq!(
        env.config("demo").await.unwrap().data.unwrap()["chart"],
        "0.2.0"
    );
    let h = env.history("demo");
    assert_eq!(h.len(), 3);
    assert_eq!(h[1]["status"], "superseded");
    assert_eq!(h[2]["status"], "deployed");
    assert_eq!(h[2]["description"], "Upgrade complete");

    // drift: a changed and a deleted object are corrected
    let cms: Api<ConfigMap> = Api::namespaced(env.cluster.client.clone(), "default");
    cms.patch(
        "demo-config",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"message": "tampered"}})),
    )
    .await
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Service>::namespaced(env.cluster.client.clone(), "default")
        .delete("demo", &DeleteParams::default())
        .await
        .unwrap();
    env.patch(
        "demo",
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "drift-1"}}}),
    )
    .await;
    wait_until(WAIT, || async {
        let cm = env.config("demo").await?;
        let svc = Api::<k8s_openapi::api::core::v1::Service>::namespaced(
            env.cluster.client.clone(),
            "default",
        )
        .get_opt("demo")
        .await
        .ok()??;
        (cm.data?.get("message").map(String::as_str) == Some("second")).then_some(svc)
    })
    .await
    .unwrap_or_else(|| panic!("drift not corrected: {:#}", futures_status(&env, "demo")));
    let events =
        Api::<k8s_openapi::api::core::v1::Event>::namespaced(env.cluster.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DriftDetected")),
        "no DriftDetected event"
    );
    assert_eq!(
        env.history("demo").len(),
        3,
        "drift correction is not a release"
    );

    // a failing upgrade (its pre-upgrade hook fails) is rolled back
    env.patch(
        "demo",
        json!({"spec": {"values": {"message": "third", "failUpgrade": true}}}),
    )
    .await;
    let st = wait_until(WAIT, || async {
        let st = env.status("demo").await;
        st["conditions"]
            .as_array()?
            .iter()
            .any(|c| {
                c["type"] == "Stalled" && c["status"] == "True" && c["reason"] == "RetriesExceeded"
            })
            .then_some(st)
    })
    .await
    .unwrap_or_else(|| panic!("never stalled after retries"));
    let ready = ready_of(&st).unwrap();
    assert_eq!(ready.0, "False", "{st:#}");
    assert_eq!(st["upgradeFailures"], 2, "{st:#}");
    let remediated = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Remediated")
        .cloned()
        .unwrap();
    assert_eq!(remediated["reason"], "RollbackSucceeded");
    // the cluster is back at the last good release
    assert_eq!(
        env.config("demo").await.unwrap().data.unwrap()["message"],
        "second"
    );
    let h = env.history("demo");
    let last = h.last().unwrap();
    assert_eq!(last["status"], "deployed");
    assert!(
        last["description"]
            .as_str()
            .unwrap()
            .starts_with("Rollback to "),
        "{h:?}"
    );
    assert!(h.iter().any(|r| r["status"] == "failed"), "{h:?}");

    // fixing the values (a new generation) upgrades again; tests run and pass
    env.patch(
        "demo",
        json!({"spec": {"values": {"message": "fourth", "failUpgrade": false}, "test": {"enable": true}}}),
    )
    .await;
    let st = wait_until(WAIT, || async {
        let st = env.status("demo").await;
        let c = st["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "TestSuccess")?
            .clone();
        (c["status"] == "True" && ready_of(&st).is_some_and(|r| r.0 == "True")).then_some(st)
    })
    .await
    .unwrap_or_else(|| panic!("tests never passed"));
    assert_eq!(
        st["history"][0]["testHooks"]["demo-test"]["phase"], "Succeeded",
        "{st:#}"
    );
    assert!(
        Api::<Job>::namespaced(env.cluster.client.clone(), "default")
            .get_opt("demo-test")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        env.config("demo").await.unwrap().data.unwrap()["message"],
        "fourth"
    );

    // the real helm rolls our release back (taking the fields over from helm-controller, as
    // with Flux); the controller sees a release it did not make and upgrades it back to
    // the desired state
    let h = env.history("demo");
    let before = h.len();
    let oldest = h
        .iter()
        .find(|r| r["status"] == "superseded")
        .expect("a superseded revision")["revision"]
        .to_string();
    env.helm.ok(&[
        "rollback",
        "demo",
        &oldest,
        "-n",
        "default",
        "--force-conflicts",
    ]);
    assert_ne!(
        env.config("demo").await.unwrap().data.unwrap()["message"],
        "fourth"
    );
    env.patch("demo", json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "after-helm-rollback"}}})).await;
    wait_until(WAIT, || async {
        (env.config("demo").await?.data?.get("message")? == "fourth").then_some(())
    })
    .await
    .expect("back to the desired state after helm rollback");
    assert_eq!(
        env.history("demo").len(),
        (before + 2).min(5).max(before),
        "history pruned to maxHistory"
    );

    // deleting the HelmRelease uninstalls the release
    env.api()
        .delete("demo", &DeleteParams::default())
        .await
        .unwrap();
    wait_until(WAIT, || async {
        env.api()
            .get_opt("demo")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .expect("HelmRelease deleted");
    assert!(env.config("demo").await.is_none(), "objects uninstalled");
    let secrets = Api::<Secret>::namespaced(env.cluster.client.clone(), "default")
        .list(&ListParams::default().labels("owner=helm"))
        .await
        .unwrap();
    assert!(secrets.items.is_empty(), "release records removed");
    let (_, out, _) = env.helm.run(&["list", "-n", "default", "-q"]);
    assert!(out.trim().is_empty(), "{out}");
    let _ = &env.repo_dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_installed_release_is_taken_over() {
    let Some(env) = Env::start().await else {
        return;
    };
    let tgz = env.repo_dir.join("demo-0.1.0.tgz");
    env.helm.ok(&[
        "install",
        "app",
        tgz.to_str().unwrap(),
        "-n",
        "default",
        "--set",
        "message=from-helm",
    ]);
    assert_eq!(
        env.config("app").await.unwrap().data.unwrap()["message"],
        "from-helm"
    );
    env.create(
        "app",
        json!({"interval": "10m", "chart": chart_spec("0.2.0"), "values": {"message": "from-gitops"}}),
    )
    .await;
    env.wait_ready("app", "True", Some("UpgradeSucceeded"))
        .await;
    assert_eq!(
        env.config("app").await.unwrap().data.unwrap()["message"],
        "from-gitops"
    );
    let h = env.history("app");
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0]["status"], "superseded");
    assert_eq!(h[1]["status"], "deployed");
    assert_eq!(h[1]["chart"], "demo-0.2.0");
    // helm uninstalls what the controller released
    env.patch("app", json!({"spec": {"suspend": true}})).await;
    env.helm.ok(&["uninstall", "app", "-n", "default"]);
    assert!(env.config("app").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_leaves_the_release_as_it_was() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.create(
        "bad",
        json!({"interval": "10m", "timeout": "3s", "chart": chart_spec("0.1.0"), "values": {"message": "good"}}),
    )
    .await;
    env.wait_ready("bad", "True", Some("InstallSucceeded"))
        .await;

    // a values Secret that does not exist
    env.patch(
        "bad",
        json!({"spec": {"valuesFrom": [{"kind": "Secret", "name": "missing"}]}}),
    )
    .await;
    let st = env.wait_ready("bad", "False", Some("ValuesError")).await;
    let (_, _, msg) = ready_of(&st).unwrap();
    assert!(
        msg.contains("could not find Secret 'default/missing'"),
        "{msg}"
    );
    assert_eq!(env.history("bad").len(), 1, "no release attempted");

    // an optional one is skipped; the Secret's values are used once it exists
    env.patch(
        "bad",
        json!({"spec": {"valuesFrom": [{"kind": "Secret", "name": "missing", "optional": true}]}}),
    )
    .await;
    env.wait_ready("bad", "True", None).await;
    let s: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vals", "namespace": "default"},
        "stringData": {"values.yaml": "message: from-secret\n"},
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.cluster.client.clone(), "default")
        .create(&PostParams::default(), &s)
        .await
        .unwrap();
    env.patch(
        "bad",
        json!({"spec": {"valuesFrom": [{"kind": "Secret", "name": "vals"}], "values": null}}),
    )
    .await;
    wait_until(WAIT, || async {
        (env.config("bad").await?.data?.get("message")? == "from-secret").then_some(())
    })
    .await
    .expect("values from the Secret");
    let good_version = env.history("bad").len();

    // a Deployment that never becomes ready: the upgrade times out and fails; the cluster
    // keeps what it had of the rest only where the upgrade wrote it
    env.patch("bad", json!({"spec": {"valuesFrom": null, "values": {"message": "hang", "hang": true, "replicas": 2}}})).await;
    let st = env.wait_ready("bad", "False", Some("UpgradeFailed")).await;
    let (_, _, msg) = ready_of(&st).unwrap();
    assert!(
        msg.starts_with("Helm upgrade failed for release default/bad with chart demo@0.1.0:"),
        "{msg}"
    );
    assert!(
        msg.contains("timeout") || msg.contains("not ready"),
        "{msg}"
    );
    let h = env.history("bad");
    assert_eq!(h.last().unwrap()["status"], "failed");
    assert!(
        h.last().unwrap()["description"]
            .as_str()
            .unwrap()
            .starts_with("Upgrade \"bad\" failed:")
    );
    assert_eq!(h.len(), good_version + 1);
    let deployed: Vec<_> = h.iter().filter(|r| r["status"] == "deployed").collect();
    assert_eq!(
        deployed.len(),
        1,
        "the previous release stays the deployed one: {h:?}"
    );
    let d = Api::<Deployment>::namespaced(env.cluster.client.clone(), "default")
        .get("bad")
        .await
        .unwrap();
    assert!(
        d.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("apiserver.gitops.dev/simulate")
    );
}

/// Asks the source controller to fetch a source now.
async fn refresh<K>(client: &kube::Client, name: &str)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let patch = json!({"metadata": {"annotations": {
        "reconcile.fluxcd.io/requestedAt": format!("{:?}", std::time::SystemTime::now())}}});
    Api::<K>::namespaced(client.clone(), "default")
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate source");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_chart_pushed_by_helm_is_released_from_an_oci_repository() {
    let Some(reg) = gitops_tests::DockerRegistry::start().await else {
        eprintln!("skipping: docker-registry is not installed");
        return;
    };
    let Some(env) = Env::start().await else {
        return;
    };
    for v in ["0.1.0", "0.2.0"] {
        let tgz = env.repo_dir.join(format!("demo-{v}.tgz"));
        env.helm.ok(&[
            "push",
            tgz.to_str().unwrap(),
            &format!("oci://{}/charts", reg.host),
            "--plain-http",
        ]);
    }
    let oci: gitops_api::OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "demo-oci", "namespace": "default"},
        "spec": {"url": format!("oci://{}/charts/demo", reg.host), "insecure": true,
                 "interval": "10m", "ref": {"tag": "0.1.0"},
                 "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                                   "operation": "copy"}},
    }))
    .unwrap();
    let ocis = Api::<gitops_api::OCIRepository>::namespaced(env.cluster.client.clone(), "default");
    ocis.create(&PostParams::default(), &oci).await.unwrap();
    env.create(
        "fromoci",
        json!({"interval": "10m", "timeout": "20s",
               "chartRef": {"kind": "OCIRepository", "name": "demo-oci"},
               "values": {"message": "oci"}}),
    )
    .await;
    let st = env
        .wait_ready("fromoci", "True", Some("InstallSucceeded"))
        .await;
    // as Flux does, the chart's version carries the first 12 hex of the artifact digest
    let version = st["history"][0]["chartVersion"].as_str().unwrap();
    assert!(version.starts_with("0.1.0+"), "{st:#}");
    let digest = st["history"][0]["ociDigest"].as_str().unwrap_or_default();
    assert!(digest.starts_with("sha256:"), "{st:#}");
    assert_eq!(
        st["lastAttemptedRevision"].as_str().unwrap(),
        format!("0.1.0+{}", &digest["sha256:".len().."sha256:".len() + 12]),
        "OCI digest tracked in the revision: {st:#}"
    );
    assert_eq!(
        env.config("fromoci").await.unwrap().data.unwrap()["chart"],
        "0.1.0"
    );
    // a new tag in the OCIRepository upgrades the release
    ocis.patch(
        "demo-oci",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ref": {"tag": "0.2.0"}}})),
    )
    .await
    .unwrap();
    wait_until(WAIT, || async {
        let st = env.status("fromoci").await;
        let version = st["history"][0]["chartVersion"].as_str()?.to_string();
        (version.starts_with("0.2.0+") && ready_of(&st).is_some_and(|r| r.0 == "True"))
            .then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("never upgraded to 0.2.0"));
    let h = env.history("fromoci");
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(
        h[1]["chart"].as_str().unwrap().starts_with("demo-0.2.0+"),
        "{h:?}"
    );
    assert_eq!(
        env.config("fromoci").await.unwrap().data.unwrap()["chart"],
        "0.2.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_from_git_with_failing_tests_and_a_broken_template() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let Some(env) = Env::start().await else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    gitops_tests::git(&root, &["init", "-q", "--bare", "-b", "main", "charts.git"]);
    gitops_tests::git(t.path(), &["init", "-q", "-b", "main", "work"]);
    gitops_tests::copy_tree(&write_chart(t.path(), "0.1.0"), &work.join("charts/demo"));
    let push = |msg: &str| gitops_tests::commit_and_push(&work, &root.join("charts.git"), msg);
    push("chart");
    let http = gitops_tests::GitHttpServer::start(&root, None).await;
    let gr: gitops_api::GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "charts-git", "namespace": "default"},
        "spec": {"url": format!("{}/charts.git", http.url), "interval": "10m",
                 "ref": {"branch": "main"}},
    }))
    .unwrap();
    Api::<gitops_api::GitRepository>::namespaced(env.cluster.client.clone(), "default")
        .create(&PostParams::default(), &gr)
        .await
        .unwrap();
    env.create(
        "fromgit",
        json!({"interval": "10m", "timeout": "20s",
               "chart": {"spec": {"chart": "./charts/demo",
                                  "sourceRef": {"kind": "GitRepository", "name": "charts-git"}}},
               "values": {"message": "git"}}),
    )
    .await;
    let st = env
        .wait_ready("fromgit", "True", Some("InstallSucceeded"))
        .await;
    assert_eq!(st["history"][0]["chartVersion"], "0.1.0");
    assert_eq!(st["helmChart"], "default/default-fromgit");

    // failing test hooks: TestSuccess=False and Ready=False, the release itself stays
    env.patch(
        "fromgit",
        json!({"spec": {"values": {"message": "git", "failTest": true}, "test": {"enable": true}}}),
    )
    .await;
    let st = env.wait_ready("fromgit", "False", Some("TestFailed")).await;
    let test = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "TestSuccess")
        .cloned()
        .unwrap();
    assert_eq!(test["status"], "False", "{st:#}");
    assert_eq!(
        st["history"][0]["testHooks"]["fromgit-test"]["phase"], "Failed",
        "{st:#}"
    );
    // ignoring test failures makes it Ready again without a new release
    let releases = env.history("fromgit").len();
    env.patch(
        "fromgit",
        json!({"spec": {"test": {"enable": true, "ignoreFailures": true}}}),
    )
    .await;
    env.wait_ready("fromgit", "True", None).await;
    assert_eq!(env.history("fromgit").len(), releases);

    // a broken template in a new chart version: the upgrade fails to render, Ready=False
    // names the template, and the deployed release and its objects are untouched
    std::fs::write(
        work.join("charts/demo/templates/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  x: {{ .Values.nothing.here }}\n",
    )
    .unwrap();
    let chart_yaml = work.join("charts/demo/Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    std::fs::write(
        &chart_yaml,
        text.replace("version: 0.1.0", "version: 0.1.1"),
    )
    .unwrap();
    push("broken");
    refresh::<gitops_api::GitRepository>(&env.cluster.client, "charts-git").await;
    let st = wait_until(WAIT, || async {
        let st = env.status("fromgit").await;
        let (s, _, msg) = ready_of(&st)?;
        (s == "False" && msg.contains("0.1.1")).then_some(st)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "broken chart never reported: {:#}",
            futures_status(&env, "fromgit")
        )
    });
    let (_, reason, msg) = ready_of(&st).unwrap();
    assert_eq!(reason, "UpgradeFailed", "{st:#}");
    assert!(msg.contains("broken.yaml"), "{msg}");
    let h = env.history("fromgit");
    assert_eq!(h.len(), releases, "no release recorded: {h:?}");
    assert_eq!(h.last().unwrap()["status"], "deployed");
    assert_eq!(h.last().unwrap()["chart"], "demo-0.1.0");
    assert_eq!(
        env.config("fromgit").await.unwrap().data.unwrap()["message"],
        "git"
    );
    assert!(
        Api::<ConfigMap>::namespaced(env.cluster.client.clone(), "default")
            .get_opt("broken")
            .await
            .unwrap()
            .is_none()
    );
}

/// A labelled values Secret (`reconcile.fluxcd.io/watch: Enabled`) upgrades the release as
/// soon as its data changes, long before the HelmRelease's interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_values_secret_upgrades_at_once() {
    let Some(env) = Env::start().await else {
        return;
    };
    let secrets = Api::<Secret>::namespaced(env.cluster.client.clone(), "default");
    let secret = |message: &str| -> Secret {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "app-values", "namespace": "default",
                         "labels": {"reconcile.fluxcd.io/watch": "Enabled"}},
            "stringData": {"values.yaml": format!("message: {message}\n")},
        }))
        .unwrap()
    };
    secrets
        .create(&PostParams::default(), &secret("one"))
        .await
        .unwrap();
    env.create(
        "watched",
        json!({"interval": "1h", "chart": chart_spec("0.1.0"),
               "valuesFrom": [{"kind": "Secret", "name": "app-values"}]}),
    )
    .await;
    env.wait_ready("watched", "True", Some("InstallSucceeded"))
        .await;
    assert_eq!(
        env.config("watched").await.unwrap().data.unwrap()["message"],
        "one"
    );
    secrets
        .patch(
            "app-values",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"values.yaml": "message: two\n"}})),
        )
        .await
        .unwrap();
    wait_until(WAIT, || async {
        (env.config("watched").await?.data?.get("message")? == "two").then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no upgrade on the Secret's change: {:#}",
            futures_status(&env, "watched")
        )
    });
    let st = env
        .wait_ready("watched", "True", Some("UpgradeSucceeded"))
        .await;
    assert_eq!(st["history"][0]["version"], 2);
    // deleting it is a change too: the release fails on the missing values, as it says
    secrets
        .delete("app-values", &Default::default())
        .await
        .unwrap();
    let st = env
        .wait_ready("watched", "False", Some("ValuesError"))
        .await;
    let (_, _, msg) = ready_of(&st).unwrap();
    assert!(
        msg.contains("could not find Secret 'default/app-values'"),
        "{msg}"
    );
    assert_eq!(env.history("watched").len(), 2, "nothing released");
}

/// Kustomize post-renderers (a JSON 6902 patch and an image override) and `commonMetadata`
/// shape what is applied; changing the post-renderers alone upgrades the release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_renderers_and_common_metadata_shape_the_release() {
    let Some(env) = Env::start().await else {
        return;
    };
    let post = |value: &str| {
        json!([{"kustomize": {
            "patches": [{
                "target": {"kind": "ConfigMap"},
                "patch": format!("- op: add\n  path: /metadata/labels\n  value: {{post: {value}}}\n"),
            }],
            "images": [{"name": "nginx", "newTag": "1.28"}],
        }}])
    };
    env.create(
        "shaped",
        json!({"interval": "1h", "chart": chart_spec("0.1.0"),
               "postRenderers": post("first"),
               "commonMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "platform"}}}),
    )
    .await;
    let st = env
        .wait_ready("shaped", "True", Some("InstallSucceeded"))
        .await;
    assert!(
        st["observedPostRenderersDigest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{st:#}"
    );
    let cm = env.config("shaped").await.unwrap();
    let labels = cm.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("post").map(String::as_str), Some("first"));
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        cm.metadata
            .annotations
            .unwrap_or_default()
            .get("owner")
            .map(String::as_str),
        Some("platform")
    );
    let deployments = Api::<Deployment>::namespaced(env.cluster.client.clone(), "default");
    let d = deployments.get("shaped").await.unwrap();
    let image = d.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("nginx:1.28"));
    assert_eq!(
        d.metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("a"),
        "commonMetadata on every object"
    );
    // what helm stores is the post-rendered manifest
    let manifest = env.helm.ok(&["get", "manifest", "shaped", "-n", "default"]);
    assert!(manifest.contains("image: nginx:1.28"), "{manifest}");

    env.patch("shaped", json!({"spec": {"postRenderers": post("second")}}))
        .await;
    wait_until(WAIT, || async {
        let cm = env.config("shaped").await?;
        (cm.metadata.labels?.get("post")? == "second").then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "post-renderers not re-applied: {:#}",
            futures_status(&env, "shaped")
        )
    });
    let st = env
        .wait_ready("shaped", "True", Some("UpgradeSucceeded"))
        .await;
    assert_eq!(st["history"][0]["version"], 2);
}
