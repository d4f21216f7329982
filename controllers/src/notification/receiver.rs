//! Receivers: the reconciler that gives each Receiver its `status.webhookPath`
//! (`/hook/<sha256(token + name + namespace)>`), and the webhook server that checks a
//! request the way its sender signs it and then annotates the Receiver's resources with
//! `reconcile.fluxcd.io/requestedAt`.
//!
//! Answers: 404 for an unknown path, 413 for a body over 3 MiB, 503 while the Receiver is
//! suspended or not ready, 401 when the signature or token does not check out, 400 for an
//! event type not accepted or a payload that does not decode, 500 when a resource could
//! not be annotated, 200 otherwise. An invalid request changes nothing.

use super::Shared;
use super::events::MAX_BODY;
use crate::runtime::http::{self, HttpResponse};
use crate::runtime::reconcile::{ReconcileError, ReconcileResult, Reconciler, Requeue};
use crate::runtime::status::{ConditionSet, StatusWriter, record_reconcile};
use gitops_api::Receiver;
use gitops_api::condition::{reasons, types};
use gitops_api::notification::CrossNamespaceObjectReference;
use hmac::{KeyInit, Mac};
use hyper::header::HeaderMap;
use hyper::{Method, StatusCode};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The prefix of every webhook path.
pub(crate) const WEBHOOK_PREFIX: &str = "/hook/";
/// Reason of a Receiver whose token cannot be read.
const TOKEN_NOT_FOUND: &str = "TokenNotFound";
/// Reason of a Receiver whose spec cannot be served.
const VALIDATION_FAILED: &str = "ValidationFailed";

/// API versions of kinds Receivers name without one (as Flux).
fn default_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Bucket" | "HelmChart" | "HelmRepository" | "GitRepository" | "OCIRepository" => {
            "source.toolkit.fluxcd.io/v1"
        }
        "ImageRepository" => "image.toolkit.fluxcd.io/v1",
        "ArtifactGenerator" => "source.extensions.fluxcd.io/v1beta1",
        _ => return None,
    })
}

/// The webhook path of a Receiver with `token`.
pub(crate) fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    format!("{WEBHOOK_PREFIX}{}", hex::encode(digest))
}

/// The Receiver reconciler.
pub(crate) struct ReceiverReconciler {
    shared: Arc<Shared>,
}

impl ReceiverReconciler {
    pub fn new(shared: Arc<Shared>) -> Self {
        ReceiverReconciler { shared }
    }
}

/// The `token` of the Receiver's Secret.
async fn token(shared: &Shared, r: &Receiver) -> Result<String, String> {
    let ns = r.namespace().unwrap_or_default();
    let Some(s) = &r.spec.secret_ref else {
        return Ok(String::new());
    };
    let api: Api<Secret> = Api::namespaced(shared.client.clone(), &ns);
    let secret = api.get(&s.name).await.map_err(|e| {
        format!(
            "unable to read token from secret '{ns}/{}' error: {e}",
            s.name
        )
    })?;
    secret
        .data
        .and_then(|d| {
            d.get("token")
                .map(|t| String::from_utf8_lossy(&t.0).into_owned())
        })
        .ok_or_else(|| {
            format!(
                "invalid '{ns}/{}' secret data: required fields 'token'",
                s.name
            )
        })
}

/// Why a Receiver cannot be served as specified, if it cannot.
fn unsupported(r: &Receiver) -> Option<String> {
    let t = r.spec.type_.as_str();
    if !matches!(
        t,
        "generic"
            | "generic-hmac"
            | "github"
            | "gitlab"
            | "bitbucket"
            | "harbor"
            | "dockerhub"
            | "quay"
            | "gcr"
            | "nexus"
            | "acr"
            | "cdevents"
    ) {
        return Some(format!("receiver type '{t}' is not supported"));
    }
    if r.spec
        .resource_filter
        .as_deref()
        .is_some_and(|f| !f.is_empty())
        || r.spec
            .resources
            .iter()
            .any(|x| x.filter.as_deref().is_some_and(|f| !f.is_empty()))
    {
        return Some(
            "CEL resource filters (spec.resourceFilter, spec.resources[].filter) are not supported"
                .into(),
        );
    }
    if r.spec.secret_ref.is_none() {
        return Some(format!("secretRef is required for '{t}' receivers"));
    }
    None
}

