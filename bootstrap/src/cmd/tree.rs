//! `gitops tree kustomization NAME`: what a Kustomization applied, as a tree, descending into
//! the Kustomizations it applied and into the releases of its HelmReleases (read from Helm's
//! storage Secrets), as `flux tree kustomization` prints it (`--compact`, `-o json|yaml`);
//! `gitops tree artifact generator NAME`: the ExternalArtifacts an ArtifactGenerator made.

use crate::cli::{Global, kinds, object};
use gitops_apply::ObjectRef;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;

/// `gitops tree`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print the resources reconciled by a Kustomization.
    #[command(visible_aliases = ["ks", "kustomizations"])]
    Kustomization(KsArgs),
    /// Print the inventory of artifact objects.
    #[command(visible_alias = "artifacts", subcommand)]
    Artifact(ArtifactCommand),
}

#[derive(clap::Subcommand)]
enum ArtifactCommand {
    /// Print the inventory of an ArtifactGenerator.
    #[command(visible_alias = "generators")]
    Generator(GeneratorArgs),
}

#[derive(clap::Args)]
struct GeneratorArgs {
    /// ArtifactGenerator name.
    name: String,
    /// The format in which the tree should be printed. Can be 'json' or 'yaml'.
    #[arg(long, short = 'o', default_value = "", value_parser = ["", "json", "yaml"])]
    output: String,
}

#[derive(clap::Args)]
struct KsArgs {
    /// Kustomization name.
    name: Option<String>,
    /// List Flux resources only.
    #[arg(long)]
    compact: bool,
    /// The format in which the tree should be printed. Can be 'json' or 'yaml'.
    #[arg(long, short = 'o', default_value = "", value_parser = ["", "json", "yaml"])]
    output: String,
}

/// cli-utils' `ObjMetadata` (Go field names, as Flux's `-o json` prints them).
#[derive(Serialize, Clone, Debug)]
pub struct ObjMetadata {
    /// The namespace (empty for cluster-scoped objects).
    #[serde(rename = "Namespace")]
    pub namespace: String,
    /// The name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Group and kind.
    #[serde(rename = "GroupKind")]
    pub group_kind: GroupKind,
    /// The API version the object was recorded with (not printed: Flux's tree has none).
    #[serde(skip)]
    pub version: String,
}

/// A group and kind.
#[derive(Serialize, Clone, Debug)]
pub struct GroupKind {
    /// The API group (empty for core).
    #[serde(rename = "Group")]
    pub group: String,
    /// The kind.
    #[serde(rename = "Kind")]
    pub kind: String,
}

impl ObjMetadata {
    fn of(r: &ObjectRef) -> ObjMetadata {
        ObjMetadata {
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            group_kind: GroupKind {
                group: r.group.clone(),
                kind: r.kind.clone(),
            },
            version: r.version.clone(),
        }
    }

    /// The object's reference (its recorded version).
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(
            &self.group_kind.group,
            &self.version,
            &self.group_kind.kind,
            &self.namespace,
            &self.name,
        )
    }

    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    fn text(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.group_kind.kind, self.name)
        } else {
            format!("{}/{}/{}", self.group_kind.kind, self.namespace, self.name)
        }
    }
}

/// A node and the objects under it.
#[derive(Serialize, Debug)]
pub struct Tree {
    /// The object.
    pub resource: ObjMetadata,
    /// What it applied or released.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Tree>,
}

impl Tree {
    fn new(resource: ObjMetadata) -> Tree {
        Tree {
            resource,
            resources: Vec::new(),
        }
    }

    /// The tree drawn with box characters, one object per line.
    fn print(&self) -> String {
        let mut out = self.resource.text();
        out.push('\n');
        print_items(&mut out, &self.resources, &mut Vec::new());
        out
    }
}

fn print_items(out: &mut String, items: &[Tree], spaces: &mut Vec<bool>) {
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let prefix: String = spaces
            .iter()
            .map(|s| if *s { "    " } else { "│   " })
            .collect();
        for (n, line) in item.resource.text().split('\n').enumerate() {
            let indicator = match (n, last) {
                (0, true) => "└── ",
                (0, false) => "├── ",
                (_, true) => "    ",
                (_, false) => "│   ",
            };
            out.push_str(&prefix);
            out.push_str(indicator);
            out.push_str(line);
            out.push('\n');
        }
        if !item.resources.is_empty() {
            spaces.push(last);
            print_items(out, &item.resources, spaces);
            spaces.pop();
        }
    }
}

const COMPACT_GROUP: &str = "toolkit.fluxcd.io";

/// Runs `gitops tree`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = args.global;
    let ks = match args.command {
        Command::Kustomization(ks) => ks,
        Command::Artifact(ArtifactCommand::Generator(g)) => return generator(&global, g),
    };
    let Some(name) = ks.name else {
        anyhow::bail!("kustomization name is required");
    };
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let api = kinds::KUSTOMIZATION.api(&client, Some(&global.namespace));
        let root_obj = object::get(&api, &name).await?;
        let root = kustomization_tree(&client, &root_obj, ks.compact).await?;
        print_tree(&root, &ks.output)
    })
}

