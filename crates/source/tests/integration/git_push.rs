//! Checkout, commit and push with gitoxide against real Git servers: `git http-backend`
//! behind [`gitops_source::git_server`], `git-receive-pack` over `file://`, and a real
//! `sshd`. The `git` CLI is only the server and the oracle (log, show, diff, verify-commit).

use gitops_source::git::{
    FetchOptions, FetchOutcome, FetchedRepo, GitAuth, GitError, GitReference, fetch,
};
use gitops_source::git_push::{
    CommitOptions, FileChange, PushOptions, RefUpdate, Signer, checkout, commit_changes,
    commit_root, init_bare, push, worktree_changes,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn git_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "someone")
        .env("GIT_AUTHOR_EMAIL", "someone@example.com")
        .env("GIT_COMMITTER_NAME", "someone")
        .env("GIT_COMMITTER_EMAIL", "someone@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("git runs")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_env(dir, args, &[]);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

macro_rules! require_git {
    () => {
        if !have("git") {
            eprintln!("skipping: git is not installed");
            return;
        }
    };
}

/// A bare repository `<root>/app.git` with `main` holding a few files, made with the CLI.
struct Upstream {
    _t: tempfile::TempDir,
    root: PathBuf,
    bare: PathBuf,
    seed: PathBuf,
}

impl Upstream {
    fn new() -> Upstream {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("srv");
        std::fs::create_dir_all(&root).unwrap();
        git(&root, &["init", "-q", "--bare", "-b", "main", "app.git"]);
        let bare = root.join("app.git");
        let seed = t.path().join("seed");
        std::fs::create_dir_all(seed.join("apps/podinfo")).unwrap();
        std::fs::create_dir_all(seed.join("infra")).unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        std::fs::write(
            seed.join("apps/podinfo/deploy.yaml"),
            "image: ghcr.io/stefanprodan/podinfo:6.4.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n",
        )
        .unwrap();
        std::fs::write(seed.join("apps/podinfo/svc.yaml"), "kind: Service\n").unwrap();
        std::fs::write(seed.join("infra/redis.yaml"), "image: redis:7\n").unwrap();
        std::fs::write(seed.join("README.md"), "fleet\n").unwrap();
        std::fs::write(seed.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::create_dir_all(seed.join("scripts")).unwrap();
        std::fs::write(seed.join("scripts/deploy.sh"), "#!/bin/sh\n").unwrap();
        git(&seed, &["add", "-A"]);
        git(
            &seed,
            &["update-index", "--chmod=+x", "run.sh", "scripts/deploy.sh"],
        );
        git(&seed, &["commit", "-q", "-m", "initial"]);
        git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
        Upstream {
            _t: t,
            root,
            bare,
            seed,
        }
    }

    fn file_url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    fn tip(&self, branch: &str) -> String {
        git(&self.bare, &["rev-parse", &format!("refs/heads/{branch}")])
    }

    /// Someone else pushes a commit to `main`.
    fn someone_pushes(&self, file: &str, content: &str) -> String {
        git(
            &self.seed,
            &["pull", "-q", self.bare.to_str().unwrap(), "main"],
        );
        std::fs::write(self.seed.join(file), content).unwrap();
        git(&self.seed, &["add", "-A"]);
        git(&self.seed, &["commit", "-q", "-m", "concurrent change"]);
        git(
            &self.seed,
            &["push", "-q", self.bare.to_str().unwrap(), "main"],
        );
        self.tip("main")
    }
}

/// `git http-backend` on loopback, serving `root`; receive-pack is on (REMOTE_USER is set).
struct HttpServer {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _rt: tokio::runtime::Runtime,
}

impl HttpServer {
    fn start(root: &Path, authorization: Option<String>) -> HttpServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = gitops_source::git_server::GitServerConfig {
            root: root.to_path_buf(),
            authorization,
        };
        rt.spawn(gitops_source::git_server::serve(cfg, listener, async {
            let _ = rx.await;
        }));
        HttpServer {
            url: format!("http://{addr}"),
            _stop: tx,
            _rt: rt,
        }
    }
}

fn fetch_main(url: &str, auth: GitAuth, dir: &Path) -> FetchedRepo {
    let mut o = FetchOptions::new(url, GitReference::Branch("main".into()));
    o.auth = auth;
    match fetch(&o, dir, None) {
        Ok(FetchOutcome::Fetched(r)) => *r,
        other => panic!("fetch {url}: {other:?}"),
    }
}

fn bump(repo: &FetchedRepo, tag: &str) -> String {
    bump_on(&repo.dir, &repo.commit, tag)
}

fn bump_on(dir: &Path, parent: &str, tag: &str) -> String {
    let changes = vec![FileChange::write(
        "apps/podinfo/deploy.yaml",
        format!(
            "image: ghcr.io/stefanprodan/podinfo:{tag} # {{\"$imagepolicy\": \"flux-system:podinfo\"}}\n"
        ),
    )];
    let mut opts = CommitOptions::new(
        "fluxcdbot",
        "fluxcdbot@users.noreply.github.com",
        format!("Update podinfo to {tag}"),
    );
    opts.time = Some(gix::date::Time {
        seconds: 1_700_000_000,
        offset: 3600,
    });
    commit_changes(dir, parent, &changes, &opts)
        .unwrap()
        .expect("a change")
}

fn push_opts(url: &str, commit: &str, remote_ref: &str, expected: Option<&str>) -> PushOptions {
    let mut p = PushOptions::new(url);
    p.updates.push(RefUpdate::new(
        commit,
        remote_ref,
        expected.map(str::to_owned),
    ));
    p
}

#[test]
fn checkout_writes_the_tree() {
    require_git!();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    // 3,000 files in 30 directories, an executable, a symlink, a nested tree.
    for d in 0..30 {
        let dir = src.join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(
                dir.join(format!("f{f:03}.yaml")),
                format!("d: {d}\nf: {f}\n"),
            )
            .unwrap();
        }
    }
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::write(src.join("a/b/c/deep.txt"), "deep\n").unwrap();
    std::fs::write(src.join("tool.sh"), "#!/bin/sh\n").unwrap();
    std::os::unix::fs::symlink("a/b/c/deep.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("../../../etc/passwd", src.join("escape")).unwrap();
    git(&src, &["add", "-A"]);
    git(&src, &["update-index", "--chmod=+x", "tool.sh"]);
    git(&src, &["commit", "-q", "-m", "many files"]);

    let url = format!("file://{}", src.display());
    let repo = fetch_main(&url, GitAuth::default(), &t.path().join("git"));
    let out = t.path().join("out");
    let started = Instant::now();
    checkout(&repo.dir, &repo.commit, &out).unwrap();
    eprintln!("checkout of 3,005 files: {:?}", started.elapsed());

    assert_eq!(
        std::fs::read_to_string(out.join("dir07/f042.yaml")).unwrap(),
        "d: 7\nf: 42\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("a/b/c/deep.txt")).unwrap(),
        "deep\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("tool.sh") & 0o111, 0o111);
    assert_eq!(mode("a/b/c/deep.txt") & 0o111, 0);
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        PathBuf::from("a/b/c/deep.txt")
    );
    assert_eq!(
        std::fs::read_link(out.join("escape")).unwrap(),
        PathBuf::from("../../../etc/passwd")
    );
    let count = walk(&out);
    assert_eq!(count, 3000 + 4, "regular files and symlinks");
    assert!(!out.join(".git").exists());

    // The checkout compares clean; edits show up like `git add -A`.
    assert_eq!(
        worktree_changes(&repo.dir, &repo.commit, &out).unwrap(),
        vec![]
    );
    std::fs::write(out.join("dir00/f000.yaml"), "changed\n").unwrap();
    std::fs::remove_file(out.join("dir01/f001.yaml")).unwrap();
    std::fs::write(out.join("new.yaml"), "new\n").unwrap();
    let changes = worktree_changes(&repo.dir, &repo.commit, &out).unwrap();
    assert_eq!(
        changes,
        vec![
            FileChange::write("dir00/f000.yaml", b"changed\n".to_vec()),
            FileChange::delete("dir01/f001.yaml"),
            FileChange::write("new.yaml", b"new\n".to_vec()),
        ]
    );
    let c = commit_changes(
        &repo.dir,
        &repo.commit,
        &changes,
        &CommitOptions::new("bot", "bot@example.com", "edit"),
    )
    .unwrap()
    .unwrap();
    // Pushing to the non-bare source needs a branch that is not checked out.
    let outcome = push(&repo.dir, &push_opts(&url, &c, "edited", None)).unwrap();
    assert_eq!(outcome.updated.len(), 1);
    assert_eq!(
        git(&src, &["diff", "--name-status", "main", "edited"]),
        "M\tdir00/f000.yaml\nD\tdir01/f001.yaml\nA\tnew.yaml"
    );

    // The target directory must be empty.
    let err = checkout(&repo.dir, &repo.commit, &out).unwrap_err();
    assert!(matches!(err, GitError::Io { .. }), "{err}");
}

fn walk(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            n += walk(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

#[test]
fn commit_and_push_over_http() {
    require_git!();
    let up = Upstream::new();
    let server = HttpServer::start(&up.root, None);
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("git"));
    let parent = repo.commit.clone();
    assert_eq!(parent, up.tip("main"));

    let co = work.path().join("tree");
    checkout(&repo.dir, &repo.commit, &co).unwrap();
    assert!(co.join("apps/podinfo/deploy.yaml").exists());

    let commit = bump(&repo, "6.5.0");
    let outcome = push(&repo.dir, &push_opts(&url, &commit, "main", Some(&parent))).unwrap();
    assert_eq!(outcome.updated.len(), 1);
    assert_eq!(outcome.updated[0].reference, "refs/heads/main");
    assert_eq!(outcome.updated[0].old.as_deref(), Some(parent.as_str()));
    // One commit, three trees on the path (root, apps, apps/podinfo), one blob.
    assert_eq!(outcome.objects_sent, 5, "{outcome:?}");

    assert_eq!(up.tip("main"), commit);
    let info = git(
        &up.bare,
        &[
            "log",
            "-1",
            "--format=%an|%ae|%cn|%ce|%s|%P|%at|%ai",
            "main",
        ],
    );
    assert_eq!(
        info,
        format!(
            "fluxcdbot|fluxcdbot@users.noreply.github.com|fluxcdbot|fluxcdbot@users.noreply.github.com|Update podinfo to 6.5.0|{parent}|1700000000|2023-11-14 23:13:20 +0100"
        )
    );
    assert_eq!(
        git(&up.bare, &["diff", "--name-only", &parent, &commit]),
        "apps/podinfo/deploy.yaml"
    );
    assert!(
        git(
            &up.bare,
            &["show", &format!("{commit}:apps/podinfo/deploy.yaml")]
        )
        .contains("podinfo:6.5.0")
    );
    // The rest of the tree is untouched, modes included.
    assert_eq!(
        git(&up.bare, &["ls-tree", "-r", &parent]).replace(
            &git(
                &up.bare,
                &["rev-parse", &format!("{parent}:apps/podinfo/deploy.yaml")]
            ),
            "X"
        ),
        git(&up.bare, &["ls-tree", "-r", &commit]).replace(
            &git(
                &up.bare,
                &["rev-parse", &format!("{commit}:apps/podinfo/deploy.yaml")]
            ),
            "X"
        )
    );
    assert!(git(&up.bare, &["ls-tree", &commit, "run.sh"]).starts_with("100755"));
    git(&up.bare, &["fsck", "--strict"]);

    // A second commit on top of the first, pushed from the same repository.
    let repo2 = repo;
    let second = bump_on(&repo2.dir, &commit, "6.5.1");
    let outcome = push(&repo2.dir, &push_opts(&url, &second, "main", Some(&commit))).unwrap();
    assert_eq!(outcome.updated[0].new, second);
    assert_eq!(up.tip("main"), second);

    // Pushing what the remote already has changes nothing.
    let outcome = push(&repo2.dir, &push_opts(&url, &second, "main", Some(&commit))).unwrap();
    assert!(outcome.updated.is_empty());
    assert_eq!(outcome.up_to_date, vec!["refs/heads/main".to_owned()]);

    // No change, no commit.
    let same = commit_changes(
        &repo2.dir,
        &second,
        &[FileChange::write("README.md", b"fleet\n".to_vec())],
        &CommitOptions::new("a", "a@example.com", "noop"),
    )
    .unwrap();
    assert_eq!(same, None);
    // An executable in a subdirectory stays executable; directories are not files.
    let exec = commit_changes(
        &repo2.dir,
        &second,
        &[FileChange::write(
            "scripts/deploy.sh",
            b"#!/bin/sh\necho deploy\n".to_vec(),
        )],
        &CommitOptions::new("a", "a@example.com", "script"),
    )
    .unwrap()
    .unwrap();
    let outcome = push(&repo2.dir, &push_opts(&url, &exec, "main", Some(&second))).unwrap();
    assert_eq!(outcome.updated.len(), 1);
    assert!(git(&up.bare, &["ls-tree", &exec, "scripts/deploy.sh"]).starts_with("100755"));
    for change in [
        FileChange::write("apps", b"x".to_vec()),
        FileChange::delete("apps/podinfo"),
    ] {
        let err = commit_changes(
            &repo2.dir,
            &exec,
            &[change],
            &CommitOptions::new("a", "a@example.com", "dir"),
        )
        .unwrap_err();
        assert!(matches!(err, GitError::InvalidPath { .. }), "{err}");
    }
    // Paths that would escape or touch .git are refused.
    for bad in ["../x", ".git/config", "/abs"] {
        let err = commit_changes(
            &repo2.dir,
            &second,
            &[FileChange::write(bad, b"x".to_vec())],
            &CommitOptions::new("a", "a@example.com", "bad"),
        )
        .unwrap_err();
        assert!(matches!(err, GitError::InvalidPath { .. }), "{err}");
    }
    git(&up.bare, &["fsck", "--strict"]);
}

#[test]
fn push_with_basic_auth_and_bearer_token() {
    require_git!();
    use base64::Engine;
    let up = Upstream::new();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bot:s3cr3t-pw")
    );
    let server = HttpServer::start(&up.root, Some(basic));
    let url = format!("{}/app.git", server.url);
    let auth = GitAuth {
        username: Some("bot".into()),
        password: Some("s3cr3t-pw".into()),
        ..Default::default()
    };
    let work = tempfile::tempdir().unwrap();
    let repo = fetch_main(&url, auth.clone(), &work.path().join("git"));
    let parent = repo.commit.clone();
    let commit = bump(&repo, "6.6.0");

    // Without and with wrong credentials: refused, nothing pushed, no secret in the error.
    let err = push(&repo.dir, &push_opts(&url, &commit, "main", Some(&parent))).unwrap_err();
    eprintln!("no credentials: {err}");
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
    let mut wrong = push_opts(&url, &commit, "main", Some(&parent));
    wrong.auth = GitAuth {
        username: Some("bot".into()),
        password: Some("wrong-pw".into()),
        ..Default::default()
    };
    let err = push(&repo.dir, &wrong).unwrap_err();
    eprintln!("wrong password: {err}");
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
    assert!(!err.to_string().contains("wrong-pw"), "{err}");
    assert_eq!(up.tip("main"), parent);

    let mut ok = push_opts(&url, &commit, "main", Some(&parent));
    ok.auth = auth;
    push(&repo.dir, &ok).unwrap();
    assert_eq!(up.tip("main"), commit);

    // A bearer token.
    drop(server);
    let server = HttpServer::start(&up.root, Some("Bearer tok-123".into()));
    let url = format!("{}/app.git", server.url);
    let auth = GitAuth {
        bearer_token: Some("tok-123".into()),
        ..Default::default()
    };
    let repo = fetch_main(&url, auth.clone(), &work.path().join("git2"));
    let parent = repo.commit.clone();
    let commit = bump(&repo, "6.6.1");
    let mut ok = push_opts(&url, &commit, "main", Some(&parent));
    ok.auth = auth;
    push(&repo.dir, &ok).unwrap();
    assert_eq!(up.tip("main"), commit);
    // Credentials in the URL never show in errors.
    let err = push(
        &repo.dir,
        &push_opts(
            &format!(
                "{}/app.git",
                server.url.replace("http://", "http://bot:url-secret@")
            ),
            &commit,
            "main",
            Some(&parent),
        ),
    )
    .unwrap_err();
    assert!(!err.to_string().contains("url-secret"), "{err}");
}

#[test]
fn remote_moved_is_detected_and_nothing_is_forced() {
    require_git!();
    let up = Upstream::new();
    let server = HttpServer::start(&up.root, None);
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("git"));
    let parent = repo.commit.clone();
    let commit = bump(&repo, "7.0.0");

    let theirs = up.someone_pushes("infra/redis.yaml", "image: redis:7.2\n");
    let err = push(&repo.dir, &push_opts(&url, &commit, "main", Some(&parent))).unwrap_err();
    match &err {
        GitError::RemoteMoved {
            reference,
            expected,
            actual,
            ..
        } => {
            assert_eq!(reference, "refs/heads/main");
            assert_eq!(expected.as_deref(), Some(parent.as_str()));
            assert_eq!(actual.as_deref(), Some(theirs.as_str()));
        }
        other => panic!("expected RemoteMoved, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        format!("refs/heads/main in {url} moved: expected {parent}, found {theirs}")
    );
    assert_eq!(up.tip("main"), theirs, "the remote is unchanged");

    // Claiming the new tip for a commit that does not descend from it is refused too.
    let err = push(&repo.dir, &push_opts(&url, &commit, "main", Some(&theirs))).unwrap_err();
    assert!(matches!(err, GitError::PushRejected { .. }), "{err}");
    assert!(err.to_string().contains("non-fast-forward"), "{err}");
    assert_eq!(up.tip("main"), theirs);

    // The caller's retry: fetch again, redo the change, push.
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("git2"));
    assert_eq!(repo.commit, theirs);
    let commit = bump(&repo, "7.0.0");
    push(&repo.dir, &push_opts(&url, &commit, "main", Some(&theirs))).unwrap();
    assert_eq!(up.tip("main"), commit);
    assert_eq!(
        git(&up.bare, &["log", "--format=%s", "-3", "main"]),
        "Update podinfo to 7.0.0\nconcurrent change\ninitial"
    );

    // A hook that refuses: the server's reason and its message come back.
    let hook = up.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'main is protected by policy' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("git3"));
    let next = bump(&repo, "7.0.1");
    let err = push(&repo.dir, &push_opts(&url, &next, "main", Some(&commit))).unwrap_err();
    match &err {
        GitError::PushRejected {
            reference, reason, ..
        } => {
            assert_eq!(reference, "refs/heads/main");
            assert!(reason.contains("pre-receive hook declined"), "{reason}");
            assert!(reason.contains("protected by policy"), "{reason}");
        }
        other => panic!("expected PushRejected, got {other}"),
    }
    assert_eq!(up.tip("main"), commit);
}

