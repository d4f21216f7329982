//! Checking out, committing and pushing with gitoxide — what image automation
//! (`ImageUpdateAutomation`) needs after [`crate::git::fetch`]: write a commit's files into a
//! directory, record changed files as a new (optionally signed) commit on top of it, and push
//! that commit to one or more remote references without ever forcing.
//!
//! No `git` binary is involved: objects are written with gix, and pushing speaks Git's
//! receive-pack protocol (v0/v1, the only versions it has) over the same gix-transport
//! connections the fetch uses — HTTP(S) with basic auth, bearer tokens and extra CA
//! certificates, SSH through the `ssh` program with the identity and `known_hosts` of
//! [`GitAuth`], and `file://` (which runs `git-receive-pack`, for tests).
//!
//! ```no_run
//! use gitops_source::git::{FetchOptions, FetchOutcome, GitReference, fetch};
//! use gitops_source::git_push::{CommitOptions, FileChange, PushOptions, RefUpdate, checkout, commit_changes, push};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "https://example.com/fleet.git";
//! let work = tempfile::tempdir()?;
//! let FetchOutcome::Fetched(repo) =
//!     fetch(&FetchOptions::new(url, GitReference::Branch("main".into())), &work.path().join("git"), None)?
//! else { unreachable!() };
//! checkout(&repo.dir, &repo.commit, &work.path().join("tree"))?;
//! // … rewrite files under work/tree, then record what changed:
//! let changes = vec![FileChange::write("apps/podinfo.yaml", b"image: podinfo:6.5.0\n".to_vec())];
//! let opts = CommitOptions::new("fluxbot", "fluxbot@example.com", "Update podinfo to 6.5.0");
//! if let Some(commit) = commit_changes(&repo.dir, &repo.commit, &changes, &opts)? {
//!     let mut p = PushOptions::new(url);
//!     p.updates.push(RefUpdate::new(&commit, "main", Some(repo.commit.clone())));
//!     match push(&repo.dir, &p) {
//!         Err(gitops_source::git::GitError::RemoteMoved { .. }) => { /* fetch again and retry */ }
//!         other => { other?; }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## What is sent
//! The pack holds the objects reachable from the pushed commits that the remote cannot
//! already have: commits are walked back until one the remote advertises (or one the local
//! repository fetched from it, i.e. a local reference target, or their ancestors), and each
//! new commit's tree is compared with its first parent's tree path by path, so a one-file
//! change sends one commit, the trees on the file's path and one blob. Objects are stored
//! whole (no deltas), zlib-compressed, in a version 2 pack.
//!
//! ## Never forcing
//! Each [`RefUpdate`] says which tip the caller built on. Before anything is sent, the
//! advertised tip must be exactly that one (or absent when `None` was given), and the
//! expected tip must be an ancestor of the pushed commit; otherwise [`push`] returns
//! [`GitError::RemoteMoved`] and sends nothing. The server then checks again atomically
//! (the old id in each command must still match), and a late loser of a race gets
//! [`GitError::PushRejected`] with the server's reason.

use crate::git::{GitAuth, GitError, basic_account, one_line, repo_err, ssh_command};
use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::WriteTo;
use gix::objs::tree::EntryKind;
use gix::protocol::transport::Service;
use gix::protocol::transport::client::blocking_io::Transport;
use gix::protocol::transport::client::{MessageKind, TransportWithoutIO, WriteMode};
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest number of commits walked to learn what the remote already has.
const MAX_HAVE_WALK: usize = 10_000;
/// Server messages (side-band progress and hook output) kept for [`PushOutcome::messages`].
const MAX_MESSAGES: usize = 100;

fn parse_oid(s: &str, what: &str) -> Result<ObjectId, GitError> {
    ObjectId::from_hex(s.trim().as_bytes()).map_err(|e| GitError::InvalidPath {
        path: s.to_owned(),
        reason: format!("{what} is not a full hex object id: {e}"),
    })
}

fn open(git_dir: &Path) -> Result<gix::Repository, GitError> {
    let mut repo = gix::open(git_dir).map_err(repo_err(git_dir))?;
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    Ok(repo)
}

fn repo_msg(git_dir: &Path, message: String) -> GitError {
    GitError::Repository {
        path: git_dir.display().to_string(),
        message,
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> GitError + '_ {
    move |source| GitError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Checks one path component of a tree entry or a change: no separators, not `.`/`..`,
/// not `.git` in any case.
fn valid_component(c: &[u8]) -> Result<(), &'static str> {
    if c.is_empty() {
        return Err("empty path component");
    }
    if c == b"." || c == b".." {
        return Err("'.' and '..' are not allowed");
    }
    if c.contains(&b'/') || c.contains(&b'\\') || c.contains(&0) {
        return Err("a path component contains '/', '\\' or NUL");
    }
    if c.eq_ignore_ascii_case(b".git") {
        return Err("'.git' is not allowed");
    }
    Ok(())
}

/// Validates a relative, `/`-separated path of a change.
fn valid_path(path: &str) -> Result<(), GitError> {
    if path.starts_with('/') {
        return Err(GitError::InvalidPath {
            path: path.to_owned(),
            reason: "the path must be relative".into(),
        });
    }
    for c in path.split('/') {
        valid_component(c.as_bytes()).map_err(|r| GitError::InvalidPath {
            path: path.to_owned(),
            reason: r.into(),
        })?;
    }
    Ok(())
}

fn commit_tree(
    repo: &gix::Repository,
    git_dir: &Path,
    commit: ObjectId,
) -> Result<ObjectId, GitError> {
    let c = repo
        .find_commit(commit)
        .map_err(|e| repo_msg(git_dir, format!("commit {commit}: {}", one_line(&e))))?;
    c.tree_id()
        .map(|t| t.detach())
        .map_err(|e| repo_msg(git_dir, format!("tree of {commit}: {}", one_line(&e))))
}

// ---------------------------------------------------------------------------------------
// checkout

/// Writes the files of `commit` (full hex id) in the repository at `git_dir` into `dir`,
/// which must be empty or absent: regular files (with the executable bit of the tree),
/// directories, and symlinks as symlinks. Submodules are left out. Every path component is
/// checked (no `..`, `.git` or separators), files are created exclusively and directories
/// only where nothing exists, so nothing is ever written through a symlink, even for a
/// malicious tree. Symlink targets are written as recorded: code reading the checkout must
/// not follow them out of `dir`.
pub fn checkout(git_dir: &Path, commit: &str, dir: &Path) -> Result<(), GitError> {
    let repo = open(git_dir)?;
    let id = parse_oid(commit, "the commit")?;
    let tree = commit_tree(&repo, git_dir, id)?;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(GitError::Io {
                    path: dir.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "the checkout directory is not empty",
                    ),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        Err(e) => return Err(io_err(dir)(e)),
    }
    let mut stack = vec![(tree, dir.to_path_buf(), String::new())];
    while let Some((tree_id, fs_dir, rel)) = stack.pop() {
        let tree = repo
            .find_tree(tree_id)
            .map_err(|e| repo_msg(git_dir, format!("tree {tree_id}: {}", one_line(&e))))?;
        let decoded = tree
            .decode()
            .map_err(|e| repo_msg(git_dir, format!("tree {tree_id}: {}", one_line(&e))))?;
        for entry in &decoded.entries {
            let name = entry.filename;
            let rel_path = format!("{rel}{name}");
            valid_component(name).map_err(|r| GitError::InvalidPath {
                path: rel_path.clone(),
                reason: r.into(),
            })?;
            let Ok(name_str) = std::str::from_utf8(name) else {
                return Err(GitError::InvalidPath {
                    path: rel_path,
                    reason: "not UTF-8".into(),
                });
            };
            let path = fs_dir.join(name_str);
            let oid = entry.oid.to_owned();
            match entry.mode.kind() {
                EntryKind::Tree => {
                    std::fs::create_dir(&path).map_err(io_err(&path))?;
                    stack.push((oid, path, format!("{rel_path}/")));
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    let blob = repo.find_blob(oid).map_err(|e| {
                        repo_msg(git_dir, format!("{rel_path} ({oid}): {}", one_line(&e)))
                    })?;
                    let exec = entry.mode.kind() == EntryKind::BlobExecutable;
                    write_new_file(&path, &blob.data, exec)?;
                }
                EntryKind::Link => {
                    let blob = repo.find_blob(oid).map_err(|e| {
                        repo_msg(git_dir, format!("{rel_path} ({oid}): {}", one_line(&e)))
                    })?;
                    write_symlink(&path, &blob.data)?;
                }
                EntryKind::Commit => {} // submodule
            }
        }
    }
    Ok(())
}

fn write_new_file(path: &Path, data: &[u8], executable: bool) -> Result<(), GitError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    let mut f = o.open(path).map_err(io_err(path))?;
    f.write_all(data).map_err(io_err(path))
}

