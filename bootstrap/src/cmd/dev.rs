//! `gitops dev`: the embedded API server with every controller, reconciling a repository,
//! with live progress in the terminal.
//!
//! State (database, TLS files, kubeconfig, artifacts, logs) lives in `--state`
//! (`.gitops-dev/`). With `--kubeconfig` the controllers run against that cluster instead
//! and no server is started.

use anyhow::Context as _;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Field manager of the objects `gitops dev` writes.
const MANAGER: &str = "gitops-dev";
/// Namespace of the controllers' own objects, as in a Flux installation.
const NAMESPACE: &str = "flux-system";

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the cluster state, kubeconfig, artifacts and logs.
    #[arg(long, default_value = ".gitops-dev")]
    state: PathBuf,
    /// Repository to reconcile: a local Git checkout (its current branch, committed
    /// content) or a Git URL. Creates GitRepository and Kustomization `flux-system`.
    #[arg(long)]
    repo: Option<String>,
    /// Path inside the repository of the Kustomization `flux-system`.
    #[arg(long, default_value = "./clusters/dev")]
    path: String,
    /// Branch to follow (default: the checkout's current branch, or `main` for URLs).
    #[arg(long)]
    branch: Option<String>,
    /// How often the repository is polled for new commits.
    #[arg(long, default_value = "10s")]
    interval: String,
    /// Address of the embedded API server (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Run the controllers against this cluster instead of the embedded API server.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Do not simulate workload readiness in the embedded server.
    #[arg(long)]
    no_simulation: bool,
    /// Fsync every write before acknowledging it (survives power loss; slower). By default
    /// writes are acknowledged once in the write-ahead log and fsynced within 100 ms.
    #[arg(long)]
    fsync_every_write: bool,
    /// Exit once Kustomization `flux-system` is Ready (status 0), or with status 1 when
    /// a revision fails to build, apply or become healthy, or `--timeout` passes. For
    /// scripts and CI.
    #[arg(long, requires = "repo")]
    until_ready: bool,
    /// Time limit of `--until-ready`.
    #[arg(long, default_value = "5m")]
    timeout: String,
    /// Address of the notification controller's webhook receivers (`/hook/…`), so a
    /// `git push` hook can make the sync immediate; a free port when this one is taken.
    #[arg(long, default_value = "127.0.0.1:9292")]
    receiver_listen: SocketAddr,
    /// Address of the web view (as `gitops ui` serves it); a free port when this one is
    /// taken. Any other than a loopback address requires the token printed in its URL.
    #[arg(long, default_value = "127.0.0.1:9000")]
    ui_listen: SocketAddr,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The state (the cluster's database with its Secrets, the kubeconfig, the controllers'
    // log) is the user's alone.
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&args.state)
            .with_context(|| format!("creating state directory {}", args.state.display()))?;
        std::fs::set_permissions(&args.state, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("securing state directory {}", args.state.display()))?;
    }
    let state = args
        .state
        .canonicalize()
        .with_context(|| format!("state directory {}", args.state.display()))?;
    init_file_logging(&state.join("controllers.log"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(dev(args, state))
}

/// Controllers log JSON to a file; the terminal shows progress lines only.
fn init_file_logging(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening log file {}", path.display()))?;
    // A log created by an earlier version may be readable by others.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("securing log file {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .json()
        .try_init();
    Ok(())
}

async fn dev(args: Args, state: PathBuf) -> anyhow::Result<ExitCode> {
    // Installed first, so Ctrl-C (or SIGTERM) during start-up still stops cleanly.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let stop = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    let timeout = gitops_api::Duration::parse(&args.timeout)
        .map_err(|e| anyhow::anyhow!("--timeout: {e}"))?
        .get();
    gitops_api::Duration::parse(&args.interval).map_err(|e| anyhow::anyhow!("--interval: {e}"))?;
    let mut repo = args.repo.as_deref().map(resolve_repo).transpose()?;

    let (server, kubeconfig) = match &args.kubeconfig {
        Some(k) => (None, k.clone()),
        None => {
            let mut config = gitops_apiserver::Config::new(state.join("cluster"));
            config.listen = args.listen;
            config.simulate_workloads = !args.no_simulation;
            config.durability = if args.fsync_every_write {
                gitops_apiserver::Durability::Fsync
            } else {
                gitops_apiserver::Durability::Os
            };
            let server = gitops_apiserver::Server::start(config)
                .await
                .with_context(|| format!("starting the API server on {}", args.listen))?;
            let path = state.join("kubeconfig");
            std::fs::write(&path, server.kubeconfig())
                .with_context(|| format!("writing {}", path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
            say(&format!(
                "API server {} (state in {})",
                server.url(),
                state.display()
            ));
            (Some(server), path)
        }
    };
    say(&format!(
        "kubectl: export KUBECONFIG={}   logs: {}",
        kubeconfig.display(),
        state.join("controllers.log").display()
    ));

    let client = gitops_controllers::runtime::client::client(Some(&kubeconfig)).await?;
    install_crds(&client).await?;
    ensure_namespace(&client, NAMESPACE).await?;
    let receivers = free_or_other(args.receiver_listen)?;
    let controllers = start_controllers(&kubeconfig, &state, receivers)?;
    say(&format!("controllers: {}", controllers.names.join(", ")));
    say(&format!("receivers: http://{receivers}/hook/…"));
    let ui_listener = match tokio::net::TcpListener::bind(args.ui_listen).await {
        Ok(l) => l,
        Err(e) if args.ui_listen.port() != 0 => {
            let other = tokio::net::TcpListener::bind((args.ui_listen.ip(), 0))
                .await
                .with_context(|| format!("listening on {}", args.ui_listen))?;
            say(&format!(
                "{} is not available ({e}): the web view listens on {}",
                args.ui_listen,
                other.local_addr()?
            ));
            other
        }
        Err(e) => return Err(e).with_context(|| format!("listening on {}", args.ui_listen)),
    };
    let ui = super::ui::Server::start(client.clone(), ui_listener, Duration::from_secs(300))?;
    say(&format!("web view: {}", ui.url()));

    let mut git_server = None;
    if let Some(r) = repo.as_mut().filter(|r| r.local.is_some()) {
        git_server = Some(serve_local(r).await?);
    }
    let target = match &repo {
        Some(r) => Some(create_sync(&client, r, &args).await?),
        None => None,
    };

    let printed = Printed::default();
    let progress = tokio::spawn(show_progress(client.clone(), printed.clone()));
    let events = tokio::spawn(show_events(client.clone()));
    let code = if let Some(target) = target.filter(|_| args.until_ready) {
        tokio::select! {
            r = wait_ready(&client, &target, timeout, &printed) => r,
            _ = stop => ExitCode::from(130),
        }
    } else {
        stop.await;
        eprintln!();
        say("stopping");
        ExitCode::SUCCESS
    };
    drop(ui);
    progress.abort();
    events.abort();
    if let Some(t) = git_server {
        t.abort();
    }
    for task in controllers.tasks {
        task.abort();
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    Ok(code)
}

fn say(line: &str) {
    let now = jiff::Zoned::now();
    eprintln!("{} {line}", now.strftime("%H:%M:%S"));
}

/// Where the repository is and which branch to follow.
struct Repo {
    url: String,
    branch: Option<String>,
    /// A local checkout, served over loopback smart HTTP once the runtime is up.
    local: Option<PathBuf>,
    /// Basic-auth credentials of the loopback Git server (a random password per run).
    credentials: Option<(String, String)>,
}

/// Serves a local checkout over smart HTTP on loopback (GitRepository URLs must be
/// http(s) or ssh), behind basic auth with a random password; fills in `repo.url`.
async fn serve_local(repo: &mut Repo) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use base64::Engine;
    let Some(top) = repo.local.clone() else {
        anyhow::bail!("not a local repository");
    };
    let bytes: [u8; 18] = rand::random();
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let user = "gitops".to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let cfg = gitops_source::git_server::GitServerConfig {
        root: top.clone(),
        authorization: Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )),
    };
    let task = tokio::spawn(async move {
        if let Err(e) =
            gitops_source::git_server::serve(cfg, listener, std::future::pending()).await
        {
            say(&format!("✖ Git server for {} stopped: {e}", top.display()));
        }
    });
    repo.url = format!("http://{addr}/.git");
    repo.credentials = Some((user, password));
    Ok(task)
}

fn resolve_repo(repo: &str) -> anyhow::Result<Repo> {
    let local = Path::new(repo);
    if !repo.contains("://") && !repo.starts_with("git@") {
        let path = local
            .canonicalize()
            .with_context(|| format!("--repo {repo}: no such directory"))?;
        let top = git_output(&path, &["rev-parse", "--show-toplevel"])
            .with_context(|| format!("--repo {repo}: not a Git checkout"))?;
        let branch = git_output(&path, &["symbolic-ref", "--short", "HEAD"]).ok();
        if git_output(&path, &["status", "--porcelain", "--untracked-files=no"])
            .is_ok_and(|s| !s.is_empty())
        {
            say("note: the checkout has uncommitted changes; only commits are reconciled");
        }
        return Ok(Repo {
            url: String::new(),
            branch,
            local: Some(PathBuf::from(top)),
            credentials: None,
        });
    }
    Ok(Repo {
        url: repo.to_string(),
        branch: None,
        local: None,
        credentials: None,
    })
}

fn git_output(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    anyhow::ensure!(
        out.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates or updates the Flux CRDs (server-side apply) and waits until they are established.
async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply(MANAGER).force();
    let crds = gitops_api::all_crds();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut value = serde_json::to_value(crd)?;
        value["apiVersion"] = json!("apiextensions.k8s.io/v1");
        value["kind"] = json!("CustomResourceDefinition");
        api.patch(&name, &pp, &Patch::Apply(&value))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let live = api.get(&name).await?;
            let established = live
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "CRD {name} not established after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&ns))
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

struct Controllers {
    names: Vec<&'static str>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Runs every controller that exists as its own task with its own client, the way the
/// installation runs them as Deployments (loopback addresses, no metrics/health ports).
/// `addr` when it can be bound, else a free loopback port (said so).
fn free_or_other(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if addr.port() != 0 && std::net::TcpListener::bind(addr).is_ok() {
        return Ok(addr);
    }
    let other = std::net::TcpListener::bind((addr.ip(), 0))?.local_addr()?;
    if addr.port() != 0 {
        say(&format!("{addr} is in use: receivers listen on {other}"));
    }
    Ok(other)
}

fn start_controllers(
    kubeconfig: &Path,
    state: &Path,
    receivers: SocketAddr,
) -> anyhow::Result<Controllers> {
    let common = [
        format!("--kubeconfig={}", kubeconfig.display()),
        "--metrics-addr=0".to_string(),
        "--health-addr=0".to_string(),
        "--watch-all-namespaces=true".to_string(),
    ];
    // The notification controller's event endpoint, on a free loopback port.
    let events = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let notification = gitops_controllers::controller("notification-controller")
        .is_some_and(|c| c.start.is_some());
    let mut names = Vec::new();
    let mut tasks = Vec::new();
    for info in gitops_controllers::CONTROLLERS {
        let Some(start) = info.start else {
            continue;
        };
        let mut argv: Vec<String> = std::iter::once(info.name.to_string())
            .chain(common.iter().cloned())
            .collect();
        if info.name == "notification-controller" {
            argv.extend([
                format!("--events-listen-addr={events}"),
                format!("--receiver-addr={receivers}"),
            ]);
        } else if notification {
            argv.push(format!("--events-addr=http://{events}/"));
        }
        if let Some((dir, addr_file)) = match info.name {
            "source-controller" => Some(("artifacts", "artifact-server")),
            "source-watcher" => Some(("generated-artifacts", "generated-artifact-server")),
            _ => None,
        } {
            // The artifact server keeps its port across restarts so the URLs stored in
            // status stay valid (a new port would leave consumers with dead links until
            // sources re-reconcile).
            let storage = state.join(dir);
            argv.extend([
                format!("--storage-path={}", storage.display()),
                format!("--storage-addr={}", artifact_addr(state, addr_file)?),
                "--storage-adv-addr=".to_string(),
            ]);
        }
        if info.name == "image-reflector-controller" {
            argv.push(format!(
                "--storage-path={}",
                state.join("image-tags").display()
            ));
        }
        let controller = start(argv)?;
        let name = info.name;
        names.push(name);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = controller.await {
                say(&format!("{name} stopped: {e:#}"));
            }
        }));
    }
    Ok(Controllers { names, tasks })
}

/// A loopback address for the artifact server: the one recorded in the state when it is
/// free, else a new free port (recorded for the next run).
fn artifact_addr(state: &Path, name: &str) -> anyhow::Result<SocketAddr> {
    let file = state.join(name);
    if let Some(addr) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<SocketAddr>().ok())
        && std::net::TcpListener::bind(addr).is_ok()
    {
        return Ok(addr);
    }
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    std::fs::write(&file, addr.to_string())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(addr)
}

