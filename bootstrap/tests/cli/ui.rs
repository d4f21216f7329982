//! The web view (`gitops ui`, and the same page in `gitops dev`) in a real browser:
//! headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`, which `scripts/test` installs), against `gitops dev` reconciling a
//! local repository. Skipped, with a message, when chromedriver is not installed.
//!
//! With `GITOPS_UI_SCREENSHOTS=1` the browser test also saves `docs/ui-overview.png` and
//! `docs/ui-object.png` (the README's screenshots), and screenshots of a narrow screen
//! (390×844) under the temporary directory (`$TMPDIR/gitops-ui-screenshots/`) to look at;
//! with `GITOPS_UI_SCREENSHOTS=<directory>` all of them go to that directory.

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

/// A HelmRelease of the repository's chart `charts/hello` (a Deployment, a Secret and a
/// ConfigMap) into `demo`, its record in `demo` too.
const RELEASE: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
  namespace: flux-system
spec:
  interval: 1h
  targetNamespace: demo
  storageNamespace: demo
  releaseName: hello
  chart:
    spec:
      chart: ./charts/hello
      sourceRef: {kind: GitRepository, name: flux-system}
";

/// The chart's Secret value (never to be shown).
const CHART_PASSWORD: &str = "s3cr3t-value";

/// A repository whose `flux-system` applies two Kustomizations: `infra` (a namespace and
/// a HelmRelease of the repository's chart) and `apps` (a Deployment and a Secret), which
/// depends on `infra`.
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
    write(
        repo,
        "infra/kustomization.yaml",
        "resources: [ns.yaml, release.yaml]\n",
    );
    write(repo, "infra/release.yaml", RELEASE);
    write(
        repo,
        "charts/hello/Chart.yaml",
        "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
    );
    write(
        repo,
        "charts/hello/values.yaml",
        &format!("replicas: 1\npassword: {CHART_PASSWORD}\n"),
    );
    write(
        repo,
        "charts/hello/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: hello}}\n  template:\n    metadata: {labels: {app: hello}}\n    spec:\n      containers: [{name: hello, image: 'nginx:1.27'}]\n",
    );
    write(
        repo,
        "charts/hello/templates/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\ndata:\n  password: {{ .Values.password | b64enc }}\n",
    );
    write(
        repo,
        "charts/hello/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  greeting: hello\n",
    );
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

/// Waits (up to 30 s) until one of the tree items `selector` picks reads `item`
/// (`<kind> <namespace>/<name>`).
async fn in_tree(b: &Client, dev: &Proc, what: &str, selector: &str, item: &str) {
    let script = format!(
        "return Array.from(document.querySelectorAll('{selector}')).map(li => li.getAttribute('data-kind') + ' ' + li.querySelector('.name').textContent);"
    );
    until(what, 30, dev, async || {
        let tree = js(b, &script).await;
        tree.as_array()?.contains(&json!(item)).then_some(())
    })
    .await
}