#[test]
fn new_branch_and_several_refs() {
    require_git!();
    let up = Upstream::new();
    let server = HttpServer::start(&up.root, None);
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("git"));
    let parent = repo.commit.clone();
    let commit = bump(&repo, "8.0.0");

    // git.push.branch different from the checkout branch: created.
    let outcome = push(&repo.dir, &push_opts(&url, &commit, "image-updates", None)).unwrap();
    assert_eq!(outcome.updated[0].old, None);
    assert_eq!(up.tip("image-updates"), commit);
    assert_eq!(up.tip("main"), parent);
    // Expected absent but it exists now: moved.
    let other = bump_on(&repo.dir, &commit, "8.0.1");
    let err = push(&repo.dir, &push_opts(&url, &other, "image-updates", None)).unwrap_err();
    assert!(
        matches!(err, GitError::RemoteMoved { expected: None, .. }),
        "{err}"
    );

    // Branch plus refspec (`git.push.refspec`) in one atomic push.
    let mut p = push_opts(&url, &other, "image-updates", Some(&commit));
    p.updates
        .push(RefUpdate::new(&other, "refs/heads/review/podinfo", None));
    let outcome = push(&repo.dir, &p).unwrap();
    assert_eq!(outcome.updated.len(), 2);
    assert_eq!(up.tip("image-updates"), other);
    assert_eq!(up.tip("review/podinfo"), other);
    git(&up.bare, &["fsck", "--strict"]);
}

