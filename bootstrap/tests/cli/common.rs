//! Running the `gitops` binary as the `flux` CLI's tests run `flux`: one command line (shell
//! words), stdout and stderr captured together in the order they were written, compared with
//! a golden file or an expected error, against the embedded API server.
//!
//! The cases and golden files under `testdata/flux/` are ported from the `flux` CLI's test
//! suite (fluxcd/flux2 `cmd/flux/*_test.go` and `cmd/flux/testdata/`): the arguments and the
//! expected text, with `{{ .name }}` placeholders filled in as those tests do.

/// `git` in a directory with a fixed author, failing the test on error.
pub use gitops_tests::git;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// stderr and stdout interleaved as written.
    pub output: String,
}

impl Run {
    /// The error message (the text after `✗ ` on the last line) of a failed run.
    pub fn error(&self) -> Option<String> {
        if self.code == 0 {
            return None;
        }
        self.output
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("✗ "))
            .map(str::to_owned)
    }
}

/// Runs `gitops <args>` (split as a shell would) with the given kubeconfig.
pub fn gitops(args: &str, kubeconfig: Option<&Path>) -> Run {
    gitops_with_input(args, kubeconfig, None)
}

/// Like [`gitops`], feeding `input` on stdin.
pub fn gitops_with_input(args: &str, kubeconfig: Option<&Path>, input: Option<&str>) -> Run {
    gitops_with_env(args, kubeconfig, input, &[])
}

/// Like [`gitops_with_input`], with extra environment variables.
pub fn gitops_with_env(
    args: &str,
    kubeconfig: Option<&Path>,
    input: Option<&str>,
    vars: &[(&str, &str)],
) -> Run {
    let words = shlex::split(args).expect("test arguments split as shell words");
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops"));
    cmd.args(&words)
        .stdout(writer.try_clone().expect("pipe clone"))
        .stderr(writer)
        .env_remove("FLUX_SYSTEM_NAMESPACE")
        .env("HOME", std::env::temp_dir())
        .envs(vars.iter().copied());
    match kubeconfig {
        Some(k) => {
            cmd.env("KUBECONFIG", k);
        }
        None => {
            cmd.env("KUBECONFIG", "/nonexistent/kubeconfig");
        }
    }
    cmd.stdin(if input.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    let mut child = cmd.spawn().expect("gitops runs");
    drop(cmd);
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write;
        stdin.write_all(text.as_bytes()).expect("stdin");
    }
    let mut output = String::new();
    reader.read_to_string(&mut output).expect("output");
    let status = child.wait().expect("gitops exits");
    Run {
        code: status.code().unwrap_or(-1),
        output,
    }
}

/// The directory of the ported golden files.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/flux")
}

/// A golden or object file executed as a Go template over `vars`, as Flux's harness does
/// (`executeTemplate` with a `map[string]string`).
pub fn golden(rel: &str, vars: &[(&str, &str)]) -> String {
    use gitops_helm::template::{Exec, parse};
    use gitops_helm::value::Value as TValue;
    use std::rc::Rc;
    let path = testdata().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("golden file {}: {e}", path.display()));
    if vars.is_empty() {
        return text;
    }
    let mut exec = Exec::new(
        Rc::new(gitops_helm::funcs::sprig_hermetic_func_map()),
        Rc::new(()),
    );
    let (tree, defined) =
        parse(rel, &text, &|f| exec.has_func(f)).unwrap_or_else(|e| panic!("template {rel}: {e}"));
    for t in defined {
        exec.add(t);
    }
    exec.add(tree);
    let mut data: std::collections::BTreeMap<String, TValue> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), TValue::Str(Rc::from(*v))))
        .collect();
    // Flux's data is a map[string]string: a missing key is Go's invalid value, and fields
    // of it are empty too. Our engine's maps are map[string]interface{} (a missing key is
    // nil, whose fields are an error), so the one such chain in Flux's files,
    // `.Updated.Images` in export/objects.yaml, is given as the empty value it reads as.
    let updated: std::collections::BTreeMap<String, TValue> =
        [("Images".to_owned(), TValue::List(Rc::new(Vec::new())))].into();
    data.entry("Updated".into())
        .or_insert(TValue::from(updated));
    match exec.execute(rel, TValue::from(data)) {
        Ok(out) => out,
        Err(gitops_helm::template::exec::ExecErrorOrMissing::Exec(e)) => {
            panic!("template {rel}: {e}")
        }
        Err(_) => panic!("template {rel} failed"),
    }
}

/// Asserts a run succeeded with exactly `expected` as output.
#[track_caller]
pub fn assert_output(run: &Run, expected: &str) {
    assert_eq!(run.code, 0, "command failed:\n{}", run.output);
    if run.output != expected {
        panic!(
            "output differs from the golden file\n--- expected\n{expected}\n--- actual\n{}",
            run.output
        );
    }
}

