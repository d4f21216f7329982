//! Git sources with gitoxide: fetch a reference over `http(s)://`, `git://`, `ssh://` or
//! `file://` into a bare repository (shallow when the reference allows), then write the
//! artifact straight from the object database — no worktree checkout.
//!
//! ```no_run
//! use gitops_source::git::{FetchOptions, GitReference, FetchOutcome, ArchiveOptions};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let opts = FetchOptions::new("https://example.com/repo.git", GitReference::Branch("main".into()));
//! let work = tempfile::tempdir()?;
//! if let FetchOutcome::Fetched(repo) = gitops_source::git::fetch(&opts, work.path(), None)? {
//!     println!("{}", repo.revision); // main@sha1:…
//!     let (_bytes, info) = repo.archive(&ArchiveOptions::default(), Vec::new())?;
//!     println!("{}", info.digest);
//! }
//! # Ok(()) }
//! ```
//!
//! Checking out, committing and pushing (image automation) live in [`crate::git_push`]: the
//! same gix repository, and a receive-pack client on the same gix-transport connections,
//! credentials and SSH settings as this module's fetch (see the crate docs).

use crate::archive::{ArchiveInfo, ArtifactWriter, sort_paths};
use crate::ignore::{IgnoreRules, SOURCEIGNORE};
use gitops_go::semver::Constraints;
use std::collections::BTreeMap;
use std::io::Write;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Errors of Git operations. Messages name the URL and reference; never credentials.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL cannot be used.
    #[error("invalid Git URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server refused the credentials (or asked for some and none were given).
    #[error("authentication to {url} failed: {message}")]
    Authentication {
        /// The URL.
        url: String,
        /// Details from the transport.
        message: String,
    },
    /// The reference does not exist on the remote.
    #[error("{reference} not found in {url}")]
    RefNotFound {
        /// E.g. `branch 'main'`.
        reference: String,
        /// The URL.
        url: String,
    },
    /// No tag matches the semver range.
    #[error("no tag in {url} matches semver range {range:?}")]
    NoSemverMatch {
        /// The range.
        range: String,
        /// The URL.
        url: String,
    },
    /// The semver range is not a Masterminds constraint.
    #[error("invalid semver range {range:?}: {source}")]
    BadRange {
        /// The range as written.
        range: String,
        /// Masterminds' complaint.
        source: gitops_go::semver::ConstraintError,
    },
    /// Talking to the remote failed.
    #[error("fetching {reference} from {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// The reference being fetched.
        reference: String,
        /// Details.
        message: String,
    },
    /// The operation was interrupted (timeout).
    #[error("fetching {url} was interrupted")]
    Interrupted {
        /// The URL.
        url: String,
    },
    /// A local repository operation failed.
    #[error("git repository {path}: {message}")]
    Repository {
        /// The repository directory.
        path: String,
        /// Details.
        message: String,
    },
    /// The commit's files are larger than the artifact may be.
    #[error(
        "the files of the commit exceed the artifact size limit of {limit} bytes (at {path}, {size} bytes)"
    )]
    TooLarge {
        /// The file at which the total passed the limit.
        path: String,
        /// That file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Writing the archive failed.
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    /// An ignore pattern is invalid.
    #[error(transparent)]
    Ignore(#[from] crate::ignore::IgnoreError),
    /// The remote reference is not where the caller built on (someone pushed meanwhile):
    /// fetch again, redo the change on the new tip and push again. Nothing was pushed.
    #[error(
        "{reference} in {url} moved: expected {}, found {}",
        expected.as_deref().unwrap_or("no such reference"),
        actual.as_deref().unwrap_or("no such reference")
    )]
    RemoteMoved {
        /// The URL.
        url: String,
        /// The full reference name, e.g. `refs/heads/main`.
        reference: String,
        /// The commit the caller built on (`None`: the reference was expected not to exist).
        expected: Option<String>,
        /// What the remote has now (`None`: the reference does not exist).
        actual: Option<String>,
    },
    /// The remote refused to update a reference (`ng <ref> <reason>`), e.g. a protected
    /// branch, a hook, or a non-fast-forward it detected itself.
    #[error("{url} rejected the push to {reference}: {reason}")]
    PushRejected {
        /// The URL.
        url: String,
        /// The full reference name.
        reference: String,
        /// The server's reason.
        reason: String,
    },
    /// Pushing failed: transport, protocol, unpack or capability errors.
    #[error("pushing to {url}: {message}")]
    Push {
        /// The URL.
        url: String,
        /// Details.
        message: String,
    },
    /// A commit could not be signed (bad key, wrong passphrase, unsupported algorithm).
    #[error("signing the commit: {message}")]
    Signing {
        /// Details; never key material.
        message: String,
    },
    /// A path given for a change or found in a tree cannot be used.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Credentials and trust for a Git remote, from a Secret's data.