impl Reconciler<Receiver> for ReceiverReconciler {
    fn finalizer(&self) -> &str {
        crate::kustomize::FINALIZER
    }

    async fn reconcile(&self, obj: Arc<Receiver>) -> ReconcileResult {
        let ns = obj.namespace().unwrap_or_default();
        let api: Api<Receiver> = Api::namespaced(self.shared.client.clone(), &ns);
        let mut writer = StatusWriter::new(api, obj.as_ref());
        let mut status = obj.status.clone().unwrap_or_default();
        let mut conds = ConditionSet::of(obj.status.as_ref(), obj.metadata.generation);
        let result = if let Some(msg) = unsupported(&obj) {
            conds.mark_failure(None, VALIDATION_FAILED, &msg, true);
            status.webhook_path = None;
            Err(ReconcileError::terminal(VALIDATION_FAILED, msg))
        } else {
            match token(&self.shared, &obj).await {
                Ok(t) => {
                    let path = webhook_path(&t, &obj.name_any(), &ns);
                    let msg = format!("Receiver initialized for path: {path}");
                    conds.mark_ready(reasons::SUCCEEDED, &msg);
                    if status.webhook_path.as_deref() != Some(&path) {
                        tracing::info!(namespace = ns, name = obj.name_any(), "{msg}");
                    }
                    status.webhook_path = Some(path);
                    Ok(Requeue::Interval)
                }
                Err(msg) => {
                    conds.set(types::READY, false, TOKEN_NOT_FOUND, &msg);
                    conds.remove(types::RECONCILING);
                    status.webhook_path = None;
                    Err(ReconcileError::retriable(TOKEN_NOT_FOUND, msg))
                }
            }
        };
        status.conditions = conds.conditions;
        let final_ = result.as_ref().map_or_else(|e| e.is_terminal(), |_| true);
        record_reconcile(obj.as_ref(), &mut status, final_);
        if let Err(e) = writer.write(&status).await {
            tracing::warn!(error = %e, "writing the Receiver status failed");
        }
        result
    }

    async fn finalize(&self, _obj: Arc<Receiver>) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Serves the webhooks on `listener`.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
) -> tokio::task::JoinHandle<()> {
    http::serve(listener, move |req| {
        let shared = shared.clone();
        async move { handle(&shared, req).await }
    })
}

/// Why a request was refused.
#[derive(Debug)]
enum Refused {
    /// Signature or token wrong or missing (401).
    Unauthorized(String),
    /// Event not accepted, payload not decodable (400).
    BadRequest(String),
}

async fn handle(shared: &Shared, req: hyper::Request<hyper::body::Incoming>) -> HttpResponse {
    let path = req.uri().path().to_owned();
    if !path.starts_with(WEBHOOK_PREFIX) {
        return http::text(StatusCode::NOT_FOUND, "not found");
    }
    if req.method() != Method::POST && req.method() != Method::PUT {
        return http::text(StatusCode::METHOD_NOT_ALLOWED, "webhooks are POSTed");
    }
    let (parts, body) = req.into_parts();
    let body = match http::read_body(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(path, "reading a webhook body failed: {e:?}");
            return e.response(MAX_BODY);
        }
    };
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        shared.receivers.wait_until_ready(),
    )
    .await;
    let Some(receiver) = shared
        .receivers
        .state()
        .into_iter()
        .find(|r| r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(&path))
    else {
        return http::text(StatusCode::NOT_FOUND, "not found");
    };
    let ns = receiver.namespace().unwrap_or_default();
    let name = receiver.name_any();
    let ready = receiver
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == types::READY))
        .is_some_and(|c| c.status == gitops_api::ConditionStatus::True);
    if receiver.spec.suspend || !ready {
        tracing::error!(
            namespace = ns,
            name,
            suspended = receiver.spec.suspend,
            "unable to process request: receiver is suspended or not ready"
        );
        return http::text(StatusCode::SERVICE_UNAVAILABLE, "receiver is not ready");
    }
    let token = match token(shared, &receiver).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(
                namespace = ns,
                name,
                error = e,
                "unable to validate payload"
            );
            return http::text(
                StatusCode::SERVICE_UNAVAILABLE,
                "receiver token unavailable",
            );
        }
    };
    let checked = match validate(&receiver, &token, &parts.headers, &body) {
        Ok(()) if receiver.spec.type_ == "gcr" => {
            validate_gcr(shared, &receiver, &parts.headers, &body).await
        }
        other => other,
    };
    if let Err(refused) = checked {
        let (code, msg) = match refused {
            Refused::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            Refused::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        };
        tracing::error!(
            namespace = ns,
            name,
            error = msg,
            "unable to validate payload"
        );
        return http::text(code, msg);
    }
    tracing::info!(
        namespace = ns,
        name,
        "handling {} webhook",
        receiver.spec.type_
    );
    let mut failed = false;
    for res in &receiver.spec.resources {
        if let Err(e) = request_reconcile(shared, &ns, &res.reference).await {
            tracing::error!(namespace = ns, name, error = %e, kind = res.reference.kind, "unable to request reconciliation");
            failed = true;
        }
    }
    if failed {
        http::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "some resources could not be annotated",
        )
    } else {
        http::text(StatusCode::OK, "")
    }
}

