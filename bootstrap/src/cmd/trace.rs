//! `gitops trace`: which Flux object manages a cluster object (by the kustomize or helm
//! controller's name/namespace labels, on the object or up its owner chain), and that
//! object's source, as `flux trace` prints them.

use crate::cli::table::go_local_time;
use crate::cli::{FluxKind, Global, kinds, object};
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;

/// `gitops trace`.
#[derive(clap::Args)]
pub struct Args {
    /// `<resource>/<name>` or `<resource> <name>`.
    args: Vec<String>,
    /// The Kubernetes object kind, e.g. Deployment.
    #[arg(long, default_value = "")]
    kind: String,
    /// The Kubernetes object API version, e.g. 'apps/v1'.
    #[arg(long, default_value = "")]
    api_version: String,
    #[command(flatten)]
    global: Global,
}

/// Runs `gitops trace`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = &args.global;
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let objects = if !args.kind.is_empty() || !args.api_version.is_empty() {
            vec![static_object(&client, &args).await?]
        } else {
            dynamic_objects(&client, &args).await?
        };
        let mut out = std::io::stdout();
        for (i, obj) in objects.iter().enumerate() {
            match trace(&client, obj).await {
                Ok(report) => out.write_all(report.as_bytes())?,
                Err(e) => eprintln!(
                    "failed to trace {}/{} in namespace {}: {e:#}",
                    obj["kind"].as_str().unwrap_or_default(),
                    obj["metadata"]["name"].as_str().unwrap_or_default(),
                    obj["metadata"]["namespace"].as_str().unwrap_or_default()
                ),
            }
            if i + 1 < objects.len() {
                out.write_all(b"---\n")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The object named by `--kind`/`--api-version` (the kind as the user spelled it, as Flux
/// keeps it).
async fn static_object(client: &kube::Client, args: &Args) -> anyhow::Result<Value> {
    let Some(name) = args.args.first() else {
        anyhow::bail!("object name is required");
    };
    if args.kind.is_empty() {
        anyhow::bail!("object kind is required (--kind)");
    }
    if args.api_version.is_empty() {
        anyhow::bail!("object apiVersion is required (--api-version)");
    }
    let applier = gitops_apply::Applier::new(client.clone(), "flux");
    let resource = resolve_kind(&applier, &args.api_version, &args.kind).await?;
    let api = dynamic_api(client, &resource, &args.global.namespace);
    let mut obj = object::get(&api, name)
        .await
        .map_err(|e| anyhow::anyhow!("failed to find object: {e:#}"))?;
    obj["kind"] = Value::String(args.kind.clone());
    Ok(obj)
}

/// Discovery lookup of a kind, case-insensitively as the REST mapper does.
async fn resolve_kind(
    applier: &gitops_apply::Applier,
    api_version: &str,
    kind: &str,
) -> anyhow::Result<gitops_apply::discovery::Resource> {
    if let Some(r) = applier.resolve(api_version, kind).await? {
        return Ok(r);
    }
    let mut title = kind.to_owned();
    if let Some(f) = title.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    for k in [kind.to_owned(), title] {
        if let Some(r) = applier.resolve(api_version, &k).await? {
            return Ok(r);
        }
    }
    // Fall back to the discovery document's kinds, compared without case.
    let discovery = kube::Discovery::new(applier.client().clone()).run().await?;
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if ar.api_version == api_version && ar.kind.eq_ignore_ascii_case(kind) {
                return Ok(gitops_apply::discovery::Resource {
                    group: ar.group.clone(),
                    version: ar.version.clone(),
                    kind: ar.kind.clone(),
                    plural: ar.plural.clone(),
                    namespaced: caps.scope == kube::discovery::Scope::Namespaced,
                });
            }
        }
    }
    anyhow::bail!("failed to find object: no matches for kind {kind:?} in version {api_version:?}")
}

fn dynamic_api(
    client: &kube::Client,
    r: &gitops_apply::discovery::Resource,
    ns: &str,
) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: r.group.clone(),
        version: r.version.clone(),
        api_version: if r.group.is_empty() {
            r.version.clone()
        } else {
            format!("{}/{}", r.group, r.version)
        },
        kind: r.kind.clone(),
        plural: r.plural.clone(),
    };
    if r.namespaced {
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    }
}

