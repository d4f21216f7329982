//! Helm repositories and charts: stream an `index.yaml` to disk while hashing it, parse it
//! once keeping only chart names, versions, URLs and digests (a 50 MB index costs its
//! parsed subset, not a document tree), select versions by semver range, download charts,
//! and package chart directories with `valuesFiles` merged into `values.yaml`.

use crate::archive::{ArtifactWriter, sort_paths};
use crate::ignore::IgnoreRules;
use futures::StreamExt;
use gitops_go::semver::Constraints;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Errors of Helm operations.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// A download failed.
    #[error("failed to fetch {url}: {message}")]
    Fetch {
        /// The URL.
        url: String,
        /// Details.
        message: String,
    },
    /// The server refused the credentials.
    #[error("authentication to {url} failed: HTTP {status}")]
    Authentication {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The index is not a Helm repository index.
    #[error("invalid index {url}: {message}")]
    InvalidIndex {
        /// Where it came from.
        url: String,
        /// The parse error.
        message: String,
    },
    /// A download is larger than allowed.
    #[error("{url} exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The chart is not in the index.
    #[error("no chart name found: chart {name:?} is not in the repository index")]
    ChartNotFound {
        /// Chart name.
        name: String,
    },
    /// No version matches.
    #[error("no '{name}' chart with version matching '{constraint}' found")]
    NoVersion {
        /// Chart name.
        name: String,
        /// The constraint.
        constraint: String,
    },
    /// The constraint is not a Masterminds constraint.
    #[error("invalid semver range {range:?}: {source}")]
    BadRange {
        /// The constraint as written.
        range: String,
        /// Masterminds' complaint.
        source: gitops_go::semver::ConstraintError,
    },
    /// The chart directory or archive is not a valid chart.
    #[error("invalid chart {path}: {message}")]
    InvalidChart {
        /// The chart path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A values file is missing or invalid.
    #[error("values file {path}: {message}")]
    ValuesFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A digest check failed.
    #[error("{url}: digest mismatch, expected {expected}, got {actual}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// Expected.
        expected: String,
        /// Actual.
        actual: String,
    },
    /// Local I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Extraction failed.
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
}

/// One chart version of an index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChartVersion {
    /// Chart name.
    #[serde(default)]
    pub name: String,
    /// Version.
    pub version: String,
    /// Download URLs (absolute or relative to the repository).
    #[serde(default)]
    pub urls: Vec<String>,
    /// Hex sha256 of the chart archive, when the index has it.
    #[serde(default)]
    pub digest: Option<String>,
}

/// A parsed repository index: only what chart selection needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Index {
    /// Index format version.
    #[serde(default, rename = "apiVersion")]
    pub api_version: String,
    /// Chart versions by chart name.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
}

impl Index {
    /// Parses an index from a reader (YAML or JSON).
    pub fn parse(reader: impl std::io::Read, origin: &str) -> Result<Index, HelmError> {
        let mut opts = serde_saphyr::Options::default();
        opts.budget = None;
        let idx: Index = serde_saphyr::from_reader_with_options(reader, opts).map_err(|e| {
            HelmError::InvalidIndex {
                url: origin.to_owned(),
                message: first_line(&e.to_string()),
            }
        })?;
        if idx.api_version.is_empty() {
            return Err(HelmError::InvalidIndex {
                url: origin.to_owned(),
                message: "no apiVersion: not a Helm repository index".into(),
            });
        }
        Ok(idx)
    }

    /// The highest version of `name` satisfying `constraint` (`*` for the latest stable).
    pub fn select(&self, name: &str, constraint: &str) -> Result<ChartVersion, HelmError> {
        let versions = self
            .entries
            .get(name)
            .ok_or_else(|| HelmError::ChartNotFound {
                name: name.to_owned(),
            })?;
        // An exact version is taken as is (also pre-releases and odd strings).
        if let Some(v) = versions.iter().find(|v| v.version == constraint) {
            return Ok(with_name(v, name));
        }
        let range = Constraints::parse(constraint).map_err(|source| HelmError::BadRange {
            range: constraint.to_owned(),
            source,
        })?;
        let (best, _) = range
            .latest(versions.iter().map(|v| v.version.as_str()))
            .ok_or_else(|| HelmError::NoVersion {
                name: name.to_owned(),
                constraint: constraint.to_owned(),
            })?;
        let best = best.to_owned();
        versions
            .iter()
            .find(|v| v.version == best)
            .map(|v| with_name(v, name))
            .ok_or_else(|| HelmError::NoVersion {
                name: name.to_owned(),
                constraint: constraint.to_owned(),
            })
    }
}

