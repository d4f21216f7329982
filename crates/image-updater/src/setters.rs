//! Flux's `Setters` update strategy (image-automation-controller `internal/update`): rewrite
//! the YAML values marked with an image-policy comment, and report what changed.
//!
//! ```
//! use gitops_image_updater::setters::{PolicyImage, Setters};
//!
//! let setters = Setters::new(&[PolicyImage {
//!     namespace: "flux-system".into(),
//!     name: "podinfo".into(),
//!     image: "ghcr.io/stefanprodan/podinfo".into(),
//!     tag: "6.5.1".into(),
//!     digest: None,
//! }]);
//! let yaml = "kind: Deployment\nimage: ghcr.io/stefanprodan/podinfo:6.5.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n";
//! let update = setters.update_text(yaml).unwrap().unwrap();
//! assert_eq!(
//!     update.text,
//!     "kind: Deployment\nimage: ghcr.io/stefanprodan/podinfo:6.5.1 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n"
//! );
//! assert_eq!(update.changes[0].1.setter, "flux-system:podinfo");
//! ```
//!
//! # Markers
//! A scalar is marked when its comment is a JSON object whose `"$imagepolicy"` member names
//! a setter: `<namespace>:<policy>` (the policy's full image ref, `name:tag`, plus `@digest`
//! when the policy has one), `…:tag`, `…:name` or `…:digest` (empty when the policy has no
//! digest, as in Flux). The rules are kyaml's (`fieldmeta`, with go-yaml v3 comment placement):
//! - the comment is the scalar's line comment: on the same line, after the value (and after the
//!   `,` of a multi-line flow collection), e.g. `image: nginx:1.0 # {"$imagepolicy": "ns:p"}`.
//!   A scalar without a line comment may instead be marked by a one-line comment on the line
//!   right above it when it is a block sequence item (`# {…}` then `- nginx:1.0`); a scalar that
//!   has any line comment is never marked from above;
//! - all leading `#` are dropped, then the rest must be one JSON object of strings (any spacing;
//!   other members are allowed). The long form `{"$ref": "#/definitions/io.k8s.cli.setters.<setter>"}`
//!   is accepted too;
//! - only mapping values and sequence items are visited, never mapping keys nor aliases, in
//!   every kind of document (Deployments, CronJobs, `Kustomization` `images:` entries,
//!   HelmRelease values…);
//! - a setter that names no known policy leaves the value alone, so does an unchanged value;
//! - block scalars (`|`, `>`) are never rewritten (Flux would turn them into `|-` blocks).
//!
//! # Files
//! [`Setters::update_dir`] walks the update path recursively in file-name order, reading only
//! regular files named `*.yaml`, `*.yml` or `Kustomization` that contain the token
//! `"$imagepolicy"` (quotes included). Symbolic links (to files or directories) are never
//! followed, `.git` directories are skipped, and nothing outside the update path is read or
//! written. A file that Flux's reader rejects (YAML syntax error, invalid UTF-8, a document
//! that is not a mapping, a `metadata` or `metadata.annotations` that is not a mapping, a
//! `---xyz` separator line) is a *problem file*: it is left alone and listed in the
//! [`Report`]. Files are written (atomically, keeping their permissions) only when a value
//! changed.
//!
//! # Bytes
//! Only the bytes of the marked scalars change: comments, key order, indentation, blank lines,
//! line endings (CRLF stays CRLF), document separators and the quoting of every other value
//! stay as they were; a tag or anchor on the marked scalar stays too. The marked scalar keeps
//! its quoting style: single-quoted stays single-quoted (`''` escaping), double-quoted stays
//! double-quoted; a plain scalar stays plain unless the new value would then read as something
//! else than that string: it is double-quoted when it would read as a number, boolean, null,
//! timestamp or collection (kyaml's `FormatNonStringStyle`, YAML 1.1 and 1.2 forms alike), and
//! single-quoted when it merely cannot be written plain (`: `, ` #`, a leading indicator…), as
//! go-yaml's emitter does.
//!
//! # Differences from Flux
//! - Flux re-serializes every updated file through kyaml (reindenting sequences, dropping blank
//!   lines, requoting strings); the values written are the same.
//! - Flux reads a symbolic link to a file and writes through it (even outside the repository);
//!   links are skipped here. A `..` leaving the root is an error (Flux's `SecureJoin` clamps
//!   it to the root); a link in the update path is an error.
//! - A single-document `List` is updated in place, its changes attributed to its items in its
//!   file (Flux attributes them to the items under an empty file name, and writes the items
//!   out as new `<kind>_<name>.yaml` files).
//! - A marked value that was a number, boolean or null keeps that tag in Flux
//!   (`!!float v1.1` for `0.9` → `v1.1`); here it simply becomes a string.
//! - Policies' image refs are not validated (Flux fails the update when one does not parse).
//! - Comment placement follows go-yaml v3 for line comments; a marker above a value is only
//!   recognized in the unambiguous case described above.
//!
//! # Report
//! [`Report`] mirrors Flux's `update.Result`: file (relative to the update path, as in Flux's
//! commit message templates) → object (the enclosing document's `apiVersion`, `kind`,
//! `metadata.name`, `metadata.namespace`; the item for a single-document `List`) → changes in
//! document order. Maps are ordered, so templates render deterministically.

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, StructureStyle};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The token a file must contain to be examined (Flux's `fmt.Sprintf("%q", "$imagepolicy")`).
const TOKEN: &[u8] = b"\"$imagepolicy\"";
/// The kyaml shorthand key naming a setter.
const SHORTHAND: &str = "$imagepolicy";
/// The long form of a setter reference: an OpenAPI `$ref` into the setters' definitions.
const REF_PREFIX: &str = "#/definitions/io.k8s.cli.setters.";

/// The latest image an `ImagePolicy` selected (its `status.latestRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyImage {
    /// The policy's namespace.
    pub namespace: String,
    /// The policy's name.
    pub name: String,
    /// The image name, without tag (`ghcr.io/org/app`).
    pub image: String,
    /// The selected tag.
    pub tag: String,
    /// The tag's digest (`sha256:…`), when the policy reflects digests.
    pub digest: Option<String>,
}

