//! `gitops get …`: Flux objects as tables, with Flux's columns, filters (`-A`, `-l`,
//! `--status-selector`), `--no-header`, `--watch`, and `get all`.

use crate::cli::table::{render, truncate_hex};
use crate::cli::{FluxKind, Global, kinds, log, object};
use futures::{StreamExt, TryStreamExt};
use kube::api::{ListParams, WatchEvent, WatchParams};
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;

/// `gitops get`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    flags: Flags,
    #[command(flatten)]
    global: Global,
}

/// Flags every `get` subcommand takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Flags {
    /// List the requested object(s) across all namespaces.
    #[arg(long, short = 'A', global = true)]
    all_namespaces: bool,
    /// Skip the header when printing the results.
    #[arg(long, global = true)]
    no_header: bool,
    /// After listing/getting the requested object, watch for changes.
    #[arg(long, short = 'w', global = true)]
    watch: bool,
    /// Specify the status condition name and the desired state to filter the get result,
    /// e.g. ready=false or ready!=true.
    #[arg(long, global = true, default_value = "")]
    status_selector: String,
    /// Filter objects by label selector.
    #[arg(long, short = 'l', global = true, default_value = "")]
    label_selector: String,
}

/// An optional object name.
#[derive(clap::Args)]
pub struct Named {
    /// Name of one object.
    name: Option<String>,
}

/// An optional name and `--show-source`.
#[derive(clap::Args)]
pub struct WithSource {
    /// Name of one object.
    name: Option<String>,
    /// Show the source reference for each object.
    #[arg(long)]
    show_source: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Get source statuses.
    #[command(visible_alias = "source", subcommand)]
    Sources(SourceCommand),
    /// Get Kustomization statuses.
    #[command(visible_aliases = ["ks", "kustomization"])]
    Kustomizations(WithSource),
    /// Get HelmRelease statuses.
    #[command(visible_aliases = ["hr", "helmrelease"])]
    Helmreleases(WithSource),
    /// Get image automation object status.
    #[command(visible_alias = "image", subcommand)]
    Images(ImageCommand),
    /// Get Alert statuses.
    #[command(visible_alias = "alert")]
    Alerts(Named),
    /// Get Provider statuses.
    #[command(visible_alias = "alert-provider")]
    AlertProviders(Named),
    /// Get Receiver statuses.
    #[command(visible_alias = "receiver")]
    Receivers(Named),
    /// Get artifact object status.
    #[command(visible_alias = "artifact", subcommand)]
    Artifacts(ArtifactCommand),
    /// Get all resources and statuses.
    All(Named),
}

#[derive(clap::Subcommand)]
enum SourceCommand {
    /// Get all source statuses.
    All(Named),
    /// Get GitRepository source statuses.
    Git(Named),
    /// Get OCIRepository statuses.
    Oci(Named),
    /// Get HelmRepository source statuses.
    Helm(Named),
    /// Get HelmChart statuses.
    Chart(Named),
    /// Get Bucket source statuses.
    Bucket(Named),
    /// Get ExternalArtifact source statuses.
    External(Named),
}

#[derive(clap::Subcommand)]
enum ArtifactCommand {
    /// Get artifact generator statuses.
    #[command(visible_alias = "generator")]
    Generators(Named),
}

#[derive(clap::Subcommand)]
enum ImageCommand {
    /// Get all image statuses.
    All(Named),
    /// Get ImageRepository status.
    Repository(Named),
    /// Get ImagePolicy status.
    Policy(Named),
    /// Get ImageUpdateAutomation status.
    Update(Named),
}