/// Objects named kubectl-style: `deployment/podinfo` (several allowed) or `deployment podinfo`.
async fn dynamic_objects(client: &kube::Client, args: &Args) -> anyhow::Result<Vec<Value>> {
    let usage = || {
        anyhow::anyhow!(
            "either `<resource>/<name>` or `<resource> <name>` is required as an argument"
        )
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    if args.args.iter().all(|a| a.contains('/')) && !args.args.is_empty() {
        for a in &args.args {
            let (t, n) = a.split_once('/').ok_or_else(usage)?;
            if t.is_empty() || n.is_empty() {
                return Err(usage());
            }
            wanted.push((t.to_owned(), n.to_owned()));
        }
    } else if args.args.len() >= 2 && !args.args.iter().any(|a| a.contains('/')) {
        for n in &args.args[1..] {
            wanted.push((args.args[0].clone(), n.clone()));
        }
    } else {
        return Err(usage());
    }
    let discovery = kube::Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for (type_, name) in wanted {
        let t = type_.to_ascii_lowercase();
        let (group_hint, t) = match t.split_once('.') {
            Some((res, group)) => (Some(group.to_owned()), res.to_owned()),
            None => (None, t),
        };
        let found = discovery.groups().find_map(|g| {
            if group_hint.as_deref().is_some_and(|h| h != g.name()) {
                return None;
            }
            g.recommended_resources()
                .into_iter()
                .find(|(ar, _)| ar.plural == t || ar.kind.to_ascii_lowercase() == t)
        });
        let Some((ar, caps)) = found else {
            anyhow::bail!("the server doesn't have a resource type \"{type_}\"");
        };
        let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
            Api::namespaced_with(client.clone(), &args.global.namespace, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        out.push(object::get(&api, &name).await?);
    }
    if out.is_empty() {
        anyhow::bail!("failed to find object");
    }
    Ok(out)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_default()
}

/// `name/namespace` from the controller's labels, when both are there.
fn managed_by(obj: &Value, group: &str) -> Option<(String, String)> {
    let labels = &obj["metadata"]["labels"];
    let name = labels[format!("{group}/name")]
        .as_str()
        .filter(|n| !n.is_empty())?;
    let ns = labels[format!("{group}/namespace")]
        .as_str()
        .unwrap_or_default();
    Some((name.to_owned(), ns.to_owned()))
}

/// Looks for the controller's labels on the object, then up its owners (in its namespace).
fn owner_managed_by<'a>(
    client: &'a kube::Client,
    obj: &'a Value,
    group: &'a str,
) -> futures::future::BoxFuture<'a, Option<(String, String)>> {
    Box::pin(async move {
        if let Some(m) = managed_by(obj, group) {
            return Some(m);
        }
        let ns = s(obj, &["metadata", "namespace"]);
        let applier = gitops_apply::Applier::new(client.clone(), "flux");
        for owner_ref in obj["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let r = resolve_kind(
                &applier,
                s(owner_ref, &["apiVersion"]),
                s(owner_ref, &["kind"]),
            )
            .await
            .ok()?;
            let api = dynamic_api(client, &r, ns);
            let owner = object::get(&api, s(owner_ref, &["name"])).await.ok()?;
            if let Some(m) = managed_by(&owner, group) {
                return Some(m);
            }
            if owner["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
            {
                return owner_managed_by(client, &owner, group).await;
            }
        }
        None
    })
}

