//! `gitops suspend`, `resume`, `reconcile` and `delete`: what they print and wait for is
//! Flux's, kind by kind.

use crate::cli::target::Target;
use crate::cli::{FluxKind, Global, kinds, log, object, wait};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use std::process::ExitCode;

/// `gitops suspend`.
#[derive(clap::Args)]
pub struct SuspendArgs {
    #[command(subcommand)]
    target: Target,
    /// Suspend all resources in that namespace.
    #[arg(long, global = true)]
    all: bool,
    #[command(flatten)]
    global: Global,
}

/// `gitops resume`.
#[derive(clap::Args)]
pub struct ResumeArgs {
    #[command(subcommand)]
    target: Target,
    /// Resume all resources in that namespace.
    #[arg(long, global = true)]
    all: bool,
    /// Waits for one resource to reconcile before moving to the next one.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    wait: Option<bool>,
    #[command(flatten)]
    global: Global,
}

/// `gitops reconcile`.
#[derive(clap::Args)]
pub struct ReconcileArgs {
    #[command(subcommand)]
    target: Target,
    /// Reconcile the object's source first (Kustomization, HelmRelease, HelmChart).
    #[arg(long, global = true)]
    with_source: bool,
    /// Force a one-off install or upgrade of the HelmRelease resource.
    #[arg(long, global = true)]
    force: bool,
    /// Reset the failure count for this HelmRelease resource.
    #[arg(long, global = true)]
    reset: bool,
    #[command(flatten)]
    global: Global,
}

/// `gitops delete`.
#[derive(clap::Args)]
pub struct DeleteArgs {
    #[command(subcommand)]
    target: Target,
    /// Delete resource without asking for confirmation.
    #[arg(long, short = 's', global = true)]
    silent: bool,
    #[command(flatten)]
    global: Global,
}

/// Objects named `name`, or all objects.
fn by_name(name: Option<&str>) -> ListParams {
    match name {
        Some(n) => ListParams::default().fields(&format!("metadata.name={n}")),
        None => ListParams::default(),
    }
}

/// The patch `suspend` and `resume` send: `spec.suspend` set to `suspend`.
pub fn suspend_patch(suspend: bool) -> Patch<Value> {
    Patch::Merge(json!({ "spec": { "suspend": suspend } }))
}

/// Suspends (`true`) or resumes (`false`) the object `name` of `kind` in `ns`, saying so
/// as Flux does; returns it as patched.
pub async fn set_suspended(
    api: &kube::Api<kube::api::DynamicObject>,
    kind: &FluxKind,
    ns: &str,
    name: &str,
    suspend: bool,
    progress: &dyn Progress,
) -> anyhow::Result<Value> {
    let (doing, done) = if suspend {
        ("suspending", "suspended")
    } else {
        ("resuming", "resumed")
    };
    progress.action(format!("{doing} {} {name} in {ns} namespace", kind.human));
    let patched = api
        .patch(name, &PatchParams::default(), &suspend_patch(suspend))
        .await
        .map_err(object::api_error)?;
    progress.success(format!("{} {done}", kind.human));
    object::to_value(&patched)
}

/// Where the progress lines of `reconcile` and `resume` go: the terminal for the CLI,
/// the answer to the request for the web view.
pub trait Progress: Sync {
    /// `► …`: something is being done.
    fn action(&self, msg: String);
    /// `◎ …`: waiting for the cluster.
    fn waiting(&self, msg: String);
    /// `✔ …`: a step succeeded.
    fn success(&self, msg: String);
}

/// Progress lines on stderr, as Flux prints them.
pub struct Terminal;

impl Progress for Terminal {
    fn action(&self, msg: String) {
        log::action(msg);
    }
    fn waiting(&self, msg: String) {
        log::waiting(msg);
    }
    fn success(&self, msg: String) {
        log::success(msg);
    }
}

