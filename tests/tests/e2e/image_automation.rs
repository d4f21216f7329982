//! Image automation end to end with real parts: Debian's `docker-registry` holding the
//! image's tags (pushed by the test as CI would), a Git repository served by the real
//! `git http-backend` (push enabled) and by `sshd`, the embedded API server, and the
//! source, kustomize, image-reflector and image-automation controllers.
//!
//! Pushing tag `1.2.4` makes the ImagePolicy pick it, the ImageUpdateAutomation commits and
//! pushes a change of exactly the marked lines, the GitRepository sees the new commit and
//! the kustomize-controller applies the Deployment with the new image.

use gitops_tests::{Cluster, DockerRegistry, GitHttpServer, Sshd, git, have, ready_of, wait_until};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);
const NS: &str = "flux-system";

/// The manifests of the fleet repository: a Deployment whose image is marked for the
/// policy, with comments, quoting and blank lines that must survive the update.
fn deployment(registry: &str, tag: &str) -> String {
    format!(
        r#"# The app, updated by image automation.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: default
  labels:
    version: "1.0"   # not touched

spec:
  replicas: 1
  selector:
    matchLabels: {{app: app}}
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
        - name: app
          image: {registry}/team/app:{tag} # {{"$imagepolicy": "flux-system:app"}}
          args: ["--port", '8080']
        - name: sidecar
          image: {registry}/team/sidecar:0.1.0
"#
    )
}

struct Env {
    cluster: Cluster,
    registry: DockerRegistry,
    work: PathBuf,
    bare: PathBuf,
    http: GitHttpServer,
    _t: tempfile::TempDir,
}

impl Env {
    /// The registry with `app:1.2.3`, the repository with the Deployment at `1.2.3`, the
    /// cluster and the four controllers; `None` (skip) without git or docker-registry.
    async fn start() -> Option<Env> {
        if !have("git") {
            eprintln!("skipping: git is not installed");
            return None;
        }
        let registry = DockerRegistry::start().await?;
        registry
            .push_tags("team/app", &["1.2.3".into()], None)
            .await;
        let t = tempfile::tempdir().unwrap();
        let (root, work) = (t.path().join("srv"), t.path().join("work"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(work.join("apps")).unwrap();
        git(&root, &["init", "-q", "--bare", "-b", "main", "fleet.git"]);
        let bare = root.join("fleet.git");
        git(&bare, &["config", "http.receivepack", "true"]);
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(
            work.join("apps/deployment.yaml"),
            deployment(&registry.host, "1.2.3"),
        )
        .unwrap();
        std::fs::write(work.join("README.md"), "fleet\n").unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "initial"]);
        git(&work, &["push", "-q", &bare.display().to_string(), "main"]);
        let http = GitHttpServer::start(&root, None).await;
        let mut cluster = Cluster::start().await;
        cluster.start_source_controller().await;
        cluster.start_kustomize_controller();
        let storage = cluster.dir.path().join("image-tags");
        cluster.start_controller(
            "image-reflector-controller",
            &[
                &format!("--storage-path={}", storage.display()),
                "--requeue-dependency=1s",
            ],
        );
        cluster.start_controller("image-automation-controller", &[]);
        create_namespace(&cluster.client, NS, json!({})).await;
        Some(Env {
            cluster,
            registry,
            work,
            bare,
            http,
            _t: t,
        })
    }

    fn client(&self) -> kube::Client {
        self.cluster.client.clone()
    }

    async fn apply(&self, obj: Value) {
        apply(&self.client(), obj).await;
    }

    /// The GitRepository, the Kustomization applying `./apps`, and the image objects.
    async fn create_pipeline(&self, url: &str, secret: Option<&str>) {
        self.create_pipeline_signed(url, secret, None).await;
    }