/// Asserts a run failed with exit code 1 and Flux's error message `msg`.
#[track_caller]
pub fn assert_error(run: &Run, msg: &str) {
    assert_eq!(
        run.code, 1,
        "expected failure {msg:?}, got:\n{}",
        run.output
    );
    assert_eq!(run.error().as_deref(), Some(msg), "output:\n{}", run.output);
}

static NEXT_NS: AtomicUsize = AtomicUsize::new(1);

/// A unique namespace name with `prefix` (Flux's `allocateNamespace`).
pub fn allocate_namespace(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT_NS.fetch_add(1, Ordering::SeqCst))
}

/// The embedded API server with Flux's CRDs.
pub struct Env {
    /// The cluster.
    pub cluster: gitops_tests::Cluster,
}

impl Env {
    /// Starts the API server.
    pub async fn start() -> Env {
        Env {
            cluster: gitops_tests::Cluster::start().await,
        }
    }

    /// The kubeconfig path.
    pub fn kubeconfig(&self) -> &Path {
        &self.cluster.kubeconfig
    }

    /// Runs `gitops <args>` against this cluster (on a blocking thread).
    pub async fn run(&self, args: &str) -> Run {
        let args = args.to_owned();
        let kc = self.kubeconfig().to_path_buf();
        tokio::task::spawn_blocking(move || gitops(&args, Some(&kc)))
            .await
            .expect("gitops thread")
    }

    /// Runs `gitops <args>` against this cluster with `input` on stdin and extra
    /// environment variables.
    pub async fn run_with(&self, args: &str, input: Option<&str>, vars: &[(&str, &str)]) -> Run {
        let (args, input) = (args.to_owned(), input.map(str::to_owned));
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let kc = self.kubeconfig().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            gitops_with_env(&args, Some(&kc), input.as_deref(), &vars)
        })
        .await
        .expect("gitops thread")
    }

    /// Creates a namespace.
    pub async fn namespace(&self, name: &str) {
        self.create(&serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
        }))
        .await;
    }

    fn api_for(&self, obj: &Value) -> Api<DynamicObject> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let plural = match kind {
            "Namespace" => "namespaces".to_owned(),
            "Secret" => "secrets".to_owned(),
            "ConfigMap" => "configmaps".to_owned(),
            "Service" => "services".to_owned(),
            "ServiceAccount" => "serviceaccounts".to_owned(),
            "Deployment" => "deployments".to_owned(),
            "Event" => "events".to_owned(),
            _ => gitops_api::KINDS
                .iter()
                .find(|k| k.kind == kind && k.group == group)
                .map(|k| k.plural.to_owned())
                .unwrap_or_else(|| format!("{}s", kind.to_lowercase())),
        };
        let ar = ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            plural,
        };
        match obj["metadata"]["namespace"].as_str() {
            Some(ns) if kind != "Namespace" => {
                Api::namespaced_with(self.cluster.client.clone(), ns, &ar)
            }
            _ => Api::all_with(self.cluster.client.clone(), &ar),
        }
    }

    /// Creates an object and, when it carries a `status`, writes that too (Flux's
    /// `CreateObjects`).
    pub async fn create(&self, obj: &Value) {
        let api = self.api_for(obj);
        let dynamic: DynamicObject = serde_json::from_value(obj.clone()).expect("object");
        let created = api
            .create(&PostParams::default(), &dynamic)
            .await
            .unwrap_or_else(|e| panic!("creating {}: {e}", obj["metadata"]["name"]));
        if let Some(status) = obj.get("status") {
            let name = created.metadata.name.clone().unwrap_or_default();
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({ "status": status })),
            )
            .await
            .expect("status written");
        }
    }

    /// Creates every object of a ported YAML file, placeholders filled in.
    pub async fn create_file(&self, rel: &str, vars: &[(&str, &str)]) {
        let text = golden(rel, vars);
        for doc in gitops_kustomize::yaml::parse_documents(&text).expect("test YAML") {
            let v = &doc.value;
            if v.is_null() {
                continue;
            }
            let json: Value =
                serde_json::from_str(&gitops_kustomize::yaml::to_go_json(v)).expect("JSON");
            self.create(&json).await;
        }
    }

    /// Patches the status of an object (as a controller would).
    pub async fn set_status(&self, obj: &Value, status: Value) {
        let api = self.api_for(obj);
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "status": status })),
        )
        .await
        .expect("status patched");
    }

    /// Reads an object.
    pub async fn get(&self, obj: &Value) -> Option<Value> {
        let api = self.api_for(obj);
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        api.get_opt(name)
            .await
            .expect("get")
            .map(|o| serde_json::to_value(o).expect("JSON"))
    }
}

/// Waits until an object is gone (its finalizers handled).
pub async fn wait_gone(env: &Env, obj: &Value) {
    for _ in 0..300 {
        if env.get(obj).await.is_none() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{} still exists", obj["metadata"]["name"]);
}
