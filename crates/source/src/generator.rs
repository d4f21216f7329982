//! Artifact composition for `ArtifactGenerator` (`source.extensions.fluxcd.io/v1beta1`), as
//! Flux's source-watcher does it: copy operations from extracted sources into a staging
//! directory, the content hash that names the archive, and `pathPattern` discovery.
//!
//! ## Copy operations
//! `from: "@alias/pattern"`, `to: "@artifact/path"`, applied in order, later ones overwriting
//! files of earlier ones, with `cp`-like rules:
//!
//! | `from` | `to` | result |
//! |---|---|---|
//! | `@src/file.yaml` | `@artifact/dir/` (or an existing directory) | `dir/file.yaml` |
//! | `@src/file.yaml` | `@artifact/new.yaml` | `new.yaml` |
//! | `@src/dir` or `@src/dir/` | `@artifact/dest/` or `@artifact/dest` | `dest/dir/…` |
//! | `@src/` | `@artifact/` | the whole source |
//! | `@src/dir/**` | `@artifact/dest/` | `dest/…` (the `dir/` prefix stripped) |
//! | `@src/dir/*.yaml` | `@artifact/dest/` | `dest/dir/*.yaml` (the matched path kept) |
//!
//! Patterns with `*`, `?`, `[` or `]` are globs. Like source-watcher, `Overwrite` and `Merge`
//! glob with Go's `fs.Glob`, where `**` is just `*` (one path segment): `@src/dir/**` selects
//! the entries of `dir` and copies matched directories recursively, while
//! `@src/**/*.yaml` only looks one level deep. `Extract` globs with doublestar, where a `**`
//! segment spans any number of directories. A glob matching nothing, or only excluded
//! entries, is an error; so is a plain path that does not exist.
//!
//! `exclude` patterns are doublestar patterns matched against the path relative to the source
//! root and to the literal prefix of `from` (`@src/infra/**` → relative to `infra`); a pattern
//! without `/` also matches the file name at any depth. An excluded directory is skipped
//! whole.
//!
//! ## Strategies
//! - `Overwrite`: copy the bytes and the permission bits of the source file.
//! - `Merge`: when the destination file exists, deep-merge the source YAML into it (maps
//!   merged recursively, everything else, arrays included, replaced) and write the result as
//!   `sigs.k8s.io/yaml` marshals a `map[string]any`; multi-document files are merged into one
//!   map first. Scalars are read as go-yaml v2 reads them (`yes`/`no`/`on`/`off` are booleans,
//!   timestamps stay strings, numbers pass through `float64`). Only files matched directly
//!   are merged: files under a copied directory are overwritten.
//! - `Extract`: extract `.tar.gz`/`.tgz` archives into the destination directory (at most
//!   100 MiB each, as Flux's `tar.Untar`; links and devices refused). Globs skip other files;
//!   a plain path must be a tarball; directories are refused.
//!
//! ## Safety
//! Source and staging directories are roots: a path is resolved component by component and
//! symbolic links are followed only while they stay inside the root (absolute targets never),
//! as Go's `os.Root` does; `..` that climbs out, absolute paths and escaping links are errors.
//! Nothing panics on user input.
//!
//! ## Hash
//! [`dir_hash`] is `dirhash.HashDir(dir, name, DirHash)` with source-watcher's Adler-32
//! `DirHash`: the archive is stored as `<hash>.tar.gz`.

use crate::archive::{ExtractLimits, extract_tar_gz};
use gitops_go::selector::{Dialect, label_key_errors, label_value_errors};
use gitops_kustomize::yaml::{self as gyaml, Mapping, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// How a copy operation writes (`strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Replace the destination file (the default).
    #[default]
    Overwrite,
    /// Deep-merge YAML into an existing destination file.
    Merge,
    /// Extract `.tar.gz`/`.tgz` archives into the destination directory.
    Extract,
}

impl std::str::FromStr for Strategy {
    type Err = GeneratorError;

    /// Parses the API value (`""` is the default, `Overwrite`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "Overwrite" => Ok(Strategy::Overwrite),
            "Merge" => Ok(Strategy::Merge),
            "Extract" => Ok(Strategy::Extract),
            other => Err(GeneratorError::InvalidStrategy(other.to_string())),
        }
    }
}

/// One `copy` entry: `from: "@alias/pattern"`, `to: "@artifact/path"`.
#[derive(Clone, Debug, Default)]
pub struct CopyOperation {
    /// `@alias/pattern`: a path or glob inside a source.
    pub from: String,
    /// `@artifact/path`: a file or (with a trailing `/`) directory inside the artifact.
    pub to: String,
    /// Doublestar patterns of entries to leave out.
    pub exclude: Vec<String>,
    /// How files are written.
    pub strategy: Strategy,
}

/// Errors of artifact generation.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// A copy operation failed (invalid `from`/`to`, unknown alias, bad pattern, missing or
    /// escaping path, I/O, YAML or archive error).
    #[error("failed to apply copy operation from '{from}' to '{to}': {reason}")]
    Copy {
        /// The operation's `from`.
        from: String,
        /// The operation's `to`.
        to: String,
        /// What went wrong, naming the file.
        reason: String,
    },
    /// A strategy name that is not `Overwrite`, `Merge` or `Extract`.
    #[error("unsupported copy strategy '{0}': must be Overwrite, Merge or Extract")]
    InvalidStrategy(String),
    /// Creating the staging directory or walking a directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Hashing a staged directory failed.
    #[error("failed to hash '{path}': {reason}")]
    Hash {
        /// The directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// An invalid `pathPattern`, or a matched directory name that is not a valid label value.
    /// Terminal: retrying does not help until the spec or the source changes.
    #[error("pathPattern {pattern:?}: {reason}")]
    PathPattern {
        /// The pattern (the part after `@alias/`).
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// A template with bad braces or an undefined capture.
    #[error("invalid template {template:?}: {reason}")]
    Template {
        /// The template.
        template: String,
        /// What is wrong.
        reason: String,
    },
}

/// Flux's `tar.Untar` default: at most 100 MiB per extracted archive.
const EXTRACT_MAX_BYTES: u64 = 100 << 20;

// ---------------------------------------------------------------------------------------------
// Copy operations
// ---------------------------------------------------------------------------------------------

/// Applies `ops` in order into `staging` (created if missing), reading `sources` (alias →
/// extracted source directory).
pub fn apply_copy_operations(
    ops: &[CopyOperation],
    sources: &BTreeMap<String, PathBuf>,
    staging: &Path,
) -> Result<(), GeneratorError> {
    mkdir_all(staging).map_err(|source| GeneratorError::Io {
        context: format!("failed to create staging dir '{}'", staging.display()),
        source,
    })?;
    let staging_root = Root::open(staging).map_err(|source| GeneratorError::Io {
        context: format!("failed to open staging dir '{}'", staging.display()),
        source,
    })?;
    for op in ops {
        apply_copy_operation(op, sources, &staging_root).map_err(|reason| {
            GeneratorError::Copy {
                from: op.from.clone(),
                to: op.to.clone(),
                reason,
            }
        })?;
    }
    Ok(())
}

/// One operation; errors are the reason text of [`GeneratorError::Copy`].
fn apply_copy_operation(
    op: &CopyOperation,
    sources: &BTreeMap<String, PathBuf>,
    staging: &Root,
) -> Result<(), String> {
    let (alias, pattern) = parse_copy_source(&op.from)
        .map_err(|e| format!("invalid copy source '{}': {e}", op.from))?;
    let dest = parse_copy_destination(&op.to)
        .map_err(|e| format!("invalid copy destination '{}': {e}", op.to))?;
    let src_dir = sources
        .get(alias)
        .ok_or_else(|| format!("source alias '{alias}' not found"))?;
    let excludes = Excludes::new(&op.exclude)?;
    let src = Root::open(src_dir)
        .map_err(|e| format!("failed to open source root '{}': {e}", src_dir.display()))?;
    let ctx = OpContext {
        strategy: op.strategy,
        excludes: &excludes,
        src: &src,
        staging,
    };

    if !contains_glob_chars(pattern) {
        return ctx.single_source_copy(pattern, dest, op.to.ends_with('/'));
    }

    let matches = if op.strategy == Strategy::Extract {
        doublestar_glob(&src, pattern)
    } else {
        go_glob(&src, pattern)
    }
    .map_err(|e| format!("invalid glob pattern '{pattern}': {e}"))?;
    if matches.is_empty() {
        return Err(format!(
            "no files match pattern '{pattern}' in source '{alias}'"
        ));
    }
    let base = source_selection_root(pattern);
    let selected: Vec<String> = matches
        .into_iter()
        .filter(|m| m != "." && m != "..")
        .filter(|m| !excludes.excludes_path(m, &base))
        .collect();
    if selected.is_empty() {
        return Err(format!(
            "all files matching pattern '{pattern}' in source '{alias}' were excluded"
        ));
    }
    for m in &selected {
        if op.strategy == Strategy::Extract {
            if !is_tarball(m) {
                continue;
            }
            ctx.extract(m, dest)?;
        } else {
            let dest_file = glob_destination(pattern, m, dest);
            ctx.copy_path(m, &dest_file, &base)
                .map_err(|e| format!("failed to copy file '{m}' to '{dest_file}': {e}"))?;
        }
    }
    Ok(())
}

/// What one operation works with.
struct OpContext<'a> {
    strategy: Strategy,
    excludes: &'a Excludes,
    src: &'a Root,
    staging: &'a Root,
}

