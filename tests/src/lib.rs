//! # gitops-tests
//!
//! End-to-end tests across the workspace's crates, with real servers started by the tests
//! themselves. The tests live in `tests/tests/`; this library holds what they share:
//!
//! - [`GitHttpServer`]: `git http-backend` (smart HTTP) behind an HTTP server with basic auth;
//! - [`GitDaemon`]: `git daemon` for `git://`;
//! - [`DockerRegistry`]: Debian's `docker-registry` (CNCF distribution) on a free port,
//!   optionally with basic auth, and pushing image tags to it;
//! - [`Sshd`]: Debian's `sshd` serving Git over SSH with a client key;
//! - [`StaticServer`]: a static HTTP file server (Helm repositories);
//! - [`Cluster`]: the embedded API server with Flux's CRDs and a client, plus the source
//!   and kustomize controllers running against it;
//! - [`sops_encrypt_secret`]: SOPS (age) encryption of a Secret for fixtures;
//! - [`git`], [`wait_until`]: small helpers;
//! - [`alloc::PeakAlloc`]: a peak-measuring global allocator for memory-bounded tests.

pub mod alloc;
pub mod fault;
pub mod git_provider;

use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Runs `git` in `dir` with a fixed identity; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Stages everything in the work tree `work`, commits it and pushes `main` to `remote`.
pub fn commit_and_push(work: &Path, remote: &Path, message: &str) {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["push", "-q", &remote.display().to_string(), "main"]);
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Whether a program is on `PATH`.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU32, Ordering};
    // Ports below Linux's ephemeral range (32768–60999): a port from that range, once
    // released here, can be taken by any outgoing connection before the server binds it.
    // Each call in this process takes the next port after a random start, so parallel tests
    // (and test processes) do not pick the same one.
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let start = {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        (h.finish() % u64::from(SPAN)) as u32
    };
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `git http-backend` behind an HTTP/1.1 server, optionally requiring basic auth.
pub struct GitHttpServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GitHttpServer {
    /// Serves the repositories under `root` (`<url>/<repo>.git`); with `basic_auth`, requests
    /// need that user and password.
    pub async fn start(root: &Path, basic_auth: Option<(&str, &str)>) -> GitHttpServer {
        use base64::Engine;
        let auth = basic_auth.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        Self::start_with(root, auth, None).await
    }

    /// Serves over HTTPS with a certificate from a fresh CA (returned as PEM), requiring the
    /// `Authorization` header value `authorization` when given (e.g. `Bearer <token>`).
    pub async fn start_tls(root: &Path, authorization: Option<String>) -> (GitHttpServer, String) {
        let (config, ca_pem) = test_tls();
        (
            Self::start_with(root, authorization, Some(config)).await,
            ca_pem,
        )
    }

    async fn start_with(
        root: &Path,
        authorization: Option<String>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> GitHttpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let handler = gitops_source::git_server::GitHandler::new(
            gitops_source::git_server::GitServerConfig {
                root: root.to_path_buf(),
                authorization,
            },
        )
        .expect("git http-backend");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, acceptor) = (handler.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler.handle(req).await) }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        GitHttpServer {
            url: format!("{scheme}://{addr}"),
            task,
        }
    }
}

/// A CA and a serving certificate for 127.0.0.1 signed by it: the server configuration and
/// the CA certificate (PEM).
pub fn test_tls() -> (Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.clone().self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert.der().to_vec())],
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )),
        )
        .expect("server config");
    (Arc::new(config), ca.pem())
}

