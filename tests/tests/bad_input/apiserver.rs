//! Hostile input against the embedded API server: each test sends what once knocked over
//! (or misled) a running installation and checks the clear error it now gets, or the real
//! server's behaviour, with the peak heap growth of the process measured around the
//! hostile requests (the server runs in this process, so its allocations count).
//!
//! Tests run one at a time (a lock held for the whole test), so a measurement sees only
//! its own test; allocations past [`CAP`] abort the binary instead of exhausting memory.

use gitops_tests::Cluster;
use reqwest::Method;
use serde_json::{Value, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::ALLOC;

/// Held for a whole test.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: usize = 1024 * 1024;

/// Heap growth past this aborts the test binary.
const CAP: usize = 1024 * MIB;

/// The request body and object size limit of the server (and of the real one).
const LIMIT: usize = 3 * MIB;

fn seed(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(path)
}

/// A cluster on its own runtime, with an HTTP client that trusts it.
struct Env {
    cluster: Option<Cluster>,
    http: reqwest::Client,
    base: String,
    token: String,
    rt: tokio::runtime::Runtime,
    _serial: MutexGuard<'static, ()>,
}

fn env() -> Env {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = rt.block_on(Cluster::start());
    let server = cluster.server.as_ref().expect("server");
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA");
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        // Never hang: a request that does not answer fails the test.
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    Env {
        base: server.url(),
        token: server.token().to_owned(),
        http,
        cluster: Some(cluster),
        rt,
        _serial: serial,
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.cluster.take() {
            if let Some(server) = c.server.take() {
                self.rt.block_on(server.shutdown());
            }
            drop(c);
        }
    }
}

/// A response: status code and body (JSON, or the text as a string).
struct Resp {
    code: u16,
    body: Value,
}

impl Resp {
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl Env {
    /// Runs `f` with the heap measured; returns its result and the peak growth.
    fn measure<T>(&self, what: &str, f: impl Future<Output = T>) -> (T, usize) {
        let (out, peak) = ALLOC.measure(CAP, || self.rt.block_on(f));
        eprintln!(
            "{what}: peak heap growth {:.1} MiB",
            peak as f64 / MIB as f64
        );
        (out, peak)
    }

    fn block_on<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<String>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.expect("request answered");
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Resp { code, body }
    }

    async fn req(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let auth = Some(format!("Bearer {}", self.token));
        self.send(method, path, auth, content_type, body).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, None, None).await
    }

    async fn create_cm(&self, name: &str, labels: Value, data: Value) -> Resp {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "labels": labels}, "data": data});
        let r = self
            .req(
                Method::POST,
                "/api/v1/namespaces/default/configmaps",
                Some("application/json"),
                Some(serde_json::to_vec(&cm).expect("JSON")),
            )
            .await;
        assert_eq!(r.code, 201, "creating {name}: {}", r.body);
        r
    }

    async fn healthy(&self) -> bool {
        self.send(Method::GET, "/healthz", None, None, None)
            .await
            .code
            == 200
    }

    /// The current resource version (of a list).
    async fn current_rv(&self) -> u64 {
        let r = self.get("/api/v1/namespaces/default/configmaps").await;
        r.body["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("list resource version")
    }
}

fn assert_peak(what: &str, peak: usize, bound: usize) {
    assert!(
        peak < bound,
        "{what}: peak heap growth {peak} bytes, bound {bound}"
    );
}

const CM: &str = "/api/v1/namespaces/default/configmaps";

