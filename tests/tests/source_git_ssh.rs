//! Git over SSH with a private key and strict known_hosts checking, against a real sshd
//! started by the test (Debian's openssh-server).

use gitops_source::git::{FetchOptions, FetchOutcome, GitAuth, GitError, GitReference, fetch};
use gitops_tests::{ChildGuard, free_port, git, have, wait_until};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &path.display().to_string(),
        ])
        .status()
        .expect("ssh-keygen runs");
    assert!(ok.success());
}

#[tokio::test]
async fn fetch_over_ssh_with_key_and_known_hosts() {
    let sshd = "/usr/sbin/sshd";
    if !Path::new(sshd).exists() || !have("ssh") || !have("git") {
        eprintln!("skipping: sshd, ssh or git is not installed (apt-get install openssh-server)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(&d.join("host"));
    keygen(&d.join("client"));
    keygen(&d.join("other"));
    std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nSetEnv PATH=/usr/local/bin:/usr/bin:/bin\n",
        d = d.display()
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let _server = ChildGuard(
        Command::new(sshd)
            .args([
                "-D",
                "-e",
                "-f",
                &d.join("sshd_config").display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts"),
    );
    wait_until(Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await
    .expect("sshd listens");

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

    let host_pub = std::fs::read_to_string(d.join("host.pub")).unwrap();
    let known_hosts = format!(
        "[127.0.0.1]:{port} {}",
        host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let url = format!("ssh://{user}@127.0.0.1:{port}{}", repo.display());
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
