//! The HTTP layer: authentication, routing of Kubernetes API paths, content negotiation
//! (JSON, YAML, Tables, aggregated discovery), request limits, and streaming watches.

use crate::api::{
    Api, DeleteOpts, Deleted, FieldValidation, ListQuery, PatchType, Sub, WriteCtx, for_version,
};
use crate::auth::{Attributes, User};
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Event, EventType, Obj};
use crate::table;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Largest request body accepted (as the real server: 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// Per-server state of the HTTP layer.
pub struct Ctx {
    /// The API.
    pub api: Arc<Api>,
    /// Checks credentials (the admin token, service account tokens) and signs tokens.
    pub auth: Arc<crate::auth::Authenticator>,
    /// `host:port` clients reach the server at.
    pub address: String,
    /// Closed when the server stops: ends watches.
    pub shutdown: watch::Receiver<bool>,
    /// Open watches per user name.
    pub watches: parking_lot::Mutex<HashMap<String, usize>>,
    /// Most watches one user may hold open at once.
    pub max_watches: usize,
}

/// One open watch of a user, released when the watch ends.
struct WatchSlot {
    ctx: Arc<Ctx>,
    user: String,
}

impl WatchSlot {
    fn take(ctx: &Arc<Ctx>, user: &str) -> ApiResult<WatchSlot> {
        let mut open = ctx.watches.lock();
        let n = open.entry(user.to_owned()).or_insert(0);
        if *n >= ctx.max_watches {
            return Err(ApiError::too_many_requests(format!(
                "too many open watches for user {user:?} (at most {})",
                ctx.max_watches
            )));
        }
        *n += 1;
        Ok(WatchSlot {
            ctx: ctx.clone(),
            user: user.to_owned(),
        })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.ctx.watches.lock();
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    bytes_response(
        code,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn bytes_response(code: u16, content_type: &str, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(bytes));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(ct) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.to_status());
    if e.code == 429 {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    r
}

/// Parsed request.
struct Req {
    method: Method,
    segments: Vec<String>,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    user_agent: String,
}

impl Req {
    fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    fn wants_table(&self) -> bool {
        self.accept.contains("as=Table")
    }
}

fn parse_query(q: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Handles one request; `peer` is the identity of the connection's client certificate.
pub async fn handle(
    ctx: Arc<Ctx>,
    peer: Option<Arc<User>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let public = matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/version"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/");
    let store = &ctx.api.store;
    let user = match ctx.auth.authenticate(store, req.headers(), peer.as_deref()) {
        Ok(Some(u)) => u,
        // Health and version are public information (`system:public-info-viewer`).
        Ok(None) if public => anonymous(),
        Ok(None) => return Ok(error_response(&ApiError::unauthorized())),
        Err(e) => return Ok(error_response(&e)),
    };
    let user = match crate::auth::impersonate(store, user, req.headers()) {
        Ok(u) => Arc::new(u),
        Err(e) => return Ok(error_response(&e)),
    };
    let method = req.method().clone();
    let uri = req.uri().clone();
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let resp = match route(&ctx, &user, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "request failed");
            error_response(&e)
        }
    };
    tracing::debug!(%method, %uri, content_type = %ct, user = %user.name, status = resp.status().as_u16(), "request");
    Ok(resp)
}

/// The identity of a request without credentials.
fn anonymous() -> User {
    User {
        name: "system:anonymous".into(),
        groups: vec![crate::auth::UNAUTHENTICATED.into()],
        ..User::default()
    }
}

/// Refuses the request unless the user may do it.
fn authorize(ctx: &Ctx, user: &User, a: &Attributes) -> ApiResult<()> {
    crate::auth::require(&ctx.api.store, user, a)
}

/// The token of an `Authorization: Bearer <token>` header value. The scheme is
/// case-insensitive (RFC 7235); as on the real server, surrounding space is ignored and
/// the token is the word after the scheme.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let mut parts = value.trim().splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn read_body(body: Incoming, headers: &hyper::HeaderMap) -> ApiResult<Bytes> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > MAX_BODY
    {
        return Err(ApiError::too_large(MAX_BODY));
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large(MAX_BODY))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// The media type of a `Content-Type` value: lower case, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is YAML (`application/yaml`, `text/yaml`, `…+yaml`).
fn is_yaml(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
    ) || media_type.ends_with("+yaml")
}

/// Most nodes YAML aliases may replay in one request body: an alias bomb fails early
/// instead of building a huge value.
const MAX_YAML_ALIAS_EVENTS: usize = 100_000;

