//! `gitops bootstrap git` end to end: the embedded API server with the source and
//! kustomize controllers (in-process, and in one test each as its own process as the
//! Deployments would run them), and repositories served by the real `git http-backend`
//! behind basic auth and by the real `sshd`. After bootstrap the three files are in the
//! repository and the `flux-system` Kustomization is Ready at that commit with the
//! controllers and CRDs in its inventory; a flag changed in `gotk-components.yaml` is
//! applied; a second bootstrap commits nothing; a new `--version` commits an upgrade; wrong
//! credentials, an unreachable server and a Helm-managed installation fail clearly with the
//! cluster untouched, and the fixed command succeeds.

use crate::common;

use common::Env;
use gitops_tests::{GitHttpServer, git};
use serde_json::json;

/// `<root>/fleet.git` (bare) with one commit on `main` pushed from `<root>/work`: the
/// checkout and the bare repository.
fn fleet(root: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(root, &["init", "-q", "--bare", "-b", "main", "fleet.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README.md"), "fleet\n").unwrap();
    let remote = root.join("fleet.git");
    gitops_tests::commit_and_push(&work, &remote, "init");
    (work, remote)
}

fn ks() -> serde_json::Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": "flux-system", "namespace": "flux-system"}})
}

fn deployment(name: &str) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "flux-system"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_git_over_http() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    env.cluster.start_kustomize_controller();

    let root = tempfile::tempdir().unwrap();
    let (work, remote) = fleet(root.path());
    let http = GitHttpServer::start(root.path(), Some(("bot", "s3cret"))).await;
    let url = format!("{}/fleet.git", http.url);
    // Commits are signed with an SSH key (`--ssh-signing-key-file`).
    let signing_key = root.path().join("signing");
    gitops_tests::ssh_keygen(&signing_key);
    let args = format!(
        "bootstrap git --url={url} --allow-insecure-http --token-auth --username=bot --password=s3cret --path=clusters/my-cluster --silent --timeout=2m --ssh-signing-key-file={}",
        signing_key.display()
    );
    let count = || git(&remote, &["rev-list", "--count", "main"]);

    let run = env.run(&args).await;
    assert_eq!(run.code, 0, "{}", run.output);
    for line in [
        "► cloning branch \"main\" from Git repository",
        "✔ generated component manifests",
        "✔ committed component manifests to \"main\"",
        "► installing components in \"flux-system\" namespace",
        "✔ reconciled source secret",
        "✔ committed sync manifests to \"main\"",
        "✔ Kustomization reconciled successfully",
        "✔ source-controller: deployment ready",
        "✔ all components are healthy",
    ] {
        assert!(run.output.contains(line), "{line}\n{}", run.output);
    }
    assert!(!run.output.contains("s3cret"), "the password was printed");
    assert_eq!(count(), "3");
    for commit in ["main", "main~1"] {
        let raw = git(&remote, &["cat-file", "-p", commit]);
        assert!(
            raw.contains("gpgsig -----BEGIN SSH SIGNATURE-----"),
            "{raw}"
        );
        assert!(raw.contains("author Flux <> "), "{raw}");
    }
    let files = git(&remote, &["ls-tree", "-r", "--name-only", "main"]);
    for f in [
        "clusters/my-cluster/flux-system/gotk-components.yaml",
        "clusters/my-cluster/flux-system/gotk-sync.yaml",
        "clusters/my-cluster/flux-system/kustomization.yaml",
    ] {
        assert!(files.contains(f), "{f}: {files}");
    }
    let head = git(&remote, &["rev-parse", "main"]);
    let live = env.get(&ks()).await.unwrap();
    assert_eq!(
        live["status"]["lastAppliedRevision"],
        format!("main@sha1:{head}")
    );
    let inventory = live["status"]["inventory"]["entries"].to_string();
    for id in [
        "flux-system_source-controller_apps_Deployment",
        "flux-system_kustomize-controller_apps_Deployment",
        "_gitrepositories.source.toolkit.fluxcd.io_apiextensions.k8s.io_CustomResourceDefinition",
        "flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization",
    ] {
        assert!(inventory.contains(id), "{id}: {inventory}");
    }

    // A second bootstrap with the same options commits nothing.
    let run = env.run(&args).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains("✔ component manifests are up to date"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("✔ sync manifests are up to date"),
        "{}",
        run.output
    );
    // Given credentials are written again, as Flux does (a new token replaces the old).
    assert!(
        run.output.contains("✔ reconciled source secret"),
        "{}",
        run.output
    );
    assert_eq!(count(), "3");

    // A controller flag changed in Git reaches the cluster.
    git(
        &work,
        &["pull", "-q", &remote.display().to_string(), "main"],
    );
    let path = work.join("clusters/my-cluster/flux-system/gotk-components.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("--log-level=info"),
        "no log level flag to change"
    );
    std::fs::write(&path, text.replace("--log-level=info", "--log-level=debug")).unwrap();
    git(&work, &["commit", "-qam", "debug logs"]);
    git(
        &work,
        &["push", "-q", &remote.display().to_string(), "main"],
    );
    let run = env
        .run("reconcile kustomization flux-system --with-source --timeout=1m")
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    let d = env.get(&deployment("source-controller")).await.unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["args"]
            .to_string()
            .contains("--log-level=debug"),
        "{d}"
    );

    // A new version is an upgrade commit, applied by the Kustomization.
    let run = env.run(&format!("{args} --version=v9.9.9")).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains("✔ committed component manifests"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("✔ sync manifests are up to date"),
        "{}",
        run.output
    );
    assert_eq!(count(), "5");
    let message = git(&remote, &["log", "-1", "--format=%s", "main"]);
    assert_eq!(message, "Add Flux v9.9.9 component manifests");
    let d = env.get(&deployment("kustomize-controller")).await.unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":v9.9.9"),
        "{d}"
    );
}