impl PolicyImage {
    /// The full image reference, as the image-reflector API's `ImageRef.String()`:
    /// `name:tag`, plus `@digest` when there is a digest.
    pub fn image_ref(&self) -> String {
        match self.digest.as_deref() {
            Some(digest) if !digest.is_empty() => {
                format!("{}:{}@{}", self.image, self.tag, digest)
            }
            _ => format!("{}:{}", self.image, self.tag),
        }
    }
}

/// Where a change was made: the identity of the enclosing object, as kyaml's
/// `ResourceIdentifier`. Fields are empty when absent (a `kustomization.yaml` has no name).
/// Ordered by `api_version`, `kind`, `name`, `namespace`, as Go templates order these keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One value a setter changed (Flux's `update.Change`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// The value before the update.
    pub old_value: String,
    /// The value written.
    pub new_value: String,
    /// The setter that made the change: `ns:policy`, `ns:policy:tag`, `…:name` or `…:digest`.
    pub setter: String,
}

/// The result of rewriting one file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextUpdate {
    /// The new file content.
    pub text: String,
    /// Every change, in document order, with the object it was made in.
    pub changes: Vec<(ObjectId, Change)>,
}

/// Why a file's text could not be processed (Flux's "problem file").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A file that contains the marker token but could not be read as YAML; it was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemFile {
    /// The path relative to the update path, `/`-separated.
    pub path: String,
    /// Why it was skipped.
    pub error: YamlError,
}

/// The changes an update made (Flux's `update.Result`), plus the files it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The update path relative to the repository root, normalized and `/`-separated (`""` for
    /// the root; the parent directory when the update path is a file). File keys are relative
    /// to it, as in Flux; see [`Report::repo_path`].
    pub base: String,
    /// File (relative to [`Report::base`], `/`-separated) → object → changes in document
    /// order. Only files that were rewritten appear.
    pub files: BTreeMap<String, BTreeMap<ObjectId, Vec<Change>>>,
    /// Files with the marker token that could not be parsed, in walk order.
    pub problem_files: Vec<ProblemFile>,
    /// How many candidate files (by name) were read.
    pub scanned: usize,
}

impl Report {
    /// Every distinct change, in first-seen order (files, then objects, in map order), as
    /// Flux's `Result.Changes()`.
    pub fn changes(&self) -> Vec<Change> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for objects in self.files.values() {
            for changes in objects.values() {
                for change in changes {
                    if seen.insert(change) {
                        out.push(change.clone());
                    }
                }
            }
        }
        out
    }

    /// The changes per object, all files merged (in file order), as Flux's `Result.Objects()`.
    pub fn objects(&self) -> BTreeMap<ObjectId, Vec<Change>> {
        let mut out: BTreeMap<ObjectId, Vec<Change>> = BTreeMap::new();
        for objects in self.files.values() {
            for (id, changes) in objects {
                out.entry(id.clone())
                    .or_default()
                    .extend(changes.iter().cloned());
            }
        }
        out
    }

    /// The repository-relative path of a file key of [`Report::files`].
    pub fn repo_path(&self, file: &str) -> String {
        if self.base.is_empty() {
            file.to_owned()
        } else {
            format!("{}/{file}", self.base)
        }
    }
}

/// Why [`Setters::update_dir`] failed. Files that merely fail to parse are not errors: they
/// are reported as [`Report::problem_files`].
#[derive(Debug, thiserror::Error)]
pub enum SetterError {
    /// The update path is absolute.
    #[error("update path {path:?} must be relative to the repository root")]
    AbsolutePath {
        /// The update path as given.
        path: String,
    },
    /// The update path goes above the repository root (`..`).
    #[error("update path {path:?} points outside the repository root")]
    OutsideRoot {
        /// The update path as given.
        path: String,
    },
    /// The update path does not exist (or one of its parents is not a directory).
    #[error("update path {path:?} does not exist")]
    NotFound {
        /// The update path as given.
        path: String,
    },
    /// The update path goes through a symbolic link, which is never followed.
    #[error("update path {path:?} goes through the symbolic link {link:?}")]
    Symlink {
        /// The update path as given.
        path: String,
        /// The link, relative to the repository root.
        link: String,
    },
    /// The update path is neither a directory nor a regular file.
    #[error("update path {path:?} is neither a directory nor a regular file")]
    NotFileOrDir {
        /// The update path as given.
        path: String,
    },
    /// Reading, walking or writing failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done: `reading`, `writing`, `walking`.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The setters of a set of policies, ready to apply to files.
#[derive(Debug, Clone, Default)]
pub struct Setters {
    /// Setter name (`ns:policy`, `ns:policy:tag`, …) → the value it writes.
    values: HashMap<String, String>,
}

impl Setters {
    /// Four setters per policy: `ns:name` (the full image ref), `ns:name:tag`, `ns:name:name`
    /// and `ns:name:digest` (empty without a digest). A policy listed twice: the last wins.
    pub fn new(policies: &[PolicyImage]) -> Setters {
        let mut values = HashMap::with_capacity(policies.len() * 4);
        for p in policies {
            let base = format!("{}:{}", p.namespace, p.name);
            values.insert(format!("{base}:tag"), p.tag.clone());
            values.insert(format!("{base}:name"), p.image.clone());
            values.insert(
                format!("{base}:digest"),
                p.digest.clone().unwrap_or_default(),
            );
            values.insert(base, p.image_ref());
        }
        Setters { values }
    }