/// The 3 KB JSON patch that drove the server past 15 GiB: one `add` of a 1,000-byte
/// value under `/spec` and 40 `copy` operations of `/spec` into itself. The copy budget
/// refuses it at the copy that passes 3 MiB, before anything large is built; the 12-copy
/// variant that stored a 4 MB object is refused the same way.
#[test]
fn json_patch_copy_doubling_stops_at_the_copy_limit() {
    let env = env();
    let body = std::fs::read(seed("json-patch/copy-doubling-40.json")).expect("seed file");
    let ops: Vec<Value> = serde_json::from_slice(&body).expect("seed is JSON");
    let twelve = serde_json::to_vec(&ops[..13]).expect("JSON");
    env.block_on(env.create_cm("grow", json!({}), json!({"a": "1"})));
    let path = format!("{CM}/grow");

    let (r, peak) = env.measure(
        "json patch, 40 doubling copies",
        env.req(
            Method::PATCH,
            &path,
            Some("application/json-patch+json"),
            Some(body),
        ),
    );
    assert_eq!(r.code, 422, "{}", r.body);
    assert_eq!(r.body["reason"], "Invalid");
    assert!(
        r.message().starts_with("ConfigMap \"grow\" is invalid: operation 12: Unable to complete the copy, the accumulated size increase of copy is "),
        "{}",
        r.message()
    );
    assert!(
        r.message().ends_with(", exceeding the limit 3145728"),
        "{}",
        r.message()
    );
    assert_peak("40 copies", peak, 64 * MIB);

    let (r, peak) = env.measure(
        "json patch, 12 doubling copies",
        env.req(
            Method::PATCH,
            &path,
            Some("application/json-patch+json"),
            Some(twelve),
        ),
    );
    assert_eq!(r.code, 422, "{}", r.body);
    assert!(
        r.message()
            .contains("operation 12: Unable to complete the copy"),
        "{}",
        r.message()
    );
    assert_peak("12 copies", peak, 64 * MIB);

    env.block_on(async {
        assert!(env.healthy().await, "/healthz answers");
        let cm = env.get(&path).await;
        assert_eq!(cm.code, 200);
        assert_eq!(cm.body["data"], json!({"a": "1"}));
        assert!(cm.body.get("spec").is_none(), "nothing was stored");
    });
}

/// Every patch type and server-side apply: a result over the object size limit is
/// refused with 413, whatever built it.
#[test]
fn patch_and_apply_results_are_size_checked() {
    let env = env();
    let two_mb = "x".repeat(2_000_000);
    env.block_on(env.create_cm("big", json!({}), json!({"a": two_mb})));
    let path = format!("{CM}/big");
    let json_patch =
        serde_json::to_vec(&json!([{"op": "add", "path": "/data/b", "value": two_mb}]))
            .expect("JSON");
    let merge = serde_json::to_vec(&json!({"data": {"b": two_mb}})).expect("JSON");
    let apply = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "big"}, "data": {"b": two_mb}}))
    .expect("JSON");
    let over = format!("Request entity too large: the patch result is too large: limit is {LIMIT}");
    let cases: [(&str, &str, Vec<u8>, String); 4] = [
        (
            "json patch",
            "application/json-patch+json",
            json_patch,
            format!(
                "Request entity too large: operation 0: the patch result is too large: limit is {LIMIT}"
            ),
        ),
        (
            "merge patch",
            "application/merge-patch+json",
            merge.clone(),
            over.clone(),
        ),
        (
            "strategic merge patch",
            "application/strategic-merge-patch+json",
            merge,
            over,
        ),
        (
            "server-side apply",
            "application/apply-patch+yaml",
            apply,
            format!(
                "Request entity too large: etcdserver: request is too large (the object would be more than {LIMIT} bytes)"
            ),
        ),
    ];
    for (what, ct, body, want) in cases {
        let url = if ct.starts_with("application/apply-patch") {
            format!("{path}?fieldManager=hostile&force=true")
        } else {
            path.clone()
        };
        let (r, peak) = env.measure(what, env.req(Method::PATCH, &url, Some(ct), Some(body)));
        assert_eq!(r.code, 413, "{what}: {}", r.body);
        assert_eq!(r.body["reason"], "RequestEntityTooLarge", "{what}");
        assert_eq!(r.message(), want, "{what}");
        assert_peak(what, peak, 128 * MIB);
    }
    env.block_on(async {
        assert!(env.healthy().await);
        let cm = env.get(&path).await;
        assert!(cm.body["data"].get("b").is_none(), "nothing was stored");
    });
}

