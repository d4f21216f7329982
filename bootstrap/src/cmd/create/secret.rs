//! `gitops create secret git|helm|oci|tls|proxy|receiver|githubapp|notation`: generate a
//! Kubernetes Secret for Flux; with `--export` print it (values in `stringData`), otherwise
//! create or update it in the cluster as `flux create secret` does.

use super::Common;
use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::sourcesecret::{self, GitOptions, KeyAlgorithm, SecretMeta, TlsFiles};
use crate::cli::{Global, log};
use anyhow::{anyhow, bail};
use serde_json::Value;

/// The secret kinds.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create or update a Kubernetes secret for Git authentication.
    ///
    /// For Git over SSH, the host and SSH keys are automatically generated and stored in the
    /// secret. For Git over HTTP/S, the provided basic authentication credentials or bearer
    /// authentication token are stored in the secret.
    Git(Git),
    /// Create or update a Kubernetes secret for Helm repository authentication.
    Helm(Helm),
    /// Create or update a Kubernetes image pull secret.
    Oci(Oci),
    /// Create or update a Kubernetes secret with TLS certificates.
    Tls(Tls),
    /// Create or update a Kubernetes secret for proxy authentication.
    Proxy(Proxy),
    /// Create or update a Kubernetes secret for a Receiver webhook.
    ///
    /// The secret holds the token used for webhook payload validation and an annotation with
    /// the computed webhook URL.
    Receiver(Receiver),
    /// Create or update a github app secret.
    Githubapp(GitHubApp),
    /// Create or update a Kubernetes secret for verifications of artifacts signed by Notation.
    Notation(Notation),
}

/// `create secret git`.
#[derive(clap::Args)]
pub struct Git {
    /// Name.
    name: Option<String>,
    /// Git address, e.g. ssh://git@host/org/repository.
    #[arg(long, default_value = "")]
    url: String,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "")]
    username: String,
    /// Basic authentication password.
    #[arg(long, short = 'p', default_value = "")]
    password: String,
    #[command(flatten)]
    ssh_key: SshKeyFlags,
    /// Path to TLS CA certificate file used for validating self-signed certificates.
    #[arg(long, default_value = "")]
    ca_crt_file: String,
    /// Path to a passwordless private key file used for authenticating to the Git SSH server.
    #[arg(long, default_value = "")]
    private_key_file: String,
    /// Bearer authentication token.
    #[arg(long, default_value = "")]
    bearer_token: String,
}

/// `create secret helm`.
#[derive(clap::Args)]
pub struct Helm {
    /// Name.
    name: Option<String>,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "")]
    username: String,
    /// Basic authentication password.
    #[arg(long, short = 'p', default_value = "")]
    password: String,
    #[command(flatten)]
    tls: TlsFlags,
}

/// The TLS file flags of `create secret tls` and `create secret helm`.
#[derive(clap::Args)]
pub struct TlsFlags {
    /// TLS authentication cert file path.
    #[arg(long, default_value = "")]
    tls_crt_file: String,
    /// TLS authentication key file path.
    #[arg(long, default_value = "")]
    tls_key_file: String,
    /// TLS authentication CA file path.
    #[arg(long, default_value = "")]
    ca_crt_file: String,
}

/// `create secret oci`.
#[derive(clap::Args)]
pub struct Oci {
    /// Name.
    name: Option<String>,
    /// Oci repository address e.g ghcr.io/stefanprodan/charts.
    #[arg(long, default_value = "")]
    url: String,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "")]
    username: String,
    /// Basic authentication password.
    #[arg(long, short = 'p', default_value = "")]
    password: String,
}

/// `create secret tls`.
#[derive(clap::Args)]
pub struct Tls {
    /// Name.
    name: Option<String>,
    #[command(flatten)]
    tls: TlsFlags,
}

/// `create secret proxy`.
#[derive(clap::Args)]
pub struct Proxy {
    /// Name.
    name: Option<String>,
    /// Proxy address.
    #[arg(long, default_value = "")]
    address: String,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "")]
    username: String,
    /// Basic authentication password.
    #[arg(long, short = 'p', default_value = "")]
    password: String,
}

/// `create secret receiver`.
#[derive(clap::Args)]
pub struct Receiver {
    /// Name.
    name: Option<String>,
    /// The receiver type.
    #[arg(long = "type", value_parser = crate::cli::flags::receiver_type)]
    receiver_type: Option<String>,
    /// Webhook token used for payload validation and URL computation, auto-generated if not
    /// specified.
    #[arg(long, default_value = "")]
    token: String,
    /// Hostname for the webhook URL e.g. flux.example.com.
    #[arg(long, default_value = "")]
    hostname: String,
    /// IAM service account email, required for gcr type.
    #[arg(long, default_value = "")]
    email_claim: String,
    /// Custom OIDC token audience for gcr type, defaults to the webhook URL.
    #[arg(long, default_value = "")]
    audience_claim: String,
}

/// `create secret githubapp`.
#[derive(clap::Args)]
pub struct GitHubApp {
    /// Name.
    name: Option<String>,
    /// Github app ID.
    #[arg(long, default_value = "")]
    app_id: String,
    /// Github app installation owner (user or organization).
    #[arg(long, default_value = "")]
    app_installation_owner: String,
    /// Github app installation ID.
    #[arg(long, default_value = "")]
    app_installation_id: String,
    /// Github app private key file path.
    #[arg(long = "app-private-key", default_value = "")]
    private_key_file: String,
    /// Github app base URL.
    #[arg(long = "app-base-url", default_value = "")]
    base_url: String,
}

/// `create secret notation`.
#[derive(clap::Args)]
pub struct Notation {
    /// Name.
    name: Option<String>,
    /// Notation trust policy file path.
    #[arg(long, default_value = "")]
    trust_policy_file: String,
    /// Root ca cert file path.
    #[arg(long = "ca-cert-file", value_parser = string_slice)]
    ca_cert_files: Vec<StringSlice>,
}