#[test]
fn root_commit_into_an_empty_repository() {
    require_git!();
    let root = tempfile::tempdir().unwrap();
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "empty.git"],
    );
    let server = HttpServer::start(root.path(), None);
    let url = format!("{}/empty.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let opts = FetchOptions::new(&url, GitReference::Branch("main".into()));
    // The branch is missing and so is every other: an empty repository.
    let err = fetch(&opts, &work.path().join("probe"), None).unwrap_err();
    assert!(matches!(err, GitError::RefNotFound { .. }), "{err}");
    let branches = gitops_source::git::remote_branches(&opts, &work.path().join("probe2")).unwrap();
    assert!(branches.is_empty(), "{branches:?}");

    let dir = work.path().join("git");
    init_bare(&dir).unwrap();
    let commit_opts = CommitOptions::new("Flux", "", "Add Flux sync manifests");
    assert_eq!(commit_root(&dir, &[], &commit_opts).unwrap(), None);
    let files = vec![
        FileChange::write("clusters/dev/flux-system/gotk-sync.yaml", "kind: x\n"),
        FileChange::write("README.md", "fleet\n"),
    ];
    let commit = commit_root(&dir, &files, &commit_opts).unwrap().unwrap();
    push(&dir, &push_opts(&url, &commit, "main", None)).unwrap();
    let bare = root.path().join("empty.git");
    assert_eq!(git(&bare, &["rev-parse", "refs/heads/main"]), commit);
    assert_eq!(
        git(
            &bare,
            &["show", "main:clusters/dev/flux-system/gotk-sync.yaml"]
        ),
        "kind: x"
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "1");
    git(&bare, &["fsck", "--strict"]);
    let branches = gitops_source::git::remote_branches(&opts, &work.path().join("probe3")).unwrap();
    assert_eq!(branches, vec![("refs/heads/main".to_owned(), commit)]);
}