fn write_symlink(path: &Path, target: &[u8]) -> Result<(), GitError> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let target = std::ffi::OsStr::from_bytes(target);
        std::os::unix::fs::symlink(target, path).map_err(io_err(path))
    }
    #[cfg(not(unix))]
    {
        write_new_file(path, target, false)
    }
}

/// The changes that turn `commit`'s tree into the files under `dir` (a [`checkout`] the
/// caller then edited), like `git add -A`: new and modified regular files are written,
/// files missing from `dir` are deleted. Symlinks are compared by target and never
/// followed; new symlinks, executable-bit changes and `.git` directories are ignored.
/// Sorted by path.
pub fn worktree_changes(
    git_dir: &Path,
    commit: &str,
    dir: &Path,
) -> Result<Vec<FileChange>, GitError> {
    let repo = open(git_dir)?;
    let id = parse_oid(commit, "the commit")?;
    let tree = commit_tree(&repo, git_dir, id)?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    repo.find_tree(tree)
        .map_err(repo_err(git_dir))?
        .traverse()
        .breadthfirst(&mut recorder)
        .map_err(repo_err(git_dir))?;
    let mut in_tree: HashMap<String, (EntryKind, ObjectId)> = HashMap::new();
    for r in recorder.records {
        let kind = r.mode.kind();
        if matches!(kind, EntryKind::Tree | EntryKind::Commit) {
            continue;
        }
        in_tree.insert(r.filepath.to_str_lossy().into_owned(), (kind, r.oid));
    }
    let hash = repo.object_hash();
    let mut changes = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((fs_dir, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&fs_dir).map_err(io_err(&fs_dir))? {
            let entry = entry.map_err(io_err(&fs_dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.eq_ignore_ascii_case(".git") {
                continue;
            }
            let rel_path = format!("{rel}{name}");
            let path = entry.path();
            let ft = entry.file_type().map_err(io_err(&path))?;
            if ft.is_dir() {
                stack.push((path, format!("{rel_path}/")));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path).map_err(io_err(&path))?;
                if let Some((EntryKind::Link, oid)) = in_tree.get(&rel_path) {
                    seen.insert(rel_path.clone());
                    #[cfg(unix)]
                    let bytes = {
                        use std::os::unix::ffi::OsStrExt;
                        target.as_os_str().as_bytes().to_vec()
                    };
                    #[cfg(not(unix))]
                    let bytes = target.to_string_lossy().into_owned().into_bytes();
                    let now = gix::objs::compute_hash(hash, gix::objs::Kind::Blob, &bytes)
                        .map_err(|e| repo_msg(git_dir, e.to_string()))?;
                    if now != *oid {
                        // A retargeted link: record the new target as a regular change of
                        // the entry (its mode stays a link).
                        changes.push(FileChange::write(rel_path, bytes));
                    }
                }
            } else if ft.is_file() {
                let data = std::fs::read(&path).map_err(io_err(&path))?;
                let now = gix::objs::compute_hash(hash, gix::objs::Kind::Blob, &data)
                    .map_err(|e| repo_msg(git_dir, e.to_string()))?;
                match in_tree.get(&rel_path) {
                    Some((EntryKind::Blob | EntryKind::BlobExecutable, oid)) if *oid == now => {}
                    _ => changes.push(FileChange::write(rel_path.clone(), data)),
                }
                seen.insert(rel_path);
            }
        }
    }
    for path in in_tree.keys() {
        if !seen.contains(path) {
            changes.push(FileChange::delete(path.clone()));
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

// ---------------------------------------------------------------------------------------
// commit

/// One file of a commit: new content, or removal.
#[derive(Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Relative, `/`-separated path in the tree.
    pub path: String,
    /// The new content; `None` removes the file.
    pub content: Option<Vec<u8>>,
}

impl std::fmt::Debug for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChange")
            .field("path", &self.path)
            .field("content", &self.content.as_ref().map(Vec::len))
            .finish()
    }
}

impl FileChange {
    /// Writes `content` at `path`: a new regular file, or new content for an existing file
    /// (which keeps its executable bit; for a symlink, `content` is the new target).
    pub fn write(path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        FileChange {
            path: path.into(),
            content: Some(content.into()),
        }
    }

    /// Removes the file at `path` (no error when absent).
    pub fn delete(path: impl Into<String>) -> Self {
        FileChange {
            path: path.into(),
            content: None,
        }
    }
}

/// A key to sign commits with; the signature goes into the commit's `gpgsig` header, as
/// `git commit -S` writes it for either format.
#[derive(Clone)]
pub enum Signer {
    /// An OpenPGP secret key (Flux's `git.asc`), optionally protected by `passphrase`:
    /// ASCII-armored or binary, alone or in a key ring (`gpg --export-secret-keys`) where
    /// `key_id` picks one (else the first). The primary key signs when it may, else the
    /// first signing subkey.
    OpenPgp {
        /// `-----BEGIN PGP PRIVATE KEY BLOCK-----…` or binary key packets.
        armored_key: Vec<u8>,
        /// The key's passphrase.
        passphrase: Option<String>,
        /// The 16-hex-digit key id of the primary key to sign with (`0x` prefix allowed).
        key_id: Option<String>,
    },
    /// An OpenSSH private key (ed25519, RSA or ECDSA P-256), optionally encrypted; the
    /// signature is an `SSHSIG` in namespace `git` (`gpg.format=ssh`).
    Ssh {
        /// `-----BEGIN OPENSSH PRIVATE KEY-----…`
        private_key: Vec<u8>,
        /// The key's passphrase.
        passphrase: Option<String>,
    },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signer::OpenPgp { .. } => "Signer::OpenPgp(<redacted>)",
            Signer::Ssh { .. } => "Signer::Ssh(<redacted>)",
        })
    }
}

