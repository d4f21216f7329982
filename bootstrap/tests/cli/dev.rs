//! `gitops dev` as a user runs it: a local checkout is reconciled into the embedded
//! cluster, a new commit is applied, progress shows in the terminal, Ctrl-C stops cleanly,
//! and the state survives a restart.

use crate::common::git;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn write_app(repo: &Path, message: &str) {
    let dir = repo.join("clusters/dev");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources: [app.yaml]\nnamespace: demo\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  message: {message}\n"
        ),
    )
    .unwrap();
}

async fn client(state: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(state.join("kubeconfig")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn wait_message(api: &Api<ConfigMap>, want: &str, output: &Mutex<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(cm) = api.get("greeting").await
            && cm
                .data
                .as_ref()
                .and_then(|d| d.get("message"))
                .map(String::as_str)
                == Some(want)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ConfigMap demo/greeting never had message {want:?}; gitops dev printed:\n{}",
            output.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn start(state: &Path, repo: &Path, output: Arc<Mutex<String>>) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1s",
            "--path",
        ])
        .arg("./clusters/dev")
        .arg("--state")
        .arg(state)
        .arg("--repo")
        .arg(repo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut o = output.lock().unwrap();
            o.push_str(&line);
            o.push('\n');
        }
    });
    child
}