/// The kinds `get sources all` lists, in Flux's order.
const SOURCES_ALL: &[FluxKind] = &[
    kinds::OCI_REPOSITORY,
    kinds::BUCKET,
    kinds::GIT_REPOSITORY,
    kinds::HELM_REPOSITORY,
    kinds::HELM_CHART,
    kinds::EXTERNAL_ARTIFACT,
];
/// The kinds `get images all` lists.
const IMAGES_ALL: &[FluxKind] = &[
    kinds::IMAGE_REPOSITORY,
    kinds::IMAGE_POLICY,
    kinds::IMAGE_UPDATE_AUTOMATION,
];
/// The kinds `get all` lists after the sources and image kinds.
const REST_ALL: &[FluxKind] = &[
    kinds::HELM_RELEASE,
    kinds::KUSTOMIZATION,
    kinds::RECEIVER,
    kinds::ALERT_PROVIDER,
    kinds::ALERT,
];

/// Runs `gitops get`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let flags = args.flags;
    let global = args.global;
    let (kind_list, name, show_source, all): (Vec<FluxKind>, Option<String>, bool, bool) =
        match args.command {
            Command::Sources(cmd) => match cmd {
                SourceCommand::All(n) => (SOURCES_ALL.to_vec(), n.name, false, true),
                SourceCommand::Git(n) => (vec![kinds::GIT_REPOSITORY], n.name, false, false),
                SourceCommand::Oci(n) => (vec![kinds::OCI_REPOSITORY], n.name, false, false),
                SourceCommand::Helm(n) => (vec![kinds::HELM_REPOSITORY], n.name, false, false),
                SourceCommand::Chart(n) => (vec![kinds::HELM_CHART], n.name, false, false),
                SourceCommand::Bucket(n) => (vec![kinds::BUCKET], n.name, false, false),
                SourceCommand::External(n) => {
                    (vec![kinds::EXTERNAL_ARTIFACT], n.name, false, false)
                }
            },
            Command::Kustomizations(n) => {
                (vec![kinds::KUSTOMIZATION], n.name, n.show_source, false)
            }
            Command::Helmreleases(n) => (vec![kinds::HELM_RELEASE], n.name, n.show_source, false),
            Command::Images(cmd) => match cmd {
                ImageCommand::All(n) => (IMAGES_ALL.to_vec(), n.name, false, true),
                ImageCommand::Repository(n) => {
                    (vec![kinds::IMAGE_REPOSITORY], n.name, false, false)
                }
                ImageCommand::Policy(n) => (vec![kinds::IMAGE_POLICY], n.name, false, false),
                ImageCommand::Update(n) => {
                    (vec![kinds::IMAGE_UPDATE_AUTOMATION], n.name, false, false)
                }
            },
            Command::Alerts(n) => (vec![kinds::ALERT], n.name, false, false),
            Command::AlertProviders(n) => (vec![kinds::ALERT_PROVIDER], n.name, false, false),
            Command::Receivers(n) => (vec![kinds::RECEIVER], n.name, false, false),
            Command::Artifacts(ArtifactCommand::Generators(n)) => {
                (vec![kinds::ARTIFACT_GENERATOR], n.name, false, false)
            }
            Command::All(n) => {
                let mut all = SOURCES_ALL.to_vec();
                all.extend_from_slice(IMAGES_ALL);
                all.extend_from_slice(REST_ALL);
                (all, n.name, false, true)
            }
        };
    if all && flags.watch {
        anyhow::bail!("expected a single resource type, but found all");
    }
    let selector = StatusSelector::parse(&flags.status_selector)?;
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let query = Query {
            flags: &flags,
            global: &global,
            name: name.as_deref(),
            show_source,
            selector: &selector,
        };
        if flags.watch {
            return query
                .watch(&client, kind_list[0])
                .await
                .map(|()| ExitCode::SUCCESS);
        }
        for kind in kind_list {
            match query.print(&client, kind, all).await {
                Ok(()) => {}
                Err(e) if all => log::failure(format!("{e:#}")),
                Err(e) => return Err(e),
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `--status-selector type=status` or `type!=status`.
#[derive(Debug, Default)]
pub struct StatusSelector {
    rule: Option<(String, String, bool)>,
}

impl StatusSelector {
    /// Parses Flux's selector syntax.
    pub fn parse(s: &str) -> anyhow::Result<StatusSelector> {
        if s.is_empty() {
            return Ok(StatusSelector::default());
        }
        let (sep, negate) = if s.contains("!=") {
            ("!=", true)
        } else {
            ("=", false)
        };
        let Some((t, v)) = s.split_once(sep) else {
            anyhow::bail!(
                "expected status selector in type=status or type!=status format, but found: {s}"
            );
        };
        Ok(StatusSelector {
            rule: Some((t.to_owned(), v.to_owned(), negate)),
        })
    }

    fn keeps(&self, kind: &FluxKind, obj: &Value) -> bool {
        let Some((t, v, negate)) = &self.rule else {
            return true;
        };
        status_matches(kind, obj, t, v) != *negate
    }
}

struct Query<'a> {
    flags: &'a Flags,
    global: &'a Global,
    name: Option<&'a str>,
    show_source: bool,
    selector: &'a StatusSelector,
}

impl Query<'_> {
    fn namespace(&self) -> Option<&str> {
        (!self.flags.all_namespaces).then_some(self.global.namespace.as_str())
    }

    fn namespace_or_any(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{ns:?}"),
            None => "any".into(),
        }
    }

    fn list_params(&self) -> ListParams {
        let mut lp = ListParams::default();
        if let Some(name) = self.name {
            lp = lp.fields(&format!("metadata.name={name}"));
        }
        if !self.flags.label_selector.is_empty() {
            lp = lp.labels(&self.flags.label_selector);
        }
        lp
    }

    fn header(&self, kind: &FluxKind) -> Vec<&'static str> {
        if self.flags.no_header {
            Vec::new()
        } else {
            headers(kind, self.flags.all_namespaces, self.show_source)
        }
    }

    async fn print(&self, client: &kube::Client, kind: FluxKind, all: bool) -> anyhow::Result<()> {
        let api = kind.api(client, self.namespace());
        let list = api
            .list(&self.list_params())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if list.items.is_empty() {
            if let Some(name) = self.name {
                anyhow::bail!(
                    "{} object '{name}' not found in {} namespace",
                    kind.kind(),
                    self.namespace_or_any()
                );
            } else if !all {
                anyhow::bail!(
                    "no {} objects found in {} namespace",
                    kind.kind(),
                    self.namespace_or_any()
                );
            }
            return Ok(());
        }
        let mut rows = Vec::new();
        for item in &list.items {
            let obj = object::to_value(item)?;
            if self.selector.keeps(&kind, &obj) {
                rows.push(row(
                    &kind,
                    &obj,
                    self.flags.all_namespaces,
                    all,
                    self.show_source,
                ));
            }
        }
        if all && rows.is_empty() {
            return Ok(());
        }
        let mut text = render(&self.header(&kind), &rows);
        if all {
            text.push('\n');
        }
        std::io::stdout().write_all(text.as_bytes())?;
        Ok(())
    }

    /// Prints the objects, then a row for each change until `--timeout`.
    async fn watch(&self, client: &kube::Client, kind: FluxKind) -> anyhow::Result<()> {
        let api = kind.api(client, self.namespace());
        let lp = self.list_params();
        let mut wp = WatchParams::default();
        if let Some(f) = &lp.field_selector {
            wp = wp.fields(f);
        }
        if let Some(l) = &lp.label_selector {
            wp = wp.labels(l);
        }
        let list = api.list(&lp).await?;
        let mut first = true;
        let mut out = std::io::stdout();
        let mut emit = |obj: &Value| -> anyhow::Result<()> {
            if !self.selector.keeps(&kind, obj) {
                return Ok(());
            }
            let r = vec![row(
                &kind,
                obj,
                self.flags.all_namespaces,
                false,
                self.show_source,
            )];
            let header = if first {
                self.header(&kind)
            } else {
                Vec::new()
            };
            first = false;
            out.write_all(render(&header, &r).as_bytes())?;
            out.flush()?;
            Ok(())
        };
        for item in &list.items {
            emit(&object::to_value(item)?)?;
        }
        let rv = list.metadata.resource_version.unwrap_or_default();
        let stream = api.watch(&wp, &rv).await?;
        let deadline = tokio::time::sleep(self.global.timeout);
        tokio::pin!(deadline);
        let mut stream = stream.boxed();
        loop {
            tokio::select! {
                _ = &mut deadline => anyhow::bail!("timed out waiting for the condition"),
                ev = stream.try_next() => match ev? {
                    None => return Ok(()),
                    Some(WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o)) => {
                        emit(&object::to_value(&o)?)?;
                    }
                    Some(WatchEvent::Error(e)) => anyhow::bail!("{}", e.message),
                    Some(WatchEvent::Bookmark(_)) => {}
                }
            }
        }
    }
}

