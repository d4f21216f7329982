//! Image repositories as Flux's image-reflector-controller sees them: image names
//! (go-containerregistry's rules, the registry's canonical name), the tag scan (listing over
//! the OCI distribution API with pagination, the exclusion list, the latest-tags sample) and
//! digests of single tags.
//!
//! ```
//! use gitops_image_updater::registry::{ExclusionList, ImageName, TagScan};
//!
//! let image = ImageName::parse("alpine", false).unwrap();
//! assert_eq!(image.canonical(), "index.docker.io/library/alpine");
//! let local = ImageName::parse("localhost:5000/team/app", false).unwrap();
//! assert!(local.plain_http());
//!
//! let exclude = ExclusionList::new(&[]).unwrap(); // Flux's default: `^.*\.sig$`
//! let scan = TagScan::new(vec!["1.0.0".into(), "sha256-abc.sig".into(), "1.1.0".into()], &exclude);
//! assert_eq!(scan.tags, ["1.1.0", "1.0.0"]);
//! ```
//!
//! Listing and digests go through [`gitops_source::oci::Registry`] (oci-client): basic auth
//! and bearer-token challenges, custom CA certificates, plain HTTP for `insecure`
//! repositories and, as go-containerregistry does, for `localhost`, loopback and private
//! (RFC 1918) registries.

use gitops_api::image::DEFAULT_EXCLUSION_LIST;
use gitops_source::oci::{OciAuth, OciError, OciReference, Registry};
use regex::Regex;
use std::collections::BTreeMap;

/// Docker Hub's registry, where names without a registry live.
pub const DOCKER_HUB: &str = "index.docker.io";
/// How many tags `status.lastScanResult.latestTags` holds.
pub const LATEST_TAGS_COUNT: usize = 10;

/// Why an image, exclusion list or scan failed. Messages are Flux's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// `spec.image` has a URL scheme.
    #[error("image '{image}' should not include URL scheme; remove '{scheme}://'")]
    Scheme {
        /// The image as written.
        image: String,
        /// The scheme.
        scheme: String,
    },
    /// `spec.image` has a tag or digest.
    #[error("image '{image}' should not include a tag; remove ':{tag}'")]
    Tagged {
        /// The image as written.
        image: String,
        /// What follows the first `:` of the name.
        tag: String,
    },
    /// `spec.image` is not an image name.
    #[error("could not parse reference: {image}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Invalid {
        /// The image as written.
        image: String,
        /// What is wrong, when known.
        detail: Option<String>,
    },
    /// An `exclusionList` entry is not a regular expression.
    #[error("failed to compile regex {pattern}: {reason}")]
    Exclusion {
        /// The entry.
        pattern: String,
        /// The parser's message.
        reason: String,
    },
    /// The registry refused the credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The registry could not be reached or answered with an error.
    #[error("{0}")]
    Registry(String),
}

/// A parsed image name (no tag, no digest): registry and repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    registry: String,
    repository: String,
    insecure: bool,
}

/// Characters go-containerregistry allows in repository names.
const REPOSITORY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";

