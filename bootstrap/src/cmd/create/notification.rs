//! `gitops create alert-provider|alert|receiver`: the notification objects, as
//! `flux create …` generates them; with `--export` printed, otherwise applied and waited for
//! (Providers and Alerts have no status of their own: they are ready once they exist;
//! Receivers are ready when the notification controller says so, and then have their
//! webhook path).

use super::kustomization::apply_until_ready;
use super::{Common, export, put};
use crate::cli::flags::parse_kind_name_namespace;
use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::global::block_on;
use crate::cli::wait::Readiness;
use crate::cli::{Global, kinds, log};
use serde_json::{Map, Value, json};

/// `create alert-provider` flags.
#[derive(clap::Args)]
pub struct ProviderArgs {
    /// Name.
    name: Option<String>,
    /// Type of provider.
    #[arg(long = "type", default_value = "")]
    provider_type: String,
    /// Channel to send messages to in the case of a chat provider.
    #[arg(long, default_value = "")]
    channel: String,
    /// Bot username used by the provider.
    #[arg(long, default_value = "")]
    username: String,
    /// Path to either the git repository, chat provider or webhook.
    #[arg(long, default_value = "")]
    address: String,
    /// Name of secret containing authentication token.
    #[arg(long = "secret-ref", default_value = "")]
    secret_ref: String,
}

/// `create alert` flags.
#[derive(clap::Args)]
pub struct AlertArgs {
    /// Name.
    name: Option<String>,
    /// Reference to provider.
    #[arg(long = "provider-ref", default_value = "")]
    provider_ref: String,
    /// Severity of events to send alerts for.
    #[arg(long = "event-severity", default_value = "")]
    event_severity: String,
    /// Sources that should generate alerts (<kind>/<name>), also accepts comma-separated
    /// values.
    #[arg(long = "event-source", value_parser = string_slice)]
    event_sources: Vec<StringSlice>,
}

/// `create receiver` flags.
#[derive(clap::Args)]
pub struct ReceiverArgs {
    /// Name.
    name: Option<String>,
    /// The receiver type.
    #[arg(long = "type", value_parser = crate::cli::flags::receiver_type)]
    receiver_type: Option<String>,
    /// Name of the secret containing the webhook token.
    #[arg(long = "secret-ref", default_value = "")]
    secret_ref: String,
    /// Also accepts comma-separated values.
    #[arg(long = "event", value_parser = string_slice)]
    events: Vec<StringSlice>,
    /// Also accepts comma-separated values.
    #[arg(long = "resource", value_parser = string_slice)]
    resources: Vec<StringSlice>,
}

/// Runs `create alert-provider`.
pub fn run_provider(a: ProviderArgs, c: &Common, g: &Global) -> anyhow::Result<()> {
    let name = c.name(&a.name)?;
    if a.provider_type.is_empty() {
        anyhow::bail!("Provider type is required");
    }
    let metadata = c.metadata(&name, &g.namespace)?;
    if !c.export {
        log::generate("generating Provider");
    }
    let mut spec = Map::new();
    spec.insert("type".into(), json!(a.provider_type));
    put(&mut spec, "channel", a.channel.as_str());
    put(&mut spec, "username", a.username.as_str());
    put(&mut spec, "address", a.address.as_str());
    if !a.secret_ref.is_empty() {
        spec.insert("secretRef".into(), json!({ "name": a.secret_ref }));
    }
    let kind = kinds::ALERT_PROVIDER;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if c.export {
        return export(&obj);
    }
    block_on(async {
        apply_until_ready(g, &kind, &obj, Readiness::Static).await?;
        Ok(())
    })
}

/// Runs `create alert`.
pub fn run_alert(a: AlertArgs, c: &Common, g: &Global) -> anyhow::Result<()> {
    let name = c.name(&a.name)?;
    if a.provider_ref.is_empty() {
        anyhow::bail!("provider ref is required");
    }
    let mut sources = Vec::new();
    for source in &flatten(a.event_sources) {
        let (kind, source_name, namespace) = parse_kind_name_namespace(source);
        if kind.is_empty() {
            anyhow::bail!("invalid event source '{source}', must be in format <kind>/<name>");
        }
        let mut r = Map::new();
        r.insert("kind".into(), json!(kind));
        r.insert("name".into(), json!(source_name));
        put(&mut r, "namespace", namespace);
        sources.push(Value::Object(r));
    }
    if sources.is_empty() {
        anyhow::bail!("at least one event source is required");
    }
    let metadata = c.metadata(&name, &g.namespace)?;
    if !c.export {
        log::generate("generating Alert");
    }
    let mut spec = Map::new();
    spec.insert("providerRef".into(), json!({ "name": a.provider_ref }));
    put(&mut spec, "eventSeverity", a.event_severity.as_str());
    spec.insert("eventSources".into(), Value::Array(sources));
    let kind = kinds::ALERT;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if c.export {
        return export(&obj);
    }
    block_on(async {
        apply_until_ready(g, &kind, &obj, Readiness::Static).await?;
        Ok(())
    })
}

/// Runs `create receiver`.
pub fn run_receiver(a: ReceiverArgs, c: &Common, g: &Global) -> anyhow::Result<()> {
    let name = c.name(&a.name)?;
    let receiver_type = a.receiver_type.clone().unwrap_or_default();
    if receiver_type.is_empty() {
        anyhow::bail!("Receiver type is required");
    }
    if a.secret_ref.is_empty() {
        anyhow::bail!("secret ref is required");
    }
    let mut resources = Vec::new();
    for resource in &flatten(a.resources) {
        let (kind, resource_name) = match resource.split('/').collect::<Vec<_>>()[..] {
            [k, n] => (k, n),
            _ => ("", resource.as_str()),
        };
        if kind.is_empty() {
            anyhow::bail!("invalid event source '{resource}', must be in format <kind>/<name>");
        }
        resources.push(json!({ "kind": kind, "name": resource_name }));
    }
    if resources.is_empty() {
        anyhow::bail!("atleast one resource is required");
    }
    let metadata = c.metadata(&name, &g.namespace)?;
    if !c.export {
        log::generate("generating Receiver");
    }
    let events = flatten(a.events);
    let mut spec = Map::new();
    spec.insert("type".into(), json!(receiver_type));
    put(&mut spec, "events", json!(events));
    spec.insert("resources".into(), Value::Array(resources));
    spec.insert("secretRef".into(), json!({ "name": a.secret_ref }));
    let kind = kinds::RECEIVER;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if c.export {
        return export(&obj);
    }
    block_on(async {
        let ready = apply_until_ready(g, &kind, &obj, Readiness::Dynamic).await?;
        let path = ready["status"]["webhookPath"].as_str().unwrap_or_default();
        log::success(format!("generated webhook URL {path}"));
        Ok(())
    })
}
