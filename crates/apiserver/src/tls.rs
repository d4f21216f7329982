//! TLS for the server: a CA kept in the state directory (so kubeconfigs stay valid across
//! restarts) and a fresh serving certificate for loopback and the listen address.
//! Kubernetes clients only send bearer tokens over TLS, so the server always uses it.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// The server's TLS setup.
pub struct Tls {
    /// rustls configuration with the serving certificate.
    pub config: Arc<rustls::ServerConfig>,
    /// The CA certificate clients trust (PEM).
    pub ca_pem: String,
    /// The CA's private key (PEM), to issue client certificates.
    pub ca_key_pem: String,
}

/// Year, month and day (UTC) of today plus `offset` days.
fn ymd(offset: i64) -> (i32, u8, u8) {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let d = today
        .checked_add(jiff::Span::new().days(offset))
        .unwrap_or(today);
    (i32::from(d.year()), d.month() as u8, d.day() as u8)
}

/// rcgen's date type is not re-exported, so dates are built where they are assigned.
macro_rules! day {
    ($offset:expr) => {{
        let (y, m, d) = ymd($offset);
        rcgen::date_time_ymd(y, m, d)
    }};
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "gitops-apiserver-ca");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = day!(-1);
    p.not_after = day!(10 * 365);
    p
}

fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Loads the CA from `dir` (creating it the first time) and issues a serving certificate
/// for loopback and `ips`.
pub fn load_or_create(dir: &Path, ips: &[IpAddr]) -> Result<Tls, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (crt_path, key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    let (ca_pem, ca_key_pem, ca_key) = if crt_path.exists() && key_path.exists() {
        let pem = std::fs::read_to_string(&crt_path)
            .map_err(|e| format!("reading {}: {e}", crt_path.display()))?;
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(|e| format!("reading {}: {e}", key_path.display()))?;
        let key =
            KeyPair::from_pem(&key_pem).map_err(|e| format!("{}: {e}", key_path.display()))?;
        (pem, key_pem, key)
    } else {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = ca_params().self_signed(&key).map_err(|e| e.to_string())?;
        write_private(&key_path, &key.serialize_pem())?;
        write_private(&crt_path, &cert.pem())?;
        (cert.pem(), key.serialize_pem(), key)
    };
    let issuer = Issuer::new(ca_params(), ca_key);

    let mut sans = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for ip in ips {
        if !ip.is_unspecified() && !sans.contains(&ip.to_string()) {
            sans.push(ip.to_string());
        }
    }
    let mut params = CertificateParams::new(sans).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "gitops-apiserver");
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = day!(-1);
    params.not_after = day!(365);
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Client certificates are optional; those presented must chain to the CA.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        ca_pem,
        ca_key_pem,
    })
}

/// Issues a client certificate (and its key, both PEM) for `user` in up to two `groups`:
/// the subject's common name and organizations, as Kubernetes' x509 authenticator reads
/// them. (rcgen keeps one value per attribute type; the second organization is written
/// under the same OID as a custom attribute, which is as far as it goes.)
pub fn issue_client(
    ca_key_pem: &str,
    user: &str,
    groups: &[&str],
) -> Result<(String, String), String> {
    if groups.len() > 2 {
        return Err("a client certificate can name at most two groups".into());
    }
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| e.to_string())?;
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, user);
    for (i, g) in groups.iter().enumerate() {
        let ty = if i == 0 {
            DnType::OrganizationName
        } else {
            DnType::CustomDnType(vec![2, 5, 4, 10])
        };
        dn.push(ty, *g);
    }
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = day!(-1);
    params.not_after = day!(365);
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}