/// Who commits, what the message says, and whether to sign.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// Author (and committer) name.
    pub author_name: String,
    /// Author (and committer) email.
    pub author_email: String,
    /// The commit message; a final newline is added when missing.
    pub message: String,
    /// Sign the commit.
    pub signing: Option<Signer>,
    /// The author and committer time; now (UTC) when `None`.
    pub time: Option<gix::date::Time>,
}

impl CommitOptions {
    /// Unsigned, timestamped now.
    pub fn new(
        author_name: impl Into<String>,
        author_email: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        CommitOptions {
            author_name: author_name.into(),
            author_email: author_email.into(),
            message: message.into(),
            signing: None,
            time: None,
        }
    }
}

/// Writes a commit on top of `parent` (full hex id) in the repository at `git_dir`: the
/// parent's tree with `changes` applied (later changes to a path win), author and
/// committer from `opts` (like Flux, the committer is the author), signed when asked. No
/// reference is updated. Returns the new commit's id, or `None` when the changes leave
/// the tree as it was (nothing to commit).
pub fn commit_changes(
    git_dir: &Path,
    parent: &str,
    changes: &[FileChange],
    opts: &CommitOptions,
) -> Result<Option<String>, GitError> {
    let repo = open(git_dir)?;
    let parent_id = parse_oid(parent, "the parent commit")?;
    write_commit(&repo, git_dir, Some(parent_id), changes, opts)
}

/// Writes a root commit (no parent: the first commit of an empty repository or of a new
/// unrelated branch) holding `changes` in the repository at `git_dir`, as
/// [`commit_changes`] does; `None` when `changes` write nothing.
pub fn commit_root(
    git_dir: &Path,
    changes: &[FileChange],
    opts: &CommitOptions,
) -> Result<Option<String>, GitError> {
    let repo = open(git_dir)?;
    write_commit(&repo, git_dir, None, changes, opts)
}

/// Creates an empty bare repository at `git_dir` (for [`commit_root`] and [`push`] when the
/// remote is empty).
pub fn init_bare(git_dir: &Path) -> Result<(), GitError> {
    gix::init_bare(git_dir).map_err(repo_err(git_dir))?;
    Ok(())
}

