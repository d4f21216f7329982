//! S3-compatible buckets (the `generic` provider) with object_store: list objects under a
//! prefix, compute Flux's revision from keys and etags, download what is not ignored.
//!
//! The revision is `sha256:` of the sorted index lines `"<key> <etag>\n"` of the objects
//! that pass the ignore rules, so it changes exactly when an included object changes.

use crate::ignore::{IgnoreRules, SOURCEIGNORE};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Errors of bucket operations; messages name the endpoint and bucket, never keys.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// The settings cannot be used.
    #[error("invalid bucket settings: {0}")]
    Invalid(String),
    /// The bucket does not exist.
    #[error("bucket '{bucket}' not found at {endpoint}")]
    NotFound {
        /// Endpoint.
        endpoint: String,
        /// Bucket name.
        bucket: String,
    },
    /// The credentials were refused.
    #[error("access to bucket '{bucket}' at {endpoint} denied: {message}")]
    Authentication {
        /// Endpoint.
        endpoint: String,
        /// Bucket name.
        bucket: String,
        /// Details.
        message: String,
    },
    /// A request failed.
    #[error("{op} bucket '{bucket}' at {endpoint}: {message}")]
    Request {
        /// What was being done.
        op: &'static str,
        /// Endpoint.
        endpoint: String,
        /// Bucket name.
        bucket: String,
        /// Details.
        message: String,
    },
    /// The content is larger than allowed.
    #[error("bucket '{bucket}' content exceeds {limit} bytes")]
    TooLarge {
        /// Bucket name.
        bucket: String,
        /// The limit.
        limit: u64,
    },
    /// An ignore rule is invalid.
    #[error(transparent)]
    Ignore(#[from] crate::ignore::IgnoreError),
    /// Local I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Connection settings of a bucket.
#[derive(Clone, Default)]
pub struct BucketOptions {
    /// `host[:port]` (a scheme is accepted and overrides `insecure`).
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Region (`us-east-1` when empty).
    pub region: Option<String>,
    /// Plain HTTP.
    pub insecure: bool,
    /// Access key id (anonymous when absent).
    pub access_key: Option<String>,
    /// Secret access key.
    pub secret_key: Option<String>,
    /// Key prefix (a plain string prefix, as in S3 listings).
    pub prefix: Option<String>,
    /// Request timeout.
    pub timeout: Duration,
    /// Extra CA certificates (PEM bundle) trusted for HTTPS.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for BucketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketOptions")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("insecure", &self.insecure)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl BucketOptions {
    /// Reads `accesskey`/`secretkey` from a Secret's data.
    pub fn with_secret_data(mut self, data: &BTreeMap<String, Vec<u8>>) -> Self {
        let s = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        };
        self.access_key = s("accesskey");
        self.secret_key = s("secretkey");
        self
    }

    fn url(&self) -> String {
        if self.endpoint.contains("://") {
            self.endpoint.trim_end_matches('/').to_owned()
        } else {
            let scheme = if self.insecure { "http" } else { "https" };
            format!("{scheme}://{}", self.endpoint.trim_end_matches('/'))
        }
    }

    fn client_options(&self, url: &str) -> Result<object_store::ClientOptions, BucketError> {
        let mut o = object_store::ClientOptions::new()
            .with_allow_http(url.starts_with("http://"))
            .with_timeout(self.timeout)
            .with_connect_timeout(Duration::from_secs(10));
        if let Some(pem) = &self.ca_pem {
            for c in object_store::Certificate::from_pem_bundle(pem)
                .map_err(|e| BucketError::Invalid(format!("invalid ca.crt: {e}")))?
            {
                o = o.with_root_certificate(c);
            }
        }
        Ok(o)
    }

    fn store(&self) -> Result<AmazonS3, BucketError> {
        crate::ensure_crypto_provider();
        if self.bucket.is_empty() || self.endpoint.is_empty() {
            return Err(BucketError::Invalid(
                "endpoint and bucketName are required".into(),
            ));
        }
        let url = self.url();
        let mut b = AmazonS3Builder::new()
            .with_endpoint(&url)
            .with_bucket_name(&self.bucket)
            .with_region(
                self.region
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "us-east-1".into()),
            )
            .with_allow_http(url.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_client_options(self.client_options(&url)?)
            .with_retry(object_store::RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            });
        match (&self.access_key, &self.secret_key) {
            (Some(a), Some(s)) => {
                b = b.with_access_key_id(a).with_secret_access_key(s);
            }
            _ => b = b.with_skip_signature(true),
        }
        b.build().map_err(|e| BucketError::Invalid(e.to_string()))
    }

    fn request_err(&self, op: &'static str, e: object_store::Error) -> BucketError {
        let message = e.to_string();
        let lower = message.to_ascii_lowercase();
        if lower.contains("nosuchbucket")
            || (matches!(e, object_store::Error::NotFound { .. }) && op == "listing")
        {
            return BucketError::NotFound {
                endpoint: self.endpoint.clone(),
                bucket: self.bucket.clone(),
            };
        }
        if matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || lower.contains("accessdenied")
            || lower.contains("signaturedoesnotmatch")
            || lower.contains("invalidaccesskeyid")
            || lower.contains("403")
        {
            return BucketError::Authentication {
                endpoint: self.endpoint.clone(),
                bucket: self.bucket.clone(),
                message,
            };
        }
        BucketError::Request {
            op,
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            message,
        }
    }
}

