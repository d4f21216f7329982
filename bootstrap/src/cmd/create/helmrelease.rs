//! `gitops create helmrelease` (alias `hr`): a HelmRelease for a chart from a HelmRepository,
//! GitRepository or Bucket (`--chart`), or from a HelmChart or OCIRepository (`--chart-ref`),
//! as `flux create helmrelease` generates it; with `--export` printed, otherwise applied and
//! waited for until the helm controller reports it ready.

use super::kustomization::{apply_until_ready, depends_on, kubeconfig_ref};
use super::{Common, export, put};
use crate::cli::flags::{self, SourceRef, parse_kind_name_namespace};
use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::global::{block_on, format_duration, go_duration};
use crate::cli::wait::Readiness;
use crate::cli::{Global, kinds, log};
use gitops_kustomize::yaml::Value as Yaml;
use serde_json::{Map, Number, Value, json};
use std::time::Duration;

/// `create helmrelease` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Name.
    name: Option<String>,
    /// Name used for the Helm release, defaults to a composition of
    /// '[<target-namespace>-]<HelmRelease-name>'.
    #[arg(long = "release-name", default_value = "")]
    release_name: String,
    /// Source that contains the chart in the format '<kind>/<name>.<namespace>', where kind
    /// must be one of: (HelmRepository, GitRepository, Bucket).
    #[arg(long, value_parser = flags::helm_chart_source)]
    source: Option<SourceRef>,
    /// Helm chart name or path.
    #[arg(long, default_value = "")]
    chart: String,
    /// Helm chart version, accepts a semver range (ignored for charts from GitRepository
    /// sources).
    #[arg(long = "chart-version", default_value = "")]
    chart_version: String,
    /// HelmReleases that must be ready before this release can be installed, supported
    /// formats '<name>' and '<namespace>/<name>'.
    #[arg(long = "depends-on", value_parser = string_slice)]
    depends_on: Vec<StringSlice>,
    /// Namespace to install this release, defaults to the HelmRelease namespace.
    #[arg(long = "target-namespace", default_value = "")]
    target_namespace: String,
    /// Namespace to store the Helm release, defaults to the target namespace.
    #[arg(long = "storage-namespace", default_value = "")]
    storage_namespace: String,
    /// Create the target namespace if it does not exist.
    #[arg(long = "create-target-namespace")]
    create_namespace: bool,
    /// The name of the service account to impersonate when reconciling this HelmRelease.
    #[arg(long = "service-account", default_value = "")]
    service_account: String,
    /// The reconcile strategy for helm chart created by the helm release(accepted values:
    /// Revision and ChartRevision).
    #[arg(long = "reconcile-strategy", default_value = "ChartVersion")]
    reconcile_strategy: String,
    /// The interval of which to check for new chart versions.
    #[arg(long = "chart-interval", value_parser = go_duration)]
    chart_interval: Option<Duration>,
    /// Local path to values.yaml files, also accepts comma-separated values.
    #[arg(long = "values", value_parser = string_slice)]
    values_files: Vec<StringSlice>,
    /// A Kubernetes object reference that contains the values.yaml data key in the format
    /// '<kind>/<name>', where kind must be one of: (Secret,ConfigMap).
    #[arg(long = "values-from", value_parser = string_slice)]
    values_from: Vec<StringSlice>,
    /// Upgrade CRDs policy.
    #[arg(long, value_parser = crds_policy)]
    crds: Option<String>,
    /// The name of the Kubernetes Secret that contains a key with the kubeconfig file for
    /// connecting to a remote cluster.
    #[arg(long = "kubeconfig-secret-ref", default_value = "")]
    kubeconfig_secret_ref: String,
    /// The name of the HelmChart resource to use as source for the HelmRelease, in the
    /// format '<kind>/<name>.<namespace>', where kind must be one of:
    /// (OCIRepository,HelmChart).
    #[arg(long = "chart-ref", default_value = "")]
    chart_ref: String,
}

/// `--crds` (Flux's `CRDsPolicy`).
pub fn crds_policy(s: &str) -> Result<String, String> {
    const POLICIES: &[&str] = &["Skip", "Create", "CreateReplace"];
    if s.trim().is_empty() {
        return Err(format!(
            "no upgrade CRDs policy given, must be one of: {}",
            POLICIES.join(", ")
        ));
    }
    if !POLICIES.contains(&s) {
        return Err(format!(
            "unsupported upgrade CRDs policy '{s}', must be one of: {}",
            POLICIES.join(", ")
        ));
    }
    Ok(s.to_owned())
}

