//! `gitops uninstall`: removes the controllers and the Flux CRDs from the cluster, as
//! `flux uninstall` does, without deleting anything the controllers applied.
//!
//! The order matters: the controllers' Deployments go first, so no controller acts on what
//! follows; then the finalizers of every Flux object in every namespace, so that deleting
//! the CRDs (which deletes their objects) does not wait for a controller to garbage-collect
//! what a Kustomization or HelmRelease applied; then the CRDs; then the namespace, unless
//! `--keep-namespace`.

use crate::cli::{Global, components, log, object};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use std::process::ExitCode;

/// `gitops uninstall`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip namespace deletion.
    #[arg(long)]
    keep_namespace: bool,
    /// Only print the objects that would be deleted.
    #[arg(long)]
    dry_run: bool,
    /// Delete components without asking for confirmation.
    #[arg(long, short = 's')]
    silent: bool,
    #[command(flatten)]
    global: Global,
}

/// The label every object of the installation carries.
const PART_OF: &str = "app.kubernetes.io/part-of=flux";

/// A kind the command lists and deletes or patches.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
}

impl Kind {
    const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
        namespaced: bool,
    ) -> Kind {
        Kind {
            group,
            version,
            kind,
            plural,
            namespaced,
        }
    }

    fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_owned(),
            version: self.version.to_owned(),
            api_version: if self.group.is_empty() {
                self.version.to_owned()
            } else {
                format!("{}/{}", self.group, self.version)
            },
            kind: self.kind.to_owned(),
            plural: self.plural.to_owned(),
        }
    }

    /// Objects of this kind in `namespace` (cluster-scoped kinds: all of them), or in
    /// every namespace when `None`.
    fn api(&self, client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) if self.namespaced => {
                Api::namespaced_with(client.clone(), ns, &self.resource())
            }
            _ => Api::all_with(client.clone(), &self.resource()),
        }
    }

    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    fn subject(&self, obj: &DynamicObject) -> String {
        let name = obj.metadata.name.as_deref().unwrap_or_default();
        match obj.metadata.namespace.as_deref() {
            Some(ns) if self.namespaced => format!("{}/{ns}/{name}", self.kind),
            _ => format!("{}/{name}", self.kind),
        }
    }
}