impl OpContext<'_> {
    /// A non-glob `from`: a file or a directory, decided by what it is.
    fn single_source_copy(
        &self,
        pattern: &str,
        dest: &str,
        dest_is_dir: bool,
    ) -> Result<(), String> {
        let src_path = go_clean(pattern);
        let md = self.src.stat(&src_path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                format!("source '{src_path}' does not exist")
            } else {
                format!("failed to stat source '{src_path}': {e}")
            }
        })?;
        if md.is_dir() {
            if self.strategy == Strategy::Extract {
                return Err(format!(
                    "extract strategy is not supported for directories, got '{src_path}'"
                ));
            }
            // cp -r dir dest: always dest/dir (the staging destination "exists").
            let final_dest = go_join(dest, &go_base(&src_path));
            return self
                .copy_path(&src_path, &final_dest, &src_path)
                .map_err(|e| {
                    format!("failed to copy directory '{src_path}' to '{final_dest}': {e}")
                });
        }

        if self.excludes.excludes_path(&src_path, ".") {
            return Ok(());
        }
        if self.strategy == Strategy::Extract {
            if !is_tarball(&src_path) {
                return Err(format!(
                    "extract strategy requires tarball file (.tar.gz or .tgz), got '{src_path}'"
                ));
            }
            return self.extract(&src_path, dest);
        }
        let into_dir = dest_is_dir || self.staging.stat(dest).map(|m| m.is_dir()).unwrap_or(false);
        let final_dest = if into_dir {
            go_join(dest, &go_base(&src_path))
        } else {
            dest.to_string()
        };
        self.copy_path(&src_path, &final_dest, ".")
            .map_err(|e| format!("failed to copy file '{src_path}' to '{final_dest}': {e}"))
    }

    /// Copies a file or directory (recursively) from `src_rel` to `dest_rel`; `base` anchors
    /// exclude patterns for the directory walk.
    fn copy_path(&self, src_rel: &str, dest_rel: &str, base: &str) -> Result<(), String> {
        let md = self.src.stat(src_rel).map_err(|e| e.to_string())?;
        if md.is_dir() {
            return self.copy_dir(src_rel, dest_rel, base);
        }
        if self.strategy == Strategy::Merge && self.staging.stat(dest_rel).is_ok() {
            return self.merge_file(src_rel, dest_rel);
        }
        copy_regular_file(self.src, src_rel, self.staging, dest_rel)
    }

    /// `cp -r`: walks `src_rel` in lexical order, skipping excluded entries (and whole
    /// excluded directories). Symbolic links below the walked directory are followed to
    /// files inside the root; links to directories are refused, as in source-watcher.
    fn copy_dir(&self, src_rel: &str, dest_rel: &str, base: &str) -> Result<(), String> {
        let real = self.src.resolve(src_rel).map_err(|e| e.to_string())?;
        self.staging.mkdir_all(dest_rel)?;
        self.copy_dir_entries(&real, src_rel, dest_rel, base, 0)
    }

    fn copy_dir_entries(
        &self,
        real: &Path,
        src_rel: &str,
        dest_rel: &str,
        base: &str,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("'{src_rel}': directory tree too deep"));
        }
        for entry in read_dir_sorted(real).map_err(|e| format!("{src_rel}: {e}"))? {
            let Some(name) = entry.name.to_str() else {
                return Err(format!(
                    "'{}' in '{src_rel}': file name is not valid UTF-8",
                    entry.name.to_string_lossy()
                ));
            };
            let path = go_join(src_rel, name);
            if self.excludes.excludes_path(&path, base) {
                continue;
            }
            let dest = go_join(dest_rel, name);
            if entry.file_type.is_dir() {
                self.staging.mkdir_all(&dest)?;
                self.copy_dir_entries(&real.join(&entry.name), &path, &dest, base, depth + 1)?;
            } else {
                copy_regular_file(self.src, &path, self.staging, &dest)?;
            }
        }
        Ok(())
    }

    /// Merges the YAML of `src_rel` into the existing `dest_rel`.
    fn merge_file(&self, src_rel: &str, dest_rel: &str) -> Result<(), String> {
        let overlay = load_yaml(&read_text(self.src, src_rel)?)?;
        let base = load_yaml(&read_text(self.staging, dest_rel)?)?;
        let merged = merge_map(base, overlay);
        let out = marshal_yaml(&merged).map_err(|e| format!("failed to merge YAML: {e}"))?;
        let dp = self.staging.resolve(dest_rel).map_err(|e| e.to_string())?;
        // WriteFile on an existing file: its mode stays.
        let restore = make_writable(&dp);
        let res = fs::write(&dp, out).map_err(|e| format!("writing '{dest_rel}': {e}"));
        if let Some(perm) = restore {
            let _ = fs::set_permissions(&dp, perm);
        }
        res
    }

    /// Extracts the tarball `src_rel` into the staging directory `dest`.
    fn extract(&self, src_rel: &str, dest: &str) -> Result<(), String> {
        let fail = |e: String| format!("failed to extract tarball '{src_rel}' to '{dest}': {e}");
        let sp = self.src.resolve(src_rel).map_err(|e| fail(e.to_string()))?;
        let md = fs::metadata(&sp).map_err(|e| fail(e.to_string()))?;
        if !md.is_file() {
            return Err(fail("not a regular file".into()));
        }
        let file = fs::File::open(&sp).map_err(|e| fail(e.to_string()))?;
        self.staging.mkdir_all(dest).map_err(fail)?;
        let dp = self
            .staging
            .resolve(dest)
            .map_err(|e| fail(e.to_string()))?;
        let limits = ExtractLimits {
            max_bytes: EXTRACT_MAX_BYTES,
            ..ExtractLimits::default()
        };
        extract_tar_gz(io::BufReader::new(file), &dp, limits).map_err(|e| fail(e.to_string()))?;
        Ok(())
    }
}

/// Copies one regular file (following links inside the source root) with its permission
/// bits; parents are created `0755`.
fn copy_regular_file(
    src: &Root,
    src_rel: &str,
    staging: &Root,
    dest_rel: &str,
) -> Result<(), String> {
    let sp = src
        .resolve(src_rel)
        .map_err(|e| format!("'{src_rel}': {e}"))?;
    let md = fs::metadata(&sp).map_err(|e| format!("'{src_rel}': {e}"))?;
    if md.is_dir() {
        return Err(format!(
            "'{src_rel}' is a symbolic link to a directory, which is not copied"
        ));
    }
    if !md.is_file() {
        return Err(format!("'{src_rel}' is not a regular file"));
    }
    if let Some(parent) = Path::new(dest_rel).parent()
        && !parent.as_os_str().is_empty()
    {
        staging.mkdir_all(&parent.to_string_lossy())?;
    }
    let dp = staging
        .resolve(dest_rel)
        .map_err(|e| format!("'{dest_rel}': {e}"))?;
    if let Ok(dmd) = fs::symlink_metadata(&dp) {
        if dmd.is_dir() {
            return Err(format!("destination '{dest_rel}' is a directory"));
        }
        make_writable(&dp);
    }
    fs::copy(&sp, &dp).map_err(|e| format!("copying '{src_rel}' to '{dest_rel}': {e}"))?;
    Ok(())
}

/// Makes an existing read-only file writable for its owner; returns the old permissions.
fn make_writable(p: &Path) -> Option<fs::Permissions> {
    let md = fs::metadata(p).ok()?;
    let old = md.permissions();
    if !old.readonly() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(old.mode() | 0o200));
    }
    #[cfg(not(unix))]
    {
        let mut w = old.clone();
        #[allow(clippy::permissions_set_readonly_false)]
        w.set_readonly(false);
        let _ = fs::set_permissions(p, w);
    }
    Some(old)
}

fn read_text(root: &Root, rel: &str) -> Result<String, String> {
    let p = root.resolve(rel).map_err(|e| format!("'{rel}': {e}"))?;
    let bytes = fs::read(&p).map_err(|e| format!("reading '{rel}': {e}"))?;
    String::from_utf8(bytes)
        .map_err(|_| format!("cannot unmarshal YAML document: '{rel}' is not valid UTF-8"))
}

fn mkdir_all(p: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o755);
    }
    b.create(p)
}

/// `@alias/pattern` → (alias, pattern).
fn parse_copy_source(from: &str) -> Result<(&str, &str), String> {
    let rest = from
        .strip_prefix('@')
        .ok_or_else(|| "source must start with '@'".to_string())?;
    rest.split_once('/')
        .ok_or_else(|| "source format must be '@alias/pattern'".to_string())
}

/// `@artifact/path` → path, which must stay inside the artifact.
fn parse_copy_destination(to: &str) -> Result<&str, String> {
    let rel = to
        .strip_prefix("@artifact/")
        .ok_or_else(|| "destination must start with '@artifact/'".to_string())?;
    let clean = go_clean(rel);
    if clean.starts_with('/') || clean == ".." || clean.starts_with("../") {
        return Err(format!("path '{rel}' escapes from the artifact root"));
    }
    Ok(rel)
}

fn contains_glob_chars(p: &str) -> bool {
    p.contains(['*', '?', '[', ']'])
}

/// `dir/**` strips the literal `dir/` from matches; other globs keep the matched path.
fn glob_destination(pattern: &str, matched: &str, dest: &str) -> String {
    if let Some(prefix) = pattern.strip_suffix("/**")
        && let Some(rest) = matched
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('/'))
    {
        return go_join(dest, rest);
    }
    go_join(dest, matched)
}

