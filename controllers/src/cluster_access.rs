//! Which cluster, and as whom, a Kustomization or HelmRelease applies: the controller's
//! own client, one impersonating a ServiceAccount (`spec.serviceAccountName`, else
//! `--default-service-account`), or a remote cluster from `spec.kubeConfig`:
//!
//! - `secretRef`: a kubeconfig from a Secret, sanitized as Flux does — it may not run
//!   commands (`exec`, `auth-provider`) unless `--insecure-kubeconfig-exec`, nor turn TLS
//!   verification off unless `--insecure-kubeconfig-tls`; and, stricter than Flux, it may
//!   not name files (`token-file`, `client-certificate`, `certificate-authority`, …), which
//!   would read the controller's own credentials;
//! - `configMapRef` with the `generic` provider: a token of a ServiceAccount of the
//!   object's namespace (`.data.serviceAccountName`, else
//!   `--default-kubeconfig-service-account`) from the TokenRequest API, for a remote
//!   API server that trusts this cluster's service account issuer. The cloud providers
//!   (`aws`, `azure`, `gcp`) need their cloud APIs and are refused with a clear message.
//!
//! With a remote cluster, `serviceAccountName` is impersonated there too.

use gitops_api::meta::KubeConfigReference;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use parking_lot::Mutex;
use std::collections::HashMap;

/// The lockdown and kubeconfig flags of the kustomize and helm controllers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AccessArgs {
    /// ServiceAccount (of the object's namespace) to impersonate when an object names
    /// none (empty: the controller's own identity).
    #[arg(long, default_value = "")]
    pub default_service_account: String,
    /// ServiceAccount whose token authenticates to a remote cluster when a
    /// `spec.kubeConfig.configMapRef` ConfigMap names none.
    #[arg(long, default_value = "")]
    pub default_kubeconfig_service_account: String,
    /// Allow kubeconfigs that run commands (`exec`, `auth-provider`).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_kubeconfig_exec: bool,
    /// Allow kubeconfigs that turn TLS verification off (`insecure-skip-tls-verify`).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_kubeconfig_tls: bool,
}

/// Lifetime asked for remote-cluster tokens (the TokenRequest minimum is ten minutes).
const TOKEN_SECONDS: i64 = 3600;

/// Builds the clients objects apply with; impersonating clients of the controller's
/// cluster are made once per user.
pub struct ClusterAccess {
    /// The controller's own client (reads Secrets, ConfigMaps, requests tokens).
    client: kube::Client,
    /// The controller's own configuration, the base of impersonating clients.
    config: kube::Config,
    args: AccessArgs,
    impersonated: Mutex<HashMap<String, kube::Client>>,
}

/// A client to apply with.
pub enum Target {
    /// The controller's own client, unchanged.
    Own,
    /// Another client: impersonating, or for a remote cluster.
    Client(kube::Client),
}

impl ClusterAccess {
    /// Access from the controller's client and configuration.
    pub fn new(client: kube::Client, config: kube::Config, args: AccessArgs) -> ClusterAccess {
        ClusterAccess {
            client,
            config,
            args,
            impersonated: Mutex::new(HashMap::new()),
        }
    }

    /// The client for an object of namespace `ns` with `service_account` and
    /// `kube_config`; the error is the message for its status.
    pub async fn target(
        &self,
        ns: &str,
        service_account: Option<&str>,
        kube_config: Option<&KubeConfigReference>,
    ) -> Result<Target, String> {
        let sa = service_account
            .filter(|s| !s.is_empty())
            .or_else(|| Some(self.args.default_service_account.as_str()).filter(|s| !s.is_empty()));
        let user = sa.map(|sa| format!("system:serviceaccount:{ns}:{sa}"));
        if let Some(kc) = kube_config {
            let mut config = match (&kc.secret_ref, &kc.config_map_ref) {
                (Some(sref), _) => {
                    self.kubeconfig_secret(ns, &sref.name, sref.key.as_deref())
                        .await?
                }
                (None, Some(cref)) => self.workload_identity(ns, &cref.name).await?,
                (None, None) => {
                    return Err(
                        "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified".into(),
                    );
                }
            };
            if let Some(u) = user {
                config.auth_info.impersonate = Some(u);
            }
            return kube::Client::try_from(config)
                .map(Target::Client)
                .map_err(|e| format!("failed to create a client for the remote cluster: {e}"));
        }
        let Some(user) = user else {
            return Ok(Target::Own);
        };
        if let Some(c) = self.impersonated.lock().get(&user) {
            return Ok(Target::Client(c.clone()));
        }
        let mut config = self.config.clone();
        config.auth_info.impersonate = Some(user.clone());
        let c = kube::Client::try_from(config)
            .map_err(|e| format!("failed to create a client impersonating {user}: {e}"))?;
        self.impersonated.lock().insert(user, c.clone());
        Ok(Target::Client(c))
    }