/// The installation's objects besides the CRDs and the namespace, in the order Flux
/// deletes them: the controllers first.
const COMPONENT_KINDS: &[Kind] = &[
    Kind::new("apps", "v1", "Deployment", "deployments", true),
    Kind::new("", "v1", "Service", "services", true),
    Kind::new(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    Kind::new("", "v1", "ServiceAccount", "serviceaccounts", true),
    Kind::new(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    Kind::new(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
];

/// Every Flux kind, in the order Flux removes their finalizers (then the kinds Flux's list
/// lacks).
fn flux_kinds() -> Vec<Kind> {
    use gitops_api::FluxKind as _;
    let of =
        |i: &'static gitops_api::KindInfo| Kind::new(i.group, i.version, i.kind, i.plural, true);
    vec![
        of(&gitops_api::GitRepository::INFO),
        of(&gitops_api::OCIRepository::INFO),
        of(&gitops_api::HelmRepository::INFO),
        of(&gitops_api::HelmChart::INFO),
        of(&gitops_api::Bucket::INFO),
        of(&gitops_api::Kustomization::INFO),
        of(&gitops_api::HelmRelease::INFO),
        of(&gitops_api::Alert::INFO),
        of(&gitops_api::Provider::INFO),
        of(&gitops_api::Receiver::INFO),
        of(&gitops_api::ImagePolicy::INFO),
        of(&gitops_api::ImageRepository::INFO),
        of(&gitops_api::ImageUpdateAutomation::INFO),
        // Served by source-watcher, which this toolkit does not ship; a cluster may still
        // have its CRD from a Flux installation.
        Kind::new(
            "source.extensions.fluxcd.io",
            "v1beta1",
            "ArtifactGenerator",
            "artifactgenerators",
            true,
        ),
        of(&gitops_api::ExternalArtifact::INFO),
    ]
}

const CRD: Kind = Kind::new(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    false,
);

const NAMESPACE: Kind = Kind::new("", "v1", "Namespace", "namespaces", false);

/// What was done, to report failures at the end.
struct Outcome {
    /// ` (dry run)` or nothing, as Flux appends to each line.
    dry_run_str: &'static str,
    dry_run: bool,
    failures: usize,
}

impl Outcome {
    fn delete_params(&self) -> DeleteParams {
        DeleteParams {
            dry_run: self.dry_run,
            ..DeleteParams::default()
        }
    }

    /// Deletes `obj` and prints Flux's line for it.
    async fn delete(&mut self, api: &Api<DynamicObject>, kind: &Kind, obj: &DynamicObject) {
        let subject = kind.subject(obj);
        let name = obj.metadata.name.as_deref().unwrap_or_default();
        match api.delete(name, &self.delete_params()).await {
            Ok(_) => log::success(format!("{subject} deleted {}", self.dry_run_str)),
            Err(e) => {
                self.failures += 1;
                log::failure(format!(
                    "{subject} deletion failed: {:#}",
                    object::api_error(e)
                ));
            }
        }
    }

    /// Deletes every object of the installation of `kind` (Flux's `uninstall.Components`
    /// and `uninstall.CustomResourceDefinitions`). Listing errors are skipped, as Flux
    /// does: a kind the cluster does not serve has nothing to delete.
    async fn delete_labelled(&mut self, client: &kube::Client, kind: &Kind, namespace: &str) {
        let api = kind.api(client, Some(namespace));
        let Ok(list) = api.list(&ListParams::default().labels(PART_OF)).await else {
            return;
        };
        for obj in &list.items {
            // Cluster-scoped listings are per object, namespaced ones per namespace.
            let api = match obj.metadata.namespace.as_deref() {
                Some(ns) if kind.namespaced => kind.api(client, Some(ns)),
                _ => kind.api(client, None),
            };
            self.delete(&api, kind, obj).await;
        }
    }

    /// Removes the finalizers of every object of `kind` in every namespace (Flux's
    /// `uninstall.Finalizers`).
    async fn remove_finalizers(&mut self, client: &kube::Client, kind: &Kind) {
        let Ok(list) = kind.api(client, None).list(&ListParams::default()).await else {
            return;
        };
        let params = PatchParams {
            dry_run: self.dry_run,
            ..PatchParams::default()
        };
        let patch = serde_json::json!({"metadata": {"finalizers": null}});
        for obj in &list.items {
            let subject = kind.subject(obj);
            let name = obj.metadata.name.as_deref().unwrap_or_default();
            let api = kind.api(client, obj.metadata.namespace.as_deref());
            match api.patch(name, &params, &Patch::Merge(&patch)).await {
                Ok(_) => log::success(format!("{subject} finalizers deleted {}", self.dry_run_str)),
                Err(e) => {
                    self.failures += 1;
                    log::failure(format!(
                        "{subject} removing finalizers failed: {:#}",
                        object::api_error(e)
                    ));
                }
            }
        }
    }
}

/// Runs `gitops uninstall`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = &args.global;
    let namespace = global.namespace.as_str();
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        if !args.dry_run && !args.silent {
            let info = components::cluster_info(&client).await?.unwrap_or_default();
            let question = if info.managed_by_flux() {
                "Are you sure you want to delete Flux and its custom resource definitions"
                    .to_owned()
            } else {
                format!(
                    "Flux is managed by {}! Are you sure you want to delete Flux and its CRDs using Flux CLI",
                    info.managed_by
                )
            };
            crate::cli::prompt::confirm(&question)?;
        }
        let mut outcome = Outcome {
            dry_run_str: if args.dry_run { "(dry run)" } else { "" },
            dry_run: args.dry_run,
            failures: 0,
        };
        let steps = async {
            log::action(format!("deleting components in {namespace} namespace"));
            for kind in COMPONENT_KINDS {
                outcome.delete_labelled(&client, kind, namespace).await;
            }

            log::action("deleting toolkit.fluxcd.io finalizers in all namespaces");
            for kind in &flux_kinds() {
                outcome.remove_finalizers(&client, kind).await;
            }

            log::action("deleting toolkit.fluxcd.io custom resource definitions");
            outcome.delete_labelled(&client, &CRD, namespace).await;

            if !args.keep_namespace {
                let api = NAMESPACE.api(&client, None);
                let mut ns = DynamicObject::new(namespace, &NAMESPACE.resource());
                ns.metadata.namespace = None;
                outcome.delete(&api, &NAMESPACE, &ns).await;
            }
        };
        if tokio::time::timeout(global.timeout, steps).await.is_err() {
            anyhow::bail!(
                "uninstall failed: timed out after {}",
                crate::cli::global::format_duration(global.timeout)
            );
        }
        if outcome.failures > 0 {
            anyhow::bail!("uninstall failed");
        }
        log::success("uninstall finished");
        Ok(ExitCode::SUCCESS)
    })
}