/// `--ssh-key-algorithm` (Flux's `PublicKeyAlgorithm`).
/// The flags that choose a generated SSH key (`create secret git`, `create source git`,
/// `bootstrap git`), with Flux's checks.
#[derive(clap::Args, Clone, Debug)]
pub struct SshKeyFlags {
    /// SSH public key algorithm (rsa, ecdsa, ed25519).
    #[arg(long, default_value = "ecdsa", value_parser = key_algorithm)]
    ssh_key_algorithm: KeyAlgorithm,
    /// SSH RSA public key bit size (multiplies of 8, min 1024).
    #[arg(long, default_value = "2048", value_parser = rsa_bits)]
    ssh_rsa_bits: u32,
    /// SSH ECDSA public key curve (p256, p384, p521).
    #[arg(long, default_value = "p384", value_parser = ecdsa_curve)]
    ssh_ecdsa_curve: String,
}

impl SshKeyFlags {
    /// Sets the key choice in Git secret options.
    pub fn apply(&self, opts: &mut GitOptions) {
        opts.key_algorithm = self.ssh_key_algorithm;
        opts.rsa_bits = self.ssh_rsa_bits;
        opts.ecdsa_curve = self.ssh_ecdsa_curve.clone();
    }
}

fn key_algorithm(s: &str) -> Result<KeyAlgorithm, String> {
    match s {
        "rsa" => Ok(KeyAlgorithm::Rsa),
        "ecdsa" => Ok(KeyAlgorithm::Ecdsa),
        "ed25519" => Ok(KeyAlgorithm::Ed25519),
        s if s.trim().is_empty() => {
            Err("no public key algorithm given, must be one of: rsa, ecdsa, ed25519".into())
        }
        s => Err(format!(
            "unsupported public key algorithm '{s}', must be one of: rsa, ecdsa, ed25519"
        )),
    }
}

/// Go's `strconv.Atoi` with its error texts.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            sourcesecret::go_quote(s)
        ));
    }
    s.parse::<i64>().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: value out of range",
            sourcesecret::go_quote(s)
        )
    })
}

/// `--ssh-rsa-bits` (Flux's `RSAKeyBits`).
fn rsa_bits(s: &str) -> Result<u32, String> {
    if s.trim().is_empty() {
        return Ok(2048);
    }
    let bits = atoi(s)?;
    if bits < 1024 {
        return Err("RSA key bit size must be at least 1024".into());
    }
    if bits % 8 != 0 {
        return Err("RSA key bit size must be a multiples of 8".into());
    }
    u32::try_from(bits).map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: value out of range",
            sourcesecret::go_quote(s)
        )
    })
}

/// `--ssh-ecdsa-curve` (Flux's `ECDSACurve`).
fn ecdsa_curve(s: &str) -> Result<String, String> {
    match s {
        "p256" | "p384" | "p521" => Ok(s.to_owned()),
        s => Err(format!(
            "unsupported curve '{s}', must be one of: p256, p384, p521"
        )),
    }
}

/// A generated Secret and how Flux reports it.
struct Generated {
    secret: Value,
    /// `<what> secret '<name>' created in '<namespace>' namespace`.
    what: &'static str,
    /// Flux prints the export with `Println` (a blank line after it) except for `tls`.
    blank_line: bool,
}

/// Runs the command.
pub fn run(cmd: Command, common: &Common, global: &Global) -> anyhow::Result<()> {
    let generated = match cmd {
        Command::Git(a) => git(a, common, global)?,
        Command::Helm(a) => helm(a, common, global)?,
        Command::Oci(a) => oci(a, common, global)?,
        Command::Tls(a) => tls(a, common, global)?,
        Command::Proxy(a) => proxy(a, common, global)?,
        Command::Receiver(a) => receiver(a, common, global)?,
        Command::Githubapp(a) => github_app(a, common, global)?,
        Command::Notation(a) => notation(a, common, global)?,
    };
    let secret = &generated.secret;
    if common.export {
        use std::io::Write;
        let mut text = crate::cli::yaml::document(secret)?;
        if generated.blank_line {
            text.push('\n');
        }
        return std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| anyhow!("writing to stdout: {e}"));
    }
    if let Some(ppk) = secret["stringData"]["identity.pub"].as_str() {
        log::generate(format!("deploy key: {ppk}"));
    }
    crate::cli::global::block_on(with_timeout(global, async {
        let client = global.client().await?;
        upsert_secret(&client, secret).await
    }))?;
    log::action(format!(
        "{} secret '{}' created in '{}' namespace",
        generated.what,
        secret["metadata"]["name"].as_str().unwrap_or_default(),
        secret["metadata"]["namespace"].as_str().unwrap_or_default(),
    ));
    Ok(())
}

/// Runs `f` within `--timeout` (Go's `context deadline exceeded` when it takes longer).
pub async fn with_timeout<T>(
    global: &Global,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(global.timeout, f)
        .await
        .map_err(|_| anyhow!("context deadline exceeded"))?
}

/// Creates the Secret, or updates an existing one as Flux's `upsertSecret` does: its
/// `stringData` is written over the existing data, labels and annotations are added to the
/// existing ones, and keys the new Secret lacks stay.
pub async fn upsert_secret(client: &kube::Client, secret: &Value) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, PostParams};
    let desired: Secret = serde_json::from_value(secret.clone())?;
    let ns = desired.metadata.namespace.clone().unwrap_or_default();
    let name = desired.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    match api.get_opt(&name).await? {
        None => {
            api.create(&PostParams::default(), &desired).await?;
        }
        Some(mut existing) => {
            existing.string_data = desired.string_data;
            if let Some(annotations) = desired.metadata.annotations {
                existing
                    .metadata
                    .annotations
                    .get_or_insert_default()
                    .extend(annotations);
            }
            if let Some(labels) = desired.metadata.labels {
                existing
                    .metadata
                    .labels
                    .get_or_insert_default()
                    .extend(labels);
            }
            api.replace(&name, &PostParams::default(), &existing)
                .await?;
        }
    }
    Ok(())
}

fn meta(name: String, global: &Global, common: Option<&Common>) -> anyhow::Result<SecretMeta> {
    Ok(SecretMeta {
        name,
        namespace: global.namespace.clone(),
        labels: match common {
            Some(c) => c.labels()?,
            None => Default::default(),
        },
    })
}

