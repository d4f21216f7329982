//! GitRepository end to end: smart HTTP (`git http-backend` with basic auth) and `git daemon`,
//! the embedded API server, the source controller.

use gitops_api::GitRepository;
use gitops_source::git::{FetchOptions, FetchOutcome, GitReference, fetch};
use gitops_tests::{
    Cluster, GitDaemon, GitHttpServer, git, have, http_get, ready_of, sha256, wait_until,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn make_upstream(root: &Path, work: &Path) -> String {
    git(root, &["init", "-q", "--bare", "-b", "main", "app.git"]);
    git(
        root,
        &[
            "-C",
            &root.join("app.git").display().to_string(),
            "config",
            "http.receivepack",
            "true",
        ],
    );
    git(work, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(work.join("deploy")).unwrap();
    std::fs::write(
        work.join("deploy/app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
    )
    .unwrap();
    std::fs::write(work.join("logo.png"), "not archived").unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "initial"]);
    git(
        work,
        &[
            "push",
            "-q",
            &root.join("app.git").display().to_string(),
            "main",
        ],
    );
    git(work, &["rev-parse", "HEAD"])
}

async fn status(api: &Api<GitRepository>, name: &str) -> Value {
    let o = api.get(name).await.expect("get");
    serde_json::to_value(&o).unwrap()["status"].clone()
}

async fn wait_ready_at(api: &Api<GitRepository>, name: &str, revision: &str) -> Value {
    let r = revision.to_owned();
    wait_until(Duration::from_secs(60), || {
        let r = r.clone();
        async move {
            let s = status(api, name).await;
            (s["artifact"]["revision"] == r.as_str() && ready_of(&s).is_some_and(|c| c.0 == "True"))
                .then_some(s)
        }
    })
    .await
    .unwrap_or_else(|| panic!("{name} never became ready at {revision}"))
}

async fn wait_not_ready(api: &Api<GitRepository>, name: &str) -> (Value, (String, String, String)) {
    wait_until(Duration::from_secs(60), || async {
        let s = status(api, name).await;
        let c = ready_of(&s)?;
        (c.0 == "False").then_some((s, c))
    })
    .await
    .unwrap_or_else(|| panic!("{name} never became not ready"))
}

fn gitrepo(name: &str, url: &str, branch: &str, secret: Option<&str>) -> GitRepository {
    let mut spec =
        json!({"url": url, "interval": "10m", "ref": {"branch": branch}, "timeout": "20s"});
    if let Some(s) = secret {
        spec["secretRef"] = json!({"name": s});
    }
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

async fn basic_secret(client: &kube::Client, name: &str, user: &str, pass: &str) {
    let api: Api<Secret> = Api::namespaced(client.clone(), "default");
    let s: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "stringData": {"username": user, "password": pass},
    }))
    .unwrap();
    api.create(&PostParams::default(), &s)
        .await
        .expect("secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitrepository_over_smart_http_with_basic_auth() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let c1 = make_upstream(&root, &work);
    let http = GitHttpServer::start(&root, Some(("git-user", "s3cret"))).await;
    let url = format!("{}/app.git", http.url);

    let mut cluster = Cluster::start().await;
    let adv = cluster.start_source_controller().await;
    basic_secret(&cluster.client, "git-auth", "git-user", "s3cret").await;
    basic_secret(&cluster.client, "wrong-auth", "git-user", "nope").await;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &gitrepo("app", &url, "main", Some("git-auth")),
    )
    .await
    .unwrap();

    // First artifact: revision in Flux's format, URL serves bytes with the digest.
    let rev1 = format!("main@sha1:{c1}");
    let s = wait_ready_at(&api, "app", &rev1).await;
    let a = &s["artifact"];
    assert_eq!(a["path"], format!("gitrepository/default/app/{c1}.tar.gz"));
    assert_eq!(
        a["url"],
        format!("http://{adv}/gitrepository/default/app/{c1}.tar.gz")
    );
    let bytes = http_get(a["url"].as_str().unwrap())
        .await
        .expect("artifact served");
    assert_eq!(sha256(&bytes), a["digest"].as_str().unwrap());
    assert_eq!(a["size"].as_i64().unwrap(), bytes.len() as i64);
    assert!(a["lastUpdateTime"].is_string());
    let (_, reason, message) = ready_of(&s).unwrap();
    assert_eq!(reason, "Succeeded");
    assert_eq!(message, format!("stored artifact for revision '{rev1}'"));
    assert_eq!(s["observedGeneration"], 1);
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    for e in ar.entries().unwrap() {
        names.push(String::from_utf8(e.unwrap().path_bytes().to_vec()).unwrap());
    }
    assert_eq!(names, vec!["deploy/", "deploy/app.yaml"]);

    // A Kubernetes Event says so, with the revision.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client.clone(), "default");
    let ev = wait_until(Duration::from_secs(30), || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items.into_iter().find(|e| {
            e.reason.as_deref() == Some("NewArtifact")
                && e.involved_object.name.as_deref() == Some("app")
        })
    })
    .await
    .expect("NewArtifact event");
    assert_eq!(
        ev.message.as_deref(),
        Some("stored artifact for commit 'initial'")
    );
    assert_eq!(
        ev.metadata
            .annotations
            .unwrap_or_default()
            .get("source.toolkit.fluxcd.io/revision"),
        Some(&rev1)
    );

    // A new commit and a reconcile request: a new artifact; the request is acknowledged.
    std::fs::write(
        work.join("deploy/app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app2\n",
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "second"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &root.join("app.git").display().to_string(),
            "main",
        ],
    );
    let c2 = git(&work, &["rev-parse", "HEAD"]);
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now-1"}}}),
        ),
    )
    .await
    .unwrap();
    let rev2 = format!("main@sha1:{c2}");
    let s = wait_ready_at(&api, "app", &rev2).await;
    let bytes2 = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&bytes2), s["artifact"]["digest"].as_str().unwrap());
    assert_ne!(s["artifact"]["digest"], a["digest"]);
    let s = wait_until(Duration::from_secs(30), || async {
        let s = status(&api, "app").await;
        (s["lastHandledReconcileAt"] == "now-1").then_some(s)
    })
    .await
    .expect("lastHandledReconcileAt echoes the request");
    let good = s["artifact"].clone();

    // Unknown branch: Ready=False with the reason and what/where; the artifact stays served.
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ref": {"branch": "nope"}}})),
    )
    .await
    .unwrap();
    let (s, (_, reason, message)) = wait_not_ready(&api, "app").await;
    assert_eq!(reason, "GitOperationFailed");
    assert!(
        message.contains("branch 'nope'") && message.contains(&url),
        "{message}"
    );
    assert_eq!(s["artifact"], good);
    let again = http_get(good["url"].as_str().unwrap())
        .await
        .expect("previous artifact still served");
    assert_eq!(sha256(&again), good["digest"].as_str().unwrap());
    let fetch_failed = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "FetchFailed")
        .unwrap();
    assert_eq!(fetch_failed["status"], "True");

    // Wrong credentials.
    api.create(
        &PostParams::default(),
        &gitrepo("wrong", &url, "main", Some("wrong-auth")),
    )
    .await
    .unwrap();
    let (_, (_, reason, message)) = wait_not_ready(&api, "wrong").await;
    assert_eq!(reason, "AuthenticationFailed", "{message}");
    assert!(!message.contains("nope"), "secret in message: {message}");

    // Unreachable host.
    let port = gitops_tests::free_port();
    api.create(
        &PostParams::default(),
        &gitrepo(
            "down",
            &format!("http://127.0.0.1:{port}/x.git"),
            "main",
            None,
        ),
    )
    .await
    .unwrap();
    let (_, (_, reason, message)) = wait_not_ready(&api, "down").await;
    assert_eq!(reason, "GitOperationFailed");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");

    // A setting this controller does not implement stalls the object and says so.
    let mut v = gitrepo("verified", &url, "main", Some("git-auth"));
    v.spec.verify = Some(
        serde_json::from_value(json!({"mode": "HEAD", "secretRef": {"name": "keys"}})).unwrap(),
    );
    api.create(&PostParams::default(), &v).await.unwrap();
    let (s, (_, reason, message)) = wait_not_ready(&api, "verified").await;
    assert_eq!(reason, "VerificationError");
    assert!(message.contains("spec.verify"), "{message}");
    let stalled = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .unwrap();
    assert_eq!(stalled["status"], "True");
    assert!(s.get("artifact").is_none());

    // Deletion removes the stored artifacts (finalizer).
    api.delete("app", &Default::default()).await.unwrap();
    let dir = cluster.storage().join("gitrepository/default/app");
    wait_until(Duration::from_secs(30), || {
        let dir = dir.clone();
        async move { (!dir.exists()).then_some(()) }
    })
    .await
    .expect("artifacts removed on deletion");
}