    /// The value a setter writes, if it is known.
    pub fn value(&self, setter: &str) -> Option<&str> {
        self.values.get(setter).map(String::as_str)
    }

    /// Rewrite one file's text. `Ok(None)` when nothing changed, including when the text does
    /// not contain the `"$imagepolicy"` token (such files are not even parsed, as in Flux).
    /// An error means Flux would treat the file as a problem file.
    pub fn update_text(&self, text: &str) -> Result<Option<TextUpdate>, YamlError> {
        if !contains(text.as_bytes(), TOKEN) {
            return Ok(None);
        }
        let chunks = check_separators(text)?;
        let parsed = parse(text)?;

        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        let mut changes = Vec::new();
        for doc in &parsed.docs {
            let Some(root) = doc.root else { continue };
            if doc.is_null(root) {
                continue;
            }
            check_document(doc, root)?;
            for object in doc.objects(root, chunks == 1) {
                let id = doc.object_id(object);
                doc.visit(object, &mut |s: &Scalar<'_>| {
                    let Some(comment) = parsed.marker_comment(text, s) else {
                        return;
                    };
                    let Some((setter, value)) = self.lookup(comment) else {
                        return;
                    };
                    if s.value == value {
                        return;
                    }
                    edits.push((s.range.clone(), render(value, s.style, s.in_flow)));
                    changes.push((
                        id.clone(),
                        Change {
                            old_value: s.value.to_string(),
                            new_value: value.to_owned(),
                            setter: setter.to_owned(),
                        },
                    ));
                });
            }
        }
        if edits.is_empty() {
            return Ok(None);
        }
        edits.sort_by_key(|(range, _)| range.start);
        let mut out = String::with_capacity(text.len() + 64);
        let mut at = 0;
        for (range, replacement) in &edits {
            if range.start < at {
                continue; // the same scalar reached twice (cannot happen with distinct nodes)
            }
            let Some(before) = text.get(at..range.start) else {
                return Err(YamlError {
                    line: 0,
                    column: 0,
                    message: format!("scalar at bytes {range:?} is not on character boundaries"),
                });
            };
            out.push_str(before);
            out.push_str(replacement);
            at = range.end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Ok(Some(TextUpdate { text: out, changes }))
    }

    /// Walk `root/path` (`path` is `spec.update.path`: relative, `""`, `.`, `./apps` and `apps/`
    /// are all fine, `..` may not leave the root), rewrite the marked values in place and
    /// report the changes. Symbolic links are never followed, neither in `path` (an error) nor
    /// during the walk (skipped).
    pub fn update_dir(&self, root: &Path, path: &str) -> Result<Report, SetterError> {
        let components = normalize_update_path(path)?;
        let mut target = root.to_path_buf();
        let mut meta = None;
        for (i, component) in components.iter().enumerate() {
            target.push(component);
            let m = std::fs::symlink_metadata(&target).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    SetterError::NotFound { path: path.into() }
                } else {
                    io_error("reading", &target, e)
                }
            })?;
            if m.file_type().is_symlink() {
                return Err(SetterError::Symlink {
                    path: path.into(),
                    link: components[..=i].join("/"),
                });
            }
            if i + 1 < components.len() && !m.is_dir() {
                return Err(SetterError::NotFound { path: path.into() });
            }
            meta = Some(m);
        }
        let meta = match meta {
            Some(m) => m,
            None => std::fs::metadata(root).map_err(|e| io_error("reading", root, e))?,
        };

        let mut report = Report::default();
        if meta.is_file() {
            // Flux reads a file update path on its own, relative to its directory.
            let Some((name, parent)) = components.split_last() else {
                return Err(SetterError::NotFileOrDir { path: path.into() });
            };
            report.base = parent.join("/");
            if is_candidate(name) {
                self.update_file(&target, name, &mut report)?;
            }
            return Ok(report);
        }
        if !meta.is_dir() {
            return Err(SetterError::NotFileOrDir { path: path.into() });
        }
        report.base = components.join("/");
        let walker = walkdir::WalkDir::new(&target)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                !(e.depth() > 0 && e.file_type().is_dir() && e.file_name() == ".git")
            });
        for entry in walker {
            let entry = entry.map_err(|e| {
                let at = e.path().unwrap_or(&target).to_path_buf();
                io_error("walking", &at, e.into())
            })?;
            if !entry.file_type().is_file() {
                continue; // directories, symbolic links, sockets…
            }
            let Some(name) = entry.file_name().to_str() else {
                continue; // not UTF-8, so neither `.yaml` nor `Kustomization`
            };
            if !is_candidate(name) {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&target) else {
                continue;
            };
            let rel: Vec<Cow<'_, str>> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            self.update_file(entry.path(), &rel.join("/"), &mut report)?;
        }
        Ok(report)
    }

    /// Read, screen, rewrite and record one candidate file.
    fn update_file(&self, path: &Path, rel: &str, report: &mut Report) -> Result<(), SetterError> {
        let bytes = std::fs::read(path).map_err(|e| io_error("reading", path, e))?;
        report.scanned += 1;
        if !contains(&bytes, TOKEN) {
            return Ok(());
        }
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = &bytes[..e.valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                let column = String::from_utf8_lossy(&valid[line_start..])
                    .chars()
                    .count()
                    + 1;
                report.problem_files.push(ProblemFile {
                    path: rel.to_owned(),
                    error: YamlError {
                        line,
                        column,
                        message: "invalid UTF-8".into(),
                    },
                });
                return Ok(());
            }
        };
        match self.update_text(text) {
            Err(error) => report.problem_files.push(ProblemFile {
                path: rel.to_owned(),
                error,
            }),
            Ok(None) => {}
            Ok(Some(update)) => {
                write_atomic(path, update.text.as_bytes())?;
                let objects = report.files.entry(rel.to_owned()).or_default();
                for (id, change) in update.changes {
                    objects.entry(id).or_default().push(change);
                }
            }
        }
        Ok(())
    }

    /// The setter a marker comment names and its value, if the comment is a marker for a
    /// known setter. `comment` is the text after the comment's first `#`.
    fn lookup(&self, comment: &str) -> Option<(&str, &str)> {
        let json = comment.trim_start_matches('#');
        if !json.contains('{') {
            return None;
        }
        // The shorthand: a JSON object of strings (Go decodes `null` members as "").
        if let Ok(map) = serde_json::from_str::<HashMap<String, Option<String>>>(json)
            && let Some(Some(name)) = map.get(SHORTHAND)
            && let Some((k, v)) = self.values.get_key_value(name.as_str())
        {
            return Some((k, v));
        }
        // Otherwise an OpenAPI schema with a `$ref` to a setter definition.
        if let Ok(serde_json::Value::Object(schema)) = serde_json::from_str(json)
            && let Some(serde_json::Value::String(reference)) = schema.get("$ref")
            && let Some(name) = reference.strip_prefix(REF_PREFIX)
            && let Some((k, v)) = self.values.get_key_value(name)
        {
            return Some((k, v));
        }
        None
    }
}

fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> SetterError {
    SetterError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether Flux's reader looks at a file of this name.
fn is_candidate(name: &str) -> bool {
    name == "Kustomization" || name.ends_with(".yaml") || name.ends_with(".yml")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut at = 0;
    while let Some(p) = haystack[at..].iter().position(|&b| b == first) {
        let start = at + p;
        if haystack[start + 1..].starts_with(rest) {
            return true;
        }
        at = start + 1;
    }
    false
}

/// Split `spec.update.path` into normal components, refusing absolute paths and `..` above
/// the root.
fn normalize_update_path(path: &str) -> Result<Vec<String>, SetterError> {
    if path.starts_with('/') || path.starts_with('\\') || Path::new(path).is_absolute() {
        return Err(SetterError::AbsolutePath { path: path.into() });
    }
    let mut out: Vec<String> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(SetterError::OutsideRoot { path: path.into() });
                }
            }
            c => out.push(c.to_owned()),
        }
    }
    Ok(out)
}

/// Replace a file's content atomically (a temporary file in the same directory, renamed over
/// it), keeping its permissions. The rename replaces the directory entry: it never writes
/// through a symbolic link.
fn write_atomic(path: &Path, content: &[u8]) -> Result<(), SetterError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let permissions = std::fs::symlink_metadata(path)
        .map_err(|e| io_error("reading", path, e))?
        .permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".setters-")
        .tempfile_in(dir)
        .map_err(|e| io_error("writing", path, e))?;
    tmp.write_all(content)
        .map_err(|e| io_error("writing", path, e))?;
    tmp.as_file()
        .set_permissions(permissions)
        .map_err(|e| io_error("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| io_error("writing", path, e.error))?;
    Ok(())
}

/// Flux's reader splits files on lines starting with `---` (Go regexp `\n---.*\n` over the
/// text with CRLF made LF) and rejects a separator followed by anything but a comment. Returns
/// the number of chunks, which decides whether a `List` is unwrapped.
fn check_separators(text: &str) -> Result<usize, YamlError> {
    let normalized: Cow<'_, str> = if text.contains("\r\n") {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    };
    if normalized.is_empty() {
        return Ok(0);
    }
    let mut chunks = 1;
    let mut at = 0;
    while let Some(p) = normalized[at..].find("\n---") {
        let start = at + p;
        let rest_start = start + 4;
        let Some(len) = normalized[rest_start..].find('\n') else {
            break;
        };
        let rest = normalized[rest_start..rest_start + len].trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            let line = normalized[..=start].matches('\n').count() + 1;
            return Err(YamlError {
                line,
                column: 1,
                message: format!(
                    "invalid document separator: {}",
                    normalized[start + 1..rest_start + len].trim()
                ),
            });
        }
        chunks += 1;
        at = rest_start + len + 1;
    }
    Ok(chunks)
}

/// A scalar node with what deciding on a marker and rewriting it needs.
struct Scalar<'a> {
    value: Cow<'a, str>,
    style: ScalarStyle,
    /// Byte range of the scalar's token (without tag or anchor).
    range: Range<usize>,
    /// An explicit `!!null`, or plain `~`/`null`/empty.
    null: bool,
    /// Inside a flow collection.
    in_flow: bool,
    /// A direct item of a block sequence.
    block_item: bool,
}

enum Node<'a> {
    Scalar(Scalar<'a>),
    /// An alias; go-yaml's node value is the anchor name.
    Alias(&'a str),
    /// Key and value node indices, in order.
    Map(Vec<(usize, usize)>),
    Seq(Vec<usize>),
}

struct Doc<'a> {
    nodes: Vec<(Node<'a>, usize)>,
    root: Option<usize>,
}

struct Parsed<'a> {
    docs: Vec<Doc<'a>>,
    /// Comments: byte range (from `#`) and the text after `#`, sorted by position.
    comments: Vec<(Range<usize>, Cow<'a, str>)>,
}

fn scan_error(e: &ScanError) -> YamlError {
    YamlError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info(),
    }
}

