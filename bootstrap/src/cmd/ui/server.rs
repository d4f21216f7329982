//! The HTTP server: routes, the access checks of every request, the live stream
//! (server-sent events of changed fragments), the actions and the embedded assets.
//!
//! Routes: `/` the overview; `/<plural>/<namespace>/<name>` an object page;
//! `/_/stream?page=…` the live stream of a page; `/_/object?apiVersion&kind&namespace&name`
//! an object's live YAML; `POST /_/diff/<plural>/<namespace>/<name>` a Kustomization's diff
//! with Git or a HelmRelease's drift from its release;
//! `POST /_/action/<plural>/<namespace>/<name>` (`action=reconcile`, `reconcile-source`,
//! `suspend`, `resume`); `/_/static/…` the assets (the only paths served without the
//! token, see [`super::auth::PUBLIC_PATHS`]). Rendering runs on blocking threads.

use super::auth::{Access, Verdict, decode, query_param};
use super::model::{self, Store};
use super::{detail, render};
use crate::cli::{FluxKind, object};
use crate::cmd::ops;
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Body = BoxBody<Bytes, Infallible>;

/// What every request handler shares.
pub struct Shared {
    /// The watched objects.
    pub store: Arc<Store>,
    /// The user's client.
    pub client: kube::Client,
    /// Who may use the view.
    pub access: Access,
    /// How long actions wait for the controllers.
    pub timeout: Duration,
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/_/static/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/style.css"),
    },
    Asset {
        path: "/_/static/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "/_/static/icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("assets/icon.svg"),
    },
];

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    respond(status, "text/html; charset=utf-8", body)
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body)
}

fn not_found(message: &str) -> Response<Body> {
    html(
        StatusCode::NOT_FOUND,
        render::error_page("Not found", message),
    )
}

fn with_security_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Runs rendering and other CPU-heavy work of a request on the runtime's blocking
/// threads, so the async threads keep answering (and streaming) meanwhile.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response<Body>> {
    tokio::task::spawn_blocking(work).await.map_err(|_| {
        html(
            StatusCode::INTERNAL_SERVER_ERROR,
            render::error_page("Internal error", "Rendering the page failed."),
        )
    })
}

/// Answers one request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    Ok(with_security_headers(route(&shared, req).await))
}

/// The decoded segments of a path (`None` when one is not UTF-8).
fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

/// An object page's kind, namespace and name, or why there is no such page (a 404).
fn object_target(parts: &[String]) -> Result<(FluxKind, String, String), String> {
    let [plural, ns, name] = parts else {
        return Err("There is no page at this address.".into());
    };
    let Some(kind) = model::kind_by_plural(plural) else {
        let known: Vec<&str> = model::KINDS.iter().map(|k| k.info.plural).collect();
        return Err(format!(
            "Unknown kind “{plural}”: object pages are /<kind>/<namespace>/<name> with <kind> one of {}.",
            known.join(", ")
        ));
    };
    if !gitops_api::meta::is_dns1123_label(ns) || !gitops_api::meta::is_dns1123_subdomain(name) {
        return Err(format!(
            "No {} named “{name}” in namespace “{ns}”.",
            kind.kind()
        ));
    }
    Ok((kind, ns.clone(), name.clone()))
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let bearer = match shared.access.check(&method, &uri, req.headers()) {
        Verdict::Allow { bearer } => bearer,
        Verdict::Login {
            set_cookie,
            location,
        } => {
            let mut r = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
            if let (Ok(c), Ok(l)) = (
                HeaderValue::from_str(&set_cookie),
                HeaderValue::from_str(&location),
            ) {
                r.headers_mut().insert(header::SET_COOKIE, c);
                r.headers_mut().insert(header::LOCATION, l);
            }
            return r;
        }
        Verdict::Deny(status, message) if status == StatusCode::UNAUTHORIZED => {
            let mut r = html(status, render::login_page(message));
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gitops ui\""),
            );
            return r;
        }
        Verdict::Deny(status, message) => {
            return html(status, render::error_page("Forbidden", message));
        }
    };
    let Some(parts) = segments(uri.path()) else {
        return not_found("There is no page at this address.");
    };
    let parts: Vec<String> = parts;
    let first = parts.first().map(String::as_str).unwrap_or_default();
    if method == Method::POST {
        if let Err(message) = shared.access.same_origin(req.headers(), bearer) {
            return html(
                StatusCode::FORBIDDEN,
                render::error_page("Forbidden", message),
            );
        }
        return match (first, parts.get(1).map(String::as_str)) {
            ("_", Some("action")) => action(shared, &parts[2..], req).await,
            ("_", Some("diff")) => diff(shared, &parts[2..]).await,
            _ => html(
                StatusCode::METHOD_NOT_ALLOWED,
                render::error_page("Method not allowed", "Only actions take POST requests."),
            ),
        };
    }
    if method != Method::GET {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            render::error_page("Method not allowed", "This web view answers GET and POST."),
        );
    }
    if uri.path() == "/" {
        let store = shared.store.clone();
        return match off_thread(move || render::overview(&store)).await {
            Ok(body) => html(StatusCode::OK, body),
            Err(r) => r,
        };
    }
    if first == "_" {
        return match parts.get(1).map(String::as_str) {
            Some("static") => static_asset(uri.path(), req.headers()),
            Some("stream") => stream(shared, &uri),
            Some("object") => live_object(shared, &uri).await,
            _ => not_found("There is no page at this address."),
        };
    }
    match object_target(&parts) {
        Ok((kind, ns, name)) => object_page(shared, kind, &ns, &name).await,
        Err(message) => not_found(&message),
    }
}