#[derive(Clone, Default)]
pub struct GitAuth {
    /// HTTP basic auth user name.
    pub username: Option<String>,
    /// HTTP basic auth password.
    pub password: Option<String>,
    /// HTTP bearer token.
    pub bearer_token: Option<String>,
    /// SSH private key (PEM/OpenSSH).
    pub ssh_identity: Option<Vec<u8>>,
    /// SSH `known_hosts` content; host keys are checked strictly when set.
    pub ssh_known_hosts: Option<Vec<u8>>,
    /// Extra CA certificates (PEM) trusted for HTTPS.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "ssh_identity",
                &self.ssh_identity.as_ref().map(|_| "<redacted>"),
            )
            .field("ssh_known_hosts", &self.ssh_known_hosts.is_some())
            .field("ca_pem", &self.ca_pem.is_some())
            .finish()
    }
}

impl GitAuth {
    /// Reads Flux's Secret keys: `username`, `password`, `bearerToken`, `identity`,
    /// `known_hosts`, `ca.crt` (or the legacy `caFile`).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Self {
        let s = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .filter(|v| !v.is_empty())
        };
        GitAuth {
            username: s("username"),
            password: s("password"),
            bearer_token: s("bearerToken"),
            ssh_identity: data.get("identity").cloned(),
            ssh_known_hosts: data.get("known_hosts").cloned(),
            ca_pem: data.get("ca.crt").or_else(|| data.get("caFile")).cloned(),
        }
    }
}

/// What to check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitReference {
    /// The tip of a branch.
    Branch(String),
    /// A tag (annotated tags are peeled to their commit).
    Tag(String),
    /// The highest tag matching a semver range.
    Semver(String),
    /// Any reference, e.g. `refs/pull/1/head`.
    Name(String),
    /// A commit, optionally required to be on a branch.
    Commit {
        /// The commit id (full hex).
        sha: String,
        /// The branch to fetch it from; all branches when absent.
        branch: Option<String>,
    },
}

impl GitReference {
    /// From a GitRepository's `spec.ref`, with Flux's precedence: commit, name, semver, tag,
    /// branch; `master` when nothing is set.
    pub fn from_spec(r: Option<&gitops_api::source::GitRepositoryRef>) -> Self {
        let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
        let Some(r) = r else {
            return GitReference::Branch("master".into());
        };
        if let Some(sha) = nonempty(&r.commit) {
            return GitReference::Commit {
                sha,
                branch: nonempty(&r.branch),
            };
        }
        if let Some(n) = nonempty(&r.name) {
            return GitReference::Name(n);
        }
        if let Some(s) = nonempty(&r.semver) {
            return GitReference::Semver(s);
        }
        if let Some(t) = nonempty(&r.tag) {
            return GitReference::Tag(t);
        }
        GitReference::Branch(nonempty(&r.branch).unwrap_or_else(|| "master".into()))
    }

    fn describe(&self) -> String {
        match self {
            GitReference::Branch(b) => format!("branch '{b}'"),
            GitReference::Tag(t) => format!("tag '{t}'"),
            GitReference::Semver(s) => format!("semver '{s}'"),
            GitReference::Name(n) => format!("reference '{n}'"),
            GitReference::Commit { sha, .. } => format!("commit '{sha}'"),
        }
    }
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Remote URL.
    pub url: String,
    /// What to fetch.
    pub reference: GitReference,
    /// Credentials.
    pub auth: GitAuth,
    /// Set to stop the operation (e.g. on timeout).
    pub interrupt: Arc<AtomicBool>,
    /// Connection timeout for HTTP.
    pub connect_timeout: std::time::Duration,
    /// Largest object the fetch may inflate, in bytes: a pack compresses a huge blob to a
    /// few bytes, and indexing it would otherwise allocate all of it (`None`: no limit).
    pub max_object_size: Option<u64>,
}

impl FetchOptions {
    /// Options without credentials.
    pub fn new(url: impl Into<String>, reference: GitReference) -> Self {
        FetchOptions {
            url: url.into(),
            reference,
            auth: GitAuth::default(),
            interrupt: Arc::new(AtomicBool::new(false)),
            connect_timeout: std::time::Duration::from_secs(20),
            max_object_size: None,
        }
    }
}

/// The result of [`fetch`].
#[derive(Debug)]
pub enum FetchOutcome {
    /// The remote still points at the revision given as `last_revision`; nothing fetched.
    Unchanged(String),
    /// The objects were fetched.
    Fetched(Box<FetchedRepo>),
}

/// A fetched commit in a local bare repository.
#[derive(Debug)]
pub struct FetchedRepo {
    /// The local repository.
    pub dir: PathBuf,
    /// The commit id (hex).
    pub commit: String,
    /// Flux's revision string: `main@sha1:…`, `v1.0.0@sha1:…`, `sha1:…`.
    pub revision: String,
    /// The commit message's first line.
    pub message: String,
    url: String,
    auth: GitAuth,
    interrupt: Arc<AtomicBool>,
}