    /// A remote cluster's configuration from a kubeconfig Secret.
    async fn kubeconfig_secret(
        &self,
        ns: &str,
        name: &str,
        key: Option<&str>,
    ) -> Result<kube::Config, String> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), ns)
            .get(name)
            .await
            .map_err(|e| format!("failed to get kubeconfig secret '{ns}/{name}': {e}"))?;
        let data = secret.data.unwrap_or_default();
        let keys: Vec<&str> = match key {
            Some(k) if !k.is_empty() => vec![k],
            _ => vec!["value", "value.yaml"],
        };
        let Some(bytes) = keys.iter().find_map(|k| data.get(*k)) else {
            return Err(format!(
                "kubeconfig secret '{ns}/{name}' does not contain a '{}' key with a kubeconfig",
                keys.join("' or '")
            ));
        };
        let bad = |e: String| format!("invalid kubeconfig in secret '{ns}/{name}': {e}");
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&String::from_utf8_lossy(&bytes.0))
            .map_err(|e| bad(crate::redact::kubeconfig_error(&e)))?;
        sanitize(&kubeconfig, &self.args)
            .map_err(|e| format!("kubeconfig in secret '{ns}/{name}': {e}"))?;
        kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| bad(crate::redact::kubeconfig_error(&e)))
    }

    /// A remote cluster's configuration from a workload identity ConfigMap.
    async fn workload_identity(&self, ns: &str, name: &str) -> Result<kube::Config, String> {
        let cm = Api::<ConfigMap>::namespaced(self.client.clone(), ns)
            .get(name)
            .await
            .map_err(|e| format!("failed to get kubeconfig configmap '{ns}/{name}': {e}"))?;
        let data = cm.data.unwrap_or_default();
        let get = |k: &str| data.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let bad = |e: &str| format!("kubeconfig configmap '{ns}/{name}': {e}");
        match get("provider") {
            Some("generic") => {}
            Some(p @ ("aws" | "azure" | "gcp")) => {
                return Err(bad(&format!(
                    "provider '{p}' needs the {p} cloud APIs, which this controller does not call; use the 'generic' provider or a kubeconfig secret"
                )));
            }
            Some(other) => {
                return Err(bad(&format!(
                    "unsupported provider '{other}' (one of 'aws', 'azure', 'gcp', 'generic')"
                )));
            }
            None => return Err(bad("the 'provider' key is required")),
        }
        let address = get("address")
            .ok_or_else(|| bad("the 'address' key is required for the 'generic' provider"))?;
        let uri: hyper::Uri = address
            .parse()
            .map_err(|_| bad(&format!("invalid address {address:?}")))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad(&format!("address {address:?} is not an https:// URL")));
        }
        let audiences: Vec<String> = match get("audiences") {
            Some(a) => a
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            None => vec![address.to_owned()],
        };
        let sa = get("serviceAccountName")
            .or_else(|| Some(self.args.default_kubeconfig_service_account.as_str()).filter(|s| !s.is_empty()))
            .ok_or_else(|| {
                bad("no ServiceAccount to authenticate with: set 'serviceAccountName' in the configmap (or run the controller with --default-kubeconfig-service-account)")
            })?;
        let token = self.token(ns, sa, &audiences).await?;
        let mut config = kube::Config::new(uri);
        if let Some(ca) = get("ca.crt") {
            let certs = pem_certificates(ca).map_err(|e| bad(&format!("ca.crt: {e}")))?;
            config.root_cert = Some(certs);
        }
        config.auth_info.token = Some(token.into());
        Ok(config)
    }

    /// A token of ServiceAccount `ns/sa` for `audiences`, from the TokenRequest API.
    async fn token(&self, ns: &str, sa: &str, audiences: &[String]) -> Result<String, String> {
        let ar = kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ServiceAccount>(&());
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
        let body = serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": audiences, "expirationSeconds": TOKEN_SECONDS},
        });
        let answer: serde_json::Value = api
            .create_subresource("token", sa, &Default::default(), &body)
            .await
            .map_err(|e| format!("failed to get a token for ServiceAccount '{ns}/{sa}': {e}"))?;
        answer["status"]["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                format!("the token request for ServiceAccount '{ns}/{sa}' returned no token")
            })
    }
}

