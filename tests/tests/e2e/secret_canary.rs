//! No secret value in any log, event, status or error (issue #19).
//!
//! A unique canary string is planted in every kind of Secret the controllers read — Git
//! credentials (basic auth, bearer token, SSH identity, TLS), registry credentials (docker
//! config JSON, username/password), TLS `certSecretRef`s, proxy Secrets, Bucket keys, SOPS
//! age keys, post-build variables, Helm values, kubeconfigs of remote clusters, notification
//! Provider secrets (address, token, headers, proxy, CA), Receiver tokens, image pull
//! secrets and commit signing keys. One API server and one set of controllers (all seven
//! but the source-watcher, which reads no Secret) then use them, against real servers
//! (`git http-backend` over HTTP and HTTPS, `sshd`, `docker-registry`, HTTP servers, an HTTP
//! proxy, moto's S3), mostly in ways that fail: wrong passwords, malformed keys, unreachable
//! hosts, bad tokens, invalid certificates.
//!
//! Then everything the controllers wrote is collected — every log line (`tracing` at debug
//! level, all targets), every object in the API server (Events and the status of every
//! object included), what the notification controller sent to providers and what the
//! receiver answered — and none may contain the canary (in clear, upper-cased, hex, as
//! decimal bytes, or base64 at any alignment) or the other secret material planted (SSH and
//! GPG private keys, age identities, the API server's token). Where a Secret's value lands in
//! the cluster by design (a decrypted or rendered Secret), only that object's data is left
//! out ([`objects`] says which).

use gitops_tests::{
    CaptureServer, Cluster, DockerRegistry, GitHttpServer, HttpProxy, Sshd, StaticServer,
    age_keygen, git, have, hmac_sha256_hex, ready_of, sops_encrypt_secret, ssh_keygen, wait_until,
};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NS: &str = "default";
/// How long every object gets to reach its expected condition.
const WAIT: Duration = Duration::from_secs(120);

/// Everything `tracing` writes, from every thread of the test's runtime.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The controllers run on a runtime of the test's own whose every thread (workers and
/// blocking pool) logs into [`Logs`] at debug level: a thread-local default subscriber,
/// which wins over the global one the controllers try to install, so other tests of this
/// binary keep their own logging.
#[test]
fn no_secret_value_in_any_log_event_status_or_error() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let dispatch = tracing::Dispatch::new(subscriber);
    let on_start = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .on_thread_start(move || {
            // kept for the thread's life
            std::mem::forget(tracing::dispatcher::set_default(&on_start));
        })
        .build()
        .expect("runtime");
    let _default = tracing::dispatcher::set_default(&dispatch);
    rt.block_on(run(logs));
}

/// A fresh `canary-<16 hex>`.
fn new_canary() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("canary-{:016x}", h.finish())
}

/// The parts of the base64 encodings of `s` that do not depend on what surrounds it, at
/// each of the three alignments, in the standard and the URL-safe alphabet: one of them is
/// in any base64 text that encodes `s` (a `Basic` header, a Secret's data, a docker
/// config's `auth`).
fn base64_cores(s: &str) -> Vec<String> {
    use base64::Engine;
    let mut out = Vec::new();
    for k in 0..3usize {
        let mut bytes = vec![b'x'; k];
        bytes.extend_from_slice(s.as_bytes());
        let first = k.div_ceil(3);
        let last = (k + s.len()) / 3;
        if last <= first + 1 {
            continue;
        }
        for engine in [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::URL_SAFE,
        ] {
            let enc = engine.encode(&bytes);
            out.push(enc[first * 4..last * 4].to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What must not appear: `(what it is, the text)`.
struct Needles(Vec<(String, String)>);

impl Needles {
    /// The random part of the canary (whatever precedes it), upper-cased too, and as the
    /// hex and the decimal bytes (`[52, 54, …]`) that `Debug` prints of byte strings.
    fn add_canary(&mut self, canary: &str) {
        let random = canary.trim_start_matches("canary-");
        self.add("canary", random);
        self.add("canary (upper case)", &random.to_uppercase());
        self.0.push(("canary (hex)".into(), hex::encode(random)));
        let decimal: Vec<String> = random.bytes().map(|b| b.to_string()).collect();
        self.0
            .push(("canary (decimal bytes)".into(), decimal.join(", ")));
    }

    fn add(&mut self, label: &str, secret: &str) {
        self.0.push((label.to_owned(), secret.to_owned()));
        for (i, core) in base64_cores(secret).into_iter().enumerate() {
            self.0.push((format!("{label} (base64 #{i})"), core));
        }
    }
}

/// A Provider (and its Alert): name, spec, the Secret it reads (name and data) if one of
/// its own, and whether its deliveries fail.
type ProviderCase<'a> = (&'a str, Value, Option<(&'a str, Value)>, bool);

/// The API resource of `kind` (Flux kinds from the API crate, else core/v1).
fn resource(kind: &str) -> ApiResource {
    if let Some(k) = gitops_api::KINDS.iter().find(|k| k.kind == kind) {
        return ApiResource {
            group: k.group.into(),
            version: k.version.into(),
            api_version: format!("{}/{}", k.group, k.version),
            kind: kind.into(),
            plural: k.plural.into(),
        };
    }
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()),
    }
}

/// What a sub-case waits for.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Want {
    /// `Ready=True`.
    Ready,
    /// `Ready=False`.
    Failed,
    /// `Ready` True or False: the Secret was read; whether the server then minds is not
    /// the point.
    Settled,
}

struct Env {
    client: kube::Client,
    /// Secrets the test planted (their data holds the canary by design).
    planted: Vec<String>,
    /// `(kind, name, want)` of every object to wait for.
    cases: Vec<(String, String, Want)>,
}

impl Env {
    /// Applies `obj` (server-side, forced) in [`NS`]; `apiVersion` and namespace are filled
    /// in.
    async fn apply(&self, kind: &str, name: &str, body: Value) {
        let ar = resource(kind);
        let mut obj = body;
        obj["apiVersion"] = json!(ar.api_version);
        obj["kind"] = json!(kind);
        obj["metadata"]["name"] = json!(name);
        obj["metadata"]["namespace"] = json!(NS);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), NS, &ar);
        api.patch(
            name,
            &PatchParams::apply("secret-canary").force(),
            &Patch::Apply(obj),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
    }

    /// A Flux object with `spec`, waited for until `want`.
    async fn object(&mut self, kind: &str, name: &str, spec: Value, want: Want) {
        self.apply(kind, name, json!({"metadata": {}, "spec": spec}))
            .await;
        self.cases.push((kind.into(), name.into(), want));
    }

    /// A Secret with `string_data` (and `type` when given).
    async fn secret(&mut self, name: &str, type_: Option<&str>, string_data: Value) {
        let mut body = json!({"metadata": {}, "stringData": string_data});
        if let Some(t) = type_ {
            body["type"] = json!(t);
        }
        self.apply("Secret", name, body).await;
        self.planted.push(name.into());
    }

    /// Asks for a reconciliation of `kind/name` now.
    async fn request_reconcile(&self, kind: &str, name: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), NS, &resource(kind));
        let at = format!("{:?}", Instant::now());
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": at}}})),
        )
        .await
        .unwrap_or_else(|e| panic!("annotate {kind} {name}: {e}"));
    }

    async fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), NS, &resource(kind));
        let o = api.get(name).await.ok()?;
        serde_json::to_value(o).ok()
    }
}