async fn trace(client: &kube::Client, obj: &Value) -> anyhow::Result<String> {
    if let Some((name, ns)) = owner_managed_by(client, obj, gitops_api::kustomize::GROUP).await {
        return trace_kustomization(client, obj, &ns, &name).await;
    }
    if let Some((name, ns)) = owner_managed_by(client, obj, gitops_api::helm::GROUP).await {
        return trace_helm(client, obj, &ns, &name).await;
    }
    anyhow::bail!("object not managed by Flux")
}

/// Lines of `label` padded to `width` followed by a value.
struct Report {
    out: String,
    width: usize,
}

impl Report {
    fn new(width: usize) -> Report {
        Report {
            out: String::from("\n"),
            width,
        }
    }

    fn line(&mut self, label: &str, value: &str) {
        self.out.push_str(label);
        for _ in label.chars().count()..self.width {
            self.out.push(' ');
        }
        self.out.push_str(value);
        self.out.push('\n');
    }

    fn sep(&mut self) {
        self.out.push_str("---\n");
    }

    fn object(&mut self, obj: &Value) {
        self.line(
            "Object:",
            &format!("{}/{}", s(obj, &["kind"]), s(obj, &["metadata", "name"])),
        );
        let ns = s(obj, &["metadata", "namespace"]);
        if !ns.is_empty() {
            self.line("Namespace:", ns);
        }
        self.line("Status:", "Managed by Flux");
    }

    /// `Status:`/`Message:` from a Ready condition; `failed_wording` uses Flux's "Last
    /// reconciliation failed at" for a False condition.
    fn ready(&mut self, obj: Option<&Value>, failed_wording: bool) {
        match obj.and_then(|o| object::condition(o, "Ready")) {
            Some(c) => {
                let at = go_local_time(s(c, &["lastTransitionTime"]));
                if failed_wording && c["status"] == "False" {
                    self.line("Status:", &format!("Last reconciliation failed at {at}"));
                } else {
                    self.line("Status:", &format!("Last reconciled at {at}"));
                }
                self.line("Message:", s(c, &["message"]));
            }
            None => self.line("Status:", "Unknown"),
        }
    }

    fn git_ref(&mut self, repo: &Value) {
        let r = &repo["spec"]["ref"];
        if !s(r, &["tag"]).is_empty() {
            self.line("Tag:", s(r, &["tag"]));
        } else if !s(r, &["semver"]).is_empty() {
            self.line("Tag:", s(r, &["semver"]));
        } else if !s(r, &["branch"]).is_empty() {
            self.line("Branch:", s(r, &["branch"]));
        }
    }

    fn oci_ref(&mut self, repo: &Value) {
        let r = &repo["spec"]["ref"];
        if !s(r, &["tag"]).is_empty() {
            self.line("Tag:", s(r, &["tag"]));
        } else if !s(r, &["semver"]).is_empty() {
            self.line("Tag:", s(r, &["semver"]));
        } else if !s(r, &["digest"]).is_empty() {
            self.line("Digest:", s(r, &["digest"]));
        }
    }

    fn revision(&mut self, src: &Value) {
        if src["status"]["artifact"].is_object() {
            self.line("Revision:", s(src, &["status", "artifact", "revision"]));
        }
    }

    /// The origin annotations an OCI artifact carries (`Origin Source:`, `Origin
    /// Revision:`), in Flux's order.
    fn origin(&mut self, src: &Value) {
        let meta = &src["status"]["artifact"]["metadata"];
        if meta.as_object().is_none_or(|m| m.is_empty()) {
            return;
        }
        for (label, key) in [
            ("Origin Revision: ", "org.opencontainers.image.revision"),
            ("Origin Source:   ", "org.opencontainers.image.source"),
        ] {
            match meta[key].as_str().filter(|v| !v.is_empty()) {
                Some(v) => {
                    self.out.push_str(label);
                    self.out.push_str(v);
                    self.out.push('\n');
                }
                None => self.out.push('\n'),
            }
        }
    }
}

