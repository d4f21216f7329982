//! Secrets with credentials, as Flux's `sourcesecret` package generates them: Git (SSH key
//! pairs with the server's host key, basic auth, bearer tokens, CA bundles), Helm, OCI
//! registries, TLS, proxies, GitHub Apps, Notation and Receivers. Each generator returns the
//! Secret manifest as JSON with its values in `stringData`, the keys named as Flux names them.
//!
//! SSH keys are generated with OpenSSL (PKCS#8 PEM, as Flux writes them) and existing keys
//! are read in every format Go's `x/crypto/ssh` reads (PKCS#1, SEC1, PKCS#8, legacy encrypted
//! PEM and OpenSSH, with or without a passphrase). Host keys come from `ssh-keyscan`, the
//! server's preferred key picked the way Go's SSH client picks it.

use anyhow::bail;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::process::Command;

const KEY_USERNAME: &str = "username";
const KEY_PASSWORD: &str = "password";
const KEY_CA: &str = "ca.crt";
const KEY_TLS_CRT: &str = "tls.crt";
const KEY_TLS_KEY: &str = "tls.key";
const KEY_IDENTITY: &str = "identity";
const KEY_IDENTITY_PUB: &str = "identity.pub";
const KEY_KNOWN_HOSTS: &str = "known_hosts";
const KEY_BEARER_TOKEN: &str = "bearerToken";
const KEY_ADDRESS: &str = "address";
const KEY_TRUST_POLICY: &str = "trustpolicy.json";
const KEY_TOKEN: &str = "token";
const KEY_EMAIL: &str = "email";
const KEY_AUDIENCE: &str = "audience";

/// The annotation of a receiver Secret holding the computed webhook URL.
pub const WEBHOOK_URL_ANNOTATION: &str = "notification.toolkit.fluxcd.io/webhook";

/// SSH private key algorithms `--ssh-key-algorithm` offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with `--ssh-rsa-bits`.
    Rsa,
    /// ECDSA with `--ssh-ecdsa-curve` (Flux's default, P-384).
    #[default]
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

/// What a Git credentials Secret holds.
#[derive(Clone, Default)]
pub struct GitOptions {
    /// Secret name.
    pub name: String,
    /// Secret namespace.
    pub namespace: String,
    /// Secret labels.
    pub labels: BTreeMap<String, String>,
    /// Basic auth username.
    pub username: String,
    /// Basic auth password (or the private key's passphrase for SSH).
    pub password: String,
    /// Bearer token.
    pub bearer_token: String,
    /// CA bundle (`ca.crt`).
    pub ca_crt: Option<Vec<u8>>,
    /// For SSH: `host[:port]` whose host keys go into `known_hosts`.
    pub ssh_host: Option<String>,
    /// For SSH: an existing private key (PEM/OpenSSH); generated when `None`.
    pub private_key: Option<Vec<u8>>,
    /// Algorithm of a generated key.
    pub key_algorithm: KeyAlgorithm,
    /// RSA key size (0: 2048).
    pub rsa_bits: u32,
    /// ECDSA curve: `p256`, `p384` (also when empty), `p521`.
    pub ecdsa_curve: String,
}

impl std::fmt::Debug for GitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitOptions")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("username", &self.username)
            .field(
                "password",
                &(!self.password.is_empty()).then_some("<redacted>"),
            )
            .field(
                "bearer_token",
                &(!self.bearer_token.is_empty()).then_some("<redacted>"),
            )
            .field("ssh_host", &self.ssh_host)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("key_algorithm", &self.key_algorithm)
            .finish_non_exhaustive()
    }
}

/// Name, namespace and labels of a generated Secret.
#[derive(Clone, Debug, Default)]
pub struct SecretMeta {
    /// Secret name.
    pub name: String,
    /// Secret namespace.
    pub namespace: String,
    /// Labels (`--label`).
    pub labels: BTreeMap<String, String>,
}

