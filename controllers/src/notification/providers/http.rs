//! The HTTP client shared by providers: proxy, TLS, the Secret's headers, and retries
//! like Flux's `retryablehttp` client, bounded by the delivery deadline.

use super::{ProviderConfig, ProviderError, RetryPolicy};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::time::Instant;

/// The largest response body read (bigger ones are cut).
const MAX_BODY: usize = 4 << 20;
/// How much of a response body an error quotes.
const MAX_ERROR_BODY: usize = 512;

/// Checks that `address` is an absolute `http(s)` URL, as the provider type needs.
pub(super) fn require_url(type_: &str, address: &str) -> Result<reqwest::Url, ProviderError> {
    let bad = || {
        ProviderError(format!(
            "invalid {type_} address: an absolute http(s) URL is required"
        ))
    };
    if address.trim().is_empty() {
        return Err(ProviderError(format!(
            "the {type_} provider requires an address"
        )));
    }
    let u = reqwest::Url::parse(address.trim()).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad());
    }
    Ok(u)
}

/// `scheme://host[:port]` of `url`: what errors show of an address (paths, queries and
/// user info of webhook URLs often carry secrets).
pub(super) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => format!("{}:", u.scheme()),
        },
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// One request to make (and to repeat on retries).
#[derive(Clone, Debug)]
pub(super) struct Req {
    method: Method,
    url: String,
    /// Headers of the provider, which the Secret's `headers` may override.
    headers: Vec<(String, String)>,
    /// Headers set after the Secret's: authentication and signatures.
    auth: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req {
    /// A request without a body.
    pub(super) fn new(method: Method, url: impl Into<String>) -> Self {
        Req {
            method,
            url: url.into(),
            headers: Vec::new(),
            auth: Vec::new(),
            body: None,
        }
    }

    /// A GET request.
    pub(super) fn get(url: impl Into<String>) -> Self {
        Req::new(Method::GET, url)
    }

    /// A request with `payload` as its JSON body.
    pub(super) fn json(
        method: Method,
        url: impl Into<String>,
        payload: &impl Serialize,
    ) -> Result<Self, ProviderError> {
        let body = serde_json::to_vec(payload)
            .map_err(|e| ProviderError(format!("marshalling notification payload failed: {e}")))?;
        Ok(Req::new(method, url).body("application/json", body))
    }

    /// A POST request with `payload` as its JSON body.
    pub(super) fn post_json(
        url: impl Into<String>,
        payload: &impl Serialize,
    ) -> Result<Self, ProviderError> {
        Req::json(Method::POST, url, payload)
    }

    /// Sets the body and its `Content-Type`.
    pub(super) fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self.header("Content-Type", content_type)
    }

    /// Sets a header (the Secret's `headers` may override it).
    pub(super) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a header after the Secret's `headers` (authentication, signatures).
    pub(super) fn auth_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.auth.push((name.to_owned(), value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub(super) fn bearer(self, token: &str) -> Self {
        self.auth_header("Authorization", format!("Bearer {token}"))
    }

    /// `Authorization: Basic <base64(user:password)>`.
    pub(super) fn basic(self, user: &str, password: &str) -> Self {
        self.auth_header(
            "Authorization",
            format!("Basic {}", basic_auth(user, password)),
        )
    }

    fn what(&self) -> String {
        format!("{} {}", self.method, redact(&self.url))
    }
}

/// `base64(user:password)`.
pub(super) fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// The final answer to a request.
#[derive(Debug)]
pub(super) struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The body (at most 4 MiB).
    pub body: Vec<u8>,
    attempts: u32,
    what: String,
}

impl Reply {
    /// Whether the status is 2xx.
    pub(super) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error describing a failed answer: status code and (cut) body.
    pub(super) fn error(&self) -> ProviderError {
        let after = if self.attempts > 1 {
            format!(" (after {} attempts)", self.attempts)
        } else {
            String::new()
        };
        let body = String::from_utf8_lossy(&self.body);
        let body = body.trim();
        let body = match body.char_indices().nth(MAX_ERROR_BODY) {
            Some((i, _)) => format!("{}…", &body[..i]),
            None => body.to_owned(),
        };
        ProviderError(format!(
            "{}: request failed with status code {}{after}: {body}",
            self.what, self.status
        ))
    }