/// What the Kustomization `ks` applied, as a tree: the objects of its inventory, the
/// Kustomizations among them expanded (unless they apply to a remote cluster), and the
/// objects of the current release of each HelmRelease. `compact`: Flux objects only.
pub async fn kustomization_tree(
    client: &kube::Client,
    ks: &Value,
    compact: bool,
) -> anyhow::Result<Tree> {
    let root_ref = ObjectRef::new(
        gitops_api::kustomize::GROUP,
        "v1",
        "Kustomization",
        ks["metadata"]["namespace"].as_str().unwrap_or_default(),
        ks["metadata"]["name"].as_str().unwrap_or_default(),
    );
    let mut root = Tree::new(ObjMetadata::of(&root_ref));
    let walker = Walker {
        client,
        applier: gitops_apply::Applier::new(client.clone(), "flux"),
        compact,
    };
    walker.kustomization(&mut root, ks).await?;
    Ok(root)
}

/// The objects of the current release of the HelmRelease `name` in `ns` (read from Helm's
/// storage Secret), under the HelmRelease.
pub async fn helm_release_tree(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<Tree> {
    let info = kinds::HELM_RELEASE.info;
    let mut root = Tree::new(ObjMetadata::of(&ObjectRef::new(
        info.group,
        info.version,
        info.kind,
        ns,
        name,
    )));
    let walker = Walker {
        client,
        applier: gitops_apply::Applier::new(client.clone(), "flux"),
        compact: false,
    };
    root.resources = walker
        .helm_release(ns, name)
        .await?
        .into_iter()
        .map(Tree::new)
        .collect();
    Ok(root)
}

/// The record of a HelmRelease's current release (`status.history[0]`), as the
/// helm-controller wrote it: Helm's storage Secret `sh.helm.release.v1.<name>.v<version>`
/// in `status.storageNamespace`, decoded. `None` when there is none (nothing released
/// yet, the Secret is gone, or the release lives on a remote cluster).
pub async fn helm_release_record(
    client: &kube::Client,
    hr: &Value,
) -> anyhow::Result<Option<gitops_helm::release::Release>> {
    if hr["spec"]["kubeConfig"].is_object() {
        return Ok(None);
    }
    let storage_ns = hr["status"]["storageNamespace"]
        .as_str()
        .unwrap_or_default();
    let latest = &hr["status"]["history"][0];
    if storage_ns.is_empty() || !latest.is_object() {
        return Ok(None);
    }
    let key = format!(
        "{}/{}",
        hr["metadata"]["namespace"].as_str().unwrap_or_default(),
        hr["metadata"]["name"].as_str().unwrap_or_default()
    );
    let secret_name = format!(
        "sh.helm.release.v1.{}.v{}",
        latest["name"].as_str().unwrap_or_default(),
        latest["version"].as_i64().unwrap_or_default()
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), storage_ns);
    let Some(secret) = secrets.get_opt(&secret_name).await.map_err(|e| {
        anyhow::anyhow!(
            "failed to find the Helm storage object for HelmRelease '{key}': {:#}",
            object::api_error(e)
        )
    })?
    else {
        return Ok(None);
    };
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| {
            anyhow::anyhow!("failed to decode the Helm storage object for HelmRelease '{key}'")
        })?;
    let release = gitops_helm::release::storage::decode(&data.0).map_err(|e| {
        anyhow::anyhow!("failed to decode the Helm storage object for HelmRelease '{key}': {e}")
    })?;
    Ok(Some(release))
}

/// Prints a tree as `-o` asks: box drawing, JSON or YAML.
fn print_tree(root: &Tree, output: &str) -> anyhow::Result<ExitCode> {
    let text = match output {
        "json" => serde_json::to_string_pretty(root)? + "\n",
        "yaml" => {
            let v = serde_json::to_value(root)?;
            let doc = crate::cli::yaml::document(&v)?;
            doc.trim_start_matches("---\n").to_owned() + "\n"
        }
        _ => root.print() + "\n",
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `tree artifact generator NAME`: the ExternalArtifacts in the generator's inventory.
fn generator(global: &Global, args: GeneratorArgs) -> anyhow::Result<ExitCode> {
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let api = kinds::ARTIFACT_GENERATOR.api(&client, Some(&global.namespace));
        let obj = object::get(&api, &args.name).await?;
        let meta = |group: &str, kind: &str, ns: &str, name: &str| ObjMetadata {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            group_kind: GroupKind {
                group: group.to_owned(),
                kind: kind.to_owned(),
            },
            version: String::new(),
        };
        let info = kinds::ARTIFACT_GENERATOR.info;
        let mut root = Tree::new(meta(info.group, info.kind, &global.namespace, &args.name));
        for ea in obj["status"]["inventory"].as_array().into_iter().flatten() {
            let s = |k: &str| ea[k].as_str().unwrap_or_default().to_owned();
            root.resources.push(Tree::new(meta(
                kinds::EXTERNAL_ARTIFACT.info.group,
                "ExternalArtifact",
                &s("namespace"),
                &s("name"),
            )));
        }
        print_tree(&root, &args.output)
    })
}

