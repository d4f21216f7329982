//! `gitops build kustomization` and `gitops diff kustomization`: the cases of Flux's
//! `build_kustomization_test.go` and `diff_kustomization_test.go` (and the CLI-visible
//! ones of `internal/build/build_test.go`) against the embedded API server.
//!
//! Flux's tests run in `cmd/flux` and name files `./testdata/…`; here the binary runs in
//! `bootstrap/tests` and those paths are read as `./testdata/flux/…`, where the files
//! were copied. `flux diff` ends with a warning and exit code 1 when it finds changes
//! (Flux's `main` prints it; its tests only see the command's output), so the expected
//! output here is the golden file followed by that line.

use crate::common;

use common::{Env, Run, allocate_namespace, golden};
use gitops_apply::{Applier, ApplyOptions, ObjectRef, PruneOptions};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHANGED: &str = "⚠️ identified at least one change, exiting with non-zero exit code\n";

/// The directory Flux's relative paths are resolved from.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Flux's `./testdata/…` as copied here.
fn flux_args(args: &str) -> String {
    args.replace("./testdata/", "./testdata/flux/")
}

/// Runs `gitops <args>` in `cwd`, stdout and stderr interleaved (as `common::gitops`).
fn gitops_in(cwd: &Path, args: &str, kubeconfig: Option<&Path>) -> Run {
    let words = shlex::split(args).expect("test arguments split as shell words");
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops"));
    cmd.args(&words)
        .current_dir(cwd)
        .stdout(writer.try_clone().expect("pipe clone"))
        .stderr(writer)
        .stdin(std::process::Stdio::null())
        .env_remove("FLUX_SYSTEM_NAMESPACE")
        .env("HOME", std::env::temp_dir())
        .env(
            "KUBECONFIG",
            kubeconfig.unwrap_or(Path::new("/nonexistent/kubeconfig")),
        );
    let mut child = cmd.spawn().expect("gitops runs");
    drop(cmd);
    let mut output = String::new();
    reader.read_to_string(&mut output).expect("output");
    let status = child.wait().expect("gitops exits");
    Run {
        code: status.code().unwrap_or(-1),
        output,
    }
}

/// Runs a Flux test command line (`./testdata/…` paths) against `env`.
async fn run(env: Option<&Env>, args: &str) -> Run {
    let args = flux_args(args);
    let kc = env.map(|e| e.kubeconfig().to_path_buf());
    tokio::task::spawn_blocking(move || gitops_in(&tests_dir(), &args, kc.as_deref()))
        .await
        .expect("gitops thread")
}

#[track_caller]
fn assert_same(run: &Run, code: i32, expected: &str, what: &str) {
    if run.output != expected || run.code != code {
        panic!(
            "{what}: output differs (exit code {} want {code})\n--- expected\n{expected}\n--- actual\n{}",
            run.code, run.output
        );
    }
}

#[track_caller]
fn assert_failure(run: &Run, code: i32, msg: &str, what: &str) {
    assert_eq!(
        run.code, code,
        "{what}: expected failure {msg:?}, got:\n{}",
        run.output
    );
    assert_eq!(
        run.error().as_deref(),
        Some(msg),
        "{what}: output:\n{}",
        run.output
    );
}

/// Flux's `setup`: the GitRepository and the Kustomization `podinfo` in `ns`.
async fn setup(env: &Env, ns: &str) {
    let vars = [("fluxns", ns)];
    env.create_file("build-kustomization/podinfo-source.yaml", &vars)
        .await;
    env.create_file("build-kustomization/podinfo-kustomization.yaml", &vars)
        .await;
}

/// The objects of a ported YAML file, as Flux's `createObjectFromFile` reads them
/// (placeholders filled in, `stringData` folded into `data` by normalization).
fn objects_of(rel: &str, ns: &str) -> Vec<Value> {
    use base64::Engine as _;
    let text = golden(rel, &[("fluxns", ns)]);
    let mut out = Vec::new();
    for doc in gitops_kustomize::yaml::parse_documents(&text).expect("test YAML") {
        if doc.value.is_null() {
            continue;
        }
        let mut v: Value =
            serde_json::from_str(&gitops_kustomize::yaml::to_go_json(&doc.value)).expect("JSON");
        if v["kind"] == "Secret"
            && let Some(sd) = v.as_object_mut().and_then(|m| m.remove("stringData"))
        {
            for (k, val) in sd.as_object().into_iter().flatten() {
                let enc = base64::engine::general_purpose::STANDARD
                    .encode(val.as_str().unwrap_or_default());
                v["data"][k] = Value::String(enc);
            }
        }
        out.push(v);
    }
    out
}

