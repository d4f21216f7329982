//! The fault test: the API server, the source, kustomize and helm controllers run as their
//! own `gitops` processes while Kustomizations and HelmReleases reconcile a changing Git
//! repository and changing values; each round one of the four is killed with SIGKILL at a
//! random moment and started again. After each round everything must converge, and then:
//!
//! - nothing acknowledged is lost: every write the test saw answered (markers created
//!   just before a kill, the HelmReleases' new values) is in the restarted server;
//! - nothing is duplicated: each release has exactly one deployed record, record versions
//!   are unique, and each object exists once under its name;
//! - nothing is pruned by mistake, and nothing stale stays: the objects of the apps are
//!   exactly those the last commit declares (the extra ConfigMaps come and go);
//! - inventories are right: each Kustomization's inventory lists exactly its objects.
//!
//! [`run`] is called by `bootstrap/tests/cli/fault.rs` (small, in the test suite) and by
//! `tests/examples/fault.rs` through `tests/bench/fault.sh` (200 Kustomizations and 50
//! HelmReleases, 20 rounds).

use crate::{ChildGuard, GitHttpServer, free_port, git, wait_until};
use anyhow::{Context, bail, ensure};
use gitops_api::{HelmRelease, Kustomization};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// The `gitops` executable.
    pub gitops: PathBuf,
    /// Kustomizations (one app directory each).
    pub kustomizations: usize,
    /// HelmReleases.
    pub helm_releases: usize,
    /// Rounds (one kill each).
    pub rounds: usize,
    /// Seed of the random kills (printed, to replay a failure).
    pub seed: u64,
    /// Kill the components in turn (each once every four rounds) rather than at random;
    /// the moments stay random.
    pub each_in_turn: bool,
    /// How long a round may take to converge.
    pub converge_timeout: Duration,
    /// `spec.interval` of the Kustomizations, HelmReleases and the GitRepository (Go
    /// duration): the latest a missed change is reconciled.
    pub interval: String,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct FaultReport {
    /// One line per round: what was killed, when, and how long convergence took.
    pub rounds: Vec<String>,
}

/// The namespace everything lives in.
const NS: &str = "fault";

/// A small deterministic generator (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const COMPONENTS: [&str; 4] = [
    "apiserver",
    "source-controller",
    "kustomize-controller",
    "helm-controller",
];

/// The processes, restartable with the same flags, state and ports.
struct Processes {
    gitops: PathBuf,
    dir: PathBuf,
    api_port: u16,
    storage_port: u16,
    kubeconfig: PathBuf,
    running: BTreeMap<&'static str, ChildGuard>,
}

impl Processes {
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(&self.gitops);
        if name == "apiserver" {
            c.arg("apiserver")
                .arg("--state")
                .arg(self.dir.join("api"))
                .args(["--listen", &format!("127.0.0.1:{}", self.api_port)]);
        } else {
            c.args(["controller", name])
                .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
                .args(["--metrics-addr=0", "--health-addr=0", "--log-level=info"])
                .arg("--concurrent=8");
            if name == "source-controller" {
                c.arg(format!(
                    "--storage-path={}",
                    self.dir.join("storage").display()
                ))
                .arg(format!("--storage-addr=127.0.0.1:{}", self.storage_port))
                .arg(format!(
                    "--storage-adv-addr=127.0.0.1:{}",
                    self.storage_port
                ));
            }
            if name == "kustomize-controller" || name == "helm-controller" {
                c.arg("--requeue-dependency=1s");
            }
        }
        // Each process appends its errors to `logs/<name>.log`, quoted when a round fails.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("logs/{name}.log")))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        c.stdout(Stdio::null()).stderr(log);
        c
    }

    /// The last lines of each process's log.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for name in COMPONENTS {
            let text = std::fs::read_to_string(self.dir.join(format!("logs/{name}.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {name} (last lines of its log)\n"));
            for l in &lines[lines.len().saturating_sub(15)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    fn start(&mut self, name: &'static str) -> anyhow::Result<()> {
        let child = self
            .command(name)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.running.insert(name, ChildGuard(child));
        Ok(())
    }

    /// SIGKILL: no shutdown, no flushing.
    fn kill(&mut self, name: &'static str) {
        if let Some(mut c) = self.running.remove(name) {
            let _ = c.0.kill();
            let _ = c.0.wait();
        }
    }

    async fn wait_api(&self) -> anyhow::Result<()> {
        let port = self.api_port;
        wait_until(Duration::from_secs(60), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await
        .context("the API server did not listen")
    }
}

fn app_cm(i: usize, round: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\n  namespace: {NS}\n  labels:\n    fault/part-of: app-{i}\ndata:\n  round: \"{round}\"\n"
    )
}

fn extra_cm(i: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}-extra\n  namespace: {NS}\n  labels:\n    fault/part-of: app-{i}\ndata:\n  extra: \"yes\"\n"
    )
}

