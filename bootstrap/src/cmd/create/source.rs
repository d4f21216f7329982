//! `gitops create source git|oci|helm|chart|bucket`.

use super::{Common, apply_and_wait, export, put};
use crate::cli::flags::{self, SourceRef};
use crate::cli::wait::Readiness;
use crate::cli::{Global, kinds, log, sourcesecret};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The source kinds.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create or update a GitRepository source.
    Git(Git),
    /// Create or update an OCIRepository.
    Oci(Oci),
    /// Create or update a HelmRepository source.
    Helm(Helm),
    /// Create or update a HelmChart source.
    Chart(Chart),
    /// Create or update a Bucket source.
    Bucket(Bucket),
}

/// Flags all sources share.
#[derive(clap::Args, Clone, Debug)]
pub struct SourceCommon {
    /// Set a timeout for fetch operations performed by source-controller (e.g. 'git clone'
    /// or 'helm repo add').
    #[arg(long, value_parser = crate::cli::global::go_duration)]
    fetch_timeout: Option<Duration>,
}

impl SourceCommon {
    fn put_timeout(&self, spec: &mut Map<String, Value>) {
        if let Some(t) = self.fetch_timeout.filter(|t| !t.is_zero()) {
            spec.insert(
                "timeout".into(),
                json!(crate::cli::global::format_duration(t)),
            );
        }
    }
}

/// `create source git`.
#[derive(clap::Args)]
pub struct Git {
    /// Name.
    name: Option<String>,
    /// Git address, e.g. ssh://git@host/org/repository.
    #[arg(long, default_value = "")]
    url: String,
    /// Git branch.
    #[arg(long, default_value = "")]
    branch: String,
    /// Git tag.
    #[arg(long, default_value = "")]
    tag: String,
    /// Git tag semver range.
    #[arg(long = "tag-semver", default_value = "")]
    semver: String,
    /// Git reference name.
    #[arg(long, default_value = "")]
    ref_name: String,
    /// Git commit.
    #[arg(long, default_value = "")]
    commit: String,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "")]
    username: String,
    /// Basic authentication password.
    #[arg(long, short = 'p', default_value = "")]
    password: String,
    #[command(flatten)]
    ssh_key: super::secret::SshKeyFlags,
    /// The name of an existing secret containing SSH or basic credentials or github app
    /// authentication.
    #[arg(long, default_value = "")]
    secret_ref: String,
    /// The name of an existing secret containing the proxy address and credentials.
    #[arg(long, default_value = "")]
    proxy_secret_ref: String,
    /// The Git provider name.
    #[arg(long, value_parser = flags::git_provider)]
    provider: Option<String>,
    /// Path to TLS CA file used for validating self-signed certificates.
    #[arg(long, default_value = "")]
    ca_file: String,
    /// Path to a passwordless private key file used for authenticating to the Git SSH server.
    #[arg(long, default_value = "")]
    private_key_file: String,
    /// When enabled, configures the GitRepository source to initialize and include Git
    /// submodules in the artifact it produces.
    #[arg(long)]
    recurse_submodules: bool,
    /// Assumes the deploy key is already setup, skips confirmation.
    #[arg(long, short = 's')]
    silent: bool,
    /// Set paths to ignore in git resource (can specify multiple paths with commas:
    /// path1,path2).
    #[arg(long, value_parser = flags::string_slice)]
    ignore_paths: Vec<flags::StringSlice>,
    /// Set paths to sparse checkout in git resource (can specify multiple paths with commas:
    /// path1,path2).
    #[arg(long, value_parser = flags::string_slice)]
    sparse_checkout_paths: Vec<flags::StringSlice>,
    #[command(flatten)]
    source: SourceCommon,
}