/// Flux's `resourceManager.ApplyAll` of a file's objects.
async fn apply_file(env: &Env, rel: &str, ns: &str) {
    Applier::new(env.cluster.client.clone(), "kustomize-controller")
        .apply(objects_of(rel, ns), &ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("applying {rel}: {e}"));
}

/// Flux's `DeleteObjectFile`.
async fn delete_file(env: &Env, rel: &str, ns: &str) {
    let refs: Vec<ObjectRef> = objects_of(rel, ns)
        .iter()
        .map(|o| ObjectRef::from_object(o).expect("object"))
        .collect();
    Applier::new(env.cluster.client.clone(), "kustomize-controller")
        .prune(
            &refs,
            &PruneOptions {
                wait: true,
                ..PruneOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("deleting {rel}: {e}"));
}

// --- build ----------------------------------------------------------------------------

/// `TestBuildKustomization`.
#[tokio::test]
async fn build_kustomization() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    setup(&env, &ns).await;
    let run1 = run(Some(&env), &format!("build kustomization podinfo -n {ns}")).await;
    assert_failure(&run1, 1, "invalid resource path \"\"", "no args");
    for (name, args, result) in [
        (
            "build podinfo",
            "build kustomization podinfo --path ./testdata/build-kustomization/podinfo",
            "build-kustomization/podinfo-result.yaml",
        ),
        (
            "build podinfo (in-memory)",
            "build kustomization podinfo --path ./testdata/build-kustomization/podinfo --in-memory-build=true",
            "build-kustomization/podinfo-result.yaml",
        ),
        (
            "build podinfo without service",
            "build kustomization podinfo --path ./testdata/build-kustomization/delete-service",
            "build-kustomization/podinfo-without-service-result.yaml",
        ),
        (
            "build deployment and configmap with var substitution",
            "build kustomization podinfo --path ./testdata/build-kustomization/var-substitution",
            "build-kustomization/podinfo-with-var-substitution-result.yaml",
        ),
        (
            "build ignore",
            "build kustomization podinfo --path ./testdata/build-kustomization/ignore --ignore-paths \"!configmap.yaml,!secret.yaml\"",
            "build-kustomization/podinfo-with-ignore-result.yaml",
        ),
        (
            "build ignore (in-memory)",
            "build kustomization podinfo --path ./testdata/build-kustomization/ignore --ignore-paths \"!configmap.yaml,!secret.yaml\" --in-memory-build=true",
            "build-kustomization/podinfo-with-ignore-result.yaml",
        ),
        (
            "build with recursive",
            "build kustomization podinfo --path ./testdata/build-kustomization/podinfo-with-my-app --recursive --local-sources GitRepository/default/podinfo=./testdata/build-kustomization",
            "build-kustomization/podinfo-with-my-app-result.yaml",
        ),
        (
            "build with recursive (in-memory)",
            "build kustomization podinfo --path ./testdata/build-kustomization/podinfo-with-my-app --recursive --local-sources GitRepository/default/podinfo=./testdata/build-kustomization --in-memory-build=true",
            "build-kustomization/podinfo-with-my-app-result.yaml",
        ),
    ] {
        let r = run(Some(&env), &format!("{args} -n {ns}")).await;
        assert_same(&r, 0, &golden(result, &vars), name);
    }
}

