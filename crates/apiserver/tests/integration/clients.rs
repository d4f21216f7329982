//! The real `kubectl` (1.35) and `helm` (v4) against the embedded server. They come from
//! `../shared/tools/install-peers.sh` (the test command puts them on `PATH` and in
//! `GITOPS_PEERS_DIR`); the tests skip with a message when they are missing.

use gitops_apiserver::{Config, Server, ServerHandle};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use tokio::process::Command;

pub(crate) fn peer(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(d) = std::env::var("GITOPS_PEERS_DIR") {
        dirs.push(d.into());
    }
    if let Ok(home) = std::env::var("HOME") {
        dirs.push(Path::new(&home).join(".cache/gitops-peers"));
    }
    if let Ok(path) = std::env::var("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipping: {name} not found (run ../shared/tools/install-peers.sh)");
    }
    found
}

pub(crate) struct Tool {
    pub(crate) bin: PathBuf,
    pub(crate) kubeconfig: PathBuf,
}

impl Tool {
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env(
                "HELM_CACHE_HOME",
                self.kubeconfig.with_file_name("helm-cache"),
            )
            .env(
                "HELM_CONFIG_HOME",
                self.kubeconfig.with_file_name("helm-config"),
            )
            .env(
                "HELM_DATA_HOME",
                self.kubeconfig.with_file_name("helm-data"),
            )
            .output()
            .await
            .expect("run tool")
    }

    /// Runs and asserts success; returns stdout.
    pub(crate) async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}\n{}",
            self.bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