fn write_commit(
    repo: &gix::Repository,
    git_dir: &Path,
    parent_id: Option<ObjectId>,
    changes: &[FileChange],
    opts: &CommitOptions,
) -> Result<Option<String>, GitError> {
    let parent_tree = match parent_id {
        Some(id) => commit_tree(repo, git_dir, id)?,
        None => repo.empty_tree().id,
    };
    for field in [&opts.author_name, &opts.author_email] {
        if field.contains(['<', '>', '\n', '\0']) {
            return Err(repo_msg(
                git_dir,
                format!("author name or email {field:?} contains '<', '>', a newline or NUL"),
            ));
        }
    }
    let base = repo.find_tree(parent_tree).map_err(repo_err(git_dir))?;
    let mut editor = base.edit().map_err(repo_err(git_dir))?;
    let invalid = |path: &str, reason: String| GitError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    for change in changes {
        valid_path(&change.path)?;
        // The kind in the parent: executables stay executable, symlinks get a new target.
        let existing = base
            .lookup_entry_by_path(&change.path)
            .map_err(|e| invalid(&change.path, one_line(&e)))?
            .map(|e| e.mode().kind());
        if existing == Some(EntryKind::Tree) {
            return Err(invalid(
                &change.path,
                "is a directory in the parent commit".into(),
            ));
        }
        match &change.content {
            Some(data) => {
                let blob = repo.write_blob(data).map_err(repo_err(git_dir))?.detach();
                let kind = match existing {
                    Some(EntryKind::BlobExecutable) => EntryKind::BlobExecutable,
                    Some(EntryKind::Link) => EntryKind::Link,
                    _ => EntryKind::Blob,
                };
                editor
                    .upsert(change.path.as_str(), kind, blob)
                    .map_err(|e| invalid(&change.path, one_line(&e)))?;
            }
            None => {
                editor
                    .remove_leaf(change.path.as_str())
                    .map_err(|e| invalid(&change.path, one_line(&e)))?;
            }
        }
    }
    let tree = editor.write().map_err(repo_err(git_dir))?.detach();
    if tree == parent_tree {
        return Ok(None);
    }
    let time = opts.time.unwrap_or_else(|| gix::date::Time {
        seconds: jiff::Timestamp::now().as_second(),
        offset: 0,
    });
    let actor = gix::actor::Signature {
        name: opts.author_name.as_str().into(),
        email: opts.author_email.as_str().into(),
        time,
    };
    let mut message = opts.message.clone();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let mut commit = gix::objs::Commit {
        tree,
        parents: parent_id.into_iter().collect(),
        author: actor.clone(),
        committer: actor,
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    if let Some(signer) = &opts.signing {
        let mut payload = Vec::new();
        commit
            .write_to(&mut payload)
            .map_err(|e| repo_msg(git_dir, format!("serializing the commit: {e}")))?;
        let signature = sign(signer, &payload)?;
        commit
            .extra_headers
            .push(("gpgsig".into(), signature.into()));
    }
    let id = repo.write_object(&commit).map_err(repo_err(git_dir))?;
    Ok(Some(id.to_hex().to_string()))
}

fn signing_err(message: impl Into<String>) -> GitError {
    GitError::Signing {
        message: message.into(),
    }
}

/// An armored detached signature of `payload`.
fn sign(signer: &Signer, payload: &[u8]) -> Result<String, GitError> {
    match signer {
        Signer::Ssh {
            private_key,
            passphrase,
        } => {
            let key = ssh_key::PrivateKey::from_openssh(private_key)
                .map_err(|e| signing_err(format!("invalid OpenSSH private key: {e}")))?;
            let key = if key.is_encrypted() {
                let Some(p) = passphrase else {
                    return Err(signing_err(
                        "the SSH key is encrypted and no passphrase was given",
                    ));
                };
                key.decrypt(p.as_bytes())
                    .map_err(|e| signing_err(format!("decrypting the SSH key: {e}")))?
            } else {
                key
            };
            let sig = match key.key_data() {
                // ssh-key 0.6 rebuilds RSA keys with the first prime twice and fails to
                // sign; sign RSA keys with the `rsa` crate directly (rsa-sha2-512).
                ssh_key::private::KeypairData::Rsa(rsa_key) => {
                    let data =
                        ssh_key::SshSig::signed_data("git", ssh_key::HashAlg::Sha512, payload)
                            .map_err(|e| signing_err(format!("SSH signature: {e}")))?;
                    let signature = ssh_key::Signature::new(
                        ssh_key::Algorithm::Rsa {
                            hash: Some(ssh_key::HashAlg::Sha512),
                        },
                        rsa_sign(rsa_key, &data)?,
                    )
                    .map_err(|e| signing_err(format!("SSH signature: {e}")))?;
                    ssh_key::SshSig::new(
                        key.public_key().key_data().clone(),
                        "git",
                        ssh_key::HashAlg::Sha512,
                        signature,
                    )
                }
                _ => key.sign("git", ssh_key::HashAlg::Sha512, payload),
            }
            .map_err(|e| signing_err(format!("SSH signature: {e}")))?;
            sig.to_pem(ssh_key::LineEnding::LF)
                .map_err(|e| signing_err(format!("SSH signature: {e}")))
        }
        Signer::OpenPgp {
            armored_key,
            passphrase,
            key_id,
        } => openpgp_sign(
            armored_key,
            passphrase.as_deref(),
            key_id.as_deref(),
            payload,
        ),
    }
}

/// An RSASSA-PKCS1-v1_5 SHA-512 signature of `data` with an OpenSSH RSA key.
fn rsa_sign(key: &ssh_key::private::RsaKeypair, data: &[u8]) -> Result<Vec<u8>, GitError> {
    use rsa::signature::{SignatureEncoding, Signer as _};
    let int = |m: &ssh_key::Mpint| {
        m.as_positive_bytes()
            .map(rsa::BigUint::from_bytes_be)
            .ok_or_else(|| signing_err("invalid RSA key"))
    };
    let private = rsa::RsaPrivateKey::from_components(
        int(&key.public.n)?,
        int(&key.public.e)?,
        int(&key.private.d)?,
        vec![int(&key.private.p)?, int(&key.private.q)?],
    )
    .map_err(|e| signing_err(format!("invalid RSA key: {e}")))?;
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha512>::new(private);
    let sig = signer
        .try_sign(data)
        .map_err(|e| signing_err(format!("RSA signature: {e}")))?;
    Ok(sig.to_vec())
}

/// A parse error of the `pgp` crate up to what it quotes: its messages can carry the
/// input they failed on (as text or as a list of bytes), which is the private key.
fn without_input(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let head = text[..text.find(['(', '{', '[', '"', '\'']).unwrap_or(text.len())]
        .trim_end_matches([' ', ':']);
    if head.is_empty() {
        "not an OpenPGP key ring".to_owned()
    } else {
        head.to_owned()
    }
}

/// The secret key of a key ring that signs, chosen as Flux's
/// `SelectOpenPGPSigningEntity` does (and with its messages).
fn openpgp_key(
    key_ring: &[u8],
    key_id: Option<&str>,
) -> Result<pgp::composed::SignedSecretKey, GitError> {
    use pgp::composed::PublicOrSecret;
    use pgp::types::KeyDetails;
    let unreadable = |e: pgp::errors::Error| {
        signing_err(format!(
            "unable to read GPG key ring: {}",
            without_input(&e)
        ))
    };
    let (keys, _) = PublicOrSecret::from_reader_many(key_ring).map_err(unreadable)?;
    let keys: Vec<PublicOrSecret> = keys.collect::<Result<_, _>>().map_err(unreadable)?;
    let id_of = |k: &PublicOrSecret| {
        let id = match k {
            PublicOrSecret::Public(k) => k.primary_key.legacy_key_id(),
            PublicOrSecret::Secret(k) => k.primary_key.legacy_key_id(),
        };
        hex::encode_upper(id.as_ref())
    };
    let Some(first) = keys.first() else {
        return Err(signing_err("empty GPG key ring"));
    };
    let chosen = match key_id.filter(|k| !k.is_empty()) {
        Some(id) => {
            let id = id.strip_prefix("0x").unwrap_or(id);
            if id.len() != 16 {
                return Err(signing_err(format!(
                    "invalid GPG key id length; expected 16, got {}",
                    id.len()
                )));
            }
            let id = id.to_ascii_uppercase();
            let found = keys.iter().rev().find(|k| id_of(k) == id).ok_or_else(|| {
                signing_err(format!("no GPG keyring matching key id '{id}' found"))
            })?;
            match found {
                PublicOrSecret::Secret(k) => k,
                PublicOrSecret::Public(_) => {
                    return Err(signing_err(format!(
                        "keyring does not contain private key for key id '{id}'"
                    )));
                }
            }
        }
        None => match first {
            PublicOrSecret::Secret(k) => k,
            PublicOrSecret::Public(_) => {
                return Err(signing_err(
                    "keyring does not contain a private key; export the secret key with 'gpg --export-secret-keys' or specify --gpg-key-id",
                ));
            }
        },
    };
    Ok(chosen.clone())
}

fn openpgp_sign(
    key_ring: &[u8],
    passphrase: Option<&str>,
    key_id: Option<&str>,
    payload: &[u8],
) -> Result<String, GitError> {
    use pgp::composed::{ArmorOptions, DetachedSignature};
    use pgp::types::{Password, SigningKey};
    let key = openpgp_key(key_ring, key_id)?;
    let password = passphrase.map(Password::from).unwrap_or_default();
    let primary_can_sign = key
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(key.details.direct_signatures.iter())
        .any(|s| s.key_flags().sign());
    let subkey = key
        .secret_subkeys
        .iter()
        .find(|k| k.signatures.iter().any(|s| s.key_flags().sign()));
    let rng = rand_core::OsRng;
    let sig = match subkey {
        Some(sub) if !primary_can_sign => DetachedSignature::sign_binary_data(
            rng,
            &sub.key,
            &password,
            sub.key.hash_alg(),
            payload,
        ),
        _ => DetachedSignature::sign_binary_data(
            rng,
            &key.primary_key,
            &password,
            key.primary_key.hash_alg(),
            payload,
        ),
    }
    .map_err(|e| signing_err(format!("OpenPGP signature (wrong passphrase?): {e}")))?;
    sig.to_armored_string(ArmorOptions::default())
        .map_err(|e| signing_err(format!("OpenPGP signature: {e}")))
}

// ---------------------------------------------------------------------------------------
// push

/// One remote reference to update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The local commit to push (full hex id).
    pub commit: String,
    /// The remote reference: a full name (`refs/heads/main`, `refs/for/main`) or a branch
    /// name (`main`, meaning `refs/heads/main`).
    pub remote_ref: String,
    /// The remote tip the commit was built on; `None` when the reference must not exist
    /// yet (a new branch). Anything else on the remote gives [`GitError::RemoteMoved`].
    pub expected_old: Option<String>,
}

impl RefUpdate {
    /// Push `commit` to `remote_ref`, which must be at `expected_old`.
    pub fn new(
        commit: impl Into<String>,
        remote_ref: impl Into<String>,
        expected_old: Option<String>,
    ) -> Self {
        RefUpdate {
            commit: commit.into(),
            remote_ref: remote_ref.into(),
            expected_old,
        }
    }