/// `TestBuildLocalKustomization`.
#[tokio::test]
async fn build_local_kustomization() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    setup(&env, &ns).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("podinfo.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: {ns}
spec:
  interval: 5m0s
  path: ./kustomize
  force: true
  prune: true
  sourceRef:
    kind: GitRepository
    name: podinfo
  targetNamespace: default
  postBuild:
    substitute:
      cluster_env: \"prod\"
      cluster_region: \"eu-central-1\"
"
        ),
    )
    .expect("kustomization file");
    let f = file.display().to_string();
    let r = run(
        Some(&env),
        &format!("build kustomization podinfo --kustomization-file ./wrongfile/ --path ./testdata/build-kustomization/podinfo -n {ns}"),
    )
    .await;
    assert_failure(
        &r,
        1,
        "invalid kustomization file \"./wrongfile/\"",
        "no args",
    );
    let recursive = "--path ./testdata/build-kustomization/podinfo-with-my-app --recursive --local-sources GitRepository/default/podinfo=./testdata/build-kustomization";
    for (name, args, result) in [
        (
            "build podinfo",
            "--path ./testdata/build-kustomization/podinfo".to_owned(),
            "build-kustomization/podinfo-result.yaml",
        ),
        (
            "build podinfo (in-memory)",
            "--path ./testdata/build-kustomization/podinfo --in-memory-build=true".to_owned(),
            "build-kustomization/podinfo-result.yaml",
        ),
        (
            "build podinfo without service",
            "--path ./testdata/build-kustomization/delete-service".to_owned(),
            "build-kustomization/podinfo-without-service-result.yaml",
        ),
        (
            "build deployment and configmap with var substitution",
            "--path ./testdata/build-kustomization/var-substitution".to_owned(),
            "build-kustomization/podinfo-with-var-substitution-result.yaml",
        ),
        (
            "build deployment and configmap with var substitution in dry-run mode",
            "--path ./testdata/build-kustomization/var-substitution --dry-run".to_owned(),
            "build-kustomization/podinfo-with-var-substitution-result.yaml",
        ),
        (
            "build with recursive",
            recursive.to_owned(),
            "build-kustomization/podinfo-with-my-app-result.yaml",
        ),
        (
            "build with recursive in dry-run mode",
            format!("{recursive} --dry-run"),
            "build-kustomization/podinfo-with-my-app-result.yaml",
        ),
        (
            "build with recursive (in-memory)",
            format!("{recursive} --in-memory-build=true"),
            "build-kustomization/podinfo-with-my-app-result.yaml",
        ),
        (
            "build with recursive in dry-run mode (in-memory)",
            format!("{recursive} --in-memory-build=true --dry-run"),
            "build-kustomization/podinfo-with-my-app-result.yaml",
        ),
    ] {
        let r = run(
            Some(&env),
            &format!("build kustomization podinfo --kustomization-file {f} {args} -n {ns}"),
        )
        .await;
        assert_same(&r, 0, &golden(result, &vars), name);
    }
}

/// A Kustomization file and a source directory outside the working directory (Flux's
/// `newOutsideCwdKustomization`): `(cwd, source, kustomization file)`.
fn outside_cwd_kustomization(
    parent: &Path,
    namespace: &str,
    target_namespace: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let cwd = parent.join("cwd");
    let source = parent.join("source");
    std::fs::create_dir_all(&cwd).expect("cwd");
    std::fs::create_dir_all(&source).expect("source");
    std::fs::write(
        source.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- configmap.yaml\n",
    )
    .expect("kustomization");
    std::fs::write(
        source.join("configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside-cwd\n",
    )
    .expect("configmap");
    let target = if target_namespace.is_empty() {
        String::new()
    } else {
        format!("\n  targetNamespace: {target_namespace}")
    };
    let file = parent.join("app.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: app
  namespace: {namespace}
spec:
  interval: 5m
  path: ./source
  prune: true{target}
  sourceRef:
    kind: GitRepository
    name: app
"
        ),
    )
    .expect("app.yaml");
    (cwd, source, file)
}

/// `TestBuildKustomizationDefaultBuildsAbsolutePathOutsideCwd`.
#[test]
fn build_absolute_path_outside_cwd() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (cwd, source, file) = outside_cwd_kustomization(tmp.path(), "default", "");
    let r = gitops_in(
        &cwd,
        &format!(
            "build kustomization app --path {} --kustomization-file {} --namespace default --dry-run",
            source.display(),
            file.display()
        ),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.output);
    assert!(r.output.contains("name: outside-cwd"), "{}", r.output);
    // the source directory is left as it was
    let mut names: Vec<String> = std::fs::read_dir(&source)
        .expect("source")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert_eq!(names, ["configmap.yaml", "kustomization.yaml"]);
}

