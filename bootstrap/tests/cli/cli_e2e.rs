//! The `flux` CLI's end-to-end Kustomization case (`kustomization_test.go`, run there against
//! a real cluster with Flux and GitHub) against the embedded API server with the real
//! source and kustomize controllers and a repository served by `git http-backend`: create,
//! get, reconcile --with-source, suspend, resume and delete change what they should and
//! print Flux's lines (the golden files' commit replaced by ours).

use crate::common;

use common::{Env, allocate_namespace, assert_output, golden};
use gitops_tests::{GitHttpServer, git};
use serde_json::json;
use std::path::Path;

const FLUX_COMMIT: &str = "67e2c98a60dc92283531412a9e604dd4bae005a9";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: dev
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: app
        image: ghcr.io/stefanprodan/podinfo:6.3.5
"
    )
}

/// A bare repository `repo.git` under `root` and its work tree `root/work`.
fn repository(root: &Path) -> std::path::PathBuf {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(root, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    work
}

/// Commits everything, tags it 6.3.5 and pushes; returns the commit.
fn commit_tag_push(root: &Path, work: &Path) -> String {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "podinfo"]);
    git(work, &["tag", "6.3.5"]);
    let remote = root.join("repo.git");
    git(
        work,
        &[
            "push",
            "-q",
            &remote.display().to_string(),
            "main",
            "--tags",
        ],
    );
    git(work, &["rev-parse", "HEAD"])
}

/// Flux's golden text with Flux's commit replaced by ours and its http warning added.
fn expected(file: &str, vars: &[(&str, &str)], commit: &str, args: &str) -> String {
    let mut text = golden(file, vars)
        .replace(FLUX_COMMIT, commit)
        .replace(&FLUX_COMMIT[..8], &commit[..8]);
    if args.starts_with("create source git") {
        // Flux warns for every http:// URL (its case used https://github.com).
        text = text.replacen(
            "\n",
            "\n⚠️ insecure configuration: credentials configured for an HTTP URL\n",
            1,
        );
    }
    text
}

#[tokio::test]
async fn helmrelease_from_git() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    env.cluster.start_helm_controller_with(&[]);
    let root = tempfile::tempdir().unwrap();
    let work = repository(root.path());
    let chart = work.join("charts/podinfo");
    write(
        &chart.join("Chart.yaml"),
        "apiVersion: v2\nname: podinfo\nversion: 6.3.5\nappVersion: 6.3.5\n",
    );
    write(&chart.join("values.yaml"), "replicaCount: 1\n");
    write(
        &chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicaCount | quote }}\n",
    );
    let commit = commit_tag_push(root.path(), &work);
    let http = GitHttpServer::start(root.path(), None).await;
    let url = format!("{}/repo.git", http.url);
    // Flux's golden `get` message names the namespace its harness allocated first.
    let ns = "thrfg-1";
    env.namespace(ns).await;
    let vars = [("ns", ns)];
    let cases = [
        (
            format!("create source git thrfg --url={url} --branch=main --tag=6.3.5"),
            "helmrelease/create_source_git.golden",
        ),
        (
            "create helmrelease thrfg --source=GitRepository/thrfg --chart=./charts/podinfo"
                .to_owned(),
            "helmrelease/create_helmrelease_from_git.golden",
        ),
        (
            "get helmrelease thrfg".to_owned(),
            "helmrelease/get_helmrelease_from_git.golden",
        ),
        (
            "reconcile helmrelease thrfg --with-source".to_owned(),
            "helmrelease/reconcile_helmrelease_from_git.golden",
        ),
        (
            "suspend helmrelease thrfg".to_owned(),
            "helmrelease/suspend_helmrelease_from_git.golden",
        ),
        (
            "resume helmrelease thrfg".to_owned(),
            "helmrelease/resume_helmrelease_from_git.golden",
        ),
        (
            "delete helmrelease thrfg --silent".to_owned(),
            "helmrelease/delete_helmrelease_from_git.golden",
        ),
    ];
    for (args, file) in &cases {
        let run = env.run(&format!("{args} -n={ns} --timeout=2m")).await;
        assert_output(&run, &expected(file, &vars, &commit, args));
    }
}

