//! Tests of the providers against local servers that record what they receive.

mod chat;
mod delivery;
mod git;
mod incident;

use super::testserver::{Captured, TestServer};
use super::*;
use k8s_openapi::api::core::v1::ObjectReference;

/// The commit of the test events' revision.
const SHA: &str = "69b59063470310ebbd88a9156325322a124e55a3";
/// A token that must never show in errors.
const TOKEN: &str = "s3cr3t-t0ken-value";
/// The provider UID of the test configs.
const UID: &str = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a";

/// A Kustomization event with revision and summary metadata.
fn event(severity: &str, reason: &str) -> Event {
    Event {
        involved_object: ObjectReference {
            api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
            kind: Some("Kustomization".into()),
            name: Some("webapp".into()),
            namespace: Some("gitops-system".into()),
            uid: Some("7d0a4a4e-5d2c-4b8e-9c4e-3c8a3f1e2b11".into()),
            ..Default::default()
        },
        severity: severity.into(),
        timestamp: "2026-01-02T03:04:05Z".into(),
        message: "Health check failed\nafter 2m".into(),
        reason: reason.into(),
        metadata: [
            ("revision".to_owned(), format!("main@sha1:{SHA}")),
            ("summary".to_owned(), "Cluster: prod".to_owned()),
        ]
        .into_iter()
        .collect(),
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: "kustomize-controller-7f9c".into(),
    }
}

fn error_event() -> Event {
    event("error", "HealthCheckFailed")
}

fn info_event() -> Event {
    event("info", "ReconciliationSucceeded")
}

/// A config with fast retries and a 5 s timeout.
fn config(type_: &str, address: &str) -> ProviderConfig {
    ProviderConfig {
        type_: type_.into(),
        name: "p".into(),
        namespace: "gitops-system".into(),
        uid: UID.into(),
        address: address.into(),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 4,
            wait_min: Duration::from_millis(5),
            wait_max: Duration::from_millis(20),
        },
        ..Default::default()
    }
}

/// A commit-status config whose commit status is the default one.
fn git_config(type_: &str, address: &str) -> ProviderConfig {
    let mut c = config(type_, address);
    c.token = TOKEN.into();
    c.commit_status = default_commit_status(UID, &error_event());
    c
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", http::basic_auth(user, password))
}

#[test]
fn default_commit_status_is_kind_name_and_uid_prefix() {
    let mut e = error_event();
    e.involved_object.kind = Some("Kustomization".into());
    e.involved_object.name = Some("Gitops-System".into());
    assert_eq!(
        default_commit_status(UID, &e),
        "kustomization/gitops-system/0c9c2e41"
    );
    assert_eq!(
        default_commit_status("", &e),
        "kustomization/gitops-system/"
    );
}

#[test]
fn type_predicates() {
    assert!(is_commit_status("azuredevops"));
    assert!(!is_commit_status("githubdispatch"));
    assert!(is_generic("generic-hmac"));
    assert!(!is_generic("slack"));
}

#[test]
fn text_helpers() {
    assert_eq!(
        format::split_camelcase("ReconciliationSucceeded"),
        ["Reconciliation", "Succeeded"]
    );
    assert_eq!(
        format::split_camelcase("PDFLoader2x"),
        ["PDF", "Loader", "2", "x"]
    );
    let (n, d) = format::name_and_description(&error_event());
    assert_eq!(
        (n.as_str(), d.as_str()),
        ("kustomization/webapp", "health check failed")
    );
    assert_eq!(format::title_case("HealthCheckFailed"), "Healthcheckfailed");
    assert_eq!(format::title_case("foo bar-baz"), "Foo Bar-Baz");
    assert_eq!(format::telegram_escape("a.b_c\\d!"), "a\\.b\\_c\\\\d\\!");
    assert_eq!(
        format::rfc3339(format::timestamp(&error_event())),
        "2026-01-02T03:04:05Z"
    );
}
