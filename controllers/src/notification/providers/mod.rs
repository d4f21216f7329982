//! Providers: sending one event to one service in the payload that service documents
//! (chat webhooks, incident tools, Git commit statuses, …).
//!
//! Each type sends what Flux's notifier of the same name sends (method, path, headers,
//! authentication and JSON payload). HTTP deliveries share one client helper
//! ([`http`]) retrying like Flux's (hashicorp `retryablehttp`: 4 retries, 2 s – 30 s
//! exponential back-off, on connection errors, 429 and 5xx but 501), all within
//! [`ProviderConfig::timeout`]. Errors never contain the token, the password or other
//! Secret values, and URLs in errors are cut down to their scheme and host (webhook
//! paths and queries often embed secrets).

mod chat;
mod format;
mod git;
mod http;
mod incident;
mod nats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testserver;

use gitops_api::event::Event;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// TLS material for a provider (from `certSecretRef`, or the provider Secret for Git
/// commit-status providers): PEM.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsMaterial {
    /// `ca.crt`: extra trusted roots.
    pub ca: Option<Vec<u8>>,
    /// `tls.crt` and `tls.key`: a client certificate.
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

/// How HTTP deliveries are retried; the default is Flux's (`retryablehttp` with
/// `RetryMax` 4, `RetryWaitMin` 2 s, `RetryWaitMax` 30 s).
#[derive(Clone, Debug)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first back-off; it doubles with every retry.
    pub wait_min: Duration,
    /// The longest back-off.
    pub wait_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            wait_min: Duration::from_secs(2),
            wait_max: Duration::from_secs(30),
        }
    }
}

/// Everything needed to send to one Provider, resolved from the object and its Secrets.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProviderConfig {
    /// `spec.type` (`slack`, `github` …).
    pub type_: String,
    /// The Provider's name, namespace and UID.
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// `spec.address`, or the Secret's `address`.
    pub address: String,
    /// `spec.channel`.
    pub channel: String,
    /// `spec.username` (or the Secret's `username`).
    pub username: String,
    /// The Secret's `token`.
    pub token: String,
    /// The Secret's `password`.
    pub password: String,
    /// The Secret's `headers` (a YAML map), added to every request.
    pub headers: BTreeMap<String, String>,
    /// All of the Secret's data (provider-specific keys).
    pub secret_data: BTreeMap<String, Vec<u8>>,
    /// The commit status identifier (commit-status providers only).
    pub commit_status: String,
    /// Proxy URL.
    pub proxy: Option<String>,
    /// TLS material.
    pub tls: Option<TlsMaterial>,
    /// Time limit of one delivery, retries included (zero: Flux's default, 15 s).
    pub timeout: Duration,
    /// Retries of HTTP requests (default: Flux's).
    pub retry: RetryPolicy,
    /// Replaces the fixed API base URL of services whose API host does not come from the
    /// address (`https://api.github.com` for github.com repositories,
    /// `https://api.bitbucket.org/2.0`, `https://api.telegram.org`); `None` in
    /// production, a local server in tests.
    pub api_base: Option<String>,
}

impl ProviderConfig {
    /// The delivery time limit: [`ProviderConfig::timeout`], or 15 s when unset.
    fn effective_timeout(&self) -> Duration {
        if self.timeout.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            self.timeout
        }
    }

    /// The token, or the password when there is no token (Flux's fallback for Git
    /// providers).
    fn token_or_password(&self) -> &str {
        if self.token.is_empty() {
            &self.password
        } else {
            &self.token
        }
    }
}

/// Flux's default provider timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a delivery failed (never contains the token or other Secret values).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ProviderError(pub String);

impl ProviderError {
    fn new(msg: impl Into<String>) -> Self {
        ProviderError(msg.into())
    }
}

/// Every type [`send`] handles.
const TYPES: &[&str] = &[
    "generic",
    "generic-hmac",
    "slack",
    "msteams",
    "discord",
    "rocket",
    "googlechat",
    "webex",
    "telegram",
    "matrix",
    "lark",
    "alertmanager",
    "grafana",
    "opsgenie",
    "pagerduty",
    "datadog",
    "sentry",
    "nats",
    "githubdispatch",
    "github",
    "gitlab",
    "gitea",
    "bitbucket",
    "bitbucketserver",
    "azuredevops",
];

/// Sends `event` (metadata already combined by the event server) to the provider.
pub(crate) async fn send(cfg: &ProviderConfig, event: &Event) -> Result<(), ProviderError> {
    validate(cfg)?;
    let timeout = cfg.effective_timeout();
    let deadline = Instant::now() + timeout;
    let result = match tokio::time::timeout(timeout, dispatch(cfg, event, deadline)).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError(format!(
            "sending to {} provider '{}/{}' timed out after {timeout:?}",
            cfg.type_, cfg.namespace, cfg.name
        ))),
    };
    result.map_err(|e| mask(cfg, e))
}