/// `create source oci`.
#[derive(clap::Args)]
pub struct Oci {
    /// Name.
    name: Option<String>,
    /// The OCI provider name.
    #[arg(long, default_value = "generic", value_parser = flags::oci_provider)]
    provider: String,
    /// The OCI repository URL.
    #[arg(long, default_value = "")]
    url: String,
    /// The OCI artifact tag.
    #[arg(long, default_value = "")]
    tag: String,
    /// The OCI artifact tag semver range.
    #[arg(long = "tag-semver", default_value = "")]
    semver: String,
    /// The OCI artifact digest.
    #[arg(long, default_value = "")]
    digest: String,
    /// The name of the Kubernetes image pull secret (type 'kubernetes.io/dockerconfigjson').
    #[arg(long, default_value = "")]
    secret_ref: String,
    /// The name of an existing secret containing the proxy address and credentials.
    #[arg(long, default_value = "")]
    proxy_secret_ref: String,
    /// The name of the Kubernetes service account that refers to an image pull secret.
    #[arg(long, default_value = "")]
    service_account: String,
    /// The name of a secret to use for TLS certificates.
    #[arg(long = "cert-ref", default_value = "")]
    cert_secret_ref: String,
    /// The OCI verify provider name to use for signature verification, available options
    /// are: (cosign).
    #[arg(long, value_parser = flags::oci_verify_provider)]
    verify_provider: Option<String>,
    /// The name of a secret to use for signature verification.
    #[arg(long, default_value = "")]
    verify_secret_ref: String,
    /// Regular expression to use for the OIDC subject during signature verification.
    #[arg(long, default_value = "")]
    verify_subject: String,
    /// Regular expression to use for the OIDC issuer during signature verification.
    #[arg(long = "verify-issuer", default_value = "")]
    verify_oidc_issuer: String,
    /// Set paths to ignore resources (can specify multiple paths with commas: path1,path2).
    #[arg(long, value_parser = flags::string_slice)]
    ignore_paths: Vec<flags::StringSlice>,
    /// For when connecting to a non-TLS registries over plain HTTP.
    #[arg(long)]
    insecure: bool,
    /// The OCI artifact layer selector in the format '<media-type>:<operation>'.
    #[arg(long, default_value = "")]
    layer_selector: String,
    #[command(flatten)]
    source: SourceCommon,
}

/// `create source helm`.
#[derive(clap::Args)]
pub struct Helm {
    /// Name.
    name: Option<String>,
    /// Helm repository address.
    #[arg(long, default_value = "")]
    url: String,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "")]
    username: String,
    /// Basic authentication password.
    #[arg(long, short = 'p', default_value = "")]
    password: String,
    /// TLS authentication cert file path.
    #[arg(long, default_value = "")]
    cert_file: String,
    /// TLS authentication key file path.
    #[arg(long, default_value = "")]
    key_file: String,
    /// TLS authentication CA file path.
    #[arg(long, default_value = "")]
    ca_file: String,
    /// The name of an existing secret containing TLS, basic auth or docker-config
    /// credentials.
    #[arg(long, default_value = "")]
    secret_ref: String,
    /// OCI provider for authentication.
    #[arg(long, default_value = "")]
    oci_provider: String,
    /// Pass credentials to all domains.
    #[arg(long)]
    pass_credentials: bool,
    #[command(flatten)]
    source: SourceCommon,
}

/// `create source chart`.
#[derive(clap::Args)]
pub struct Chart {
    /// Name.
    name: Option<String>,
    /// Helm chart name or path.
    #[arg(long, default_value = "")]
    chart: String,
    /// Helm chart version, accepts a semver range (ignored for charts from GitRepository
    /// sources).
    #[arg(long, default_value = "")]
    chart_version: String,
    /// Source that contains the chart in the format '<kind>/<name>.<namespace>', where kind
    /// must be one of: (HelmRepository, GitRepository, Bucket).
    #[arg(long, value_parser = flags::helm_chart_source)]
    source: Option<SourceRef>,
    /// The reconcile strategy for helm chart (accepted values: Revision and ChartRevision).
    #[arg(long, default_value = "ChartVersion")]
    reconcile_strategy: String,
    /// The OCI verify provider name to use for signature verification, available options
    /// are: (cosign).
    #[arg(long, value_parser = flags::oci_verify_provider)]
    verify_provider: Option<String>,
    /// The name of a secret to use for signature verification.
    #[arg(long, default_value = "")]
    verify_secret_ref: String,
    /// Regular expression to use for the OIDC subject during signature verification.
    #[arg(long, default_value = "")]
    verify_subject: String,
    /// Regular expression to use for the OIDC issuer during signature verification.
    #[arg(long = "verify-issuer", default_value = "")]
    verify_oidc_issuer: String,
    #[command(flatten)]
    common: SourceCommon,
}

