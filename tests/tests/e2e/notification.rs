//! Notification end to end: a Git repository served by the real `git http-backend`, the
//! embedded API server and the source, kustomize and notification controllers in this
//! process. Hosted services (Slack, GitHub, GitLab …) are stood in for by a local HTTP
//! server that records requests; the tests check each request against the service's
//! documented contract (method, path, auth header, payload fields).

use gitops_api::{Alert, GitRepository, Kustomization, Provider, Receiver};
use gitops_tests::{CaptureServer, Cluster, GitHttpServer, free_port, git, have, wait_until};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "default";

struct Env {
    cluster: Cluster,
    work: PathBuf,
    bare: PathBuf,
    git: GitHttpServer,
    receiver: String,
    events: String,
    _t: tempfile::TempDir,
}

impl Env {
    /// A repository with a ConfigMap under `deploy/` on `main`, the cluster, the three
    /// controllers (events posted to the notification controller) and a GitRepository
    /// `repo` polling every hour; `None` (skip) without git.
    async fn start() -> Option<Env> {
        Self::start_with(&[]).await
    }

    /// [`Env::start`] with extra notification-controller flags.
    async fn start_with(notification_flags: &[&str]) -> Option<Env> {
        if !have("git") {
            eprintln!("skipping: git is not installed");
            return None;
        }
        let t = tempfile::tempdir().unwrap();
        let (root, work) = (t.path().join("srv"), t.path().join("work"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        git(&root, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
        let bare = root.join("repo.git");
        git(&bare, &["config", "http.receivepack", "true"]);
        git(&work, &["init", "-q", "-b", "main"]);
        let http = GitHttpServer::start(&root, None).await;
        let (ep, rp) = (free_port(), free_port());
        let mut cluster = Cluster::start().await;
        cluster
            .start_source_controller_with(&[&format!("--events-addr=http://127.0.0.1:{ep}/")])
            .await;
        cluster.start_controller(
            "kustomize-controller",
            &[&format!("--events-addr=http://127.0.0.1:{ep}/")],
        );
        let (events_flag, receiver_flag) = (
            format!("--events-listen-addr=127.0.0.1:{ep}"),
            format!("--receiver-addr=127.0.0.1:{rp}"),
        );
        let mut flags = vec![
            events_flag.as_str(),
            receiver_flag.as_str(),
            "--rate-limit-interval=1s",
        ];
        flags.extend_from_slice(notification_flags);
        cluster.start_controller("notification-controller", &flags);
        let env = Env {
            cluster,
            work,
            bare,
            receiver: format!("http://127.0.0.1:{rp}"),
            events: format!("http://127.0.0.1:{ep}/"),
            git: http,
            _t: t,
        };
        env.commit(&[("deploy/cm.yaml", &cm("v1"))], "initial");
        create::<GitRepository>(
            &env.client(),
            json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": {"name": "repo", "namespace": NS},
                "spec": {"url": format!("{}/repo.git", env.git.url), "interval": "1h",
                         "ref": {"branch": "main"}, "timeout": "20s"},
            }),
        )
        .await;
        Some(env)
    }

    fn client(&self) -> kube::Client {
        self.cluster.client.clone()
    }

    /// Writes files, commits and pushes to the bare repository's path; returns the commit.
    fn commit(&self, files: &[(&str, &str)], msg: &str) -> String {
        self.commit_only(files, msg);
        git(
            &self.work,
            &["push", "-q", &self.bare.display().to_string(), "main"],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    fn commit_only(&self, files: &[(&str, &str)], msg: &str) -> String {
        for (p, c) in files {
            let path = self.work.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, c).unwrap();
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", msg]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// The GitRepository's artifact revision.
    async fn source_revision(&self) -> Option<String> {
        let r = Api::<GitRepository>::namespaced(self.client(), NS)
            .get("repo")
            .await
            .ok()?;
        r.status?.artifact.map(|a| a.revision)
    }

    /// Waits for the Receiver's webhook URL.
    async fn webhook(&self, name: &str) -> String {
        let api = Api::<Receiver>::namespaced(self.client(), NS);
        let path = wait_until(WAIT, || async {
            api.get(name).await.ok()?.status?.webhook_path
        })
        .await
        .expect("Receiver ready with a webhook path");
        format!("{}{path}", self.receiver)
    }
}

fn cm(v: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  version: {v}\n"
    )
}

async fn create<K>(client: &kube::Client, v: Value) -> K
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(v).expect("object");
    Api::<K>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &obj)
        .await
        .expect("created")
}

async fn secret(client: &kube::Client, name: &str, data: &[(&str, &str)]) {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    create::<Secret>(
        client,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": name, "namespace": NS}, "stringData": data}),
    )
    .await;
}

fn hmac256(key: &str, body: &[u8]) -> String {
    gitops_tests::hmac_sha256_hex(key.as_bytes(), body)
}

/// A `git push` over HTTP to a repository whose post-receive hook calls a GitHub-style
/// signed Receiver: the GitRepository (interval 1h) fetches the new commit within seconds.
/// Wrong signatures, unknown paths, unaccepted events and oversized bodies get 401, 404,
/// 400 and 413 and request nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_push_hook_reconciles_the_source_at_once() {
    let Some(env) = Env::start().await else {
        return;
    };
    if !have("curl") || !have("openssl") {
        eprintln!("skipping: curl or openssl is not installed");
        return;
    }
    let client = env.client();
    let first = git(&env.work, &["rev-parse", "HEAD"]);
    wait_until(WAIT, || async {
        env.source_revision().await.filter(|r| r.contains(&first))
    })
    .await
    .expect("first revision fetched");
    secret(&client, "webhook-token", &[("token", "s3cr3t-t0ken")]).await;
    create::<Receiver>(
        &client,
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "github", "namespace": NS},
            "spec": {"type": "github", "events": ["push"],
                     "secretRef": {"name": "webhook-token"},
                     "resources": [{"kind": "GitRepository", "name": "repo"}]},
        }),
    )
    .await;
    let url = env.webhook("github").await;
    assert!(url.contains("/hook/"), "{url}");

    // the post-receive hook signs a push payload as GitHub does and logs the answer
    let log = env.bare.join("hook.log");
    let hook = env.bare.join("hooks/post-receive");
    std::fs::write(
        &hook,
        format!(
            r#"#!/bin/sh
while read old new ref; do
  payload="{{\"ref\":\"$ref\",\"after\":\"$new\"}}"
  sig=$(printf '%s' "$payload" | openssl dgst -sha256 -hmac 's3cr3t-t0ken' | sed 's/^.*= //')
  curl -s -o /dev/null -w '%{{http_code}}\n' -H 'Content-Type: application/json' \
    -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$sig" \
    --data "$payload" '{url}' >> '{log}'
done
"#,
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    // bad requests first: none may request a reconcile
    let http = reqwest::Client::new();
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let post = |url: String, sig: String, event: &'static str, body: Vec<u8>| {
        let http = http.clone();
        async move {
            http.post(url)
                .header("X-GitHub-Event", event)
                .header("X-Hub-Signature-256", sig)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let good = format!("sha256={}", hmac256("s3cr3t-t0ken", &body));
    let bad = format!("sha256={}", hmac256("wrong", &body));
    assert_eq!(post(url.clone(), bad, "push", body.clone()).await, 401);
    assert_eq!(
        post(url.clone(), String::new(), "push", body.clone()).await,
        401
    );
    assert_eq!(
        post(url.clone(), good.clone(), "ping", body.clone()).await,
        400
    );
    let unknown = format!("{}/hook/{}", env.receiver, "0".repeat(64));
    assert_eq!(post(unknown, good.clone(), "push", body.clone()).await, 404);
    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    let huge_sig = format!("sha256={}", hmac256("s3cr3t-t0ken", &huge));
    assert_eq!(post(url.clone(), huge_sig, "push", huge).await, 413);
    let repo = Api::<GitRepository>::namespaced(client.clone(), NS)
        .get("repo")
        .await
        .unwrap();
    assert!(
        !repo
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt"),
        "a refused request annotated the source"
    );

    // a push over HTTP: the hook calls the receiver, the source fetches at once
    let second = env.commit_only(&[("deploy/cm.yaml", &cm("v2"))], "second");
    let pushed = Instant::now();
    git(
        &env.work,
        &["push", "-q", &format!("{}/repo.git", env.git.url), "main"],
    );
    let rev = wait_until(Duration::from_secs(30), || async {
        env.source_revision().await.filter(|r| r.contains(&second))
    })
    .await
    .expect("the push hook made the GitRepository fetch the new commit");
    let took = pushed.elapsed();
    eprintln!("push to new artifact: {took:?} ({rev})");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().trim(),
        "200",
        "the hook's call was accepted"
    );
    let repo = Api::<GitRepository>::namespaced(client.clone(), NS)
        .get("repo")
        .await
        .unwrap();
    assert!(
        repo.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt")
    );
    // the events endpoint answers malformed events with 400, oversized ones with 413
    let r = http
        .post(&env.events)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http
        .post(&env.events)
        .body(vec![b' '; 3 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

/// Receivers with `*` and `matchLabels` annotate every matching source, generic-hmac
/// checks `X-Signature`, and a suspended Receiver answers 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_select_by_labels_and_verify_hmac() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    for (name, team) in [("a", "x"), ("b", "x"), ("c", "y")] {
        create::<GitRepository>(
            &client,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": name, "namespace": NS, "labels": {"team": team}},
                   "spec": {"url": format!("{}/repo.git", env.git.url), "interval": "1h"}}),
        )
        .await;
    }
    secret(&client, "hmac-token", &[("token", "hmac-key")]).await;
    create::<Receiver>(
        &client,
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "hmac", "namespace": NS},
            "spec": {"type": "generic-hmac", "secretRef": {"name": "hmac-token"},
                     "resources": [{"kind": "GitRepository", "name": "*",
                                    "matchLabels": {"team": "x"}}]},
        }),
    )
    .await;
    let url = env.webhook("hmac").await;
    let http = reqwest::Client::new();
    let body = b"{}".to_vec();
    let r = http
        .post(&url)
        .header("X-Signature", format!("sha256={}", hmac256("nope", &body)))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(&url)
        .header(
            "X-Signature",
            format!("sha256={}", hmac256("hmac-key", &body)),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cms = Api::<GitRepository>::namespaced(client.clone(), NS);
    let annotated = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.get(name)
                .await
                .unwrap()
                .metadata
                .annotations
                .unwrap_or_default()
                .contains_key("reconcile.fluxcd.io/requestedAt")
        }
    };
    assert!(annotated("a").await && annotated("b").await);
    assert!(
        !annotated("c").await,
        "a source of another team was annotated"
    );

    Api::<Receiver>::namespaced(client.clone(), NS)
        .patch(
            "hmac",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    let code = wait_until(WAIT, || async {
        let r = http
            .post(&url)
            .header(
                "X-Signature",
                format!("sha256={}", hmac256("hmac-key", &body)),
            )
            .body(body.clone())
            .send()
            .await
            .ok()?;
        (r.status().as_u16() == 503).then_some(503)
    })
    .await;
    assert_eq!(code, Some(503));
}

