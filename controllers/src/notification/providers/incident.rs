//! Alerting, incident and observability services: Alertmanager, Grafana annotations,
//! Opsgenie, PagerDuty (Events API v2), Datadog events and Sentry.

use super::format::{self, is_error, name_and_description, object_title, parts, rfc3339};
use super::http::{Http, Req};
use super::{ProviderConfig, ProviderError};
use gitops_api::event::{Event, SEVERITY_ERROR, SEVERITY_INFO};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Flux's `meta.ProgressingReason`: such events are skipped by incident tools and Git
/// commit statuses.
pub(super) const PROGRESSING: &str = "Progressing";

/// `alertmanager`: one firing alert whose labels are the metadata plus the object,
/// reason and severity (`summary` becomes an annotation next to `message`).
pub(super) async fn alertmanager(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let (kind, name, ns) = parts(event);
    let mut labels = event.metadata.clone();
    let mut annotations = BTreeMap::new();
    annotations.insert("message".to_owned(), event.message.clone());
    if let Some(s) = labels.remove("summary") {
        annotations.insert("summary".to_owned(), s);
    }
    let alertname = format!("Flux{kind}{}", format::title_case(&event.reason));
    for (k, v) in [
        ("alertname", alertname.as_str()),
        ("severity", &event.severity),
        ("reason", &event.reason),
        ("kind", kind),
        ("name", name),
        ("namespace", ns),
        ("reportingcontroller", &event.reporting_controller),
    ] {
        labels.insert(k.to_owned(), v.to_owned());
    }
    // Flux leaves `endsAt` at Go's zero time: Alertmanager's resolve_timeout applies.
    let payload = json!([{
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(format::timestamp(event)),
        "endsAt": "0001-01-01T00:00:00Z",
    }]);
    let mut req = Req::post_json(cfg.address.trim(), &payload)?;
    if !cfg.username.is_empty() && !cfg.password.is_empty() {
        req = req.basic(&cfg.username, &cfg.password);
    } else if !cfg.token.is_empty() {
        req = req.bearer(&cfg.token);
    }
    http.send_ok(&req).await.map(drop)
}

/// `grafana`: an annotation (`/api/annotations`, the address) tagged `flux`, the
/// controller, the metadata (`key: value`, `:` in them replaced by `|`) and the object.
pub(super) async fn grafana(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let (kind, name, ns) = parts(event);
    let mut tags = vec!["flux".to_owned(), event.reporting_controller.clone()];
    tags.extend(
        event
            .metadata
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace(':', "|"), v.replace(':', "|"))),
    );
    tags.push(format!("kind: {kind}"));
    tags.push(format!("name: {name}"));
    tags.push(format!("namespace: {ns}"));
    let payload = json!({
        "when": format::timestamp(event).as_second(),
        "text": object_title(event),
        "tags": tags,
    });
    let mut req = Req::post_json(cfg.address.trim(), &payload)?;
    if !cfg.token.is_empty() {
        req = req.bearer(&cfg.token);
    } else if !cfg.username.is_empty() && !cfg.password.is_empty() {
        req = req.basic(&cfg.username, &cfg.password);
    }
    http.send_ok(&req).await.map(drop)
}

/// `opsgenie`: an alert (`GenieKey` authentication) with a stable alias per provider,
/// object and reason, so repeated events de-duplicate.
pub(super) async fn opsgenie(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let (kind, name, ns) = parts(event);
    let mut details = event.metadata.clone();
    details.insert("severity".to_owned(), event.severity.clone());
    let alias = hex::encode(Sha256::digest(
        format!("{}/{kind}/{ns}/{name}/{}", cfg.uid, event.reason).as_bytes(),
    ));
    let payload = json!({
        "message": format!("{kind}/{name}"),
        "alias": alias,
        "description": event.message,
        "details": details,
    });
    let req = Req::post_json(cfg.address.trim(), &payload)?
        .auth_header("Authorization", format!("GenieKey {}", cfg.token));
    http.send_ok(&req).await.map(drop)
}