/// `Content-Type: application/yaml` bodies create and update objects; apply YAML keeps
/// working; YAML 1.1 booleans where a name must be a string are the real server's decoding
/// error, not a misleading "Required value"; an alias bomb fails early.
#[test]
fn yaml_bodies_create_and_update() {
    let env = env();
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  labels:\n    app: web\ndata:\n  greeting: hello\n  multi: |\n    line one\n    line two\n";
    let (r, peak) = env.measure(
        "yaml create",
        env.req(
            Method::POST,
            CM,
            Some("application/yaml"),
            Some(yaml.as_bytes().to_vec()),
        ),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(r.body["metadata"]["name"], "from-yaml");
    assert_eq!(r.body["data"]["multi"], "line one\nline two\n");
    assert_peak("yaml create", peak, 32 * MIB);

    env.block_on(async {
        // Update with YAML (a stream's first document is the object).
        let update = yaml.replace("hello", "bonjour") + "---\nkind: Ignored\n";
        let r = env
            .req(
                Method::PUT,
                &format!("{CM}/from-yaml"),
                Some("application/yaml; charset=utf-8"),
                Some(update.into_bytes()),
            )
            .await;
        assert_eq!(r.code, 200, "{}", r.body);
        assert_eq!(r.body["data"]["greeting"], "bonjour");

        // Server-side apply in YAML.
        let apply = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n";
        let r = env
            .req(
                Method::PATCH,
                &format!("{CM}/applied?fieldManager=test"),
                Some("application/apply-patch+yaml"),
                Some(apply.as_bytes().to_vec()),
            )
            .await;
        assert_eq!(r.code, 201, "{}", r.body);
        assert_eq!(r.body["data"]["k"], "v");

        // `name: y` is a YAML 1.1 boolean for the real server's reader too.
        let r = env
            .req(
                Method::POST,
                CM,
                Some("application/yaml"),
                Some(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}".to_vec()),
            )
            .await;
        assert_eq!(r.code, 400, "{}", r.body);
        assert_eq!(r.body["reason"], "BadRequest");
        assert_eq!(
            r.message(),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.name of type string"
        );
        let r = env
            .req(
                Method::POST,
                CM,
                Some("application/yaml"),
                Some(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'y'}".to_vec()),
            )
            .await;
        assert_eq!(r.code, 201, "{}", r.body);
        assert_eq!(env.get(&format!("{CM}/y")).await.code, 200);
    });

    // Nine levels of nine aliases: 387 million strings if expanded.
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\nbomb:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..9 {
        let items = vec![format!("*a{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("  a{i}: &a{i} [{items}]\n"));
    }
    let (r, peak) = env.measure(
        "yaml alias bomb",
        env.req(
            Method::POST,
            CM,
            Some("application/yaml"),
            Some(bomb.into_bytes()),
        ),
    );
    assert_eq!(r.code, 400, "{}", r.body);
    assert!(
        r.message().starts_with("error decoding YAML"),
        "{}",
        r.message()
    );
    assert_peak("yaml alias bomb", peak, 128 * MIB);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
fn assert_private(state: &Path) {
    assert_eq!(mode(state), 0o700, "{}", state.display());
    assert_eq!(mode(&state.join("pki")), 0o700, "pki");
    for f in [
        "state.redb",
        "state.wal",
        "token",
        "kubeconfig",
        "pki/ca.key",
        "pki/ca.crt",
    ] {
        assert_eq!(mode(&state.join(f)), 0o600, "{f}");
    }
}

/// The state directory holds Secrets as they are: it is 0700 and every file in it 0600,
/// also after a restart over a state directory an earlier version left readable.
#[cfg(unix)]
#[test]
fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = env();
    let state = env
        .cluster
        .as_ref()
        .expect("cluster")
        .dir
        .path()
        .join("api");
    assert_private(&state);

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let ((), peak) = env.measure("server restarts", async {
        let s = gitops_apiserver::Server::start(gitops_apiserver::Config::new(&state))
            .await
            .expect("server starts");
        s.shutdown().await;
        // As an earlier version left it.
        let open = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
        };
        open(&state, 0o755);
        open(&state.join("pki"), 0o755);
        for f in [
            "state.redb",
            "state.wal",
            "token",
            "kubeconfig",
            "pki/ca.crt",
        ] {
            open(&state.join(f), 0o644);
        }
        let s = gitops_apiserver::Server::start(gitops_apiserver::Config::new(&state))
            .await
            .expect("server restarts");
        s.shutdown().await;
    });
    assert_private(&state);
    assert_peak("restart", peak, 128 * MIB);
    dev_log_is_private(&env);
}

/// `gitops dev` writes `controllers.log` 0600 in a 0700 state directory. It needs the
/// `gitops` binary: set `GITOPS_BIN` (e.g. `target/debug/gitops`) to run this part.
#[cfg(unix)]
fn dev_log_is_private(env: &Env) {
    let Ok(bin) = std::env::var("GITOPS_BIN") else {
        eprintln!("skipping the `gitops dev` log check: GITOPS_BIN is not set");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("dev");
    let ((), _) = env.measure("gitops dev", async {
        let mut child = tokio::process::Command::new(&bin)
            .args(["dev", "--listen", "127.0.0.1:0", "--state"])
            .arg(&state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("gitops dev starts");
        let kubeconfig = state.join("kubeconfig");
        let up = gitops_tests::wait_until(Duration::from_secs(60), || {
            let k = kubeconfig.clone();
            async move { k.exists().then_some(()) }
        })
        .await;
        let _ = child.kill().await;
        assert!(up.is_some(), "gitops dev wrote its kubeconfig");
    });
    assert_eq!(mode(&state), 0o700, "dev state directory");
    assert_eq!(
        mode(&state.join("controllers.log")),
        0o600,
        "controllers.log"
    );
    assert_private(&state.join("cluster"));
}

/// Label selectors parse as on the real server: `a,,b` and a trailing comma are its 400s;
/// `a notin ()` is what the real server reads it as, `a notin ("")`.
#[test]
fn label_selectors_parse_like_the_real_server() {
    let env = env();
    let read = |name: &str| {
        std::fs::read_to_string(seed(&format!("label-selector/{name}"))).expect("seed")
    };
    let (notin_empty, in_empty, double_comma, trailing) = (
        read("notin-empty.txt"),
        read("in-empty.txt"),
        read("double-comma.txt"),
        read("trailing-comma.txt"),
    );
    let valid: Vec<String> = [
        "valid-equality.txt",
        "valid-set.txt",
        "valid-prefixed-notin.txt",
        "valid-numeric.txt",
        "valid-exists.txt",
    ]
    .into_iter()
    .map(read)
    .collect();
    env.block_on(async {
        env.create_cm("empty", json!({"a": ""}), json!({})).await;
        env.create_cm("x", json!({"a": "x", "b": "1"}), json!({}))
            .await;
        env.create_cm("none", json!({"b": "2"}), json!({})).await;
    });
    let e = &env;
    let list = |selector: String| {
        let q = percent_encode(&selector);
        async move { e.get(&format!("{CM}?labelSelector={q}")).await }
    };
    let names = |r: &Resp| -> Vec<String> {
        let mut n: Vec<String> = r.body["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned))
                    .filter(|n| n != "kube-root-ca.crt")
                    .collect()
            })
            .unwrap_or_default();
        n.sort();
        n
    };
    let ((), peak) = env.measure("label selectors", async {
        let r = list(notin_empty.clone()).await;
        assert_eq!(r.code, 200, "{}", r.body);
        assert_eq!(names(&r), ["none", "x"], "{notin_empty}");
        let r = list(in_empty.clone()).await;
        assert_eq!(names(&r), ["empty"], "{in_empty}");
        for (s, want) in [
            (&double_comma, "found ',', expected: identifier after ','"),
            (&trailing, "found '', expected: identifier after ','"),
        ] {
            let r = list(s.clone()).await;
            assert_eq!(r.code, 400, "{s}: {}", r.body);
            assert_eq!(r.body["reason"], "BadRequest");
            assert_eq!(r.message(), want, "{s}");
        }
        for s in &valid {
            let r = list(s.clone()).await;
            assert_eq!(r.code, 200, "{s}: {}", r.body);
        }
    });
    assert_peak("label selectors", peak, 32 * MIB);
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `Bearer` scheme is case-insensitive (RFC 7235).
#[test]
fn bearer_scheme_is_case_insensitive() {
    let env = env();
    let ((), peak) = env.measure("bearer", async {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let r = env
                .send(
                    Method::GET,
                    "/api/v1/namespaces",
                    Some(format!("{scheme} {}", env.token)),
                    None,
                    None,
                )
                .await;
            assert_eq!(r.code, 200, "{scheme}: {}", r.body);
        }
        for auth in [
            Some("bearer wrong-token".to_owned()),
            Some(format!("Basic {}", env.token)),
            Some(format!("Bearer{}", env.token)),
            None,
        ] {
            let r = env
                .send(Method::GET, "/api/v1/namespaces", auth.clone(), None, None)
                .await;
            assert_eq!(r.code, 401, "{auth:?}");
            assert_eq!(r.body["reason"], "Unauthorized");
        }
    });
    assert_peak("bearer", peak, 32 * MIB);
}

fn assert_too_large_rv(status: &Value, requested: u64) {
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["code"], 504, "{status}");
    assert_eq!(status["reason"], "Timeout", "{status}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "Timeout: Too large resource version: {requested}, current: "
        )),
        "{message}"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]),
        "{status}"
    );
}