/// Decodes a YAML request body like the real server's reader (go-yaml v2 through
/// sigs.k8s.io/yaml): YAML 1.1 scalars (`yes`, `y`, `on` are booleans), the first document
/// of a stream.
fn parse_yaml(text: &str) -> ApiResult<Value> {
    let mut options = serde_saphyr::Options::default();
    options.alias_limits.max_total_replayed_events = MAX_YAML_ALIAS_EVENTS;
    let docs: Vec<Value> = serde_saphyr::from_str_multiple_with_options(text, options)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    docs.into_iter()
        .next()
        .ok_or_else(|| ApiError::bad_request("the request body is empty"))
}

pub(crate) fn parse_body(bytes: &[u8], content_type: &str) -> ApiResult<Value> {
    let ct = media_type(content_type);
    let ct = ct.as_str();
    if crate::proto::is_protobuf(ct) {
        return crate::proto::decode(bytes).map_err(ApiError::unsupported_media_type);
    }
    if ct.contains("protobuf") || ct.contains("cbor") {
        return Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {ct})"
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if is_yaml(ct) {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
        return parse_yaml(text);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // YAML is a superset of JSON; clients sometimes send YAML as JSON.
        match std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| parse_yaml(t).ok())
        {
            Some(_) if !ct.contains("json") => ApiError::bad_request("unsupported content type"),
            _ => ApiError::bad_request(format!("error decoding JSON: {e}")),
        }
    })
}