impl ImageName {
    /// Parses `spec.image` as Flux does (`registry.ParseImageReference`): no scheme, no tag
    /// or digest; a first path component with `.` or `:` is the registry, otherwise the
    /// image is on Docker Hub (`alpine` is `index.docker.io/library/alpine`).
    pub fn parse(image: &str, insecure: bool) -> Result<ImageName, ImageError> {
        if let Some((scheme, _)) = image.split_once("://") {
            return Err(ImageError::Scheme {
                image: image.to_owned(),
                scheme: scheme.to_owned(),
            });
        }
        let invalid = |detail: &str| ImageError::Invalid {
            image: image.to_owned(),
            detail: Some(detail.to_owned()),
        };
        // What go-containerregistry's ParseReference accepts: name[:tag] or name@digest.
        let (name, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (image, None),
        };
        let (name, tag) = match name.rfind(':') {
            Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
            _ => (name, None),
        };
        if let Some(d) = digest {
            let ok = d
                .strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok || tag.is_some() {
                return Err(invalid("a digest must be sha256:<64 hex digits>"));
            }
        }
        if let Some(t) = tag {
            let ok = t.len() <= 128
                && t.bytes().enumerate().all(|(i, b)| {
                    b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
                })
                && !t.is_empty();
            if !ok {
                return Err(invalid("a tag must match [\\w][\\w.-]{0,127}"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) => (first.to_owned(), rest),
            _ => (DOCKER_HUB.to_owned(), name),
        };
        if !(2..=255).contains(&repository.len()) {
            return Err(invalid(
                "the repository must be between 2 and 255 characters long",
            ));
        }
        if !repository.chars().all(|c| REPOSITORY_CHARS.contains(c)) {
            return Err(invalid(&format!(
                "the repository can only contain the characters `{REPOSITORY_CHARS}`"
            )));
        }
        if repository.split('/').any(str::is_empty) {
            return Err(invalid("the repository has an empty path component"));
        }
        if registry.is_empty()
            || registry
                .chars()
                .any(|c| c.is_whitespace() || "/?#@\\".contains(c))
        {
            return Err(invalid("registries must be valid RFC 3986 URI authorities"));
        }
        let registry = if registry == "docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        // Flux refuses tags and digests: the scan lists all tags of the repository.
        let registry_prefix = image.strip_prefix(registry.as_str()).unwrap_or(image);
        if let Some(after) = registry_prefix.split(':').nth(1) {
            return Err(ImageError::Tagged {
                image: image.to_owned(),
                tag: after.to_owned(),
            });
        }
        Ok(ImageName {
            registry,
            repository,
            insecure,
        })
    }

    /// The registry host (and port), `index.docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path in the registry, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `status.canonicalImageName`: registry and repository, e.g.
    /// `index.docker.io/library/alpine`.
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the registry is spoken to over plain HTTP: `insecure`, or (as
    /// go-containerregistry decides) `localhost:<port>`, loopback addresses and private
    /// (RFC 1918) IPv4 addresses.
    pub fn plain_http(&self) -> bool {
        self.insecure || gitops_source::oci::plain_http_host(&self.registry)
    }

    /// The `oci://` URL [`gitops_source::oci::Registry`] takes.
    fn oci_url(&self) -> String {
        format!("oci://{}/{}", self.registry, self.repository)
    }

    /// The hosts whose credentials apply to this registry (Docker Hub has aliases).
    fn credential_hosts(&self) -> Vec<&str> {
        if self.registry == DOCKER_HUB {
            vec![DOCKER_HUB, "docker.io", "registry-1.docker.io"]
        } else {
            vec![self.registry.as_str()]
        }
    }
}

/// `spec.exclusionList`, compiled; Flux's default (`^.*\.sig$`, cosign signatures) when
/// empty.
#[derive(Debug, Clone)]
pub struct ExclusionList {
    patterns: Vec<String>,
    regexes: Vec<Regex>,
}

impl ExclusionList {
    /// Compiles the list; the error names the entry that is not a regular expression.
    pub fn new(patterns: &[String]) -> Result<ExclusionList, ImageError> {
        let patterns: Vec<String> = if patterns.is_empty() {
            DEFAULT_EXCLUSION_LIST
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            patterns.to_vec()
        };
        let regexes = patterns
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|e| ImageError::Exclusion {
                    pattern: p.clone(),
                    reason: e
                        .to_string()
                        .lines()
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join(" "),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ExclusionList { patterns, regexes })
    }

    /// The patterns in effect (`status.observedExclusionList`).
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a tag is excluded.
    pub fn excludes(&self, tag: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(tag))
    }
}

/// The outcome of a scan: the tags kept after the exclusion list, in descending byte order
/// (the order Flux stores them in), and the first [`LATEST_TAGS_COUNT`] of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagScan {
    /// Kept tags, descending.
    pub tags: Vec<String>,
    /// `status.lastScanResult.latestTags`.
    pub latest_tags: Vec<String>,
}

impl TagScan {
    /// Filters and orders listed tags.
    pub fn new(listed: Vec<String>, exclusion: &ExclusionList) -> TagScan {
        let mut tags: Vec<String> = listed
            .into_iter()
            .filter(|t| !exclusion.excludes(t))
            .collect();
        tags.sort_unstable_by(|a, b| b.cmp(a));
        let latest_tags = tags.iter().take(LATEST_TAGS_COUNT).cloned().collect();
        TagScan { tags, latest_tags }
    }
}

/// Registry credentials for an image from pull secrets' data (`.dockerconfigjson`, or the
/// legacy `.dockercfg`), the first secret with an entry for the registry winning — the
/// order Flux gives them: `spec.secretRef`, then the service account's image pull secrets.
pub fn credentials(image: &ImageName, secrets: &[BTreeMap<String, Vec<u8>>]) -> Option<OciAuth> {
    secrets.iter().find_map(|data| {
        let cfg = data
            .get(".dockerconfigjson")
            .or_else(|| data.get(".dockercfg"))?;
        image
            .credential_hosts()
            .into_iter()
            .find_map(|h| OciAuth::from_docker_config(cfg, h))
    })
}

/// Lists tags and looks up digests, reusing connections and tokens across calls. Build one
/// per set of trusted CAs (the default trusts the system roots).
#[derive(Clone)]
pub struct RegistryClient {
    plain: Registry,
    tls: Registry,
}

impl Default for RegistryClient {
    fn default() -> Self {
        Self::new(None)
    }
}

impl RegistryClient {
    /// A client that also trusts the PEM certificates in `ca_pem` for HTTPS registries.
    pub fn new(ca_pem: Option<&[u8]>) -> RegistryClient {
        RegistryClient {
            plain: Registry::new(true),
            tls: Registry::with_ca(false, ca_pem),
        }
    }