/// A watch or list from a resource version the server has not reached waits a little for
/// it, then answers the real server's "Too large resource version" instead of hanging; a
/// version that arrives while the watch waits is served.
#[test]
fn future_resource_versions_are_answered() {
    let env = env();
    let ((), peak) = env.measure("future resource versions", async {
        let future = env.current_rv().await + 1000;
        // Watch: an ERROR event with the 504 status, then the end of the stream.
        let r = env
            .get(&format!("{CM}?watch=true&resourceVersion={future}"))
            .await;
        assert_eq!(r.code, 200);
        let text = r
            .body
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| r.body.to_string());
        let first: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(first["type"], "ERROR", "{first}");
        assert_too_large_rv(&first["object"], future);

        // Lists: the same status as the response.
        for q in [
            format!("resourceVersion={future}"),
            format!("resourceVersion={future}&resourceVersionMatch=NotOlderThan"),
            format!("resourceVersion={future}&resourceVersionMatch=Exact"),
        ] {
            let r = env.get(&format!("{CM}?{q}")).await;
            assert_eq!(r.code, 504, "{q}: {}", r.body);
            assert_too_large_rv(&r.body, future);
        }
        let r = env.get(&format!("{CM}?resourceVersionMatch=Exact")).await;
        assert_eq!(r.code, 422, "{}", r.body);
        assert!(
            r.message()
                .contains("resourceVersionMatch is forbidden unless resourceVersion is provided"),
            "{}",
            r.message()
        );
        let r = env.get(&format!("{CM}?resourceVersion=0")).await;
        assert_eq!(r.code, 200);

        // A version reached while the watch waits: the watch goes on from it.
        let next = env.current_rv().await + 1;
        let url = format!(
            "{}{CM}?watch=true&resourceVersion={next}&timeoutSeconds=10",
            env.base
        );
        let mut resp = env
            .http
            .get(url)
            .bearer_auth(&env.token)
            .send()
            .await
            .expect("watch");
        env.create_cm("arrives", json!({}), json!({})).await;
        env.create_cm("after", json!({}), json!({})).await;
        let mut seen = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"name\":\"after\"") {
                break;
            }
        }
        assert!(!seen.contains("\"ERROR\""), "{seen}");
        assert!(seen.contains("\"name\":\"after\""), "{seen}");
    });
    assert_peak("future resource versions", peak, 32 * MIB);
}