/// The Kustomization `gitops dev` waits for.
struct Target {
    namespace: String,
    name: String,
    /// The commit the branch of a local checkout is at: `--until-ready` waits for that
    /// revision, not for a Ready condition left by an earlier run's state.
    commit: Option<String>,
}

/// Creates GitRepository and Kustomization `flux-system` for the repository.
async fn create_sync(client: &kube::Client, repo: &Repo, args: &Args) -> anyhow::Result<Target> {
    let branch = args
        .branch
        .clone()
        .or_else(|| repo.branch.clone())
        .unwrap_or_else(|| "main".to_string());
    let mut git = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": NAMESPACE},
        "spec": {"url": repo.url, "ref": {"branch": branch}, "interval": args.interval},
    });
    if let Some((user, password)) = &repo.credentials {
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "flux-system-dev-git", "namespace": NAMESPACE},
            "stringData": {"username": user, "password": password},
        });
        let api: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(client.clone(), NAMESPACE);
        api.patch(
            "flux-system-dev-git",
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .context("creating the Git credentials Secret")?;
        git["spec"]["secretRef"] = json!({"name": "flux-system-dev-git"});
    }
    let ks = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": NAMESPACE},
        "spec": {
            "interval": "10m",
            "retryInterval": "30s",
            "path": args.path,
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        },
    });
    for (kind, obj) in [("GitRepository", git), ("Kustomization", ks)] {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), NAMESPACE, &resource(kind)?);
        api.patch(
            "flux-system",
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .with_context(|| format!("creating {kind} {NAMESPACE}/flux-system"))?;
    }
    let shown = match &repo.local {
        Some(p) => format!("{} (served at {})", p.display(), repo.url),
        None => repo.url.clone(),
    };
    say(&format!(
        "syncing {shown} (branch {branch}, path {})",
        args.path
    ));
    let commit = repo
        .local
        .as_deref()
        .and_then(|dir| git_output(dir, &["rev-parse", &format!("refs/heads/{branch}")]).ok());
    Ok(Target {
        namespace: NAMESPACE.to_string(),
        name: "flux-system".to_string(),
        commit,
    })
}

