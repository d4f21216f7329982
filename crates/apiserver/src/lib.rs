//! # gitops-apiserver
//!
//! An embedded Kubernetes API server, faithful enough that real clients — `kubectl`,
//! `helm`, kube-rs controllers — work against it unchanged. It is the local cluster of
//! `gitops dev` and a test bed for controllers:
//!
//! - discovery (including aggregated discovery), OpenAPI documents, `/version`, health;
//! - CRUD, list with label/field selectors and pagination, watch with resource versions,
//!   bookmarks and initial events, `kubectl get` Tables;
//! - optimistic concurrency, `generation`, `managedFields`, JSON merge / JSON /
//!   strategic merge patches and server-side apply with conflicts;
//! - status and scale subresources, dry runs;
//! - CustomResourceDefinitions served as soon as they are created, with structural
//!   pruning, defaults and validation;
//! - finalizers, owner-reference garbage collection, namespace deletion;
//! - simulated readiness of workloads, so health checks resolve without a kubelet (an object
//!   annotated `apiserver.gitops.dev/simulate: failed` fails instead — a Job with
//!   `BackoffLimitExceeded`, a Pod in phase `Failed`, a Deployment past its progress
//!   deadline — and one annotated `pending` never becomes ready);
//! - persistence in one redb file plus a write-ahead log: every acknowledged write survives
//!   the server's crash (and, with [`Durability::Fsync`], power loss); TLS and a bearer token;
//!   a private state directory (0700, its files 0600: it holds Secrets as they are);
//! - limits on what one request may cost, with the real server's errors: bodies and
//!   stored objects at most 3 MiB of JSON (and 100 levels deep), checked on every write
//!   whatever built the object; JSON patches at most 10,000 operations and 3 MiB of copies,
//!   bounded while they apply (memory and CPU stay proportional to the limits); YAML
//!   aliases bounded; list and apply merges linear in the length of lists.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = gitops_apiserver::Server::start(gitops_apiserver::Config::new("/tmp/cluster")).await?;
//! println!("kubeconfig at {}", server.kubeconfig_path().display());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod builtin;
mod controllers;
mod error;
mod fieldset;
pub mod fuzzing;
mod http;
mod limits;
mod openapi;
mod patch;
mod proto;
mod registry;
mod schema;
mod selectors;
mod ssa;
mod store;
mod table;
mod tls;
mod types;
mod validation;

pub use error::ApiError;

use base64::Engine;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
pub use store::Durability;
pub use table::human_duration;
use tokio::sync::watch;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory for the database, TLS files, token and kubeconfig.
    pub state_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port. Loopback by default.
    pub listen: SocketAddr,
    /// Give workloads the status a healthy cluster would (on by default).
    pub simulate_workloads: bool,
    /// When acknowledged writes reach the disk (default: a write-ahead log before the
    /// reply, fsynced within 100 ms; see [`Durability`]).
    pub durability: Durability,
    /// Most watches one user may hold open at once (default 1000): a client that leaks
    /// watches gets 429s instead of exhausting the server. A controller set needs a few
    /// dozen.
    pub max_watches_per_user: usize,
}