fn read(path: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    sourcesecret::read_file(path).map_err(|e| anyhow!("{what}: {e}"))
}

fn git(a: Git, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let name = common.name(&a.name)?;
    if a.url.is_empty() {
        bail!("url is required");
    }
    let (scheme, host) =
        sourcesecret::parse_url(&a.url).map_err(|e| anyhow!("git URL parse failed: {e}"))?;
    let meta = meta(name, global, Some(common))?;
    let mut opts = GitOptions {
        name: meta.name,
        namespace: meta.namespace,
        labels: meta.labels,
        ..Default::default()
    };
    match scheme.as_str() {
        "ssh" => {
            if !a.private_key_file.is_empty() {
                let key = read(&a.private_key_file, "failed to open private key file")?;
                opts.private_key = Some(key);
            }
            opts.ssh_host = Some(host);
            a.ssh_key.apply(&mut opts);
            opts.password = a.password;
        }
        "http" | "https" => {
            if (a.username.is_empty() || a.password.is_empty()) && a.bearer_token.is_empty() {
                bail!(
                    "for Git over HTTP/S the username and password, or a bearer token is required"
                );
            }
            if !a.username.is_empty() && !a.password.is_empty() && !a.bearer_token.is_empty() {
                bail!("user credentials and bearer token cannot be used together");
            }
            opts.username = a.username;
            opts.password = a.password;
            opts.bearer_token = a.bearer_token;
            if !a.ca_crt_file.is_empty() {
                opts.ca_crt = Some(read(&a.ca_crt_file, "unable to read TLS CA file")?);
            }
        }
        other => bail!("git URL scheme '{other}' not supported, can be: ssh, http and https"),
    }
    Ok(Generated {
        secret: sourcesecret::git(&opts)?,
        what: "git",
        blank_line: true,
    })
}

fn tls_files(flags: &TlsFlags) -> anyhow::Result<TlsFiles> {
    let mut files = TlsFiles::default();
    if !flags.ca_crt_file.is_empty() {
        files.ca_crt = read(&flags.ca_crt_file, "unable to read TLS CA file")?;
    }
    if !flags.tls_crt_file.is_empty() {
        files.tls_crt = read(&flags.tls_crt_file, "failed to read cert file")?;
    }
    if !flags.tls_key_file.is_empty() {
        files.tls_key = read(&flags.tls_key_file, "failed to read key file")?;
    }
    Ok(files)
}

fn helm(a: Helm, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let meta = meta(common.name(&a.name)?, global, Some(common))?;
    let files = tls_files(&a.tls)?;
    Ok(Generated {
        secret: sourcesecret::helm(&meta, &a.username, &a.password, &files)?,
        what: "helm",
        blank_line: true,
    })
}

fn tls(a: Tls, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let meta = meta(common.name(&a.name)?, global, Some(common))?;
    let files = tls_files(&a.tls)?;
    Ok(Generated {
        secret: sourcesecret::tls(&meta, &files)?,
        what: "tls",
        blank_line: false,
    })
}

fn oci(a: Oci, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let name = common.name(&a.name)?;
    if a.url.is_empty() {
        bail!("--url is required");
    }
    if a.username.is_empty() {
        bail!("--username is required");
    }
    if a.password.is_empty() {
        bail!("--password is required");
    }
    if let Err(e) = check_reference(&a.url) {
        bail!("error parsing url: '{e}'");
    }
    // Flux sets no labels on OCI secrets.
    let meta = meta(name, global, None)?;
    Ok(Generated {
        secret: sourcesecret::oci(&meta, &a.url, &a.username, &a.password)?,
        what: "oci",
        blank_line: true,
    })
}

/// go-containerregistry's `name.ParseReference`: a tag or digest reference.
fn check_reference(s: &str) -> Result<(), String> {
    fn check_element(s: &str, allowed: &str, min: usize, max: usize) -> bool {
        let n = s.chars().count();
        n >= min && n <= max && s.chars().all(|c| allowed.contains(c))
    }
    fn repository(name: &str) -> bool {
        const REPO_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";
        if name.is_empty() {
            return false;
        }
        let (registry, repo) = match name.split_once('/') {
            Some((r, rest)) if r.contains(['.', ':']) => (r, rest),
            _ => ("", name),
        };
        if !check_element(repo, REPO_CHARS, 2, 255) {
            return false;
        }
        registry.is_empty()
            || (!registry.contains(['/', '?', '#', '@', ' '])
                && sourcesecret::parse_url(&format!("//{registry}"))
                    .is_ok_and(|(_, host)| host == registry))
    }
    let tag_ok = || {
        let (base, tag) = match s.rfind(':') {
            Some(i) if !s[i..].contains('/') => (&s[..i], &s[i + 1..]),
            _ => (s, "latest"),
        };
        const TAG_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
        check_element(tag, TAG_CHARS, 1, 128) && repository(base)
    };
    let digest_ok = || {
        let Some((base, digest)) = s.split_once('@') else {
            return false;
        };
        let hex_ok = digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        let base = match base.rfind(':') {
            Some(i) if !base[i..].contains('/') => &base[..i],
            _ => base,
        };
        hex_ok && repository(base)
    };
    if tag_ok() || digest_ok() {
        Ok(())
    } else {
        Err(format!("could not parse reference: {s}"))
    }
}

fn proxy(a: Proxy, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let meta = meta(common.name(&a.name)?, global, Some(common))?;
    if a.address.is_empty() {
        bail!("address is required");
    }
    Ok(Generated {
        secret: sourcesecret::proxy(&meta, &a.address, &a.username, &a.password)?,
        what: "proxy",
        blank_line: true,
    })
}