fn resource(kind: &str) -> anyhow::Result<ApiResource> {
    let info = gitops_api::KINDS
        .iter()
        .find(|k| k.kind == kind)
        .ok_or_else(|| anyhow::anyhow!("unknown kind {kind}"))?;
    Ok(ApiResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        api_version: format!("{}/{}", info.group, info.version),
        kind: info.kind.to_string(),
        plural: info.plural.to_string(),
    })
}

/// A condition of an object's status, by type.
fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// The generation a Ready condition is about: Flux records it in the condition itself
/// (the status-wide one stays at the last success, or -1 before the first).
fn observed_generation(obj: &Value, ready: &Value) -> Option<i64> {
    ready["observedGeneration"]
        .as_i64()
        .or_else(|| obj["status"]["observedGeneration"].as_i64())
}

/// One line of progress for an object, or None while nothing is known yet.
fn progress_line(kind: &str, obj: &Value) -> Option<(String, String)> {
    let meta = &obj["metadata"];
    let id = format!(
        "{kind}/{}/{}",
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or("")
    );
    let ready = condition(obj, "Ready")?;
    let message = ready["message"].as_str().unwrap_or("");
    let reason = ready["reason"].as_str().unwrap_or("");
    let generation = meta["generation"].as_i64();
    let observed = observed_generation(obj, ready);
    let line = match ready["status"].as_str() {
        Some("True") => {
            let mut line = format!("✔ {id}: {message}");
            if let Some(entries) = obj["status"]["inventory"]["entries"].as_array() {
                line.push_str(&format!(" ({} objects)", entries.len()));
            }
            line
        }
        Some("False") => format!("✖ {id}: {reason}: {message}"),
        _ => format!("… {id}: {message}"),
    };
    // Stale status (the controller has not seen the latest spec) is not news yet.
    if generation.is_some() && observed.is_some() && generation != observed {
        return None;
    }
    Some((id, line))
}