/// A Secret manifest; `stringData` and `type` are left out when empty, as Flux's are.
pub fn secret(meta: &SecretMeta, type_: &str, data: BTreeMap<String, String>) -> Value {
    let mut metadata = Map::new();
    if !meta.labels.is_empty() {
        metadata.insert("labels".into(), json!(meta.labels));
    }
    metadata.insert("name".into(), json!(meta.name));
    metadata.insert("namespace".into(), json!(meta.namespace));
    let mut obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata});
    if !data.is_empty() {
        obj["stringData"] = json!(data);
    }
    if !type_.is_empty() {
        obj["type"] = json!(type_);
    }
    obj
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The Git credentials Secret (Flux's `GenerateGit`): basic auth, bearer token and CA for
/// HTTP/S; for SSH a loaded or generated key pair with the server's host key.
pub fn git(opts: &GitOptions) -> anyhow::Result<Value> {
    let basic = !opts.username.is_empty() && !opts.password.is_empty();
    let keypair = if basic {
        None
    } else if let Some(key) = &opts.private_key {
        Some(load_key_pair(key, &opts.password)?)
    } else if opts.ssh_host.is_some() {
        Some(generate_key_pair(
            opts.key_algorithm,
            opts.rsa_bits,
            &opts.ecdsa_curve,
        )?)
    } else {
        None
    };
    let host_key = match &keypair {
        Some(_) => scan_host_key(opts.ssh_host.as_deref().unwrap_or_default())?,
        None => String::new(),
    };
    let mut data = BTreeMap::new();
    if basic {
        data.insert(KEY_USERNAME.into(), opts.username.clone());
        data.insert(KEY_PASSWORD.into(), opts.password.clone());
    }
    if !opts.bearer_token.is_empty() {
        data.insert(KEY_BEARER_TOKEN.into(), opts.bearer_token.clone());
    }
    if let Some(ca) = opts.ca_crt.as_deref().filter(|c| !c.is_empty()) {
        data.insert(KEY_CA.into(), text(ca));
    }
    if let Some(kp) = keypair.filter(|_| !host_key.is_empty()) {
        data.insert(KEY_IDENTITY.into(), kp.private_key);
        data.insert(KEY_IDENTITY_PUB.into(), kp.public_key);
        data.insert(KEY_KNOWN_HOSTS.into(), host_key);
        if !opts.password.is_empty() {
            data.insert(KEY_PASSWORD.into(), opts.password.clone());
        }
    }
    let meta = SecretMeta {
        name: opts.name.clone(),
        namespace: opts.namespace.clone(),
        labels: opts.labels.clone(),
    };
    Ok(secret(&meta, "", data))
}

/// TLS material for [`tls`] and [`helm`].
#[derive(Clone, Default)]
pub struct TlsFiles {
    /// CA bundle (`ca.crt`).
    pub ca_crt: Vec<u8>,
    /// Client certificate (`tls.crt`).
    pub tls_crt: Vec<u8>,
    /// Client key (`tls.key`).
    pub tls_key: Vec<u8>,
}

/// A TLS Secret (fluxcd/pkg `MakeTLSSecret`): a CA, a client certificate pair, or both; the
/// pair must match.
fn tls_secret(meta: &SecretMeta, files: &TlsFiles, with_pair: bool) -> anyhow::Result<Value> {
    let (crt, key) = if with_pair {
        (&files.tls_crt[..], &files.tls_key[..])
    } else {
        (&[][..], &[][..])
    };
    match (crt.is_empty(), key.is_empty()) {
        (false, true) => bail!("found certificate but missing private key"),
        (true, false) => bail!("found private key but missing certificate"),
        (true, true) if files.ca_crt.is_empty() => {
            bail!("no CA certificate or client certificate pair found")
        }
        _ => {}
    }
    let mut data = BTreeMap::new();
    let mut type_ = "Opaque";
    if !crt.is_empty() {
        if let Err(why) = check_key_pair(crt, key) {
            bail!("invalid TLS certificate and key pair: {why}");
        }
        data.insert(KEY_TLS_CRT.into(), text(crt));
        data.insert(KEY_TLS_KEY.into(), text(key));
        type_ = "kubernetes.io/tls";
    }
    if !files.ca_crt.is_empty() {
        data.insert(KEY_CA.into(), text(&files.ca_crt));
    }
    Ok(secret(meta, type_, data))
}

/// The TLS Secret of `create secret tls` (Flux's `GenerateTLS`).
pub fn tls(meta: &SecretMeta, files: &TlsFiles) -> anyhow::Result<Value> {
    tls_secret(meta, files, true)
}

/// The Helm repository Secret (Flux's `GenerateHelm`): a client certificate pair wins over
/// basic auth, which wins over a CA alone; with nothing, an empty Secret.
pub fn helm(
    meta: &SecretMeta,
    username: &str,
    password: &str,
    files: &TlsFiles,
) -> anyhow::Result<Value> {
    if !files.tls_crt.is_empty() || !files.tls_key.is_empty() {
        return tls_secret(meta, files, true);
    }
    if !username.is_empty() || !password.is_empty() {
        let mut data = basic_auth(username, password)?;
        if !files.ca_crt.is_empty() {
            data.insert(KEY_CA.into(), text(&files.ca_crt));
        }
        return Ok(secret(meta, "kubernetes.io/basic-auth", data));
    }
    if !files.ca_crt.is_empty() {
        return tls_secret(meta, files, false);
    }
    Ok(secret(meta, "", BTreeMap::new()))
}

fn required(value: &str, field: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        bail!("{field} is required");
    }
    Ok(())
}

fn basic_auth(username: &str, password: &str) -> anyhow::Result<BTreeMap<String, String>> {
    required(username, KEY_USERNAME)?;
    required(password, KEY_PASSWORD)?;
    Ok(BTreeMap::from([
        (KEY_USERNAME.to_owned(), username.to_owned()),
        (KEY_PASSWORD.to_owned(), password.to_owned()),
    ]))
}