/// Over SSH with `--private-key-file`: the deploy key Secret holds that key and the host
/// key collected from the server, and the source-controller syncs with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_git_over_ssh() {
    let Some(sshd) = gitops_tests::Sshd::start().await else {
        return;
    };
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    env.cluster.start_kustomize_controller();
    let root = tempfile::tempdir().unwrap();
    let (_, remote) = fleet(root.path());
    let key = sshd.dir.path().join("client");
    let url = sshd.url(&remote);
    // The clone trusts the server through known_hosts, as ssh would.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(
        home.path().join(".ssh/known_hosts"),
        format!("{}\n", sshd.known_hosts),
    )
    .unwrap();
    let kc = env.kubeconfig().to_path_buf();
    let args = format!(
        "bootstrap git --url={url} --private-key-file={} --ssh-signing-reuse-private-key --path=clusters/ssh --silent --timeout=2m",
        key.display()
    );
    let home_dir = home.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
            .args(shlex::split(&args).unwrap())
            .env("KUBECONFIG", kc)
            .env("HOME", home_dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("✔ Kustomization reconciled successfully"),
        "{text}"
    );
    let secret = env
        .get(&json!({"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "flux-system", "namespace": "flux-system"}}))
        .await
        .unwrap();
    for k in ["identity", "identity.pub", "known_hosts"] {
        assert!(secret["data"][k].is_string(), "{k}: {secret}");
    }
    let head = git(&remote, &["rev-parse", "main"]);
    let live = env.get(&ks()).await.unwrap();
    assert_eq!(
        live["status"]["lastAppliedRevision"],
        format!("main@sha1:{head}")
    );
    // The transport key signed the commits (`--ssh-signing-reuse-private-key`).
    let raw = git(&remote, &["cat-file", "-p", "main"]);
    assert!(
        raw.contains("gpgsig -----BEGIN SSH SIGNATURE-----"),
        "{raw}"
    );
}

/// Wrong credentials, an unreachable server and an installation Helm manages: clear
/// errors, nothing applied to the cluster; after the fix (and `--force` over Helm) the
/// same command succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_git_failures_then_fixed() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    env.cluster.start_kustomize_controller();
    let root = tempfile::tempdir().unwrap();
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "fleet.git"],
    );
    let remote = root.path().join("fleet.git");
    let http = GitHttpServer::start(root.path(), Some(("bot", "s3cret"))).await;
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": "flux-system"}});
    let args = |url: &str, password: &str| {
        format!(
            "bootstrap git --url={url} --allow-insecure-http --token-auth --username=bot --password={password} --silent --timeout=2m"
        )
    };
    let url = format!("{}/fleet.git", http.url);

    let run = env.run(&args(&url, "wrong")).await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .contains("✗ failed to clone repository: authentication"),
        "{}",
        run.output
    );
    assert!(!run.output.contains("wrong"), "the password was printed");
    let unreachable = format!("http://127.0.0.1:{}/fleet.git", gitops_tests::free_port());
    let run = env.run(&args(&unreachable, "s3cret")).await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output.contains("✗ failed to clone repository"),
        "{}",
        run.output
    );
    assert!(env.get(&namespace).await.is_none(), "nothing applied");

    // An installation Helm manages is not taken over without confirmation.
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: kube::Api<CustomResourceDefinition> = kube::Api::all(env.cluster.client.clone());
    crds.patch(
        "gitrepositories.source.toolkit.fluxcd.io",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"labels": {
            "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/version": "v2.3.0",
        }}})),
    )
    .await
    .unwrap();
    let run = env.run(&args(&url, "s3cret")).await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .contains("Flux v2.3.0 has been installed on this cluster with Helm!"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("✗ bootstrap cancelled"),
        "{}",
        run.output
    );
    assert!(env.get(&namespace).await.is_none(), "nothing applied");

    // Fixed: the empty repository gets its first commits, the cluster syncs from it.
    let run = env.run(&format!("{} --force", args(&url, "s3cret"))).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(git(&remote, &["rev-list", "--count", "main"]), "2");
    let head = git(&remote, &["rev-parse", "main"]);
    let live = env.get(&ks()).await.unwrap();
    assert_eq!(
        live["status"]["lastAppliedRevision"],
        format!("main@sha1:{head}")
    );

    // Another --path would move the installation: refused before the sync changes.
    let run = env
        .run(&format!("{} --path=clusters/other", args(&url, "s3cret")))
        .await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output.contains(
            "sync path configuration (\"clusters/other\") would overwrite path (\"./\") of existing Kustomization"
        ),
        "{}",
        run.output
    );
    let live = env.get(&ks()).await.unwrap();
    assert_eq!(live["spec"]["path"], "./");
}

