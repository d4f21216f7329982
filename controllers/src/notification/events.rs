//! The event server: what Flux's notification-controller does with a posted event.
//!
//! `POST /` with a Flux event (JSON, at most 3 MiB): the metadata is cleaned (only keys
//! under `event.toolkit.fluxcd.io/` or the involved object's group stay, minus digests and
//! checksums), identical events within the rate-limit interval are answered 429, and the
//! event is matched against every Alert (sources by kind, namespace, name or `*`,
//! `matchLabels`; severity; inclusion and exclusion lists). Each match is dispatched in a
//! task of its own — the sender gets 202 at once — to the Alert's Provider, after Flux's
//! commit-status rules and metadata combination (RFC 0008). Failures become Warning events
//! on the Alert, with secrets masked.

use super::Shared;
use super::providers::{self, ProviderConfig, TlsMaterial};
use crate::runtime::events::EventType;
use crate::runtime::http::{self, HttpResponse};
use crate::runtime::object::object_ref;
use futures::FutureExt;
use gitops_api::event::{self as ev, Event};
use gitops_api::notification::{CrossNamespaceObjectReference, EventSeverity};
use gitops_api::{Alert, Provider};
use hyper::{Method, StatusCode};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest event body (as Flux: 3 MiB).
pub(crate) const MAX_BODY: usize = 3 * 1024 * 1024;
/// The default Provider timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The event endpoint's state.
pub(crate) struct EventServer {
    shared: Arc<Shared>,
    limiter: RateLimiter,
    regexes: Mutex<HashMap<String, Option<regex::Regex>>>,
}

impl EventServer {
    /// A server dropping identical events within `interval`.
    pub fn new(shared: Arc<Shared>, interval: Duration) -> Arc<Self> {
        Arc::new(EventServer {
            shared,
            limiter: RateLimiter::new(interval),
            regexes: Mutex::new(HashMap::new()),
        })
    }
}

/// Serves the event endpoint on `listener`.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<EventServer>,
) -> tokio::task::JoinHandle<()> {
    http::serve(listener, move |req| {
        let server = server.clone();
        async move { server.handle(req).await }
    })
}