/// The registry Secret of `create secret oci` (fluxcd/pkg `MakeRegistrySecret`): a
/// `.dockerconfigjson` indented as Go's `json.MarshalIndent` writes it.
pub fn oci(
    meta: &SecretMeta,
    server: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<Value> {
    required(server, "server")?;
    required(username, "username")?;
    required(password, "password")?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let config = format!(
        "{{\n  \"auths\": {{\n    {}: {{\n      \"username\": {},\n      \"password\": {},\n      \"auth\": {}\n    }}\n  }}\n}}",
        go_json_string(server),
        go_json_string(username),
        go_json_string(password),
        go_json_string(&auth),
    );
    let data = BTreeMap::from([(".dockerconfigjson".to_owned(), config)]);
    Ok(secret(meta, "kubernetes.io/dockerconfigjson", data))
}

/// The proxy Secret of `create secret proxy` (fluxcd/pkg `MakeProxySecret`).
pub fn proxy(
    meta: &SecretMeta,
    address: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<Value> {
    required(address, KEY_ADDRESS)?;
    if let Err(e) = parse_url(address) {
        bail!("invalid proxy address: {e}");
    }
    let mut data = BTreeMap::from([(KEY_ADDRESS.to_owned(), address.to_owned())]);
    if !username.is_empty() {
        data.insert(KEY_USERNAME.into(), username.into());
    }
    if !password.is_empty() {
        data.insert(KEY_PASSWORD.into(), password.into());
    }
    Ok(secret(meta, "Opaque", data))
}

/// What a GitHub App Secret holds.
#[derive(Clone, Default)]
pub struct GitHubApp {
    /// App ID.
    pub app_id: String,
    /// Installation owner (user or organization).
    pub installation_owner: String,
    /// Installation ID.
    pub installation_id: String,
    /// The app's private key (PEM).
    pub private_key: String,
    /// API base URL (GitHub Enterprise).
    pub base_url: String,
}

/// The GitHub App Secret of `create secret githubapp` (fluxcd/pkg `MakeGitHubAppSecret`):
/// exactly one of the installation owner and ID.
pub fn github_app(meta: &SecretMeta, app: &GitHubApp) -> anyhow::Result<Value> {
    required(&app.app_id, "githubAppID")?;
    required(&app.private_key, "githubAppPrivateKey")?;
    let mut data = BTreeMap::from([
        ("githubAppID".to_owned(), app.app_id.clone()),
        ("githubAppPrivateKey".to_owned(), app.private_key.clone()),
    ]);
    for (key, value) in [
        ("githubAppInstallationOwner", &app.installation_owner),
        ("githubAppInstallationID", &app.installation_id),
        ("githubAppBaseURL", &app.base_url),
    ] {
        if !value.is_empty() {
            data.insert(key.to_owned(), value.clone());
        }
    }
    if data.contains_key("githubAppInstallationOwner")
        == data.contains_key("githubAppInstallationID")
    {
        bail!(
            "exactly one of githubAppInstallationOwner or githubAppInstallationID must be provided"
        );
    }
    Ok(secret(meta, "Opaque", data))
}

/// The Notation Secret of `create secret notation`: CA certificates under their file names
/// and the trust policy.
pub fn notation(meta: &SecretMeta, certs: &[(String, Vec<u8>)], trust_policy: &[u8]) -> Value {
    let mut data: BTreeMap<String, String> =
        certs.iter().map(|(n, c)| (n.clone(), text(c))).collect();
    if !trust_policy.is_empty() {
        data.insert(KEY_TRUST_POLICY.into(), text(trust_policy));
    }
    secret(meta, "", data)
}

/// What a Receiver Secret holds.
#[derive(Clone, Debug, Default)]
pub struct ReceiverOptions {
    /// The Receiver type (`gcr` needs the email claim).
    pub receiver_type: String,
    /// The webhook token; generated (32 random bytes, hex) when empty.
    pub token: String,
    /// The hostname of the webhook URL.
    pub hostname: String,
    /// IAM service account email (gcr).
    pub email_claim: String,
    /// OIDC audience (gcr); the webhook URL when empty.
    pub audience_claim: String,
}

/// The Receiver Secret of `create secret receiver`: the token, and the webhook URL the
/// notification-controller computes (`/hook/sha256(token+name+namespace)`) as annotation.
pub fn receiver(meta: &SecretMeta, opts: &ReceiverOptions) -> anyhow::Result<Value> {
    let token = if opts.token.is_empty() {
        let bytes: [u8; 32] = rand::random();
        hex(&bytes)
    } else {
        opts.token.clone()
    };
    if opts.hostname.is_empty() {
        bail!("hostname is required");
    }
    let digest = openssl::sha::sha256(format!("{token}{}{}", meta.name, meta.namespace).as_bytes());
    let url = format!("https://{}/hook/{}", opts.hostname, hex(&digest));
    let mut data = BTreeMap::from([(KEY_TOKEN.to_owned(), token)]);
    if opts.receiver_type == "gcr" {
        if opts.email_claim.is_empty() {
            bail!("email-claim is required for gcr receiver type");
        }
        data.insert(KEY_EMAIL.into(), opts.email_claim.clone());
        let audience = if opts.audience_claim.is_empty() {
            url.clone()
        } else {
            opts.audience_claim.clone()
        };
        data.insert(KEY_AUDIENCE.into(), audience);
    }
    let mut obj = secret(meta, "", data);
    obj["metadata"]["annotations"] = json!({ WEBHOOK_URL_ANNOTATION: url });
    Ok(obj)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// SSH key pairs

/// An SSH key pair: the private key as stored in `identity` and the public key in
/// `authorized_keys` format (`<type> <base64>\n`) as stored in `identity.pub`.
#[derive(Clone)]
pub struct KeyPair {
    /// The private key (PEM).
    pub private_key: String,
    /// The public key, one `authorized_keys` line.
    pub public_key: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("private_key", &"<redacted>")
            .field("public_key", &self.public_key)
            .finish()
    }
}

fn curve_nid(curve: &str) -> anyhow::Result<openssl::nid::Nid> {
    use openssl::nid::Nid;
    Ok(match curve {
        "p256" => Nid::X9_62_PRIME256V1,
        "" | "p384" => Nid::SECP384R1,
        "p521" => Nid::SECP521R1,
        other => bail!("unsupported curve '{other}', must be one of: p256, p384, p521"),
    })
}

/// Generates a key pair as Flux does: the private key PKCS#8 PEM, the public key in
/// `authorized_keys` format.
pub fn generate_key_pair(
    algorithm: KeyAlgorithm,
    rsa_bits: u32,
    ecdsa_curve: &str,
) -> anyhow::Result<KeyPair> {
    use openssl::pkey::PKey;
    let generate = || -> anyhow::Result<KeyPair> {
        let pkey = match algorithm {
            KeyAlgorithm::Rsa => {
                let bits = if rsa_bits == 0 { 2048 } else { rsa_bits };
                if bits < 1024 {
                    bail!(
                        "crypto/rsa: {bits}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"
                    );
                }
                if bits > 16384 {
                    // OpenSSH's limit (SSH_RSA_MAXIMUM_MODULUS_SIZE): larger keys are of no
                    // use and take very long to generate.
                    bail!("{bits}-bit RSA keys are larger than SSH servers accept (16384 bits)");
                }
                PKey::from_rsa(openssl::rsa::Rsa::generate(bits)?)?
            }
            KeyAlgorithm::Ecdsa => {
                let group = openssl::ec::EcGroup::from_curve_name(curve_nid(ecdsa_curve)?)?;
                PKey::from_ec_key(openssl::ec::EcKey::generate(&group)?)?
            }
            KeyAlgorithm::Ed25519 => PKey::generate_ed25519()?,
        };
        let private_key = String::from_utf8(pkey.private_key_to_pem_pkcs8()?)?;
        let public_key = authorized_key(&pkey).map_err(anyhow::Error::msg)?;
        Ok(KeyPair {
            private_key,
            public_key,
        })
    };
    generate().map_err(|e| anyhow::anyhow!("key pair generation failed, error: {e}"))
}

fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn ssh_mpint(out: &mut Vec<u8>, n: &openssl::bn::BigNumRef) {
    let mut bytes = n.to_vec();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    ssh_string(out, &bytes);
}

/// The `authorized_keys` line of a key's public half (Go's `ssh.MarshalAuthorizedKey`).
fn authorized_key<T: openssl::pkey::HasPublic>(
    pkey: &openssl::pkey::PKeyRef<T>,
) -> Result<String, String> {
    use openssl::pkey::Id;
    let err = |e: openssl::error::ErrorStack| e.to_string();
    let mut blob = Vec::new();
    let kind = match pkey.id() {
        Id::RSA => {
            let rsa = pkey.rsa().map_err(err)?;
            ssh_string(&mut blob, b"ssh-rsa");
            ssh_mpint(&mut blob, rsa.e());
            ssh_mpint(&mut blob, rsa.n());
            "ssh-rsa".to_owned()
        }
        Id::EC => {
            use openssl::nid::Nid;
            let ec = pkey.ec_key().map_err(err)?;
            let curve = match ec.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => "nistp256",
                Some(Nid::SECP384R1) => "nistp384",
                Some(Nid::SECP521R1) => "nistp521",
                _ => return Err("ssh: unsupported curve".into()),
            };
            let kind = format!("ecdsa-sha2-{curve}");
            let mut ctx = openssl::bn::BigNumContext::new().map_err(err)?;
            let point = ec
                .public_key()
                .to_bytes(
                    ec.group(),
                    openssl::ec::PointConversionForm::UNCOMPRESSED,
                    &mut ctx,
                )
                .map_err(err)?;
            ssh_string(&mut blob, kind.as_bytes());
            ssh_string(&mut blob, curve.as_bytes());
            ssh_string(&mut blob, &point);
            kind
        }
        Id::ED25519 => {
            let raw = pkey.raw_public_key().map_err(err)?;
            ssh_string(&mut blob, b"ssh-ed25519");
            ssh_string(&mut blob, &raw);
            "ssh-ed25519".to_owned()
        }
        Id::DSA => {
            let dsa = pkey.dsa().map_err(err)?;
            ssh_string(&mut blob, b"ssh-dss");
            for n in [dsa.p(), dsa.q(), dsa.g(), dsa.pub_key()] {
                ssh_mpint(&mut blob, n);
            }
            "ssh-dss".to_owned()
        }
        _ => return Err("ssh: unsupported key type".into()),
    };
    Ok(format!(
        "{kind} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    ))
}

/// One PEM block as Go's `pem.Decode` finds it.
struct PemBlock {
    label: String,
    headers: BTreeMap<String, String>,
    der: Vec<u8>,
}

/// Every PEM block in `data`, in order (Go's `pem.Decode` in a loop: malformed blocks are
/// skipped).
fn pem_blocks(data: &[u8]) -> Vec<PemBlock> {
    let text = String::from_utf8_lossy(data);
    let mut blocks = Vec::new();
    let mut pos = 0;
    while let Some(found) = text[pos..].find("-----BEGIN ") {
        let start = pos + found;
        pos = start + "-----BEGIN ".len();
        if start > 0 && !text[..start].ends_with('\n') {
            continue;
        }
        let Some(block) = pem_block_at(&text[pos..]) else {
            continue;
        };
        pos += block.1;
        blocks.push(block.0);
    }
    blocks
}

/// Parses a block after `-----BEGIN `; returns it and how many bytes it spans.
fn pem_block_at(rest: &str) -> Option<(PemBlock, usize)> {
    let (type_line, mut body) = rest.split_once('\n').unwrap_or((rest, ""));
    let label = type_line
        .trim_end_matches([' ', '\t', '\r'])
        .strip_suffix("-----")?
        .to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let (line, next) = body.split_once('\n').unwrap_or((body, ""));
        let Some((k, v)) = line.split_once(':') else {
            break;
        };
        headers.insert(k.trim().to_owned(), v.trim().to_owned());
        body = next;
        if body.is_empty() {
            return None;
        }
    }
    let end_marker = format!("-----END {label}-----");
    let end = if headers.is_empty() && body.starts_with(&end_marker) {
        0
    } else {
        body.find(&format!("\n{end_marker}"))? + 1
    };
    let after = &body[end + end_marker.len()..];
    let rest_of_line = after.split('\n').next().unwrap_or_default();
    if !rest_of_line.trim_matches([' ', '\t', '\r']).is_empty() {
        return None;
    }
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let consumed = rest.len() - after.len();
    Some((
        PemBlock {
            label,
            headers,
            der,
        },
        consumed,
    ))
}

/// Reads a private key (and derives its public key) as Flux's `LoadKeyPair` does with Go's
/// `ssh.ParsePrivateKey[WithPassphrase]`: a non-empty `passphrase` requires an encrypted key.
pub fn load_key_pair(private_key: &[u8], passphrase: &str) -> anyhow::Result<KeyPair> {
    let Some(block) = pem_blocks(private_key).into_iter().next() else {
        bail!("ssh: no key found");
    };
    let encrypted = block
        .headers
        .get("Proc-Type")
        .is_some_and(|v| v.contains("ENCRYPTED"));
    let public_key = if block.label == "OPENSSH PRIVATE KEY" {
        openssh_public_key(&block.der, passphrase)?
    } else if passphrase.is_empty() {
        if encrypted {
            bail!("ssh: this private key is passphrase protected");
        }
        let pkey = der_private_key(&block.label, &block.der)?;
        authorized_key(&pkey).map_err(anyhow::Error::msg)?
    } else {
        if !encrypted {
            bail!("ssh: not an encrypted key");
        }
        if !matches!(
            block.label.as_str(),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "DSA PRIVATE KEY"
        ) {
            bail!("ssh: unsupported key type {:?}", block.label);
        }
        let pkey = openssl::pkey::PKey::private_key_from_pem_passphrase(
            private_key,
            passphrase.as_bytes(),
        )
        .map_err(|_| anyhow::anyhow!("x509: decryption password incorrect"))?;
        authorized_key(&pkey).map_err(anyhow::Error::msg)?
    };
    Ok(KeyPair {
        private_key: text(private_key),
        public_key,
    })
}

/// An unencrypted PEM private key of a Go-supported label.
fn der_private_key(
    label: &str,
    der: &[u8],
) -> anyhow::Result<openssl::pkey::PKey<openssl::pkey::Private>> {
    use openssl::pkey::PKey;
    let parsed = match label {
        "RSA PRIVATE KEY" => openssl::rsa::Rsa::private_key_from_der(der)
            .and_then(PKey::from_rsa)
            .map_err(|_| "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"),
        "PRIVATE KEY" => PKey::private_key_from_pkcs8(der)
            .map_err(|_| "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"),
        "EC PRIVATE KEY" => openssl::ec::EcKey::private_key_from_der(der)
            .and_then(PKey::from_ec_key)
            .map_err(|_| "x509: failed to parse EC private key"),
        "DSA PRIVATE KEY" => PKey::private_key_from_der(der)
            .map_err(|_| "ssh: failed to parse DSA key"),
        other => bail!("ssh: unsupported key type {other:?}"),
    };
    parsed.map_err(anyhow::Error::msg)
}

/// The public key of an OpenSSH-format private key, checking the passphrase as Go does.
///
/// ssh-key 0.6 refuses a valid ECDSA key whose private scalar OpenSSH wrote shorter than the
/// curve's size (a minimal mpint: one key in 256 on P-256 and P-384, one in two on P-521),
/// so where it fails the container is read here: its public key, and the check words that
/// show the private section opened (decrypted with the passphrase, if any).
fn openssh_public_key(der: &[u8], passphrase: &str) -> anyhow::Result<String> {
    let invalid = || anyhow::anyhow!("ssh: invalid openssh private key format");
    let key: ssh_key::PublicKey = match ssh_key::PrivateKey::from_bytes(der) {
        Ok(key) => {
            match (passphrase.is_empty(), key.is_encrypted()) {
                (true, true) => bail!("ssh: this private key is passphrase protected"),
                (false, false) => bail!("ssh: key is not password protected"),
                (false, true) => {
                    if key.decrypt(passphrase).is_err() && !opens_with(&key, passphrase) {
                        bail!("x509: decryption password incorrect");
                    }
                }
                (true, false) => {}
            }
            key.public_key().clone()
        }
        Err(_) => {
            // only an unencrypted key's private section is read by `from_bytes`
            let (cipher, public, private) = openssh_container(der).ok_or_else(invalid)?;
            if cipher != b"none" {
                return Err(invalid());
            }
            if !passphrase.is_empty() {
                bail!("ssh: key is not password protected");
            }
            if !check_words_match(private) {
                return Err(invalid());
            }
            ssh_key::PublicKey::from_bytes(public).map_err(|_| invalid())?
        }
    };
    let algorithm = key.algorithm();
    let name = algorithm.as_str();
    if !matches!(
        name,
        "ssh-rsa"
            | "ssh-dss"
            | "ssh-ed25519"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    ) {
        bail!("ssh: unhandled key type");
    }
    let blob = key.to_bytes().map_err(|e| anyhow::anyhow!("ssh: {e}"))?;
    Ok(format!(
        "{name} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    ))
}

/// Whether `passphrase` opens an encrypted OpenSSH key's private section: decrypted, it
/// starts with two equal check words (what OpenSSH itself tests).
fn opens_with(key: &ssh_key::PrivateKey, passphrase: &str) -> bool {
    let Some(ciphertext) = key.key_data().encrypted() else {
        return false;
    };
    let Ok((k, iv)) = key.kdf().derive_key_and_iv(key.cipher(), passphrase) else {
        return false;
    };
    let mut buffer = ciphertext.to_vec();
    let opens =
        key.cipher().decrypt(&k, &iv, &mut buffer, None).is_ok() && check_words_match(&buffer);
    // the decrypted private key is not left behind in freed memory
    buffer.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&buffer);
    opens
}

/// Whether a private section starts with two equal check words.
fn check_words_match(private: &[u8]) -> bool {
    private.len() >= 8 && private[0..4] == private[4..8]
}

/// An `openssh-key-v1` container's cipher name, public key blob and private section.
fn openssh_container(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    fn string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = b.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        let (s, rest) = (rest.get(..len)?, rest.get(len..)?);
        *b = rest;
        Some(s)
    }
    let mut b = der.strip_prefix(b"openssh-key-v1\0")?;
    let cipher = string(&mut b)?;
    let _kdf = string(&mut b)?;
    let _kdf_options = string(&mut b)?;
    let (count, rest) = b.split_first_chunk::<4>()?;
    if u32::from_be_bytes(*count) != 1 {
        return None;
    }
    b = rest;
    let public = string(&mut b)?;
    let private = string(&mut b)?;
    Some((cipher, public, private))
}

// ---------------------------------------------------------------------------------------
// Host keys

/// Go's `net.SplitHostPort`: `(host, port)`, or `None` when the address has no port.
pub fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
    let i = hostport.rfind(':')?;
    let (host, k) = if let Some(inner) = hostport.strip_prefix('[') {
        let end = inner.find(']')? + 1;
        if end + 1 != i {
            return None;
        }
        (&hostport[1..end], end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0)
    };
    let j = usize::from(hostport.starts_with('['));
    if hostport[j..].contains('[') || hostport[k..].contains(']') {
        return None;
    }
    Some((host, &hostport[i + 1..]))
}

/// The host field of a `known_hosts` line for an address (Go's `knownhosts.Normalize`).
fn known_hosts_name(address: &str) -> String {
    let (host, port) = split_host_port(address).unwrap_or((address, "22"));
    if port != "22" {
        format!("[{host}]:{port}")
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The host key algorithms in the order Go's SSH client prefers them: the server answers
/// with its key of the first one it has.
const HOST_KEY_PREFERENCE: [&str; 5] = [
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "ssh-ed25519",
];

/// The `known_hosts` line of the key an SSH server at `host` (`host[:port]`, port 22 by
/// default) presents to Go's SSH client, as Flux's `ScanHostKey` collects it.
pub fn scan_host_key(host: &str) -> anyhow::Result<String> {
    let address = if split_host_port(host).is_some() {
        host.to_owned()
    } else {
        format!("{host}:22")
    };
    let fail = |why: &str| anyhow::anyhow!("SSH key scan for host {address} failed, error: {why}");
    let Some((name, port)) = split_host_port(&address) else {
        return Err(fail("missing port in address"));
    };
    let port: u16 = match port {
        "" => {
            return Err(fail(&format!(
                "dial tcp: address {address}: missing port in address"
            )));
        }
        "ssh" => 22,
        p => p
            .parse()
            .map_err(|_| fail(&format!("dial tcp: lookup tcp/{p}: unknown port")))?,
    };
    if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
        return Err(fail(&format!("dial tcp: lookup {name}: no such host")));
    }
    // Connect first, for Go's errors when there is no server (ssh-keyscan says nothing).
    use std::net::ToSocketAddrs;
    let addrs: Vec<std::net::SocketAddr> = (name.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|_| fail(&format!("dial tcp: lookup {name}: no such host")))?
        .collect();
    let Some(addr) = addrs.first() else {
        return Err(fail(&format!("dial tcp: lookup {name}: no such host")));
    };
    if let Err(e) = std::net::TcpStream::connect_timeout(addr, std::time::Duration::from_secs(30)) {
        let why = if e.kind() == std::io::ErrorKind::TimedOut {
            "i/o timeout".to_owned()
        } else {
            format!("connect: {}", go_errno(&e))
        };
        return Err(fail(&format!("dial tcp {addr}: {why}")));
    }
    let output = Command::new("ssh-keyscan")
        .args([
            "-T",
            "30",
            "-p",
            &port.to_string(),
            "-t",
            "ecdsa,rsa,ed25519",
            name,
        ])
        .output()
        .map_err(|e| {
            fail(&format!(
                "running ssh-keyscan: {e} (install the OpenSSH client)"
            ))
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut keys: Vec<(usize, &str, &str)> = stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let (_, kind, key) = (fields.next()?, fields.next()?, fields.next()?);
            let rank = HOST_KEY_PREFERENCE.iter().position(|k| *k == kind)?;
            Some((rank, kind, key))
        })
        .collect();
    keys.sort_by_key(|k| k.0);
    match keys.first() {
        Some((_, kind, key)) => Ok(format!("{} {kind} {key}", known_hosts_name(&address))),
        None => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or("no host key received from the server");
            Err(fail(why))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Go compatibility helpers

/// Go's `%q` of a string.
pub fn go_quote(s: &str) -> String {
    gitops_go::fmt::quote(s)
}

/// A JSON string as Go's `encoding/json` writes it (HTML characters escaped).
pub fn go_json_string(s: &str) -> String {
    gitops_kustomize::yaml::to_go_json(&gitops_kustomize::yaml::Value::String(s.to_owned()))
}

/// The scheme and host (`host[:port]`) of a URL, with the errors of Go's `url.Parse`
/// (`parse "<url>": <why>`).
pub fn parse_url(raw: &str) -> Result<(String, String), String> {
    let fail = |why: &str| Err(format!("parse {}: {why}", go_quote(raw)));
    if raw.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f) {
        return fail("net/url: invalid control character in URL");
    }
    let without_fragment = raw.split('#').next().unwrap_or_default();
    let mut scheme = "";
    let mut rest = without_fragment;
    for (i, c) in without_fragment.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return fail("missing protocol scheme"),
            ':' => {
                scheme = &without_fragment[..i];
                rest = &without_fragment[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let rest = rest.split('?').next().unwrap_or_default();
    if scheme.is_empty() && !rest.starts_with('/') {
        let first = rest.split('/').next().unwrap_or_default();
        if first.contains(':') {
            return fail("first path segment in URL cannot contain colon");
        }
    }
    let mut host = String::new();
    if let Some(after) = rest
        .strip_prefix("//")
        .filter(|_| !scheme.is_empty() || rest.starts_with("//"))
    {
        let authority = after.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        if let Some(u) = userinfo
            && !u
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c))
        {
            return fail("net/url: invalid userinfo");
        }
        let port_part = if hostport.starts_with('[') {
            match hostport.find(']') {
                Some(end) => &hostport[end + 1..],
                None => return fail("missing ']' in host"),
            }
        } else {
            hostport.rfind(':').map_or("", |i| &hostport[i..])
        };
        if !port_part.is_empty() {
            let valid = port_part
                .strip_prefix(':')
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
            if !valid {
                return fail(&format!("invalid port {} after host", go_quote(port_part)));
            }
        }
        host = hostport.to_owned();
    }
    Ok((scheme.to_ascii_lowercase(), host))
}

/// The text Go gives an OS error (`no such file or directory`).
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let text = text.split(" (os error").next().unwrap_or_default();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        }
        None => e.to_string(),
    }
}