/// Signs `claims` as an RS256 JWT with the PEM key at `key` (openssl does the signing).
fn jwt(key: &Path, kid: &str, claims: &Value) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "kid": kid, "typ": "JWT"})
            .to_string()
            .as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let dir = key.parent().unwrap();
    std::fs::write(dir.join("input"), &input).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(dir.join("input"))
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl signs");
    format!("{input}.{}", b64(&out.stdout))
}

/// A `gcr` Receiver checks the Pub/Sub push's Google ID token against the JWKS (served
/// locally here, following Google's documented JWKS and ID-token format; the key is made
/// and the tokens signed by openssl): audience, issuer, email, expiry and signature.
#[tokio::test]
async fn gcr_receiver_verifies_google_id_tokens() {
    use base64::Engine;
    if !have("openssl") {
        eprintln!("skipping: openssl is not installed");
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key.pem");
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let modulus = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    let modulus = String::from_utf8(modulus.stdout).unwrap();
    let n = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n);
    let srv = keys.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    std::fs::write(
        srv.join("jwks.json"),
        json!({"keys": [{"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"}]})
            .to_string(),
    )
    .unwrap();
    let jwks = gitops_tests::StaticServer::start(&srv).await;
    let flag = format!("--gcr-jwks-url={}/jwks.json", jwks.url);
    let Some(env) = Env::start_with(&[&flag]).await else {
        return;
    };
    let client = env.client();
    let (email, aud) = (
        "pusher@proj.iam.gserviceaccount.com",
        "https://hooks.example.com/gcr",
    );
    secret(
        &client,
        "gcr-token",
        &[("token", "t"), ("email", email), ("audience", aud)],
    )
    .await;
    create::<Receiver>(
        &client,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
               "metadata": {"name": "gcr", "namespace": NS},
               "spec": {"type": "gcr", "secretRef": {"name": "gcr-token"},
                        "resources": [{"kind": "GitRepository", "name": "repo"}]}}),
    )
    .await;
    let url = env.webhook("gcr").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({"iss": "https://accounts.google.com", "aud": aud, "email": email,
                           "email_verified": true, "iat": now - 10, "exp": now + 3600,
                           "sub": "1234"});
        f(&mut c);
        c
    };
    let data = base64::engine::general_purpose::STANDARD.encode(
        br#"{"action":"INSERT","digest":"gcr.io/p/app@sha256:00","tag":"gcr.io/p/app:1.2.4"}"#,
    );
    let body = json!({"message": {"data": data, "messageId": "1",
                                  "publishTime": "2026-12-04T00:00:00Z"},
                      "subscription": "projects/p/subscriptions/s"})
    .to_string();
    let http = reqwest::Client::new();
    let post = |token: String, body: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http
                .post(&url)
                .header("Authorization", format!("Bearer {token}"))
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let repos = Api::<GitRepository>::namespaced(client.clone(), NS);
    let annotated = || async {
        repos
            .get("repo")
            .await
            .unwrap()
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt")
    };
    let tamper = |t: String| {
        let (head, sig) = t.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{head}.{flipped}{}", &sig[1..])
    };
    let refused = [
        (
            "audience",
            jwt(&key, "k1", &claims(&|c| c["aud"] = json!("https://other"))),
        ),
        (
            "issuer",
            jwt(
                &key,
                "k1",
                &claims(&|c| c["iss"] = json!("https://evil.example")),
            ),
        ),
        (
            "email",
            jwt(&key, "k1", &claims(&|c| c["email"] = json!("x@y.z"))),
        ),
        (
            "not verified",
            jwt(&key, "k1", &claims(&|c| c["email_verified"] = json!(false))),
        ),
        (
            "expired",
            jwt(&key, "k1", &claims(&|c| c["exp"] = json!(now - 3600))),
        ),
        ("no Google signing key", jwt(&key, "k2", &claims(&|_| {}))),
        ("signature", tamper(jwt(&key, "k1", &claims(&|_| {})))),
    ];
    for (want, token) in refused {
        let (code, msg) = post(token, body.clone()).await;
        assert_eq!(code, 401, "{want}: {msg}");
        assert!(msg.contains(want), "{want}: {msg}");
        assert!(
            !annotated().await,
            "a refused call ({want}) annotated the source"
        );
    }
    let good = jwt(&key, "k1", &claims(&|_| {}));
    let (code, msg) = post(good.clone(), r#"{"message":{"data":"bm9wZQ=="}}"#.into()).await;
    assert_eq!(code, 400, "{msg}");
    assert!(!annotated().await);
    let (code, msg) = post(good, body.clone()).await;
    assert_eq!(code, 200, "{msg}");
    assert!(annotated().await);
}