/// The objects of a bucket that pass the ignore rules: key → etag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketIndex {
    /// Key → etag, sorted by key.
    pub objects: BTreeMap<String, String>,
}

impl BucketIndex {
    /// Flux's revision of the index: `sha256:<hex>`.
    pub fn revision(&self) -> String {
        let mut h = Sha256::new();
        for (k, e) in &self.objects {
            h.update(format!("{k} {e}\n").as_bytes());
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

/// A bucket client.
pub struct Bucket {
    opts: BucketOptions,
    store: AmazonS3,
}

impl Bucket {
    /// Connects (lazily: the first request does).
    pub fn new(opts: BucketOptions) -> Result<Bucket, BucketError> {
        let store = opts.store()?;
        Ok(Bucket { opts, store })
    }

    /// Lists the objects under the prefix and applies the default excludes, the bucket's
    /// root `.sourceignore` and `extra_ignore` (`spec.ignore`).
    pub async fn index(&self, extra_ignore: Option<&str>) -> Result<BucketIndex, BucketError> {
        let prefix = self.opts.prefix.clone().unwrap_or_default();
        // object_store lists by path segments: list from the prefix's directory, filter by
        // the raw prefix.
        let dir = prefix
            .rsplit_once('/')
            .map(|(d, _)| d.to_owned())
            .unwrap_or_default();
        let list_from = (!dir.is_empty()).then(|| ObjPath::from(dir.as_str()));
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(list_from.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.opts.request_err("listing", e))?;
        let mut rules = IgnoreRules::flux_defaults();
        if let Ok(r) = self.store.get(&ObjPath::from(SOURCEIGNORE)).await {
            let bytes = r
                .bytes()
                .await
                .map_err(|e| self.opts.request_err("reading .sourceignore of", e))?;
            rules.add("", &String::from_utf8_lossy(&bytes), SOURCEIGNORE)?;
        }
        if let Some(ig) = extra_ignore {
            rules.add("", ig, "spec.ignore")?;
        }
        let mut objects = BTreeMap::new();
        for m in metas {
            let key = m.location.to_string();
            if !key.starts_with(&prefix) || key.ends_with('/') || rules.is_ignored(&key, false) {
                continue;
            }
            objects.insert(
                key,
                m.e_tag.unwrap_or_default().trim_matches('"').to_owned(),
            );
        }
        Ok(BucketIndex { objects })
    }

    /// Downloads the objects of `index` into `dir` (keys become relative paths; unsafe keys
    /// are refused), at most `max_bytes` in total, 8 at a time.
    pub async fn download(
        &self,
        index: &BucketIndex,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<u64, BucketError> {
        let total = std::sync::atomic::AtomicU64::new(0);
        let total_ref = &total;
        let keys: Vec<String> = index.objects.keys().cloned().collect();
        futures::stream::iter(keys)
            .map(|key: String| async move {
                let rel = crate::archive::safe_relative_path(&key)
                    .map_err(|e| BucketError::Invalid(e.to_string()))?;
                let dest = dir.join(rel);
                let io = |source| BucketError::Io {
                    path: dest.display().to_string(),
                    source,
                };
                if let Some(p) = dest.parent() {
                    tokio::fs::create_dir_all(p).await.map_err(io)?;
                }
                let bytes = self
                    .store
                    .get(&ObjPath::from(key.as_str()))
                    .await
                    .map_err(|e| self.opts.request_err("downloading from", e))?
                    .bytes()
                    .await
                    .map_err(|e| self.opts.request_err("downloading from", e))?;
                let n = total_ref
                    .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed)
                    + bytes.len() as u64;
                if n > max_bytes {
                    return Err(BucketError::TooLarge {
                        bucket: self.opts.bucket.clone(),
                        limit: max_bytes,
                    });
                }
                tokio::fs::write(&dest, &bytes).await.map_err(io)?;
                Ok::<(), BucketError>(())
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(total.load(std::sync::atomic::Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_from_keys_and_etags() {
        let mut i = BucketIndex::default();
        i.objects.insert("b.yaml".into(), "e2".into());
        i.objects.insert("a.yaml".into(), "e1".into());
        let mut h = Sha256::new();
        h.update(b"a.yaml e1\nb.yaml e2\n");
        assert_eq!(
            i.revision(),
            format!("sha256:{}", hex::encode(h.finalize()))
        );
        let o = BucketOptions {
            secret_key: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