    /// [`Env::create_pipeline`], with commits signed by the SSH key in Secret `signing`.
    async fn create_pipeline_signed(&self, url: &str, secret: Option<&str>, signing: Option<&str>) {
        let mut spec =
            json!({"url": url, "interval": "1s", "ref": {"branch": "main"}, "timeout": "20s"});
        if let Some(s) = secret {
            spec["secretRef"] = json!({"name": s});
        }
        self.apply(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet", "namespace": NS}, "spec": spec,
        }))
        .await;
        self.apply(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"interval": "10m", "path": "./apps", "prune": true, "timeout": "30s",
                     "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
        }))
        .await;
        self.apply(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "app", "namespace": NS},
            "spec": {"image": format!("{}/team/app", self.registry.host), "interval": "1s"},
        }))
        .await;
        self.apply(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "app", "namespace": NS},
            "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}},
        }))
        .await;
        self.apply(json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "fleet", "namespace": NS},
            "spec": {
                "interval": "1s",
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "git": {
                    "checkout": {"ref": {"branch": "main"}},
                    "commit": {
                        "signingKey": signing.map(|s| json!({"type": "ssh", "secretRef": {"name": s}})),
                        "author": {"name": "fluxbot", "email": "fluxbot@example.com"},
                        "messageTemplate": "Automated update by {{ .AutomationObject }}\n{{ range .Changed.Changes }}\n- {{ .OldValue }} -> {{ .NewValue }}{{ end }}\n{{ range $f, $o := .Changed.FileChanges }}file {{ $f }}{{ range $id, $c := $o }} {{ $id.Kind }}/{{ $id.Name }}{{ end }}{{ end }}",
                    },
                    "push": {"branch": "main"},
                },
                "update": {"path": "./apps", "strategy": "Setters"},
            },
        }))
        .await;
    }

    fn tip(&self) -> String {
        git(&self.bare, &["rev-parse", "main"])
    }

    fn commit_count(&self) -> usize {
        git(&self.bare, &["rev-list", "--count", "main"])
            .trim()
            .parse()
            .unwrap()
    }
}