fn app_sa(i: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app-{i}\n  namespace: {NS}\n  labels:\n    fault/part-of: app-{i}\n"
    )
}

/// Whether app `i` has its extra ConfigMap in round `round`: a third of the apps at a
/// time, a different third each round, so every round creates and prunes objects while
/// components die.
fn has_extra(i: usize, round: usize) -> bool {
    (i + round).is_multiple_of(3)
}

/// Writes the repository for `round`, commits and pushes; returns the commit.
fn commit_round(work: &Path, bare: &Path, apps: usize, round: usize) -> anyhow::Result<String> {
    for i in 0..apps {
        let dir = work.join(format!("apps/app-{i}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("cm.yaml"), app_cm(i, round))?;
        std::fs::write(dir.join("sa.yaml"), app_sa(i))?;
        let extra = dir.join("extra.yaml");
        if has_extra(i, round) {
            std::fs::write(extra, extra_cm(i))?;
        } else if extra.exists() {
            std::fs::remove_file(extra)?;
        }
    }
    git(work, &["add", "-A"]);
    git(
        work,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            &format!("round {round}"),
        ],
    );
    git(work, &["push", "-q", &bare.display().to_string(), "main"]);
    Ok(git(work, &["rev-parse", "HEAD"]))
}

const CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: small\nversion: 1.0.0\n",
    ),
    ("values.yaml", "message: hello\n"),
    (
        "templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-values\n  labels:\n    fault/release: {{ .Release.Name }}\ndata:\n  message: {{ .Values.message | quote }}\n",
    ),
];

/// Retries an API call while the server is down or restarting.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.context(format!("{what} kept failing"))),
        }
    }
}