async fn route(
    ctx: &Arc<Ctx>,
    user: &Arc<User>,
    req: Request<Incoming>,
) -> ApiResult<Response<Body>> {
    let (parts, body) = req.into_parts();
    let header = |h: header::HeaderName| {
        parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let r = Req {
        method: parts.method.clone(),
        segments: parts
            .uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect(),
        query: parse_query(parts.uri.query().unwrap_or("")),
        accept: header(header::ACCEPT),
        content_type: header(header::CONTENT_TYPE),
        user_agent: header(header::USER_AGENT),
    };
    let segs: Vec<&str> = r.segments.iter().map(String::as_str).collect();
    let resource_path = matches!(
        segs.as_slice(),
        ["api", "v1", _, ..] | ["apis", _, _, _, ..]
    );
    if !resource_path {
        let verb = r.method.as_str().to_ascii_lowercase();
        authorize(
            ctx,
            user,
            &Attributes::non_resource(&verb, parts.uri.path()),
        )?;
    }
    match segs.as_slice() {
        ["healthz" | "livez" | "readyz", ..] => return Ok(bytes_response(200, "text/plain", "ok")),
        ["version"] => {
            return Ok(json_response(
                200,
                &json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-gitops", "gitCommit": "", "gitTreeState": "clean",
                        "buildDate": "", "goVersion": "", "compiler": "rustc", "platform": "linux/amd64"}),
            ));
        }
        ["openapi", "v2"] => {
            return Ok(json_response(
                200,
                &crate::openapi::v2(&ctx.api.registry.read()),
            ));
        }
        ["openapi", "v3"] => {
            return Ok(json_response(
                200,
                &crate::openapi::v3_index(&ctx.api.registry.read()),
            ));
        }
        ["openapi", "v3", rest @ ..] => {
            return crate::openapi::v3_group(&ctx.api.registry.read(), &rest.join("/"))
                .map(|v| json_response(200, &v))
                .ok_or_else(ApiError::no_route);
        }
        _ => {}
    }
    if r.method == Method::GET {
        let aggregated = r.accept.contains("as=APIGroupDiscoveryList");
        let reg = ctx.api.registry.read();
        let doc = match segs.as_slice() {
            ["api"] if aggregated => Some(("aggregated", reg.aggregated(true))),
            ["apis"] if aggregated => Some(("aggregated", reg.aggregated(false))),
            ["api"] => Some(("json", reg.api_versions(&ctx.address))),
            ["apis"] => Some(("json", reg.api_group_list())),
            ["api", "v1"] => reg.resource_list("", "v1").map(|d| ("json", d)),
            ["apis", g] => reg.api_group(g).map(|d| ("json", d)),
            ["apis", g, v] => reg.resource_list(g, v).map(|d| ("json", d)),
            _ => None,
        };
        if let Some((kind, doc)) = doc {
            let ct = if kind == "aggregated" {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            } else {
                "application/json"
            };
            return Ok(bytes_response(
                200,
                ct,
                serde_json::to_vec(&doc).unwrap_or_default(),
            ));
        }
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    // Legacy `/watch/` prefix.
    let (rest, legacy_watch) = match rest {
        ["watch", rest @ ..] => (rest, true),
        _ => (rest, false),
    };
    let api = &ctx.api;
    let (rt, ns, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if api
                .resource(group, version, plural)
                .is_some_and(|t| t.namespaced) =>
        {
            let rt = api
                .resource(group, version, plural)
                .ok_or_else(ApiError::no_route)?;
            (
                rt,
                Some(ns.to_string()),
                tail.first().map(|s| s.to_string()),
                tail.get(1).map(|s| s.to_string()),
            )
        }
        [plural, tail @ ..] => {
            let rt = api
                .resource(group, version, plural)
                .ok_or_else(ApiError::no_route)?;
            (
                rt,
                None,
                tail.first().map(|s| s.to_string()),
                tail.get(1).map(|s| s.to_string()),
            )
        }
        [] => return Err(ApiError::no_route()),
    };
    if rest.len() > if ns.is_some() { 5 } else { 3 } {
        return Err(ApiError::no_route());
    }
    if rt.namespaced && ns.is_none() && name.is_some() {
        return Err(ApiError::no_route());
    }
    if rt.is_review() {
        if r.method != Method::POST || name.is_some() {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                r.method,
                r.segments.join("/")
            )));
        }
        let ns = ns.as_deref().unwrap_or("");
        authorize(
            ctx,
            user,
            &Attributes::resource("create", group, &rt.plural, "", ns, ""),
        )?;
        let body = parse_body(&read_body(body, &parts.headers).await?, &r.content_type)?;
        let ns = (!ns.is_empty()).then_some(ns);
        let out = crate::auth::review(&ctx.api.store, &ctx.auth, user, &rt, ns, body)?;
        return Ok(json_response(201, &out));
    }
    let verb = request_verb(&r, name.is_some(), legacy_watch);
    // A namespace is addressed as its own namespace (a RoleBinding there may grant it).
    let attr_ns = match (&ns, name.as_deref()) {
        (Some(ns), _) => ns.clone(),
        (None, Some(n)) if rt.group.is_empty() && rt.plural == "namespaces" => n.to_owned(),
        _ => String::new(),
    };
    let attr_name = match name.as_deref() {
        Some(n) => n.to_owned(),
        None if matches!(verb, "list" | "watch") => name_in_field_selector(&r),
        None => String::new(),
    };
    let attrs = Attributes::resource(
        verb,
        group,
        &rt.plural,
        sub.as_deref().unwrap_or(""),
        &attr_ns,
        &attr_name,
    );
    authorize(ctx, user, &attrs)?;
    if let (Some("token"), true) = (
        sub.as_deref(),
        rt.group.is_empty() && rt.plural == "serviceaccounts",
    ) {
        if r.method != Method::POST {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                r.method,
                r.segments.join("/")
            )));
        }
        let body = parse_body(&read_body(body, &parts.headers).await?, &r.content_type)?;
        let out = crate::auth::token_request(
            &ctx.api.store,
            &ctx.auth,
            ns.as_deref().unwrap_or(""),
            name.as_deref().unwrap_or(""),
            body,
        )?;
        return Ok(json_response(201, &out));
    }
    // Server-side apply may create the object: that needs `create` too.
    if verb == "patch"
        && !user.is_privileged()
        && patch_type(&r.content_type).ok() == Some(PatchType::Apply)
        && ctx
            .api
            .store
            .get(&crate::api::object_key(
                &rt,
                ns.as_deref(),
                name.as_deref().unwrap_or(""),
            ))
            .is_none()
    {
        authorize(
            ctx,
            user,
            &Attributes {
                verb: "create".into(),
                ..attrs.clone()
            },
        )?;
    }
    let rbac_user = (!user.is_privileged()).then(|| user.clone());
    let sub = match sub.as_deref() {
        None => Sub::Main,
        Some("status") if rt.status => Sub::Status,
        Some("finalize") if rt.group.is_empty() && rt.plural == "namespaces" => Sub::Finalize,
        Some("scale") if rt.scale => {
            let name = name.clone().unwrap_or_default();
            return scale(ctx, &r, &rt, ns.as_deref(), &name, body, &parts.headers).await;
        }
        Some(_) => return Err(ApiError::no_route()),
    };
    let ns = ns.as_deref();
    match (&r.method, name.as_deref()) {
        (&Method::GET, None) => {
            if legacy_watch || r.q("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch(ctx, user, &r, &rt, ns, None);
            }
            list(ctx, &r, &rt, ns).await
        }
        (&Method::GET, Some(name)) => {
            if legacy_watch || r.q("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch(ctx, user, &r, &rt, ns, Some(name));
            }
            let obj = api.get(&rt, ns, name)?;
            Ok(object_response(&r, &rt, 200, obj))
        }
        (&Method::POST, None) => {
            let body = parse_body(&read_body(body, &parts.headers).await?, &r.content_type)?;
            let wctx = write_ctx(&r, false, rbac_user.clone())?;
            let obj = api.create(&rt, ns, body, &wctx).await?;
            Ok(object_response(&r, &rt, 201, obj))
        }
        (&Method::PUT, Some(name)) => {
            let body = parse_body(&read_body(body, &parts.headers).await?, &r.content_type)?;
            let wctx = write_ctx(&r, false, rbac_user.clone())?;
            let obj = api.replace(&rt, ns, name, body, sub, &wctx).await?;
            Ok(object_response(&r, &rt, 200, obj))
        }
        (&Method::PATCH, Some(name)) => {
            let ptype = patch_type(&r.content_type)?;
            let bytes = read_body(body, &parts.headers).await?;
            let body = parse_body(
                &bytes,
                if ptype == PatchType::Apply {
                    "application/yaml"
                } else {
                    "application/json"
                },
            )?;
            let wctx = write_ctx(&r, ptype == PatchType::Apply, rbac_user.clone())?;
            let (obj, created) = api.patch(&rt, ns, name, ptype, &body, sub, &wctx).await?;
            Ok(object_response(
                &r,
                &rt,
                if created { 201 } else { 200 },
                obj,
            ))
        }
        (&Method::DELETE, Some(name)) => {
            let bytes = read_body(body, &parts.headers).await?;
            let opts = delete_opts(&r, &bytes, &r.content_type)?;
            match api.delete(&rt, ns, name, &opts).await? {
                Deleted::Pending(obj) => Ok(object_response(&r, &rt, 200, obj)),
                Deleted::Gone(obj) => {
                    let mut details =
                        json!({"name": name, "kind": rt.plural, "uid": obj["metadata"]["uid"]});
                    if !rt.group.is_empty() {
                        details["group"] = json!(rt.group);
                    }
                    Ok(json_response(
                        200,
                        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
                    ))
                }
            }
        }
        (&Method::DELETE, None) => {
            let bytes = read_body(body, &parts.headers).await?;
            let opts = delete_opts(&r, &bytes, &r.content_type)?;
            let q = list_query(&r, &rt)?;
            let page = api.list(&rt, ns, &q)?;
            for obj in page.items {
                let n = obj.value["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let ons = obj.value["metadata"]["namespace"]
                    .as_str()
                    .map(str::to_owned);
                match api.delete(&rt, ons.as_deref(), &n, &opts).await {
                    Ok(_) => {}
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(
                200,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
            ))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({} {})",
            r.method,
            r.segments.join("/")
        ))),
    }
}