/// Applies an object (server-side, forcing) whatever its kind.
async fn apply(client: &kube::Client, obj: Value) {
    let kind = obj["kind"].as_str().unwrap().to_owned();
    let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or(NS)
        .to_owned();
    let (group, version) = obj["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .map(|(g, v)| (g.to_owned(), v.to_owned()))
        .unwrap_or((String::new(), "v1".into()));
    let plural = match kind.as_str() {
        "GitRepository" => "gitrepositories".to_owned(),
        "ImagePolicy" => "imagepolicies".to_owned(),
        "ImageRepository" => "imagerepositories".to_owned(),
        other => format!("{}s", other.to_lowercase()),
    };
    let ar = kube::api::ApiResource {
        group,
        version: version.clone(),
        api_version: obj["apiVersion"].as_str().unwrap().to_owned(),
        kind,
        plural,
    };
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    api.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(obj),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

/// Creates namespace `name` with `labels`.
async fn create_namespace(client: &kube::Client, name: &str, labels: Value) {
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

/// The cluster with namespace `flux-system` and only the image-reflector-controller, its
/// tag database in the cluster's directory; returns the flags it was started with (to start
/// it again).
async fn reflector_cluster(extra: &[&str]) -> (Cluster, Vec<String>) {
    let mut cluster = Cluster::start().await;
    let storage = cluster.dir.path().join("image-tags");
    let flags: Vec<String> = std::iter::once(format!("--storage-path={}", storage.display()))
        .chain(extra.iter().map(|f| f.to_string()))
        .collect();
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    cluster.start_controller("image-reflector-controller", &refs);
    create_namespace(&cluster.client, NS, json!({})).await;
    (cluster, flags)
}

/// An image object (or the GitRepository) as JSON.
async fn get_json(client: &kube::Client, kind: &str, name: &str) -> Option<Value> {
    get_json_in(client, NS, kind, name).await
}

/// [`get_json`] in namespace `ns`.
async fn get_json_in(client: &kube::Client, ns: &str, kind: &str, name: &str) -> Option<Value> {
    async fn get<K>(client: &kube::Client, ns: &str, name: &str) -> Option<Value>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + serde::Serialize,
    {
        let api: Api<K> = Api::namespaced(client.clone(), ns);
        serde_json::to_value(api.get_opt(name).await.ok()??).ok()
    }
    match kind {
        "ImageRepository" => get::<gitops_api::ImageRepository>(client, ns, name).await,
        "ImagePolicy" => get::<gitops_api::ImagePolicy>(client, ns, name).await,
        "ImageUpdateAutomation" => get::<gitops_api::ImageUpdateAutomation>(client, ns, name).await,
        _ => get::<gitops_api::GitRepository>(client, ns, name).await,
    }
}

/// The automation `fleet` once its status records the push of `commit`.
async fn pushed_status(client: &kube::Client, commit: &str) -> Value {
    wait_until(WAIT, || async {
        let a = get_json(client, "ImageUpdateAutomation", "fleet").await?;
        (a["status"]["lastPushCommit"] == json!(commit)).then_some(a)
    })
    .await
    .unwrap_or_else(|| panic!("the automation never recorded the push of {commit}"))
}

/// Waits until the object's Ready condition has `status` and returns (reason, message).
async fn wait_ready(
    client: &kube::Client,
    kind: &str,
    name: &str,
    status: &str,
) -> (String, String) {
    wait_ready_in(client, NS, kind, name, status).await
}

/// [`wait_ready`] in namespace `ns`.
async fn wait_ready_in(
    client: &kube::Client,
    ns: &str,
    kind: &str,
    name: &str,
    status: &str,
) -> (String, String) {
    let last = std::sync::Arc::new(std::sync::Mutex::new(None));
    let l = last.clone();
    wait_until(WAIT, || {
        let (client, l) = (client.clone(), l.clone());
        async move {
            let o = get_json_in(&client, ns, kind, name).await?;
            let r = ready_of(&o["status"]);
            *l.lock().unwrap() = Some(o.clone());
            let (s, reason, msg) = r?;
            (s == status).then_some((reason, msg))
        }
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "{kind}/{ns}/{name} never Ready={status}: {:#}",
            last.lock().unwrap().clone().unwrap_or_default()
        )
    })
}

async fn deployment_image(client: &kube::Client) -> Option<String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = api.get_opt("app").await.ok()??;
    d.spec?.template.spec?.containers.first()?.image.clone()
}

/// Waits until the Deployment runs image `want`; panics with `what` when it never does.
async fn wait_for_image(client: &kube::Client, want: &str, what: &str) {
    wait_until(WAIT, || async {
        (deployment_image(client).await? == want).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{what}: never {want}"));
}

/// Asserts the last commit on `main` changed exactly the marked line of the Deployment,
/// from `old` to `new`, and nothing else in the repository.
fn assert_only_marked_line_changed(env: &Env, old: &str, new: &str) {
    let diff = git(&env.bare, &["diff", "--unified=0", "main~1", "main"]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    let host = &env.registry.host;
    assert_eq!(
        changed,
        [
            format!(
                "-          image: {host}/team/app:{old} # {{\"$imagepolicy\": \"flux-system:app\"}}"
            ),
            format!(
                "+          image: {host}/team/app:{new} # {{\"$imagepolicy\": \"flux-system:app\"}}"
            ),
        ],
        "{diff}"
    );
    let files = git(&env.bare, &["diff", "--name-only", "main~1", "main"]);
    assert_eq!(files.trim(), "apps/deployment.yaml");
    // The whole file is what the test wrote, with the new tag.
    let content = git(&env.bare, &["show", "main:apps/deployment.yaml"]);
    assert_eq!(content.trim_end(), deployment(host, new).trim_end());
}

#[tokio::test]
async fn new_tag_is_committed_pushed_and_applied_over_http() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    let url = format!("{}/fleet.git", env.http.url);
    env.create_pipeline(&url, None).await;
    let host = env.registry.host.clone();

    // The Deployment is applied at 1.2.3, and the policy already picks 1.2.3: no commit.
    let applied = wait_until(WAIT, || {
        let c = client.clone();
        async move { deployment_image(&c).await }
    })
    .await
    .expect("the Deployment is applied");
    assert_eq!(applied, format!("{host}/team/app:1.2.3"));
    let (_, msg) = wait_ready(&client, "ImagePolicy", "app", "True").await;
    assert_eq!(
        msg,
        format!("Latest image tag for {host}/team/app resolved to 1.2.3")
    );
    let (_, msg) = wait_ready(&client, "ImageUpdateAutomation", "fleet", "True").await;
    assert_eq!(msg, "repository up-to-date");
    let (_, msg) = wait_ready(&client, "ImageRepository", "app", "True").await;
    assert!(
        msg.starts_with("successful scan: found 1 tags with checksum "),
        "{msg}"
    );
    let before = env.tip();

    // CI pushes 1.2.4 (and a signature tag the default exclusion list drops).
    env.registry
        .push_tags("team/app", &["1.2.4".into(), "sha256-abc.sig".into()], None)
        .await;
    wait_for_image(
        &client,
        &format!("{host}/team/app:1.2.4"),
        "the Deployment is applied with the new image",
    )
    .await;

    // Exactly one commit, by the automation, changing exactly the marked line.
    assert_eq!(git(&env.bare, &["rev-parse", "main~1"]), before);
    assert_only_marked_line_changed(&env, "1.2.3", "1.2.4");
    let author = git(&env.bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(author.trim(), "fluxbot <fluxbot@example.com>");
    let message = git(&env.bare, &["log", "-1", "--format=%B", "main"]);
    assert_eq!(
        message.trim_end(),
        format!(
            "Automated update by flux-system/fleet\n\n- {host}/team/app:1.2.3 -> {host}/team/app:1.2.4\nfile deployment.yaml Deployment/app"
        )
    );

    // Status as Flux's.
    let pushed = env.tip();
    let auto = pushed_status(&client, &pushed).await;
    assert_eq!(
        auto["status"]["observedSourceRevision"],
        json!(format!("main@sha1:{pushed}"))
    );
    assert_eq!(
        auto["status"]["observedPolicies"]["app"]["tag"],
        json!("1.2.4")
    );
    assert!(auto["status"]["lastPushTime"].is_string());
    assert!(auto["status"]["lastAutomationRunTime"].is_string());
    let repo = get_json(&client, "ImageRepository", "app").await.unwrap();
    let scan = &repo["status"]["lastScanResult"];
    assert_eq!(scan["tagCount"], json!(2), "{scan}");
    assert_eq!(scan["latestTags"], json!(["1.2.4", "1.2.3"]));
    assert_eq!(
        repo["status"]["canonicalImageName"],
        json!(format!("{host}/team/app"))
    );
    assert_eq!(
        repo["status"]["observedExclusionList"],
        json!([r"^.*\.sig$"])
    );
    let policy = get_json(&client, "ImagePolicy", "app").await.unwrap();
    assert_eq!(
        policy["status"]["latestRef"],
        json!({"name": format!("{host}/team/app"), "tag": "1.2.4"})
    );
    assert_eq!(
        policy["status"]["observedPreviousRef"]["tag"],
        json!("1.2.3")
    );
    let gitrepo = get_json(&client, "GitRepository", "fleet").await.unwrap();
    assert_eq!(
        gitrepo["status"]["artifact"]["revision"],
        json!(format!("main@sha1:{pushed}"))
    );

    // Nothing is pushed twice: several automation intervals later, still one new commit.
    let count = env.commit_count();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(env.commit_count(), count);
    assert_eq!(env.tip(), pushed);

    // The tag database persists across a restart of the reflector: the policy keeps its
    // pick from the stored tags even before a new scan.
    let db = env.cluster.dir.path().join("image-tags/tags.redb");
    assert!(db.exists());
}

#[tokio::test]
async fn new_tag_is_pushed_over_ssh() {
    let Some(env) = Env::start().await else {
        return;
    };
    let Some(sshd) = Sshd::start().await else {
        return;
    };
    let client = env.client();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "fleet-ssh", "namespace": NS},
        "stringData": {
            "identity": String::from_utf8(sshd.client_key.clone()).unwrap(),
            "known_hosts": sshd.known_hosts.clone(),
        },
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    // Commits are signed with an SSH key (`git verify-commit` checks them below).
    let keys = tempfile::tempdir().unwrap();
    gitops_tests::ssh_keygen(&keys.path().join("signing"));
    let signing: Secret = serde_json::from_value(json!({
        "metadata": {"name": "signing", "namespace": NS},
        "stringData": {"identity": std::fs::read_to_string(keys.path().join("signing")).unwrap()},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &signing)
        .await
        .unwrap();
    env.create_pipeline_signed(&sshd.url(&env.bare), Some("fleet-ssh"), Some("signing"))
        .await;
    wait_ready(&client, "ImageUpdateAutomation", "fleet", "True").await;
    let before = env.tip();
    env.registry
        .push_tags("team/app", &["1.3.0".into()], None)
        .await;
    let host = env.registry.host.clone();
    wait_for_image(
        &client,
        &format!("{host}/team/app:1.3.0"),
        "the Deployment is applied with the image pushed over SSH",
    )
    .await;
    assert_eq!(git(&env.bare, &["rev-parse", "main~1"]), before);
    assert_only_marked_line_changed(&env, "1.2.3", "1.3.0");
    let public = std::fs::read_to_string(keys.path().join("signing.pub")).unwrap();
    let allowed = keys.path().join("allowed_signers");
    std::fs::write(&allowed, format!("fluxbot@example.com {public}")).unwrap();
    let out = std::process::Command::new("git")
        .args([
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
            "verify-commit",
            "main",
        ])
        .current_dir(&env.bare)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("Good \"git\" signature for fluxbot@example.com"),
        "{said}"
    );
}

/// A `pre-receive` hook in the bare repository.
fn hook(bare: &Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = bare.join("hooks/pre-receive");
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn rejected_and_raced_pushes_lose_nothing() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    let url = format!("{}/fleet.git", env.http.url);
    env.create_pipeline(&url, None).await;
    wait_ready(&client, "ImageUpdateAutomation", "fleet", "True").await;
    let before = env.tip();

    // Someone else's commit on top of `before`, in the repository but not yet on main.
    let other = env.work.join("other.txt");
    std::fs::write(&other, "someone else\n").unwrap();
    git(&env.work, &["add", "-A"]);
    git(&env.work, &["commit", "-q", "-m", "someone else's change"]);
    let theirs = git(&env.work, &["rev-parse", "HEAD"]);
    git(
        &env.work,
        &[
            "push",
            "-q",
            &env.bare.display().to_string(),
            "main:refs/heads/staging",
        ],
    );

    // The server refuses pushes: Ready=False with Flux's reason, nothing pushed.
    hook(&env.bare, "echo 'pushes are frozen' >&2\nexit 1");
    env.registry
        .push_tags("team/app", &["1.2.5".into()], None)
        .await;
    let (reason, msg) = wait_ready(&client, "ImageUpdateAutomation", "fleet", "False").await;
    assert_eq!(reason, "GitOperationFailed", "{msg}");
    assert!(msg.contains("failed to update source"), "{msg}");
    assert_eq!(env.tip(), before, "nothing was pushed");

    // Someone else pushes while the automation pushes: once, the hook moves main to their
    // commit before the automation's update lands, so that push loses the race; the
    // automation redoes the update on the new tip. (Git forbids ref updates from inside
    // the push's quarantine, hence the unset variables.)
    let flag = env.bare.join("raced");
    hook(
        &env.bare,
        &format!(
            "if [ ! -e {flag} ]; then touch {flag}; env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref refs/heads/main {theirs} {before}; fi\nexit 0",
            flag = flag.display()
        ),
    );
    wait_ready(&client, "ImageUpdateAutomation", "fleet", "True").await;
    let tip = env.tip();
    assert_eq!(
        git(&env.bare, &["rev-parse", "main~1"]),
        theirs,
        "the update is on top of theirs"
    );
    assert_eq!(git(&env.bare, &["rev-parse", "main~2"]), before);
    assert_only_marked_line_changed(&env, "1.2.3", "1.2.5");
    assert_eq!(git(&env.bare, &["show", "main:other.txt"]), "someone else");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(env.tip(), tip, "nothing pushed twice");
}

#[tokio::test]
async fn registry_failures_say_why() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    let Some(locked) = DockerRegistry::start_with_auth("ci", "s3cret").await else {
        return;
    };
    locked
        .push_tags(
            "team/app",
            &["2.0.0".into(), "latest".into(), "main-abc".into()],
            Some(("ci", "s3cret")),
        )
        .await;

    // Registry down.
    let dead = format!("127.0.0.1:{}/team/app", gitops_tests::free_port());
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "down", "namespace": NS},
        "spec": {"image": dead, "interval": "1m"},
    }))
    .await;
    let (reason, msg) = wait_ready(&client, "ImageRepository", "down", "False").await;
    assert_eq!(reason, "ReadOperationFailed");
    assert!(msg.starts_with("scan failed: "), "{msg}");

    // Bad credentials, then good ones.
    let auth_secret = |password: &str| -> Secret {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci:{password}"));
        serde_json::from_value(json!({
            "metadata": {"name": "creds", "namespace": NS},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": json!({"auths": {locked.host.clone(): {"auth": auth}}}).to_string()},
        }))
        .unwrap()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    secrets
        .create(&PostParams::default(), &auth_secret("wrong"))
        .await
        .unwrap();
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "locked", "namespace": NS},
        "spec": {"image": format!("{}/team/app", locked.host), "interval": "1s", "secretRef": {"name": "creds"}},
    }))
    .await;
    let (reason, msg) = wait_ready(&client, "ImageRepository", "locked", "False").await;
    assert_eq!(reason, "ReadOperationFailed");
    assert!(
        msg.contains("authentication")
            || msg.contains("401")
            || msg.to_lowercase().contains("unauthorized"),
        "{msg}"
    );
    assert!(
        !msg.contains("wrong") && !msg.contains("s3cret"),
        "no secret in the message: {msg}"
    );
    secrets
        .replace("creds", &PostParams::default(), &auth_secret("s3cret"))
        .await
        .unwrap();
    let (_, msg) = wait_ready(&client, "ImageRepository", "locked", "True").await;
    assert!(msg.starts_with("successful scan: found 3 tags"), "{msg}");

    // Tags that are not versions: semver finds none, numerical refuses them.
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "prerelease", "namespace": NS},
        "spec": {"imageRepositoryRef": {"name": "locked"}, "policy": {"semver": {"range": ">=3.0.0"}}},
    }))
    .await;
    let (reason, msg) = wait_ready(&client, "ImagePolicy", "prerelease", "False").await;
    assert_eq!(
        (reason.as_str(), msg.as_str()),
        (
            "Failure",
            "unable to determine latest version from provided list"
        )
    );
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "numbers", "namespace": NS},
        "spec": {"imageRepositoryRef": {"name": "locked"}, "policy": {"numerical": {"order": "asc"}}},
    }))
    .await;
    let (_, msg) = wait_ready(&client, "ImagePolicy", "numbers", "False").await;
    assert!(
        msg.starts_with("failed to parse invalid numeric value '"),
        "{msg}"
    );
    // An invalid range stalls.
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "invalid", "namespace": NS},
        "spec": {"imageRepositoryRef": {"name": "locked"}, "policy": {"semver": {"range": "1.0.0p"}}},
    }))
    .await;
    let (reason, msg) = wait_ready(&client, "ImagePolicy", "invalid", "False").await;
    assert_eq!(reason, "InvalidPolicy");
    assert_eq!(
        msg,
        r#"invalid policy: invalid semver range "1.0.0p": improper constraint: "1.0.0p""#
    );
    // With a digest: the registry's manifest digest of 2.0.0.
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "digest", "namespace": NS},
        "spec": {"imageRepositoryRef": {"name": "locked"}, "policy": {"semver": {"range": "2.x"}},
                 "digestReflectionPolicy": "IfNotPresent"},
    }))
    .await;
    let (_, msg) = wait_ready(&client, "ImagePolicy", "digest", "True").await;
    assert!(
        msg.contains("resolved to 2.0.0 with digest sha256:"),
        "{msg}"
    );
}

