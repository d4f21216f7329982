//! Charts: loading from directories and `.tgz` archives, `.helmignore`, `Chart.yaml`.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value as J};

use crate::error::Error;

/// A file of a chart, with its path relative to the chart root (`/`-separated).
#[derive(Debug, Clone)]
pub struct File {
    /// Relative path, e.g. `templates/deployment.yaml`.
    pub name: String,
    /// Contents (shared: cloning a chart does not copy its files).
    pub data: std::sync::Arc<[u8]>,
}

/// Text of a file: UTF-8 as is (checked on the fast path), invalid sequences replaced.
pub(crate) fn text_of(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// One entry of `dependencies:` in `Chart.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Dependency {
    /// Chart name.
    pub name: String,
    /// Version range.
    pub version: String,
    /// Repository URL.
    pub repository: String,
    /// Comma-separated values paths enabling the dependency.
    pub condition: String,
    /// Tags enabling the dependency.
    pub tags: Vec<String>,
    /// Whether it is enabled (computed).
    pub enabled: bool,
    /// `import-values` entries (strings or `{child, parent}` maps).
    pub import_values: Vec<J>,
    /// Alias.
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// The raw document (for fields not modelled).
    pub raw: Map<String, J>,
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `apiVersion` (`v1` or `v2`).
    pub api_version: String,
    /// `appVersion`.
    pub app_version: String,
    /// `kubeVersion` constraint.
    pub kube_version: String,
    /// `type` (`application` or `library`).
    pub chart_type: String,
    /// `deprecated`.
    pub deprecated: bool,
    /// Dependencies.
    pub dependencies: Vec<Dependency>,
}

/// A loaded chart with its subcharts.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Metadata,
    /// Files under `templates/`.
    pub templates: Vec<File>,
    /// Other files (`.Files`), including `crds/`.
    pub files: Vec<File>,
    /// `values.yaml`.
    pub values: Map<String, J>,
    /// `values.schema.json`, if any.
    pub schema: Option<Vec<u8>>,
    /// Subcharts from `charts/`.
    pub dependencies: Vec<Chart>,
}

