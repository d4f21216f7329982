//! Git fetch and archive against repositories made with the `git` CLI, over `file://`.

use gitops_source::git::{
    ArchiveOptions, FetchOptions, FetchOutcome, GitError, GitReference, fetch,
};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn have_git() -> bool {
    Command::new("git").arg("--version").output().is_ok()
}

fn upstream(dir: &Path) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(dir.join("deploy/secret")).unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("deploy/app.yaml"), "kind: ConfigMap\n").unwrap();
    std::fs::write(dir.join("deploy/secret/s.yaml"), "kind: Secret\n").unwrap();
    std::fs::write(dir.join("docs/README.md"), "docs\n").unwrap();
    std::fs::write(dir.join("logo.png"), "png").unwrap();
    std::fs::write(dir.join(".sourceignore"), "docs/\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    git(dir, &["tag", "-a", "v1.0.0", "-m", "release 1"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn files(bytes: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    ar.entries()
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().path_bytes().to_vec()).unwrap())
        .collect()
}

#[test]
fn branch_tag_semver_commit_and_errors() {
    if !have_git() {
        eprintln!("skipping: git not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let up = t.path().join("up");
    std::fs::create_dir_all(&up).unwrap();
    let c1 = upstream(&up);
    let url = format!("file://{}", up.display());

    let work = |n: &str| t.path().join(n);
    let FetchOutcome::Fetched(r) = fetch(
        &FetchOptions::new(&url, GitReference::Branch("main".into())),
        &work("a"),
        None,
    )
    .unwrap() else {
        panic!("expected a fetch")
    };
    assert_eq!(r.revision, format!("main@sha1:{c1}"));
    assert_eq!(r.message, "first");
    let (bytes, info) = r.archive(&ArchiveOptions::default(), Vec::new()).unwrap();
    assert_eq!(
        files(&bytes),
        vec![
            ".sourceignore",
            "deploy/",
            "deploy/app.yaml",
            "deploy/secret/",
            "deploy/secret/s.yaml"
        ]
    );
    // Same commit, same bytes.
    let (bytes2, _) = r.archive(&ArchiveOptions::default(), Vec::new()).unwrap();
    assert_eq!(bytes, bytes2);
    assert!(info.digest.starts_with("sha256:"));

    let opts = ArchiveOptions {
        ignore: Some("secret/\n".into()),
        sparse_checkout: vec!["deploy".into()],
        recurse_submodules: false,
        max_size: None,
    };
    let (bytes, _) = r.archive(&opts, Vec::new()).unwrap();
    assert_eq!(files(&bytes), vec!["deploy/", "deploy/app.yaml"]);

    // Unchanged remote: no fetch.
    let out = fetch(
        &FetchOptions::new(&url, GitReference::Branch("main".into())),
        &work("b"),
        Some(&format!("main@sha1:{c1}")),
    )
    .unwrap();
    assert!(matches!(out, FetchOutcome::Unchanged(_)));

    // New commit, tag v1.1.0: semver picks it; the annotated tag is peeled.
    std::fs::write(up.join("deploy/app.yaml"), "kind: ConfigMap\nv: 2\n").unwrap();
    git(&up, &["commit", "-q", "-am", "second"]);
    let c2 = git(&up, &["rev-parse", "HEAD"]);
    git(&up, &["tag", "v1.1.0"]);
    git(&up, &["tag", "v2.0.0-rc.1"]);
    let FetchOutcome::Fetched(r) = fetch(
        &FetchOptions::new(&url, GitReference::Semver("1.x".into())),
        &work("c"),
        None,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(r.revision, format!("v1.1.0@sha1:{c2}"));
    let FetchOutcome::Fetched(r) = fetch(
        &FetchOptions::new(&url, GitReference::Tag("v1.0.0".into())),
        &work("d"),
        None,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(r.revision, format!("v1.0.0@sha1:{c1}"));
    let FetchOutcome::Fetched(r) = fetch(
        &FetchOptions::new(
            &url,
            GitReference::Commit {
                sha: c1.clone(),
                branch: Some("main".into()),
            },
        ),
        &work("e"),
        None,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(r.revision, format!("main@sha1:{c1}"));
    let FetchOutcome::Fetched(r) = fetch(
        &FetchOptions::new(&url, GitReference::Name("refs/tags/v1.1.0".into())),
        &work("f"),
        None,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(r.revision, format!("refs/tags/v1.1.0@sha1:{c2}"));

    let err = fetch(
        &FetchOptions::new(&url, GitReference::Branch("nope".into())),
        &work("g"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, GitError::RefNotFound { .. }), "{err}");
    assert!(err.to_string().contains("branch 'nope'"), "{err}");
    let err = fetch(
        &FetchOptions::new(&url, GitReference::Semver(">=5.0.0".into())),
        &work("h"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, GitError::NoSemverMatch { .. }), "{err}");
    let err = fetch(
        &FetchOptions::new(
            &url,
            GitReference::Commit {
                sha: "0".repeat(40),
                branch: Some("main".into()),
            },
        ),
        &work("i"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, GitError::RefNotFound { .. }), "{err}");
    let missing = format!("file://{}/nothing-here", t.path().display());
    let err = fetch(
        &FetchOptions::new(&missing, GitReference::Branch("main".into())),
        &work("j"),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("nothing-here"), "{err}");
}

#[test]
fn submodules_when_asked() {
    if !have_git() {
        eprintln!("skipping: git not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let sub = t.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    git(&sub, &["init", "-q", "-b", "main"]);
    std::fs::write(sub.join("lib.yaml"), "lib: 1\n").unwrap();
    git(&sub, &["add", "-A"]);
    git(&sub, &["commit", "-q", "-m", "lib"]);
    let parent = t.path().join("parent");
    std::fs::create_dir_all(&parent).unwrap();
    git(&parent, &["init", "-q", "-b", "main"]);
    std::fs::write(parent.join("app.yaml"), "app: 1\n").unwrap();
    git(
        &parent,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &format!("file://{}", sub.display()),
            "vendor/lib",
        ],
    );
    git(&parent, &["add", "-A"]);
    git(&parent, &["commit", "-q", "-m", "with submodule"]);
    let url = format!("file://{}", parent.display());
    let FetchOutcome::Fetched(r) = fetch(
        &FetchOptions::new(&url, GitReference::Branch("main".into())),
        &t.path().join("w"),
        None,
    )
    .unwrap() else {
        panic!()
    };
    let (plain, _) = r.archive(&ArchiveOptions::default(), Vec::new()).unwrap();
    assert_eq!(files(&plain), vec!["app.yaml"]);
    let opts = ArchiveOptions {
        recurse_submodules: true,
        ..Default::default()
    };
    let (with, _) = r.archive(&opts, Vec::new()).unwrap();
    assert_eq!(
        files(&with),
        vec!["app.yaml", "vendor/", "vendor/lib/", "vendor/lib/lib.yaml"]
    );
}