    fn full_ref(&self) -> String {
        if self.remote_ref.starts_with("refs/") {
            self.remote_ref.clone()
        } else {
            format!("refs/heads/{}", self.remote_ref)
        }
    }
}

/// Where and what to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Remote URL (`https://`, `http://`, `ssh://`, scp-like `user@host:path`, `file://`).
    pub url: String,
    /// Credentials and trust, as for fetching.
    pub auth: GitAuth,
    /// The references to update; with several, the push is atomic when the server can.
    pub updates: Vec<RefUpdate>,
    /// `git push -o` options (`git.push.options`); the server must advertise
    /// `push-options`, else the push fails before anything is sent.
    pub push_options: Vec<String>,
    /// Set to stop the push between steps (e.g. on timeout).
    pub interrupt: Arc<AtomicBool>,
    /// Connection timeout for HTTP.
    pub connect_timeout: std::time::Duration,
}

impl PushOptions {
    /// Options without credentials and without updates.
    pub fn new(url: impl Into<String>) -> Self {
        PushOptions {
            url: url.into(),
            auth: GitAuth::default(),
            updates: Vec::new(),
            push_options: Vec::new(),
            interrupt: Arc::new(AtomicBool::new(false)),
            connect_timeout: std::time::Duration::from_secs(20),
        }
    }
}

/// A reference the push changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    /// Full reference name.
    pub reference: String,
    /// The previous tip; `None` for a new reference.
    pub old: Option<String>,
    /// The new tip.
    pub new: String,
}

/// The result of [`push`].
#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    /// The references updated, in the order asked.
    pub updated: Vec<PushedRef>,
    /// References already at the pushed commit (nothing sent for them).
    pub up_to_date: Vec<String>,
    /// Messages from the server (hook output, "create a pull request" links), last
    /// 100 lines.
    pub messages: Vec<String>,
    /// How many objects the pack held.
    pub objects_sent: usize,
}

/// Strips a password from a URL's user info for messages.
fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && !userinfo.contains('/')
    {
        let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
        return format!("{scheme}://{user}@{host}");
    }
    url.to_owned()
}

struct Pusher<'a> {
    opts: &'a PushOptions,
    url: String,
}

impl Pusher<'_> {
    fn err(&self, message: impl Into<String>) -> GitError {
        GitError::Push {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    fn check_interrupt(&self) -> Result<(), GitError> {
        if self.opts.interrupt.load(Ordering::Relaxed) {
            Err(self.err("interrupted"))
        } else {
            Ok(())
        }
    }

    /// A gix error (connecting, configuring): authentication when it says so.
    fn transport_err(&self, e: gix::Error) -> GitError {
        self.classify(one_line(&e), false)
    }

    /// A transport error from gix-transport: its whole cause chain, one line.
    fn client_err(&self, e: gix::protocol::transport::client::Error) -> GitError {
        let denied = matches!(&e, gix::protocol::transport::client::Error::Io(io)
            if io.kind() == std::io::ErrorKind::PermissionDenied);
        self.classify(chain(&e), denied)
    }

    fn classify(&self, message: String, denied: bool) -> GitError {
        if self.opts.interrupt.load(Ordering::Relaxed) {
            return self.err("interrupted");
        }
        let lower = message.to_ascii_lowercase();
        if denied
            || lower.contains("401")
            || lower.contains("403")
            || lower.contains("authentication")
            || lower.contains("permission denied")
            || lower.contains("host key verification failed")
        {
            return GitError::Authentication {
                url: self.url.clone(),
                message,
            };
        }
        self.err(message)
    }

    fn io_err(&self, what: &str) -> impl Fn(std::io::Error) -> GitError + '_ {
        let what = what.to_owned();
        move |e| {
            let denied = e.kind() == std::io::ErrorKind::PermissionDenied;
            match self.classify(chain(&e), denied) {
                GitError::Push { url, message } => GitError::Push {
                    url,
                    message: format!("{what}: {message}"),
                },
                other => other,
            }
        }
    }
}

