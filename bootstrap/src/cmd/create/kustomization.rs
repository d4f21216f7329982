//! `gitops create kustomization` (alias `ks`): a Kustomization for a source path, as
//! `flux create kustomization` generates it; with `--export` printed, otherwise applied and
//! waited for until the kustomize controller reports it ready.
//!
//! Also the pieces the other `create` commands of this family share: Flux's `upsert` of a
//! typed object and the wait that follows it (`✔ <Kind> <name> is ready`), `dependsOn`
//! lists, string-slice flag values.

use super::{Common, export, put};
use crate::cli::flags::{SourceRef, parse_kind_name_namespace};
use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::global::{block_on, format_duration, go_duration};
use crate::cli::{FluxKind, Global, kinds, log, wait};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// `create kustomization` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Name.
    name: Option<String>,
    /// Source that contains the Kubernetes manifests in the format
    /// '[<kind>/]<name>.<namespace>', where kind must be one of: (OCIRepository,
    /// GitRepository, Bucket), if kind is not specified it defaults to GitRepository.
    #[arg(long, value_parser = kustomization_source)]
    source: Option<SourceRef>,
    /// Path to the directory containing a kustomization.yaml file.
    #[arg(long, default_value = "./", value_parser = safe_relative_path)]
    path: String,
    /// Enable garbage collection.
    #[arg(long)]
    prune: bool,
    /// Enable health checking of all the applied resources.
    #[arg(long)]
    wait: bool,
    /// Workload to be included in the health assessment, in the format
    /// '<kind>/<name>.<namespace>'.
    #[arg(long = "health-check", value_parser = string_slice)]
    health_check: Vec<StringSlice>,
    /// Timeout of health checking operations.
    #[arg(long = "health-check-timeout", default_value = "2m0s", value_parser = go_duration)]
    health_timeout: Duration,
    /// Validate the manifests before applying them on the cluster, can be 'client' or
    /// 'server' (deprecated: no longer used).
    #[arg(long, hide = true)]
    validation: Option<String>,
    /// Kustomization that must be ready before this Kustomization can be applied,
    /// supported formats '<name>' and '<namespace>/<name>', also accepts comma-separated
    /// values.
    #[arg(long = "depends-on", value_parser = string_slice)]
    depends_on: Vec<StringSlice>,
    /// The name of the service account to impersonate when reconciling this
    /// Kustomization.
    #[arg(long = "service-account", default_value = "")]
    service_account: String,
    /// Decryption provider, available options are: (sops).
    #[arg(long = "decryption-provider", value_parser = decryption_provider)]
    decryption_provider: Option<String>,
    /// Set the Kubernetes secret name that contains the OpenPGP private keys used for sops
    /// decryption.
    #[arg(long = "decryption-secret", default_value = "")]
    decryption_secret: String,
    /// Overrides the namespace of all Kustomization objects reconciled by this
    /// Kustomization.
    #[arg(long = "target-namespace", default_value = "")]
    target_namespace: String,
    /// The name of the Kubernetes Secret that contains a key with the kubeconfig file for
    /// connecting to a remote cluster.
    #[arg(long = "kubeconfig-secret-ref", default_value = "")]
    kubeconfig_secret_ref: String,
    /// The interval at which to retry a previously failed reconciliation.
    #[arg(long = "retry-interval", value_parser = go_duration)]
    retry_interval: Option<Duration>,
}

/// The kinds a Kustomization can take its manifests from, in Flux's order.
const SOURCE_KINDS: &[&str] = &["OCIRepository", "GitRepository", "Bucket"];

/// `--source` of `create kustomization`: `[<kind>/]<name>[.<namespace>]`, the kind
/// defaulting to GitRepository (Flux's `KustomizationSource`).
pub fn kustomization_source(s: &str) -> Result<SourceRef, String> {
    let kinds = SOURCE_KINDS.join(", ");
    if s.trim().is_empty() {
        return Err(format!(
            "no Kustomization source given, please specify source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: ({kinds}), if kind is not specified it defaults to GitRepository"
        ));
    }
    let (mut kind, name, namespace) = parse_kind_name_namespace(s);
    if name.is_empty() {
        return Err(format!("no name given for source of kind '{kind}'"));
    }
    if kind.is_empty() {
        if SOURCE_KINDS.contains(&name.as_str()) {
            return Err(format!("no kind specified for source '{name}'"));
        }
        kind = "GitRepository".to_owned();
    }
    let Some(clean) = SOURCE_KINDS.iter().find(|k| k.eq_ignore_ascii_case(&kind)) else {
        return Err(format!(
            "source kind '{kind}' is not supported, must be one of: {kinds}"
        ));
    };
    Ok(SourceRef {
        kind: (*clean).to_owned(),
        name,
        namespace,
    })
}