/// The progress line last printed for each object, shared by the progress watch and
/// `--until-ready` (which may see the final state before the watch prints it).
type Printed = std::sync::Arc<std::sync::Mutex<HashMap<String, String>>>;

/// Prints `line` for object `id` unless it is the line last printed for it.
fn print_progress(printed: &Printed, id: String, line: String) {
    let mut last = printed.lock().unwrap_or_else(|e| e.into_inner());
    if last.get(&id) != Some(&line) {
        say(&line);
        last.insert(id, line);
    }
}

/// Prints a line whenever an object's Ready condition changes.
async fn show_progress(client: kube::Client, printed: Printed) {
    let kinds = [
        "GitRepository",
        "OCIRepository",
        "Bucket",
        "HelmRepository",
        "HelmChart",
        "Kustomization",
        "HelmRelease",
        "Receiver",
        "ImageRepository",
        "ImagePolicy",
        "ImageUpdateAutomation",
    ];
    let mut streams = Vec::new();
    for kind in kinds {
        let Ok(ar) = resource(kind) else { continue };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let stream = watcher::watcher(api, watcher::Config::default())
            .map(move |e| (kind, e))
            .boxed();
        streams.push(stream);
    }
    let mut all = futures::stream::select_all(streams);
    while let Some((kind, event)) = all.next().await {
        let objs = match event {
            Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => vec![o],
            Ok(watcher::Event::Delete(o)) => {
                let id = format!(
                    "{kind}/{}/{}",
                    o.metadata.namespace.as_deref().unwrap_or(""),
                    o.metadata.name.as_deref().unwrap_or("")
                );
                let known = printed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id)
                    .is_some();
                if known {
                    say(&format!("- {id} deleted"));
                }
                continue;
            }
            _ => continue,
        };
        for o in objs {
            let Ok(v) = serde_json::to_value(&o) else {
                continue;
            };
            if let Some((id, line)) = progress_line(kind, &v) {
                print_progress(&printed, id, line);
            }
        }
    }
}