#[tokio::test]
async fn tags_survive_a_reflector_restart_without_the_registry() {
    let Some(registry) = DockerRegistry::start().await else {
        return;
    };
    let tags: Vec<String> = ["0.9.0", "1.0.0", "1.1.0-rc.1", "1.1.0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    registry.push_tags("team/app", &tags, None).await;
    let (mut cluster, flags) = reflector_cluster(&[]).await;
    let client = cluster.client.clone();
    let repo: gitops_api::ImageRepository = serde_json::from_value(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {"image": format!("{}/team/app", registry.host), "interval": "1h"},
    }))
    .unwrap();
    Api::<gitops_api::ImageRepository>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &repo)
        .await
        .unwrap();
    let (_, scanned) = wait_ready(&client, "ImageRepository", "app", "True").await;
    assert!(
        scanned.starts_with("successful scan: found 4 tags"),
        "{scanned}"
    );

    // The controller restarts while the registry is gone.
    cluster.stop_controller("image-reflector-controller").await;
    drop(registry);
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    cluster.start_controller("image-reflector-controller", &refs);
    let policy: gitops_api::ImagePolicy = serde_json::from_value(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "1.x"}}},
    }))
    .unwrap();
    Api::<gitops_api::ImagePolicy>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    let (_, msg) = wait_ready(&client, "ImagePolicy", "app", "True").await;
    assert!(msg.ends_with("resolved to 1.1.0"), "{msg}");
    // The repository was not due for a scan: still Ready with the same scan.
    let (_, still) = wait_ready(&client, "ImageRepository", "app", "True").await;
    assert_eq!(still, scanned);
}