/// The table header of a kind (Flux's `headers`).
pub fn headers(kind: &FluxKind, include_namespace: bool, show_source: bool) -> Vec<&'static str> {
    let mut h: Vec<&'static str> = match kind.kind() {
        "ExternalArtifact" => vec!["Name", "Revision", "Source", "Ready", "Message"],
        "Kustomization" | "HelmRelease" if show_source => {
            vec![
                "Name",
                "Source",
                "Revision",
                "Suspended",
                "Ready",
                "Message",
            ]
        }
        "ImageRepository" => vec!["Name", "Last scan", "Suspended", "Ready", "Message"],
        "ImagePolicy" => vec!["Name", "Image", "Tag", "Ready", "Message"],
        "ImageUpdateAutomation" => vec!["Name", "Last run", "Suspended", "Ready", "Message"],
        "Alert" | "Receiver" | "ArtifactGenerator" => {
            vec!["Name", "Suspended", "Ready", "Message"]
        }
        "Provider" => vec!["Name", "Ready", "Message"],
        _ => vec!["Name", "Revision", "Suspended", "Ready", "Message"],
    };
    if include_namespace {
        h.insert(0, "Namespace");
    }
    h
}

/// Flux's `statusAndMessage`: the Ready condition, or False "waiting to be reconciled".
fn status_and_message(obj: &Value) -> (String, String) {
    match object::ready(obj) {
        Some((status, _, message)) => (status.to_owned(), message.to_owned()),
        None => ("False".into(), "waiting to be reconciled".into()),
    }
}