/// Parse the whole text into per-document node trees plus the comments.
fn parse(text: &str) -> Result<Parsed<'_>, YamlError> {
    let options = granit_parser::options! { max_buffered_comment_events: usize::MAX };
    let mut builder = Builder {
        text,
        events: Parser::new_from_str_with_options(text, options),
        comments: Vec::new(),
    };
    let mut docs = Vec::new();
    loop {
        let (event, span) = builder.next()?;
        match event {
            Event::StreamStart => {}
            Event::StreamEnd => break,
            Event::DocumentStart(..) => {
                let mut doc = Doc {
                    nodes: Vec::new(),
                    root: None,
                };
                let (event, span) = builder.next()?;
                if !matches!(event, Event::DocumentEnd) {
                    let root = builder.node(&mut doc, event, span, false, false)?;
                    doc.root = Some(root);
                    let (event, span) = builder.next()?;
                    if !matches!(event, Event::DocumentEnd) {
                        return Err(unexpected(&span));
                    }
                }
                docs.push(doc);
            }
            _ => return Err(unexpected(&span)),
        }
    }
    let mut comments = builder.comments;
    comments.sort_by_key(|(range, _)| range.start);
    Ok(Parsed { docs, comments })
}

fn unexpected(span: &Span) -> YamlError {
    YamlError {
        line: span.start.line(),
        column: span.start.col() + 1,
        message: "unexpected YAML event".into(),
    }
}

struct Builder<'a> {
    text: &'a str,
    events: Parser<'a, granit_parser::StrInput<'a>>,
    comments: Vec<(Range<usize>, Cow<'a, str>)>,
}

impl<'a> Builder<'a> {
    /// The next non-comment event; comments are collected.
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        loop {
            match self.events.next() {
                None => {
                    return Err(YamlError {
                        line: 0,
                        column: 0,
                        message: "unexpected end of YAML events".into(),
                    });
                }
                Some(Err(e)) => return Err(scan_error(&e)),
                Some(Ok((Event::Comment(text, _), span))) => {
                    if let Some(range) = span.byte_range() {
                        self.comments.push((range, text));
                    }
                }
                Some(Ok(ev)) => return Ok(ev),
            }
        }
    }

    /// Build the node starting with `event`, recursively; returns its index.
    fn node(
        &mut self,
        doc: &mut Doc<'a>,
        event: Event<'a>,
        span: Span,
        in_flow: bool,
        block_item: bool,
    ) -> Result<usize, YamlError> {
        let line = span.start.line();
        let node = match event {
            Event::Scalar(value, style, _, tag) => {
                let Some(range) = span.byte_range() else {
                    return Err(YamlError {
                        line,
                        column: span.start.col() + 1,
                        message: "scalar without a source position".into(),
                    });
                };
                let null = match &tag {
                    Some(tag) => tag.is_yaml_core_schema_tag("null"),
                    None => style == ScalarStyle::Plain && is_null(&value),
                };
                Node::Scalar(Scalar {
                    value,
                    style,
                    range,
                    null,
                    in_flow,
                    block_item,
                })
            }
            Event::Alias(_) => {
                let name = span
                    .byte_range()
                    .and_then(|r| self.text.get(r))
                    .map_or("", |s| s.trim_start_matches('*'));
                Node::Alias(name)
            }
            Event::SequenceStart(style, ..) => {
                let flow = in_flow || style == StructureStyle::Flow;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(doc, event, span, flow, !flow)?);
                }
                Node::Seq(items)
            }
            Event::MappingStart(style, ..) => {
                let flow = in_flow || style == StructureStyle::Flow;
                let mut entries = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(doc, event, span, flow, false)?;
                    let (event, span) = self.next()?;
                    let value = self.node(doc, event, span, flow, false)?;
                    entries.push((key, value));
                }
                Node::Map(entries)
            }
            _ => return Err(unexpected(&span)),
        };
        doc.nodes.push((node, line));
        Ok(doc.nodes.len() - 1)
    }
}

impl<'a> Doc<'a> {
    fn node(&self, id: usize) -> Option<&Node<'a>> {
        self.nodes.get(id).map(|(n, _)| n)
    }

    fn line(&self, id: usize) -> usize {
        self.nodes.get(id).map_or(0, |(_, line)| *line)
    }

    fn is_null(&self, id: usize) -> bool {
        matches!(self.node(id), Some(Node::Scalar(s)) if s.null)
    }

    /// The value of the first entry with this key (kyaml's `Field`).
    fn field(&self, map: usize, key: &str) -> Option<usize> {
        let Some(Node::Map(entries)) = self.node(map) else {
            return None;
        };
        entries
            .iter()
            .find(|(k, _)| self.raw_value(*k) == key)
            .map(|(_, v)| *v)
    }

    /// go-yaml's `Node.Value`: the scalar text, the alias name, empty for collections.
    fn raw_value(&self, id: usize) -> &str {
        match self.node(id) {
            Some(Node::Scalar(s)) => &s.value,
            Some(Node::Alias(name)) => name,
            _ => "",
        }
    }

    /// kyaml's `GetValue` of a field that is not nil or empty: "" for nulls.
    fn field_value(&self, map: usize, key: &str) -> String {
        match self.field(map, key) {
            Some(v) if !self.is_null(v) => self.raw_value(v).to_owned(),
            _ => String::new(),
        }
    }

    /// kyaml's `GetMeta` identity of an object node.
    fn object_id(&self, object: usize) -> ObjectId {
        let mut id = ObjectId {
            api_version: self.field_value(object, "apiVersion"),
            kind: self.field_value(object, "kind"),
            ..ObjectId::default()
        };
        if let Some(meta) = self.field(object, "metadata") {
            id.name = self.field_value(meta, "name");
            id.namespace = self.field_value(meta, "namespace");
        }
        id
    }

    /// The objects kyaml's reader makes of a document: the document itself, or the items of
    /// a `List` when the file has a single chunk.
    fn objects(&self, root: usize, single_chunk: bool) -> Vec<usize> {
        if single_chunk {
            let kind = self.field_value(root, "kind");
            let items = self.field(root, "items");
            if (kind == "List" || kind == "ResourceList")
                && (items.is_some() || self.field(root, "functionConfig").is_some())
            {
                return match items.and_then(|i| self.node(i)) {
                    Some(Node::Seq(items)) => items.clone(),
                    Some(Node::Map(entries)) => entries.iter().flat_map(|&(k, v)| [k, v]).collect(),
                    _ => Vec::new(),
                };
            }
        }
        vec![root]
    }

    /// Visit the scalars kyaml's setters visit: mapping values and sequence items.
    fn visit(&self, id: usize, f: &mut dyn FnMut(&Scalar<'a>)) {
        match self.node(id) {
            Some(Node::Scalar(s)) => f(s),
            Some(Node::Map(entries)) => {
                for &(_, v) in entries {
                    self.visit(v, f);
                }
            }
            Some(Node::Seq(items)) => {
                for &i in items {
                    self.visit(i, f);
                }
            }
            Some(Node::Alias(_)) | None => {}
        }
    }
}