/// Runs `gitops suspend`.
pub fn suspend(args: SuspendArgs) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = args.global;
    let (kind, names) = args.target.resolve();
    if names.is_empty() && !args.all {
        anyhow::bail!("{} name is required", kind.human);
    }
    let ns = global.namespace.clone();
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let api = kind.api(&client, Some(&ns));
        let patch_all = |lp: ListParams| suspend_matching(&api, kind, &ns, lp);
        if names.is_empty() {
            patch_all(by_name(None)).await?;
            return Ok(ExitCode::SUCCESS);
        }
        let mut seen = std::collections::HashSet::new();
        for name in &names {
            if !seen.insert(name) {
                continue;
            }
            match patch_all(by_name(Some(name))).await {
                Ok(true) => {}
                Ok(false) => log::failure(format!(
                    "{} {name} not found in {ns} namespace",
                    kind.kind()
                )),
                Err(e) => log::failure(format!(
                    "failed suspending {} {name} in {ns} namespace: {e:#}",
                    kind.kind()
                )),
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Suspends the objects `lp` selects; false when there are none.
async fn suspend_matching(
    api: &kube::Api<kube::api::DynamicObject>,
    kind: FluxKind,
    ns: &str,
    lp: ListParams,
) -> anyhow::Result<bool> {
    let list = api.list(&lp).await.map_err(object::api_error)?;
    if list.items.is_empty() {
        return Ok(false);
    }
    for item in list.items {
        let name = item.metadata.name.unwrap_or_default();
        set_suspended(api, &kind, ns, &name, true, &Terminal).await?;
    }
    Ok(true)
}

/// Whether Flux treats objects of this kind as static (no reconciliation of their own).
fn is_static(kind: &FluxKind, obj: &Value) -> bool {
    match kind.kind() {
        "Alert" | "Provider" => true,
        "HelmRepository" => obj["spec"]["type"] == "oci",
        _ => false,
    }
}

fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    let mut v = obj;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_default()
}

/// What Flux prints when an object reconciled (its `successMessage`).
fn success_message(kind: &FluxKind, obj: &Value) -> String {
    let fetched = || {
        format!(
            "fetched revision {}",
            str_at(obj, &["status", "artifact", "revision"])
        )
    };
    match kind.kind() {
        "HelmRepository" if obj["spec"]["type"] == "oci" => object::ready(obj)
            .map(|(_, _, m)| m.to_owned())
            .unwrap_or_default(),
        "GitRepository" | "OCIRepository" | "HelmRepository" | "HelmChart" | "Bucket" => fetched(),
        "Kustomization" => format!(
            "applied revision {}",
            str_at(obj, &["status", "lastAppliedRevision"])
        ),
        "HelmRelease" => format!(
            "applied revision {}",
            obj["status"]["history"][0]["chartVersion"]
                .as_str()
                .unwrap_or_else(|| str_at(obj, &["status", "lastAttemptedRevision"]))
        ),
        "ImageRepository" => format!(
            "scan fetched {} tags",
            obj["status"]["lastScanResult"]["tagCount"]
                .as_i64()
                .unwrap_or(0)
        ),
        "ImagePolicy" => {
            let r = &obj["status"]["latestRef"];
            let mut s = format!(
                "{}:{}",
                r["name"].as_str().unwrap_or_default(),
                r["tag"].as_str().unwrap_or_default()
            );
            if let Some(d) = r["digest"].as_str().filter(|d| !d.is_empty()) {
                s.push('@');
                s.push_str(d);
            }
            format!("selected ref {s}")
        }
        "ImageUpdateAutomation" => match object::ready(obj) {
            Some((_, _, m)) => m.to_owned(),
            None => match obj["status"]["lastAutomationRunTime"].as_str() {
                Some(t) => format!("last run {t}"),
                None => "automation not yet run".into(),
            },
        },
        "Alert" => "Alert reconciliation completed".into(),
        "Provider" => "Provider reconciliation completed".into(),
        "Receiver" => "Receiver reconciliation completed".into(),
        _ => String::new(),
    }
}

/// Runs `gitops resume`.
pub fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = args.global;
    let (kind, names) = args.target.resolve();
    if names.is_empty() && !args.all {
        anyhow::bail!("{} name is required", kind.human);
    }
    // Flux waits when --wait is given, or by default when exactly one object is named.
    let should_wait = args.wait.unwrap_or(names.len() == 1);
    let ns = global.namespace.clone();
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let api = kind.api(&client, Some(&ns));
        let mut resumed: Vec<Value> = Vec::new();
        let patch = |lp: ListParams, missing: String| {
            let api = api.clone();
            let ns = ns.clone();
            async move {
                let list = api.list(&lp).await.map_err(object::api_error)?;
                if list.items.is_empty() {
                    log::failure(missing);
                    return Ok::<Vec<Value>, anyhow::Error>(Vec::new());
                }
                let mut out = Vec::new();
                for item in list.items {
                    let name = item.metadata.name.clone().unwrap_or_default();
                    out.push(set_suspended(&api, &kind, &ns, &name, false, &Terminal).await?);
                }
                Ok(out)
            }
        };
        if names.is_empty() {
            let missing = format!("no {} objects found in {ns} namespace", kind.kind());
            resumed.extend(
                patch(by_name(None), missing)
                    .await
                    .map_err(|e| anyhow::anyhow!("failed patching objects: {e:#}"))?,
            );
        } else {
            let mut seen = std::collections::HashSet::new();
            for name in &names {
                if !seen.insert(name) {
                    continue;
                }
                // Flux names the first argument here whichever one is missing (its golden
                // file `resume_kustomization_from_git_multiple_args_wait` records it).
                let missing = format!(
                    "{} object '{}' not found in {ns} namespace",
                    kind.kind(),
                    names[0]
                );
                resumed.extend(patch(by_name(Some(name)), missing).await?);
            }
        }
        if !should_wait {
            return Ok(ExitCode::SUCCESS);
        }
        let waits = resumed.iter().map(|obj| {
            let api = api.clone();
            let name = str_at(obj, &["metadata", "name"]).to_owned();
            let timeout = global.timeout;
            async move {
                let r = wait_resumed(&api, kind, obj, timeout, &Terminal).await;
                (name, r)
            }
        });
        let mut results = futures::future::join_all(waits).await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        let mut failed = 0;
        for (name, r) in results {
            match r {
                Ok(message) => report_resumed(&kind, &name, &message, &Terminal),
                Err(e) => {
                    failed += 1;
                    log::failure(format!(
                        "{} {name} reconciliation failed: {e:#}",
                        kind.kind()
                    ));
                }
            }
        }
        if failed > 0 {
            anyhow::bail!("reconciliation failed for {failed} {}(s)", kind.kind());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Waits until a resumed object (`obj`, as the resume patch returned it) is ready, the way
/// Flux decides it for its kind; returns what Flux prints then (its `successMessage`, for
/// [`report_resumed`]).
pub async fn wait_resumed(
    api: &kube::Api<kube::api::DynamicObject>,
    kind: FluxKind,
    obj: &Value,
    timeout: std::time::Duration,
    progress: &dyn Progress,
) -> anyhow::Result<String> {
    progress.waiting(format!("waiting for {} reconciliation", kind.kind()));
    let name = str_at(obj, &["metadata", "name"]);
    let readiness = if is_static(&kind, obj) {
        wait::Readiness::Static
    } else {
        wait::Readiness::Dynamic
    };
    let ready = wait::until_ready_as(api, name, timeout, readiness).await?;
    Ok(success_message(&kind, &ready))
}

/// The lines Flux prints once a resumed object `name` is ready (`message` from
/// [`wait_resumed`]).
pub fn report_resumed(kind: &FluxKind, name: &str, message: &str, progress: &dyn Progress) {
    progress.success(format!("{} {name} reconciliation completed", kind.kind()));
    progress.success(message.to_owned());
}

/// Flux's checks of a reconcile request before it is sent: the kind must reconcile, and
/// `--with-source`, `--force` and `--reset` only go with the kinds that take them.
pub fn check_reconcile(
    kind: &FluxKind,
    with_source: bool,
    force: bool,
    reset: bool,
) -> anyhow::Result<()> {
    if matches!(kind.kind(), "Alert" | "Provider" | "ExternalArtifact") {
        anyhow::bail!("reconcile is not supported for {}", kind.human);
    }
    if with_source && !matches!(kind.kind(), "Kustomization" | "HelmRelease" | "HelmChart") {
        anyhow::bail!("unknown flag: --with-source");
    }
    if (force || reset) && kind.kind() != "HelmRelease" {
        anyhow::bail!("unknown flag: --{}", if force { "force" } else { "reset" });
    }
    Ok(())
}

/// The patch that asks the controller to reconcile now: `reconcile.fluxcd.io/requestedAt`
/// set to `now`, and for a HelmRelease the force and reset annotations when asked.
pub fn reconcile_patch(kind: &FluxKind, now: &str, force: bool, reset: bool) -> Patch<Value> {
    let mut annotations = serde_json::Map::new();
    annotations.insert(gitops_api::annotations::REQUESTED_AT.into(), json!(now));
    if kind.kind() == "HelmRelease" {
        if force {
            annotations.insert(gitops_api::annotations::FORCE_AT.into(), json!(now));
        }
        if reset {
            annotations.insert(gitops_api::annotations::RESET_AT.into(), json!(now));
        }
    }
    Patch::Merge(json!({ "metadata": { "annotations": annotations } }))
}

/// Runs `gitops reconcile`.
pub fn reconcile(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = args.global;
    let (kind, names) = args.target.resolve();
    check_reconcile(&kind, args.with_source, args.force, args.reset)?;
    let Some(name) = names.first().cloned() else {
        anyhow::bail!("{} name is required", kind.kind());
    };
    let opts = Reconcile {
        with_source: args.with_source,
        force: args.force,
        reset: args.reset,
    };
    crate::cli::global::block_on(async move {
        let client = global.client().await?;
        opts.run(
            &client,
            global.timeout,
            kind,
            &global.namespace,
            &name,
            &Terminal,
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A reconcile request, as `gitops reconcile` makes it.
pub struct Reconcile {
    /// Reconcile the object's source first.
    pub with_source: bool,
    /// HelmRelease: force a one-off install or upgrade.
    pub force: bool,
    /// HelmRelease: reset the failure count.
    pub reset: bool,
}

impl Reconcile {
    /// Reconciles `kind/name` in `ns`: the source first when asked (or always, for the
    /// HelmChart of a HelmRelease), then the object itself, each time waiting (up to
    /// `timeout`) until the controller handled the request; progress goes to `progress`.
    pub fn run<'a>(
        &'a self,
        client: &'a kube::Client,
        timeout: std::time::Duration,
        kind: FluxKind,
        ns: &'a str,
        name: &'a str,
        progress: &'a dyn Progress,
    ) -> futures::future::BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let api = kind.api(client, Some(ns));
            let obj = object::get(&api, name).await?;
            let with_source = self.with_source || kind.kind() == "HelmChart" && self.force;
            if !with_source && is_static(&kind, &obj) {
                progress.success("reconciliation not supported by the object".into());
                return Ok(());
            }
            if object::suspended(&obj) {
                anyhow::bail!("resource is suspended");
            }
            if with_source {
                let (src_kind, src_name, src_ns) = source_of(&kind, &obj, ns)?;
                let source_opts = Reconcile {
                    with_source: src_kind.kind() == "HelmChart",
                    force: src_kind.kind() == "HelmChart",
                    reset: false,
                };
                source_opts
                    .run(client, timeout, src_kind, &src_ns, &src_name, progress)
                    .await?;
            }
            let before = obj["status"]["lastHandledReconcileAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            progress.action(format!(
                "annotating {} {name} in {ns} namespace",
                kind.kind()
            ));
            let ts = jiff::Timestamp::now().to_string();
            api.patch(
                name,
                &PatchParams::default(),
                &reconcile_patch(&kind, &ts, self.force, self.reset),
            )
            .await
            .map_err(object::api_error)?;
            progress.success(format!("{} annotated", kind.kind()));
            progress.waiting(format!("waiting for {} reconciliation", kind.kind()));
            let done = wait::poll(&api, name, timeout, |o| {
                if o["status"]["lastHandledReconcileAt"]
                    .as_str()
                    .unwrap_or_default()
                    == before
                {
                    return Ok(None);
                }
                match gitops_apply::kstatus::compute(o) {
                    (gitops_apply::kstatus::Status::Current, _) => Ok(Some(o.clone())),
                    (gitops_apply::kstatus::Status::InProgress, _) => Ok(None),
                    (_, message) => Err(anyhow::anyhow!("{message}")),
                }
            })
            .await?;
            match object::ready(&done) {
                None => anyhow::bail!("status can't be determined"),
                Some(("True", _, _)) => {}
                Some((_, _, message)) => {
                    if with_source {
                        anyhow::bail!("{} reconciliation failed: {message}", kind.kind());
                    }
                    anyhow::bail!("{} reconciliation failed: '{message}'", kind.kind());
                }
            }
            progress.success(success_message(&kind, &done));
            Ok(())
        })
    }
}

/// The source a Kustomization, HelmRelease or HelmChart reconciles from, as Flux's
/// `getSource` finds it.
pub fn source_of(
    kind: &FluxKind,
    obj: &Value,
    ns: &str,
) -> anyhow::Result<(FluxKind, String, String)> {
    let by_kind = |k: &str, allowed: &[FluxKind]| {
        allowed
            .iter()
            .copied()
            .find(|a| a.kind() == k)
            .ok_or_else(|| anyhow::anyhow!("cannot reconcile source of kind {k}"))
    };
    let ns_or = |r: &Value, default: &str| {
        r["namespace"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(default)
            .to_owned()
    };
    match kind.kind() {
        "Kustomization" => {
            let r = &obj["spec"]["sourceRef"];
            let k = by_kind(
                str_at(r, &["kind"]),
                &[kinds::OCI_REPOSITORY, kinds::GIT_REPOSITORY, kinds::BUCKET],
            )?;
            Ok((k, str_at(r, &["name"]).to_owned(), ns_or(r, ns)))
        }
        "HelmRelease" => {
            let r = &obj["spec"]["chartRef"];
            if r.is_object() {
                let k = by_kind(
                    str_at(r, &["kind"]),
                    &[kinds::HELM_CHART, kinds::OCI_REPOSITORY],
                )?;
                return Ok((k, str_at(r, &["name"]).to_owned(), ns_or(r, ns)));
            }
            let src = &obj["spec"]["chart"]["spec"]["sourceRef"];
            let hr_name = str_at(obj, &["metadata", "name"]);
            Ok((kinds::HELM_CHART, format!("{ns}-{hr_name}"), ns_or(src, ns)))
        }
        "HelmChart" => {
            let r = &obj["spec"]["sourceRef"];
            let k = by_kind(
                str_at(r, &["kind"]),
                &[kinds::HELM_REPOSITORY, kinds::GIT_REPOSITORY, kinds::BUCKET],
            )?;
            Ok((k, str_at(r, &["name"]).to_owned(), ns.to_owned()))
        }
        k => anyhow::bail!("cannot reconcile source of kind {k}"),
    }
}

/// Runs `gitops delete`.
pub fn delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = args.global;
    let (kind, names) = args.target.resolve();
    let Some(name) = names.first().cloned() else {
        anyhow::bail!("{} name is required", kind.human);
    };
    let ns = global.namespace.clone();
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let api = kind.api(&client, Some(&ns));
        object::get(&api, &name).await?;
        if !args.silent {
            crate::cli::prompt::confirm(&format!(
                "Are you sure you want to delete this {}",
                kind.human
            ))?;
        }
        log::action(format!("deleting {} {name} in {ns} namespace", kind.human));
        api.delete(&name, &DeleteParams::default())
            .await
            .map_err(object::api_error)?;
        log::success(format!("{} deleted", kind.human));
        Ok(ExitCode::SUCCESS)
    })
}
