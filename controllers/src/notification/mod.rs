//! The notification controller, as Flux's notification-controller:
//!
//! - the **event server** (`--events-listen-addr`, `:9090`) receives the events every
//!   controller posts (Flux's event format), drops duplicates within
//!   `--rate-limit-interval`, matches them against Alerts and sends them to the Alerts'
//!   Providers (chat, incident tools, Git commit statuses: [`providers`]);
//! - the **receiver server** (`--receiver-addr`, `:9292`) serves Receivers: webhooks that,
//!   once the sender's signature or token checks out, annotate the Receiver's resources with
//!   `reconcile.fluxcd.io/requestedAt` so they reconcile at once;
//! - the **Receiver reconciler** (over the shared runtime) computes each Receiver's
//!   `status.webhookPath` from its token.
//!
//! Start it with [`run`] (what `gitops controller notification-controller` does).

pub(crate) mod events;
pub(crate) mod gcr;
pub(crate) mod providers;
pub(crate) mod receiver;

use crate::runtime::args::{
    ControllerArgs, WatchConfigsArgs, bind_addr, feature_gate, parse_duration,
};
use crate::runtime::events::EventRecorder;
use crate::runtime::reconcile::{self, RunOptions};
use crate::runtime::telemetry::{self, Metrics, Readiness};
use gitops_api::{Alert, Provider, Receiver};
use kube::api::{Api, ApiResource};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The controller's name in events.
pub const CONTROLLER_NAME: &str = "notification-controller";

/// Feature gates Flux's notification-controller knows (accepted; none changes behaviour
/// here).
const FEATURE_GATES: &[&str] = &[
    "CacheSecretsAndConfigMaps",
    "ObjectLevelWorkloadIdentity",
    "DisableConfigWatchers",
];

/// Flags of `gitops controller notification-controller` (Flux's, plus explicit listen
/// flags: `--events-addr` names where *other* controllers post, so the address this one
/// listens on is `--events-listen-addr`; Flux's meaning of `--events-addr` is honoured
/// when the listen flag is absent).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "notification-controller")]
#[command(mut_arg("concurrent", |a| a.default_value("4")))]
pub struct NotificationArgs {
    /// Flags shared by all controllers.
    #[command(flatten)]
    pub common: ControllerArgs,
    /// Address the event endpoint binds to (default `:9090`, or `--events-addr`).
    #[arg(long)]
    pub events_listen_addr: Option<String>,
    /// Address the webhook receiver endpoint binds to.
    #[arg(
        long = "receiver-addr",
        alias = "receiverAddr",
        default_value = ":9292"
    )]
    pub receiver_addr: String,
    /// Identical events within this interval are dropped (answered 429).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub rate_limit_interval: Duration,
    /// Refuse Alert sources and Receiver resources in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,
    /// Accepted for compatibility (HTTP metrics are per handler).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub export_http_path_metrics: bool,
    /// Feature gates, `Name=true,Other=false` (Flux's are accepted).
    #[arg(long, default_value = "")]
    pub feature_gates: String,
    /// Where `gcr` Receivers fetch Google's ID-token signing keys (a JWKS document).
    #[arg(long, default_value = gcr::GOOGLE_JWKS_URL)]
    pub gcr_jwks_url: String,
    /// Secrets whose changes reconcile the Receivers reading them.
    #[command(flatten)]
    pub watch_configs: WatchConfigsArgs,
}

impl NotificationArgs {
    /// The event endpoint's listen address.
    fn events_listen(&self) -> String {
        self.events_listen_addr
            .clone()
            .or_else(|| self.common.events_addr.clone())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| ":9090".into())
    }
}

/// What the event server, the receiver server and the Receiver reconciler share.
pub(crate) struct Shared {
    pub client: kube::Client,
    /// Events about Alerts (dispatch failures); not forwarded anywhere.
    pub recorder: EventRecorder,
    pub alerts: Store<Alert>,
    pub providers: Store<Provider>,
    pub receivers: Store<Receiver>,
    pub no_cross_namespace_refs: bool,
    /// Google's signing keys, for `gcr` Receivers.
    pub google_keys: gcr::GoogleKeys,
    /// API resources by `(apiVersion, kind)`, discovered once.
    kinds: Mutex<HashMap<(String, String), ApiResource>>,
}