/// The verb of a resource request, as Kubernetes' request info derives it.
fn request_verb(r: &Req, named: bool, legacy_watch: bool) -> &'static str {
    let watch = legacy_watch || r.q("watch").is_some_and(|w| w == "true" || w == "1");
    match (&r.method, named) {
        (&Method::GET, _) if watch => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "",
    }
}

/// The name a list or watch is limited to by `fieldSelector=metadata.name=<name>` (which
/// RBAC's `resourceNames` may then allow), else "".
fn name_in_field_selector(r: &Req) -> String {
    r.q("fieldSelector")
        .into_iter()
        .flat_map(|s| s.split(','))
        .find_map(|req| {
            let req = req.trim();
            req.strip_prefix("metadata.name==")
                .or_else(|| req.strip_prefix("metadata.name="))
        })
        .map(str::to_owned)
        .unwrap_or_default()
}

fn patch_type(ct: &str) -> ApiResult<PatchType> {
    Ok(match media_type(ct).as_str() {
        "application/json-patch+json" => PatchType::Json,
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" => PatchType::Strategic,
        "application/apply-patch+yaml"
        | "application/apply-patch+json"
        | "application/apply-patch+cbor" => PatchType::Apply,
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
            )));
        }
    })
}

fn write_ctx(r: &Req, apply: bool, user: Option<Arc<User>>) -> ApiResult<WriteCtx> {
    let dry_run = match r.q("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid dry run option {other:?}: only \"All\" is supported"
            )));
        }
    };
    let manager = match r.q("fieldManager") {
        Some(m) if !m.is_empty() => {
            if m.len() > 128 {
                return Err(ApiError::bad_request(
                    "fieldManager: Too long: may not be more than 128 bytes",
                ));
            }
            m.to_owned()
        }
        _ if apply => {
            return Err(ApiError::bad_request(
                "PATCH requests of type application/apply-patch+yaml must have a fieldManager",
            ));
        }
        _ => {
            let ua = r.user_agent.split('/').next().unwrap_or("").trim();
            let ua = if ua.is_empty() { "unknown" } else { ua };
            ua.chars().take(128).collect()
        }
    };
    let force = match r.q("force") {
        None => false,
        Some("true") => {
            if !apply {
                return Err(ApiError::bad_request(
                    "force is only allowed for apply patches",
                ));
            }
            true
        }
        Some("false") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid force value {other:?}"
            )));
        }
    };
    let field_validation = match r.q("fieldValidation") {
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        None | Some("Warn") | Some("") => FieldValidation::Warn,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: unsupported value {other:?}"
            )));
        }
    };
    Ok(WriteCtx {
        manager,
        dry_run,
        force,
        field_validation,
        user,
    })
}