#[tokio::test]
async fn fetch_over_git_daemon() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let c1 = make_upstream(&root, &work);
    git(&work, &["tag", "v1.2.3"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &root.join("app.git").display().to_string(),
            "v1.2.3",
        ],
    );
    let daemon = GitDaemon::start(&root).await;
    let url = format!("{}/app.git", daemon.url);
    let out = tokio::task::spawn_blocking(move || {
        let w = tempfile::tempdir().unwrap();
        let r = fetch(
            &FetchOptions::new(&url, GitReference::Semver("^1".into())),
            &w.path().join("r"),
            None,
        )
        .unwrap();
        let FetchOutcome::Fetched(r) = r else {
            panic!("expected a fetch")
        };
        let (bytes, info) = r.archive(&Default::default(), Vec::new()).unwrap();
        (r.revision.clone(), bytes, info)
    })
    .await
    .unwrap();
    assert_eq!(out.0, format!("v1.2.3@sha1:{c1}"));
    assert_eq!(sha256(&out.1), out.2.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitrepository_include_follows_the_included_repository() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let mut commits = Vec::new();
    for name in ["app", "lib"] {
        let work = t.path().join(format!("w-{name}"));
        std::fs::create_dir_all(&work).unwrap();
        git(
            &root,
            &["init", "-q", "--bare", "-b", "main", &format!("{name}.git")],
        );
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(work.join("k8s")).unwrap();
        std::fs::write(
            work.join(format!("k8s/{name}.yaml")),
            format!("name: {name}\n"),
        )
        .unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", name]);
        git(
            &work,
            &[
                "push",
                "-q",
                &root.join(format!("{name}.git")).display().to_string(),
                "main",
            ],
        );
        commits.push(git(&work, &["rev-parse", "HEAD"]));
    }
    let http = GitHttpServer::start(&root, None).await;
    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let api: Api<GitRepository> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &gitrepo("lib", &format!("{}/lib.git", http.url), "main", None),
    )
    .await
    .unwrap();
    let mut app = gitrepo("app", &format!("{}/app.git", http.url), "main", None);
    app.spec.include = vec![
        serde_json::from_value(
            json!({"repository": {"name": "lib"}, "fromPath": "k8s", "toPath": "vendor/lib"}),
        )
        .unwrap(),
    ];
    api.create(&PostParams::default(), &app).await.unwrap();

    let s = wait_ready_at(&api, "app", &format!("main@sha1:{}", commits[0])).await;
    assert_eq!(
        s["includedArtifacts"][0]["revision"],
        format!("main@sha1:{}", commits[1])
    );
    let bytes = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    gitops_source::archive::extract_tar_gz(&bytes[..], out.path(), Default::default()).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("k8s/app.yaml")).unwrap(),
        "name: app\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("vendor/lib/lib.yaml")).unwrap(),
        "name: lib\n"
    );

    // A new commit in the included repository: app gets a new artifact without being asked.
    let work = t.path().join("w-lib");
    std::fs::write(work.join("k8s/lib.yaml"), "name: lib-v2\n").unwrap();
    git(&work, &["commit", "-q", "-am", "v2"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &root.join("lib.git").display().to_string(),
            "main",
        ],
    );
    let lib2 = git(&work, &["rev-parse", "HEAD"]);
    api.patch(
        "lib",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "x"}}}),
        ),
    )
    .await
    .unwrap();
    let s = wait_until(Duration::from_secs(60), || async {
        let s = status(&api, "app").await;
        (s["includedArtifacts"][0]["revision"] == format!("main@sha1:{lib2}").as_str()).then_some(s)
    })
    .await
    .expect("app follows lib");
    let bytes = http_get(s["artifact"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&bytes), s["artifact"]["digest"].as_str().unwrap());
    let out = tempfile::tempdir().unwrap();
    gitops_source::archive::extract_tar_gz(&bytes[..], out.path(), Default::default()).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("vendor/lib/lib.yaml")).unwrap(),
        "name: lib-v2\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_over_https_with_custom_ca_and_bearer_token() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let c1 = make_upstream(&root, &work);
    let (https, ca) = GitHttpServer::start_tls(&root, Some("Bearer t0ken".into())).await;
    let url = format!("{}/app.git", https.url);
    let attempt = |ca: Option<String>, token: Option<&str>, dir: &str| {
        let mut o = FetchOptions::new(&url, GitReference::Branch("main".into()));
        o.auth.ca_pem = ca.map(String::into_bytes);
        o.auth.bearer_token = token.map(str::to_owned);
        let w = t.path().join(dir);
        tokio::task::spawn_blocking(move || fetch(&o, &w, None))
    };
    match attempt(Some(ca.clone()), Some("t0ken"), "w1")
        .await
        .unwrap()
    {
        Ok(FetchOutcome::Fetched(r)) => assert_eq!(r.revision, format!("main@sha1:{c1}")),
        other => panic!("expected a fetch over HTTPS: {other:?}"),
    }
    // Without the CA the server certificate is not trusted.
    let err = attempt(None, Some("t0ken"), "w2")
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // Without the token the server refuses.
    let err = attempt(Some(ca), None, "w3").await.unwrap().unwrap_err();
    assert!(
        matches!(err, gitops_source::git::GitError::Authentication { .. }),
        "{err}"
    );
}