#[tokio::test]
async fn kustomization_from_git() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    env.cluster.start_kustomize_controller();

    // podinfo's layout in miniature: ./deploy/overlays/dev with two Deployments, tagged 6.3.5.
    let root = tempfile::tempdir().unwrap();
    let work = repository(root.path());
    let dev = work.join("deploy/overlays/dev");
    write(
        &dev.join("namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n",
    );
    write(&dev.join("frontend.yaml"), &deployment("frontend"));
    write(&dev.join("backend.yaml"), &deployment("backend"));
    write(
        &dev.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- namespace.yaml\n- frontend.yaml\n- backend.yaml\n",
    );
    let commit = commit_tag_push(root.path(), &work);
    let remote = root.path().join("repo.git");
    let http = GitHttpServer::start(root.path(), None).await;
    let url = format!("{}/repo.git", http.url);

    let ns = allocate_namespace("tkfg");
    env.namespace(&ns).await;
    let vars = [("ns", ns.as_str())];
    let cases = [
        (
            format!("create source git tkfg --url={url} --branch=main --tag=6.3.5"),
            "kustomization/create_source_git.golden",
        ),
        (
            "create kustomization tkfg --source=tkfg --path=./deploy/overlays/dev --prune=true --interval=5m --health-check=Deployment/frontend.dev --health-check=Deployment/backend.dev --health-check-timeout=3m".to_owned(),
            "kustomization/create_kustomization_from_git.golden",
        ),
        ("get kustomization tkfg".to_owned(), "kustomization/get_kustomization_from_git.golden"),
        (
            "reconcile kustomization tkfg --with-source".to_owned(),
            "kustomization/reconcile_kustomization_from_git.golden",
        ),
        ("suspend kustomization tkfg".to_owned(), "kustomization/suspend_kustomization_from_git.golden"),
        (
            "suspend kustomization tkfg foo tkfg bar".to_owned(),
            "kustomization/suspend_kustomization_from_git_multiple_args.golden",
        ),
        (
            "resume kustomization tkfg foo --wait".to_owned(),
            "kustomization/resume_kustomization_from_git_multiple_args_wait.golden",
        ),
        ("resume kustomization tkfg".to_owned(), "kustomization/resume_kustomization_from_git.golden"),
        (
            "resume kustomization tkfg tkfg".to_owned(),
            "kustomization/resume_kustomization_from_git_multiple_args.golden",
        ),
    ];
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "tkfg", "namespace": ns}});
    for (args, file) in &cases {
        let run = env.run(&format!("{args} -n={ns} --timeout=2m")).await;
        assert_output(&run, &expected(file, &vars, &commit, args));
        let live = env.get(&ks).await;
        if args.starts_with("suspend") {
            assert_eq!(live.unwrap()["spec"]["suspend"], true, "{args}");
        } else if args.starts_with("resume") {
            assert_eq!(live.unwrap()["spec"]["suspend"], false, "{args}");
        }
    }
    // What the Kustomization applied is in the cluster.
    let frontend = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "frontend", "namespace": "dev"}});
    assert!(env.get(&frontend).await.is_some());

    // A new commit reaches the cluster through `reconcile --with-source`.
    write(
        &dev.join("backend.yaml"),
        &deployment("backend").replace("replicas: 1", "replicas: 2"),
    );
    git(&work, &["commit", "-q", "-am", "scale backend"]);
    git(&work, &["tag", "-f", "6.3.5"]);
    git(
        &work,
        &[
            "push",
            "-q",
            "-f",
            &remote.display().to_string(),
            "main",
            "--tags",
        ],
    );
    let new_commit = git(&work, &["rev-parse", "HEAD"]);
    let run = env
        .run(&format!(
            "reconcile kustomization tkfg --with-source -n={ns}"
        ))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output
            .ends_with(&format!("✔ applied revision 6.3.5@sha1:{new_commit}\n")),
        "{}",
        run.output
    );
    let backend = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "backend", "namespace": "dev"}});
    assert_eq!(env.get(&backend).await.unwrap()["spec"]["replicas"], 2);

    // A suspended Kustomization is not reconciled on request.
    let run = env
        .run(&format!("suspend kustomization tkfg -n={ns}"))
        .await;
    assert_eq!(run.code, 0);
    let run = env
        .run(&format!("reconcile kustomization tkfg -n={ns}"))
        .await;
    common::assert_error(&run, "resource is suspended");

    let run = env
        .run(&format!("delete kustomization tkfg --silent -n={ns}"))
        .await;
    assert_output(
        &run,
        &expected(
            "kustomization/delete_kustomization_from_git.golden",
            &vars,
            &commit,
            "",
        ),
    );
    common::wait_gone(&env, &ks).await;
}

/// The cells of each row of a table (padding removed).
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| {
            l.trim_end_matches('\t')
                .split('\t')
                .map(|c| c.trim_end().to_owned())
                .collect()
        })
        .collect()
}

