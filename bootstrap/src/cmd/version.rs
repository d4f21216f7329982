//! `gitops version`: this binary's version and, unless `--client`, the installation's
//! (distribution from the CRDs' labels, each controller's image tag), as `flux version`
//! prints them in YAML or JSON.

use crate::cli::{Global, object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use std::io::Write;
use std::process::ExitCode;

/// `gitops version`.
#[derive(clap::Args)]
pub struct Args {
    /// Print only client version.
    #[arg(long)]
    client: bool,
    /// The format in which the information should be printed. can be 'json' or 'yaml'.
    #[arg(long, short = 'o', default_value = "yaml")]
    output: String,
    #[command(flatten)]
    global: Global,
}

/// This binary's version, as `--version` of the installation defaults to.
pub fn client_version() -> String {
    concat!("v", env!("CARGO_PKG_VERSION")).to_owned()
}

/// The tag of an image reference (`repo:tag`, `repo:tag@digest`, `host:port/repo:tag`).
pub fn image_tag(image: &str) -> Option<String> {
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    let (_, rest) = image.split_at(last_slash);
    let tag = &rest[rest.find(':')? + 1..];
    (!tag.is_empty()).then(|| tag.to_owned())
}

/// Runs `gitops version`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.output != "yaml" && args.output != "json" {
        anyhow::bail!("--output must be json or yaml, not {}", args.output);
    }
    args.global.check()?;
    let mut entries: Vec<(String, String)> = vec![("gitops".into(), client_version())];
    if !args.client {
        let global = &args.global;
        let controllers = crate::cli::global::block_on(async {
            let client = global.client().await?;
            let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
            let mut distribution = None;
            if let Some(crd) = crds
                .get_opt(&format!("gitrepositories.{}", gitops_api::source::GROUP))
                .await
                .map_err(object::api_error)?
            {
                let labels = crd.metadata.labels.unwrap_or_default();
                if let Some(v) = labels.get("app.kubernetes.io/version") {
                    distribution = Some(match labels.get("app.kubernetes.io/part-of") {
                        Some(p) => format!("{p}-{v}"),
                        None => v.clone(),
                    });
                }
            }
            let deployments: Api<Deployment> = Api::namespaced(client, &global.namespace);
            let list = deployments
                .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
                .await
                .map_err(object::api_error)?;
            if list.items.is_empty() {
                anyhow::bail!("no deployments found in {} namespace", global.namespace);
            }
            let mut controllers = Vec::new();
            for d in list.items {
                let name = d.metadata.name.clone().unwrap_or_default();
                let containers = d
                    .spec
                    .and_then(|s| s.template.spec)
                    .map(|s| s.containers)
                    .unwrap_or_default();
                for c in containers {
                    let image = c.image.unwrap_or_default();
                    let tag = image_tag(&image)
                        .ok_or_else(|| anyhow::anyhow!("missing image tag in image {image}"))?;
                    controllers.push((name.clone(), tag));
                }
            }
            controllers.sort();
            Ok((distribution, controllers))
        })?;
        if let Some(d) = controllers.0 {
            entries.push(("distribution".into(), d));
        }
        entries.extend(controllers.1);
    }
    let text = if args.output == "json" {
        let map: std::collections::BTreeMap<_, _> = entries.into_iter().collect();
        serde_json::to_string_pretty(&map)? + "\n"
    } else {
        entries.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_tags() {
        for (image, tag) in [
            ("fluxcd/notification-controller:v1.0.0", "v1.0.0"),
            ("ghcr.io/fluxcd/kustomize-controller:v1.0.0", "v1.0.0"),
            (
                "reg.internal:8080/fluxcd/source-controller:v1.0.0",
                "v1.0.0",
            ),
            (
                "fluxcd/source-controller:v1.0.1@sha256:49921d1c7b100650dd654a32df1f6e626b54dfe9707d7bb7bdf43fb7c81f1baf",
                "v1.0.1@sha256:49921d1c7b100650dd654a32df1f6e626b54dfe9707d7bb7bdf43fb7c81f1baf",
            ),
        ] {
            assert_eq!(super::image_tag(image).as_deref(), Some(tag), "{image}");
        }
        assert_eq!(
            super::image_tag("reg.internal:8080/fluxcd/source-controller"),
            None
        );
    }
}