/// Long lists cost time in proportion to their length on every write path (field
/// ownership, apply merges and conflicts, strategic merge): a Deployment with 5,000
/// environment variables is created, applied over by another manager, replaced and
/// patched (each of these once compared every list item with every other: minutes at
/// this length, hours at 20,000).
#[test]
fn long_lists_are_handled_in_linear_time() {
    let env = env();
    let n = 5_000;
    let deployment = |value: &str, manager_field: &str| {
        let vars: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("E{i}"), "value": value}))
            .collect();
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "long", "labels": {"by": manager_field}},
               "spec": {"selector": {"matchLabels": {"app": "long"}},
                        "template": {"metadata": {"labels": {"app": "long"}},
                                     "spec": {"containers": [{"name": "app", "image": "busybox", "env": vars}]}}}})
    };
    let path = "/apis/apps/v1/namespaces/default/deployments/long";
    let e = &env;
    let apply = |manager: &str, d: Value| {
        let url = format!("{path}?fieldManager={manager}&force=true");
        let body = serde_json::to_vec(&d).expect("JSON");
        async move {
            e.req(
                Method::PATCH,
                &url,
                Some("application/apply-patch+yaml"),
                Some(body),
            )
            .await
        }
    };
    let ((), peak) = env.measure("long lists", async {
        let r = apply("one", deployment("1", "one")).await;
        assert_eq!(r.code, 201, "{}", r.message());
        let r = apply("two", deployment("2", "two")).await;
        assert_eq!(r.code, 200, "{}", r.message());
        let r = apply("one", deployment("3", "one")).await;
        assert_eq!(r.code, 200, "{}", r.message());
        let d = deployment("4", "put");
        let r = env
            .req(
                Method::PUT,
                path,
                Some("application/json"),
                Some(serde_json::to_vec(&d).expect("JSON")),
            )
            .await;
        assert_eq!(r.code, 200, "{}", r.message());
        let vars: Vec<Value> = (0..n)
            .rev()
            .map(|i| json!({"name": format!("E{i}"), "value": "5"}))
            .collect();
        let patch =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "env": vars}]}}}});
        let r = env
            .req(
                Method::PATCH,
                path,
                Some("application/strategic-merge-patch+json"),
                Some(serde_json::to_vec(&patch).expect("JSON")),
            )
            .await;
        assert_eq!(r.code, 200, "{}", r.message());
        let vars = r.body["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .map(Vec::len);
        assert_eq!(vars, Some(n));
    });
    assert_peak("long lists", peak, 256 * MIB);
}
