//! A small JSON client for the GitLab and Gitea REST APIs: one authentication header, an
//! optional CA bundle, and errors that carry the service's own message (never the token).

use anyhow::Context as _;
use reqwest::Method;
use serde_json::Value;

/// A JSON REST API under `base` (e.g. `https://gitlab.com/api/v4`).
pub(super) struct Rest {
    base: String,
    service: &'static str,
    header: (reqwest::header::HeaderName, reqwest::header::HeaderValue),
    client: reqwest::Client,
}

impl Rest {
    /// A client sending `header: value` with every request (the value is marked sensitive).
    pub fn new(
        service: &'static str,
        base: String,
        header: &'static str,
        value: &str,
        ca: Option<&[u8]>,
    ) -> anyhow::Result<Rest> {
        gitops_source::ensure_crypto_provider();
        let mut value = reqwest::header::HeaderValue::from_str(value)
            .context("the token holds characters a header cannot carry")?;
        value.set_sensitive(true);
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("gitops/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(20))
            .timeout(std::time::Duration::from_secs(60));
        if let Some(pem) = ca {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .context("unable to read the TLS CA file")?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Rest {
            base,
            service,
            header: (reqwest::header::HeaderName::from_static(header), value),
            client: builder.build()?,
        })
    }

    /// Sends a request; the status and the parsed body (`null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .client
            .request(method.clone(), &url)
            .header(self.header.0.clone(), self.header.1.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(b)?);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{} API {method} {url}: {}", self.service, e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes).chars().take(300).collect())
            })
        };
        Ok((status, value))
    }

    /// The error for a failed call: the service's message (GitLab's may be an object of
    /// field errors).
    fn error(&self, method: &Method, path: &str, status: u16, body: &Value) -> anyhow::Error {
        let message = match &body["message"] {
            Value::String(s) => s.clone(),
            Value::Null => match body {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            },
            other => other.to_string(),
        };
        anyhow::anyhow!(
            "{} API {method} {}{path}: {status} {message}",
            self.service,
            self.base
        )
    }

    /// `GET`, `None` on 404.
    pub async fn get_opt(&self, path: &str) -> anyhow::Result<Option<Value>> {
        match self.call(Method::GET, path, None).await? {
            (404, _) => Ok(None),
            (s, v) if (200..300).contains(&s) => Ok(Some(v)),
            (s, v) => Err(self.error(&Method::GET, path, s, &v)),
        }
    }

    /// A request that must succeed (2xx); its body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        match self.call(method.clone(), path, body).await? {
            (s, v) if (200..300).contains(&s) => Ok(v),
            (s, v) => Err(self.error(&method, path, s, &v)),
        }
    }

    /// `GET` that must succeed.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }
}

/// `s` escaped as one path segment (`acme/fleet` → `acme%2Ffleet`).
pub(super) fn segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
