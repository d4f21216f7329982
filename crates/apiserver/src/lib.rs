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
//! - simulated readiness of workloads, so health checks resolve without a kubelet;
//! - persistence in one redb file plus a write-ahead log: every acknowledged write survives
//!   the server's crash (and, with [`Durability::Fsync`], power loss); TLS and a bearer token.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = gitops_apiserver::Server::start(gitops_apiserver::Config::new("/tmp/cluster")).await?;
//! println!("kubeconfig at {}", server.kubeconfig_path().display());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod builtin;
mod controllers;
mod error;
mod fieldset;
mod http;
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
}

impl Config {
    /// Defaults: `127.0.0.1:0`, workload simulation on.
    pub fn new(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            state_dir: state_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            simulate_workloads: true,
            durability: Durability::default(),
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

fn kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gitops\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: gitops\n  context:\n    cluster: gitops\n    user: gitops\n    namespace: default\ncurrent-context: gitops\nusers:\n- name: gitops\n  user:\n    token: {token}\npreferences: {{}}\n"
    )
}

impl Server {
    /// Starts the server: opens (or creates) the state, listens, starts the background
    /// controllers, and writes `<state_dir>/kubeconfig` once it accepts connections.
    pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
        let dir = &config.state_dir;
        std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
        let db_path = dir.join("state.redb");
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
        let api = Arc::new(api::Api::new(store, config.simulate_workloads));
        seed(&api).await;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        let ctx = Arc::new(http::Ctx {
            api: api.clone(),
            token: token.clone(),
            address: host.to_string(),
            shutdown: shutdown_rx.clone(),
        });
        let controllers = tokio::spawn(controllers::run(api.clone(), shutdown_rx.clone()));
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let accept = tokio::spawn(accept_loop(listener, acceptor, ctx, shutdown_rx));

        let server = format!("https://{host}");
        let kc = kubeconfig(&server, &tls.ca_pem, &token);
        let kubeconfig_path = dir.join("kubeconfig");
        write_private(&kubeconfig_path, &kc)?;
        tracing::info!(%server, kubeconfig = %kubeconfig_path.display(), "API server ready");
        Ok(ServerHandle {
            addr: host,
            kubeconfig_path,
            kubeconfig: kc,
            token,
            ca_pem: tls.ca_pem,
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
    };
    for (plural, obj) in builtin::initial_objects() {
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
            let service = hyper::service::service_fn(move |req| http::handle(ctx.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service);
            let _ = conn.await;
        });
    }
}