impl Chart {
    /// The chart's name (after aliasing).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether this is a library chart.
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// Files under `crds/` (their names relative to the chart).
    pub fn crd_files(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| f.name.starts_with("crds/"))
    }

    /// Loads a chart from a directory or a `.tgz` archive.
    pub fn load(path: &Path) -> Result<Chart, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
        if meta.is_dir() {
            Self::load_dir(path)
        } else {
            let data = std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
            Self::load_archive(&data)
        }
    }

    /// Loads a chart directory, honouring `.helmignore`.
    pub fn load_dir(dir: &Path) -> Result<Chart, Error> {
        let rules = match std::fs::read_to_string(dir.join(".helmignore")) {
            Ok(t) => Ignore::parse(&t),
            Err(_) => Ignore::parse(""),
        };
        let mut files = Vec::new();
        walk(dir, "", &rules, &mut files)?;
        Self::from_files(files)
    }

    /// Loads a gzipped tar archive; entries escaping the root or links are refused.
    pub fn load_archive(data: &[u8]) -> Result<Chart, Error> {
        let gz = flate2::read::GzDecoder::new(data);
        let mut ar = tar::Archive::new(gz);
        let mut files = Vec::new();
        let entries = ar.entries().map_err(|e| Error::Archive(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| Error::Archive(e.to_string()))?;
            let kind = entry.header().entry_type();
            let path = entry
                .path()
                .map_err(|e| Error::Archive(e.to_string()))?
                .to_string_lossy()
                .replace('\\', "/");
            if kind.is_symlink() || kind.is_hard_link() {
                return Err(Error::Archive(format!("chart contains a link: {path}")));
            }
            if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            if path.starts_with('/') || path.split('/').any(|p| p == "..") {
                return Err(Error::Archive(format!(
                    "chart illegally contains content outside the base directory: {path:?}"
                )));
            }
            // strip the top directory
            let Some((_, rel)) = path.split_once('/') else {
                continue;
            };
            if rel.is_empty() {
                continue;
            }
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| Error::Archive(e.to_string()))?;
            files.push(File {
                name: rel.to_string(),
                data: data.into(),
            });
        }
        // apply the archive's own .helmignore
        if let Some(h) = files.iter().find(|f| f.name == ".helmignore") {
            let rules = Ignore::parse(&text_of(&h.data));
            files.retain(|f| !rules.ignored_path(&f.name));
        }
        Self::from_files(files)
    }

    /// Builds a chart from its files (paths relative to the chart root).
    pub fn from_files(files: Vec<File>) -> Result<Chart, Error> {
        let mut c = Chart::default();
        let mut chart_yaml = None;
        let mut requirements = None;
        let mut sub: Vec<(String, Vec<File>)> = Vec::new();
        for f in files {
            let n = f.name.clone();
            if n == "Chart.yaml" {
                chart_yaml = Some(f);
            } else if n == "values.yaml" {
                c.values = crate::values::read_values(&text_of(&f.data))
                    .map_err(|e| Error::Chart(format!("cannot load values.yaml: {e}")))?;
            } else if n == "values.schema.json" {
                c.schema = Some(f.data.to_vec());
            } else if n == "requirements.yaml" {
                requirements = Some(f.data.to_vec());
                c.files.push(f);
            } else if let Some(t) = n.strip_prefix("templates/") {
                let _ = t;
                c.templates.push(f);
            } else if let Some(rest) = n.strip_prefix("charts/") {
                let (head, tail) = match rest.split_once('/') {
                    Some((h, t)) => (h.to_string(), Some(t.to_string())),
                    None => (rest.to_string(), None),
                };
                let key = head.clone();
                let entry = match sub.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e,
                    None => {
                        sub.push((key, Vec::new()));
                        sub.last_mut()
                            .ok_or_else(|| Error::Chart("internal".into()))?
                    }
                };
                entry.1.push(File {
                    name: tail.unwrap_or_default(),
                    data: f.data,
                });
            } else {
                c.files.push(f);
            }
        }
        let Some(cy) = chart_yaml else {
            return Err(Error::Chart("Chart.yaml file is missing".into()));
        };
        c.metadata = parse_metadata(&cy.data)?;
        if c.metadata.api_version != "v2"
            && let Some(r) = requirements
        {
            let v = crate::yaml::parse(&text_of(&r)).map_err(|e| {
                Error::Chart(format!(
                    "cannot load requirements.yaml: error converting YAML to JSON: {e}"
                ))
            })?;
            if let Some(J::Array(deps)) = v.get("dependencies") {
                c.metadata.dependencies = deps.iter().map(parse_dep).collect();
            }
        }
        sub.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, files) in sub {
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if name.ends_with(".tgz") {
                let Some(f) = files.into_iter().find(|f| f.name.is_empty()) else {
                    continue;
                };
                let sc = Chart::load_archive(&f.data).map_err(|e| {
                    Error::Chart(format!(
                        "error unpacking subchart {name} in {}: {e}",
                        c.metadata.name
                    ))
                })?;
                c.dependencies.push(sc);
            } else {
                let files: Vec<File> = files.into_iter().filter(|f| !f.name.is_empty()).collect();
                if files.is_empty() {
                    continue;
                }
                let sc = Chart::from_files(files).map_err(|e| {
                    Error::Chart(format!(
                        "error unpacking subchart {name} in {}: {e}",
                        c.metadata.name
                    ))
                })?;
                c.dependencies.push(sc);
            }
        }
        Ok(c)
    }
}