/// `TestBuildKustomizationPathNormalization`.
#[tokio::test]
async fn build_path_normalization() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    setup(&env, &ns).await;
    let abs = tests_dir().join("testdata/flux/build-kustomization/podinfo");
    let abs = abs.display();
    for (name, args) in [
        (
            "build with absolute path",
            format!("build kustomization podinfo --path {abs}"),
        ),
        (
            "build with absolute path (in-memory)",
            format!("build kustomization podinfo --path {abs} --in-memory-build=true"),
        ),
        (
            "build with complex relative path (parent dir)",
            "build kustomization podinfo --path ./testdata/build-kustomization/../build-kustomization/podinfo".to_owned(),
        ),
        (
            "build with path containing redundant separators",
            "build kustomization podinfo --path ./testdata//build-kustomization//podinfo".to_owned(),
        ),
    ] {
        let r = run(Some(&env), &format!("{args} -n {ns}")).await;
        assert_same(
            &r,
            0,
            &golden("build-kustomization/podinfo-result.yaml", &vars),
            name,
        );
    }
}

/// `internal/build`: `Test_unMarshallKustomization` through the CLI (dry-run builds of
/// the invalid-labels resources with each local Kustomization file).
#[test]
fn build_local_kustomization_files() {
    let dir = "./testdata/build-kustomization/internal";
    let build = |file: &str| {
        gitops_in(
            &tests_dir(),
            &flux_args(&format!(
                "build kustomization podinfo --path {dir}/invalid-labels/resources --kustomization-file {dir}/local-kustomization/{file} --dry-run -n flux-system"
            )),
            None,
        )
    };
    for file in [
        "valid.yaml",
        "multi-doc-valid.yaml",
        "no-ns.yaml",
        "multi-doc-reset.yaml",
    ] {
        let r = build(file);
        assert_eq!(r.code, 0, "{file}: {}", r.output);
        assert!(
            r.output
                .contains("kustomize.toolkit.fluxcd.io/name: podinfo"),
            "{file}: {}",
            r.output
        );
    }
    // no namespace in the file: the owner label says so
    assert!(
        build("no-ns.yaml")
            .output
            .contains("kustomize.toolkit.fluxcd.io/namespace: \"\"")
    );
    for file in ["different-name.yaml", "invalid-resource.yaml"] {
        let r = build(file);
        assert_eq!(r.code, 1, "{file}: {}", r.output);
        let err = r.error().unwrap_or_default();
        assert!(
            err.starts_with("failed to get kustomization object: failed find kustomization with name 'podinfo' and namespace 'flux-system' in file"),
            "{file}: {err}"
        );
    }
}

/// `internal/build`: `Test_Build_preserveAllLabels` and `Test_Build_substituteStrategy`
/// through the CLI.
#[test]
fn build_labels_and_substitute_strategy() {
    let dir = "./testdata/build-kustomization/internal";
    let r = gitops_in(
        &tests_dir(),
        &flux_args(&format!(
            "build kustomization test-ks --path {dir}/invalid-labels/resources --kustomization-file {dir}/invalid-labels/kustomization.yaml --dry-run -n flux-system"
        )),
        None,
    );
    assert_eq!(
        r.output,
        "apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    invalid: 0
    kustomize.toolkit.fluxcd.io/name: test-ks
    kustomize.toolkit.fluxcd.io/namespace: flux-system
    valid: \"yes\"
  name: invalid-resource
---
"
    );
    for (file, color, shape) in [
        ("with-variables.yaml", "${color:=blue}", "${shape:=square}"),
        ("always.yaml", "blue", "square"),
    ] {
        let r = gitops_in(
            &tests_dir(),
            &flux_args(&format!(
                "build kustomization test-ks --path {dir}/substitute-strategy/resources --kustomization-file {dir}/substitute-strategy/{file} --dry-run -n flux-system"
            )),
            None,
        );
        assert_eq!(r.code, 0, "{file}: {}", r.output);
        assert!(
            r.output.contains(&format!("  color: {color}\n")),
            "{file}: {}",
            r.output
        );
        assert!(
            r.output.contains(&format!("  shape: {shape}\n")),
            "{file}: {}",
            r.output
        );
    }
}