fn delete_opts(r: &Req, body: &[u8], content_type: &str) -> ApiResult<DeleteOpts> {
    let mut opts = DeleteOpts {
        propagation: r.q("propagationPolicy").map(str::to_owned),
        dry_run: r.q("dryRun") == Some("All"),
        ..Default::default()
    };
    if r.q("orphanDependents") == Some("true") {
        opts.propagation = Some("Orphan".into());
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v: Value = if crate::proto::is_protobuf(content_type) {
            crate::proto::decode(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        };
        if let Some(p) = v["propagationPolicy"].as_str() {
            opts.propagation = Some(p.to_owned());
        }
        if v["orphanDependents"] == true {
            opts.propagation = Some("Orphan".into());
        }
        if let Some(uid) = v["preconditions"]["uid"].as_str() {
            opts.uid = Some(uid.to_owned());
        }
        if let Some(rv) = v["preconditions"]["resourceVersion"].as_str() {
            opts.resource_version = Some(rv.to_owned());
        }
        if v["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "All"))
        {
            opts.dry_run = true;
        }
    }
    Ok(opts)
}

fn list_query(r: &Req, rt: &ResourceType) -> ApiResult<ListQuery> {
    Ok(ListQuery {
        labels: LabelSelector::parse(r.q("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(r.q("fieldSelector").unwrap_or(""), rt)?,
        limit: match r.q("limit") {
            None | Some("") => 0,
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?
                .max(0) as usize,
        },
        continue_token: r.q("continue").filter(|c| !c.is_empty()).map(str::to_owned),
    })
}

fn object_response(r: &Req, rt: &ResourceType, code: u16, obj: Value) -> Response<Body> {
    if r.wants_table() {
        let (defs, row) = table::columns(rt);
        let include = r.q("includeObject").unwrap_or("Metadata");
        let mut rowv = json!({"cells": row(&obj)});
        if let Some(o) = table::row_object(&obj, include) {
            rowv["object"] = o;
        }
        return json_response(
            code,
            &json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                    "columnDefinitions": defs, "rows": [rowv]}),
        );
    }
    json_response(code, &obj)
}

/// How long a read from a resource version the server has not reached waits for it, as
/// the real server's watch cache does.
const FUTURE_RV_WAIT: Duration = Duration::from_secs(3);

/// The resource version a list must be at least at: `resourceVersion` with
/// `resourceVersionMatch` `NotOlderThan` (the default) or `Exact`; `0` or none mean any.
/// Refuses the combinations the real server refuses.
fn list_min_rv(r: &Req) -> ApiResult<Option<u64>> {
    let rv = r.q("resourceVersion").filter(|v| !v.is_empty());
    let rv_match = r.q("resourceVersionMatch").filter(|v| !v.is_empty());
    let invalid = |detail: String| {
        ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![crate::error::Cause::forbidden(
                "resourceVersionMatch",
                detail,
            )],
        )
    };
    match rv_match {
        None | Some("NotOlderThan") | Some("Exact") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![crate::error::Cause::not_supported(
                    "resourceVersionMatch",
                    &json!(other),
                    &[json!("Exact"), json!("NotOlderThan"), json!("")],
                )],
            ));
        }
    }
    let Some(rv) = rv else {
        if rv_match.is_some() {
            return Err(invalid(
                "resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
            ));
        }
        return Ok(None);
    };
    let n: u64 = rv.parse().map_err(|_| {
        ApiError::bad_request(format!("invalid resource version: {rv:?} is not a number"))
    })?;
    if n == 0 && rv_match == Some("Exact") {
        return Err(invalid(
            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into(),
        ));
    }
    Ok((n > 0).then_some(n))
}

/// Waits (at most [`FUTURE_RV_WAIT`]) until the store reaches `rv`; false if it did not.
async fn wait_for_rv(ctx: &Ctx, rv: u64) -> bool {
    let deadline = tokio::time::Instant::now() + FUTURE_RV_WAIT;
    let mut shutdown = ctx.shutdown.clone();
    while ctx.api.store.rv() < rv {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            _ = shutdown.changed() => return false,
        }
    }
    true
}