/// `--path`: a relative path that cannot leave the source root (Flux's
/// `SafeRelativePath`: `..` stops at the root, absolute paths become relative), always
/// written `./…`.
pub fn safe_relative_path(s: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in s.trim().split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Ok(format!("./{}", parts.join("/")))
}

/// `--decryption-provider` (Flux's `DecryptionProvider`).
pub fn decryption_provider(s: &str) -> Result<String, String> {
    const PROVIDERS: &[&str] = &["sops"];
    if s.trim().is_empty() {
        return Err(format!(
            "no decryption provider given, must be one of: {}",
            PROVIDERS.join(", ")
        ));
    }
    if !PROVIDERS.contains(&s) {
        return Err(format!(
            "unsupported decryption provider '{s}', must be one of: {}",
            PROVIDERS.join(", ")
        ));
    }
    Ok(s.to_owned())
}

/// `dependsOn` entries from `<name>` and `<namespace>/<name>` values (Flux's
/// `meta.MakeDependsOn`).
pub(crate) fn depends_on(values: &[String]) -> Value {
    let deps: Vec<Value> = values
        .iter()
        .map(|dep| {
            let parts: Vec<&str> = dep.split('/').collect();
            let (namespace, name) = match parts[..] {
                [name] => ("", name),
                [ns, name, ..] => (ns, name),
                [] => ("", ""),
            };
            let mut d = Map::new();
            d.insert("name".into(), json!(name));
            put(&mut d, "namespace", namespace);
            Value::Object(d)
        })
        .collect();
    Value::Array(deps)
}

/// `spec.kubeConfig` referring to a Secret.
pub(crate) fn kubeconfig_ref(secret: &str) -> Value {
    if secret.is_empty() {
        Value::Null
    } else {
        json!({ "secretRef": { "name": secret } })
    }
}

/// Flux's tail of `create kustomization|helmrelease|alert-provider|alert|receiver`: the
/// shared apply-and-wait, then `✔ <Kind> <name> is ready`. Returns the ready object.
pub(crate) async fn apply_until_ready(
    global: &Global,
    kind: &FluxKind,
    obj: &Value,
    readiness: wait::Readiness,
) -> anyhow::Result<Value> {
    let client = global.client().await?;
    let ready = super::apply_and_wait(&client, global, kind, kind.kind(), obj, readiness).await?;
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    log::success(format!("{} {name} is ready", kind.kind()));
    Ok(ready)
}

/// `spec.healthChecks` from `--health-check` values, with Flux's checks.
fn health_checks(values: &[String]) -> anyhow::Result<Value> {
    let mut checks = Vec::new();
    for w in values {
        let kind_obj: Vec<&str> = w.split('/').collect();
        let [kind, name_ns] = kind_obj[..] else {
            anyhow::bail!(
                "invalid health check '{w}' must be in the format 'kind/name.namespace' [{}]",
                kind_obj.join(" ")
            );
        };
        if !matches!(
            kind,
            "Deployment" | "DaemonSet" | "StatefulSet" | "HelmRelease"
        ) {
            anyhow::bail!(
                "invalid health check kind '{kind}' can be HelmRelease, Deployment, DaemonSet or StatefulSet"
            );
        }
        let name_ns: Vec<&str> = name_ns.split('.').collect();
        let [name, namespace] = name_ns[..] else {
            anyhow::bail!("invalid health check '{w}' must be in the format 'kind/name.namespace'");
        };
        let mut check = Map::new();
        if kind == "HelmRelease" {
            check.insert(
                "apiVersion".into(),
                json!(kinds::HELM_RELEASE.info.api_version()),
            );
        }
        check.insert("kind".into(), json!(kind));
        check.insert("name".into(), json!(name));
        put(&mut check, "namespace", namespace);
        checks.push(Value::Object(check));
    }
    Ok(Value::Array(checks))
}