/// The literal directory prefix of a glob (`infra/apps/*.yaml` → `infra/apps`), or `.`.
fn source_selection_root(pattern: &str) -> String {
    let clean = go_clean(pattern);
    let parts: Vec<&str> = clean
        .split('/')
        .take_while(|p| !contains_glob_chars(p))
        .collect();
    if parts.is_empty() {
        return ".".into();
    }
    let joined = go_join_all(&parts);
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn is_tarball(p: &str) -> bool {
    let l = p.to_lowercase();
    l.ends_with(".tar.gz") || l.ends_with(".tgz")
}

// ---------------------------------------------------------------------------------------------
// Excludes
// ---------------------------------------------------------------------------------------------

/// Validated exclude patterns, brace-expanded once.
struct Excludes {
    patterns: Vec<(bool, Vec<Vec<Tok>>)>,
}

impl Excludes {
    fn new(patterns: &[String]) -> Result<Excludes, String> {
        let mut out = Vec::with_capacity(patterns.len());
        for p in patterns {
            let invalid = || format!("invalid exclude pattern '{p}'");
            if !doublestar_valid(p) {
                return Err(invalid());
            }
            let alts = expand_braces(p).map_err(|_| invalid())?;
            out.push((!p.contains('/'), alts.iter().map(|a| tokenize(a)).collect()));
        }
        Ok(Excludes { patterns: out })
    }

    /// The path relative to the source root matches, or a simple pattern matches its name.
    fn excludes(&self, file: &str) -> bool {
        let name = go_base(file);
        self.patterns.iter().any(|(simple, alts)| {
            alts.iter().any(|t| {
                doublestar_match_tokens(t, file.as_bytes())
                    || (*simple && doublestar_match_tokens(t, name.as_bytes()))
            })
        })
    }

    /// Matches the source-root-relative path, then the path relative to `base`.
    fn excludes_path(&self, file: &str, base: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        if self.excludes(file) {
            return true;
        }
        match relative_to_base(base, file) {
            Some(rel) if rel != "." && rel != file => self.excludes(&rel),
            _ => false,
        }
    }
}

/// `file` relative to `base` when it is inside it.
fn relative_to_base(base: &str, file: &str) -> Option<String> {
    let base = go_clean(base);
    let file = go_clean(file);
    if base == "." {
        return Some(file);
    }
    if file == base {
        return Some(".".into());
    }
    file.strip_prefix(&base)
        .and_then(|r| r.strip_prefix('/'))
        .map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Roots: os.Root-like confinement
// ---------------------------------------------------------------------------------------------

const MAX_LINKS: usize = 40;
const MAX_DEPTH: usize = 256;

/// A directory that paths are resolved inside; symbolic links are followed only while they
/// stay inside it.
struct Root {
    dir: PathBuf,
}

struct Entry {
    name: OsString,
    file_type: fs::FileType,
}

fn escapes(rel: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("path '{rel}' escapes from parent"),
    )
}

impl Root {
    fn open(dir: &Path) -> io::Result<Root> {
        let dir = fs::canonicalize(dir)?;
        if !fs::metadata(&dir)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("'{}' is not a directory", dir.display()),
            ));
        }
        Ok(Root { dir })
    }

    /// The real path of `rel` (slash-separated, relative) with every symbolic link resolved;
    /// the path need not exist. Errors when it would leave the root.
    fn resolve(&self, rel: &str) -> io::Result<PathBuf> {
        if rel.starts_with('/') {
            return Err(escapes(rel));
        }
        let mut pending: Vec<OsString> = rel.split('/').rev().map(OsString::from).collect();
        let mut resolved: Vec<OsString> = Vec::new();
        let mut links = 0;
        while let Some(c) = pending.pop() {
            if c.is_empty() || c == "." {
                continue;
            }
            if c == ".." {
                if resolved.pop().is_none() {
                    return Err(escapes(rel));
                }
                continue;
            }
            let mut p = self.dir.clone();
            p.extend(&resolved);
            p.push(&c);
            match fs::symlink_metadata(&p) {
                Ok(md) if md.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::other(format!(
                            "'{rel}': too many levels of symbolic links"
                        )));
                    }
                    let target = fs::read_link(&p)?;
                    let mut comps = Vec::new();
                    for comp in target.components() {
                        match comp {
                            Component::Normal(s) => comps.push(s.to_os_string()),
                            Component::CurDir => {}
                            Component::ParentDir => comps.push(OsString::from("..")),
                            Component::RootDir | Component::Prefix(_) => {
                                return Err(escapes(rel));
                            }
                        }
                    }
                    pending.extend(comps.into_iter().rev());
                }
                Ok(_) => resolved.push(c),
                Err(e) if e.kind() == io::ErrorKind::NotFound => resolved.push(c),
                Err(e) => return Err(e),
            }
        }
        let mut p = self.dir.clone();
        p.extend(&resolved);
        Ok(p)
    }

    /// `Stat` through the root (links followed inside it).
    fn stat(&self, rel: &str) -> io::Result<fs::Metadata> {
        fs::metadata(self.resolve(rel)?)
    }

    /// `fs.Stat` on the root's `io/fs` view: only `fs.ValidPath` names.
    fn fs_stat(&self, rel: &str) -> io::Result<fs::Metadata> {
        if !valid_fs_path(rel) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        self.stat(rel)
    }

    /// `fs.ReadDir` on the root's `io/fs` view, sorted by name.
    fn fs_read_dir(&self, rel: &str) -> io::Result<Vec<Entry>> {
        if !valid_fs_path(rel) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        read_dir_sorted(&self.resolve(rel)?)
    }

    fn is_dir(&self, rel: &str) -> bool {
        self.stat(rel).map(|m| m.is_dir()).unwrap_or(false)
    }

    /// Creates `rel` and its parents (`0755`) inside the root.
    fn mkdir_all(&self, rel: &str) -> Result<(), String> {
        let p = self.resolve(rel).map_err(|e| format!("'{rel}': {e}"))?;
        mkdir_all(&p).map_err(|e| format!("failed to create directory '{rel}': {e}"))
    }
}