fn title_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_owned()
}

fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    let mut v = obj;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_default()
}

/// `<Kind>/<namespace>/<name>` of a source reference, the namespace defaulting to `own_ns`.
fn source_column(r: &Value, own_ns: &str) -> String {
    let ns = r["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(own_ns);
    format!(
        "{}/{}/{}",
        r["kind"].as_str().unwrap_or_default(),
        ns,
        r["name"].as_str().unwrap_or_default()
    )
}

/// The revision Flux's tables show for an object, untruncated: the last applied one of a
/// Kustomization, the chart version of a HelmRelease's latest release (else the last
/// attempted revision), the artifact's of a source.
pub fn revision<'a>(kind: &FluxKind, obj: &'a Value) -> &'a str {
    match kind.kind() {
        "Kustomization" => str_at(obj, &["status", "lastAppliedRevision"]),
        "HelmRelease" => obj["status"]["history"][0]["chartVersion"]
            .as_str()
            .unwrap_or_else(|| str_at(obj, &["status", "lastAttemptedRevision"])),
        _ => str_at(obj, &["status", "artifact", "revision"]),
    }
}

/// One table row of an object (Flux's `summariseItem`).
pub fn row(
    kind: &FluxKind,
    obj: &Value,
    include_namespace: bool,
    include_kind: bool,
    show_source: bool,
) -> Vec<String> {
    let name = str_at(obj, &["metadata", "name"]);
    let namespace = str_at(obj, &["metadata", "namespace"]);
    let mut row = Vec::new();
    if include_namespace {
        row.push(namespace.to_owned());
    }
    row.push(if include_kind {
        format!("{}/{name}", kind.kind().to_lowercase())
    } else {
        name.to_owned()
    });
    let suspended = title_bool(object::suspended(obj));
    let (status, msg) = status_and_message(obj);
    let artifact_rev = revision(&kinds::GIT_REPOSITORY, obj);
    match kind.kind() {
        "HelmChart" => {
            row.extend([
                artifact_rev.to_owned(),
                suspended,
                status,
                truncate_hex(&msg),
            ]);
        }
        "HelmRepository" => {
            let (status, msg) = if str_at(obj, &["spec", "type"]) == "oci" {
                ("True".to_owned(), "Helm repository is Ready".to_owned())
            } else {
                (status, msg)
            };
            row.extend([
                truncate_hex(artifact_rev),
                suspended,
                status,
                truncate_hex(&msg),
            ]);
        }
        "ExternalArtifact" => {
            let r = &obj["spec"]["sourceRef"];
            let source = if r.is_object() {
                format!(
                    "{}/{}/{}",
                    r["kind"].as_str().unwrap_or_default(),
                    r["namespace"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default()
                )
            } else {
                String::new()
            };
            row.extend([
                truncate_hex(artifact_rev),
                source,
                status,
                truncate_hex(&msg),
            ]);
        }
        "Kustomization" => {
            if show_source {
                row.push(source_column(&obj["spec"]["sourceRef"], namespace));
            }
            let rev = revision(kind, obj);
            row.extend([truncate_hex(rev), suspended, status, truncate_hex(&msg)]);
        }
        "HelmRelease" => {
            if show_source {
                let r = if obj["spec"]["chartRef"].is_object() {
                    &obj["spec"]["chartRef"]
                } else {
                    &obj["spec"]["chart"]["spec"]["sourceRef"]
                };
                row.push(source_column(r, namespace));
            }
            let rev = revision(kind, obj);
            row.extend([rev.to_owned(), suspended, status, msg]);
        }
        "ImageRepository" => {
            let scan = str_at(obj, &["status", "lastScanResult", "scanTime"]);
            row.extend([scan.to_owned(), suspended, status, msg]);
        }
        "ImagePolicy" => {
            let image = str_at(obj, &["status", "latestRef", "name"]);
            let tag = str_at(obj, &["status", "latestRef", "tag"]);
            row.extend([image.to_owned(), tag.to_owned(), status, msg]);
        }
        "ImageUpdateAutomation" => {
            let run = str_at(obj, &["status", "lastAutomationRunTime"]);
            row.extend([run.to_owned(), suspended, status, msg]);
        }
        "Alert" => row.extend([suspended, "True".into(), "Alert is Ready".into()]),
        "Provider" => row.extend(["True".into(), "Provider is Ready".into()]),
        "Receiver" => row.extend([suspended, status, msg]),
        // Suspended by the `source.extensions.fluxcd.io/reconcile: disabled` annotation.
        "ArtifactGenerator" => {
            let disabled = obj["metadata"]["annotations"]
                [gitops_api::extensions::RECONCILE_ANNOTATION]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
            row.extend([title_bool(disabled), status, msg]);
        }
        _ => row.extend([
            truncate_hex(artifact_rev),
            suspended,
            status,
            truncate_hex(&msg),
        ]),
    }
    row
}

/// Whether the object's condition `type_` has `status` (case-insensitive; the
/// notification kinds without status are always Ready=True).
fn status_matches(kind: &FluxKind, obj: &Value, type_: &str, status: &str) -> bool {
    if matches!(kind.kind(), "Alert" | "Provider") {
        return type_.eq_ignore_ascii_case("Ready") && status.eq_ignore_ascii_case("True");
    }
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(type_))
        })
        .is_some_and(|c| {
            c["status"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(status))
        })
}
