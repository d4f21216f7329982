//! `gitops create …`: generate Flux objects; with `--export` print them, otherwise apply
//! them and wait until they are ready, as `flux create` does.

pub mod helmrelease;
pub mod image;
pub mod kustomization;
pub mod notification;
pub mod secret;
pub mod source;
pub mod tenant;

use crate::cli::{FluxKind, Global, log, object, wait};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

/// `gitops create`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    global: Global,
}

/// Flags every `create` subcommand takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// Source sync interval.
    #[arg(long, global = true, default_value = "1m0s", value_parser = crate::cli::global::go_duration)]
    pub interval: Duration,
    /// Export in YAML format to stdout.
    #[arg(long, global = true)]
    pub export: bool,
    /// Set labels on the resource (can specify multiple labels with commas:
    /// label1=value1,label2=value2).
    #[arg(long = "label", global = true, value_parser = crate::cli::flags::string_slice)]
    pub labels: Vec<crate::cli::flags::StringSlice>,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update sources.
    #[command(subcommand)]
    Source(source::Command),
    /// Create or update a Kustomization resource.
    #[command(visible_alias = "ks")]
    Kustomization(kustomization::Args),
    /// Create or update a HelmRelease resource.
    #[command(visible_alias = "hr")]
    Helmrelease(helmrelease::Args),
    /// Create or update resources dealing with image automation.
    #[command(subcommand)]
    Image(image::Command),
    /// Create or update a Provider resource.
    AlertProvider(notification::ProviderArgs),
    /// Create or update an Alert resource.
    Alert(notification::AlertArgs),
    /// Create or update a Receiver resource.
    Receiver(notification::ReceiverArgs),
    /// Create or update Kubernetes secrets for Flux.
    #[command(subcommand)]
    Secret(secret::Command),
    /// Create or update a tenant.
    Tenant(tenant::Args),
}

/// Runs `gitops create`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let (c, g) = (&args.common, &args.global);
    match args.command {
        Command::Source(cmd) => source::run(cmd, c, g),
        Command::Kustomization(a) => kustomization::run(a, c, g),
        Command::Helmrelease(a) => helmrelease::run(a, c, g),
        Command::Image(cmd) => image::run(cmd, c, g),
        Command::AlertProvider(a) => notification::run_provider(a, c, g),
        Command::Alert(a) => notification::run_alert(a, c, g),
        Command::Receiver(a) => notification::run_receiver(a, c, g),
        Command::Secret(cmd) => secret::run(cmd, c, g),
        Command::Tenant(a) => tenant::run(a, c, g),
    }?;
    Ok(ExitCode::SUCCESS)
}

impl Common {
    /// The object name (Flux: "name is required", RFC 1123 label).
    pub fn name(&self, name: &Option<String>) -> anyhow::Result<String> {
        let Some(name) = name else {
            anyhow::bail!("name is required");
        };
        if !valid_object_name(name) {
            anyhow::bail!(
                "name '{name}' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'"
            );
        }
        Ok(name.clone())
    }

    /// `--label` values as a map (Flux's `parseLabels`).
    pub fn labels(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for label in self.labels.iter().flat_map(|l| &l.0) {
            let parts: Vec<&str> = label.split('=').collect();
            let [key, value] = parts[..] else {
                anyhow::bail!("invalid label format '{label}', must be key=value");
            };
            if !valid_qualified_name(key) {
                anyhow::bail!(
                    "invalid label '{key}': [name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')]"
                );
            }
            if !valid_label_value(value) {
                anyhow::bail!(
                    "invalid label value '{value}': [a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]"
                );
            }
            out.insert(key.to_owned(), value.to_owned());
        }
        Ok(out)
    }

    /// The interval as Flux writes it (`1m0s`).
    pub fn interval(&self) -> String {
        crate::cli::global::format_duration(self.interval)
    }

    /// `metadata` for a new object: name, namespace and `--label`s.
    pub fn metadata(&self, name: &str, namespace: &str) -> anyhow::Result<Value> {
        let mut meta = Map::new();
        let labels = self.labels()?;
        if !labels.is_empty() {
            meta.insert("labels".into(), json!(labels));
        }
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(namespace));
        Ok(Value::Object(meta))
    }
}

/// Flux's object name rule: `^[a-z0-9]([a-z0-9\-]){0,61}[a-z0-9]$`.
pub fn valid_object_name(name: &str) -> bool {
    let b = name.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (2..=63).contains(&b.len())
        && ok(&b[0])
        && ok(&b[b.len() - 1])
        && b.iter().all(|c| ok(c) || *c == b'-')
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn valid_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A qualified name (`prefix/name` with a DNS-1123 subdomain prefix), as label keys are.
pub fn valid_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|l| {
                    !l.is_empty()
                        && l.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                })
                && valid_name_part(name)
        }
        None => valid_name_part(s),
    }
}

/// A label value: empty, or a name part.
pub fn valid_label_value(s: &str) -> bool {
    s.is_empty() || valid_name_part(s)
}

/// An object of `kind` from its metadata and spec.
pub fn object(kind: &FluxKind, metadata: Value, spec: Value) -> Value {
    json!({
        "apiVersion": kind.info.api_version(),
        "kind": kind.kind(),
        "metadata": metadata,
        "spec": spec,
    })
}

/// Applies `obj` as Flux's `upsert` does, printing `✔ <what> created|updated`.
pub async fn upsert(
    client: &kube::Client,
    kind: &FluxKind,
    what: &str,
    obj: &Value,
) -> anyhow::Result<()> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let api = kind.api(client, Some(ns));
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let existed = api.get_opt(name).await?.is_some();
    object::upsert(&api, obj).await?;
    log::success(format!(
        "{what} {}",
        if existed { "updated" } else { "created" }
    ));
    Ok(())
}

/// The apply-and-wait tail every `create` command shares: `► applying <what>`, create or
/// update (`✔ <what> created|updated`), `◎ waiting for <what> reconciliation`, the wait.
/// Returns the ready object; the caller prints its kind's closing line.
pub async fn apply_and_wait(
    client: &kube::Client,
    global: &Global,
    kind: &FluxKind,
    what: &str,
    obj: &Value,
    readiness: wait::Readiness,
) -> anyhow::Result<Value> {
    log::action(format!("applying {what}"));
    upsert(client, kind, what, obj).await?;
    log::waiting(format!("waiting for {what} reconciliation"));
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    wait::until_ready_as(&kind.api(client, Some(ns)), name, global.timeout, readiness).await
}

/// Prints the object for `--export`.
pub fn export(obj: &Value) -> anyhow::Result<()> {
    crate::cli::yaml::print(obj)
}

/// Inserts `key: value` into a JSON object when `value` is not empty.
pub fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    let v: Value = value.into();
    let empty = match &v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(_) => false,
    };
    if !empty {
        map.insert(key.to_owned(), v);
    }
}