/// `create source bucket`.
#[derive(clap::Args)]
pub struct Bucket {
    /// Name.
    name: Option<String>,
    /// The S3 compatible storage provider name.
    #[arg(long, default_value = "generic", value_parser = flags::bucket_provider)]
    provider: String,
    /// The bucket name.
    #[arg(long, default_value = "")]
    bucket_name: String,
    /// The bucket endpoint address.
    #[arg(long, default_value = "")]
    endpoint: String,
    /// The bucket access key.
    #[arg(long, default_value = "")]
    access_key: String,
    /// The bucket secret key.
    #[arg(long, default_value = "")]
    secret_key: String,
    /// The bucket region.
    #[arg(long, default_value = "")]
    region: String,
    /// For when connecting to a non-TLS S3 HTTP endpoint.
    #[arg(long)]
    insecure: bool,
    /// Set paths to ignore in bucket resource (can specify multiple paths with commas:
    /// path1,path2).
    #[arg(long, value_parser = flags::string_slice)]
    ignore_paths: Vec<flags::StringSlice>,
    /// The name of an existing secret containing the bucket credentials.
    #[arg(long, default_value = "")]
    secret_ref: String,
    /// The name of an existing secret containing the proxy address and credentials.
    #[arg(long, default_value = "")]
    proxy_secret_ref: String,
    #[command(flatten)]
    source: SourceCommon,
}

/// Runs `create source …`.
pub fn run(cmd: Command, common: &Common, global: &Global) -> anyhow::Result<()> {
    match cmd {
        Command::Git(a) => git(a, common, global),
        Command::Oci(a) => oci(a, common, global),
        Command::Helm(a) => helm(a, common, global),
        Command::Chart(a) => chart(a, common, global),
        Command::Bucket(a) => bucket(a, common, global),
    }
}

fn secret_ref(name: &str) -> Value {
    if name.is_empty() {
        Value::Null
    } else {
        json!({ "name": name })
    }
}

fn ignore(paths: &[flags::StringSlice]) -> Value {
    let paths: Vec<String> = paths.iter().flat_map(|p| p.0.clone()).collect();
    if paths.is_empty() {
        Value::Null
    } else {
        json!(paths.join("\n"))
    }
}

/// Logs the artifact revision of a ready source, or Flux's error when it has none.
fn fetched(ready: &Value, missing: &str) -> anyhow::Result<()> {
    match ready["status"]["artifact"]["revision"].as_str() {
        Some(rev) => {
            log::success(format!("fetched revision: {rev}"));
            Ok(())
        }
        None => anyhow::bail!("{missing}"),
    }
}

/// The scheme and `host[:port]` of a URL (`scheme://[user@]host[:port]/path`).
fn scheme_host(url: &str) -> (String, String) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (String::new(), String::new());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (scheme.to_ascii_lowercase(), host.to_owned())
}