fn gix_err(msg: String) -> gix::Error {
    use gix::error::ErrorExt;
    gix::error::Message::from(msg).raise_erased().into()
}

/// A gix error chain on one line: `outer: cause: root cause`.
pub(crate) fn one_line(e: &gix::Error) -> String {
    let full = format!("{e:#}");
    let mut parts: Vec<String> = Vec::new();
    for l in full.lines() {
        let l = l.trim();
        let l = l
            .split_once(": ")
            .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
            .map_or(l, |(_, r)| r);
        if l.is_empty() || l == "Caused by:" || parts.iter().any(|p| p == l) {
            continue;
        }
        parts.push(l.to_owned());
    }
    // The outermost context and the root cause say what and why; the middle repeats.
    if parts.len() > 2 {
        let last = parts.pop().unwrap_or_default();
        parts.truncate(1);
        let root = last
            .rsplit_once("message: \"")
            .and_then(|(_, r)| r.split_once('"'))
            .map_or(last.as_str(), |(m, _)| m)
            .to_owned();
        parts.push(root);
    }
    let joined = parts.join(": ");
    // gix renders its message type with Debug; keep only the text.
    static MESSAGE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"Message \{ message: "((?:[^"\\]|\\.)*)"(?:, class: \w+)? \}"#).ok()
    });
    match MESSAGE.as_ref() {
        Some(re) => re.replace_all(&joined, "$1").replace("\\\"", "\""),
        None => joined,
    }
}

pub(crate) fn repo_err(path: &Path) -> impl Fn(gix::Error) -> GitError + '_ {
    move |e| GitError::Repository {
        path: path.display().to_string(),
        message: one_line(&e),
    }
}