/// Annotates the resource (or the resources matching labels, for `*`).
async fn request_reconcile(
    shared: &Shared,
    receiver_ns: &str,
    r: &CrossNamespaceObjectReference,
) -> anyhow::Result<()> {
    let ns = match r.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(n) if shared.no_cross_namespace_refs && n != receiver_ns => {
            anyhow::bail!("cross-namespace references are not allowed")
        }
        Some(n) => n,
        None => receiver_ns,
    };
    let api_version = match r.api_version.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => v,
        None => default_api_version(&r.kind)
            .ok_or_else(|| anyhow::anyhow!("apiVersion must be specified for kind {:?}", r.kind))?,
    };
    let ar = shared.resource(api_version, &r.kind).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(shared.client.clone(), ns, &ar);
    let names: Vec<String> = if r.name == "*" {
        let labels = r.match_labels.as_ref().ok_or_else(|| {
            anyhow::anyhow!("matchLabels field not set when using wildcard '*' as name")
        })?;
        let selector = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let list = api.list(&ListParams::default().labels(&selector)).await?;
        if list.items.is_empty() {
            tracing::error!(
                kind = r.kind,
                namespace = ns,
                selector,
                "no resources found with matching labels"
            );
        }
        list.items.into_iter().map(|o| o.name_any()).collect()
    } else {
        vec![r.name.clone()]
    };
    let now = jiff::Timestamp::now().to_string();
    let patch = serde_json::json!({
        "metadata": {"annotations": {gitops_api::annotations::REQUESTED_AT: now}}
    });
    for name in names {
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| anyhow::anyhow!("unable to annotate {} '{ns}/{name}': {e}", r.kind))?;
        tracing::info!(kind = r.kind, namespace = ns, name, "resource annotated");
    }
    Ok(())
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a `sha1=…`, `sha256=…` or `sha512=…` HMAC signature of `body` (GitHub's
/// format, also used by Bitbucket Server and `generic-hmac`).
fn check_signature(signature: &str, body: &[u8], key: &[u8]) -> Result<(), String> {
    let (algo, hexsig) = signature
        .split_once('=')
        .ok_or_else(|| "missing or malformed signature".to_string())?;
    let sig = hex::decode(hexsig.trim()).map_err(|_| "malformed signature".to_string())?;
    let ok = match algo {
        "sha1" => hmac_ok::<hmac::Hmac<sha1::Sha1>>(key, body, &sig),
        "sha256" => hmac_ok::<hmac::Hmac<Sha256>>(key, body, &sig),
        "sha512" => hmac_ok::<hmac::Hmac<sha2::Sha512>>(key, body, &sig),
        other => return Err(format!("unknown signature algorithm {other:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err("payload signature check failed".into())
    }
}

fn hmac_ok<M: Mac + KeyInit>(key: &[u8], body: &[u8], sig: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(sig).is_ok()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// `event` is allowed when the Receiver lists no events or lists it (case-insensitively).
fn event_allowed(r: &Receiver, event: &str, sender: &str) -> Result<(), Refused> {
    if r.spec.events.is_empty() || r.spec.events.iter().any(|e| e.eq_ignore_ascii_case(event)) {
        Ok(())
    } else {
        Err(Refused::BadRequest(format!(
            "the {sender} event {event:?} is not authorised"
        )))
    }
}

/// Checks that `body` is a JSON object with the `required` keys, or refuses it naming the
/// sender.
fn payload(body: &[u8], sender: &str, required: &[&str]) -> Result<(), Refused> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Refused::BadRequest(format!("cannot decode {sender} webhook payload: {e}")))?;
    let obj = v.as_object().ok_or_else(|| {
        Refused::BadRequest(format!(
            "cannot decode {sender} webhook payload: not an object"
        ))
    })?;
    match required.iter().find(|k| !obj.contains_key(**k)) {
        Some(k) => Err(Refused::BadRequest(format!(
            "cannot decode {sender} webhook payload: no {k:?}"
        ))),
        None => Ok(()),
    }
}

/// A `gcr` request: the Pub/Sub push's Google ID token, then its envelope.
async fn validate_gcr(
    shared: &Shared,
    r: &Receiver,
    h: &HeaderMap,
    body: &[u8],
) -> Result<(), Refused> {
    let ns = r.namespace().unwrap_or_default();
    let Some(s) = &r.spec.secret_ref else {
        return Err(Refused::Unauthorized(
            "secretRef is required for GCR receivers".into(),
        ));
    };
    let api: Api<Secret> = Api::namespaced(shared.client.clone(), &ns);
    let data = api
        .get(&s.name)
        .await
        .map_err(|e| {
            Refused::Unauthorized(format!(
                "unable to read secret '{ns}/{}' error: {e}",
                s.name
            ))
        })?
        .data
        .unwrap_or_default();
    let field = |k: &str| {
        data.get(k)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Refused::Unauthorized(format!(
                    "invalid secret data: required field '{k}' for GCR receiver"
                ))
            })
    };
    let (email, audience) = (field("email")?, field("audience")?);
    let now = jiff::Timestamp::now().as_second();
    super::gcr::authenticate(
        &shared.google_keys,
        header(h, "Authorization"),
        &email,
        &audience,
        now,
    )
    .await
    .map_err(|e| Refused::Unauthorized(format!("cannot authenticate GCR request: {e}")))?;
    super::gcr::check_payload(body).map_err(Refused::BadRequest)
}