fn interrupt(child: &mut std::process::Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "gitops dev did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_reconciles_a_checkout_and_follows_commits() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write_app(&repo, "one");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);

    let output = Arc::new(Mutex::new(String::new()));
    let mut child = start(&state, &repo, output.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.join("kubeconfig").exists() {
        assert!(Instant::now() < deadline, "no kubeconfig");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&state).await, "demo");
    wait_message(&api, "one", &output).await;

    write_app(&repo, "two");
    git(&repo, &["commit", "-qam", "two"]);
    wait_message(&api, "two", &output).await;
    // Progress: the source's revision and the applied revision with its object count.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !output.lock().unwrap().contains("(2 objects)") {
        assert!(Instant::now() < deadline, "{}", output.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = interrupt(&mut child);
    assert!(status.success(), "exit status {status:?}");
    let text = output.lock().unwrap().clone();
    assert!(
        text.contains("stored artifact for revision 'main@sha1:"),
        "{text}"
    );
    assert!(text.contains("Applied revision: main@sha1:"), "{text}");
    assert!(
        text.contains("source-controller, kustomize-controller"),
        "{text}"
    );

    // The state survives: the objects are there right after a restart.
    let output = Arc::new(Mutex::new(String::new()));
    std::fs::remove_file(state.join("kubeconfig")).unwrap();
    let mut child = start(&state, &repo, output.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.join("kubeconfig").exists() {
        assert!(Instant::now() < deadline, "no kubeconfig after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&state).await, "demo");
    wait_message(&api, "two", &output).await;
    let status = interrupt(&mut child);
    assert!(status.success(), "{status:?}: {}", output.lock().unwrap());
    let text = output.lock().unwrap().clone();
    assert!(
        !text.contains("ArtifactFailed"),
        "stale artifact URLs after a restart: {text}"
    );
}

#[test]
fn until_ready_fails_on_a_broken_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("clusters/dev")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        repo.join("clusters/dev/kustomization.yaml"),
        "resources: [missing.yaml]\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "broken"]);
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--until-ready",
            "--timeout",
            "120s",
        ])
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--repo")
        .arg(&repo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    // The failure is shown with its reason.
    assert!(
        err.contains("✖ Kustomization/flux-system/flux-system"),
        "{err}"
    );
    assert!(err.contains("missing.yaml"), "{err}");
}

/// Runs `gitops dev --until-ready` on `repo` with the state in `state`; its exit status
/// and what it printed.
fn dev_until_ready(state: &Path, repo: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--ui-listen",
            "127.0.0.1:0",
            "--until-ready",
            "--timeout",
            "120s",
        ])
        .arg("--state")
        .arg(state)
        .arg("--repo")
        .arg(repo)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--until-ready` with the state of an earlier run: it waits for the checkout's current
/// commit, not for the Ready condition the earlier run left (which named an older commit),
/// and a failure of the current commit is a failure even though the old one was applied.
#[test]
fn until_ready_waits_for_the_checkouts_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, state) = (dir.path().join("repo"), dir.path().join("state"));
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write_app(&repo, "one");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    let one = git(&repo, &["rev-parse", "HEAD"]);
    let (ok, err) = dev_until_ready(&state, &repo);
    assert!(
        ok && err.contains(&format!("Applied revision: main@sha1:{one}")),
        "{err}"
    );

    write_app(&repo, "two");
    git(&repo, &["commit", "-qam", "two"]);
    let two = git(&repo, &["rev-parse", "HEAD"]);
    let (ok, err) = dev_until_ready(&state, &repo);
    assert!(
        ok && err.contains(&format!("Applied revision: main@sha1:{two}")),
        "{err}"
    );

    std::fs::write(
        repo.join("clusters/dev/kustomization.yaml"),
        "resources: [missing.yaml]\n",
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "broken"]);
    let (ok, err) = dev_until_ready(&state, &repo);
    assert!(!ok && err.contains("missing.yaml"), "{err}");
}

/// `--kubeconfig`: the controllers run against another cluster (here a separate
/// `gitops apiserver` process) and no server is started.
#[test]
fn dev_against_an_existing_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write_app(&repo, "remote");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    let cluster_state = dir.path().join("cluster");
    let mut server = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--state"])
        .arg(&cluster_state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let kubeconfig = cluster_state.join("kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubeconfig.exists() {
        assert!(
            Instant::now() < deadline,
            "no kubeconfig from gitops apiserver"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dev_state = dir.path().join("dev");
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "dev",
            "--until-ready",
            "--timeout",
            "120s",
            "--path",
            "./clusters/dev",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--state")
        .arg(&dev_state)
        .arg("--repo")
        .arg(&repo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("API server https://"),
        "no embedded server: {err}"
    );
    assert!(err.contains("Applied revision: main@sha1:"), "{err}");
    assert!(
        !dev_state.join("cluster").exists(),
        "no embedded cluster state was created"
    );
}

/// Runs `gitops <args>` against the dev cluster's kubeconfig; (exit code, output).
fn cli(state: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(args)
        .env("KUBECONFIG", state.join("kubeconfig"))
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), text)
}

/// The Flux CLI against `gitops dev`: with a one-hour interval nothing moves by itself, so
/// each change below is the CLI's doing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_drives_dev() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write_app(&repo, "one");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    let output = Arc::new(Mutex::new(String::new()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--path",
            "./clusters/dev",
        ])
        .arg("--state")
        .arg(&state)
        .arg("--repo")
        .arg(&repo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let sink = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut o = sink.lock().unwrap();
            o.push_str(&line);
            o.push('\n');
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.join("kubeconfig").exists() {
        assert!(Instant::now() < deadline, "no kubeconfig");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&state).await, "demo");
    wait_message(&api, "one", &output).await;

    let st = state.clone();
    let run = move |args: &'static [&'static str]| {
        let st = st.clone();
        tokio::task::spawn_blocking(move || cli(&st, args))
    };
    let (code, text) = run(&["get", "kustomizations", "-A"]).await.unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("NAMESPACE  \tNAME       \tREVISION"),
        "{text}"
    );
    assert!(
        text.contains("\tTrue \tApplied revision: main@sha1:"),
        "{text}"
    );

    // A commit reaches the cluster on `reconcile --with-source`.
    write_app(&repo, "two");
    git(&repo, &["commit", "-qam", "two"]);
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&repo)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let (code, text) = run(&["reconcile", "kustomization", "flux-system", "--with-source"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("► annotating GitRepository flux-system in flux-system namespace\n"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("✔ applied revision main@sha1:{head}\n")),
        "{text}"
    );
    wait_message(&api, "two", &output).await;

    // Suspended, it refuses reconcile requests; resumed, it applies the source's artifact.
    let (code, text) = run(&["suspend", "kustomization", "flux-system"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text,
        "► suspending kustomization flux-system in flux-system namespace\n✔ kustomization suspended\n"
    );
    write_app(&repo, "three");
    git(&repo, &["commit", "-qam", "three"]);
    let (code, text) = run(&["reconcile", "kustomization", "flux-system"])
        .await
        .unwrap();
    assert_eq!((code, text.as_str()), (1, "✗ resource is suspended\n"));
    let (code, text) = run(&["reconcile", "source", "git", "flux-system"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        api.get("greeting").await.unwrap().data.unwrap()["message"],
        "two",
        "a suspended Kustomization applied a new revision"
    );
    let (code, text) = run(&["resume", "kustomization", "flux-system"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("✔ Kustomization flux-system reconciliation completed\n"),
        "{text}"
    );
    wait_message(&api, "three", &output).await;

    // `diff` compares the working tree with the cluster: nothing until a local edit.
    let path = repo.join("clusters/dev").display().to_string();
    let st = state.clone();
    let diff = move || {
        let st = st.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            cli(
                &st,
                &["diff", "kustomization", "flux-system", "--path", &path],
            )
        })
    };
    let (code, text) = diff().await.unwrap();
    assert_eq!((code, text.as_str()), (0, ""), "{text}");
    write_app(&repo, "four");
    let (code, text) = diff().await.unwrap();
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "► ConfigMap/demo/greeting drifted\n\ndata.message\n± value change\n- three\n+ four\n"
        ),
        "{text}"
    );
    // (stderr first here: `cli` does not interleave the two streams)
    assert!(
        text.starts_with("⚠️ identified at least one change, exiting with non-zero exit code\n"),
        "{text}"
    );
    // Nothing was applied.
    assert_eq!(
        api.get("greeting").await.unwrap().data.unwrap()["message"],
        "three"
    );

    let status = interrupt(&mut child);
    assert!(status.success(), "{status:?}");
}