/// Packages the chart made of `files` (path, content) under `dir/chart-src`, writes it and
/// its `index.yaml` under `dir/charts` and serves that directory as a Helm repository.
pub async fn serve_chart(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<StaticServer> {
    let src = dir.join("chart-src");
    for (path, body) in files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().ok_or_else(|| anyhow::anyhow!("no parent"))?)?;
        std::fs::write(p, body)?;
    }
    let (tgz, meta) = gitops_source::helm::package_chart(&src, &src, &[], false, None, 10 << 20)?;
    let served = dir.join("charts");
    std::fs::create_dir_all(&served)?;
    let file = format!("{}-{}.tgz", meta.name, meta.version);
    std::fs::write(served.join(&file), &tgz)?;
    std::fs::write(
        served.join("index.yaml"),
        gitops_source::helm::write_index(&[(
            meta.name.clone(),
            meta.version.clone(),
            file,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&tgz)),
        )]),
    )?;
    Ok(StaticServer::start(&served).await)
}

/// Server-side applies an object given as JSON (any kind the server serves, found by
/// discovery), as the manager `gitops-tests`.
pub async fn apply_json(client: &kube::Client, obj: serde_json::Value) -> anyhow::Result<()> {
    let obj: kube::api::DynamicObject = serde_json::from_value(obj)?;
    let types = obj
        .types
        .clone()
        .ok_or_else(|| anyhow::anyhow!("apiVersion and kind"))?;
    let gvk = kube::core::GroupVersionKind::try_from(&types)?;
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await?;
    let api: kube::Api<kube::api::DynamicObject> = match obj.metadata.namespace.as_deref() {
        Some(ns) => kube::Api::namespaced_with(client.clone(), ns, &ar),
        None => kube::Api::all_with(client.clone(), &ar),
    };
    let name = obj
        .metadata
        .name
        .clone()
        .ok_or_else(|| anyhow::anyhow!("metadata.name"))?;
    api.patch(
        &name,
        &kube::api::PatchParams::apply("gitops-tests").force(),
        &kube::api::Patch::Apply(&obj),
    )
    .await?;
    Ok(())
}

/// A static file server (for Helm repositories): `GET /<path>` from a directory.
pub struct StaticServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StaticServer {
    /// Serves `root`.
    pub async fn start(root: &Path) -> StaticServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let root = root.to_path_buf();
        let task = tokio::spawn(gitops_source::server::serve(
            root,
            listener,
            std::future::pending(),
        ));
        StaticServer {
            url: format!("http://{addr}"),
            task,
        }
    }
}

/// A process killed on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `git daemon` serving a directory on `git://127.0.0.1:<port>/`.
pub struct GitDaemon {
    /// `git://127.0.0.1:<port>`.
    pub url: String,
    _child: ChildGuard,
}