/// Reads a file with Go's error texts (`open <path>: no such file or directory`).
pub fn read_file(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("open {path}: {}", go_errno(&e)))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| format!("read {path}: {}", go_errno(&e)))?;
    Ok(data)
}

// ---------------------------------------------------------------------------------------
// TLS key pairs

/// Checks a certificate and key pair as Go's `tls.X509KeyPair` does, with its error texts.
fn check_key_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), String> {
    let blocks = pem_blocks(cert_pem);
    let Some(cert) = blocks.iter().find(|b| b.label == "CERTIFICATE") else {
        let skipped: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
        if skipped.is_empty() {
            return Err("tls: failed to find any PEM data in certificate input".into());
        }
        if skipped.iter().any(|s| s.ends_with("PRIVATE KEY")) {
            return Err("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched".into());
        }
        return Err(format!(
            "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [{}]",
            skipped.join(" ")
        ));
    };
    let blocks = pem_blocks(key_pem);
    let Some(key) = blocks
        .iter()
        .find(|b| b.label == "PRIVATE KEY" || b.label.ends_with(" PRIVATE KEY"))
    else {
        let skipped: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
        if skipped.is_empty() {
            return Err("tls: failed to find any PEM data in key input".into());
        }
        if skipped.contains(&"CERTIFICATE") {
            return Err(
                "tls: found a certificate rather than a key in the PEM for the private key".into(),
            );
        }
        return Err(format!(
            "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [{}]",
            skipped.join(" ")
        ));
    };
    let cert = openssl::x509::X509::from_der(&cert.der)
        .map_err(|_| "x509: malformed certificate".to_owned())?;
    let public = cert
        .public_key()
        .map_err(|_| "tls: unknown public key algorithm".to_owned())?;
    use openssl::pkey::PKey;
    let private = openssl::rsa::Rsa::private_key_from_der(&key.der)
        .and_then(PKey::from_rsa)
        .or_else(|_| PKey::private_key_from_pkcs8(&key.der))
        .or_else(|_| openssl::ec::EcKey::private_key_from_der(&key.der).and_then(PKey::from_ec_key))
        .map_err(|_| "tls: failed to parse private key".to_owned())?;
    if public.id() != private.id() {
        return Err("tls: private key type does not match public key type".into());
    }
    if !public.public_eq(&private) {
        return Err("tls: private key does not match public key".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_back(kp: &KeyPair) -> openssl::pkey::PKey<openssl::pkey::Private> {
        assert!(kp.private_key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let pkey = openssl::pkey::PKey::private_key_from_pem(kp.private_key.as_bytes())
            .expect("generated key parses back");
        assert_eq!(authorized_key(&pkey).unwrap(), kp.public_key);
        // The public key is a valid OpenSSH public key.
        let public = ssh_key::PublicKey::from_openssh(kp.public_key.trim_end()).unwrap();
        assert_eq!(
            format!("{}\n", public.to_openssh().unwrap()),
            kp.public_key,
            "authorized_keys line without comment"
        );
        // And load_key_pair reads the key back to the same public key.
        let loaded = load_key_pair(kp.private_key.as_bytes(), "").unwrap();
        assert_eq!(loaded.public_key, kp.public_key);
        assert_eq!(loaded.private_key, kp.private_key);
        pkey
    }

    #[test]
    fn generates_ecdsa_on_each_curve() {
        use openssl::nid::Nid;
        for (curve, nid, name) in [
            ("p256", Nid::X9_62_PRIME256V1, "ecdsa-sha2-nistp256"),
            ("p384", Nid::SECP384R1, "ecdsa-sha2-nistp384"),
            ("", Nid::SECP384R1, "ecdsa-sha2-nistp384"),
            ("p521", Nid::SECP521R1, "ecdsa-sha2-nistp521"),
        ] {
            let kp = generate_key_pair(KeyAlgorithm::Ecdsa, 0, curve).unwrap();
            assert!(kp.public_key.starts_with(&format!("{name} ")), "{kp:?}");
            let pkey = parse_back(&kp);
            assert_eq!(pkey.ec_key().unwrap().group().curve_name(), Some(nid));
        }
        let err = generate_key_pair(KeyAlgorithm::Ecdsa, 0, "p999").unwrap_err();
        assert_eq!(
            err.to_string(),
            "key pair generation failed, error: unsupported curve 'p999', must be one of: p256, p384, p521"
        );
    }

    #[test]
    fn generates_rsa_with_bits() {
        for bits in [1024, 2048] {
            let kp = generate_key_pair(KeyAlgorithm::Rsa, bits, "").unwrap();
            assert!(kp.public_key.starts_with("ssh-rsa AAAAB3NzaC1yc2E"));
            let pkey = parse_back(&kp);
            assert_eq!(pkey.rsa().unwrap().size() * 8, bits);
        }
        let kp = generate_key_pair(KeyAlgorithm::Rsa, 0, "").unwrap();
        assert_eq!(parse_back(&kp).bits(), 2048);
        assert!(generate_key_pair(KeyAlgorithm::Rsa, 512, "").is_err());
        assert!(generate_key_pair(KeyAlgorithm::Rsa, 1 << 20, "").is_err());
    }

    #[test]
    fn generates_ed25519() {
        let kp = generate_key_pair(KeyAlgorithm::Ed25519, 0, "").unwrap();
        assert!(
            kp.public_key
                .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
        );
        let pkey = parse_back(&kp);
        assert_eq!(pkey.id(), openssl::pkey::Id::ED25519);
        // Two generations differ.
        let other = generate_key_pair(KeyAlgorithm::Ed25519, 0, "").unwrap();
        assert_ne!(kp.public_key, other.public_key);
    }

    #[test]
    fn debug_redacts_private_material() {
        let kp = generate_key_pair(KeyAlgorithm::Ed25519, 0, "").unwrap();
        assert!(!format!("{kp:?}").contains("PRIVATE KEY"));
        let opts = GitOptions {
            password: "hunter2".into(),
            private_key: Some(b"secret".to_vec()),
            ..Default::default()
        };
        let text = format!("{opts:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("secret"),
            "{text}"
        );
    }

    fn ssh_keygen(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
        let path = dir.join("key");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(dir.join("key.pub"));
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-f", &path.display().to_string()])
            .args(args)
            .status()
            .expect("ssh-keygen runs");
        assert!(ok.success());
        std::fs::read(path).unwrap()
    }

    fn have_ssh_keygen() -> bool {
        Command::new("ssh-keygen").arg("-?").output().is_ok()
    }

    /// OpenSSH writes an ECDSA private scalar as a minimal mpint, shorter than the curve size
    /// when its top byte is zero: for P-521 one key in two. ssh-key alone refuses those; they
    /// load, with and without a passphrase, and a wrong passphrase still says so.
    #[test]
    fn loads_ecdsa_keys_whose_scalar_is_written_short() {
        if !have_ssh_keygen() {
            eprintln!("skipping: ssh-keygen is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut short = 0;
        for passphrase in ["", "s3cret"] {
            for _ in 0..12 {
                let key = ssh_keygen(dir.path(), &["-t", "ecdsa", "-b", "521", "-N", passphrase]);
                let block = pem_blocks(&key).into_iter().next().unwrap();
                let alone = ssh_key::PrivateKey::from_bytes(&block.der).and_then(|k| {
                    if k.is_encrypted() {
                        k.decrypt(passphrase)
                    } else {
                        Ok(k)
                    }
                });
                if alone.is_err() {
                    short += 1;
                }
                let public = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
                let kp = load_key_pair(&key, passphrase).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    kp.public_key.split_whitespace().take(2).collect::<Vec<_>>(),
                    public.split_whitespace().take(2).collect::<Vec<_>>()
                );
                let wrong = load_key_pair(&key, "wrong").unwrap_err().to_string();
                assert_eq!(
                    wrong,
                    if passphrase.is_empty() {
                        "ssh: key is not password protected"
                    } else {
                        "x509: decryption password incorrect"
                    }
                );
            }
        }
        // 24 keys, each short with probability 1/2
        assert!(short > 0, "no key had a short scalar");
    }

    #[test]
    fn loads_keys_in_every_format() {
        if !have_ssh_keygen() {
            eprintln!("skipping: ssh-keygen is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for (kind, extra) in [
            ("ed25519", &[][..]),
            ("ecdsa", &["-b", "384"][..]),
            ("rsa", &["-b", "2048"][..]),
            ("rsa", &["-b", "2048", "-m", "PEM"][..]),
            ("ecdsa", &["-b", "256", "-m", "PEM"][..]),
            ("ecdsa", &["-b", "521", "-m", "PKCS8"][..]),
        ] {
            let mut args = vec!["-t", kind, "-N", ""];
            args.extend_from_slice(extra);
            let key = ssh_keygen(dir.path(), &args);
            let public = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
            let expected: Vec<&str> = public.split_whitespace().take(2).collect();
            let kp = load_key_pair(&key, "").unwrap_or_else(|e| panic!("{kind} {extra:?}: {e}"));
            assert_eq!(
                kp.public_key,
                format!("{}\n", expected.join(" ")),
                "{kind} {extra:?}"
            );
            assert_eq!(kp.private_key.as_bytes(), key);
            assert_eq!(
                load_key_pair(&key, "pass").unwrap_err().to_string(),
                if extra.contains(&"PEM") || extra.contains(&"PKCS8") {
                    "ssh: not an encrypted key"
                } else {
                    "ssh: key is not password protected"
                }
            );
            // With a passphrase.
            let mut args = vec!["-t", kind, "-N", "s3cret"];
            args.extend_from_slice(extra);
            if extra.contains(&"PKCS8") {
                continue; // encrypted PKCS#8 is not a format Go reads
            }
            let key = ssh_keygen(dir.path(), &args);
            let kp = load_key_pair(&key, "s3cret").unwrap_or_else(|e| panic!("{kind}: {e}"));
            let public = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
            assert_eq!(
                kp.public_key.split_whitespace().take(2).collect::<Vec<_>>(),
                public.split_whitespace().take(2).collect::<Vec<_>>()
            );
            assert_eq!(
                load_key_pair(&key, "wrong").unwrap_err().to_string(),
                "x509: decryption password incorrect"
            );
            assert_eq!(
                load_key_pair(&key, "").unwrap_err().to_string(),
                "ssh: this private key is passphrase protected"
            );
        }
        assert_eq!(
            load_key_pair(b"not a key", "").unwrap_err().to_string(),
            "ssh: no key found"
        );
        assert_eq!(
            load_key_pair(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "")
                .unwrap_err()
                .to_string(),
            "ssh: unsupported key type \"FOO\""
        );
    }

    #[test]
    fn git_secret_keys() {
        let mut opts = GitOptions {
            name: "auth".into(),
            namespace: "ns".into(),
            username: "u".into(),
            password: "p".into(),
            ca_crt: Some(b"ca".to_vec()),
            ..Default::default()
        };
        let s = git(&opts).unwrap();
        assert_eq!(
            s["stringData"],
            json!({"username": "u", "password": "p", "ca.crt": "ca"})
        );
        assert!(s.get("type").is_none());
        opts.username.clear();
        opts.password.clear();
        opts.ca_crt = None;
        opts.bearer_token = "t".into();
        assert_eq!(
            git(&opts).unwrap()["stringData"],
            json!({"bearerToken": "t"})
        );
    }

    #[test]
    fn host_names_as_go_normalizes_them() {
        assert_eq!(known_hosts_name("github.com:22"), "github.com");
        assert_eq!(known_hosts_name("127.0.0.1:2222"), "[127.0.0.1]:2222");
        assert_eq!(known_hosts_name("[::1]:22"), "[::1]");
        assert_eq!(known_hosts_name("[::1]:2222"), "[::1]:2222");
        assert_eq!(split_host_port("host"), None);
        assert_eq!(split_host_port("host:22"), Some(("host", "22")));
        assert_eq!(split_host_port("[::1]:22"), Some(("::1", "22")));
        assert_eq!(split_host_port("::1"), None);
    }

    #[test]
    fn host_key_scan_fails_with_the_address() {
        let err = scan_host_key("127.0.0.1:1").unwrap_err().to_string();
        assert_eq!(
            err,
            "SSH key scan for host 127.0.0.1:1 failed, error: dial tcp 127.0.0.1:1: connect: connection refused"
        );
        let err = scan_host_key("-oProxyCommand=x").unwrap_err().to_string();
        assert!(
            err.starts_with("SSH key scan for host -oProxyCommand=x:22 failed"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn host_key_from_a_real_sshd() {
        let Some(sshd) = gitops_tests::Sshd::start().await else {
            return;
        };
        let line = tokio::task::spawn_blocking(move || {
            let line = scan_host_key(&format!("127.0.0.1:{}", sshd.port)).unwrap();
            (line, sshd)
        })
        .await
        .unwrap();
        assert_eq!(line.0, line.1.known_hosts.trim());
    }

    #[test]
    fn urls_as_go_parses_them() {
        assert_eq!(
            parse_url("ssh://git@github.com/org/repo").unwrap(),
            ("ssh".into(), "github.com".into())
        );
        assert_eq!(
            parse_url("ssh://git@host:2222/org/repo").unwrap(),
            ("ssh".into(), "host:2222".into())
        );
        assert_eq!(
            parse_url("HTTPS://example.com").unwrap(),
            ("https".into(), "example.com".into())
        );
        assert_eq!(
            parse_url("git@github.com:org/repo").unwrap_err(),
            "parse \"git@github.com:org/repo\": first path segment in URL cannot contain colon"
        );
        assert_eq!(
            parse_url("ssh://host:abc/x").unwrap_err(),
            "parse \"ssh://host:abc/x\": invalid port \":abc\" after host"
        );
        assert_eq!(
            parse_url(":x").unwrap_err(),
            "parse \":x\": missing protocol scheme"
        );
        assert_eq!(
            parse_url("example.com/x").unwrap(),
            (String::new(), String::new())
        );
    }

    #[test]
    fn docker_config_json_as_go_indents_it() {
        let meta = SecretMeta {
            name: "n".into(),
            namespace: "ns".into(),
            ..Default::default()
        };
        let s = oci(&meta, "r.io", "u<", "p&").unwrap();
        assert_eq!(
            s["stringData"][".dockerconfigjson"],
            "{\n  \"auths\": {\n    \"r.io\": {\n      \"username\": \"u\\u003c\",\n      \"password\": \"p\\u0026\",\n      \"auth\": \"dTw6cCY=\"\n    }\n  }\n}"
        );
        assert_eq!(
            oci(&meta, "r.io", "", "p").unwrap_err().to_string(),
            "username is required"
        );
    }

    #[test]
    fn tls_pairs_must_match() {
        let make = || {
            let key = openssl::pkey::PKey::from_ec_key(
                openssl::ec::EcKey::generate(
                    &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                        .unwrap(),
                )
                .unwrap(),
            )
            .unwrap();
            let mut b = openssl::x509::X509Builder::new().unwrap();
            b.set_version(2).unwrap();
            let serial = openssl::bn::BigNum::from_u32(1).unwrap();
            b.set_serial_number(&serial.to_asn1_integer().unwrap())
                .unwrap();
            let mut name = openssl::x509::X509NameBuilder::new().unwrap();
            name.append_entry_by_text("CN", "test").unwrap();
            let name = name.build();
            b.set_subject_name(&name).unwrap();
            b.set_issuer_name(&name).unwrap();
            b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
                .unwrap();
            b.set_pubkey(&key).unwrap();
            b.sign(&key, openssl::hash::MessageDigest::sha256())
                .unwrap();
            (
                b.build().to_pem().unwrap(),
                key.private_key_to_pem_pkcs8().unwrap(),
            )
        };
        let (c1, k1) = make();
        let (_, k2) = make();
        assert_eq!(check_key_pair(&c1, &k1), Ok(()));
        assert_eq!(
            check_key_pair(&c1, &k2).unwrap_err(),
            "tls: private key does not match public key"
        );
        assert_eq!(
            check_key_pair(&k1, &c1).unwrap_err(),
            "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"
        );
        assert_eq!(
            check_key_pair(b"", &k1).unwrap_err(),
            "tls: failed to find any PEM data in certificate input"
        );
        let meta = SecretMeta::default();
        let files = TlsFiles {
            tls_crt: c1.clone(),
            ..Default::default()
        };
        assert_eq!(
            tls(&meta, &files).unwrap_err().to_string(),
            "found certificate but missing private key"
        );
        assert_eq!(
            tls(&meta, &TlsFiles::default()).unwrap_err().to_string(),
            "no CA certificate or client certificate pair found"
        );
        let files = TlsFiles {
            tls_crt: c1,
            tls_key: k2,
            ..Default::default()
        };
        assert_eq!(
            tls(&meta, &files).unwrap_err().to_string(),
            "invalid TLS certificate and key pair: tls: private key does not match public key"
        );
    }

    #[test]
    fn go_file_errors() {
        assert_eq!(
            read_file("/nonexistent/x").unwrap_err(),
            "open /nonexistent/x: no such file or directory"
        );
        assert_eq!(read_file("/").unwrap_err(), "read /: is a directory");
    }
}