/// Writes SSH material to files in `dir` and returns the `core.sshCommand` value.
pub(crate) fn ssh_command(auth: &GitAuth, dir: &Path) -> Result<Option<String>, GitError> {
    if auth.ssh_identity.is_none() && auth.ssh_known_hosts.is_none() {
        return Ok(None);
    }
    let write = |name: &str, data: &[u8]| -> Result<PathBuf, GitError> {
        let p = dir.join(name);
        std::fs::write(&p, data).map_err(|source| GitError::Io {
            path: p.display().to_string(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
        Ok(p)
    };
    let mut cmd = String::from("ssh -o BatchMode=yes -o IdentitiesOnly=yes");
    if let Some(id) = &auth.ssh_identity {
        let mut id = id.clone();
        if !id.ends_with(b"\n") {
            id.push(b'\n');
        }
        let p = write("identity", &id)?;
        cmd.push_str(&format!(" -i '{}'", p.display()));
    }
    match &auth.ssh_known_hosts {
        Some(kh) => {
            let p = write("known_hosts", kh)?;
            cmd.push_str(&format!(
                " -o StrictHostKeyChecking=yes -o UserKnownHostsFile='{}'",
                p.display()
            ));
        }
        None => cmd.push_str(" -o StrictHostKeyChecking=yes"),
    }
    Ok(Some(cmd))
}

fn refspecs(reference: &GitReference, semver_tag: Option<&str>) -> Vec<String> {
    match reference {
        GitReference::Branch(b) => vec![format!("+refs/heads/{b}:refs/heads/{b}")],
        GitReference::Tag(t) => vec![format!("+refs/tags/{t}:refs/tags/{t}")],
        GitReference::Semver(_) => match semver_tag {
            Some(t) => vec![format!("+refs/tags/{t}:refs/tags/{t}")],
            None => vec!["+refs/tags/*:refs/tags/*".into()],
        },
        GitReference::Name(n) => {
            let full = if n.starts_with("refs/") {
                n.clone()
            } else {
                format!("refs/heads/{n}")
            };
            vec![format!("+{full}:{full}")]
        }
        GitReference::Commit {
            branch: Some(b), ..
        } => {
            vec![format!("+refs/heads/{b}:refs/heads/{b}")]
        }
        GitReference::Commit { branch: None, .. } => vec!["+refs/heads/*:refs/heads/*".into()],
    }
}

struct Session {
    repo: gix::Repository,
    dir: PathBuf,
    auth_requested: Arc<AtomicBool>,
}

fn open_session(opts: &FetchOptions, dir: &Path) -> Result<Session, GitError> {
    std::fs::create_dir_all(dir).map_err(|source| GitError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut repo = gix::init_bare(dir).map_err(repo_err(dir))?;
    {
        let mut cfg = repo.config_snapshot_mut();
        if let Some(cmd) = ssh_command(&opts.auth, dir)? {
            cfg.set_value(&gix::config::tree::Core::SSH_COMMAND, cmd.as_str())
                .map_err(repo_err(dir))?;
        }
        if let Some(max) = opts.max_object_size {
            cfg.set_value(
                &gix::config::tree::gitoxide::Objects::ALLOC_LIMIT,
                max.to_string().as_str(),
            )
            .map_err(repo_err(dir))?;
        }
        cfg.commit().map_err(repo_err(dir))?;
    }
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    Ok(Session {
        repo,
        dir: dir.to_owned(),
        auth_requested: Arc::new(AtomicBool::new(false)),
    })
}

fn classify(opts: &FetchOptions, reference: &str, auth_requested: bool, e: gix::Error) -> GitError {
    let message = one_line(&e);
    if opts.interrupt.load(Ordering::Relaxed) {
        return GitError::Interrupted {
            url: opts.url.clone(),
        };
    }
    let lower = message.to_ascii_lowercase();
    if let Some(limit) = opts.max_object_size
        && lower.contains("too large to fit in memory")
    {
        return GitError::Transport {
            url: opts.url.clone(),
            reference: reference.to_owned(),
            message: format!(
                "the remote sent an object larger than the artifact size limit of {limit} bytes"
            ),
        };
    }
    if opts.url.starts_with("ssh://") && lower.contains("handshake failed") && !auth_requested {
        // ssh's own diagnostics go to its stderr; say what the usual causes are.
        return GitError::Transport {
            url: opts.url.clone(),
            reference: reference.to_owned(),
            message: format!(
                "the SSH connection closed during the handshake (host unreachable, host key not in known_hosts, or key refused): {message}"
            ),
        };
    }
    if auth_requested
        || lower.contains("401")
        || lower.contains("403")
        || lower.contains("authentication")
        || lower.contains("permission denied")
        || lower.contains("host key verification failed")
    {
        return GitError::Authentication {
            url: opts.url.clone(),
            message,
        };
    }
    GitError::Transport {
        url: opts.url.clone(),
        reference: reference.to_owned(),
        message,
    }
}

/// Lists the remote's references matching `specs`: `(full name, commit)`, tags peeled.
fn list_refs(
    s: &Session,
    opts: &FetchOptions,
    specs: &[String],
) -> Result<Vec<(String, String)>, GitError> {
    let describe = opts.reference.describe();
    let remote = remote(s, opts, specs)?;
    let conn = connect(s, opts, &remote, &describe)?;
    let (map, _) = conn
        .ref_map(gix::progress::Discard, Default::default())
        .map_err(|e| classify(opts, &describe, s.auth_requested.load(Ordering::Relaxed), e))?;
    Ok(map
        .remote_refs
        .iter()
        .filter_map(|r| {
            let (name, target, peeled) = r.unpack();
            let id = peeled.or(target)?;
            Some((name.to_string(), id.to_hex().to_string()))
        })
        .collect())
}

fn remote<'r>(
    s: &'r Session,
    opts: &FetchOptions,
    specs: &[String],
) -> Result<gix::Remote<'r>, GitError> {
    let invalid = |reason: String| GitError::InvalidUrl {
        url: opts.url.clone(),
        reason,
    };
    let url = gix::url::parse(gix::bstr::BStr::new(opts.url.as_str()))
        .map_err(|e| invalid(e.to_string()))?;
    s.repo
        .remote_at(url)
        .map_err(|e| invalid(format!("{e:#}")))?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(
            specs.iter().map(String::as_str),
            gix::remote::Direction::Fetch,
        )
        .map_err(|e| invalid(format!("{e:#}")))
}

type Conn<'a, 'r> = gix::remote::Connection<
    'a,
    'a,
    'r,
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
>;

fn connect<'a, 'r>(
    s: &'a Session,
    opts: &FetchOptions,
    remote: &'a gix::Remote<'r>,
    describe: &str,
) -> Result<Conn<'a, 'r>, GitError>
where
    'r: 'a,
{
    let transport_options = http_options(s, opts);
    let mut conn = remote
        .connect(gix::remote::Direction::Fetch)
        .map_err(|e| classify(opts, describe, false, e))?;
    if let Some(o) = transport_options {
        conn.set_transport_options(o);
    }
    let account = basic_account(&opts.auth);
    let requested = s.auth_requested.clone();
    Ok(conn.with_credentials(move |action| match action {
        gix::credentials::helper::Action::Get(ctx) => {
            let Some(identity) = account.clone() else {
                requested.store(true, Ordering::Relaxed);
                return Err(gix_err(
                    "the server asks for credentials and none were given".into(),
                ));
            };
            if requested.swap(true, Ordering::Relaxed) {
                // Asked twice: the first answer was refused.
                return Err(gix_err("the credentials were refused".into()));
            }
            Ok(Some(gix::credentials::protocol::Outcome {
                identity,
                next: ctx.into(),
            }))
        }
        _ => Ok(None),
    }))
}

/// The HTTP basic-auth identity of `auth` (user `git` when only a password is given).
pub(crate) fn basic_account(auth: &GitAuth) -> Option<gix::sec::identity::Account> {
    match (&auth.username, &auth.password) {
        (Some(u), p) => Some(gix::sec::identity::Account {
            username: u.clone(),
            password: p.clone().unwrap_or_default(),
            oauth_refresh_token: None,
        }),
        (None, Some(p)) => Some(gix::sec::identity::Account {
            username: "git".into(),
            password: p.clone(),
            oauth_refresh_token: None,
        }),
        _ => None,
    }
}

fn http_options(s: &Session, opts: &FetchOptions) -> Option<Box<dyn std::any::Any>> {
    http_transport_options(&s.repo, &opts.url, &opts.auth, opts.connect_timeout)
        .map(|h| h as Box<dyn std::any::Any>)
}

/// The HTTP transport options for `url` from the repository's configuration, with the bearer
/// token, extra CA certificates and connect timeout of `auth`; `None` for other schemes.
/// Shared by fetch and [`crate::git_push`].
pub(crate) fn http_transport_options(
    repo: &gix::Repository,
    url: &str,
    auth: &GitAuth,
    connect_timeout: std::time::Duration,
) -> Option<Box<gix::protocol::transport::client::blocking_io::http::Options>> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return None;
    }
    let any = repo.transport_options(url, None).ok().flatten()?;
    let mut http = any
        .downcast::<gix::protocol::transport::client::blocking_io::http::Options>()
        .ok()?;
    if let Some(token) = &auth.bearer_token {
        http.extra_headers
            .push(format!("Authorization: Bearer {token}"));
    }
    http.connect_timeout = Some(connect_timeout);
    let ca = auth.ca_pem.clone();
    let timeout = connect_timeout;
    let backend = gix::protocol::transport::client::blocking_io::http::reqwest::Options {
        configure_client: Some(Box::new(move |mut b: reqwest::blocking::ClientBuilder| {
            b = b.connect_timeout(timeout);
            if let Some(pem) = &ca {
                for cert in reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| gix_err(format!("invalid CA certificate: {e}")))?
                {
                    b = b.add_root_certificate(cert);
                }
            }
            Ok(b)
        })),
        configure_request: None,
    };
    http.backend = Some(Arc::new(std::sync::Mutex::new(backend)));
    Some(http)
}