fn etag(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

fn static_asset(path: &str, headers: &hyper::http::HeaderMap) -> Response<Body> {
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return not_found("There is no such file.");
    };
    let tag = etag(a.body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag);
    let mut r = if fresh {
        respond(StatusCode::NOT_MODIFIED, a.content_type, "")
    } else {
        respond(StatusCode::OK, a.content_type, a.body)
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn get_object(
    shared: &Shared,
    kind: &FluxKind,
    ns: &str,
    name: &str,
) -> Result<Value, Response<Body>> {
    match kind.api(&shared.client, Some(ns)).get_opt(name).await {
        Ok(Some(o)) => object::to_value(&o).map_err(|e| {
            html(
                StatusCode::BAD_GATEWAY,
                render::error_page("Error", &format!("{e:#}")),
            )
        }),
        Ok(None) => Err(not_found(&format!(
            "No {} named “{name}” in namespace “{ns}”.",
            kind.kind()
        ))),
        Err(e) => Err(html(
            StatusCode::BAD_GATEWAY,
            render::error_page(
                "The cluster refused",
                &format!("{:#}", object::api_error(e)),
            ),
        )),
    }
}

/// How long an inventory walk may take before the page shows it failed.
const TREE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a page waits for its inventory before it is sent without (the live stream
/// brings it): the first paint stays fast with large inventories.
const TREE_FIRST_PAINT: Duration = Duration::from_millis(300);

async fn inventory_html(
    shared: &Shared,
    kind: &FluxKind,
    obj: &Value,
    limit: Duration,
) -> Option<String> {
    let result = match tokio::time::timeout(
        limit,
        detail::inventory(&shared.client, &shared.store, kind, obj),
    )
    .await
    {
        Ok(r) => r,
        Err(_) if limit < TREE_TIMEOUT => return None,
        Err(_) => Err(anyhow::anyhow!("timed out reading the inventory")),
    };
    off_thread(move || render::tree(&result)).await.ok()
}

async fn object_page(shared: &Arc<Shared>, kind: FluxKind, ns: &str, name: &str) -> Response<Body> {
    let obj = match get_object(shared, &kind, ns, name).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let obj = detail::masked(obj);
    let tree = inventory_html(shared, &kind, &obj, TREE_FIRST_PAINT)
        .await
        .unwrap_or_else(|| {
            "<p class=\"muted\">Reading the inventory…</p>\
<noscript><p>The inventory arrives through the page's script; reload in a moment.</p></noscript>"
                .into()
        });
    let store = shared.store.clone();
    let page = off_thread(move || {
        let fragments = render::object_fragments(&store, &kind, &obj);
        render::object_page(&kind, &obj, &fragments, &tree)
    })
    .await;
    match page {
        Ok(body) => html(StatusCode::OK, body),
        Err(r) => r,
    }
}

async fn live_object(shared: &Shared, uri: &hyper::http::Uri) -> Response<Body> {
    let p = |n: &str| query_param(uri, n).unwrap_or_default();
    match detail::live_yaml(
        &shared.client,
        &p("apiVersion"),
        &p("kind"),
        &p("namespace"),
        &p("name"),
    )
    .await
    {
        Ok(Some(yaml)) => text(StatusCode::OK, yaml),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("{} {} not found", p("kind"), p("name")),
        ),
        Err(e) => text(StatusCode::BAD_GATEWAY, format!("{e:#}")),
    }
}

async fn diff(shared: &Arc<Shared>, parts: &[String]) -> Response<Body> {
    let (kind, ns, name) = match object_target(parts) {
        Ok(t) => t,
        Err(message) => return not_found(&message),
    };
    let helm = match kind.kind() {
        "Kustomization" => false,
        "HelmRelease" => true,
        _ => {
            return html(
                StatusCode::BAD_REQUEST,
                render::error_page(
                    "Not supported",
                    "Diffs are made for Kustomizations and HelmReleases.",
                ),
            );
        }
    };
    let obj = match get_object(shared, &kind, &ns, &name).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let work = async {
        if helm {
            detail::diff_helm_release(&shared.client, &obj).await
        } else {
            detail::diff_kustomization(&shared.client, &obj).await
        }
    };
    let result = match tokio::time::timeout(shared.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("timed out")),
    };
    match off_thread(move || render::diff(&result)).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(r) => r,
    }
}