/// `internal/build`: the in-memory build reads `../` references inside the working
/// directory (`Test_inMemoryFsBackend_Generate_parentRef`) but nothing outside it
/// (`…_outsideCwd`), and never writes to the source directory.
#[test]
fn build_in_memory_boundaries() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    std::fs::write(
        root.join("configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: parent-cm\ndata:\n  key: value\n",
    )
    .expect("configmap");
    let overlay = root.join("overlay/sub");
    std::fs::create_dir_all(&overlay).expect("overlay");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../configmap.yaml\n",
    )
    .expect("kustomization");
    std::fs::write(
        root.join("ks.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: test\n  namespace: default\nspec:\n  targetNamespace: parent-ns\n",
    )
    .expect("ks");
    let args = "build kustomization test --path overlay/sub --kustomization-file ks.yaml --dry-run -n default --in-memory-build";
    let r = gitops_in(root, args, None);
    assert_eq!(r.code, 0, "{}", r.output);
    assert!(
        r.output
            .contains("name: parent-cm\n  namespace: parent-ns\n"),
        "{}",
        r.output
    );
    let r = gitops_in(
        &root.join("overlay"),
        &args
            .replace("overlay/sub", "sub")
            .replace("ks.yaml", "../ks.yaml"),
        None,
    );
    assert_eq!(r.code, 1, "{}", r.output);
    assert!(r.output.contains("kustomize build failed:"), "{}", r.output);
    let files: Vec<_> = std::fs::read_dir(&overlay).expect("overlay").collect();
    assert_eq!(files.len(), 1);
}

// --- diff -----------------------------------------------------------------------------

/// `TestDiffKustomization`.
#[tokio::test]
async fn diff_kustomization() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    setup(&env, &ns).await;
    let r = run(Some(&env), &format!("diff kustomization podinfo -n {ns}")).await;
    assert_failure(&r, 2, "invalid resource path \"\"", "no args");
    let podinfo = "diff kustomization podinfo --path ./testdata/build-kustomization/podinfo --progress-bar=false";
    for (name, args, object_file, result) in [
        (
            "diff nothing deployed",
            podinfo.to_owned(),
            "",
            "diff-kustomization/diff-new-kustomization.golden",
        ),
        (
            "diff with a deployment object",
            podinfo.to_owned(),
            "diff-kustomization/deployment.yaml",
            "diff-kustomization/diff-with-deployment.golden",
        ),
        (
            "diff with a drifted service object",
            podinfo.to_owned(),
            "diff-kustomization/service.yaml",
            "diff-kustomization/diff-with-drifted-service.golden",
        ),
        (
            "diff with a drifted secret object",
            podinfo.to_owned(),
            "diff-kustomization/secret.yaml",
            "diff-kustomization/diff-with-drifted-secret.golden",
        ),
        (
            "diff with a drifted key in sops secret object",
            podinfo.to_owned(),
            "diff-kustomization/key-sops-secret.yaml",
            "diff-kustomization/diff-with-drifted-key-sops-secret.golden",
        ),
        (
            "diff with a drifted value in sops secret object",
            podinfo.to_owned(),
            "diff-kustomization/value-sops-secret.yaml",
            "diff-kustomization/diff-with-drifted-value-sops-secret.golden",
        ),
        (
            "diff with a sops dockerconfigjson secret object",
            podinfo.to_owned(),
            "diff-kustomization/dockerconfigjson-sops-secret.yaml",
            "diff-kustomization/diff-with-dockerconfigjson-sops-secret.golden",
        ),
        (
            "diff with a sops stringdata secret object",
            podinfo.to_owned(),
            "diff-kustomization/stringdata-sops-secret.yaml",
            "diff-kustomization/diff-with-drifted-stringdata-sops-secret.golden",
        ),
        (
            "diff where kustomization file has multiple objects with the same name",
            format!("{podinfo} --kustomization-file ./testdata/diff-kustomization/flux-kustomization-multiobj.yaml"),
            "",
            "diff-kustomization/diff-new-kustomization.golden",
        ),
        (
            "diff with recursive",
            "diff kustomization podinfo --path ./testdata/build-kustomization/podinfo-with-my-app --progress-bar=false --recursive --local-sources GitRepository/default/podinfo=./testdata/build-kustomization".to_owned(),
            "diff-kustomization/my-app.yaml",
            "diff-kustomization/diff-with-recursive.golden",
        ),
    ] {
        if !object_file.is_empty() {
            apply_file(&env, object_file, &ns).await;
        }
        let r = run(Some(&env), &format!("{args} -n {ns}")).await;
        assert_same(&r, 1, &format!("{}{CHANGED}", golden(result, &[])), name);
        if !object_file.is_empty() {
            delete_file(&env, object_file, &ns).await;
        }
    }
}