/// The installation as its Deployments would run it: `gitops apiserver`, the
/// source-controller and the kustomize-controller each in its own process (`gitops
/// controller …`), the CLI in another. After bootstrap the Kustomization is Ready at the
/// pushed commit with the controllers' Deployments and the CRDs in its inventory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_git_with_controller_processes() {
    use gitops_tests::bench::{spawn_controller, start_api_server};
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let gitops = env!("CARGO_BIN_EXE_gitops");
    let dir = tempfile::tempdir().unwrap();
    let (_api, kubeconfig, client) = start_api_server(gitops, dir.path()).await.unwrap();
    let storage_port = gitops_tests::free_port();
    let mut controllers = Vec::new();
    for (name, flags) in [
        (
            "source-controller",
            vec![
                format!("--storage-path={}", dir.path().join("storage").display()),
                format!("--storage-addr=127.0.0.1:{storage_port}"),
                "--storage-adv-addr=".to_owned(),
            ],
        ),
        ("kustomize-controller", vec![]),
    ] {
        controllers.push(gitops_tests::ChildGuard(
            spawn_controller(gitops, name, &kubeconfig, &flags).unwrap(),
        ));
    }

    let root = dir.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "--bare", "-b", "main", "fleet.git"]);
    let remote = root.join("fleet.git");
    let http = GitHttpServer::start(&root, Some(("bot", "s3cret"))).await;
    let args = format!(
        "bootstrap git --url={}/fleet.git --allow-insecure-http --token-auth --username=bot --password=s3cret --path=clusters/prod --silent --timeout=2m",
        http.url
    );
    let kc = kubeconfig.clone();
    let run = tokio::task::spawn_blocking(move || common::gitops(&args, Some(&kc)))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{}", run.output);

    let head = git(&remote, &["rev-parse", "main"]);
    let ks: kube::Api<gitops_api::Kustomization> =
        kube::Api::namespaced(client.clone(), "flux-system");
    let live = serde_json::to_value(ks.get("flux-system").await.unwrap()).unwrap();
    assert_eq!(
        live["status"]["lastAppliedRevision"],
        format!("main@sha1:{head}")
    );
    let inventory = live["status"]["inventory"]["entries"].to_string();
    for id in [
        "flux-system_source-controller_apps_Deployment",
        "flux-system_kustomize-controller_apps_Deployment",
        "_kustomizations.kustomize.toolkit.fluxcd.io_apiextensions.k8s.io_CustomResourceDefinition",
    ] {
        assert!(inventory.contains(id), "{id}: {inventory}");
    }
    let files = git(&remote, &["ls-tree", "-r", "--name-only", "main"]);
    for f in [
        "gotk-components.yaml",
        "gotk-sync.yaml",
        "kustomization.yaml",
    ] {
        assert!(
            files.contains(&format!("clusters/prod/flux-system/{f}")),
            "{f}: {files}"
        );
    }
}