/// Sets up a failing Kustomization and one Provider + Alert per `providers` entry, all
/// sending to `server` (under `/<type>`); returns the Kustomization's name.
async fn alert_all(env: &Env, server: &CaptureServer, providers: &[(&str, Value)]) {
    let client = env.client();
    for (type_, extra) in providers {
        let name = type_.replace('-', "");
        let mut spec = json!({"type": type_, "address": format!("{}/{type_}", server.url)});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        create::<Provider>(
            &client,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
                   "metadata": {"name": name, "namespace": NS}, "spec": spec}),
        )
        .await;
        create::<Alert>(
            &client,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                   "metadata": {"name": name, "namespace": NS},
                   "spec": {"providerRef": {"name": name}, "eventSeverity": "error",
                            "eventSources": [{"kind": "Kustomization", "name": "*"}],
                            "eventMetadata": {"cluster": "dev-1"}}}),
        )
        .await;
    }
}

/// What must hold of the request a provider sent for the failing Kustomization.
fn check_payload(type_: &str, r: &gitops_tests::Captured) {
    let j = r.json();
    let text = String::from_utf8_lossy(&r.body).to_string();
    let ctx = format!("{type_}: {} {} {text}", r.method, r.path);
    // Grafana annotations carry the object and metadata as tags, not the message
    assert!(
        type_ == "grafana" || text.contains("missing"),
        "{ctx}: the failure message is not in the payload"
    );
    match type_ {
        "generic" | "generic-hmac" => {
            assert_eq!(j["involvedObject"]["kind"], "Kustomization", "{ctx}");
            assert_eq!(j["severity"], "error", "{ctx}");
            assert_eq!(j["reportingController"], "kustomize-controller", "{ctx}");
            assert_eq!(j["metadata"]["cluster"], "dev-1", "{ctx}");
            if type_ == "generic-hmac" {
                let sig = r.headers.get("x-signature").cloned().unwrap_or_default();
                assert_eq!(
                    sig,
                    format!("sha256={}", hmac256("hmac-key", &r.body)),
                    "{ctx}"
                );
            }
        }
        "slack" => {
            let a = &j["attachments"][0];
            assert_eq!(a["color"], "danger", "{ctx}");
            assert_eq!(j["channel"], "general", "{ctx}");
            assert_eq!(j["username"], "flux", "{ctx}");
            assert_eq!(a["author_name"], "kustomization/broken.default", "{ctx}");
        }
        "rocket" => assert_eq!(j["attachments"][0]["color"], "#FF0000", "{ctx}"),
        "discord" => assert!(
            j["attachments"].is_array() || j["embeds"].is_array(),
            "{ctx}"
        ),
        "msteams" => assert!(
            j["type"] == "message" || j["@type"] == "MessageCard",
            "{ctx}"
        ),
        "googlechat" => assert!(j["cardsV2"].is_array() || j["cards"].is_array(), "{ctx}"),
        "webex" => assert!(
            j["markdown"].is_string() && j["roomId"].is_string(),
            "{ctx}"
        ),
        "lark" => assert_eq!(j["msg_type"], "interactive", "{ctx}"),
        "alertmanager" => {
            assert!(
                r.path.ends_with("/api/v2/alerts") || r.path.contains("alertmanager"),
                "{ctx}"
            );
            assert!(j[0]["labels"]["alertname"].is_string(), "{ctx}");
        }
        "grafana" => {
            assert_eq!(j["text"], "kustomization/broken.default", "{ctx}");
            let tags = j["tags"].as_array().cloned().unwrap_or_default();
            assert!(tags.contains(&json!("cluster: dev-1")), "{ctx}");
        }
        "opsgenie" => {
            assert!(j["message"].is_string(), "{ctx}");
            assert_eq!(
                r.headers.get("authorization").map(String::as_str),
                Some("GenieKey og-key"),
                "{ctx}"
            );
        }
        "datadog" => {
            assert_eq!(
                r.headers.get("dd-api-key").map(String::as_str),
                Some("dd-key"),
                "{ctx}"
            );
            assert_eq!(j["alert_type"], "error", "{ctx}");
        }
        "matrix" => {
            assert_eq!(r.method, "PUT", "{ctx}");
            assert!(r.path.contains("/send/m.room.message/"), "{ctx}");
            assert_eq!(
                r.headers.get("authorization").map(String::as_str),
                Some("Bearer mx-token"),
                "{ctx}"
            );
        }
        _ => {}
    }
}