    /// The same client going through the HTTP proxy at `url` (`http://[user:pass@]host:port`).
    pub fn with_proxy(self, url: &str) -> Result<RegistryClient, ImageError> {
        let bad = |e: OciError| ImageError::Registry(e.to_string());
        Ok(RegistryClient {
            plain: self.plain.with_proxy(url).map_err(bad)?,
            tls: self.tls.with_proxy(url).map_err(bad)?,
        })
    }

    fn for_image(&self, image: &ImageName) -> &Registry {
        if image.plain_http() {
            &self.plain
        } else {
            &self.tls
        }
    }

    /// Every tag of the repository, following the registry's pages.
    pub async fn list_tags(
        &self,
        image: &ImageName,
        auth: Option<&OciAuth>,
    ) -> Result<Vec<String>, ImageError> {
        self.for_image(image)
            .list_tags(&image.oci_url(), auth)
            .await
            .map_err(|e| scan_error(image, e))
    }

    /// The manifest digest (`sha256:…`) a tag points at, from a `HEAD` request.
    pub async fn digest(
        &self,
        image: &ImageName,
        tag: &str,
        auth: Option<&OciAuth>,
    ) -> Result<String, ImageError> {
        self.for_image(image)
            .resolve(&image.oci_url(), &OciReference::Tag(tag.to_owned()), auth)
            .await
            .map(|r| r.digest)
            .map_err(|e| scan_error(image, e))
    }
}

fn scan_error(image: &ImageName, e: OciError) -> ImageError {
    let msg = e.to_string().replace(&image.oci_url(), &image.canonical());
    match e {
        OciError::Authentication { .. } => ImageError::Unauthorized(msg),
        _ => ImageError::Registry(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(image: &str) -> String {
        ImageName::parse(image, false)
            .map(|i| i.canonical())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn names_are_canonical_as_go_containerregistry_makes_them() {
        assert_eq!(canon("alpine"), "index.docker.io/library/alpine");
        assert_eq!(canon("docker.io/alpine"), "index.docker.io/library/alpine");
        assert_eq!(
            canon("docker.io/fluxcd/flux"),
            "index.docker.io/fluxcd/flux"
        );
        assert_eq!(
            canon("index.docker.io/fluxcd/flux"),
            "index.docker.io/fluxcd/flux"
        );
        assert_eq!(
            canon("stefanprodan/podinfo"),
            "index.docker.io/stefanprodan/podinfo"
        );
        assert_eq!(
            canon("ghcr.io/stefanprodan/podinfo"),
            "ghcr.io/stefanprodan/podinfo"
        );
        assert_eq!(canon("localhost:5000/app"), "localhost:5000/app");
        // `localhost` without a port has neither `.` nor `:`: a Docker Hub repository.
        assert_eq!(canon("localhost/app"), "index.docker.io/localhost/app");
    }

    #[test]
    fn bad_names_say_why_in_fluxs_words() {
        assert_eq!(
            canon("https://ghcr.io/app"),
            "error: image 'https://ghcr.io/app' should not include URL scheme; remove 'https://'"
        );
        assert_eq!(
            canon("ghcr.io/app:1.0"),
            "error: image 'ghcr.io/app:1.0' should not include a tag; remove ':1.0'"
        );
        assert_eq!(
            canon("localhost:5000/app:v1"),
            "error: image 'localhost:5000/app:v1' should not include a tag; remove ':v1'"
        );
        let d = format!("ghcr.io/app@sha256:{}", "a".repeat(64));
        assert!(
            canon(&d).contains("should not include a tag"),
            "{}",
            canon(&d)
        );
        for bad in [
            "Ghcr.io/App",
            "ghcr.io/UPPER",
            "a",
            "ghcr.io//x",
            "x y",
            "app:",
        ] {
            assert!(
                canon(bad).starts_with("error: could not parse reference"),
                "{bad}: {}",
                canon(bad)
            );
        }
    }

    #[test]
    fn plain_http_follows_go_containerregistry() {
        let http = |s: &str, insecure| ImageName::parse(s, insecure).unwrap().plain_http();
        assert!(http("localhost:5000/a/b", false));
        assert!(http("127.0.0.1:5000/ab", false));
        assert!(http("10.1.2.3:5000/ab", false));
        assert!(http("192.168.1.1/ab", false));
        assert!(!http("ghcr.io/ab", false));
        assert!(!http("8.8.8.8/ab", false));
        assert!(http("ghcr.io/ab", true));
    }

    #[test]
    fn scans_exclude_and_order() {
        let ex = ExclusionList::new(&[]).unwrap();
        assert_eq!(ex.patterns(), [r"^.*\.sig$"]);
        let listed: Vec<String> = (0..15)
            .map(|i| format!("1.{i}.0"))
            .chain(["sha256-x.sig".to_string(), "latest".to_string()])
            .collect();
        let scan = TagScan::new(listed, &ex);
        assert_eq!(scan.tags.len(), 16);
        assert_eq!(scan.tags[0], "latest");
        assert_eq!(scan.latest_tags.len(), 10);
        assert_eq!(scan.latest_tags[1], "1.9.0", "byte order, descending");
        let custom = ExclusionList::new(&["^dev-".into(), "rc".into()]).unwrap();
        let scan = TagScan::new(
            vec!["dev-1".into(), "1.0-rc1".into(), "a.sig".into()],
            &custom,
        );
        assert_eq!(scan.tags, ["a.sig"]);
        let e = ExclusionList::new(&["(".into()]).unwrap_err().to_string();
        assert!(e.starts_with("failed to compile regex ("), "{e}");
    }

    #[test]
    fn credentials_come_from_the_first_matching_pull_secret() {
        use base64::Engine;
        let cfg = |host: &str, user: &str| {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:pw"));
            let json = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
            BTreeMap::from([(".dockerconfigjson".to_string(), json.into_bytes())])
        };
        let hub = ImageName::parse("fluxcd/flux", false).unwrap();
        let secrets = [
            cfg("ghcr.io", "gh"),
            cfg("https://index.docker.io/v1/", "hub"),
            cfg("docker.io", "late"),
        ];
        assert_eq!(credentials(&hub, &secrets).unwrap().username, "hub");
        let gh = ImageName::parse("ghcr.io/org/app", false).unwrap();
        assert_eq!(credentials(&gh, &secrets).unwrap().username, "gh");
        let other = ImageName::parse("quay.io/org/app", false).unwrap();
        assert!(credentials(&other, &secrets).is_none());
        assert!(credentials(&gh, &[BTreeMap::new()]).is_none());
    }
}