    /// The reply if 2xx, else its [`Reply::error`].
    pub(super) fn check(self) -> Result<Reply, ProviderError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.error())
        }
    }

    /// The body parsed as JSON.
    pub(super) fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError(format!(
                "{}: unable to unmarshal response body: {e}",
                self.what
            ))
        })
    }
}

/// A transport failure of one attempt.
struct Failure {
    message: String,
    retryable: bool,
}

/// One delivery's HTTP client.
pub(super) struct Http {
    client: reqwest::Client,
    headers: Vec<(HeaderName, HeaderValue)>,
    retry: RetryPolicy,
    deadline: Instant,
}

impl Http {
    /// A client with the provider's proxy, TLS material and headers, whose requests
    /// (retries included) end by `deadline`.
    pub(super) fn new(cfg: &ProviderConfig, deadline: Instant) -> Result<Self, ProviderError> {
        let client = cached_client(cfg)?;
        let mut headers = Vec::new();
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ProviderError(format!("invalid header name '{k}' in headers")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| ProviderError(format!("invalid value of header '{k}' in headers")))?;
            headers.push((name, value));
        }
        Ok(Http {
            client,
            headers,
            retry: cfg.retry.clone(),
            deadline,
        })
    }

    /// Sends `req` and returns the answer whatever its status, retrying connection
    /// errors, 429 and 5xx (but 501) with exponential back-off (`Retry-After` honoured
    /// on 429 and 503) while retries and time are left.
    pub(super) async fn send(&self, req: &Req) -> Result<Reply, ProviderError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ProviderError(format!(
                    "{}: timed out before attempt {attempt}",
                    req.what()
                )));
            }
            let (retry, hint, outcome) = match self.once(req, remaining).await {
                Ok((mut reply, retry_after)) => {
                    reply.attempts = attempt;
                    let s = reply.status;
                    let retry = s == 429 || s == 0 || (s >= 500 && s != 501);
                    let hint = retry_after.filter(|_| s == 429 || s == 503);
                    (retry, hint, Ok(reply))
                }
                Err(f) => {
                    let after = if attempt > 1 {
                        format!(" after {attempt} attempts")
                    } else {
                        String::new()
                    };
                    let err = ProviderError(format!(
                        "{}: request failed{after}: {}",
                        req.what(),
                        f.message
                    ));
                    (f.retryable, None, Err(err))
                }
            };
            if !retry || attempt > self.retry.max_retries {
                return outcome;
            }
            let wait = hint.unwrap_or_else(|| self.backoff(attempt - 1));
            if Instant::now() + wait >= self.deadline {
                // No time for another attempt: report this one.
                return outcome;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `req` and fails unless the answer is 2xx.
    pub(super) async fn send_ok(&self, req: &Req) -> Result<Reply, ProviderError> {
        self.send(req).await?.check()
    }

    /// `retryablehttp.DefaultBackoff`: `wait_min * 2^n`, at most `wait_max`.
    fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.checked_pow(n).unwrap_or(u32::MAX);
        self.retry
            .wait_min
            .checked_mul(factor)
            .unwrap_or(self.retry.wait_max)
            .min(self.retry.wait_max)
    }

    async fn once(
        &self,
        req: &Req,
        remaining: Duration,
    ) -> Result<(Reply, Option<Duration>), Failure> {
        let fatal = |message: String| Failure {
            message,
            retryable: false,
        };
        let url = reqwest::Url::parse(&req.url).map_err(|_| fatal("invalid URL".to_owned()))?;
        let mut headers = HeaderMap::new();
        let pairs = req
            .headers
            .iter()
            .map(|(k, v)| (k, v, false))
            .chain(req.auth.iter().map(|(k, v)| (k, v, true)));
        let mut own = Vec::new();
        let mut auth = Vec::new();
        for (k, v, is_auth) in pairs {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| fatal(format!("invalid header name '{k}'")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| fatal(format!("invalid value of header '{k}'")))?;
            if is_auth {
                auth.push((name, value));
            } else {
                own.push((name, value));
            }
        }
        for (k, v) in own
            .into_iter()
            .chain(self.headers.iter().cloned())
            .chain(auth)
        {
            headers.insert(k, v);
        }
        let mut rb = self
            .client
            .request(req.method.clone(), url)
            .headers(headers)
            .timeout(remaining);
        if let Some(b) = &req.body {
            rb = rb.body(b.clone());
        }
        let mut resp = rb.send().await.map_err(|e| Failure {
            retryable: retryable(&e),
            message: chain(&e),
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    let room = MAX_BODY.saturating_sub(body.len());
                    body.extend_from_slice(&c[..c.len().min(room)]);
                    if body.len() >= MAX_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Failure {
                        retryable: true,
                        message: format!("reading the response: {}", chain(&e)),
                    });
                }
            }
        }
        Ok((
            Reply {
                status,
                body,
                attempts: 1,
                what: req.what(),
            },
            retry_after,
        ))
    }
}

