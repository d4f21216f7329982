//! Git over SSH with a private key and strict known_hosts checking, against a real sshd
//! started by the test (Debian's openssh-server).

use gitops_source::git::{FetchOptions, FetchOutcome, GitAuth, GitError, GitReference, fetch};
use gitops_tests::{Sshd, git, ssh_keygen};

#[tokio::test]
async fn fetch_over_ssh_with_key_and_known_hosts() {
    let Some(sshd) = Sshd::start().await else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ssh_keygen(&d.join("other"));
    std::fs::write(d.join("client"), &sshd.client_key).unwrap();
    let port = sshd.port;

    let repo = d.join("srv/app.git");
    std::fs::create_dir_all(d.join("srv")).unwrap();
    let work = d.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        &d.join("srv"),
        &["init", "-q", "--bare", "-b", "main", "app.git"],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("a.yaml"), "a: 1\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "ssh"]);
    git(&work, &["push", "-q", &repo.display().to_string(), "main"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);

    let known_hosts = sshd.known_hosts.clone();
    let url = sshd.url(&repo);
    let auth = |key: &str, kh: String| GitAuth {
        ssh_identity: Some(std::fs::read(d.join(key)).unwrap()),
        ssh_known_hosts: Some(kh.into_bytes()),
        ..Default::default()
    };
    let run = |auth: GitAuth, dir: &str| {
        let mut o = FetchOptions::new(&url, GitReference::Branch("main".into()));
        o.auth = auth;
        let w = d.join(dir);
        move || fetch(&o, &w, None)
    };
    let out = tokio::task::spawn_blocking(run(auth("client", known_hosts.clone()), "w1"))
        .await
        .unwrap();
    match out {
        Ok(FetchOutcome::Fetched(r)) => assert_eq!(r.revision, format!("main@sha1:{commit}")),
        other => panic!("expected a fetch over SSH: {other:?}"),
    }
    // A key the server does not know.
    let err = tokio::task::spawn_blocking(run(auth("other", known_hosts.clone()), "w2"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
    // A host key that does not match known_hosts.
    let wrong = std::fs::read_to_string(d.join("other.pub")).unwrap();
    let wrong_kh = format!(
        "[127.0.0.1]:{port} {}",
        wrong
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let err = tokio::task::spawn_blocking(run(auth("client", wrong_kh), "w3"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, GitError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("known_hosts"), "{err}");
}