#[test]
fn push_options_need_server_support() {
    require_git!();
    let up = Upstream::new();
    let server = HttpServer::start(&up.root, None);
    let url = format!("{}/app.git", server.url);
    let work = tempfile::tempdir().unwrap();
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("git"));
    let parent = repo.commit.clone();
    let commit = bump(&repo, "9.0.0");
    let mut p = push_opts(&url, &commit, "main", Some(&parent));
    p.push_options = vec!["ci.skip".into(), "merge_request.create".into()];

    git(
        &up.bare,
        &["config", "receive.advertisePushOptions", "false"],
    );
    let err = push(&repo.dir, &p).unwrap_err();
    assert!(matches!(err, GitError::Push { .. }), "{err}");
    assert!(err.to_string().contains("push options"), "{err}");
    assert_eq!(up.tip("main"), parent);

    git(
        &up.bare,
        &["config", "receive.advertisePushOptions", "true"],
    );
    let log = up.root.join("push-options.log");
    let hook = up.bare.join("hooks/post-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ni=0\nwhile [ $i -lt \"$GIT_PUSH_OPTION_COUNT\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> '{}'; i=$((i+1)); done\necho 'To create a merge request, visit: http://example/mr' >&2\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let outcome = push(&repo.dir, &p).unwrap();
    assert_eq!(up.tip("main"), commit);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "ci.skip\nmerge_request.create\n"
    );
    assert!(
        outcome
            .messages
            .iter()
            .any(|m| m.contains("create a merge request")),
        "{:?}",
        outcome.messages
    );
}