fn git(a: Git, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    if a.url.is_empty() {
        anyhow::bail!("url is required");
    }
    let (scheme, host) = scheme_host(&a.url);
    if !matches!(scheme.as_str(), "ssh" | "http" | "https") {
        anyhow::bail!("git URL scheme '{scheme}' not supported, can be: ssh, http and https");
    }
    if a.branch.is_empty()
        && a.tag.is_empty()
        && a.semver.is_empty()
        && a.commit.is_empty()
        && a.ref_name.is_empty()
    {
        anyhow::bail!(
            "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver"
        );
    }
    if !a.ca_file.is_empty() && scheme == "ssh" {
        anyhow::bail!("specifying a CA file is not supported for Git over SSH");
    }
    let mut r = Map::new();
    if !a.commit.is_empty() {
        put(&mut r, "commit", a.commit.as_str());
        put(&mut r, "branch", a.branch.as_str());
    } else if !a.ref_name.is_empty() {
        put(&mut r, "name", a.ref_name.as_str());
    } else if !a.semver.is_empty() {
        put(&mut r, "semver", a.semver.as_str());
    } else if !a.tag.is_empty() {
        put(&mut r, "tag", a.tag.as_str());
    } else {
        put(&mut r, "branch", a.branch.as_str());
    }
    let mut spec = Map::new();
    put(&mut spec, "url", a.url.as_str());
    put(&mut spec, "interval", common.interval());
    put(&mut spec, "recurseSubmodules", a.recurse_submodules);
    spec.insert("ref".into(), Value::Object(r));
    put(&mut spec, "ignore", ignore(&a.ignore_paths));
    put(
        &mut spec,
        "sparseCheckout",
        json!(flags::flatten(a.sparse_checkout_paths.clone())),
    );
    a.source.put_timeout(&mut spec);
    put(&mut spec, "secretRef", secret_ref(&a.secret_ref));
    put(&mut spec, "proxySecretRef", secret_ref(&a.proxy_secret_ref));
    put(
        &mut spec,
        "provider",
        a.provider.clone().unwrap_or_default(),
    );
    let kind = kinds::GIT_REPOSITORY;
    let mut obj = super::object(
        &kind,
        common.metadata(&name, &global.namespace)?,
        Value::Object(spec),
    );
    if common.export {
        return export(&obj);
    }
    let what = "GitRepository source";
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        log::generate(format!("generating {what}"));
        if a.secret_ref.is_empty() {
            let mut opts = sourcesecret::GitOptions {
                name: name.clone(),
                namespace: global.namespace.clone(),
                ..Default::default()
            };
            match scheme.as_str() {
                "ssh" => {
                    if !a.private_key_file.is_empty() {
                        opts.private_key =
                            Some(sourcesecret::read_file(&a.private_key_file).map_err(|e| {
                                anyhow::anyhow!("failed to open private key file: {e}")
                            })?);
                    }
                    opts.ssh_host = Some(host.clone());
                    a.ssh_key.apply(&mut opts);
                    opts.password = a.password.clone();
                }
                "https" => {
                    if !a.ca_file.is_empty() {
                        opts.ca_crt = Some(
                            std::fs::read(&a.ca_file)
                                .map_err(|e| anyhow::anyhow!("unable to read TLS CA file: {e}"))?,
                        );
                    }
                    opts.username = a.username.clone();
                    opts.password = a.password.clone();
                }
                _ => {
                    log::warning("insecure configuration: credentials configured for an HTTP URL");
                    opts.username = a.username.clone();
                    opts.password = a.password.clone();
                }
            }
            let secret = sourcesecret::git(&opts)?;
            if let Some(data) = secret["stringData"].as_object().filter(|d| !d.is_empty()) {
                if let Some(hk) = data.get("known_hosts").and_then(Value::as_str) {
                    log::success(format!("collected public key from SSH server:\n{hk}"));
                }
                if let Some(ppk) = data.get("identity.pub").and_then(Value::as_str) {
                    log::generate(format!("deploy key: {ppk}"));
                    if !a.silent {
                        crate::cli::prompt::confirm(
                            "Have you added the deploy key to your repository",
                        )?;
                    }
                }
                log::action("applying secret with repository credentials");
                super::secret::upsert_secret(&client, &secret).await?;
                obj["spec"]["secretRef"] = json!({ "name": secret["metadata"]["name"] });
                log::success("authentication configured");
            }
        }
        let ready = apply_and_wait(&client, global, &kind, what, &obj, Readiness::Dynamic).await?;
        log::success(format!("{what} reconciliation completed"));
        fetched(
            &ready,
            "GitRepository source reconciliation completed but no artifact was found",
        )
    })
}

fn oci(a: Oci, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    if a.url.is_empty() {
        anyhow::bail!("url is required");
    }
    if a.semver.is_empty() && a.tag.is_empty() && a.digest.is_empty() {
        anyhow::bail!("--tag, --tag-semver or --digest is required");
    }
    let layer_selector = if a.layer_selector.is_empty() {
        Value::Null
    } else {
        let sel = &a.layer_selector;
        match sel.split_once(':') {
            Some((mt, op)) if !mt.is_empty() && !op.is_empty() => {
                if op != "extract" && op != "copy" {
                    anyhow::bail!(
                        "invalid --layer-selector {sel:?}: operation must be \"extract\" or \"copy\""
                    );
                }
                json!({ "mediaType": mt, "operation": op })
            }
            _ => anyhow::bail!(
                "invalid --layer-selector {sel:?}: must be in the format '<media-type>:<operation>'"
            ),
        }
    };
    let mut r = Map::new();
    put(&mut r, "digest", a.digest.as_str());
    put(&mut r, "semver", a.semver.as_str());
    put(&mut r, "tag", a.tag.as_str());
    let mut spec = Map::new();
    put(&mut spec, "provider", a.provider.as_str());
    put(&mut spec, "url", a.url.as_str());
    put(&mut spec, "insecure", a.insecure);
    put(&mut spec, "interval", common.interval());
    spec.insert("ref".into(), Value::Object(r));
    put(&mut spec, "ignore", ignore(&a.ignore_paths));
    put(&mut spec, "layerSelector", layer_selector);
    a.source.put_timeout(&mut spec);
    put(&mut spec, "serviceAccountName", a.service_account.as_str());
    put(&mut spec, "secretRef", secret_ref(&a.secret_ref));
    put(&mut spec, "proxySecretRef", secret_ref(&a.proxy_secret_ref));
    put(&mut spec, "certSecretRef", secret_ref(&a.cert_secret_ref));
    put(
        &mut spec,
        "verify",
        verify(
            a.verify_provider.as_deref(),
            &a.verify_secret_ref,
            &a.verify_oidc_issuer,
            &a.verify_subject,
            &a.verify_subject,
        )?,
    );
    let kind = kinds::OCI_REPOSITORY;
    let obj = super::object(
        &kind,
        common.metadata(&name, &global.namespace)?,
        Value::Object(spec),
    );
    if common.export {
        return export(&obj);
    }
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let what = "OCIRepository";
        let ready = apply_and_wait(&client, global, &kind, what, &obj, Readiness::Dynamic).await?;
        log::success(format!("{what} reconciliation completed"));
        fetched(&ready, "no artifact was found")
    })
}