/// A docker config JSON for `host` with `user:password`.
fn docker_config(host: &str, user: &str, password: &str) -> String {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    json!({"auths": {host: {"username": user, "password": password, "auth": auth}}}).to_string()
}

/// A kubeconfig for `server` authenticating with `token`.
fn kubeconfig(server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: remote\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: remote\n  context:\n    cluster: remote\n    user: remote\ncurrent-context: remote\nusers:\n- name: remote\n  user:\n    token: {token}\n"
    )
}

/// A PEM block of `label` whose body is not what it claims to be.
fn bad_pem(label: &str, body: &str) -> String {
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a port")
}

/// A middle line of an OpenSSH private key file (its body, base64): secret material.
fn key_line(pem: &[u8]) -> String {
    let text = String::from_utf8_lossy(pem);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
    lines[lines.len() / 2].to_owned()
}

/// The test chart: a Secret holding `.Values.token`, a template that fails when
/// `.Values.fail`, and a pre-install hook Job that fails when `.Values.failHook`.
fn write_chart(dir: &Path) {
    let t = dir.join("templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("values.yaml"),
        "token: \"\"\nfail: false\nfailHook: false\n",
    )
    .unwrap();
    std::fs::write(
        t.join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-token\nstringData:\n  token: {{ .Values.token | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        t.join("fail.yaml"),
        "{{- if .Values.fail }}{{ fail \"the chart refuses these values\" }}{{- end }}\n",
    )
    .unwrap();
    std::fs::write(
        t.join("hook.yaml"),
        r#"{{- if .Values.failHook }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-pre-install
  annotations:
    helm.sh/hook: pre-install
    apiserver.gitops.dev/simulate: failed
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox
        command: ["true"]
{{- end }}
"#,
    )
    .unwrap();
}

/// The servers, the cluster and controllers, every sub-case, and the search. Needs git and
/// docker-registry; sshd, age, gpg and moto add cases when installed.
async fn run(logs: Logs) {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let started = Instant::now();
    let canary = new_canary();
    let mut needles = Needles(Vec::new());
    needles.add_canary(&canary);
    let secret_pw = format!("{canary}-git");
    let reg_pw = format!("{canary}-registry");
    let t = tempfile::tempdir().unwrap();

    // --- real servers -------------------------------------------------------------------
    let Some(registry) = DockerRegistry::start_with_auth("ci", &reg_pw).await else {
        return;
    };
    let reg = registry.host.clone();
    let oci_auth = gitops_source::oci::OciAuth {
        username: "ci".into(),
        password: reg_pw.clone(),
    };
    registry
        .push_tags(
            "team/app",
            &["1.0.0".into(), "1.0.1".into()],
            Some(("ci", &reg_pw)),
        )
        .await;
    let content = t.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("app.yaml"), "kind: ConfigMap\n").unwrap();
    gitops_source::oci::Registry::new(true)
        .push_dir(
            &format!("oci://{reg}/org/manifests"),
            "1.0.0",
            &content,
            &gitops_source::ignore::IgnoreRules::flux_defaults(),
            "https://git.example/app",
            "main@sha1:1111111111111111111111111111111111111111",
            Some(&oci_auth),
        )
        .await
        .expect("artifact pushed");

    let age = age_keygen();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    git(&root, &["init", "-q", "--bare", "-b", "main", "fleet.git"]);
    let bare = root.join("fleet.git");
    git(&bare, &["config", "http.receivepack", "true"]);
    git(&work, &["init", "-q", "-b", "main"]);
    let files: Vec<(&str, String)> = vec![
        (
            "deploy/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: substituted\n  namespace: default\ndata:\n  value: ${SECRET_VAR}\n".into(),
        ),
        (
            "badyaml/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: badyaml\n  namespace: default\ndata:\n  value: ${SECRET_VAR}\n".into(),
        ),
        (
            "plain/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: default\n".into(),
        ),
        (
            "auto/deployment.yaml",
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {reg}/team/app:1.0.0 # {{\"$imagepolicy\": \"default:app\"}}\n"
            ),
        ),
    ];
    for (p, c) in &files {
        let path = work.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
    if let Some((_, recipient)) = &age {
        let enc = sops_encrypt_secret("db", NS, &[("password", &canary)], recipient)
            .expect("sops fixture");
        assert!(!enc.contains(&canary));
        std::fs::create_dir_all(work.join("secrets")).unwrap();
        std::fs::write(work.join("secrets/db.yaml"), enc).unwrap();
    }
    write_chart(&work.join("charts/demo"));
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "fleet"]);
    git(&work, &["push", "-q", &bare.display().to_string(), "main"]);
    let http = GitHttpServer::start(&root, Some(("git", &secret_pw))).await;
    let (https, https_ca) =
        GitHttpServer::start_tls(&root, Some("Bearer not-the-canary".into())).await;
    let https_host = https.url.trim_start_matches("https://").to_owned();
    let sshd = Sshd::start().await;
    let accept = CaptureServer::start().await;
    let unauth = CaptureServer::start().await;
    unauth.set_status(401);
    let forbidden = CaptureServer::start().await;
    forbidden.set_status(403);
    // a Helm repository over HTTP: chart `demo` here, chart `broken` on the 401 server
    let charts_dir = t.path().join("charts");
    std::fs::create_dir_all(&charts_dir).unwrap();
    let tgz = package_chart(
        &work.join("charts/demo"),
        &charts_dir.join("demo-0.1.0.tgz"),
    );
    std::fs::write(
        charts_dir.join("index.yaml"),
        format!(
            "apiVersion: v1\nentries:\n  demo:\n  - apiVersion: v2\n    name: demo\n    version: 0.1.0\n    digest: {}\n    urls: [demo-0.1.0.tgz]\n  broken:\n  - apiVersion: v2\n    name: broken\n    version: 0.1.0\n    urls: [\"{}/broken-0.1.0.tgz\"]\ngenerated: \"2026-01-01T00:00:00Z\"\n",
            tgz,
            unauth.url
        ),
    )
    .unwrap();
    let charts = StaticServer::start(&charts_dir).await;
    let proxy = HttpProxy::start(Some(("squid", "not-the-canary"))).await;
    let nowhere = format!("127.0.0.1:{}", closed_port());
    let moto = start_moto().await;

    // --- the cluster and the controllers ------------------------------------------------
    let mut cluster = Cluster::start().await;
    let (ep, rp) = (gitops_tests::free_port(), gitops_tests::free_port());
    let events_addr = format!("--events-addr=http://127.0.0.1:{ep}/");
    cluster.start_source_controller_with(&[&events_addr]).await;
    cluster.start_controller("kustomize-controller", &[&events_addr]);
    cluster.start_controller(
        "helm-controller",
        &[&events_addr, "--requeue-dependency=1s"],
    );
    cluster.start_controller(
        "notification-controller",
        &[
            &format!("--events-listen-addr=127.0.0.1:{ep}"),
            &format!("--receiver-addr=127.0.0.1:{rp}"),
            "--rate-limit-interval=1s",
        ],
    );
    let tags = cluster.dir.path().join("image-tags");
    cluster.start_controller(
        "image-reflector-controller",
        &[
            &format!("--storage-path={}", tags.display()),
            &events_addr,
            "--requeue-dependency=1s",
        ],
    );
    cluster.start_controller("image-automation-controller", &[&events_addr]);
    let api_kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let api_server = api_kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server in kubeconfig")
        .to_owned();
    // the API server's own token is secret too
    if let Some(token) = api_kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
    {
        needles.add("API server token", token);
    }
    let mut env = Env {
        client: cluster.client.clone(),
        planted: Vec::new(),
        cases: Vec::new(),
    };
    let git_url = format!("{}/fleet.git", http.url);

    // --- Secrets several objects share: an invalid CA, invalid TLS client material, a
    // proxy address with user info, a proxy password the proxy refuses
    env.secret(
        "ca-bad",
        None,
        json!({"ca.crt": bad_pem("CERTIFICATE", &canary)}),
    )
    .await;
    env.secret(
        "proxy-userinfo",
        None,
        json!({"address": format!("http://squid:{canary}@{nowhere}")}),
    )
    .await;
    env.secret(
        "proxy-wrong",
        None,
        json!({"address": proxy.url, "username": "squid", "password": format!("{canary}-proxy")}),
    )
    .await;
    env.secret(
        "tls-bad",
        None,
        json!({"ca.crt": bad_pem("CERTIFICATE", &canary),
               "tls.crt": bad_pem("CERTIFICATE", &canary),
               "tls.key": bad_pem("PRIVATE KEY", &canary)}),
    )
    .await;

    // --- notification: Provider secrets (address, token, headers, proxy, CA), first, so
    // that every event of the objects below goes to every Provider
    let sources = json!([
        {"kind": "GitRepository", "name": "*"}, {"kind": "OCIRepository", "name": "*"},
        {"kind": "HelmRepository", "name": "*"}, {"kind": "HelmChart", "name": "*"},
        {"kind": "Bucket", "name": "*"}, {"kind": "Kustomization", "name": "*"},
        {"kind": "HelmRelease", "name": "*"}, {"kind": "ImageRepository", "name": "*"},
        {"kind": "ImagePolicy", "name": "*"}, {"kind": "ImageUpdateAutomation", "name": "*"},
    ]);
    let providers: Vec<ProviderCase> = vec![
        (
            "p-ok",
            json!({"type": "generic", "address": format!("{}/ok", accept.url),
                   "secretRef": {"name": "p-ok"}}),
            Some((
                "p-ok",
                json!({"headers": format!("X-Api-Key: {canary}\n"), "token": canary}),
            )),
            false,
        ),
        (
            "p-address",
            json!({"type": "generic", "secretRef": {"name": "p-address"}}),
            Some((
                "p-address",
                json!({"address": format!("http://user:{canary}@{nowhere}/hook/{canary}?token={canary}")}),
            )),
            true,
        ),
        (
            "p-headers-bad",
            json!({"type": "generic", "address": format!("{}/headers", accept.url),
                   "secretRef": {"name": "p-headers-bad"}}),
            Some((
                "p-headers-bad",
                json!({"headers": format!("Authorization: Bearer {canary}\n  - [unclosed: {canary}\n")}),
            )),
            true,
        ),
        (
            "p-hmac",
            json!({"type": "generic-hmac", "address": format!("{}/hmac", unauth.url),
                   "secretRef": {"name": "p-token"}}),
            Some(("p-token", json!({"token": canary}))),
            true,
        ),
        (
            "p-slack",
            json!({"type": "slack", "channel": "general", "secretRef": {"name": "p-slack"}}),
            Some((
                "p-slack",
                json!({"address": format!("{}/services/{canary}", unauth.url), "token": canary}),
            )),
            true,
        ),
        (
            "p-gitlab",
            json!({"type": "gitlab", "address": format!("{}/group/repo", unauth.url),
                   "secretRef": {"name": "p-token"}}),
            None,
            true,
        ),
        (
            "p-secret-proxy",
            json!({"type": "generic", "address": format!("{}/via-proxy", accept.url),
                   "secretRef": {"name": "p-secret-proxy"}}),
            Some((
                "p-secret-proxy",
                json!({"proxy": format!("http://squid:{canary}@{nowhere}")}),
            )),
            true,
        ),
        (
            "p-github",
            json!({"type": "github", "address": format!("{}/org/repo", unauth.url),
                   "secretRef": {"name": "p-token"}}),
            None,
            true,
        ),
        (
            "p-nats",
            json!({"type": "nats", "channel": "flux", "secretRef": {"name": "p-nats"}}),
            Some((
                "p-nats",
                json!({"address": format!("nats://user:{canary}@{nowhere}"),
                       "username": "user", "password": canary}),
            )),
            true,
        ),
        (
            "p-ca-bad",
            json!({"type": "generic", "address": format!("{}/hook", https.url),
                   "secretRef": {"name": "p-token"}, "certSecretRef": {"name": "tls-bad"}}),
            None,
            true,
        ),
        (
            "p-proxy-wrong",
            json!({"type": "generic", "address": format!("{}/proxied", accept.url),
                   "proxySecretRef": {"name": "proxy-wrong"}}),
            None,
            true,
        ),
        (
            "p-proxy-userinfo",
            json!({"type": "generic", "address": format!("{}/proxied", accept.url),
                   "proxySecretRef": {"name": "proxy-userinfo"}}),
            None,
            true,
        ),
    ];
    let mut failing_alerts = Vec::new();
    for (name, spec, secret, fails) in &providers {
        if let Some((sname, data)) = secret {
            env.secret(sname, None, data.clone()).await;
        }
        let mut spec = spec.clone();
        spec["timeout"] = json!("3s");
        env.apply("Provider", name, json!({"metadata": {}, "spec": spec}))
            .await;
        env.apply(
            "Alert",
            name,
            json!({"metadata": {}, "spec": {"providerRef": {"name": name},
                   "eventSeverity": "info", "eventSources": sources}}),
        )
        .await;
        if *fails {
            failing_alerts.push(name.to_string());
        }
    }

    // --- GitRepository: basic auth, bearer token, SSH identity, TLS -----------------------
    env.secret(
        "git-ok",
        None,
        json!({"username": "git", "password": secret_pw}),
    )
    .await;
    env.object(
        "GitRepository",
        "git-ok",
        json!({"url": git_url, "interval": "10m", "timeout": "20s", "ref": {"branch": "main"},
               "secretRef": {"name": "git-ok"}}),
        Want::Ready,
    )
    .await;
    env.secret(
        "git-wrong",
        None,
        json!({"username": "git", "password": format!("{canary}-wrong")}),
    )
    .await;
    env.object(
        "GitRepository",
        "git-wrongpw",
        json!({"url": git_url, "interval": "10m", "timeout": "20s", "ref": {"branch": "main"},
               "secretRef": {"name": "git-wrong"}}),
        Want::Failed,
    )
    .await;
    env.secret(
        "git-bearer",
        None,
        json!({"bearerToken": format!("{canary}-bearer"), "ca.crt": https_ca}),
    )
    .await;
    env.object(
        "GitRepository",
        "git-bearer",
        json!({"url": format!("{}/fleet.git", https.url), "interval": "10m", "timeout": "20s",
               "ref": {"branch": "main"}, "secretRef": {"name": "git-bearer"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "GitRepository",
        "git-unreachable",
        json!({"url": format!("http://{nowhere}/fleet.git"), "interval": "10m", "timeout": "5s",
               "ref": {"branch": "main"}, "secretRef": {"name": "git-wrong"}}),
        Want::Failed,
    )
    .await;
    env.secret(
        "git-tls-bad",
        None,
        json!({"username": "git", "password": format!("{canary}-tls"),
               "ca.crt": bad_pem("CERTIFICATE", &canary),
               "tls.crt": bad_pem("CERTIFICATE", &canary),
               "tls.key": bad_pem("PRIVATE KEY", &canary)}),
    )
    .await;
    env.object(
        "GitRepository",
        "git-tls-bad",
        json!({"url": format!("{}/fleet.git", https.url), "interval": "10m", "timeout": "10s",
               "ref": {"branch": "main"}, "secretRef": {"name": "git-tls-bad"}}),
        Want::Failed,
    )
    .await;
    if let Some(sshd) = &sshd {
        needles.add("authorized SSH key", &key_line(&sshd.client_key));
        let url = sshd.url(&bare);
        env.secret(
            "ssh-ok",
            None,
            json!({"identity": String::from_utf8_lossy(&sshd.client_key),
                   "known_hosts": sshd.known_hosts}),
        )
        .await;
        env.object(
            "GitRepository",
            "git-ssh-ok",
            json!({"url": url, "interval": "10m", "timeout": "20s", "ref": {"branch": "main"},
                   "secretRef": {"name": "ssh-ok"}}),
            Want::Ready,
        )
        .await;
        env.secret(
            "ssh-malformed",
            None,
            json!({"identity": bad_pem("OPENSSH PRIVATE KEY", &canary),
                   "password": canary, "known_hosts": sshd.known_hosts}),
        )
        .await;
        env.object(
            "GitRepository",
            "git-ssh-malformed",
            json!({"url": url, "interval": "10m", "timeout": "20s", "ref": {"branch": "main"},
                   "secretRef": {"name": "ssh-malformed"}}),
            Want::Failed,
        )
        .await;
        let other = t.path().join("unauthorized");
        ssh_keygen(&other);
        let other_key = std::fs::read(&other).unwrap();
        needles.add("unauthorized SSH key", &key_line(&other_key));
        env.secret(
            "ssh-unauthorized",
            None,
            json!({"identity": String::from_utf8_lossy(&other_key),
                   "known_hosts": sshd.known_hosts}),
        )
        .await;
        env.object(
            "GitRepository",
            "git-ssh-unauthorized",
            json!({"url": url, "interval": "10m", "timeout": "20s", "ref": {"branch": "main"},
                   "secretRef": {"name": "ssh-unauthorized"}}),
            Want::Failed,
        )
        .await;
    } else {
        eprintln!("SSH cases skipped: sshd is not installed");
    }

    // --- OCIRepository: docker config, username/password, CA, proxies --------------------
    let oci_url = format!("oci://{reg}/org/manifests");
    env.secret(
        "oci-ok",
        Some("kubernetes.io/dockerconfigjson"),
        json!({".dockerconfigjson": docker_config(&reg, "ci", &reg_pw)}),
    )
    .await;
    env.object(
        "OCIRepository",
        "oci-ok",
        json!({"url": oci_url, "interval": "10m", "timeout": "20s", "insecure": true,
               "ref": {"tag": "1.0.0"}, "secretRef": {"name": "oci-ok"}}),
        Want::Ready,
    )
    .await;
    env.secret(
        "oci-wrong",
        Some("kubernetes.io/dockerconfigjson"),
        json!({".dockerconfigjson": docker_config(&reg, "ci", &format!("{canary}-wrong"))}),
    )
    .await;
    env.object(
        "OCIRepository",
        "oci-wrong",
        json!({"url": oci_url, "interval": "10m", "timeout": "20s", "insecure": true,
               "ref": {"tag": "1.0.0"}, "secretRef": {"name": "oci-wrong"}}),
        Want::Failed,
    )
    .await;
    env.secret(
        "oci-userpass",
        None,
        json!({"username": "ci", "password": format!("{canary}-userpass")}),
    )
    .await;
    env.object(
        "OCIRepository",
        "oci-userpass",
        json!({"url": oci_url, "interval": "10m", "timeout": "20s", "insecure": true,
               "ref": {"tag": "1.0.0"}, "secretRef": {"name": "oci-userpass"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "OCIRepository",
        "oci-ca-bad",
        json!({"url": format!("oci://{https_host}/org/manifests"), "interval": "10m",
               "timeout": "10s", "ref": {"tag": "1.0.0"}, "secretRef": {"name": "oci-ok"},
               "certSecretRef": {"name": "ca-bad"}}),
        Want::Settled,
    )
    .await;
    env.object(
        "OCIRepository",
        "oci-proxy-userinfo",
        json!({"url": oci_url, "interval": "10m", "timeout": "10s", "insecure": true,
               "ref": {"tag": "1.0.0"}, "proxySecretRef": {"name": "proxy-userinfo"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "OCIRepository",
        "oci-proxy-wrong",
        json!({"url": oci_url, "interval": "10m", "timeout": "10s", "insecure": true,
               "ref": {"tag": "1.0.0"}, "secretRef": {"name": "oci-ok"},
               "proxySecretRef": {"name": "proxy-wrong"}}),
        Want::Failed,
    )
    .await;

    // --- HelmRepository and HelmChart: basic auth, TLS, OCI ------------------------------
    env.secret(
        "helm-basic",
        None,
        json!({"username": "helm", "password": format!("{canary}-helm")}),
    )
    .await;
    env.object(
        "HelmRepository",
        "helm-unauthorized",
        json!({"url": unauth.url, "interval": "10m", "timeout": "10s",
               "secretRef": {"name": "helm-basic"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "HelmRepository",
        "helm-tls-bad",
        json!({"url": https.url, "interval": "10m", "timeout": "10s",
               "secretRef": {"name": "helm-basic"}, "certSecretRef": {"name": "tls-bad"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "HelmRepository",
        "helm-http",
        json!({"url": charts.url, "interval": "10m", "timeout": "10s", "passCredentials": true,
               "secretRef": {"name": "helm-basic"}}),
        Want::Ready,
    )
    .await;
    for (name, chart, want) in [
        ("chart-http-ok", "demo", Want::Ready),
        ("chart-http-unauthorized", "broken", Want::Failed),
    ] {
        env.object(
            "HelmChart",
            name,
            json!({"chart": chart, "version": "*", "interval": "10m",
                   "sourceRef": {"kind": "HelmRepository", "name": "helm-http"}}),
            want,
        )
        .await;
    }
    env.object(
        "HelmRepository",
        "helm-oci",
        json!({"type": "oci", "url": format!("oci://{reg}/charts"), "interval": "10m",
               "timeout": "10s", "insecure": true, "secretRef": {"name": "oci-wrong"}}),
        Want::Settled,
    )
    .await;
    env.object(
        "HelmChart",
        "chart-oci",
        json!({"chart": "demo", "version": "*", "interval": "10m",
               "sourceRef": {"kind": "HelmRepository", "name": "helm-oci"}}),
        Want::Failed,
    )
    .await;

    // --- Bucket: keys, CA ------------------------------------------------------------------
    env.secret(
        "s3",
        None,
        json!({"accesskey": "AKIAEXAMPLE", "secretkey": format!("{canary}-s3")}),
    )
    .await;
    if let Some((_, endpoint)) = &moto {
        env.object(
            "Bucket",
            "bucket-ok",
            json!({"endpoint": endpoint, "bucketName": "manifests", "insecure": true,
                   "interval": "10m", "timeout": "20s", "secretRef": {"name": "s3"}}),
            Want::Ready,
        )
        .await;
    } else {
        eprintln!("bucket success case skipped: moto_server is not installed");
    }
    env.object(
        "Bucket",
        "bucket-forbidden",
        json!({"endpoint": forbidden.url.trim_start_matches("http://"), "bucketName": "manifests",
               "insecure": true, "interval": "10m", "timeout": "10s",
               "secretRef": {"name": "s3"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "Bucket",
        "bucket-unreachable",
        json!({"endpoint": nowhere, "bucketName": "manifests", "insecure": true,
               "interval": "10m", "timeout": "5s", "secretRef": {"name": "s3"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "Bucket",
        "bucket-ca-bad",
        json!({"endpoint": https_host, "bucketName": "manifests", "interval": "10m",
               "timeout": "5s", "secretRef": {"name": "s3"}, "certSecretRef": {"name": "ca-bad"}}),
        Want::Failed,
    )
    .await;

    // --- Kustomization: SOPS age keys, post-build variables, remote kubeconfigs ----------
    let ks = |extra: Value| {
        let mut spec = json!({"interval": "10m", "prune": true, "timeout": "20s",
                              "sourceRef": {"kind": "GitRepository", "name": "git-ok"}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    if let Some((identity, _)) = &age {
        let id = identity
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        needles.add("age identity", id);
        env.secret("sops-ok", None, json!({"identity.agekey": identity}))
            .await;
        env.object(
            "Kustomization",
            "ks-sops-ok",
            ks(json!({"path": "./secrets",
                      "decryption": {"provider": "sops", "secretRef": {"name": "sops-ok"}}})),
            Want::Ready,
        )
        .await;
        let (other, _) = age_keygen().unwrap();
        let other_id = other
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        needles.add("wrong age identity", other_id);
        env.secret("sops-wrong", None, json!({"identity.agekey": other}))
            .await;
        env.object(
            "Kustomization",
            "ks-sops-wrong",
            ks(json!({"path": "./secrets",
                      "decryption": {"provider": "sops", "secretRef": {"name": "sops-wrong"}}})),
            Want::Failed,
        )
        .await;
        env.secret(
            "sops-malformed",
            None,
            json!({"identity.agekey": format!("AGE-SECRET-KEY-1{}\n", canary.to_uppercase()),
                   "other.agekey": canary}),
        )
        .await;
        env.object(
            "Kustomization",
            "ks-sops-malformed",
            ks(json!({"path": "./secrets",
                      "decryption": {"provider": "sops", "secretRef": {"name": "sops-malformed"}}})),
            Want::Failed,
        )
        .await;
    } else {
        eprintln!("SOPS cases skipped: age is not installed");
    }
    env.secret("vars", None, json!({"SECRET_VAR": canary}))
        .await;
    env.object(
        "Kustomization",
        "ks-subst-ok",
        ks(json!({"path": "./deploy",
                  "postBuild": {"substituteFrom": [{"kind": "Secret", "name": "vars"}]}})),
        Want::Ready,
    )
    .await;
    env.secret(
        "vars-bad",
        None,
        json!({"SECRET_VAR": format!("{canary}: [unclosed")}),
    )
    .await;
    env.object(
        "Kustomization",
        "ks-subst-badyaml",
        ks(json!({"path": "./badyaml",
                  "postBuild": {"substituteFrom": [{"kind": "Secret", "name": "vars-bad"}]}})),
        Want::Failed,
    )
    .await;
    let kubeconfigs = [
        (
            "kc-nowhere",
            kubeconfig(&format!("https://{nowhere}"), &canary),
        ),
        ("kc-wrong-token", kubeconfig(&api_server, &canary)),
        ("kc-malformed", format!("{canary}\n")),
        (
            "kc-malformed-yaml",
            format!(
                "apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    token: {canary}\n    - [\n"
            ),
        ),
        ("kc-bad-client-key", {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: r\n  cluster:\n    server: https://{nowhere}\ncontexts:\n- name: r\n  context:\n    cluster: r\n    user: r\ncurrent-context: r\nusers:\n- name: r\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
                b64.encode(bad_pem("CERTIFICATE", &canary)),
                b64.encode(bad_pem("PRIVATE KEY", &canary)),
            )
        }),
    ];
    for (name, value) in &kubeconfigs {
        env.secret(name, None, json!({"value": value})).await;
        env.object(
            "Kustomization",
            &format!("ks-{name}"),
            ks(json!({"path": "./plain", "kubeConfig": {"secretRef": {"name": name}}})),
            Want::Failed,
        )
        .await;
    }

    // --- HelmRelease: valuesFrom Secrets, remote kubeconfigs -----------------------------
    let hr = |extra: Value| {
        let mut spec = json!({"interval": "10m", "timeout": "20s",
            "chart": {"spec": {"chart": "./charts/demo",
                               "sourceRef": {"kind": "GitRepository", "name": "git-ok"}}}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    let values = |name: &str| json!({"valuesFrom": [{"kind": "Secret", "name": name}]});
    env.secret(
        "values-ok",
        None,
        json!({"values.yaml": format!("token: {canary}\n")}),
    )
    .await;
    env.object("HelmRelease", "hr-ok", hr(values("values-ok")), Want::Ready)
        .await;
    env.object(
        "HelmRelease",
        "hr-drift",
        hr(
            json!({"valuesFrom": [{"kind": "Secret", "name": "values-ok"}],
                  "driftDetection": {"mode": "enabled"}}),
        ),
        Want::Ready,
    )
    .await;
    env.secret(
        "values-fail",
        None,
        json!({"values.yaml": format!("token: {canary}\nfail: true\n")}),
    )
    .await;
    env.object(
        "HelmRelease",
        "hr-render-fails",
        hr(values("values-fail")),
        Want::Failed,
    )
    .await;
    env.secret(
        "values-hook",
        None,
        json!({"values.yaml": format!("token: {canary}\nfailHook: true\n")}),
    )
    .await;
    env.object(
        "HelmRelease",
        "hr-hook-fails",
        hr(values("values-hook")),
        Want::Failed,
    )
    .await;
    env.secret(
        "values-badyaml",
        None,
        json!({"values.yaml": format!("token: {canary}\nbad: [unclosed\n")}),
    )
    .await;
    env.object(
        "HelmRelease",
        "hr-values-badyaml",
        hr(values("values-badyaml")),
        Want::Failed,
    )
    .await;
    env.secret(
        "values-path",
        None,
        json!({"token": format!("{canary},{canary}-tail")}),
    )
    .await;
    env.object(
        "HelmRelease",
        "hr-values-targetpath",
        hr(
            json!({"valuesFrom": [{"kind": "Secret", "name": "values-path", "valuesKey": "token",
                                   "targetPath": "token"}]}),
        ),
        Want::Failed,
    )
    .await;
    for (name, _) in &kubeconfigs {
        env.object(
            "HelmRelease",
            &format!("hr-{name}"),
            hr(json!({"kubeConfig": {"secretRef": {"name": name}}})),
            Want::Failed,
        )
        .await;
    }

    // --- image-reflector: pull secrets, service account, CA, proxies ---------------------
    let image = format!("{reg}/team/app");
    env.object(
        "ImageRepository",
        "img-ok",
        json!({"image": image, "interval": "10m", "secretRef": {"name": "oci-ok"}}),
        Want::Ready,
    )
    .await;
    env.object(
        "ImagePolicy",
        "app",
        json!({"imageRepositoryRef": {"name": "img-ok"},
               "policy": {"semver": {"range": ">=1.0.0"}}}),
        Want::Ready,
    )
    .await;
    env.object(
        "ImageRepository",
        "img-wrong",
        json!({"image": image, "interval": "10m", "timeout": "10s",
               "secretRef": {"name": "oci-wrong"}}),
        Want::Failed,
    )
    .await;
    env.apply(
        "ServiceAccount",
        "puller",
        json!({"metadata": {}, "imagePullSecrets": [{"name": "oci-wrong"}]}),
    )
    .await;
    env.object(
        "ImageRepository",
        "img-service-account",
        json!({"image": image, "interval": "10m", "timeout": "10s",
               "serviceAccountName": "puller"}),
        Want::Failed,
    )
    .await;
    env.object(
        "ImageRepository",
        "img-ca-bad",
        json!({"image": format!("{https_host}/team/app"), "interval": "10m", "timeout": "10s",
               "certSecretRef": {"name": "ca-bad"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "ImageRepository",
        "img-client-cert",
        json!({"image": image, "interval": "10m", "timeout": "10s",
               "certSecretRef": {"name": "tls-bad"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "ImageRepository",
        "img-proxy-userinfo",
        json!({"image": image, "interval": "10m", "timeout": "10s",
               "proxySecretRef": {"name": "proxy-userinfo"}}),
        Want::Failed,
    )
    .await;
    env.object(
        "ImageRepository",
        "img-proxy-wrong",
        json!({"image": image, "interval": "10m", "timeout": "10s",
               "secretRef": {"name": "oci-ok"}, "proxySecretRef": {"name": "proxy-wrong"}}),
        Want::Failed,
    )
    .await;

    // --- image-automation: Git credentials, signing keys ---------------------------------
    let automation = |source: &str, branch: &str, signing: Option<Value>| {
        json!({
            "interval": "10m",
            "sourceRef": {"kind": "GitRepository", "name": source},
            "git": {
                "checkout": {"ref": {"branch": "main"}},
                "commit": {"author": {"name": "fluxbot", "email": "fluxbot@example.com"},
                           "signingKey": signing},
                "push": {"branch": branch},
            },
            "update": {"path": "./auto", "strategy": "Setters"},
        })
    };
    env.object(
        "ImageUpdateAutomation",
        "iua-ok",
        automation("git-ok", "auto-ok", None),
        Want::Ready,
    )
    .await;
    env.object(
        "ImageUpdateAutomation",
        "iua-wrong-auth",
        automation("git-wrongpw", "auto-wrong", None),
        Want::Failed,
    )
    .await;
    env.secret(
        "signing-gpg",
        None,
        json!({"git.asc": bad_pem("PGP PRIVATE KEY BLOCK", &format!("\n{canary}")),
               "passphrase": canary}),
    )
    .await;
    env.object(
        "ImageUpdateAutomation",
        "iua-gpg",
        automation(
            "git-ok",
            "auto-gpg",
            Some(json!({"secretRef": {"name": "signing-gpg"}})),
        ),
        Want::Failed,
    )
    .await;
    if let Some(armored) = gpg_key(t.path(), &format!("{canary}-gpg-right")) {
        needles.add("GPG private key", &key_line(armored.as_bytes()));
        env.secret(
            "signing-gpg-passphrase",
            None,
            json!({"git.asc": armored, "passphrase": format!("{canary}-gpg-wrong")}),
        )
        .await;
        env.object(
            "ImageUpdateAutomation",
            "iua-gpg-passphrase",
            automation(
                "git-ok",
                "auto-gpg-passphrase",
                Some(json!({"secretRef": {"name": "signing-gpg-passphrase"}})),
            ),
            Want::Failed,
        )
        .await;
    } else {
        eprintln!("GPG passphrase case skipped: gpg is not installed");
    }
    let encrypted = t.path().join("encrypted-signing-key");
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            &format!("{canary}-ssh-right"),
            "-f",
        ])
        .arg(&encrypted)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let key = std::fs::read(&encrypted).unwrap();
        needles.add("encrypted SSH signing key", &key_line(&key));
        env.secret(
            "signing-ssh-password",
            None,
            json!({"identity": String::from_utf8_lossy(&key),
                   "password": format!("{canary}-ssh-wrong")}),
        )
        .await;
        env.object(
            "ImageUpdateAutomation",
            "iua-ssh-password",
            automation(
                "git-ok",
                "auto-ssh-password",
                Some(json!({"type": "ssh", "secretRef": {"name": "signing-ssh-password"}})),
            ),
            Want::Failed,
        )
        .await;
    }
    env.secret(
        "signing-ssh",
        None,
        json!({"identity": bad_pem("OPENSSH PRIVATE KEY", &canary), "password": canary}),
    )
    .await;
    env.object(
        "ImageUpdateAutomation",
        "iua-ssh",
        automation(
            "git-ok",
            "auto-ssh",
            Some(json!({"type": "ssh", "secretRef": {"name": "signing-ssh"}})),
        ),
        Want::Failed,
    )
    .await;

    // --- notification: Receiver tokens ---------------------------------------------------
    env.secret("rcv-token", None, json!({"token": canary}))
        .await;
    env.secret("rcv-no-token", None, json!({"other": canary}))
        .await;
    let resources = json!([{"apiVersion": "source.toolkit.fluxcd.io/v1",
                            "kind": "GitRepository", "name": "git-ok"}]);
    for (name, type_, secret, want) in [
        ("rcv-hmac", "generic-hmac", "rcv-token", Want::Ready),
        ("rcv-github", "github", "rcv-token", Want::Ready),
        ("rcv-gitlab", "gitlab", "rcv-token", Want::Ready),
        ("rcv-harbor", "harbor", "rcv-token", Want::Ready),
        ("rcv-nexus", "nexus", "rcv-token", Want::Ready),
        ("rcv-no-token", "generic", "rcv-no-token", Want::Failed),
    ] {
        env.object(
            "Receiver",
            name,
            json!({"type": type_, "secretRef": {"name": secret}, "resources": resources}),
            want,
        )
        .await;
    }

    // --- wait for every object to get where it should ------------------------------------
    let deadline = Instant::now() + WAIT;
    let mut pending: Vec<(String, String, Want)> = env.cases.clone();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for (kind, name, want) in pending {
            let ready = env
                .get(&kind, &name)
                .await
                .and_then(|o| ready_of(&o["status"]))
                .map(|c| c.0);
            let done = match (want, ready.as_deref()) {
                (Want::Ready, Some("True")) | (Want::Failed, Some("False")) => true,
                (Want::Settled, Some(s)) => s != "Unknown",
                _ => false,
            };
            if !done {
                still.push((kind, name, want));
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!("sub-cases ({} objects):", env.cases.len());
    for (kind, name, want) in &env.cases {
        let o = env.get(kind, name).await.unwrap_or_default();
        let (s, r, m) = ready_of(&o["status"]).unwrap_or_default();
        let m: String = m.chars().take(160).collect();
        println!("  {kind}/{name} want {want:?}: {s} {r}: {m}");
    }
    assert!(
        pending.is_empty(),
        "objects not in their expected condition after {WAIT:?}: {pending:?}"
    );

    // --- the working automation pushes with the Git Secret once the policy has a tag ------
    env.request_reconcile("ImageUpdateAutomation", "iua-ok")
        .await;
    let pushed = wait_until(Duration::from_secs(60), || async {
        let o = env.get("ImageUpdateAutomation", "iua-ok").await?;
        o["status"]["lastPushCommit"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
    })
    .await;
    assert!(pushed.is_some(), "iua-ok never pushed");
    assert!(git(&bare, &["show", "auto-ok:auto/deployment.yaml"]).contains("app:1.0.1"));

    // --- drift: Secrets holding the canary changed in the cluster, then corrected -------
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(env.client.clone(), NS);
    let mut tampered = vec![("hr-drift-token", "token", "HelmRelease", "hr-drift")];
    if age.is_some() {
        tampered.push(("db", "password", "Kustomization", "ks-sops-ok"));
    }
    for (secret, key, kind, owner) in &tampered {
        use base64::Engine;
        let changed = base64::engine::general_purpose::STANDARD.encode("tampered");
        secrets
            .patch(
                secret,
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {*key: changed}})),
            )
            .await
            .unwrap_or_else(|e| panic!("tamper with {secret}: {e}"));
        env.request_reconcile(kind, owner).await;
    }
    for (secret, key, ..) in &tampered {
        let restored = wait_until(Duration::from_secs(60), || async {
            let s = secrets.get(secret).await.ok()?;
            let v = s.data?.get(*key)?.0.clone();
            (v == canary.as_bytes()).then_some(())
        })
        .await;
        assert!(restored.is_some(), "{secret} was not restored");
    }

    // --- the receivers, called with wrong and right credentials --------------------------
    let mut responses = Vec::new();
    let receiver = format!("http://127.0.0.1:{rp}");
    let http_client = reqwest::Client::new();
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    for (name, headers) in [
        (
            "rcv-hmac",
            vec![("X-Signature", format!("sha256={}", "0".repeat(64)))],
        ),
        (
            "rcv-hmac",
            vec![(
                "X-Signature",
                format!("sha256={}", hmac_sha256_hex(canary.as_bytes(), &body)),
            )],
        ),
        (
            "rcv-github",
            vec![
                ("X-Hub-Signature-256", format!("sha256={}", "1".repeat(64))),
                ("X-GitHub-Event", "push".into()),
            ],
        ),
        (
            "rcv-gitlab",
            vec![
                ("X-Gitlab-Token", format!("{canary}-wrong")),
                ("X-Gitlab-Event", "Push Hook".into()),
            ],
        ),
        ("rcv-harbor", vec![("Authorization", format!("{canary}x"))]),
        (
            "rcv-nexus",
            vec![("X-Nexus-Webhook-Signature", "zz".into())],
        ),
    ] {
        let path = env.get("Receiver", name).await.unwrap()["status"]["webhookPath"]
            .as_str()
            .expect("webhook path")
            .to_owned();
        let mut req = http_client
            .post(format!("{receiver}{path}"))
            .body(body.clone());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.expect("receiver answers");
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        responses.push((format!("{name} answered {code}"), text));
    }
    let codes: Vec<&str> = responses.iter().map(|(c, _)| c.as_str()).collect();
    println!("receiver answers: {codes:?}");
    assert_eq!(
        codes.iter().filter(|c| c.ends_with("401")).count(),
        5,
        "every wrong credential refused: {codes:?}"
    );
    assert!(codes.contains(&"rcv-hmac answered 200"), "{codes:?}");

    // --- the providers: every failing one reported its failure ---------------------------
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(env.client.clone(), NS);
    let reported = wait_until(Duration::from_secs(60), || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let failed: Vec<String> = list
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("NotificationDispatchFailed"))
            .filter_map(|e| e.involved_object.name.clone())
            .collect();
        let missing: Vec<&String> = failing_alerts
            .iter()
            .filter(|a| !failed.contains(a))
            .collect();
        // the commit status providers sent their token to the server refusing it
        let tried = |prefix: &str| {
            unauth
                .under(prefix)
                .iter()
                .any(|r| r.headers.values().any(|v| v.contains(canary.as_str())))
        };
        (missing.is_empty()
            && accept.under("/ok").len() > 2
            && tried("/api/v3/repos/org/repo")
            && tried("/api/v4/projects"))
        .then_some(())
    })
    .await;
    if reported.is_none() {
        let list = events.list(&ListParams::default()).await.unwrap();
        let failed: Vec<String> = list
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("NotificationDispatchFailed"))
            .filter_map(|e| e.involved_object.name.clone())
            .collect();
        panic!(
            "not every failing provider reported a failure ({failing_alerts:?}, reported {failed:?}), or p-ok got {} requests, or GitHub/GitLab were not called: {:?}",
            accept.under("/ok").len(),
            unauth
                .requests()
                .iter()
                .map(|r| r.path.clone())
                .collect::<Vec<_>>()
        );
    }
    let list = events.list(&ListParams::default()).await.unwrap();
    for alert in &failing_alerts {
        if let Some(e) = list.items.iter().find(|e| {
            e.reason.as_deref() == Some("NotificationDispatchFailed")
                && e.involved_object.name.as_deref() == Some(alert)
        }) {
            let m: String = e
                .message
                .clone()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            println!("  Alert/{alert}: {m}");
        }
    }
    // the headers of the working provider's requests carry its Secret by design; what the
    // bodies say comes from the controllers' events
    let mut sent: Vec<(String, String)> = Vec::new();
    for (server, label) in [
        (&accept, "accepting"),
        (&unauth, "401"),
        (&forbidden, "403"),
    ] {
        for r in server.requests() {
            sent.push((
                format!("{label} server: {} {}", r.method, r.path),
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
    }
    assert!(
        accept
            .under("/ok")
            .iter()
            .any(|r| r.headers.get("x-api-key") == Some(&canary)),
        "the working provider sends its Secret's headers"
    );

    // --- collect everything and look for the canary --------------------------------------
    let mut haystacks: Vec<(String, String)> = Vec::new();
    haystacks.extend(objects(&env).await);
    haystacks.extend(responses);
    haystacks.extend(sent);
    let log_text = logs.text();
    println!(
        "collected {} objects and responses, {} log lines",
        haystacks.len(),
        log_text.lines().count()
    );
    let mut leaks = Vec::new();
    // each log line on its own, so that every leaking line is reported
    for line in log_text.lines() {
        for (what, needle) in &needles.0 {
            if line.contains(needle.as_str()) {
                leaks.push(format!("{what} in the logs: {line}"));
            }
        }
    }
    for (label, text) in &haystacks {
        for (what, needle) in &needles.0 {
            if let Some(i) = text.find(needle.as_str()) {
                let from = text[..i]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(j, _)| j);
                let to = text[i..]
                    .char_indices()
                    .nth(needle.len() + 200)
                    .map_or(text.len(), |(j, _)| i + j);
                leaks.push(format!("{what} in {label}: …{}…", &text[from..to]));
            }
        }
    }
    println!("secret canary test took {:?}", started.elapsed());
    assert!(
        leaks.is_empty(),
        "secret values leaked ({}):\n{}",
        leaks.len(),
        leaks.join("\n\n")
    );
}

/// Every object of every kind the API server serves, as `(kind/namespace/name, JSON)`,
/// without the data that holds a planted value by design:
///
/// - the Secrets the test planted (`data`/`stringData`: the canaries themselves);
/// - Secret `db`, which the kustomize-controller decrypted from SOPS and applied (that is
///   its job), and ConfigMap `substituted`, whose value is the post-build variable from a
///   Secret (likewise);
/// - Secrets `hr-ok-token` and `hr-drift-token`, which the chart renders from values taken
///   from a Secret, and Helm's release records (`sh.helm.release.v1.*`), which store the
///   values.
async fn objects(env: &Env) -> Vec<(String, String)> {
    let discovery = kube::discovery::Discovery::new(env.client.clone())
        .run()
        .await
        .expect("discovery");
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(kube::discovery::verbs::LIST) {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(env.client.clone(), &ar);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            for o in list.items {
                let ns = o.metadata.namespace.clone().unwrap_or_default();
                let name = o.metadata.name.clone().unwrap_or_default();
                let mut v = serde_json::to_value(&o).unwrap_or_default();
                let legit = match ar.kind.as_str() {
                    "Secret" => {
                        (ns == NS
                            && (env.planted.contains(&name)
                                || name == "db"
                                || name == "hr-ok-token"
                                || name == "hr-drift-token"))
                            || name.starts_with("sh.helm.release.v1.")
                    }
                    "ConfigMap" => ns == NS && name == "substituted",
                    _ => false,
                };
                if legit && let Some(m) = v.as_object_mut() {
                    m.remove("data");
                    m.remove("stringData");
                }
                out.push((
                    format!("{}/{ns}/{name}", ar.kind),
                    serde_json::to_string(&v).unwrap_or_default(),
                ));
            }
        }
    }
    out
}

/// Packages the chart in `dir` as `helm package` lays it out (`<name>/…` in a gzipped
/// tar) at `out`; returns its sha256 (hex).
fn package_chart(dir: &Path, out: &Path) -> String {
    use sha2::Digest;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    tar.append_dir_all("demo", dir).unwrap();
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    std::fs::write(out, &bytes).unwrap();
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// An armored OpenPGP secret key (ed25519, signing) protected by `passphrase`, made by
/// `gpg` in a home of its own under `dir`; `None` when gpg is missing or fails.
fn gpg_key(dir: &Path, passphrase: &str) -> Option<String> {
    use std::process::Command;
    if !have("gpg") {
        return None;
    }
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).ok()?;
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
            ])
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let made = gpg(&[
        "--quick-gen-key",
        "fluxbot <fluxbot@example.com>",
        "ed25519",
        "sign",
        "never",
    ]);
    let armored = made.and_then(|_| {
        gpg(&["--armor", "--export-secret-keys", "fluxbot@example.com"])
            .and_then(|o| String::from_utf8(o.stdout).ok())
    });
    // the agent gpg started for this home
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "gpg-agent"])
        .status();
    armored.filter(|a| a.contains("PRIVATE KEY BLOCK"))
}

/// moto's S3 server with bucket `manifests` holding one file: the process and the
/// endpoint (`127.0.0.1:<port>`); `None` when moto is not installed.
async fn start_moto() -> Option<(gitops_tests::ChildGuard, String)> {
    if !have("moto_server") {
        return None;
    }
    let port = gitops_tests::free_port();
    let child = gitops_tests::ChildGuard(
        std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?,
    );
    gitops_source::ensure_crypto_provider();
    let base = format!("http://127.0.0.1:{port}");
    wait_until(Duration::from_secs(30), || {
        let u = format!("{base}/");
        async move { reqwest::get(&u).await.ok().map(|_| ()) }
    })
    .await?;
    let r = reqwest::Client::new()
        .put(format!("{base}/manifests"))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let r = reqwest::Client::new()
        .put(format!("{base}/manifests/app.yaml"))
        .body("kind: ConfigMap\n")
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    Some((child, format!("127.0.0.1:{port}")))
}