/// The remote's branches as `(full reference name, commit)`, without fetching objects
/// (`git ls-remote --heads`); empty for an empty repository.
pub fn remote_branches(
    opts: &FetchOptions,
    work_dir: &Path,
) -> Result<Vec<(String, String)>, GitError> {
    crate::ensure_crypto_provider();
    let s = open_session(opts, work_dir)?;
    list_refs(&s, opts, &["+refs/heads/*:refs/heads/*".to_owned()])
}

/// Resolves the reference on the remote to `(revision, commit)` without fetching objects.
pub fn resolve(opts: &FetchOptions, work_dir: &Path) -> Result<(String, String), GitError> {
    crate::ensure_crypto_provider();
    let s = open_session(opts, work_dir)?;
    let (name, specs) = target(&s, opts)?;
    if let GitReference::Commit { sha, branch } = &opts.reference {
        let rev = match branch {
            Some(b) => format!("{b}@sha1:{sha}"),
            None => format!("sha1:{sha}"),
        };
        return Ok((rev, sha.clone()));
    }
    let refs = list_refs(&s, opts, &specs)?;
    let wanted = specs[0]
        .trim_start_matches('+')
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let (_, commit) = refs
        .into_iter()
        .find(|(n, _)| *n == wanted)
        .ok_or_else(|| GitError::RefNotFound {
            reference: opts.reference.describe(),
            url: opts.url.clone(),
        })?;
    Ok((format!("{name}@sha1:{commit}"), commit))
}

/// The revision name and the refspecs for the reference (resolving semver ranges).
fn target(s: &Session, opts: &FetchOptions) -> Result<(String, Vec<String>), GitError> {
    Ok(match &opts.reference {
        GitReference::Semver(range) => {
            let r = Constraints::parse(range).map_err(|source| GitError::BadRange {
                range: range.clone(),
                source,
            })?;
            let refs = list_refs(s, opts, &refspecs(&opts.reference, None))?;
            let tags: Vec<String> = refs
                .iter()
                .filter_map(|(n, _)| n.strip_prefix("refs/tags/").map(str::to_owned))
                .filter(|t| !t.ends_with("^{}"))
                .collect();
            let (tag, _) = r.latest(tags.iter().map(String::as_str)).ok_or_else(|| {
                GitError::NoSemverMatch {
                    range: range.clone(),
                    url: opts.url.clone(),
                }
            })?;
            let tag = tag.to_owned();
            let specs = refspecs(&opts.reference, Some(&tag));
            (tag, specs)
        }
        GitReference::Branch(b) => (b.clone(), refspecs(&opts.reference, None)),
        GitReference::Tag(t) => (t.clone(), refspecs(&opts.reference, None)),
        GitReference::Name(n) => (n.clone(), refspecs(&opts.reference, None)),
        GitReference::Commit { branch, .. } => (
            branch.clone().unwrap_or_default(),
            refspecs(&opts.reference, None),
        ),
    })
}

