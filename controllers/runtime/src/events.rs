//! Kubernetes Events (core/v1, as Flux's controllers write them) and forwarding to the
//! notification controller's event receiver (`--events-addr`).

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Something worked.
    Normal,
    /// Something failed.
    Warning,
}

/// Writes Events for one controller.
#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    controller: String,
    events_addr: Option<String>,
    http: reqwest::Client,
}

impl EventRecorder {
    /// A recorder reporting as `controller` (e.g. `source-controller`).
    pub fn new(client: kube::Client, controller: &str, events_addr: Option<String>) -> Self {
        crate::ensure_crypto_provider();
        EventRecorder {
            client,
            controller: controller.to_owned(),
            events_addr: events_addr.filter(|a| !a.is_empty()),
            http: reqwest::Client::new(),
        }
    }

    /// Records an event about `obj`; `revision` goes into the
    /// `source.toolkit.fluxcd.io/revision`-style metadata. Failures are logged, not returned:
    /// events are best effort.
    pub async fn publish(
        &self,
        obj: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
        revision: Option<&str>,
    ) {
        let now = jiff::Timestamp::now();
        let ns = obj.namespace.clone().unwrap_or_else(|| "default".into());
        let group = obj
            .api_version
            .as_deref()
            .and_then(|v| v.split_once('/').map(|(g, _)| g.to_owned()))
            .unwrap_or_default();
        let mut annotations = BTreeMap::new();
        if let Some(rev) = revision {
            annotations.insert(format!("{group}/revision"), rev.to_owned());
        }
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    obj.name.as_deref().unwrap_or("object"),
                    now.as_nanosecond()
                )),
                namespace: Some(ns.clone()),
                annotations: (!annotations.is_empty()).then(|| annotations.clone()),
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
        if let Some(addr) = &self.events_addr {
            let mut metadata = serde_json::Map::new();
            if let Some(rev) = revision {
                metadata.insert(format!("{group}/revision"), rev.into());
            }
            let body = serde_json::json!({
                "involvedObject": obj,
                "severity": if type_ == EventType::Warning { "error" } else { "info" },
                "timestamp": now.to_string(),
                "message": message,
                "reason": reason,
                "metadata": metadata,
                "reportingController": self.controller,
            });
            let url = if addr.starts_with("http") {
                addr.clone()
            } else {
                format!("http://{addr}")
            };
            if let Err(e) = self
                .http
                .post(&url)
                .json(&body)
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
            {
                tracing::debug!(error = %e, "forwarding event failed");
            }
        }
    }
}