/// The DER certificates of a PEM bundle.
fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let out = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    if out.is_empty() {
        return Err("no PEM certificate".into());
    }
    Ok(out)
}

/// Refuses what a kubeconfig from a Secret may not do: run commands, read local files, or
/// skip TLS verification (the last two flags allowing the first and the last). Checks the
/// context in use.
fn sanitize(kc: &kube::config::Kubeconfig, args: &AccessArgs) -> Result<(), String> {
    let context_name = kc.current_context.as_deref().unwrap_or_default();
    let Some(context) = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
    else {
        // kube reports the missing context.
        return Ok(());
    };
    if let Some(cluster) = kc
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
    {
        if cluster.certificate_authority.is_some() {
            return Err(format!(
                "cluster '{}' reads its CA from a file (certificate-authority); put it in certificate-authority-data",
                context.cluster
            ));
        }
        if cluster.insecure_skip_tls_verify == Some(true) && !args.insecure_kubeconfig_tls {
            return Err(format!(
                "cluster '{}' turns TLS verification off (insecure-skip-tls-verify), which is refused without --insecure-kubeconfig-tls",
                context.cluster
            ));
        }
    }
    let user_name = context.user.as_deref().unwrap_or_default();
    if let Some(user) = kc
        .auth_infos
        .iter()
        .find(|a| a.name == user_name)
        .and_then(|a| a.auth_info.as_ref())
    {
        for (field, set) in [
            ("token-file", user.token_file.is_some()),
            ("client-certificate", user.client_certificate.is_some()),
            ("client-key", user.client_key.is_some()),
        ] {
            if set {
                return Err(format!(
                    "user '{user_name}' reads a local file ({field}); only inline credentials are allowed"
                ));
            }
        }
        if !args.insecure_kubeconfig_exec {
            for (field, set) in [
                ("exec", user.exec.is_some()),
                ("auth-provider", user.auth_provider.is_some()),
            ] {
                if set {
                    return Err(format!(
                        "user '{user_name}' runs a command ({field}), which is refused without --insecure-kubeconfig-exec"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(cluster: &str, user: &str) -> kube::config::Kubeconfig {
        kube::config::Kubeconfig::from_yaml(&format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster:\n    server: https://example.com\n{cluster}users:\n- name: u\n  user:\n{user}"
        ))
        .unwrap()
    }

    #[test]
    fn kubeconfigs_may_not_run_commands_read_files_or_skip_tls() {
        let strict = AccessArgs::default();
        let ok = kubeconfig("", "    token: abc\n");
        assert!(sanitize(&ok, &strict).is_ok());
        let exec = kubeconfig(
            "",
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [-c, id]\n",
        );
        let e = sanitize(&exec, &strict).unwrap_err();
        assert!(
            e.contains("runs a command (exec)") && e.contains("--insecure-kubeconfig-exec"),
            "{e}"
        );
        let allow = AccessArgs {
            insecure_kubeconfig_exec: true,
            ..AccessArgs::default()
        };
        assert!(sanitize(&exec, &allow).is_ok());
        let file = kubeconfig(
            "",
            "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
        );
        assert!(sanitize(&file, &allow).unwrap_err().contains("token-file"));
        let ca = kubeconfig(
            "    certificate-authority: /etc/ssl/ca.pem\n",
            "    token: abc\n",
        );
        assert!(
            sanitize(&ca, &strict)
                .unwrap_err()
                .contains("certificate-authority")
        );
        let insecure = kubeconfig("    insecure-skip-tls-verify: true\n", "    token: abc\n");
        assert!(
            sanitize(&insecure, &strict)
                .unwrap_err()
                .contains("--insecure-kubeconfig-tls")
        );
        let tls = AccessArgs {
            insecure_kubeconfig_tls: true,
            ..AccessArgs::default()
        };
        assert!(sanitize(&insecure, &tls).is_ok());
    }

    #[test]
    fn pem_bundles() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBA==\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_certificates(pem).unwrap(),
            vec![vec![0, 1, 2, 3], vec![4]]
        );
        assert!(pem_certificates("nothing").is_err());
    }
}