async fn start() -> (tempfile::TempDir, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new(dir.path())).await.unwrap();
    (dir, server)
}

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1, default: 3}
              color: {type: string}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl() {
    let Some(bin) = peer("kubectl") else { return };
    let (dir, server) = start().await;
    let k = Tool {
        bin,
        kubeconfig: server.kubeconfig_path().to_owned(),
    };
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let all = files.join("all.yaml");
    std::fs::write(&all, MANIFESTS).unwrap();
    let all = all.to_str().unwrap();

    let resources = k.ok(&["api-resources"]).await;
    for r in [
        "configmaps",
        "deployments",
        "customresourcedefinitions",
        "leases",
        "horizontalpodautoscalers",
    ] {
        assert!(
            resources.contains(r),
            "api-resources lists {r}:\n{resources}"
        );
    }

    let applied = k.ok(&["apply", "--server-side", "-f", all]).await;
    assert_eq!(
        applied.matches("serverside-applied").count(),
        4,
        "{applied}"
    );
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "crd/widgets.example.com",
        "--timeout=20s",
    ])
    .await;
    assert!(
        k.ok(&["api-resources", "--api-group=example.com"])
            .await
            .contains("widgets")
    );

    // A custom object gets its schema default; printer columns show in `get`.
    let widget = files.join("widget.yaml");
    std::fs::write(&widget, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: demo\nspec:\n  color: red\n").unwrap();
    k.ok(&["apply", "--server-side", "-f", widget.to_str().unwrap()])
        .await;
    let yaml = k
        .ok(&["get", "widget", "w1", "-n", "demo", "-o", "yaml"])
        .await;
    assert!(yaml.contains("size: 3"), "{yaml}");
    let table = k.ok(&["get", "wd", "-n", "demo"]).await;
    assert!(table.contains("SIZE") && table.contains("w1"), "{table}");
    // Schema validation.
    std::fs::write(&widget, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\n  namespace: demo\nspec:\n  size: 0\n").unwrap();
    let bad = k
        .run(&["apply", "--server-side", "-f", widget.to_str().unwrap()])
        .await;
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("spec.size") && err.contains("greater than or equal to 1"),
        "{err}"
    );

    let cm = k
        .ok(&["get", "configmap", "settings", "-n", "demo", "-o", "yaml"])
        .await;
    assert!(cm.contains("color: blue"), "{cm}");

    k.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "-n",
        "demo",
        "--timeout=20s",
    ])
    .await;

    // diff: nothing to change, then one change.
    let same = k.run(&["diff", "--server-side", "-f", all]).await;
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let changed = files.join("changed.yaml");
    std::fs::write(&changed, MANIFESTS.replace("color: blue", "color: green")).unwrap();
    let diff = k
        .run(&["diff", "--server-side", "-f", changed.to_str().unwrap()])
        .await;
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(
        text.contains("-  color: blue") && text.contains("+  color: green"),
        "{text}"
    );

    // get -w sees the update.
    let mut watch = Command::new(&k.bin)
        .args([
            "get",
            "configmap",
            "settings",
            "-n",
            "demo",
            "-w",
            "--output-watch-events",
            "-o",
            "jsonpath={.type} {.object.data.color}{\"\\n\"}",
        ])
        .env("KUBECONFIG", &k.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = watch.stdout.take().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    k.ok(&["apply", "--server-side", "-f", changed.to_str().unwrap()])
        .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains("MODIFIED green") {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(
            deadline,
            tokio::io::AsyncReadExt::read(&mut stdout, &mut buf),
        )
        .await
        .expect("watch output in time")
        .unwrap();
        assert!(n > 0, "watch ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("ADDED blue"), "{seen}");
    watch.kill().await.unwrap();

    // delete, and namespace deletion removes the contents.
    k.ok(&["delete", "configmap", "settings", "-n", "demo"])
        .await;
    let gone = k.run(&["get", "configmap", "settings", "-n", "demo"]).await;
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));
    k.ok(&["delete", "namespace", "demo", "--timeout=30s"])
        .await;
    let left = k
        .ok(&["get", "deployments,widgets", "-A", "-o", "name"])
        .await;
    assert!(left.trim().is_empty(), "namespace contents remain: {left}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm() {
    let Some(bin) = peer("helm") else { return };
    let (_dir, server) = start().await;
    let h = Tool {
        bin,
        kubeconfig: server.kubeconfig_path().to_owned(),
    };
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts/podinfo");
    let chart = chart.to_str().unwrap();
    let out = h
        .ok(&["install", "web", chart, "--wait", "--timeout", "60s"])
        .await;
    assert!(out.contains("STATUS: deployed"), "{out}");
    let list = h.ok(&["list"]).await;
    assert!(
        list.contains("web") && list.contains("deployed") && list.contains("podinfo-6.9.0"),
        "{list}"
    );
    let out = h
        .ok(&[
            "upgrade",
            "web",
            chart,
            "--set",
            "message=bonjour",
            "--set",
            "replicaCount=3",
            "--wait",
            "--timeout",
            "60s",
        ])
        .await;
    assert!(out.contains("REVISION: 2"), "{out}");
    let values = h.ok(&["get", "values", "web"]).await;
    assert!(values.contains("bonjour"), "{values}");
    let history = h.ok(&["history", "web"]).await;
    assert!(
        history.contains("superseded") && history.contains("deployed"),
        "{history}"
    );
    h.ok(&["rollback", "web", "1", "--wait", "--timeout", "60s"])
        .await;
    assert!(
        h.ok(&["list"]).await.contains("\t3  "),
        "rollback makes revision 3"
    );
    h.ok(&["uninstall", "web", "--wait", "--timeout", "60s"])
        .await;
    let list = h
        .ok(&[
            "list",
            "--uninstalled",
            "--uninstalling",
            "--pending",
            "--failed",
            "--deployed",
        ])
        .await;
    assert!(!list.contains("web"), "{list}");
    // The release storage Secrets are gone too.
    let k = peer("kubectl");
    if let Some(kubectl) = k {
        let k = Tool {
            bin: kubectl,
            kubeconfig: h.kubeconfig.clone(),
        };
        let secrets = k
            .ok(&["get", "secrets", "-l", "owner=helm", "-o", "name"])
            .await;
        assert!(secrets.trim().is_empty(), "{secrets}");
    }
    server.shutdown().await;
}