/// Whether `retryablehttp`'s default policy retries this transport error: not for
/// invalid requests, too many redirects or untrusted certificates.
fn retryable(e: &reqwest::Error) -> bool {
    if e.is_builder() || e.is_redirect() {
        return false;
    }
    let text = chain(e).to_lowercase();
    !text.contains("certificate")
}

/// An error and its sources, without the URL (it may carry secrets).
fn chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let s = match err.downcast_ref::<reqwest::Error>() {
            Some(re) => {
                // Display of a reqwest error appends "for url (…)": strip it.
                let s = re.to_string();
                match s.find(" for url (") {
                    Some(i) => s[..i].to_owned(),
                    None => s,
                }
            }
            None => err.to_string(),
        };
        if parts.last() != Some(&s) && !s.is_empty() {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Clients by a digest of their settings (proxy and TLS material), so deliveries reuse
/// connections and skip loading the root store; bounded, cleared when full.
static CLIENTS: std::sync::LazyLock<
    parking_lot::Mutex<std::collections::HashMap<[u8; 32], reqwest::Client>>,
> = std::sync::LazyLock::new(Default::default);
const MAX_CACHED_CLIENTS: usize = 64;

fn cached_client(cfg: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    part(cfg.proxy.as_deref().unwrap_or("").as_bytes());
    if let Some(tls) = &cfg.tls {
        for b in [&tls.ca, &tls.cert, &tls.key] {
            part(b.as_deref().unwrap_or_default());
        }
    }
    let key: [u8; 32] = h.finalize().into();
    if let Some(c) = CLIENTS.lock().get(&key) {
        return Ok(c.clone());
    }
    let client = build_client(cfg)?;
    let mut clients = CLIENTS.lock();
    if clients.len() >= MAX_CACHED_CLIENTS {
        clients.clear();
    }
    clients.insert(key, client.clone());
    Ok(client)
}

/// A client with the provider's proxy and TLS material.
fn build_client(cfg: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
    gitops_runtime::ensure_crypto_provider();
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10));
    if let Some(p) = cfg
        .proxy
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let proxy =
            reqwest::Proxy::all(p).map_err(|_| ProviderError::new("unable to parse proxy URL"))?;
        b = b.proxy(proxy);
    }
    if let Some(tls) = &cfg.tls {
        if let Some(ca) = tls.ca.as_deref().filter(|c| !c.is_empty()) {
            let certs = reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|_| ProviderError::new("invalid CA certificate (ca.crt)"))?;
            if certs.is_empty() {
                return Err(ProviderError::new(
                    "invalid CA certificate (ca.crt): no PEM certificate found",
                ));
            }
            // Added to the system roots, as Flux's `TLSConfigFromSecret` does.
            b = b.tls_certs_merge(certs);
        }
        match (tls.cert.as_deref(), tls.key.as_deref()) {
            (Some(cert), Some(key)) if !cert.is_empty() && !key.is_empty() => {
                let mut pem = cert.to_vec();
                pem.push(b'\n');
                pem.extend_from_slice(key);
                let id = reqwest::Identity::from_pem(&pem).map_err(|_| {
                    ProviderError::new("invalid client certificate (tls.crt/tls.key)")
                })?;
                b = b.identity(id);
            }
            (Some(c), None) if !c.is_empty() => {
                return Err(ProviderError::new("tls.crt given without tls.key"));
            }
            (None, Some(k)) if !k.is_empty() => {
                return Err(ProviderError::new("tls.key given without tls.crt"));
            }
            _ => {}
        }
    }
    b.build()
        .map_err(|e| ProviderError(format!("failed to create HTTP client: {}", chain(&e))))
}