/// Checks a request the way its sender authenticates it.
fn validate(r: &Receiver, token: &str, h: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
    match r.spec.type_.as_str() {
        "generic" => Ok(()),
        "generic-hmac" => check_signature(header(h, "X-Signature"), body, token.as_bytes())
            .map_err(|e| Refused::Unauthorized(format!("unable to validate HMAC signature: {e}"))),
        t @ ("github" | "bitbucket") => {
            let sender = if t == "github" {
                "GitHub"
            } else {
                "Bitbucket server"
            };
            let sig = match header(h, "X-Hub-Signature-256") {
                "" => header(h, "X-Hub-Signature"),
                s => s,
            };
            check_signature(sig, body, token.as_bytes()).map_err(|e| {
                Refused::Unauthorized(format!("the {sender} signature header is invalid: {e}"))
            })?;
            let event = if t == "github" {
                header(h, "X-GitHub-Event")
            } else {
                header(h, "X-Event-Key")
            };
            event_allowed(r, event, sender)
        }
        "gitlab" => {
            if !same(header(h, "X-Gitlab-Token").as_bytes(), token.as_bytes()) {
                return Err(Refused::Unauthorized(
                    "the X-Gitlab-Token header value does not match the receiver token".into(),
                ));
            }
            event_allowed(r, header(h, "X-Gitlab-Event"), "GitLab")
        }
        "harbor" => {
            if !same(header(h, "Authorization").as_bytes(), token.as_bytes()) {
                return Err(Refused::Unauthorized(
                    "the Harbor Authorization header value does not match the receiver token"
                        .into(),
                ));
            }
            Ok(())
        }
        "dockerhub" => payload(body, "DockerHub", &["push_data", "repository"]),
        "quay" => payload(body, "Quay", &[]),
        "acr" => payload(body, "ACR", &["target"]),
        "nexus" => {
            let sig = header(h, "X-Nexus-Webhook-Signature");
            if sig.is_empty() {
                return Err(Refused::Unauthorized(
                    "the Nexus signature is missing from header".into(),
                ));
            }
            let ok = hex::decode(sig)
                .is_ok_and(|s| hmac_ok::<hmac::Hmac<sha1::Sha1>>(token.as_bytes(), body, &s));
            if !ok {
                return Err(Refused::Unauthorized("invalid Nexus signature".into()));
            }
            payload(body, "Nexus", &[])
        }
        "cdevents" => {
            check_cdevent(body)?;
            event_allowed(r, header(h, "Ce-Type"), "CDEvent")
        }
        // checked by `validate_gcr` (it needs the Secret's email and audience and Google's keys)
        "gcr" => Ok(()),
        t => Err(Refused::BadRequest(format!(
            "receiver type {t:?} not supported"
        ))),
    }
}