fn receiver(a: Receiver, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let name = common.name(&a.name)?;
    let receiver_type = a.receiver_type.unwrap_or_default();
    if receiver_type.is_empty() {
        bail!("--type is required");
    }
    if a.hostname.is_empty() {
        bail!("--hostname is required");
    }
    if receiver_type == "gcr" && a.email_claim.is_empty() {
        bail!("--email-claim is required for gcr receiver type");
    }
    let meta = meta(name, global, Some(common))?;
    let opts = sourcesecret::ReceiverOptions {
        receiver_type,
        token: a.token,
        hostname: a.hostname,
        email_claim: a.email_claim,
        audience_claim: a.audience_claim,
    };
    Ok(Generated {
        secret: sourcesecret::receiver(&meta, &opts)?,
        what: "receiver",
        blank_line: true,
    })
}

fn github_app(a: GitHubApp, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let name = common.name(&a.name)?;
    let key = read(&a.private_key_file, "unable to read private key file")?;
    // Flux sets no labels on GitHub App secrets.
    let meta = meta(name, global, None)?;
    let app = sourcesecret::GitHubApp {
        app_id: a.app_id,
        installation_owner: a.app_installation_owner,
        installation_id: a.app_installation_id,
        private_key: String::from_utf8_lossy(&key).into_owned(),
        base_url: a.base_url,
    };
    Ok(Generated {
        secret: sourcesecret::github_app(&meta, &app)?,
        what: "githubapp",
        blank_line: true,
    })
}