fn read_dir_sorted(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        out.push(Entry {
            name: e.file_name(),
            file_type: e.file_type()?,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Go's `fs.ValidPath`.
fn valid_fs_path(name: &str) -> bool {
    name == "."
        || name
            .split('/')
            .all(|e| !e.is_empty() && e != "." && e != "..")
}

// ---------------------------------------------------------------------------------------------
// Go path helpers
// ---------------------------------------------------------------------------------------------

/// Go's `path.Clean` on bytes.
fn clean_bytes(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p[0] == b'/';
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in p.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|l| *l != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(part);
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if rooted {
        out.push(b'/');
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// Go's `path.Clean`.
fn go_clean(p: &str) -> String {
    // Cleaning only removes ASCII bytes at separators, so the result stays UTF-8.
    String::from_utf8(clean_bytes(p.as_bytes())).unwrap_or_default()
}

/// Go's `path.Join` of two elements.
fn go_join(a: &str, b: &str) -> String {
    go_join_all(&[a, b])
}

/// Go's `path.Join`.
fn go_join_all(parts: &[&str]) -> String {
    let nonempty: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if nonempty.is_empty() {
        return String::new();
    }
    go_clean(&nonempty.join("/"))
}

/// Go's `path.Base`.
fn go_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

/// One UTF-8 sequence at the start of `b`: (code point, length); invalid bytes decode as
/// U+FFFD of length 1 and an empty slice as length 0, like Go's `utf8.DecodeRune`.
fn decode_rune(b: &[u8]) -> (u32, usize) {
    if b.is_empty() {
        return (0xFFFD, 0);
    }
    for len in 1..=b.len().min(4) {
        if let Ok(s) = std::str::from_utf8(&b[..len])
            && let Some(c) = s.chars().next()
        {
            return (c as u32, len);
        }
    }
    (0xFFFD, 1)
}

// ---------------------------------------------------------------------------------------------
// Go's path.Match and fs.Glob (Overwrite and Merge)
// ---------------------------------------------------------------------------------------------

/// Go's `path.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

/// Go's `path.Match`: `*` and `?` never match `/`, `[^…]` negates, `\` escapes; the whole
/// pattern is checked for syntax even when the name does not match.
fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'outer: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        match match_chunk(chunk, name) {
            Ok(Some(t)) if t.is_empty() || !pattern.is_empty() => {
                name = t;
                continue;
            }
            Err(e) => return Err(e),
            _ => {}
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                match match_chunk(chunk, &name[i + 1..])? {
                    Some(t) if pattern.is_empty() && !t.is_empty() => {}
                    Some(t) => {
                        name = t;
                        continue 'outer;
                    }
                    None => {}
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off leading stars and the chunk up to the next star outside a class.
fn scan_chunk(p: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut p = p;
    let mut star = false;
    while let [b'*', rest @ ..] = p {
        p = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 < p.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &p[..i], &p[i..])
}

/// Matches `chunk` at the start of `s`: the rest of `s`, `None` when it does not match.
/// Keeps parsing after a mismatch so syntax errors are always reported.
fn match_chunk<'a>(chunk: &[u8], s: &'a [u8]) -> Result<Option<&'a [u8]>, BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = 0u32;
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            b'\\' => {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err(BadPattern);
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
            c => {
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// A possibly escaped character of a class; there must be more pattern after it.
fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        _ => {}
    }
    let (r, n) = decode_rune(chunk);
    if r == 0xFFFD && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

/// `fs.Glob`'s notion of a meta character.
fn go_has_meta(p: &str) -> bool {
    p.contains(['\\', '*', '?', '['])
}

/// Go's `fs.Glob` on a root: one path segment per pattern segment, directories listed in
/// name order, unreadable directories ignored.
fn go_glob(root: &Root, pattern: &str) -> Result<Vec<String>, String> {
    go_glob_depth(root, pattern, 0)
}

fn go_glob_depth(root: &Root, pattern: &str, depth: usize) -> Result<Vec<String>, String> {
    if depth > 10_000 {
        return Err(BadPattern.to_string());
    }
    go_match(pattern, "").map_err(|e| e.to_string())?;
    if !go_has_meta(pattern) {
        return Ok(if root.fs_stat(pattern).is_ok() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        });
    }
    let (dir, file) = match pattern.rfind('/') {
        Some(i) => (&pattern[..i], &pattern[i + 1..]),
        None => (".", pattern),
    };
    if !go_has_meta(dir) {
        let mut out = Vec::new();
        go_glob_dir(root, dir, file, &mut out)?;
        return Ok(out);
    }
    let mut out = Vec::new();
    for d in go_glob_depth(root, dir, depth + 1)? {
        go_glob_dir(root, &d, file, &mut out)?;
    }
    Ok(out)
}

fn go_glob_dir(root: &Root, dir: &str, pattern: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Ok(entries) = root.fs_read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        let name = e.name.to_string_lossy();
        if go_match(pattern, &name).map_err(|e| e.to_string())? {
            if e.name.to_str().is_none() {
                return Err(format!("'{name}' in '{dir}': file name is not valid UTF-8"));
            }
            out.push(go_join(dir, &name));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// doublestar (exclude patterns and Extract globs)
// ---------------------------------------------------------------------------------------------

/// doublestar's `ValidatePattern`: classes closed and not empty, braces balanced, no
/// trailing `\`.
fn doublestar_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 1;
                if i >= b.len() {
                    return false;
                }
            }
            b'[' => {
                i += 1;
                if i >= b.len() {
                    return false;
                }
                if b[i] == b'^' || b[i] == b'!' {
                    i += 1;
                }
                if i >= b.len() || b[i] == b']' {
                    return false;
                }
                let mut closed = false;
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 1;
                    } else if b[i] == b']' {
                        closed = true;
                        break;
                    }
                    i += 1;
                }
                if !closed {
                    return false;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

/// The most alternatives a `{a,b}` pattern may expand to.
const MAX_ALTERNATIVES: usize = 4096;

/// Expands `{a,b}` alternatives (nested, escapes and classes respected) into plain patterns.
fn expand_braces(p: &str) -> Result<Vec<String>, BadPattern> {
    let mut out = Vec::new();
    expand_into(p, &mut out)?;
    Ok(out)
}

fn expand_into(p: &str, out: &mut Vec<String>) -> Result<(), BadPattern> {
    let b = p.as_bytes();
    // the first top-level `{`
    let mut i = 0;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => i = skip_class(b, i),
            b'{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        if out.len() >= MAX_ALTERNATIVES {
            return Err(BadPattern);
        }
        out.push(p.to_string());
        return Ok(());
    };
    let mut depth = 0;
    let mut commas = vec![open];
    let mut close = None;
    let mut j = open + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 1,
            b'[' => j = skip_class(b, j),
            b'{' => depth += 1,
            b'}' if depth == 0 => {
                close = Some(j);
                break;
            }
            b'}' => depth -= 1,
            b',' if depth == 0 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let close = close.ok_or(BadPattern)?;
    commas.push(close);
    for w in commas.windows(2) {
        let alt = format!("{}{}{}", &p[..open], &p[w[0] + 1..w[1]], &p[close + 1..]);
        expand_into(&alt, out)?;
    }
    Ok(())
}

/// Index of the `]` closing the class opened at `i` (or the last index).
fn skip_class(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    if j < b.len() && (b[j] == b'!' || b[j] == b'^') {
        j += 1;
    }
    // a `]` right after `[` is not a closing bracket in the (invalid) empty class
    if j < b.len() && b[j] == b']' {
        j += 1;
    }
    while j < b.len() {
        if b[j] == b'\\' {
            j += 1;
        } else if b[j] == b']' {
            return j;
        }
        j += 1;
    }
    b.len().saturating_sub(1)
}

/// A token of a brace-free doublestar pattern.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(u32),
    Sep,
    One,
    Any,
    /// `**/` at the start of a segment: zero or more whole segments.
    GlobstarDir,
    /// `**` ending the pattern at the start of a segment: everything.
    GlobstarEnd,
    Class {
        negate: bool,
        ranges: Vec<(u32, u32)>,
    },
}

fn tokenize(p: &str) -> Vec<Tok> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let seg_start = matches!(out.last(), None | Some(Tok::Sep) | Some(Tok::GlobstarDir));
        match b[i] {
            b'*' => {
                let mut n = 0;
                while i < b.len() && b[i] == b'*' {
                    n += 1;
                    i += 1;
                }
                if n == 2 && seg_start && i == b.len() {
                    out.push(Tok::GlobstarEnd);
                } else if n == 2 && seg_start && b[i] == b'/' {
                    out.push(Tok::GlobstarDir);
                    i += 1;
                } else if out.last() != Some(&Tok::Any) {
                    out.push(Tok::Any);
                }
                continue;
            }
            b'?' => out.push(Tok::One),
            b'/' => out.push(Tok::Sep),
            b'[' => {
                i += 1;
                let mut negate = false;
                if i < b.len() && (b[i] == b'!' || b[i] == b'^') {
                    negate = true;
                    i += 1;
                }
                let mut ranges = Vec::new();
                let mut last: Option<u32> = None;
                let mut first = true;
                while i < b.len() && (b[i] != b']' || first) {
                    first = false;
                    let (mut c, n) = decode_rune(&b[i..]);
                    i += n;
                    if c == '-' as u32
                        && let Some(lo) = last
                        && i < b.len()
                        && b[i] != b']'
                    {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        let (hi, n) = decode_rune(&b[i..]);
                        i += n;
                        ranges.push((lo, hi));
                        last = None;
                        continue;
                    }
                    if c == '\\' as u32 && i < b.len() {
                        let (e, n) = decode_rune(&b[i..]);
                        c = e;
                        i += n;
                    }
                    ranges.push((c, c));
                    last = Some(c);
                }
                out.push(Tok::Class { negate, ranges });
            }
            b'\\' if i + 1 < b.len() => {
                i += 1;
                let (c, n) = decode_rune(&b[i..]);
                out.push(if c == '/' as u32 {
                    Tok::Sep
                } else {
                    Tok::Lit(c)
                });
                i += n;
                continue;
            }
            _ => {
                let (c, n) = decode_rune(&b[i..]);
                out.push(Tok::Lit(c));
                i += n;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Whether what is left of a pattern matches the empty rest of a name (`*`, `**`, `/**`,
/// `**/`, `/**/`: a directory matches `dir/**`).
fn zero_length(toks: &[Tok]) -> bool {
    matches!(
        toks,
        [] | [Tok::Any]
            | [Tok::GlobstarEnd]
            | [Tok::Sep, Tok::GlobstarEnd]
            | [Tok::GlobstarDir]
            | [Tok::Sep, Tok::GlobstarDir]
    )
}

/// doublestar's `Match` of a tokenized, brace-free pattern against a whole name.
fn doublestar_match_tokens(toks: &[Tok], name: &[u8]) -> bool {
    let width = name.len() + 1;
    let mut memo = vec![0u8; (toks.len() + 1) * width];
    ds_rec(toks, name, 0, 0, &mut memo, width)
}

fn ds_rec(toks: &[Tok], name: &[u8], ti: usize, ni: usize, memo: &mut [u8], width: usize) -> bool {
    let key = ti * width + ni;
    if memo[key] != 0 {
        return memo[key] == 2;
    }
    let r = ds_step(toks, name, ti, ni, memo, width);
    memo[key] = if r { 2 } else { 1 };
    r
}

fn ds_step(toks: &[Tok], name: &[u8], ti: usize, ni: usize, memo: &mut [u8], width: usize) -> bool {
    if ni == name.len() {
        return zero_length(&toks[ti..]);
    }
    let Some(tok) = toks.get(ti) else {
        return false;
    };
    let (c, n) = decode_rune(&name[ni..]);
    match tok {
        Tok::Lit(l) => *l == c && ds_rec(toks, name, ti + 1, ni + n, memo, width),
        Tok::Sep => name[ni] == b'/' && ds_rec(toks, name, ti + 1, ni + 1, memo, width),
        Tok::One => c != '/' as u32 && ds_rec(toks, name, ti + 1, ni + n, memo, width),
        Tok::Class { negate, ranges } => {
            let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
            hit != *negate && ds_rec(toks, name, ti + 1, ni + n, memo, width)
        }
        Tok::Any => {
            ds_rec(toks, name, ti + 1, ni, memo, width)
                || (c != '/' as u32 && ds_rec(toks, name, ti, ni + n, memo, width))
        }
        Tok::GlobstarEnd => true,
        Tok::GlobstarDir => {
            if ds_rec(toks, name, ti + 1, ni, memo, width) {
                return true;
            }
            (ni..name.len())
                .filter(|&j| name[j] == b'/')
                .any(|j| ds_rec(toks, name, ti + 1, j + 1, memo, width))
        }
    }
}

/// doublestar's `Match` (pattern assumed valid).
#[cfg(test)]
fn doublestar_match(pattern: &str, name: &str) -> bool {
    expand_braces(pattern)
        .map(|alts| {
            alts.iter()
                .any(|a| doublestar_match_tokens(&tokenize(a), name.as_bytes()))
        })
        .unwrap_or(false)
}

/// doublestar's `Glob` on a root: `**` segments span directories (links to directories
/// inside the root are followed), results in doublestar's order.
fn doublestar_glob(root: &Root, pattern: &str) -> Result<Vec<String>, String> {
    if !doublestar_valid(pattern) {
        return Err(BadPattern.to_string());
    }
    let alts = expand_braces(pattern).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for alt in &alts {
        ds_glob_pattern(root, alt, true, &mut out);
    }
    if alts.len() > 1 {
        out.sort();
        out.dedup();
    }
    Ok(out)
}

/// Index of the first unescaped `*`, `?` or `[`.
fn index_meta(p: &str) -> Option<usize> {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' | b'?' | b'[' => return Some(i),
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn last_unescaped_slash(p: &str) -> Option<usize> {
    let b = p.as_bytes();
    (0..b.len())
        .rev()
        .find(|&i| b[i] == b'/' && (i == 0 || b[i - 1] != b'\\'))
}

fn unescape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ds_glob_pattern(root: &Root, pattern: &str, files: bool, out: &mut Vec<String>) {
    let Some(meta) = index_meta(pattern) else {
        let path = unescape(pattern);
        let stat_path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => path.clone(),
        };
        if root.fs_stat(&stat_path).is_ok() {
            out.push(path);
        }
        return;
    };
    let split = last_unescaped_slash(pattern);
    let (dir, pat) = match split {
        Some(i) => (&pattern[..i], &pattern[i + 1..]),
        None => (".", pattern),
    };
    if split.is_none_or(|s| s <= meta) {
        ds_glob_dir(root, &unescape(dir), pat, files, out);
        return;
    }
    let mut dirs = Vec::new();
    ds_glob_pattern(root, dir, false, &mut dirs);
    for d in dirs {
        ds_glob_dir(root, &d, pat, files, out);
    }
}

fn ds_glob_dir(root: &Root, dir: &str, pat: &str, files: bool, out: &mut Vec<String>) {
    if pat.is_empty() {
        if root.fs_stat(dir).map(|m| m.is_dir()).unwrap_or(false) {
            out.push(dir.to_string());
        }
        return;
    }
    if pat == "**" {
        if root.fs_stat(dir).map(|m| m.is_dir()).unwrap_or(false) {
            out.push(dir.to_string());
            let mut on_path = HashSet::new();
            ds_walk(root, dir, files, out, &mut on_path, 0);
        }
        return;
    }
    let Ok(entries) = root.fs_read_dir(dir) else {
        return;
    };
    let toks = tokenize(pat);
    for e in entries {
        let Some(name) = e.name.to_str() else {
            continue;
        };
        if !doublestar_match_tokens(&toks, name.as_bytes()) {
            continue;
        }
        let p = go_join(dir, name);
        if files || entry_is_dir(root, &p, &e) {
            out.push(p);
        }
    }
}

/// A directory entry is a directory, or a link to one inside the root.
fn entry_is_dir(root: &Root, p: &str, e: &Entry) -> bool {
    if e.file_type.is_symlink() {
        root.is_dir(p)
    } else {
        e.file_type.is_dir()
    }
}

/// Everything below `dir`, depth first in name order, each directory before its contents.
fn ds_walk(
    root: &Root,
    dir: &str,
    files: bool,
    out: &mut Vec<String>,
    on_path: &mut HashSet<PathBuf>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(real) = root.resolve(dir) else {
        return;
    };
    if !on_path.insert(real.clone()) {
        return; // a link cycle
    }
    if let Ok(entries) = root.fs_read_dir(dir) {
        for e in entries {
            let Some(name) = e.name.to_str() else {
                continue;
            };
            let p = go_join(dir, name);
            if entry_is_dir(root, &p, &e) {
                out.push(p.clone());
                ds_walk(root, &p, files, out, on_path, depth + 1);
            } else if files {
                out.push(p);
            }
        }
    }
    on_path.remove(&real);
}

// ---------------------------------------------------------------------------------------------
// Merge: go-yaml v2 reading (sigs.k8s.io/yaml), Helm-like deep merge, sigs.k8s.io/yaml output
// ---------------------------------------------------------------------------------------------

/// Reads a (multi-document) YAML file into one map, documents merged in order.
fn load_yaml(text: &str) -> Result<Mapping, String> {
    let docs = parse_v2_documents(text).map_err(|e| {
        format!("cannot unmarshal YAML document: error converting YAML to JSON: yaml: {e}")
    })?;
    let mut out = Mapping::new();
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Map(m) => {
                m.values().try_for_each(check_json_numbers)?;
                out = merge_map(out, m);
            }
            other => {
                return Err(format!(
                    "cannot unmarshal YAML document: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                ));
            }
        }
    }
    Ok(out)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Seq(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Map(_) => "object",
        Value::Null => "null",
        _ => "number",
    }
}

/// Go's `encoding/json` refuses NaN and infinities.
fn check_json_numbers(v: &Value) -> Result<(), String> {
    match v {
        Value::Float(f) if !f.is_finite() => Err(format!(
            "cannot unmarshal YAML document: error converting YAML to JSON: json: unsupported value: {}",
            if f.is_nan() {
                "NaN"
            } else if *f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            }
        )),
        Value::Seq(items) => items.iter().try_for_each(check_json_numbers),
        Value::Map(m) => m.values().try_for_each(check_json_numbers),
        _ => Ok(()),
    }
}

/// source-watcher's `mergeMap`: maps merge recursively, anything else from the overlay
/// replaces the base value (arrays included; a `null` overlay value sets `null`).
fn merge_map(base: Mapping, overlay: Mapping) -> Mapping {
    let mut out = base;
    for (k, v) in overlay {
        if let Value::Map(o) = v {
            if let Some(Value::Map(b)) = out.get_mut(&k) {
                let merged = merge_map(std::mem::take(b), o);
                *b = merged;
                continue;
            }
            out.insert(k, Value::Map(o));
        } else {
            out.insert(k, v);
        }
    }
    out
}

/// `sigs.k8s.io/yaml.Marshal` of a `map[string]any` read from YAML: numbers are `float64`
/// (JSON), encoded by `encoding/json`, read back and printed by go-yaml v2 (sorted keys).
fn marshal_yaml(m: &Mapping) -> Result<String, String> {
    let v = numbers_to_float(Value::Map(m.clone()));
    gyaml::to_yaml(&v).map_err(|e| e.to_string())
}

fn numbers_to_float(v: Value) -> Value {
    match v {
        Value::Int(i) => Value::Float(i as f64),
        Value::Uint(u) => Value::Float(u as f64),
        Value::Seq(items) => Value::Seq(items.into_iter().map(numbers_to_float).collect()),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| (k, numbers_to_float(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Nodes an alias may expand to in one document before it is refused.
const MAX_YAML_NODES: usize = 2_000_000;

/// Parses a YAML stream like go-yaml v2 decoding into `interface{}`, as `sigs.k8s.io/yaml`
/// does: YAML 1.1 booleans (`yes`, `no`, `on`, `off`, `y`, `n`), timestamps kept as text,
/// `<<` merge keys (later keys win), keys converted to strings like `sigs.k8s.io/yaml`.
fn parse_v2_documents(text: &str) -> Result<Vec<Value>, String> {
    use granit_parser::{Event, Parser, ScalarStyle};

    enum Key {
        Merge,
        Name(String),
    }
    enum Frame {
        Seq(Vec<Value>, usize),
        Map(Mapping, Option<Key>, usize),
    }

    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut doc: Option<Value> = None;
    let mut nodes = 0usize;

    for ev in Parser::new_from_str(text) {
        let (event, span) = ev.map_err(|e| {
            format!(
                "line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )
        })?;
        let at = |msg: &str| {
            format!(
                "line {}, column {}: {msg}",
                span.start.line(),
                span.start.col() + 1
            )
        };
        let completed: Option<(Value, bool)> = match event {
            Event::DocumentStart(..) => {
                anchors.clear();
                doc = None;
                nodes = 0;
                None
            }
            Event::DocumentEnd => {
                docs.push(doc.take().unwrap_or(Value::Null));
                None
            }
            Event::Alias(id) => {
                let (v, n) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| at("unknown anchor referenced"))?;
                nodes = nodes.saturating_add(n);
                if nodes > MAX_YAML_NODES {
                    return Err(at("document contains excessive aliasing"));
                }
                Some((v, false))
            }
            Event::Scalar(s, style, anchor, tag) => {
                let v = resolve_v2_scalar(&s, style, tag.as_deref()).map_err(|m| at(&m))?;
                nodes += 1;
                if anchor != 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                let merge = style == ScalarStyle::Plain && tag.is_none() && s == "<<";
                Some((v, merge))
            }
            Event::SequenceStart(_, anchor, _) => {
                nodes += 1;
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                nodes += 1;
                stack.push(Frame::Map(Mapping::new(), None, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    let v = Value::Seq(items);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), count_nodes(&v)));
                    }
                    Some((v, false))
                }
                Some(Frame::Map(map, _, anchor)) => {
                    let v = Value::Map(map);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), count_nodes(&v)));
                    }
                    Some((v, false))
                }
                None => None,
            },
            _ => None,
        };
        let Some((v, is_merge)) = completed else {
            continue;
        };
        match stack.last_mut() {
            None => doc = Some(v),
            Some(Frame::Seq(items, _)) => items.push(v),
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => {
                    *key = Some(if is_merge {
                        Key::Merge
                    } else {
                        Key::Name(json_key(&v).map_err(|m| at(&m))?)
                    });
                }
                Some(Key::Name(k)) => {
                    map.insert(k, v);
                }
                Some(Key::Merge) => {
                    let sources = match v {
                        Value::Map(m) => vec![m],
                        Value::Seq(items) => {
                            let mut maps = Vec::new();
                            // earlier maps take precedence: apply them last
                            for it in items.into_iter().rev() {
                                match it {
                                    Value::Map(m) => maps.push(m),
                                    _ => {
                                        return Err(at(
                                            "map merge requires map or sequence of maps as the value",
                                        ));
                                    }
                                }
                            }
                            maps
                        }
                        _ => {
                            return Err(at(
                                "map merge requires map or sequence of maps as the value",
                            ));
                        }
                    };
                    for m in sources {
                        for (k, v) in m {
                            map.insert(k, v);
                        }
                    }
                }
            },
        }
    }
    Ok(docs)
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(m) => 1 + m.values().map(|v| 1 + count_nodes(v)).sum::<usize>(),
        _ => 1,
    }
}

/// A mapping key as `sigs.k8s.io/yaml` turns it into a JSON object key.
fn json_key(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Float(f) => Ok(gitops_go::num::format_float32_g(*f)),
        other => Err(format!(
            "unsupported map key: {}",
            match other {
                Value::Null => "null".to_string(),
                Value::Uint(u) => u.to_string(),
                _ => "a collection".to_string(),
            }
        )),
    }
}