/// An I/O error as Go's `os.ReadFile` words it: `open <path>: no such file or directory`.
pub(crate) fn go_read_error(path: &str, e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    let text: String = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    let op = if e.kind() == std::io::ErrorKind::IsADirectory {
        "read"
    } else {
        "open"
    };
    format!("{op} {path}: {text}")
}

/// A number as it comes out of Go's `json.Unmarshal` into `interface{}` (a float64) and
/// back: integral values below 1e21 stay integers, everything else is a float.
fn go_number(f: f64) -> Result<Value, String> {
    if !f.is_finite() {
        let text = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(format!("json: unsupported value: {text}"));
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Ok(json!(f as i64));
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Ok(json!(f as u64));
        }
    }
    Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
}

/// A parsed YAML value as the JSON Flux stores (`yaml.YAMLToJSON` then `json.Unmarshal`
/// into a generic map).
fn to_json(v: &Yaml) -> Result<Value, String> {
    Ok(match v {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => json!(b),
        Yaml::Int(i) => go_number(*i as f64)?,
        Yaml::Uint(u) => go_number(*u as f64)?,
        Yaml::Float(f) => go_number(*f)?,
        Yaml::String(s) => json!(s),
        Yaml::Seq(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Merges `b` into `a`, maps recursively, anything else replaced (Flux's
/// `transform.MergeMaps`).
fn merge_maps(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Object(existing)), Value::Object(v)) => merge_maps(existing, v),
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
}

/// The merged `--values` files.
fn read_values(files: &[String]) -> anyhow::Result<Value> {
    let mut values = Map::new();
    for file in files {
        let data = std::fs::read(file).map_err(|e| {
            anyhow::anyhow!(
                "reading values from {file} failed: {}",
                go_read_error(file, &e)
            )
        })?;
        let text = String::from_utf8_lossy(&data);
        let doc = gitops_kustomize::yaml::parse_one(&text)
            .map_err(|e| {
                anyhow::anyhow!(
                    "converting values to JSON from {file} failed: error converting YAML to JSON: yaml: {e}"
                )
            })
            .and_then(|doc| {
                to_json(&doc).map_err(|e| {
                    anyhow::anyhow!(
                        "converting values to JSON from {file} failed: error converting YAML to JSON: {e}"
                    )
                })
            })?;
        let map = match doc {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            other => {
                let what = match other {
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    _ => "bool",
                };
                anyhow::bail!(
                    "unmarshaling values from {file} failed: json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"
                );
            }
        };
        merge_maps(&mut values, map);
    }
    Ok(Value::Object(values))
}

/// Runs `create helmrelease`.
pub fn run(args: Args, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&args.name)?;
    let mut storage_namespace = args.storage_namespace.clone();
    if storage_namespace.is_empty() && !args.target_namespace.is_empty() {
        storage_namespace = args.target_namespace.clone();
    }
    if args.chart.is_empty() && args.chart_ref.is_empty() {
        anyhow::bail!("chart or chart-ref is required");
    }
    if !args.chart.is_empty() && !args.chart_ref.is_empty() {
        anyhow::bail!("cannot use --chart in combination with --chart-ref");
    }
    let metadata = common.metadata(&name, &global.namespace)?;
    if !common.export {
        log::generate("generating HelmRelease");
    }
    if !matches!(
        args.reconcile_strategy.as_str(),
        "Revision" | "ChartVersion"
    ) {
        anyhow::bail!(
            "'{}' is an invalid reconcile strategy(valid: Revision, ChartVersion)",
            args.reconcile_strategy
        );
    }

    let mut spec = Map::new();
    put(&mut spec, "releaseName", args.release_name.as_str());
    spec.insert("interval".into(), json!(common.interval()));
    put(&mut spec, "targetNamespace", args.target_namespace.as_str());
    put(&mut spec, "storageNamespace", storage_namespace.as_str());
    put(
        &mut spec,
        "dependsOn",
        depends_on(&flatten(args.depends_on)),
    );

    if !args.chart.is_empty() {
        let source = args.source.clone().unwrap_or_default();
        let mut source_ref = Map::new();
        put(&mut source_ref, "kind", source.kind.as_str());
        source_ref.insert("name".into(), json!(source.name));
        put(&mut source_ref, "namespace", source.namespace.as_str());
        let mut chart = Map::new();
        chart.insert("chart".into(), json!(args.chart));
        put(&mut chart, "version", args.chart_version.as_str());
        chart.insert("sourceRef".into(), Value::Object(source_ref));
        put(
            &mut chart,
            "reconcileStrategy",
            args.reconcile_strategy.as_str(),
        );
        if let Some(i) = args.chart_interval.filter(|d| !d.is_zero()) {
            chart.insert("interval".into(), json!(format_duration(i)));
        }
        spec.insert("chart".into(), json!({ "spec": chart }));
    } else {
        let (kind, ref_name, ns) = parse_kind_name_namespace(&args.chart_ref);
        if kind != "HelmChart" && kind != "OCIRepository" {
            anyhow::bail!(
                "chart reference kind '{kind}' is not supported, must be one of: OCIRepository, HelmChart"
            );
        }
        let mut chart_ref = Map::new();
        chart_ref.insert("kind".into(), json!(kind));
        chart_ref.insert("name".into(), json!(ref_name));
        put(&mut chart_ref, "namespace", ns);
        spec.insert("chartRef".into(), Value::Object(chart_ref));
    }

    put(
        &mut spec,
        "kubeConfig",
        kubeconfig_ref(&args.kubeconfig_secret_ref),
    );
    let mut install = Map::new();
    put(&mut install, "createNamespace", args.create_namespace);
    put(
        &mut spec,
        "serviceAccountName",
        args.service_account.as_str(),
    );
    if let Some(crds) = args.crds.as_deref().filter(|c| !c.is_empty()) {
        install.insert("crds".into(), json!("Create"));
        spec.insert("upgrade".into(), json!({ "crds": crds }));
    }
    if args.create_namespace || args.crds.as_deref().is_some_and(|c| !c.is_empty()) {
        spec.insert("install".into(), Value::Object(install));
    }

    let files = flatten(args.values_files);
    if !files.is_empty() {
        spec.insert("values".into(), read_values(&files)?);
    }

    let refs = flatten(args.values_from);
    if !refs.is_empty() {
        let mut values_from = Vec::new();
        for value in &refs {
            let (kind, ref_name) = match value.split('/').collect::<Vec<_>>()[..] {
                [k, n] => (k, n),
                _ => ("", value.as_str()),
            };
            if kind.is_empty() {
                anyhow::bail!(
                    "invalid Kubernetes object reference '{value}', must be in format <kind>/<name>"
                );
            }
            let Some(clean) = ["Secret", "ConfigMap"]
                .into_iter()
                .find(|k| k.eq_ignore_ascii_case(kind))
            else {
                anyhow::bail!(
                    "reference kind '{kind}' is not supported, must be one of: Secret, ConfigMap"
                );
            };
            values_from.push(json!({ "kind": clean, "name": ref_name }));
        }
        spec.insert("valuesFrom".into(), Value::Array(values_from));
    }

    let kind = kinds::HELM_RELEASE;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if common.export {
        return export(&obj);
    }
    block_on(async {
        let ready = apply_until_ready(global, &kind, &obj, Readiness::Dynamic).await?;
        log::success(format!("applied revision {}", revision(&ready)));
        Ok(())
    })
}

/// The revision a ready HelmRelease reports (Flux's `getHelmReleaseRevision`): the chart
/// version of the latest release, else the last attempted revision.
fn revision(hr: &Value) -> &str {
    match hr["status"]["history"].as_array().and_then(|h| h.first()) {
        Some(latest) => latest["chartVersion"].as_str().unwrap_or_default(),
        None => hr["status"]["lastAttemptedRevision"]
            .as_str()
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_go_decodes_them() {
        assert_eq!(go_number(3.0).unwrap(), json!(3));
        assert_eq!(go_number(1.5).unwrap(), json!(1.5));
        assert_eq!(
            go_number(9007199254740993_i64 as f64).unwrap(),
            json!(9007199254740992_i64)
        );
        assert!(go_number(f64::NAN).is_err());
    }

    #[test]
    fn merging() {
        let mut a = json!({"a": {"b": 1, "c": [1]}, "d": 1})
            .as_object()
            .cloned()
            .unwrap();
        let b = json!({"a": {"c": [2], "e": 3}, "d": {"x": 1}})
            .as_object()
            .cloned()
            .unwrap();
        merge_maps(&mut a, b);
        assert_eq!(
            Value::Object(a),
            json!({"a": {"b": 1, "c": [2], "e": 3}, "d": {"x": 1}})
        );
    }

    #[test]
    fn read_errors() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(
            go_read_error("./x.yaml", &e),
            "open ./x.yaml: no such file or directory"
        );
    }
}