async fn dispatch(
    cfg: &ProviderConfig,
    event: &Event,
    deadline: Instant,
) -> Result<(), ProviderError> {
    if cfg.type_ == "nats" {
        return nats::send(cfg, event, deadline).await;
    }
    let http = http::Http::new(cfg, deadline)?;
    match cfg.type_.as_str() {
        "generic" | "generic-hmac" => chat::generic(&http, cfg, event).await,
        "slack" => chat::slack(&http, cfg, event).await,
        "discord" => chat::discord(&http, cfg, event).await,
        "rocket" => chat::rocket(&http, cfg, event).await,
        "msteams" => chat::msteams(&http, cfg, event).await,
        "googlechat" => chat::googlechat(&http, cfg, event).await,
        "webex" => chat::webex(&http, cfg, event).await,
        "telegram" => chat::telegram(&http, cfg, event).await,
        "matrix" => chat::matrix(&http, cfg, event).await,
        "lark" => chat::lark(&http, cfg, event).await,
        "alertmanager" => incident::alertmanager(&http, cfg, event).await,
        "grafana" => incident::grafana(&http, cfg, event).await,
        "opsgenie" => incident::opsgenie(&http, cfg, event).await,
        "pagerduty" => incident::pagerduty(&http, cfg, event).await,
        "datadog" => incident::datadog(&http, cfg, event).await,
        "sentry" => incident::sentry(&http, cfg, event).await,
        "githubdispatch" => git::github_dispatch(&http, cfg, event).await,
        "github" => git::github(&http, cfg, event).await,
        "gitlab" => git::gitlab(&http, cfg, event).await,
        "gitea" => git::gitea(&http, cfg, event).await,
        "bitbucket" => git::bitbucket(&http, cfg, event).await,
        "bitbucketserver" => git::bitbucket_server(&http, cfg, event).await,
        "azuredevops" => git::azure_devops(&http, cfg, event).await,
        other => Err(unsupported(other)),
    }
}

fn unsupported(type_: &str) -> ProviderError {
    ProviderError(format!("provider type '{type_}' is not supported"))
}

/// The checks Flux's notifier factory makes before sending: an address that parses for
/// the types that need one, the token, channel or credentials a type requires, a
/// repository address the Git types can take apart. Its errors go on the Alert.
pub(crate) fn validate(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    check(cfg).map_err(|e| mask(cfg, e))
}

fn check(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    let t = cfg.type_.as_str();
    if !TYPES.contains(&t) {
        return Err(unsupported(t));
    }
    if let Some(p) = cfg.proxy.as_deref().filter(|p| !p.trim().is_empty()) {
        reqwest::Proxy::all(p.trim())
            .map_err(|_| ProviderError::new("unable to parse proxy URL"))?;
    }
    match t {
        "generic" | "generic-hmac" | "slack" | "discord" | "rocket" | "msteams" | "googlechat"
        | "webex" | "lark" | "alertmanager" | "grafana" | "pagerduty" => {
            http::require_url(t, &cfg.address)?;
            if t == "generic-hmac" && cfg.token.is_empty() {
                return Err(ProviderError::new("HMAC key is empty"));
            }
        }
        "matrix" => {
            http::require_url(t, &cfg.address)?;
            if cfg.channel.is_empty() {
                return Err(ProviderError::new("empty Matrix room ID (channel)"));
            }
        }
        "opsgenie" => {
            http::require_url(t, &cfg.address)?;
            if cfg.token.is_empty() {
                return Err(ProviderError::new("empty Opsgenie apikey/token"));
            }
        }
        "telegram" => {
            if cfg.channel.is_empty() {
                return Err(ProviderError::new("empty Telegram channel"));
            }
            if cfg.token.is_empty() {
                return Err(ProviderError::new("empty Telegram token"));
            }
        }
        "datadog" => {
            if cfg.token.is_empty() {
                return Err(ProviderError::new("token cannot be empty"));
            }
            if !cfg.address.is_empty() {
                http::require_url(t, &cfg.address)
                    .map_err(|_| ProviderError::new("failed to parse address"))?;
            }
        }
        "sentry" => {
            incident::SentryDsn::parse(&cfg.address)?;
        }
        "nats" => nats::check(cfg)?,
        _ => git::check(cfg)?,
    }
    Ok(())
}

/// Flux's `generateDefaultCommitStatus`: `<kind>/<name>/<first part of the provider UID>`
/// (the UID up to its first `-`), lower-cased.
pub(crate) fn default_commit_status(provider_uid: &str, event: &Event) -> String {
    let uid = provider_uid.split('-').next().unwrap_or_default();
    let o = &event.involved_object;
    format!(
        "{}/{}/{}",
        o.kind.as_deref().unwrap_or_default(),
        o.name.as_deref().unwrap_or_default(),
        uid
    )
    .to_lowercase()
}

/// Whether the type posts Git commit statuses (github, gitlab, gitea, bitbucket,
/// bitbucketserver, azuredevops).
pub(crate) fn is_commit_status(type_: &str) -> bool {
    matches!(
        type_,
        "github" | "gitlab" | "gitea" | "bitbucket" | "bitbucketserver" | "azuredevops"
    )
}

/// Whether the type is `generic` or `generic-hmac`.
pub(crate) fn is_generic(type_: &str) -> bool {
    matches!(type_, "generic" | "generic-hmac")
}

/// Replaces the token, the password and other Secret values in `err` by `*****`.
fn mask(cfg: &ProviderConfig, err: ProviderError) -> ProviderError {
    let mut secrets: Vec<String> = Vec::new();
    for s in [&cfg.token, &cfg.password] {
        if s.len() >= 4 {
            secrets.push(s.clone());
            // `user:password` tokens (bitbucket): mask the halves too.
            if let Some((a, b)) = s.split_once(':') {
                secrets.extend(
                    [a, b]
                        .into_iter()
                        .filter(|p| p.len() >= 4)
                        .map(str::to_owned),
                );
            }
        }
    }
    for (k, v) in &cfg.secret_data {
        if matches!(
            k.as_str(),
            "address" | "username" | "proxy" | "ca.crt" | "tls.crt"
        ) {
            continue;
        }
        if let Ok(v) = std::str::from_utf8(v) {
            let v = v.trim();
            if v.len() >= 8 {
                secrets.push(v.to_owned());
            }
        }
    }
    for (k, v) in &cfg.headers {
        if k.eq_ignore_ascii_case("authorization") || v.len() >= 16 {
            secrets.push(v.clone());
        }
    }
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut msg = err.0;
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        msg = msg.replace(s.as_str(), "*****");
    }
    ProviderError(msg)
}
