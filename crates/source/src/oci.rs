//! OCI artifacts with oci-client: resolve a tag, semver range or digest to a manifest
//! digest, pull one layer (to extract or copy), and push a directory as a Flux artifact.
//!
//! Flux's media types: config `application/vnd.cncf.flux.config.v1+json`, content layer
//! `application/vnd.cncf.flux.content.v1.tar+gzip`; manifest annotations
//! `org.opencontainers.image.{created,source,revision}`.

use futures::StreamExt;
use gitops_go::semver::Constraints;
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Media type of a Flux artifact's config.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Media type of a Flux artifact's content layer.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Media type of a Helm chart layer.
pub const HELM_CHART_CONTENT_MEDIA_TYPE: &str =
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Media type of a Helm chart config.
pub const HELM_CHART_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Annotation: creation time.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Annotation: source URL.
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// Annotation: source revision.
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";

/// Errors of OCI operations; messages name the artifact, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The URL is not `oci://host/repository`.
    #[error("invalid OCI URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The registry refused the credentials.
    #[error("authentication to {url} failed: {message}")]
    Authentication {
        /// The artifact.
        url: String,
        /// Details.
        message: String,
    },
    /// No tag matches the range.
    #[error("no tag of {url} matches semver range {range:?}")]
    NoSemverMatch {
        /// The artifact.
        url: String,
        /// The range.
        range: String,
    },
    /// The range or filter is invalid.
    #[error("invalid semver settings: {0}")]
    BadRange(String),
    /// A registry request failed.
    #[error("{op} {url}: {message}")]
    Registry {
        /// What was being done.
        op: &'static str,
        /// The artifact.
        url: String,
        /// Details.
        message: String,
    },
    /// No layer has the wanted media type.
    #[error("no layer of {url} has media type {media_type:?}")]
    LayerNotFound {
        /// The artifact.
        url: String,
        /// The media type.
        media_type: String,
    },
    /// The layer is larger than allowed.
    #[error("layer of {url} is larger than {limit} bytes")]
    TooLarge {
        /// The artifact.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The downloaded layer does not have its digest.
    #[error("layer of {url}: digest mismatch, expected {expected}, got {actual}")]
    DigestMismatch {
        /// The artifact.
        url: String,
        /// Expected digest.
        expected: String,
        /// Actual digest.
        actual: String,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Building the pushed archive failed.
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
}

/// Registry credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OciAuth {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for OciAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OciAuth {{ username: {:?}, password: <redacted> }}",
            self.username
        )
    }
}

