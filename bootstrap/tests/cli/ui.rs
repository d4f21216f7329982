//! The web view (`gitops ui`, and the same page in `gitops dev`) in a real browser:
//! headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`, which `scripts/test` installs), against `gitops dev` reconciling a
//! local repository. Skipped, with a message, when chromedriver is not installed.
//!
//! With `GITOPS_UI_SCREENSHOTS=1` the browser test also saves `docs/ui-overview.png` and
//! `docs/ui-object.png` (the README's screenshots).

use crate::common::git;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn write(repo: &Path, rel: &str, text: &str) {
    let path = repo.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A repository whose `flux-system` applies two Kustomizations: `infra` (a namespace) and
/// `apps` (a Deployment and a Secret), which depends on `infra`.
fn sample_repo(repo: &Path) {
    git(repo, &["init", "-q", "-b", "main"]);
    write(
        repo,
        "clusters/dev/kustomization.yaml",
        "resources: [sync.yaml]\n",
    );
    let ks = |name: &str, extra: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./{name}\n  prune: true\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n{extra}"
        )
    };
    write(
        repo,
        "clusters/dev/sync.yaml",
        &format!(
            "{}---\n{}",
            ks("infra", ""),
            ks("apps", "  dependsOn: [{name: infra}]\n")
        ),
    );
    write(repo, "infra/kustomization.yaml", "resources: [ns.yaml]\n");
    write(
        repo,
        "infra/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
    );
    write(
        repo,
        "apps/kustomization.yaml",
        "namespace: demo\nresources: [web.yaml]\n",
    );
    web(repo, 1);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-qm", "one"]);
}

fn web(repo: &Path, replicas: u32) {
    write(
        repo,
        "apps/web.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: [{{name: web, image: 'nginx:1.27'}}]\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData: {{password: hunter2}}\n"
        ),
    );
}

/// A child process stopped when the test ends, however it ends.
struct Proc {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `gitops <args>`, collecting stderr.
    fn gitops(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gitops"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let out = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut o = out.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        });
        Proc { child, output }
    }

    fn text(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The URL after `web view: ` in the output.
    async fn web_view_url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(url) = self
                .text()
                .lines()
                .find_map(|l| l.split("web view: ").nth(1))
                .map(|u| u.trim().to_owned())
            {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "no web view URL in:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// chromedriver on a free port, or `None` (with a message) when it is not installed.
async fn chromedriver() -> Option<(Proc, String)> {
    let installed = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!(
            "skipped: chromedriver is not installed (Debian packages chromium and chromium-driver; scripts/test installs them)"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let proc = Proc {
        child,
        output: Arc::new(Mutex::new(String::new())),
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = http();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{url}/status")).send().await
            && let Ok(t) = r.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&t)
            && v["value"]["ready"] == true
        {
            return Some((proc, url));
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn browser(driver: &str) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--window-size=1280,1000",
            ],
        },
    });
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps.as_object().unwrap().clone())
        .connect(driver)
        .await
        .expect("a Chromium session (is the chromium package installed?)")
}

