//! alertmanager, grafana, opsgenie, pagerduty, datadog, sentry.

use super::*;

#[tokio::test]
async fn alertmanager_posts_a_firing_alert() {
    let srv = TestServer::ok().await;
    let mut cfg = config("alertmanager", &format!("{}/api/v2/alerts", srv.url));
    cfg.username = "am".into();
    cfg.password = "pw-123456".into();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/api/v2/alerts");
    assert_eq!(r.header("authorization"), basic("am", "pw-123456"));
    let j = r.json();
    let a = &j[0];
    assert_eq!(a["status"], "firing");
    assert_eq!(
        a["labels"]["alertname"],
        "FluxKustomizationHealthcheckfailed"
    );
    assert_eq!(a["labels"]["severity"], "error");
    assert_eq!(a["labels"]["reason"], "HealthCheckFailed");
    assert_eq!(a["labels"]["kind"], "Kustomization");
    assert_eq!(a["labels"]["name"], "webapp");
    assert_eq!(a["labels"]["namespace"], "gitops-system");
    assert_eq!(a["labels"]["reportingcontroller"], "kustomize-controller");
    assert_eq!(a["labels"]["revision"], format!("main@sha1:{SHA}"));
    assert!(a["labels"].get("summary").is_none());
    assert_eq!(a["annotations"]["summary"], "Cluster: prod");
    assert_eq!(a["annotations"]["message"], "Health check failed\nafter 2m");
    assert_eq!(a["startsAt"], "2026-01-02T03:04:05Z");
}

#[tokio::test]
async fn alertmanager_bearer_token() {
    let srv = TestServer::ok().await;
    let mut cfg = config("alertmanager", &srv.url);
    cfg.token = TOKEN.into();
    send(&cfg, &info_event()).await.unwrap();
    assert_eq!(
        srv.single().header("authorization"),
        format!("Bearer {TOKEN}")
    );
}

#[tokio::test]
async fn grafana_posts_an_annotation() {
    let srv = TestServer::ok().await;
    let mut cfg = config("grafana", &format!("{}/api/annotations", srv.url));
    cfg.token = TOKEN.into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/api/annotations");
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    let j = r.json();
    assert_eq!(j["text"], "kustomization/webapp.gitops-system");
    assert_eq!(j["when"], 1767323045);
    let tags: Vec<&str> = j["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "flux",
            "kustomize-controller",
            &format!("revision: main@sha1|{SHA}"),
            "summary: Cluster| prod",
            "kind: Kustomization",
            "name: webapp",
            "namespace: gitops-system",
        ]
    );
}

#[tokio::test]
async fn grafana_basic_auth_without_token() {
    let srv = TestServer::ok().await;
    let mut cfg = config("grafana", &srv.url);
    cfg.username = "admin".into();
    cfg.password = "pw-123456".into();
    send(&cfg, &info_event()).await.unwrap();
    assert_eq!(
        srv.single().header("authorization"),
        basic("admin", "pw-123456")
    );
}

#[tokio::test]
async fn opsgenie_posts_an_alert_with_a_stable_alias() {
    let srv = TestServer::ok().await;
    let mut cfg = config("opsgenie", &format!("{}/v2/alerts", srv.url));
    cfg.token = TOKEN.into();
    send(&cfg, &error_event()).await.unwrap();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.requests();
    assert_eq!(r[0].header("authorization"), format!("GenieKey {TOKEN}"));
    let j = r[0].json();
    assert_eq!(j["message"], "Kustomization/webapp");
    assert_eq!(j["description"], "Health check failed\nafter 2m");
    assert_eq!(j["details"]["severity"], "error");
    assert_eq!(j["details"]["revision"], format!("main@sha1:{SHA}"));
    let alias = j["alias"].as_str().unwrap();
    let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        format!("{UID}/Kustomization/gitops-system/webapp/HealthCheckFailed").as_bytes(),
    ));
    assert_eq!(alias, want);
    assert_eq!(r[1].json()["alias"], j["alias"]);
}