impl OciAuth {
    /// Credentials for `host` from a Secret's data: a docker config
    /// (`.dockerconfigjson`) or `username`/`password` keys.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>, host: &str) -> Option<Self> {
        if let Some(cfg) = data
            .get(".dockerconfigjson")
            .or_else(|| data.get(".dockercfg"))
        {
            return Self::from_docker_config(cfg, host);
        }
        let u = data.get("username")?;
        Some(OciAuth {
            username: String::from_utf8_lossy(u).into_owned(),
            password: data
                .get("password")
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
        })
    }

    /// Credentials for `host` from a docker config JSON (`{"auths": {host: {auth|username,password}}}`).
    pub fn from_docker_config(json: &[u8], host: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(json).ok()?;
        let auths = v.get("auths").unwrap_or(&v);
        let entry = auths.as_object()?.iter().find_map(|(k, e)| {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            (k == host).then_some(e)
        })?;
        if let Some(a) = entry.get("auth").and_then(|a| a.as_str()) {
            use base64::Engine;
            let dec = base64::engine::general_purpose::STANDARD.decode(a).ok()?;
            let s = String::from_utf8(dec).ok()?;
            let (u, p) = s.split_once(':')?;
            return Some(OciAuth {
                username: u.to_owned(),
                password: p.to_owned(),
            });
        }
        Some(OciAuth {
            username: entry.get("username")?.as_str()?.to_owned(),
            password: entry
                .get("password")?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    fn registry_auth(auth: Option<&OciAuth>) -> RegistryAuth {
        match auth {
            Some(a) => RegistryAuth::Basic(a.username.clone(), a.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }
}

/// What to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciReference {
    /// A tag.
    Tag(String),
    /// The highest tag in a semver range, optionally among tags matching a regex.
    Semver {
        /// The range.
        range: String,
        /// Regular expression tags must match first.
        filter: Option<String>,
    },
    /// A manifest digest.
    Digest(String),
}

impl OciReference {
    /// From an OCIRepository's `spec.ref`: digest, then semver, then tag; `latest` when
    /// nothing is set.
    pub fn from_spec(r: Option<&gitops_api::source::OCIRepositoryRef>) -> Self {
        let ne = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
        match r {
            Some(r) if ne(&r.digest).is_some() => {
                OciReference::Digest(ne(&r.digest).unwrap_or_default())
            }
            Some(r) if ne(&r.semver).is_some() => OciReference::Semver {
                range: ne(&r.semver).unwrap_or_default(),
                filter: ne(&r.semver_filter),
            },
            Some(r) if ne(&r.tag).is_some() => OciReference::Tag(ne(&r.tag).unwrap_or_default()),
            _ => OciReference::Tag("latest".into()),
        }
    }
}

/// A resolved artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The tag, unless pulled by digest.
    pub tag: Option<String>,
    /// The manifest digest, `sha256:<hex>`.
    pub digest: String,
    /// Flux's revision: `<tag>@sha256:<hex>` or `sha256:<hex>`.
    pub revision: String,
    reference: Reference,
}

/// A pulled layer.
#[derive(Debug, Clone)]
pub struct PulledLayer {
    /// The layer's media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The manifest's annotations (become the artifact's metadata).
    pub annotations: BTreeMap<String, String>,
}

/// Splits `oci://host[:port]/repo/path` into registry and repository.
pub fn parse_url(url: &str) -> Result<(String, String), OciError> {
    let bad = |reason: &str| OciError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = url
        .strip_prefix("oci://")
        .ok_or_else(|| bad("must start with oci://"))?;
    let (host, repo) = rest
        .split_once('/')
        .ok_or_else(|| bad("expected oci://<host>/<repository>"))?;
    let repo = repo.trim_end_matches('/');
    if host.is_empty() || repo.is_empty() {
        return Err(bad("expected oci://<host>/<repository>"));
    }
    if repo.contains([':', '@']) {
        return Err(bad(
            "the URL must not contain a tag or digest; use spec.ref",
        ));
    }
    Ok((host.to_owned(), repo.to_owned()))
}

/// A registry client. Connections and tokens are reused across calls made with the same
/// credentials; calls with other credentials (another Secret, or none) get a client of their
/// own, because oci-client keeps the first credentials it is given for a registry host and
/// would otherwise use one object's credentials (or anonymity) for every other object on that
/// host. The most recently used [`Registry::MAX_CLIENTS`] credential sets are kept.
#[derive(Clone)]
pub struct Registry {
    insecure: bool,
    ca_pem: Option<Arc<[u8]>>,
    proxy: Option<Arc<str>>,
    /// Clients by a digest of their credentials (`""` for anonymous), most recent last.
    clients: Arc<Mutex<Vec<(String, Client)>>>,
}

fn classify(op: &'static str, url: &str, e: oci_client::errors::OciDistributionError) -> OciError {
    use oci_client::errors::OciDistributionError as E;
    let message = e.to_string();
    match &e {
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => OciError::Authentication {
            url: url.to_owned(),
            message,
        },
        _ if message.contains("401") || message.to_ascii_lowercase().contains("unauthorized") => {
            OciError::Authentication {
                url: url.to_owned(),
                message,
            }
        }
        _ => OciError::Registry {
            op,
            url: url.to_owned(),
            message,
        },
    }
}

/// Whether go-containerregistry (and so Flux) speaks plain HTTP to a registry `host[:port]`
/// without being told it is insecure: `localhost:<port>`, loopback addresses and private
/// (RFC 1918) IPv4 addresses.
pub fn plain_http_host(host: &str) -> bool {
    if host.starts_with("localhost:") || host.contains("127.0.0.1") || host.contains("::1") {
        return true;
    }
    let name = host.split(':').next().unwrap_or_default();
    name.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_private())
}

impl Registry {
    /// A client; `insecure` uses plain HTTP.
    pub fn new(insecure: bool) -> Self {
        Self::with_ca(insecure, None)
    }

    /// A client that also trusts the CA certificates in `ca_pem` (one PEM bundle).
    pub fn with_ca(insecure: bool, ca_pem: Option<&[u8]>) -> Self {
        crate::ensure_crypto_provider();
        Registry {
            insecure,
            ca_pem: ca_pem.map(Arc::from),
            proxy: None,
            clients: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The same client, going through the HTTP proxy at `url` (`http://[user:password@]host:port`)
    /// for every request. The URL is checked here; the error never shows its password.
    pub fn with_proxy(self, url: &str) -> Result<Self, OciError> {
        if let Err(e) = reqwest::Proxy::all(url) {
            let shown = url.rsplit_once('@').map_or(url, |(_, host)| host);
            return Err(OciError::InvalidUrl {
                url: shown.to_owned(),
                reason: format!("invalid proxy address: {e}"),
            });
        }
        Ok(Registry {
            proxy: Some(Arc::from(url)),
            clients: Arc::new(Mutex::new(Vec::new())),
            ..self
        })
    }

    /// How many credential sets keep a client (and its connections and tokens).
    pub const MAX_CLIENTS: usize = 64;

    /// The oci-client client for `auth` speaking to `host`, created on first use. Hosts
    /// go-containerregistry speaks plain HTTP to ([`plain_http_host`]) get a client of
    /// their own that does, as Flux's controllers do without `insecure`.
    fn client(&self, auth: Option<&OciAuth>, host: &str) -> Result<Client, OciError> {
        let plain_host = !self.insecure && plain_http_host(host);
        let key = match auth {
            None => String::new(),
            Some(a) => {
                let mut h = Sha256::new();
                h.update(a.username.as_bytes());
                h.update([0]);
                h.update(a.password.as_bytes());
                hex::encode(h.finalize())
            }
        };
        let key = if plain_host {
            format!("{key}|http://{host}")
        } else {
            key
        };
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = clients.iter().position(|(k, _)| *k == key) {
            let entry = clients.remove(i);
            let client = entry.1.clone();
            clients.push(entry);
            return Ok(client);
        }
        let config = oci_client::client::ClientConfig {
            protocol: if self.insecure {
                oci_client::client::ClientProtocol::Http
            } else if plain_host {
                oci_client::client::ClientProtocol::HttpsExcept(vec![host.to_owned()])
            } else {
                oci_client::client::ClientProtocol::Https
            },
            connect_timeout: Some(std::time::Duration::from_secs(20)),
            extra_root_certificates: self
                .ca_pem
                .as_ref()
                .map(|pem| {
                    vec![oci_client::client::Certificate {
                        encoding: oci_client::client::CertificateEncoding::Pem,
                        data: pem.to_vec(),
                    }]
                })
                .unwrap_or_default(),
            http_proxy: self.proxy.as_deref().map(str::to_owned),
            https_proxy: self.proxy.as_deref().map(str::to_owned),
            ..Default::default()
        };
        // `Client::new` would fall back to a default client (no CA, no proxy) on error.
        let client = Client::try_from(config).map_err(|e| OciError::Registry {
            op: "configuring the client for",
            url: "the registry".into(),
            message: e.to_string(),
        })?;
        clients.push((key, client.clone()));
        if clients.len() > Self::MAX_CLIENTS {
            clients.remove(0);
        }
        Ok(client)
    }

    /// All tags of a repository.
    pub async fn list_tags(
        &self,
        url: &str,
        auth: Option<&OciAuth>,
    ) -> Result<Vec<String>, OciError> {
        let (host, repo) = parse_url(url)?;
        let client = self.client(auth, &host)?;
        let r = Reference::with_tag(host, repo, "latest".into());
        let a = OciAuth::registry_auth(auth);
        let mut tags = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let page = client
                .list_tags(&r, &a, Some(1000), last.as_deref())
                .await
                .map_err(|e| classify("listing tags of", url, e))?;
            // Registries may cap the page below what was asked, so only an empty page (or
            // one that does not advance) ends the listing.
            let next = page.tags.last().cloned();
            if next.is_none() || next == last {
                break;
            }
            last = next;
            tags.extend(page.tags);
        }
        Ok(tags)
    }

    /// Resolves a reference to a manifest digest (a `HEAD` request for tags).
    pub async fn resolve(
        &self,
        url: &str,
        reference: &OciReference,
        auth: Option<&OciAuth>,
    ) -> Result<Resolved, OciError> {
        let (host, repo) = parse_url(url)?;
        let a = OciAuth::registry_auth(auth);
        let client = self.client(auth, &host)?;
        let tag = match reference {
            OciReference::Digest(d) => {
                let r = Reference::with_digest(host, repo, d.clone());
                // Make sure it exists.
                let digest = client
                    .fetch_manifest_digest(&r, &a)
                    .await
                    .map_err(|e| classify("resolving", url, e))?;
                return Ok(Resolved {
                    tag: None,
                    revision: digest.clone(),
                    digest,
                    reference: r,
                });
            }
            OciReference::Tag(t) => t.clone(),
            OciReference::Semver { range, filter } => {
                let r = Constraints::parse(range).map_err(|e| {
                    OciError::BadRange(format!("invalid semver range {range:?}: {e}"))
                })?;
                let re = filter
                    .as_deref()
                    .map(regex::Regex::new)
                    .transpose()
                    .map_err(|e| OciError::BadRange(format!("semverFilter: {e}")))?;
                let tags = self.list_tags(url, auth).await?;
                let candidates = tags
                    .iter()
                    .filter(|t| re.as_ref().is_none_or(|re| re.is_match(t)))
                    .map(String::as_str);
                let (best, _) = r
                    .latest(candidates)
                    .ok_or_else(|| OciError::NoSemverMatch {
                        url: url.to_owned(),
                        range: range.clone(),
                    })?;
                best.to_owned()
            }
        };
        let r = Reference::with_tag(host, repo, tag.clone());
        let digest = client
            .fetch_manifest_digest(&r, &a)
            .await
            .map_err(|e| classify("resolving", &format!("{url}:{tag}"), e))?;
        Ok(Resolved {
            revision: format!("{tag}@{digest}"),
            tag: Some(tag),
            digest,
            reference: r,
        })
    }

    /// Pulls the manifest of a resolved artifact and downloads one layer (the first with
    /// `media_type`, or the first layer) to `dest`, checking its digest and `max_size`.
    pub async fn pull_layer(
        &self,
        url: &str,
        resolved: &Resolved,
        auth: Option<&OciAuth>,
        media_type: Option<&str>,
        max_size: u64,
        dest: &Path,
    ) -> Result<PulledLayer, OciError> {
        let a = OciAuth::registry_auth(auth);
        let client = self.client(auth, resolved.reference.registry())?;
        // Pull by digest so the content matches the resolved revision.
        let by_digest = Reference::with_digest(
            resolved.reference.registry().to_owned(),
            resolved.reference.repository().to_owned(),
            resolved.digest.clone(),
        );
        let (manifest, _) = client
            .pull_manifest(&by_digest, &a)
            .await
            .map_err(|e| classify("pulling manifest of", url, e))?;
        let m = match manifest {
            OciManifest::Image(m) => m,
            OciManifest::ImageIndex(_) => {
                return Err(OciError::Registry {
                    op: "pulling",
                    url: url.to_owned(),
                    message: "the reference is an image index, not an artifact manifest".into(),
                });
            }
        };
        let layer: &OciDescriptor = match media_type {
            Some(mt) => m
                .layers
                .iter()
                .find(|l| l.media_type == mt)
                .ok_or_else(|| OciError::LayerNotFound {
                    url: url.to_owned(),
                    media_type: mt.to_owned(),
                })?,
            None => m.layers.first().ok_or_else(|| OciError::LayerNotFound {
                url: url.to_owned(),
                media_type: "(any)".into(),
            })?,
        };
        if layer.size < 0 || layer.size as u64 > max_size {
            return Err(OciError::TooLarge {
                url: url.to_owned(),
                limit: max_size,
            });
        }
        Self::download_blob(&client, url, &by_digest, &a, layer, max_size, dest).await?;
        Ok(PulledLayer {
            media_type: layer.media_type.clone(),
            size: layer.size as u64,
            annotations: m
                .annotations
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }

    async fn download_blob(
        client: &Client,
        url: &str,
        r: &Reference,
        a: &RegistryAuth,
        layer: &OciDescriptor,
        max_size: u64,
        dest: &Path,
    ) -> Result<(), OciError> {
        // Authenticate for pulls on this client (tokens are cached).
        client.store_auth_if_needed(r.resolve_registry(), a).await;
        let mut stream = client
            .pull_blob_stream(r, layer)
            .await
            .map_err(|e| classify("pulling layer of", url, e))?
            .stream;
        let io = |source| OciError::Io {
            path: dest.display().to_string(),
            source,
        };
        let mut f = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| OciError::Registry {
                op: "downloading layer of",
                url: url.to_owned(),
                message: e.to_string(),
            })?;
            total += chunk.len() as u64;
            if total > max_size {
                return Err(OciError::TooLarge {
                    url: url.to_owned(),
                    limit: max_size,
                });
            }
            hasher.update(&chunk);
            f.write_all(&chunk).await.map_err(io)?;
        }
        f.flush().await.map_err(io)?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if layer.digest.starts_with("sha256:") && actual != layer.digest {
            return Err(OciError::DigestMismatch {
                url: url.to_owned(),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Pushes one layer of `bytes` with `layer_media_type` and a config blob (e.g. a Helm
    /// chart: [`HELM_CHART_CONTENT_MEDIA_TYPE`], [`HELM_CHART_CONFIG_MEDIA_TYPE`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn push_layer(
        &self,
        url: &str,
        tag: &str,
        bytes: Vec<u8>,
        layer_media_type: &str,
        config: Vec<u8>,
        config_media_type: &str,
        auth: Option<&OciAuth>,
    ) -> Result<Resolved, OciError> {
        let (host, repo) = parse_url(url)?;
        let layers = vec![oci_client::client::ImageLayer::new(
            bytes,
            layer_media_type.to_owned(),
            None,
        )];
        let config = oci_client::client::Config::new(config, config_media_type.to_owned(), None);
        let manifest = OciImageManifest::build(&layers, &config, None);
        let client = self.client(auth, &host)?;
        let r = Reference::with_tag(host, repo, tag.to_owned());
        client
            .push(
                &r,
                &layers,
                config,
                &OciAuth::registry_auth(auth),
                Some(manifest),
            )
            .await
            .map_err(|e| classify("pushing", url, e))?;
        self.resolve(url, &OciReference::Tag(tag.to_owned()), auth)
            .await
    }

    /// Pushes `dir` as a Flux artifact to `url` with `tag`: a deterministic `tar.gz` layer
    /// (default excludes and `ignore`), Flux's config and layer media types, and the
    /// source/revision/created annotations. Returns the resolved artifact.
    #[allow(clippy::too_many_arguments)]
    pub async fn push_dir(
        &self,
        url: &str,
        tag: &str,
        dir: &Path,
        rules: &crate::ignore::IgnoreRules,
        source: &str,
        revision: &str,
        auth: Option<&OciAuth>,
    ) -> Result<Resolved, OciError> {
        let (host, repo) = parse_url(url)?;
        let (bytes, _) = crate::archive::archive_dir(dir, rules, Vec::new())?;
        let mut ann = BTreeMap::new();
        ann.insert(
            ANNOTATION_CREATED.to_owned(),
            jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        );
        ann.insert(ANNOTATION_SOURCE.to_owned(), source.to_owned());
        ann.insert(ANNOTATION_REVISION.to_owned(), revision.to_owned());
        let layers = vec![oci_client::client::ImageLayer::new(
            bytes,
            FLUX_CONTENT_MEDIA_TYPE.to_owned(),
            None,
        )];
        let config = oci_client::client::Config::new(
            b"{}".to_vec(),
            FLUX_CONFIG_MEDIA_TYPE.to_owned(),
            None,
        );
        let manifest = OciImageManifest::build(&layers, &config, Some(ann));
        let client = self.client(auth, &host)?;
        let r = Reference::with_tag(host, repo, tag.to_owned());
        let a = OciAuth::registry_auth(auth);
        client
            .push(&r, &layers, config, &a, Some(manifest))
            .await
            .map_err(|e| classify("pushing", url, e))?;
        self.resolve(url, &OciReference::Tag(tag.to_owned()), auth)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_refs() {
        assert_eq!(
            parse_url("oci://localhost:5000/org/app").unwrap(),
            ("localhost:5000".into(), "org/app".into())
        );
        assert!(parse_url("https://x/y").is_err());
        assert!(parse_url("oci://host").is_err());
        assert!(parse_url("oci://host/app:v1").is_err());
        assert_eq!(
            OciReference::from_spec(None),
            OciReference::Tag("latest".into())
        );
    }

    #[test]
    fn docker_config() {
        let cfg = br#"{"auths":{"https://reg.example:5000":{"auth":"dXNlcjpwYXNz"}}}"#;
        let a = OciAuth::from_docker_config(cfg, "reg.example:5000").unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("user", "pass"));
        assert!(OciAuth::from_docker_config(cfg, "other").is_none());
        assert!(!format!("{a:?}").contains("pass\""));
    }
}