/// An error and its causes on one line, repeated messages dropped.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_owned());
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Pushes commits from the repository at `git_dir` to the remote, never forcing: see the
/// [module docs](self) for the checks made before and by the server. Returns what changed;
/// [`GitError::RemoteMoved`] when a reference is not where the caller built on (fetch,
/// redo, push again), [`GitError::PushRejected`] when the server says no.
pub fn push(git_dir: &Path, opts: &PushOptions) -> Result<PushOutcome, GitError> {
    crate::ensure_crypto_provider();
    let p = Pusher {
        opts,
        url: redact_url(&opts.url),
    };
    if opts.updates.is_empty() {
        return Ok(PushOutcome::default());
    }
    for o in &opts.push_options {
        if o.contains(['\n', '\0']) {
            return Err(p.err(format!("push option {o:?} contains a newline or NUL")));
        }
    }
    let mut repo = open(git_dir)?;
    let mut updates = Vec::new();
    for u in &opts.updates {
        let commit = parse_oid(&u.commit, "the pushed commit")?;
        let expected = u
            .expected_old
            .as_deref()
            .map(|e| parse_oid(e, "the expected remote tip"))
            .transpose()?;
        let reference = u.full_ref();
        if gix::validate::reference::name(reference.as_bytes().as_bstr()).is_err() {
            return Err(GitError::InvalidPath {
                path: reference,
                reason: "not a valid reference name".into(),
            });
        }
        if repo.find_commit(commit).is_err() {
            return Err(repo_msg(
                git_dir,
                format!("commit {commit} to push not found"),
            ));
        }
        updates.push((commit, reference, expected));
    }

    // SSH settings through core.sshCommand, as for fetching; the key files live in a
    // temporary directory for the duration of the push.
    let ssh_dir = tempfile::tempdir().map_err(io_err(Path::new("temporary directory")))?;
    if let Some(cmd) = ssh_command(&opts.auth, ssh_dir.path())? {
        let mut cfg = repo.config_snapshot_mut();
        cfg.set_value(&gix::config::tree::Core::SSH_COMMAND, cmd.as_str())
            .map_err(repo_err(git_dir))?;
        cfg.commit().map_err(repo_err(git_dir))?;
    }
    let url = gix::url::parse(gix::bstr::BStr::new(opts.url.as_str())).map_err(|e| {
        GitError::InvalidUrl {
            url: p.url.clone(),
            reason: e.to_string(),
        }
    })?;
    let ssh = if url.scheme == gix::url::Scheme::Ssh {
        repo.ssh_connect_options().map_err(repo_err(git_dir))?
    } else {
        Default::default()
    };
    let mut transport = gix::protocol::transport::client::blocking_io::connect::connect(
        url,
        gix::protocol::transport::client::blocking_io::connect::Options {
            // "V1" is the unversioned protocol here: receive-pack has no v2, and an explicit
            // "version 1" advertisement is not parsed.
            version: gix::protocol::transport::Protocol::V1,
            ssh,
            trace: false,
        },
    )
    .map_err(|e| p.transport_err(e))?;
    if let Some(http) =
        crate::git::http_transport_options(&repo, &opts.url, &opts.auth, opts.connect_timeout)
    {
        let any: &dyn std::any::Any = http.as_ref();
        transport.configure(any).map_err(|e| p.transport_err(e))?;
        if let Some(account) = basic_account(&opts.auth) {
            transport
                .set_identity(account)
                .map_err(|e| p.client_err(e))?;
        }
    }

    // The advertisement: references and capabilities.
    let (advertised, caps) = {
        let resp = transport
            .handshake(Service::ReceivePack, &[])
            .map_err(|e| p.client_err(e))?;
        let caps: HashSet<String> = resp
            .capabilities
            .iter()
            .map(|c| c.name().to_str_lossy().into_owned())
            .collect();
        let mut refs = HashMap::new();
        if let Some(mut rd) = resp.refs {
            let mut line = String::new();
            loop {
                line.clear();
                if rd
                    .read_line(&mut line)
                    .map_err(p.io_err("reading the advertised references"))?
                    == 0
                {
                    break;
                }
                let l = line.trim_end();
                let Some((oid, name)) = l.split_once(' ') else {
                    continue;
                };
                if name == "capabilities^{}" || name.ends_with("^{}") {
                    continue;
                }
                if let Ok(id) = ObjectId::from_hex(oid.as_bytes()) {
                    refs.insert(name.to_owned(), id);
                }
            }
        }
        (refs, caps)
    };
    p.check_interrupt()?;

    // Never force: the remote must be where the caller built on.
    let mut commands = Vec::new();
    let mut outcome = PushOutcome::default();
    for (commit, reference, expected) in &updates {
        let actual = advertised.get(reference).copied();
        if actual == Some(*commit) {
            outcome.up_to_date.push(reference.clone());
            continue;
        }
        if actual != *expected {
            return Err(GitError::RemoteMoved {
                url: p.url.clone(),
                reference: reference.clone(),
                expected: expected.map(|e| e.to_hex().to_string()),
                actual: actual.map(|a| a.to_hex().to_string()),
            });
        }
        if let Some(old) = expected
            && !is_ancestor(&repo, *old, *commit)
        {
            return Err(GitError::PushRejected {
                url: p.url.clone(),
                reference: reference.clone(),
                reason: format!(
                    "non-fast-forward: {commit} does not descend from the remote tip {old}"
                ),
            });
        }
        commands.push((*expected, *commit, reference.clone()));
    }
    if commands.is_empty() {
        if transport.connection_persists_across_multiple_requests() {
            // Tell receive-pack there are no commands (a lone flush) so it exits cleanly.
            if let Ok(w) = transport.request(WriteMode::Binary, MessageKind::Flush, false) {
                let (mut raw, _) = w.into_parts();
                let _ = raw.write_all(b"0000");
                let _ = raw.flush();
            }
        }
        return Ok(outcome);
    }
    if !caps.contains("report-status") {
        return Err(p.err("the server does not offer report-status; cannot confirm a push"));
    }
    if !opts.push_options.is_empty() && !caps.contains("push-options") {
        return Err(
            p.err("the server does not accept push options (receive.advertisePushOptions is off)")
        );
    }
    let sideband = caps.contains("side-band-64k");
    let atomic = commands.len() > 1 && caps.contains("atomic");

    // What the remote lacks.
    let mut haves: Vec<ObjectId> = advertised.values().copied().collect();
    if let Ok(platform) = repo.references()
        && let Ok(all) = platform.all()
    {
        for r in all.flatten() {
            let mut r = r;
            if let Ok(id) = r.peel_to_id() {
                haves.push(id.detach());
            }
        }
    }
    let objects = objects_to_send(&repo, git_dir, &commands, &haves, &opts.interrupt)?;
    p.check_interrupt()?;

    // Commands, push options, pack.
    let mut capabilities = vec!["report-status".to_owned()];
    if sideband {
        capabilities.push("side-band-64k".into());
    }
    if caps.contains("quiet") {
        capabilities.push("quiet".into());
    }
    if atomic {
        capabilities.push("atomic".into());
    }
    if !opts.push_options.is_empty() {
        capabilities.push("push-options".into());
    }
    if caps.contains("agent") {
        capabilities.push(format!("agent=gitops/{}", env!("CARGO_PKG_VERSION")));
    }
    let null = ObjectId::null(repo.object_hash());
    let mut response = {
        let mut w = transport
            .request(WriteMode::Binary, MessageKind::Flush, false)
            .map_err(|e| p.client_err(e))?;
        for (i, (old, new, reference)) in commands.iter().enumerate() {
            let mut line = format!("{} {new} {reference}", old.unwrap_or(null)).into_bytes();
            if i == 0 {
                line.push(0);
                line.extend_from_slice(capabilities.join(" ").as_bytes());
            }
            w.write_all(&line)
                .map_err(p.io_err("sending the push commands"))?;
        }
        w.write_message(MessageKind::Flush)
            .map_err(p.io_err("sending the push commands"))?;
        if !opts.push_options.is_empty() {
            for o in &opts.push_options {
                w.write_all(o.as_bytes())
                    .map_err(p.io_err("sending the push options"))?;
            }
            w.write_message(MessageKind::Flush)
                .map_err(p.io_err("sending the push options"))?;
        }
        let (mut raw, reader) = w.into_parts();
        write_pack(&repo, git_dir, &objects, &mut raw, &opts.interrupt).map_err(|e| match e {
            PackError::Git(g) => g,
            PackError::Io(e) => p.io_err("sending the pack")(e),
            PackError::Interrupted => p.err("interrupted"),
        })?;
        raw.flush().map_err(p.io_err("sending the pack"))?;
        drop(raw);
        reader
    };
    outcome.objects_sent = objects.len();
    let report =
        read_report(&mut *response, sideband, &mut outcome.messages).map_err(|e| match e {
            ReportError::Io(e) => p.io_err("reading the push result")(e),
            ReportError::Protocol(m) => p.err(m),
        })?;
    drop(response);
    if let Some(reason) = report.unpack_error {
        return Err(p.err(format!("the server could not unpack the objects: {reason}")));
    }
    let status: HashMap<&str, &Option<String>> =
        report.refs.iter().map(|(r, s)| (r.as_str(), s)).collect();
    for (old, new, reference) in &commands {
        match status.get(reference.as_str()) {
            Some(None) => outcome.updated.push(PushedRef {
                reference: reference.clone(),
                old: old.map(|o| o.to_hex().to_string()),
                new: new.to_hex().to_string(),
            }),
            Some(Some(reason)) => {
                // Hooks explain themselves on the progress channel (e.g. a protected
                // branch policy); keep the last words with the reason.
                let mut reason = reason.clone();
                if !outcome.messages.is_empty() {
                    let from = outcome.messages.len().saturating_sub(5);
                    reason.push_str(&format!(
                        " (server said: {})",
                        outcome.messages[from..].join("; ")
                    ));
                }
                return Err(GitError::PushRejected {
                    url: p.url.clone(),
                    reference: reference.clone(),
                    reason,
                });
            }
            None => {
                return Err(p.err(format!("the server did not report on {reference}")));
            }
        }
    }
    Ok(outcome)
}