fn with_name(v: &ChartVersion, name: &str) -> ChartVersion {
    let mut v = v.clone();
    if v.name.is_empty() {
        v.name = name.to_owned();
    }
    v
}

/// Basic credentials for a repository.
#[derive(Clone, Default)]
pub struct HelmAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for HelmAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HelmAuth {{ username: {:?}, password: <redacted> }}",
            self.username
        )
    }
}

/// TLS material from a `certSecretRef`: extra CA certificates and a client certificate.
#[derive(Clone, Default)]
pub struct TlsMaterial {
    /// CA certificates (PEM) trusted in addition to the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain (PEM).
    pub cert_pem: Option<Vec<u8>>,
    /// Client private key (PEM).
    pub key_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_pem", &self.ca_pem.is_some())
            .field("cert_pem", &self.cert_pem.is_some())
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl TlsMaterial {
    /// Reads Flux's keys `ca.crt`, `tls.crt`, `tls.key` (and the legacy `caFile`,
    /// `certFile`, `keyFile`) from a Secret's data.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Self {
        let get = |a: &str, b: &str| data.get(a).or_else(|| data.get(b)).cloned();
        TlsMaterial {
            ca_pem: get("ca.crt", "caFile"),
            cert_pem: get("tls.crt", "certFile"),
            key_pem: get("tls.key", "keyFile"),
        }
    }
}

fn http_client(tls: Option<&TlsMaterial>) -> Result<reqwest::Client, HelmError> {
    crate::ensure_crypto_provider();
    let bad = |m: String| HelmError::Fetch {
        url: String::new(),
        message: m,
    };
    let mut b = reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(20));
    if let Some(t) = tls {
        if let Some(ca) = &t.ca_pem {
            for c in reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| bad(format!("invalid ca.crt: {e}")))?
            {
                b = b.add_root_certificate(c);
            }
        }
        if let (Some(cert), Some(key)) = (&t.cert_pem, &t.key_pem) {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            b = b.identity(
                reqwest::Identity::from_pem(&pem)
                    .map_err(|e| bad(format!("invalid tls.crt/tls.key: {e}")))?,
            );
        }
    }
    b.build().map_err(|e| bad(e.to_string()))
}