/// `pagerduty`: an Events API v2 event routed by `channel` and de-duplicated by the
/// object's UID — `trigger` for errors, else `resolve` — plus a change event for info
/// events; progressing events are skipped.
pub(super) async fn pagerduty(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    if event.reason == PROGRESSING {
        return Ok(());
    }
    let endpoint = super::http::redact(cfg.address.trim());
    let (kind, name, _) = parts(event);
    let (n, desc) = name_and_description(event);
    let summary = format!("{desc}: {n}");
    let source = format!("Flux {}", event.reporting_controller);
    let ts = rfc3339(format::timestamp(event));
    let details = json!({"message": event.message, "metadata": event.metadata});
    let mut v2 = Map::new();
    v2.insert("routing_key".into(), json!(cfg.channel));
    v2.insert("event_action".into(), json!("resolve"));
    if let Some(uid) = event
        .involved_object
        .uid
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        v2.insert("dedup_key".into(), json!(uid));
    }
    if is_error(event) {
        v2.insert("event_action".into(), json!("trigger"));
        let mut p = Map::new();
        p.insert("summary".into(), json!(summary));
        p.insert("source".into(), json!(source));
        p.insert("severity".into(), json!("error"));
        p.insert("timestamp".into(), json!(ts));
        if !name.is_empty() {
            p.insert("component".into(), json!(name));
        }
        if !kind.is_empty() {
            p.insert("group".into(), json!(kind));
        }
        p.insert("custom_details".into(), details.clone());
        v2.insert("payload".into(), Value::Object(p));
    }
    let req = Req::post_json(format!("{endpoint}/v2/enqueue"), &v2)?;
    http.send_ok(&req)
        .await
        .map_err(|e| ProviderError(format!("failed sending event: {e}")))?;
    if event.severity == SEVERITY_INFO {
        let change = json!({
            "routing_key": cfg.channel,
            "payload": {
                "summary": summary,
                "source": source,
                "timestamp": ts,
                "custom_details": details,
            },
        });
        let req = Req::post_json(format!("{endpoint}/v2/change/enqueue"), &change)?;
        http.send_ok(&req)
            .await
            .map_err(|e| ProviderError(format!("failed sending change event: {e}")))?;
    }
    Ok(())
}

/// `datadog`: `POST /api/v1/events` on the address's host (default
/// `api.datadoghq.com`) with `DD-API-KEY`, tagged (lower-cased) with the controller,
/// reason, object and metadata.
pub(super) async fn datadog(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let base = if cfg.address.trim().is_empty() {
        "https://api.datadoghq.com".to_owned()
    } else {
        super::http::redact(cfg.address.trim())
    };
    let (kind, name, ns) = parts(event);
    let mut tags = vec![
        format!("flux_reporting_controller:{}", event.reporting_controller),
        format!("flux_reason:{}", event.reason),
        format!("kube_kind:{kind}"),
        format!("kube_name:{name}"),
        format!("kube_namespace:{ns}"),
    ];
    tags.extend(event.metadata.iter().map(|(k, v)| format!("{k}:{v}")));
    let tags: Vec<String> = tags.into_iter().map(|t| t.to_lowercase()).collect();
    let payload = json!({
        "title": format!("Events from the {kind} {name}/{ns}"),
        "text": event.message,
        "tags": tags,
        "source_type_name": "fluxcd",
        "date_happened": format::timestamp(event).as_second(),
        "alert_type": if is_error(event) { "error" } else { "info" },
    });
    let req = Req::post_json(format!("{base}/api/v1/events"), &payload)?
        .header("Accept", "application/json")
        .auth_header("DD-API-KEY", &cfg.token);
    http.send_ok(&req)
        .await
        .map(drop)
        .map_err(|e| ProviderError(format!("failed to post event to DataDog: {e}")))
}

/// A Sentry DSN: `<scheme>://<public key>[:<secret>]@<host>[/<path>]/<project>`.
pub(super) struct SentryDsn {
    /// `<scheme>://<host>[:<port>][/<path>]`.
    base: String,
    project: String,
    public_key: String,
    secret_key: Option<String>,
}

impl SentryDsn {
    /// Parses the DSN (`address`).
    pub(super) fn parse(dsn: &str) -> Result<Self, ProviderError> {
        let dsn = dsn.trim();
        if dsn.is_empty() {
            return Err(ProviderError::new("DSN cannot be empty"));
        }
        let bad = |why: &str| ProviderError(format!("invalid Sentry DSN: {why}"));
        let u = reqwest::Url::parse(dsn).map_err(|_| bad("not a URL"))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        let host = u.host_str().ok_or_else(|| bad("no host"))?;
        if u.username().is_empty() {
            return Err(bad("no public key"));
        }
        let path = u.path().trim_end_matches('/');
        let (prefix, project) = path.rsplit_once('/').unwrap_or(("", path));
        if project.is_empty() {
            return Err(bad("no project ID"));
        }
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(SentryDsn {
            base: format!("{}://{host}{port}{prefix}", u.scheme()),
            project: project.to_owned(),
            public_key: u.username().to_owned(),
            secret_key: u.password().map(str::to_owned),
        })
    }

    fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base, self.project)
    }

    fn auth(&self) -> String {
        let mut s = format!(
            "Sentry sentry_version=7, sentry_client={SENTRY_CLIENT}, sentry_key={}",
            self.public_key
        );
        if let Some(secret) = &self.secret_key {
            s.push_str(&format!(", sentry_secret={secret}"));
        }
        s
    }
}

const SENTRY_CLIENT: &str = "sentry.go/0.35.0";

/// A random-enough hex ID of `len` characters (from the event, the time and a counter).
fn hex_id(event_json: &[u8], salt: &str, len: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(event_json);
    h.update(salt.as_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(jiff::Timestamp::now().as_nanosecond().to_le_bytes());
    let mut s = hex::encode(h.finalize());
    s.truncate(len);
    s
}

/// `sentry`: errors as Sentry events (level, server name, transaction
/// `<Kind>: <ns>/<name>`, metadata as a context), info events as transactions with
/// one span tagged with the object; trace events are not sent. `channel` is the
/// environment. Sent as an envelope to the DSN's project.
pub(super) async fn sentry(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let dsn = SentryDsn::parse(&cfg.address)?;
    let (kind, name, ns) = parts(event);
    let event_json = serde_json::to_vec(event).unwrap_or_default();
    let event_id = hex_id(&event_json, "event", 32);
    let ts = rfc3339(format::timestamp(event));
    let summary = format!("{kind}: {ns}/{name}");
    let sdk = json!({"name": "sentry.go", "version": "0.35.0"});
    let (item_type, mut body) = match event.severity.as_str() {
        SEVERITY_ERROR => (
            "event",
            json!({
                "event_id": event_id,
                "timestamp": ts,
                "level": "error",
                "platform": "go",
                "server_name": event.reporting_controller,
                "transaction": summary,
                "message": event.message,
                "contexts": {"metadata": event.metadata},
                "sdk": sdk,
            }),
        ),
        SEVERITY_INFO => {
            let trace_id = hex_id(&event_json, "trace", 32);
            let span_id = hex_id(&event_json, "span", 16);
            let mut tags = BTreeMap::new();
            for (k, v) in [
                ("flux_involved_object_kind", kind),
                ("flux_involved_object_namespace", ns),
                ("flux_involved_object_name", name),
                ("flux_reporting_controller", &event.reporting_controller),
                ("flux_reporting_instance", &event.reporting_instance),
                ("flux_reason", &event.reason),
            ] {
                tags.insert(k.to_owned(), v.to_owned());
            }
            tags.extend(event.metadata.clone());
            (
                "transaction",
                json!({
                    "event_id": event_id,
                    "type": "transaction",
                    "platform": "go",
                    "transaction": summary,
                    "message": event.message,
                    "start_timestamp": ts,
                    "timestamp": ts,
                    "contexts": {"trace": {"trace_id": trace_id, "span_id": span_id, "op": "event"}},
                    "tags": tags,
                    "spans": [{
                        "trace_id": trace_id, "span_id": span_id, "op": "event",
                        "start_timestamp": ts, "timestamp": ts, "tags": tags,
                    }],
                    "sdk": sdk,
                }),
            )
        }
        // Flux captures nothing for trace events.
        _ => return Ok(()),
    };
    if !cfg.channel.is_empty() {
        body["environment"] = json!(cfg.channel);
    }
    let item = serde_json::to_vec(&body).unwrap_or_default();
    let header = json!({
        "event_id": event_id,
        "sent_at": rfc3339(jiff::Timestamp::now()),
        "sdk": sdk,
    });
    let mut envelope = serde_json::to_vec(&header).unwrap_or_default();
    envelope.push(b'\n');
    envelope.extend(
        serde_json::to_vec(&json!({"type": item_type, "length": item.len()})).unwrap_or_default(),
    );
    envelope.push(b'\n');
    envelope.extend(item);
    envelope.push(b'\n');
    let req = Req::new(reqwest::Method::POST, dsn.envelope_url())
        .body("application/x-sentry-envelope", envelope)
        .auth_header("X-Sentry-Auth", dsn.auth());
    http.send_ok(&req).await.map(drop)
}