/// Resolves a scalar like go-yaml v2 decoding into `interface{}`.
fn resolve_v2_scalar(
    s: &str,
    style: granit_parser::ScalarStyle,
    tag: Option<&granit_parser::Tag>,
) -> Result<Value, String> {
    use granit_parser::ScalarStyle;
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain {
            resolve_v2_plain(s)
        } else {
            Value::String(s.to_string())
        });
    };
    let core = (tag.handle() == "tag:yaml.org,2002:" || tag.handle() == "!!").then(|| tag.suffix());
    match core {
        Some("binary") => gyaml::scalar::resolve_tagged(s, style, tag.handle(), tag.suffix()),
        Some(kind @ ("bool" | "int" | "float" | "null")) => {
            let v = resolve_v2_plain(s);
            match (kind, v) {
                ("bool", v @ Value::Bool(_)) => Ok(v),
                ("null", Value::Null) => Ok(Value::Null),
                ("int", v @ (Value::Int(_) | Value::Uint(_))) => Ok(v),
                ("float", v @ Value::Float(_)) => Ok(v),
                ("float", Value::Int(i)) => Ok(Value::Float(i as f64)),
                ("float", Value::Uint(u)) => Ok(Value::Float(u as f64)),
                _ => Err(format!("cannot decode {s:?} as a !!{kind}")),
            }
        }
        // !!str, !!timestamp (kept as text), other and local tags: the text
        _ => Ok(Value::String(s.to_string())),
    }
}

/// go-yaml v2's resolution of an untagged plain scalar ([`gitops_go::yaml::resolve_v2`]).
fn resolve_v2_plain(s: &str) -> Value {
    use gitops_go::yaml::Scalar;
    match gitops_go::yaml::resolve_v2(s) {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Int(i),
        Scalar::Uint(u) => Value::Uint(u),
        Scalar::Float(f) => Value::Float(f),
        Scalar::Timestamp(_) | Scalar::Str => Value::String(s.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// dirhash
// ---------------------------------------------------------------------------------------------

/// source-watcher's content hash of a staged directory: Go's `dirhash.HashDir(dir, prefix,
/// DirHash)` with the Adler-32 `DirHash` of dirhash.go (file list sorted, each line
/// `"%x  <prefix>/<relative path>\n"` of the per-file Adler-32, decimal Adler-32 of the
/// lines). `prefix` is the artifact name. The archive file is then named `"<hash>.tar.gz"`.
///
/// Directories contribute only through their files (empty ones not at all); symbolic links
/// are listed like files and hashed through (as Go's `os.Open` does).
pub fn dir_hash(dir: &Path, prefix: &str) -> Result<String, GeneratorError> {
    let fail = |reason: String| GeneratorError::Hash {
        path: dir.display().to_string(),
        reason,
    };
    let md = fs::symlink_metadata(dir).map_err(|e| fail(e.to_string()))?;
    if !md.is_dir() {
        return Err(fail(format!("{} is not a directory", dir.display())));
    }
    let mut files: Vec<(Vec<u8>, PathBuf)> = Vec::new();
    collect_files(dir, &mut Vec::new(), prefix, &mut files, 0).map_err(fail)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut summary = adler2::Adler32::new();
    let mut buf = vec![0u8; 64 * 1024];
    for (name, path) in &files {
        if name.contains(&b'\n') {
            return Err(fail("filenames with newlines are not supported".into()));
        }
        let mut f = fs::File::open(path)
            .map_err(|e| fail(format!("{}: {e}", String::from_utf8_lossy(name))))?;
        let mut h = adler2::Adler32::new();
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| fail(format!("{}: {e}", String::from_utf8_lossy(name))))?;
            if n == 0 {
                break;
            }
            h.write_slice(&buf[..n]);
        }
        summary.write_slice(format!("{:x}  ", h.checksum()).as_bytes());
        summary.write_slice(name);
        summary.write_slice(b"\n");
    }
    Ok(summary.checksum().to_string())
}

/// Files below `dir` as `(path.Join(prefix, rel) bytes, path)`.
fn collect_files(
    dir: &Path,
    rel: &mut Vec<u8>,
    prefix: &str,
    out: &mut Vec<(Vec<u8>, PathBuf)>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: directory tree too deep", dir.display()));
    }
    for e in read_dir_sorted(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(&os_bytes(&e.name));
        let path = dir.join(&e.name);
        if e.file_type.is_dir() {
            collect_files(&path, rel, prefix, out, depth + 1)?;
        } else {
            let mut joined = prefix.as_bytes().to_vec();
            if !joined.is_empty() {
                joined.push(b'/');
            }
            joined.extend_from_slice(rel);
            out.push((clean_bytes(&joined), path));
        }
        rel.truncate(len);
    }
    Ok(())
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

// ---------------------------------------------------------------------------------------------
// pathPattern and templates
// ---------------------------------------------------------------------------------------------

/// A literal run or a `{name}` capture of a path pattern.
enum PatternPart<'a> {
    Lit(&'a str),
    Capture(&'a str),
}

fn valid_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits a path pattern into literals and captures, checking braces and names.
fn parse_path_pattern(pattern: &str) -> Result<Vec<PatternPart<'_>>, String> {
    let b = pattern.as_bytes();
    let mut parts = Vec::new();
    let mut seen = HashSet::new();
    let mut lit_start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                let end = pattern[i + 1..].find('}').ok_or_else(|| {
                    format!("invalid capture starting at offset {i}: missing closing brace")
                })?;
                let name = &pattern[i + 1..i + 1 + end];
                if name.is_empty() {
                    return Err("empty capture variable".into());
                }
                if !valid_capture_name(name) {
                    return Err(format!(
                        "capture variable {name:?} must be a valid capture name matching [A-Za-z_][A-Za-z0-9_]*"
                    ));
                }
                if !seen.insert(name) {
                    return Err(format!("duplicate capture variable {name:?}"));
                }
                // capture names hold no `/`, so this is the name part's check alone
                let errs = label_key_errors(name, Dialect::ApiServer);
                if !errs.is_empty() {
                    return Err(format!(
                        "capture variable {name:?} is not a valid Kubernetes label key: {}",
                        errs.join("; ")
                    ));
                }
                if lit_start < i {
                    parts.push(PatternPart::Lit(&pattern[lit_start..i]));
                }
                parts.push(PatternPart::Capture(name));
                i += end + 2;
                lit_start = i;
                continue;
            }
            b'}' => {
                return Err(format!(
                    "invalid capture ending at offset {i}: missing opening brace"
                ));
            }
            _ => {}
        }
        i += 1;
    }
    if lit_start < b.len() {
        parts.push(PatternPart::Lit(&pattern[lit_start..]));
    }
    Ok(parts)
}