impl GitDaemon {
    /// Starts the daemon and waits until it accepts connections.
    pub async fn start(root: &Path) -> GitDaemon {
        let port = free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", root.display()),
                &root.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let guard = ChildGuard(child);
        wait_until(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await
        .expect("git daemon listens");
        GitDaemon {
            url: format!("git://127.0.0.1:{port}"),
            _child: guard,
        }
    }
}

/// Debian's `docker-registry` on a free port, storing in a temporary directory.
pub struct DockerRegistry {
    /// `127.0.0.1:<port>`.
    pub host: String,
    _child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl DockerRegistry {
    /// Starts the registry, or returns `None` (with a message) when it is not installed.
    pub async fn start() -> Option<DockerRegistry> {
        Self::start_with(None).await
    }

    /// Starts a registry requiring HTTP basic auth (`htpasswd`, bcrypt) with `user` and
    /// `password`; `None` when the registry is not installed.
    pub async fn start_with_auth(user: &str, password: &str) -> Option<DockerRegistry> {
        Self::start_with(Some((user, password))).await
    }

    async fn start_with(auth: Option<(&str, &str)>) -> Option<DockerRegistry> {
        let Some(bin) = ["docker-registry", "/usr/bin/docker-registry"]
            .into_iter()
            .find(|b| have(b))
        else {
            eprintln!(
                "skipping: docker-registry is not installed (apt-get install docker-registry)"
            );
            return None;
        };
        let dir = tempfile::tempdir().ok()?;
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = auth {
            let hash = bcrypt::hash(password, 5).ok()?;
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).ok()?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: gitops-tests\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).ok()?;
        let child = Command::new(bin)
            .args(["serve", &cfg.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let guard = ChildGuard(child);
        wait_until(Duration::from_secs(20), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await?;
        Some(DockerRegistry {
            host: format!("127.0.0.1:{port}"),
            _child: guard,
            _dir: dir,
        })
    }

    /// Pushes a small image to `repository` under each of `tags` (the manifest is uploaded
    /// once with its blobs, then put under every tag, 32 requests at a time), as CI pushing
    /// builds would. `auth` is the registry's user and password when it needs them.
    /// Returns the manifest digest.
    pub async fn push_tags(
        &self,
        repository: &str,
        tags: &[String],
        auth: Option<(&str, &str)>,
    ) -> String {
        use futures::StreamExt;
        let url = format!("oci://{}/{repository}", self.host);
        let oci_auth = auth.map(|(u, p)| gitops_source::oci::OciAuth {
            username: u.to_owned(),
            password: p.to_owned(),
        });
        let first = tags.first().expect("at least one tag");
        let pushed = gitops_source::oci::Registry::new(true)
            .push_layer(
                &url,
                first,
                format!("layer of {repository}").into_bytes(),
                "application/vnd.oci.image.layer.v1.tar",
                br#"{"architecture":"amd64","os":"linux"}"#.to_vec(),
                "application/vnd.oci.image.config.v1+json",
                oci_auth.as_ref(),
            )
            .await
            .expect("image pushed");
        let client = reqwest::Client::new();
        let base = format!("http://{}/v2/{repository}/manifests", self.host);
        let get = client
            .get(format!("{base}/{first}"))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json");
        let get = match auth {
            Some((u, p)) => get.basic_auth(u, Some(p)),
            None => get,
        };
        let resp = get.send().await.expect("manifest read");
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_owned();
        let manifest = resp.bytes().await.expect("manifest body");
        futures::stream::iter(tags.iter().skip(1))
            .map(|tag| {
                let req = client
                    .put(format!("{base}/{tag}"))
                    .header("Content-Type", media.clone())
                    .body(manifest.clone());
                let req = match auth {
                    Some((u, p)) => req.basic_auth(u, Some(p)),
                    None => req,
                };
                async move {
                    let r = req.send().await.expect("manifest put");
                    assert!(r.status().is_success(), "tag {tag}: {}", r.status());
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
        pushed.digest
    }
}

/// Debian's `sshd` serving Git over SSH as the current user on a free loopback port, with
/// one authorized client key: `ssh://<user>@127.0.0.1:<port><absolute path>`.
pub struct Sshd {
    /// The port.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// The client's private key (OpenSSH).
    pub client_key: Vec<u8>,
    /// A `known_hosts` line for the server.
    pub known_hosts: String,
    /// The directory of keys and configuration.
    pub dir: tempfile::TempDir,
    _server: ChildGuard,
}

/// Writes a new ed25519 key pair without passphrase at `path` (and `path.pub`).
pub fn ssh_keygen(path: &Path) {
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

/// The `known_hosts` line of an SSH server on `127.0.0.1:<port>` whose public host key is
/// in `host_pub`.
pub fn known_hosts_line(port: u16, host_pub: &Path) -> Option<String> {
    let key = std::fs::read_to_string(host_pub).ok()?;
    Some(format!(
        "[127.0.0.1]:{port} {}",
        key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    ))
}

impl Sshd {
    /// Starts sshd, or returns `None` (with a message) when sshd, ssh or git is missing.
    pub async fn start() -> Option<Sshd> {
        let sshd = "/usr/sbin/sshd";
        if !Path::new(sshd).exists() || !have("ssh") || !have("git") {
            eprintln!(
                "skipping: sshd, ssh or git is not installed (apt-get install openssh-server)"
            );
            return None;
        }
        let t = tempfile::tempdir().ok()?;
        let d = t.path();
        ssh_keygen(&d.join("host"));
        ssh_keygen(&d.join("client"));
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).ok()?;
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let user = String::from_utf8(Command::new("id").arg("-un").output().ok()?.stdout)
            .ok()?
            .trim()
            .to_owned();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nSetEnv PATH=/usr/local/bin:/usr/bin:/bin\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).ok()?;
        let server = ChildGuard(
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
                .ok()?,
        );
        wait_until(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await?;
        let known_hosts = known_hosts_line(port, &d.join("host.pub"))?;
        Some(Sshd {
            port,
            user,
            client_key: std::fs::read(d.join("client")).ok()?,
            known_hosts,
            _server: server,
            dir: t,
        })
    }

    /// The `ssh://` URL of a repository at `path` on this machine.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }
}

/// The embedded API server with Flux's CRDs, a client, and optionally the source controller.
pub struct Cluster {
    /// The server.
    pub server: Option<gitops_apiserver::ServerHandle>,
    /// A client for the test.
    pub client: kube::Client,
    /// Where the kubeconfig is.
    pub kubeconfig: PathBuf,
    /// State directory (and the source controller's storage under `storage/`).
    pub dir: tempfile::TempDir,
    controllers: Vec<tokio::task::JoinHandle<()>>,
    /// Controllers started by name, which [`Cluster::stop_controller`] can stop.
    named: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.controllers.drain(..) {
            c.abort();
        }
        for (_, c) in self.named.drain(..) {
            c.abort();
        }
    }
}

impl Cluster {
    /// Starts the API server and creates the CRDs.
    pub async fn start() -> Cluster {
        gitops_source::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let server =
            gitops_apiserver::Server::start(gitops_apiserver::Config::new(dir.path().join("api")))
                .await
                .expect("API server starts");
        let kubeconfig = server.kubeconfig_path().to_path_buf();
        let client = gitops_controllers::runtime::client::client(Some(&kubeconfig))
            .await
            .expect("client");
        let crds: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            kube::Api::all(client.clone());
        for crd in gitops_api::all_crds() {
            crds.create(&Default::default(), &crd)
                .await
                .expect("CRD created");
        }
        Cluster {
            server: Some(server),
            client,
            kubeconfig,
            dir,
            controllers: Vec::new(),
            named: Vec::new(),
        }
    }

    /// The source controller's storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Starts the source controller in this process against the cluster; returns the
    /// artifact server's address.
    pub async fn start_source_controller(&mut self) -> String {
        self.start_source_controller_with(&[]).await
    }

    /// Like [`Cluster::start_source_controller`] with extra flags.
    pub async fn start_source_controller_with(&mut self, extra: &[&str]) -> String {
        let port = free_port();
        let args = <gitops_controllers::source::SourceArgs as clap::Parser>::parse_from(
            [
                "source-controller".to_string(),
                format!("--kubeconfig={}", self.kubeconfig.display()),
                format!("--storage-path={}", self.storage().display()),
                format!("--storage-addr=127.0.0.1:{port}"),
                format!("--storage-adv-addr=127.0.0.1:{port}"),
                "--metrics-addr=0".into(),
                "--health-addr=0".into(),
                "--log-encoding=console".into(),
                "--log-level=warn".into(),
            ]
            .into_iter()
            .chain(extra.iter().map(|s| s.to_string())),
        );
        self.controllers.push(tokio::spawn(async move {
            if let Err(e) = gitops_controllers::source::run(args).await {
                eprintln!("source controller stopped: {e:#}");
            }
        }));
        format!("127.0.0.1:{port}")
    }

    /// Starts the kustomize controller in this process against the cluster.
    pub fn start_kustomize_controller(&mut self) {
        self.start_kustomize_controller_with(&[]);
    }

    /// Like [`Cluster::start_kustomize_controller`] with extra flags.
    pub fn start_kustomize_controller_with(&mut self, extra: &[&str]) {
        self.start_controller("kustomize-controller", extra);
    }

    /// Starts the helm controller in this process against the cluster.
    pub fn start_helm_controller_with(&mut self, extra: &[&str]) {
        self.start_controller("helm-controller", extra);
    }

    /// Starts the controller `name` of the registry ([`gitops_controllers::CONTROLLERS`])
    /// in this process against the cluster, quiet and without metrics or probes, with
    /// `extra` flags.
    pub fn start_controller(&mut self, name: &str, extra: &[&str]) {
        let info = gitops_controllers::controller(name).expect("a known controller");
        let start = info.start.expect("a runnable controller");
        let argv: Vec<String> = [
            info.name.to_string(),
            format!("--kubeconfig={}", self.kubeconfig.display()),
            "--metrics-addr=0".into(),
            "--health-addr=0".into(),
            "--log-encoding=console".into(),
            "--log-level=warn".into(),
        ]
        .into_iter()
        .chain(extra.iter().map(|s| s.to_string()))
        .collect();
        let run = start(argv).expect("controller flags");
        let name = info.name;
        self.named.push((
            name,
            tokio::spawn(async move {
                if let Err(e) = run.await {
                    eprintln!("{name} stopped: {e:#}");
                }
            }),
        ));
    }

    /// Stops the controller `name` started by [`Cluster::start_controller`] and waits until
    /// it is gone (its state dropped, its files closed), as a restart of its process would.
    pub async fn stop_controller(&mut self, name: &str) {
        let info = gitops_controllers::controller(name).expect("a known controller");
        let mut kept = Vec::new();
        for (n, handle) in self.named.drain(..) {
            if n == info.name {
                handle.abort();
                let _ = handle.await;
            } else {
                kept.push((n, handle));
            }
        }
        self.named = kept;
    }
}

/// A reference tool (`helm`, `kubectl`) from `GITOPS_PEERS_DIR`, `~/.cache/gitops-peers` or
/// `PATH` (see `../shared/tools/install-peers.sh`); `None`, with a message, when missing.
pub fn peer(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(d) = std::env::var("GITOPS_PEERS_DIR") {
        dirs.push(d.into());
    }
    if let Ok(home) = std::env::var("HOME") {
        dirs.push(Path::new(&home).join(".cache/gitops-peers"));
    }
    if let Ok(path) = std::env::var("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipping: {name} not found (run ../shared/tools/install-peers.sh)");
    }
    found
}

/// The real `helm` against a cluster, with its own cache, config and data directories.
pub struct HelmCli {
    /// The binary.
    pub bin: PathBuf,
    /// The kubeconfig it uses.
    pub kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl HelmCli {
    /// `helm` for the cluster of `kubeconfig`; `None` when helm is not installed.
    pub fn new(kubeconfig: &Path) -> Option<HelmCli> {
        Some(HelmCli {
            bin: peer("helm")?,
            kubeconfig: kubeconfig.to_path_buf(),
            home: tempfile::tempdir().ok()?,
        })
    }

    /// Runs helm; returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let h = self.home.path();
        let out = Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"))
            .output()
            .expect("helm runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs helm and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "helm {args:?} failed: {err}{out}");
        out
    }
}

/// Downloads a URL's bytes.
pub async fn http_get(url: &str) -> Option<Vec<u8>> {
    gitops_source::ensure_crypto_provider();
    let r = reqwest::get(url).await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.bytes().await.ok().map(|b| b.to_vec())
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// The `Ready` condition of a status (JSON): `(status, reason, message)`.
pub fn ready_of(status: &serde_json::Value) -> Option<(String, String, String)> {
    let c = status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    Some((
        c["status"].as_str()?.to_owned(),
        c["reason"].as_str()?.to_owned(),
        c["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// A fresh age identity from Debian's `age-keygen`: `(identity file text, recipient)`;
/// `None` when `age-keygen` is not installed.
pub fn age_keygen() -> Option<(String, String)> {
    let out = Command::new("age-keygen").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))?
        .trim()
        .to_owned();
    Some((text, recipient))
}

/// A Secret encrypted as `sops --encrypt --age <recipient> --unencrypted-regex
/// '^(apiVersion|kind|metadata|type)$'` writes it (SOPS 3 format: AES-256-GCM values with 32-byte IVs,
/// the data key armored with `age`, a SHA-512 MAC): `stringData` values are encrypted,
/// the rest stays readable. Needs Debian's `age`; `None` when it is missing.
///
/// The `sops` binary is not packaged for Debian, so the fixture is written here, by the
/// same rules the real tool follows.
pub fn sops_encrypt_secret(
    name: &str,
    namespace: &str,
    string_data: &[(&str, &str)],
    recipient: &str,
) -> Option<String> {
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::generic_array::typenum::U32;
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use base64::Engine;
    use sha2::Digest;
    type Cipher = aes_gcm::AesGcm<aes_gcm::aes::Aes256, U32>;
    let b64 = base64::engine::general_purpose::STANDARD;
    let data_key: [u8; 32] = sha2::Sha256::digest(format!("{name}/{namespace}/{recipient}")).into();
    let encrypt = |plain: &[u8], aad: &str| -> String {
        let iv: [u8; 32] = sha2::Sha256::digest([aad.as_bytes(), plain].concat()).into();
        let cipher = Cipher::new(GenericArray::from_slice(&data_key));
        let mut out = cipher
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption");
        let tag = out.split_off(out.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
            b64.encode(&out),
            b64.encode(iv),
            b64.encode(tag)
        )
    };
    // the data key, armored for the recipient
    let dir = tempfile::tempdir().ok()?;
    let dk = dir.path().join("dk");
    std::fs::write(&dk, data_key).ok()?;
    let out = Command::new("age")
        .args(["-a", "-r", recipient])
        .arg(&dk)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let armored = String::from_utf8(out.stdout).ok()?;
    // keys in sorted order, so that the document order is the same before and after a
    // kustomize build (the MAC hashes values in document order)
    let mut mac = sha2::Sha512::new();
    for v in ["v1", "Secret", name, namespace] {
        mac.update(v.as_bytes());
    }
    let mut sorted: Vec<_> = string_data.to_vec();
    sorted.sort();
    let mut body = String::new();
    for (k, v) in &sorted {
        mac.update(v.as_bytes());
        body.push_str(&format!(
            "  {k}: {}\n",
            encrypt(v.as_bytes(), &format!("stringData:{k}:"))
        ));
    }
    mac.update(b"Opaque");
    let lastmodified = "2026-01-02T03:04:05Z";
    let mac = encrypt(hex::encode_upper(mac.finalize()).as_bytes(), lastmodified);
    let enc_block: String = armored.lines().map(|l| format!("        {l}\n")).collect();
    Some(format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\nstringData:\n{body}type: Opaque\nsops:\n  age:\n    - recipient: {recipient}\n      enc: |\n{enc_block}  lastmodified: \"{lastmodified}\"\n  mac: {mac}\n  encrypted_regex: ^(data|stringData)$\n  version: 3.9.0\n"
    ))
}

/// Pieces the process-level benchmarks (`examples/bench_*.rs`) share: the API server and
/// the measured controller run as their own `gitops` processes.
pub mod bench {
    use super::{ChildGuard, free_port, wait_until};
    use kube::api::{Api, PostParams};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    /// A benchmark's command line, `<path to gitops> [N] [more…]`: the `gitops` binary
    /// (`target/release/gitops` when absent), N (`default_n` when absent or not a number)
    /// and the arguments after them.
    pub fn args(default_n: usize) -> (String, usize, Vec<String>) {
        let mut args = std::env::args().skip(1);
        let gitops = args
            .next()
            .unwrap_or_else(|| "target/release/gitops".into());
        let n = args
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default_n);
        (gitops, n, args.collect())
    }

    /// `gitops apiserver` under `dir/api`, up and with Flux's CRDs: the process, its
    /// kubeconfig and a client.
    pub async fn start_api_server(
        gitops: &str,
        dir: &Path,
    ) -> anyhow::Result<(ChildGuard, PathBuf, kube::Client)> {
        gitops_source::ensure_crypto_provider();
        let state = dir.join("api");
        let port = free_port();
        let child = ChildGuard(
            Command::new(gitops)
                .arg("apiserver")
                .arg("--state")
                .arg(&state)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let kubeconfig = state.join("kubeconfig");
        wait_until(Duration::from_secs(30), || {
            let k = kubeconfig.clone();
            async move {
                let ok = k.exists()
                    && tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .is_ok();
                ok.then_some(())
            }
        })
        .await
        .ok_or_else(|| anyhow::anyhow!("API server did not start"))?;
        let client = gitops_controllers::runtime::client::client(Some(&kubeconfig)).await?;
        let crds: Api<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        > = Api::all(client.clone());
        for crd in gitops_api::all_crds() {
            crds.create(&PostParams::default(), &crd).await?;
        }
        Ok((child, kubeconfig, client))
    }

    /// `gitops controller <name> --kubeconfig … <flags>` without metrics or health ports,
    /// logging errors only.
    pub fn spawn_controller(
        gitops: &str,
        name: &str,
        kubeconfig: &Path,
        flags: &[String],
    ) -> std::io::Result<std::process::Child> {
        Command::new(gitops)
            .args(["controller", name])
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(["--metrics-addr=0", "--health-addr=0", "--log-level=error"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
    }

    /// Peak resident memory (VmHWM) of a live process, in KiB.
    pub fn peak_rss_kib(pid: u32) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        s.lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Creates `n` objects made by `make(i)`, 16 at a time; failures are printed.
    pub async fn create_all<K>(api: &Api<K>, n: usize, make: impl Fn(usize) -> K)
    where
        K: kube::Resource
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        use futures::StreamExt;
        futures::stream::iter((0..n).map(make))
            .map(|o| {
                let api = api.clone();
                async move { api.create(&PostParams::default(), &o).await.map(|_| ()) }
            })
            .buffer_unordered(16)
            .for_each(|r| async move {
                if let Err(e) = r {
                    eprintln!("create failed: {e}");
                }
            })
            .await;
    }

    /// Lists the objects every `poll` until `n` of them satisfy `done` or `limit` passes
    /// since `started`; returns how many did.
    pub async fn wait_all<K>(
        api: &Api<K>,
        n: usize,
        started: std::time::Instant,
        limit: std::time::Duration,
        poll: std::time::Duration,
        done: impl Fn(&K) -> bool,
    ) -> anyhow::Result<usize>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut ready = 0;
        while started.elapsed() < limit {
            let list = api.list(&kube::api::ListParams::default()).await?;
            ready = list.items.iter().filter(|o| done(o)).count();
            if ready == n {
                break;
            }
            tokio::time::sleep(poll).await;
        }
        Ok(ready)
    }

    /// Prints the controller's peak RSS line of a benchmark report.
    pub fn print_rss(rss: Option<u64>) {
        match rss {
            Some(kib) => println!("controller peak RSS: {:.1} MiB", kib as f64 / 1024.0),
            None => println!("controller peak RSS: unavailable"),
        }
    }
}

/// HMAC-SHA256 of `body` with `key`, hex (RFC 2104 over sha2: how webhook senders sign).
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = key.to_vec();
    if k.len() > 64 {
        k = Sha256::digest(&k).to_vec();
    }
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), body].concat());
    hex::encode(Sha256::digest([opad.as_slice(), inner.as_slice()].concat()))
}

/// One request a [`CaptureServer`] received.
#[derive(Debug, Clone)]
pub struct Captured {
    /// `POST`, `PUT` …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Captured {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A real HTTP server that records every request and answers `status` (200 unless set):
/// `[]` to GETs (list endpoints), `{}` to the rest. Stands in for hosted services (Slack,
/// GitHub …) whose documented request contract the tests check.
pub struct CaptureServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    requests: Arc<std::sync::Mutex<Vec<Captured>>>,
    status: Arc<std::sync::atomic::AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CaptureServer {
    /// Starts on a free loopback port.
    pub async fn start() -> CaptureServer {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
        let (reqs, st) = (requests.clone(), status.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (reqs, st) = (reqs.clone(), st.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (reqs, st) = (reqs.clone(), st.clone());
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes().to_vec())
                                    .unwrap_or_default();
                                let get = parts.method == hyper::Method::GET;
                                reqs.lock().unwrap().push(Captured {
                                    method: parts.method.to_string(),
                                    path: parts
                                        .uri
                                        .path_and_query()
                                        .map(|p| p.to_string())
                                        .unwrap_or_default(),
                                    headers: parts
                                        .headers
                                        .iter()
                                        .map(|(k, v)| {
                                            (
                                                k.as_str().to_owned(),
                                                v.to_str().unwrap_or("").to_owned(),
                                            )
                                        })
                                        .collect(),
                                    body,
                                });
                                let code = st.load(std::sync::atomic::Ordering::SeqCst);
                                let mut r = hyper::Response::new(http_body_util::Full::new(
                                    bytes::Bytes::from(if get { "[]" } else { "{}" }),
                                ));
                                *r.status_mut() =
                                    hyper::StatusCode::from_u16(code).unwrap_or_default();
                                r.headers_mut().insert(
                                    "content-type",
                                    hyper::header::HeaderValue::from_static("application/json"),
                                );
                                Ok::<_, Infallible>(r)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        CaptureServer {
            url: format!("http://{addr}"),
            requests,
            status,
            task,
        }
    }

    /// Answers `code` from now on.
    pub fn set_status(&self, code: u16) {
        self.status.store(code, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many requests came so far.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests whose path starts with `prefix`.
    pub fn under(&self, prefix: &str) -> Vec<Captured> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }
}

/// A forward HTTP proxy for plain-HTTP targets (absolute-form requests, no `CONNECT`), as
/// corporate proxies serve them, requiring `Proxy-Authorization: Basic` when given
/// credentials. It counts the requests it forwarded.
pub struct HttpProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    forwarded: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpProxy {
    /// Starts on a free loopback port.
    pub async fn start(basic_auth: Option<(&str, &str)>) -> HttpProxy {
        use base64::Engine;
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let expected = basic_auth.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let forwarded = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = forwarded.clone();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (client, expected, count) = (client.clone(), expected.clone(), count.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (client, expected, count) =
                                (client.clone(), expected.clone(), count.clone());
                            async move {
                                let reply = |status: u16, body: Vec<u8>| {
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                        .expect("response")
                                };
                                let given = req
                                    .headers()
                                    .get("proxy-authorization")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned);
                                if expected.is_some() && given != expected {
                                    let mut r =
                                        reply(407, b"proxy authentication required".to_vec());
                                    r.headers_mut().insert(
                                        "proxy-authenticate",
                                        hyper::header::HeaderValue::from_static(
                                            "Basic realm=\"test\"",
                                        ),
                                    );
                                    return Ok::<_, Infallible>(r);
                                }
                                let (parts, body) = req.into_parts();
                                if parts.uri.scheme().is_none() {
                                    return Ok(reply(400, b"absolute-form requests only".to_vec()));
                                }
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let mut out = client.request(parts.method, parts.uri.to_string());
                                for (k, v) in &parts.headers {
                                    if k != "proxy-authorization" && k != "host" {
                                        out = out.header(k, v);
                                    }
                                }
                                let Ok(resp) = out.body(body).send().await else {
                                    return Ok(reply(502, b"bad gateway".to_vec()));
                                };
                                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                let mut r =
                                    hyper::Response::builder().status(resp.status().as_u16());
                                for (k, v) in resp.headers() {
                                    if k != "transfer-encoding" && k != "content-length" {
                                        r = r.header(k, v);
                                    }
                                }
                                let bytes = resp.bytes().await.unwrap_or_default();
                                Ok(r.body(http_body_util::Full::new(bytes)).expect("response"))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        HttpProxy {
            url: format!("http://{addr}"),
            forwarded,
            task,
        }
    }

    /// How many requests it forwarded.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(std::sync::atomic::Ordering::SeqCst)
    }
}