/// `spec.verify` from the verification flags, with Flux's checks. (Flux's chart command
/// checks the OCI command's subject flag, `oci_subject`, for the OIDC case.)
fn verify(
    provider: Option<&str>,
    secret: &str,
    issuer: &str,
    subject: &str,
    oci_subject: &str,
) -> anyhow::Result<Value> {
    match provider.filter(|p| !p.is_empty()) {
        Some(p) => {
            let mut v = Map::new();
            put(&mut v, "provider", p);
            put(&mut v, "secretRef", secret_ref(secret));
            if !issuer.is_empty() || !subject.is_empty() {
                let mut m = Map::new();
                m.insert("issuer".into(), json!(issuer));
                m.insert("subject".into(), json!(subject));
                v.insert("matchOIDCIdentity".into(), json!([m]));
            }
            Ok(Value::Object(v))
        }
        None if !secret.is_empty() => {
            anyhow::bail!("a verification provider must be specified when a secret is specified")
        }
        None if !issuer.is_empty() || !oci_subject.is_empty() => anyhow::bail!(
            "a verification provider must be specified when OIDC issuer/subject is specified"
        ),
        None => Ok(Value::Null),
    }
}

fn helm(a: Helm, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    if a.url.is_empty() {
        anyhow::bail!("url is required");
    }
    let (scheme, host) = scheme_host(&a.url);
    if !matches!(scheme.as_str(), "http" | "https" | "oci") {
        anyhow::bail!("url scheme '{scheme}' not supported, can be: http, https and oci");
    }
    if host.is_empty() {
        anyhow::bail!("url host is required");
    }
    let oci = scheme == "oci";
    let mut spec = Map::new();
    put(&mut spec, "url", a.url.as_str());
    put(&mut spec, "interval", common.interval());
    if oci {
        put(&mut spec, "type", "oci");
        put(&mut spec, "provider", a.oci_provider.as_str());
    }
    a.source.put_timeout(&mut spec);
    if !a.secret_ref.is_empty() {
        put(&mut spec, "secretRef", secret_ref(&a.secret_ref));
        put(&mut spec, "passCredentials", a.pass_credentials);
    }
    let kind = kinds::HELM_REPOSITORY;
    let mut obj = super::object(
        &kind,
        common.metadata(&name, &global.namespace)?,
        Value::Object(spec),
    );
    if common.export {
        return export(&obj);
    }
    let what = "HelmRepository source";
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let read = |path: &str, what: &str| -> anyhow::Result<Option<String>> {
            if path.is_empty() {
                return Ok(None);
            }
            std::fs::read_to_string(path)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{what}: {e}"))
        };
        let ca = read(&a.ca_file, "unable to read TLS CA file")?;
        let (cert, key) = if !a.cert_file.is_empty() && !a.key_file.is_empty() {
            (
                read(&a.cert_file, "failed to read cert file")?,
                read(&a.key_file, "failed to read key file")?,
            )
        } else {
            (None, None)
        };
        log::generate(format!("generating {what}"));
        if a.secret_ref.is_empty() {
            let secret_name = format!("helm-{name}");
            let mut data = Map::new();
            if !a.username.is_empty() && !a.password.is_empty() {
                data.insert("username".into(), json!(a.username));
                data.insert("password".into(), json!(a.password));
            }
            if let Some(ca) = ca {
                data.insert("ca.crt".into(), json!(ca));
            }
            if let (Some(cert), Some(key)) = (cert, key) {
                data.insert("tls.crt".into(), json!(cert));
                data.insert("tls.key".into(), json!(key));
            }
            if !data.is_empty() {
                log::action("applying secret with repository credentials");
                let secret = json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": secret_name, "namespace": global.namespace},
                    "stringData": data,
                });
                super::secret::upsert_secret(&client, &secret).await?;
                obj["spec"]["secretRef"] = json!({ "name": secret_name });
                if a.pass_credentials {
                    obj["spec"]["passCredentials"] = json!(true);
                }
                log::success("authentication configured");
            }
        }
        // OCI HelmRepositories have no status of their own: kstatus alone decides.
        let readiness = if oci {
            Readiness::Static
        } else {
            Readiness::Dynamic
        };
        let ready = apply_and_wait(&client, global, &kind, what, &obj, readiness).await?;
        log::success(format!("{what} reconciliation completed"));
        if oci {
            return Ok(());
        }
        fetched(
            &ready,
            "HelmRepository source reconciliation completed but no artifact was found",
        )
    })
}