/// `pathPattern` directory discovery: matches `pattern` (the part after `@alias/`, e.g.
/// `"apps/{app}/envs/{env}"`) against the directories of `root`; one map of captures per
/// matched directory (original case), in a stable order. Invalid capture values (Kubernetes
/// label value rules, see the docs) are an error naming the pattern and the value.
///
/// Like source-watcher: each `{name}` captures one path segment, the rest of the pattern is
/// literal; directories are walked depth first in name order without following symbolic
/// links; values are validated lowercased (as names and labels use them) and the error shows
/// the lowercased value.
pub fn match_path_pattern(
    root: &Path,
    pattern: &str,
) -> Result<Vec<BTreeMap<String, String>>, GeneratorError> {
    let perr = |reason: String| GeneratorError::PathPattern {
        pattern: pattern.to_string(),
        reason,
    };
    let parts = parse_path_pattern(pattern).map_err(perr)?;
    let mut re = String::from("^");
    let mut names = Vec::new();
    for p in &parts {
        match p {
            PatternPart::Lit(l) => re.push_str(&regex::escape(l)),
            PatternPart::Capture(n) => {
                re.push_str(&format!("(?P<{n}>[^/]+)"));
                names.push(*n);
            }
        }
    }
    re.push('$');
    let matcher =
        regex::Regex::new(&re).map_err(|e| perr(format!("failed to compile path pattern: {e}")))?;

    let mut out = Vec::new();
    let mut dirs = Vec::new();
    list_dirs(root, "", &mut dirs, 0).map_err(|source| GeneratorError::Io {
        context: format!("failed to walk source directory '{}'", root.display()),
        source,
    })?;
    for rel in dirs {
        let Some(caps) = matcher.captures(&rel) else {
            continue;
        };
        let mut raw = BTreeMap::new();
        for n in &names {
            if let Some(m) = caps.name(n) {
                raw.insert(n.to_string(), m.as_str().to_string());
            }
        }
        for (k, v) in &raw {
            let lower = v.to_lowercase();
            let errs = label_value_errors(&lower);
            if !errs.is_empty() {
                return Err(perr(format!(
                    "captured value {lower:?} for variable {k:?} is not a valid Kubernetes label value: {}",
                    errs.join("; ")
                )));
            }
        }
        out.push(raw);
    }
    Ok(out)
}

/// Directories below `dir` (relative, `/`-separated), depth first in name order, links not
/// followed.
fn list_dirs(dir: &Path, rel: &str, out: &mut Vec<String>, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for e in read_dir_sorted(dir)? {
        if !e.file_type.is_dir() {
            continue;
        }
        let name = e.name.to_string_lossy();
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        out.push(child.clone());
        list_dirs(&dir.join(&e.name), &child, out, depth + 1)?;
    }
    Ok(())
}