/// `TestDiffKustomizationNotDeployed`.
#[tokio::test]
async fn diff_kustomization_not_deployed() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    let args = "diff kustomization podinfo --path ./testdata/build-kustomization/podinfo --progress-bar=false --kustomization-file ./testdata/diff-kustomization/flux-kustomization-local-only.yaml";
    let r = run(Some(&env), &format!("{args} -n {ns}")).await;
    assert_failure(
        &r,
        2,
        "failed to get kustomization object: kustomizations.kustomize.toolkit.fluxcd.io \"podinfo\" not found",
        "fails without --ignore-not-found",
    );
    let r = run(Some(&env), &format!("{args} --ignore-not-found -n {ns}")).await;
    assert_same(
        &r,
        1,
        &format!(
            "{}{CHANGED}",
            golden("diff-kustomization/diff-new-kustomization.golden", &[])
        ),
        "succeeds with --ignore-not-found and --kustomization-file",
    );
}

/// `TestDiffKustomizationDefaultBuildsAbsolutePathOutsideCwd`.
#[tokio::test]
async fn diff_absolute_path_outside_cwd() {
    let env = Env::start().await;
    let flux_ns = allocate_namespace("flux-system");
    let target_ns = allocate_namespace("target");
    env.namespace(&flux_ns).await;
    env.namespace(&target_ns).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let (cwd, source, file) = outside_cwd_kustomization(tmp.path(), &flux_ns, &target_ns);
    let args = format!(
        "diff kustomization app --path {} --kustomization-file {} --ignore-not-found --progress-bar=false -n {flux_ns}",
        source.display(),
        file.display()
    );
    let kc = env.kubeconfig().to_path_buf();
    let r = tokio::task::spawn_blocking(move || gitops_in(&cwd, &args, Some(&kc)))
        .await
        .expect("gitops thread");
    assert_eq!(r.code, 1, "{}", r.output);
    assert!(
        r.output
            .contains(&format!("ConfigMap/{target_ns}/outside-cwd created")),
        "{}",
        r.output
    );
}

/// `TestDiffKustomizationTakeOwnership`.
#[tokio::test]
async fn diff_taking_ownership() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    apply_file(&env, "diff-kustomization/existing-configmap.yaml", &ns).await;
    let r = run(
        Some(&env),
        &format!("diff kustomization configmaps --path ./testdata/build-kustomization/configmaps --progress-bar=false --kustomization-file ./testdata/diff-kustomization/flux-kustomization-configmaps.yaml --ignore-not-found -n {ns}"),
    )
    .await;
    assert_same(
        &r,
        1,
        &format!(
            "{}{CHANGED}",
            golden("diff-kustomization/diff-taking-ownership.golden", &[])
        ),
        "taking ownership",
    );
}

/// `TestDiffKustomizationNewNamespaceAndConfigmap`.
#[tokio::test]
async fn diff_new_namespace_and_configmap() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    let r = run(
        Some(&env),
        &format!("diff kustomization new-namespace-and-configmap --path ./testdata/build-kustomization/new-namespace-and-configmap --progress-bar=false --kustomization-file ./testdata/diff-kustomization/flux-kustomization-new-namespace-and-configmap.yaml --ignore-not-found -n {ns}"),
    )
    .await;
    assert_failure(
        &r,
        2,
        "ConfigMap/new-ns/app-config not found: namespaces \"new-ns\" not found",
        "new namespace and configmap",
    );
}

/// `TestDiffKustomizationNewNamespaceOnly`.
#[tokio::test]
async fn diff_new_namespace_only() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    let r = run(
        Some(&env),
        &format!("diff kustomization new-namespace-only --path ./testdata/build-kustomization/new-namespace-only --progress-bar=false --kustomization-file ./testdata/diff-kustomization/flux-kustomization-new-namespace-only.yaml --ignore-not-found -n {ns}"),
    )
    .await;
    assert_same(
        &r,
        1,
        &format!(
            "{}{CHANGED}",
            golden("diff-kustomization/diff-new-namespace-only.golden", &[])
        ),
        "new namespace only",
    );
}