impl EventServer {
    async fn handle(self: Arc<Self>, req: hyper::Request<hyper::body::Incoming>) -> HttpResponse {
        if req.method() != Method::POST {
            return http::text(StatusCode::METHOD_NOT_ALLOWED, "events are POSTed");
        }
        let body = match http::read_body(req.into_body(), MAX_BODY).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("reading an event failed: {e:?}");
                return e.response(MAX_BODY);
            }
        };
        let mut event: Event = match serde_json::from_slice(&body) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "decoding the event failed");
                return http::text(
                    StatusCode::BAD_REQUEST,
                    format!("decoding the event failed: {e}"),
                );
            }
        };
        cleanup_metadata(&mut event);
        if !self.limiter.allow(&event_key(&event)) {
            tracing::debug!(object = %object_string(&event), "discarding event, rate limiting duplicate events");
            return http::text(StatusCode::TOO_MANY_REQUESTS, "duplicate event");
        }
        exclude_internal_metadata(&mut event);
        let alerts = self.matching_alerts(&event).await;
        if alerts.is_empty() {
            tracing::debug!(object = %object_string(&event), "discarding event, no alerts found for the involved object");
            return http::text(StatusCode::ACCEPTED, "");
        }
        tracing::info!(object = %object_string(&event), reason = event.reason, alerts = alerts.len(), "dispatching event");
        for alert in alerts {
            let shared = self.shared.clone();
            let event = event.clone();
            tokio::spawn(async move { dispatch(&shared, &event, &alert).await });
        }
        http::text(StatusCode::ACCEPTED, "")
    }

    /// The Alerts `event` matches (not suspended; a source matches; the message passes
    /// the inclusion and exclusion lists).
    async fn matching_alerts(&self, event: &Event) -> Vec<Arc<Alert>> {
        // the stores may still be listing right after start
        for store in [
            self.shared.alerts.wait_until_ready().boxed(),
            self.shared.providers.wait_until_ready().boxed(),
        ] {
            let _ = tokio::time::timeout(Duration::from_secs(5), store).await;
        }
        let mut out = Vec::new();
        for alert in self.shared.alerts.state() {
            if alert.spec.suspend {
                continue;
            }
            let mut matched = false;
            for source in &alert.spec.event_sources {
                if self.source_matches(event, &alert, source).await {
                    matched = true;
                    break;
                }
            }
            if !matched {
                continue;
            }
            if !alert.spec.inclusion_list.is_empty()
                && !self
                    .any_matches(
                        &alert,
                        &alert.spec.inclusion_list,
                        "inclusion",
                        &event.message,
                    )
                    .await
            {
                continue;
            }
            if self
                .any_matches(
                    &alert,
                    &alert.spec.exclusion_list,
                    "exclusion",
                    &event.message,
                )
                .await
            {
                continue;
            }
            out.push(alert);
        }
        out
    }

    /// Whether `event` matches one event source of `alert`.
    async fn source_matches(
        &self,
        event: &Event,
        alert: &Alert,
        source: &CrossNamespaceObjectReference,
    ) -> bool {
        let o = &event.involved_object;
        let alert_ns = alert.namespace().unwrap_or_default();
        let ns = source.namespace.as_deref().unwrap_or(&alert_ns);
        if o.namespace.as_deref() != Some(ns) || o.kind.as_deref() != Some(&source.kind) {
            return false;
        }
        let severity = alert.spec.event_severity.unwrap_or_default();
        if severity == EventSeverity::Error && event.severity != ev::SEVERITY_ERROR {
            return false;
        }
        if source.name != "*" && o.name.as_deref() != Some(&source.name) {
            return false;
        }
        let Some(labels) = &source.match_labels else {
            return true;
        };
        match self.object_labels(event).await {
            Ok(have) => labels.iter().all(|(k, v)| have.get(k) == Some(v)),
            Err(e) => {
                tracing::error!(error = %e, "error getting the involved object");
                self.shared
                    .recorder
                    .publish(
                        &object_ref(alert),
                        EventType::Warning,
                        "SourceFetchFailed",
                        &format!("error getting source object {}", object_string(event)),
                        None,
                    )
                    .await;
                false
            }
        }
    }

    /// The labels of the event's object, read from the API server.
    async fn object_labels(&self, event: &Event) -> anyhow::Result<BTreeMap<String, String>> {
        let o = &event.involved_object;
        let ar = self
            .shared
            .resource(
                o.api_version.as_deref().unwrap_or_default(),
                o.kind.as_deref().unwrap_or_default(),
            )
            .await?;
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.shared.client.clone(),
            o.namespace.as_deref().unwrap_or_default(),
            &ar,
        );
        let obj = api.get(o.name.as_deref().unwrap_or_default()).await?;
        Ok(obj.metadata.labels.unwrap_or_default())
    }

    /// Whether one of `patterns` matches `msg`; patterns that do not compile are reported
    /// on the Alert and match nothing.
    async fn any_matches(&self, alert: &Alert, patterns: &[String], list: &str, msg: &str) -> bool {
        let mut invalid = Vec::new();
        let mut found = false;
        {
            let mut cache = self.regexes.lock();
            for p in patterns {
                let re = cache
                    .entry(p.clone())
                    .or_insert_with(|| regex::Regex::new(p).ok());
                match re {
                    Some(re) if re.is_match(msg) => {
                        found = true;
                        break;
                    }
                    Some(_) => {}
                    None => invalid.push(p.clone()),
                }
            }
        }
        for p in invalid {
            tracing::error!(pattern = p, "failed to compile {list} regex");
            self.shared
                .recorder
                .publish(
                    &object_ref(alert),
                    EventType::Warning,
                    "InvalidConfig",
                    &format!("failed to compile {list} regex: {p}"),
                    None,
                )
                .await;
        }
        found
    }
}