/// Checks that `body` is a CDEvent (spec v0.4): a `context` with `specversion`, `id`,
/// `source`, `type` (`dev.cdevents.<subject>.<predicate>.<semver>`) and `timestamp`, and a
/// `subject` with `content`.
fn check_cdevent(body: &[u8]) -> Result<(), Refused> {
    let bad = |m: &str| Refused::BadRequest(format!("unable to validate CDEvent event: {m}"));
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    let ctx = v.get("context").ok_or_else(|| bad("no context"))?;
    for key in ["specversion", "id", "source", "type", "timestamp"] {
        if ctx
            .get(key)
            .and_then(|x| x.as_str())
            .is_none_or(str::is_empty)
        {
            return Err(bad(&format!("context.{key} is required")));
        }
    }
    let type_ = ctx["type"].as_str().unwrap_or_default();
    // dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>
    let parts: Vec<&str> = type_.splitn(7, '.').collect();
    let version_ok = parts.len() == 7
        && parts[4..6].iter().all(|p| p.parse::<u64>().is_ok())
        && parts[6]
            .split('-')
            .next()
            .is_some_and(|p| p.parse::<u64>().is_ok());
    if !version_ok || parts[0] != "dev" || parts[1] != "cdevents" {
        return Err(bad(&format!(
            "context.type {type_:?} is not a CDEvents type"
        )));
    }
    if ctx["timestamp"]
        .as_str()
        .unwrap_or_default()
        .parse::<jiff::Timestamp>()
        .is_err()
    {
        return Err(bad("context.timestamp is not an RFC 3339 time"));
    }
    let subject = v.get("subject").ok_or_else(|| bad("no subject"))?;
    if !subject.get("content").is_some_and(|c| c.is_object()) {
        return Err(bad("subject.content is required"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn receiver(type_: &str, events: &[&str]) -> Receiver {
        let mut r = Receiver::new("r", Default::default());
        r.spec.type_ = type_.into();
        r.spec.events = events.iter().map(|s| s.to_string()).collect();
        r
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn sign256(key: &str, body: &[u8]) -> String {
        let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        m.update(body);
        format!("sha256={}", hex::encode(m.finalize().into_bytes()))
    }

    #[test]
    fn webhook_path_is_flux_digest() {
        // sha256("tokennameflux-system")
        let p = webhook_path("token", "name", "flux-system");
        let want = hex::encode(Sha256::digest(b"tokennameflux-system"));
        assert_eq!(p, format!("/hook/{want}"));
    }

    #[test]
    fn github_signature_and_event_filter() {
        let r = receiver("github", &["push"]);
        let body = br#"{"ref":"refs/heads/main"}"#;
        let ok = headers(&[
            ("X-Hub-Signature-256", sign256("s3cret", body)),
            ("X-GitHub-Event", "push".into()),
        ]);
        assert!(validate(&r, "s3cret", &ok, body).is_ok());
        let wrong = headers(&[
            ("X-Hub-Signature-256", sign256("other", body)),
            ("X-GitHub-Event", "push".into()),
        ]);
        assert!(matches!(
            validate(&r, "s3cret", &wrong, body),
            Err(Refused::Unauthorized(_))
        ));
        let none = headers(&[("X-GitHub-Event", "push".into())]);
        assert!(matches!(
            validate(&r, "s3cret", &none, body),
            Err(Refused::Unauthorized(_))
        ));
        let ping = headers(&[
            ("X-Hub-Signature-256", sign256("s3cret", body)),
            ("X-GitHub-Event", "ping".into()),
        ]);
        assert!(matches!(
            validate(&r, "s3cret", &ping, body),
            Err(Refused::BadRequest(_))
        ));
        // sha1 (X-Hub-Signature) is accepted too
        let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(b"s3cret").unwrap();
        m.update(body);
        let sha1 = headers(&[
            (
                "X-Hub-Signature",
                format!("sha1={}", hex::encode(m.finalize().into_bytes())),
            ),
            ("X-GitHub-Event", "PUSH".into()),
        ]);
        assert!(validate(&r, "s3cret", &sha1, body).is_ok());
    }

    #[test]
    fn token_senders() {
        let gl = receiver("gitlab", &[]);
        let h = headers(&[
            ("X-Gitlab-Token", "t0k".into()),
            ("X-Gitlab-Event", "Push Hook".into()),
        ]);
        assert!(validate(&gl, "t0k", &h, b"{}").is_ok());
        assert!(matches!(
            validate(&gl, "other", &h, b"{}"),
            Err(Refused::Unauthorized(_))
        ));
        let hb = receiver("harbor", &[]);
        assert!(
            validate(
                &hb,
                "t0k",
                &headers(&[("Authorization", "t0k".into())]),
                b"{}"
            )
            .is_ok()
        );
        assert!(validate(&hb, "t0k", &HeaderMap::new(), b"{}").is_err());
        let hm = receiver("generic-hmac", &[]);
        let body = b"payload";
        assert!(
            validate(
                &hm,
                "k",
                &headers(&[("X-Signature", sign256("k", body))]),
                body
            )
            .is_ok()
        );
        assert!(
            validate(
                &hm,
                "k",
                &headers(&[("X-Signature", sign256("k", b"x"))]),
                body
            )
            .is_err()
        );
    }

    #[test]
    fn registry_payloads() {
        let h = HeaderMap::new();
        let dh = receiver("dockerhub", &[]);
        assert!(
            validate(
                &dh,
                "",
                &h,
                br#"{"push_data":{"tag":"v1"},"repository":{"repo_url":"x"}}"#
            )
            .is_ok()
        );
        assert!(matches!(
            validate(&dh, "", &h, b"not json"),
            Err(Refused::BadRequest(_))
        ));
        assert!(
            validate(
                &receiver("quay", &[]),
                "",
                &h,
                br#"{"docker_url":"q","updated_tags":["a"]}"#
            )
            .is_ok()
        );
        assert!(
            validate(
                &receiver("acr", &[]),
                "",
                &h,
                br#"{"action":"push","target":{"repository":"r","tag":"t"}}"#
            )
            .is_ok()
        );
        let nexus = receiver("nexus", &[]);
        let body = br#"{"action":"CREATED","repositoryName":"docker"}"#;
        let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(b"k").unwrap();
        m.update(body);
        let sig = hex::encode(m.finalize().into_bytes());
        assert!(
            validate(
                &nexus,
                "k",
                &headers(&[("X-Nexus-Webhook-Signature", sig)]),
                body
            )
            .is_ok()
        );
        assert!(validate(&nexus, "k", &h, body).is_err());
        let cd = receiver("cdevents", &["dev.cdevents.change.merged.0.1.2"]);
        let ev = br#"{"context":{"specversion":"0.4.1","id":"1","source":"ci","type":"dev.cdevents.change.merged.0.1.2","timestamp":"2024-01-01T00:00:00Z"},"subject":{"id":"c","content":{}}}"#;
        let ce = headers(&[("Ce-Type", "dev.cdevents.change.merged.0.1.2".into())]);
        assert!(validate(&cd, "", &ce, ev).is_ok());
        assert!(validate(&cd, "", &ce, br#"{"context":{}}"#).is_err());
        let other = headers(&[("Ce-Type", "dev.cdevents.build.started.0.1.1".into())]);
        assert!(matches!(
            validate(&cd, "", &other, ev),
            Err(Refused::BadRequest(_))
        ));
    }
}