#[tokio::test]
async fn pagerduty_triggers_on_errors() {
    let srv = TestServer::answering(202, "{}").await;
    let mut cfg = config("pagerduty", &format!("{}/ignored/path", srv.url));
    cfg.channel = "routing-key".into();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/v2/enqueue");
    let j = r.json();
    assert_eq!(j["routing_key"], "routing-key");
    assert_eq!(j["event_action"], "trigger");
    assert_eq!(j["dedup_key"], "7d0a4a4e-5d2c-4b8e-9c4e-3c8a3f1e2b11");
    let p = &j["payload"];
    assert_eq!(p["summary"], "health check failed: kustomization/webapp");
    assert_eq!(p["source"], "Flux kustomize-controller");
    assert_eq!(p["severity"], "error");
    assert_eq!(p["timestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(p["component"], "webapp");
    assert_eq!(p["group"], "Kustomization");
    assert_eq!(
        p["custom_details"]["message"],
        "Health check failed\nafter 2m"
    );
    assert_eq!(p["custom_details"]["metadata"]["summary"], "Cluster: prod");
}

#[tokio::test]
async fn pagerduty_resolves_and_records_a_change_on_info() {
    let srv = TestServer::answering(202, "{}").await;
    let mut cfg = config("pagerduty", &srv.url);
    cfg.channel = "rk".into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.requests();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].path, "/v2/enqueue");
    let j = r[0].json();
    assert_eq!(j["event_action"], "resolve");
    assert!(j.get("payload").is_none());
    assert_eq!(r[1].path, "/v2/change/enqueue");
    let c = r[1].json();
    assert_eq!(c["routing_key"], "rk");
    assert_eq!(
        c["payload"]["summary"],
        "reconciliation succeeded: kustomization/webapp"
    );
    assert_eq!(c["payload"]["source"], "Flux kustomize-controller");
}

#[tokio::test]
async fn pagerduty_skips_progressing() {
    let srv = TestServer::ok().await;
    let cfg = config("pagerduty", &srv.url);
    send(&cfg, &event("info", "Progressing")).await.unwrap();
    assert!(srv.requests().is_empty());
}

#[tokio::test]
async fn datadog_posts_an_event() {
    let srv = TestServer::answering(202, "{}").await;
    let mut cfg = config("datadog", &format!("{}/ignored", srv.url));
    cfg.token = TOKEN.into();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/v1/events");
    assert_eq!(r.header("dd-api-key"), TOKEN);
    let j = r.json();
    assert_eq!(
        j["title"],
        "Events from the Kustomization webapp/gitops-system"
    );
    assert_eq!(j["text"], "Health check failed\nafter 2m");
    assert_eq!(j["alert_type"], "error");
    assert_eq!(j["source_type_name"], "fluxcd");
    assert_eq!(j["date_happened"], 1767323045);
    let tags: Vec<&str> = j["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"kube_kind:kustomization"));
    assert!(tags.contains(&"flux_reason:healthcheckfailed"));
    assert!(tags.contains(&"flux_reporting_controller:kustomize-controller"));
    assert!(tags.contains(&"summary:cluster: prod"));
}

fn envelope(r: &Captured) -> (Value, Value, Value) {
    let text = String::from_utf8(r.body.clone()).unwrap();
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let item_header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let item = lines.next().unwrap();
    assert_eq!(item_header["length"], item.len());
    (header, item_header, serde_json::from_str(item).unwrap())
}

use serde_json::Value;

#[tokio::test]
async fn sentry_sends_errors_as_events() {
    let srv = TestServer::ok().await;
    let dsn = srv.url.replace("http://", "http://pubkey@") + "/42";
    let mut cfg = config("sentry", &dsn);
    cfg.channel = "production".into();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/api/42/envelope/");
    assert_eq!(r.header("content-type"), "application/x-sentry-envelope");
    let auth = r.header("x-sentry-auth");
    assert!(auth.starts_with("Sentry sentry_version=7,"), "{auth}");
    assert!(auth.contains("sentry_key=pubkey"), "{auth}");
    let (h, ih, e) = envelope(&r);
    assert_eq!(ih["type"], "event");
    assert_eq!(h["event_id"], e["event_id"]);
    assert_eq!(e["level"], "error");
    assert_eq!(e["server_name"], "kustomize-controller");
    assert_eq!(e["transaction"], "Kustomization: gitops-system/webapp");
    assert_eq!(e["message"], "Health check failed\nafter 2m");
    assert_eq!(e["environment"], "production");
    assert_eq!(e["contexts"]["metadata"]["summary"], "Cluster: prod");
    assert_eq!(e["timestamp"], "2026-01-02T03:04:05Z");
}

#[tokio::test]
async fn sentry_sends_info_as_transactions_and_skips_trace() {
    let srv = TestServer::ok().await;
    let dsn = srv.url.replace("http://", "http://pubkey@") + "/sub/7";
    let cfg = config("sentry", &dsn);
    send(&cfg, &info_event()).await.unwrap();
    send(&cfg, &event("trace", "Progressing")).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/sub/api/7/envelope/");
    let (_, ih, e) = envelope(&r);
    assert_eq!(ih["type"], "transaction");
    assert_eq!(e["type"], "transaction");
    assert_eq!(e["tags"]["flux_involved_object_kind"], "Kustomization");
    assert_eq!(e["tags"]["flux_reason"], "ReconciliationSucceeded");
    assert_eq!(e["tags"]["revision"], format!("main@sha1:{SHA}"));
    assert_eq!(e["contexts"]["trace"]["op"], "event");
    assert_eq!(
        e["contexts"]["trace"]["trace_id"].as_str().unwrap().len(),
        32
    );
    assert_eq!(e["spans"][0]["span_id"], e["contexts"]["trace"]["span_id"]);
}