#[tokio::test]
async fn push_branch_refspec_options_and_policy_selector() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    // The server advertises push options and records them.
    git(
        &env.bare,
        &["config", "receive.advertisePushOptions", "true"],
    );
    let options_log = env.bare.join("push-options.log");
    hook(
        &env.bare,
        &format!(
            "i=0; while [ $i -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> {log}; i=$((i+1)); done\nexit 0",
            log = options_log.display()
        ),
    );
    let url = format!("{}/fleet.git", env.http.url);
    env.create_pipeline(&url, None).await;
    // A second policy on the same image, excluded by the selector: its pick (the highest
    // 0.x) must not be written.
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "app", "namespace": NS, "labels": {"automate": "yes"}},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}},
    }))
    .await;
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "old", "namespace": NS},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "<1.0.0"}}},
    }))
    .await;
    let main_before = env.tip();
    let mut spec = json!({
        "interval": "1s",
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        "policySelector": {"matchLabels": {"automate": "yes"}},
        "git": {
            "checkout": {"ref": {"branch": "main"}},
            "commit": {"author": {"name": "fluxbot", "email": "fluxbot@example.com"}},
            "push": {"branch": "auto", "refspec": "refs/heads/auto:refs/heads/review",
                     "options": {"ci.skip": "", "merge_request.target": "main"}},
        },
        "update": {"path": "./apps"},
    });
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "fleet", "namespace": NS}, "spec": spec.clone(),
    }))
    .await;
    env.registry
        .push_tags("team/app", &["0.9.0".into(), "1.2.4".into()], None)
        .await;
    let auto = wait_until(WAIT, || {
        let bare = env.bare.clone();
        async move {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--verify", "-q", "refs/heads/auto"])
                .current_dir(&bare)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
    })
    .await
    .expect("the automation pushes branch auto");
    // The commit is on top of main, on branch auto and at the refspec's destination; main
    // is untouched; the excluded policy's pick is not written.
    assert_eq!(env.tip(), main_before);
    assert_eq!(git(&env.bare, &["rev-parse", "auto~1"]), main_before);
    assert_eq!(git(&env.bare, &["rev-parse", "review"]), auto);
    let content = git(&env.bare, &["show", "auto:apps/deployment.yaml"]);
    assert!(content.contains("team/app:1.2.4 #"), "{content}");
    let options = std::fs::read_to_string(&options_log).unwrap();
    assert_eq!(
        options.lines().collect::<Vec<_>>(),
        ["ci.skip", "merge_request.target=main"]
    );
    // The status follows the push (Ready was already True before it).
    let status = pushed_status(&client, &auto).await;
    assert_eq!(
        ready_of(&status["status"]).unwrap().2,
        "repository up-to-date"
    );
    assert_eq!(
        status["status"]["observedPolicies"],
        json!({"app": {"name": format!("{}/team/app", env.registry.host), "tag": "1.2.4"}})
    );

    // The next update lands on top of the existing push branch, not on main again.
    env.registry
        .push_tags("team/app", &["1.2.5".into()], None)
        .await;
    let next = wait_until(WAIT, || {
        let (bare, auto) = (env.bare.clone(), auto.clone());
        async move {
            let tip = git(&bare, &["rev-parse", "auto"]);
            (tip != auto).then_some(tip)
        }
    })
    .await
    .expect("a second push to auto");
    assert_eq!(git(&env.bare, &["rev-parse", "auto~1"]), auto);
    assert_eq!(git(&env.bare, &["rev-parse", "review"]), next);

    // A refspec that would force is refused, and stalls.
    spec["git"]["push"]["refspec"] = json!("+refs/heads/auto:refs/heads/review");
    env.apply(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "fleet", "namespace": NS}, "spec": spec,
    }))
    .await;
    let (reason, msg) = wait_ready(&client, "ImageUpdateAutomation", "fleet", "False").await;
    assert_eq!(reason, "InvalidSourceConfiguration");
    assert!(msg.contains("pushes never force"), "{msg}");
}