fn ready(status: &Value) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Runs the fault test.
pub async fn run(cfg: FaultConfig) -> anyhow::Result<FaultReport> {
    gitops_source::ensure_crypto_provider();
    let t = tempfile::tempdir()?;
    let dir = t.path().to_path_buf();
    let mut rng = Rng(cfg.seed | 1);
    let mut report = FaultReport::default();

    // The repository and the chart, served by servers that never die.
    let (root, work) = (dir.join("srv"), dir.join("work"));
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(&work)?;
    git(&root, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    let bare = root.join("repo.git");
    let mut sha = commit_round(&work, &bare, cfg.kustomizations, 0)?;
    let git_server = GitHttpServer::start(&root, None).await;
    let charts = crate::serve_chart(&dir, CHART).await?;

    std::fs::create_dir_all(dir.join("logs"))?;
    let mut procs = Processes {
        gitops: cfg.gitops.clone(),
        dir: dir.clone(),
        api_port: free_port(),
        storage_port: free_port(),
        kubeconfig: dir.join("api/kubeconfig"),
        running: BTreeMap::new(),
    };
    procs.start("apiserver")?;
    procs.wait_api().await?;
    let client = retry("connecting", || async {
        gitops_controllers::runtime::client::client(Some(&procs.kubeconfig)).await
    })
    .await?;
    let crds: Api<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    > = Api::all(client.clone());
    for crd in gitops_api::all_crds() {
        crds.create(&PostParams::default(), &crd).await?;
    }
    for name in &COMPONENTS[1..] {
        procs.start(name)?;
    }

    crate::apply_json(
        &client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
    )
    .await?;
    crate::apply_json(
        &client,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "repo", "namespace": NS},
               "spec": {"url": format!("{}/repo.git", git_server.url), "interval": cfg.interval, "ref": {"branch": "main"}}}),
    )
    .await?;
    crate::apply_json(
        &client,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "charts", "namespace": NS},
               "spec": {"url": charts.url, "interval": "10m"}}),
    )
    .await?;
    for i in 0..cfg.kustomizations {
        crate::apply_json(
            &client,
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                   "metadata": {"name": format!("app-{i}"), "namespace": NS},
                   "spec": {"interval": cfg.interval, "retryInterval": "2s", "timeout": "30s", "prune": true,
                            "path": format!("./apps/app-{i}"),
                            "sourceRef": {"kind": "GitRepository", "name": "repo"}}}),
        )
        .await?;
    }
    for i in 0..cfg.helm_releases {
        crate::apply_json(
            &client,
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                   "metadata": {"name": format!("rel-{i}"), "namespace": NS},
                   "spec": {"interval": cfg.interval, "timeout": "30s",
                            "install": {"remediation": {"retries": -1}},
                            "upgrade": {"remediation": {"retries": -1}},
                            "chart": {"spec": {"chart": "small", "version": "1.0.0",
                                               "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
                            "values": {"message": "round 0"}}}),
        )
        .await?;
    }
    let started = Instant::now();
    converge(&client, &cfg, &sha, 0, &[]).await?;
    // Kills land within the time the first convergence took: while the work is under way.
    let window = started
        .elapsed()
        .clamp(Duration::from_millis(100), Duration::from_secs(5));
    report.rounds.push(format!(
        "start: {} Kustomizations and {} HelmReleases converged in {:.1} s",
        cfg.kustomizations,
        cfg.helm_releases,
        started.elapsed().as_secs_f64()
    ));

    let mut acks: Vec<String> = Vec::new();
    for round in 1..=cfg.rounds {
        let victim = if cfg.each_in_turn {
            COMPONENTS[(round - 1) % COMPONENTS.len()]
        } else {
            COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize]
        };
        // New desired state: a commit, new values for every release.
        sha = commit_round(&work, &bare, cfg.kustomizations, round)?;
        let repo: Api<gitops_api::GitRepository> = Api::namespaced(client.clone(), NS);
        let now = jiff::Timestamp::now().to_string();
        retry("asking the source to fetch", || {
            let repo = repo.clone();
            let now = now.clone();
            async move {
                repo.patch(
                    "repo",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": now}}})),
                )
                .await?;
                Ok(())
            }
        })
        .await?;
        let releases: Api<HelmRelease> = Api::namespaced(client.clone(), NS);
        for i in 0..cfg.helm_releases {
            let name = format!("rel-{i}");
            retry("new values", || {
                let releases = releases.clone();
                let name = name.clone();
                async move {
                    releases
                        .patch(
                            &name,
                            &PatchParams::default(),
                            &Patch::Merge(
                                json!({"spec": {"values": {"message": format!("round {round}")}}}),
                            ),
                        )
                        .await?;
                    Ok(())
                }
            })
            .await?;
        }
        // Kill while the work is under way.
        let delay = Duration::from_millis(rng.below(window.as_millis() as u64));
        tokio::time::sleep(delay).await;
        if victim == "apiserver" {
            // A write acknowledged right before the crash must survive it.
            let marker = format!("ack-{round}");
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
            cms.create(
                &PostParams::default(),
                &serde_json::from_value(
                    json!({"metadata": {"name": marker, "labels": {"fault/ack": "true"}},
                                               "data": {"round": round.to_string()}}),
                )?,
            )
            .await?;
            acks.push(marker);
        }
        procs.kill(victim);
        tokio::time::sleep(Duration::from_millis(rng.below(1000))).await;
        procs.start(victim)?;
        if victim == "apiserver" {
            procs.wait_api().await?;
        }
        let began = Instant::now();
        if let Err(e) = converge(&client, &cfg, &sha, round, &acks).await {
            let tails = procs.log_tails();
            for name in COMPONENTS.iter().rev() {
                procs.kill(name);
            }
            // The state and logs stay for a look.
            let kept = t.keep();
            bail!(
                "round {round} (killed {victim} after {delay:?}, seed {}): {e:#}\n{tails}(state and logs kept in {})",
                cfg.seed,
                kept.display()
            );
        }
        report.rounds.push(format!(
            "round {round}: killed {victim} {} ms into the work; converged and verified in {:.1} s",
            delay.as_millis(),
            began.elapsed().as_secs_f64()
        ));
    }
    for name in COMPONENTS.iter().rev() {
        procs.kill(name);
    }
    if let Some(keep) = std::env::var_os("FAULT_KEEP") {
        let _ = keep;
        report
            .rounds
            .push(format!("state and logs kept in {}", t.keep().display()));
    }
    Ok(report)
}

/// Waits until every Kustomization applied `sha` and every release has the values of
/// `round`, then checks what the cluster holds.
async fn converge(
    client: &kube::Client,
    cfg: &FaultConfig,
    sha: &str,
    round: usize,
    acks: &[String],
) -> anyhow::Result<()> {
    let rev = format!("main@sha1:{sha}");
    let ks: Api<Kustomization> = Api::namespaced(client.clone(), NS);
    let hrs: Api<HelmRelease> = Api::namespaced(client.clone(), NS);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let message = format!("round {round}");
    let last = std::sync::Mutex::new(String::new());
    let done = wait_until(cfg.converge_timeout, || {
        let (ks, hrs, cms, rev, message, last) = (&ks, &hrs, &cms, &rev, &message, &last);
        async move {
            let list = ks.list(&ListParams::default()).await.ok()?;
            let pending_ks = list
                .items
                .iter()
                .filter(|k| {
                    let s = serde_json::to_value(&k.status).unwrap_or_default();
                    !(ready(&s) && s["lastAppliedRevision"] == rev.as_str())
                })
                .count();
            let list = hrs.list(&ListParams::default()).await.ok()?;
            let pending_hr = list
                .items
                .iter()
                .filter(|h| {
                    let s = serde_json::to_value(&h.status).unwrap_or_default();
                    !(ready(&s)
                        && s["observedGeneration"].as_i64() == h.metadata.generation)
                })
                .count();
            let values = cms
                .list(&ListParams::default().labels("fault/release"))
                .await
                .ok()?;
            let stale_values = values
                .items
                .iter()
                .filter(|c| {
                    c.data.as_ref().and_then(|d| d.get("message")) != Some(message)
                })
                .count()
                + cfg.helm_releases.saturating_sub(values.items.len());
            *last.lock().unwrap() = format!(
                "{pending_ks} Kustomizations not at {rev}, {pending_hr} HelmReleases not ready at their generation, {stale_values} release ConfigMaps without {message:?}"
            );
            (pending_ks == 0 && pending_hr == 0 && stale_values == 0).then_some(())
        }
    })
    .await;
    if done.is_none() {
        bail!(
            "did not converge in {:?}: {}",
            cfg.converge_timeout,
            last.lock().unwrap()
        );
    }
    verify(client, cfg, round, acks).await
}