struct Walker<'a> {
    client: &'a kube::Client,
    applier: gitops_apply::Applier,
    compact: bool,
}

impl Walker<'_> {
    fn keep(&self, group: &str) -> bool {
        !self.compact || group.contains(COMPACT_GROUP)
    }

    fn kustomization<'b>(
        &'b self,
        node: &'b mut Tree,
        ks: &'b Value,
    ) -> futures::future::BoxFuture<'b, anyhow::Result<()>> {
        Box::pin(async move {
            let own_ns = ks["metadata"]["namespace"].as_str().unwrap_or_default();
            let own_name = ks["metadata"]["name"].as_str().unwrap_or_default();
            let remote = ks["spec"]["kubeConfig"].is_object();
            for entry in ks["status"]["inventory"]["entries"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let id = entry["id"].as_str().unwrap_or_default();
                let v = entry["v"].as_str().unwrap_or_default();
                let r = ObjectRef::parse_inventory_id(id, v).map_err(|e| anyhow::anyhow!("{e}"))?;
                if !self.keep(&r.group) {
                    continue;
                }
                let is_ks = r.group == gitops_api::kustomize::GROUP && r.kind == "Kustomization";
                if is_ks && r.namespace == own_ns && r.name == own_name {
                    continue;
                }
                let mut child = Tree::new(ObjMetadata::of(&r));
                if r.group == gitops_api::helm::GROUP && r.kind == "HelmRelease" {
                    for o in self.helm_release(&r.namespace, &r.name).await? {
                        if self.keep(&o.group_kind.group) {
                            child.resources.push(Tree::new(o));
                        }
                    }
                }
                if is_ks && !remote {
                    let api = kinds::KUSTOMIZATION.api(self.client, Some(&r.namespace));
                    let nested = object::get(&api, &r.name)
                        .await
                        .map_err(|e| anyhow::anyhow!("failed to find object: {e:#}"))?;
                    self.kustomization(&mut child, &nested).await?;
                }
                node.resources.push(child);
            }
            Ok(())
        })
    }

    /// The objects of a HelmRelease's current release, from Helm's storage Secret.
    async fn helm_release(&self, ns: &str, name: &str) -> anyhow::Result<Vec<ObjMetadata>> {
        let api = kinds::HELM_RELEASE.api(self.client, Some(ns));
        let hr = object::get(&api, name).await?;
        let Some(release) = helm_release_record(self.client, &hr).await? else {
            return Ok(Vec::new());
        };
        let key = format!("{ns}/{name}");
        let release_ns = hr["status"]["history"][0]["namespace"]
            .as_str()
            .unwrap_or_default();
        let mut out = Vec::new();
        let docs = gitops_kustomize::yaml::parse_documents(&release.manifest).map_err(|e| {
            anyhow::anyhow!("failed to read the Helm storage object for HelmRelease '{key}': {e}")
        })?;
        for doc in docs {
            let v = &doc.value;
            if v.is_null() {
                continue;
            }
            let api_version = v.get_str(&["apiVersion"]).unwrap_or_default();
            let kind = v.get_str(&["kind"]).unwrap_or_default().to_owned();
            let mut namespace = v
                .get_str(&["metadata", "namespace"])
                .unwrap_or_default()
                .to_owned();
            if namespace.is_empty() {
                let namespaced = self
                    .applier
                    .resolve(api_version, &kind)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|r| r.namespaced);
                if namespaced {
                    namespace = release_ns.to_owned();
                }
            }
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            out.push(ObjMetadata {
                namespace,
                name: v
                    .get_str(&["metadata", "name"])
                    .unwrap_or_default()
                    .to_owned(),
                group_kind: GroupKind {
                    group: group.to_owned(),
                    kind,
                },
                version: version.to_owned(),
            });
        }
        // CRDs the release installed are labelled with it.
        let crds_enabled = |phase: &str| {
            hr["spec"][phase]["crds"]
                .as_str()
                .is_some_and(|c| !c.is_empty() && c != "Skip")
        };
        if crds_enabled("install") || crds_enabled("upgrade") {
            use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
            let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
            let lp = ListParams::default().labels(&format!(
                "{}={name},{}={ns}",
                gitops_api::annotations::HELM_NAME_LABEL,
                gitops_api::annotations::HELM_NAMESPACE_LABEL
            ));
            if let Ok(list) = crds.list(&lp).await {
                for crd in list.items {
                    let crd_name = crd.metadata.name.unwrap_or_default();
                    if !out.iter().any(|o| {
                        o.name == crd_name && o.group_kind.kind == "CustomResourceDefinition"
                    }) {
                        out.push(ObjMetadata {
                            namespace: String::new(),
                            name: crd_name,
                            group_kind: GroupKind {
                                group: "apiextensions.k8s.io".into(),
                                kind: "CustomResourceDefinition".into(),
                            },
                            version: "v1".into(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