async fn get_source(
    client: &kube::Client,
    kind: FluxKind,
    ns: &str,
    name: &str,
) -> anyhow::Result<Value> {
    object::get(&kind.api(client, Some(ns)), name)
        .await
        .map_err(|e| anyhow::anyhow!("failed to find {}: {e:#}", kind.kind()))
}

fn ref_ns<'a>(r: &'a Value, default: &'a str) -> &'a str {
    r["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or(default)
}

async fn trace_kustomization(
    client: &kube::Client,
    obj: &Value,
    ns: &str,
    name: &str,
) -> anyhow::Result<String> {
    let ks = object::get(&kinds::KUSTOMIZATION.api(client, Some(ns)), name)
        .await
        .map_err(|e| anyhow::anyhow!("failed to find kustomization: {e:#}"))?;
    let source_ref = &ks["spec"]["sourceRef"];
    let src_ns = ref_ns(source_ref, ns);
    let src_name = s(source_ref, &["name"]);
    let mut r = Report::new(17);
    r.object(obj);
    r.sep();
    r.line("Kustomization:", s(&ks, &["metadata", "name"]));
    r.line("Namespace:", s(&ks, &["metadata", "namespace"]));
    if !s(&ks, &["spec", "targetNamespace"]).is_empty() {
        r.line("Target:", s(&ks, &["spec", "targetNamespace"]));
    }
    r.line("Path:", s(&ks, &["spec", "path"]));
    r.line("Revision:", s(&ks, &["status", "lastAppliedRevision"]));
    r.ready(Some(&ks), false);
    match s(source_ref, &["kind"]) {
        "GitRepository" => {
            let repo = get_source(client, kinds::GIT_REPOSITORY, src_ns, src_name).await?;
            r.sep();
            r.line("GitRepository:", s(&repo, &["metadata", "name"]));
            r.line("Namespace:", s(&repo, &["metadata", "namespace"]));
            r.line("URL:", s(&repo, &["spec", "url"]));
            r.git_ref(&repo);
            r.revision(&repo);
            r.ready(Some(&repo), true);
        }
        "OCIRepository" => {
            let repo = get_source(client, kinds::OCI_REPOSITORY, src_ns, src_name).await?;
            r.sep();
            r.line("OCIRepository:", s(&repo, &["metadata", "name"]));
            r.line("Namespace:", s(&repo, &["metadata", "namespace"]));
            r.line("URL:", s(&repo, &["spec", "url"]));
            r.oci_ref(&repo);
            r.revision(&repo);
            if repo["status"]["artifact"].is_object() {
                r.origin(&repo);
            }
            r.ready(Some(&repo), true);
        }
        "ExternalArtifact" => {
            let ea = get_source(client, kinds::EXTERNAL_ARTIFACT, src_ns, src_name).await?;
            external_artifact(&mut r, &ea, true)?;
        }
        _ => {}
    }
    Ok(r.out)
}

fn external_artifact(r: &mut Report, ea: &Value, origin: bool) -> anyhow::Result<()> {
    let sr = &ea["spec"]["sourceRef"];
    if !sr.is_object() {
        anyhow::bail!(
            "ExternalArtifact {}/{} is missing spec.sourceRef",
            s(ea, &["metadata", "namespace"]),
            s(ea, &["metadata", "name"])
        );
    }
    r.sep();
    // Flux prints no space after this label.
    r.out.push_str("ExternalArtifact:");
    r.out.push_str(s(ea, &["metadata", "name"]));
    r.out.push('\n');
    r.line("Namespace:", s(ea, &["metadata", "namespace"]));
    r.line(
        "Source:",
        &format!(
            "{}/{}/{}",
            s(sr, &["kind"]),
            s(sr, &["namespace"]),
            s(sr, &["name"])
        ),
    );
    r.revision(ea);
    if origin && ea["status"]["artifact"].is_object() {
        r.origin(ea);
    }
    r.ready(Some(ea), true);
    Ok(())
}

async fn trace_helm(
    client: &kube::Client,
    obj: &Value,
    ns: &str,
    name: &str,
) -> anyhow::Result<String> {
    let hr = object::get(&kinds::HELM_RELEASE.api(client, Some(ns)), name)
        .await
        .map_err(|e| anyhow::anyhow!("failed to find HelmRelease: {e:#}"))?;
    let mut r = Report::new(16);
    r.object(obj);
    r.sep();
    r.line("HelmRelease:", s(&hr, &["metadata", "name"]));
    r.line("Namespace:", s(&hr, &["metadata", "namespace"]));
    if !s(&hr, &["spec", "targetNamespace"]).is_empty() {
        r.line("Target:", s(&hr, &["spec", "targetNamespace"]));
    }
    r.line("Revision:", s(&hr, &["status", "lastAttemptedRevision"]));
    r.ready(Some(&hr), false);
    let chart_name = s(&hr, &["status", "helmChart"]);
    if !chart_name.is_empty() {
        let (cns, cname) = chart_name.split_once('/').unwrap_or(("", chart_name));
        let chart = get_source(client, kinds::HELM_CHART, cns, cname).await?;
        r.sep();
        r.line("HelmChart:", s(&chart, &["metadata", "name"]));
        r.line("Namespace:", s(&chart, &["metadata", "namespace"]));
        r.line("Chart:", s(&chart, &["spec", "chart"]));
        r.line("Version:", s(&chart, &["spec", "version"]));
        r.revision(&chart);
        r.ready(Some(&chart), false);
    }
    let chart_spec = &hr["spec"]["chart"];
    if chart_spec.is_object() {
        let sr = &chart_spec["spec"]["sourceRef"];
        let src_ns = ref_ns(sr, ns);
        match s(sr, &["kind"]) {
            "GitRepository" => {
                let repo =
                    get_source(client, kinds::GIT_REPOSITORY, src_ns, s(sr, &["name"])).await?;
                let mut g = Report {
                    out: String::new(),
                    width: 15,
                };
                g.sep();
                g.line("GitRepository:", s(&repo, &["metadata", "name"]));
                g.line("Namespace:", s(&repo, &["metadata", "namespace"]));
                g.line("URL:", s(&repo, &["spec", "url"]));
                g.git_ref(&repo);
                g.revision(&repo);
                g.ready(Some(&repo), true);
                r.out.push_str(&g.out);
            }
            "HelmRepository" => {
                let repo =
                    get_source(client, kinds::HELM_REPOSITORY, src_ns, s(sr, &["name"])).await?;
                r.sep();
                r.line("HelmRepository:", s(&repo, &["metadata", "name"]));
                r.line("Namespace:", s(&repo, &["metadata", "namespace"]));
                r.line("URL:", s(&repo, &["spec", "url"]));
                r.revision(&repo);
                r.ready(Some(&repo), false);
            }
            _ => {}
        }
    } else if hr["spec"]["chartRef"].is_object() {
        let cr = &hr["spec"]["chartRef"];
        let src_ns = ref_ns(cr, ns);
        let mut o = Report {
            out: String::new(),
            width: 17,
        };
        match s(cr, &["kind"]) {
            "OCIRepository" => {
                let repo =
                    get_source(client, kinds::OCI_REPOSITORY, src_ns, s(cr, &["name"])).await?;
                o.sep();
                o.line("OCIRepository:", s(&repo, &["metadata", "name"]));
                o.line("Namespace:", s(&repo, &["metadata", "namespace"]));
                o.line("URL:", s(&repo, &["spec", "url"]));
                o.oci_ref(&repo);
                o.revision(&repo);
                o.ready(Some(&repo), true);
            }
            "ExternalArtifact" => {
                let ea =
                    get_source(client, kinds::EXTERNAL_ARTIFACT, src_ns, s(cr, &["name"])).await?;
                external_artifact(&mut o, &ea, false)?;
            }
            _ => {}
        }
        r.out.push_str(&o.out);
    }
    Ok(r.out)
}