#[tokio::test]
async fn access_between_namespaces_and_service_account_pull_secrets() {
    let Some(locked) = DockerRegistry::start_with_auth("ci", "s3cret").await else {
        return;
    };
    locked
        .push_tags("team/app", &["1.0.0".into()], Some(("ci", "s3cret")))
        .await;
    let (cluster, _) = reflector_cluster(&["--requeue-dependency=1s"]).await;
    let client = cluster.client.clone();
    create_namespace(&client, "team-a", json!({"tenant": "a"})).await;
    create_namespace(&client, "team-b", json!({})).await;
    // Credentials through the service account's image pull secrets.
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "pull", "namespace": NS},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json!({"auths": {locked.host.clone(): {"auth": auth}}}).to_string()},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let sa: k8s_openapi::api::core::v1::ServiceAccount = serde_json::from_value(json!({
        "metadata": {"name": "puller", "namespace": NS},
        "imagePullSecrets": [{"name": "missing"}, {"name": "pull"}],
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    apply(
        &client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "app", "namespace": NS},
            "spec": {"image": format!("{}/team/app", locked.host), "interval": "1h",
                     "serviceAccountName": "puller",
                     "accessFrom": {"namespaceSelectors": [{"matchLabels": {"tenant": "a"}}]}},
        }),
    )
    .await;
    let (_, msg) = wait_ready(&client, "ImageRepository", "app", "True").await;
    assert!(msg.starts_with("successful scan: found 1 tags"), "{msg}");
    let policy = |ns: &str| {
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {"imageRepositoryRef": {"name": "app", "namespace": NS},
                     "policy": {"semver": {"range": "1.x"}}},
        })
    };
    // team-a's labels match the ACL; team-b's do not.
    apply(&client, policy("team-a")).await;
    apply(&client, policy("team-b")).await;
    let (_, msg) = wait_ready_in(&client, "team-a", "ImagePolicy", "app", "True").await;
    assert!(msg.ends_with("resolved to 1.0.0"), "{msg}");
    let ready = wait_ready_in(&client, "team-b", "ImagePolicy", "app", "False").await;
    assert_eq!(ready.0, "AccessDenied");
    assert_eq!(
        ready.1,
        format!(
            "failed to get the referred ImageRepository: access denied: '{NS}/app' can't be accessed due to ACL labels mismatch on namespace 'team-b'"
        )
    );
}

