//! `notification.toolkit.fluxcd.io`: Provider and Alert (`v1beta3`), Receiver (`v1`).

use crate::condition::Condition;
use crate::duration::{Duration, INTERVAL_PATTERN, TIMEOUT_PATTERN};
use crate::meta::{LocalObjectReference, NOTIFICATION_OBJECT_KINDS, is_false};
use crate::source::impl_conditions;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group of the notification kinds.
pub const GROUP: &str = "notification.toolkit.fluxcd.io";

/// Provider types (`spec.type` of a Provider).
pub const PROVIDER_TYPES: &[&str] = &[
    "slack",
    "discord",
    "msteams",
    "rocket",
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "gitea",
    "giteapullrequestcomment",
    "bitbucketserver",
    "bitbucket",
    "azuredevops",
    "googlechat",
    "googlepubsub",
    "webex",
    "sentry",
    "azureeventhub",
    "telegram",
    "lark",
    "matrix",
    "opsgenie",
    "alertmanager",
    "grafana",
    "githubdispatch",
    "githubpullrequestcomment",
    "gitlabmergerequestcomment",
    "pagerduty",
    "datadog",
    "nats",
    "zulip",
    "otel",
    "zoom",
    "incident.io",
];

/// Receiver types (`spec.type` of a Receiver).
pub const RECEIVER_TYPES: &[&str] = &[
    "generic",
    "generic-hmac",
    "generic-oidc",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
];

crate::flux_kind! {
    /// Where and how to send notifications (chat, Git commit statuses, webhooks …).
    kind Provider {
        group: "notification.toolkit.fluxcd.io",
        version: "v1beta3",
        plural: "providers",
        singular: "provider",
        short_names: [],
        categories: ["all", "fluxcd", "fluxcd-notifications"],
        description: "Provider is the Schema for the providers API",
        spec: ProviderSpec,
        status_subresource: false,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
        ],
    }
}

/// Desired state of a Provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types",
     "rule": "self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)"}
]))]
pub struct ProviderSpec {
    /// The endpoint notifications are sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// Secret with a client certificate and CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Channel, room or topic to post to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// CEL expression computing the commit status key (Git providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN))]
    pub interval: Option<Duration>,
    /// Deprecated: HTTP(S) proxy address; use `proxySecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^(http|https)://.*$"))]
    pub proxy: Option<String>,
    /// Secret with proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with the address and credentials (`address`, `token`, `username`, `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Stop sending.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Timeout of sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TIMEOUT_PATTERN))]
    pub timeout: Option<Duration>,
    /// The provider type, e.g. `slack`, `github`, `generic`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = PROVIDER_TYPES))]
    pub type_: String,
    /// Bot user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
}

crate::flux_kind! {
    /// Sends events of selected objects to a Provider.
    kind Alert {
        group: "notification.toolkit.fluxcd.io",
        version: "v1beta3",
        plural: "alerts",
        singular: "alert",
        short_names: [],
        categories: ["all", "fluxcd", "fluxcd-notifications"],
        description: "Alert is the Schema for the alerts API",
        spec: AlertSpec,
        status_subresource: false,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
        ],
    }
}

/// Desired state of an Alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    /// Metadata added to every event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_metadata: Option<BTreeMap<String, String>>,
    /// Minimum severity: `info` (all events) or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "info"))]
    pub event_severity: Option<EventSeverity>,
    /// The objects whose events are sent.
    pub event_sources: Vec<CrossNamespaceObjectReference>,
    /// Regular expressions of messages to drop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusion_list: Vec<String>,
    /// Regular expressions of messages to keep (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inclusion_list: Vec<String>,
    /// The Provider to send to.
    pub provider_ref: LocalObjectReference,
    /// Deprecated: use `eventMetadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub summary: Option<String>,
    /// Stop sending.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// Event severities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventSeverity {
    /// Informational events (and errors).
    #[default]
    Info,
    /// Errors only.
    Error,
}

/// A reference to Flux objects by kind and name (or `*`) and labels, possibly in another
/// namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the objects.
    #[schemars(extend("enum" = NOTIFICATION_OBJECT_KINDS))]
    pub kind: String,
    /// Labels the objects must have (with name `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Name of the object, or `*` for all.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
}

/// An object (or objects, with name `*`) a Receiver reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReceiverResource {
    /// CEL expression selecting which matching objects a request reconciles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The objects.
    #[serde(flatten)]
    pub reference: CrossNamespaceObjectReference,
}

crate::flux_kind! {
    /// A webhook endpoint that triggers reconciliations of selected objects.
    kind Receiver {
        group: "notification.toolkit.fluxcd.io",
        version: "v1",
        plural: "receivers",
        singular: "receiver",
        short_names: [],
        categories: ["all", "fluxcd", "fluxcd-notifications"],
        description: "Receiver is the Schema for the receivers API.",
        spec: ReceiverSpec,
        status: ReceiverStatus,
        status_subresource: true,
        printer_columns: [
            {"Age", "date", ".metadata.creationTimestamp"},
            {"Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"},
            {"Status", "string", ".status.conditions[?(@.type==\"Ready\")].message"},
        ],
    }
}

/// Desired state of a Receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"message": "generic-oidc receivers must define at least one oidcProvider",
     "rule": "self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)"},
    {"message": "oidcProviders can only be set when type is generic-oidc",
     "rule": "self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0"},
    {"message": "secretRef cannot be set when type is generic-oidc",
     "rule": "self.type != 'generic-oidc' || !has(self.secretRef)"},
    {"message": "secretRef is required when type is not generic-oidc",
     "rule": "self.type == 'generic-oidc' || has(self.secretRef)"},
]))]
pub struct ReceiverSpec {
    /// Event types to accept (e.g. `push`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// How often to reconcile the Receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INTERVAL_PATTERN), extend("default" = "10m"))]
    pub interval: Option<Duration>,
    /// OIDC providers that may sign requests (`generic-oidc`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        rename = "oidcProviders"
    )]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["issuerURL"]))]
    pub oidc_providers: Vec<OidcProvider>,
    /// CEL expression selecting which resources a request reconciles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// The objects to reconcile on a valid request.
    pub resources: Vec<ReceiverResource>,
    /// Secret with the webhook `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Stop accepting requests.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// The sender, e.g. `github`, `generic-hmac`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = RECEIVER_TYPES))]
    pub type_: String,
}

/// An OIDC issuer trusted by a `generic-oidc` Receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    /// Expected audience; the Receiver's URL when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The issuer URL.
    #[serde(rename = "issuerURL")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub issuer_url: String,
    /// CEL checks of the token's claims; all must pass.
    #[schemars(length(min = 1))]
    pub validations: Vec<OidcValidation>,
    /// CEL variables computed from the claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<OidcVariable>,
}

/// A CEL check of an OIDC token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OidcValidation {
    /// The CEL expression.
    pub expression: String,
    /// Message when it fails.
    pub message: String,
}

/// A CEL variable computed from an OIDC token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OidcVariable {
    /// The CEL expression.
    pub expression: String,
    /// The variable name.
    pub name: String,
}

/// Observed state of a Receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": -1}))]
pub struct ReceiverStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The webhook path, `/hook/<sha256>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
}

impl_conditions!(ReceiverStatus);