async fn list(
    ctx: &Arc<Ctx>,
    r: &Req,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
) -> ApiResult<Response<Body>> {
    let q = list_query(r, rt)?;
    if let Some(min) = list_min_rv(r)?
        && q.continue_token.is_none()
        && !wait_for_rv(ctx, min).await
    {
        return Err(ApiError::too_large_resource_version(
            min,
            ctx.api.store.rv(),
        ));
    }
    let page = ctx.api.list(rt, ns, &q)?;
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(n) = page.remaining {
        meta["remainingItemCount"] = json!(n);
    }
    if r.wants_table() {
        let (defs, row) = table::columns(rt);
        let include = r.q("includeObject").unwrap_or("Metadata");
        let rows: Vec<Value> = page
            .items
            .iter()
            .map(|o| {
                let v = for_version(rt, o);
                let mut rv = json!({"cells": row(&v)});
                if let Some(obj) = table::row_object(&v, include) {
                    rv["object"] = obj;
                }
                rv
            })
            .collect();
        return Ok(json_response(
            200,
            &json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows}),
        ));
    }
    // Assemble from the stored JSON of each object: no re-serialization.
    let head = json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": meta});
    let head = serde_json::to_vec(&head).unwrap_or_default();
    let mut out = Vec::with_capacity(
        head.len() + page.items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 16,
    );
    out.extend_from_slice(&head[..head.len() - 1]);
    out.extend_from_slice(b",\"items\":[");
    for (i, o) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&object_bytes(rt, o));
    }
    out.extend_from_slice(b"]}");
    Ok(bytes_response(200, "application/json", out))
}

fn object_bytes(rt: &ResourceType, o: &Obj) -> Bytes {
    if o.value["apiVersion"] == rt.api_version().as_str() {
        o.json.clone()
    } else {
        Bytes::from(serde_json::to_vec(&for_version(rt, o)).unwrap_or_default())
    }
}

/// Whether an object is in the watched set.
struct WatchFilter {
    ns: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, v: &Value) -> bool {
        if let Some(ns) = &self.ns
            && v["metadata"]["namespace"].as_str() != Some(ns)
        {
            return false;
        }
        if let Some(n) = &self.name
            && v["metadata"]["name"].as_str() != Some(n)
        {
            return false;
        }
        self.labels.matches(v) && self.fields.matches(v)
    }
}