/// Fetches the reference into a new bare repository under `work_dir`. When the remote's
/// commit gives `last_revision` again, returns [`FetchOutcome::Unchanged`] without fetching.
pub fn fetch(
    opts: &FetchOptions,
    work_dir: &Path,
    last_revision: Option<&str>,
) -> Result<FetchOutcome, GitError> {
    crate::ensure_crypto_provider();
    let s = open_session(opts, work_dir)?;
    let (name, specs) = target(&s, opts)?;
    let describe = opts.reference.describe();
    let remote = remote(&s, opts, &specs)?;
    let conn = connect(&s, opts, &remote, &describe)?;
    let prepare = conn
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| classify(opts, &describe, s.auth_requested.load(Ordering::Relaxed), e))?;
    // Which commit does the remote have?
    let advertised: Option<String> = prepare.ref_map().mappings.iter().find_map(|m| {
        m.remote.as_id().map(|_| ()).and_then(|_| match &m.remote {
            gix::remote::fetch::refmap::Source::Ref(r) => {
                let (_, target, peeled) = r.unpack();
                peeled.or(target).map(|id| id.to_hex().to_string())
            }
            gix::remote::fetch::refmap::Source::ObjectId(id) => Some(id.to_hex().to_string()),
        })
    });
    let is_commit = matches!(opts.reference, GitReference::Commit { .. });
    if !is_commit && advertised.is_none() {
        return Err(GitError::RefNotFound {
            reference: describe,
            url: opts.url.clone(),
        });
    }
    if let (Some(last), Some(commit)) = (last_revision, &advertised)
        && !is_commit
        && last == format!("{name}@sha1:{commit}")
    {
        return Ok(FetchOutcome::Unchanged(last.to_owned()));
    }
    if let (Some(last), GitReference::Commit { sha, branch }) = (last_revision, &opts.reference) {
        let rev = match branch {
            Some(b) => format!("{b}@sha1:{sha}"),
            None => format!("sha1:{sha}"),
        };
        if last == rev {
            return Ok(FetchOutcome::Unchanged(rev));
        }
    }
    let prepare = if is_commit {
        prepare // full history: the commit may be anywhere on the branch
    } else {
        prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
            NonZeroU32::new(1).unwrap_or(NonZeroU32::MIN),
        ))
    };
    let interrupt = opts.interrupt.clone();
    prepare
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|e| classify(opts, &describe, s.auth_requested.load(Ordering::Relaxed), e))?;

    let (commit, revision) = match &opts.reference {
        GitReference::Commit { sha, branch } => {
            let id =
                gix::ObjectId::from_hex(sha.as_bytes()).map_err(|e| GitError::RefNotFound {
                    reference: format!("{describe} ({e})"),
                    url: opts.url.clone(),
                })?;
            if s.repo.find_commit(id).is_err() {
                return Err(GitError::RefNotFound {
                    reference: describe,
                    url: opts.url.clone(),
                });
            }
            let rev = match branch {
                Some(b) => format!("{b}@sha1:{sha}"),
                None => format!("sha1:{sha}"),
            };
            (sha.clone(), rev)
        }
        _ => {
            let commit = advertised.unwrap_or_default();
            let rev = format!("{name}@sha1:{commit}");
            (commit, rev)
        }
    };
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| GitError::Repository {
        path: s.dir.display().to_string(),
        message: e.to_string(),
    })?;
    let message = s
        .repo
        .find_commit(id)
        .ok()
        .and_then(|c| c.message_raw().ok().map(|m| m.to_string()))
        .and_then(|m| m.lines().next().map(str::to_owned))
        .unwrap_or_default();
    Ok(FetchOutcome::Fetched(Box::new(FetchedRepo {
        dir: s.dir.clone(),
        commit,
        revision,
        message,
        url: opts.url.clone(),
        auth: opts.auth.clone(),
        interrupt: opts.interrupt.clone(),
    })))
}

/// What goes into a Git artifact.
#[derive(Debug, Clone, Default)]
pub struct ArchiveOptions {
    /// `spec.ignore`: rules applied after the defaults and `.sourceignore` files.
    pub ignore: Option<String>,
    /// `spec.sparseCheckout`: only these directories.
    pub sparse_checkout: Vec<String>,
    /// `spec.recurseSubmodules`: fetch and include submodules.
    pub recurse_submodules: bool,
    /// Largest total size of the archived files in bytes (checked from the object headers,
    /// before any blob is read); no limit when `None`.
    pub max_size: Option<u64>,
}

/// A file of the tree to archive: its path and where its content lives.
struct TreeFile {
    path: String,
    executable: bool,
    repo: usize,
    oid: gix::ObjectId,
}