/// Progress lines of an action, as the CLI prints them.
struct Lines(Mutex<Vec<String>>);

impl Lines {
    fn push(&self, line: String) {
        if let Ok(mut l) = self.0.lock() {
            l.push(line);
        }
    }
}

impl ops::Progress for Lines {
    fn action(&self, msg: String) {
        self.push(format!("► {msg}"));
    }
    fn waiting(&self, msg: String) {
        self.push(format!("◎ {msg}"));
    }
    fn success(&self, msg: String) {
        self.push(format!("✔ {msg}"));
    }
}

/// The most an action's form may weigh.
const MAX_FORM: usize = 4096;

async fn action(shared: &Arc<Shared>, parts: &[String], req: Request<Incoming>) -> Response<Body> {
    let (kind, ns, name) = match object_target(parts) {
        Ok(t) => t,
        Err(message) => return not_found(&message),
    };
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let body = match http_body_util::Limited::new(req.into_body(), MAX_FORM)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is too large".into(),
            );
        }
    };
    let form: HashMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let what = form.get("action").map(String::as_str).unwrap_or_default();
    if !matches!(
        what,
        "reconcile" | "reconcile-source" | "suspend" | "resume"
    ) {
        return text(
            StatusCode::BAD_REQUEST,
            format!("unknown action {what:?}: reconcile, reconcile-source, suspend or resume"),
        );
    }
    let lines = Lines(Mutex::new(Vec::new()));
    let result = run_action(shared, kind, &ns, &name, what, &lines).await;
    let mut lines = lines.0.into_inner().unwrap_or_default();
    let ok = match result {
        Ok(()) => true,
        Err(e) => {
            lines.push(format!("✗ {e:#}"));
            false
        }
    };
    if wants_json {
        return respond(
            StatusCode::OK,
            "application/json",
            json!({"ok": ok, "lines": lines}).to_string(),
        );
    }
    let back = format!(
        "/{}/{}/{}",
        kind.info.plural,
        super::html::url_part(&ns),
        super::html::url_part(&name)
    );
    html(StatusCode::OK, render::action_page(&back, ok, &lines))
}

/// An action, as `gitops reconcile [--with-source]`, `suspend` and `resume` do it.
async fn run_action(
    shared: &Shared,
    kind: FluxKind,
    ns: &str,
    name: &str,
    what: &str,
    lines: &Lines,
) -> anyhow::Result<()> {
    let api = kind.api(&shared.client, Some(ns));
    match what {
        "reconcile" | "reconcile-source" => {
            let with_source = what == "reconcile-source";
            ops::check_reconcile(&kind, with_source, false, false)?;
            let request = ops::Reconcile {
                with_source,
                force: false,
                reset: false,
            };
            request
                .run(&shared.client, shared.timeout, kind, ns, name, lines)
                .await
        }
        "suspend" => {
            ops::set_suspended(&api, &kind, ns, name, true, lines).await?;
            Ok(())
        }
        _ => {
            let obj = ops::set_suspended(&api, &kind, ns, name, false, lines).await?;
            let message = ops::wait_resumed(&api, kind, &obj, shared.timeout, lines).await?;
            ops::report_resumed(&kind, name, &message, lines);
            Ok(())
        }
    }
}

