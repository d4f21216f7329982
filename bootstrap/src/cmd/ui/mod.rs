//! `gitops ui`: a live web view of the Flux objects of a cluster, served from this machine
//! with the user's kubeconfig identity; `gitops dev` serves the same view.
//!
//! - `/` lists every source, Kustomization, HelmRelease and image object across
//!   namespaces (failing first, with their reasons) and draws their dependency graph. A
//!   kind the identity may not list in all namespaces is watched in `--namespace` only,
//!   which the page says.
//! - `/<plural>/<namespace>/<name>` shows one object: conditions, source and artifact
//!   revision, inventory tree with health and live YAML, diff with Git (Kustomizations)
//!   or drift from the current release (HelmReleases), dependencies, events, history,
//!   and the actions reconcile (with source), suspend and resume, done as the CLI does
//!   them ([`crate::cmd::ops`]).
//! - Pages are rendered on the server; the server watches the Flux kinds and the Events
//!   and streams changed page fragments to the page (server-sent events), whose small
//!   script swaps them in.
//! - On a loopback address anyone on the machine may use it; elsewhere every request
//!   but those of the static assets needs the token printed at start ([`auth`]). Nothing
//!   is fetched from the network: the assets are in the binary.

pub mod auth;
pub mod detail;
pub mod html;
pub mod model;
pub mod render;
pub mod server;

use crate::cli::Global;
use anyhow::Context as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `gitops ui`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to serve the web view on. Any other than a loopback address requires the
    /// token printed at start for every request.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    #[command(flatten)]
    global: Global,
}

/// A running web view; stopped when dropped.
pub struct Server {
    addr: SocketAddr,
    token: Option<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Serves the web view on `listener` with `client` (whose identity reads and acts on
    /// the cluster); actions wait up to `timeout` for the controllers. Kinds the identity
    /// may not list in all namespaces are watched in `flux-system`.
    pub fn start(
        client: kube::Client,
        listener: tokio::net::TcpListener,
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        Server::start_in(client, listener, timeout, "flux-system")
    }

    /// [`Server::start`], watching the kinds the identity may not list in all namespaces
    /// in `namespace` (`gitops ui -n`).
    pub fn start_in(
        client: kube::Client,
        listener: tokio::net::TcpListener,
        timeout: Duration,
        namespace: &str,
    ) -> anyhow::Result<Server> {
        let addr = listener.local_addr()?;
        let store = model::Store::new();
        let mut tasks = store.watch(&client, namespace);
        let access = auth::Access::new(addr);
        let token = access.token().map(str::to_owned);
        let shared = Arc::new(server::Shared {
            store,
            client,
            access,
            timeout,
        });
        tasks.push(tokio::spawn(accept(listener, shared)));
        Ok(Server { addr, token, tasks })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to open: a loopback one when listening on every address, with the token
    /// when one is needed.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let mut url = format!("http://{}/", SocketAddr::new(ip, self.addr.port()));
        if let Some(t) = &self.token {
            url.push_str("?token=");
            url.push_str(t);
        }
        url
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Accepts connections until aborted (which drops, and so ends, every connection).
async fn accept(listener: tokio::net::TcpListener, shared: Arc<server::Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(_) => {
                        // Out of file descriptors and the like: try again shortly.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        server::handle(shared.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Runs `gitops ui`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = args.global.long_running_client().await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let server = Server::start_in(
            client,
            listener,
            args.global.timeout,
            &args.global.namespace,
        )?;
        crate::cli::log::success(format!("web view: {}", server.url()));
        if server.token.is_some() {
            crate::cli::log::warning(format!(
                "listening on {}, not a loopback address: every request needs the token above",
                server.addr()
            ));
        }
        crate::cli::log::waiting("press Ctrl-C to stop");
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        drop(server);
        Ok(ExitCode::SUCCESS)
    })
}