fn s_field(m: &Map<String, J>, k: &str) -> String {
    match m.get(k) {
        Some(J::String(s)) => s.clone(),
        Some(J::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            crate::value::format_float_g(f)
        }
        Some(J::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn parse_dep(d: &J) -> Dependency {
    let Some(m) = d.as_object() else {
        return Dependency::default();
    };
    Dependency {
        name: s_field(m, "name"),
        version: s_field(m, "version"),
        repository: s_field(m, "repository"),
        condition: s_field(m, "condition"),
        tags: m
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        enabled: true,
        import_values: m
            .get("import-values")
            .and_then(|t| t.as_array())
            .cloned()
            .unwrap_or_default(),
        alias: s_field(m, "alias"),
    }
}

/// Parses and validates `Chart.yaml`.
pub fn parse_metadata(data: &[u8]) -> Result<Metadata, Error> {
    let text = text_of(data);
    let v = crate::yaml::parse(&text).map_err(|e| {
        Error::Chart(format!(
            "cannot load Chart.yaml: error converting YAML to JSON: {e}"
        ))
    })?;
    let m = match v {
        J::Object(m) => m,
        J::Null => Map::new(),
        other => {
            return Err(Error::Chart(format!(
                "cannot load Chart.yaml: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type loader.chartBase",
                crate::yaml::json_type_name(&other)
            )));
        }
    };
    let md = Metadata {
        name: s_field(&m, "name"),
        version: s_field(&m, "version"),
        api_version: s_field(&m, "apiVersion"),
        app_version: s_field(&m, "appVersion"),
        kube_version: s_field(&m, "kubeVersion"),
        chart_type: s_field(&m, "type"),
        deprecated: matches!(m.get("deprecated"), Some(J::Bool(true))),
        dependencies: m
            .get("dependencies")
            .and_then(|d| d.as_array())
            .map(|a| a.iter().map(parse_dep).collect())
            .unwrap_or_default(),
        raw: m,
    };
    if md.api_version.is_empty() {
        return Err(Error::Chart(
            "validation: chart.metadata.apiVersion is required".into(),
        ));
    }
    if md.name.is_empty() {
        return Err(Error::Chart(
            "validation: chart.metadata.name is required".into(),
        ));
    }
    if md.name.contains('/') || md.name.contains('\\') || md.name == "." || md.name == ".." {
        return Err(Error::Chart(format!(
            "validation: chart.metadata.name {:?} is invalid",
            md.name
        )));
    }
    if md.version.is_empty() {
        return Err(Error::Chart(
            "validation: chart.metadata.version is required".into(),
        ));
    }
    if crate::funcs::semver::Version::parse(&md.version).is_none() {
        return Err(Error::Chart(format!(
            "validation: chart.metadata.version {:?} is invalid",
            md.version
        )));
    }
    if !md.chart_type.is_empty() && md.chart_type != "application" && md.chart_type != "library" {
        return Err(Error::Chart(
            "validation: chart.metadata.type must be application or library".into(),
        ));
    }
    Ok(md)
}

fn walk(dir: &Path, rel: &str, rules: &Ignore, out: &mut Vec<File>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        let relp = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let md =
            std::fs::metadata(&path).map_err(|er| Error::Io(path.display().to_string(), er))?;
        if md.is_dir() {
            if rules.ignored(&relp, true) {
                continue;
            }
            walk(&path, &relp, rules, out)?;
        } else {
            if rules.ignored(&relp, false) {
                continue;
            }
            let data =
                std::fs::read(&path).map_err(|er| Error::Io(path.display().to_string(), er))?;
            out.push(File {
                name: relp,
                data: data.into(),
            });
        }
    }
    Ok(())
}

struct Rule {
    pat: String,
    negate: bool,
    must_dir: bool,
    kind: u8, // 0 base name, 1 structural, 2 rooted
}

/// `.helmignore` rules (Helm's semantics, including its negation quirk).
pub struct Ignore(Vec<Rule>);

impl Ignore {
    /// Parses rules and adds Helm's default (`templates/.?*`).
    pub fn parse(text: &str) -> Ignore {
        let mut v = Vec::new();
        for line in text.lines().chain(std::iter::once("templates/.?*")) {
            let mut r = line.trim();
            if r.is_empty() || r.starts_with('#') {
                continue;
            }
            if r == "!" {
                continue;
            }
            let mut negate = false;
            if let Some(x) = r.strip_prefix('!') {
                negate = true;
                r = x;
            }
            let mut must_dir = false;
            if let Some(x) = r.strip_suffix('/') {
                must_dir = true;
                r = x;
            }
            let (kind, pat) = if let Some(x) = r.strip_prefix('/') {
                (2, x.to_string())
            } else if r.contains('/') {
                (1, r.to_string())
            } else {
                (0, r.to_string())
            };
            v.push(Rule {
                pat,
                negate,
                must_dir,
                kind,
            });
        }
        Ignore(v)
    }

    fn ignored_path(&self, p: &str) -> bool {
        // an archive file is ignored when it or any parent directory is
        let parts: Vec<&str> = p.split('/').collect();
        for i in 1..parts.len() {
            if self.ignored(&parts[..i].join("/"), true) {
                return true;
            }
        }
        self.ignored(p, false)
    }

    /// Whether `path` (relative) is ignored.
    pub fn ignored(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for r in &self.0 {
            let m = |p: &str| match r.kind {
                0 => go_match(&r.pat, p.rsplit('/').next().unwrap_or(p)),
                _ => go_match(&r.pat, p),
            };
            if r.negate {
                if r.must_dir && !is_dir {
                    return true;
                }
                if !m(path) {
                    return true;
                }
                continue;
            }
            if r.must_dir && !is_dir {
                continue;
            }
            if m(path) {
                return true;
            }
        }
        false
    }
}

/// Go's `filepath.Match` (`*`, `?`, `[...]`, `\` escapes; `*` does not cross `/`).
pub fn go_match(pat: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        if p.is_empty() {
            return n.is_empty();
        }
        match p[0] {
            '*' => {
                let mut i = 0;
                loop {
                    if m(&p[1..], &n[i..]) {
                        return true;
                    }
                    if i >= n.len() || n[i] == '/' {
                        return false;
                    }
                    i += 1;
                }
            }
            '?' => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            '[' => {
                if n.is_empty() || n[0] == '/' {
                    return false;
                }
                let c = n[0];
                let mut i = 1;
                let neg = i < p.len() && p[i] == '^';
                if neg {
                    i += 1;
                }
                let mut matched = false;
                let mut first = true;
                while i < p.len() && (p[i] != ']' || first) {
                    first = false;
                    let mut lo = p[i];
                    if lo == '\\' && i + 1 < p.len() {
                        i += 1;
                        lo = p[i];
                    }
                    let mut hi = lo;
                    if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                        hi = p[i + 2];
                        i += 2;
                    }
                    if lo <= c && c <= hi {
                        matched = true;
                    }
                    i += 1;
                }
                if i >= p.len() {
                    return false;
                }
                matched != neg && m(&p[i + 1..], &n[1..])
            }
            '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
            c => !n.is_empty() && n[0] == c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, data, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(if *kind == tar::EntryType::Regular {
                data.len() as u64
            } else {
                0
            });
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                let _ = h.set_link_name("../../etc/passwd");
            }
            // write the raw name so that `..` is not rejected by the builder
            let name = path.as_bytes();
            let gnu = h.as_gnu_mut().map(|g| &mut g.name);
            if let Some(n) = gnu {
                n[..name.len()].copy_from_slice(name);
            }
            h.set_cksum();
            let body: &[u8] = if *kind == tar::EntryType::Regular {
                data
            } else {
                &[]
            };
            let _ = b.append(&h, body);
        }
        b.into_inner().and_then(|g| g.finish()).unwrap_or_default()
    }

    const CHART: &[u8] = b"apiVersion: v2\nname: c\nversion: 1.0.0\n";

    #[test]
    fn archive_loads() {
        let data = tgz(&[
            ("c/Chart.yaml", CHART, tar::EntryType::Regular),
            ("c/templates/a.yaml", b"kind: A\n", tar::EntryType::Regular),
        ]);
        let c = Chart::load_archive(&data).map_err(|e| e.to_string());
        assert_eq!(
            c.map(|c| (c.name().to_string(), c.templates.len())),
            Ok(("c".to_string(), 1))
        );
    }

    #[test]
    fn archive_with_parent_path_is_refused() {
        let data = tgz(&[
            ("c/Chart.yaml", CHART, tar::EntryType::Regular),
            ("c/../../evil.yaml", b"x", tar::EntryType::Regular),
        ]);
        let err = Chart::load_archive(&data)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("outside the base directory"), "{err}");
    }

    #[test]
    fn archive_with_link_is_refused() {
        let data = tgz(&[
            ("c/Chart.yaml", CHART, tar::EntryType::Regular),
            ("c/templates/link.yaml", b"", tar::EntryType::Symlink),
        ]);
        let err = Chart::load_archive(&data)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("link"), "{err}");
    }

    #[test]
    fn garbage_archive_is_an_error() {
        assert!(Chart::load_archive(b"not a tarball").is_err());
    }

    #[test]
    fn helmignore_rules() {
        let r = Ignore::parse("*.bak\n/top.txt\ndocs/\nsub/*.md\n");
        assert!(r.ignored("a/b/x.bak", false));
        assert!(r.ignored("top.txt", false));
        assert!(!r.ignored("a/top.txt", false));
        assert!(r.ignored("docs", true));
        assert!(!r.ignored("docs", false));
        assert!(r.ignored("sub/readme.md", false));
        assert!(r.ignored("templates/.hidden", false));
        assert!(!r.ignored("templates/x.yaml", false));
    }

    #[test]
    fn chart_yaml_validation() {
        assert!(parse_metadata(b"apiVersion: v2\nname: x\nversion: notsemver\n").is_err());
        assert!(parse_metadata(b"name: x\nversion: 1.0.0\n").is_err());
        assert!(parse_metadata(b"apiVersion: v2\nname: x\nversion: 1.0.0\ntype: weird\n").is_err());
        assert!(parse_metadata(b"apiVersion: v1\nname: x\nversion: 1.0.0\n").is_ok());
    }
}