/// `Kind/namespace/name` of the event's object, as Flux writes it.
fn object_string(event: &Event) -> String {
    let o = &event.involved_object;
    format!(
        "{}/{}/{}",
        o.kind.as_deref().unwrap_or_default(),
        o.namespace.as_deref().unwrap_or_default(),
        o.name.as_deref().unwrap_or_default()
    )
}

/// Keeps only metadata under `event.toolkit.fluxcd.io/` or the object's group, without
/// the object's checksum and digest.
pub(crate) fn cleanup_metadata(event: &mut Event) {
    let event_prefix = format!("{}/", ev::GROUP);
    let object_prefix = format!("{}/", event.object_group());
    let exclude = [
        format!("{object_prefix}{}", ev::META_CHECKSUM),
        format!("{object_prefix}{}", ev::META_DIGEST),
    ];
    event.metadata.retain(|k, _| {
        !exclude.iter().any(|x| x.eq_ignore_ascii_case(k))
            && (k.starts_with(&event_prefix) || k.starts_with(&object_prefix))
    });
}

/// Drops the object's `token` (used for rate limiting only).
fn exclude_internal_metadata(event: &mut Event) {
    let key = format!("{}/{}", event.object_group(), ev::META_TOKEN);
    event.metadata.remove(&key);
}

/// The rate-limit key of an event: its object, message, revisions and token.
pub(crate) fn event_key(event: &Event) -> String {
    let o = &event.involved_object;
    let mut comps = vec![
        "event".to_owned(),
        format!("name={}", o.name.as_deref().unwrap_or_default()),
        format!("namespace={}", o.namespace.as_deref().unwrap_or_default()),
        format!("kind={}", o.kind.as_deref().unwrap_or_default()),
        format!("message={}", event.message),
    ];
    for (key, label) in [
        (ev::META_ORIGIN_REVISION, "originRevision"),
        (ev::META_REVISION, "revision"),
        (ev::META_TOKEN, "token"),
    ] {
        if let Some(v) = event.object_meta(key) {
            comps.push(format!("{label}={v}"));
        }
    }
    hex::encode(Sha256::digest(comps.join("/").as_bytes()))
}