/// Replaces `{name}` placeholders in `template` with `captures` (lowercased when
/// `lowercase`, as source-watcher does for names/labels; original case for copy paths); an
/// unknown placeholder is an error.
pub fn render_template(
    template: &str,
    captures: &BTreeMap<String, String>,
    lowercase: bool,
) -> Result<String, GeneratorError> {
    let terr = |reason: String| GeneratorError::Template {
        template: template.to_string(),
        reason,
    };
    let b = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut lit_start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                out.push_str(&template[lit_start..i]);
                let end = template[i + 1..].find('}').ok_or_else(|| {
                    terr(format!(
                        "capture starting at offset {i} is missing closing brace"
                    ))
                })?;
                let name = &template[i + 1..i + 1 + end];
                if name.is_empty() {
                    return Err(terr("empty capture variable".into()));
                }
                if !valid_capture_name(name) {
                    return Err(terr(format!(
                        "capture variable {name:?} must be a valid capture name matching [A-Za-z_][A-Za-z0-9_]*"
                    )));
                }
                let value = captures.get(name).ok_or_else(|| {
                    terr(format!(
                        "capture variable {name:?} is not defined by pathPattern"
                    ))
                })?;
                if lowercase {
                    out.push_str(&value.to_lowercase());
                } else {
                    out.push_str(value);
                }
                i += end + 2;
                lit_start = i;
                continue;
            }
            b'}' => {
                return Err(terr(format!(
                    "capture ending at offset {i} is missing opening brace"
                )));
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&template[lit_start..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of doublestar's match table: (pattern, name, matches, valid, path.Match agrees).
    const MATCH_TABLE: &[(&str, &str, bool, bool, bool)] = &[
        ("", "", true, true, true),
        ("*", "", true, true, true),
        ("*", "/", false, true, true),
        ("/*", "/", true, true, true),
        ("/*", "/debug/", false, true, true),
        ("/*", "//", false, true, true),
        ("abc", "abc", true, true, true),
        ("*", "abc", true, true, true),
        ("*c", "abc", true, true, true),
        ("*/", "a/", true, true, true),
        ("a*", "a", true, true, true),
        ("a*", "abc", true, true, true),
        ("a*", "ab/c", false, true, true),
        ("a*/b", "abc/b", true, true, true),
        ("a*/b", "a/c/b", false, true, true),
        ("a*b*c*d*e*", "axbxcxdxe", true, true, true),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true, true, true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, true, true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, true, true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, true, true),
        ("a*b?c*x", "abxbbxdbxebxczzx", true, true, true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false, true, true),
        ("ab[c]", "abc", true, true, true),
        ("ab[b-d]", "abc", true, true, true),
        ("ab[e-g]", "abc", false, true, true),
        ("ab[^c]", "abc", false, true, true),
        ("ab[^b-d]", "abc", false, true, true),
        ("ab[^e-g]", "abc", true, true, true),
        ("a\\*b", "a*b", true, true, true),
        ("a\\*b", "ab", false, true, true),
        ("a?b", "a☺b", true, true, true),
        ("a[^a]b", "a☺b", true, true, true),
        ("a[!a]b", "a☺b", true, true, false),
        ("a???b", "a☺b", false, true, true),
        ("a[^a][^a][^a]b", "a☺b", false, true, true),
        ("[a-ζ]*", "α", true, true, true),
        ("*[a-ζ]", "A", false, true, true),
        ("a?b", "a/b", false, true, true),
        ("a*b", "a/b", false, true, true),
        ("[\\]a]", "]", true, true, true),
        ("[\\-]", "-", true, true, true),
        ("[x\\-]", "x", true, true, true),
        ("[x\\-]", "-", true, true, true),
        ("[x\\-]", "z", false, true, true),
        ("[\\-x]", "x", true, true, true),
        ("[\\-x]", "-", true, true, true),
        ("[\\-x]", "a", false, true, true),
        ("[]a]", "]", false, false, true),
        ("[-]", "-", true, true, false),
        ("[x-]", "x", true, true, false),
        ("[x-]", "-", true, true, false),
        ("[x-]", "z", false, true, false),
        ("[-x]", "x", true, true, false),
        ("[-x]", "-", true, true, false),
        ("[-x]", "a", false, true, false),
        ("[a-b-d]", "a", true, true, false),
        ("[a-b-d]", "b", true, true, false),
        ("[a-b-d]", "-", true, true, false),
        ("[a-b-d]", "c", false, true, false),
        ("[a-b-x]", "x", true, true, false),
        ("\\", "a", false, false, true),
        ("[", "a", false, false, true),
        ("[^", "a", false, false, true),
        ("[^bc", "a", false, false, true),
        ("a[", "a", false, false, true),
        ("a[", "ab", false, false, true),
        ("ad[", "ab", false, false, true),
        ("*x", "xxx", true, true, true),
        ("[abc]", "b", true, true, true),
        ("[a-z0-9]", "1", true, true, true),
        ("**", "", true, true, false),
        ("a/**", "a", true, true, false),
        ("a/**/", "a", true, true, false),
        ("a/**", "a/", true, true, false),
        ("a/**/", "a/", true, true, false),
        ("a/**", "a/b", true, true, false),
        ("a/**", "a/b/c", true, true, false),
        ("**/c", "c", true, true, false),
        ("**/c", "b/c", true, true, false),
        ("**/c", "a/b/c", true, true, false),
        ("**/c", "a/b", false, true, false),
        ("**/c", "abcd", false, true, false),
        ("**/c", "a/abc", false, true, false),
        ("a/**/b", "a/b", true, true, false),
        ("a/**/c", "a/b/c", true, true, false),
        ("a/**/d", "a/b/c/d", true, true, false),
        ("a/\\**", "a/b/c", false, true, false),
        ("a/\\[*\\]", "a/bc", false, true, true),
        ("a/b/c", "a/b//c", false, true, true),
        ("a/", "a", false, true, true),
        ("ab{c,d}", "abc", true, true, false),
        ("ab{c,d,*}", "abcde", true, true, false),
        ("ab{c,d}[", "abcd", false, false, false),
        ("a{,bc}", "a", true, true, false),
        ("a{,bc}", "abc", true, true, false),
        ("a/{b/c,c/b}", "a/b/c", true, true, false),
        ("a/{b/c,c/b}", "a/c/b", true, true, false),
        ("a/a*{b,c}", "a/abc", true, true, false),
        ("{a/{b,c},abc}", "a/b", true, true, false),
        ("{a/{b,c},abc}", "abc", true, true, false),
        ("{a/{b,c},abc}", "a/b/c", false, true, false),
        ("abc/**", "abc/b", true, true, false),
        ("**/abc", "abc", true, true, false),
        ("abc**", "abc/b", false, true, false),
        ("**/*.txt", "abc/【test】.txt", true, true, false),
        ("**/{a,b}", "a/b", true, true, false),
        ("a/*/*/d", "a/b/c/d", true, true, true),
        ("e/[\\*\\?]", "e/*", true, true, true),
        ("e/[\\*\\?]", "e/**", false, true, true),
        ("e/[\\*\\?]?", "e/**", true, true, true),
        ("e/{\\*,\\?}", "e/?", true, true, false),
        ("*\\}", "}", true, true, true),
        ("e/]", "e/]", true, true, true),
        ("e/[", "e/[", false, false, true),
    ];

    #[test]
    fn doublestar_match_table() {
        for &(pattern, name, want, valid, _) in MATCH_TABLE {
            assert_eq!(doublestar_valid(pattern), valid, "valid({pattern:?})");
            if valid {
                assert_eq!(
                    doublestar_match(pattern, name),
                    want,
                    "doublestar {pattern:?} ~ {name:?}"
                );
            }
        }
    }

    #[test]
    fn go_path_match_table() {
        for &(pattern, name, want, valid, standard) in MATCH_TABLE {
            if !standard {
                continue;
            }
            match go_match(pattern, name) {
                Ok(got) => {
                    assert!(valid, "path.Match({pattern:?}) should be a bad pattern");
                    assert_eq!(got, want, "path.Match {pattern:?} ~ {name:?}");
                }
                Err(BadPattern) => assert!(!valid, "path.Match({pattern:?}) failed"),
            }
        }
        // path.Match specifics: `**` is `*`, `!` does not negate, `-` at the edges is an
        // error, the pattern is checked even when the name does not match.
        assert_eq!(go_match("**", "a/b"), Ok(false));
        assert_eq!(go_match("**", "ab"), Ok(true));
        assert_eq!(go_match("a/**/c", "a/b/c"), Ok(true));
        assert_eq!(go_match("a/**/c", "a/c"), Ok(false));
        assert_eq!(go_match("[!a]", "!"), Ok(true));
        assert_eq!(go_match("[-]", "-"), Err(BadPattern));
        assert_eq!(go_match("[x-]", "x"), Err(BadPattern));
        assert_eq!(go_match("a/b[", "x"), Err(BadPattern));
        assert_eq!(go_match("{a,b}", "a"), Ok(false));
        assert_eq!(go_match("{a,b}", "{a,b}"), Ok(true));
        assert_eq!(go_match("[", ""), Err(BadPattern));
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a{b,c}d").unwrap(), ["abd", "acd"]);
        assert_eq!(
            expand_braces("{a/{b,c},abc}").unwrap(),
            ["a/b", "a/c", "abc"]
        );
        assert_eq!(expand_braces("x\\{a,b}").unwrap(), ["x\\{a,b}"]);
        assert_eq!(expand_braces("[{]{a,b}").unwrap(), ["[{]a", "[{]b"]);
        assert!(expand_braces(&"{a,b}".repeat(13)).is_err());
    }

    fn excludes(p: &[&str]) -> Excludes {
        Excludes::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exclude_matching() {
        // patterns without a separator match the name at any depth
        let e = excludes(&["*.md"]);
        assert!(e.excludes_path("README.md", "."));
        assert!(e.excludes_path("docs/guide.md", "."));
        assert!(!e.excludes_path("docs/guide.yaml", "."));
        // a trailing /** also matches the directory itself
        let e = excludes(&["**/testdata/**"]);
        assert!(e.excludes_path("testdata", "."));
        assert!(e.excludes_path("a/testdata/x.yaml", "."));
        assert!(!e.excludes_path("a/testdata2/x.yaml", "."));
        let e = excludes(&["**/.*"]);
        assert!(e.excludes_path(".hidden", "."));
        assert!(e.excludes_path("a/.env", "."));
        // anchored at the source root or at the literal prefix of `from`
        let e = excludes(&["infrastructure/controllers/descheduler/**"]);
        assert!(e.excludes_path("infrastructure/controllers/descheduler", "infrastructure"));
        let e = excludes(&["controllers/descheduler/**"]);
        assert!(e.excludes_path("infrastructure/controllers/descheduler", "infrastructure"));
        assert!(e.excludes_path(
            "infrastructure/controllers/descheduler/release.yaml",
            "infrastructure"
        ));
        // never anchored at a deeper walk root
        let e = excludes(&["descheduler/**"]);
        assert!(e.excludes_path("infrastructure/descheduler", "infrastructure"));
        assert!(!e.excludes_path("infrastructure/controllers/descheduler", "infrastructure"));
        // alternatives
        let e = excludes(&["*.{md,txt}"]);
        assert!(e.excludes_path("a/b.txt", "."));
        // invalid patterns
        for bad in ["[*.md", "a}", "{a", "x\\"] {
            assert!(
                Excludes::new(&[bad.to_string()]).is_err(),
                "{bad:?} should be invalid"
            );
        }
        assert!(excludes(&[]).patterns.is_empty());
    }

    #[test]
    fn go_paths() {
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_clean("a//b/./c/.."), "a/b");
        assert_eq!(go_clean("../a/../.."), "../..");
        assert_eq!(go_clean("/../a"), "/a");
        assert_eq!(go_clean("a/"), "a");
        assert_eq!(go_join("", "x"), "x");
        assert_eq!(go_join("dest/", "a.yaml"), "dest/a.yaml");
        assert_eq!(go_join("", ""), "");
        assert_eq!(go_base("a/b/"), "b");
        assert_eq!(go_base("."), ".");
        assert_eq!(source_selection_root("infra/apps/*.yaml"), "infra/apps");
        assert_eq!(source_selection_root("**"), ".");
        assert_eq!(source_selection_root("./a/[b]/c"), "a");
        assert_eq!(
            glob_destination("config/**", "config/sub", "dest/"),
            "dest/sub"
        );
        assert_eq!(glob_destination("**", "a.yaml", ""), "a.yaml");
        assert_eq!(
            glob_destination("c/*.yaml", "c/a.yaml", "out"),
            "out/c/a.yaml"
        );
        // the literal prefix only: a glob before /** keeps the whole match
        assert_eq!(glob_destination("apps/*/**", "apps/x/y", "d"), "d/apps/x/y");
        assert!(valid_fs_path("a/b"));
        assert!(valid_fs_path("."));
        assert!(!valid_fs_path("./a"));
        assert!(!valid_fs_path("a/../b"));
        assert!(!valid_fs_path("/a"));
        assert!(!valid_fs_path(""));
        assert!(is_tarball("x/Chart-1.0.TGZ"));
        assert!(is_tarball("a.tar.gz"));
        assert!(!is_tarball("a.tar"));
        assert!(parse_copy_destination("@artifact/../x").is_err());
        assert!(parse_copy_destination("@artifact//etc").is_err());
        assert!(parse_copy_destination("@artifact/a/../../x").is_err());
        assert_eq!(parse_copy_destination("@artifact/a/../b"), Ok("a/../b"));
        assert!(parse_copy_destination("@other/x").is_err());
        assert_eq!(parse_copy_source("@src/a/b"), Ok(("src", "a/b")));
        assert_eq!(parse_copy_source("@src/"), Ok(("src", "")));
        assert!(parse_copy_source("src/a").is_err());
        assert!(parse_copy_source("@src").is_err());
    }

    fn write(root: &Path, rel: &str, data: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    /// Adler-32 written out from its definition.
    fn naive_adler(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + x as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn dir_hash_by_hand() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a.txt", "hello");
        write(tmp.path(), "sub/b.txt", "");
        fs::create_dir_all(tmp.path().join("empty")).unwrap();
        // adler32("hello") = 0x062c0215, adler32("") = 1
        assert_eq!(naive_adler(b"hello"), 0x062c_0215);
        let lines = "62c0215  art/a.txt\n1  art/sub/b.txt\n";
        assert_eq!(naive_adler(lines.as_bytes()), 3_084_192_413);
        assert_eq!(dir_hash(tmp.path(), "art").unwrap(), "3084192413");
        // without a prefix the names are the bare relative paths
        assert_eq!(
            dir_hash(tmp.path(), "").unwrap(),
            naive_adler(b"62c0215  a.txt\n1  sub/b.txt\n").to_string()
        );
        // the list is sorted bytewise on the full name: "a-b" < "a/b"
        let t2 = tempfile::tempdir().unwrap();
        write(t2.path(), "a/b", "x");
        write(t2.path(), "a-b", "y");
        let want = format!(
            "{:x}  p/a-b\n{:x}  p/a/b\n",
            naive_adler(b"y"),
            naive_adler(b"x")
        );
        assert_eq!(
            dir_hash(t2.path(), "p").unwrap(),
            naive_adler(want.as_bytes()).to_string()
        );
        // an empty directory hashes to the Adler-32 of nothing
        let t3 = tempfile::tempdir().unwrap();
        assert_eq!(dir_hash(t3.path(), "x").unwrap(), "1");
        assert!(dir_hash(&tmp.path().join("a.txt"), "x").is_err());
        assert!(dir_hash(&tmp.path().join("missing"), "x").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn dir_hash_refuses_newlines() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a\nb", "x");
        let err = dir_hash(tmp.path(), "x").unwrap_err().to_string();
        assert!(err.contains("newlines"), "{err}");
    }

    #[test]
    fn v2_scalars() {
        let docs = parse_v2_documents(
            "a: yes\nb: Off\nc: 'yes'\nd: 2024-01-02\ne: 0x1F\nf: 1_000\ng: ~\nh: 1.5\non: x\n1: one\n",
        )
        .unwrap();
        let m = docs[0].as_map().unwrap();
        assert_eq!(m["a"], Value::Bool(true));
        assert_eq!(m["b"], Value::Bool(false));
        assert_eq!(m["c"], Value::String("yes".into()));
        assert_eq!(m["d"], Value::String("2024-01-02".into()));
        assert_eq!(m["e"], Value::Int(31));
        assert_eq!(m["f"], Value::Int(1000));
        assert_eq!(m["g"], Value::Null);
        assert_eq!(m["h"], Value::Float(1.5));
        assert_eq!(m["true"], Value::String("x".into()));
        assert_eq!(m["1"], Value::String("one".into()));
        // anchors, aliases and merge keys (later keys win)
        let docs = parse_v2_documents("base: &b {p: 1, q: 2}\nc:\n  <<: *b\n  q: 3\n").unwrap();
        let c = docs[0].get("c").unwrap().as_map().unwrap();
        assert_eq!(c["p"], Value::Int(1));
        assert_eq!(c["q"], Value::Int(3));
        // go-yaml v2 reads the keys `y` and `n` as booleans too, as sigs.k8s.io/yaml does
        let docs = parse_v2_documents("y: 1\nn: 2\n").unwrap();
        assert_eq!(docs[0].get("true"), Some(&Value::Int(1)));
        assert_eq!(docs[0].get("false"), Some(&Value::Int(2)));
        assert!(parse_v2_documents("a: *nope\n").is_err());
        assert!(parse_v2_documents("? [a]\n: b\n").is_err());
        assert!(parse_v2_documents("a: [\n").is_err());
        assert_eq!(gitops_go::num::format_float32_g(1.5), "1.5");
        assert_eq!(gitops_go::num::format_float32_g(1e6), "1e+06");
        assert_eq!(gitops_go::num::format_float32_g(100000.0), "100000");
        assert_eq!(gitops_go::num::format_float32_g(0.0001), "0.0001");
        assert_eq!(gitops_go::num::format_float32_g(0.00001), "1e-05");
    }

    #[test]
    fn merge_like_source_watcher() {
        let base = load_yaml(
            "\nname: app\nports: [80, 443]\nlabels:\n  env: dev\n  keep: me\nversion: 1.0.0\nreplicas: 3\n",
        )
        .unwrap();
        let overlay = load_yaml(
            "\nreplicas: 5 # comment\nports: [8080]\nlabels:\n  env: prod\nenv: production\n",
        )
        .unwrap();
        let out = marshal_yaml(&merge_map(base, overlay)).unwrap();
        assert_eq!(
            out,
            "env: production\nlabels:\n  env: prod\n  keep: me\nname: app\nports:\n- 8080\nreplicas: 5\nversion: 1.0.0\n"
        );

        // multi-document overlay, YAML 1.1 booleans, timestamps kept as text, numbers
        // through float64, a map replaced by a scalar and back
        let base =
            load_yaml("a: no\nb: {c: [0], d: 1.0}\nt: 2024-01-02\nm: {x: 1}\ns: str\n").unwrap();
        let overlay =
            load_yaml("a: yes\n---\nb: {c: [1, 2]}\n---\n# empty\n---\nm: 3\ns: {k: v}\n").unwrap();
        let out = marshal_yaml(&merge_map(base, overlay)).unwrap();
        assert_eq!(
            out,
            "a: true\nb:\n  c:\n  - 1\n  - 2\n  d: 1\nm: 3\ns:\n  k: v\nt: \"2024-01-02\"\n"
        );
        // a null overlay value sets null; strings that read as other types are quoted
        let out = marshal_yaml(&merge_map(
            load_yaml("a: 1\nb: x\n").unwrap(),
            load_yaml("a: null\nb: 'on'\nc: '012'\n").unwrap(),
        ))
        .unwrap();
        assert_eq!(out, "a: null\nb: \"on\"\nc: \"012\"\n");
        // big integers go through float64 (and back as go-yaml v2 reads the JSON number)
        let out = marshal_yaml(
            &load_yaml("big: 12345678901234567890\nodd: 9007199254740993\nhuge: 1e300\n").unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            "big: 12345678901234567000\nhuge: 1e+300\nodd: 9007199254740992\n"
        );
        assert_eq!(marshal_yaml(&Mapping::new()).unwrap(), "{}\n");
        // not a map, or not JSON
        for bad in ["A=B", "- a\n- b\n", "a: .nan\n", "a: [\n"] {
            let err = load_yaml(bad).unwrap_err();
            assert!(
                err.contains("cannot unmarshal YAML document"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn templates() {
        let caps: BTreeMap<String, String> = [("app", "Auth"), ("env", "prod")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            render_template("{app}-{env}", &caps, true).unwrap(),
            "auth-prod"
        );
        assert_eq!(
            render_template("@repo/apps/{app}/envs/{env}/**", &caps, false).unwrap(),
            "@repo/apps/Auth/envs/prod/**"
        );
        assert_eq!(render_template("plain", &caps, true).unwrap(), "plain");
        for (t, msg) in [
            (
                "{nope}",
                "capture variable \"nope\" is not defined by pathPattern",
            ),
            (
                "{app",
                "capture starting at offset 0 is missing closing brace",
            ),
            ("x}", "capture ending at offset 1 is missing opening brace"),
            ("{}", "empty capture variable"),
            ("{a-b}", "must be a valid capture name"),
        ] {
            let err = render_template(t, &caps, false).unwrap_err().to_string();
            assert!(err.contains(msg), "{t:?}: {err}");
            assert!(err.starts_with(&format!("invalid template {t:?}")), "{err}");
        }
    }

    #[test]
    fn path_pattern_parsing() {
        for (p, msg) in [
            ("apps/{app", "missing closing brace"),
            ("apps/app}", "missing opening brace"),
            ("apps/{}", "empty capture variable"),
            ("apps/{1app}", "must be a valid capture name"),
            ("{a}/{a}", "duplicate capture variable \"a\""),
            ("{_app}", "not a valid Kubernetes label key"),
        ] {
            let err = parse_path_pattern(p).err().unwrap_or_default();
            assert!(err.contains(msg), "{p:?}: {err}");
        }
        assert_eq!(parse_path_pattern("a/{b}/c").unwrap().len(), 3);
        assert!(label_value_errors("auth").is_empty());
        assert!(label_value_errors("a.b_c-1").is_empty());
        assert!(!label_value_errors(".hidden").is_empty());
        assert!(!label_value_errors("my app").is_empty());
        assert!(!label_value_errors("app-").is_empty());
        assert_eq!(label_value_errors(&"a".repeat(64)).len(), 1);
        assert!(label_value_errors(&"a".repeat(63)).is_empty());
    }

    #[test]
    fn path_pattern_walk() {
        let tmp = tempfile::tempdir().unwrap();
        for d in [
            "apps/Auth/envs/prod",
            "apps/Auth/envs/dev",
            "apps/billing/envs/prod",
            "apps/billing/other/prod",
            "apps/x.y/envs/prod/deeper",
        ] {
            fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        write(tmp.path(), "apps/file/envs/prod", "a file, not a directory");
        let got = match_path_pattern(tmp.path(), "apps/{app}/envs/{env}").unwrap();
        let flat: Vec<String> = got
            .iter()
            .map(|m| format!("{}:{}", m["app"], m["env"]))
            .collect();
        assert_eq!(flat, ["Auth:dev", "Auth:prod", "billing:prod", "x.y:prod"]);

        fs::create_dir_all(tmp.path().join("apps/.hidden/envs/prod")).unwrap();
        let err = match_path_pattern(tmp.path(), "apps/{app}/envs/{env}")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("pathPattern \"apps/{app}/envs/{env}\": captured value \".hidden\""),
            "{err}"
        );
        assert!(matches!(
            match_path_pattern(tmp.path(), "apps/{app"),
            Err(GeneratorError::PathPattern { .. })
        ));
    }

    #[test]
    fn go_glob_semantics() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a.yaml", "");
        write(tmp.path(), ".hidden.yaml", "");
        write(tmp.path(), "d/b.yaml", "");
        write(tmp.path(), "d/e/c.yaml", "");
        let root = Root::open(tmp.path()).unwrap();
        assert_eq!(
            go_glob(&root, "*.yaml").unwrap(),
            [".hidden.yaml", "a.yaml"]
        );
        // `**` is one segment for fs.Glob
        assert_eq!(go_glob(&root, "**/*.yaml").unwrap(), ["d/b.yaml"]);
        assert_eq!(go_glob(&root, "d/**").unwrap(), ["d/b.yaml", "d/e"]);
        assert_eq!(
            go_glob(&root, "./*.yaml").unwrap(),
            [".hidden.yaml", "a.yaml"]
        );
        assert!(go_glob(&root, "../*").unwrap().is_empty());
        assert!(go_glob(&root, "/tmp/*").unwrap().is_empty());
        assert_eq!(go_glob(&root, "[").unwrap_err(), "syntax error in pattern");
        // doublestar spans directories and lists directories too
        assert_eq!(
            doublestar_glob(&root, "**/*.yaml").unwrap(),
            [".hidden.yaml", "a.yaml", "d/b.yaml", "d/e/c.yaml"]
        );
        assert_eq!(
            doublestar_glob(&root, "d/**").unwrap(),
            ["d", "d/b.yaml", "d/e", "d/e/c.yaml"]
        );
        assert_eq!(
            doublestar_glob(&root, "{d/e,d}/*.yaml").unwrap(),
            ["d/b.yaml", "d/e/c.yaml"]
        );
        assert!(doublestar_glob(&root, "d/[").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn roots_confine_symlinks() {
        use std::os::unix::fs::symlink;
        let outer = tempfile::tempdir().unwrap();
        let src = outer.path().join("src");
        write(&src, "real/file.yaml", "x");
        write(outer.path(), "secret", "s");
        symlink("real/file.yaml", src.join("inside")).unwrap();
        symlink("../secret", src.join("outside")).unwrap();
        symlink(outer.path().join("secret"), src.join("absolute")).unwrap();
        symlink("real", src.join("dirlink")).unwrap();
        symlink("loop", src.join("loop")).unwrap();
        let root = Root::open(&src).unwrap();
        assert_eq!(
            fs::read_to_string(root.resolve("inside").unwrap()).unwrap(),
            "x"
        );
        assert_eq!(
            fs::read_to_string(root.resolve("dirlink/../real/./file.yaml").unwrap()).unwrap(),
            "x"
        );
        assert!(root.resolve("outside").is_err());
        assert!(root.resolve("absolute").is_err());
        assert!(root.resolve("../src/inside").is_err());
        assert!(root.resolve("/etc/passwd").is_err());
        assert!(root.resolve("loop").is_err());
        assert!(root.is_dir("dirlink"));
    }

    proptest::proptest! {
        /// Arbitrary patterns and names never panic, and every path agrees on validity.
        #[test]
        fn matchers_never_panic(
            pattern in "[-a/*?\\[\\]{},^!\\\\é]{0,12}",
            name in "[-a/*?\\[\\]{}é]{0,10}",
        ) {
            let _ = go_match(&pattern, &name);
            let valid = doublestar_valid(&pattern);
            let ex = Excludes::new(std::slice::from_ref(&pattern));
            if valid {
                if let Ok(ex) = ex {
                    let _ = ex.excludes_path(&name, ".");
                }
            } else {
                proptest::prop_assert!(ex.is_err());
            }
            let _ = parse_path_pattern(&pattern);
            let _ = render_template(&pattern, &BTreeMap::new(), true);
            let _ = source_selection_root(&pattern);
            let _ = glob_destination(&pattern, &name, "d");
        }
    }

    #[test]
    fn strategy_names() {
        assert_eq!("".parse::<Strategy>().unwrap(), Strategy::Overwrite);
        assert_eq!("Merge".parse::<Strategy>().unwrap(), Strategy::Merge);
        assert_eq!("Extract".parse::<Strategy>().unwrap(), Strategy::Extract);
        assert!("merge".parse::<Strategy>().is_err());
    }
}