fn notation(a: Notation, common: &Common, global: &Global) -> anyhow::Result<Generated> {
    let name = common.name(&a.name)?;
    let ca_files = flatten(a.ca_cert_files);
    if ca_files.is_empty() {
        bail!("--ca-cert-file is required");
    }
    if a.trust_policy_file.is_empty() {
        bail!("--trust-policy-file is required");
    }
    let meta = meta(name, global, Some(common))?;
    let policy = read(&a.trust_policy_file, "unable to read trust policy file")?;
    trustpolicy::check(&a.trust_policy_file, &policy)?;
    let mut certs = Vec::new();
    let mut errors = Vec::new();
    for path in &ca_files {
        let file_name = std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| {
                if path.is_empty() {
                    ".".into()
                } else {
                    "/".into()
                }
            });
        if !file_name.ends_with(".crt") && !file_name.ends_with(".pem") {
            errors.push(format!("{file_name} must end with either .crt or .pem"));
            continue;
        }
        match sourcesecret::read_file(path) {
            Ok(data) => certs.push((file_name, data)),
            Err(e) => errors.push(format!("unable to read TLS CA file: {e}")),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    if certs.is_empty() {
        bail!("no CA certs found");
    }
    Ok(Generated {
        secret: sourcesecret::notation(&meta, &certs, &policy),
        what: "notation configuration",
        blank_line: true,
    })
}

/// Notation trust policy documents: decoding with Go's `encoding/json` error texts and
/// validation with notation-go's (v1.3) rules and texts.
mod trustpolicy {
    use crate::cli::sourcesecret::go_quote;
    use anyhow::{anyhow, bail};
    use serde_json::{Map, Value};

    /// Checks a trust policy file as `flux create secret notation` does.
    pub fn check(path: &str, data: &[u8]) -> anyhow::Result<()> {
        let doc =
            decode(data).map_err(|e| anyhow!("failed to unmarshal trust policy {path}: {e}"))?;
        doc.validate()
            .map_err(|e| anyhow!("invalid trust policy: {e}"))
    }

    #[derive(Debug, Default)]
    pub struct Document {
        version: String,
        policies: Vec<Policy>,
    }

    #[derive(Debug, Default)]
    struct Policy {
        name: String,
        registry_scopes: Vec<String>,
        level: String,
        overrides: Vec<(String, String)>,
        verify_timestamp: String,
        trust_stores: Vec<String>,
        trusted_identities: Vec<String>,
    }

    /// Decodes a document as `json.Unmarshal` into notation-go's `trustpolicy.Document`.
    pub fn decode(data: &[u8]) -> Result<Document, String> {
        go_json::validate(data)?;
        let value: Value = match serde_json::from_slice(data) {
            Ok(v) => v,
            Err(_) => {
                serde_json::from_str(&String::from_utf8_lossy(data)).map_err(|e| e.to_string())?
            }
        };
        let mut d = Decoder::default();
        let doc = d.document(&value);
        match d.err {
            Some(e) => Err(e),
            None => Ok(doc),
        }
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Go's decoder: the first type error is kept, decoding goes on.
    #[derive(Default)]
    struct Decoder {
        err: Option<String>,
        stack: Vec<&'static str>,
        strukt: &'static str,
    }

    impl Decoder {
        fn type_error(&mut self, v: &Value, ty: &str) {
            if self.err.is_some() {
                return;
            }
            self.err = Some(if self.stack.is_empty() {
                format!(
                    "json: cannot unmarshal {} into Go value of type {ty}",
                    kind(v)
                )
            } else {
                format!(
                    "json: cannot unmarshal {} into Go struct field {}.{} of type {ty}",
                    kind(v),
                    self.strukt,
                    self.stack.join(".")
                )
            });
        }

        /// The fields of an object matched to `names` as Go matches struct fields (exact,
        /// then case-insensitive); calls `f` with the field index and value.
        fn fields(
            &mut self,
            obj: &Map<String, Value>,
            strukt: &'static str,
            names: &[&'static str],
            mut f: impl FnMut(&mut Self, usize, &Value),
        ) {
            for (key, value) in obj {
                let index = names
                    .iter()
                    .position(|n| n == key)
                    .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(key)));
                let Some(i) = index else { continue };
                let saved = (self.stack.len(), self.strukt);
                self.stack.push(names[i]);
                self.strukt = strukt;
                f(self, i, value);
                self.stack.truncate(saved.0);
                self.strukt = saved.1;
            }
        }

        fn string(&mut self, v: &Value, ty: &str) -> String {
            match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                v => {
                    self.type_error(v, ty);
                    String::new()
                }
            }
        }

        fn strings(&mut self, v: &Value) -> Vec<String> {
            match v {
                Value::Array(items) => items.iter().map(|i| self.string(i, "string")).collect(),
                Value::Null => Vec::new(),
                v => {
                    self.type_error(v, "[]string");
                    Vec::new()
                }
            }
        }

        fn document(&mut self, v: &Value) -> Document {
            let mut doc = Document::default();
            let obj = match v {
                Value::Object(o) => o,
                Value::Null => return doc,
                v => {
                    self.type_error(v, "trustpolicy.Document");
                    return doc;
                }
            };
            self.fields(
                obj,
                "Document",
                &["version", "trustPolicies"],
                |d, i, v| match i {
                    0 => doc.version = d.string(v, "string"),
                    _ => match v {
                        Value::Array(items) => {
                            doc.policies = items.iter().map(|p| d.policy(p)).collect();
                        }
                        Value::Null => doc.policies.clear(),
                        v => d.type_error(v, "[]trustpolicy.TrustPolicy"),
                    },
                },
            );
            doc
        }

        fn policy(&mut self, v: &Value) -> Policy {
            let mut p = Policy::default();
            let obj = match v {
                Value::Object(o) => o,
                Value::Null => return p,
                v => {
                    self.type_error(v, "trustpolicy.TrustPolicy");
                    return p;
                }
            };
            let names = [
                "name",
                "registryScopes",
                "signatureVerification",
                "trustStores",
                "trustedIdentities",
            ];
            self.fields(obj, "TrustPolicy", &names, |d, i, v| match i {
                0 => p.name = d.string(v, "string"),
                1 => p.registry_scopes = d.strings(v),
                2 => d.verification(v, &mut p),
                3 => p.trust_stores = d.strings(v),
                _ => p.trusted_identities = d.strings(v),
            });
            p
        }

        fn verification(&mut self, v: &Value, p: &mut Policy) {
            let obj = match v {
                Value::Object(o) => o,
                Value::Null => return,
                v => return self.type_error(v, "trustpolicy.SignatureVerification"),
            };
            let names = ["level", "override", "verifyTimestamp"];
            self.fields(obj, "SignatureVerification", &names, |d, i, v| match i {
                0 => p.level = d.string(v, "string"),
                1 => match v {
                    Value::Object(o) => {
                        for (k, v) in o {
                            let action = d.string(v, "trustpolicy.ValidationAction");
                            p.overrides.retain(|(key, _)| key != k);
                            p.overrides.push((k.clone(), action));
                        }
                    }
                    Value::Null => p.overrides.clear(),
                    v => d.type_error(
                        v,
                        "map[trustpolicy.ValidationType]trustpolicy.ValidationAction",
                    ),
                },
                _ => p.verify_timestamp = d.string(v, "trustpolicy.TimestampOption"),
            });
        }
    }

    const VALIDATION_TYPES: [&str; 5] = [
        "integrity",
        "authenticity",
        "authenticTimestamp",
        "expiry",
        "revocation",
    ];
    const VALIDATION_ACTIONS: [&str; 3] = ["enforce", "log", "skip"];

    fn go_quote_list(items: &[&str]) -> String {
        let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
        format!("[{}]", quoted.join(" "))
    }

    impl Document {
        /// notation-go's `Document.Validate`.
        pub fn validate(&self) -> anyhow::Result<()> {
            if self.version.is_empty() {
                bail!("trust policy document has empty version, version must be specified");
            }
            if self.version != "1.0" {
                bail!(
                    "trust policy document uses unsupported version {}",
                    go_quote(&self.version)
                );
            }
            if self.policies.is_empty() {
                bail!("trust policy document can not have zero trust policy statements");
            }
            let mut names: Vec<&str> = Vec::new();
            for p in &self.policies {
                if names.contains(&p.name.as_str()) {
                    bail!(
                        "multiple trust policy statements use the same name {}, statement names must be unique",
                        go_quote(&p.name)
                    );
                }
                p.validate_core()
                    .map_err(|e| anyhow!("trust policy: {e}"))?;
                names.push(&p.name);
            }
            self.validate_registry_scopes()
        }

        fn validate_registry_scopes(&self) -> anyhow::Result<()> {
            let mut seen: Vec<(&str, usize)> = Vec::new();
            for p in &self.policies {
                let name = go_quote(&p.name);
                if p.registry_scopes.is_empty() {
                    bail!(
                        "trust policy statement {name} has zero registry scopes, it must specify registry scopes with at least one value"
                    );
                }
                if p.registry_scopes.len() > 1 && p.registry_scopes.iter().any(|s| s == "*") {
                    bail!(
                        "trust policy statement {name} uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values"
                    );
                }
                for scope in &p.registry_scopes {
                    if scope != "*" {
                        registry_scope_format(scope)?;
                    }
                    match seen.iter_mut().find(|(s, _)| s == scope) {
                        Some(entry) => entry.1 += 1,
                        None => seen.push((scope, 1)),
                    }
                }
            }
            if let Some((scope, _)) = seen.iter().find(|(_, n)| *n > 1) {
                bail!(
                    "registry scope {} is present in multiple trust policy statements, one registry scope value can only be associated with one statement",
                    go_quote(scope)
                );
            }
            Ok(())
        }
    }

    fn registry_scope_format(scope: &str) -> anyhow::Result<()> {
        let ensure = "make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout";
        if scope.chars().count() > 1 && scope.contains('*') {
            bail!(
                "registry scope {} with wild card(s) is not valid, {ensure}",
                go_quote(scope)
            );
        }
        let domain = regex::Regex::new(
            r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$",
        )?;
        let repository = regex::Regex::new(
            r"^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$",
        )?;
        let valid = scope.split_once('/').is_some_and(|(d, r)| {
            !d.is_empty() && !r.is_empty() && domain.is_match(d) && repository.is_match(r)
        });
        if !valid {
            bail!("registry scope {} is not valid, {ensure}", go_quote(scope));
        }
        Ok(())
    }

    impl Policy {
        /// The verification level's name (`custom` with overrides).
        fn level_name(&self) -> Result<&str, String> {
            if self.level.is_empty() {
                return Err(
                    "signature verification level is empty or missing in the trust policy statement"
                        .into(),
                );
            }
            if !["strict", "permissive", "audit", "skip"].contains(&self.level.as_str()) {
                return Err(format!(
                    "invalid signature verification level {}",
                    go_quote(&self.level)
                ));
            }
            if self.overrides.is_empty() {
                return Ok(&self.level);
            }
            if self.level == "skip" {
                return Err(format!(
                    "signature verification level {} can't be used to customize signature verification",
                    go_quote(&self.level)
                ));
            }
            for (key, value) in &self.overrides {
                if !VALIDATION_TYPES.contains(&key.as_str()) {
                    return Err(format!(
                        "verification type {} in custom signature verification is not supported, supported values are {}",
                        go_quote(key),
                        go_quote_list(&VALIDATION_TYPES)
                    ));
                }
                if !VALIDATION_ACTIONS.contains(&value.as_str()) {
                    return Err(format!(
                        "verification action {} in custom signature verification is not supported, supported values are {}",
                        go_quote(value),
                        go_quote_list(&VALIDATION_ACTIONS)
                    ));
                }
                if key == "integrity" {
                    return Err(format!(
                        "{} verification can not be overridden in custom signature verification",
                        go_quote(key)
                    ));
                }
                if key != "revocation" && value == "skip" {
                    return Err(format!(
                        "{} verification can not be skipped in custom signature verification",
                        go_quote(key)
                    ));
                }
            }
            Ok("custom")
        }

        fn validate_core(&self) -> anyhow::Result<()> {
            if self.name.is_empty() {
                bail!(
                    "a trust policy statement is missing a name, every statement requires a name"
                );
            }
            let name = go_quote(&self.name);
            let level = self.level_name().map_err(|e| {
                anyhow!("trust policy statement {name} has invalid signatureVerification: {e}")
            })?;
            let ts = &self.verify_timestamp;
            if !ts.is_empty() && ts != "always" && ts != "afterCertExpiry" {
                bail!(
                    "trust policy statement {name} has invalid signatureVerification: verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got {}",
                    go_quote(ts)
                );
            }
            if level == "skip" {
                if !self.trust_stores.is_empty() || !self.trusted_identities.is_empty() {
                    bail!(
                        "trust policy statement {name} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped"
                    );
                }
                return Ok(());
            }
            if self.trust_stores.is_empty() || self.trusted_identities.is_empty() {
                bail!(
                    "trust policy statement {name} is either missing trust stores or trusted identities, both must be specified"
                );
            }
            for store in &self.trust_stores {
                let Some((kind, store_name)) = store.split_once(':') else {
                    bail!(
                        "trust policy statement {name} has malformed trust store value {}. The required format is <TrustStoreType>:<TrustStoreName>",
                        go_quote(store)
                    );
                };
                if !["ca", "signingAuthority", "tsa"].contains(&kind) {
                    bail!(
                        "trust policy statement {name} uses an unsupported trust store type {} in trust store value {}",
                        go_quote(kind),
                        go_quote(store)
                    );
                }
                let valid = !store_name.is_empty()
                    && store_name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !valid {
                    bail!(
                        "trust policy statement {name} uses an unsupported trust store name {} in trust store value {}. Named store name needs to follow [a-zA-Z0-9_.-]+ format",
                        go_quote(store_name),
                        go_quote(store)
                    );
                }
            }
            self.validate_identities(&name)
        }

        fn validate_identities(&self, name: &str) -> anyhow::Result<()> {
            let ids = &self.trusted_identities;
            if ids.len() > 1 && ids.iter().any(|i| i == "*") {
                bail!(
                    "trust policy statement {name} uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values"
                );
            }
            let mut parsed: Vec<(&str, Vec<(String, String)>)> = Vec::new();
            for identity in ids {
                if identity.is_empty() {
                    bail!("trust policy statement {name} has an empty trusted identity");
                }
                if identity == "*" {
                    continue;
                }
                let Some((prefix, value)) = identity.split_once(':') else {
                    bail!(
                        "trust policy statement {name} has trusted identity {} missing separator",
                        go_quote(identity)
                    );
                };
                if prefix == "x509.subject" {
                    if value.is_empty() {
                        bail!(
                            "trust policy statement {name} has trusted identity {} without an identity value",
                            go_quote(identity)
                        );
                    }
                    let dn = parse_dn(value).map_err(|e| {
                        anyhow!(
                            "trust policy statement {name} has trusted identity {} with invalid identity value: {e}",
                            go_quote(identity)
                        )
                    })?;
                    parsed.push((identity, dn));
                }
            }
            for (i, (raw1, dn1)) in parsed.iter().enumerate() {
                for (j, (raw2, dn2)) in parsed.iter().enumerate() {
                    let subset = dn1.iter().all(|(k, v)| {
                        dn2.iter().find(|(k2, _)| k2 == k).map(|(_, v2)| v2) == Some(v)
                    });
                    if i != j && subset {
                        bail!(
                            "trust policy statement {name} has overlapping x509 trustedIdentities, {} overlaps with {}",
                            go_quote(raw1),
                            go_quote(raw2)
                        );
                    }
                }
            }
            Ok(())
        }
    }

    /// notation-go's `ParseDistinguishedName` over an RFC 4514 DN: single-valued, unique
    /// attributes, with `C`, `ST` (or `S`) and `O`.
    fn parse_dn(name: &str) -> Result<Vec<(String, String)>, String> {
        let q = go_quote(name);
        if name.contains("=#") {
            return Err(format!(
                "unsupported distinguished name (DN) {q}: notation does not support x509.subject identities containing \"=#\""
            ));
        }
        let rdns = split_dn(name).map_err(|e| {
            format!(
                "parsing distinguished name (DN) {q} failed with err: {e}. A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
            )
        })?;
        let mut attrs: Vec<(String, String)> = Vec::new();
        for rdn in rdns {
            if rdn.len() > 1 {
                return Err(format!(
                    "distinguished name (DN) {q} has multi-valued RDN attributes, remove multi-valued RDN attributes as they are not supported"
                ));
            }
            for (mut key, value) in rdn {
                if key == "S" {
                    key = "ST".into();
                }
                match attrs.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) if !v.is_empty() => {
                        return Err(format!(
                            "distinguished name (DN) {q} has duplicate RDN attribute for {}, DN can only have unique RDN attributes",
                            go_quote(&key)
                        ));
                    }
                    _ => {
                        attrs.retain(|(k, _)| *k != key);
                        attrs.push((key, value));
                    }
                }
            }
        }
        for field in ["C", "ST", "O"] {
            if !attrs.iter().any(|(k, v)| k == field && !v.is_empty()) {
                return Err(format!(
                    "distinguished name (DN) {q} has no mandatory RDN attribute for {}, it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum",
                    go_quote(field)
                ));
            }
        }
        Ok(attrs)
    }

    type Rdn = Vec<(String, String)>;

    /// Splits a DN into RDNs of `type=value` attributes (`,`/`;` between RDNs, `+` inside
    /// one; `\` escapes and quoted values).
    fn split_dn(dn: &str) -> Result<Vec<Rdn>, String> {
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut key = String::new();
        let mut value = String::new();
        let mut in_value = false;
        let mut quoted = false;
        let mut chars = dn.chars().peekable();
        let finish = |key: &mut String, value: &mut String, rdn: &mut Rdn| -> Result<(), String> {
            let k = key.trim().to_owned();
            if k.is_empty() {
                return Err("incomplete type, value pair".into());
            }
            rdn.push((k, value.trim().to_owned()));
            key.clear();
            value.clear();
            Ok(())
        };
        if dn.trim().is_empty() {
            return Ok(rdns);
        }
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let Some(next) = chars.next() else {
                        return Err("got corrupted escaped character".into());
                    };
                    let target = if in_value { &mut value } else { &mut key };
                    if next.is_ascii_hexdigit()
                        && let Some(lo) = chars.peek().copied().filter(char::is_ascii_hexdigit)
                    {
                        chars.next();
                        let byte = u8::from_str_radix(&format!("{next}{lo}"), 16)
                            .map_err(|e| e.to_string())?;
                        target.push(char::from(byte));
                    } else {
                        target.push(next);
                    }
                }
                '"' if in_value => quoted = !quoted,
                '=' if !in_value => in_value = true,
                '+' | ',' | ';' if !quoted => {
                    if !in_value {
                        return Err("incomplete type, value pair".into());
                    }
                    finish(&mut key, &mut value, &mut rdn)?;
                    in_value = false;
                    if c != '+' {
                        rdns.push(std::mem::take(&mut rdn));
                    }
                }
                c if in_value => value.push(c),
                c => key.push(c),
            }
        }
        if !in_value {
            return Err("DN ended with incomplete type, value pair".into());
        }
        finish(&mut key, &mut value, &mut rdn)?;
        rdns.push(rdn);
        Ok(rdns)
    }

    /// Go's `encoding/json` syntax check (`checkValid`) with its error texts.
    mod go_json {
        use crate::cli::sourcesecret::go_quote;

        struct Scanner<'a> {
            b: &'a [u8],
            i: usize,
            depth: usize,
        }

        const EOF: &str = "unexpected end of JSON input";

        fn quote_char(c: u8) -> String {
            match c {
                b'\'' => "'\\''".into(),
                b'"' => "'\"'".into(),
                c => {
                    let q = go_quote(&char::from(c).to_string());
                    format!("'{}'", &q[1..q.len() - 1])
                }
            }
        }

        fn invalid(c: u8, context: &str) -> String {
            format!("invalid character {} {context}", quote_char(c))
        }

        /// Checks that `data` is one JSON value.
        pub fn validate(data: &[u8]) -> Result<(), String> {
            let mut s = Scanner {
                b: data,
                i: 0,
                depth: 0,
            };
            s.ws();
            s.value()?;
            s.ws();
            match s.peek() {
                Some(c) => Err(invalid(c, "after top-level value")),
                None => Ok(()),
            }
        }

        impl Scanner<'_> {
            fn peek(&self) -> Option<u8> {
                self.b.get(self.i).copied()
            }

            fn next(&mut self) -> Result<u8, String> {
                let c = self.peek().ok_or(EOF)?;
                self.i += 1;
                Ok(c)
            }

            fn ws(&mut self) {
                while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                    self.i += 1;
                }
            }

            fn value(&mut self) -> Result<(), String> {
                match self.next()? {
                    b'{' => self.nested(Self::object),
                    b'[' => self.nested(Self::array),
                    b'"' => self.string(),
                    c @ (b'-' | b'0'..=b'9') => self.number(c),
                    b't' => self.literal(b"rue", "true"),
                    b'f' => self.literal(b"alse", "false"),
                    b'n' => self.literal(b"ull", "null"),
                    c => Err(invalid(c, "looking for beginning of value")),
                }
            }

            fn nested(&mut self, f: fn(&mut Self) -> Result<(), String>) -> Result<(), String> {
                self.depth += 1;
                if self.depth > 10000 {
                    return Err("exceeded max depth".into());
                }
                let r = f(self);
                self.depth -= 1;
                r
            }

            fn object(&mut self) -> Result<(), String> {
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    match self.next()? {
                        b'"' => self.string()?,
                        c => return Err(invalid(c, "looking for beginning of object key string")),
                    }
                    self.ws();
                    match self.next()? {
                        b':' => {}
                        c => return Err(invalid(c, "after object key")),
                    }
                    self.ws();
                    self.value()?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Ok(()),
                        c => return Err(invalid(c, "after object key:value pair")),
                    }
                }
            }

            fn array(&mut self) -> Result<(), String> {
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value()?;
                    self.ws();
                    match self.next()? {
                        b',' => {}
                        b']' => return Ok(()),
                        c => return Err(invalid(c, "after array element")),
                    }
                }
            }

            fn string(&mut self) -> Result<(), String> {
                loop {
                    match self.next()? {
                        b'"' => return Ok(()),
                        b'\\' => match self.next()? {
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                            b'u' => {
                                for _ in 0..4 {
                                    let c = self.next()?;
                                    if !c.is_ascii_hexdigit() {
                                        return Err(invalid(
                                            c,
                                            "in \\u hexadecimal character escape",
                                        ));
                                    }
                                }
                            }
                            c => return Err(invalid(c, "in string escape code")),
                        },
                        c if c < 0x20 => return Err(invalid(c, "in string literal")),
                        _ => {}
                    }
                }
            }

            fn digits(&mut self) {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }

            fn number(&mut self, first: u8) -> Result<(), String> {
                let first = if first == b'-' {
                    match self.next()? {
                        c @ b'0'..=b'9' => c,
                        c => return Err(invalid(c, "in numeric literal")),
                    }
                } else {
                    first
                };
                if first != b'0' {
                    self.digits();
                }
                if self.peek() == Some(b'.') {
                    self.i += 1;
                    match self.next()? {
                        b'0'..=b'9' => self.digits(),
                        c => return Err(invalid(c, "after decimal point in numeric literal")),
                    }
                }
                if matches!(self.peek(), Some(b'e' | b'E')) {
                    self.i += 1;
                    if matches!(self.peek(), Some(b'+' | b'-')) {
                        self.i += 1;
                    }
                    match self.next()? {
                        b'0'..=b'9' => self.digits(),
                        c => return Err(invalid(c, "in exponent of numeric literal")),
                    }
                }
                Ok(())
            }

            fn literal(&mut self, rest: &[u8], word: &str) -> Result<(), String> {
                for &expected in rest {
                    let c = self.next()?;
                    if c != expected {
                        return Err(invalid(
                            c,
                            &format!("in literal {word} (expecting {})", quote_char(expected)),
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn err(json: &str) -> String {
            match decode(json.as_bytes()) {
                Err(e) => e,
                Ok(doc) => doc.validate().unwrap_err().to_string(),
            }
        }

        #[test]
        fn go_json_errors() {
            assert_eq!(
                err("\"\""),
                "json: cannot unmarshal string into Go value of type trustpolicy.Document"
            );
            assert_eq!(err(""), "unexpected end of JSON input");
            assert_eq!(err("{"), "unexpected end of JSON input");
            assert_eq!(
                err("x"),
                "invalid character 'x' looking for beginning of value"
            );
            assert_eq!(err("{} x"), "invalid character 'x' after top-level value");
            assert_eq!(err("{\"a\" 1}"), "invalid character '1' after object key");
            assert_eq!(
                err("{\"a\":1 2}"),
                "invalid character '2' after object key:value pair"
            );
            assert_eq!(err("[1 2]"), "invalid character '2' after array element");
            assert_eq!(
                err("{1:2}"),
                "invalid character '1' looking for beginning of object key string"
            );
            assert_eq!(err("tru"), "unexpected end of JSON input");
            assert_eq!(
                err("trux"),
                "invalid character 'x' in literal true (expecting 'e')"
            );
            assert_eq!(err("-x"), "invalid character 'x' in numeric literal");
            assert_eq!(
                err("{\"version\": 1}"),
                "json: cannot unmarshal number into Go struct field Document.version of type string"
            );
            assert_eq!(
                err("{\"trustPolicies\": [{\"name\": true}]}"),
                "json: cannot unmarshal bool into Go struct field TrustPolicy.trustPolicies.name of type string"
            );
            assert_eq!(
                err("{\"trustPolicies\": {}}"),
                "json: cannot unmarshal object into Go struct field Document.trustPolicies of type []trustpolicy.TrustPolicy"
            );
        }

        const GOOD: &str = r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:x"], "trustedIdentities": ["*"]}]}"#;

        #[test]
        fn validation_rules() {
            assert!(decode(GOOD.as_bytes()).unwrap().validate().is_ok());
            assert_eq!(
                err(r#"{"version": "1.0", "trustPolicies": [{}]}"#),
                "trust policy: a trust policy statement is missing a name, every statement requires a name"
            );
            assert_eq!(
                err(r#"{"trustPolicies": [{}]}"#),
                "trust policy document has empty version, version must be specified"
            );
            assert_eq!(
                err(&GOOD.replace("strict", "lax")),
                "trust policy: trust policy statement \"a\" has invalid signatureVerification: invalid signature verification level \"lax\""
            );
            assert_eq!(
                err(&GOOD.replace("ca:x", "ca")),
                "trust policy: trust policy statement \"a\" has malformed trust store value \"ca\". The required format is <TrustStoreType>:<TrustStoreName>"
            );
            assert_eq!(
                err(&GOOD.replace("[\"*\"]}", "[\"x509.subject:CN=x\"]}")),
                "trust policy: trust policy statement \"a\" has trusted identity \"x509.subject:CN=x\" with invalid identity value: distinguished name (DN) \"CN=x\" has no mandatory RDN attribute for \"C\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
            );
            assert!(
                decode(
                    GOOD.replace("[\"*\"]}", "[\"x509.subject:C=US, ST=WA, O=acme\"]}")
                        .as_bytes()
                )
                .unwrap()
                .validate()
                .is_ok()
            );
            assert_eq!(
                err(&GOOD.replace("[\"*\"],", "[\"bad\"],")),
                "registry scope \"bad\" is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout"
            );
            assert!(
                decode(
                    GOOD.replace("[\"*\"],", "[\"ghcr.io/org/repo\"],")
                        .as_bytes()
                )
                .unwrap()
                .validate()
                .is_ok()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values() {
        assert_eq!(rsa_bits("").unwrap(), 2048);
        assert_eq!(rsa_bits("4096").unwrap(), 4096);
        assert_eq!(
            rsa_bits("abc").unwrap_err(),
            "strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            rsa_bits("512").unwrap_err(),
            "RSA key bit size must be at least 1024"
        );
        assert_eq!(
            rsa_bits("1025").unwrap_err(),
            "RSA key bit size must be a multiples of 8"
        );
        assert!(key_algorithm("dsa").is_err());
        assert!(crate::cli::flags::receiver_type("github").is_ok());
    }

    #[test]
    fn references() {
        for ok in [
            "ghcr.io",
            "ghcr.io/stefanprodan/charts",
            "localhost:5000/xy:v1",
            "r.io/xy@sha256:0123456789012345678901234567890123456789012345678901234567890123",
        ] {
            assert!(check_reference(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ghcr.io/Foo", "x:!", "a", "localhost:5000/x:v1"] {
            assert_eq!(
                check_reference(bad).unwrap_err(),
                format!("could not parse reference: {bad}")
            );
        }
    }
}