/// Waits (up to `secs`) until the text of the element with id `id` contains `needle`; that
/// text.
async fn text_of(b: &Client, dev: &Proc, what: &str, secs: u64, id: &str, needle: &str) -> String {
    let script =
        format!("var e = document.getElementById('{id}'); return e ? e.textContent : null;");
    until(what, secs, dev, async || {
        let t = js(b, &script).await;
        t.as_str().filter(|t| t.contains(needle)).map(str::to_owned)
    })
    .await
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

/// `GITOPS_UI_SCREENSHOTS`: unset, empty or `0` for none, `1` for the README's (in
/// `docs/`) and the narrow screen's (under the temporary directory), or a directory for
/// all of them.
fn screenshots_setting() -> Option<std::ffi::OsString> {
    std::env::var_os("GITOPS_UI_SCREENSHOTS").filter(|v| !v.is_empty() && v != "0")
}

/// Where the README's screenshots go.
fn screenshots_dir() -> Option<PathBuf> {
    screenshots_setting().map(|v| {
        if v == "1" {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
        } else {
            PathBuf::from(v)
        }
    })
}

/// Where the narrow screen's screenshots go (never into the repository by default).
fn narrow_screenshots_dir() -> Option<PathBuf> {
    screenshots_setting().map(|v| {
        if v == "1" {
            std::env::temp_dir().join("gitops-ui-screenshots")
        } else {
            PathBuf::from(v)
        }
    })
}

async fn save_screenshot(b: &Client, dir: Option<PathBuf>, name: &str) {
    if let Some(dir) = dir {
        std::fs::create_dir_all(&dir).unwrap();
        let png = b.screenshot().await.unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

async fn screenshot(b: &Client, name: &str) {
    save_screenshot(b, screenshots_dir(), name).await;
}

/// A phone's screen: 390×844 CSS pixels.
const NARROW: (u32, u32) = (390, 844);
const WIDE: (u32, u32) = (1280, 1000);

/// On a narrow screen the page does not scroll sideways (wide tables, graphs and YAML
/// scroll in their own boxes) and every button is within the screen; a screenshot of
/// the top of the page (and of the element `then`, scrolled to) is saved as `name`.
async fn check_narrow(b: &Client, name: &str, then: Option<&str>) {
    b.set_window_size(NARROW.0, NARROW.1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let layout = js(
        b,
        "window.scrollTo(0, 0); var w = document.documentElement.clientWidth; \
         var off = Array.from(document.querySelectorAll('button, input, a, summary')) \
           .filter(e => e.getClientRects().length > 0 && !e.closest('.graph-scroll, pre, .skip')) \
           .map(e => [e.getBoundingClientRect(), e]).filter(([r]) => r.right > w + 1 || r.left < -1) \
           .map(([r, e]) => e.outerHTML.slice(0, 80) + ' ' + r.left + '..' + r.right); \
         return [w, document.documentElement.scrollWidth, off];",
    )
    .await;
    let width = layout[0].as_u64().unwrap();
    assert!(width <= NARROW.0 as u64, "{layout}");
    assert!(
        layout[1].as_u64().unwrap() <= width,
        "{name}: the page scrolls sideways on a narrow screen: {layout}"
    );
    assert_eq!(layout[2], json!([]), "{name}: controls off the screen");
    save_screenshot(b, narrow_screenshots_dir(), &format!("{name}-narrow.png")).await;
    if let Some(sel) = then {
        js(
            b,
            &format!("document.querySelector({sel:?}).scrollIntoView(); return null;"),
        )
        .await;
        save_screenshot(b, narrow_screenshots_dir(), &format!("{name}-narrow-2.png")).await;
    }
    if narrow_screenshots_dir().is_some() {
        // The whole page, to look at.
        let height = js(
            b,
            "window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
        )
        .await;
        let height = height.as_u64().unwrap_or(844).clamp(844, 5000) as u32;
        b.set_window_size(NARROW.0, height).await.unwrap();
        save_screenshot(
            b,
            narrow_screenshots_dir(),
            &format!("{name}-narrow-full.png"),
        )
        .await;
    }
    b.set_window_size(WIDE.0, WIDE.1).await.unwrap();
}

/// Presses Tab until the focused element matches `selector` (at most `max` times); the
/// texts of the elements focused on the way. Every one shows its focus (an outline).
async fn tab_to(b: &Client, selector: &str, max: usize) -> Vec<String> {
    let tab = char::from(fantoccini::key::Key::Tab).to_string();
    let mut seen = Vec::new();
    for _ in 0..max {
        b.active_element()
            .await
            .unwrap()
            .send_keys(&tab)
            .await
            .unwrap();
        let v = b
            .execute(
                "var e = document.activeElement; var s = getComputedStyle(e); \
                 return [e.matches(arguments[0]), e.tagName + ' ' + (e.textContent || '').trim().slice(0, 40), \
                         e === document.body || (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)];",
                vec![json!(selector)],
            )
            .await
            .unwrap();
        seen.push(v[1].as_str().unwrap_or_default().to_owned());
        assert_eq!(v[2], json!(true), "no visible focus on {}", v[1]);
        if v[0] == json!(true) {
            return seen;
        }
    }
    panic!("{selector} not reached with Tab; focused: {seen:?}");
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
        "helmreleases/flux-system/hello",
    ] {
        until(key, 60, &dev, async || {
            row(&b, key).await.filter(|(c, _)| c.contains("row-ready"))
        })
        .await;
    }
    // First paint, as Chromium measured it: reported (the issue asks for < 200 ms locally),
    // not asserted — timings vary with the machine.
    b.goto(&url).await.unwrap();
    let paint = until("the paint timing", 10, &dev, async || {
        let v = js(
            &b,
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             const n = performance.getEntriesByType('navigation')[0]; \
             return p && n ? [p.startTime, n.responseEnd - n.requestStart] : null;",
        )
        .await;
        v.is_array().then_some(v)
    })
    .await;
    eprintln!(
        "overview with {} rows: first contentful paint {:.0} ms, response {:.1} ms",
        js(
            &b,
            "return document.querySelectorAll('tr[data-key]').length;"
        )
        .await,
        paint[0].as_f64().unwrap_or(-1.0),
        paint[1].as_f64().unwrap_or(-1.0)
    );
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
    // On a phone's screen the table's rows become cards; nothing scrolls sideways.
    check_narrow(&b, "overview", Some("#graph")).await;

    // A fixed manifest: the object page's tree shows the Deployment under its
    // Kustomization, and its reconcile button brings the new revision.
    web(&repo, 2);
    git(&repo, &["commit", "-qam", "two replicas"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    b.goto(&format!("{url}kustomizations/flux-system/flux-system"))
        .await
        .unwrap();
    until("the Deployments in the nested tree", 30, &dev, async || {
        let nested = js(
            &b,
            "return Array.from(document.querySelectorAll('#tree li[data-kind=\"Kustomization\"] li[data-kind=\"Deployment\"] .name')).map(e => e.textContent).sort();",
        )
        .await;
        let released = js(
            &b,
            "return Array.from(document.querySelectorAll('#tree li[data-kind=\"Kustomization\"] li[data-kind=\"HelmRelease\"] li[data-kind=\"Deployment\"] .name')).map(e => e.textContent);",
        )
        .await;
        (nested == json!(["demo/hello", "demo/web"]) && released == json!(["demo/hello"]))
            .then_some(())
    })
    .await;
    b.goto(&format!("{url}kustomizations/flux-system/apps"))
        .await
        .unwrap();
    in_tree(
        &b,
        &dev,
        "the Deployment in the tree",
        "#tree > ul > li",
        "Deployment demo/web",
    )
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
    let status = text_of(
        &b,
        &dev,
        "the action's result",
        60,
        "action-status",
        "applied revision",
    )
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
    let diff = text_of(&b, &dev, "the diff with Git", 60, "diff-out", "Built from").await;
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

    // A HelmRelease's page compares the objects of its release with the cluster: the
    // Deployment scaled by hand and the Secret edited by hand have drifted, values masked.
    b.goto(&format!("{url}helmreleases/flux-system/hello"))
        .await
        .unwrap();
    in_tree(
        &b,
        &dev,
        "the release's Deployment in the tree",
        "#tree li",
        "Deployment demo/hello",
    )
    .await;
    let client = kube_client(&kubeconfig).await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), "demo");
    deployments
        .patch(
            "hello",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let by_hand = "changed-by-hand";
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client, "demo");
    secrets
        .patch(
            "hello-creds",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"data": {"password": b64(by_hand)}})),
        )
        .await
        .unwrap();
    // With the keyboard only: Tab reaches the actions, then the compare button, each
    // with a visible focus; Enter presses it.
    let focused = tab_to(&b, "button[data-diff]", 200).await;
    for action in ["Reconcile", "Reconcile with source", "Suspend"] {
        assert!(
            focused.contains(&format!("BUTTON {action}")),
            "{action} not reached with Tab: {focused:?}"
        );
    }
    let enter = char::from(fantoccini::key::Key::Enter).to_string();
    b.active_element()
        .await
        .unwrap()
        .send_keys(&enter)
        .await
        .unwrap();
    let drift = text_of(
        &b,
        &dev,
        "the release's drift",
        60,
        "diff-out",
        "as Helm last applied it",
    )
    .await;
    assert!(drift.contains("hello.v1 (deployed)"), "{drift}");
    assert!(drift.contains("hello@0.1.0"), "{drift}");
    assert!(drift.contains("drifted Deployment/demo/hello"), "{drift}");
    assert!(drift.contains("spec.replicas"), "{drift}");
    assert!(drift.contains("drifted Secret/demo/hello-creds"), "{drift}");
    assert!(drift.contains("1 unchanged"), "{drift}");
    assert!(drift.contains("Drift detection is off"), "{drift}");
    for secret in [CHART_PASSWORD, by_hand, &b64(CHART_PASSWORD), &b64(by_hand)] {
        assert!(!drift.contains(secret), "{secret} shown: {drift}");
    }
    let unchanged = js(
        &b,
        "var d = document.querySelector('#diff-out > details'); d.open = true; return d.textContent;",
    )
    .await;
    assert!(
        unchanged
            .as_str()
            .unwrap()
            .contains("ConfigMap/demo/hello-settings"),
        "{unchanged}"
    );
    check_narrow(&b, "object", Some("#diff-out")).await;

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

/// Off loopback, `gitops ui` wants its token for everything but its static assets, and
/// actions also come from its own pages; with the token they work as the CLI's. An
/// identity that may only read one namespace sees that namespace, and is told so.
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

    // Nothing without the token but the assets, so the login page has its style.
    let r = c.get(base).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let login = r.text().await.unwrap();
    assert!(login.contains("Token required"));
    assert!(login.contains("href=\"/_/static/style.css\""), "{login}");
    for (asset, content_type) in [
        ("style.css", "text/css"),
        ("app.js", "text/javascript"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = c
            .get(format!("{base}_/static/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(content_type), "{asset}: {ct}");
    }
    for path in [
        "_/static/other.css",
        "_/stream?page=%2F",
        "_/object?apiVersion=v1&kind=Namespace&namespace=&name=flux-system",
        "gitrepositories/flux-system/nowhere",
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
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

    scoped_identity(&dev, &kubeconfig, dir.path()).await;
    drop(dev);
}

/// A ServiceAccount that may only read `flux-system` (the `view` role, which the Flux
/// kinds aggregate into, bound there): the web view watches that namespace, says so, and
/// shows its objects, not those of other namespaces.
async fn scoped_identity(dev: &Proc, admin_kubeconfig: &Path, dir: &Path) {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let admin = kube_client(admin_kubeconfig).await;
    let objects = [
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "viewer", "namespace": "flux-system"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "flux-view",
                            "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
               "rules": [{"apiGroups": ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io",
                                        "helm.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"],
                          "resources": ["*"], "verbs": ["get", "list", "watch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "viewer-view", "namespace": "flux-system"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "flux-system"}]}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "elsewhere", "namespace": "team"},
               "spec": {"url": "http://127.0.0.1:1/elsewhere.git", "interval": "1h", "suspend": true}}),
    ];
    let applier = gitops_apply::Applier::new(admin.clone(), "ui-test");
    applier
        .apply(objects.to_vec(), &gitops_apply::ApplyOptions::default())
        .await
        .unwrap();
    let sa: kube::Api<ServiceAccount> = kube::Api::namespaced(admin, "flux-system");
    let token = sa
        .create_token_request(
            "viewer",
            &kube::api::PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    expiration_seconds: Some(3600),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let text = std::fs::read_to_string(admin_kubeconfig).unwrap();
    let scoped: String = text
        .lines()
        .map(|l| match l.trim_start().strip_prefix("token: ") {
            Some(_) => format!("    token: {token}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(scoped, text, "no token in {text}");
    let kubeconfig = dir.join("viewer.kubeconfig");
    std::fs::write(&kubeconfig, scoped).unwrap();
    let ui = Proc::gitops(&[
        "ui",
        "--listen",
        "127.0.0.1:0",
        "-n",
        "flux-system",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    let url = ui.web_view_url().await;
    let c = http();
    let page = until("the namespace notice", 60, dev, async || {
        let body = c.get(&url).send().await.ok()?.text().await.ok()?;
        (body.contains("Showing namespace <strong>flux-system</strong> only")
            && body.contains("data-key=\"gitrepositories/flux-system/nowhere\""))
        .then_some(body)
    })
    .await;
    assert!(!page.contains("Cannot watch"), "{page}");
    assert!(!page.contains("elsewhere"), "{page}");
    assert!(
        page.contains("may not list Flux objects or their events in all namespaces"),
        "{page}"
    );
    // Its objects' pages work with the same identity.
    let r = c
        .get(format!("{url}gitrepositories/flux-system/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Granted more, it widens to all namespaces by itself (it tries every 20 s).
    let grant = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "viewer-view-all"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "flux-system"}]});
    applier
        .apply(vec![grant], &gitops_apply::ApplyOptions::default())
        .await
        .unwrap();
    // (each kind re-checks on its own: wait until every one has widened)
    let page = until("all namespaces", 60, &ui, async || {
        let body = c.get(&url).send().await.ok()?.text().await.ok()?;
        (body.contains("data-key=\"gitrepositories/team/elsewhere\"")
            && !body.contains("Showing namespace"))
        .then_some(body)
    })
    .await;
    assert!(!page.contains("Cannot watch"), "{page}");
    drop(ui);
}