/// Runs `script` (a function body) in the page.
async fn js(b: &Client, script: &str) -> Value {
    b.execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Waits (up to `secs`) until `check` gives `Some`.
async fn until<T>(
    what: &str,
    secs: u64,
    context: &Proc,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = check().await {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs}s; gitops printed:\n{}",
            context.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `[class, text]` of an overview row, or null.
const ROW: &str = "var r = document.querySelector('tr[data-key=\"' + arguments[0] + '\"]'); return r ? [r.className, r.textContent] : null;";

async fn row(b: &Client, key: &str) -> Option<(String, String)> {
    let v = b.execute(ROW, vec![json!(key)]).await.ok()?;
    Some((v[0].as_str()?.to_owned(), v[1].as_str()?.to_owned()))
}

fn screenshots_dir() -> Option<PathBuf> {
    std::env::var_os("GITOPS_UI_SCREENSHOTS")
        .filter(|v| !v.is_empty() && v != "0")
        .map(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs"))
}

async fn screenshot(b: &Client, name: &str) {
    if let Some(dir) = screenshots_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        let png = b.screenshot().await.unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_view_shows_gitops_dev_live() {
    let Some((_driver_proc, driver)) = chromedriver().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&repo).unwrap();
    sample_repo(&repo);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    // A long interval: new commits arrive only when asked for.
    let dev = Proc::gitops(&[
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--ui-listen",
        "127.0.0.1:0",
        "--interval",
        "1h",
        "--state",
        state.to_str().unwrap(),
        "--repo",
        repo.to_str().unwrap(),
    ]);
    let url = dev.web_view_url().await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.contains("token="), "{url}");
    let b = browser(&driver).await;

    // The overview lists the synced objects, with their revision.
    b.goto(&url).await.unwrap();
    let title = b.title().await.unwrap();
    assert!(title.contains("Overview"), "{title}");
    let (class, text) = until("Kustomization apps ready", 120, &dev, async || {
        row(&b, "kustomizations/flux-system/apps")
            .await
            .filter(|(c, _)| c.contains("row-ready"))
    })
    .await;
    assert!(text.contains(&first[..8]), "{class}: {text}");
    for key in [
        "gitrepositories/flux-system/flux-system",
        "kustomizations/flux-system/flux-system",
        "kustomizations/flux-system/infra",
    ] {
        until(key, 60, &dev, async || {
            row(&b, key).await.filter(|(c, _)| c.contains("row-ready"))
        })
        .await;
    }
    // The graph links apps to its dependency and its source.
    let graph = js(
        &b,
        "return Array.from(document.querySelectorAll('#graph a')).map(a => a.getAttribute('href'));",
    )
    .await;
    assert!(
        graph
            .as_array()
            .unwrap()
            .contains(&json!("/kustomizations/flux-system/apps")),
        "{graph}"
    );
    until("the page to be live", 30, &dev, async || {
        let t = js(&b, "return document.getElementById('live').textContent;").await;
        (t == "live").then_some(())
    })
    .await;

    // A broken manifest turns its row red with the reason, without a reload.
    js(&b, "window.__stillHere = 42; return null;").await;
    write(
        &repo,
        "apps/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: [unclosed\n",
    );
    git(&repo, &["commit", "-qam", "broken"]);
    let kubeconfig = state.join("kubeconfig");
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["reconcile", "source", "git", "flux-system", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, text) = until("the apps row to turn red", 60, &dev, async || {
        row(&b, "kustomizations/flux-system/apps")
            .await
            .filter(|(c, _)| c.contains("row-failed"))
    })
    .await;
    assert!(text.contains("BuildFailed"), "{text}");
    assert!(text.contains("web.yaml"), "{text}");
    let still = js(&b, "return window.__stillHere;").await;
    assert_eq!(still, json!(42), "the page reloaded");
    // Failing rows come first.
    let first_row = js(
        &b,
        "return document.querySelector('#rows tr').getAttribute('data-key');",
    )
    .await;
    assert_eq!(first_row, json!("kustomizations/flux-system/apps"));
    screenshot(&b, "ui-overview.png").await;

    // A fixed manifest: the object page's tree shows the Deployment under its
    // Kustomization, and its reconcile button brings the new revision.
    web(&repo, 2);
    git(&repo, &["commit", "-qam", "two replicas"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    b.goto(&format!("{url}kustomizations/flux-system/flux-system"))
        .await
        .unwrap();
    until("the Deployment in the nested tree", 30, &dev, async || {
        let nested = js(
            &b,
            "return Array.from(document.querySelectorAll('#tree li[data-kind=\"Kustomization\"] li[data-kind=\"Deployment\"] .name')).map(e => e.textContent);",
        )
        .await;
        (nested == json!(["demo/web"])).then_some(())
    })
    .await;
    b.goto(&format!("{url}kustomizations/flux-system/apps"))
        .await
        .unwrap();
    until("the Deployment in the tree", 30, &dev, async || {
        let tree = js(
            &b,
            "return Array.from(document.querySelectorAll('#tree > ul > li')).map(li => li.getAttribute('data-kind') + ' ' + li.querySelector('.name').textContent);",
        )
        .await;
        tree.as_array()?
            .contains(&json!("Deployment demo/web"))
            .then_some(())
    })
    .await;
    // Its live YAML opens in place, the Secret's values masked.
    until("the Secret in the tree", 30, &dev, async || {
        let summary = b
            .find(Locator::Css("#tree li[data-kind=\"Secret\"] summary"))
            .await
            .ok()?;
        summary.click().await.ok()
    })
    .await;
    let yaml = until("the Secret's YAML", 30, &dev, async || {
        let t = js(
            &b,
            "return document.querySelector('#tree li[data-kind=\"Secret\"] pre').textContent;",
        )
        .await;
        t.as_str()
            .filter(|t| t.contains("kind: Secret"))
            .map(str::to_owned)
    })
    .await;
    assert!(yaml.contains("password: '***'"), "{yaml}");
    assert!(
        !yaml.contains("hunter2") && !yaml.contains("aHVudGVyMg"),
        "{yaml}"
    );

    js(&b, "window.__stillHere = 43; return null;").await;
    let head = js(&b, "return document.getElementById('head').textContent;").await;
    assert!(!head.as_str().unwrap().contains(&second[..8]), "{head}");
    until("the reconcile button", 30, &dev, async || {
        let button = b
            .find(Locator::Css("button[value=\"reconcile-source\"]"))
            .await
            .ok()?;
        button.click().await.ok()
    })
    .await;
    let want = format!("main@sha1:{second}");
    until("the new revision on the page", 90, &dev, async || {
        let v = js(
            &b,
            "return Array.from(document.querySelectorAll('#head code')).map(c => c.getAttribute('title'));",
        )
        .await;
        v.as_array()
            .unwrap()
            .contains(&json!(want))
            .then_some(())
    })
    .await;
    let status = until("the action's result", 60, &dev, async || {
        let t = js(
            &b,
            "return document.getElementById('action-status').textContent;",
        )
        .await;
        t.as_str()
            .filter(|t| t.contains("applied revision"))
            .map(str::to_owned)
    })
    .await;
    assert!(
        status.contains("annotating GitRepository flux-system"),
        "{status}"
    );
    assert!(status.contains(&second), "{status}");
    assert_eq!(js(&b, "return window.__stillHere;").await, json!(43));
    let row_state = js(
        &b,
        "return document.querySelector('#head .badge').textContent;",
    )
    .await;
    assert_eq!(row_state, json!("Ready"));

    // Drift on the cluster shows in the diff with Git; Secret values stay masked.
    let client = kube_client(&kubeconfig).await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client, "demo");
    deployments
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    b.find(Locator::Css("button[data-diff]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let diff = until("the diff with Git", 60, &dev, async || {
        let t = js(
            &b,
            "return document.getElementById('diff-out').textContent;",
        )
        .await;
        t.as_str()
            .filter(|t| t.contains("Built from"))
            .map(str::to_owned)
    })
    .await;
    assert!(diff.contains("drifted Deployment/demo/web"), "{diff}");
    assert!(diff.contains("spec.replicas"), "{diff}");
    assert!(diff.contains("unchanged"), "{diff}");
    assert!(
        !diff.contains("hunter2") && !diff.contains("aHVudGVyMg"),
        "{diff}"
    );
    // The whole page, from the top, for the README.
    if screenshots_dir().is_some() {
        let height = js(
            &b,
            "window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
        )
        .await;
        let height = height.as_u64().unwrap_or(1000).clamp(1000, 2600) as u32;
        b.set_window_size(1280, height).await.unwrap();
        screenshot(&b, "ui-object.png").await;
        b.set_window_size(1280, 1000).await.unwrap();
    }

    // An unknown object whose name is markup: an escaped 404.
    let evil = "<script>window.__pwned=1</script>";
    let evil_path = "%3Cscript%3Ewindow.__pwned=1%3C%2Fscript%3E";
    b.goto(&format!("{url}kustomizations/flux-system/{evil_path}"))
        .await
        .unwrap();
    let page = js(
        &b,
        "return [document.querySelector('h1').textContent, document.querySelector('.error-text').textContent, document.scripts.length, window.__pwned === undefined];",
    )
    .await;
    assert_eq!(page[0], json!("Not found"), "{page}");
    assert!(page[1].as_str().unwrap().contains(evil), "{page}");
    assert_eq!(page[2], json!(1), "only the page's own script: {page}");
    assert_eq!(page[3], json!(true), "{page}");
    let resp = http()
        .get(format!("{url}kustomizations/flux-system/{evil_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains(evil), "{body}");
    let resp = http().get(format!("{url}nokind/a/b")).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    b.close().await.unwrap();
}

/// Off loopback, `gitops ui` wants its token for everything, and actions also come from
/// its own pages; with the token they work as the CLI's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_view_off_loopback_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let dev = Proc::gitops(&[
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--ui-listen",
        "127.0.0.1:0",
        "--state",
        state.to_str().unwrap(),
    ]);
    dev.web_view_url().await;
    let kubeconfig = state.join("kubeconfig");
    // A source to act on (its URL goes nowhere: only suspension is asked for here).
    let created = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "create",
            "source",
            "git",
            "nowhere",
            "--url=http://127.0.0.1:1/nowhere.git",
            "--branch=main",
            "--interval=1h",
            "--timeout=2s",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    // It is created even though it never gets ready.
    let _ = created;
    let ui = Proc::gitops(&[
        "ui",
        "--listen",
        "0.0.0.0:0",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    let url = ui.web_view_url().await;
    let (base, token) = url.split_once("?token=").expect("a token in the URL");
    assert!(token.len() >= 40, "{url}");
    assert!(
        ui.text().contains("not a loopback address"),
        "{}",
        ui.text()
    );
    let action = format!("{base}_/action/gitrepositories/flux-system/nowhere");
    let origin = base.trim_end_matches('/');
    let c = http();

    // Nothing without the token.
    let r = c.get(base).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Token required"));
    let r = c
        .post(&action)
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=suspend")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(format!("{base}?token=wrong")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // The token in the URL logs in with a cookie.
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let r = c.get(base).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("nowhere"));

    // With the cookie, an action from another site is refused.
    let r = c
        .post(&action)
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=suspend")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(&action)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=suspend")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no Origin, cookie only");

    // With the token, it is done as `gitops suspend` does it.
    let r = c
        .post(&action)
        .bearer_auth(token)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=suspend")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        v["lines"],
        json!([
            "► suspending source git nowhere in flux-system namespace",
            "✔ source git suspended"
        ])
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["export", "source", "git", "nowhere", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let exported = String::from_utf8_lossy(&out.stdout);
    assert!(exported.contains("suspend: true"), "{exported}");
    // Same-origin from the page (cookie and Origin) works too; an unknown action does not.
    let r = c
        .post(&action)
        .header("cookie", &cookie)
        .header("origin", origin)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=explode")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    drop(ui);
    drop(dev);
}