impl FetchedRepo {
    /// Writes the commit's tree as a deterministic `tar.gz` to `out`: Flux's default
    /// excludes, `.sourceignore` files in the tree, `spec.ignore`, sparse directories, and
    /// submodules when asked. Symlinks are left out.
    pub fn archive<W: Write>(
        &self,
        opts: &ArchiveOptions,
        out: W,
    ) -> Result<(W, ArchiveInfo), GitError> {
        let main = gix::open(&self.dir).map_err(repo_err(&self.dir))?;
        let mut repos = vec![main];
        let mut files = Vec::new();
        let id =
            gix::ObjectId::from_hex(self.commit.as_bytes()).map_err(|e| GitError::Repository {
                path: self.dir.display().to_string(),
                message: e.to_string(),
            })?;
        self.collect(&mut repos, 0, id, "", opts, &mut files, &self.url, 0)?;

        // Ignore rules: defaults, .sourceignore files (top-down), spec.ignore.
        let mut rules = IgnoreRules::flux_defaults();
        let mut ignore_files: Vec<&TreeFile> = files
            .iter()
            .filter(|f| f.path == SOURCEIGNORE || f.path.ends_with("/.sourceignore"))
            .collect();
        ignore_files.sort_by_key(|f| f.path.matches('/').count());
        for f in ignore_files {
            let data = read_blob(&repos[f.repo], f.oid)?;
            let domain = f.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            rules.add(domain, &String::from_utf8_lossy(&data), &f.path)?;
        }
        if let Some(ig) = &opts.ignore {
            rules.add("", ig, "spec.ignore")?;
        }
        let sparse: Vec<String> = opts
            .sparse_checkout
            .iter()
            .map(|d| d.trim_matches('/').trim_start_matches("./").to_owned())
            .filter(|d| !d.is_empty() && d != ".")
            .collect();
        files.retain(|f| {
            (sparse.is_empty() || sparse.iter().any(|d| f.path.starts_with(&format!("{d}/"))))
                && !rules.is_ignored(&f.path, false)
        });
        sort_paths(&mut files, |f| &f.path);
        if let Some(limit) = opts.max_size {
            // A blob compresses well in a pack (a push of a few KB can hold a GiB of
            // zeros): sizes come from headers, so nothing that large is ever inflated.
            let mut total = 0u64;
            for f in &files {
                let repo = &repos[f.repo];
                let size = repo
                    .find_header(f.oid)
                    .map_err(|e| GitError::Repository {
                        path: repo.path().display().to_string(),
                        message: format!("object {}: {e}", f.oid),
                    })?
                    .size();
                total = total.saturating_add(size);
                if total > limit {
                    return Err(GitError::TooLarge {
                        path: f.path.clone(),
                        size,
                        limit,
                    });
                }
            }
        }

        let mut w = ArtifactWriter::new(out);
        let io = |path: &str| {
            let path = path.to_owned();
            move |source| GitError::Io { path, source }
        };
        for f in &files {
            let data = read_blob(&repos[f.repo], f.oid)?;
            w.add_file(&f.path, f.executable, &data)
                .map_err(io(&f.path))?;
        }
        w.finish().map_err(io("archive"))
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        repos: &mut Vec<gix::Repository>,
        repo_idx: usize,
        commit: gix::ObjectId,
        prefix: &str,
        opts: &ArchiveOptions,
        out: &mut Vec<TreeFile>,
        url: &str,
        depth: usize,
    ) -> Result<(), GitError> {
        let dir = repos[repo_idx].path().to_owned();
        let err = repo_err(&dir);
        let mut recorder = gix::traverse::tree::Recorder::default();
        {
            let repo = &repos[repo_idx];
            let tree = repo
                .find_commit(commit)
                .map_err(|e| GitError::Repository {
                    path: dir.display().to_string(),
                    message: format!("commit {commit}: {e}"),
                })?
                .tree()
                .map_err(|e| GitError::Repository {
                    path: dir.display().to_string(),
                    message: format!("tree of {commit}: {e}"),
                })?;
            tree.traverse().breadthfirst(&mut recorder).map_err(&err)?;
        }
        let mut submodules = Vec::new();
        for e in recorder.records {
            let path = format!("{prefix}{}", e.filepath);
            match e.mode.kind() {
                gix::object::tree::EntryKind::Blob => out.push(TreeFile {
                    path,
                    executable: false,
                    repo: repo_idx,
                    oid: e.oid,
                }),
                gix::object::tree::EntryKind::BlobExecutable => out.push(TreeFile {
                    path,
                    executable: true,
                    repo: repo_idx,
                    oid: e.oid,
                }),
                gix::object::tree::EntryKind::Commit => {
                    submodules.push((e.filepath.to_string(), e.oid));
                }
                _ => {}
            }
        }
        if !opts.recurse_submodules || submodules.is_empty() || depth > 8 {
            return Ok(());
        }
        let gitmodules = out
            .iter()
            .find(|f| f.repo == repo_idx && f.path == format!("{prefix}.gitmodules"))
            .map(|f| read_blob(&repos[repo_idx], f.oid))
            .transpose()?
            .unwrap_or_default();
        let urls = parse_gitmodules(&String::from_utf8_lossy(&gitmodules));
        for (path, oid) in submodules {
            let Some(sub_url) = urls.get(&path) else {
                return Err(GitError::Repository {
                    path: dir.display().to_string(),
                    message: format!("submodule {path:?} has no URL in .gitmodules"),
                });
            };
            let sub_url = resolve_submodule_url(url, sub_url);
            let sub_dir =
                self.dir
                    .with_file_name(format!("sub-{}-{}", repos.len(), oid.to_hex_with_len(12)));
            let mut o = FetchOptions::new(
                sub_url.clone(),
                GitReference::Commit {
                    sha: oid.to_hex().to_string(),
                    branch: None,
                },
            );
            o.auth = self.auth.clone();
            o.interrupt = self.interrupt.clone();
            let fetched = match fetch(&o, &sub_dir, None)? {
                FetchOutcome::Fetched(f) => *f,
                FetchOutcome::Unchanged(_) => unreachable_unchanged(),
            };
            let sub_repo = gix::open(&fetched.dir).map_err(repo_err(&fetched.dir))?;
            repos.push(sub_repo);
            let idx = repos.len() - 1;
            self.collect(
                repos,
                idx,
                oid,
                &format!("{prefix}{path}/"),
                opts,
                out,
                &sub_url,
                depth + 1,
            )?;
        }
        Ok(())
    }
}

