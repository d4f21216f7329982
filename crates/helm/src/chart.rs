//! Charts: loading from directories and `.tgz` archives, `.helmignore`, `Chart.yaml`.
//!
//! Loading keeps to Helm's size limits ([`Limits`]): an archive decompresses to less than
//! [`MAX_CHART_SIZE`] (each subchart archive on its own), no file is larger than
//! [`MAX_FILE_SIZE`], and, beyond Helm, an archive with everything nested in it
//! decompresses to at most [`MAX_TREE_SIZE`]. Archives are read as streams and every entry
//! is checked before it is read; the errors are Helm's.

use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value as J};

use crate::error::Error;

/// A file of a chart, with its path relative to the chart root (`/`-separated).
#[derive(Debug, Clone)]
pub struct File {
    /// Relative path, e.g. `templates/deployment.yaml`.
    pub name: String,
    /// Contents (shared: cloning a chart does not copy its files).
    pub data: Contents,
}

/// What a chart file holds: its bytes, or, for a large file that a render may never look at
/// (outside `templates/` and the chart's own `Chart.yaml`, values and schema) in a chart
/// directory loaded for one render, the file itself, opened and measured when the chart was
/// loaded and read on first use. Charts carry CRDs, dashboards and documentation that most
/// renders never read: three quarters of the bytes of the conformance corpus's charts.
///
/// A deferred read that fails leaves no bytes; the render that needed them fails
/// ([`Chart::deferred_error`]).
#[derive(Clone)]
pub struct Contents(Repr);

#[derive(Clone)]
enum Repr {
    Read(Arc<[u8]>),
    Deferred(Arc<Deferred>),
}

/// A file whose reading waits for its first use.
struct Deferred {
    /// The file, opened when the chart was loaded; taken by the first read.
    file: std::sync::Mutex<Option<std::fs::File>>,
    /// Its path and base name, for errors.
    path: String,
    name: String,
    /// Its size when it was listed.
    len: u64,
    /// The size limit it was loaded within.
    max: u64,
    read: std::sync::OnceLock<DeferredRead>,
}

/// A deferred file's bytes, or what its read failed with.
type DeferredRead = Result<Arc<[u8]>, (std::io::ErrorKind, String)>;

impl Deferred {
    fn get(&self) -> &DeferredRead {
        self.read.get_or_init(|| {
            let taken = self.file.lock().map(|mut f| f.take());
            let Ok(Some(mut file)) = taken else {
                return Err((std::io::ErrorKind::Other, "read twice".into()));
            };
            read_contents(&mut file, self.len, self.max, &self.name).map_err(|e| match e {
                Error::Io(_, e) => (e.kind(), e.to_string()),
                e => (std::io::ErrorKind::InvalidData, e.to_string()),
            })
        })
    }
}

impl Contents {
    /// The bytes, read now if they were deferred.
    pub fn bytes(&self) -> Result<&Arc<[u8]>, Error> {
        match &self.0 {
            Repr::Read(b) => Ok(b),
            Repr::Deferred(d) => d.get().as_ref().map_err(|(kind, msg)| {
                Error::Io(d.path.clone(), std::io::Error::new(*kind, msg.clone()))
            }),
        }
    }

    /// The bytes, or none when a deferred read failed (the render fails then, see
    /// [`Chart::deferred_error`]), for the places that cannot report an error.
    pub(crate) fn bytes_or_empty(&self) -> &[u8] {
        self.bytes().map(|b| &b[..]).unwrap_or_default()
    }

    /// The size in bytes (for a deferred file, as it was listed).
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Read(b) => b.len() as u64,
            Repr::Deferred(d) => d.len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The error of a deferred read that was made and failed.
    fn failed(&self) -> Option<Error> {
        match &self.0 {
            Repr::Deferred(d) if matches!(d.read.get(), Some(Err(_))) => self.bytes().err(),
            _ => None,
        }
    }
}

impl From<Arc<[u8]>> for Contents {
    fn from(b: Arc<[u8]>) -> Contents {
        Contents(Repr::Read(b))
    }
}