fn ssh_keygen(path: &Path, kind: &[&str], passphrase: &str) {
    let ok = Command::new("ssh-keygen")
        .args(["-q"])
        .args(kind)
        .args(["-N", passphrase, "-C", "bot@example.com", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(ok.success());
}

#[test]
fn ssh_signed_commits_verify_with_git() {
    require_git!();
    if !have("ssh-keygen") {
        eprintln!("skipping: ssh-keygen is not installed");
        return;
    }
    let up = Upstream::new();
    let url = up.file_url();
    let work = tempfile::tempdir().unwrap();
    let mut allowed = String::new();
    let mut tip = up.tip("main");
    for (i, (kind, pass)) in [
        (&["-t", "ed25519"][..], ""),
        (&["-t", "ed25519"][..], "key-pass"),
        (&["-t", "rsa", "-b", "2048"][..], ""),
        (&["-t", "ecdsa", "-b", "256"][..], "ec-pass"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = work.path().join(format!("key{i}"));
        ssh_keygen(&key, kind, pass);
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        allowed.push_str(&format!("bot@example.com {}\n", public.trim()));
        let signers = work.path().join("allowed_signers");
        std::fs::write(&signers, &allowed).unwrap();

        let repo = fetch_main(
            &url,
            GitAuth::default(),
            &work.path().join(format!("git{i}")),
        );
        let mut opts = CommitOptions::new("bot", "bot@example.com", format!("signed {i}"));
        opts.signing = Some(Signer::Ssh {
            private_key: std::fs::read(&key).unwrap(),
            passphrase: (!pass.is_empty()).then(|| pass.to_owned()),
        });
        let commit = commit_changes(
            &repo.dir,
            &repo.commit,
            &[FileChange::write("signed.txt", format!("{i}\n"))],
            &opts,
        )
        .unwrap_or_else(|e| panic!("signing with {kind:?}: {e}"))
        .unwrap();
        push(&repo.dir, &push_opts(&url, &commit, "main", Some(&tip))).unwrap();
        tip = commit.clone();
        let out = git_env(
            &up.bare,
            &[
                "-c",
                "gpg.format=ssh",
                "-c",
                &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
                "verify-commit",
                "-v",
                &commit,
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "verify-commit {kind:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Good \"git\" signature"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A wrong passphrase is a signing error, with no key material in it.
    let key = work.path().join("key1");
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("gitx"));
    let mut opts = CommitOptions::new("bot", "bot@example.com", "bad");
    opts.signing = Some(Signer::Ssh {
        private_key: std::fs::read(&key).unwrap(),
        passphrase: Some("nope".into()),
    });
    let err = commit_changes(
        &repo.dir,
        &repo.commit,
        &[FileChange::write("x", b"x".to_vec())],
        &opts,
    )
    .unwrap_err();
    assert!(matches!(err, GitError::Signing { .. }), "{err}");
}

/// A throw-away GnuPG home; the agent it starts is stopped on drop.
struct GnuPg {
    home: tempfile::TempDir,
}

impl GnuPg {
    fn new() -> GnuPg {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        GnuPg { home }
    }

    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .args(["--batch", "--pinentry-mode", "loopback"])
            .args(args)
            .env("GNUPGHOME", self.home.path())
            .output()
            .expect("gpg runs");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn fingerprint(&self, uid: &str) -> String {
        let out = String::from_utf8(self.run(&["--with-colons", "--list-keys", uid])).unwrap();
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_owned()
    }
}

impl Drop for GnuPg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .status();
    }
}

#[test]
fn openpgp_signed_commits_verify_with_git() {
    require_git!();
    if !have("gpg") {
        eprintln!("skipping: gpg is not installed (apt-get install gnupg)");
        return;
    }
    let gpg = GnuPg::new();
    // Primary key that signs, no passphrase.
    gpg.run(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Ed Bot <ed@example.com>",
        "ed25519",
        "sign",
        "never",
    ]);
    // RSA with a passphrase.
    gpg.run(&[
        "--passphrase",
        "rsa-pass",
        "--quick-gen-key",
        "Rsa Bot <rsa@example.com>",
        "rsa2048",
        "sign",
        "never",
    ]);
    // Certify-only primary key with a signing subkey (the subkey must sign).
    gpg.run(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Sub Bot <sub@example.com>",
        "ed25519",
        "cert",
        "never",
    ]);
    let fpr = gpg.fingerprint("sub@example.com");
    gpg.run(&[
        "--passphrase",
        "",
        "--quick-add-key",
        &fpr,
        "ed25519",
        "sign",
        "never",
    ]);

    let up = Upstream::new();
    let url = up.file_url();
    let work = tempfile::tempdir().unwrap();
    let mut tip = up.tip("main");
    for (i, (email, pass)) in [
        ("ed@example.com", None),
        ("rsa@example.com", Some("rsa-pass")),
        ("sub@example.com", None),
    ]
    .into_iter()
    .enumerate()
    {
        let armored = gpg.run(&[
            "--passphrase",
            pass.unwrap_or(""),
            "--armor",
            "--export-secret-keys",
            email,
        ]);
        let repo = fetch_main(
            &url,
            GitAuth::default(),
            &work.path().join(format!("git{i}")),
        );
        let mut opts = CommitOptions::new("bot", email, format!("pgp {i}"));
        opts.signing = Some(Signer::OpenPgp {
            armored_key: armored,
            passphrase: pass.map(str::to_owned),
            key_id: None,
        });
        let commit = commit_changes(
            &repo.dir,
            &repo.commit,
            &[FileChange::write("signed.txt", format!("{i}\n"))],
            &opts,
        )
        .unwrap()
        .unwrap();
        push(&repo.dir, &push_opts(&url, &commit, "main", Some(&tip))).unwrap();
        tip = commit.clone();
        let home = gpg.home.path().to_str().unwrap().to_owned();
        let out = git_env(
            &up.bare,
            &["verify-commit", "--raw", &commit],
            &[("GNUPGHOME", &home)],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "verify-commit {email}: {stderr}");
        assert!(stderr.contains("GOODSIG"), "{email}: {stderr}");
    }
    // A wrong passphrase fails cleanly.
    let armored = gpg.run(&[
        "--passphrase",
        "rsa-pass",
        "--armor",
        "--export-secret-keys",
        "rsa@example.com",
    ]);
    let repo = fetch_main(&url, GitAuth::default(), &work.path().join("gitx"));
    let mut opts = CommitOptions::new("bot", "rsa@example.com", "bad");
    opts.signing = Some(Signer::OpenPgp {
        armored_key: armored,
        passphrase: Some("wrong".into()),
        key_id: None,
    });
    let err = commit_changes(
        &repo.dir,
        &repo.commit,
        &[FileChange::write("x", b"x".to_vec())],
        &opts,
    )
    .unwrap_err();
    assert!(matches!(err, GitError::Signing { .. }), "{err}");

    // A binary key ring of several keys: `key_id` picks one (Flux's --gpg-key-id).
    let ring = gpg.run(&[
        "--passphrase",
        "",
        "--export-secret-keys",
        "ed@example.com",
        "sub@example.com",
    ]);
    let sub_fpr = gpg.fingerprint("sub@example.com");
    let sub_id = &sub_fpr[sub_fpr.len() - 16..];
    let sign_with = |key_id: Option<&str>| {
        let mut opts = CommitOptions::new("bot", "sub@example.com", "ring");
        opts.signing = Some(Signer::OpenPgp {
            armored_key: ring.clone(),
            passphrase: None,
            key_id: key_id.map(str::to_owned),
        });
        commit_changes(
            &repo.dir,
            &repo.commit,
            &[FileChange::write("ring.txt", b"x".to_vec())],
            &opts,
        )
    };
    let commit = sign_with(Some(&format!("0x{}", sub_id.to_lowercase())))
        .unwrap()
        .unwrap();
    let raw = git(&repo.dir, &["cat-file", "-p", &commit]);
    assert!(raw.contains("-----BEGIN PGP SIGNATURE-----"), "{raw}");
    let home = gpg.home.path().to_str().unwrap().to_owned();
    let out = git_env(
        &repo.dir,
        &["verify-commit", "--raw", &commit],
        &[("GNUPGHOME", &home)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("GOODSIG"), "{stderr}");
    assert!(
        stderr.contains(&sub_fpr[sub_fpr.len() - 16..]) || stderr.contains("sub@example.com"),
        "signed by the chosen key: {stderr}"
    );
    for (id, message) in [
        ("ABCD", "invalid GPG key id length; expected 16, got 4"),
        (
            "0000000000000000",
            "no GPG keyring matching key id '0000000000000000' found",
        ),
    ] {
        let err = sign_with(Some(id)).unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
    let public_only = gpg.run(&["--export", "ed@example.com"]);
    let mut opts = CommitOptions::new("bot", "ed@example.com", "public");
    opts.signing = Some(Signer::OpenPgp {
        armored_key: public_only,
        passphrase: None,
        key_id: None,
    });
    let err = commit_changes(
        &repo.dir,
        &repo.commit,
        &[FileChange::write("x", b"x".to_vec())],
        &opts,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("keyring does not contain a private key"),
        "{err}"
    );
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn push_over_ssh() {
    require_git!();
    let sshd = "/usr/sbin/sshd";
    if !Path::new(sshd).exists() || !have("ssh-keygen") {
        eprintln!("skipping: sshd or ssh-keygen is not installed (apt-get install openssh-server)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ssh_keygen(&d.join("host"), &["-t", "ed25519"], "");
    ssh_keygen(&d.join("client"), &["-t", "ed25519"], "");
    std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let path = std::env::var("PATH").unwrap_or_default();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nSetEnv PATH={path}\n",
        d = d.display()
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let _server = Child(
        Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd listens");
        std::thread::sleep(Duration::from_millis(50));
    }

    let up = Upstream::new();
    let host_pub = std::fs::read_to_string(d.join("host.pub")).unwrap();
    let known_hosts = format!(
        "[127.0.0.1]:{port} {}",
        host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let url = format!("ssh://{user}@127.0.0.1:{port}{}", up.bare.display());
    let auth = GitAuth {
        ssh_identity: Some(std::fs::read(d.join("client")).unwrap()),
        ssh_known_hosts: Some(known_hosts.into_bytes()),
        ..Default::default()
    };
    let repo = fetch_main(&url, auth.clone(), &d.join("git"));
    let parent = repo.commit.clone();
    let commit = bump(&repo, "10.0.0");
    let mut p = push_opts(&url, &commit, "main", Some(&parent));
    p.auth = auth.clone();
    let outcome = push(&repo.dir, &p).unwrap();
    assert_eq!(outcome.updated.len(), 1);
    assert_eq!(up.tip("main"), commit);
    git(&up.bare, &["fsck", "--strict"]);

    // Moved remote over SSH too.
    let theirs = up.someone_pushes("README.md", "fleet 2\n");
    let next = bump(&repo, "10.0.1");
    let mut p = push_opts(&url, &next, "main", Some(&commit));
    p.auth = auth.clone();
    let err = push(&repo.dir, &p).unwrap_err();
    assert!(matches!(err, GitError::RemoteMoved { .. }), "{err}");
    assert_eq!(up.tip("main"), theirs);

    // A key the server does not know.
    ssh_keygen(&d.join("other"), &["-t", "ed25519"], "");
    let mut p = push_opts(&url, &next, "main", Some(&theirs));
    p.auth = GitAuth {
        ssh_identity: Some(std::fs::read(d.join("other")).unwrap()),
        ..auth
    };
    let err = push(&repo.dir, &p).unwrap_err();
    eprintln!("unknown SSH key: {err}");
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
    assert_eq!(up.tip("main"), theirs);
}
