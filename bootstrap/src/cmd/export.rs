//! `gitops export`: objects as the YAML that would create them again (name, namespace,
//! labels, annotations and spec, with the API's defaults and Go's duration spelling), as
//! `flux export` prints them; `--with-credentials` adds the sources' Secrets.

use crate::cli::target::Target;
use crate::cli::{Global, object, yaml};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::process::ExitCode;

/// What `export` takes: the kinds the other object commands take, and ArtifactGenerators
/// (which `flux export` has but `suspend`/`resume`/`reconcile` do not).
#[derive(clap::Subcommand)]
enum ExportTarget {
    #[command(flatten)]
    Flux(Target),
    /// Artifact objects.
    #[command(visible_alias = "artifacts", subcommand)]
    Artifact(ArtifactTarget),
}

#[derive(clap::Subcommand)]
enum ArtifactTarget {
    /// ArtifactGenerator.
    #[command(visible_alias = "generators")]
    Generator(crate::cli::target::Names),
}

/// `gitops export`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: ExportTarget,
    /// Select all resources.
    #[arg(long, global = true)]
    all: bool,
    /// Include credential secrets (sources).
    #[arg(long, global = true)]
    with_credentials: bool,
    #[command(flatten)]
    global: Global,
}

/// A live Flux object through its Rust type, as Flux's CLI sees objects through its Go
/// types: unknown fields dropped, durations re-encoded as Go does. Other objects as they are.
pub fn typed_value(live: &Value) -> anyhow::Result<Value> {
    let typed = gitops_api::FluxObject::from_value(live.clone())
        .map_err(|e| anyhow::anyhow!("decoding {}: {e}", live["kind"]))?;
    Ok(match typed {
        Some(t) => gitops_api::duration::go_encoded(|| t.to_value())?,
        None => live.clone(),
    })
}

/// The exportable part of a live Flux object: through its Rust type (so unknown fields go,
/// as they do through Flux's Go types), durations re-encoded as Go does.
pub fn exportable(live: &Value) -> anyhow::Result<Value> {
    let full = typed_value(live)?;
    let mut meta = Map::new();
    for k in ["annotations", "labels", "name", "namespace"] {
        // Go's `omitempty`: empty maps are left out as well.
        if let Some(v) = live["metadata"]
            .get(k)
            .filter(|v| !v.is_null() && v.as_object().is_none_or(|m| !m.is_empty()))
        {
            meta.insert(k.into(), v.clone());
        }
    }
    let mut out = json!({
        "apiVersion": full["apiVersion"],
        "kind": full["kind"],
        "metadata": meta,
    });
    if let Some(spec) = full.get("spec") {
        out["spec"] = spec.clone();
    }
    Ok(out)
}

/// The Secret a source refers to, as `--with-credentials` exports it.
async fn credentials(client: &kube::Client, obj: &Value) -> anyhow::Result<Option<Value>> {
    let Some(name) = obj["spec"]["secretRef"]["name"].as_str() else {
        return Ok(None);
    };
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = api.get(name).await.map_err(|e| {
        anyhow::anyhow!(
            "failed to retrieve secret {name}, error: {:#}",
            object::api_error(e)
        )
    })?;
    let mut out = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
    });
    if let Some(data) = &secret.data {
        out["data"] = serde_json::to_value(data)?;
    }
    if let Some(t) = &secret.type_ {
        out["type"] = json!(t);
    }
    Ok(Some(out))
}

/// Runs `gitops export`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = args.global;
    let (kind, names) = match args.target {
        ExportTarget::Flux(t) => t.resolve(),
        ExportTarget::Artifact(ArtifactTarget::Generator(n)) => {
            (crate::cli::kinds::ARTIFACT_GENERATOR, n.names)
        }
    };
    if !args.all && names.is_empty() {
        anyhow::bail!("name is required");
    }
    let with_credentials = args.with_credentials
        && matches!(
            kind.kind(),
            "GitRepository" | "HelmRepository" | "Bucket" | "OCIRepository"
        );
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let api = kind.api(&client, Some(&global.namespace));
        let objects = if args.all {
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(object::api_error)?;
            if list.items.is_empty() {
                anyhow::bail!("no objects found in {} namespace", global.namespace);
            }
            list.items
                .iter()
                .map(object::to_value)
                .collect::<anyhow::Result<Vec<_>>>()?
        } else {
            vec![object::get(&api, &names[0]).await?]
        };
        let mut out = String::new();
        for obj in &objects {
            out.push_str(&yaml::document(&exportable(obj)?)?);
            if with_credentials && let Some(secret) = credentials(&client, obj).await? {
                out.push_str(&yaml::document(&secret)?);
            }
        }
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}