/// `TestDiffKustomizationDriftIgnoreRules`.
#[tokio::test]
async fn diff_drift_ignore_rules() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    apply_file(
        &env,
        "diff-kustomization/drifted-service-no-labels.yaml",
        &ns,
    )
    .await;
    let r = run(
        Some(&env),
        &format!("diff kustomization podinfo --path ./testdata/build-kustomization/podinfo --progress-bar=false --kustomization-file ./testdata/diff-kustomization/flux-kustomization-drift-ignore.yaml --ignore-not-found -n {ns}"),
    )
    .await;
    assert_same(
        &r,
        1,
        &format!(
            "{}{CHANGED}",
            golden("diff-kustomization/diff-with-drift-ignore.golden", &[])
        ),
        "drift ignore rules",
    );
}

// --- beyond Flux's cases ----------------------------------------------------------------

/// Objects in the Kustomization's inventory that the build no longer has are reported
/// `deleted` (with `prune`), drifted workloads show their changed fields, excluded objects
/// are `skipped`, and nothing at all to change exits 0.
#[tokio::test]
async fn diff_deleted_drifted_skipped_and_unchanged() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    // the Deployment as built from ./podinfo (image 6.0.10), owned by the Kustomization
    apply_file(&env, "diff-kustomization/deployment.yaml", &ns).await;
    let ks = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {"interval": "5m0s", "path": "./kustomize", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "podinfo"},
                 "targetNamespace": "default"},
        "status": {"inventory": {"entries": [
            {"id": "default_podinfo_apps_Deployment", "v": "v1"},
            {"id": "default_stale__ConfigMap", "v": "v1"},
            {"id": "_old-ns__Namespace", "v": "v1"},
        ]}}
    });
    env.create(&ks).await;
    // delete-service: the Deployment with image 6.0.3 and the HPA
    let r = run(
        Some(&env),
        &format!("diff ks podinfo --path ./testdata/build-kustomization/delete-service -n {ns}"),
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.output);
    assert!(
        r.output
            .starts_with("► Deployment/default/podinfo drifted\n"),
        "{}",
        r.output
    );
    assert!(
        r.output.contains(
            "\nspec.template.spec.containers.podinfod.image\n± value change\n- ghcr.io/stefanprodan/podinfo:6.0.10\n+ ghcr.io/stefanprodan/podinfo:6.0.3\n"
        ),
        "{}",
        r.output
    );
    assert!(
        r.output.ends_with(&format!(
            "► HorizontalPodAutoscaler/default/podinfo created\n► Namespace/old-ns deleted\n► ConfigMap/default/stale deleted\n{CHANGED}"
        )),
        "{}",
        r.output
    );

    // the same build as the live Deployment, nothing else: no change, exit 0
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = tests_dir().join("testdata/flux/build-kustomization/podinfo/deployment.yaml");
    std::fs::copy(&src, tmp.path().join("deployment.yaml")).expect("copy");
    let mut same = ks.clone();
    same["metadata"]["name"] = serde_json::json!("same");
    same["spec"]["prune"] = serde_json::json!(false);
    let ks_dir = tempfile::tempdir().expect("temp dir");
    let file = ks_dir.path().join("same.yaml");
    std::fs::write(&file, serde_json::to_string(&same).expect("json")).expect("file");
    // owner labels name the Kustomization: apply the Deployment as `same` owns it
    let mut owned = objects_of("diff-kustomization/deployment.yaml", &ns);
    owned[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = serde_json::json!("same");
    Applier::new(env.cluster.client.clone(), "kustomize-controller")
        .apply(owned, &ApplyOptions::default())
        .await
        .expect("apply");
    let args = format!(
        "diff kustomization same --path {} --kustomization-file {} --ignore-not-found -n {ns}",
        tmp.path().display(),
        file.display()
    );
    let kc = env.kubeconfig().to_path_buf();
    let r = tokio::task::spawn_blocking(move || gitops_in(&tests_dir(), &args, Some(&kc)))
        .await
        .expect("gitops thread");
    assert_same(&r, 0, "", "no change");

    // an excluded object is skipped
    std::fs::write(
        tmp.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: off\n  annotations:\n    kustomize.toolkit.fluxcd.io/reconcile: disabled\n",
    )
    .expect("cm");
    std::fs::remove_file(tmp.path().join("deployment.yaml")).expect("rm");
    let args = format!(
        "diff kustomization same --path {} --kustomization-file {} --ignore-not-found -n {ns}",
        tmp.path().display(),
        file.display()
    );
    let kc = env.kubeconfig().to_path_buf();
    let r = tokio::task::spawn_blocking(move || gitops_in(&tests_dir(), &args, Some(&kc)))
        .await
        .expect("gitops thread");
    assert_same(&r, 0, "► ConfigMap/ skipped\n", "skipped");
}