impl Config {
    /// Defaults: `127.0.0.1:0`, workload simulation on.
    pub fn new(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            state_dir: state_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            simulate_workloads: true,
            durability: Durability::default(),
            max_watches_per_user: 1000,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory or a file in it could not be used.
    #[error("state directory {path}: {message}")]
    State {
        /// The path at fault.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// The server.
pub struct Server;

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    kubeconfig_path: PathBuf,
    kubeconfig: String,
    token: String,
    ca_pem: String,
    ca_key_pem: String,
    shutdown: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    controllers: tokio::task::JoinHandle<()>,
    api: Arc<api::Api>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://host:port`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Where the kubeconfig was written.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The kubeconfig (YAML).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client certificate and its key (PEM) for `user` in up to two `groups`, signed by
    /// the server's CA: the identity RBAC sees is the user with those groups.
    pub fn issue_client_certificate(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<(String, String), String> {
        tls::issue_client(&self.ca_key_pem, user, groups)
    }

    /// A kubeconfig that authenticates with a client certificate for `user` in `groups`.
    pub fn kubeconfig_for_user(&self, user: &str, groups: &[&str]) -> Result<String, String> {
        let (cert, key) = self.issue_client_certificate(user, groups)?;
        Ok(kubeconfig(
            &self.url(),
            &self.ca_pem,
            &Credentials::Certificate(&cert, &key),
        ))
    }

    /// A kubeconfig that authenticates with a bearer token (e.g. a service account's).
    pub fn kubeconfig_for_token(&self, token: &str) -> String {
        kubeconfig(&self.url(), &self.ca_pem, &Credentials::Token(token))
    }

    /// Stops serving, ends watches and flushes storage.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.accept.abort();
        let _ = self.accept.await;
        let _ = self.controllers.await;
        self.api.store.close();
    }

    /// Waits until the server is stopped by a signal (SIGINT or SIGTERM), then shuts down.
    pub async fn run_until_signal(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        self.shutdown().await;
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        self.shutdown().await;
    }
}

fn state_err(path: &Path, message: impl std::fmt::Display) -> StartError {
    StartError::State {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// The secret service account tokens are signed with, created on first start.
fn load_or_create_signing_key(path: &Path) -> Result<Vec<u8>, StartError> {
    if let Ok(t) = std::fs::read_to_string(path)
        && let Ok(key) = base64::engine::general_purpose::STANDARD.decode(t.trim())
        && key.len() >= 32
    {
        return Ok(key);
    }
    let bytes: [u8; 32] = rand::random();
    write_private(
        path,
        &base64::engine::general_purpose::STANDARD.encode(bytes),
    )?;
    Ok(bytes.to_vec())
}

fn load_or_create_token(path: &Path) -> Result<String, StartError> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_owned();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &token)?;
    Ok(token)
}

/// Creates a directory (and its parents) with mode 0700, and tightens an existing one to it.
fn private_dir(dir: &Path) -> Result<(), StartError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| state_err(dir, e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| state_err(dir, e))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))
}

/// Creates a file with mode 0600 when it is missing (so the database and the log never
/// exist readable by others), and tightens an existing one to it.
fn private_file(path: &Path) -> Result<(), StartError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| state_err(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| state_err(path, e))?;
    }
    Ok(())
}

/// The files the server keeps in its state directory.
const STATE_FILES: [&str; 7] = [
    "state.redb",
    "state.wal",
    "token",
    "kubeconfig",
    "pki/ca.crt",
    "pki/ca.key",
    "pki/sa.key",
];

/// The server's files mode 0600 and `pki/` 0700, also when an earlier version created
/// them more open. Only the server's own files: the directory may be shared.
fn tighten(dir: &Path) -> Result<(), StartError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &Path, mode: u32| -> Result<(), StartError> {
            // Symbolic links are left alone (setting a mode would follow them).
            match std::fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_symlink() => {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                        .map_err(|e| state_err(path, e))
                }
                _ => Ok(()),
            }
        };
        set(&dir.join("pki"), 0o700)?;
        for name in STATE_FILES {
            set(&dir.join(name), 0o600)?;
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, STATE_FILES);
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> Result<(), StartError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| state_err(&tmp, e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| state_err(&tmp, e))?;
    f.sync_all().map_err(|e| state_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| state_err(path, e))
}

/// How a kubeconfig's user authenticates.
enum Credentials<'a> {
    /// A bearer token.
    Token(&'a str),
    /// A client certificate and key (PEM).
    Certificate(&'a str, &'a str),
}

fn kubeconfig(server: &str, ca_pem: &str, credentials: &Credentials) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let ca = b64(ca_pem);
    let user = match credentials {
        Credentials::Token(token) => format!("    token: {token}\n"),
        Credentials::Certificate(cert, key) => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(cert),
            b64(key)
        ),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gitops\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: gitops\n  context:\n    cluster: gitops\n    user: gitops\n    namespace: default\ncurrent-context: gitops\nusers:\n- name: gitops\n  user:\n{user}preferences: {{}}\n"
    )
}