/// Flux's `image_test.go` (run there against ghcr.io) with the image-reflector-controller
/// and Debian's `docker-registry` holding podinfo's 4.x and 5.0.x tags.
#[tokio::test]
async fn image_scanning() {
    let Some(registry) = gitops_tests::DockerRegistry::start().await else {
        return;
    };
    let tags: Vec<String> = ["4.0.6", "5.0.0", "5.0.1", "5.0.2", "5.0.3"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let digest = registry
        .push_tags("stefanprodan/podinfo", &tags, None)
        .await;
    let flux_digest = "sha256:8704da90172710d422af855049175c1a8295731cbe2ad3b9a1c1074feecf8c10";
    let image = format!("{}/stefanprodan/podinfo", registry.host);
    let mut env = Env::start().await;
    let storage = env.cluster.dir.path().join("image-tags");
    env.cluster.start_controller(
        "image-reflector-controller",
        &[&format!("--storage-path={}", storage.display())],
    );
    // Flux's golden files name the namespace its harness allocated second.
    let ns = "tis-2";
    env.namespace(ns).await;
    let fix = |text: String| {
        text.replace("ghcr.io/stefanprodan/podinfo", &image)
            .replace(flux_digest, &digest)
    };
    let run = |args: String| {
        let env = &env;
        async move { env.run(&format!("{args} -n={ns} --timeout=1m")).await }
    };
    let r = run(format!(
        "create image repository podinfo --image={image} --interval=10m"
    ))
    .await;
    assert_output(&r, &golden("image/create_image_repository.golden", &[]));
    let r = run("create image policy podinfo-semver --image-ref=podinfo --interval=10m --reflect-digest=Always --select-semver=5.0.x".into()).await;
    assert_output(&r, &golden("image/create_image_policy.golden", &[]));
    // The image name is longer than ghcr.io's, so the columns are wider: compare cells.
    let r = run("get image policy podinfo-semver".into()).await;
    assert_eq!(r.code, 0, "{}", r.output);
    assert_eq!(
        cells(&r.output),
        cells(&fix(golden("image/get_image_policy_semver.golden", &[])))
    );
    let r = run(r#"create image policy podinfo-regex --image-ref=podinfo --select-semver=">4.0.0" --filter-regex="5\.0\.0""#.into()).await;
    assert_output(&r, &golden("image/create_image_policy.golden", &[]));
    let r = run("get image policy podinfo-regex".into()).await;
    assert_eq!(
        cells(&r.output),
        cells(&fix(golden("image/get_image_policy_regex.golden", &[])))
    );
    for (args, file) in [
        (
            "suspend image policy podinfo-semver",
            "image/suspend_image_policy.golden",
        ),
        (
            "resume image policy podinfo-semver",
            "image/resume_image_policy.golden",
        ),
        (
            "reconcile image policy podinfo-semver",
            "image/reconcile_image_policy.golden",
        ),
    ] {
        let r = run(args.into()).await;
        assert_output(&r, &fix(golden(file, &[])));
    }
}

/// Flux's `source_oci_test.go` (run there against ghcr.io) with the source-controller and
/// Debian's `docker-registry` holding an artifact pushed as `flux push artifact` does.
#[tokio::test]
async fn oci_repository() {
    let Some(registry) = gitops_tests::DockerRegistry::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("deploy/app.yaml"), "kind: ConfigMap\n");
    let url = format!("oci://{}/stefanprodan/manifests/podinfo", registry.host);
    let pushed = gitops_source::oci::Registry::new(true)
        .push_dir(
            &url,
            "6.3.5",
            dir.path(),
            &gitops_source::ignore::IgnoreRules::flux_defaults(),
            "https://github.com/stefanprodan/podinfo",
            "6.3.5@sha1:67e2c98a60dc92283531412a9e604dd4bae005a9",
            None,
        )
        .await
        .unwrap();
    let flux_digest = "6c959c51ccbb952e5fe4737563338a0aaf975675dcf812912cf09e5463181871";
    let digest = pushed.revision.split("sha256:").nth(1).unwrap().to_owned();
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    let ns = allocate_namespace("thrfg");
    env.namespace(&ns).await;
    let vars = [("ns", ns.as_str())];
    let fix = |t: String| {
        t.replace(flux_digest, &digest)
            .replace(&flux_digest[..8], &digest[..8])
    };
    for (args, file) in [
        (
            format!("create source oci thrfg --url={url} --tag=6.3.5 --interval 10m"),
            "oci/create_source_oci.golden",
        ),
        ("get source oci thrfg".to_owned(), "oci/get_oci.golden"),
        (
            "reconcile source oci thrfg".to_owned(),
            "oci/reconcile_oci.golden",
        ),
        (
            "suspend source oci thrfg".to_owned(),
            "oci/suspend_oci.golden",
        ),
        (
            "resume source oci thrfg".to_owned(),
            "oci/resume_oci.golden",
        ),
        (
            "delete source oci thrfg --silent".to_owned(),
            "oci/delete_oci.golden",
        ),
    ] {
        let run = env.run(&format!("{args} -n={ns} --timeout=1m")).await;
        assert_output(&run, &fix(golden(file, &vars)));
    }
}