/// Reject documents kyaml's reader cannot annotate: a root that is not a mapping, a
/// `metadata` or `metadata.annotations` that is neither null nor a mapping.
fn check_document(doc: &Doc<'_>, root: usize) -> Result<(), YamlError> {
    let not_mapping = |id: usize, what: &str| YamlError {
        line: doc.line(id),
        column: 1,
        message: format!("{what} is not a mapping"),
    };
    if !matches!(doc.node(root), Some(Node::Map(_))) {
        return Err(not_mapping(root, "document"));
    }
    let Some(meta) = doc.field(root, "metadata") else {
        return Ok(());
    };
    match doc.node(meta) {
        Some(Node::Map(_)) => {}
        _ if doc.is_null(meta) => return Ok(()),
        _ => return Err(not_mapping(meta, "metadata")),
    }
    match doc.field(meta, "annotations") {
        Some(a) if !doc.is_null(a) && !matches!(doc.node(a), Some(Node::Map(_))) => {
            Err(not_mapping(a, "metadata.annotations"))
        }
        _ => Ok(()),
    }
}

impl<'a> Parsed<'a> {
    /// The comment that can mark this scalar (go-yaml v3's `LineComment`, else a one-line
    /// `HeadComment` of a block sequence item), as the text after its `#`.
    fn marker_comment(&self, text: &str, s: &Scalar<'_>) -> Option<&str> {
        if s.range.is_empty() || matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded) {
            return None;
        }
        let end = s.range.end;
        let next = self.comments.partition_point(|(r, _)| r.start < end);
        if let Some((range, comment)) = self.comments.get(next) {
            let gap = text.get(end..range.start)?.trim_matches([' ', '\t']);
            let gap = gap
                .strip_prefix(',')
                .unwrap_or(gap)
                .trim_matches([' ', '\t']);
            if gap.is_empty() {
                return Some(comment);
            }
        }
        if s.block_item {
            return self.head_comment(text, s.range.start);
        }
        None
    }

    /// A block sequence item `- value` whose previous line is a lone comment at the column of
    /// the `-`, itself not preceded by another comment line (go-yaml would join them).
    fn head_comment(&self, text: &str, start: usize) -> Option<&str> {
        let line_start = line_start(text, start);
        let prefix = text.get(line_start..start)?;
        let after_indent = prefix.trim_start_matches(' ');
        let column = prefix.len() - after_indent.len();
        let after_dash = after_indent.strip_prefix('-')?;
        if after_dash.is_empty() || !after_dash.bytes().all(|b| b == b' ' || b == b'\t') {
            return None;
        }
        let (prev_start, prev) = previous_line(text, line_start)?;
        let comment = self.comment_at(prev_start + column)?;
        if !prev.get(..column)?.bytes().all(|b| b == b' ') {
            return None;
        }
        if let Some((pp_start, pp)) = previous_line(text, prev_start) {
            let indent = pp.len() - pp.trim_start_matches([' ', '\t']).len();
            if self.comment_at(pp_start + indent).is_some() {
                return None;
            }
        }
        Some(comment)
    }

    fn comment_at(&self, offset: usize) -> Option<&str> {
        let i = self.comments.partition_point(|(r, _)| r.start < offset);
        match self.comments.get(i) {
            Some((r, c)) if r.start == offset => Some(c),
            _ => None,
        }
    }
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The byte offset where the line containing `at` starts.
fn line_start(text: &str, at: usize) -> usize {
    text.as_bytes()[..at]
        .iter()
        .rposition(|&b| is_break(b))
        .map_or(0, |p| p + 1)
}

/// The line before the one starting at `line_start`: its start and its text (without break).
fn previous_line(text: &str, line_start: usize) -> Option<(usize, &str)> {
    if line_start == 0 {
        return None;
    }
    let bytes = text.as_bytes();
    let mut end = line_start - 1;
    if bytes[end] == b'\n' && end > 0 && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    let start = self::line_start(text, end);
    Some((start, text.get(start..end)?))
}

// ---------------------------------------------------------------------------------------
// Writing a new value in the style of the scalar it replaces.

/// The source text for `value` replacing a scalar of `style` (see the module docs).
fn render(value: &str, style: ScalarStyle, in_flow: bool) -> String {
    match style {
        ScalarStyle::DoubleQuoted => double_quoted(value),
        ScalarStyle::SingleQuoted => {
            if single_quote_allowed(value) {
                single_quoted(value)
            } else {
                double_quoted(value)
            }
        }
        _ => {
            if needs_double_quotes(value) {
                double_quoted(value)
            } else if !plain_allowed(value, in_flow) {
                if single_quote_allowed(value) {
                    single_quoted(value)
                } else {
                    double_quoted(value)
                }
            } else {
                value.to_owned()
            }
        }
    }
}