fn unreachable_unchanged() -> FetchedRepo {
    // fetch() only answers Unchanged when a last revision is given; callers above pass None.
    FetchedRepo {
        dir: PathBuf::new(),
        commit: String::new(),
        revision: String::new(),
        message: String::new(),
        url: String::new(),
        auth: GitAuth::default(),
        interrupt: Arc::new(AtomicBool::new(false)),
    }
}

fn read_blob(repo: &gix::Repository, oid: gix::ObjectId) -> Result<Vec<u8>, GitError> {
    repo.find_object(oid)
        .map(|o| o.detach().data)
        .map_err(|e| GitError::Repository {
            path: repo.path().display().to_string(),
            message: format!("object {oid}: {e}"),
        })
}

/// `path → url` from a `.gitmodules` file.
fn parse_gitmodules(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let (mut path, mut url): (Option<String>, Option<String>) = (None, None);
    let mut flush = |p: &mut Option<String>, u: &mut Option<String>| {
        if let (Some(p), Some(u)) = (p.take(), u.take()) {
            out.insert(p, u);
        }
    };
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            flush(&mut path, &mut url);
        } else if let Some((k, v)) = l.split_once('=') {
            match k.trim() {
                "path" => path = Some(v.trim().to_owned()),
                "url" => url = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    flush(&mut path, &mut url);
    out
}

fn resolve_submodule_url(parent: &str, sub: &str) -> String {
    if !(sub.starts_with("./") || sub.starts_with("../")) {
        return sub.to_owned();
    }
    let mut base: Vec<&str> = parent.trim_end_matches('/').split('/').collect();
    for part in sub.split('/') {
        match part {
            "." => {}
            ".." => {
                base.pop();
            }
            p => base.push(p),
        }
    }
    base.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_precedence() {
        use gitops_api::source::GitRepositoryRef;
        assert_eq!(
            GitReference::from_spec(None),
            GitReference::Branch("master".into())
        );
        let r = GitRepositoryRef {
            branch: Some("main".into()),
            tag: Some("v1".into()),
            ..Default::default()
        };
        assert_eq!(
            GitReference::from_spec(Some(&r)),
            GitReference::Tag("v1".into())
        );
        let r = GitRepositoryRef {
            branch: Some("main".into()),
            commit: Some("abc".into()),
            semver: Some("1.x".into()),
            ..Default::default()
        };
        assert_eq!(
            GitReference::from_spec(Some(&r)),
            GitReference::Commit {
                sha: "abc".into(),
                branch: Some("main".into())
            }
        );
    }

    #[test]
    fn gitmodules_and_relative_urls() {
        let m = parse_gitmodules("[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n");
        assert_eq!(m.get("vendor/lib").map(String::as_str), Some("../lib.git"));
        assert_eq!(
            resolve_submodule_url("http://h/org/app.git", "../lib.git"),
            "http://h/org/lib.git"
        );
    }

    #[test]
    fn auth_debug_redacts() {
        let mut d = BTreeMap::new();
        d.insert("username".to_string(), b"u".to_vec());
        d.insert("password".to_string(), b"hunter2".to_vec());
        let a = GitAuth::from_secret_data(&d);
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