/// Build errors name what is wrong, and nothing panics on bad input.
#[tokio::test]
async fn build_errors() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    env.namespace(&ns).await;
    // builds that are not dry runs read the Kustomization from the cluster first
    let r = run(
        Some(&env),
        &format!("build kustomization app --path ./testdata/build-kustomization/podinfo -n {ns}"),
    )
    .await;
    assert_failure(
        &r,
        1,
        "failed to get kustomization object: kustomizations.kustomize.toolkit.fluxcd.io \"app\" not found",
        "no Kustomization",
    );
    env.create(&serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"interval": "5m", "path": "./", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "app"}}
    }))
    .await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: ${missing}\n",
    )
    .expect("cm");
    let ks = |extra: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  path: ./\n{extra}"
        )
    };
    let ks_dir = tempfile::tempdir().expect("temp dir");
    let file = ks_dir.path().join("ks.yaml");
    let build = async |extra: &str, flags: &str| {
        std::fs::write(&file, ks(extra)).expect("ks");
        let args = format!(
            "build kustomization app --path {} --kustomization-file {} -n {ns} {flags}",
            dir.display(),
            file.display()
        );
        let kc = env.kubeconfig().to_path_buf();
        tokio::task::spawn_blocking(move || gitops_in(&tests_dir(), &args, Some(&kc)))
            .await
            .expect("gitops thread")
    };
    let r = build(
        "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n",
        "",
    )
    .await;
    assert_failure(
        &r,
        1,
        "var substitution failed for 'cm': substitute from 'ConfigMap/vars' error: configmaps \"vars\" not found",
        "missing substituteFrom",
    );
    let r = build(
        "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n      optional: true\n    substitute:\n      x: y\n",
        "--strict-substitute",
    ).await;
    assert_failure(
        &r,
        1,
        "var substitution failed for 'cm': envsubst error: variable substitution failed: variable not set (strict mode): \"missing\"",
        "strict",
    );
    let r = build("  postBuild:\n    substitute:\n      bad-name: y\n", "").await;
    assert_failure(
        &r,
        1,
        "var substitution failed for 'cm': envsubst error: 'bad-name' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'",
        "invalid var name",
    );
    // dry-run skips substituteFrom
    let r = build(
        "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n",
        "--dry-run",
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.output);
    let r = build("  components:\n  - https://example.com/c\n", "--dry-run").await;
    assert_failure(
        &r,
        1,
        "failed to generate kustomization.yaml: component path 'https://example.com/c' must be local and relative <nil>",
        "remote component",
    );
    let r = build("", "--recursive --dry-run").await;
    assert_eq!(r.code, 0, "{}", r.output);
    std::fs::write(dir.join("broken.yaml"), "apiVersion: v1\nkind: [\n").expect("broken");
    let r = build("", "--dry-run").await;
    assert_eq!(r.code, 1, "{}", r.output);
    let err = r.error().unwrap_or_default();
    assert!(
        err.starts_with("failed to generate kustomization.yaml:") && err.contains("broken.yaml"),
        "{err}"
    );
    std::fs::remove_file(dir.join("broken.yaml")).expect("rm");
    let r = build("", "--dry-run --local-sources nokey").await;
    assert_eq!(r.code, 1, "{}", r.output);
    assert!(
        r.output.contains("nokey must be formatted as key=value"),
        "{}",
        r.output
    );
    let r = build(
        "  commonMetadata:\n    labels:\n      team: a\n",
        "--dry-run",
    )
    .await;
    assert!(r.output.contains("    team: a\n"), "{}", r.output);
    let r = run(
        None,
        "build kustomization podinfo --path ./testdata/build-kustomization/podinfo --dry-run",
    )
    .await;
    assert_failure(
        &r,
        1,
        "dry-run mode requires a kustomization file",
        "dry-run without file",
    );
    let r = run(None, "build kustomization").await;
    assert_failure(&r, 1, "kustomization name is required", "no name");
}