impl Shared {
    /// The API resource of `kind` in `api_version` (`group/version`), from discovery.
    pub async fn resource(&self, api_version: &str, kind: &str) -> anyhow::Result<ApiResource> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(r) = self.kinds.lock().get(&key) {
            return Ok(r.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let (ar, _) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| anyhow::anyhow!("kind {kind} of {api_version} is not served: {e}"))?;
        self.kinds.lock().insert(key, ar.clone());
        Ok(ar)
    }
}

/// A store of `K` kept current by a watch (all namespaces or one).
fn store<K: reconcile::Watched>(api: Api<K>) -> Store<K> {
    let (reader, writer) = reflector::store();
    let stream = watcher(api, crate::runtime::reconcile::watch_config())
        .backoff(crate::runtime::reconcile::WatchBackoff::default())
        .reflect(writer)
        .touched_objects();
    tokio::spawn(async move {
        use futures::StreamExt;
        stream.for_each(|_| async {}).await;
    });
    reader
}

/// Runs the notification controller until the process is stopped.
pub async fn run(args: NotificationArgs) -> anyhow::Result<()> {
    telemetry::init_logging(&args.common.log_level, &args.common.log_encoding);
    let _ =
        feature_gate(&args.feature_gates, FEATURE_GATES, "", false).map_err(anyhow::Error::msg)?;
    let client = crate::runtime::client::client(args.common.kubeconfig.as_deref()).await?;
    let metrics = Metrics::default();
    let ready = Readiness::default();
    telemetry::serve_from_args(&args.common, &metrics, &ready).await?;
    let runtime_namespace =
        std::env::var("RUNTIME_NAMESPACE").unwrap_or_else(|_| "flux-system".into());
    let namespace = (!args.common.watch_all_namespaces).then_some(runtime_namespace);
    let api = |c: &kube::Client| match &namespace {
        Some(ns) => (
            Api::namespaced(c.clone(), ns),
            Api::namespaced(c.clone(), ns),
        ),
        None => (Api::all(c.clone()), Api::all(c.clone())),
    };
    let (alerts, providers): (Api<Alert>, Api<Provider>) = api(&client);
    let receivers: Api<Receiver> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let shared = Arc::new(Shared {
        recorder: EventRecorder::new(client.clone(), CONTROLLER_NAME, None),
        alerts: store(alerts),
        providers: store(providers),
        receivers: store(receivers),
        no_cross_namespace_refs: args.no_cross_namespace_refs,
        google_keys: gcr::GoogleKeys::new(args.gcr_jwks_url.clone()),
        kinds: Mutex::new(HashMap::new()),
        client: client.clone(),
    });

    let events_addr = args.events_listen();
    let addr = bind_addr(&events_addr)
        .ok_or_else(|| anyhow::anyhow!("--events-listen-addr: cannot bind {events_addr:?}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("event server on {addr}: {e}"))?;
    let server = events::EventServer::new(shared.clone(), args.rate_limit_interval);
    events::serve(listener, server);
    tracing::info!(addr = %addr, "event server listening");

    let addr = bind_addr(&args.receiver_addr)
        .ok_or_else(|| anyhow::anyhow!("--receiver-addr: cannot bind {:?}", args.receiver_addr))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("receiver server on {addr}: {e}"))?;
    receiver::serve(listener, shared.clone());
    tracing::info!(addr = %addr, "receiver server listening");

    let opts = RunOptions {
        namespace: namespace.clone(),
        concurrency: args.common.concurrent.max(1),
        jitter_percent: 0,
        label_selector: reconcile::label_selector(&args.common.watch_label_selector)?,
    };
    let selector = if feature_gate(
        &args.feature_gates,
        FEATURE_GATES,
        "DisableConfigWatchers",
        false,
    )
    .map_err(anyhow::Error::msg)?
    {
        String::new()
    } else {
        args.watch_configs.watch_configs_label_selector.clone()
    };
    tracing::info!("starting notification-controller");
    let ns = namespace.clone();
    reconcile::run_with::<Receiver, _>(
        client.clone(),
        Arc::new(receiver::ReceiverReconciler::new(shared)),
        opts,
        metrics,
        ready,
        move |c| {
            reconcile::watch_configs(c, client.clone(), ns.as_deref(), &selector, |r| {
                r.spec
                    .secret_ref
                    .iter()
                    .map(|s| (gitops_api::kustomize::ValuesKind::Secret, s.name.clone()))
                    .collect()
            })
        },
    )
    .await;
    Ok(())
}