/// Prints the Events the controllers record (what they post to the notification
/// controller) as they arrive.
async fn show_events(client: kube::Client) {
    use k8s_openapi::api::core::v1::Event;
    let started = jiff::Timestamp::now();
    let api: Api<Event> = Api::all(client);
    let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
    while let Some(e) = stream.next().await {
        let Ok(watcher::Event::Apply(ev)) = e else {
            continue;
        };
        let at = ev
            .event_time
            .as_ref()
            .map(|t| t.0)
            .or(ev.last_timestamp.as_ref().map(|t| t.0));
        if at.is_some_and(|t| t < started) {
            continue;
        }
        let o = &ev.involved_object;
        let mark = if ev.type_.as_deref() == Some("Warning") {
            "⚠"
        } else {
            "•"
        };
        let message = ev.message.as_deref().unwrap_or("");
        let first = message.lines().next().unwrap_or("");
        let more = message.lines().count().saturating_sub(1);
        let mut line = format!(
            "{mark} event {}/{}/{} {}: {first}",
            o.kind.as_deref().unwrap_or(""),
            o.namespace.as_deref().unwrap_or(""),
            o.name.as_deref().unwrap_or(""),
            ev.reason.as_deref().unwrap_or("")
        );
        if more > 0 {
            line.push_str(&format!(" (+{more} lines)"));
        }
        say(&line);
    }
}

/// Waits until the Kustomization is Ready at its generation (success) or Stalled/failed.
async fn wait_ready(
    client: &kube::Client,
    target: &Target,
    timeout: Duration,
    printed: &Printed,
) -> ExitCode {
    let Ok(ar) = resource("Kustomization") else {
        return ExitCode::FAILURE;
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &target.namespace, &ar);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(o) = api.get(&target.name).await {
            let v = serde_json::to_value(&o).unwrap_or_default();
            let ready = condition(&v, "Ready");
            let observed = ready.and_then(|r| observed_generation(&v, r));
            let current = v["metadata"]["generation"].as_i64() == observed;
            // a revision (`main@sha1:<commit>`) of the commit being served, when known
            let at_commit = |rev: &Value| {
                rev.as_str().is_some_and(|rev| {
                    !rev.is_empty()
                        && target
                            .commit
                            .as_deref()
                            .is_none_or(|c| rev.ends_with(&format!(":{c}")))
                })
            };
            if current && let Some(r) = ready {
                if r["status"] == "True" && at_commit(&v["status"]["lastAppliedRevision"]) {
                    // the state it ends on is printed, whether or not the watch got to it
                    if let Some((id, line)) = progress_line("Kustomization", &v) {
                        print_progress(printed, id, line);
                    }
                    return ExitCode::SUCCESS;
                }
                let stalled = condition(&v, "Stalled").is_some_and(|s| s["status"] == "True");
                // A build, apply or health failure at a revision the controller attempted
                // stays until a new commit; waiting for a source or a dependency does not.
                let attempted = at_commit(&v["status"]["lastAttemptedRevision"]);
                let waiting = matches!(
                    r["reason"].as_str(),
                    Some("DependencyNotReady" | "ArtifactFailed" | "Progressing")
                );
                if r["status"] == "False" && (stalled || (attempted && !waiting)) {
                    return ExitCode::FAILURE;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            say(&format!(
                "✖ Kustomization/{}/{} not ready after {}",
                target.namespace,
                target.name,
                humantime(timeout)
            ));
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs())
}