/// A failing Kustomization produces an alert to every provider, each request in the shape
/// its service documents; a provider that answers 500 is retried and then reported on the
/// Alert, without its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_kustomization_alerts_every_provider() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    let server = CaptureServer::start().await;
    secret(&client, "hmac", &[("token", "hmac-key")]).await;
    secret(&client, "opsgenie", &[("token", "og-key")]).await;
    secret(&client, "datadog", &[("token", "dd-key")]).await;
    secret(&client, "matrix", &[("token", "mx-token")]).await;
    let providers = [
        ("generic", json!({})),
        ("generic-hmac", json!({"secretRef": {"name": "hmac"}})),
        ("slack", json!({"channel": "general", "username": "flux"})),
        ("msteams", json!({})),
        ("discord", json!({})),
        ("rocket", json!({})),
        ("googlechat", json!({})),
        ("webex", json!({"channel": "room-1"})),
        ("lark", json!({})),
        ("alertmanager", json!({})),
        ("grafana", json!({})),
        ("opsgenie", json!({"secretRef": {"name": "opsgenie"}})),
        ("datadog", json!({"secretRef": {"name": "datadog"}})),
        (
            "matrix",
            json!({"channel": "!room:example.org", "secretRef": {"name": "matrix"}}),
        ),
    ];
    alert_all(&env, &server, &providers).await;
    create::<Kustomization>(
        &client,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "broken", "namespace": NS},
            "spec": {"interval": "10m", "path": "./missing", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}},
        }),
    )
    .await;
    for (type_, _) in &providers {
        // Datadog's API path replaces the address's (the address names the site)
        let prefix = match *type_ {
            "datadog" => "/api/v1/events".to_string(),
            t => format!("/{t}"),
        };
        let got = wait_until(WAIT, || async {
            server.requests().into_iter().find(|r| {
                r.path.starts_with(&prefix)
                    && r.path[prefix.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| c == '/' || c == '?')
            })
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no {type_} request; got {:?}",
                server
                    .requests()
                    .iter()
                    .map(|r| &r.path)
                    .collect::<Vec<_>>()
            )
        });
        check_payload(type_, &got);
    }
}