/// kyaml double-quotes a string that would read as something else (`FormatNonStringStyle`,
/// YAML 1.1), and go-yaml v3 does for one its own resolver reads as a non-string.
fn needs_double_quotes(value: &str) -> bool {
    value.is_empty() || implicitly_non_string(value) || document_non_string(value)
}

/// kyaml's `IsValueNonString`: the value read as a YAML document is not a string.
fn document_non_string(value: &str) -> bool {
    if value.contains('\n') {
        return false;
    }
    let mut result = None;
    for next in Parser::new_from_str(value) {
        let Ok((event, _)) = next else {
            return false; // go-yaml v2 fails too: a string
        };
        if result.is_some() {
            continue; // parse to the end: a later error makes it a string
        }
        match event {
            Event::Scalar(v, style, _, tag) => {
                result = Some(match tag {
                    Some(tag) => match tag.core_suffix() {
                        Some(suffix) => suffix != "str",
                        None => false,
                    },
                    None => style == ScalarStyle::Plain && implicitly_non_string(&v),
                });
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => result = Some(true),
            Event::Alias(_) => return false,
            Event::DocumentEnd => result = Some(true), // an empty document: null
            _ => {}
        }
    }
    result.unwrap_or(false)
}

fn is_null(value: &str) -> bool {
    matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

/// go-yaml (v2 and v3) implicit resolution of a plain scalar: true unless a string
/// (v2's resolver, which also reads timestamps as v3 does, plus v3's merge key).
fn implicitly_non_string(value: &str) -> bool {
    value == "<<"
        || !matches!(
            gitops_go::yaml::resolve_v2_with_timestamps(value),
            gitops_go::yaml::Scalar::Str
        )
}

/// libyaml's printable set (as go-yaml's emitter uses it: characters beyond the BMP are not).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

/// go-yaml's emitter analysis (`yaml_emitter_analyze_scalar`) for a plain scalar in block
/// context. In flow context, YAML's flow indicators `,[]{}` must not appear either (the
/// emitter also refuses `:` and `?` anywhere there, which parsers accept).
fn plain_allowed(value: &str, in_flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if value.starts_with("---") || value.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = value.chars().collect();
    let blank_after = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ' || *c == '\t');
    if matches!(
        first,
        '#' | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
    ) || (matches!(first, '?' | ':' | '-') && blank_after(0))
    {
        return false;
    }
    if first == ' ' || value.ends_with(' ') {
        return false;
    }
    for (i, &c) in chars.iter().enumerate() {
        match c {
            ':' if blank_after(i) => return false,
            '#' if i > 0 && (chars[i - 1] == ' ' || chars[i - 1] == '\t') => return false,
            ',' | '[' | ']' | '{' | '}' if in_flow => return false,
            '\t' => return false,
            c if !is_printable(c) || c == '\n' => return false,
            _ => {}
        }
    }
    true
}

/// libyaml allows single quotes unless the value has tabs, line breaks or unprintables.
fn single_quote_allowed(value: &str) -> bool {
    value.chars().all(|c| is_printable(c) && c != '\n')
}

fn single_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A double-quoted scalar with libyaml's escapes.
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if is_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: &str) -> String {
        render(v, ScalarStyle::Plain, false)
    }

    #[test]
    fn plain_values_stay_plain_when_they_read_back_as_strings() {
        for v in [
            "v1.2.3",
            "1.2.3",
            "nginx:1.25",
            "ghcr.io/org/app:v1@sha256:0123abcd",
            "sha256:6745aaad",
            "0.1.0-rc.1",
            "1:20",
            "-x",
            "a#b",
            "x,y",
            "café",
            "2023-13-01",
            "1e",
            "0x",
            "0b102",
        ] {
            assert_eq!(plain(v), v, "{v}");
        }
    }

    #[test]
    fn plain_values_reading_as_non_strings_are_double_quoted() {
        for v in [
            "1",
            "123",
            "1.0",
            "1.",
            ".5",
            "1e3",
            "1E-3",
            "+1",
            "-1",
            "08",
            "0777",
            "0x1F",
            "0o17",
            "0b101",
            "1_000",
            "true",
            "False",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "N",
            "null",
            "~",
            "NULL",
            ".inf",
            "-.Inf",
            ".nan",
            "<<",
            "2023-01-01",
            "2023-1-2",
            "2001-12-14t21:59:43.10Z",
            "2001-12-14T21:59:43+01:00",
            "2001-12-14 21:59:43.10",
            "a: b",
            "- x",
            "[a, b]",
            "{a: 1}",
            "? x",
            "5 # five",
            "!!int 5",
            "&a 5",
            "---",
            "",
        ] {
            assert_eq!(plain(v), double_quoted(v), "{v}");
        }
    }

    #[test]
    fn plain_values_that_cannot_be_plain_are_single_quoted() {
        assert_eq!(plain("a #b"), "'a #b'");
        assert_eq!(plain("a:"), "\"a:\""); // reads as a mapping
        assert_eq!(plain("[a"), "'[a'");
        assert_eq!(plain("*alias"), "'*alias'");
        assert_eq!(plain("'q'"), "'''q'''");
        assert_eq!(plain(" lead"), "' lead'");
        assert_eq!(plain("trail "), "'trail '");
        assert_eq!(plain("%x"), "'%x'");
        assert_eq!(plain("@x"), "'@x'");
        assert_eq!(plain("!!str 5"), "'!!str 5'");
        // In a flow collection, flow indicators force quotes too.
        assert_eq!(render("x,y", ScalarStyle::Plain, true), "'x,y'");
        assert_eq!(render("x]", ScalarStyle::Plain, true), "'x]'");
        assert_eq!(render("nginx:1.25", ScalarStyle::Plain, true), "nginx:1.25");
        // Tabs and control characters need double quotes.
        assert_eq!(plain("a\tb"), "\"a\\tb\"");
        assert_eq!(plain("a\u{1}b"), "\"a\\x01b\"");
    }

    #[test]
    fn quoted_values_keep_their_style() {
        assert_eq!(render("1.0", ScalarStyle::SingleQuoted, false), "'1.0'");
        assert_eq!(render("it's", ScalarStyle::SingleQuoted, false), "'it''s'");
        assert_eq!(
            render("a\tb", ScalarStyle::SingleQuoted, false),
            "\"a\\tb\""
        );
        assert_eq!(render("1.0", ScalarStyle::DoubleQuoted, false), "\"1.0\"");
        assert_eq!(
            render("a\"b\\c", ScalarStyle::DoubleQuoted, false),
            "\"a\\\"b\\\\c\""
        );
    }

    #[test]
    fn double_quoted_escapes_follow_libyaml() {
        assert_eq!(double_quoted("é ü"), "\"é ü\"");
        assert_eq!(double_quoted("\u{1F600}"), "\"\\U0001F600\"");
        assert_eq!(double_quoted("\u{feff}"), "\"\\uFEFF\"");
        assert_eq!(double_quoted("a\nb\r"), "\"a\\nb\\r\"");
        assert_eq!(double_quoted("\u{85}\u{2028}"), "\"\\N\\L\"");
        assert_eq!(double_quoted("\u{7f}"), "\"\\x7F\"");
    }

    #[test]
    fn go_yaml_non_strings() {
        for v in [
            "9223372036854775807",
            "18446744073709551615",
            "0X1f",
            "089",
            "yes",
            "<<",
            "2001-12-14",
            "1e3",
            ".5",
            "~",
        ] {
            assert!(implicitly_non_string(v), "{v}");
        }
        for v in ["1:30", "1.2.3", "0x1p3", "v1", "2001-13-01"] {
            assert!(!implicitly_non_string(v), "{v}");
        }
    }

    #[test]
    fn separators_like_flux() {
        assert_eq!(check_separators("a: 1\n---\nb: 2\n"), Ok(2));
        assert_eq!(check_separators("---\na: 1\n"), Ok(1));
        assert_eq!(check_separators("a: 1\r\n--- # c\r\nb: 2\r\n"), Ok(2));
        assert_eq!(check_separators("a: 1\n---\n---\nb: 2\n"), Ok(2));
        assert_eq!(check_separators("a: 1\n---"), Ok(1));
        let err = check_separators("a: 1\n--- !tag\nb: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.message, "invalid document separator: --- !tag");
        assert!(check_separators("a: 1\n----\n").is_err());
    }

    #[test]
    fn update_paths() {
        assert_eq!(normalize_update_path("").unwrap(), Vec::<String>::new());
        assert_eq!(normalize_update_path(".").unwrap(), Vec::<String>::new());
        assert_eq!(normalize_update_path("./apps/").unwrap(), ["apps"]);
        assert_eq!(
            normalize_update_path("apps/../infra//x").unwrap(),
            ["infra", "x"]
        );
        assert!(matches!(
            normalize_update_path("../x"),
            Err(SetterError::OutsideRoot { .. })
        ));
        assert!(matches!(
            normalize_update_path("a/../../x"),
            Err(SetterError::OutsideRoot { .. })
        ));
        assert!(matches!(
            normalize_update_path("/etc"),
            Err(SetterError::AbsolutePath { .. })
        ));
    }

    #[test]
    fn marker_comments() {
        let setters = Setters::new(&[PolicyImage {
            namespace: "ns".into(),
            name: "p".into(),
            image: "img".into(),
            tag: "v2".into(),
            digest: None,
        }]);
        let found = |c: &str| setters.lookup(c).map(|(k, v)| (k.to_owned(), v.to_owned()));
        let full = Some(("ns:p".to_owned(), "img:v2".to_owned()));
        assert_eq!(found(r#" {"$imagepolicy": "ns:p"}"#), full);
        assert_eq!(found(r#"{"$imagepolicy":"ns:p"}"#), full);
        assert_eq!(found(r##"## { "$imagepolicy" : "ns:p" }  "##), full);
        assert_eq!(found(r#" {"other": "x", "$imagepolicy": "ns:p"}"#), full);
        assert_eq!(
            found(r#" {"$imagepolicy": "ns:p:tag"}"#),
            Some(("ns:p:tag".to_owned(), "v2".to_owned()))
        );
        assert_eq!(
            found(r#" {"$imagepolicy": "ns:p:digest"}"#),
            Some(("ns:p:digest".to_owned(), String::new()))
        );
        assert_eq!(
            found(r##" {"$ref": "#/definitions/io.k8s.cli.setters.ns:p:name"}"##),
            Some(("ns:p:name".to_owned(), "img".to_owned()))
        );
        assert_eq!(found(r#" {"$imagepolicy": "ns:q"}"#), None);
        assert_eq!(found(r#" {"$imagepolicy": "ns:p"} trailing"#), None);
        assert_eq!(found(r#" {"$imagepolicy": "ns:p", "n": 1}"#), None);
        assert_eq!(found(r#" {"$ImagePolicy": "ns:p"}"#), None);
        assert_eq!(found(r#" $imagepolicy: ns:p"#), None);
    }
}