/// What a live stream is about.
enum Page {
    Overview,
    Object(FluxKind, String, String),
}

/// How often an object page's inventory is read again when nothing else changed (the
/// health of applied objects is not watched).
const TREE_REFRESH: Duration = Duration::from_secs(10);
/// A comment line keeps idle streams open through proxies and finds closed ones.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Changes arriving together are sent together.
const DEBOUNCE: Duration = Duration::from_millis(50);

fn stream(shared: &Arc<Shared>, uri: &hyper::http::Uri) -> Response<Body> {
    let target = query_param(uri, "page").unwrap_or_default();
    let page = if target == "/" {
        Page::Overview
    } else {
        match segments(&target).map(|p| object_target(&p)) {
            Some(Ok((k, ns, name))) => Page::Object(k, ns, name),
            Some(Err(message)) => return not_found(&message),
            None => return not_found("There is no page at this address."),
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(32);
    tokio::spawn(feed(shared.clone(), page, tx));
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(frames).boxed());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Sends the page's fragments whenever they change, until the client goes away.
async fn feed(shared: Arc<Shared>, page: Page, tx: tokio::sync::mpsc::Sender<Bytes>) {
    let mut changes = shared.store.subscribe();
    let mut sent: HashMap<&'static str, String> = HashMap::new();
    let mut last_send = Instant::now();
    let mut tree_at: Option<Instant> = None;
    let mut tree_version = String::new();
    let mut seen = false;
    if tx
        .send(Bytes::from_static(
            b"retry: 2000\nevent: hello\ndata: {}\n\n",
        ))
        .await
        .is_err()
    {
        return;
    }
    loop {
        changes.borrow_and_update();
        let mut out: Vec<Bytes> = Vec::new();
        let mut push = |id: &'static str, html: String, out: &mut Vec<Bytes>| {
            if sent.get(id) != Some(&html) {
                out.push(event("fragment", &json!({"id": id, "html": html})));
                sent.insert(id, html);
            }
        };
        let store = shared.store.clone();
        match &page {
            Page::Overview => {
                let Ok(fragments) = off_thread(move || render::overview_fragments(&store)).await
                else {
                    return;
                };
                for (id, html) in fragments {
                    push(id, html, &mut out);
                }
            }
            Page::Object(kind, ns, name) => match shared.store.get(kind, ns, name) {
                Some(obj) => {
                    seen = true;
                    let kind_ = *kind;
                    let Ok((obj, fragments)) = off_thread(move || {
                        let obj = detail::masked(obj.as_ref().clone());
                        let fragments = render::object_fragments(&store, &kind_, &obj);
                        (obj, fragments)
                    })
                    .await
                    else {
                        return;
                    };
                    for (id, html) in fragments {
                        push(id, html, &mut out);
                    }
                    let version = obj["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if version != tree_version
                        || tree_at.is_none_or(|t| t.elapsed() >= TREE_REFRESH)
                    {
                        if let Some(html) = inventory_html(&shared, kind, &obj, TREE_TIMEOUT).await
                        {
                            push("tree", html, &mut out);
                        }
                        tree_version = version;
                        tree_at = Some(Instant::now());
                    }
                }
                None if seen => {
                    out.push(event(
                        "gone",
                        &json!({"message": format!("{} {ns}/{name} was deleted.", kind.kind())}),
                    ));
                    seen = false;
                }
                None => {}
            },
        }
        if out.is_empty() && last_send.elapsed() >= KEEPALIVE {
            out.push(Bytes::from_static(b": keepalive\n\n"));
        }
        for b in out {
            if tx.send(b).await.is_err() {
                return;
            }
            last_send = Instant::now();
        }
        let wait = match (&page, tree_at) {
            (Page::Object(..), Some(t)) => TREE_REFRESH.saturating_sub(t.elapsed()).min(KEEPALIVE),
            _ => KEEPALIVE,
        };
        tokio::select! {
            r = changes.changed() => {
                if r.is_err() {
                    return;
                }
                tokio::time::sleep(DEBOUNCE).await;
            }
            _ = tokio::time::sleep(wait) => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_paths_are_the_assets() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        assert_eq!(served, super::super::auth::PUBLIC_PATHS);
    }
}