/// A successful apply and a drift correction each post a commit status for the applied
/// commit to GitHub (Enterprise API layout) and GitLab, with Flux's states and context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_and_drift_corrections_post_commit_statuses() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    let server = CaptureServer::start().await;
    secret(&client, "github", &[("token", "gh-token")]).await;
    secret(&client, "gitlab", &[("token", "gl-token")]).await;
    for (type_, repo) in [("github", "org/app"), ("gitlab", "group/app")] {
        create::<Provider>(
            &client,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
                   "metadata": {"name": type_, "namespace": NS},
                   "spec": {"type": type_, "address": format!("{}/{repo}", server.url),
                            "secretRef": {"name": type_}}}),
        )
        .await;
        create::<Alert>(
            &client,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                   "metadata": {"name": type_, "namespace": NS},
                   "spec": {"providerRef": {"name": type_},
                            "eventSources": [{"kind": "Kustomization", "name": "apps"}]}}),
        )
        .await;
    }
    let sha = git(&env.work, &["rev-parse", "HEAD"]);
    create::<Kustomization>(
        &client,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"interval": "10m", "path": "./deploy", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}},
        }),
    )
    .await;
    let gh_path = format!("/api/v3/repos/org/app/statuses/{sha}");
    let gl_path = format!("/api/v4/projects/group%2Fapp/statuses/{sha}");
    let posts = |path: String| {
        let server = &server;
        move || {
            server
                .requests()
                .into_iter()
                .filter(|r| r.method == "POST" && r.path == path)
                .collect::<Vec<_>>()
        }
    };
    let gh = posts(gh_path.clone());
    let gl = posts(gl_path.clone());
    let first = wait_until(WAIT, || async {
        let (a, b) = (gh(), gl());
        (!a.is_empty() && !b.is_empty()).then(|| (a[0].clone(), b[0].clone()))
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no commit statuses; requests: {:?}",
            server
                .requests()
                .iter()
                .map(|r| (&r.method, &r.path))
                .collect::<Vec<_>>()
        )
    });
    let (g, l) = (first.0.json(), first.1.json());
    assert_eq!(g["state"], "success", "{g}");
    assert!(
        g["context"]
            .as_str()
            .unwrap_or("")
            .starts_with("kustomization/apps/"),
        "{g}"
    );
    assert_eq!(g["description"], "reconciliation succeeded", "{g}");
    assert_eq!(
        first.0.headers.get("authorization").map(String::as_str),
        Some("Bearer gh-token")
    );
    assert_eq!(l["state"], "success", "{l}");
    assert_eq!(
        first.1.headers.get("private-token").map(String::as_str),
        Some("gl-token")
    );

    // drift: change the applied ConfigMap, ask for a reconcile; the correction reports again
    let (n_gh, n_gl) = (gh().len(), gl().len());
    let cms = Api::<ConfigMap>::namespaced(client.clone(), NS);
    wait_until(WAIT, || async { cms.get("app").await.ok() })
        .await
        .expect("applied");
    cms.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"version": "drifted"}})),
    )
    .await
    .unwrap();
    Api::<Kustomization>::namespaced(client.clone(), NS)
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": "drift-1"}}})),
        )
        .await
        .unwrap();
    wait_until(WAIT, || async {
        (gh().len() > n_gh && gl().len() > n_gl).then_some(())
    })
    .await
    .expect("the drift correction posted commit statuses");
    let fixed = cms.get("app").await.unwrap();
    assert_eq!(fixed.data.unwrap()["version"], "v1");
}