impl From<Vec<u8>> for Contents {
    fn from(b: Vec<u8>) -> Contents {
        Contents(Repr::Read(b.into()))
    }
}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Read(b) => write!(f, "{} bytes", b.len()),
            Repr::Deferred(d) => write!(f, "{} bytes, not read yet", d.len),
        }
    }
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
    pub schema: Option<Arc<[u8]>>,
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

    /// The `crds/` files of the chart and its subcharts, as (path from the parent chart,
    /// content): the chart's own sorted by name, then each subchart's.
    pub fn crds(&self) -> Vec<(String, Contents)> {
        fn collect(c: &Chart, prefix: &str, out: &mut Vec<(String, Contents)>) {
            let full = if prefix.is_empty() {
                c.name().to_string()
            } else {
                format!("{prefix}/charts/{}", c.name())
            };
            let mut crds: Vec<&File> = c.crd_files().collect();
            crds.sort_by(|a, b| a.name.cmp(&b.name));
            for f in crds {
                out.push((format!("{full}/{}", f.name), f.data.clone()));
            }
            for d in &c.dependencies {
                collect(d, &full, out);
            }
        }
        let mut out = Vec::new();
        collect(self, "", &mut out);
        out
    }

    /// The error of the first deferred file (see [`Contents`]) of the chart or its
    /// subcharts whose read failed.
    pub fn deferred_error(&self) -> Option<Error> {
        self.files
            .iter()
            .chain(&self.templates)
            .find_map(|f| f.data.failed())
            .or_else(|| self.dependencies.iter().find_map(Chart::deferred_error))
    }

    /// Loads a chart from a directory or a `.tgz` archive, within Helm's size limits.
    pub fn load(path: &Path) -> Result<Chart, Error> {
        Self::load_with(path, &Limits::default())
    }

    /// Loads a chart from a directory or a `.tgz` archive within `limits`. The archive is
    /// read as a stream, never whole. Like Helm, a chart archive that cannot be read fails
    /// with only `unable to load chart archive` ([`Error::ChartArchive`], whose source says
    /// why); errors in what it holds (`Chart.yaml`, subcharts) read as they do in a directory.
    pub fn load_with(path: &Path, limits: &Limits) -> Result<Chart, Error> {
        Self::load_seeing_files(path, limits, false, |_| {})
    }

    /// [`Chart::load_with`], showing `files_read` every file of the chart (paths from its
    /// root) once they are read and before the chart is built from them. With `for_render`
    /// (a chart loaded for one render and dropped after it) the large files of a directory
    /// that a render may never read are only opened (see [`Contents`]).
    pub(crate) fn load_seeing_files(
        path: &Path,
        limits: &Limits,
        for_render: bool,
        files_read: impl FnOnce(&[File]),
    ) -> Result<Chart, Error> {
        let io = |e| Error::Io(path.display().to_string(), e);
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            let files = Self::dir_files(path, limits, for_render)?;
            files_read(&files);
            return Self::from_files_in(files, &mut Budget::new(limits));
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let mut budget = Budget::new(limits);
        let files = archive_files_in(std::io::BufReader::new(file), &mut budget)
            .map_err(|e| Error::ChartArchive(Box::new(e)))?;
        files_read(&files);
        Self::from_files_in(files, &mut budget)
    }

    /// Loads a chart directory, honouring `.helmignore`, within Helm's size limits.
    pub fn load_dir(dir: &Path) -> Result<Chart, Error> {
        Self::load_dir_with(dir, &Limits::default())
    }

    /// Loads a chart directory, honouring `.helmignore`: no file may be larger than
    /// `limits.max_file_size` (Helm's `chart file "NAME" is larger than the maximum file
    /// size N`); subchart archives in `charts/` are read within `limits`.
    pub fn load_dir_with(dir: &Path, limits: &Limits) -> Result<Chart, Error> {
        let files = Self::dir_files(dir, limits, false)?;
        Self::from_files_in(files, &mut Budget::new(limits))
    }

    /// The files of a chart directory that `.helmignore` keeps, read.
    /// (Large files a render may never read are left open for their first use when
    /// `defer` is set, see [`Contents`].)
    fn dir_files(dir: &Path, limits: &Limits, defer: bool) -> Result<Vec<File>, Error> {
        let rules = match std::fs::read_to_string(dir.join(".helmignore")) {
            Ok(t) => Ignore::parse(&t),
            Err(_) => Ignore::parse(""),
        };
        let mut files = Vec::new();
        let mut deferrable = if defer { MAX_DEFERRED } else { 0 };
        walk(dir, "", &rules, limits, &mut deferrable, &mut files)?;
        Ok(files)
    }

    /// Loads a gzipped tar archive held in memory, within Helm's size limits; entries
    /// escaping the root or links are refused.
    pub fn load_archive(data: &[u8]) -> Result<Chart, Error> {
        Self::read_archive(data, &Limits::default())
    }

    /// Loads a gzipped tar archive from a reader, as a stream, within `limits` (see
    /// [`archive_files`]).
    pub fn read_archive(r: impl Read, limits: &Limits) -> Result<Chart, Error> {
        let mut budget = Budget::new(limits);
        let files = archive_files_in(r, &mut budget)?;
        Self::from_files_in(files, &mut budget)
    }

    /// Builds a chart from its files (paths relative to the chart root); subchart archives
    /// among them are read within Helm's size limits.
    pub fn from_files(files: Vec<File>) -> Result<Chart, Error> {
        Self::from_files_in(files, &mut Budget::new(&Limits::default()))
    }

    fn from_files_in(files: Vec<File>, budget: &mut Budget) -> Result<Chart, Error> {
        let mut c = Chart::default();
        let mut chart_yaml = None;
        let mut requirements = None;
        let mut sub: Vec<(String, Vec<File>)> = Vec::new();
        for f in files {
            let n = f.name.clone();
            if n == "Chart.yaml" {
                chart_yaml = Some(f);
            } else if n == "values.yaml" {
                c.values = crate::values::read_values(&text_of(f.data.bytes()?))
                    .map_err(|e| Error::Chart(format!("cannot load values.yaml: {e}")))?;
            } else if n == "values.schema.json" {
                c.schema = Some(f.data.bytes()?.clone());
            } else if n == "requirements.yaml" {
                requirements = Some(f.data.bytes()?.to_vec());
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
        c.metadata = parse_metadata(cy.data.bytes()?)?;
        if c.metadata.api_version != "v2"
            && let Some(r) = requirements
        {
            let v = crate::yaml::parse_first(&text_of(&r)).map_err(|e| {
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
                let sc = archive_files_in(&f.data.bytes()?[..], budget)
                    .and_then(|files| Chart::from_files_in(files, budget))
                    .map_err(|e| {
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
                let sc = Chart::from_files_in(files, budget).map_err(|e| {
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

// ---------------------------------------------------------------------------------------
// Size limits and archive reading

/// Helm's cap on the decompressed size of one chart archive, all its files together
/// (`MaxDecompressedChartSize`, 100 MiB). A chart's archive and each subchart archive in
/// its `charts/` are capped on their own, as Helm caps them.
pub const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// Helm's cap on one file of a chart (`MaxDecompressedFileSize`, 5 MiB): decompressed from
/// an archive, or read from a chart directory.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// Not Helm's: a cap on all the bytes decompressed to load one chart, from its archive and
/// every subchart archive nested in it (256 MiB). Helm caps each archive on its own, so
/// archives nested in archives multiply what it holds in memory; this keeps that bounded.
pub const MAX_TREE_SIZE: u64 = 256 * 1024 * 1024;

/// Go's `archive/tar` cap on an extended header's data (GNU long names, PAX records):
/// `maxSpecialFileSize`, 1 MiB.
const MAX_SPECIAL_FILE_SIZE: u64 = 1024 * 1024;

/// What reading the headers of one tar entry may decompress: the padding of the entry
/// before, its header, a GNU long name, a long link name and PAX records (each capped as
/// Go caps them), GNU sparse maps.
const HEADER_ALLOWANCE: u64 = 3 * (MAX_SPECIAL_FILE_SIZE + 1024) + 64 * 1024;

/// Size limits for loading charts; the default is Helm's ([`MAX_CHART_SIZE`],
/// [`MAX_FILE_SIZE`]) and [`MAX_TREE_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes of the files of one archive. Reaching it fails with Helm's
    /// `decompressed chart is larger than the maximum size N`.
    pub max_chart_size: u64,
    /// Bytes of one file, in an archive (`decompressed chart file "PATH" is larger than the
    /// maximum file size N`) or in a directory (`chart file "NAME" is larger ...`).
    pub max_file_size: u64,
    /// Decompressed bytes of the files of a chart archive and of all the archives nested in
    /// it (`decompressed chart and its subcharts are larger than the maximum size N`).
    pub max_tree_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_chart_size: MAX_CHART_SIZE,
            max_file_size: MAX_FILE_SIZE,
            max_tree_size: MAX_TREE_SIZE,
        }
    }
}

/// The limits of one load and what is left of its tree-wide allowance.
struct Budget {
    limits: Limits,
    tree_left: u64,
}

impl Budget {
    fn new(limits: &Limits) -> Budget {
        Budget {
            limits: *limits,
            tree_left: limits.max_tree_size,
        }
    }
}

/// How many decompressed bytes the tar reader has taken and may take.
#[derive(Default)]
struct Meter {
    read: std::cell::Cell<u64>,
    limit: std::cell::Cell<u64>,
    tripped: std::cell::Cell<bool>,
}

impl Meter {
    /// Lets the reader take `n` more bytes from here.
    fn allow(&self, n: u64) {
        self.limit.set(self.read.get().saturating_add(n));
    }
}

/// The decompressed stream under the tar reader, failing once it takes more than its
/// [`Meter`] allows: the tar reader reads extended headers whole, before the entry they
/// describe can be checked.
struct Metered<R> {
    inner: R,
    meter: std::rc::Rc<Meter>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let m = &self.meter;
        let room = m.limit.get().saturating_sub(m.read.get());
        if room == 0 && !buf.is_empty() {
            m.tripped.set(true);
            return Err(std::io::Error::other("tar header too long"));
        }
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        let got = self.inner.read(&mut buf[..n])?;
        m.read.set(m.read.get() + got as u64);
        Ok(got)
    }
}

/// A read error of an archive in the words of Go's readers.
fn archive_error(e: &std::io::Error, meter: &Meter) -> Error {
    Error::Archive(if meter.tripped.get() {
        // archive/tar's ErrFieldTooLong
        "archive/tar: header field too long".to_string()
    } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "unexpected EOF".to_string()
    } else {
        e.to_string()
    })
}

/// Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            x => out.push(x),
        }
    }
    let s = out.join("/");
    match (rooted, s.is_empty()) {
        (true, _) => format!("/{s}"),
        (false, true) => ".".to_string(),
        (false, false) => s,
    }
}

/// The name of an archive entry relative to the chart (the first path element dropped), or
/// Helm's error for an entry it refuses.
fn entry_name(raw: &str) -> Result<String, Error> {
    let delimiter = if raw.contains('\\') { '\\' } else { '/' };
    let parts: Vec<&str> = raw.split(delimiter).collect();
    let n = parts[1..]
        .join(&delimiter.to_string())
        .replace(delimiter, "/");
    if n.starts_with('/') {
        return Err(Error::Archive(
            "chart illegally contains absolute paths".into(),
        ));
    }
    let n = clean_path(&n);
    if n == "." {
        return Err(Error::Archive(format!(
            "chart illegally contains content outside the base directory: {}",
            crate::template::fmt::go_quote(raw)
        )));
    }
    if n.starts_with("..") {
        return Err(Error::Archive(
            "chart illegally references parent directory".into(),
        ));
    }
    let b = n.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
        return Err(Error::Archive(
            "chart contains illegally named files".into(),
        ));
    }
    if parts[0] == "Chart.yaml" {
        return Err(Error::Archive("chart yaml not in base directory".into()));
    }
    Ok(n)
}

/// The files of a gzipped tar chart archive, read as a stream within Helm's size limits:
/// every entry's size is checked before any of it is read (Helm's messages: `decompressed
/// chart is larger than the maximum size N`, `decompressed chart file "PATH" is larger than
/// the maximum file size N`), and no entry yields more bytes than its header declares.
/// Entry paths are checked as Helm checks them; links are refused.
pub fn archive_files(r: impl Read, limits: &Limits) -> Result<Vec<File>, Error> {
    archive_files_in(r, &mut Budget::new(limits))
}

fn archive_files_in(r: impl Read, budget: &mut Budget) -> Result<Vec<File>, Error> {
    let limits = budget.limits;
    let too_big = || {
        Error::Archive(format!(
            "decompressed chart is larger than the maximum size {}",
            limits.max_chart_size
        ))
    };
    let meter = std::rc::Rc::new(Meter::default());
    let mut ar = tar::Archive::new(Metered {
        inner: flate2::read::MultiGzDecoder::new(r),
        meter: meter.clone(),
    });
    let mut remaining = limits.max_chart_size;
    let mut files = Vec::new();
    // data of the entry before that the tar reader skips
    let mut unread = 0u64;
    meter.allow(HEADER_ALLOWANCE);
    let mut entries = ar.entries().map_err(|e| archive_error(&e, &meter))?;
    loop {
        meter.allow(HEADER_ALLOWANCE.saturating_add(unread));
        unread = 0;
        let Some(entry) = entries.next() else { break };
        let mut entry = entry.map_err(|e| archive_error(&e, &meter))?;
        let kind = entry.header().entry_type();
        let size = entry.size();
        if kind.is_dir() || kind.is_pax_global_extensions() {
            // skipped, as Helm skips them; their data is read past, not kept
            if kind.is_pax_global_extensions() && size > MAX_SPECIAL_FILE_SIZE {
                meter.tripped.set(true);
                return Err(archive_error(&std::io::Error::other(""), &meter));
            }
            if size > limits.max_chart_size {
                return Err(too_big());
            }
            unread = size;
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(Error::Archive(format!(
                "chart contains a link: {}",
                raw.replace('\\', "/")
            )));
        }
        let name = entry_name(&raw)?;
        if size > remaining {
            return Err(too_big());
        }
        if size > limits.max_file_size {
            return Err(Error::Archive(format!(
                "decompressed chart file {} is larger than the maximum file size {}",
                crate::template::fmt::go_quote(&raw),
                limits.max_file_size
            )));
        }
        meter.allow(size);
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry)
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| archive_error(&e, &meter))?;
        let n = data.len() as u64;
        if n < size {
            // the archive ends inside the entry (Go's tar: io.ErrUnexpectedEOF)
            return Err(Error::Archive("unexpected EOF".into()));
        }
        remaining -= n;
        if remaining == 0 {
            return Err(too_big());
        }
        if n > budget.tree_left {
            return Err(Error::Archive(format!(
                "decompressed chart and its subcharts are larger than the maximum size {}",
                limits.max_tree_size
            )));
        }
        budget.tree_left -= n;
        if !kind.is_file() {
            // devices, FIFOs ...: read and counted as Helm does, but not chart files
            continue;
        }
        files.push(File {
            name,
            data: data.into(),
        });
    }
    if files.is_empty() {
        return Err(Error::Archive("no files in chart archive".into()));
    }
    // apply the archive's own .helmignore
    if let Some(h) = files.iter().find(|f| f.name == ".helmignore") {
        let rules = Ignore::parse(&text_of(h.data.bytes_or_empty()));
        files.retain(|f| !rules.ignored_path(&f.name));
    }
    Ok(files)
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
    let v = crate::yaml::parse_first(&text).map_err(|e| {
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
    if gitops_go::semver::Version::parse(&md.version).is_err() {
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

/// At most this many files of one chart are deferred (each keeps its file open).
const MAX_DEFERRED: usize = 256;

/// Files smaller than this are read at load: holding them open would cost about as much.
const DEFER_FROM: u64 = 16 << 10;

/// Whether a chart file (path from the root chart) is one a render may never read: not a
/// template, nor `Chart.yaml`, values, schema or `requirements.yaml` of the chart it is in,
/// nor an entry right under a `charts/` directory (a subchart archive).
fn may_defer(path: &str) -> bool {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("charts/") {
        match rest.split_once('/') {
            Some((_, inner)) => p = inner,
            None => return false,
        }
    }
    !(p.starts_with("templates/")
        || matches!(
            p,
            "Chart.yaml" | "values.yaml" | "values.schema.json" | "requirements.yaml"
        ))
}

/// `len` bytes of an open chart file named `name`, or what it holds now if its size
/// changed since it was listed, within `max` bytes.
fn read_contents(
    file: &mut std::fs::File,
    len: u64,
    max: u64,
    name: &str,
) -> Result<Arc<[u8]>, Error> {
    if let Some(data) = read_exactly(file, len) {
        return Ok(data);
    }
    let io = |e| Error::Io(name.to_string(), e);
    let mut data = Vec::new();
    file.rewind().map_err(io)?;
    file.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 > max {
        return Err(too_big(name, max));
    }
    Ok(data.into())
}

/// Helm's error for a chart file (`name`, its base name) larger than `max` bytes.
fn too_big(name: &str, max: u64) -> Error {
    Error::Chart(format!(
        "chart file {} is larger than the maximum file size {max}",
        crate::template::fmt::go_quote(name),
    ))
}

/// Reads the files under `dir` (paths from the chart root prefixed with `rel`) that `rules`
/// keep into `out`; up to `defer` large ones that a render may never read are opened and
/// left for their first use (see [`Contents`]).
fn walk(
    dir: &Path,
    rel: &str,
    rules: &Ignore,
    limits: &Limits,
    defer: &mut usize,
    out: &mut Vec<File>,
) -> Result<(), Error> {
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
        let io = |er| Error::Io(path.display().to_string(), er);
        // the entry's type comes with the directory listing, its size from a look-up in the
        // directory already open; a link is followed (as Helm does) from the full path
        let ty = e.file_type().map_err(io)?;
        let md = if ty.is_symlink() {
            Some(std::fs::metadata(&path).map_err(io)?)
        } else if ty.is_dir() {
            None
        } else {
            Some(e.metadata().map_err(io)?)
        };
        let Some(md) = md.filter(|m| !m.is_dir()) else {
            if rules.ignored(&relp, true) {
                continue;
            }
            walk(&path, &relp, rules, limits, defer, out)?;
            continue;
        };
        if rules.ignored(&relp, false) {
            continue;
        }
        if md.len() > limits.max_file_size {
            return Err(too_big(&name, limits.max_file_size));
        }
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let data = if *defer > 0 && md.len() >= DEFER_FROM && may_defer(&relp) {
            *defer -= 1;
            Contents(Repr::Deferred(Arc::new(Deferred {
                file: std::sync::Mutex::new(Some(file)),
                path: path.display().to_string(),
                name,
                len: md.len(),
                max: limits.max_file_size,
                read: std::sync::OnceLock::new(),
            })))
        } else {
            read_contents(&mut file, md.len(), limits.max_file_size, &name)
                .map_err(|e| match e {
                    Error::Io(_, e) => io(e),
                    e => e,
                })?
                .into()
        };
        out.push(File { name: relp, data });
    }
    Ok(())
}

/// A file's `len` bytes read straight into their shared buffer (no second copy), or `None`
/// when the file does not hold exactly that many.
fn read_exactly(file: &mut std::fs::File, len: u64) -> Option<Arc<[u8]>> {
    let len = usize::try_from(len).ok()?;
    let mut data: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
    let buf = Arc::get_mut(&mut data)?;
    file.read_exact(buf).ok()?;
    match file.read(&mut [0u8; 1]) {
        Ok(0) => Some(data),
        _ => None,
    }
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

/// Go's `filepath.Match` (`*`, `?`, `[...]`, `\\` escapes; `*` does not cross `/`).
pub fn go_match(pat: &str, name: &str) -> bool {
    // most `.helmignore` rules are names or `*.ext`: told without the matcher
    let special = |c: char| matches!(c, '*' | '?' | '[' | '\\');
    if !pat.contains(special) {
        return pat == name;
    }
    if let Some(tail) = pat.strip_prefix('*')
        && !tail.contains(special)
    {
        // `*` matches anything but `/`
        return name
            .strip_suffix(tail)
            .is_some_and(|head| !head.contains('/'));
    }
    if pat.is_ascii() && name.is_ascii() {
        // the common case, without collecting characters
        return glob(pat.as_bytes(), name.as_bytes());
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob(&p, &n)
}

/// `filepath.Match` over characters (`char`s, or bytes of ASCII text).
fn glob<C: Copy + Ord + From<u8>>(p: &[C], n: &[C]) -> bool {
    let [star, question, open, close, caret, backslash, dash, slash] =
        [b'*', b'?', b'[', b']', b'^', b'\\', b'-', b'/'].map(C::from);
    let Some(&c0) = p.first() else {
        return n.is_empty();
    };
    if c0 == star {
        let mut i = 0;
        loop {
            if glob(&p[1..], &n[i..]) {
                return true;
            }
            if i >= n.len() || n[i] == slash {
                return false;
            }
            i += 1;
        }
    }
    if c0 == question {
        return !n.is_empty() && n[0] != slash && glob(&p[1..], &n[1..]);
    }
    if c0 == open {
        if n.is_empty() || n[0] == slash {
            return false;
        }
        let c = n[0];
        let mut i = 1;
        let neg = i < p.len() && p[i] == caret;
        if neg {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() && (p[i] != close || first) {
            first = false;
            let mut lo = p[i];
            if lo == backslash && i + 1 < p.len() {
                i += 1;
                lo = p[i];
            }
            let mut hi = lo;
            if i + 2 < p.len() && p[i + 1] == dash && p[i + 2] != close {
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
        return matched != neg && glob(&p[i + 1..], &n[1..]);
    }
    if c0 == backslash && p.len() > 1 {
        return !n.is_empty() && n[0] == p[1] && glob(&p[2..], &n[1..]);
    }
    !n.is_empty() && n[0] == c0 && glob(&p[1..], &n[1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_star_suffix_patterns_match_as_the_matcher_does() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n) as usize
        };
        let pat_chars = ['a', 'b', '.', '/', '*', '*', '~'];
        let name_chars = ['a', 'b', '.', '/', '~'];
        for _ in 0..50_000 {
            let pat: String = (0..next(6)).map(|_| pat_chars[next(7)]).collect();
            let name: String = (0..next(7)).map(|_| name_chars[next(5)]).collect();
            let p: Vec<char> = pat.chars().collect();
            let n: Vec<char> = name.chars().collect();
            assert_eq!(go_match(&pat, &name), glob(&p, &n), "{pat:?} {name:?}");
        }
    }

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
        assert_eq!(err, "chart illegally references parent directory");
    }

    fn archive_err(entries: &[(&str, &[u8], tar::EntryType)], limits: &Limits) -> String {
        Chart::read_archive(&tgz(entries)[..], limits)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    const R: tar::EntryType = tar::EntryType::Regular;

    #[test]
    fn archive_paths_are_checked_as_helm_checks_them() {
        // helm v4.1.4's words after `error unpacking subchart s.tgz in c: `
        let l = Limits::default();
        let cases: &[(&str, &str)] = &[
            (
                "rootfile",
                "chart illegally contains content outside the base directory: \"rootfile\"",
            ),
            (
                "Chart.yaml",
                "chart illegally contains content outside the base directory: \"Chart.yaml\"",
            ),
            ("c/c:/x", "chart contains illegally named files"),
            (
                "c/a/../../../x",
                "chart illegally references parent directory",
            ),
        ];
        for (path, want) in cases {
            let got = archive_err(&[("c/Chart.yaml", CHART, R), (path, b"x", R)], &l);
            assert_eq!(got, *want, "{path}");
        }
        assert_eq!(archive_err(&[], &l), "no files in chart archive");
        // a leading slash goes with the first element; `.` and `..` inside are cleaned
        let c = Chart::load_archive(&tgz(&[
            ("c/Chart.yaml", CHART, R),
            ("/abs.txt", b"a", R),
            ("c/x/../templates/./t.yaml", b"k: v", R),
        ]))
        .unwrap();
        assert!(c.files.iter().any(|f| f.name == "abs.txt"));
        assert_eq!(c.templates[0].name, "templates/t.yaml");
        assert_eq!(clean_path("a//b/./../c/"), "a/c");
        assert_eq!(clean_path("../a/../../b"), "../../b");
        assert_eq!(clean_path(""), ".");
    }

    #[test]
    fn archive_sizes_are_capped_as_helm_caps_them() {
        let l = Limits {
            max_chart_size: 100,
            max_file_size: 40,
            max_tree_size: 1000,
        };
        let chart = b"apiVersion: v2\nname: c\nversion: 1\n"; // 34 bytes
        let ok = Chart::read_archive(&tgz(&[("c/Chart.yaml", chart, R)])[..], &l);
        assert!(ok.is_ok());
        let big = [b'x'; 41];
        assert_eq!(
            archive_err(&[("c/Chart.yaml", chart, R), ("c/big", &big, R)], &l),
            "decompressed chart file \"c/big\" is larger than the maximum file size 40"
        );
        // the total: 34 + 40 + 26 reaches 100, which already fails (Helm's `<= 0`)
        let (f40, f25, f24) = ([b'y'; 40], [b'z'; 26], [b'z'; 25]);
        let too_big = "decompressed chart is larger than the maximum size 100";
        let entries = [("c/Chart.yaml", &chart[..], R), ("c/a", &f40[..], R)];
        assert_eq!(
            archive_err(&[entries[0], entries[1], ("c/b", &f25, R)], &l),
            too_big
        );
        assert!(
            Chart::read_archive(&tgz(&[entries[0], entries[1], ("c/b", &f24, R)])[..], &l).is_ok()
        );
        // the whole size is checked before the file size
        let big = [b'x'; 50];
        assert_eq!(
            archive_err(&[entries[0], entries[1], ("c/b", &big, R)], &l),
            too_big
        );
        // directories take nothing
        let with_dir = [
            entries[0],
            ("c/d/", b"", tar::EntryType::Directory),
            entries[1],
        ];
        assert!(Chart::read_archive(&tgz(&with_dir)[..], &l).is_ok());
    }

    #[test]
    fn archive_sizes_count_the_actual_bytes() {
        let l = Limits::default();
        // an entry declaring more than the stream holds
        let mut data = tgz(&[("c/Chart.yaml", CHART, R), ("c/f", &[b'a'; 3000], R)]);
        let mut raw = Vec::new();
        let _ = flate2::read::GzDecoder::new(&data[..]).read_to_end(&mut raw);
        raw.truncate(512 * 3 + 100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = std::io::Write::write_all(&mut gz, &raw);
        data = gz.finish().unwrap_or_default();
        let err = Chart::read_archive(&data[..], &l)
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unexpected EOF"));
        // a GNU long name larger than Go's archive/tar takes is refused before it is read
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(8 << 20);
        if let Some(g) = h.as_gnu_mut() {
            g.name[..13].copy_from_slice(b"././@LongLink");
        }
        h.set_cksum();
        let _ = b.append(&h, std::io::repeat(b'n').take(8 << 20));
        let raw = b.into_inner().unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = std::io::Write::write_all(&mut gz, &raw);
        let data = gz.finish().unwrap_or_default();
        let err = Chart::read_archive(&data[..], &l)
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("archive/tar: header field too long"));
    }

    #[test]
    fn subchart_archives_have_their_own_caps_and_share_the_tree_cap() {
        let l = Limits {
            max_chart_size: 400,
            max_file_size: 300,
            max_tree_size: 700,
        };
        let sub = |fill: usize| {
            tgz(&[
                ("s/Chart.yaml", b"apiVersion: v2\nname: s\nversion: 1\n", R),
                ("s/f", &vec![b'f'; fill], R),
            ])
        };
        let (s1, s2) = (sub(250), sub(250));
        let parent = |subs: &[(&str, &[u8])]| {
            let mut e = vec![("c/Chart.yaml", CHART, R)];
            e.extend(subs.iter().map(|(n, d)| (*n, *d, R)));
            tgz(&e)
        };
        // each archive within its own 400, together more than 700
        let one = parent(&[("c/charts/s1.tgz", &s1)]);
        let r = Chart::read_archive(&one[..], &l)
            .map(drop)
            .map_err(|e| e.to_string());
        assert_eq!(r, Ok(()));
        let two = parent(&[("c/charts/s1.tgz", &s1), ("c/charts/s2.tgz", &s2)]);
        let err = Chart::read_archive(&two[..], &l)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "error unpacking subchart s2.tgz in c: decompressed chart and its subcharts \
                 are larger than the maximum size 700"
            )
        );
        let s3 = sub(310);
        let three = parent(&[("c/charts/s3.tgz", &s3)]);
        let err = Chart::read_archive(&three[..], &l)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "error unpacking subchart s3.tgz in c: decompressed chart file \"s/f\" is \
                 larger than the maximum file size 300"
            )
        );
    }

    /// A chart directory in a fresh scratch directory: `(path, contents)` pairs.
    fn scratch_chart(tag: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gitops-helm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, data) in files {
            let p = dir.join(path);
            let _ = std::fs::create_dir_all(p.parent().unwrap_or(&dir));
            let _ = std::fs::write(p, data);
        }
        dir
    }

    #[test]
    fn large_files_a_render_may_not_read_are_read_on_first_use() {
        let big = |c: u8| vec![c; DEFER_FROM as usize];
        let (crd, doc, data, sub) = (big(b'c'), big(b'd'), big(b'f'), big(b's'));
        let dir = scratch_chart(
            "defer",
            &[
                ("Chart.yaml", CHART),
                ("values.yaml", b"x: 1\n"),
                ("README.md", &doc),
                ("crds/crd.yaml", &crd),
                ("files/data.txt", &data),
                (
                    "templates/cm.yaml",
                    b"data: {{ .Files.Get \"files/data.txt\" | len }}\n",
                ),
                (
                    "charts/sub/Chart.yaml",
                    b"apiVersion: v2\nname: sub\nversion: 1\n",
                ),
                ("charts/sub/files/s.txt", &sub),
                (
                    "charts/sub/templates/t.yaml",
                    b"s: {{ range $k, $v := .Files.Glob \"files/*\" }}{{ len $v }}{{ end }}\n",
                ),
            ],
        );
        let chart = Chart::load_seeing_files(&dir, &Limits::default(), true, |_| {});
        let _ = std::fs::remove_dir_all(&dir);
        let chart = chart.unwrap();
        let deferred = |c: &Chart| -> Vec<String> {
            c.files
                .iter()
                .chain(&c.templates)
                .filter(|f| matches!(f.data.0, Repr::Deferred(_)))
                .map(|f| f.name.clone())
                .collect()
        };
        // the files were opened (the directory is gone), not read
        assert_eq!(
            deferred(&chart),
            ["README.md", "crds/crd.yaml", "files/data.txt"]
        );
        assert_eq!(deferred(&chart.dependencies[0]), ["files/s.txt"]);
        let opts = crate::RenderOptions {
            name: "r".into(),
            namespace: "ns".into(),
            include_crds: true,
            ..Default::default()
        };
        let out = crate::render_chart(&chart, &Default::default(), &opts)
            .unwrap()
            .to_template_output(&opts);
        let n = DEFER_FROM;
        assert!(out.contains(&format!("data: {n}\n")), "{out}");
        assert!(out.contains(&format!("s: {n}\n")), "{out}");
        assert!(out.contains(&String::from_utf8_lossy(&crd).into_owned()));
        // the README was never needed
        let readme = chart.files.iter().find(|f| f.name == "README.md");
        assert!(
            readme
                .is_some_and(|f| matches!(&f.data.0, Repr::Deferred(d) if d.read.get().is_none()))
        );
        // loaded for more than one render: everything is read at once
        let dir = scratch_chart("eager", &[("Chart.yaml", CHART), ("files/a", &data)]);
        let chart = Chart::load_dir(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(deferred(&chart.unwrap()).is_empty());
    }

    #[test]
    fn a_deferred_file_that_cannot_be_read_fails_the_render_that_needs_it() {
        let limits = Limits {
            max_file_size: DEFER_FROM + 10,
            ..Limits::default()
        };
        let data = vec![b'f'; DEFER_FROM as usize];
        let load = |template: &[u8]| {
            let dir = scratch_chart(
                "defer-err",
                &[
                    ("Chart.yaml", CHART),
                    ("files/data.txt", &data),
                    ("templates/t.yaml", template),
                ],
            );
            let chart = Chart::load_seeing_files(&dir, &limits, true, |_| {});
            // the file grows past the limit after it was listed
            let _ = std::fs::write(dir.join("files/data.txt"), vec![b'g'; data.len() + 20]);
            let _ = std::fs::remove_dir_all(&dir);
            chart.unwrap()
        };
        let opts = crate::RenderOptions {
            name: "r".into(),
            ..Default::default()
        };
        let render = |chart: &Chart| {
            crate::render_chart(chart, &Default::default(), &opts).map(|r| r.manifests.len())
        };
        let too_big = format!(
            "chart file \"data.txt\" is larger than the maximum file size {}",
            limits.max_file_size
        );
        // read by a function that can fail: the template fails
        let err = render(&load(b"x: {{ .Files.Get \"files/data.txt\" }}\n")).unwrap_err();
        assert!(err.to_string().contains(&too_big), "{err}");
        // read where no error can be given (printing `.Files`): the render fails after
        let err = render(&load(b"x: {{ len (printf \"%v\" .Files) }}\n")).unwrap_err();
        assert!(err.to_string().contains(&too_big), "{err}");
        // never read: nothing fails
        assert_eq!(render(&load(b"x: 1\n")).ok(), Some(1));
    }

    #[test]
    fn directory_files_are_capped() {
        let dir = std::env::temp_dir().join(format!("gitops-helm-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(dir.join("files"));
        let _ = std::fs::write(dir.join("Chart.yaml"), CHART);
        let _ = std::fs::write(dir.join("files/big.bin"), [0u8; 41]);
        let l = Limits {
            max_file_size: 40,
            ..Limits::default()
        };
        let err = Chart::load_with(&dir, &l).err().map(|e| e.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            err.as_deref(),
            Some("chart file \"big.bin\" is larger than the maximum file size 40")
        );
    }

    #[test]
    fn a_chart_archive_file_fails_in_helms_words() {
        let path = std::env::temp_dir().join(format!("gitops-helm-bad-{}.tgz", std::process::id()));
        let _ = std::fs::write(&path, tgz(&[("c/Chart.yaml", CHART, R), ("x", b"", R)]));
        let err = Chart::load(&path).err();
        let _ = std::fs::remove_file(&path);
        let err = err.map(|e| {
            let cause = std::error::Error::source(&e).map(|c| c.to_string());
            (e.to_string(), cause)
        });
        assert_eq!(
            err,
            Some((
                "unable to load chart archive".to_string(),
                Some(
                    "chart illegally contains content outside the base directory: \"x\""
                        .to_string()
                )
            ))
        );
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