/// The checks after convergence.
async fn verify(
    client: &kube::Client,
    cfg: &FaultConfig,
    round: usize,
    acks: &[String],
) -> anyhow::Result<()> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    // Acknowledged writes survived every crash of the server.
    let held: BTreeSet<String> = cms
        .list(&ListParams::default().labels("fault/ack=true"))
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    for a in acks {
        ensure!(held.contains(a), "acknowledged ConfigMap {a} was lost");
    }
    // The apps hold exactly what the last commit declares.
    let all = cms
        .list(&ListParams::default().labels("fault/part-of"))
        .await?;
    let mut by_app: BTreeMap<String, Vec<ConfigMap>> = BTreeMap::new();
    for c in all.items {
        let app = c
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("fault/part-of"))
            .cloned()
            .unwrap_or_default();
        by_app.entry(app).or_default().push(c);
    }
    let ks: Api<Kustomization> = Api::namespaced(client.clone(), NS);
    for i in 0..cfg.kustomizations {
        let app = format!("app-{i}");
        let got: BTreeSet<String> = by_app
            .get(&app)
            .into_iter()
            .flatten()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        let mut want: BTreeSet<String> = [app.clone()].into();
        if has_extra(i, round) {
            want.insert(format!("{app}-extra"));
        }
        ensure!(
            got == want,
            "{app}: ConfigMaps {got:?}, the commit declares {want:?} (lost or wrongly pruned / stale)"
        );
        let main = by_app[&app]
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(app.as_str()))
            .context("main ConfigMap")?;
        ensure!(
            main.data.as_ref().and_then(|d| d.get("round")) == Some(&round.to_string()),
            "{app}: ConfigMap holds round {:?}, not {round}",
            main.data.as_ref().and_then(|d| d.get("round"))
        );
        // The inventory lists exactly the objects.
        let k = ks.get(&app).await?;
        let status = serde_json::to_value(&k.status)?;
        let inventory: BTreeSet<String> = status["inventory"]["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect();
        let mut expected: BTreeSet<String> = want
            .iter()
            .map(|n| format!("{NS}_{n}__ConfigMap"))
            .collect();
        expected.insert(format!("{NS}_{app}__ServiceAccount"));
        ensure!(
            inventory == expected,
            "{app}: inventory {inventory:?}, expected {expected:?}"
        );
    }
    // Each release: one deployed record, unique versions, the stored values as written.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let records = secrets
        .list_metadata(&ListParams::default().labels("owner=helm"))
        .await?;
    let mut per_release: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in records.items {
        let l = r.metadata.labels.unwrap_or_default();
        per_release
            .entry(l.get("name").cloned().unwrap_or_default())
            .or_default()
            .push((
                l.get("version").cloned().unwrap_or_default(),
                l.get("status").cloned().unwrap_or_default(),
            ));
    }
    let hrs: Api<HelmRelease> = Api::namespaced(client.clone(), NS);
    for i in 0..cfg.helm_releases {
        let name = format!("rel-{i}");
        let recs = per_release.get(&name).cloned().unwrap_or_default();
        let deployed = recs.iter().filter(|(_, s)| s == "deployed").count();
        ensure!(
            deployed == 1,
            "{name}: {deployed} deployed release records ({recs:?})"
        );
        let versions: BTreeSet<&String> = recs.iter().map(|(v, _)| v).collect();
        ensure!(
            versions.len() == recs.len(),
            "{name}: duplicate release versions {recs:?}"
        );
        let hr = hrs.get(&name).await?;
        let values = serde_json::to_value(&hr.spec.values)?;
        ensure!(
            values["message"] == format!("round {round}"),
            "{name}: acknowledged values lost: {values}"
        );
    }
    Ok(())
}
