//! `gitops check [--pre]`: the cluster's Kubernetes version, then (without `--pre`) the
//! installation: its version, whether it was bootstrapped, each controller Deployment ready,
//! each CRD's stored version, as `flux check` reports them.

use crate::cli::{Global, log, object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use std::process::ExitCode;

/// `gitops check`.
#[derive(clap::Args)]
pub struct Args {
    /// Only run pre-installation checks.
    #[arg(long)]
    pre: bool,
    #[command(flatten)]
    global: Global,
}

/// The Kubernetes versions Flux v2.9 supports.
const KUBERNETES_CONSTRAINT: &str = ">=1.33.0-0";
const MIN_KUBERNETES: (u64, u64, u64) = (1, 33, 0);

/// `major.minor.patch` of a Kubernetes `gitVersion` (`v1.35.0+k3s1` → 1.35.0).
fn parse_version(git_version: &str) -> Option<(u64, u64, u64)> {
    let v = git_version.trim_start_matches('v');
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

const PART_OF: &str = "app.kubernetes.io/part-of=flux";

/// Runs `gitops check`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = &args.global;
    log::action("checking prerequisites");
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let mut failed = false;
        match client.apiserver_version().await {
            Err(e) => {
                log::failure(format!("Kubernetes API call failed: {e}"));
                failed = true;
            }
            Ok(info) => match parse_version(&info.git_version) {
                None => {
                    log::failure("Kubernetes version can't be determined");
                    failed = true;
                }
                Some(v) if v < MIN_KUBERNETES => {
                    log::failure(format!(
                        "Kubernetes version {} does not match {KUBERNETES_CONSTRAINT}",
                        info.git_version
                    ));
                    failed = true;
                }
                Some(_) => log::success(format!(
                    "Kubernetes {} {KUBERNETES_CONSTRAINT}",
                    info.git_version.trim_start_matches('v')
                )),
            },
        }
        if args.pre {
            if failed {
                return Ok(ExitCode::FAILURE);
            }
            log::success("prerequisites checks passed");
            return Ok(ExitCode::SUCCESS);
        }

        log::action("checking version in cluster");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        match crds
            .get(&format!("gitrepositories.{}", gitops_api::source::GROUP))
            .await
        {
            Err(e) => {
                log::failure(format!("checking failed: {:#}", object::api_error(e)));
                failed = true;
            }
            Ok(crd) => {
                let labels = crd.metadata.labels.unwrap_or_default();
                if let Some(v) = labels.get("app.kubernetes.io/version") {
                    let d = match labels.get("app.kubernetes.io/part-of") {
                        Some(p) => format!("{p}-{v}"),
                        None => v.clone(),
                    };
                    log::success(format!("distribution: {d}"));
                }
                let bootstrapped =
                    labels.contains_key(gitops_api::annotations::KUSTOMIZE_NAMESPACE_LABEL);
                log::success(format!("bootstrapped: {bootstrapped}"));
            }
        }

        log::action("checking controllers");
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &global.namespace);
        match deployments
            .list(&ListParams::default().labels(PART_OF))
            .await
        {
            Err(e) => {
                log::failure(format!("{:#}", object::api_error(e)));
                failed = true;
            }
            Ok(list) if list.items.is_empty() => {
                log::failure(format!(
                    "no controllers found in the '{}' namespace with the label selector '{PART_OF}'",
                    global.namespace
                ));
                failed = true;
            }
            Ok(list) => {
                let deadline = std::time::Instant::now() + global.timeout;
                for d in &list.items {
                    let name = d.metadata.name.clone().unwrap_or_default();
                    let ready = loop {
                        let live = deployments.get_opt(&name).await?;
                        let Some(live) = live else { break None };
                        let v = serde_json::to_value(&live)?;
                        match gitops_apply::kstatus::compute(&v).0 {
                            gitops_apply::kstatus::Status::Current => break Some(true),
                            _ if std::time::Instant::now() >= deadline => break Some(false),
                            _ => tokio::time::sleep(crate::cli::wait::POLL).await,
                        }
                    };
                    match ready {
                        Some(true) => log::success(format!("{name}: deployment ready")),
                        Some(false) => {
                            log::failure(format!("{name}: deployment not ready"));
                            failed = true;
                        }
                        None => {
                            log::failure(format!("{name}: deployment not found"));
                            failed = true;
                        }
                    }
                    for c in d
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.spec.as_ref())
                        .map(|s| s.containers.as_slice())
                        .unwrap_or_default()
                    {
                        log::action(c.image.clone().unwrap_or_default());
                    }
                }
            }
        }

        log::action("checking crds");
        match crds.list(&ListParams::default().labels(PART_OF)).await {
            Err(e) => {
                log::failure(format!("{:#}", object::api_error(e)));
                failed = true;
            }
            Ok(list) if list.items.is_empty() => {
                log::failure(format!("no crds found with the label selector '{PART_OF}'"));
                failed = true;
            }
            Ok(list) => {
                for crd in list.items {
                    let name = crd.metadata.name.unwrap_or_default();
                    match crd
                        .status
                        .and_then(|s| s.stored_versions)
                        .and_then(|v| v.last().cloned())
                    {
                        Some(v) => log::success(format!("{name}/{v}")),
                        None => {
                            log::failure(format!("no stored versions for {name}"));
                            failed = true;
                        }
                    }
                }
            }
        }
        if failed {
            log::failure("check failed");
            return Ok(ExitCode::FAILURE);
        }
        log::success("all checks passed");
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn kubernetes_versions() {
        assert_eq!(super::parse_version("v1.35.0"), Some((1, 35, 0)));
        assert_eq!(super::parse_version("v1.33.2+k3s1"), Some((1, 33, 2)));
        assert_eq!(super::parse_version("v1.32"), Some((1, 32, 0)));
        assert_eq!(super::parse_version("nonsense"), None);
    }
}
