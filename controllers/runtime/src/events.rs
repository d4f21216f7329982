//! Kubernetes Events (core/v1, as Flux's controllers write them) and forwarding to the
//! notification controller's event endpoint (`--events-addr`) in Flux's event format.
//!
//! Forwarding never blocks a reconcile: events go into a bounded queue that a background
//! task delivers, retrying connection errors and 5xx answers with back-off (as Flux's
//! retrying client does; 429 — the notification controller's rate limit — and other 4xx
//! answers are final). When the queue is full, new events are dropped and logged.

use gitops_api::event::{self as fluxevent, Event as FluxEvent};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Something worked.
    Normal,
    /// Something failed.
    Warning,
}

/// Metadata of one event. Keys without a `/` are relative to the involved object's API
/// group (`revision` becomes `kustomize.toolkit.fluxcd.io/revision`); keys with one are
/// kept as they are (the object's `event.toolkit.fluxcd.io/*` annotations).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventMetadata(BTreeMap<String, String>);

impl EventMetadata {
    /// Metadata naming the source revision, if any.
    pub fn revision(revision: Option<&str>) -> Self {
        let mut m = EventMetadata::default();
        if let Some(r) = revision.filter(|r| !r.is_empty()) {
            m.0.insert(fluxevent::META_REVISION.to_owned(), r.to_owned());
        }
        m
    }

    /// Adds `key` (see the type's docs) unless `value` is empty.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.0.insert(key.to_owned(), value.to_owned());
        }
        self
    }

    /// Marks the event as a Git commit status update (`commit_status: update`), which
    /// commit-status providers turn into a status on the revision's commit.
    pub fn commit_status_update(self) -> Self {
        self.with(
            fluxevent::META_COMMIT_STATUS,
            fluxevent::META_COMMIT_STATUS_UPDATE,
        )
    }

    /// Adds the object's annotations under `event.toolkit.fluxcd.io/` (Flux forwards
    /// these with every event about the object).
    pub fn with_object_annotations(mut self, annotations: &BTreeMap<String, String>) -> Self {
        let prefix = format!("{}/", fluxevent::GROUP);
        for (k, v) in annotations {
            if k.starts_with(&prefix) {
                self.0.insert(k.clone(), v.clone());
            }
        }
        self
    }

    /// The metadata with relative keys put under `group`.
    fn qualified(&self, group: &str) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| {
                if k.contains('/') {
                    (k.clone(), v.clone())
                } else {
                    (format!("{group}/{k}"), v.clone())
                }
            })
            .collect()
    }
}

/// How forwarding retries (Flux's: 4 retries, waits from 1 s doubling up to 30 s, 5 s
/// per attempt).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait.
    pub min_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// The time limit of one attempt.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            min_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(5),
        }
    }
}

/// Events waiting for delivery at most; beyond, new ones are dropped.
const QUEUE: usize = 4096;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 32;