/// One event per key per interval.
pub(crate) struct RateLimiter {
    interval: Duration,
    seen: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    pub fn new(interval: Duration) -> Self {
        RateLimiter {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event with `key` may pass now (and records it when it does).
    pub fn allow(&self, key: &str) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        let now = Instant::now();
        let mut seen = self.seen.lock();
        if seen.len() > 10_000 {
            let interval = self.interval;
            seen.retain(|_, t| now.duration_since(*t) < interval);
        }
        match seen.get(key) {
            Some(t) if now.duration_since(*t) < self.interval => false,
            _ => {
                seen.insert(key.to_owned(), now);
                true
            }
        }
    }
}

/// Sends `event` for `alert`, recording a Warning event on the Alert when that fails.
async fn dispatch(shared: &Shared, event: &Event, alert: &Alert) {
    let mut secrets = Vec::new();
    let result = prepare_and_send(shared, event, alert, &mut secrets).await;
    let Err(e) = result else { return };
    let msg = mask(&e, &secrets);
    tracing::error!(
        alert = format!(
            "{}/{}",
            alert.namespace().unwrap_or_default(),
            alert.name_any()
        ),
        error = msg,
        "failed to send notification"
    );
    shared
        .recorder
        .publish(
            &object_ref(alert),
            EventType::Warning,
            "NotificationDispatchFailed",
            &format!(
                "failed to send notification for {}: {msg}",
                object_string(event)
            ),
            None,
        )
        .await;
}

/// Replaces every secret value in `s` with `*****`.
fn mask(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_owned();
    for v in secrets.iter().filter(|v| v.len() >= 3) {
        out = out.replace(v.as_str(), "*****");
    }
    out
}

/// Resolves the Provider, applies Flux's filters and sends. `secrets` collects the Secret
/// values read, to mask them in errors.
async fn prepare_and_send(
    shared: &Shared,
    event: &Event,
    alert: &Alert,
    secrets: &mut Vec<String>,
) -> Result<(), String> {
    let alert_ns = alert.namespace().unwrap_or_default();
    let object_ns = event.involved_object.namespace.as_deref().unwrap_or("");
    if shared.no_cross_namespace_refs && object_ns != alert_ns {
        return Err(format!(
            "discarding event, access denied to cross-namespace sources: alert '{alert_ns}/{}' can't process event from '{}', cross-namespace references have been blocked",
            alert.name_any(),
            object_string(event)
        ));
    }
    let provider_name = &alert.spec.provider_ref.name;
    let provider = shared
        .providers
        .get(&kube::runtime::reflector::ObjectRef::new(provider_name).within(&alert_ns))
        .ok_or_else(|| {
            format!("failed to read provider: Provider '{alert_ns}/{provider_name}' not found")
        })?;
    if provider.spec.suspend {
        return Ok(());
    }
    let type_ = provider.spec.type_.as_str();
    let update = event.object_meta(ev::META_COMMIT_STATUS) == Some(ev::META_COMMIT_STATUS_UPDATE);
    if !providers::is_commit_status(type_) && !providers::is_generic(type_) && update {
        return Ok(());
    }
    let has_commit = event
        .metadata
        .get(&format!("{}/{}", ev::GROUP, ev::META_COMMIT))
        .is_some_and(|v| !v.is_empty());
    if providers::is_commit_status(type_)
        && !has_commit
        && !update
        && event.severity != ev::SEVERITY_ERROR
    {
        tracing::debug!(
            provider = provider_name,
            "event dropped for commit status providers due to missing commit metadata key"
        );
        return Ok(());
    }
    let mut notification = event.clone();
    combine_metadata(&mut notification, alert);
    let mut cfg = provider_config(shared, &provider, secrets).await?;
    if providers::is_commit_status(type_) {
        if provider
            .spec
            .commit_status_expr
            .as_deref()
            .is_some_and(|e| !e.is_empty())
        {
            return Err("failed to create commit status: spec.commitStatusExpr (CEL) is not supported by this controller; remove it to use the default commit status key".into());
        }
        cfg.commit_status = providers::default_commit_status(
            provider.uid().as_deref().unwrap_or(""),
            &notification,
        );
    }
    providers::validate(&cfg).map_err(|e| {
        format!(
            "failed to initialize notifier for provider '{}': {e}",
            provider.name_any()
        )
    })?;
    // the provider bounds the delivery, retries included, by cfg.timeout
    providers::send(&cfg, &notification)
        .await
        .map_err(|e| e.to_string())
}

/// Flux's metadata precedence (RFC 0008), lowest first: the object's
/// `event.toolkit.fluxcd.io/` annotations, the Alert's `eventMetadata`, its `summary`,
/// the controller's metadata under the object's group; keys lose their prefixes.
pub(crate) fn combine_metadata(event: &mut Event, alert: &Alert) {
    let event_prefix = format!("{}/", ev::GROUP);
    let object_prefix = format!("{}/", event.object_group());
    let mut meta = BTreeMap::new();
    for (k, v) in &event.metadata {
        if let Some(key) = k.strip_prefix(&event_prefix) {
            meta.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(m) = &alert.spec.event_metadata {
        meta.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(s) = alert.spec.summary.as_deref().filter(|s| !s.is_empty()) {
        meta.insert("summary".into(), s.to_owned());
    }
    for (k, v) in &event.metadata {
        if let Some(key) = k.strip_prefix(&object_prefix) {
            meta.insert(key.to_owned(), v.clone());
        }
    }
    if !meta.is_empty() {
        event.metadata = meta;
    }
}

/// A Secret's key as trimmed text.
fn secret_text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<String> {
    data.get(key)
        .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The data of Secret `name` in `ns`.
async fn secret_data(
    shared: &Shared,
    ns: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    crate::runtime::object::secret_data(&shared.client, ns, name).await
}

/// Everything a Provider needs, from its spec and Secrets.
async fn provider_config(
    shared: &Shared,
    provider: &Provider,
    secrets: &mut Vec<String>,
) -> Result<ProviderConfig, String> {
    let ns = provider.namespace().unwrap_or_default();
    let spec = &provider.spec;
    let mut cfg = ProviderConfig {
        type_: spec.type_.clone(),
        name: provider.name_any(),
        namespace: ns.clone(),
        uid: provider.uid().unwrap_or_default(),
        address: spec.address.clone().unwrap_or_default(),
        channel: spec.channel.clone().unwrap_or_default(),
        username: spec.username.clone().unwrap_or_default(),
        proxy: spec.proxy.clone().filter(|p| !p.is_empty()),
        timeout: spec.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.get()),
        ..Default::default()
    };
    if let Some(r) = &spec.secret_ref {
        let data = secret_data(shared, &ns, &r.name).await?;
        for v in data.values() {
            secrets.push(String::from_utf8_lossy(v).trim().to_owned());
        }
        if data.get("address").is_some_and(|a| a.len() > 2048) {
            return Err(
                "invalid address in secret: address exceeds maximum length of 2048 bytes".into(),
            );
        }
        if let Some(a) = secret_text(&data, "address") {
            cfg.address = a;
        }
        if let Some(p) = secret_text(&data, "proxy") {
            cfg.proxy = Some(p);
        }
        if let Some(h) = data.get("headers") {
            cfg.headers = serde_saphyr::from_slice::<BTreeMap<String, String>>(h).map_err(|e| {
                format!(
                    "failed to read headers from secret: {}",
                    crate::redact::yaml_error(&e)
                )
            })?;
        }
        if let Some(t) = secret_text(&data, "token") {
            cfg.token = t;
        }
        if let Some(u) = secret_text(&data, "username") {
            cfg.username = u;
        }
        if let Some(p) = secret_text(&data, "password") {
            cfg.password = p;
        }
        if providers::is_commit_status(&spec.type_) && spec.cert_secret_ref.is_none() {
            cfg.tls = tls_material(&data);
        }
        cfg.secret_data = data;
    }
    if let Some(r) = &spec.proxy_secret_ref {
        let data = secret_data(shared, &ns, &r.name).await?;
        let address = secret_text(&data, "address").ok_or_else(|| {
            format!(
                "invalid proxy secret '{ns}/{}': key 'address' not found",
                r.name
            )
        })?;
        let url = url_with_userinfo(
            &address,
            secret_text(&data, "username"),
            secret_text(&data, "password"),
        )?;
        if let Some(p) = secret_text(&data, "password") {
            secrets.push(p);
        }
        cfg.proxy = Some(url);
    }
    if let Some(r) = &spec.cert_secret_ref {
        let data = secret_data(shared, &ns, &r.name).await?;
        cfg.tls = tls_material(&data);
        if cfg.tls.is_none() {
            return Err(format!(
                "failed to get TLS config: secret '{ns}/{}' has none of ca.crt, tls.crt and tls.key",
                r.name
            ));
        }
    }
    Ok(cfg)
}

/// `ca.crt`, `tls.crt`, `tls.key` of a Secret, if any.
fn tls_material(data: &BTreeMap<String, Vec<u8>>) -> Option<TlsMaterial> {
    let t = TlsMaterial {
        ca: data.get("ca.crt").cloned(),
        cert: data.get("tls.crt").cloned(),
        key: data.get("tls.key").cloned(),
    };
    (t.ca.is_some() || t.cert.is_some()).then_some(t)
}

/// `address` with `username:password@` when given.
fn url_with_userinfo(
    address: &str,
    user: Option<String>,
    password: Option<String>,
) -> Result<String, String> {
    let Some(user) = user else {
        return Ok(address.to_owned());
    };
    let (scheme, rest) = address
        .split_once("://")
        .ok_or_else(|| "invalid proxy address: no scheme".to_string())?;
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    Ok(match password {
        Some(p) => format!("{scheme}://{}:{}@{rest}", enc(&user), enc(&p)),
        None => format!("{scheme}://{}@{rest}", enc(&user)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    fn event(meta: &[(&str, &str)]) -> Event {
        Event {
            involved_object: ObjectReference {
                api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
                kind: Some("Kustomization".into()),
                name: Some("apps".into()),
                namespace: Some("flux-system".into()),
                ..Default::default()
            },
            severity: "info".into(),
            message: "Applied".into(),
            reason: "ReconciliationSucceeded".into(),
            metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cleanup_keeps_event_and_object_group_keys_without_digests() {
        let mut e = event(&[
            ("kustomize.toolkit.fluxcd.io/revision", "main@sha1:abc"),
            ("kustomize.toolkit.fluxcd.io/digest", "sha256:x"),
            ("kustomize.toolkit.fluxcd.io/Checksum", "x"),
            ("event.toolkit.fluxcd.io/env", "prod"),
            ("source.toolkit.fluxcd.io/revision", "other"),
            ("random", "x"),
        ]);
        cleanup_metadata(&mut e);
        assert_eq!(
            e.metadata.keys().collect::<Vec<_>>(),
            vec![
                "event.toolkit.fluxcd.io/env",
                "kustomize.toolkit.fluxcd.io/revision"
            ]
        );
    }

    #[test]
    fn metadata_combines_in_flux_precedence() {
        let mut e = event(&[
            ("kustomize.toolkit.fluxcd.io/revision", "main@sha1:abc"),
            ("event.toolkit.fluxcd.io/revision", "annotation"),
            ("event.toolkit.fluxcd.io/env", "prod"),
        ]);
        let mut alert = Alert::new("a", Default::default());
        alert.spec.event_metadata = Some(
            [
                ("env".to_string(), "alert".to_string()),
                ("cluster".into(), "c1".into()),
            ]
            .into_iter()
            .collect(),
        );
        alert.spec.summary = Some("sum".into());
        combine_metadata(&mut e, &alert);
        let m: Vec<_> = e
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            m,
            vec![
                ("cluster", "c1"),
                ("env", "alert"),
                ("revision", "main@sha1:abc"),
                ("summary", "sum")
            ]
        );
    }

    #[test]
    fn identical_events_are_limited_within_the_interval() {
        let l = RateLimiter::new(Duration::from_secs(60));
        let a = event(&[("kustomize.toolkit.fluxcd.io/revision", "r1")]);
        let mut b = a.clone();
        b.metadata
            .insert("kustomize.toolkit.fluxcd.io/revision".into(), "r2".into());
        let mut c = a.clone();
        c.metadata
            .insert("kustomize.toolkit.fluxcd.io/token".into(), "t".into());
        // metadata outside the key (reason, severity) does not make an event new
        let mut d = a.clone();
        d.reason = "Other".into();
        assert!(l.allow(&event_key(&a)));
        assert!(!l.allow(&event_key(&a)));
        assert!(!l.allow(&event_key(&d)));
        assert!(l.allow(&event_key(&b)));
        assert!(l.allow(&event_key(&c)));
        assert!(RateLimiter::new(Duration::ZERO).allow(&event_key(&a)));
    }

    #[test]
    fn masking_hides_secret_values() {
        assert_eq!(
            mask(
                "POST https://x/bot123456:ABC/send failed",
                &["123456:ABC".into()]
            ),
            "POST https://x/bot*****/send failed"
        );
        assert_eq!(
            url_with_userinfo("http://proxy:3128", Some("u@x".into()), Some("p:w".into())).unwrap(),
            "http://u%40x:p%3Aw@proxy:3128"
        );
    }
}