/// Runs `create kustomization`.
pub fn run(args: Args, common: &Common, global: &Global) -> anyhow::Result<()> {
    if args.validation.is_some() {
        // pflag's notice for a deprecated flag, printed when the command line is parsed.
        eprintln!(
            "Flag --validation has been deprecated, this arg is no longer used, all resources are validated using server-side apply dry-run"
        );
    }
    let name = common.name(&args.name)?;
    if args.path.is_empty() {
        anyhow::bail!("path is required");
    }
    if !args.path.starts_with("./") {
        anyhow::bail!("path must begin with ./");
    }
    let source = args.source.clone().unwrap_or_default();
    if source.name.is_empty() {
        anyhow::bail!("source is required");
    }
    if !common.export {
        log::generate("generating Kustomization");
    }
    let metadata = common.metadata(&name, &global.namespace)?;

    let mut source_ref = Map::new();
    source_ref.insert("kind".into(), json!(source.kind));
    source_ref.insert("name".into(), json!(source.name));
    put(&mut source_ref, "namespace", source.namespace.as_str());

    let mut spec = Map::new();
    spec.insert("interval".into(), json!(common.interval()));
    put(&mut spec, "path", args.path.as_str());
    spec.insert("prune".into(), json!(args.prune));
    spec.insert("sourceRef".into(), Value::Object(source_ref));
    put(&mut spec, "targetNamespace", args.target_namespace.as_str());
    put(
        &mut spec,
        "dependsOn",
        depends_on(&flatten(args.depends_on)),
    );
    put(
        &mut spec,
        "kubeConfig",
        kubeconfig_ref(&args.kubeconfig_secret_ref),
    );
    let timeout = json!(format_duration(args.health_timeout));
    let health_check = flatten(args.health_check);
    if !health_check.is_empty() && !args.wait {
        let checks = health_checks(&health_check)?;
        // Flux sets the timeout whenever health checks were asked for.
        put(&mut spec, "healthChecks", checks);
        spec.insert("timeout".into(), timeout.clone());
    }
    if args.wait {
        spec.insert("wait".into(), json!(true));
        spec.insert("timeout".into(), timeout);
    }
    put(
        &mut spec,
        "serviceAccountName",
        args.service_account.as_str(),
    );
    if let Some(provider) = args
        .decryption_provider
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let mut d = Map::new();
        d.insert("provider".into(), json!(provider));
        if !args.decryption_secret.is_empty() {
            d.insert(
                "secretRef".into(),
                json!({ "name": args.decryption_secret }),
            );
        }
        spec.insert("decryption".into(), Value::Object(d));
    }
    if let Some(retry) = args.retry_interval.filter(|d| !d.is_zero()) {
        spec.insert("retryInterval".into(), json!(format_duration(retry)));
    }

    let kind = kinds::KUSTOMIZATION;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if common.export {
        return export(&obj);
    }
    block_on(async {
        let ready = apply_until_ready(global, &kind, &obj, wait::Readiness::Dynamic).await?;
        let revision = ready["status"]["lastAppliedRevision"]
            .as_str()
            .unwrap_or_default();
        log::success(format!("applied revision {revision}"));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        let s = kustomization_source("podinfo").unwrap();
        assert_eq!(
            (s.kind.as_str(), s.name.as_str()),
            ("GitRepository", "podinfo")
        );
        let s = kustomization_source("ocirepository/podinfo.flux-system").unwrap();
        assert_eq!(
            (s.kind.as_str(), s.name.as_str(), s.namespace.as_str()),
            ("OCIRepository", "podinfo", "flux-system")
        );
        assert_eq!(
            kustomization_source("Bucket").unwrap_err(),
            "no kind specified for source 'Bucket'"
        );
        assert_eq!(
            kustomization_source("HelmChart/x").unwrap_err(),
            "source kind 'HelmChart' is not supported, must be one of: OCIRepository, GitRepository, Bucket"
        );
        assert_eq!(
            kustomization_source("GitRepository/").unwrap_err(),
            "no name given for source of kind 'GitRepository'"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(safe_relative_path("./deploy").unwrap(), "./deploy");
        assert_eq!(safe_relative_path("").unwrap(), "./");
        assert_eq!(safe_relative_path("../../a/./b/../c/").unwrap(), "./a/c");
        assert_eq!(safe_relative_path("/abs/path").unwrap(), "./abs/path");
    }
}