/// Writes Events for one controller.
#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    instance: String,
    forward: Option<mpsc::Sender<FluxEvent>>,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (e.g. `source-controller`), forwarding to
    /// `events_addr` when given. Must be called inside a Tokio runtime.
    pub fn new(client: kube::Client, controller: &str, events_addr: Option<String>) -> Self {
        Self::with_retry(client, controller, events_addr, RetryPolicy::default())
    }

    /// [`EventRecorder::new`] with a retry policy of its own.
    pub fn with_retry(
        client: kube::Client,
        controller: &str,
        events_addr: Option<String>,
        retry: RetryPolicy,
    ) -> Self {
        crate::ensure_crypto_provider();
        let forward = events_addr.filter(|a| !a.is_empty()).map(|addr| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(deliver(rx, endpoint_url(&addr), retry));
            tx
        });
        EventRecorder {
            client,
            controller: controller.to_owned(),
            instance: hostname().unwrap_or_else(|| controller.to_owned()),
            forward,
        }
    }

    /// Records an event about `obj`; `revision` goes into the
    /// `<group>/revision` metadata. Failures are logged, not returned: events are best
    /// effort.
    pub async fn publish(
        &self,
        obj: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
        revision: Option<&str>,
    ) {
        self.publish_with(
            obj,
            type_,
            reason,
            message,
            EventMetadata::revision(revision),
        )
        .await
    }

    /// Records an event about `obj` with `metadata` (see [`EventMetadata`]).
    pub async fn publish_with(
        &self,
        obj: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
        metadata: EventMetadata,
    ) {
        let now = jiff::Timestamp::now();
        let ns = obj.namespace.clone().unwrap_or_else(|| "default".into());
        let group = obj
            .api_version
            .as_deref()
            .and_then(|v| v.split_once('/').map(|(g, _)| g.to_owned()))
            .unwrap_or_default();
        let metadata = metadata.qualified(&group);
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    obj.name.as_deref().unwrap_or("object"),
                    now.as_nanosecond()
                )),
                namespace: Some(ns.clone()),
                annotations: (!metadata.is_empty()).then(|| metadata.clone()),
                ..Default::default()
            },
            involved_object: obj.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(
                match type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            source: Some(EventSource {
                component: Some(self.controller.clone()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            count: Some(1),
            reporting_component: Some(self.controller.clone()),
            reporting_instance: Some(self.controller.clone()),
            action: Some(reason.to_owned()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        if let Err(e) = api.create(&PostParams::default(), &ev).await {
            tracing::debug!(error = %e, "recording event failed");
        }
        let Some(tx) = &self.forward else { return };
        if obj.kind.as_deref().unwrap_or("").is_empty()
            || obj.name.as_deref().unwrap_or("").is_empty()
            || obj.namespace.as_deref().unwrap_or("").is_empty()
        {
            tracing::debug!("not forwarding an event without kind, name or namespace");
            return;
        }
        let event = FluxEvent {
            involved_object: obj.clone(),
            severity: match type_ {
                EventType::Warning => fluxevent::SEVERITY_ERROR,
                EventType::Normal => fluxevent::SEVERITY_INFO,
            }
            .to_owned(),
            timestamp: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
            message: message.to_owned(),
            reason: reason.to_owned(),
            metadata,
            reporting_controller: self.controller.clone(),
            reporting_instance: self.instance.clone(),
        };
        if let Err(e) = tx.try_send(event) {
            tracing::warn!(error = %e, "event queue full: event not forwarded");
        }
    }
}

/// `http://` prefixed unless a scheme is given.
fn endpoint_url(addr: &str) -> String {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

/// The host name (`HOSTNAME`, else the kernel's).
fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The background task: delivers queued events, a bounded number at once.
async fn deliver(mut rx: mpsc::Receiver<FluxEvent>, url: String, retry: RetryPolicy) {
    let http = reqwest::Client::new();
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(event) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            if let Err(e) = post_with_retry(&http, &url, &event, retry).await {
                tracing::info!(
                    error = %e,
                    reason = event.reason,
                    "forwarding event to the notification controller failed"
                );
            }
            drop(permit);
        });
    }
}

/// Posts one event, retrying connection errors and 5xx answers.
async fn post_with_retry(
    http: &reqwest::Client,
    url: &str,
    event: &FluxEvent,
    retry: RetryPolicy,
) -> Result<(), String> {
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let mut wait = retry.min_wait;
    let mut attempt = 0;
    loop {
        let res = http
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(retry.attempt_timeout)
            .send()
            .await;
        let err = match res {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if !r.status().is_server_error() => {
                return Err(format!("the event endpoint answered {}", r.status()));
            }
            Ok(r) => format!("the event endpoint answered {}", r.status()),
            Err(e) => e.to_string(),
        };
        if attempt >= retry.retries {
            return Err(format!("{err} (after {} attempts)", attempt + 1));
        }
        attempt += 1;
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(retry.max_wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keys_are_qualified_by_the_object_group() {
        let mut ann = BTreeMap::new();
        ann.insert("event.toolkit.fluxcd.io/env".to_owned(), "prod".to_owned());
        ann.insert("other/key".to_owned(), "x".to_owned());
        let m = EventMetadata::revision(Some("main@sha1:abc"))
            .commit_status_update()
            .with("token", "")
            .with_object_annotations(&ann)
            .qualified("kustomize.toolkit.fluxcd.io");
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![
                ("event.toolkit.fluxcd.io/env".into(), "prod".into()),
                (
                    "kustomize.toolkit.fluxcd.io/commit_status".into(),
                    "update".into()
                ),
                (
                    "kustomize.toolkit.fluxcd.io/revision".into(),
                    "main@sha1:abc".into()
                ),
            ]
        );
    }

    /// A real HTTP server answering 503 twice, then 202: the event arrives on the third
    /// attempt; one answering 429 gets a single attempt.
    #[tokio::test]
    async fn forwarding_retries_server_errors_but_not_rate_limits() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        async fn serve(answers: Vec<u16>) -> (String, Arc<AtomicUsize>) {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let hits = Arc::new(AtomicUsize::new(0));
            let h = hits.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = l.accept().await else {
                        return;
                    };
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    let code = answers.get(n).copied().unwrap_or(202);
                    let mut buf = vec![0u8; 65536];
                    let mut got = Vec::new();
                    // read headers and the declared body
                    loop {
                        let k = s.read(&mut buf).await.unwrap_or(0);
                        if k == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf[..k]);
                        let text = String::from_utf8_lossy(&got);
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if got.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let resp = format!(
                        "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                }
            });
            (format!("http://{addr}/"), hits)
        }
        let retry = RetryPolicy {
            retries: 4,
            min_wait: Duration::from_millis(10),
            max_wait: Duration::from_millis(40),
            attempt_timeout: Duration::from_secs(5),
        };
        crate::ensure_crypto_provider();
        let http = reqwest::Client::new();
        let ev = FluxEvent::default();
        let (url, hits) = serve(vec![503, 503]).await;
        post_with_retry(&http, &url, &ev, retry).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        let (url, hits) = serve(vec![429]).await;
        let err = post_with_retry(&http, &url, &ev, retry).await.unwrap_err();
        assert!(err.contains("429"), "{err}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let err = post_with_retry(&http, "http://127.0.0.1:1/", &ev, retry)
            .await
            .unwrap_err();
        assert!(err.contains("after 5 attempts"), "{err}");
    }
}