impl Server {
    /// Starts the server: opens (or creates) the state, listens, starts the background
    /// controllers, and writes `<state_dir>/kubeconfig` once it accepts connections.
    pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
        let dir = &config.state_dir;
        // The state holds Secrets as they are: only the server's user may read it.
        private_dir(dir)?;
        let db_path = dir.join("state.redb");
        private_file(&db_path)?;
        private_file(&db_path.with_extension("wal"))?;
        let store =
            store::Store::open(&db_path, config.durability).map_err(|e| state_err(&db_path, e))?;
        let token = load_or_create_token(&dir.join("token"))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let pki = dir.join("pki");
        let tls = tls::load_or_create(&pki, &[addr.ip()]).map_err(|e| state_err(&pki, e))?;
        let signing_key = load_or_create_signing_key(&pki.join("sa.key"))?;
        let api = Arc::new(api::Api::new(store, config.simulate_workloads));
        seed(&api).await;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        let authenticator = Arc::new(
            auth::Authenticator::new(&token, &signing_key)
                .with_audience(&format!("https://{host}")),
        );
        let ctx = Arc::new(http::Ctx {
            api: api.clone(),
            auth: authenticator.clone(),
            address: host.to_string(),
            shutdown: shutdown_rx.clone(),
            watches: Default::default(),
            max_watches: config.max_watches_per_user,
        });
        let tokens = Arc::new(controllers::Tokens {
            auth: authenticator,
            ca_pem: tls.ca_pem.clone(),
        });
        let controllers = tokio::spawn(controllers::run(api.clone(), tokens, shutdown_rx.clone()));
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let accept = tokio::spawn(accept_loop(listener, acceptor, ctx, shutdown_rx));

        let server = format!("https://{host}");
        let kc = kubeconfig(&server, &tls.ca_pem, &Credentials::Token(&token));
        let kubeconfig_path = dir.join("kubeconfig");
        write_private(&kubeconfig_path, &kc)?;
        tighten(dir)?;
        tracing::info!(%server, kubeconfig = %kubeconfig_path.display(), "API server ready");
        Ok(ServerHandle {
            addr: host,
            kubeconfig_path,
            kubeconfig: kc,
            token,
            ca_pem: tls.ca_pem,
            ca_key_pem: tls.ca_key_pem,
            shutdown: shutdown_tx,
            accept,
            controllers,
            api,
        })
    }
}

/// Creates the objects every cluster has, when missing.
async fn seed(api: &Arc<api::Api>) {
    let ctx = api::WriteCtx {
        manager: "kube-apiserver".into(),
        dry_run: false,
        force: false,
        field_validation: api::FieldValidation::Ignore,
        user: None,
    };
    for (plural, obj) in builtin::initial_objects()
        .into_iter()
        .chain(auth::initial_objects())
    {
        let group = obj["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .rsplit_once('/')
            .map(|(g, _)| g.to_owned())
            .unwrap_or_default();
        let version = obj["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or("v1")
            .to_owned();
        let Some(rt) = api.resource(&group, &version, plural) else {
            continue;
        };
        match api.create(&rt, None, obj, &ctx).await {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => tracing::warn!(error = %e, "could not create an initial object"),
        }
    }
    // The aggregated roles are complete before the first request (chains settle in a few
    // rounds: view feeds edit, edit feeds admin).
    for _ in 0..5 {
        if !controllers::aggregate_cluster_roles(api).await {
            break;
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    ctx: Arc<http::Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ctx = ctx.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(s)) => s,
                _ => return,
            };
            // The identity of a client certificate (verified against the CA by TLS).
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|c| auth::cert_identity(c))
                .map(Arc::new);
            let service =
                hyper::service::service_fn(move |req| http::handle(ctx.clone(), peer.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service);
            // A stopped server closes its connections too: clients must not keep talking
            // to a server whose storage is closed (they reconnect to the next one).
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}