fn watch(
    ctx: &Arc<Ctx>,
    user: &User,
    r: &Req,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: Option<&str>,
) -> ApiResult<Response<Body>> {
    let q = list_query(r, rt)?;
    let slot = WatchSlot::take(ctx, &user.name)?;
    let filter = WatchFilter {
        ns: if rt.namespaced {
            ns.map(str::to_owned)
        } else {
            None
        },
        name: name.map(str::to_owned),
        labels: q.labels,
        fields: q.fields,
    };
    let bookmarks = r.q("allowWatchBookmarks") == Some("true");
    let send_initial = r.q("sendInitialEvents") == Some("true");
    let timeout = r
        .q("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv = r
        .q("resourceVersion")
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let table = r.wants_table().then(|| table::columns(rt));
    let include = r.q("includeObject").unwrap_or("Metadata").to_owned();
    let storage = rt.storage();
    let api = ctx.api.clone();
    let prefix = crate::store::prefix(&storage, filter.ns.as_deref());

    // Where to start: the current state (no version, "0", or sendInitialEvents), or
    // events after a version.
    let (initial, floor, mut live, replay): (Vec<Arc<Obj>>, u64, _, Vec<Arc<Event>>) =
        if send_initial || rv.as_deref().is_none_or(|v| v == "0") {
            let snap = api.store.subscribe_with_snapshot(&prefix);
            (
                snap.items.into_iter().map(|(_, o)| o).collect(),
                snap.rv,
                snap.live,
                Vec::new(),
            )
        } else {
            let after: u64 = rv.as_deref().unwrap_or("0").parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid resourceVersion {:?}",
                    rv.as_deref().unwrap_or("")
                ))
            })?;
            match api.store.subscribe(after) {
                Ok(sub) => (Vec::new(), after, sub.live, sub.replay),
                Err(e) => {
                    // The real server reports a too-old version as an ERROR event.
                    let line = format!("{}\n", json!({"type": "ERROR", "object": e.to_status()}));
                    return Ok(stream_response(vec![Bytes::from(line)], None));
                }
            }
        };

    // A watch from a version the server has not reached waits for it a little, then ends
    // with the real server's "Too large resource version" error.
    let future_floor = floor > api.store.published_rv();

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut shutdown = ctx.shutdown.clone();
    let rt = rt.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let mut defs_sent = false;
        let mut encode = |type_: &str, o: &Obj| -> Bytes {
            let mut out = Vec::with_capacity(o.json.len() + 40);
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(type_.as_bytes());
            out.extend_from_slice(b"\",\"object\":");
            match &table {
                Some((defs, row)) => {
                    let v = for_version(&rt, o);
                    let mut rowv = json!({"cells": row(&v)});
                    if let Some(obj) = table::row_object(&v, &include) {
                        rowv["object"] = obj;
                    }
                    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                                       "metadata": {"resourceVersion": o.rv.to_string()}, "rows": [rowv]});
                    if !defs_sent {
                        t["columnDefinitions"] = json!(defs);
                        defs_sent = true;
                    } else {
                        t["columnDefinitions"] = json!([]);
                    }
                    out.extend_from_slice(&serde_json::to_vec(&t).unwrap_or_default());
                }
                None => out.extend_from_slice(&object_bytes(&rt, o)),
            }
            out.extend_from_slice(b"}\n");
            Bytes::from(out)
        };
        let bookmark = |rv: u64, initial_end: bool| -> Bytes {
            let mut meta = json!({"resourceVersion": rv.to_string()});
            if initial_end {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            let obj = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta});
            Bytes::from(format!("{}\n", json!({"type": "BOOKMARK", "object": obj})))
        };
        let mut last_rv = floor;
        for o in &initial {
            if filter.matches(&o.value) && tx.send(encode("ADDED", o)).await.is_err() {
                return;
            }
        }
        if send_initial && bookmarks && tx.send(bookmark(floor, true)).await.is_err() {
            return;
        }
        let mut deliver = |e: &Event, last_rv: &mut u64| -> Option<Bytes> {
            if e.rv <= *last_rv || e.storage() != storage {
                return None;
            }
            *last_rv = e.rv;
            let now = filter.matches(&e.obj.value);
            let before = e.prev.as_ref().is_some_and(|p| filter.matches(&p.value));
            let type_ = match (e.type_, before, now) {
                (EventType::Deleted, true, _) => "DELETED",
                (EventType::Deleted, false, _) => return None,
                (_, false, true) => "ADDED",
                (_, true, true) => "MODIFIED",
                (_, true, false) => "DELETED",
                (_, false, false) => return None,
            };
            if table.is_none() && e.obj.value["apiVersion"] == rt.api_version().as_str() {
                return Some(e.line(type_));
            }
            Some(encode(type_, &e.obj))
        };
        for e in &replay {
            if let Some(b) = deliver(e, &mut last_rv)
                && tx.send(b).await.is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let too_large = tokio::time::sleep(FUTURE_RV_WAIT);
        tokio::pin!(too_large);
        let mut waiting_for_floor = future_floor;
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                ev = live.recv() => {
                    // Send what is already queued together: fewer, larger writes.
                    let mut batch = bytes::BytesMut::new();
                    let mut next = ev;
                    loop {
                        match next {
                            Ok(e) => {
                                if let Some(b) = deliver(&e, &mut last_rv) {
                                    batch.extend_from_slice(&b);
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                let e = ApiError::expired("the watch fell behind; list again");
                                batch.extend_from_slice(format!("{}\n", json!({"type": "ERROR", "object": e.to_status()})).as_bytes());
                                let _ = tx.send(batch.freeze()).await;
                                return;
                            }
                            Err(_) => return,
                        }
                        if batch.len() > 256 * 1024 {
                            break;
                        }
                        next = match live.try_recv() {
                            Ok(e) => Ok(e),
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => Err(tokio::sync::broadcast::error::RecvError::Lagged(n)),
                            Err(tokio::sync::broadcast::error::TryRecvError::Closed) => Err(tokio::sync::broadcast::error::RecvError::Closed),
                            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                        };
                    }
                    if !batch.is_empty() && tx.send(batch.freeze()).await.is_err() {
                        return;
                    }
                }
                _ = tick.tick(), if bookmarks => {
                    let rv = api.store.published_rv().max(last_rv);
                    last_rv = rv;
                    if tx.send(bookmark(rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut too_large, if waiting_for_floor => {
                    let current = api.store.published_rv();
                    if current < floor {
                        let e = ApiError::too_large_resource_version(floor, current);
                        let line = format!("{}\n", json!({"type": "ERROR", "object": e.to_status()}));
                        let _ = tx.send(Bytes::from(line)).await;
                        return;
                    }
                    waiting_for_floor = false;
                }
                _ = &mut deadline => return,
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(stream_response(Vec::new(), Some(rx)))
}

fn stream_response(first: Vec<Bytes>, rx: Option<mpsc::Receiver<Bytes>>) -> Response<Body> {
    use futures::StreamExt;
    let head = futures::stream::iter(first);
    let body: Body = match rx {
        Some(mut rx) => {
            let tail = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
            BodyExt::boxed(StreamBody::new(
                head.chain(tail)
                    .map(|b| Ok::<_, Infallible>(Frame::data(b))),
            ))
        }
        None => BodyExt::boxed(StreamBody::new(
            head.map(|b| Ok::<_, Infallible>(Frame::data(b))),
        )),
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private"),
    );
    resp
}

/// The `/scale` subresource: an `autoscaling/v1` Scale view of `spec.replicas`.
async fn scale(
    ctx: &Arc<Ctx>,
    r: &Req,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    body: Incoming,
    headers: &hyper::HeaderMap,
) -> ApiResult<Response<Body>> {
    let api = &ctx.api;
    let obj = api.get(rt, ns, name)?;
    let to_scale = |o: &Value| -> Value {
        let selector = o["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
                         "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
                         "creationTimestamp": o["metadata"]["creationTimestamp"]},
            "spec": {"replicas": o["spec"]["replicas"].as_i64().unwrap_or(1)},
            "status": {"replicas": o["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
        })
    };
    let current = to_scale(&obj);
    let desired = match r.method {
        Method::GET => return Ok(json_response(200, &current)),
        Method::PUT => parse_body(&read_body(body, headers).await?, &r.content_type)?,
        Method::PATCH => {
            let ptype = patch_type(&r.content_type)?;
            let p = parse_body(
                &read_body(body, headers).await?,
                if ptype == PatchType::Apply {
                    "application/yaml"
                } else {
                    "application/json"
                },
            )?;
            let mut s = current.clone();
            let start_bytes = crate::limits::measure(&s, usize::MAX, usize::MAX)
                .map(|size| size.bytes)
                .unwrap_or(0);
            match ptype {
                PatchType::Json => {
                    crate::patch::json_patch(
                        &mut s,
                        &p,
                        start_bytes,
                        &crate::patch::JsonPatchLimits::default(),
                    )
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                }
                _ => crate::patch::merge_patch(&mut s, &p),
            }
            s
        }
        _ => {
            return Err(ApiError::method_not_allowed(
                "only get, update and patch are allowed on scale",
            ));
        }
    };
    let Some(replicas) = desired["spec"]["replicas"].as_i64().filter(|n| *n >= 0) else {
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![crate::error::Cause::invalid(
                "spec.replicas",
                &desired["spec"]["replicas"],
                "must be greater than or equal to 0",
            )],
        ));
    };
    let wctx = write_ctx(r, false, None)?;
    if wctx.dry_run {
        let mut s = current;
        s["spec"]["replicas"] = json!(replicas);
        return Ok(json_response(200, &s));
    }
    let updated = api
        .update_with(rt, ns, name, Sub::Main, &wctx.manager, |o| {
            if o["spec"]["replicas"] == json!(replicas) {
                return false;
            }
            crate::api::object_at(o, &["spec"]).insert("replicas".into(), json!(replicas));
            true
        })
        .await?;
    Ok(json_response(200, &to_scale(&updated.unwrap_or(obj))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("  Bearer abc  "), Some("abc"));
        // As the real server: the token is the word after the scheme.
        assert_eq!(bearer_token("Bearer abc def"), Some("abc"));
        assert_eq!(bearer_token("Bearer  abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token(""), None);
        let mut h = hyper::HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bEaReR secret".parse().unwrap());
        let auth = crate::auth::Authenticator::new("secret", b"key");
        let store = crate::store::Store::open(
            &tempfile::tempdir().unwrap().path().join("db"),
            crate::store::Durability::default(),
        )
        .unwrap();
        assert!(auth.authenticate(&store, &h, None).unwrap().is_some());
        h.insert(header::AUTHORIZATION, "Bearer other!".parse().unwrap());
        assert_eq!(auth.authenticate(&store, &h, None).unwrap_err().code, 401);
    }

    #[test]
    fn yaml_bodies() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: b\n";
        for ct in [
            "application/yaml",
            "application/yaml; charset=utf-8",
            "Application/YAML",
            "text/yaml",
            "application/x-yaml",
            "application/apply-patch+yaml",
        ] {
            let v = parse_body(cm.as_bytes(), ct).unwrap();
            assert_eq!(v["metadata"]["name"], "demo", "{ct}");
        }
        // The first document of a stream, as the real server's reader.
        let v = parse_body(
            format!("{cm}---\nkind: Other\n").as_bytes(),
            "application/yaml",
        )
        .unwrap();
        assert_eq!(v["kind"], "ConfigMap");
        // YAML 1.1 scalars, as go-yaml v2.
        let v = parse_body(b"metadata: {name: y, labels: {a: 'y'}}", "application/yaml").unwrap();
        assert_eq!(v["metadata"]["name"], true);
        assert_eq!(v["metadata"]["labels"]["a"], "y");
        // JSON is YAML.
        let v = parse_body(br#"{"kind": "ConfigMap"}"#, "application/yaml").unwrap();
        assert_eq!(v["kind"], "ConfigMap");
    }

    #[test]
    fn yaml_alias_bombs_fail_early() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let e = parse_body(doc.as_bytes(), "application/yaml").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message.starts_with("error decoding YAML"),
            "{}",
            e.message
        );
    }
}