/// Downloads `url` to `dest`, at most `max` bytes, with optional basic auth and TLS
/// material; returns `sha256:<hex>` and the size.
pub async fn download(
    url: &str,
    auth: Option<&HelmAuth>,
    tls: Option<&TlsMaterial>,
    max: u64,
    dest: &Path,
) -> Result<(String, u64), HelmError> {
    let client = http_client(tls).map_err(|e| match e {
        HelmError::Fetch { message, .. } => HelmError::Fetch {
            url: url.to_owned(),
            message,
        },
        other => other,
    })?;
    let mut req = client.get(url);
    if let Some(a) = auth {
        req = req.basic_auth(&a.username, Some(&a.password));
    }
    let resp = req.send().await.map_err(|e| HelmError::Fetch {
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    let status = resp.status();
    if status.as_u16() == 401 || status.as_u16() == 403 {
        return Err(HelmError::Authentication {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        return Err(HelmError::Fetch {
            url: url.to_owned(),
            message: format!("HTTP {status}"),
        });
    }
    let io = |source| HelmError::Io {
        path: dest.display().to_string(),
        source,
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(dest).map_err(io)?);
    let mut h = Sha256::new();
    let mut total = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HelmError::Fetch {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
        total += chunk.len() as u64;
        if total > max {
            return Err(HelmError::TooLarge {
                url: url.to_owned(),
                limit: max,
            });
        }
        h.update(&chunk);
        f.write_all(&chunk).map_err(io)?;
    }
    f.flush().map_err(io)?;
    Ok((format!("sha256:{}", hex::encode(h.finalize())), total))
}

/// The index URL of a repository URL.
pub fn index_url(repo_url: &str) -> String {
    format!("{}/index.yaml", repo_url.trim_end_matches('/'))
}

/// Resolves a chart URL of an index against the repository URL.
pub fn chart_url(repo_url: &str, chart_url: &str) -> String {
    if chart_url.contains("://") {
        return chart_url.to_owned();
    }
    format!(
        "{}/{}",
        repo_url.trim_end_matches('/'),
        chart_url.trim_start_matches('/')
    )
}

/// Facts from a chart's `Chart.yaml`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChartMetadata {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
}

/// Deep-merges `over` into `base` (maps merge recursively; other values are replaced).
pub fn merge_values(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_values(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Packages the chart in `dir` as `<name>-<version>.tgz` content: entries under `<name>/`,
/// `.helmignore` honoured, and — when `values_files` is not empty — `values.yaml` replaced by
/// the merge of those files (paths relative to `dir`, or to `source_root` when they start
/// outside the chart). `version_override` replaces the version (e.g. with build metadata).
/// Returns the archive and the chart's metadata.
pub fn package_chart(
    dir: &Path,
    source_root: &Path,
    values_files: &[String],
    ignore_missing: bool,
    version_override: Option<&str>,
    max_file_size: u64,
) -> Result<(Vec<u8>, ChartMetadata), HelmError> {
    let chart_yaml = dir.join("Chart.yaml");
    let invalid = |m: String| HelmError::InvalidChart {
        path: dir.display().to_string(),
        message: m,
    };
    let text =
        std::fs::read_to_string(&chart_yaml).map_err(|e| invalid(format!("Chart.yaml: {e}")))?;
    let mut meta: ChartMetadata =
        serde_saphyr::from_str(&text).map_err(|e| invalid(format!("Chart.yaml: {e}")))?;
    let mut chart_doc: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| invalid(format!("Chart.yaml: {e}")))?;
    if let Some(v) = version_override {
        meta.version = v.to_owned();
        chart_doc["version"] = v.into();
    }
    let merged = if values_files.is_empty() {
        None
    } else {
        let mut acc = serde_json::Value::Object(Default::default());
        for f in values_files {
            let rel = crate::archive::safe_relative_path(f).map_err(|e| HelmError::ValuesFile {
                path: f.clone(),
                message: e.to_string(),
            })?;
            let candidates = [dir.join(&rel), source_root.join(&rel)];
            let Some(p) = candidates.iter().find(|p| p.is_file()) else {
                if ignore_missing {
                    continue;
                }
                return Err(HelmError::ValuesFile {
                    path: f.clone(),
                    message: "no such file in the chart or its source".into(),
                });
            };
            let text = std::fs::read_to_string(p).map_err(|e| HelmError::ValuesFile {
                path: f.clone(),
                message: e.to_string(),
            })?;
            let v: serde_json::Value = if text.trim().is_empty() {
                serde_json::Value::Object(Default::default())
            } else {
                serde_saphyr::from_str(&text).map_err(|e| HelmError::ValuesFile {
                    path: f.clone(),
                    message: e.to_string(),
                })?
            };
            merge_values(&mut acc, v);
        }
        Some(
            serde_saphyr::to_string(&acc).map_err(|e| HelmError::ValuesFile {
                path: "values.yaml".into(),
                message: e.to_string(),
            })?,
        )
    };
    let mut rules = IgnoreRules::vcs_only();
    if let Ok(t) = std::fs::read_to_string(dir.join(".helmignore")) {
        rules
            .add("", &t, ".helmignore")
            .map_err(|e| invalid(e.to_string()))?;
    }
    let mut files = Vec::new();
    collect(dir, "", &rules, &mut files).map_err(|e| invalid(e.to_string()))?;
    sort_paths(&mut files, |f| f.as_str());
    let mut w = ArtifactWriter::new(Vec::new());
    let io = |p: &str| {
        let p = p.to_owned();
        move |source| HelmError::Io { path: p, source }
    };
    let prefix = &meta.name;
    for rel in &files {
        let entry = format!("{prefix}/{rel}");
        let data = if rel == "Chart.yaml" && version_override.is_some() {
            serde_saphyr::to_string(&chart_doc)
                .map_err(|e| invalid(e.to_string()))?
                .into_bytes()
        } else if rel == "values.yaml" && merged.is_some() {
            merged.clone().unwrap_or_default().into_bytes()
        } else {
            read_limited(&dir.join(rel), max_file_size)
                .map_err(io(rel))?
                .ok_or_else(|| {
                    invalid(format!(
                        "chart file \"{entry}\" is larger than the maximum file size {max_file_size}"
                    ))
                })?
        };
        w.add_file(&entry, false, &data).map_err(io(&entry))?;
    }
    if merged.is_some() && !files.iter().any(|f| f == "values.yaml") {
        w.add_file(
            &format!("{prefix}/values.yaml"),
            false,
            merged.clone().unwrap_or_default().as_bytes(),
        )
        .map_err(io("values.yaml"))?;
    }
    let (bytes, _) = w.finish().map_err(io("chart"))?;
    Ok((bytes, meta))
}

/// A file's bytes, or `None` when it holds more than `limit` bytes (never reading past it).
fn read_limited(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut data = Vec::new();
    f.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= limit).then_some(data))
}

fn collect(
    root: &Path,
    rel: &str,
    rules: &IgnoreRules,
    out: &mut Vec<String>,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(root.join(rel))? {
        let e = e?;
        let Some(name) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let p = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let t = e.file_type()?;
        if t.is_dir() {
            if !rules.is_ignored(&p, true) {
                collect(root, &p, rules, out)?;
            }
        } else if t.is_file() && !rules.is_ignored(&p, false) {
            out.push(p);
        }
    }
    Ok(())
}

/// Writes a repository index for packaged charts (`name → [(version, file name, sha256 hex)]`),
/// for tests and for serving a directory of charts.
pub fn write_index(charts: &[(String, String, String, String)]) -> String {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    let mut by_name: BTreeMap<&str, Vec<&(String, String, String, String)>> = BTreeMap::new();
    for c in charts {
        by_name.entry(c.0.as_str()).or_default().push(c);
    }
    for (name, versions) in by_name {
        out.push_str(&format!("  {name}:\n"));
        for (_, version, file, digest) in versions {
            out.push_str(&format!(
                "  - name: {name}\n    version: {version}\n    digest: {digest}\n    urls:\n    - {file}\n"
            ));
        }
    }
    out.push_str("generated: \"2026-01-01T00:00:00Z\"\n");
    out
}

/// The first line of a parser error (the rest is a source snippet).
fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_select_and_errors() {
        let y = "apiVersion: v1\nentries:\n  app:\n  - version: 1.0.0\n    urls: [app-1.0.0.tgz]\n    description: ignored\n  - version: 1.2.0\n    urls: [app-1.2.0.tgz]\n  - version: 2.0.0-rc.1\n    urls: [x]\n";
        let idx = Index::parse(y.as_bytes(), "test").unwrap();
        assert_eq!(idx.select("app", "*").unwrap().version, "1.2.0");
        assert_eq!(idx.select("app", "~1.0").unwrap().version, "1.0.0");
        assert_eq!(
            idx.select("app", "2.0.0-rc.1").unwrap().version,
            "2.0.0-rc.1"
        );
        assert!(matches!(
            idx.select("nope", "*"),
            Err(HelmError::ChartNotFound { .. })
        ));
        assert!(matches!(
            idx.select("app", ">=3"),
            Err(HelmError::NoVersion { .. })
        ));
        assert!(Index::parse(&b"{{{ not yaml"[..], "u").is_err());
        assert!(
            Index::parse(&b"just: a map\n"[..], "u")
                .unwrap_err()
                .to_string()
                .contains("not a Helm")
        );
        assert_eq!(
            chart_url("http://h/charts/", "app.tgz"),
            "http://h/charts/app.tgz"
        );
    }

    #[test]
    fn package_merges_values() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("chart");
        std::fs::create_dir_all(d.join("templates")).unwrap();
        std::fs::write(
            d.join("Chart.yaml"),
            "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
        )
        .unwrap();
        std::fs::write(d.join("values.yaml"), "a: 1\nb:\n  c: 2\n").unwrap();
        std::fs::write(d.join("prod.yaml"), "b:\n  d: 3\n").unwrap();
        std::fs::write(d.join("templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
        let files = vec!["values.yaml".to_string(), "prod.yaml".to_string()];
        let (bytes, meta) = package_chart(&d, t.path(), &files, false, None, u64::MAX).unwrap();
        assert_eq!(meta.name, "demo");
        let out = t.path().join("out");
        crate::archive::extract_tar_gz(&bytes[..], &out, Default::default()).unwrap();
        let v: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(out.join("demo/values.yaml")).unwrap())
                .unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}}));
        assert!(out.join("demo/templates/cm.yaml").exists());
        let err = package_chart(
            &d,
            t.path(),
            &["missing.yaml".to_string()],
            false,
            None,
            u64::MAX,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing.yaml"));
        assert!(
            package_chart(
                &d,
                t.path(),
                &["missing.yaml".to_string()],
                true,
                None,
                u64::MAX
            )
            .is_ok()
        );
    }
}