/// A provider that is down: retried with back-off, then a Warning event on the Alert that
/// names the failure without the Secret's values; a provider answering 503 then 200 gets
/// the event on a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_down_are_retried_and_reported_without_secrets() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.client();
    let closed = free_port();
    secret(
        &client,
        "down",
        &[(
            "address",
            &format!("http://127.0.0.1:{closed}/hook?token=SUPERSECRET123"),
        )],
    )
    .await;
    create::<Provider>(
        &client,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
               "metadata": {"name": "down", "namespace": NS},
               "spec": {"type": "generic", "secretRef": {"name": "down"}, "timeout": "8s"}}),
    )
    .await;
    let flaky = CaptureServer::start().await;
    flaky.set_status(503);
    create::<Provider>(
        &client,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
               "metadata": {"name": "flaky", "namespace": NS},
               "spec": {"type": "generic", "address": format!("{}/flaky", flaky.url),
                        "timeout": "30s"}}),
    )
    .await;
    for name in ["down", "flaky"] {
        create::<Alert>(
            &client,
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                   "metadata": {"name": name, "namespace": NS},
                   "spec": {"providerRef": {"name": name}, "eventSeverity": "error",
                            "eventSources": [{"kind": "Kustomization", "name": "*"}]}}),
        )
        .await;
    }
    create::<Kustomization>(
        &client,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "broken", "namespace": NS},
            "spec": {"interval": "10m", "path": "./missing", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}},
        }),
    )
    .await;
    // the flaky provider sees retries, then the event once it answers 200
    wait_until(WAIT, || async {
        (flaky.requests().len() >= 2).then_some(())
    })
    .await
    .expect("the flaky provider was retried");
    flaky.set_status(200);
    let n = flaky.requests().len();
    wait_until(WAIT, || async {
        (flaky.requests().len() > n).then_some(())
    })
    .await
    .expect("delivered after the provider recovered");

    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), NS);
    let warning = wait_until(WAIT, || async {
        events
            .list(&Default::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| {
                e.reason.as_deref() == Some("NotificationDispatchFailed")
                    && e.involved_object.name.as_deref() == Some("down")
            })
    })
    .await
    .expect("a NotificationDispatchFailed event on the Alert");
    let msg = warning.message.unwrap_or_default();
    assert!(msg.contains("Kustomization/default/broken"), "{msg}");
    assert!(!msg.contains("SUPERSECRET123"), "the token leaked: {msg}");
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
}