#[tokio::test]
async fn scans_through_an_authenticating_proxy() {
    let Some(registry) = DockerRegistry::start().await else {
        return;
    };
    registry
        .push_tags("team/app", &["1.0.0".into(), "1.1.0".into()], None)
        .await;
    let proxy = gitops_tests::HttpProxy::start(Some(("squid", "p@ss"))).await;
    let (cluster, _) = reflector_cluster(&[]).await;
    let client = cluster.client.clone();
    let proxy_secret = |password: &str| -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": "proxy", "namespace": NS},
            "stringData": {"address": proxy.url.clone(), "username": "squid", "password": password},
        }))
        .unwrap()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    secrets
        .create(&PostParams::default(), &proxy_secret("wrong"))
        .await
        .unwrap();
    apply(
        &client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "app", "namespace": NS},
            "spec": {"image": format!("{}/team/app", registry.host), "interval": "1s",
                     "proxySecretRef": {"name": "proxy"}},
        }),
    )
    .await;
    // The proxy refuses the wrong password: the scan fails and says so, without it.
    let (reason, msg) = wait_ready(&client, "ImageRepository", "app", "False").await;
    assert_eq!(reason, "ReadOperationFailed");
    assert!(!msg.contains("wrong") && !msg.contains("p@ss"), "{msg}");
    assert_eq!(proxy.forwarded(), 0);
    secrets
        .replace("proxy", &PostParams::default(), &proxy_secret("p@ss"))
        .await
        .unwrap();
    let (_, msg) = wait_ready(&client, "ImageRepository", "app", "True").await;
    assert!(msg.starts_with("successful scan: found 2 tags"), "{msg}");
    assert!(proxy.forwarded() > 0, "the scan went through the proxy");
}