fn chart(a: Chart, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    let source = a.source.clone().unwrap_or_default();
    if source.kind.is_empty() || source.name.is_empty() {
        anyhow::bail!("chart source is required");
    }
    if a.chart.is_empty() {
        anyhow::bail!("chart name or path is required");
    }
    let mut spec = Map::new();
    put(&mut spec, "chart", a.chart.as_str());
    put(&mut spec, "version", a.chart_version.as_str());
    put(&mut spec, "interval", common.interval());
    put(
        &mut spec,
        "reconcileStrategy",
        a.reconcile_strategy.as_str(),
    );
    spec.insert(
        "sourceRef".into(),
        json!({ "kind": source.kind, "name": source.name }),
    );
    put(
        &mut spec,
        "verify",
        verify(
            a.verify_provider.as_deref(),
            &a.verify_secret_ref,
            &a.verify_oidc_issuer,
            &a.verify_subject,
            "",
        )?,
    );
    let _ = &a.common;
    let kind = kinds::HELM_CHART;
    let obj = super::object(
        &kind,
        common.metadata(&name, &global.namespace)?,
        Value::Object(spec),
    );
    // Flux prints this line before exporting too.
    log::generate("generating HelmChart source");
    if common.export {
        return export(&obj);
    }
    let what = "HelmChart source";
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let ready = apply_and_wait(&client, global, &kind, what, &obj, Readiness::Dynamic).await?;
        log::success(format!("{what} reconciliation completed"));
        fetched(
            &ready,
            "HelmChart source reconciliation completed but no artifact was found",
        )
    })
}

fn bucket(a: Bucket, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    if a.bucket_name.is_empty() {
        anyhow::bail!("bucket-name is required");
    }
    if a.endpoint.is_empty() {
        anyhow::bail!("endpoint is required");
    }
    let labels = common.labels()?;
    let mut spec = Map::new();
    put(&mut spec, "bucketName", a.bucket_name.as_str());
    put(&mut spec, "provider", a.provider.as_str());
    put(&mut spec, "insecure", a.insecure);
    put(&mut spec, "endpoint", a.endpoint.as_str());
    put(&mut spec, "region", a.region.as_str());
    put(&mut spec, "interval", common.interval());
    put(&mut spec, "ignore", ignore(&a.ignore_paths));
    a.source.put_timeout(&mut spec);
    put(&mut spec, "secretRef", secret_ref(&a.secret_ref));
    put(&mut spec, "proxySecretRef", secret_ref(&a.proxy_secret_ref));
    let kind = kinds::BUCKET;
    let mut obj = super::object(
        &kind,
        common.metadata(&name, &global.namespace)?,
        Value::Object(spec),
    );
    if common.export {
        return export(&obj);
    }
    let what = "Bucket source";
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        log::generate(format!("generating {what}"));
        if a.secret_ref.is_empty() && !a.access_key.is_empty() && !a.secret_key.is_empty() {
            let secret_name = format!("bucket-{name}");
            log::action("applying secret with the bucket credentials");
            let mut meta = json!({"name": secret_name, "namespace": global.namespace});
            if !labels.is_empty() {
                meta["labels"] = json!(labels);
            }
            let secret = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": meta,
                "stringData": {"accesskey": a.access_key, "secretkey": a.secret_key},
            });
            super::secret::upsert_secret(&client, &secret).await?;
            obj["spec"]["secretRef"] = json!({ "name": secret_name });
            log::success("authentication configured");
        }
        let ready = apply_and_wait(&client, global, &kind, what, &obj, Readiness::Dynamic).await?;
        log::success(format!("{what} reconciliation completed"));
        fetched(
            &ready,
            "Bucket source reconciliation but no artifact was found",
        )
    })
}