/// Whether `ancestor` is `commit` or one of its ancestors in the local repository
/// (commits missing locally, like a shallow boundary's parents, end the walk).
fn is_ancestor(repo: &gix::Repository, ancestor: ObjectId, commit: ObjectId) -> bool {
    let mut queue = VecDeque::from([commit]);
    let mut seen = HashSet::from([commit]);
    while let Some(c) = queue.pop_front() {
        if c == ancestor {
            return true;
        }
        let Ok(obj) = repo.find_commit(c) else {
            continue;
        };
        for parent in obj.parent_ids() {
            let parent = parent.detach();
            if seen.insert(parent) {
                queue.push_back(parent);
            }
        }
    }
    false
}

/// The objects reachable from the pushed commits that the remote does not have, commits
/// first, in a deterministic order.
fn objects_to_send(
    repo: &gix::Repository,
    git_dir: &Path,
    commands: &[(Option<ObjectId>, ObjectId, String)],
    haves: &[ObjectId],
    interrupt: &AtomicBool,
) -> Result<Vec<ObjectId>, GitError> {
    // Commits the remote has: the haves present locally and their ancestors (bounded).
    let mut known: HashSet<ObjectId> = HashSet::new();
    let mut queue: VecDeque<ObjectId> = haves
        .iter()
        .copied()
        .filter(|h| repo.has_object(h))
        .collect();
    while let Some(c) = queue.pop_front() {
        if known.len() >= MAX_HAVE_WALK {
            break;
        }
        if !known.insert(c) {
            continue;
        }
        if let Ok(commit) = repo.find_commit(c) {
            queue.extend(commit.parent_ids().map(|p| p.detach()));
        }
    }
    // New commits, newest first.
    let mut new_commits = Vec::new();
    let mut seen = HashSet::new();
    let mut queue: VecDeque<ObjectId> = commands.iter().map(|(_, new, _)| *new).collect();
    while let Some(c) = queue.pop_front() {
        if known.contains(&c) || !seen.insert(c) {
            continue;
        }
        let commit = repo
            .find_commit(c)
            .map_err(|e| repo_msg(git_dir, format!("commit {c}: {}", one_line(&e))))?;
        let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
        new_commits.push((c, parents.clone()));
        for parent in parents {
            if repo.has_object(parent) {
                queue.push_back(parent);
            }
        }
    }
    let mut out = Vec::new();
    let mut sent = HashSet::new();
    for (c, _) in &new_commits {
        sent.insert(*c);
        out.push(*c);
    }
    for (c, parents) in &new_commits {
        if interrupt.load(Ordering::Relaxed) {
            break;
        }
        let tree = commit_tree(repo, git_dir, *c)?;
        let base = parents
            .first()
            .filter(|p| repo.has_object(p))
            .map(|p| commit_tree(repo, git_dir, *p))
            .transpose()?;
        tree_additions(repo, git_dir, tree, base, &mut sent, &mut out)?;
    }
    Ok(out)
}

/// Adds `tree` and everything below it that differs from `base` (compared path by path) to
/// `out`.
fn tree_additions(
    repo: &gix::Repository,
    git_dir: &Path,
    tree: ObjectId,
    base: Option<ObjectId>,
    sent: &mut HashSet<ObjectId>,
    out: &mut Vec<ObjectId>,
) -> Result<(), GitError> {
    if Some(tree) == base || !sent.insert(tree) {
        return Ok(());
    }
    out.push(tree);
    let read = |id: ObjectId| -> Result<Vec<(Vec<u8>, EntryKind, ObjectId)>, GitError> {
        let t = repo
            .find_tree(id)
            .map_err(|e| repo_msg(git_dir, format!("tree {id}: {}", one_line(&e))))?;
        let d = t
            .decode()
            .map_err(|e| repo_msg(git_dir, format!("tree {id}: {}", one_line(&e))))?;
        Ok(d.entries
            .iter()
            .map(|e| (e.filename.to_vec(), e.mode.kind(), e.oid.to_owned()))
            .collect())
    };
    let entries = read(tree)?;
    let base_entries: HashMap<Vec<u8>, (EntryKind, ObjectId)> = match base {
        Some(b) => read(b)?.into_iter().map(|(n, k, o)| (n, (k, o))).collect(),
        None => HashMap::new(),
    };
    for (name, kind, oid) in entries {
        let old = base_entries.get(&name);
        if old.is_some_and(|(_, o)| *o == oid) {
            continue;
        }
        match kind {
            EntryKind::Tree => {
                let old_tree = old.filter(|(k, _)| *k == EntryKind::Tree).map(|(_, o)| *o);
                tree_additions(repo, git_dir, oid, old_tree, sent, out)?;
            }
            EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                if sent.insert(oid) {
                    out.push(oid);
                }
            }
            EntryKind::Commit => {}
        }
    }
    Ok(())
}

enum PackError {
    Git(GitError),
    Io(std::io::Error),
    Interrupted,
}

/// Counts bytes into a SHA-1 while writing them.
struct HashingWriter<'w, W: Write + ?Sized> {
    inner: &'w mut W,
    hasher: gix::hash::Hasher,
}

impl<W: Write + ?Sized> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a version 2 pack of `objects` (whole, zlib-compressed) to `out`.
fn write_pack<W: Write + ?Sized>(
    repo: &gix::Repository,
    git_dir: &Path,
    objects: &[ObjectId],
    out: &mut W,
    interrupt: &AtomicBool,
) -> Result<(), PackError> {
    let count = u32::try_from(objects.len())
        .map_err(|_| PackError::Git(repo_msg(git_dir, "too many objects for one pack".into())))?;
    let mut w = HashingWriter {
        inner: out,
        hasher: gix::hash::hasher(repo.object_hash()),
    };
    let mut buf = std::io::BufWriter::with_capacity(64 * 1024, &mut w);
    buf.write_all(b"PACK").map_err(PackError::Io)?;
    buf.write_all(&2u32.to_be_bytes()).map_err(PackError::Io)?;
    buf.write_all(&count.to_be_bytes()).map_err(PackError::Io)?;
    for id in objects {
        if interrupt.load(Ordering::Relaxed) {
            return Err(PackError::Interrupted);
        }
        let obj = repo.find_object(*id).map_err(|e| {
            PackError::Git(repo_msg(git_dir, format!("object {id}: {}", one_line(&e))))
        })?;
        let kind: u8 = match obj.kind {
            gix::objs::Kind::Commit => 1,
            gix::objs::Kind::Tree => 2,
            gix::objs::Kind::Blob => 3,
            gix::objs::Kind::Tag => 4,
        };
        let mut size = obj.data.len() as u64;
        let mut header = vec![(kind << 4) | (size & 0x0f) as u8];
        size >>= 4;
        while size > 0 {
            if let Some(last) = header.last_mut() {
                *last |= 0x80;
            }
            header.push((size & 0x7f) as u8);
            size >>= 7;
        }
        buf.write_all(&header).map_err(PackError::Io)?;
        let mut z = flate2::write::ZlibEncoder::new(&mut buf, flate2::Compression::default());
        z.write_all(&obj.data).map_err(PackError::Io)?;
        z.finish().map_err(PackError::Io)?;
    }
    buf.flush().map_err(PackError::Io)?;
    drop(buf);
    let HashingWriter { inner, hasher } = w;
    let digest = hasher
        .try_finalize()
        .map_err(|e| PackError::Git(repo_msg(git_dir, format!("pack checksum: {e}"))))?;
    inner.write_all(digest.as_bytes()).map_err(PackError::Io)?;
    Ok(())
}

