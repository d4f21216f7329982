//! `gitops version`, `envsubst` (Flux's `envsubst_test.go`) and `completion`.

use crate::common;

use common::{Env, assert_error, assert_output, gitops, gitops_with_input, golden};
use serde_json::json;

#[test]
fn envsubst() {
    let input = golden("envsubst/file.yaml", &[]);
    // The variable is set for the child only.
    let run = {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"));
        cmd.arg("envsubst")
            .env("REPO_NAME", "test")
            .env_remove("REPO_NAMESPACE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(run.status.success());
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        golden("envsubst/file.gold", &[])
    );
    let strict = gitops_with_input("envsubst --strict", None, Some(&input));
    assert_eq!(strict.code, 1);
    assert!(
        strict
            .error()
            .unwrap()
            .contains("variable not set (strict mode)"),
        "{}",
        strict.output
    );
}

#[test]
fn completion_scripts() {
    for (shell, start) in [
        ("bash", "_gitops() {"),
        ("zsh", "#compdef gitops"),
        ("fish", "# Print an optspec"),
    ] {
        let run = gitops(&format!("completion {shell}"), None);
        assert_eq!(run.code, 0);
        assert!(
            run.output.starts_with(start),
            "{shell}: {}",
            &run.output[..80]
        );
        assert!(run.output.contains("reconcile"), "{shell}");
    }
    assert_eq!(gitops("completion tcsh", None).code, 1);
}

#[tokio::test]
async fn version() {
    let run = gitops("version --client", None);
    assert_output(&run, &format!("gitops: v{}\n", env!("CARGO_PKG_VERSION")));
    assert_error(
        &gitops("version --client -o table", None),
        "--output must be json or yaml, not table",
    );
    let env = Env::start().await;
    env.namespace("flux-system").await;
    assert_error(
        &env.run("version").await,
        "no deployments found in flux-system namespace",
    );
    for (name, image) in [
        ("source-controller", "ghcr.io/example/gitops:v1.2.3"),
        (
            "kustomize-controller",
            "reg.internal:8080/gitops:v1.2.3@sha256:49921d1c",
        ),
    ] {
        env.create(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "flux-system",
                         "labels": {"app.kubernetes.io/part-of": "flux"}},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {"containers": [{"name": "manager", "image": image}]}}
            }
        }))
        .await;
    }
    let run = env.run("version").await;
    assert_output(
        &run,
        &format!(
            "gitops: v{}\nkustomize-controller: v1.2.3@sha256:49921d1c\nsource-controller: v1.2.3\n",
            env!("CARGO_PKG_VERSION")
        ),
    );
    let run = env.run("version -o json").await;
    let v: serde_json::Value = serde_json::from_str(&run.output).unwrap();
    assert_eq!(v["source-controller"], "v1.2.3");
}

#[tokio::test]
async fn check() {
    let env = Env::start().await;
    let run = env.run("check --pre").await;
    assert_eq!(run.code, 0, "{}", run.output);
    let lines: Vec<&str> = run.output.lines().collect();
    assert_eq!(lines[0], "► checking prerequisites");
    assert!(
        lines[1].starts_with("✔ Kubernetes 1.") && lines[1].ends_with(" >=1.33.0-0"),
        "{}",
        run.output
    );
    assert_eq!(lines[2], "✔ prerequisites checks passed");

    // Without an installation the full check fails and says why.
    let run = env.run("check --timeout=2s").await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output.contains(
            "✗ no controllers found in the 'flux-system' namespace with the label selector 'app.kubernetes.io/part-of=flux'"
        ),
        "{}",
        run.output
    );
    assert!(run.output.ends_with("✗ check failed\n"), "{}", run.output);

    // With the installation applied (by the real kubectl), every check passes.
    let Some(kubectl) = gitops_tests::peer("kubectl") else {
        return;
    };
    let manifests = gitops("install --export", None);
    assert_eq!(manifests.code, 0);
    // kubectl runs on a blocking thread: the API server serves from this test's runtime.
    let kubeconfig = env.kubeconfig().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let mut apply = std::process::Command::new(kubectl)
            .args(["apply", "--server-side", "--force-conflicts", "-f", "-"])
            .env("KUBECONFIG", kubeconfig)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        apply
            .stdin
            .take()
            .unwrap()
            .write_all(manifests.output.as_bytes())
            .ok();
        apply.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = env.run("check --timeout=30s").await;
    assert_eq!(run.code, 0, "{}", run.output);
    for expected in [
        "► checking version in cluster\n",
        "✔ bootstrapped: false\n",
        "✔ source-controller: deployment ready\n",
        "✔ gitrepositories.source.toolkit.fluxcd.io/v1\n",
        "✔ all checks passed\n",
    ] {
        assert!(run.output.contains(expected), "{expected}: {}", run.output);
    }
}