enum ReportError {
    Io(std::io::Error),
    Protocol(String),
}

#[derive(Debug, Default)]
struct Report {
    unpack_error: Option<String>,
    /// `(ref, None)` for `ok`, `(ref, Some(reason))` for `ng`.
    refs: Vec<(String, Option<String>)>,
}

fn keep_messages(messages: &mut Vec<String>, text: &[u8]) {
    for l in text.split(|b| *b == b'\n' || *b == b'\r') {
        let l = String::from_utf8_lossy(l).trim().to_owned();
        if !l.is_empty() {
            messages.push(l);
        }
    }
    if messages.len() > MAX_MESSAGES {
        let extra = messages.len() - MAX_MESSAGES;
        messages.drain(..extra);
    }
}

/// Reads receive-pack's report (`unpack …`, `ok <ref>`, `ng <ref> <reason>`), demultiplexing
/// side-band channels when `sideband`: progress and hook output go to `messages`.
fn read_report(
    rd: &mut dyn gix::protocol::transport::client::blocking_io::ReadlineBufRead,
    sideband: bool,
    messages: &mut Vec<String>,
) -> Result<Report, ReportError> {
    use gix::protocol::transport::packetline::PacketLineRef;
    let mut status_lines: Vec<Vec<u8>> = Vec::new();
    let mut inner = Vec::new();
    loop {
        let line = match rd.readline() {
            None => break,
            Some(Err(e)) => return Err(ReportError::Io(e)),
            Some(Ok(Err(e))) => {
                return Err(ReportError::Protocol(format!("the server said: {e}")));
            }
            Some(Ok(Ok(line))) => line,
        };
        let data = match line {
            PacketLineRef::Data(d) => d,
            PacketLineRef::Flush => break,
            _ => continue,
        };
        if !sideband {
            status_lines.push(data.to_vec());
            continue;
        }
        match data.first() {
            Some(1) => inner.extend_from_slice(&data[1..]),
            Some(2) => keep_messages(messages, &data[1..]),
            Some(3) => {
                keep_messages(messages, &data[1..]);
                return Err(ReportError::Protocol(format!(
                    "the server failed: {}",
                    String::from_utf8_lossy(&data[1..]).trim()
                )));
            }
            _ => {}
        }
    }
    if sideband {
        // The report itself is pkt-lines inside channel 1.
        let mut rest = inner.as_slice();
        while rest.len() >= 4 {
            let len = std::str::from_utf8(&rest[..4])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .ok_or_else(|| ReportError::Protocol("malformed report-status".into()))?;
            if len == 0 {
                break;
            }
            if len < 4 || len > rest.len() {
                return Err(ReportError::Protocol("truncated report-status".into()));
            }
            status_lines.push(rest[4..len].to_vec());
            rest = &rest[len..];
        }
    }
    let mut report = Report::default();
    let mut saw_unpack = false;
    for l in status_lines {
        let l = String::from_utf8_lossy(&l);
        let l = l.trim_end_matches('\n');
        if let Some(u) = l.strip_prefix("unpack ") {
            saw_unpack = true;
            if u != "ok" {
                report.unpack_error = Some(u.to_owned());
            }
        } else if let Some(r) = l.strip_prefix("ok ") {
            report.refs.push((r.to_owned(), None));
        } else if let Some(r) = l.strip_prefix("ng ") {
            let (reference, reason) = r.split_once(' ').unwrap_or((r, "rejected"));
            report
                .refs
                .push((reference.to_owned(), Some(reason.to_owned())));
        }
    }
    if !saw_unpack {
        return Err(ReportError::Protocol(
            "the server sent no report-status".into(),
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert!(valid_path("apps/podinfo.yaml").is_ok());
        for bad in [
            "/etc/passwd",
            "a/../b",
            "./a",
            ".git/config",
            "a//b",
            "a/.GIT/x",
            "",
        ] {
            assert!(valid_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_gpg_keys_are_not_quoted() {
        let ring = b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nhunter2\n-----END PGP PRIVATE KEY BLOCK-----\n";
        let Err(GitError::Signing { message }) = openpgp_key(ring, None) else {
            panic!("a malformed key ring is refused");
        };
        let bytes: Vec<String> = b"hunter2".iter().map(|b| b.to_string()).collect();
        assert!(
            message.starts_with("unable to read GPG key ring"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains(&bytes.join(", ")), "{message}");
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://user:hunter2@example.com/r.git"),
            "https://user@example.com/r.git"
        );
        assert_eq!(redact_url("ssh://git@h/r"), "ssh://git@h/r");
        assert_eq!(redact_url("file:///tmp/r"), "file:///tmp/r");
    }

    #[test]
    fn report_with_and_without_sideband() {
        use gix::protocol::transport::packetline::PacketLineRef;
        use gix::protocol::transport::packetline::blocking_io::StreamingPeekableIter;
        fn pkt(data: &[u8]) -> Vec<u8> {
            let mut v = format!("{:04x}", data.len() + 4).into_bytes();
            v.extend_from_slice(data);
            v
        }
        let plain = [
            pkt(b"unpack ok\n"),
            pkt(b"ok refs/heads/main\n"),
            pkt(b"ng refs/heads/x protected branch\n"),
            b"0000".to_vec(),
        ]
        .concat();
        let mut rd = StreamingPeekableIter::new(plain.as_slice(), &[PacketLineRef::Flush], false);
        let mut msgs = Vec::new();
        let r = match read_report(&mut rd.as_read(), false, &mut msgs) {
            Ok(r) => r,
            Err(_) => panic!("report"),
        };
        assert_eq!(r.unpack_error, None);
        assert_eq!(
            r.refs,
            vec![
                ("refs/heads/main".into(), None),
                ("refs/heads/x".into(), Some("protected branch".into()))
            ]
        );
        let inner = [
            pkt(b"unpack ok\n"),
            pkt(b"ok refs/heads/main\n"),
            b"0000".to_vec(),
        ]
        .concat();
        let mut band1 = vec![1u8];
        band1.extend_from_slice(&inner);
        let muxed = [pkt(b"\x02hook says hi\n"), pkt(&band1), b"0000".to_vec()].concat();
        let mut rd = StreamingPeekableIter::new(muxed.as_slice(), &[PacketLineRef::Flush], false);
        let r = match read_report(&mut rd.as_read(), true, &mut msgs) {
            Ok(r) => r,
            Err(_) => panic!("report"),
        };
        assert_eq!(r.refs, vec![("refs/heads/main".into(), None)]);
        assert_eq!(msgs, vec!["hook says hi".to_string()]);
    }
}
